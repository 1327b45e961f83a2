// The public JavaScript API of wsproto: classes, enums, errors.
//
// This file is the source of truth (ESM). `make pkg` bundles it, with the
// wasm-bindgen glue and the Node loader, into `wsproto.cjs` for require()
// (scripts/build-pkg.sh explains why). It knows nothing of how the .wasm
// file is fetched: the entry files (node.js, deno.js, web.js) call
// `initSync` / `init` before or after importing it.
//
// The boundary with wasm (src/wasm/mod.rs has the Rust side) is one call
// per operation. Bytes go in by `Uint8Array.set` into a wasm-owned buffer,
// results come back through a control block of u32 words and a table of
// event records (kind/flags/code, pointer, length) that this file decodes
// into plain JS objects: text through one decoding call per receiveData
// (see decodeText), bytes through `slice()`. Nothing returned to the user points into wasm memory.

import glueInit, { initSync as glueInitSync, WasmConn } from "./glue/wsproto_wasm.js";

// ---- wasm instance and memory views ----------------------------------------

let wasm = null; // the instance's exports, once initialised
let MEM = new ArrayBuffer(0);
let U8 = new Uint8Array(0);
let U32 = new Uint32Array(0);
// In Node, a Buffer on memory.buffer too: its latin1/utf16le decoding
// beats TextDecoder's (measured in Node 20, 1 KiB of UTF-16: 0.3 us
// against 1 us).
const NodeBuffer =
  typeof globalThis.Buffer === "function" && typeof globalThis.Buffer.prototype.ucs2Slice === "function"
    ? globalThis.Buffer
    : null;
let BUF = null;
let initPromise = null;

function adopt(exports) {
  wasm = exports;
  refreshViews();
}

// Views on memory.buffer die when memory grows: re-create them after any
// call that can allocate. Growing detaches the old buffer, which makes its
// views' length 0: a cheaper test than reading `memory.buffer` each time.
function refreshViews() {
  if (U8.byteLength === 0) {
    const buffer = wasm.memory.buffer;
    MEM = buffer;
    U8 = new Uint8Array(buffer);
    U32 = new Uint32Array(buffer);
    if (NodeBuffer !== null) BUF = NodeBuffer.from(buffer);
  }
}

// `len` bytes of wasm memory from `ptr`, as a view (not a copy). The
// constructor, not U8.subarray(): subarray looks up the species
// constructor, which made it 2-3x slower (measured in Node 20: a pooled
// copy-out of 100 B went from 222 to 94 ns).
function memView(ptr, len) {
  return new Uint8Array(MEM, ptr, len);
}

/**
 * Instantiates the WebAssembly module synchronously from its bytes (or a
 * compiled `WebAssembly.Module`). Node and Deno entry points call this for
 * you. Calling it again does nothing.
 */
export function initSync(module) {
  if (wasm === null) {
    adopt(glueInitSync({ module }));
  }
}

/**
 * Loads and instantiates the WebAssembly module. Browsers must `await
 * init()` once before creating a connection; by default the `.wasm` file is
 * fetched next to this module. Idempotent: every call returns the same
 * promise. In Node and Deno the module is already loaded and this resolves
 * at once.
 */
export function init(input) {
  if (initPromise === null) {
    initPromise =
      wasm !== null
        ? Promise.resolve()
        : glueInit(input === undefined ? undefined : { module_or_path: input }).then(adopt);
  }
  return initPromise;
}

// ---- the boundary protocol (mirror of src/wasm/mod.rs) ---------------------

const CTL_STATUS = 0;
const CTL_COUNT = 1;
const CTL_RECORDS = 2;
const CTL_HINT = 3;
const CTL_ERR_PTR = 4;
const CTL_ERR_LEN = 5;
const CTL_OUT_PTR = 6;
const CTL_OUT_LEN = 7;
const CTL_INPUT_PTR = 8;
const CTL_INPUT_CAP = 9;
const CTL_SCRATCH_PTR = 10;
const CTL_SCRATCH_CAP = 11;
const CTL_STATE = 12;
const CTL_TEXT16_PTR = 13;
const CTL_TEXT16_LEN = 14;

const STATUS_OK = 0;
const STATUS_LOCAL = 1;
const STATUS_REMOTE = 2;

// A record: kind | flags << 8 | code << 16, pointer, length.
const REC_WORDS = 3;

const KIND_REQUEST = 1;
const KIND_ACCEPT = 2;
const KIND_REJECT = 3;
const KIND_REJECT_DATA = 4;
const KIND_CLOSE = 5;
const KIND_TEXT = 6;
const KIND_BYTES = 7;
const KIND_PING = 8;
const KIND_PONG = 9;

const FLAG_FRAME_FINISHED = 1;
const FLAG_MESSAGE_FINISHED = 2;
const FLAG_BODY = 4;
const FLAG_CLOSE_RECEIVED = 8;
const FLAG_ASCII = 16;
const FLAG_UTF16 = 32;

// Buffers past this size are given back (WasmConn.release) once a result
// is copied out of them (mirrors KEEP_BYTES in src/wasm/mod.rs).
const KEEP_BYTES = 64 * 1024;

// Where send() writes a message's payload in scratch: after room for the
// longest frame header, so that wasm can frame it in place (SEND_AT in
// src/wasm/mod.rs).
const SEND_AT = 14;

const encoder = new TextEncoder();
// Not fatal: the core has already validated every text payload.
const decoder = new TextDecoder();
const EMPTY = new Uint8Array(0);

// ---- enums -------------------------------------------------------------------

// Frozen objects with TypeScript-enum-style reverse mapping
// (ConnectionState[1] === "OPEN"), values as in Python's wsproto.
function enumOf(entries) {
  const e = {};
  for (const [name, value] of Object.entries(entries)) {
    e[name] = value;
    e[value] = name;
  }
  return Object.freeze(e);
}

/** Which end of the connection this is (wsproto's values). */
export const ConnectionType = enumOf({ CLIENT: 1, SERVER: 2 });

/** RFC 6455 connection states (wsproto's values). */
export const ConnectionState = enumOf({
  CONNECTING: 0,
  OPEN: 1,
  REMOTE_CLOSING: 2,
  LOCAL_CLOSING: 3,
  CLOSED: 4,
  REJECTING: 5,
});

/** Close codes (RFC 6455 section 7.4.1, and wsproto's names). */
export const CloseReason = enumOf({
  NORMAL_CLOSURE: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  NO_STATUS_RCVD: 1005,
  ABNORMAL_CLOSURE: 1006,
  INVALID_FRAME_PAYLOAD_DATA: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  MANDATORY_EXT: 1010,
  INTERNAL_ERROR: 1011,
  SERVICE_RESTART: 1012,
  TRY_AGAIN_LATER: 1013,
  BAD_GATEWAY: 1014,
  TLS_HANDSHAKE_FAILED: 1015,
});

