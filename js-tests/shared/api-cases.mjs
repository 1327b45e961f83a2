// In-memory tests of the JS API (no sockets): exact bytes, errors, argument
// checking, enums, the frame-only Connection, freeing. Run by Node and Deno.
import assert from "node:assert/strict";
import { concat } from "./flows.mjs";

export const cases = [];
function test(name, fn) {
  cases.push({ name, fn });
}

const enc = new TextEncoder();
const dec = new TextDecoder();

// SeededRandom (splitmix64, src/random.rs), recomputed here so that the
// expected bytes do not come from the code under test.
function seeded(seed) {
  let state = BigInt.asUintN(64, BigInt(seed));
  let pool = [];
  const next64 = () => {
    state = BigInt.asUintN(64, state + 0x9e3779b97f4a7c15n);
    let z = state;
    z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
    z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
    return z ^ (z >> 31n);
  };
  // fill(buf): one u64 per 8-byte chunk, little-endian, the rest dropped.
  return (n) => {
    const out = [];
    for (let i = 0; i < n; i += 8) {
      let v = next64();
      for (let j = 0; j < 8 && i + j < n; j++) {
        out.push(Number(v & 0xffn));
        v >>= 8n;
      }
    }
    pool = out;
    return Uint8Array.from(pool);
  };
}

