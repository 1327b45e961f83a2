// The floor: the JS work that no wasm engine can avoid given the package's
// API, measured on the same rows, inputs and counting as the libraries.
// Its speed over ws's says how far above ws a target can be at best.
//
// What the API forces (a wasm engine behind a JS API):
//   receive  every chunk is copied into wasm memory (`U8.set`); every
//            payload piece becomes its own JS value the user may keep (a
//            Uint8Array, or a string for text) inside one event object per
//            piece; events are handed out through an iterable.
//   send     every payload is copied into wasm memory (`U8.set`, or
//            `encodeInto` for text), and the frame is copied out into a new
//            Uint8Array the user may keep.
// What the floor leaves out: parsing, unmasking, masking, UTF-8 validation,
// limits, state, i.e. everything done inside wasm. It knows each piece's
// offset and length beforehand (worked out off the clock).
//
// Every copy and allocation uses the cheapest form found, so that the
// floor is a lower bound rather than a guess at our own overheads:
//   - binary pieces: the chunk's bytes are copied out of wasm memory once
//     per call (one `slice`) and each piece is a view into that copy, made
//     by the Uint8Array constructor (subarray() looks up the species
//     constructor: 46 against 26 ns a view, which kept the 16 B floor low);
//   - text pieces: one string per call, sliced per piece (a slice is not
//     a copy in V8): all-ASCII pieces by one latin1 decode of the chunk's
//     span from the first piece to the last; otherwise by one UTF-16 decode
//     of the pieces' text, transcoded to UTF-16 in wasm memory beforehand
//     (off the clock: that is work inside wasm). Both beat one TextDecoder
//     call per piece, the form this floor used before;
//   - send output: `slice` up to 64 bytes (on V8's heap), a shared 64 KiB
//     pool up to 4 KiB (as Node's Buffer.allocUnsafe does), `slice` above;
//   - events: instances of one small class (two flags and `data`), returned
//     in an array (the array iterator is the cheapest iterable).

const PAGE = 65536;
const decoder = new TextDecoder();
const encoder = new TextEncoder();

// One wasm memory for the floor, grown (off the clock, at set-up) to fit.
const memory = new WebAssembly.Memory({ initial: 4 });
let U8 = new Uint8Array(memory.buffer);
let BUF = Buffer.from(memory.buffer);
function reserve(bytes) {
  const need = Math.ceil(bytes / PAGE) - memory.buffer.byteLength / PAGE;
  if (need > 0) {
    memory.grow(need);
    U8 = new Uint8Array(memory.buffer);
    BUF = Buffer.from(memory.buffer);
  }
}

const FRAME_FINISHED = 1;
const MESSAGE_FINISHED = 2;

class FloorEvent {
  constructor(data, flags) {
    this.data = data;
    this.frameFinished = (flags & FRAME_FINISHED) !== 0;
    this.messageFinished = (flags & MESSAGE_FINISHED) !== 0;
  }
}

// For each chunk, the payload pieces it holds: a flat array of
// [offset in chunk, length, flags] triples, as wsproto delivers them (one
// piece per frame per chunk; an empty frame is one empty piece); and the
// chunk with its payloads unmasked (the same length), which the floor
// copies in instead, so that text decodes to the right string.
function piecesOf(chunks) {
  const pieces = [];
  const clear = [];
  // Parser state across chunks: header bytes being collected, payload left.
  let header = [];
  let left = 0;
  let fin = false;
  let key = null;
  let keyAt = 0;
  let inFrame = false;
  for (const chunk of chunks) {
    const list = [];
    const copy = Uint8Array.from(chunk);
    let at = 0;
    while (at < chunk.length || (inFrame && left === 0)) {
      if (!inFrame) {
        header.push(chunk[at++]);
        const len = headerLength(header);
        if (len === null || header.length < len) continue;
        fin = (header[0] & 0x80) !== 0;
        left = payloadLength(header);
        key = header[1] & 0x80 ? header.slice(len - 4, len) : null;
        keyAt = 0;
        header = [];
        inFrame = true;
        continue;
      }
      const take = Math.min(left, chunk.length - at);
      if (key) for (let i = 0; i < take; i++) copy[at + i] ^= key[(keyAt + i) & 3];
      keyAt += take;
      left -= take;
      const flags = left === 0 ? FRAME_FINISHED | (fin ? MESSAGE_FINISHED : 0) : 0;
      if (take > 0 || left === 0) list.push(at, take, flags);
      at += take;
      if (left === 0) inFrame = false;
    }
    pieces.push(list);
    clear.push(copy);
  }
  return { pieces, clear };
}