// ---- errors -----------------------------------------------------------------------

/** The local side asked for something the protocol or the state forbids. */
export class LocalProtocolError extends Error {
  constructor(message) {
    super(message);
    this.name = "LocalProtocolError";
  }
}

/**
 * The remote peer broke the protocol during the opening handshake.
 * `eventHint` is the event wsproto suggests sending back (usually a
 * RejectConnection), or null.
 */
export class RemoteProtocolError extends Error {
  constructor(message, eventHint = null) {
    super(message);
    this.name = "RemoteProtocolError";
    this.eventHint = eventHint;
  }
}

// ---- argument checking -----------------------------------------------------------

function typeError(message) {
  return new TypeError(message);
}

// The engine's own accessors, read once: what a subclass, an own property or
// a Proxy claims about a view cannot change what is read through them (each
// throws a TypeError for an object that is not of its kind).
const TypedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype);
const intrinsicGetter = (proto, key) => Object.getOwnPropertyDescriptor(proto, key).get;
// The typed array's name, or undefined for anything else (a DataView): a
// brand check that works across realms and never throws.
const typedArrayName = intrinsicGetter(TypedArrayPrototype, Symbol.toStringTag);
const typedArrayBuffer = intrinsicGetter(TypedArrayPrototype, "buffer");
const typedArrayByteOffset = intrinsicGetter(TypedArrayPrototype, "byteOffset");
const typedArrayByteLength = intrinsicGetter(TypedArrayPrototype, "byteLength");
// at() starts with ValidateTypedArray (ES2022, every engine): a TypeError
// when the view's buffer is detached or is resizable and was shrunk below
// the view. Its byteLength reads 0 then, like a legitimately empty view's.
const typedArrayAt = TypedArrayPrototype.at;
// A DataView's accessors throw a TypeError themselves in those cases.
const dataViewBuffer = intrinsicGetter(DataView.prototype, "buffer");
const dataViewByteOffset = intrinsicGetter(DataView.prototype, "byteOffset");
const dataViewByteLength = intrinsicGetter(DataView.prototype, "byteLength");
// Brand checks: each throws a TypeError for anything but its own kind
// (a detached ArrayBuffer reads 0).
const arrayBufferByteLength = intrinsicGetter(ArrayBuffer.prototype, "byteLength");
const sharedByteLength =
  typeof SharedArrayBuffer === "function" ? intrinsicGetter(SharedArrayBuffer.prototype, "byteLength") : null;

function isBufferOfKind(value, byteLengthGetter) {
  if (byteLengthGetter === null || value === null || typeof value !== "object") return false;
  try {
    byteLengthGetter.call(value);
    return true;
  } catch {
    return false;
  }
}

function unusableView(what) {
  return typeError(`${what} is a view of a detached ArrayBuffer (it was transferred) or of a resizable one shrunk below the view`);
}

// Any binary input as a new plain Uint8Array over the same memory (the bytes
// are not copied). Its length comes from the engine's accessors, so it is
// always what Uint8Array.prototype.set() copies: a `length` that lies (a
// subclass, an own getter) would otherwise send stale wasm memory or write
// past an allocation. A detached or out-of-bounds view, or a detached
// ArrayBuffer, is a TypeError, never an empty payload.
function asBytes(value, what) {
  if (ArrayBuffer.isView(value)) {
    if (typedArrayName.call(value) !== undefined) {
      const length = usableLength(value, what);
      return new Uint8Array(typedArrayBuffer.call(value), typedArrayByteOffset.call(value), length);
    }
    let buffer, offset, length;
    try {
      buffer = dataViewBuffer.call(value);
      offset = dataViewByteOffset.call(value);
      length = dataViewByteLength.call(value);
    } catch {
      throw unusableView(what);
    }
    return new Uint8Array(buffer, offset, length);
  }
  if (isBufferOfKind(value, arrayBufferByteLength) || isBufferOfKind(value, sharedByteLength)) {
    try {
      return new Uint8Array(value);
    } catch {
      throw typeError(`${what} is a detached ArrayBuffer (it was transferred)`);
    }
  }
  throw typeError(`${what} must be a Uint8Array, an ArrayBuffer or an ArrayBuffer view, not ${describe(value)}`);
}

// A typed array's byte length; a TypeError if it is detached or out of
// bounds (both read 0, as an empty array does).
function usableLength(value, what) {
  const length = typedArrayByteLength.call(value);
  if (length === 0) {
    try {
      typedArrayAt.call(value, 0);
    } catch {
      throw unusableView(what);
    }
  }
  return length;
}

// Binary input that is only copied into wasm memory: a Uint8Array (a Buffer
// is one) as it is, saving asBytes's new view (about 30 ns): set() and the
// intrinsic byteLength getter read its internal slots, never a `length`
// property. Callers take the length from `byteLength(bytes)`.
function bytesIn(value, what) {
  if (ArrayBuffer.isView(value) && typedArrayName.call(value) === "Uint8Array") {
    usableLength(value, what);
    return value;
  }
  return asBytes(value, what);
}

// A BytesMessage's data: a plain Uint8Array or a Node Buffer as it is (a
// new view cost 40-80 ns per message; send() never reads its `length`,
// see bytesIn); anything else becomes a Uint8Array of this realm
// (asBytes). isView first: it runs no user code (a Proxy is no view), and
// then reading a view's prototype runs none either.
const BufferPrototype = NodeBuffer === null ? Uint8Array.prototype : NodeBuffer.prototype;
function messageBytes(value, what) {
  if (ArrayBuffer.isView(value)) {
    const proto = Object.getPrototypeOf(value);
    if (proto === Uint8Array.prototype || proto === BufferPrototype) return bytesIn(value, what);
  }
  return asBytes(value, what);
}

function byteLength(bytes) {
  return typedArrayByteLength.call(bytes);
}

function checkString(value, what) {
  if (typeof value !== "string") throw typeError(`${what} must be a string, not ${describe(value)}`);
  return value;
}

function checkBool(value, what) {
  if (typeof value !== "boolean") throw typeError(`${what} must be a boolean, not ${describe(value)}`);
  return value;
}

function checkInt(value, what, min, max) {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw typeError(`${what} must be an integer, not ${describe(value)}`);
  }
  if (value < min || value > max) throw new RangeError(`${what} must be between ${min} and ${max}, not ${value}`);
  return value;
}

function checkArray(value, what) {
  if (!Array.isArray(value)) throw typeError(`${what} must be an array, not ${describe(value)}`);
  return value;
}

