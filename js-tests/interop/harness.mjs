// Our side of the interoperability tests: the package over Node `net`,
// against another implementation (the "foreign peer") in both directions.
//
// Every test runs the same plan of scenarios, one WebSocket connection each
// (target /s/<index>). The foreign peer, client or server, is a small echo
// peer that also obeys commands sent as text messages starting with "!":
//
//   "!close [CODE [REASON]]"   start the closing handshake (no code: an
//                              empty close frame, "no status")
//   "!ping PAYLOAD"            send a ping; once the pong arrives, send the
//                              text "!pong PAYLOAD"
//   "!frag text|bytes A|B|C"   send one message in fragments A, B, C
//   anything else              echoed back, same type
//
// and reports, once a connection is closed, one JSON line (or object):
//   { path, protocol, extensions, close: { code, reason } }
// with the close code and reason it received. Peers that cannot ping or
// fragment (the WHATWG WebSocket API) answer "!unsupported ..." and the plan
// does not ask them (caps).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import * as W from "../../pkg/node.js";
import { Peer, STEP_MS, concat, pattern, text, withTimeout } from "../shared/flows.mjs";
import { nodeEnv } from "../node/net-env.mjs";

export { W };

export const SIZES = [0, 125, 126, 65535, 65536, 1 << 20];
export const PROTOCOLS = ["chat.v2", "chat.v1"];
const encoder = new TextEncoder();
const decoder = new TextDecoder();
// The longest reason a close frame holds: 123 bytes of UTF-8.
const LONG_REASON = `${"ü".repeat(61)}!`;

// ---- one connection, our side ----------------------------------------------

/** Our end of one connection: answers pings, keeps pongs, buffers the rest. */
class Side {
  constructor(peer) {
    this.peer = peer;
    this.pings = [];
    this.pongs = [];
    this.queue = [];
  }

  send(event) {
    return this.peer.send(event);
  }

  async #pull(what) {
    for (;;) {
      const e = await this.peer.next(what);
      if (e instanceof W.Ping) {
        this.pings.push(decoder.decode(e.payload));
        if (this.peer.ws.state === W.ConnectionState.OPEN) await this.peer.send(e.response());
      } else if (e instanceof W.Pong) {
        this.pongs.push(decoder.decode(e.payload));
        return e;
      } else {
        return e;
      }
    }
  }

  /** The next event other than a ping or pong. */
  async next(what) {
    if (this.queue.length) return this.queue.shift();
    for (;;) {
      const e = await this.#pull(what);
      if (!(e instanceof W.Pong)) return e;
    }
  }

  /** Waits for a pong with this payload; other events wait in the queue. */
  async pong(payload) {
    while (!this.pongs.includes(payload)) {
      const e = await this.#pull(`a pong "${payload}"`);
      if (!(e instanceof W.Pong)) {
        assert.ok(e !== null, `EOF before the pong "${payload}"`);
        this.queue.push(e);
      }
    }
    this.pongs.splice(this.pongs.indexOf(payload), 1);
  }

  /** Waits for a ping with this payload (answered as it arrives). */
  async ping(payload) {
    while (!this.pings.includes(payload)) {
      const e = await this.#pull(`a ping "${payload}"`);
      if (!(e instanceof W.Pong)) {
        assert.ok(e !== null, `EOF before the ping "${payload}"`);
        this.queue.push(e);
      }
    }
  }

  /** A whole message: { data: string | Uint8Array, pieces }. */
  async message(what = "a message") {
    const pieces = [];
    for (;;) {
      const e = await this.next(what);
      assert.ok(e instanceof W.Message, `expected ${what}, got ${e === null ? "EOF" : e.constructor.name}${e instanceof W.CloseConnection ? ` ${e.code} ${e.reason}` : ""}`);
      if (pieces.length) assert.equal(e.constructor, pieces[0].constructor, "a message changed type midway");
      pieces.push(e);
      if (e.messageFinished) break;
    }
    const data = pieces[0] instanceof W.TextMessage ? pieces.map((p) => p.data).join("") : concat(pieces.map((p) => p.data));
    return { data, pieces: pieces.length };
  }

  async echoed(data, what) {
    const { data: got } = await this.message(what);
    if (typeof data === "string") {
      assert.equal(typeof got, "string", `${what}: a text message expected`);
      assert.ok(got === data, `${what}: the text differs (${got.length} vs ${data.length} characters)`);
    } else {
      assert.ok(got instanceof Uint8Array, `${what}: a binary message expected`);
      assert.ok(Buffer.from(got).equals(Buffer.from(data)), `${what}: the bytes differ (${got.length} vs ${data.length})`);
    }
  }
}

