// A fuzzer of the package's JavaScript boundary (fast-check): random call
// sequences on one or more connections of the shared wasm instance.
//
// A sequence is a list of plain operation descriptions (printable and
// shrinkable): make connections (odd options too), feed them random bytes,
// built frames and odd inputs (detached, shared, resizable buffers, views,
// non-bytes), take events fully, partially or not at all, send every event
// kind with odd fields (oversized control payloads and reasons, close codes
// of every range, lone surrogates, hostile getters that call back into the
// connection), deliver one side's bytes to the other, free and use after
// free, initiateUpgradeConnection.
//
// Invariants: only the documented error classes are thrown, each with a
// message (a WebAssembly.RuntimeError is a trap in the shared instance);
// `state` is always a ConnectionState value; every event is an instance of
// an exported class with fields of the declared types; a side that only
// received the other's bytes, unaltered, received what was sent (messages,
// pings, pongs and close, in order); and after each sequence a fresh pair
// still shakes hands and exchanges messages.
//
//     node js-tests/fuzz/api-fuzz.mjs --seconds 600    # explore random seeds
//     node js-tests/fuzz/api-fuzz.mjs --seed 42 --runs 200 [--path 3:1:0]  # replay
import fc from "fast-check";
import vm from "node:vm";
import { createHash } from "node:crypto";
import { pathToFileURL } from "node:url";
import * as W from "../../pkg/node.js";