function checkHeaders(value, what) {
  checkArray(value, what);
  for (const pair of value) {
    if (!Array.isArray(pair) || pair.length !== 2) {
      throw typeError(`${what} must be an array of [name, value] pairs`);
    }
    for (const part of pair) {
      if (typeof part !== "string" && !ArrayBuffer.isView(part) && !(part instanceof ArrayBuffer)) {
        throw typeError(`${what}: a header name or value must be a string or a Uint8Array, not ${describe(part)}`);
      }
    }
  }
  return value;
}

// Names a wrong value for an error message; never throws (a getter or a
// Proxy trap that throws must not replace the TypeError being built).
function describe(value) {
  try {
    if (value === null) return "null";
    if (typeof value === "object") return value.constructor ? `a ${value.constructor.name}` : "an object";
    return `${typeof value} ${String(value).slice(0, 40)}`;
  } catch {
    return `a value of type ${typeof value}`;
  }
}

function options(value, what) {
  if (value === undefined) return {};
  if (value === null || typeof value !== "object") throw typeError(`${what} takes an options object`);
  return value;
}

// ---- events --------------------------------------------------------------------------

/** Base class of every event. */
export class Event {}

// Passed by the decoder to skip argument checking: it fills the fields
// itself, in the constructors' order (one hidden class per event type).
const RAW = Symbol("raw");

function rawMessage(Kind, data, flags) {
  const e = new Kind(RAW);
  e.data = data;
  e.frameFinished = (flags & FLAG_FRAME_FINISHED) !== 0;
  e.messageFinished = (flags & FLAG_MESSAGE_FINISHED) !== 0;
  return e;
}

/** The opening handshake request (sent by a client, received by a server). */
export class Request extends Event {
  constructor(opts) {
    super();
    const { host, target, subprotocols = [], extensions = [], extraHeaders = [] } = options(opts, "Request");
    this.host = checkString(host, "Request.host");
    this.target = checkString(target, "Request.target");
    this.subprotocols = checkArray(subprotocols, "Request.subprotocols");
    this.extensions = checkArray(extensions, "Request.extensions");
    this.extraHeaders = checkHeaders(extraHeaders, "Request.extraHeaders");
  }
}

/**
 * The server's acceptance of the handshake (101 Switching Protocols). To
 * send, `extensions` lists the extensions the server supports; received, it
 * holds the accepted header elements, and `handlers` the extensions
 * negotiated (PerMessageDeflate objects with the agreed parameters).
 */
export class AcceptConnection extends Event {
  constructor(opts) {
    super();
    const { subprotocol = null, extensions = [], extraHeaders = [] } = options(opts, "AcceptConnection");
    if (subprotocol !== null) checkString(subprotocol, "AcceptConnection.subprotocol");
    this.subprotocol = subprotocol;
    this.extensions = checkArray(extensions, "AcceptConnection.extensions");
    this.extraHeaders = checkHeaders(extraHeaders, "AcceptConnection.extraHeaders");
    this.handlers = [];
  }
}

/** The server's refusal of the handshake: any HTTP response but 101. */
export class RejectConnection extends Event {
  constructor(opts) {
    super();
    const { statusCode = 400, headers = [], hasBody = false } = options(opts, "RejectConnection");
    this.statusCode = checkInt(statusCode, "RejectConnection.statusCode", 100, 999);
    this.headers = checkHeaders(headers, "RejectConnection.headers");
    this.hasBody = checkBool(hasBody, "RejectConnection.hasBody");
  }
}

/** A piece of the refusal's body. */
export class RejectData extends Event {
  constructor(opts) {
    super();
    const { data, bodyFinished = true } = options(opts, "RejectData");
    this.data = asBytes(data, "RejectData.data");
    this.bodyFinished = checkBool(bodyFinished, "RejectData.bodyFinished");
  }
}

/** A close frame; code 1006 when the transport ended without one. */
export class CloseConnection extends Event {
  constructor(opts) {
    super();
    const { code, reason = "" } = options(opts, "CloseConnection");
    this.code = checkInt(code, "CloseConnection.code", 0, 65535);
    this.reason = checkString(reason ?? "", "CloseConnection.reason");
  }
  /** The close to send back: the same code and reason. */
  response() {
    return new CloseConnection({ code: this.code, reason: this.reason });
  }
}

/**
 * A piece of a message. `new Message({data})` gives a TextMessage for a
 * string and a BytesMessage for bytes; both are `instanceof Message`.
 */
export class Message extends Event {
  constructor(opts) {
    super();
    if (opts === RAW) return;
    const { data, frameFinished = true, messageFinished = true } = options(opts, "Message");
    if (new.target === Message) {
      const Kind = typeof data === "string" ? TextMessage : BytesMessage;
      return new Kind({ data, frameFinished, messageFinished });
    }
    this.data = data;
    this.frameFinished = checkBool(frameFinished, "frameFinished");
    this.messageFinished = checkBool(messageFinished, "messageFinished");
  }
}

/** A piece of a text message (`data` is a string). */
export class TextMessage extends Message {
  constructor(opts) {
    super(opts);
    if (opts !== RAW) checkString(this.data, "TextMessage.data");
  }
}

/** A piece of a binary message (`data` is a Uint8Array). */
export class BytesMessage extends Message {
  constructor(opts) {
    super(opts);
    if (opts !== RAW) this.data = messageBytes(this.data, "BytesMessage.data");
  }
}

/** A ping; reply with `response()`. */
export class Ping extends Event {
  constructor(opts) {
    super();
    const { payload = EMPTY } = options(opts, "Ping");
    this.payload = asBytes(payload, "Ping.payload");
  }
  /** The pong that answers this ping. */
  response() {
    return new Pong({ payload: this.payload });
  }
}

/** A pong. */
export class Pong extends Event {
  constructor(opts) {
    super();
    const { payload = EMPTY } = options(opts, "Pong");
    this.payload = asBytes(payload, "Pong.payload");
  }
}

// ---- extensions -------------------------------------------------------------------------

// null (or undefined): not set. RFC 7692 allows 8 to 15; the core accepts
// 8 and, in a direction limited to 8, sends uncompressed (zlib cannot
// compress with a 256-byte window).
function windowBits(value, what) {
  if (value === null || value === undefined) return null;
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw typeError(`${what} must be an integer or null, not ${describe(value)}`);
  }
  if (value < 8 || value > 15) throw new RangeError(`${what} must be between 8 and 15, not ${value}`);
  return value;
}