// ---- the plan --------------------------------------------------------------

async function messages(side) {
  for (const n of SIZES) {
    await side.send(new W.TextMessage({ data: text(n) }));
    await side.echoed(text(n), `text of ${n} bytes`);
    await side.send(new W.BytesMessage({ data: pattern(n) }));
    await side.echoed(pattern(n), `binary of ${n} bytes`);
  }
  const unicode = "héllo wörld, €uro, 😀 emoji, 中文";
  await side.send(new W.TextMessage({ data: unicode }));
  await side.echoed(unicode, "multi-byte UTF-8 text");
}

async function fragments(side, caps) {
  // Ours: three fragments, text then binary, one 70000 bytes long.
  const parts = ["frag", "mented ", "tëxt ✓"];
  for (const [i, p] of parts.entries()) await side.send(new W.TextMessage({ data: p, messageFinished: i === parts.length - 1 }));
  await side.echoed(parts.join(""), "our fragmented text");
  const bins = [pattern(1000, 1), pattern(0), pattern(70000, 2)];
  for (const [i, p] of bins.entries()) await side.send(new W.BytesMessage({ data: p, messageFinished: i === bins.length - 1 }));
  await side.echoed(concat(bins), "our fragmented binary");
  // A ping between two fragments of a message (RFC 6455 5.4).
  await side.send(new W.TextMessage({ data: "before the ping, ", messageFinished: false }));
  await side.send(new W.Ping({ payload: encoder.encode("mid-message") }));
  await side.send(new W.TextMessage({ data: "after the ping" }));
  await side.pong("mid-message");
  await side.echoed("before the ping, after the ping", "a fragmented text with a ping inside");
  if (caps.fragment) {
    await side.send(new W.TextMessage({ data: "!frag text a|bc|déf|" }));
    const t = await side.message("the peer's fragmented text");
    assert.equal(t.data, "abcdéf");
    assert.ok(t.pieces >= 3, `the peer's text came in ${t.pieces} piece(s), not fragments`);
    await side.send(new W.TextMessage({ data: "!frag bytes xyz|0123456789|Ω" }));
    const b = await side.message("the peer's fragmented binary");
    assert.ok(b.data instanceof Uint8Array, "binary expected");
    assert.equal(decoder.decode(b.data), "xyz0123456789Ω");
    assert.ok(b.pieces >= 3, `the peer's binary came in ${b.pieces} piece(s), not fragments`);
  }
}

async function pings(side, caps) {
  for (const payload of ["", "ping-1", "p".repeat(125)]) {
    await side.send(new W.Ping({ payload: encoder.encode(payload) }));
    await side.pong(payload);
  }
  if (caps.ping) {
    await side.send(new W.TextMessage({ data: "!ping from the peer" }));
    await side.ping("from the peer");
    await side.echoed("!pong from the peer", "the peer's report of our pong");
  }
}

/**
 * The scenarios, in order. `close` says who starts the closing handshake,
 * with which code and reason (1005: an empty close frame).
 */
