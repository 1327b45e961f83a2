// Where mask keys come from in wasm: crypto.getRandomValues, drawn in
// batches of 16 KiB (src/random.rs, src/wasm/entropy.rs), every byte used
// once. The test wraps the global crypto.getRandomValues (which the wasm
// glue calls) and checks, byte for byte, that the keys in the frames are
// the bytes it handed out, in order, with one call per 4096 keys; and that
// a failing source is a LocalProtocolError that leaves the connection as
// it was.
//
// node --test runs each file in its own process: the pool starts empty here
// because nothing else in this process sends as a client.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as W from "../../pkg/node.js";

const POOL = 16384;
const KEYS_PER_POOL = POOL / 4;

// A client's frame of a 16-byte payload: 2 header bytes, the key, then the
// masked payload.
function keyOf(frame) {
  assert.equal(frame.length, 2 + 4 + 16);
  assert.equal(frame[1], 0x80 | 16);
  return frame.subarray(2, 6);
}

test("mask keys are crypto.getRandomValues's bytes, in order, one 16 KiB call per 4096 frames", (t) => {
  const real = crypto.getRandomValues;
  const calls = [];
  crypto.getRandomValues = function (view) {
    const out = real.call(crypto, view);
    calls.push(Uint8Array.from(view));
    return out;
  };
  t.after(() => {
    crypto.getRandomValues = real;
  });

  const client = new W.Connection(W.ConnectionType.CLIENT);
  const payload = new Uint8Array(16).fill(0x5a);
  const sends = 10_000;
  const keys = new Uint8Array(sends * 4);
  for (let i = 0; i < sends; i++) {
    const frame = client.send(new W.BytesMessage({ data: payload }));
    const key = keyOf(frame);
    keys.set(key, i * 4);
    // The payload is masked with that key.
    for (let j = 0; j < 16; j++) assert.equal(frame[6 + j], 0x5a ^ key[j % 4]);
  }

  assert.equal(calls.length, Math.ceil(sends / KEYS_PER_POOL));
  for (const c of calls) assert.equal(c.length, POOL);
  const drawn = new Uint8Array(calls.length * POOL);
  calls.forEach((c, i) => drawn.set(c, i * POOL));
  assert.deepEqual(keys, drawn.subarray(0, keys.length));
  // Not a constant source: 10,000 keys from a CSPRNG are (all but surely)
  // mostly distinct.
  const distinct = new Set();
  for (let i = 0; i < sends; i++) distinct.add(keys[i * 4] | (keys[i * 4 + 1] << 8) | (keys[i * 4 + 2] << 16) | (keys[i * 4 + 3] << 24));
  assert.ok(distinct.size > sends - 10, `${distinct.size} distinct keys`);

  // The pool's rest is still handed out; the send that needs a refill from
  // a failing source throws, and the connection can send again afterwards.
  crypto.getRandomValues = () => {
    throw new Error("no entropy today");
  };
  const left = calls.length * KEYS_PER_POOL - sends;
  for (let i = 0; i < left; i++) client.send(new W.BytesMessage({ data: payload }));
  assert.throws(
    () => client.send(new W.BytesMessage({ data: payload })),
    (e) => e instanceof W.LocalProtocolError && /randomness/.test(e.message),
  );
  assert.equal(client.state, W.ConnectionState.OPEN);
  crypto.getRandomValues = real;
  const frame = client.send(new W.BytesMessage({ data: payload }));
  assert.equal(frame.length, 22);
  assert.equal(frame[0], 0x82);
});

test("a server's frames draw no randomness", (t) => {
  const real = crypto.getRandomValues;
  let calls = 0;
  crypto.getRandomValues = function (view) {
    calls++;
    return real.call(crypto, view);
  };
  t.after(() => {
    crypto.getRandomValues = real;
  });
  const server = new W.Connection(W.ConnectionType.SERVER);
  for (let i = 0; i < 5000; i++) {
    assert.deepEqual(server.send(new W.BytesMessage({ data: new Uint8Array([i & 0xff]) })), new Uint8Array([0x82, 1, i & 0xff]));
  }
  assert.equal(calls, 0);
});