/**
 * The permessage-deflate extension (RFC 7692), with wsproto's defaults:
 * context takeover both ways, window bits not set (15 unless negotiated
 * lower). A client offers it in `Request.extensions`; a server supports
 * it in `AcceptConnection.extensions`.
 *
 * Client: `clientNoContextTakeover` offers to reset its compressor after
 * each message; `clientMaxWindowBits` (8-15) is the largest window it
 * offers to use (null: offered without a value, so the server may choose);
 * `serverNoContextTakeover` and `serverMaxWindowBits` are asked of the
 * server (null: not asked). Server: the `client*` values are required of
 * the client (a window only when the client allows it), the `server*`
 * values are what it uses itself (null: whatever the client asked for).
 * `compressionThreshold` (bytes, default 0): whole messages shorter than
 * this are sent uncompressed. `compressionLevel` (0-9, default 6): zlib's
 * level. `keepCompressor` (default false): keep the ~270 KiB compressor
 * between messages (the best ratio and the fastest small messages) instead
 * of a new one per message primed with the last 4 KiB sent (about 52 KiB
 * per idle connection, ~13% more bytes on small chat messages).
 */
export class PerMessageDeflate {
  constructor(opts) {
    const {
      clientNoContextTakeover = false,
      clientMaxWindowBits = null,
      serverNoContextTakeover = false,
      serverMaxWindowBits = null,
      compressionThreshold = 0,
      compressionLevel = 6,
      keepCompressor = false,
    } = options(opts, "PerMessageDeflate");
    this.clientNoContextTakeover = checkBool(clientNoContextTakeover, "PerMessageDeflate.clientNoContextTakeover");
    this.clientMaxWindowBits = windowBits(clientMaxWindowBits, "PerMessageDeflate.clientMaxWindowBits");
    this.serverNoContextTakeover = checkBool(serverNoContextTakeover, "PerMessageDeflate.serverNoContextTakeover");
    this.serverMaxWindowBits = windowBits(serverMaxWindowBits, "PerMessageDeflate.serverMaxWindowBits");
    this.compressionThreshold = checkInt(compressionThreshold, "PerMessageDeflate.compressionThreshold", 0, 0xffffffff);
    this.compressionLevel = checkInt(compressionLevel, "PerMessageDeflate.compressionLevel", 0, 9);
    this.keepCompressor = checkBool(keepCompressor, "PerMessageDeflate.keepCompressor");
  }
  get name() {
    return "permessage-deflate";
  }
}

// Extensions given to Request/AcceptConnection: strings are raw offers,
// passed through; extension objects are negotiated by the core.
function splitExtensions(list, what) {
  checkArray(list, what);
  const strings = [];
  const handlers = [];
  for (const item of list) {
    if (item instanceof PerMessageDeflate) handlers.push(item);
    else if (typeof item === "string") strings.push(item);
    else throw typeError(`${what} must hold strings or PerMessageDeflate objects, not ${describe(item)}`);
  }
  return [strings, handlers];
}

const DEFLATE_CLIENT_NO_CONTEXT_TAKEOVER = 1;
const DEFLATE_SERVER_NO_CONTEXT_TAKEOVER = 2;
const DEFLATE_KEEP_COMPRESSOR = 4;

// ---- blobs (handshake events; see src/wasm/mod.rs) ------------------------------------