const enc = new TextEncoder();
const dec = new TextDecoder();
const { CLIENT, SERVER } = W.ConnectionType;
const STATES = new Set(Object.values(W.ConnectionState).filter((v) => typeof v === "number"));
const EVENT_CLASSES = [
  W.Request, W.AcceptConnection, W.RejectConnection, W.RejectData, W.CloseConnection,
  W.TextMessage, W.BytesMessage, W.Ping, W.Pong,
];
const hex = (b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");

/** A broken invariant (as opposed to an error the API may throw). */
class FuzzFailure extends Error {
  constructor(message) {
    super(message);
    this.name = "FuzzFailure";
  }
}
/** Thrown by the fuzzer's own hostile getters: the API must let it through. */
class UserError extends Error {
  constructor() {
    super("thrown by a getter");
    this.name = "UserError";
  }
}
function fail(message) {
  throw new FuzzFailure(message);
}

// ---- statistics (for the script's report) --------------------------------------

export const stats = { sequences: 0, ops: 0, errors: new Map(), events: new Map(), sent: new Map(), compared: 0 };
function count(map, key) {
  map.set(key, (map.get(key) ?? 0) + 1);
}

// ---- values from descriptions ------------------------------------------------

// Binary wrappers the API accepts (the bytes must travel as they are).
const LEGIT_WRAPS = ["u8", "buffer", "offset", "dataview", "arraybuffer", "shared", "sharedview", "u16", "f64", "resizable", "growable", "realm"];
// Values it must refuse with a TypeError (never read as empty or stale bytes).
const ODD_WRAPS = ["detached", "detachedView", "shrunk", "proxy", "array", "string", "number", "plain", "undefined", "bigint", "symbol", "function"];

function bytesOf(desc) {
  if (desc.bytes !== undefined) return desc.bytes;
  return new Uint8Array(desc.len).fill(desc.fill);
}

function detach(buffer) {
  structuredClone(buffer, { transfer: [buffer] });
}

/** The value a bytes description stands for: [value, legit]. */
function wrap(bytes, how) {
  const n = bytes.length;
  switch (how) {
    case "u8": return [Uint8Array.from(bytes), true];
    case "buffer": {
      // Buffer.alloc, not Buffer.from: a pooled Buffer's ArrayBuffer is Node's to keep (and detach tests detach it).
      const b = Buffer.alloc(n);
      b.set(bytes);
      return [b, true];
    }
    case "offset": {
      const big = new Uint8Array(n + 7);
      big.set(bytes, 3);
      return [big.subarray(3, 3 + n), true];
    }
    case "dataview": {
      const b = new ArrayBuffer(n + 5);
      new Uint8Array(b).set(bytes, 5);
      return [new DataView(b, 5, n), true];
    }
    case "arraybuffer": return [Uint8Array.from(bytes).buffer, true];
    case "shared": {
      const s = new SharedArrayBuffer(n);
      new Uint8Array(s).set(bytes);
      return [s, true];
    }
    case "sharedview": {
      const s = new SharedArrayBuffer(n + 2);
      new Uint8Array(s).set(bytes, 1);
      return [new Uint8Array(s, 1, n), true];
    }
    case "u16":
      if (n % 2 !== 0) return wrap(bytes, "u8");
      return [new Uint16Array(Uint8Array.from(bytes).buffer), true];
    case "f64":
      if (n % 8 !== 0) return wrap(bytes, "u8");
      return [new Float64Array(Uint8Array.from(bytes).buffer), true];
    case "resizable": {
      const b = new ArrayBuffer(n, { maxByteLength: n + 16 });
      new Uint8Array(b).set(bytes);
      return [new Uint8Array(b), true]; // length-tracking
    }
    case "growable": {
      const s = new SharedArrayBuffer(n, { maxByteLength: n + 16 });
      new Uint8Array(s).set(bytes);
      return [new Uint8Array(s, 0, n), true];
    }
    case "realm": {
      const a = vm.runInNewContext(`new Uint8Array(${n})`);
      a.set(bytes);
      return [a, true];
    }
    case "detached": {
      const b = Uint8Array.from(bytes).buffer;
      detach(b);
      return [b, false];
    }
    case "detachedView": {
      const a = Uint8Array.from(bytes);
      detach(a.buffer);
      return [a, false];
    }
    case "shrunk": {
      const b = new ArrayBuffer(n + 4, { maxByteLength: n + 8 });
      const view = new Uint8Array(b, 2, n);
      view.set(bytes);
      b.resize(1);
      return [view, false];
    }
    case "proxy": return [new Proxy(Uint8Array.from(bytes), {}), false];
    case "array": return [Array.from(bytes), false];
    case "string": return [dec.decode(bytes), false];
    case "number": return [n, false];
    case "plain": return [{ length: n, byteLength: n, buffer: new ArrayBuffer(n) }, false];
    case "undefined": return [undefined, false];
    case "bigint": return [BigInt(n), false];
    case "symbol": return [Symbol("bytes"), false];
    case "function": return [() => bytes, false];
    default: throw new Error(`unknown wrap ${how}`);
  }
}

function textOf(desc) {
  if (typeof desc === "string") return desc;
  return desc.repeat.repeat(desc.n);
}

/** UTF-8 of `text` cut to `max` bytes on a code point (as the core cuts close reasons). */
function cutUtf8(text, max) {
  const bytes = enc.encode(text);
  if (bytes.length <= max) return text;
  let end = max;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return dec.decode(bytes.subarray(0, end));
}

function pmd(desc) {
  return new W.PerMessageDeflate(desc);
}

// ---- the world of one sequence -------------------------------------------------

/**
 * A connection and what the fuzzer knows of it: the bytes it sent that are
 * not delivered yet, what it sent and received (messages joined; pings,
 * pongs and closes), and whether it received only its peer's bytes.
 */
function record(conn, { client, frameOnly, options }) {
  return {
    conn, client, frameOnly, freed: false, peer: null,
    outbox: [], // Uint8Arrays not yet delivered to the peer
    sent: [], sentPartial: null, received: [], receivedPartial: null,
    pure: true, // received nothing but the peer's bytes, in order, whole
    complete: true, // every delivery was taken
    opened: frameOnly, // the handshake finished on this side
    eof: false,
    closeSeen: false,
    limited: options !== null && typeof options === "object" &&
      (options.maxMessageSize !== undefined && options.maxMessageSize !== null ||
        options.maxFrameSize !== undefined && options.maxFrameSize !== null),
    iterators: [],
  };
}

function makeConn(Cls, type, options, extra) {
  if (Cls === W.Connection) return new W.Connection(type, extra === undefined ? options : { ...options, ...extra });
  return new W.WSConnection(type, options);
}

const ALLOWED = new Set([W.LocalProtocolError, W.RemoteProtocolError, TypeError, RangeError]);

/**
 * Runs `fn`; an error must be one of `allowed` (documented classes) or
 * the fuzzer's own UserError, and have a message. Returns [value, error].
 */
function guard(what, allowed, fn) {
  try {
    return [fn(), null];
  } catch (e) {
    if (e instanceof FuzzFailure) throw e;
    if (e instanceof UserError) return [undefined, e];
    if (e instanceof WebAssembly.RuntimeError) fail(`${what}: wasm trap: ${e.stack}`);
    const cls = [...ALLOWED].find((c) => e instanceof c && e.constructor === c);
    if (cls === undefined) fail(`${what}: threw ${e?.constructor?.name} ${e?.stack ?? e}`);
    if (!allowed.includes(cls)) fail(`${what}: threw ${cls.name} (allowed: ${allowed.map((c) => c.name)}): ${e.message}`);
    // The package's own TypeErrors name what was wrong; these come from a bug in it.
    if (cls === TypeError && /^Cannot read propert|is not a function|is not iterable|^Cannot convert|null pointer/.test(e.message)) {
      fail(`${what}: an internal TypeError: ${e.stack}`);
    }
    if (typeof e.message !== "string" || e.message.length === 0) fail(`${what}: ${cls.name} without a message`);
    if (cls === W.RemoteProtocolError && e.eventHint !== null) {
      if (!(e.eventHint instanceof W.RejectConnection)) fail(`${what}: eventHint ${e.eventHint?.constructor?.name}`);
      checkEvent(e.eventHint, `${what} eventHint`);
    }
    count(stats.errors, `${cls.name}: ${e.message.replace(/\d+/g, "N").slice(0, 70)}`);
    return [undefined, e];
  }
}

function isBytes(v) {
  return v instanceof Uint8Array && v.constructor === Uint8Array;
}
function isHeaderList(list) {
  return Array.isArray(list) && list.every((p) => Array.isArray(p) && p.length === 2 && isBytes(p[0]) && isBytes(p[1]));
}
function isStringList(list) {
  return Array.isArray(list) && list.every((s) => typeof s === "string");
}
const utf8Length = (s) => enc.encode(s).length;

/** Every event is an instance of an exported class with fields of the declared types. */
function checkEvent(e, what) {
  const cls = EVENT_CLASSES.find((c) => e?.constructor === c);
  if (cls === undefined || !(e instanceof W.Event)) fail(`${what}: not an event: ${e?.constructor?.name}`);
  const bad = (field) => fail(`${what}: ${cls.name}.${field} is ${typeof e[field]} ${String(e[field]).slice(0, 60)}`);
  switch (cls) {
    case W.Request:
      if (typeof e.host !== "string") bad("host");
      if (typeof e.target !== "string") bad("target");
      if (!isStringList(e.subprotocols)) bad("subprotocols");
      if (!isStringList(e.extensions)) bad("extensions");
      if (!isHeaderList(e.extraHeaders)) bad("extraHeaders");
      break;
    case W.AcceptConnection:
      if (e.subprotocol !== null && typeof e.subprotocol !== "string") bad("subprotocol");
      if (!isStringList(e.extensions)) bad("extensions");
      if (!Array.isArray(e.handlers) || !e.handlers.every((h) => h instanceof W.PerMessageDeflate)) bad("handlers");
      if (!isHeaderList(e.extraHeaders)) bad("extraHeaders");
      break;
    case W.RejectConnection:
      if (!Number.isInteger(e.statusCode) || e.statusCode < 100 || e.statusCode > 999) bad("statusCode");
      if (!isHeaderList(e.headers)) bad("headers");
      if (typeof e.hasBody !== "boolean") bad("hasBody");
      break;
    case W.RejectData:
      if (!isBytes(e.data)) bad("data");
      if (typeof e.bodyFinished !== "boolean") bad("bodyFinished");
      break;
    case W.CloseConnection:
      if (!Number.isInteger(e.code) || e.code < 1000 || e.code > 4999) bad("code");
      if (typeof e.reason !== "string" || utf8Length(e.reason) > 123) bad("reason");
      break;
    case W.TextMessage:
      if (typeof e.data !== "string" || !e.data.isWellFormed()) bad("data");
      break;
    case W.BytesMessage:
      if (!isBytes(e.data)) bad("data");
      break;
    case W.Ping:
    case W.Pong:
      if (!isBytes(e.payload) || e.payload.length > 125) bad("payload");
      break;
  }
  if (cls === W.TextMessage || cls === W.BytesMessage) {
    if (typeof e.frameFinished !== "boolean") bad("frameFinished");
    if (typeof e.messageFinished !== "boolean") bad("messageFinished");
    if (e.messageFinished && !e.frameFinished) fail(`${what}: messageFinished without frameFinished`);
  }
}

function checkStates(world, what) {
  for (const r of world.recs) {
    let state, client;
    try {
      state = r.conn.state;
      client = r.conn.client;
    } catch (e) {
      fail(`${what}: reading state threw ${e?.stack}`);
    }
    if (!STATES.has(state)) fail(`${what}: conn ${world.recs.indexOf(r)} state ${String(state)}`);
    if (client !== r.client) fail(`${what}: conn ${world.recs.indexOf(r)} client ${client}`);
  }
}

/** Records an event handed out by `r`'s events(). */
function onEvent(world, r, e) {
  const what = `event of conn ${world.recs.indexOf(r)}`;
  checkEvent(e, what);
  count(stats.events, e.constructor.name);
  if (r.closeSeen && !(e instanceof W.CloseConnection && e.code === 1006)) {
    fail(`${what}: ${e.constructor.name} after a CloseConnection`);
  }
  if (e instanceof W.AcceptConnection) r.opened = true;
  if (e instanceof W.TextMessage || e instanceof W.BytesMessage) {
    const t = e instanceof W.TextMessage ? "text" : "bytes";
    r.receivedPartial ??= { t, parts: [] };
    if (r.receivedPartial.t !== t) fail(`${what}: a ${t} piece inside a ${r.receivedPartial.t} message`);
    r.receivedPartial.parts.push(t === "text" ? e.data : hex(e.data));
    if (e.messageFinished) {
      r.received.push({ t, data: r.receivedPartial.parts.join("") });
      r.receivedPartial = null;
    }
  } else if (e instanceof W.Ping || e instanceof W.Pong) {
    r.received.push({ t: e instanceof W.Ping ? "ping" : "pong", data: hex(e.payload) });
  } else if (e instanceof W.CloseConnection) {
    r.received.push({ t: "close", code: e.code, reason: e.reason });
    r.closeSeen = true;
  }
  compare(world, r);
}

// Close codes a receiver refuses although they may be sent (RFC 6455 7.4.2).
const REFUSED_CODES = (code) => code === 1004 || code === 1014 || (code >= 1016 && code <= 2999);

/**
 * A side that received only its peer's bytes has received a prefix of what
 * the peer sent (whole messages, pings, pongs; the close as sent, or 1002
 * for a code receivers refuse; 1009 if it set a limit; 1006 after EOF).
 */
function compare(world, r) {
  const s = r.peer;
  if (s === null || !r.pure) return;
  for (let i = 0; i < r.received.length; i++) {
    const got = r.received[i];
    const want = s.sent[i];
    const where = `conn ${world.recs.indexOf(r)} received item ${i}`;
    if (got.t === "close" && got.code === 1006 && r.eof) return; // the transport ended first
    if (got.t === "close" && got.code === 1009 && r.limited) return; // over a limit it set
    if (got.t === "close" && (want === undefined || want.t !== "close")) {
      fail(`${where}: close ${got.code} "${got.reason}" while the peer sent ${JSON.stringify(want)?.slice(0, 200)}`);
    }
    if (want === undefined) fail(`${where}: ${JSON.stringify(got).slice(0, 200)} was never sent`);
    if (got.t === "close") {
      if (want.any) return;
      const code = REFUSED_CODES(want.code) ? 1002 : want.code;
      if (got.code !== code || (code === want.code && got.reason !== want.reason)) {
        fail(`${where}: close ${got.code} "${got.reason}", sent ${want.code} "${want.reason}"`);
      }
      return;
    }
    if (got.t !== want.t || got.data !== want.data) {
      fail(`${where}: ${JSON.stringify(got).slice(0, 300)}, sent ${JSON.stringify(want).slice(0, 300)}`);
    }
  }
}

/** At the end: what was sent and all delivered was all received. */
function compareComplete(world, r) {
  const s = r.peer;
  if (s === null || !r.pure || !r.complete || r.eof || !r.opened || !s.opened || s.outbox.length > 0) return;
  if (r.received.some((x) => x.t === "close")) return;
  stats.compared++;
  if (r.received.length !== s.sent.length) {
    fail(`conn ${world.recs.indexOf(r)} received ${r.received.length} items, its peer sent ${s.sent.length}: ${
      JSON.stringify(s.sent.slice(r.received.length)).slice(0, 300)}`);
  }
}

/** Takes up to `limit` events from `iter` ({ it, done }); true once it is done. */
function takeEvents(world, r, iter, limit) {
  for (let i = 0; i < limit; i++) {
    let step;
    try {
      step = iter.it.next();
    } catch (e) {
      fail(`events() of conn ${world.recs.indexOf(r)} threw ${e?.stack ?? e}`);
    }
    if (step.done) {
      iter.done = true;
      return true;
    }
    // A finished (or returned) iterator is done for good, as a generator is.
    if (iter.done) fail(`conn ${world.recs.indexOf(r)}: an iterator yielded after it was done`);
    onEvent(world, r, step.value);
  }
  return false;
}

// ---- building events -------------------------------------------------------

/**
 * The event a description stands for, built through the public
 * constructors (which may refuse with TypeError/RangeError), plus what a
 * successful send of it means for the tracker.
 */
function buildEvent(world, r, d) {
  switch (d.kind) {
    case "text": {
      const data = textOf(d.data);
      const opts = { data, messageFinished: d.messageFinished };
      if (d.frameFinished !== undefined) opts.frameFinished = d.frameFinished;
      return { event: d.generic ? new W.Message(opts) : new W.TextMessage(opts), note: { t: "text", data: data.toWellFormed(), fin: d.messageFinished }, strict: true };
    }
    case "bytes": {
      const bytes = bytesOf(d.data);
      const [value, legit] = wrap(bytes, d.data.wrap);
      const opts = { data: value, messageFinished: d.messageFinished };
      if (d.frameFinished !== undefined) opts.frameFinished = d.frameFinished;
      const event = d.generic ? new W.Message(opts) : new W.BytesMessage(opts);
      // new Message({ data: a string }) is a TextMessage.
      if (event instanceof W.TextMessage) return { event, note: { t: "text", data: event.data.toWellFormed(), fin: d.messageFinished }, strict: true };
      if (d.detachAfter && event.data.buffer instanceof ArrayBuffer) detach(event.data.buffer);
      return { event, note: { t: "bytes", data: hex(bytes), fin: d.messageFinished }, strict: legit && !d.detachAfter };
    }
    case "ping":
    case "pong": {
      const bytes = bytesOf(d.payload);
      const [value, legit] = wrap(bytes, d.payload.wrap);
      const event = new (d.kind === "ping" ? W.Ping : W.Pong)({ payload: value });
      // What the constructor made of it (undefined is the default, an empty payload).
      return { event, note: { t: d.kind, data: hex(event.payload) }, strict: legit || value === undefined };
    }
    case "close": {
      const opts = { code: d.code };
      if (d.reason !== undefined) opts.reason = d.reason === null || typeof d.reason === "number" ? d.reason : textOf(d.reason);
      const event = new W.CloseConnection(opts);
      const reason = cutUtf8(event.reason.toWellFormed(), 123);
      // Codes a receiver reports as sent (1005: no code; others are refused or not sendable).
      const exact = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013].includes(event.code) ||
        (event.code >= 3000 && event.code <= 4999) || REFUSED_CODES(event.code);
      return { event, note: { t: "close", code: event.code, reason, any: !exact }, strict: true };
    }
    case "request":
      return {
        event: new W.Request({
          host: d.host, target: d.target, subprotocols: d.subprotocols,
          extensions: d.extensions.map((x) => (typeof x === "string" ? x : pmd(x.pmd))),
          extraHeaders: headersOf(d.extraHeaders),
        }),
        note: { t: "request", raw: d.extensions.some((x) => typeof x === "string") },
        strict: true,
      };
    case "accept":
      return {
        event: new W.AcceptConnection({
          subprotocol: d.subprotocol,
          extensions: d.extensions.map((x) => (typeof x === "string" ? x : pmd(x.pmd))),
          extraHeaders: headersOf(d.extraHeaders),
        }),
        note: { t: "accept", raw: d.extensions.some((x) => typeof x === "string") || d.subprotocol !== null },
        strict: true,
      };
    case "reject":
      return { event: new W.RejectConnection({ statusCode: d.statusCode, headers: headersOf(d.headers), hasBody: d.hasBody }), note: { t: "reject" }, strict: true };
    case "rejectData": {
      const [value, legit] = wrap(bytesOf(d.data), d.data.wrap);
      return { event: new W.RejectData({ data: value, bodyFinished: d.bodyFinished }), note: { t: "rejectData" }, strict: legit };
    }
    case "mutated": {
      const built = buildEvent(world, r, d.base);
      built.event[d.field] = oddValue(d.value);
      return { event: built.event, note: { t: "odd", was: built.note.t }, strict: false };
    }
    case "hostile": {
      // A getter that calls back into the connection (or throws) while send() reads the event.
      const built = buildEvent(world, r, d.base);
      const value = built.event[d.field];
      const result = { event: built.event, note: built.note, strict: false, hostile: d.action, calls: 0 };
      Object.defineProperty(built.event, d.field, {
        get() {
          result.calls++;
          if (d.action === "throw") throw new UserError();
          runOp(world, nestedOp(d.action, world.recs.indexOf(r)), 1);
          return value;
        },
      });
      return result;
    }
    case "odd":
      return { event: oddEvent(d.value), note: { t: "odd" }, strict: false };
    default:
      throw new Error(`unknown event kind ${d.kind}`);
  }
}

