// The outcome of a received byte stream never depends on its chunking:
// events are decided in stream order, so the first violation in the
// (inflated) bytes decides the close code, a size limit (1009) or invalid
// UTF-8 (1007). The package-level twin of tests/chunking.rs.
//
// Random client streams with permessage-deflate (messages around the
// server's maxMessageSize, text valid or not, in fragments with pings
// between them, and binary messages) are fed to a fresh server whole, a
// byte at a time and in random chunks, and checked against a model.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import * as W from "../../pkg/node.js";

const LIMIT = 4096;
const enc = new TextEncoder();
const dec = new TextDecoder();
// Repeated from a random character so multi-byte characters land
// everywhere, including across the limit.
const PATTERN = "abcé€😀 ";
const PATTERN_BYTES = enc.encode(PATTERN.repeat(2 * LIMIT / PATTERN.length + 8));

const hex = (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");

/** A client that has offered deflate and the request bytes every server is fed. */
function handshake() {
  const client = new W.WSConnection(W.ConnectionType.CLIENT, { randomSeed: 9 });
  const request = client.send(new W.Request({ host: "h", target: "/", extensions: [new W.PerMessageDeflate()] }));
  const server = newServer(request);
  client.receiveData(server.accept);
  const [accept] = [...client.events()];
  assert.ok(accept instanceof W.AcceptConnection && accept.handlers.length === 1, "deflate negotiated");
  server.conn.free();
  return { client, request };
}

/** A server that has accepted deflate for `request`. */
function newServer(request) {
  const conn = new W.WSConnection(W.ConnectionType.SERVER, { maxMessageSize: LIMIT });
  conn.receiveData(request);
  const [req] = [...conn.events()];
  assert.ok(req instanceof W.Request);
  const accept = conn.send(new W.AcceptConnection({ extensions: [new W.PerMessageDeflate()] }));
  assert.equal(conn.state, W.ConnectionState.OPEN);
  return { conn, accept };
}

/** The pieces a message is sent in (as tests/chunking.rs cuts them). */
function pieces(m) {
  if (m.bytes.length === 0) return [m.bytes];
  const step = Math.floor(m.bytes.length / m.fragments) + 1;
  const out = [];
  for (let at = 0; at < m.bytes.length; at += step) out.push(m.bytes.subarray(at, at + step));
  return out;
}

/** The client's bytes: each message compressed as binary; text ones then get opcode 0x1. */
function wire(messages) {
  const { client, request } = handshake();
  const out = [];
  messages.forEach((m, i) => {
    const ps = pieces(m);
    ps.forEach((piece, j) => {
      const last = j + 1 === ps.length;
      const frame = client.send(new W.BytesMessage({ data: piece, messageFinished: last }));
      if (j === 0 && m.text) {
        // The first header byte is never masked: FIN/RSV bits and the opcode.
        assert.equal(frame[0] & 0x0f, 0x2);
        frame[0] = (frame[0] & 0xf0) | 0x1;
      }
      out.push(frame);
      if (m.pingsBetween && !last) out.push(client.send(new W.Ping({ payload: enc.encode(`p${i}.${j}`) })));
    });
  });
  client.free();
  return { bytes: Buffer.concat(out), request };
}

/**
 * The index of the byte at which `bytes` stop being UTF-8 (the first prefix
 * a streaming fatal decoder refuses ends there), Infinity for an unfinished
 * sequence at the end, or null if they are UTF-8.
 */
function utf8ErrorAt(bytes) {
  const d = new TextDecoder("utf-8", { fatal: true });
  for (let k = 0; k < bytes.length; k++) {
    try {
      d.decode(bytes.subarray(k, k + 1), { stream: true });
    } catch {
      return k;
    }
  }
  try {
    d.decode();
  } catch {
    return Infinity;
  }
  return null;
}

/**
 * Where a message first breaks the rules: { at, code } with `at` the index
 * of the inflated byte that decides it (Infinity: at the message's end),
 * or null if it is delivered.
 */
function violation(m) {
  const invalidAt = m.text ? utf8ErrorAt(m.bytes) : null;
  if (invalidAt !== null && invalidAt < LIMIT) return { at: invalidAt, code: 1007 };
  if (m.bytes.length > LIMIT) return { at: LIMIT, code: 1009 };
  if (invalidAt !== null) return { at: invalidAt, code: 1007 };
  return null;
}

/** What the server should report: messages and pings in stream order, then the first violation's close code. */
function model(messages) {
  const out = [];
  for (const [i, m] of messages.entries()) {
    const ps = pieces(m);
    const v = violation(m);
    const step = Math.floor(m.bytes.length / m.fragments) + 1;
    const failsIn = v === null ? -1 : Math.min(ps.length - 1, v.at === Infinity ? Infinity : Math.floor(v.at / step));
    for (let j = 0; j < ps.length; j++) {
      if (j === failsIn) {
        out.push(`close ${v.code}`);
        return out;
      }
      if (m.pingsBetween && j + 1 < ps.length) out.push(`ping p${i}.${j}`);
    }
    out.push(m.text ? `text ${dec.decode(m.bytes)}` : `bytes ${hex(m.bytes)}`);
  }
  return out;
}

/** The server's normalised outcome for the stream fed in `chunks`. */
function receive(request, chunks) {
  const { conn } = newServer(request);
  const out = [];
  let pending = null;
  for (const chunk of chunks) {
    try {
      conn.receiveData(chunk);
    } catch (e) {
      out.push(`threw ${e.name}: ${e.message}`);
      break;
    }
    for (const e of conn.events()) {
      if (e instanceof W.TextMessage || e instanceof W.BytesMessage) {
        pending ??= [];
        pending.push(e.data);
        if (e.messageFinished) {
          out.push(e instanceof W.TextMessage ? `text ${pending.join("")}` : `bytes ${hex(Buffer.concat(pending))}`);
          pending = null;
        }
      } else if (e instanceof W.Ping) {
        out.push(`ping ${dec.decode(e.payload)}`);
      } else if (e instanceof W.CloseConnection) {
        out.push(`close ${e.code} ${e.reason}`);
      } else {
        out.push(`unexpected ${e.constructor.name}`);
      }
    }
  }
  conn.free();
  return out;
}

function chunked(bytes, sizes) {
  const out = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const n = sizes[i % sizes.length];
    out.push(bytes.subarray(at, at + n));
    at += n;
  }
  return out;
}