class BlobWriter {
  constructor() {
    this.parts = [];
    this.length = 0;
  }
  u32(value) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, value, true);
    this.parts.push(b);
    this.length += 4;
  }
  bytes(value) {
    const b = typeof value === "string" ? encoder.encode(value) : asBytes(value, "a header");
    this.u32(b.length);
    this.parts.push(b);
    this.length += b.length;
  }
  strings(list) {
    this.u32(list.length);
    for (const s of list) this.bytes(s);
  }
  headers(list) {
    this.u32(list.length);
    for (const [name, value] of list) {
      this.bytes(name);
      this.bytes(value);
    }
  }
  // Fields are checked again: they may have been changed since construction.
  handlers(list, what) {
    this.u32(list.length);
    for (const h of list) {
      this.bytes(h.name);
      this.u32(
        (checkBool(h.clientNoContextTakeover, `${what}: clientNoContextTakeover`) ? DEFLATE_CLIENT_NO_CONTEXT_TAKEOVER : 0) |
          (checkBool(h.serverNoContextTakeover, `${what}: serverNoContextTakeover`) ? DEFLATE_SERVER_NO_CONTEXT_TAKEOVER : 0) |
          (checkBool(h.keepCompressor, `${what}: keepCompressor`) ? DEFLATE_KEEP_COMPRESSOR : 0),
      );
      this.u32(windowBits(h.clientMaxWindowBits, `${what}: clientMaxWindowBits`) ?? 0);
      this.u32(windowBits(h.serverMaxWindowBits, `${what}: serverMaxWindowBits`) ?? 0);
      this.u32(checkInt(h.compressionThreshold, `${what}: compressionThreshold`, 0, 0xffffffff));
      this.u32(checkInt(h.compressionLevel, `${what}: compressionLevel`, 0, 9));
    }
  }
  finish() {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

class BlobReader {
  constructor(ptr, len) {
    this.at = ptr;
    this.end = ptr + len;
  }
  u32() {
    const a = this.at;
    this.at += 4;
    return (U8[a] | (U8[a + 1] << 8) | (U8[a + 2] << 16) | (U8[a + 3] << 24)) >>> 0;
  }
  bytes() {
    const len = this.u32();
    const out = U8.slice(this.at, this.at + len);
    this.at += len;
    return out;
  }
  string() {
    const len = this.u32();
    const out = decoder.decode(memView(this.at, len));
    this.at += len;
    return out;
  }
  strings() {
    const n = this.u32();
    const out = [];
    for (let i = 0; i < n; i++) out.push(this.string());
    return out;
  }
  headers() {
    const n = this.u32();
    const out = [];
    for (let i = 0; i < n; i++) {
      const name = this.bytes();
      out.push([name, this.bytes()]);
    }
    return out;
  }
  // Negotiated handlers: every value is set.
  handlers() {
    const n = this.u32();
    const out = [];
    for (let i = 0; i < n; i++) {
      this.string(); // the name: permessage-deflate is the only one
      const flags = this.u32();
      out.push(
        new PerMessageDeflate({
          clientNoContextTakeover: (flags & DEFLATE_CLIENT_NO_CONTEXT_TAKEOVER) !== 0,
          serverNoContextTakeover: (flags & DEFLATE_SERVER_NO_CONTEXT_TAKEOVER) !== 0,
          keepCompressor: (flags & DEFLATE_KEEP_COMPRESSOR) !== 0,
          clientMaxWindowBits: this.u32() || null,
          serverMaxWindowBits: this.u32() || null,
          compressionThreshold: this.u32(),
          compressionLevel: this.u32(),
        }),
      );
    }
    return out;
  }
}

// Text pieces (see the flags in src/wasm/mod.rs). Measured in Node 20,
// TextDecoder's UTF-8 runs at about 0.25 GB/s on multi-byte text; so
// multi-byte pieces come as UTF-16 (1 to 7 GB/s), all in one buffer per
// call, made into one string that each piece slices (V8 slices share it).
// ASCII pieces are decoded with their neighbours in the input (frame
// headers and all, one char per byte) in one call, and sliced the same way:
// one decoding call per chunk rather than one per message.
// "latin1" is windows-1252 to TextDecoder: still one char per byte.
const latin1Decoder = NodeBuffer === null ? new TextDecoder("latin1") : null;
const utf16Decoder = NodeBuffer === null ? new TextDecoder("utf-16le", { ignoreBOM: true }) : null;
function latin1(lo, hi) {
  return BUF !== null ? BUF.latin1Slice(lo, hi) : latin1Decoder.decode(memView(lo, hi - lo));
}
// The decoded text of the call whose control block is at `textCtl`: the
// last ASCII span (memory from asciiLo to asciiHi) and the UTF-16 buffer.
let textCtl = 0;
let asciiText = "";
let asciiLo = 0;
let asciiHi = 0;
let text16 = null;
function resetSpans(ctl) {
  textCtl = ctl;
  asciiText = "";
  asciiLo = asciiHi = 0;
  text16 = null;
  // And the binary span (see bytesOut).
  byteSpan = null;
  byteLo = byteHi = 0;
  inputLo = ctl === 0 ? 0 : U32[ctl + CTL_INPUT_PTR];
  inputHi = ctl === 0 ? 0 : inputLo + U32[ctl + CTL_INPUT_CAP];
}

// How far apart two pieces (ASCII text, or small binary) may lie and still
// be copied or decoded together.
const SPAN_GAP = 256;
// The pieces that follow record `i` (at `ptr`, `len` bytes) in memory,
// each at most SPAN_GAP bytes after the one before: records whose meta word
// masked by `mask` is `want`, of at most `maxLen` bytes, ending by `limit`
// (others in between are skipped). Sets spanEnd (where the last one ends)
// and spanPieces (how many, this one included).
let spanEnd = 0;
let spanPieces = 0;
function scanSpan(base, i, count, mask, want, ptr, len, maxLen, limit) {
  let end = ptr + len;
  let pieces = 1;
  for (let j = i + 1; j < count; j++) {
    const r = base + j * REC_WORDS;
    if ((U32[r] & mask) !== want) continue;
    const at = U32[r + 1];
    const n = U32[r + 2];
    if (n > maxLen || at < end || at - end > SPAN_GAP || at + n > limit) break;
    end = at + n;
    pieces++;
  }
  spanEnd = end;
  spanPieces = pieces;
}

const ASCII_TEXT = (FLAG_ASCII << 8) | KIND_TEXT;

function decodeText(base, i, count, flags, ptr, len) {
  if ((flags & FLAG_ASCII) !== 0) {
    if (ptr < asciiLo || ptr + len > asciiHi) {
      // This piece and the ASCII pieces that closely follow it.
      scanSpan(base, i, count, (FLAG_ASCII << 8) | 0xff, ASCII_TEXT, ptr, len, Infinity, Infinity);
      asciiLo = ptr;
      asciiHi = spanEnd;
      asciiText = latin1(ptr, spanEnd);
    }
    if (ptr === asciiLo && ptr + len === asciiHi) return asciiText;
    return asciiText.slice(ptr - asciiLo, ptr - asciiLo + len);
  }
  if ((flags & FLAG_UTF16) !== 0) {
    const units = U32[textCtl + CTL_TEXT16_LEN];
    if (text16 === null) {
      const at = U32[textCtl + CTL_TEXT16_PTR];
      text16 = BUF !== null ? BUF.ucs2Slice(at, at + 2 * units) : utf16Decoder.decode(memView(at, 2 * units));
    }
    if (len === units) return text16;
    return text16.slice(ptr, ptr + len);
  }
  return decoder.decode(memView(ptr, len));
}

// Bytes out of wasm memory. Up to 64 bytes, slice() (V8 keeps such arrays
// on its heap: cheap). Up to 4 KiB, a copy into a shared 64 KiB pool, as
// Node's Buffer.allocUnsafe does: measured in Node 20, slice() of 100 B to
// 4 KiB costs 0.8-3 us for its own backing store, the pooled copy 0.1-0.9
// us (the pool's own zeroed allocation, about 100 ns per KiB of fresh
// memory here, included). So such results may share an ArrayBuffer
// (byteOffset says where each starts); no part of the pool is ever handed
// out or written twice.
const POOL_SIZE = 64 * 1024;
const POOL_MAX = 4096;
let pool = new Uint8Array(0);
let poolAt = 0;
function copyOut(ptr, len) {
  if (len <= 64 || len > POOL_MAX) return U8.slice(ptr, ptr + len);
  const at = poolCopy(ptr, len);
  return new Uint8Array(pool.buffer, at, len);
}

// Copies `len` (at most POOL_MAX) bytes of wasm memory into the pool;
// returns where in pool.buffer they start.
function poolCopy(ptr, len) {
  // A pool detached by a transfer has length 0: start a new one.
  if (poolAt + len > pool.length) {
    pool = new Uint8Array(POOL_SIZE);
    poolAt = 0;
  }
  pool.set(memView(ptr, len), poolAt);
  const at = poolAt;
  poolAt = (poolAt + len + 7) & ~7;
  return at;
}

// Binary payloads of up to POOL_MAX bytes that lie close together in the
// input buffer (small messages parsed from one chunk, unmasked in place)
// are copied out together: one copy of their span (at most SPAN_MAX
// bytes), and each event a view into it. A view costs about half a slice()
// of its own. A span of up to POOL_MAX bytes is copied into the pool, a
// larger one by slice() (measured in Node 20, 125 B messages fed in 1460 B
// chunks: 620-680 ns a message with slice() for every span, 440 with the
// pool). Such events share an ArrayBuffer, as the pool's do, and only the
// input is spanned: what lies between the payloads is this chunk's frame
// headers, never other wasm memory. Fewer than SPAN_MIN pieces: one copy
// each (a span of a few is no cheaper).
const SPAN_MAX = 64 * 1024;
const SPAN_MIN = 8;
let inputLo = 0;
let inputHi = 0;
let byteSpan = null;
let byteBase = 0;
let byteLo = 0;
let byteHi = 0;
function bytesOut(base, i, count, ptr, len) {
  if (ptr >= byteLo && ptr + len <= byteHi) return new Uint8Array(byteSpan, byteBase + ptr - byteLo, len);
  if (len > POOL_MAX || ptr < inputLo || ptr + len > inputHi) return copyOut(ptr, len);
  // This piece and the small binary pieces in the input that closely follow it.
  scanSpan(base, i, count, 0xff, KIND_BYTES, ptr, len, POOL_MAX, Math.min(inputHi, ptr + SPAN_MAX));
  if (spanPieces < SPAN_MIN) return copyOut(ptr, len);
  if (spanEnd - ptr <= POOL_MAX) {
    byteBase = poolCopy(ptr, spanEnd - ptr);
    byteSpan = pool.buffer;
  } else {
    byteBase = 0;
    byteSpan = U8.slice(ptr, spanEnd).buffer;
  }
  byteLo = ptr;
  byteHi = spanEnd;
  return new Uint8Array(byteSpan, byteBase, len);
}

// Builds the JS event for record `i` of the `count` records of the table at
// word index `base`.
function decodeRecord(base, i, count) {
  const r = base + i * REC_WORDS;
  const meta = U32[r];
  const kind = meta & 0xff;
  const flags = (meta >>> 8) & 0xff;
  const code = meta >>> 16;
  const ptr = U32[r + 1];
  const len = U32[r + 2];
  switch (kind) {
    case KIND_TEXT:
      return rawMessage(TextMessage, decodeText(base, i, count, flags, ptr, len), flags);
    case KIND_BYTES:
      return rawMessage(BytesMessage, bytesOut(base, i, count, ptr, len), flags);
    case KIND_PING:
      return new Ping({ payload: copyOut(ptr, len) });
    case KIND_PONG:
      return new Pong({ payload: copyOut(ptr, len) });
    case KIND_CLOSE:
      return new CloseConnection({ code, reason: decoder.decode(memView(ptr, len)) });
    case KIND_REJECT_DATA:
      return new RejectData({ data: copyOut(ptr, len), bodyFinished: (flags & FLAG_BODY) !== 0 });
    case KIND_REQUEST: {
      const b = new BlobReader(ptr, len);
      const host = b.string();
      const target = b.string();
      const subprotocols = b.strings();
      // Offers arrive as strings (as written); the handler list is empty.
      const extensions = b.strings();
      b.handlers();
      return new Request({ host, target, subprotocols, extensions, extraHeaders: b.headers() });
    }
    case KIND_ACCEPT: {
      const b = new BlobReader(ptr, len);
      const [subprotocol = null] = b.strings();
      const extensions = b.strings();
      const handlers = b.handlers();
      const e = new AcceptConnection({ subprotocol, extensions, extraHeaders: b.headers() });
      e.handlers = handlers;
      return e;
    }
    case KIND_REJECT: {
      const b = new BlobReader(ptr, len);
      return new RejectConnection({ statusCode: code, headers: b.headers(), hasBody: (flags & FLAG_BODY) !== 0 });
    }
    default:
      throw new Error(`wsproto: unknown event kind ${kind} from wasm`);
  }
}

// ---- connections ------------------------------------------------------------------------

const QUEUE_MAX = 65536;

const MAX_U64 = (1n << 64n) - 1n;

function u64Option(value, what) {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw typeError(`${what} must be a non-negative integer, not ${value}`);
    value = BigInt(value);
  }
  if (typeof value !== "bigint") throw typeError(`${what} must be a number or a bigint, not ${describe(value)}`);
  if (value < 0n || value > MAX_U64) throw new RangeError(`${what} must be between 0 and 2**64-1`);
  return value;
}