function base64(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/** A client and a server joined in memory, handshake done. */
export function pair(W, clientOptions = {}, serverOptions = {}) {
  const client = new W.WSConnection(W.ConnectionType.CLIENT, clientOptions);
  const server = new W.WSConnection(W.ConnectionType.SERVER, serverOptions);
  server.receiveData(client.send(new W.Request({ host: "localhost", target: "/" })));
  assert.ok([...server.events()][0] instanceof W.Request);
  client.receiveData(server.send(new W.AcceptConnection()));
  assert.ok([...client.events()][0] instanceof W.AcceptConnection);
  return { client, server };
}

test("exports: every name of the API; init() is a no-op that resolves", async (W) => {
  assert.equal(W.default, W.init);
  await W.init();
  for (const name of [
    "WSConnection", "Connection", "ConnectionType", "ConnectionState", "Request", "AcceptConnection",
    "RejectConnection", "RejectData", "CloseConnection", "Message", "TextMessage", "BytesMessage", "Ping",
    "Pong", "CloseReason", "PerMessageDeflate", "LocalProtocolError", "RemoteProtocolError", "init", "initSync",
  ]) {
    assert.ok(W[name] !== undefined, name);
  }
});

test("enums: wsproto's values, reverse names, frozen", (W) => {
  assert.equal(W.ConnectionType.CLIENT, 1);
  assert.equal(W.ConnectionType.SERVER, 2);
  assert.deepEqual(
    ["CONNECTING", "OPEN", "REMOTE_CLOSING", "LOCAL_CLOSING", "CLOSED", "REJECTING"].map((n) => W.ConnectionState[n]),
    [0, 1, 2, 3, 4, 5],
  );
  assert.equal(W.ConnectionState[W.ConnectionState.OPEN], "OPEN");
  assert.equal(W.CloseReason.NORMAL_CLOSURE, 1000);
  assert.equal(W.CloseReason.MESSAGE_TOO_BIG, 1009);
  assert.equal(W.CloseReason[1011], "INTERNAL_ERROR");
  assert.ok(Object.isFrozen(W.CloseReason));
});

test("exact bytes: seeded Sec-WebSocket-Key and mask key", (W) => {
  const random = seeded(42);
  const client = new W.WSConnection(W.ConnectionType.CLIENT, { randomSeed: 42n });
  const head = dec.decode(client.send(new W.Request({ host: "example.com", target: "/chat" })));
  const key = base64(random(16));
  assert.equal(
    head,
    "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  // The server's accept for that key (RFC 6455 section 1.3's algorithm).
  const server = new W.WSConnection(W.ConnectionType.SERVER);
  server.receiveData(enc.encode(head));
  [...server.events()];
  const accept = server.send(new W.AcceptConnection());
  client.receiveData(accept);
  assert.ok([...client.events()][0] instanceof W.AcceptConnection);

  const mask = random(4);
  const payload = enc.encode("Hello");
  const expected = [0x81, 0x80 | payload.length, ...mask, ...payload.map((b, i) => b ^ mask[i % 4])];
  assert.deepEqual([...client.send(new W.TextMessage({ data: "Hello" }))], expected);

  // Same seed, same bytes; the server never masks.
  const again = new W.WSConnection(W.ConnectionType.CLIENT, { randomSeed: 42 });
  assert.equal(dec.decode(again.send(new W.Request({ host: "example.com", target: "/chat" }))), head);
  assert.deepEqual([...server.send(new W.TextMessage({ data: "Hello" }))], [0x81, 5, ...payload]);
});

test("exact bytes: RFC 6455 section 5.7 examples, unmasked and masked", (W) => {
  const { client, server } = pair(W);
  // A server's single-frame unmasked text message.
  assert.deepEqual([...server.send(new W.TextMessage({ data: "Hello" }))], [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
  // A masked "Hello" from the client, as in the RFC.
  server.receiveData(Uint8Array.of(0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58));
  const [hello] = [...server.events()];
  assert.ok(hello instanceof W.TextMessage);
  assert.equal(hello.data, "Hello");
  assert.equal(hello.frameFinished, true);
  assert.equal(hello.messageFinished, true);
  // Fragmented unmasked text received by the client: "Hel" then "lo".
  client.receiveData(Uint8Array.of(0x01, 0x03, 0x48, 0x65, 0x6c));
  client.receiveData(Uint8Array.of(0x80, 0x02, 0x6c, 0x6f));
  const pieces = [...client.events()];
  assert.deepEqual(pieces.map((p) => [p.data, p.messageFinished]), [["Hel", false], ["lo", true]]);
  // 256 bytes of binary: 16-bit length; 64 KiB: 64-bit length.
  assert.deepEqual([...server.send(new W.BytesMessage({ data: new Uint8Array(256) })).subarray(0, 4)], [0x82, 0x7e, 0x01, 0x00]);
  assert.deepEqual(
    [...server.send(new W.BytesMessage({ data: new Uint8Array(65536) })).subarray(0, 10)],
    [0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0],
  );
  // Ping with "Hello": unmasked from the server.
  assert.deepEqual([...server.send(new W.Ping({ payload: enc.encode("Hello") }))], [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
});

test("messages: every piece of a byte-by-byte feed arrives in order", (W) => {
  const { client, server } = pair(W);
  const frame = client.send(new W.TextMessage({ data: "héllo wörld 😀" }));
  const out = [];
  for (const b of frame) {
    server.receiveData(Uint8Array.of(b));
    out.push(...server.events());
  }
  assert.equal(out.map((e) => e.data).join(""), "héllo wörld 😀");
  assert.equal(out[out.length - 1].messageFinished, true);
});

test("Message: a string gives TextMessage, bytes give BytesMessage", (W) => {
  const t = new W.Message({ data: "hi" });
  assert.ok(t instanceof W.TextMessage && t instanceof W.Message);
  const b = new W.Message({ data: Uint8Array.of(1, 2) });
  assert.ok(b instanceof W.BytesMessage && b instanceof W.Message);
  assert.equal(b.messageFinished, true);
  const ab = new W.BytesMessage({ data: new ArrayBuffer(3) });
  assert.ok(ab.data instanceof Uint8Array);
  assert.equal(ab.data.length, 3);
});

test("defaults: as in wsproto", (W) => {
  const r = new W.Request({ host: "h", target: "/" });
  assert.deepEqual([r.subprotocols, r.extensions, r.extraHeaders], [[], [], []]);
  const a = new W.AcceptConnection();
  assert.equal(a.subprotocol, null);
  const rj = new W.RejectConnection();
  assert.deepEqual([rj.statusCode, rj.hasBody, rj.headers], [400, false, []]);
  assert.equal(new W.RejectData({ data: new Uint8Array(0) }).bodyFinished, true);
  const c = new W.CloseConnection({ code: 1000 });
  assert.equal(c.reason, "");
  assert.deepEqual(c.response(), c);
  assert.notEqual(c.response(), c);
  const p = new W.Ping({ payload: Uint8Array.of(7) });
  assert.ok(p.response() instanceof W.Pong);
  assert.deepEqual([...p.response().payload], [7]);
  assert.equal(new W.Ping().payload.length, 0);
  const d = new W.PerMessageDeflate();
  assert.deepEqual(
    [d.clientNoContextTakeover, d.clientMaxWindowBits, d.serverNoContextTakeover, d.serverMaxWindowBits, d.name],
    [false, null, false, null, "permessage-deflate"],
  );
  assert.deepEqual([d.compressionThreshold, d.compressionLevel, d.keepCompressor], [0, 6, false]);
  assert.throws(() => new W.PerMessageDeflate({ keepCompressor: 1 }), TypeError);
  // RFC 7692 allows 8 (the core accepts it; Python wsproto refuses it).
  assert.equal(new W.PerMessageDeflate({ clientMaxWindowBits: 8 }).clientMaxWindowBits, 8);
  assert.throws(() => new W.PerMessageDeflate({ clientMaxWindowBits: 7 }), RangeError);
  assert.throws(() => new W.PerMessageDeflate({ serverMaxWindowBits: 16 }), RangeError);
  assert.throws(() => new W.PerMessageDeflate({ serverMaxWindowBits: "15" }), TypeError);
  assert.throws(() => new W.PerMessageDeflate({ compressionLevel: 10 }), RangeError);
  assert.throws(() => new W.PerMessageDeflate({ compressionThreshold: -1 }), RangeError);
  assert.throws(() => new W.PerMessageDeflate({ serverNoContextTakeover: 1 }), TypeError);
});

test("errors: LocalProtocolError for sends the state forbids", (W) => {
  const client = new W.WSConnection(W.ConnectionType.CLIENT);
  assert.equal(client.client, true);
  assert.throws(() => client.send(new W.TextMessage({ data: "too early" })), (e) => {
    assert.ok(e instanceof W.LocalProtocolError && e instanceof Error);
    assert.equal(e.name, "LocalProtocolError");
    assert.equal(e.message, "Event TextMessage cannot be sent in state CONNECTING.");
    return true;
  });
  const server = new W.WSConnection(W.ConnectionType.SERVER);
  assert.equal(server.client, false);
  assert.throws(() => server.send(new W.Request({ host: "h", target: "/" })), {
    name: "LocalProtocolError",
    message: "Event Request cannot be sent in state CONNECTING.",
  });
  // The failed sends changed nothing.
  assert.equal(client.state, W.ConnectionState.CONNECTING);
});

test("close: messages that came with a close can be answered while iterating", (W) => {
  const { client, server } = pair(W);
  const input = concat([
    client.send(new W.TextMessage({ data: "one" })),
    client.send(new W.Ping({ payload: new Uint8Array([112]) })),
    client.send(new W.CloseConnection({ code: 1000, reason: "bye" })),
  ]);
  server.receiveData(input);
  assert.equal(server.state, W.ConnectionState.OPEN);
  const replies = [];
  for (const event of server.events()) {
    if (event instanceof W.TextMessage) replies.push([...server.send(new W.TextMessage({ data: event.data }))]);
    else if (event instanceof W.Ping) replies.push([...server.send(event.response())]);
    else {
      assert.ok(event instanceof W.CloseConnection);
      assert.equal(server.state, W.ConnectionState.REMOTE_CLOSING);
      assert.throws(() => server.send(new W.TextMessage({ data: "late" })), W.LocalProtocolError);
      replies.push([...server.send(event.response())]);
    }
  }
  assert.deepEqual(replies, [
    [0x81, 0x03, 0x6f, 0x6e, 0x65],
    [0x8a, 0x01, 0x70],
    [0x88, 0x05, 0x03, 0xe8, 0x62, 0x79, 0x65],
  ]);
  assert.equal(server.state, W.ConnectionState.CLOSED);
  // EOF with a close still queued: CLOSED at once, both closes reported.
  const other = pair(W);
  other.server.receiveData(other.client.send(new W.CloseConnection({ code: 1001 })));
  other.server.receiveData(null);
  assert.equal(other.server.state, W.ConnectionState.CLOSED);
  assert.deepEqual([...other.server.events()].map((e) => e.code), [1001, 1006]);
  assert.equal(other.server.state, W.ConnectionState.CLOSED);
});

test("errors: close codes 1005, 1006, out of range, not an integer", (W) => {
  {
    const { client, server } = pair(W);
    // 1005 goes out as an empty close payload.
    const frame = server.send(new W.CloseConnection({ code: 1005 }));
    assert.deepEqual([...frame], [0x88, 0x00]);
    client.receiveData(frame);
    const [close] = [...client.events()];
    assert.equal(close.code, 1005);
    // ... and the response to it works.
    server.receiveData(client.send(close.response()));
    // The state moves when the close event is taken, as in wsproto.
    assert.equal(server.state, W.ConnectionState.LOCAL_CLOSING);
    assert.deepEqual([...server.events()].map((e) => e.code), [1005]);
    assert.equal(server.state, W.ConnectionState.CLOSED);
  }
  const { client } = pair(W);
  assert.throws(() => client.send(new W.CloseConnection({ code: 1006 })), W.LocalProtocolError);
  assert.throws(() => client.send(new W.CloseConnection({ code: 1015 })), W.LocalProtocolError);
  assert.throws(() => client.send(new W.CloseConnection({ code: 999 })), W.LocalProtocolError);
  assert.throws(() => client.send(new W.CloseConnection({ code: 5000 })), W.LocalProtocolError);
  assert.throws(() => client.send(new W.CloseConnection({ code: 1005, reason: "why" })), W.LocalProtocolError);
  assert.throws(() => new W.CloseConnection({ code: 1000.5 }), TypeError);
  assert.throws(() => new W.CloseConnection({ code: "1000" }), TypeError);
  assert.throws(() => new W.CloseConnection({}), TypeError);
  const c = new W.CloseConnection({ code: 1000 });
  c.code = 70000; // fields are plain; send() checks again
  assert.throws(() => client.send(c), W.LocalProtocolError);
  c.code = NaN;
  assert.throws(() => client.send(c), TypeError);
  assert.equal(client.state, W.ConnectionState.OPEN);
  // A long reason is cut to 123 bytes, on a code point: 61 "é" (122 bytes).
  const frame = client.send(new W.CloseConnection({ code: 1000, reason: "é".repeat(100) }));
  assert.deepEqual([frame.length, frame[1]], [2 + 4 + 2 + 122, 0x80 | (2 + 122)]);
  const { server: peer } = pair(W);
  peer.receiveData(frame);
  assert.deepEqual([...peer.events()].map((e) => [e.code, e.reason]), [[1000, "é".repeat(61)]]);
});

test("errors: bad arguments are TypeErrors, never a wasm trap", (W) => {
  assert.throws(() => new W.WSConnection(3), TypeError);
  assert.throws(() => new W.WSConnection("client"), TypeError);
  assert.throws(() => new W.WSConnection(W.ConnectionType.CLIENT, { maxMessageSize: -1 }), RangeError);
  assert.throws(() => new W.WSConnection(W.ConnectionType.CLIENT, { maxMessageSize: 1.5 }), TypeError);
  assert.throws(() => new W.WSConnection(W.ConnectionType.CLIENT, { randomSeed: "x" }), TypeError);
  const { client } = pair(W);
  assert.throws(() => client.receiveData("text"), TypeError);
  assert.throws(() => client.receiveData(123), TypeError);
  assert.throws(() => client.receiveData(), TypeError);
  assert.throws(() => client.receiveData(undefined), TypeError);
  assert.throws(() => client.send({ data: "not an event" }), TypeError);
  assert.throws(() => client.send(null), TypeError);
  assert.throws(() => new W.TextMessage({ data: Uint8Array.of(1) }), TypeError);
  assert.throws(() => new W.BytesMessage({ data: "text" }), TypeError);
  assert.throws(() => new W.Request({ host: "h" }), TypeError);
  assert.throws(() => new W.Request({ host: "h", target: "/", extraHeaders: [["a"]] }), TypeError);
  assert.throws(() => new W.RejectConnection({ statusCode: 42 }), RangeError);
  const t = new W.TextMessage({ data: "ok" });
  t.data = 42;
  assert.throws(() => client.send(t), TypeError);
  // Still usable afterwards.
  assert.equal(client.send(new W.TextMessage({ data: "fine" })).length, 2 + 4 + 4);
});

test("errors: RemoteProtocolError with a hint; events before it are kept", (W) => {
  const server = new W.WSConnection(W.ConnectionType.SERVER);
  const head = "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n";
  const err = (() => {
    try {
      server.receiveData(enc.encode(head)); // no Sec-WebSocket-Key
    } catch (e) {
      return e;
    }
  })();
  assert.ok(err instanceof W.RemoteProtocolError, String(err));
  assert.ok(err instanceof Error);
  assert.equal(err.name, "RemoteProtocolError");
  assert.equal(err.message, "Missing header, 'Sec-WebSocket-Key'");
  // The engine's hint (src/handshake/server.rs): a bodiless 400.
  assert.ok(err.eventHint instanceof W.RejectConnection, String(err.eventHint));
  assert.deepEqual(
    [err.eventHint.statusCode, err.eventHint.headers, err.eventHint.hasBody],
    [400, [], false],
  );
  // Not HTTP at all: the same hint.
  const s2 = new W.WSConnection(W.ConnectionType.SERVER);
  assert.throws(() => s2.receiveData(enc.encode("\x16\x03\x01 definitely not http\r\n\r\n")), (e) => {
    assert.ok(e instanceof W.RemoteProtocolError, String(e));
    assert.equal(e.message, "Bad HTTP message");
    assert.ok(e.eventHint instanceof W.RejectConnection, String(e.eventHint));
    assert.deepEqual([e.eventHint.statusCode, e.eventHint.headers, e.eventHint.hasBody], [400, [], false]);
    return true;
  });
  // Events before the error, in the same call: a refusal whose chunked body
  // goes bad after its first chunk.
  const client = new W.WSConnection(W.ConnectionType.CLIENT);
  client.send(new W.Request({ host: "h", target: "/" }));
  const refusal = "HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nZZ\r\n";
  assert.throws(() => client.receiveData(enc.encode(refusal)), {
    name: "RemoteProtocolError",
    message: "Bad chunked encoding: invalid chunk size",
  });
  assert.deepEqual(
    [...client.events()].map((e) => [e.constructor.name, e.statusCode ?? dec.decode(e.data), e.hasBody ?? e.bodyFinished]),
    [["RejectConnection", 403, true], ["RejectData", "hello", false]],
  );
  // ... and in an earlier call, not yet taken: the Request stays queued.
  const s3 = new W.WSConnection(W.ConnectionType.SERVER, { maxHandshakeSize: 1024 });
  s3.receiveData(new W.WSConnection(W.ConnectionType.CLIENT).send(new W.Request({ host: "h", target: "/kept" })));
  assert.throws(() => s3.receiveData(new Uint8Array(2000)), {
    name: "RemoteProtocolError",
    message: "too much data before the handshake completed",
  });
  assert.deepEqual([...s3.events()].map((e) => [e.constructor.name, e.target]), [["Request", "/kept"]]);
});

test("PerMessageDeflate: offered, accepted, negotiated; RFC 7692's Hello", (W) => {
  const client = new W.WSConnection(W.ConnectionType.CLIENT);
  const offer = new W.PerMessageDeflate({ serverNoContextTakeover: true });
  const request = client.send(new W.Request({ host: "h", target: "/", extensions: [offer, "x-other"] }));
  assert.match(dec.decode(request), /\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_max_window_bits, x-other\r\n/);
  const server = new W.WSConnection(W.ConnectionType.SERVER);
  server.receiveData(request);
  const [received] = server.events();
  // Received offers stay strings, as written.
  assert.deepEqual(received.extensions, ["permessage-deflate; server_no_context_takeover; client_max_window_bits", "x-other"]);
  const response = server.send(new W.AcceptConnection({ extensions: [new W.PerMessageDeflate({ clientMaxWindowBits: 10 })] }));
  assert.match(dec.decode(response), /\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_max_window_bits=10\r\n/);
  client.receiveData(response);
  const [accept] = client.events();
  assert.ok(accept instanceof W.AcceptConnection);
  assert.deepEqual(accept.extensions, ["permessage-deflate; server_no_context_takeover; client_max_window_bits=10"]);
  assert.equal(accept.handlers.length, 1);
  const agreed = accept.handlers[0];
  assert.ok(agreed instanceof W.PerMessageDeflate);
  assert.deepEqual(
    [agreed.clientNoContextTakeover, agreed.clientMaxWindowBits, agreed.serverNoContextTakeover, agreed.serverMaxWindowBits],
    [false, 10, true, 15],
  );
  // RFC 7692 section 7.2.3.1: "Hello" compressed, RSV1 set (7 bytes for 5:
  // every message is compressed, as in wsproto).
  const hello = server.send(new W.TextMessage({ data: "Hello" }));
  assert.deepEqual([...hello], [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
  const hellos = server.send(new W.TextMessage({ data: "Hello ".repeat(20) }));
  assert.equal(hellos[0], 0xc1);
  assert.ok(hellos.length < 20, `${hellos.length} bytes for 120 of text`);
  client.receiveData(concat([hello, hellos]));
  assert.deepEqual([...client.events()].map((e) => e.data), ["Hello", "Hello ".repeat(20)]);
  // The same with keepCompressor.
  const kept = new W.Connection(W.ConnectionType.SERVER, { extensions: [new W.PerMessageDeflate({ keepCompressor: true })] });
  assert.deepEqual([...kept.send(new W.TextMessage({ data: "Hello" }))], [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
  const back = client.send(new W.BytesMessage({ data: new Uint8Array(1000) }));
  assert.equal(back[0], 0xc2);
  assert.ok(back.length < 100, `${back.length} bytes for 1000 zeros`);
  server.receiveData(back);
  assert.deepEqual([...server.events()].map((e) => e.data.length), [1000]);
  // A server that supports nothing declines: no header, uncompressed.
  const c2 = new W.WSConnection(W.ConnectionType.CLIENT);
  const s2 = new W.WSConnection(W.ConnectionType.SERVER);
  s2.receiveData(c2.send(new W.Request({ host: "h", target: "/", extensions: [new W.PerMessageDeflate()] })));
  [...s2.events()];
  const plain = s2.send(new W.AcceptConnection());
  assert.doesNotMatch(dec.decode(plain), /Extensions/);
  c2.receiveData(plain);
  const [accept2] = c2.events();
  assert.deepEqual([accept2.extensions, accept2.handlers], [[], []]);
  assert.deepEqual([...s2.send(new W.TextMessage({ data: "Hello" }))], [0x81, 0x05, ...enc.encode("Hello")]);
  // Bad items are refused before anything is sent.
  const c3 = new W.WSConnection(W.ConnectionType.CLIENT);
  assert.throws(() => c3.send(new W.Request({ host: "h", target: "/", extensions: [{ name: "permessage-deflate" }] })), TypeError);
  const mutated = new W.PerMessageDeflate();
  mutated.clientMaxWindowBits = 16;
  assert.throws(() => c3.send(new W.Request({ host: "h", target: "/", extensions: [mutated] })), RangeError);
  assert.equal(c3.state, W.ConnectionState.CONNECTING);
});

test("PerMessageDeflate: a frame-only Connection with negotiated parameters", (W) => {
  const hello = Uint8Array.of(0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00);
  const client = new W.Connection(W.ConnectionType.CLIENT, { extensions: [new W.PerMessageDeflate()], trailingData: hello });
  assert.deepEqual([...client.events()].map((e) => e.data), ["Hello"]);
  const server = new W.Connection(W.ConnectionType.SERVER, {
    extensions: [new W.PerMessageDeflate({ serverNoContextTakeover: true, serverMaxWindowBits: 9 })],
  });
  assert.deepEqual([...server.send(new W.TextMessage({ data: "Hello" }))], [...hello]);
  for (let i = 0; i < 2; i++) {
    const frame = client.send(new W.TextMessage({ data: "Hello Hello Hello" }));
    assert.equal(frame[0], 0xc1);
    server.receiveData(frame);
    assert.deepEqual([...server.events()].map((e) => e.data), ["Hello Hello Hello"]);
  }
  assert.throws(() => new W.Connection(W.ConnectionType.SERVER, { extensions: ["permessage-deflate"] }), TypeError);
  const bad = new W.PerMessageDeflate();
  bad.compressionLevel = 12;
  assert.throws(() => new W.Connection(W.ConnectionType.SERVER, { extensions: [bad] }), RangeError);
});

test("protocol errors in frames arrive as CloseConnection events", (W) => {
  {
    const { client } = pair(W);
    client.receiveData(Uint8Array.of(0x81, 0x02, 0xc3, 0x28)); // invalid UTF-8
    const events = [...client.events()];
    const close = events[events.length - 1];
    assert.ok(close instanceof W.CloseConnection);
    assert.equal(close.code, W.CloseReason.INVALID_FRAME_PAYLOAD_DATA);
  }
  {
    const { server } = pair(W);
    server.receiveData(Uint8Array.of(0x81, 0x01, 0x41)); // unmasked from a client
    const [close] = [...server.events()];
    assert.ok(close instanceof W.CloseConnection);
    assert.equal(close.code, W.CloseReason.PROTOCOL_ERROR);
  }
  {
    const { client, server } = pair(W, {}, { maxMessageSize: 100 });
    server.receiveData(client.send(new W.BytesMessage({ data: new Uint8Array(101) })));
    const events = [...server.events()];
    const close = events[events.length - 1];
    assert.ok(close instanceof W.CloseConnection);
    assert.equal(close.code, W.CloseReason.MESSAGE_TOO_BIG);
  }
});

test("Connection: frame-only, starts OPEN, parses trailing data", (W) => {
  const { client } = pair(W);
  const frames = [client.send(new W.TextMessage({ data: "early" })), client.send(new W.Ping({ payload: Uint8Array.of(1) }))];
  const conn = new W.Connection(W.ConnectionType.SERVER, { trailingData: Uint8Array.from([...frames[0], ...frames[1]]) });
  assert.equal(conn.state, W.ConnectionState.OPEN);
  const events = [...conn.events()];
  assert.equal(events.length, 2);
  assert.equal(events[0].data, "early");
  assert.ok(events[1] instanceof W.Ping);
  assert.ok(!(conn instanceof W.WSConnection));
  const bare = new W.Connection(W.ConnectionType.CLIENT);
  assert.equal(bare.state, W.ConnectionState.OPEN);
  conn.receiveData(client.send(new W.CloseConnection({ code: 1000 })));
  assert.equal([...conn.events()][0].code, 1000);
  assert.equal(conn.state, W.ConnectionState.REMOTE_CLOSING);
});

test("initiateUpgradeConnection: a request read elsewhere becomes a Request event", (W) => {
  const server = new W.WSConnection(W.ConnectionType.SERVER);
  server.initiateUpgradeConnection(
    [
      ["Host", "example.com"],
      ["Upgrade", "websocket"],
      ["Connection", "Upgrade"],
      ["Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="],
      ["Sec-WebSocket-Version", enc.encode("13")],
    ],
    "/chat",
  );
  const [request] = [...server.events()];
  assert.ok(request instanceof W.Request);
  assert.equal(request.target, "/chat");
  const accept = dec.decode(server.send(new W.AcceptConnection()));
  assert.match(accept, /Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/);
  assert.equal(server.state, W.ConnectionState.OPEN);
});

test("free() and Symbol.dispose release the connection; later use throws", (W) => {
  const ws = new W.WSConnection(W.ConnectionType.CLIENT);
  ws.free();
  ws.free(); // idempotent
  assert.throws(() => ws.send(new W.Request({ host: "h", target: "/" })), W.LocalProtocolError);
  assert.throws(() => ws.receiveData(new Uint8Array(1)), W.LocalProtocolError);
  if (typeof Symbol.dispose === "symbol") {
    const other = new W.WSConnection(W.ConnectionType.SERVER);
    other[Symbol.dispose]();
    assert.throws(() => other.receiveData(new Uint8Array(1)), W.LocalProtocolError);
  }
});

// The byte length of the wasm memory W's instance uses. The glue's
// initSync() returns the instance's exports once W's entry has loaded it;
// the same module URL in Node, Deno and browsers.
async function wasmMemoryOf(W) {
  const glue = await import(new URL("../../pkg/glue/wsproto_wasm.js", import.meta.url).href);
  const probe = new W.Connection(W.ConnectionType.CLIENT);
  // Another copy of the glue would measure another instance's memory.
  assert.ok(probe._h instanceof glue.WasmConn, "W does not use pkg/glue/wsproto_wasm.js: no way to its wasm memory");
  probe.free();
  const { memory } = glue.initSync();
  return () => memory.buffer.byteLength;
}

test("many short-lived connections do not exhaust memory: wasm memory stays as it was", async (W) => {
  const memoryBytes = await wasmMemoryOf(W);
  const cycle = () => {
    const { client, server } = pair(W);
    server.receiveData(client.send(new W.BytesMessage({ data: new Uint8Array(4096) })));
    assert.equal([...server.events()][0].data.length, 4096);
    client.free();
    server.free();
  };
  for (let i = 0; i < 500; i++) cycle(); // the allocator's steady state
  const before = memoryBytes();
  // Free memory can hide a leak, but never more than all of memory: LEAK
  // bytes lost per connection over this many connections would outgrow it
  // by 2 * SLACK.
  const LEAK = 64;
  const SLACK = 256 * 1024;
  const cycles = Math.ceil((before + 2 * SLACK) / (2 * LEAK));
  for (let i = 0; i < cycles; i++) cycle();
  const growth = memoryBytes() - before;
  assert.ok(growth <= SLACK, `${2 * cycles} connections grew wasm memory by ${growth} bytes (from ${before})`);
});

test("memory growth between calls does not corrupt views", (W) => {
  const { client, server } = pair(W);
  const big = new Uint8Array(8 << 20).fill(7);
  // Another connection grows wasm memory between this pair's calls.
  const frame = client.send(new W.BytesMessage({ data: Uint8Array.of(1, 2, 3) }));
  const other = pair(W);
  other.server.receiveData(other.client.send(new W.BytesMessage({ data: big })));
  const got = [...other.server.events()];
  assert.equal(got.reduce((n, e) => n + e.data.length, 0), big.length);
  server.receiveData(frame);
  assert.deepEqual([...[...server.events()][0].data], [1, 2, 3]);
});

// The binding unmasks payloads in place in its input buffer and the events
// point there until copied out; large buffers are given back right after.
test("received payloads: exact bytes from the input buffer, whole or pieces, kept across calls", (W) => {
  const { client, server } = pair(W);
  const big = new Uint8Array((1 << 20) + 3).map((_, i) => (i * 7) & 0xff);
  const words = "héllo wörld 😀 ".repeat(5000);
  const frames = concat([
    client.send(new W.BytesMessage({ data: big })),
    client.send(new W.TextMessage({ data: words })),
    client.send(new W.BytesMessage({ data: Uint8Array.of(9, 8, 7) })),
    client.send(new W.Ping({ payload: Uint8Array.of(1) })),
  ]);
  for (const cut of [frames.length, 65536, 1000, 7]) {
    const kept = [];
    for (let at = 0; at < frames.length; at += cut) {
      server.receiveData(frames.subarray(at, at + cut));
      kept.push(...server.events());
    }
    // Every event stays intact after later calls reused the input buffer.
    const bytes = concat(kept.filter((e) => e instanceof W.BytesMessage && e.data.length > 3).map((e) => e.data));
    assert.deepEqual(bytes, big, `cut ${cut}`);
    assert.equal(kept.filter((e) => e instanceof W.TextMessage).map((e) => e.data).join(""), words, `cut ${cut}`);
    assert.deepEqual([...kept.filter((e) => e instanceof W.BytesMessage).at(-1).data], [9, 8, 7]);
    assert.deepEqual([...kept.at(-1).payload], [1]);
  }
  // The same connection keeps working after its large buffers went back.
  server.receiveData(client.send(new W.BytesMessage({ data: Uint8Array.of(5) })));
  assert.deepEqual([...[...server.events()][0].data], [5]);
});

test("headers: strings and bytes in, lower-cased bytes out", (W) => {
  const client = new W.WSConnection(W.ConnectionType.CLIENT);
  const server = new W.WSConnection(W.ConnectionType.SERVER);
  server.receiveData(
    client.send(new W.Request({ host: "h", target: "/", extraHeaders: [["X-Text", "v1"], [enc.encode("X-Bytes"), Uint8Array.of(0x76, 0x32)]] })),
  );
  const [request] = [...server.events()];
  const headers = request.extraHeaders.map(([n, v]) => {
    assert.ok(n instanceof Uint8Array && v instanceof Uint8Array);
    return [dec.decode(n), dec.decode(v)];
  });
  assert.deepEqual(headers.filter(([n]) => n.startsWith("x-")), [["x-text", "v1"], ["x-bytes", "v2"]]);
  assert.throws(
    () => client.send(new W.Request({ host: "h", target: "/", extraHeaders: [["X-Bad", "a\r\nb"]] })),
    W.LocalProtocolError,
  );
});

test("EOF: before the handshake and after it", (W) => {
  const client = new W.WSConnection(W.ConnectionType.CLIENT);
  client.send(new W.Request({ host: "h", target: "/" }));
  client.receiveData(null);
  assert.equal(client.state, W.ConnectionState.CLOSED);
  const { server } = pair(W);
  server.receiveData(null);
  const [close] = [...server.events()];
  assert.equal(close.code, 1006);
  assert.equal(server.state, W.ConnectionState.CLOSED);
  assert.throws(() => server.send(close.response()), W.LocalProtocolError);
});

test("random call sequences and random bytes never trap the wasm instance", (W) => {
  // A small deterministic PRNG (xorshift32) so failures reproduce.
  let seed = 0x9e3779b9;
  const rand = (n) => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const bytes = (n) => Uint8Array.from({ length: n }, () => rand(256));
  const events = () => [
    new W.Request({ host: "h", target: "/" + rand(10), subprotocols: rand(2) ? ["a"] : [] }),
    new W.AcceptConnection({ subprotocol: rand(2) ? "a" : null }),
    new W.RejectConnection({ statusCode: 400 + rand(100), hasBody: rand(2) === 1 }),
    new W.RejectData({ data: bytes(rand(20)), bodyFinished: rand(2) === 1 }),
    new W.CloseConnection({ code: [1000, 1001, 1005, 1006, 999, 4999, 5000, 0, 65535][rand(9)], reason: rand(2) ? "r" : "" }),
    new W.TextMessage({ data: "x".repeat(rand(200)), messageFinished: rand(2) === 1 }),
    new W.BytesMessage({ data: bytes(rand(200)), messageFinished: rand(2) === 1 }),
    new W.Ping({ payload: bytes(rand(130)) }),
    new W.Pong({ payload: bytes(rand(130)) }),
  ];
  const allowed = (e) =>
    e instanceof W.LocalProtocolError || e instanceof W.RemoteProtocolError || e instanceof TypeError || e instanceof RangeError;
  for (let round = 0; round < 300; round++) {
    const type = rand(2) ? W.ConnectionType.CLIENT : W.ConnectionType.SERVER;
    const opts = { maxMessageSize: rand(3) ? undefined : rand(300), maxHandshakeSize: rand(3) ? undefined : rand(300), maxHeaders: rand(3) ? undefined : rand(5) };
    const conn = rand(4) ? new W.WSConnection(type, opts) : new W.Connection(type, { ...opts, trailingData: bytes(rand(30)) });
    // Sometimes start from a real handshake so frames get parsed.
    const peer = new W.WSConnection(type === W.ConnectionType.CLIENT ? W.ConnectionType.SERVER : W.ConnectionType.CLIENT);
    for (let step = 0; step < 30; step++) {
      try {
        switch (rand(5)) {
          case 0:
          case 1: {
            const list = events();
            conn.send(list[rand(list.length)]);
            break;
          }
          case 2:
            conn.receiveData(bytes(rand(300)));
            break;
          case 3: {
            const list = events();
            peer.receiveData(new Uint8Array(0));
            conn.receiveData(peer.send(list[rand(list.length)]));
            break;
          }
          default:
            if (rand(10) === 0) conn.receiveData(null);
            else conn.receiveData(Uint8Array.of(0x81, 0x80 | rand(128), 1, 2, 3, 4, ...bytes(rand(10))));
        }
      } catch (e) {
        assert.ok(allowed(e), `unexpected ${e && e.constructor.name}: ${e && e.stack}`);
      }
      for (const e of conn.events()) assert.ok(e instanceof W.Event);
      assert.ok(conn.state >= 0 && conn.state <= 5);
    }
    conn.free();
    peer.free();
  }
  // The instance still works.
  const { client, server } = pair(W);
  server.receiveData(client.send(new W.TextMessage({ data: "still alive" })));
  assert.equal([...server.events()][0].data, "still alive");
});

// Text decoding (pkg-template/api.js decodeText): ASCII pieces decoded
// together with their neighbours and sliced, multi-byte pieces through
// UTF-16. Every text must come out exactly as sent.
{
  const texts = [
    "",
    "a",
    "hello",
    '{"id":1,"user":"user42","tags":["alpha","beta"]}',
    "héllo wörld, ça va? Привет мир — 你好，世界 😀👍 ",
    "\uFEFFstarts with a BOM",
    "\uFEFF",
    "ends with 😀",
    "😀",
    "\u007f\u0080\u07ff\u0800\uffff\u{10000}\u{10ffff}",
    "x".repeat(300),
    "é".repeat(200) + "ascii tail",
    "ascii head " + "😀".repeat(100),
    "z".repeat(70000),
    "€".repeat(30000),
  ];
  const keepBom = new TextDecoder("utf-8", { ignoreBOM: true });
  // An unmasked frame (a client receives them).
  const frame = (opcode, fin, payload) => {
    const n = payload.length;
    const head = n < 126 ? [n] : n < 65536 ? [126, n >> 8, n & 0xff] : [127, 0, 0, 0, 0, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
    return concat([Uint8Array.of((fin ? 0x80 : 0) | opcode, ...head), payload]);
  };
  // Messages: [kind, content, fragment cut points in bytes].
  const messages = [];
  texts.forEach((t, i) => {
    messages.push(["text", t, []]);
    if (i % 3 === 0) messages.push(["binary", Uint8Array.of(i, 0xc3, 0x28, 0xff), []]);
    if (i % 4 === 1) messages.push(["ping", Uint8Array.of(i), []]);
    // Far enough apart that ASCII texts around it are decoded apart.
    if (i === 2) messages.push(["binary", new Uint8Array(1000).fill(0xe9), []]);
    const b = enc.encode(t);
    // Fragmented, cut also inside code points (every third byte).
    if (b.length > 1 && b.length < 400) messages.push(["text", t, [1, Math.floor(b.length / 3), b.length - 1]]);
  });
  messages.push(["text", "", [0, 0]]);
  const wire = (list) =>
    concat(
      list.flatMap(([kind, content, cuts]) => {
        if (kind === "ping") return [frame(0x9, true, content)];
        const bytes = kind === "text" ? enc.encode(content) : content;
        const bounds = [0, ...cuts, bytes.length];
        const out = [];
        for (let f = 0; f + 1 < bounds.length; f++) {
          const op = f > 0 ? 0x0 : kind === "text" ? 0x1 : 0x2;
          out.push(frame(op, f + 2 === bounds.length, bytes.subarray(bounds[f], bounds[f + 1])));
        }
        return out;
      }),
    );
  // Feeds `stream` in the given chunk sizes; returns the messages received.
  const receive = (W, stream, sizes) => {
    const { client } = pair(W);
    const got = [];
    let text = null;
    let bytes = [];
    let at = 0;
    for (let k = 0; at < stream.length; k++) {
      const size = sizes[k % sizes.length];
      client.receiveData(stream.slice(at, at + size));
      at += size;
      for (const e of client.events()) {
        if (e instanceof W.Ping) {
          got.push(["ping", [...e.payload]]);
        } else if (e instanceof W.TextMessage) {
          assert.equal(typeof e.data, "string");
          // Pieces end on code points: no lone surrogate at either end.
          assert.equal(keepBom.decode(enc.encode(e.data)), e.data);
          text = (text ?? "") + e.data;
          if (e.messageFinished) {
            got.push(["text", text]);
            text = null;
          }
        } else if (e instanceof W.BytesMessage) {
          bytes.push(...e.data);
          if (e.messageFinished) {
            got.push(["binary", bytes]);
            bytes = [];
          }
        } else {
          assert.fail(`unexpected ${e.constructor.name}`);
        }
      }
    }
    client.free();
    return got;
  };
  const expected = messages.map(([kind, content]) => [kind, kind === "text" ? content : [...content]]);

  test("text decoding: many texts in one call, exact strings and pieces", (W) => {
    const { client } = pair(W);
    // Whole frames in one call: one event per frame, with its own text.
    const list = messages.filter(([, , cuts]) => cuts.length === 0 || cuts[0] === 0);
    client.receiveData(wire(list));
    const got = [...client.events()].map((e) => [e.constructor.name, typeof e.data === "string" ? e.data : [...(e.data ?? e.payload)]]);
    const want = list.flatMap(([kind, content, cuts]) => {
      if (kind === "ping") return [["Ping", [...content]]];
      if (kind === "binary") return [["BytesMessage", [...content]]];
      return cuts.length ? Array(cuts.length + 1).fill(["TextMessage", content]).map((x, i) => (i === 0 ? x : ["TextMessage", ""])) : [["TextMessage", content]];
    });
    assert.deepEqual(got, want);
    // The same again on the same connection (state of the last call reset).
    client.receiveData(wire(list.slice().reverse()));
    assert.deepEqual(
      [...client.events()].map((e) => (typeof e.data === "string" ? e.data : null)).filter((x) => x !== null),
      want.slice().reverse().filter(([k]) => k === "TextMessage").map(([, t]) => t),
    );
    client.free();
  });

  test("text decoding: any feed sizes, fragments, code points split across calls", (W) => {
    const stream = wire(messages);
    for (const sizes of [[stream.length], [65536], [1460], [1], [2], [3], [7, 1, 300, 2, 5000], [4096, 13]]) {
      assert.deepEqual(receive(W, stream, sizes), expected, `feed sizes ${sizes}`);
    }
  });

  // A server unmasks text in place and learns in the same pass whether it is
  // ASCII (then it skips validation): masked frames, with keys that set and
  // clear high bits, must give the same strings, and a code point cut
  // before an ASCII fragment must still fail.
  const masked = (opcode, fin, payload, k) => {
    const n = payload.length;
    const key = [0x80 | k, 0x7f ^ k, 0xff, k & 0x7f];
    const head = n < 126 ? [0x80 | n] : n < 65536 ? [0xfe, n >> 8, n & 0xff] : [0xff, 0, 0, 0, 0, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
    return concat([Uint8Array.of((fin ? 0x80 : 0) | opcode, ...head, ...key), payload.map((b, i) => b ^ key[i & 3])]);
  };
  const serverReceive = (W, stream, size) => {
    const server = new W.Connection(W.ConnectionType.SERVER);
    const texts = [];
    let text = "";
    let close = null;
    for (let at = 0; at < stream.length; at += size) {
      server.receiveData(stream.slice(at, at + size));
      for (const e of server.events()) {
        if (e instanceof W.CloseConnection) close = e.code;
        if (!(e instanceof W.TextMessage)) continue;
        text += e.data;
        if (e.messageFinished) {
          texts.push(text);
          text = "";
        }
      }
    }
    server.free();
    return { texts, close };
  };

  test("text decoding: a server checks ASCII as it unmasks: same strings, and a cut code point before ASCII fails", (W) => {
    const frames = [];
    texts.forEach((t, i) => {
      const b = enc.encode(t);
      frames.push(masked(1, true, b, i));
      // Cut inside code points, then an all-ASCII fragment where there is one.
      const cuts = [0, Math.floor(b.length / 3), b.length - 1, b.length].filter((c, j, a) => j === 0 || c > a[j - 1]);
      for (let f = 0; f + 1 < cuts.length; f++) frames.push(masked(f ? 0 : 1, f + 2 === cuts.length, b.subarray(cuts[f], cuts[f + 1]), i + f));
    });
    const stream = concat(frames);
    const want = texts.flatMap((t) => [t, t]);
    for (const size of [stream.length, 65536, 1460, 7]) {
      assert.deepEqual(serverReceive(W, stream, size), { texts: want, close: null }, `feed size ${size}`);
    }
    // "é" cut after its lead byte, then ASCII: invalid however it is fed.
    for (const tail of ["cdef", "c", "x".repeat(300)]) {
      const bad = concat([masked(1, true, enc.encode("fine"), 1), masked(1, false, Uint8Array.of(0x61, 0xc3), 2), masked(0, true, enc.encode(tail), 3)]);
      for (const size of [bad.length, 9, 1]) {
        assert.deepEqual(serverReceive(W, bad, size), { texts: ["fine"], close: W.CloseReason.INVALID_FRAME_PAYLOAD_DATA }, `tail ${tail.length}, feed ${size}`);
      }
    }
  });

  test("text decoding: invalid UTF-8 still fails with 1007 after good texts", (W) => {
    for (const bad of [Uint8Array.of(0xc3, 0x28), Uint8Array.of(0xed, 0xa0, 0x80), Uint8Array.of(0xf0, 0x9f, 0x98)]) {
      const { client } = pair(W);
      client.receiveData(concat([frame(1, true, enc.encode("fine")), frame(1, true, enc.encode("é ok")), frame(1, true, bad)]));
      const events = [...client.events()];
      assert.deepEqual(events.slice(0, 2).map((e) => e.data), ["fine", "é ok"]);
      const close = events[events.length - 1];
      assert.ok(close instanceof W.CloseConnection);
      assert.equal(close.code, W.CloseReason.INVALID_FRAME_PAYLOAD_DATA);
      client.free();
    }
  });
}
