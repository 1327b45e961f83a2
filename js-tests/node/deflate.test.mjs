// permessage-deflate (RFC 7692) from JavaScript: decompression bombs, the
// memory a connection costs, and interoperability over loopback with `ws`
// (a devDependency) and Python `websockets` (js-tests/python/deflate_peer.py),
// each as client and as server, at several settings. What travels is
// checked on the wire too: every frame's RSV1 bit, and whether a message
// sent twice shrinks the second time (context takeover) or not.
//
// The bomb tests come first: wasm memory only grows, so they measure its
// growth before anything else has used (and freed) memory. The first one
// measures from a clean instance; the later ones may reuse the ~2 MiB it
// freed, which still tells a bounded inflation from a 64 MiB one.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import zlib from "node:zlib";
import { WebSocketServer, WebSocket } from "ws";
import * as W from "../../pkg/node.js";
// The glue's initSync returns the instance's exports once it is loaded
// (pkg/node.js loaded it): the way to the wasm memory.
import { initSync as glueInitSync } from "../../pkg/glue/wsproto_wasm.js";
import { Peer, concat, withTimeout, STEP_MS } from "../shared/flows.mjs";
import { nodeEnv } from "./net-env.mjs";

const enc = new TextEncoder();
const dec = new TextDecoder();
const MiB = 1 << 20;
const SIZES = [0, 1, 125, 126, 1024, 65536, MiB];
const PY_PEER = fileURLToPath(new URL("../python/deflate_peer.py", import.meta.url));

function wasmMemoryBytes() {
  return glueInitSync().memory.buffer.byteLength;
}

// ---- data ----------------------------------------------------------------

// Compressible text: words picked by a small LCG, deterministic per seed.
function words(n, seed) {
  const list = ["lorem", "ipsum", "dolor", "sit", "amet", "deflate", "window", "frame", "zlib", '{"k": 1}'];
  let x = seed >>> 0 || 1;
  let s = "";
  while (s.length < n) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    s += list[(x >>> 16) % list.length] + " ";
  }
  return s.slice(0, n);
}

// Incompressible bytes (xorshift32): messages that do not shrink.
function noise(n, seed) {
  const out = new Uint8Array(n);
  let x = (seed ^ 0x9e3779b9) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

// 200 letters that do not compress much alone, sent twice at the end of
// every exchange: under context takeover the second copy shrinks to a few
// bytes, without it both copies are the same size.
const PROBE = (() => {
  let s = "";
  let x = 7;
  while (s.length < 200) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    s += String.fromCharCode(97 + ((x >>> 16) % 26));
  }
  return s;
})();

/** The messages one side sends: a text and a binary message of each size, then PROBE twice. */
function script() {
  const out = [];
  for (const n of SIZES) out.push(words(n, n + 1), noise(n, n + 1));
  out.push(PROBE, PROBE);
  return out;
}

// ---- the wire ------------------------------------------------------------

/**
 * Reads a byte stream (an HTTP head, then frames) and records each frame's
 * header: fin, rsv1, opcode, payload length. Payloads are skipped.
 */
class FrameScanner {
  constructor() {
    this.frames = [];
    this.inHead = true;
    this.tail = 0; // how much of "\r\n\r\n" was just seen
    this.header = [];
    this.skip = 0;
  }
  push(chunk) {
    let i = 0;
    while (i < chunk.length) {
      if (this.inHead) {
        const b = chunk[i++];
        const want = this.tail % 2 === 0 ? 13 : 10;
        this.tail = b === want ? this.tail + 1 : b === 13 ? 1 : 0;
        if (this.tail === 4) this.inHead = false;
        continue;
      }
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i);
        this.skip -= n;
        i += n;
        continue;
      }
      const h = this.header;
      h.push(chunk[i++]);
      if (h.length < 2) continue;
      const len7 = h[1] & 0x7f;
      const need = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (h[1] & 0x80 ? 4 : 0);
      if (h.length < need) continue;
      let length = len7;
      if (len7 === 126) length = (h[2] << 8) | h[3];
      if (len7 === 127) {
        length = 0;
        for (let k = 2; k < 10; k++) length = length * 256 + h[k];
      }
      this.frames.push({ fin: (h[0] & 0x80) !== 0, rsv1: (h[0] & 0x40) !== 0, opcode: h[0] & 0x0f, length });
      this.header = [];
      this.skip = length;
    }
  }
  /** Data messages: RSV1 of the first frame, total payload bytes, RSV1 on any later frame. */
  messages() {
    const out = [];
    for (const f of this.frames) {
      if (f.opcode === 1 || f.opcode === 2) out.push({ opcode: f.opcode, rsv1: f.rsv1, wire: f.length, laterRsv1: false });
      else if (f.opcode === 0) {
        const m = out[out.length - 1];
        m.wire += f.length;
        m.laterRsv1 ||= f.rsv1;
      }
    }
    return out;
  }
}