export function plan(caps = {}) {
  const list = [
    { name: "messages across length boundaries", body: messages, close: { by: "us", code: 1000, reason: "done" } },
    { name: "fragmented messages", body: fragments, close: { by: "peer", code: 1000, reason: "bye" } },
    { name: "ping/pong", body: pings, close: { by: "us", code: 1000, reason: "" } },
    { name: "close 1001 by us", close: { by: "us", code: 1001, reason: "going away" } },
    { name: "close 4999 with a 123-byte reason by us", close: { by: "us", code: 4999, reason: LONG_REASON } },
    { name: "close without status by us", close: { by: "us", code: 1005, reason: "" } },
    { name: "close 3000 by the peer", close: { by: "peer", code: 3000, reason: "three thousand" } },
    { name: "close 4000 with a UTF-8 reason by the peer", close: { by: "peer", code: 4000, reason: "ünïcödé ✓" } },
    { name: "close without status by the peer", close: { by: "peer", code: 1005, reason: "" } },
  ];
  // The WHATWG API closes with 1000 or 3000-4999 only.
  if (caps.anyCloseCode !== false) list.push({ name: "close 1011 with a 123-byte reason by the peer", close: { by: "peer", code: 1011, reason: LONG_REASON } });
  return list;
}

/** Runs scenario `s` on an open connection; resolves with what we saw. */
async function runScenario(side, s, caps, isServer) {
  await side.send(new W.TextMessage({ data: "hello" }));
  await side.echoed("hello", "the first echo");
  if (s.body) await s.body(side, caps);
  const { by, code, reason } = s.close;
  if (by === "us") {
    await side.send(new W.CloseConnection({ code, reason }));
  } else {
    await side.send(new W.TextMessage({ data: code === 1005 ? "!close" : `!close ${code} ${reason}` }));
  }
  const close = await side.next("a CloseConnection");
  assert.ok(close instanceof W.CloseConnection, `expected a CloseConnection, got ${close === null ? "EOF" : close.constructor.name}`);
  if (by === "peer") {
    assert.deepEqual({ code: close.code, reason: close.reason }, { code, reason }, "the peer's close");
    await side.send(close.response());
  }
  assert.equal(W.ConnectionState[side.peer.ws.state], "CLOSED");
  if (isServer) {
    side.peer.t.close(); // the server closes the TCP connection (RFC 6455 7.1.1)
  } else {
    assert.equal(await side.next("the server closing the TCP connection"), null);
    side.peer.t.close();
  }
  return { reply: { code: close.code, reason: close.reason } };
}

// ---- our server, our client ------------------------------------------------

function offersDeflate(request) {
  return request.extensions.some((e) => /^\s*permessage-deflate\b/i.test(String(e)));
}

/**
 * Our server, running scenario i of `scenarios` for a request of /s/i.
 * `deflate`: accept permessage-deflate when offered. Resolves to
 * { port, results(n): Promise<[{ request, accepted, reply } | { error }]>, close() }.
 */
export async function ourServer({ scenarios, caps = {}, deflate = false }) {
  const env = nodeEnv(W);
  const settled = new Map();
  const waiters = [];
  const settle = (i, value) => {
    settled.set(i, value);
    for (const w of waiters.splice(0)) w();
  };
  const server = await env.listen(async (t) => {
    const ws = new W.WSConnection(W.ConnectionType.SERVER);
    const side = new Side(new Peer(W, ws, t));
    let index = -1;
    try {
      const request = await side.next("the Request");
      assert.ok(request instanceof W.Request, `expected a Request, got ${request && request.constructor.name}`);
      const m = /^\/s\/(\d+)$/.exec(request.target);
      assert.ok(m, `unexpected target ${request.target}`);
      index = Number(m[1]);
      const accept = new W.AcceptConnection({
        subprotocol: request.subprotocols[0] ?? null,
        extensions: deflate && offersDeflate(request) ? [new W.PerMessageDeflate()] : [],
      });
      await side.send(accept);
      const result = await runScenario(side, scenarios[index], caps, true);
      settle(index, { request, deflated: accept.extensions.length > 0, ...result });
    } catch (error) {
      t.close();
      if (index >= 0) settle(index, { error });
      else settle(`unknown-${settled.size}`, { error });
    } finally {
      ws.free();
    }
  });
  return {
    port: server.port,
    close: () => server.close(),
    /** The results of scenarios 0..n-1, once all have run. */
    results(n, ms) {
      const done = () => [...Array(n).keys()].every((i) => settled.has(i));
      return withTimeout(
        new Promise((resolve) => {
          const check = () => (done() ? resolve([...Array(n).keys()].map((i) => settled.get(i))) : waiters.push(check));
          check();
        }),
        ms,
        `${n} connections to our server`,
      ).catch((err) => {
        err.message += ` (done: ${[...settled.keys()].join(", ") || "none"})`;
        const unknown = [...settled.entries()].filter(([k]) => typeof k === "string");
        if (unknown.length) err.message += `; failed before the target was known: ${unknown.map(([, v]) => v.error.message).join("; ")}`;
        throw err;
      });
    },
  };
}