function u32Option(value, what) {
  if (value === undefined || value === null) return undefined;
  return checkInt(value, what, 0, 0xffffffff);
}

function checkType(connectionType) {
  if (connectionType !== ConnectionType.CLIENT && connectionType !== ConnectionType.SERVER) {
    throw typeError(`connectionType must be ConnectionType.CLIENT or ConnectionType.SERVER, not ${describe(connectionType)}`);
  }
  return connectionType;
}

// What WSConnection and Connection share: the handle, the event queue and
// the boundary calls. Not exported: the two are not subclasses of each other.
class Engine {
  constructor(connectionType, opts, frameOnly, trailingData, extensions) {
    if (wasm === null) {
      throw new Error("wsproto: the WebAssembly module is not loaded yet; call `await init()` first");
    }
    this._type = checkType(connectionType);
    const o = options(opts, "options");
    const handle = new WasmConn(
      connectionType,
      frameOnly,
      u64Option(o.maxMessageSize, "maxMessageSize"),
      u64Option(o.maxFrameSize, "maxFrameSize"),
      u32Option(o.maxHandshakeSize, "maxHandshakeSize"),
      u32Option(o.maxHeaders, "maxHeaders"),
      // Test-only: deterministic mask keys and Sec-WebSocket-Key.
      u64Option(o.randomSeed, "randomSeed"),
      trailingData,
      extensions,
    );
    // The glue registers `handle` with a FinalizationRegistry: if the user
    // never calls free(), the wasm memory goes when this object is collected.
    this._h = handle;
    this._ctl = handle.ctl() >>> 2;
    this._queue = [];
    this._head = 0;
    // Queue index of a received close: the state changes when it is yielded.
    this._closeAt = -1;
    // The state that close leads to, if free() came before it was yielded.
    this._closedState = ConnectionState.CLOSED;
    this._state = ConnectionState.CONNECTING;
    refreshViews();
    const status = U32[this._ctl + CTL_STATUS];
    if (status !== STATUS_OK) {
      const message = this._errorMessage();
      handle.free();
      this._h = null;
      throw new LocalProtocolError(message);
    }
    this._collect(status);
  }

  /** The connection's state, a ConnectionState value. */
  get state() {
    return this._state;
  }

  /** Whether this is the client end. */
  get client() {
    return this._type === ConnectionType.CLIENT;
  }

  _handle() {
    if (this._h === null) throw new LocalProtocolError("this connection has been freed");
    return this._h;
  }

  /**
   * Feeds bytes read from the network (a Uint8Array; a Node Buffer is one),
   * or null when the peer closed the transport. Events become available
   * from events(). Throws RemoteProtocolError when the peer breaks the
   * opening handshake; frame-level errors arrive as a CloseConnection event.
   */
  receiveData(data) {
    const h = this._handle();
    let status;
    // Only an explicit null is the end of the stream: a forgotten argument
    // (undefined) is a TypeError rather than a silent close.
    if (data === null) {
      status = h.receive_eof();
    } else {
      const bytes = bytesIn(data, "receiveData(data)");
      const len = byteLength(bytes);
      refreshViews();
      if (len > U32[this._ctl + CTL_INPUT_CAP]) {
        if (h.reserve_input(len) !== STATUS_OK) throw outOfMemory(len);
        refreshViews();
      }
      U8.set(bytes, U32[this._ctl + CTL_INPUT_PTR]);
      status = h.receive(len);
    }
    this._collect(status);
  }

