// Pre-built frame streams and payloads for the benchmark (no sockets: every
// byte a library parses is already in memory before the clock starts).
//
// Alignment is controlled: every stream lives in its own ArrayBuffer at
// byteOffset 0 (or exactly `misalign` bytes past it), so no library gets a
// lucky or unlucky position in Node's shared Buffer pool. Feed chunks are
// subarrays of that one buffer, cut at fixed offsets.

const OP_CONT = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;

// A deterministic generator (xorshift32), so every run feeds the same bytes.
export function rng(seed = 0x9e3779b9) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

// A buffer of exactly `length` bytes in its own ArrayBuffer, starting
// `misalign` bytes into it.
export function ownBuffer(length, misalign = 0) {
  return Buffer.from(new ArrayBuffer(length + misalign), misalign, length);
}

// Payload bytes of the given kind:
//   "binary": pseudo-random bytes;
//   "ascii":  JSON-like ASCII text;
//   "utf8":   multi-byte text (2-, 3- and 4-byte code points mixed with
//             ASCII), padded with ASCII to the exact byte length.
export function payload(kind, size, seed = 1) {
  const out = ownBuffer(size);
  if (kind === "binary") {
    const next = rng(seed);
    let i = 0;
    for (; i + 4 <= size; i += 4) out.writeUInt32LE(next(), i);
    for (; i < size; i++) out[i] = next() & 0xff;
    return out;
  }
  let at = 0;
  const put = (text) => {
    const bytes = Buffer.from(text, "utf8");
    if (at + bytes.length > size) return false;
    bytes.copy(out, at);
    at += bytes.length;
    return true;
  };
  if (kind === "ascii") {
    // JSON records with varying values (compressible, not trivially so).
    const next = rng(seed);
    const words = ["alpha", "beta", "gamma", "delta", "fast", "safe", "wasm", "frame", "socket", "event"];
    for (let id = 0; ; id++) {
      const record =
        `{"id":${next() % 100000},"user":"user${next() % 10000}","score":${(next() % 10000) / 100},` +
        `"tags":["${words[next() % 10]}","${words[next() % 10]}"],"active":${(next() & 1) === 1}},`;
      if (!put(record)) break;
    }
  } else {
    const unit = "héllo wörld, ça va? Привет мир — 你好，世界 😀👍 ";
    while (put(unit));
  }
  // Fill the rest with ASCII so that the text ends on a code point.
  out.fill(0x61, at);
  return out;
}

export function textOf(buf) {
  return buf.toString("utf8");
}

function headerLength(len, masked) {
  return (len <= 125 ? 2 : len <= 0xffff ? 4 : 10) + (masked ? 4 : 0);
}

// Writes one frame at `at`, masking with `key` (a 4-byte array) if given.
function writeFrame(out, at, opcode, fin, data, key) {
  const len = data.length;
  out[at++] = (fin ? 0x80 : 0) | opcode;
  const maskBit = key ? 0x80 : 0;
  if (len <= 125) {
    out[at++] = maskBit | len;
  } else if (len <= 0xffff) {
    out[at++] = maskBit | 126;
    out.writeUInt16BE(len, at);
    at += 2;
  } else {
    out[at++] = maskBit | 127;
    out.writeUInt32BE(Math.floor(len / 2 ** 32), at);
    out.writeUInt32BE(len >>> 0, at + 4);
    at += 8;
  }
  if (key) {
    for (let k = 0; k < 4; k++) out[at + k] = key[k];
    at += 4;
    for (let i = 0; i < len; i++) out[at + i] = data[i] ^ key[i & 3];
  } else {
    data.copy(out, at);
  }
  return at + len;
}

// The frames of one message: one frame, or `fragments` frames (continuation
// frames after the first; pieces may split a UTF-8 code point, as RFC 6455
// allows).
function splitMessage(data, fragments) {
  if (fragments <= 1) return [data];
  const pieces = [];
  const step = Math.ceil(data.length / fragments);
  for (let i = 0; i < fragments; i++) {
    const start = Math.min(i * step, data.length);
    pieces.push(data.subarray(start, Math.min(start + step, data.length)));
  }
  return pieces;
}

// A stream of `count` messages of `data` (a Buffer), each in `fragments`
// frames, masked (as a client sends) or not.
export function buildStream({ data, text, count, fragments = 1, masked = true, misalign = 0, seed = 7 }) {
  const pieces = splitMessage(data, fragments);
  let perMessage = 0;
  for (const p of pieces) perMessage += headerLength(p.length, masked) + p.length;
  const out = ownBuffer(perMessage * count, misalign);
  const next = rng(seed);
  let at = 0;
  for (let m = 0; m < count; m++) {
    pieces.forEach((piece, i) => {
      const opcode = i > 0 ? OP_CONT : text ? OP_TEXT : OP_BINARY;
      const word = next();
      const key = masked ? [word & 0xff, (word >>> 8) & 0xff, (word >>> 16) & 0xff, word >>> 24] : null;
      at = writeFrame(out, at, opcode, i === pieces.length - 1, piece, key);
    });
  }
  if (at !== out.length) throw new Error(`stream length ${at} != ${out.length}`);
  return out;
}

// Cuts `stream` into feed chunks of `size` bytes (Infinity: one chunk).
export function chunksOf(stream, size) {
  if (!Number.isFinite(size) || size >= stream.length) return [stream];
  const out = [];
  for (let at = 0; at < stream.length; at += size) out.push(stream.subarray(at, Math.min(at + size, stream.length)));
  return out;
}

// `n` distinct JSON-like documents of exactly `size` bytes (as strings):
// the same structure, values from different seeds. The permessage-deflate
// rows cycle through them so that each message carries new content (see
// jsonStream in bench/run.mjs).
export function jsonPool(size, n = 64) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(textOf(payload("ascii", size, 0x1000 + 7919 * i)));
  if (new Set(out).size !== n && size >= 64) throw new Error(`jsonPool: ${n} documents of ${size} bytes are not distinct`);
  return out;
}
