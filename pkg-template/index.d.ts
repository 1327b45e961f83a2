// Types for wsproto, the sans-I/O WebSocket engine (RFC 6455) with the API
// of Python's wsproto. The same declarations serve `import` and `require`.

/** Binary input: a Uint8Array (a Node Buffer is one), an ArrayBuffer or any ArrayBuffer view. */
export type BytesLike = Uint8Array | ArrayBuffer | ArrayBufferView;

/** A header name or value: a string (sent as UTF-8) or bytes. */
export type HeaderPart = string | BytesLike;

/** HTTP headers as [name, value] pairs, in order. */
export type Headers = ReadonlyArray<readonly [HeaderPart, HeaderPart]>;

/** Received headers: byte pairs, names lower-cased (as wsproto's bytes). */
export type ReceivedHeaders = Array<[Uint8Array, Uint8Array]>;

/** Which end of the connection this is (wsproto's values). */
export declare const ConnectionType: {
  readonly CLIENT: 1;
  readonly SERVER: 2;
  readonly [value: number]: string;
};
export type ConnectionType = 1 | 2;

/** RFC 6455 connection states (wsproto's values); `ConnectionState[state]` is the name. */
export declare const ConnectionState: {
  readonly CONNECTING: 0;
  readonly OPEN: 1;
  readonly REMOTE_CLOSING: 2;
  readonly LOCAL_CLOSING: 3;
  readonly CLOSED: 4;
  readonly REJECTING: 5;
  readonly [value: number]: string;
};
export type ConnectionState = 0 | 1 | 2 | 3 | 4 | 5;

/** Named close codes (RFC 6455 section 7.4.1); `CloseReason[code]` is the name. */
export declare const CloseReason: {
  readonly NORMAL_CLOSURE: 1000;
  readonly GOING_AWAY: 1001;
  readonly PROTOCOL_ERROR: 1002;
  readonly UNSUPPORTED_DATA: 1003;
  readonly NO_STATUS_RCVD: 1005;
  readonly ABNORMAL_CLOSURE: 1006;
  readonly INVALID_FRAME_PAYLOAD_DATA: 1007;
  readonly POLICY_VIOLATION: 1008;
  readonly MESSAGE_TOO_BIG: 1009;
  readonly MANDATORY_EXT: 1010;
  readonly INTERNAL_ERROR: 1011;
  readonly SERVICE_RESTART: 1012;
  readonly TRY_AGAIN_LATER: 1013;
  readonly BAD_GATEWAY: 1014;
  readonly TLS_HANDSHAKE_FAILED: 1015;
  readonly [code: number]: string;
};
export type CloseReason = (typeof CloseReason)[Exclude<keyof typeof CloseReason, number>];

/** The local side asked for something the protocol or the state forbids. */
export declare class LocalProtocolError extends Error {
  constructor(message: string);
}

/** The peer broke the opening handshake; `eventHint` is the event to send back. */
export declare class RemoteProtocolError extends Error {
  constructor(message: string, eventHint?: Event | null);
  eventHint: Event | null;
}

/** Base class of every event. */
export declare class Event {}

/** The opening handshake request: sent by a client, received by a server. */
export declare class Request extends Event {
  constructor(options: {
    host: string;
    target: string;
    subprotocols?: string[];
    /** To send: the extensions to offer (PerMessageDeflate objects), and raw offer strings. */
    extensions?: Array<string | PerMessageDeflate>;
    extraHeaders?: Headers;
  });
  host: string;
  target: string;
  subprotocols: string[];
  /** Received: each offer as written by the client ("name; param=value"), always strings. */
  extensions: Array<string | PerMessageDeflate>;
  /** Received: byte pairs (ReceivedHeaders). */
  extraHeaders: Headers;
}

