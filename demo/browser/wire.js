// The wire of the browser demo, shared by the page (app.js) and the worker
// (worker.js): a pipe that carries a byte stream like TCP does, and a small
// display-only parser that cuts the stream back into HTTP heads and frames.
// Neither knows anything about wsproto.

const now = () => performance.timeOrigin + performance.now();

/**
 * A one-way byte stream. Whatever is written is cut into chunks of
 * `settings.chunkSize` bytes (0: as written) and each chunk reaches
 * `deliver(chunk)` `settings.delay` ms after it was written, in order: a
 * chunk never overtakes an earlier one, as on a TCP connection. `end()`
 * delivers null after the last chunk (the peer's FIN). `settings` is read at
 * every write, so it can change while the pipe is in use.
 */
export class Pipe {
  constructor(deliver, settings) {
    this.deliver = deliver;
    this.settings = settings;
    this.queue = []; // [{ at, chunk }], in delivery order
    this.last = 0;
    this.scheduled = false;
    this.ended = false;
    this.closed = false;
  }

  write(bytes) {
    if (this.ended || this.closed || bytes.length === 0) return;
    const size = Math.max(0, Math.floor(Number(this.settings.chunkSize) || 0)) || bytes.length;
    const at = this.#time();
    for (let i = 0; i < bytes.length; i += size) this.queue.push({ at, chunk: bytes.slice(i, i + size) });
    this.#schedule();
  }

  end() {
    if (this.ended || this.closed) return;
    this.ended = true;
    this.queue.push({ at: this.#time(), chunk: null });
    this.#schedule();
  }

  /** Drop everything: nothing more is delivered. */
  close() {
    this.closed = true;
    this.queue.length = 0;
  }

  #time() {
    this.last = Math.max(now() + Math.max(0, Number(this.settings.delay) || 0), this.last);
    return this.last;
  }

  #schedule() {
    if (this.scheduled || this.queue.length === 0) return;
    this.scheduled = true;
    const wait = this.queue[0].at - now();
    if (wait <= 0) queueMicrotask(() => this.#pump());
    else setTimeout(() => this.#pump(), wait);
  }

  #pump() {
    this.scheduled = false;
    // Everything due goes now, one delivery per chunk.
    while (!this.closed && this.queue.length && this.queue[0].at <= now() + 1) {
      this.deliver(this.queue.shift().chunk);
    }
    this.#schedule();
  }
}

const OPCODES = { 0x0: "continuation", 0x1: "text", 0x2: "binary", 0x8: "close", 0x9: "ping", 0xa: "pong" };
const SHOWN = 96; // payload bytes kept for display

/**
 * Cuts one direction of a WebSocket byte stream into display items, however
 * it was chunked: { type: "http", text, bytes, chunks } for the opening
 * handshake's head, { type: "frame", ... } for each frame, { type: "eof" },
 * and { type: "raw", bytes } for anything after a refused handshake. Display
 * only: it trusts the stream (wsproto is the one that checks it).
 */
export class WireParser {
  constructor(onItem) {
    this.onItem = onItem;
    this.mode = "http";
    this.head = [];
    this.item = null; // the frame being read
    this.chunkId = 0;
  }

  push(chunk) {
    const id = ++this.chunkId;
    let i = 0;
    while (i < chunk.length) {
      if (this.mode === "http") i = this.#http(chunk, i, id);
      else if (this.mode === "frames") i = this.#frame(chunk, i, id);
      else {
        this.onItem({ type: "raw", bytes: chunk.slice(i) });
        i = chunk.length;
      }
    }
  }

  end() {
    this.onItem({ type: "eof", partial: this.item !== null || this.head.length > 0 });
  }

  #touch(item, id) {
    if (item.lastChunk !== id) {
      item.lastChunk = id;
      item.chunks++;
    }
  }

  #http(chunk, i, id) {
    if (this.head.length === 0) this.headChunks = { chunks: 0, lastChunk: 0 };
    this.#touch(this.headChunks, id);
    const h = this.head;
    while (i < chunk.length) {
      h.push(chunk[i++]);
      const n = h.length;
      if (n >= 4 && h[n - 4] === 13 && h[n - 3] === 10 && h[n - 2] === 13 && h[n - 1] === 10) {
        const bytes = Uint8Array.from(h);
        const text = new TextDecoder("latin1").decode(bytes);
        this.head = [];
        const first = text.slice(0, text.indexOf("\r\n"));
        // A request, or a 101 response, is followed by frames.
        this.mode = /^GET /.test(first) || /^HTTP\/1\.1 101\b/.test(first) ? "frames" : "raw";
        this.onItem({ type: "http", text, bytes, chunks: this.headChunks.chunks, firstLine: first });
        return i;
      }
    }
    return i;
  }

  #frame(chunk, i, id) {
    if (this.item === null) {
      this.item = { type: "frame", header: [], need: 2, payload: [], remaining: -1, chunks: 0, lastChunk: 0 };
    }
    const f = this.item;
    this.#touch(f, id);
    // The header: 2 bytes, then the extended length and the mask key.
    while (f.remaining < 0 && i < chunk.length) {
      f.header.push(chunk[i++]);
      if (f.header.length === 2) {
        const len7 = f.header[1] & 0x7f;
        f.need = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (f.header[1] & 0x80 ? 4 : 0);
      }
      if (f.header.length === f.need) this.#headerDone(f);
    }
    // The payload: counted down, the first SHOWN bytes kept.
    if (f.remaining > 0 && i < chunk.length) {
      const take = Math.min(f.remaining, chunk.length - i);
      const keep = Math.min(take, SHOWN - f.payload.length);
      for (let k = 0; k < keep; k++) f.payload.push(chunk[i + k]);
      f.remaining -= take;
      i += take;
    }
    if (f.remaining === 0) this.#frameDone(f);
    return i;
  }

  #headerDone(f) {
    const h = f.header;
    f.fin = (h[0] & 0x80) !== 0;
    f.rsv1 = (h[0] & 0x40) !== 0;
    f.rsv2 = (h[0] & 0x20) !== 0;
    f.rsv3 = (h[0] & 0x10) !== 0;
    f.opcode = h[0] & 0x0f;
    f.opname = OPCODES[f.opcode] ?? `reserved 0x${f.opcode.toString(16)}`;
    f.masked = (h[1] & 0x80) !== 0;
    const len7 = h[1] & 0x7f;
    let length = len7;
    let at = 2;
    if (len7 === 126) {
      length = (h[2] << 8) | h[3];
      at = 4;
    } else if (len7 === 127) {
      length = 0;
      for (let k = 2; k < 10; k++) length = length * 256 + h[k];
      at = 10;
    }
    f.length = length;
    f.lengthBytes = at - 2;
    f.key = f.masked ? Uint8Array.from(h.slice(at, at + 4)) : null;
    f.remaining = length;
  }

  #frameDone(f) {
    this.item = null;
    const payload = Uint8Array.from(f.payload);
    const unmasked = f.key ? payload.map((b, k) => b ^ f.key[k & 3]) : payload;
    this.onItem({
      type: "frame",
      fin: f.fin, rsv1: f.rsv1, rsv2: f.rsv2, rsv3: f.rsv3,
      opcode: f.opcode, opname: f.opname, masked: f.masked, key: f.key,
      length: f.length, lengthBytes: f.lengthBytes,
      header: Uint8Array.from(f.header), payload, unmasked,
      truncated: f.length > payload.length, chunks: f.chunks,
    });
  }
}

export const hex = (bytes, sep = " ") => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(sep);