// The full header length once its first two bytes are known, else null.
function headerLength(h) {
  if (h.length < 2) return null;
  const mask = h[1] & 0x80 ? 4 : 0;
  const len7 = h[1] & 0x7f;
  return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + mask;
}

function payloadLength(h) {
  const len7 = h[1] & 0x7f;
  if (len7 < 126) return len7;
  if (len7 === 126) return (h[2] << 8) | h[3];
  let n = 0;
  for (let i = 2; i < 10; i++) n = n * 256 + h[i];
  return n;
}

// Where chunks are copied in: the bytes of a code point cut by the end of
// the previous chunk (at most 3) go just before, so that every text piece
// is whole UTF-8 (wsproto's core holds such bytes back too).
const AT = 4;

// How many bytes at the end of `bytes` start a code point they do not finish.
function cutTail(bytes) {
  for (let back = 1; back <= Math.min(3, bytes.length); back++) {
    const b = bytes[bytes.length - back];
    if ((b & 0xc0) === 0x80) continue;
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > back ? back : 0;
  }
  return 0;
}

// Text: a piece cut by a chunk's end gives its unfinished code point to
// the next piece (placed just before the next chunk). Offsets become
// positions in memory (the chunk at AT).
function placePieces(plan, text) {
  const { pieces, clear } = plan;
  plan.carry = pieces.map(() => new Uint8Array(0));
  for (let i = 0; text && i + 1 < pieces.length; i++) {
    const list = pieces[i];
    const last = list.length - 3;
    if (last < 0 || list[last + 2] & FRAME_FINISHED) continue;
    const end = list[last] + list[last + 1];
    const t = cutTail(clear[i].subarray(list[last], end));
    list[last + 1] -= t;
    plan.carry[i + 1] = clear[i].slice(end - t, end);
    pieces[i + 1][0] -= t;
    pieces[i + 1][1] += t;
  }
  for (const list of pieces) for (let p = 0; p < list.length; p += 3) list[p] += AT;
}

// Text: per chunk, whether every piece is ASCII, and otherwise the pieces'
// text as UTF-16 (what wasm would have transcoded) with each piece's span
// in code units.
function textPlan(plan) {
  const { pieces, clear, carry } = plan;
  plan.ascii = [];
  plan.utf16 = [];
  plan.units = [];
  for (let i = 0; i < pieces.length; i++) {
    const list = pieces[i];
    // The chunk as it lies in memory (carry just before AT).
    const mem = new Uint8Array(AT + clear[i].length);
    mem.set(carry[i], AT - carry[i].length);
    mem.set(clear[i], AT);
    let ascii = true;
    for (let p = 0; p < list.length && ascii; p += 3) {
      for (let j = list[p]; j < list[p] + list[p + 1]; j++) if (mem[j] >= 0x80) ascii = false;
    }
    plan.ascii.push(ascii);
    const units = [];
    let all = "";
    for (let p = 0; !ascii && p < list.length; p += 3) {
      const piece = decoder.decode(mem.subarray(list[p], list[p] + list[p + 1]));
      units.push(all.length, piece.length);
      all += piece;
    }
    plan.utf16.push(ascii ? null : Buffer.from(all, "utf16le"));
    plan.units.push(units);
  }
}

const plans = new WeakMap();
function planFor(chunks, text) {
  let plan = plans.get(chunks);
  if (!plan) {
    plan = piecesOf(chunks);
    placePieces(plan, text);
    if (text) textPlan(plan);
    plans.set(chunks, plan);
    const longest = Math.max(...chunks.map((c) => c.length));
    // Each chunk's UTF-16 text at its own place after the input, written
    // once here: transcoding is wasm's work, not the floor's.
    let at = AT + longest + 8;
    plan.utf16At = [];
    for (const u of plan.utf16 ?? []) {
      plan.utf16At.push(at);
      at += u ? u.length : 0;
    }
    reserve(at + PAGE);
    (plan.utf16 ?? []).forEach((u, i) => u && U8.set(u, plan.utf16At[i]));
  }
  return plan;
}