/** Our client running scenario `index` against ws://127.0.0.1:port/s/index. */
export async function ourClient(port, scenarios, index, { caps = {}, deflate = false } = {}) {
  const env = nodeEnv(W);
  const t = await env.connect(port);
  const ws = new W.WSConnection(W.ConnectionType.CLIENT);
  const side = new Side(new Peer(W, ws, t));
  try {
    await side.send(new W.Request({
      host: `127.0.0.1:${port}`,
      target: `/s/${index}`,
      subprotocols: PROTOCOLS,
      extensions: deflate ? [new W.PerMessageDeflate()] : [],
    }));
    const accept = await side.next("AcceptConnection");
    assert.ok(accept instanceof W.AcceptConnection, `expected AcceptConnection, got ${accept && accept.constructor.name}`);
    const result = await runScenario(side, scenarios[index], caps, false);
    return { accept, deflated: accept.extensions.some((e) => String(e).startsWith("permessage-deflate")), ...result };
  } catch (error) {
    t.close();
    return { error };
  } finally {
    ws.free();
  }
}

// ---- checking --------------------------------------------------------------

/**
 * Every scenario passed on our side, and the peer saw each close as sent.
 * `expect.replyEchoes`: the peer's reply to our close repeats our code
 * and reason (RFC 6455 5.5.1: "typically echos the status code").
 * `expect.deflate`: whether permessage-deflate must have been negotiated.
 */
export function check(scenarios, results, reports, expect = {}) {
  const failures = [];
  scenarios.forEach((s, i) => {
    const r = results[i];
    const rep = reports.find((x) => x.path === `/s/${i}`);
    const where = `scenario ${i} (${s.name})`;
    try {
      if (r.error) throw r.error;
      assert.ok(rep, "the peer did not report this connection");
      if (rep.error) assert.fail(`the peer reported an error: ${rep.error}`);
      // The subprotocol: chosen by the server (the first offered), seen by the client.
      if (r.accept) assert.equal(r.accept.subprotocol, PROTOCOLS[0], "the subprotocol the peer's server chose");
      else assert.equal(rep.protocol, PROTOCOLS[0], "the subprotocol the peer's client saw");
      assert.deepEqual(rep.close && { code: rep.close.code, reason: rep.close.reason }, { code: s.close.code, reason: s.close.reason }, "the close the peer received");
      if (s.close.by === "us" && expect.replyEchoes !== false) {
        assert.deepEqual(r.reply, { code: s.close.code, reason: expect.replyEchoes === "code" ? r.reply.reason : s.close.reason }, "the peer's reply to our close");
      }
      if (expect.deflate !== undefined) {
        assert.equal(r.deflated, expect.deflate, "permessage-deflate negotiated (our side)");
        assert.equal(/permessage-deflate/.test(rep.extensions ?? ""), expect.deflate, `permessage-deflate negotiated (the peer's side: ${JSON.stringify(rep.extensions)})`);
      }
    } catch (err) {
      failures.push(`${where}: ${err.stack ?? err}`);
    }
  });
  if (failures.length) assert.fail(failures.join("\n\n"));
}