/** A transport whose bytes in and out also go through frame scanners. */
function tap(t, inbound, outbound) {
  return {
    async read() {
      const chunk = await t.read();
      if (chunk !== null) inbound.push(chunk);
      return chunk;
    },
    write(bytes) {
      outbound.push(bytes);
      return t.write(bytes);
    },
    end: () => t.end(),
    close: () => t.close(),
  };
}

function extensionsHeader(head) {
  const m = /\r\nSec-WebSocket-Extensions: ([^\r]*)\r\n/i.exec(typeof head === "string" ? head : dec.decode(head));
  return m === null ? null : m[1];
}

/** The parameters a permessage-deflate response element agreed, with RFC 7692's defaults. */
function agreed(element) {
  if (element === null) return null;
  const params = element.split(";").map((p) => p.trim());
  assert.equal(params.shift(), "permessage-deflate");
  const out = { clientNoContextTakeover: false, serverNoContextTakeover: false, clientMaxWindowBits: 15, serverMaxWindowBits: 15 };
  for (const p of params) {
    const [name, value] = p.split("=");
    if (name === "client_no_context_takeover") out.clientNoContextTakeover = true;
    else if (name === "server_no_context_takeover") out.serverNoContextTakeover = true;
    else if (name === "client_max_window_bits") out.clientMaxWindowBits = Number(value);
    else if (name === "server_max_window_bits") out.serverMaxWindowBits = Number(value);
    else assert.fail(`unexpected parameter ${p}`);
  }
  return out;
}

/**
 * One direction of an exchange, as seen on the wire: every message marked
 * compressed (RSV1 on its first frame only) or not, and the two PROBE
 * copies at the end shrinking under context takeover only.
 */
function checkDirection(messages, { compressed, takeover }, label) {
  assert.equal(messages.length, SIZES.length * 2 + 2, `${label}: message count`);
  for (const [i, m] of messages.entries()) {
    assert.equal(m.rsv1, compressed, `${label}: RSV1 of message ${i} (${m.wire} bytes on the wire)`);
    assert.equal(m.laterRsv1, false, `${label}: RSV1 on a continuation frame of message ${i}`);
  }
  const [a, b] = messages.slice(-2);
  if (!compressed) {
    assert.deepEqual([a.wire, b.wire], [PROBE.length, PROBE.length], `${label}: probe sent as is`);
  } else if (takeover) {
    assert.ok(b.wire * 4 < a.wire, `${label}: context takeover: the repeated probe took ${b.wire} bytes after ${a.wire}`);
  } else {
    assert.ok(b.wire >= a.wire - 2, `${label}: no context takeover: the repeated probe took ${b.wire} bytes after ${a.wire}`);
  }
  // The 1 MiB text message compresses well whatever the window (>= 9).
  if (compressed) {
    const big = messages[SIZES.indexOf(MiB) * 2];
    assert.ok(big.wire < MiB / 3, `${label}: 1 MiB of text took ${big.wire} bytes`);
  }
}

/**
 * What each direction should look like for an agreed element. A peer's
 * outbound direction at 8 bits: `ws` and Python `websockets` still
 * compress (zlib's 9-bit window stands in for 8); ours sends uncompressed.
 */
function directions(element, weAreClient) {
  const a = agreed(element);
  if (a === null) return { c2s: { compressed: false }, s2c: { compressed: false } };
  const ours = weAreClient ? a.clientMaxWindowBits : a.serverMaxWindowBits;
  const c2s = { compressed: weAreClient ? ours !== 8 : true, takeover: !a.clientNoContextTakeover };
  const s2c = { compressed: weAreClient ? true : ours !== 8, takeover: !a.serverNoContextTakeover };
  return { c2s, s2c };
}

// ---- our side of the interop tests -----------------------------------------

