// The seed guide's client and server flows, written once against a tiny
// transport interface so that Node (net) and Deno (Deno.listen/connect) run
// the same code over real loopback sockets.
//
//   env = {
//     W,                                   // the wsproto module
//     listen(onTransport) -> Promise<{ port, close() }>,
//     connect(port) -> Promise<transport>,
//   }
//   transport = { write(bytes): Promise, read(): Promise<Uint8Array|null>,
//                 end(): Promise (half-close), close() }
//
// Every wait is bounded (STEP_MS); a flow never waits on the network alone.
import assert from "node:assert/strict";

export const STEP_MS = 10000;

export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** One end of a connection: a wsproto connection glued to a transport. */
export class Peer {
  constructor(W, ws, transport) {
    this.W = W;
    this.ws = ws;
    this.t = transport;
    this.buffered = [];
    this.eof = false;
  }

  async send(event) {
    await this.t.write(this.ws.send(event));
  }

  /** The next event, reading from the socket as needed; null after EOF. */
  async next(what = "an event") {
    while (this.buffered.length === 0) {
      if (this.eof) return null;
      const chunk = await withTimeout(this.t.read(), STEP_MS, what);
      if (chunk === null) this.eof = true;
      try {
        this.ws.receiveData(chunk);
      } finally {
        for (const e of this.ws.events()) this.buffered.push(e);
      }
    }
    return this.buffered.shift();
  }

  /** The next event, which must be an instance of `Class`. */
  async expect(Class) {
    const e = await this.next(Class.name);
    assert.ok(e instanceof Class, `expected ${Class.name}, got ${e === null ? "EOF" : e.constructor.name}`);
    return e;
  }

  /** A whole message (pieces joined): a string or a Uint8Array. */
  async message() {
    const pieces = [];
    for (;;) {
      const e = await this.next("a message");
      assert.ok(e instanceof this.W.Message, `expected a message piece, got ${e && e.constructor.name}`);
      pieces.push(e);
      if (e.messageFinished) break;
    }
    if (pieces[0] instanceof this.W.TextMessage) {
      assert.ok(pieces.every((p) => p instanceof this.W.TextMessage));
      return pieces.map((p) => p.data).join("");
    }
    return concat(pieces.map((p) => p.data));
  }
}

export function concat(chunks) {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

export function pattern(length, salt = 0) {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + salt) & 0xff;
  return out;
}

export function text(length) {
  // ASCII, so that the length in characters is the length in bytes.
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  let s = "";
  while (s.length < length) s += alphabet;
  return s.slice(0, length);
}

/** A client that has completed the handshake with the server at `port`. */
export async function openClient(env, port, request = {}, options = {}) {
  const { W } = env;
  const t = await env.connect(port);
  const peer = new Peer(W, new W.WSConnection(W.ConnectionType.CLIENT, options), t);
  await peer.send(new W.Request({ host: `127.0.0.1:${port}`, target: "/echo", ...request }));
  const accept = await peer.next("AcceptConnection");
  return { peer, accept };
}

/**
 * The seed's server: accepts every request (choosing the first subprotocol
 * offered), echoes each message piece as it arrives, answers pings and
 * closes, and tears the transport down after the closing handshake.
 * `log` collects what it saw, for assertions.
 */
export async function echoServer(env, log = []) {
  const { W } = env;
  const handle = async (t) => {
    const ws = new W.WSConnection(W.ConnectionType.SERVER);
    const peer = new Peer(W, ws, t);
    try {
      for (;;) {
        const e = await peer.next();
        if (e === null) break;
        log.push(e);
        if (e instanceof W.Request) {
          if (e.target === "/reject") {
            const body = new TextEncoder().encode("go away");
            await peer.send(new W.RejectConnection({ statusCode: 403, headers: [["content-length", String(body.length)], ["content-type", "text/plain"]], hasBody: true }));
            await peer.send(new W.RejectData({ data: body }));
            break;
          }
          await peer.send(new W.AcceptConnection({ subprotocol: e.subprotocols[0] ?? null }));
        } else if (e instanceof W.Message) {
          await peer.send(e instanceof W.TextMessage
            ? new W.TextMessage({ data: e.data, messageFinished: e.messageFinished })
            : new W.BytesMessage({ data: e.data, messageFinished: e.messageFinished }));
          if (e instanceof W.TextMessage && e.messageFinished && e.data === "please close") {
            await peer.send(new W.CloseConnection({ code: 1001, reason: "server going away" }));
          }
        } else if (e instanceof W.Ping) {
          await peer.send(e.response());
        } else if (e instanceof W.CloseConnection) {
          if (ws.state === W.ConnectionState.REMOTE_CLOSING) await peer.send(e.response());
          // The server tears down the transport (RFC 6455 section 7.1.1).
          break;
        }
      }
    } catch (err) {
      log.push(err);
    } finally {
      t.close();
      ws.free();
    }
  };
  return env.listen(handle);
}