const bytewise = (bytes) => Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));

/** Compares the three feeds with each other, then with the model (close reasons aside). */
function check(messages, sizes) {
  const { bytes, request } = wire(messages);
  const whole = receive(request, [bytes]);
  assert.deepEqual(receive(request, bytewise(bytes)), whole, "a byte at a time vs whole");
  assert.deepEqual(receive(request, chunked(bytes, sizes)), whole, `chunks of ${sizes} vs whole`);
  const codesOnly = whole.map((e) => (e.startsWith("close ") ? e.slice(0, 10) : e));
  assert.deepEqual(codesOnly, model(messages), "the model");
  return whole;
}

const length = fc.oneof(
  fc.integer({ min: 0, max: 63 }),
  fc.integer({ min: LIMIT - 64, max: LIMIT + 63 }),
  fc.integer({ min: 0, max: 2 * LIMIT - 1 }),
);

const textMessage = fc
  .record({
    len: length,
    offset: fc.nat(PATTERN.length - 1),
    // Mostly whole characters; sometimes the last one cut short.
    wholeChars: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    bad: fc.oneof(
      { weight: 3, arbitrary: fc.constant(null) },
      { weight: 1, arbitrary: fc.record({ at: fc.nat(), byte: fc.integer({ min: 0x80, max: 0xff }) }) },
    ),
    fragments: fc.integer({ min: 1, max: 3 }),
    pingsBetween: fc.boolean(),
  })
  .map(({ len, offset, wholeChars, bad, fragments, pingsBetween }) => {
    const from = enc.encode(PATTERN.slice(0, offset)).length;
    const isContinuation = (i) => (PATTERN_BYTES[i] & 0xc0) === 0x80;
    if (wholeChars) while (len > 0 && isContinuation(from + len)) len--;
    const bytes = PATTERN_BYTES.slice(from, from + len);
    if (bad !== null && len > 0) bytes[bad.at % len] = bad.byte;
    return { text: true, bytes, fragments, pingsBetween };
  });