/** Our client, with `offer`, through `script()` against an echo server at `port`. */
async function runOurClient(port, offer) {
  const env = nodeEnv(W);
  const inbound = new FrameScanner();
  const outbound = new FrameScanner();
  const t = tap(await env.connect(port), inbound, outbound);
  const peer = new Peer(W, new W.WSConnection(W.ConnectionType.CLIENT), t);
  try {
    await peer.send(new W.Request({ host: `127.0.0.1:${port}`, target: "/", extensions: [new W.PerMessageDeflate(offer)] }));
    const accept = await peer.expect(W.AcceptConnection);
    for (const data of script()) {
      const label = `${typeof data === "string" ? "text" : "binary"} of ${data.length}`;
      await peer.send(typeof data === "string" ? new W.TextMessage({ data }) : new W.BytesMessage({ data }));
      const back = await peer.message();
      if (typeof data === "string") assert.equal(back, data, label);
      else assert.ok(back instanceof Uint8Array && Buffer.compare(back, data) === 0, label);
    }
    await peer.send(new W.CloseConnection({ code: 1000, reason: "done" }));
    const close = await peer.expect(W.CloseConnection);
    assert.equal(close.code, 1000);
    return { accept, inbound: inbound.messages(), outbound: outbound.messages() };
  } finally {
    t.close();
    peer.ws.free();
  }
}

/**
 * Our echo server supporting permessage-deflate with `config` for each
 * connection; `records` gets, per connection, the Sec-WebSocket-Extensions
 * header it answered, the frames both ways and any error.
 */
async function ourServer(config, records) {
  const env = nodeEnv(W);
  return env.listen(async (raw) => {
    const record = { response: undefined, inbound: new FrameScanner(), outbound: new FrameScanner(), error: null };
    records.push(record);
    const t = tap(raw, record.inbound, record.outbound);
    const ws = new W.WSConnection(W.ConnectionType.SERVER);
    const peer = new Peer(W, ws, t);
    try {
      for (;;) {
        const e = await peer.next();
        if (e === null) break;
        if (e instanceof W.Request) {
          record.offers = e.extensions;
          const bytes = ws.send(new W.AcceptConnection({ extensions: [new W.PerMessageDeflate(config)] }));
          record.response = extensionsHeader(bytes);
          await t.write(bytes);
        } else if (e instanceof W.Message) {
          await peer.send(e instanceof W.TextMessage
            ? new W.TextMessage({ data: e.data, messageFinished: e.messageFinished })
            : new W.BytesMessage({ data: e.data, messageFinished: e.messageFinished }));
        } else if (e instanceof W.Ping) {
          await peer.send(e.response());
        } else if (e instanceof W.CloseConnection) {
          if (ws.state === W.ConnectionState.REMOTE_CLOSING) await peer.send(e.response());
          break;
        }
      }
    } catch (err) {
      record.error = err;
    } finally {
      t.close();
      ws.free();
    }
  });
}

function checkOurServerRecord(record, expected, label) {
  assert.equal(record.error, null, `${label}: server error ${record.error}`);
  assert.equal(record.response, expected, `${label}: our Sec-WebSocket-Extensions`);
  const { c2s, s2c } = directions(expected, false);
  checkDirection(record.inbound.messages(), c2s, `${label}, client to server`);
  checkDirection(record.outbound.messages(), s2c, `${label}, server to client`);
}

function checkOurClientResult(result, expected, label) {
  assert.deepEqual(result.accept.extensions, expected === null ? [] : [expected], `${label}: accepted elements`);
  const a = agreed(expected);
  assert.equal(result.accept.handlers.length, a === null ? 0 : 1, label);
  const h = result.accept.handlers[0];
  if (a !== null) assert.deepEqual(
    { clientNoContextTakeover: h.clientNoContextTakeover, serverNoContextTakeover: h.serverNoContextTakeover, clientMaxWindowBits: h.clientMaxWindowBits, serverMaxWindowBits: h.serverMaxWindowBits },
    a,
    `${label}: negotiated PerMessageDeflate`,
  );
  const { c2s, s2c } = directions(expected, true);
  checkDirection(result.outbound, c2s, `${label}, client to server`);
  checkDirection(result.inbound, s2c, `${label}, server to client`);
}

// ---- the settings tried ------------------------------------------------------

