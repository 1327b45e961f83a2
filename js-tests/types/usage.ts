// Type-checked usage of the whole API (`tsc -p js-tests/types --noEmit --strict`):
// compiling proves the declarations in pkg/index.d.ts describe what a user
// writes. Never run; js-tests/node runs the same calls.
import init, {
  AcceptConnection,
  BytesMessage,
  CloseConnection,
  CloseReason,
  Connection,
  ConnectionState,
  ConnectionType,
  Event,
  initSync,
  LocalProtocolError,
  Message,
  PerMessageDeflate,
  type PerMessageDeflateOptions,
  Ping,
  Pong,
  RejectConnection,
  RejectData,
  RemoteProtocolError,
  Request,
  TextMessage,
  WSConnection,
} from "wsproto";

declare function write(bytes: Uint8Array): void;
declare const chunk: Uint8Array | null;

export async function browserStart(): Promise<void> {
  await init();
  await init(new URL("https://example.com/wsproto.wasm"));
  initSync(new Uint8Array(8));
}

export function client(): ConnectionState {
  const ws = new WSConnection(ConnectionType.CLIENT, { maxMessageSize: 1 << 20, maxFrameSize: 1n << 20n, maxHandshakeSize: 8192, maxHeaders: 50 });
  write(ws.send(new Request({ host: "example.com", target: "/foo", subprotocols: ["chat"], extensions: ["x-ext", new PerMessageDeflate({ clientNoContextTakeover: true, clientMaxWindowBits: 12, serverNoContextTakeover: false, serverMaxWindowBits: null })], extraHeaders: [["x-a", "b"], [new Uint8Array(1), new Uint8Array(1)]] })));
  ws.receiveData(chunk);
  for (const event of ws.events()) {
    if (event instanceof AcceptConnection) {
      const sub: string | null = event.subprotocol;
      const accepted: Array<string | PerMessageDeflate> = event.extensions;
      for (const agreed of event.handlers) {
        const bits: number | null = agreed.clientMaxWindowBits;
        void [bits, agreed.serverMaxWindowBits, agreed.clientNoContextTakeover, agreed.serverNoContextTakeover];
        using frames = new Connection(ConnectionType.CLIENT, { extensions: [agreed] });
        void frames;
      }
      void [sub, accepted];
    } else if (event instanceof RejectConnection) {
      const status: number = event.statusCode;
      const more: boolean = event.hasBody;
      void [status, more, event.headers];
    } else if (event instanceof RejectData) {
      const body: Uint8Array = event.data;
      void [body, event.bodyFinished];
    } else if (event instanceof CloseConnection) {
      const code: number = event.code;
      const reason: string = event.reason;
      void [code, reason];
      write(ws.send(event.response()));
    } else if (event instanceof Ping) {
      write(ws.send(event.response()));
    } else if (event instanceof Pong) {
      const p: Uint8Array = event.payload;
      void p;
    } else if (event instanceof TextMessage) {
      const text: string = event.data;
      void [text, event.frameFinished, event.messageFinished];
    } else if (event instanceof BytesMessage) {
      const bytes: Uint8Array = event.data;
      void bytes;
    }
  }
  write(ws.send(new TextMessage({ data: "hi", messageFinished: false })));
  write(ws.send(new BytesMessage({ data: new Uint8Array(3) })));
  write(ws.send(new Message({ data: "either" })));
  write(ws.send(new Ping({ payload: new Uint8Array(0) })));
  write(ws.send(new Pong()));
  write(ws.send(new CloseConnection({ code: CloseReason.NORMAL_CLOSURE, reason: "bye" })));
  const closed: boolean = ws.state === ConnectionState.CLOSED;
  void closed;
  const name: string | undefined = ConnectionState[ws.state];
  void name;
  const isClient: boolean = ws.client;
  void isClient;
  ws.free();
  return ws.state;
}

export function server(): void {
  const ws = new WSConnection(ConnectionType.SERVER, { randomSeed: 42n });
  try {
    ws.receiveData(new Uint8Array(0));
  } catch (err) {
    if (err instanceof RemoteProtocolError && err.eventHint !== null) {
      write(ws.send(err.eventHint));
    } else if (err instanceof LocalProtocolError) {
      const m: string = err.message;
      void m;
    }
  }
  for (const event of ws.events()) {
    if (event instanceof Request) {
      const target: string = event.target;
      const host: string = event.host;
      const offered: string[] = event.subprotocols;
      void [target, host, offered, event.extensions, event.extraHeaders];
      write(ws.send(new AcceptConnection({ subprotocol: offered[0] ?? null, extensions: [new PerMessageDeflate({ clientMaxWindowBits: 12 })], extraHeaders: [] })));
    }
  }
  write(ws.send(new RejectConnection({ statusCode: 403, headers: [["content-length", "0"]], hasBody: true })));
  write(ws.send(new RejectData({ data: new Uint8Array(0), bodyFinished: true })));
  ws.initiateUpgradeConnection([["host", "example.com"]], "/path");
}

export function frames(): void {
  using conn = new Connection(ConnectionType.SERVER, { trailingData: new Uint8Array(0), extensions: [], maxMessageSize: 100 });
  conn.receiveData(null);
  const all: Event[] = [...conn.events()];
  void all;
  const deflate = new PerMessageDeflate();
  const bits: number | null = deflate.serverMaxWindowBits;
  const n: "permessage-deflate" = deflate.name;
  void [bits, n, deflate.clientNoContextTakeover, deflate.serverNoContextTakeover, deflate.clientMaxWindowBits];
  const options: PerMessageDeflateOptions = { serverMaxWindowBits: 9, compressionThreshold: 1024, compressionLevel: 1 };
  const tuned = new PerMessageDeflate(options);
  const level: number = tuned.compressionLevel;
  const threshold: number = tuned.compressionThreshold;
  void [level, threshold];
  using negotiated = new Connection(ConnectionType.CLIENT, { extensions: [tuned, new PerMessageDeflate({ clientMaxWindowBits: 8 })] });
  void negotiated;
}

// Mistakes the types catch.
// @ts-expect-error host is required
new Request({ target: "/" });
// @ts-expect-error TextMessage data is a string
new TextMessage({ data: new Uint8Array(1) });
// @ts-expect-error a ConnectionType, not a string
new WSConnection("client");
// @ts-expect-error code is a number
new CloseConnection({ code: "1000" });
// @ts-expect-error window bits are numbers
new PerMessageDeflate({ clientMaxWindowBits: "15" });
// @ts-expect-error a frame-only Connection takes extension objects, not offers
new Connection(ConnectionType.SERVER, { extensions: ["permessage-deflate"] });