function nestedOp(action, of) {
  switch (action) {
    case "free": return { op: "free", of };
    case "sendPing": return { op: "send", of, event: { kind: "ping", payload: { bytes: Uint8Array.of(7), wrap: "u8" } } };
    case "receiveEmpty": return { op: "receive", to: of, input: { bytes: new Uint8Array(0), wrap: "u8" } };
    case "receiveGarbage": return { op: "receive", to: of, input: { bytes: Uint8Array.of(0x88, 0x80, 1, 2, 3, 4), wrap: "u8" } };
    case "drain": return { op: "events", of, mode: "all" };
    default: throw new Error(`unknown action ${action}`);
  }
}

function headersOf(list) {
  return list.map(([n, v]) => [typeof n === "string" ? n : Uint8Array.from(n), typeof v === "string" ? v : Uint8Array.from(v)]);
}

function oddValue(v) {
  switch (v) {
    case "detachedBytes": {
      const a = new Uint8Array(4);
      detach(a.buffer);
      return a;
    }
    case "object": return {};
    case "array": return [1, 2];
    case "bigint": return 5n;
    case "symbol": return Symbol("x");
    case "loneSurrogate": return "\uD800";
    default: return v;
  }
}

function oddEvent(v) {
  switch (v) {
    case "Event": return new W.Event();
    case "object": return { data: "x" };
    case "string": return "x";
    case "number": return 5;
    case "null": return null;
    case "undefined": return undefined;
    case "PerMessageDeflate": return new W.PerMessageDeflate();
    default: return Object.create(W[v].prototype); // a class's prototype, no fields
  }
}