// Our client's offer against a peer server's settings, and the exact
// response each peer gives. `py: null` is websockets' default deflate
// (12-bit windows, memLevel 5).
const OUR_CLIENT_CASES = [
  {
    name: "defaults",
    ours: {},
    ws: {},
    wsResponse: "permessage-deflate",
    py: null,
    pyResponse: "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
  },
  {
    name: "no context takeover both ways, asked by our client",
    ours: { clientNoContextTakeover: true, serverNoContextTakeover: true },
    ws: {},
    wsResponse: "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    py: {},
    pyResponse: "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
  },
  {
    name: "no context takeover both ways, required by the server",
    ours: {},
    ws: { serverNoContextTakeover: true, clientNoContextTakeover: true },
    wsResponse: "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    py: { server_no_context_takeover: true, client_no_context_takeover: true },
    pyResponse: "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
  },
  {
    name: "window bits 9 and 10 asked by our client",
    ours: { clientMaxWindowBits: 9, serverMaxWindowBits: 10 },
    ws: {},
    wsResponse: "permessage-deflate; server_max_window_bits=10; client_max_window_bits=9",
    py: {},
    pyResponse: "permessage-deflate; server_max_window_bits=10; client_max_window_bits=9",
  },
  {
    name: "window bits 11 and 12 set by the server",
    ours: {},
    ws: { serverMaxWindowBits: 11, clientMaxWindowBits: 12 },
    // ws lists the parameters in its own order.
    wsResponse: "permessage-deflate; client_max_window_bits=12; server_max_window_bits=11",
    py: { server_max_window_bits: 11, client_max_window_bits: 12 },
    pyResponse: "permessage-deflate; server_max_window_bits=11; client_max_window_bits=12",
  },
  {
    name: "window bits 8 both ways (we send uncompressed)",
    ours: { clientMaxWindowBits: 8, serverMaxWindowBits: 8 },
    ws: {},
    wsResponse: "permessage-deflate; server_max_window_bits=8; client_max_window_bits=8",
    py: {},
    // websockets supports 9 to 15 only: it declines, and nothing is compressed.
    pyResponse: null,
  },
];

// A peer client's offer against our server's settings.
const OUR_SERVER_CASES = [
  {
    name: "defaults",
    ours: {},
    ws: {},
    py: null,
    wsResponse: "permessage-deflate",
    pyResponse: "permessage-deflate",
  },
  {
    name: "no context takeover both ways, asked by the client",
    ours: {},
    ws: { clientNoContextTakeover: true, serverNoContextTakeover: true },
    py: { client_no_context_takeover: true, server_no_context_takeover: true },
    wsResponse: "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    pyResponse: "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
  },
  {
    name: "no context takeover both ways, required by our server",
    ours: { clientNoContextTakeover: true, serverNoContextTakeover: true },
    ws: {},
    py: {},
    wsResponse: "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    pyResponse: "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
  },
  {
    name: "window bits 10 and 9 asked by the client",
    ours: {},
    ws: { serverMaxWindowBits: 10, clientMaxWindowBits: 9 },
    py: { server_max_window_bits: 10, client_max_window_bits: 9 },
    wsResponse: "permessage-deflate; server_max_window_bits=10; client_max_window_bits=9",
    pyResponse: "permessage-deflate; server_max_window_bits=10; client_max_window_bits=9",
  },
  {
    name: "window bits 11 and 12 set by our server",
    ours: { serverMaxWindowBits: 11, clientMaxWindowBits: 12 },
    ws: {},
    py: {},
    wsResponse: "permessage-deflate; server_max_window_bits=11; client_max_window_bits=12",
    pyResponse: "permessage-deflate; server_max_window_bits=11; client_max_window_bits=12",
  },
  {
    name: "window bits 8 both ways (we send uncompressed)",
    ours: { serverMaxWindowBits: 8, clientMaxWindowBits: 8 },
    ws: {},
    py: {},
    wsResponse: "permessage-deflate; server_max_window_bits=8; client_max_window_bits=8",
    pyResponse: "permessage-deflate; server_max_window_bits=8; client_max_window_bits=8",
    // websockets offers client_max_window_bits without a value (any of 8-15,
    // RFC 7692 7.1.2.2) but supports 9 to 15 only, so it fails the handshake.
    pyError: /NegotiationError: Unsupported extension: name = permessage-deflate, params = \[\('server_max_window_bits', '8'\), \('client_max_window_bits', '8'\)\]/,
  },
];

// ---- decompression bombs -----------------------------------------------------