const binaryMessage = fc
  .record({
    len: length,
    seed: fc.integer(),
    fragments: fc.integer({ min: 1, max: 3 }),
    pingsBetween: fc.boolean(),
  })
  .map(({ len, seed, fragments, pingsBetween }) => {
    // Pseudo-random (incompressible) bytes from a seed: cheaper to shrink than an array.
    const bytes = new Uint8Array(len);
    let x = seed | 1;
    for (let i = 0; i < len; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      bytes[i] = x & 0xff;
    }
    return { text: false, bytes, fragments, pingsBetween };
  });

// Text descriptions for counterexamples: lengths and culprits, not 8 KiB dumps.
const show = (ms) =>
  ms.map((m) => {
    const v = violation(m);
    return `${m.text ? "text" : "bytes"}(${m.bytes.length} B, ${m.fragments} fragments${m.pingsBetween ? ", pings" : ""}${
      v ? `, ${v.code} at ${v.at}` : ""
    })`;
  });

test("deflate streams end the same however they are chunked, as the model says", { timeout: 600000 }, () => {
  // What decided each run: the seed must reach every case, or the property proves little.
  const counts = { delivered: 0, 1007: 0, 1009: 0, "1007 in an oversized message": 0, "1009 with invalid UTF-8 past the limit": 0 };
  fc.assert(
    fc.property(
      fc.array(fc.oneof({ weight: 3, arbitrary: textMessage }, { weight: 1, arbitrary: binaryMessage }), {
        minLength: 1,
        maxLength: 4,
      }),
      fc.array(fc.integer({ min: 1, max: 600 }), { minLength: 1, maxLength: 8 }),
      (messages, sizes) => {
        check(messages, sizes);
        const m = messages.find((m) => violation(m) !== null);
        const v = m && violation(m);
        counts[v ? v.code : "delivered"]++;
        if (v?.code === 1007 && m.bytes.length > LIMIT) counts["1007 in an oversized message"]++;
        if (v?.code === 1009 && m.text && utf8ErrorAt(m.bytes) !== null) {
          counts["1009 with invalid UTF-8 past the limit"]++;
        }
      },
    ),
    {
      seed: 15,
      numRuns: 150,
      reporter: (details) => {
        if (details.failed) {
          const [messages, sizes] = details.counterexample;
          throw new Error(
            `seed ${details.seed}, path ${details.counterexamplePath}: ${JSON.stringify(show(messages))} in chunks of ${sizes}\n${
              details.errorInstance?.stack ?? details.error
            }`,
          );
        }
      },
    },
  );
  for (const [k, n] of Object.entries(counts)) assert.ok(n > 0, `no run: ${k}`);
});

test("an invalid byte before the limit wins over the limit; past it, the size does", () => {
  const bytes = new Uint8Array(2 * LIMIT).fill(0x61);
  bytes[100] = 0xff;
  let { bytes: stream, request } = wire([{ text: true, bytes, fragments: 1, pingsBetween: false }]);
  assert.deepEqual(receive(request, [stream]).map((e) => e.slice(0, 10)), ["close 1007"]);
  assert.deepEqual(receive(request, bytewise(stream)).map((e) => e.slice(0, 10)), ["close 1007"]);
  bytes[100] = 0x61;
  bytes[LIMIT] = 0xff;
  ({ bytes: stream } = wire([{ text: true, bytes, fragments: 3, pingsBetween: true }]));
  // Byte 4096 is in the second of three fragments: the first ping comes first.
  const expected = ["ping p0.0", "close 1009"];
  assert.deepEqual(receive(request, [stream]).map((e) => e.slice(0, 10)), expected);
  assert.deepEqual(receive(request, bytewise(stream)).map((e) => e.slice(0, 10)), expected);
  bytes[LIMIT] = 0x61;
  ({ bytes: stream } = wire([{ text: true, bytes, fragments: 1, pingsBetween: false }]));
  assert.deepEqual(receive(request, [stream]).map((e) => e.slice(0, 10)), ["close 1009"]);
});