// ---- the flows -----------------------------------------------------------

export const flows = [];
function flow(name, fn) {
  flows.push({ name, fn });
}

flow("handshake: Request, AcceptConnection, subprotocol, both OPEN", async (env) => {
  const { W } = env;
  const log = [];
  const server = await echoServer(env, log);
  try {
    const { peer, accept } = await openClient(env, server.port, {
      subprotocols: ["chat.v2", "chat.v1"],
      extraHeaders: [["x-demo", "1"]],
    });
    assert.ok(accept instanceof W.AcceptConnection);
    assert.equal(accept.subprotocol, "chat.v2");
    assert.equal(peer.ws.state, W.ConnectionState.OPEN);
    const request = log[0];
    assert.ok(request instanceof W.Request);
    assert.equal(request.target, "/echo");
    assert.equal(request.host, `127.0.0.1:${server.port}`);
    assert.deepEqual(request.subprotocols, ["chat.v2", "chat.v1"]);
    const names = request.extraHeaders.map(([n]) => new TextDecoder().decode(n));
    assert.ok(names.includes("x-demo"), `x-demo in ${names}`);
    await peer.send(new W.CloseConnection({ code: 1000 }));
    await peer.expect(W.CloseConnection);
    assert.equal(peer.ws.state, W.ConnectionState.CLOSED);
    peer.t.close();
  } finally {
    await server.close();
  }
});

flow("messages: text and binary across length boundaries, echoed", async (env) => {
  const { W } = env;
  const server = await echoServer(env);
  try {
    const { peer } = await openClient(env, server.port);
    for (const length of [0, 1, 125, 126, 127, 65535, 65536, 1 << 20]) {
      const s = text(length);
      await peer.send(new W.TextMessage({ data: s }));
      assert.equal(await peer.message(), s, `text of ${length}`);
      const b = pattern(length, length);
      await peer.send(new W.BytesMessage({ data: b }));
      assert.deepEqual(await peer.message(), b, `bytes of ${length}`);
    }
    const unicode = "héllo wörld, 你好, 😀 ".repeat(5000);
    await peer.send(new W.Message({ data: unicode }));
    assert.equal(await peer.message(), unicode);
    await peer.send(new W.CloseConnection({ code: 1000 }));
    await peer.expect(W.CloseConnection);
    peer.t.close();
  } finally {
    await server.close();
  }
});

flow("fragmented sends: messageFinished false, then true", async (env) => {
  const { W } = env;
  const log = [];
  const server = await echoServer(env, log);
  try {
    const { peer } = await openClient(env, server.port);
    await peer.send(new W.TextMessage({ data: "one ", messageFinished: false }));
    await peer.send(new W.TextMessage({ data: "two ", messageFinished: false }));
    await peer.send(new W.TextMessage({ data: "three" }));
    assert.equal(await peer.message(), "one two three");
    await peer.send(new W.BytesMessage({ data: pattern(1000), messageFinished: false }));
    await peer.send(new W.BytesMessage({ data: pattern(0), messageFinished: false }));
    await peer.send(new W.BytesMessage({ data: pattern(70000, 1) }));
    assert.deepEqual(await peer.message(), concat([pattern(1000), pattern(70000, 1)]));
    // The server saw the pieces, not only whole messages.
    const texts = log.filter((e) => e instanceof W.TextMessage);
    assert.ok(texts.length >= 3);
    assert.equal(texts[0].messageFinished, false);
    // A text message cannot interrupt a fragmented binary one.
    await peer.send(new W.BytesMessage({ data: pattern(3), messageFinished: false }));
    assert.throws(() => peer.ws.send(new W.TextMessage({ data: "x" })), W.LocalProtocolError);
    await peer.send(new W.BytesMessage({ data: pattern(3) }));
    assert.deepEqual(await peer.message(), concat([pattern(3), pattern(3)]));
    await peer.send(new W.CloseConnection({ code: 1000 }));
    await peer.expect(W.CloseConnection);
    peer.t.close();
  } finally {
    await server.close();
  }
});