/** The server's acceptance (101 Switching Protocols). */
export declare class AcceptConnection extends Event {
  constructor(options?: {
    subprotocol?: string | null;
    /**
     * To send: the extensions the server supports (PerMessageDeflate
     * objects); each accepts the first acceptable offer of its name.
     */
    extensions?: Array<string | PerMessageDeflate>;
    extraHeaders?: Headers;
  });
  subprotocol: string | null;
  /** Received: the accepted extensions as header elements (strings), as the server wrote them. */
  extensions: Array<string | PerMessageDeflate>;
  /**
   * Received: the negotiated extensions, in the order of `extensions`, with
   * the agreed parameters (every window size set). Empty when sent.
   */
  handlers: PerMessageDeflate[];
  extraHeaders: Headers;
}

/** The server's refusal: any HTTP response but 101. */
export declare class RejectConnection extends Event {
  constructor(options?: { statusCode?: number; headers?: Headers; hasBody?: boolean });
  /** Default 400. */
  statusCode: number;
  headers: Headers;
  /** Whether RejectData events follow. */
  hasBody: boolean;
}

/** A piece of a refusal's body. */
export declare class RejectData extends Event {
  constructor(options: { data: BytesLike; bodyFinished?: boolean });
  data: Uint8Array;
  /** Whether this is the last piece (default true). */
  bodyFinished: boolean;
}

/** A close frame, or (code 1006) the transport ending without one. */
export declare class CloseConnection extends Event {
  constructor(options: { code: number; reason?: string });
  code: number;
  reason: string;
  /** The close to send back: the same code and reason. */
  response(): CloseConnection;
}

/** Options shared by the message classes. */
export interface MessageOptions<T> {
  data: T;
  /** Received only: whether the frame this piece came from is complete. */
  frameFinished?: boolean;
  /** Whether this is the last piece of the message (default true). */
  messageFinished?: boolean;
}

/** A piece of a message; `new Message({data})` returns a TextMessage or a BytesMessage. */
export declare class Message extends Event {
  constructor(options: MessageOptions<string>);
  constructor(options: MessageOptions<BytesLike>);
  data: string | Uint8Array;
  frameFinished: boolean;
  messageFinished: boolean;
}

/** A piece of a text message. */
export declare class TextMessage extends Message {
  constructor(options: MessageOptions<string>);
  data: string;
}

/** A piece of a binary message. */
export declare class BytesMessage extends Message {
  constructor(options: MessageOptions<BytesLike>);
  data: Uint8Array;
}

/** A ping (payload up to 125 bytes); reply with `response()`. */
export declare class Ping extends Event {
  constructor(options?: { payload?: BytesLike });
  payload: Uint8Array;
  /** The Pong that answers this ping. */
  response(): Pong;
}

/** A pong (payload up to 125 bytes). */
export declare class Pong extends Event {
  constructor(options?: { payload?: BytesLike });
  payload: Uint8Array;
}

/** The options of PerMessageDeflate (all optional). */
export interface PerMessageDeflateOptions {
  /** Client: offer to reset its compressor after each message. Server: require it. Default false. */
  clientNoContextTakeover?: boolean;
  /**
   * 8 to 15. Client: the largest window it will compress with (null, the
   * default: offered without a value, so the server may choose). Server: the
   * window imposed on a client that allows it (null: the client's choice).
   */
  clientMaxWindowBits?: number | null;
  /** Client: ask the server to reset its compressor after each message. Server: do so. Default false. */
  serverNoContextTakeover?: boolean;
  /**
   * 8 to 15. Client: the largest window asked of the server (null, the
   * default: not asked). Server: the largest it uses (null: as asked, else 15).
   * A direction limited to 8 is sent uncompressed (zlib needs 9).
   */
  serverMaxWindowBits?: number | null;
  /** Whole messages shorter than this many bytes are sent uncompressed. Default 0. */
  compressionThreshold?: number;
  /** zlib's compression level, 0 (store) to 9 (best). Default 6. */
  compressionLevel?: number;
  /**
   * Keep the ~270 KiB compressor between messages: the best ratio and the
   * fastest small messages, every message compressed. Default false: a new
   * compressor per message, primed with the last 4 KiB sent.
   */
  keepCompressor?: boolean;
}