/** A client frame (masked), for feeding our server by hand. */
function clientFrame(fin, rsv1, opcode, payload) {
  const len = payload.length;
  const head = [(fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode];
  if (len < 126) head.push(0x80 | len);
  else if (len < 65536) head.push(0x80 | 126, len >> 8, len & 0xff);
  else head.push(0x80 | 127, 0, 0, 0, 0, (len >>> 24) & 0xff, (len >> 16) & 0xff, (len >> 8) & 0xff, len & 0xff);
  const mask = [0x37, 0xfa, 0x21, 0x3d];
  head.push(...mask);
  const out = new Uint8Array(head.length + len);
  out.set(head);
  for (let i = 0; i < len; i++) out[head.length + i] = payload[i] ^ mask[i & 3];
  return out;
}

/** Our server, handshake done with permessage-deflate, at `maxMessageSize`. */
function deflateServer(maxMessageSize) {
  const client = new W.WSConnection(W.ConnectionType.CLIENT);
  const server = new W.WSConnection(W.ConnectionType.SERVER, { maxMessageSize });
  server.receiveData(client.send(new W.Request({ host: "h", target: "/", extensions: [new W.PerMessageDeflate()] })));
  [...server.events()];
  const accept = server.send(new W.AcceptConnection({ extensions: [new W.PerMessageDeflate()] }));
  assert.equal(extensionsHeader(accept), "permessage-deflate");
  client.free();
  return server;
}

// 64 MiB of zeros as one deflate message: a sync flush whose 00 00 ff ff
// tail is stripped (RFC 7692 7.2.1), about 65 KB.
const BOMB = (() => {
  const flushed = zlib.deflateRawSync(Buffer.alloc(64 * MiB), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  assert.deepEqual([...flushed.subarray(-4)], [0x00, 0x00, 0xff, 0xff]);
  return new Uint8Array(flushed.subarray(0, -4));
})();

/** Feeds `wire` in `chunk`-byte pieces; returns the events and the wasm memory growth. */
function feedBomb(server, wire, chunk) {
  const before = wasmMemoryBytes();
  const events = [];
  for (let at = 0; at < wire.length; at += chunk) {
    server.receiveData(wire.subarray(at, at + chunk));
    for (const e of server.events()) events.push(e);
    if (events.some((e) => e instanceof W.CloseConnection)) break;
  }
  return { events, growth: wasmMemoryBytes() - before };
}

function checkBomb(t, { events, growth }, label) {
  t.diagnostic(`${label}: wasm memory grew by ${(growth / MiB).toFixed(2)} MiB`);
  const close = events.find((e) => e instanceof W.CloseConnection);
  assert.ok(close, `${label}: a CloseConnection`);
  assert.equal(close.code, W.CloseReason.MESSAGE_TOO_BIG, `${label}: close code`);
  const delivered = events.filter((e) => e instanceof W.Message).reduce((n, e) => n + e.data.length, 0);
  assert.ok(delivered <= MiB, `${label}: ${delivered} bytes delivered`);
  assert.ok(growth < 16 * MiB, `${label}: wasm memory grew by ${growth} bytes`);
}

/** The least time, of five tries, to feed `wire` in 64 KiB pieces to a new deflateServer(MiB). */
function feedTime(wire) {
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const server = deflateServer(MiB);
    const t0 = performance.now();
    for (let at = 0; at < wire.length; at += 1 << 16) {
      server.receiveData(wire.subarray(at, at + (1 << 16)));
      for (const e of server.events()) void e;
    }
    best = Math.min(best, performance.now() - t0);
    server.free();
  }
  return best;
}

test("bomb: 64 MiB of zeros in one compressed frame ends in 1009, memory bounded, inflating stops at the limit", { timeout: 60000 }, (t) => {
  assert.ok(BOMB.length < 100000, `${BOMB.length} compressed bytes`);
  // A message of the limit's size (1 MiB of zeros), which arrives whole:
  // the work to expect from a bomb cut off at the limit.
  const limitSized = zlib.deflateRawSync(Buffer.alloc(MiB), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4);
  for (const opcode of [2, 1]) {
    const server = deflateServer(MiB);
    checkBomb(t, feedBomb(server, clientFrame(true, true, opcode, BOMB), 1 << 16), `one frame, opcode ${opcode}`);
    server.free();
  }
  // Time only against the same kind of work in this process, so that every
  // machine gives the same verdict: an inflater that went on to the end of
  // the input (64 MiB) takes about 100 times as long. After the memory
  // checks, which these runs' freed memory would blur.
  for (const opcode of [2, 1]) {
    const limitMs = feedTime(clientFrame(true, true, opcode, limitSized));
    const bombMs = feedTime(clientFrame(true, true, opcode, BOMB));
    t.diagnostic(`opcode ${opcode}: the bomb ${bombMs.toFixed(2)} ms, a message of the limit's size ${limitMs.toFixed(2)} ms`);
    assert.ok(bombMs <= 8 * limitMs, `opcode ${opcode}: the bomb took ${bombMs.toFixed(2)} ms, a 1 MiB message ${limitMs.toFixed(2)} ms`);
  }
});

test("bomb: the same split across 16 fragments, fed in 1 KiB chunks", { timeout: 60000 }, (t) => {
  const server = deflateServer(MiB);
  const parts = [];
  const step = Math.ceil(BOMB.length / 16);
  for (let i = 0; i < 16; i++) {
    parts.push(clientFrame(i === 15, i === 0, i === 0 ? 2 : 0, BOMB.subarray(i * step, (i + 1) * step)));
  }
  checkBomb(t, feedBomb(server, concat(parts), 1024), "16 fragments");
  server.free();
});

/** Messages compressed on one deflate stream (context takeover), each sync-flushed and stripped. */
async function takeoverStream(messages) {
  const deflate = zlib.createDeflateRaw();
  const chunks = [];
  deflate.on("data", (chunk) => chunks.push(chunk));
  const out = [];
  for (const m of messages) {
    deflate.write(m);
    await new Promise((resolve) => deflate.flush(zlib.constants.Z_SYNC_FLUSH, resolve));
    const flushed = Buffer.concat(chunks.splice(0));
    assert.deepEqual([...flushed.subarray(-4)], [0x00, 0x00, 0xff, 0xff]);
    out.push(new Uint8Array(flushed.subarray(0, -4)));
  }
  deflate.close();
  return out;
}

test("bomb: spread over a context-takeover stream, after a message it refers back to", { timeout: 60000 }, async (t) => {
  const [first, bomb] = await takeoverStream([Buffer.alloc(1024), Buffer.alloc(64 * MiB)]);
  assert.ok(bomb.length < 100000, `${bomb.length} compressed bytes`);
  const server = deflateServer(MiB);
  server.receiveData(clientFrame(true, true, 2, first));
  assert.deepEqual([...server.events()].map((e) => e.data), [new Uint8Array(1024)]);
  checkBomb(t, feedBomb(server, clientFrame(true, true, 2, bomb), 4096), "second message of a stream");
  server.free();
});

test("bomb: a message just under the limit still arrives whole", { timeout: 60000 }, () => {
  const server = deflateServer(MiB);
  const flushed = zlib.deflateRawSync(Buffer.alloc(MiB, 0x61), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  server.receiveData(clientFrame(true, true, 1, flushed.subarray(0, -4)));
  const events = [...server.events()];
  assert.ok(!events.some((e) => e instanceof W.CloseConnection));
  assert.equal(events.map((e) => e.data).join(""), "a".repeat(MiB));
  server.free();
});

// ---- memory per connection ------------------------------------------------------

// Measured in a fresh Node process per setting (wasm memory never shrinks,
// so a clean instance is the only honest baseline): PAIRS client/server
// pairs stay open after a 1 KiB message each way; the growth of wasm
// memory divided by the connections is the cost of one.
const PAIRS = 64;
const MEMORY_SCRIPT = `
import * as W from ${JSON.stringify(new URL("../../pkg/node.js", import.meta.url).href)};
import { initSync } from ${JSON.stringify(new URL("../../pkg/glue/wsproto_wasm.js", import.meta.url).href)};
const [offer, support] = JSON.parse(process.argv[1]);
const mem = () => initSync().memory.buffer.byteLength;
const message = new W.TextMessage({ data: "lorem ipsum dolor sit amet ".repeat(40) });
const open = (n) => {
  const pairs = [];
  for (let i = 0; i < n; i++) {
    const c = new W.WSConnection(W.ConnectionType.CLIENT);
    const s = new W.WSConnection(W.ConnectionType.SERVER);
    s.receiveData(c.send(new W.Request({ host: "h", target: "/", extensions: offer ? [new W.PerMessageDeflate(offer)] : [] })));
    [...s.events()];
    c.receiveData(s.send(new W.AcceptConnection({ extensions: support ? [new W.PerMessageDeflate(support)] : [] })));
    [...c.events()];
    s.receiveData(c.send(message));
    c.receiveData(s.send(message));
    [...s.events(), ...c.events()];
    pairs.push(c, s);
  }
  return pairs;
};
const warm = open(4);
const before = mem();
const pairs = open(${PAIRS});
console.log(JSON.stringify({ perConnection: (mem() - before) / pairs.length }));
`;

function perConnectionBytes(offer, support) {
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", MEMORY_SCRIPT, JSON.stringify([offer, support])], {
    encoding: "utf8",
    timeout: 60000,
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout).perConnection;
}

test("memory: wasm memory per connection with deflate negotiated", { timeout: 120000 }, (t) => {
  const kib = (n) => `${(n / 1024).toFixed(0)} KiB`;
  const none = perConnectionBytes(null, null);
  const defaults = perConnectionBytes({}, {});
  const bits9 = perConnectionBytes({ clientMaxWindowBits: 9, serverMaxWindowBits: 9 }, {});
  const noTakeover = perConnectionBytes({ clientNoContextTakeover: true, serverNoContextTakeover: true }, {});
  t.diagnostic(`per connection: no deflate ${kib(none)}, deflate default ${kib(defaults)}, window bits 9 ${kib(bits9)}, no context takeover ${kib(noTakeover)}`);
  assert.ok(none < 64 * 1024, `no deflate: ${none}`);
  // The compressor (~270 KiB) lives only while a message is compressed.
  assert.ok(defaults < none + 96 * 1024, `default: ${defaults}`);
  assert.ok(bits9 < none + 96 * 1024, `bits 9: ${bits9}`);
  const kept = perConnectionBytes({ keepCompressor: true }, { keepCompressor: true });
  t.diagnostic(`per connection with keepCompressor: ${kib(kept)}`);
  assert.ok(kept > defaults + 128 * 1024, `keepCompressor (${kept}) keeps the compressor`);
  // Without context takeover the compressor and inflater go after each message.
  assert.ok(noTakeover < none + 64 * 1024, `no context takeover: ${noTakeover}`);
});

// ---- ws --------------------------------------------------------------------------

test("our client against a ws server with perMessageDeflate", { timeout: 120000 }, async (t) => {
  for (const c of OUR_CLIENT_CASES) {
    await t.test(c.name, async () => {
      const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: { threshold: 0, ...c.ws } });
      await new Promise((resolve) => wss.once("listening", resolve));
      wss.on("connection", (sock) => sock.on("message", (data, isBinary) => sock.send(data, { binary: isBinary })));
      try {
        const result = await runOurClient(wss.address().port, c.ours);
        checkOurClientResult(result, c.wsResponse, `ws server, ${c.name}`);
      } finally {
        for (const s of wss.clients) s.terminate();
        await new Promise((resolve) => wss.close(resolve));
      }
    });
  }
});