  /** Yields the events received so far, removing them from the queue. */
  events() {
    return new EventIterator(this);
  }

  // As in wsproto, a received close moves the state when its event is
  // handed out, so the messages before it can still be answered.
  _closeHandedOut() {
    this._closeAt = -1;
    this._state = this._h !== null ? this._h.take_close() : this._closedState;
  }

  /** Turns an event into the bytes to write to the network (a new Uint8Array). */
  send(event) {
    // Every field is read (and checked) before anything is written to wasm
    // memory: a getter or a Proxy trap that calls back into this connection
    // (send, receiveData, free) must not see or disturb a half-made call.
    let kind, text, bytes, finished, code, blob;
    if (event instanceof TextMessage) {
      kind = KIND_TEXT;
      text = checkString(event.data, "TextMessage.data");
      finished = checkBool(event.messageFinished, "TextMessage.messageFinished");
    } else if (event instanceof BytesMessage) {
      kind = KIND_BYTES;
      bytes = bytesIn(event.data, "BytesMessage.data");
      finished = checkBool(event.messageFinished, "BytesMessage.messageFinished");
    } else if (event instanceof Ping || event instanceof Pong) {
      kind = event instanceof Ping ? KIND_PING : KIND_PONG;
      bytes = bytesIn(event.payload, `${kind === KIND_PING ? "Ping" : "Pong"}.payload`);
      finished = true;
    } else if (event instanceof CloseConnection) {
      kind = KIND_CLOSE;
      code = event.code;
      if (typeof code !== "number" || !Number.isInteger(code)) {
        throw typeError(`CloseConnection.code must be an integer, not ${describe(code)}`);
      }
      if (code < 0 || code > 65535) throw new LocalProtocolError(`close code ${code} is outside 1000-4999`);
      text = checkString(event.reason ?? "", "CloseConnection.reason");
    } else if (event instanceof RejectData) {
      kind = KIND_REJECT_DATA;
      bytes = bytesIn(event.data, "RejectData.data");
      finished = checkBool(event.bodyFinished, "RejectData.bodyFinished");
    } else if (event instanceof Request) {
      kind = KIND_REQUEST;
      const w = new BlobWriter();
      w.bytes(checkString(event.host, "Request.host"));
      w.bytes(checkString(event.target, "Request.target"));
      w.strings(checkStrings(event.subprotocols, "Request.subprotocols"));
      const [offers, handlers] = splitExtensions(event.extensions, "Request.extensions");
      w.strings(offers);
      w.handlers(handlers, "Request.extensions");
      w.headers(checkHeaders(event.extraHeaders, "Request.extraHeaders"));
      blob = w.finish();
    } else if (event instanceof AcceptConnection) {
      kind = KIND_ACCEPT;
      const w = new BlobWriter();
      const sub = event.subprotocol;
      w.strings(sub === null || sub === undefined ? [] : [checkString(sub, "AcceptConnection.subprotocol")]);
      const [elements, handlers] = splitExtensions(event.extensions, "AcceptConnection.extensions");
      w.strings(elements);
      w.handlers(handlers, "AcceptConnection.extensions");
      w.headers(checkHeaders(event.extraHeaders, "AcceptConnection.extraHeaders"));
      blob = w.finish();
    } else if (event instanceof RejectConnection) {
      kind = KIND_REJECT;
      const w = new BlobWriter();
      w.headers(checkHeaders(event.headers, "RejectConnection.headers"));
      code = checkInt(event.statusCode, "RejectConnection.statusCode", 100, 999);
      finished = checkBool(event.hasBody, "RejectConnection.hasBody");
      blob = w.finish();
    } else {
      throw typeError(`send() takes a wsproto event, not ${describe(event)}`);
    }
    const h = this._handle();
    const ctl = this._ctl;
    let status;
    if (kind === KIND_TEXT) {
      status = h.send_data(kind, this._writeString(text, SEND_AT), finished);
    } else if (kind === KIND_CLOSE) {
      status = h.send_close(code, this._writeString(text));
    } else if (blob !== undefined) {
      status = h.send_handshake(kind, this._writeBytes(blob), kind === KIND_REJECT ? code : 0, kind === KIND_REJECT && finished);
    } else {
      status = h.send_data(kind, this._writeBytes(bytes, SEND_AT), finished);
    }
    refreshViews();
    this._state = U32[ctl + CTL_STATE];
    if (status !== STATUS_OK) throw new LocalProtocolError(this._errorMessage());
    const len = U32[ctl + CTL_OUT_LEN];
    const out = copyOut(U32[ctl + CTL_OUT_PTR], len);
    // The frame may lie in scratch: large buffers go once it is copied, and
    // so does what the handshake's response was built in.
    if (len > KEEP_BYTES || U32[ctl + CTL_SCRATCH_CAP] > KEEP_BYTES || blob !== undefined) h.release(blob !== undefined);
    // Frames that came with the request are parsed once the server accepts:
    // their events are available at once, as in the Rust API.
    if (kind === KIND_ACCEPT) this._collect(h.drain_events());
    return out;
  }

  /** Frees the wasm memory now; the connection cannot be used afterwards. */
  free() {
    if (this._h !== null) {
      // A received close still queued moves the state when it is yielded,
      // as before free(): the state it leads to, while wasm can tell.
      if (this._closeAt !== -1) this._closedState = this._h.take_close();
      this._h.free();
      this._h = null;
    }
  }

  // Writes `bytes` into scratch at offset `at`; returns their length.
  _writeBytes(bytes, at = 0) {
    const len = byteLength(bytes);
    this._reserveScratch(at + len);
    U8.set(bytes, U32[this._ctl + CTL_SCRATCH_PTR] + at);
    return len;
  }

  // Writes `text` as UTF-8 into scratch at offset `at`; returns its length.
  _writeString(text, at = 0) {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    const max = text.length * 3;
    this._reserveScratch(at + max);
    const ptr = U32[this._ctl + CTL_SCRATCH_PTR] + at;
    return encoder.encodeInto(text, memView(ptr, max)).written;
  }

  _reserveScratch(len) {
    refreshViews();
    if (len > U32[this._ctl + CTL_SCRATCH_CAP]) {
      if (this._h.reserve_scratch(len) !== STATUS_OK) throw outOfMemory(len);
      refreshViews();
    }
  }