/**
 * permessage-deflate (RFC 7692) with wsproto's defaults: context takeover
 * both ways, window bits not set. Offer it in `Request.extensions`, support
 * it in `AcceptConnection.extensions`, or (negotiated) pass it to
 * `Connection`. Decompression is bounded by `maxMessageSize` while it runs.
 * Memory: about 55 KiB per connection once messages flowed (the
 * decompressor's window and 4 KiB of history, the next message's
 * dictionary); the ~270 KiB compressor exists only while a message is
 * compressed.
 */
export declare class PerMessageDeflate {
  constructor(options?: PerMessageDeflateOptions);
  readonly name: "permessage-deflate";
  clientNoContextTakeover: boolean;
  /** 8 to 15, or null (not set). */
  clientMaxWindowBits: number | null;
  serverNoContextTakeover: boolean;
  /** 8 to 15, or null (not set). */
  serverMaxWindowBits: number | null;
  compressionThreshold: number;
  compressionLevel: number;
  keepCompressor: boolean;
}

/** Limits; each one fails cleanly (1009 close, or a 431 RemoteProtocolError). */
export interface ConnectionOptions {
  /** Largest message accepted, in bytes. Default 64 MiB. */
  maxMessageSize?: number | bigint;
  /** Largest frame payload accepted, in bytes. Default 64 MiB. */
  maxFrameSize?: number | bigint;
  /** Largest HTTP head, in bytes. Default 16 KiB. */
  maxHandshakeSize?: number;
  /** Most header lines in an HTTP head. Default 100. */
  maxHeaders?: number;
  /**
   * TEST ONLY: a seed for a deterministic random source, so that mask keys
   * and Sec-WebSocket-Key are predictable. Never use it for real traffic.
   */
  randomSeed?: number | bigint;
}

/** What WSConnection and Connection have in common. */
declare abstract class ConnectionBase {
  /**
   * The current state. A received close frame changes it (to REMOTE_CLOSING,
   * or CLOSED after our own close) when events() yields its CloseConnection,
   * as in wsproto: messages that arrived before it can still be answered.
   */
  readonly state: ConnectionState;
  /** Whether this is the client end. */
  readonly client: boolean;
  /** Feeds bytes read from the network, or null at end of stream. */
  receiveData(data: BytesLike | null): void;
  /** Yields (and removes) the events received so far. */
  events(): Generator<Event, void, undefined>;
  /** The bytes to write to the network for `event`. */
  send(event: Event): Uint8Array;
  /** Frees the wasm memory now (otherwise done when garbage-collected). */
  free(): void;
  /** The same as free(), for `using` (TypeScript 5.2+ with lib esnext.disposable or @types/node). */
  [Symbol.dispose](): void;
}

/** A WebSocket connection starting with the HTTP/1.1 opening handshake. */
export declare class WSConnection extends ConnectionBase {
  constructor(connectionType: ConnectionType, options?: ConnectionOptions);
  /** Server: starts from a request an HTTP server already read (an Upgrade). */
  initiateUpgradeConnection(headers: Headers, path: string): void;
}

/** A frame-level connection that starts OPEN (handshake done elsewhere). */
export declare class Connection extends ConnectionBase {
  constructor(
    connectionType: ConnectionType,
    options?: ConnectionOptions & {
      /**
       * The negotiated extensions, with the agreed parameters (window bits
       * null: 15), e.g. a received AcceptConnection's `handlers`.
       */
      extensions?: PerMessageDeflate[];
      /** Bytes that arrived after the handshake; parsed at once. */
      trailingData?: BytesLike;
    },
  );
}

/** Synchronous instantiation from bytes or a compiled module (Node and Deno do it for you). */
export declare function initSync(module: BufferSource | WebAssembly.Module): void;

/**
 * Loads the wasm module (browsers: call once before creating connections).
 * Idempotent. Defaults to fetching the .wasm file next to the module.
 */
export declare function init(
  input?: string | URL | Response | BufferSource | WebAssembly.Module | Promise<Response>,
): Promise<void>;
export default init;