test("a ws client with perMessageDeflate against our server", { timeout: 120000 }, async (t) => {
  for (const c of OUR_SERVER_CASES) {
    await t.test(c.name, async () => {
      const records = [];
      const server = await ourServer(c.ours, records);
      try {
        const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`, { perMessageDeflate: { threshold: 0, ...c.ws } });
        const response = new Promise((resolve) => ws.once("upgrade", (res) => resolve(res.headers["sec-websocket-extensions"])));
        const inbox = [];
        let wake = null;
        ws.on("message", (data, isBinary) => {
          inbox.push([data, isBinary]);
          if (wake) wake();
        });
        const next = () =>
          withTimeout(
            new Promise((resolve) => {
              if (inbox.length) return resolve(inbox.shift());
              wake = () => {
                wake = null;
                resolve(inbox.shift());
              };
            }),
            STEP_MS,
            "an echo from our server",
          );
        await withTimeout(new Promise((resolve, reject) => { ws.once("open", resolve); ws.once("error", reject); }), STEP_MS, "open");
        assert.equal(await response, c.wsResponse, "the response as ws saw it");
        for (const data of script()) {
          ws.send(data);
          const [back, isBinary] = await next();
          assert.equal(isBinary, typeof data !== "string");
          if (typeof data === "string") assert.equal(back.toString(), data);
          else assert.ok(Buffer.compare(back, data) === 0, `binary of ${data.length}`);
        }
        const closed = withTimeout(new Promise((resolve) => ws.once("close", resolve)), STEP_MS, "close");
        ws.close(1000);
        await closed;
        assert.equal(records.length, 1);
        checkOurServerRecord(records[0], c.wsResponse, `ws client, ${c.name}`);
      } finally {
        await server.close();
      }
    });
  }
});

// ---- Python websockets --------------------------------------------------------------

// `make test` installs Python websockets first (scripts/setup.sh): without
// it these tests fail, saying so, rather than skip.
function requirePython() {
  const r = spawnSync("python3", ["-c", "import websockets.asyncio.server"], { encoding: "utf8", timeout: 20000 });
  const why = r.error ? r.error.message : r.stderr.trim().split("\n").pop();
  assert.equal(r.status, 0, `Python websockets is missing: run scripts/setup.sh (python3 -c "import websockets.asyncio.server": ${why})`);
}

/** Runs deflate_peer.py; resolves with its process and a line reader. */
function startPython(mode, arg) {
  const child = spawn("python3", [PY_PEER, mode, JSON.stringify(arg)], { stdio: ["pipe", "pipe", "pipe"] });
  let buffered = "";
  let stderr = "";
  const lines = [];
  let waiter = null;
  let exited = false;
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (s) => {
    buffered += s;
    let nl;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      lines.push(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
    }
    if (waiter && lines.length) waiter();
  });
  child.stderr.on("data", (s) => (stderr += s));
  const exit = new Promise((resolve) =>
    child.once("exit", (code) => {
      exited = true;
      if (waiter) waiter();
      resolve(code);
    }),
  );
  return {
    exit,
    stderr: () => stderr,
    line(ms = STEP_MS) {
      return withTimeout(
        new Promise((resolve, reject) => {
          const check = () => {
            if (lines.length) return resolve(JSON.parse(lines.shift()));
            if (exited) return reject(new Error(`deflate_peer.py ${mode} exited: ${stderr}`));
            waiter = () => {
              waiter = null;
              check();
            };
          };
          check();
        }),
        ms,
        `a line from deflate_peer.py ${mode}`,
      );
    },
    async stop() {
      child.stdin.end();
      const timer = setTimeout(() => child.kill(), 5000);
      await exit;
      clearTimeout(timer);
    },
  };
}

test("our client against a Python websockets server", { timeout: 120000 }, async (t) => {
  requirePython();
  const py = startPython("server", OUR_CLIENT_CASES.map((c) => c.py));
  try {
    const { ports } = await py.line(20000);
    assert.equal(ports.length, OUR_CLIENT_CASES.length);
    for (const [i, c] of OUR_CLIENT_CASES.entries()) {
      await t.test(c.name, async () => {
        const result = await runOurClient(ports[i], c.ours);
        checkOurClientResult(result, c.pyResponse, `websockets server, ${c.name}`);
      });
    }
  } finally {
    await py.stop();
  }
});

test("a Python websockets client against our server", { timeout: 120000 }, async (t) => {
  requirePython();
  const servers = [];
  const records = [];
  try {
    for (const c of OUR_SERVER_CASES) {
      const r = [];
      records.push(r);
      servers.push(await ourServer(c.ours, r));
    }
    const jobs = OUR_SERVER_CASES.map((c, i) => ({ url: `ws://127.0.0.1:${servers[i].port}/`, config: c.py, sizes: SIZES }));
    const py = startPython("client", jobs);
    try {
      for (const [i, c] of OUR_SERVER_CASES.entries()) {
        await t.test(c.name, async () => {
          const result = await py.line(30000);
          if (c.pyError) {
            assert.match(result.error, c.pyError);
            return;
          }
          assert.equal(result.error, undefined, `${result.error} ${py.stderr()}`);
          assert.deepEqual(result, { extensions: c.pyResponse, messages: SIZES.length * 2 + 2 });
          // The server side finishes its close after the client's report.
          await withTimeout(
            (async () => {
              while (records[i].length === 0 || records[i][0].inbound.frames.every((f) => f.opcode !== 8)) {
                await new Promise((resolve) => setTimeout(resolve, 20));
              }
            })(),
            STEP_MS,
            "the client's close",
          );
          assert.equal(records[i].length, 1);
          checkOurServerRecord(records[i][0], c.pyResponse, `websockets client, ${c.name}`);
        });
      }
      assert.equal(await py.exit, 0, py.stderr());
    } finally {
      await py.stop();
    }
  } finally {
    for (const s of servers) await s.close();
  }
});