// ---- building frames -------------------------------------------------------

function frameBytes(d, toServer) {
  let payload = d.payload.code !== undefined
    ? Uint8Array.from([...(d.payload.code >= 0 ? [d.payload.code >> 8, d.payload.code & 0xff] : []), ...enc.encode(textOf(d.payload.reason))])
    : d.payload.text !== undefined ? enc.encode(textOf(d.payload.text)) : bytesOf(d.payload);
  const masked = toServer !== (d.mask === "flip");
  const n = payload.length;
  const head = [(d.fin ? 0x80 : 0) | (d.rsv << 4) | d.opcode];
  const m = masked ? 0x80 : 0;
  let declared = BigInt(n);
  if (d.len === "64big") declared = d.declared;
  if (d.len === "min" && n < 126) head.push(m | n);
  else if ((d.len === "min" || d.len === "16") && n < 65536) head.push(m | 126, n >> 8, n & 0xff);
  else {
    head.push(m | 127);
    for (let i = 7; i >= 0; i--) head.push(Number((declared >> BigInt(8 * i)) & 0xffn));
  }
  if (masked) {
    head.push(...d.key);
    payload = payload.map((b, i) => b ^ d.key[i % 4]);
  }
  const out = new Uint8Array(head.length + payload.length);
  out.set(head);
  out.set(payload, head.length);
  return out;
}

/** The head of an HTTP request split into headers and target (what an HTTP server hands an upgrade). */
function parseRequestHead(bytes) {
  const text = Buffer.from(bytes).toString("latin1");
  const end = text.indexOf("\r\n\r\n");
  if (end < 0) return null;
  const [line, ...rest] = text.slice(0, end).split("\r\n");
  const path = line.split(" ")[1] ?? "/";
  const headers = rest.map((h) => {
    const at = h.indexOf(":");
    return [h.slice(0, at), h.slice(at + 1).trim()];
  });
  return { headers, path, after: bytes.subarray(end + 4) };
}

// ---- operations ------------------------------------------------------------------

const pick = (world, i) => (world.recs.length === 0 ? null : world.recs[i % world.recs.length]);

function outboxBytes(r) {
  const all = Buffer.concat(r.outbox);
  r.outbox = [];
  return all;
}

/** Feeds `bytes` (as `how`) to `r`, from its peer when `fromPeer`. */
function feed(world, r, bytes, how, fromPeer, what) {
  const [value, legit] = wrap(bytes, how);
  const allowed = legit ? [W.LocalProtocolError, W.RemoteProtocolError] : [TypeError, W.LocalProtocolError];
  const [, err] = guard(what, allowed, () => r.conn.receiveData(value));
  if (!legit && err === null) fail(`${what}: receiveData(${how}) was accepted`);
  if (legit && bytes.length > 0) {
    if (!fromPeer) r.pure = false;
    if (err !== null) r.complete = false;
  }
  return err;
}