flow("ping/pong: the server answers with the same payload", async (env) => {
  const { W } = env;
  const server = await echoServer(env);
  try {
    const { peer } = await openClient(env, server.port);
    const payload = new TextEncoder().encode("are you there?");
    await peer.send(new W.Ping({ payload }));
    const pong = await peer.expect(W.Pong);
    assert.deepEqual(pong.payload, payload);
    await peer.send(new W.Ping());
    assert.equal((await peer.expect(W.Pong)).payload.length, 0);
    assert.throws(() => peer.ws.send(new W.Ping({ payload: new Uint8Array(126) })), W.LocalProtocolError);
    await peer.send(new W.CloseConnection({ code: 1000 }));
    await peer.expect(W.CloseConnection);
    peer.t.close();
  } finally {
    await server.close();
  }
});

flow("close from the client: LOCAL_CLOSING, then CLOSED; server tears down", async (env) => {
  const { W } = env;
  const log = [];
  const server = await echoServer(env, log);
  try {
    const { peer } = await openClient(env, server.port);
    await peer.send(new W.CloseConnection({ code: 1000, reason: "done" }));
    assert.equal(peer.ws.state, W.ConnectionState.LOCAL_CLOSING);
    assert.throws(() => peer.ws.send(new W.TextMessage({ data: "late" })), W.LocalProtocolError);
    const close = await peer.expect(W.CloseConnection);
    assert.equal(close.code, 1000);
    assert.equal(close.reason, "done");
    assert.equal(peer.ws.state, W.ConnectionState.CLOSED);
    assert.equal(await peer.next("EOF"), null);
    const seen = log.find((e) => e instanceof W.CloseConnection);
    assert.equal(seen.code, 1000);
    peer.t.close();
  } finally {
    await server.close();
  }
});

flow("close from the server: REMOTE_CLOSING, reply, CLOSED", async (env) => {
  const { W } = env;
  const server = await echoServer(env);
  try {
    const { peer } = await openClient(env, server.port);
    await peer.send(new W.TextMessage({ data: "please close" }));
    assert.equal(await peer.message(), "please close");
    const close = await peer.expect(W.CloseConnection);
    assert.equal(close.code, W.CloseReason.GOING_AWAY);
    assert.equal(close.reason, "server going away");
    assert.equal(peer.ws.state, W.ConnectionState.REMOTE_CLOSING);
    await peer.send(close.response());
    assert.equal(peer.ws.state, W.ConnectionState.CLOSED);
    assert.equal(await peer.next("EOF"), null);
    peer.t.close();
  } finally {
    await server.close();
  }
});

flow("rejection with a body: RejectConnection hasBody, then RejectData", async (env) => {
  const { W } = env;
  const server = await echoServer(env);
  try {
    const t = await env.connect(server.port);
    const peer = new Peer(W, new W.WSConnection(W.ConnectionType.CLIENT), t);
    await peer.send(new W.Request({ host: "localhost", target: "/reject" }));
    const reject = await peer.expect(W.RejectConnection);
    assert.equal(reject.statusCode, 403);
    assert.equal(reject.hasBody, true);
    const headers = Object.fromEntries(reject.headers.map(([n, v]) => [new TextDecoder().decode(n), new TextDecoder().decode(v)]));
    assert.equal(headers["content-type"], "text/plain");
    const chunks = [];
    for (;;) {
      const d = await peer.expect(W.RejectData);
      chunks.push(d.data);
      if (d.bodyFinished) break;
    }
    assert.equal(new TextDecoder().decode(concat(chunks)), "go away");
    assert.equal(peer.ws.state, W.ConnectionState.CLOSED);
    t.close();
  } finally {
    await server.close();
  }
});

