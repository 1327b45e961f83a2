// What the binding gives back and what it shares, seen from the events:
// every buffer goes after a handshake event or response (release(all)), and
// small binary spans and payloads are copied into one shared pool. Events
// decoded in the same call as a handshake event, or drained after
// send(AcceptConnection), keep their bytes through later calls, and no two
// byte views handed out ever overlap in one ArrayBuffer (pool, span copies,
// single copies).
import { test } from "node:test";
import assert from "node:assert/strict";
import * as W from "../../pkg/node.js";
import { concat, pattern } from "../shared/flows.mjs";

const sizes = (n, f) => Array.from({ length: n }, (_, i) => f(i));

function handshake(seed) {
  const client = new W.WSConnection(W.ConnectionType.CLIENT, { randomSeed: seed });
  const request = client.send(new W.Request({ host: "h", target: "/", extraHeaders: [["Cookie", "c".repeat(300)]] }));
  const server = new W.WSConnection(W.ConnectionType.SERVER);
  server.receiveData(request);
  [...server.events()];
  const accept = server.send(new W.AcceptConnection());
  server.free();
  return { client, request, accept };
}

// Frames as a peer of `role` sends them (a client's masked), and a close.
function frames(role, payloads, seed) {
  const c = new W.Connection(role, { randomSeed: seed });
  const out = payloads.map((p) => c.send(new W.BytesMessage({ data: p })));
  const close = c.send(new W.CloseConnection({ code: 1001, reason: "away" }));
  c.free();
  return [concat(out), close];
}

// Every view handed out, to check none overlaps another.
const views = [];
function keep(events) {
  for (const e of events) {
    if (e instanceof W.BytesMessage) views.push([e.data, Uint8Array.from(e.data)]);
    if (e instanceof W.Ping || e instanceof W.Pong) views.push([e.payload, Uint8Array.from(e.payload)]);
  }
  return events;
}
function assertViewsIntact() {
  const byBuffer = new Map();
  for (const [v, copy] of views) {
    assert.deepEqual(v, copy, "a view's bytes changed after it was handed out");
    if (v.length === 0) continue;
    if (!byBuffer.has(v.buffer)) byBuffer.set(v.buffer, []);
    byBuffer.get(v.buffer).push([v.byteOffset, v.byteOffset + v.length]);
  }
  for (const ranges of byBuffer.values()) {
    ranges.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < ranges.length; i++) assert.ok(ranges[i][0] >= ranges[i - 1][1], `views overlap: ${ranges[i - 1]} and ${ranges[i]}`);
  }
}

const small = (k) => sizes(20, (i) => pattern(i % 3 === 0 ? 100 : 10, k * 100 + i));

test("server: request + early frames + close in one chunk, accepted before and after the Request is taken", () => {
  for (const takeFirst of [true, false]) {
    const { client, request } = handshake(5);
    client.free();
    const payloads = small(1);
    const [early, close] = frames(W.ConnectionType.CLIENT, payloads, 11);
    const server = new W.WSConnection(W.ConnectionType.SERVER);
    server.receiveData(concat([request, early, close]));
    const got = [];
    if (takeFirst) got.push(...server.events());
    server.send(new W.AcceptConnection());
    // The early frames, decoded after release(true) by _collect(drain_events()).
    const all = keep([...got, ...server.events()]);
    assert.ok(all[0] instanceof W.Request);
    assert.deepEqual(all.slice(1, 21).map((e) => e.data), payloads);
    assert.equal(all[21].code, 1001);
    assert.equal(server.state, W.ConnectionState.REMOTE_CLOSING);
    // Later calls reuse (or reallocate) the buffers.
    server.send(new W.CloseConnection({ code: 1000, reason: "r".repeat(100) }));
    assert.equal(server.state, W.ConnectionState.CLOSED);
    server.free();
    assertViewsIntact();
  }
});

test("client: 101 + frames + close in one chunk, then frames in spans (pooled) across calls", () => {
  const { client, accept } = handshake(6);
  const payloads = small(2);
  const [after, close] = frames(W.ConnectionType.SERVER, payloads, 12);
  client.receiveData(concat([accept, after]));
  const first = keep([...client.events()]);
  assert.ok(first[0] instanceof W.AcceptConnection);
  assert.deepEqual(first.slice(1).map((e) => e.data), payloads);
  for (let k = 3; k < 40; k++) {
    const p = small(k);
    const [chunk] = frames(W.ConnectionType.SERVER, p, k);
    client.receiveData(chunk);
    assert.deepEqual(keep([...client.events()]).map((e) => e.data), p);
    client.send(new W.Ping({ payload: pattern(100, k) }));
  }
  client.receiveData(close);
  const [closing] = client.events();
  assert.equal(closing.code, 1001);
  assert.equal(client.state, W.ConnectionState.REMOTE_CLOSING);
  client.free();
  assertViewsIntact();
});

test("many servers, each request + spans of small frames: views never overlap nor change", () => {
  for (let n = 0; n < 30; n++) {
    const { client, request } = handshake(100 + n);
    client.free();
    const payloads = sizes(30, (i) => pattern((i * 37 + n) % 200, n * 1000 + i));
    const [chunk] = frames(W.ConnectionType.CLIENT, payloads, n);
    const server = new W.WSConnection(W.ConnectionType.SERVER);
    server.receiveData(request);
    keep([...server.events()]);
    server.send(new W.AcceptConnection());
    server.receiveData(chunk);
    assert.deepEqual(keep([...server.events()]).map((e) => e.data), payloads);
    server.free();
  }
  assertViewsIntact();
});

test("pooled spans across the pool's end: each span's views read its own bytes", () => {
  // Spans of 8 x 500 B (4056 B from the first payload to the last end: pooled)
  // and nothing else pooled in between, so that the pool fills up at a span.
  // The frames are made here (a Connection's send would copy them into
  // the pool too).
  const masked = (p) => {
    const key = [1, 2, 3, 4];
    const out = new Uint8Array(8 + p.length);
    out.set([0x82, 0x80 | 126, p.length >> 8, p.length & 0xff, ...key]);
    for (let i = 0; i < p.length; i++) out[8 + i] = p[i] ^ key[i & 3];
    return out;
  };
  const server = new W.Connection(W.ConnectionType.SERVER);
  const all = [];
  for (let k = 0; k < 40; k++) {
    const payloads = sizes(8, (i) => pattern(500, k * 8 + i));
    const chunk = concat(payloads.map(masked));
    server.receiveData(chunk);
    const events = keep([...server.events()]);
    assert.deepEqual(events.map((e) => e.data), payloads);
    assert.equal(new Set(events.map((e) => e.data.buffer)).size, 1);
    all.push([events, payloads]);
  }
  for (const [events, payloads] of all) assert.deepEqual(events.map((e) => e.data), payloads);
  server.free();
  assertViewsIntact();
});
