// Small binary payloads parsed from one chunk are copied out of wasm memory
// together (pkg-template/api.js, bytesOut): one copy of the span of the
// chunk from the first payload to the last, each event a view into it; a
// span of up to 4 KiB is copied into the shared pool (as single payloads of
// 65 B to 4 KiB are), a larger one into an ArrayBuffer of its own. These
// tests pin down what a span's copy holds (only the chunk's own bytes:
// payloads, unmasked, and the frame headers between them; its own
// ArrayBuffer holds nothing else), when spans are made (8 pieces or more,
// close together, up to 4 KiB each, 64 KiB in all). Inflated pieces live elsewhere in wasm
// memory; the test of them checks they come out whole, each on its own
// (they never lie close together, so it cannot tell whether bytesOut's
// input-range check is there: that check is a guard).
//
// Frames are built here, masked, independently of the code under test.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as W from "../../pkg/node.js";
import { concat, pattern } from "../shared/flows.mjs";

const KEY = [0x11, 0x22, 0x33, 0x44];

// A masked binary frame (what a client sends) and the offset of its payload.
function masked(payload, opcode = 0x2, fin = true) {
  const n = payload.length;
  const head = [(fin ? 0x80 : 0) | opcode];
  if (n <= 125) head.push(0x80 | n);
  else if (n <= 0xffff) head.push(0x80 | 126, n >> 8, n & 0xff);
  else throw new Error("test frames stay under 64 KiB");
  head.push(...KEY);
  const out = new Uint8Array(head.length + n);
  out.set(head);
  for (let i = 0; i < n; i++) out[head.length + i] = payload[i] ^ KEY[i % 4];
  return out;
}

// The chunk as wasm leaves it: each payload unmasked in place.
function unmaskedInPlace(frames, payloads) {
  const out = concat(frames);
  let at = 0;
  frames.forEach((f, i) => {
    const start = at + f.length - payloads[i].length;
    out.set(payloads[i], start);
    at += f.length;
  });
  return out;
}

function receive(conn, chunk) {
  conn.receiveData(chunk);
  return [...conn.events()];
}

// Where each payload starts in the chunk `frames` make.
function payloadStarts(frames, payloads) {
  let at = 0;
  return frames.map((f, i) => {
    const start = at + f.length - payloads[i].length;
    at += f.length;
    return start;
  });
}

// Asserts that the binary `events` are views into one copy of `whole` (the
// chunk as wasm left it), each where its payload lies in the chunk relative
// to the first: one span. Returns the copy's ArrayBuffer and where the
// chunk's byte 0 would be in it.
function assertOneSpan(events, whole, starts) {
  const buffer = events[0].data.buffer;
  const base = events[0].data.byteOffset - starts[0];
  events.forEach((e, i) => {
    assert.equal(e.data.buffer, buffer);
    assert.equal(e.data.byteOffset, base + starts[i]);
  });
  const last = events.length - 1;
  const end = starts[last] + events[last].data.length;
  // The headers between the payloads too: the chunk's bytes, in order.
  assert.deepEqual(new Uint8Array(buffer, base + starts[0], end - starts[0]), whole.subarray(starts[0], end));
  return { buffer, base };
}

test("small messages from one chunk share one copy: the chunk from the first payload to the last", () => {
  const server = new W.Connection(W.ConnectionType.SERVER);
  // 50 messages of 0-19 bytes (a span under 4 KiB: pooled), then 50 of
  // 100 bytes (over 4 KiB: its own ArrayBuffer).
  for (const size of [(i) => i % 20, () => 100]) {
    const payloads = Array.from({ length: 50 }, (_, i) => pattern(size(i), i));
    const frames = payloads.map((p) => masked(p));
    const events = receive(server, concat(frames));
    assert.equal(events.length, 50);
    const starts = payloadStarts(frames, payloads);
    const whole = unmaskedInPlace(frames, payloads);
    const { buffer, base } = assertOneSpan(events, whole, starts);
    const span = whole.length - starts[0];
    if (span > 4096) {
      // Its own ArrayBuffer: exactly the span, nothing from outside the chunk.
      assert.equal(base + starts[0], 0);
      assert.equal(buffer.byteLength, span);
    }
    events.forEach((e, i) => {
      assert.ok(e instanceof W.BytesMessage);
      assert.deepEqual(e.data, payloads[i]);
      assert.equal(e.messageFinished, true);
    });
    // Held views survive later calls that reuse the input buffer (and,
    // pooled, the pool's later copies).
    for (let k = 0; k < 3; k++) {
      const again = receive(server, concat(payloads.map((p) => masked(p.map((b) => b ^ 0xff)))));
      assert.equal(again.length, 50);
    }
    events.forEach((e, i) => assert.deepEqual(e.data, payloads[i]));
    assert.deepEqual(new Uint8Array(buffer, base + starts[0], span), whole.subarray(starts[0]));
  }
});