// The receive floor, for chunk `i` of `plan`: copy in, one event per piece
// (`views`: binary pieces are views into wasm memory, not copied out).
function receiveChunk(plan, i, text, queue, views) {
  const chunk = plan.clear[i];
  const pieces = plan.pieces[i];
  const carry = plan.carry[i];
  if (carry.length) U8.set(carry, AT - carry.length);
  U8.set(chunk, AT);
  if (text) {
    if (pieces.length === 0) return;
    if (plan.ascii[i]) {
      const lo = pieces[0];
      const all = BUF.latin1Slice(lo, pieces[pieces.length - 3] + pieces[pieces.length - 2]);
      for (let p = 0; p < pieces.length; p += 3) {
        const at = pieces[p] - lo;
        queue.push(new FloorEvent(all.slice(at, at + pieces[p + 1]), pieces[p + 2]));
      }
      return;
    }
    // Wasm's UTF-16 output, placed at set-up.
    const from = plan.utf16At[i];
    const units = plan.units[i];
    const all = BUF.ucs2Slice(from, from + plan.utf16[i].length);
    for (let p = 0, u = 0; p < pieces.length; p += 3, u += 2) {
      queue.push(new FloorEvent(all.slice(units[u], units[u] + units[u + 1]), pieces[p + 2]));
    }
    return;
  }
  if (pieces.length === 0) return;
  if (views) {
    const buffer = U8.buffer;
    for (let p = 0; p < pieces.length; p += 3) {
      queue.push(new FloorEvent(new Uint8Array(buffer, pieces[p], pieces[p + 1]), pieces[p + 2]));
    }
    return;
  }
  const copy = U8.slice(AT, AT + chunk.length).buffer;
  for (let p = 0; p < pieces.length; p += 3) {
    queue.push(new FloorEvent(new Uint8Array(copy, pieces[p] - AT, pieces[p + 1]), pieces[p + 2]));
  }
}

// Bytes out of wasm memory for the send floor (see the header comment).
const POOL_SIZE = 64 * 1024;
let pool = new Uint8Array(0);
let poolAt = 0;
function copyOut(ptr, len) {
  if (len <= 64 || len > 4096) return U8.slice(ptr, ptr + len);
  if (poolAt + len > pool.length) {
    pool = new Uint8Array(POOL_SIZE);
    poolAt = 0;
  }
  pool.set(new Uint8Array(U8.buffer, ptr, len), poolAt);
  const out = new Uint8Array(pool.buffer, poolAt, len);
  poolAt = (poolAt + len + 7) & ~7;
  return out;
}

function frameHeaderLength(len) {
  return (len <= 125 ? 2 : len <= 0xffff ? 4 : 10) + 4;
}

function makeFloor(name, views) {
  return {
    name,
    receiver({ text, deflate }) {
      if (deflate || (views && text)) return null;
      return (chunks) => {
        const plan = planFor(chunks, text);
        let messages = 0;
        let events = 0;
        let units = 0;
        for (let i = 0; i < chunks.length; i++) {
          const queue = [];
          receiveChunk(plan, i, text, queue, views);
          for (const event of queue) {
            events++;
            units += event.data.length;
            if (event.messageFinished) messages++;
          }
        }
        return { messages, events, units };
      };
    },
    sender({ text, deflate, fragments }) {
      if (deflate || fragments > 1) return null;
      return (payloads) => {
        // Input at 0, output after the largest input (set-up, off the clock
        // after the first pass).
        const max = payloads.length ? (text ? payloads[0].length * 3 : payloads[0].length) : 0;
        const outAt = max + 16;
        reserve(outAt + max + 16);
        let bytes = 0;
        for (let i = 0; i < payloads.length; i++) {
          const event = new FloorEvent(payloads[i], FRAME_FINISHED | MESSAGE_FINISHED);
          const len = text ? encoder.encodeInto(event.data, new Uint8Array(U8.buffer, 0, max)).written : (U8.set(event.data, 0), event.data.length);
          const n = frameHeaderLength(len) + len;
          bytes += (views ? new Uint8Array(U8.buffer, outAt, n) : copyOut(outAt, n)).length;
        }
        return { messages: payloads.length, bytes };
      };
    },
  };
}

export const floor = makeFloor("floor", false);

// The same with another API contract: binary payloads received and frames
// sent are views into wasm memory, valid until the connection's next call
// (no copy out; the user copies what they keep). Text is unchanged (a
// string is a copy whatever the contract), so only binary rows have it. It
// answers whether such a contract could reach a target the floor puts out
// of reach: where this floor is below the target too, no wasm engine can
// meet it on this machine whatever its API, since every byte must still be
// copied into wasm memory.
export const viewFloor = makeFloor("floor (views)", true);

// The rows the targets name (bench/lib/report.mjs `targets`), where the
// floor is measured too.
export function isTargetRow(r) {
  if (r.deflate || r.fragments > 1) return false;
  if (r.dir === "send") return r.kind === "binary" && [16, 1024, 1 << 20].includes(r.size);
  if (r.feed !== 65536) return false;
  if (r.kind === "binary") return [16, 65536, 1 << 20].includes(r.size);
  return [1024, 65536].includes(r.size);
}