  _errorMessage() {
    const ptr = U32[this._ctl + CTL_ERR_PTR];
    return decoder.decode(memView(ptr, U32[this._ctl + CTL_ERR_LEN]));
  }

  // Decodes what the last call published; throws its error after queueing
  // the events that came before it.
  _collect(status) {
    refreshViews();
    const ctl = this._ctl;
    const count = U32[ctl + CTL_COUNT];
    const base = U32[ctl + CTL_RECORDS] >>> 2;
    let large = U32[ctl + CTL_INPUT_CAP] > KEEP_BYTES || U32[ctl + CTL_TEXT16_LEN] * 2 > KEEP_BYTES;
    let handshake = false;
    resetSpans(ctl);
    // What the records point at, in total: many pieces under KEEP_BYTES
    // (inflated messages, pings) must not stay pinned until the next call.
    let total = 0;
    // Everything handed out so far (the usual case; also after an iterator
    // left unfinished, as `const [e] = events()` leaves it): a new queue of
    // the right size. Growing one by push() cost 7 ns an event (measured in
    // Node 20: 16 B messages went from 95 to 83 ns each), and keeping the
    // old one would grow it by every event ever received. Up to QUEUE_MAX:
    // V8 makes a very large `new Array(n)` a slow dictionary (40M here).
    let queue = this._queue;
    let at = queue.length;
    if (count !== 0 && this._head === at) {
      queue = this._queue = count > 1 && count <= QUEUE_MAX ? new Array(count) : [];
      at = this._head = 0;
    }
    try {
      for (let i = 0; i < count; i++) {
        const r = base + i * REC_WORDS;
        queue[at] = decodeRecord(base, i, count);
        if (((U32[r] >>> 8) & FLAG_CLOSE_RECEIVED) !== 0) this._closeAt = at;
        // A handshake event (once per connection): every buffer can go.
        if ((U32[r] & 0xff) <= KIND_REJECT) handshake = true;
        total += U32[r + 2];
        at++;
      }
    } catch (e) {
      // Decoding can fail only for want of memory: no hole is left queued.
      queue.length = at;
      throw e;
    }
    if (total > KEEP_BYTES) large = true;
    this._state = U32[ctl + CTL_STATE];
    let error = null;
    if (status === STATUS_LOCAL) error = new LocalProtocolError(this._errorMessage());
    if (status === STATUS_REMOTE) {
      const hint = U32[ctl + CTL_HINT] ? decodeRecord(base, count, count + 1) : null;
      error = new RemoteProtocolError(this._errorMessage(), hint);
    }
    // Not to keep a large decoded text alive once the user drops it.
    resetSpans(0);
    // Everything is copied out: large buffers can go now.
    if (large || handshake) this._h.release(handshake);
    if (error !== null) throw error;
  }
}

// What events() returns: a generator written out by hand. V8 allocates no
// result object when a hand-written next() is inlined into a for-of loop;
// a generator's it does (measured in Node 20: 7 against 20 ns per event).
// It behaves as the generator it replaces: it starts at the first next(),
// takes events queued meanwhile, is done for good once finished (or after
// return() or throw()), and inherits from %IteratorPrototype%, so that
// iterator helpers work on it.
class EventIterator {
  // Private: logging or serialising the iterator shows nothing of the engine.
  #engine;

  constructor(engine) {
    this.#engine = engine;
  }

  next() {
    const c = this.#engine;
    if (c !== null) {
      if (c._head < c._queue.length) {
        const at = c._head++;
        const event = c._queue[at];
        c._queue[at] = undefined;
        if (at === c._closeAt) c._closeHandedOut();
        return { value: event, done: false };
      }
      c._queue = [];
      c._head = 0;
      this.#engine = null;
    }
    return { value: undefined, done: true };
  }

  return(value) {
    this.#engine = null;
    return { value, done: true };
  }

  throw(error) {
    this.#engine = null;
    throw error;
  }
}
Object.setPrototypeOf(EventIterator.prototype, Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]())));

if (typeof Symbol.dispose === "symbol") {
  Engine.prototype[Symbol.dispose] = Engine.prototype.free;
}

function outOfMemory(len) {
  return new RangeError(`wsproto: cannot allocate ${len} bytes of WebAssembly memory`);
}

function checkStrings(list, what) {
  checkArray(list, what);
  for (const s of list) checkString(s, `${what}[]`);
  return list;
}

/**
 * A WebSocket connection, client or server, starting with the HTTP/1.1
 * opening handshake.
 *
 *     const ws = new WSConnection(ConnectionType.CLIENT, { maxMessageSize: 1 << 20 });
 *
 * Options (all optional): maxMessageSize, maxFrameSize (bytes, default
 * 64 MiB), maxHandshakeSize (bytes, default 16 KiB), maxHeaders (default
 * 100). `randomSeed` (a bigint) makes mask keys predictable: for tests only.
 */
export class WSConnection extends Engine {
  constructor(connectionType, opts) {
    super(connectionType, opts, false, EMPTY, EMPTY);
  }

  /**
   * Starts a server connection from a request that was already read by an
   * HTTP server (an Upgrade): the headers as [name, value] pairs and the
   * request target. A Request event follows.
   */
  initiateUpgradeConnection(headers, path) {
    const w = new BlobWriter();
    w.bytes(checkString(path, "path"));
    w.headers(checkHeaders(headers, "headers"));
    // After the arguments are read: a getter among them may free() this
    // connection (the handle is checked afterwards, as send() does).
    const h = this._handle();
    this._collect(h.upgrade(this._writeBytes(w.finish())));
  }
}

/**
 * A frame-level connection that starts OPEN, for a handshake done
 * elsewhere (RFC 8441, or an HTTP server's upgrade): options as for
 * WSConnection plus `extensions` (the negotiated extensions: PerMessageDeflate
 * objects holding the agreed parameters, window bits null meaning 15, as
 * in a received AcceptConnection's `handlers`) and `trailingData` (bytes
 * received after the handshake, parsed at once).
 */
export class Connection extends Engine {
  constructor(connectionType, opts) {
    const o = options(opts, "options");
    const extensions = checkArray(o.extensions ?? [], "extensions");
    for (const ext of extensions) {
      if (!(ext instanceof PerMessageDeflate)) {
        throw typeError(`extensions must hold PerMessageDeflate objects, not ${describe(ext)}`);
      }
    }
    const w = new BlobWriter();
    w.handlers(extensions, "extensions");
    const trailing = o.trailingData == null ? EMPTY : asBytes(o.trailingData, "trailingData");
    super(connectionType, o, true, trailing, w.finish());
  }
}