// ---- foreign peers in child processes --------------------------------------

/**
 * A child process speaking the peer protocol: `server` prints
 * "listening PORT"; `client URL N [...]` connects to URL/s/0 .. /s/N-1 in
 * turn. Either prints one JSON report per closed connection.
 */
export function startPeer(command, args, { env = {}, cwd } = {}) {
  const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const reports = [];
  const lines = [];
  let stopping = false;
  let stderr = "";
  let listening = null;
  const changed = [];
  const notify = () => {
    for (const f of changed.splice(0)) f();
  };
  createInterface({ input: child.stdout }).on("line", (line) => {
    lines.push(line);
    const m = /^listening (\d+)/.exec(line);
    if (m) listening = Number(m[1]);
    else if (line.startsWith("{")) {
      try {
        reports.push(JSON.parse(line));
      } catch {
        // not a report
      }
    }
    notify();
  });
  child.stderr.setEncoding("utf8").on("data", (s) => {
    stderr += s;
  });
  let exitCode;
  let fail;
  const failed = new Promise((_, reject) => {
    fail = reject;
  });
  failed.catch(() => {});
  const exited = new Promise((resolve) =>
    child.on("exit", (code, signal) => {
      exitCode = code ?? signal;
      if (code !== 0 && !stopping) fail(new Error(`${command} ${args.join(" ")} exited with ${exitCode}\nstderr: ${stderr}`));
      notify();
      resolve(exitCode);
    }),
  );
  child.on("error", (err) => {
    stderr += String(err);
    exitCode = -1;
    fail(err);
    notify();
  });
  const until = (cond, ms, what) =>
    withTimeout(
      new Promise((resolve, reject) => {
        const check = () => {
          if (cond()) resolve();
          else if (exitCode !== undefined) reject(new Error(`${command} exited (${exitCode}) before ${what}\nstdout: ${lines.join("\n")}\nstderr: ${stderr}`));
          else changed.push(check);
        };
        check();
      }),
      ms,
      `${what} (stderr: ${stderr})`,
    );
  return {
    child,
    async port(ms = STEP_MS) {
      await until(() => listening !== null, ms, "listening");
      return listening;
    },
    async reports(n, ms = STEP_MS) {
      await until(() => reports.length >= n, ms, `${n} reports`);
      return reports;
    },
    exited,
    /** Rejects if the process fails (exits other than 0 before stop()). */
    failed,
    stop() {
      stopping = true;
      if (exitCode === undefined) child.kill("SIGTERM");
      return exited;
    },
    get stderr() {
      return stderr;
    },
  };
}

/**
 * Runs the plan with the peer as client against our server:
 * `launch(port, n)` starts the foreign client and returns an object with
 * reports(n, ms) (and optionally stop()).
 */
export async function peerClientRun({ caps, deflate, launch, expect, ms = 60000 }) {
  const scenarios = plan(caps);
  const server = await ourServer({ scenarios, caps, deflate });
  let peer;
  try {
    peer = await launch(server.port, scenarios.length);
    const never = new Promise(() => {});
    const results = await Promise.race([server.results(scenarios.length, ms), peer.failed ?? never]);
    const reports = await peer.reports(scenarios.length, ms);
    check(scenarios, results, reports, expect);
    return { results, reports };
  } finally {
    await peer?.stop?.();
    await server.close();
  }
}

/** Runs the plan with our client against the peer's server on `port`. */
export async function peerServerRun({ caps, deflate, port, peer, expect, ms = 60000 }) {
  const scenarios = plan(caps);
  const results = [];
  for (let i = 0; i < scenarios.length; i++) {
    const run = withTimeout(ourClient(port, scenarios, i, { caps, deflate }), ms, `scenario ${i}`);
    results.push(await Promise.race([run, peer.failed ?? run]));
  }
  const reports = await peer.reports(scenarios.length, ms);
  check(scenarios, results, reports, expect);
  return { results, reports };
}