function runOp(world, op, depth = 0) {
  stats.ops++;
  const what = `op ${JSON.stringify(op, (k, v) => (v instanceof Uint8Array ? `<${v.length} B>` : typeof v === "bigint" ? `${v}n` : v)).slice(0, 160)}`;
  switch (op.op) {
    case "pair": {
      const Cls = op.frame ? W.Connection : W.WSConnection;
      const ext = op.frame && op.deflate !== null ? { extensions: [pmd(op.deflate)] } : undefined;
      const [client] = guard(what, [TypeError, RangeError], () => makeConn(Cls, CLIENT, op.clientOptions, ext));
      if (client === undefined) break;
      const c = record(client, { client: true, frameOnly: op.frame, options: op.clientOptions });
      world.recs.push(c);
      let trailing;
      if (op.frame && op.trailing === "peer") {
        // The server is made with the client's first message as trailing data.
        runOp(world, { op: "send", of: world.recs.length - 1, event: { kind: "text", data: "first", messageFinished: true } }, depth + 1);
        trailing = outboxBytes(c);
      } else if (op.frame && op.trailing === "garbage") {
        trailing = Uint8Array.of(0x81, 0x85, 1, 2, 3);
      }
      const serverExtra = op.frame ? { ...ext, ...(trailing === undefined ? {} : { trailingData: trailing }) } : undefined;
      const [server] = guard(what, [TypeError, RangeError], () => makeConn(Cls, SERVER, op.serverOptions, serverExtra));
      if (server === undefined) break;
      const s = record(server, { client: false, frameOnly: op.frame, options: op.serverOptions });
      if (op.trailing === "garbage") s.pure = false;
      world.recs.push(s);
      c.peer = s;
      s.peer = c;
      if (op.frame || !op.handshake) break;
      // The opening handshake through the API (Request, [upgrade], AcceptConnection).
      const ci = world.recs.length - 2;
      const si = ci + 1;
      const offer = op.deflate === null ? [] : [{ pmd: op.deflate }];
      runOp(world, { op: "send", of: ci, event: { kind: "request", host: "h", target: "/", subprotocols: [], extensions: offer, extraHeaders: [] } }, depth + 1);
      if (op.upgrade) {
        const head = parseRequestHead(outboxBytes(c));
        if (head === null) break;
        runOp(world, { op: "upgrade", of: si, headers: head.headers, path: head.path }, depth + 1);
        if (head.after.length > 0) c.outbox.push(head.after);
      } else {
        runOp(world, { op: "deliver", from: ci, chunks: [], wrap: "u8" }, depth + 1);
      }
      runOp(world, { op: "events", of: si, mode: "all" }, depth + 1);
      runOp(world, { op: "send", of: si, event: { kind: "accept", subprotocol: null, extensions: op.deflate === null ? [] : [{ pmd: op.serverDeflate ?? {} }], extraHeaders: [] } }, depth + 1);
      runOp(world, { op: "deliver", from: si, chunks: [], wrap: "u8" }, depth + 1);
      runOp(world, { op: "events", of: ci, mode: "all" }, depth + 1);
      break;
    }
    case "create": {
      const Cls = op.frame ? W.Connection : W.WSConnection;
      let options = oddOptions(op.options);
      if (op.hostile && options !== null && typeof options === "object") {
        // An option read through a getter that works another connection meanwhile (or throws).
        const value = options.maxMessageSize;
        options = Object.defineProperty({ ...options }, "maxMessageSize", {
          get() {
            if (op.hostile === "throw") throw new UserError();
            runOp(world, nestedOp(op.hostile, 0), depth + 1);
            return value;
          },
        });
      }
      const [conn] = guard(what, [TypeError, RangeError, W.LocalProtocolError], () => makeConn(Cls, oddValue(op.type), options, op.frame ? op.extra : undefined));
      if (conn !== undefined) world.recs.push(record(conn, { client: conn.client, frameOnly: op.frame, options: null }));
      break;
    }
    case "deliver": {
      const from = pick(world, op.from);
      if (from === null) break;
      const to = op.to === undefined ? from.peer : pick(world, op.to);
      if (to === null || from.outbox.length === 0) break;
      const bytes = outboxBytes(from);
      const fromPeer = to === from.peer && to.peer === from;
      // Bytes sent elsewhere never reach the peer: its stream has a hole.
      if (!fromPeer && from.peer !== null) from.peer.pure = false;
      // In chunks of the given sizes, the rest at once.
      let at = 0;
      for (const n of [...op.chunks, Infinity]) {
        if (at >= bytes.length) break;
        const piece = bytes.subarray(at, at + n);
        at += piece.length;
        feed(world, to, piece, op.wrap, fromPeer, what);
      }
      break;
    }
    case "receive": {
      const r = pick(world, op.to);
      if (r === null) break;
      feed(world, r, bytesOf(op.input), op.input.wrap, false, what);
      break;
    }
    case "frame": {
      const r = pick(world, op.to);
      if (r === null) break;
      feed(world, r, frameBytes(op.frame, !r.client), "u8", false, what);
      break;
    }
    case "eof": {
      const r = pick(world, op.to);
      if (r === null) break;
      const [, err] = guard(what, [W.LocalProtocolError, W.RemoteProtocolError], () => r.conn.receiveData(null));
      if (err === null) r.eof = true;
      break;
    }
    case "events": {
      const r = pick(world, op.of);
      if (r === null) break;
      const iter = { it: r.conn.events(), done: false };
      if (!takeEvents(world, r, iter, op.mode === "all" ? Infinity : op.take)) {
        if (op.mode === "return") {
          const res = iter.it.return();
          if (res.done !== true) fail(`${what}: return() gave ${JSON.stringify(res)}`);
          iter.done = true;
        }
      }
      r.iterators.push(iter); // resumed later (or never): returned or finished ones must stay done
      break;
    }
    case "resume": {
      const r = pick(world, op.of);
      if (r === null || r.iterators.length === 0) break;
      takeEvents(world, r, r.iterators[op.which % r.iterators.length], op.take);
      break;
    }
    case "send": {
      const r = pick(world, op.of);
      if (r === null) break;
      let built;
      const [, buildErr] = guard(`${what} (building)`, [TypeError, RangeError], () => {
        built = buildEvent(world, r, op.event);
      });
      if (buildErr !== null) break;
      const allowed = built.strict ? [W.LocalProtocolError] : [W.LocalProtocolError, TypeError, RangeError];
      const stateBefore = r.conn.state;
      const [out, err] = guard(what, allowed, () => r.conn.send(built.event));
      if (err instanceof UserError) {
        if (built.hostile !== "throw") fail(`${what}: a UserError without a throwing getter`);
      } else if (built.hostile === "throw" && built.calls > 0) {
        fail(`${what}: the getter's error did not come through`);
      }
      if (err !== null) {
        if (r.conn.state !== stateBefore && !built.hostile) fail(`${what}: a refused send moved the state ${stateBefore} -> ${r.conn.state}`);
        break;
      }
      if (!isBytes(out)) fail(`${what}: send returned ${out?.constructor?.name}`);
      r.outbox.push(out);
      count(stats.sent, built.note.t);
      noteSent(world, r, built.note);
      if (built.note.t === "request") r.key = /sec-websocket-key: *([^\r]*)/i.exec(Buffer.from(out).toString("latin1"))?.[1];
      break;
    }
    case "free": {
      const r = pick(world, op.of);
      if (r === null) break;
      guard(what, [], () => (op.dispose && Symbol.dispose ? r.conn[Symbol.dispose]() : r.conn.free()));
      r.freed = true;
      // Every later call that needs the engine refuses.
      const [, err] = guard(`${what} (after)`, [W.LocalProtocolError], () => r.conn.receiveData(new Uint8Array(1)));
      if (err === null) fail(`${what}: receiveData after free() succeeded`);
      r.complete = false;
      break;
    }
    case "upgrade": {
      const r = pick(world, op.of);
      if (r === null || r.frameOnly) break;
      const headers = headersOf(op.headers);
      if (op.hostile !== undefined && op.hostile !== null) {
        // A header pair read through a getter that calls back into the connection (or throws).
        const first = headers[0] ?? ["X", "y"];
        Object.defineProperty(headers, 0, {
          get() {
            if (op.hostile === "throw") throw new UserError();
            runOp(world, nestedOp(op.hostile, world.recs.indexOf(r)), depth + 1);
            return first;
          },
        });
      }
      const [, err] = guard(what, [W.LocalProtocolError, W.RemoteProtocolError, TypeError], () => r.conn.initiateUpgradeConnection(headers, oddValue(op.path)));
      if (depth === 0 || err !== null) r.pure = false;
      break;
    }
    case "head": {
      // An HTTP response for a client: odd status lines, and the right accept key if asked.
      const r = pick(world, op.to);
      if (r === null) break;
      const lines = [`HTTP/1.1 ${op.status} X`, ...op.headers.map(([n, v]) => `${n}: ${v}`)];
      if (op.accept && r.key !== undefined) {
        const accept = createHash("sha1").update(r.key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");
        lines.push("Upgrade: websocket", "Connection: Upgrade", `Sec-WebSocket-Accept: ${accept}`);
      }
      feed(world, r, enc.encode(lines.join("\r\n") + "\r\n\r\n" + op.body), "u8", false, what);
      break;
    }
    case "exchange": {
      // Several sends, then their bytes to the peer in chunks: so that messages flow.
      for (const event of op.events) runOp(world, { op: "send", of: op.of, event }, depth + 1);
      runOp(world, { op: "deliver", from: op.of, chunks: op.chunks, wrap: op.wrap }, depth + 1);
      break;
    }
    default:
      throw new Error(`unknown op ${op.op}`);
  }
  if (depth === 0) checkStates(world, what);
}

function noteSent(world, r, note) {
  if (note.t === "text" || note.t === "bytes") {
    r.sentPartial ??= { t: note.t, parts: [] };
    if (r.sentPartial.t !== note.t && !r.sendUnsure) fail(`a ${note.t} piece was accepted inside a ${r.sentPartial.t} message`);
    if (note.fin) r.sendUnsure = false;
    r.sentPartial.parts.push(note.data);
    if (note.fin) {
      r.sent.push({ t: note.t, data: r.sentPartial.parts.join("") });
      r.sentPartial = null;
    }
  } else if (note.t === "ping" || note.t === "pong") {
    r.sent.push({ t: note.t, data: note.data });
  } else if (note.t === "close") {
    r.sent.push(note);
  } else if (note.t === "accept") {
    r.opened = true;
    if (note.raw && r.peer) r.peer.pure = false; // raw extension strings or a subprotocol: outside the negotiation
  } else if (note.t === "request") {
    if (note.raw && r.peer) r.pure = false;
  } else if (note.t === "odd") {
    // Sent although built oddly: what it sent is not tracked, nor where a message stands.
    if (r.peer) r.peer.pure = false;
    if (note.was === "text" || note.was === "bytes") {
      r.sentPartial = null;
      r.sendUnsure = true;
    }
  }
}

function oddOptions(o) {
  if (o === "null") return null;
  if (o === "number") return 5;
  if (o === "string") return "x";
  if (o === "undefined") return undefined;
  return o;
}

// ---- the end of a sequence --------------------------------------------------------

function finish(world) {
  for (const r of world.recs) {
    takeEvents(world, r, { it: r.conn.events(), done: false }, Infinity);
    for (const iter of r.iterators) takeEvents(world, r, iter, Infinity);
  }
  for (const r of world.recs) compareComplete(world, r);
  for (const r of world.recs) {
    guard("free at the end", [], () => r.conn.free());
    guard("free twice", [], () => r.conn.free());
  }
  checkStates(world, "after free");
  freshPairWorks(world.seq);
}

/** A fresh pair still shakes hands and exchanges messages: the shared instance is not poisoned. */
export function freshPairWorks(n = 0) {
  const deflate = n % 2 === 0;
  const client = new W.WSConnection(CLIENT, { randomSeed: n });
  const server = new W.WSConnection(SERVER);
  try {
    server.receiveData(client.send(new W.Request({ host: "h", target: "/", extensions: deflate ? [new W.PerMessageDeflate()] : [] })));
    const [req] = server.events();
    if (!(req instanceof W.Request)) fail(`fresh pair: server got ${req?.constructor?.name}`);
    client.receiveData(server.send(new W.AcceptConnection({ extensions: deflate ? [new W.PerMessageDeflate()] : [] })));
    const [acc] = client.events();
    if (!(acc instanceof W.AcceptConnection) || acc.handlers.length !== (deflate ? 1 : 0)) fail("fresh pair: no AcceptConnection");
    const text = `héllo ${n} ${"x".repeat(n % 300)}`;
    server.receiveData(client.send(new W.TextMessage({ data: text })));
    client.receiveData(server.send(new W.BytesMessage({ data: Uint8Array.of(1, 2, n & 0xff) })));
    const [m1] = server.events();
    const [m2] = client.events();
    if (m1?.data !== text || m2?.data?.join(",") !== `1,2,${n & 0xff}`) fail(`fresh pair: got ${m1?.data} / ${m2?.data}`);
    server.receiveData(client.send(new W.CloseConnection({ code: 1000, reason: "bye" })));
    const [close] = server.events();
    if (close?.code !== 1000 || close.reason !== "bye") fail(`fresh pair: close ${close?.code}`);
    client.receiveData(server.send(close.response()));
    [...client.events()];
    if (client.state !== W.ConnectionState.CLOSED || server.state !== W.ConnectionState.CLOSED) fail("fresh pair: not CLOSED");
  } catch (e) {
    if (e instanceof FuzzFailure) throw e;
    fail(`fresh pair threw: ${e?.stack ?? e}`);
  } finally {
    client.free();
    server.free();
  }
}

/** Runs one sequence of operations (a counterexample can be replayed with it). */
export function runSequence(ops, seq = 0) {
  const world = { recs: [], seq };
  stats.sequences++;
  try {
    for (const op of ops) runOp(world, op);
    finish(world);
  } finally {
    // Whatever failed, the connections go (so one failure does not fill the instance).
    for (const r of world.recs) {
      try {
        r.conn.free();
      } catch {}
    }
  }
}

// ---- arbitraries --------------------------------------------------------------------

const idx = fc.nat(7);
const smallBytes = fc.uint8Array({ maxLength: 40 });
const legitWrap = fc.oneof({ weight: 4, arbitrary: fc.constant("u8") }, { weight: 3, arbitrary: fc.constantFrom(...LEGIT_WRAPS) });
const oddWrap = fc.constantFrom(...ODD_WRAPS);
const bigLen = fc.oneof(fc.integer({ min: 120, max: 130 }), fc.integer({ min: 0, max: 70000 }));
const legitBytes = fc.oneof(
  { weight: 6, arbitrary: fc.record({ bytes: smallBytes, wrap: legitWrap }) },
  { weight: 1, arbitrary: fc.record({ fill: fc.nat(255), len: bigLen, wrap: legitWrap }) },
);
const anyBytes = fc.oneof({ weight: 5, arbitrary: legitBytes }, { weight: 1, arbitrary: fc.record({ bytes: smallBytes, wrap: oddWrap }) });
const text = fc.oneof(
  { weight: 5, arbitrary: fc.string({ unit: "binary", maxLength: 20 }) },
  { weight: 1, arbitrary: fc.record({ repeat: fc.constantFrom("a", "é", "€", "😀", "\uD800", "\uDC00a"), n: bigLen }) },
);
const oddNumber = fc.constantFrom(-1, NaN, Infinity, -Infinity, 1.5, "100", null, true, 2 ** 53, 2 ** 53 + 2, 2 ** 32, 0, 1, 125, 126, 4096, -0);
const oddLimit = fc.oneof(oddNumber, fc.constantFrom(-1n, 0n, 1n, 2n ** 64n - 1n, 2n ** 64n, 2n ** 63n, 10n), fc.nat(70000));
const options = fc.record(
  { maxMessageSize: oddLimit, maxFrameSize: oddLimit, maxHandshakeSize: fc.oneof(oddNumber, fc.nat(20000)), maxHeaders: fc.oneof(oddNumber, fc.nat(20)), randomSeed: fc.oneof(fc.nat(), fc.constantFrom(-1, 1.5, 2n ** 64n - 1n, 2n ** 64n, "1")) },
  { requiredKeys: [] },
);
const saneOptions = fc.oneof(
  { weight: 3, arbitrary: fc.record({ randomSeed: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ maxMessageSize: fc.nat(300), maxFrameSize: fc.nat(300), randomSeed: fc.nat() }, { requiredKeys: ["randomSeed"] }) },
  { weight: 1, arbitrary: options },
);
const deflateOptions = fc.record(
  {
    clientNoContextTakeover: fc.boolean(), serverNoContextTakeover: fc.boolean(), keepCompressor: fc.boolean(),
    clientMaxWindowBits: fc.constantFrom(null, 8, 9, 12, 15), serverMaxWindowBits: fc.constantFrom(null, 8, 9, 12, 15),
    compressionThreshold: fc.constantFrom(0, 1, 10, 1000), compressionLevel: fc.constantFrom(0, 1, 6, 9),
  },
  { requiredKeys: [] },
);
const oddDeflate = fc.oneof({ weight: 5, arbitrary: deflateOptions }, { weight: 1, arbitrary: fc.constantFrom({ clientMaxWindowBits: 7 }, { compressionLevel: 10 }, { serverMaxWindowBits: 16 }, { keepCompressor: 1 }) });
const headerPart = fc.oneof(
  fc.constantFrom("x-a", "Sec-WebSocket-Protocol", "Host", "bad\r\nname", "", "connection", "Sec-WebSocket-Extensions", "nul\0"),
  fc.string({ maxLength: 10 }),
  fc.uint8Array({ maxLength: 8 }),
);
const headers = fc.array(fc.tuple(headerPart, headerPart), { maxLength: 3 });
const extensions = fc.array(
  fc.oneof(
    { weight: 3, arbitrary: fc.record({ pmd: oddDeflate }) },
    { weight: 1, arbitrary: fc.constantFrom("permessage-deflate", "x-foo", "permessage-deflate; client_max_window_bits", "permessage-deflate; server_max_window_bits=7", "") },
  ),
  { maxLength: 2 },
);
const closeCode = fc.oneof(
  fc.constantFrom(0, 999, 1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 1015, 1016, 2999, 3000, 4999, 5000, 65535, 65536, -1, 1.5, NaN, "1000", null),
  fc.nat(70000),
);
const reason = fc.oneof(
  { weight: 4, arbitrary: text },
  { weight: 2, arbitrary: fc.record({ repeat: fc.constantFrom("a", "é", "😀", "\uD800"), n: fc.integer({ min: 28, max: 130 }) }) },
  { weight: 1, arbitrary: fc.constantFrom(undefined, null, 5) },
);
const finished = { messageFinished: fc.boolean(), frameFinished: fc.constantFrom(undefined, true, false), generic: fc.boolean() };
const messageEvent = fc.record({
  kind: fc.constantFrom("text", "bytes"),
  data: fc.oneof(fc.string({ unit: "binary", maxLength: 300 }), legitBytes),
  messageFinished: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
}).map((e) => (typeof e.data === "string" ? { ...e, kind: "text" } : { ...e, kind: "bytes" }));
const simpleEvent = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("text"), data: text, ...finished }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("bytes"), data: anyBytes, ...finished, detachAfter: fc.boolean() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constantFrom("ping", "pong"),
      payload: fc.oneof(anyBytes, fc.record({ fill: fc.nat(255), len: fc.integer({ min: 120, max: 130 }), wrap: legitWrap })),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("close"), code: closeCode, reason }, { requiredKeys: ["kind", "code"] }) },
);
const event = fc.oneof(
  { weight: 12, arbitrary: simpleEvent },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("request"), host: fc.constantFrom("h", "h\r\nx: y", ""), target: fc.constantFrom("/", "/a?b", "x y"), subprotocols: fc.array(fc.constantFrom("chat", "", "a,b"), { maxLength: 2 }), extensions, extraHeaders: headers }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("accept"), subprotocol: fc.constantFrom(null, "chat", ""), extensions, extraHeaders: headers }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("reject"), statusCode: fc.constantFrom(0, 99, 100, 101, 200, 400, 999, 1000, 1.5), headers, hasBody: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("rejectData"), data: anyBytes, bodyFinished: fc.boolean() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("mutated"), base: simpleEvent,
      field: fc.constantFrom("data", "payload", "code", "reason", "messageFinished", "frameFinished"),
      value: fc.constantFrom(5, "x", null, undefined, -1, 1.5, 70000, 1000, true, "detachedBytes", "object", "array", "bigint", "symbol", "loneSurrogate"),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("hostile"), base: simpleEvent,
      field: fc.constantFrom("data", "payload", "code", "reason", "messageFinished"),
      action: fc.constantFrom("free", "sendPing", "receiveEmpty", "receiveGarbage", "drain", "throw"),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("odd"), value: fc.constantFrom("Event", "object", "string", "number", "null", "undefined", "PerMessageDeflate", "TextMessage", "BytesMessage", "Ping", "Pong", "CloseConnection", "Request", "AcceptConnection", "RejectConnection", "RejectData", "Message") }) },
);
const frame = fc.record({
  fin: fc.boolean(),
  rsv: fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.nat(7) }),
  opcode: fc.oneof(fc.constantFrom(0, 1, 2, 8, 9, 10), fc.nat(15)),
  mask: fc.constantFrom("auto", "auto", "auto", "flip"),
  key: fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)),
  payload: fc.oneof(
    legitBytes,
    fc.record({ text }),
    fc.record({ code: fc.oneof(fc.constantFrom(-1, 1000, 1005, 1006, 1015, 2999, 3000, 5000), fc.nat(65535)), reason: text }),
  ),
  len: fc.constantFrom("min", "min", "min", "16", "64", "64big"),
  declared: fc.constantFrom(2n ** 63n - 1n, 2n ** 53n + 1n, 2n ** 32n + 1n, 2n ** 64n - 1n, 65536n, 126n),
});
const upgradeHeaders = fc.oneof(
  headers,
  fc.constant([["Host", "h"], ["Upgrade", "websocket"], ["Connection", "Upgrade"], ["Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="], ["Sec-WebSocket-Version", "13"]]),
);
const pairOp = fc.record({ op: fc.constant("pair"), frame: fc.boolean(), handshake: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }), upgrade: fc.boolean(), deflate: fc.option(deflateOptions), serverDeflate: fc.option(deflateOptions), trailing: fc.constantFrom("none", "peer", "garbage"), clientOptions: saneOptions, serverOptions: saneOptions });
/** An operation; `upgradeActions`: what a hostile header getter may do in initiateUpgradeConnection. */
const opArb = (upgradeActions) => fc.oneof(
  { weight: 2, arbitrary: pairOp },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("create"), frame: fc.boolean(), type: fc.constantFrom(1, 2, 0, 3, "1", 1.5, NaN, null, undefined, "bigint"), options: fc.oneof(options, fc.constantFrom("null", "number", "string", "undefined")), extra: fc.record({ extensions: fc.constantFrom([], "x", [{}], null), trailingData: fc.constantFrom(undefined, null, "x", 5) }, { requiredKeys: [] }), hostile: fc.option(fc.constantFrom("free", "sendPing", "receiveGarbage", "drain", "throw"), { freq: 2 }) }) },
  { weight: 8, arbitrary: fc.record({ op: fc.constant("deliver"), from: idx, chunks: fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 4 }), wrap: legitWrap }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("deliver"), from: idx, to: idx, chunks: fc.constant([]), wrap: legitWrap }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("receive"), to: idx, input: anyBytes }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("frame"), to: idx, frame }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("eof"), to: idx }) },
  { weight: 6, arbitrary: fc.record({ op: fc.constant("events"), of: idx, mode: fc.constantFrom("all", "all", "return", "keep"), take: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("resume"), of: idx, which: fc.nat(3), take: fc.nat(3) }) },
  { weight: 12, arbitrary: fc.record({ op: fc.constant("send"), of: idx, event }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("free"), of: idx, dispose: fc.boolean() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("upgrade"), of: idx, headers: upgradeHeaders, path: fc.constantFrom("/", "", "/x\r\n", 5, null),
      hostile: fc.option(fc.constantFrom(...upgradeActions), { freq: 3 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("exchange"), of: idx,
      events: fc.array(fc.oneof(messageEvent, simpleEvent), { minLength: 1, maxLength: 8 }),
      chunks: fc.array(fc.integer({ min: 1, max: 300 }), { maxLength: 6 }),
      wrap: legitWrap,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("head"), to: idx,
      status: fc.constantFrom("000", "011", "099", "100", "101", "101", "101", "200", "404", "599", "600", "999", "1000", "abc", "-1"),
      headers: fc.array(fc.tuple(fc.constantFrom("Content-Length", "Transfer-Encoding", "Sec-WebSocket-Extensions", "Sec-WebSocket-Protocol", "X"), fc.constantFrom("0", "5", "chunked", "permessage-deflate", "permessage-deflate; server_max_window_bits=8", "chat", "")), { maxLength: 3 }),
      accept: fc.boolean(),
      body: fc.constantFrom("", "hello", "5\r\nhello\r\n0\r\n\r\n", "\x81\x02hi"),
    }),
  },
);
// Mostly a pair first, so that messages flow.
const sequenceArb = (upgradeActions) =>
  fc
    .tuple(fc.option(pairOp, { freq: 8 }), fc.array(opArb(upgradeActions), { maxLength: 40, size: "medium" }))
    .map(([first, rest]) => (first === null ? rest : [first, ...rest]));