flow("EOF mid-message: receiveData(null) gives CloseConnection 1006", async (env) => {
  const { W } = env;
  let serverSide;
  const done = new Promise((resolve) => {
    serverSide = resolve;
  });
  const server = await env.listen(async (t) => {
    const peer = new Peer(W, new W.WSConnection(W.ConnectionType.SERVER), t);
    const events = [];
    try {
      for (;;) {
        const e = await peer.next();
        if (e === null) break;
        events.push(e);
        if (e instanceof W.Request) await peer.send(new W.AcceptConnection());
      }
      serverSide({ events, state: peer.ws.state, ws: peer.ws });
    } catch (err) {
      serverSide({ error: err });
    } finally {
      t.close();
    }
  });
  try {
    const { peer } = await openClient(env, server.port);
    const frame = peer.ws.send(new W.TextMessage({ data: text(1000) }));
    // Half of the frame, then the end of the stream.
    await peer.t.write(frame.subarray(0, 500));
    await peer.t.end();
    const result = await withTimeout(done, STEP_MS, "the server side");
    assert.equal(result.error, undefined, String(result.error));
    const last = result.events[result.events.length - 1];
    assert.ok(last instanceof W.CloseConnection, `last event ${last && last.constructor.name}`);
    assert.equal(last.code, W.CloseReason.ABNORMAL_CLOSURE);
    assert.equal(result.state, W.ConnectionState.CLOSED);
    // Informational only: replying is a LocalProtocolError.
    assert.throws(() => result.ws.send(last.response()), W.LocalProtocolError);
    peer.t.close();
  } finally {
    await server.close();
  }
});

flow("bad version: RemoteProtocolError with a 426 hint, sent back", async (env) => {
  const { W } = env;
  let serverSide;
  const done = new Promise((resolve) => {
    serverSide = resolve;
  });
  const server = await env.listen(async (t) => {
    const ws = new W.WSConnection(W.ConnectionType.SERVER);
    try {
      const chunk = await withTimeout(t.read(), STEP_MS, "the request");
      ws.receiveData(chunk);
      serverSide({ error: null });
    } catch (err) {
      if (err instanceof W.RemoteProtocolError && err.eventHint) {
        await t.write(ws.send(err.eventHint));
      }
      serverSide({ error: err, state: ws.state });
    } finally {
      t.close();
    }
  });
  try {
    const t = await env.connect(server.port);
    const head =
      "GET /echo HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 12\r\n\r\n";
    await t.write(new TextEncoder().encode(head));
    const result = await withTimeout(done, STEP_MS, "the server side");
    assert.ok(result.error instanceof W.RemoteProtocolError, String(result.error));
    assert.ok(result.error instanceof Error);
    assert.ok(result.error.eventHint instanceof W.RejectConnection);
    assert.equal(result.error.eventHint.statusCode, 426);
    const version = result.error.eventHint.headers.find(([n]) => new TextDecoder().decode(n).toLowerCase() === "sec-websocket-version");
    assert.ok(version, "the hint carries Sec-WebSocket-Version");
    assert.equal(new TextDecoder().decode(version[1]), "13");
    // The client side sees the 426 on the wire.
    const chunks = [];
    for (;;) {
      const c = await withTimeout(t.read(), STEP_MS, "the 426 response");
      if (c === null) break;
      chunks.push(c);
    }
    assert.match(new TextDecoder().decode(concat(chunks)), /^HTTP\/1\.1 426 /);
    t.close();
  } finally {
    await server.close();
  }
});

flow("many clients at once, each with its own conversation", async (env) => {
  const { W } = env;
  const server = await echoServer(env);
  try {
    await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const { peer } = await openClient(env, server.port);
        for (let j = 0; j < 20; j++) {
          const s = `client ${i} message ${j} ` + text(j * 100);
          await peer.send(new W.TextMessage({ data: s }));
          assert.equal(await peer.message(), s);
        }
        await peer.send(new W.CloseConnection({ code: 1000 }));
        await peer.expect(W.CloseConnection);
        peer.t.close();
        peer.ws.free();
      }),
    );
  } finally {
    await server.close();
  }
});