test("fewer than 8 close pieces are copied one by one", () => {
  const server = new W.Connection(W.ConnectionType.SERVER);
  for (const n of [1, 7]) {
    const payloads = Array.from({ length: n }, (_, i) => pattern(16, i));
    const events = receive(server, concat(payloads.map((p) => masked(p))));
    assert.equal(events.length, n);
    events.forEach((e, i) => {
      assert.deepEqual(e.data, payloads[i]);
      // On V8's heap (up to 64 bytes): its own buffer, of its own length.
      assert.equal(e.data.buffer.byteLength, 16);
    });
  }
  const eight = Array.from({ length: 8 }, (_, i) => pattern(16, i));
  const events = receive(server, concat(eight.map((p) => masked(p))));
  assert.equal(new Set(events.map((e) => e.data.buffer)).size, 1);
});

test("a span ends at 64 KiB, at a piece over 4 KiB, and at a gap of more than 256 bytes", () => {
  const server = new W.Connection(W.ConnectionType.SERVER);
  // 100 pieces of 1000 bytes: about 100 KB of chunk, so two spans.
  const payloads = Array.from({ length: 100 }, (_, i) => pattern(1000, i));
  const events = receive(server, concat(payloads.map((p) => masked(p))));
  const buffers = [...new Set(events.map((e) => e.data.buffer))];
  assert.equal(buffers.length, 2);
  for (const b of buffers) assert.ok(b.byteLength <= 64 * 1024, `${b.byteLength}`);
  events.forEach((e, i) => assert.deepEqual(e.data, payloads[i]));

  // A 5000-byte piece in the middle: copied on its own, and it ends the span.
  const mixed = [...Array.from({ length: 10 }, (_, i) => pattern(10, i)), pattern(5000, 99), ...Array.from({ length: 10 }, (_, i) => pattern(10, 50 + i))];
  const mixedFrames = mixed.map((p) => masked(p));
  const got = receive(server, concat(mixedFrames));
  got.forEach((e, i) => assert.deepEqual(e.data, mixed[i]));
  assert.equal(got[10].data.buffer.byteLength, 5000);
  const starts = payloadStarts(mixedFrames, mixed);
  const whole = unmaskedInPlace(mixedFrames, mixed);
  const before = assertOneSpan(got.slice(0, 10), whole, starts.slice(0, 10));
  const after = assertOneSpan(got.slice(11), whole, starts.slice(11));
  // Two copies, not one: the second run is not where the first's copy of
  // the chunk would have it.
  assert.ok(before.buffer !== after.buffer || before.base !== after.base);

  // A ping and a 300-byte text message between two runs of small binary
  // messages: the gap ends the span (the ping is copied on its own, the
  // text is decoded).
  const run = (salt) => Array.from({ length: 8 }, (_, i) => pattern(8, salt + i));
  const a = run(0);
  const b = run(10);
  const ping = masked(pattern(120, 7), 0x9);
  const words = new TextEncoder().encode("x".repeat(300));
  const runFrames = [...a.map((p) => masked(p)), ping, masked(words, 0x1), ...b.map((p) => masked(p))];
  const runPayloads = [...a, pattern(120, 7), words, ...b];
  const chunk = concat(runFrames);
  const mixedEvents = receive(server, chunk);
  assert.equal(mixedEvents.length, 8 + 2 + 8);
  assert.ok(mixedEvents[8] instanceof W.Ping);
  assert.deepEqual(mixedEvents[8].payload, pattern(120, 7));
  assert.equal(mixedEvents[9].data, "x".repeat(300));
  const runStarts = payloadStarts(runFrames, runPayloads);
  const runWhole = unmaskedInPlace(runFrames, runPayloads);
  const spanA = assertOneSpan(mixedEvents.slice(0, 8), runWhole, runStarts.slice(0, 8));
  const spanB = assertOneSpan(mixedEvents.slice(10), runWhole, runStarts.slice(10));
  assert.ok(spanA.buffer !== spanB.buffer || spanA.base !== spanB.base);
  mixedEvents.slice(0, 8).forEach((e, i) => assert.deepEqual(e.data, a[i]));
  mixedEvents.slice(10).forEach((e, i) => assert.deepEqual(e.data, b[i]));
});

test("small inflated pieces come out exact, each in its own buffer", () => {
  const server = new W.Connection(W.ConnectionType.SERVER, { extensions: [new W.PerMessageDeflate()] });
  const client = new W.Connection(W.ConnectionType.CLIENT, { extensions: [new W.PerMessageDeflate()] });
  const payloads = Array.from({ length: 30 }, (_, i) => pattern(16 + (i % 3) * 20, i));
  const chunk = concat(payloads.map((p) => client.send(new W.BytesMessage({ data: p }))));
  const events = receive(server, chunk);
  assert.equal(events.length, 30);
  events.forEach((e, i) => {
    assert.deepEqual(e.data, payloads[i]);
    // Up to 64 bytes: its own buffer.
    assert.equal(e.data.buffer.byteLength, payloads[i].length);
  });
});