// ---- running --------------------------------------------------------------------

/**
 * Runs `numRuns` random sequences from `seed` (fast-check, shrinking on
 * failure). Throws an Error naming the seed, the path and the shrunk
 * counterexample if an invariant breaks; returns the run's details.
 */
export function runApiFuzz({ seed, numRuns = 100, path } = {}) {
  let seq = 0;
  const upgradeActions = ["free", "receiveGarbage", "drain", "throw"];
  const details = fc.check(
    fc.property(sequenceArb(upgradeActions), (ops) => {
      runSequence(ops, seq++);
    }),
    { seed, numRuns, path, endOnFailure: false },
  );
  if (details.failed) {
    const err = new Error(
      `api-fuzz failed: seed ${details.seed}, path ${details.counterexamplePath}\n` +
        `replay: runApiFuzz({ seed: ${details.seed}, numRuns: ${numRuns}, path: "${details.counterexamplePath}" })\n` +
        `counterexample (ops for runSequence):\n${fc.stringify(details.counterexample?.[0])}\n` +
        `error: ${details.errorInstance instanceof Error ? details.errorInstance.message : details.error}`,
    );
    err.details = details;
    throw err;
  }
  return details;
}

// ---- the script ----------------------------------------------------------------

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : process.argv[i + 1];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const seconds = Number(arg("--seconds", 60));
  const runsPerSeed = Number(arg("--runs", 200));
  const fixedSeed = arg("--seed", undefined);
  const start = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const elapsed = () => Number(process.hrtime.bigint() - start) / 1e9;
  const seeds = [];
  let failure = null;
  // A loop of seeds, each fully replayable with --seed S --runs N.
  while (failure === null && (fixedSeed !== undefined ? seeds.length === 0 : elapsed() < seconds)) {
    const seed = fixedSeed !== undefined ? Number(fixedSeed) : (Math.random() * 2 ** 31) | 0;
    seeds.push(seed);
    try {
      runApiFuzz({ seed, numRuns: runsPerSeed, path: arg("--path", undefined) });
    } catch (e) {
      failure = e;
    }
    if (seeds.length % 20 === 0) console.log(`${elapsed().toFixed(0)} s: ${seeds.length} seeds, ${stats.sequences} sequences, ${stats.ops} ops`);
  }
  const cpu = process.cpuUsage(cpu0);
  console.log(`seeds (${runsPerSeed} runs each): ${seeds.join(" ")}`);
  console.log(
    `runs: ${seeds.length} seeds, sequences executed: ${stats.sequences} (incl. shrinking), ops: ${stats.ops}, ` +
      `compared to the end: ${stats.compared} sides; wall ${elapsed().toFixed(1)} s, CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s`,
  );
  console.log(`events: ${[...stats.events].map(([k, v]) => `${k} ${v}`).join(", ")}`);
  console.log("errors thrown (documented), most frequent:");
  for (const [k, v] of [...stats.errors].sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log(`  ${v}\t${k}`);
  if (failure !== null) {
    console.log(`FAILED\n${failure.message}`);
    process.exit(1);
  }
  console.log("no failure");
}
