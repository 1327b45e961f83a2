// One end of the browser demo's WebSocket connection: a wsproto
// WSConnection and the glue the seed guide describes, over any transport
// (`write(bytes)`, `end()`), reporting every step to `log(entry)`. The page
// runs the client and, for the in-page pipe, the server; the worker runs
// the server for the MessageChannel transport. The server is the guide's
// echo server: it accepts the Request, echoes every message, answers pings
// and closes, and closes the transport once the closing handshake is done.

const short = (s, n = 80) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
const textOf = (bytes) => new TextDecoder().decode(bytes);
const at = () => performance.timeOrigin + performance.now();

function describeData(data) {
  if (typeof data === "string") return `${JSON.stringify(short(data))} (${data.length} chars)`;
  const head = Array.from(data.subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join(" ");
  return `${data.length} bytes${data.length ? ` [${head}${data.length > 8 ? " …" : ""}]` : ""}`;
}

/**
 * Whether this build of the package can negotiate permessage-deflate: a
 * whole in-memory handshake and one compressed message. { ok, reason }.
 */
export function deflateSupport(W) {
  const client = new W.WSConnection(W.ConnectionType.CLIENT);
  const server = new W.WSConnection(W.ConnectionType.SERVER);
  try {
    server.receiveData(client.send(new W.Request({ host: "demo", target: "/", extensions: [new W.PerMessageDeflate()] })));
    [...server.events()];
    client.receiveData(server.send(new W.AcceptConnection({ extensions: [new W.PerMessageDeflate()] })));
    const [accept] = client.events();
    if (!(accept instanceof W.AcceptConnection) || accept.extensions.length === 0) {
      return { ok: false, reason: "the server did not agree to permessage-deflate" };
    }
    const text = "compress me ".repeat(20);
    const frame = client.send(new W.TextMessage({ data: text }));
    server.receiveData(frame);
    const got = [...server.events()].map((e) => e.data).join("");
    if ((frame[0] & 0x40) === 0 || got !== text) return { ok: false, reason: "a compressed round trip failed" };
    return { ok: true, reason: `negotiated: ${accept.extensions.join(", ")}` };
  } catch (err) {
    return { ok: false, reason: err.message };
  } finally {
    client.free();
    server.free();
  }
}

export class Endpoint {
  /**
   * @param W        the wsproto module, initialised
   * @param role     "client" or "server"
   * @param options  { deflate, write(bytes), end(), log(entry) }
   */
  constructor(W, role, { deflate = false, write, end, log }) {
    this.W = W;
    this.role = role;
    this.deflate = deflate;
    this.transport = { write, end };
    this.logTo = log;
    this.ws = new W.WSConnection(role === "client" ? W.ConnectionType.CLIENT : W.ConnectionType.SERVER);
    this.pieces = []; // the message being received, piece by piece
    this.ended = false; // we ended the transport
    this.freed = false;
  }

  get state() {
    return this.freed ? "FREED" : this.W.ConnectionState[this.ws.state];
  }

  log(dir, kind, text, extra = {}) {
    this.logTo({ side: this.role, dir, kind, text, state: this.state, at: at(), ...extra });
  }

  /** Client: start the opening handshake. */
  open(host) {
    const { W } = this;
    const extensions = this.deflate ? [new W.PerMessageDeflate()] : [];
    this.#send(new W.Request({ host, target: "/demo", subprotocols: ["demo.v1"], extensions }),
      `Request GET /demo${this.deflate ? ", offering permessage-deflate" : ""}`);
  }

  /** Bytes from the transport, or null at its end. */
  receive(chunk) {
    const { W, ws } = this;
    if (this.freed) return;
    if (chunk === null) {
      this.log("note", "EOF", "the transport ended: receiveData(null)");
    }
    try {
      ws.receiveData(chunk);
    } catch (err) {
      if (!(err instanceof W.RemoteProtocolError)) throw err;
      this.log("error", "RemoteProtocolError", err.message);
      if (err.eventHint) this.#send(err.eventHint, `${err.eventHint.constructor.name} ${err.eventHint.statusCode ?? ""}`);
      this.#end();
      return;
    }
    for (const event of ws.events()) this.#handle(event);
    if (chunk === null) this.#end();
  }

  /** What the person asked for: { kind: "text" | "binary" | "ping" | "close", ... }. */
  act(action) {
    const { W } = this;
    if (this.freed) return;
    try {
      if (action.kind === "text") {
        this.#send(new W.TextMessage({ data: action.data }), `TextMessage ${describeData(action.data)}`);
      } else if (action.kind === "binary") {
        this.#send(new W.BytesMessage({ data: action.data }), `BytesMessage ${describeData(action.data)}`);
      } else if (action.kind === "ping") {
        this.#send(new W.Ping({ payload: action.payload }), `Ping ${JSON.stringify(textOf(action.payload))}`);
      } else if (action.kind === "close") {
        this.#send(new W.CloseConnection({ code: action.code, reason: action.reason }), `CloseConnection ${action.code} ${JSON.stringify(action.reason)}`);
      }
    } catch (err) {
      // The state machine refuses what the protocol forbids, and changes nothing.
      this.log("error", err.name, err.message);
    }
  }

  /** Drop the connection: no more input is handled. */
  free() {
    if (this.freed) return;
    this.ended = this.freed = true;
    this.ws.free();
  }

  #send(event, what) {
    const bytes = this.ws.send(event);
    this.log("out", event.constructor.name, `${what} → ${bytes.length} bytes`, { bytes: bytes.length });
    this.transport.write(bytes);
  }

  #end() {
    if (this.ended) return;
    this.ended = true;
    this.transport.end();
  }

  #handle(event) {
    const { W, ws } = this;
    if (event instanceof W.Request) {
      const offered = event.extensions.length ? `; extensions offered: ${event.extensions.join(", ")}` : "";
      this.log("in", "Request", `${event.target} from ${event.host}; subprotocols: ${event.subprotocols.join(", ") || "none"}${offered}`);
      const extensions = this.deflate ? [new W.PerMessageDeflate()] : [];
      this.#send(new W.AcceptConnection({ subprotocol: event.subprotocols[0] ?? null, extensions }), "AcceptConnection 101");
    } else if (event instanceof W.AcceptConnection) {
      this.log("in", "AcceptConnection", `subprotocol ${event.subprotocol}; extensions: ${event.extensions.join(", ") || "none"}`,
        { extensions: event.extensions.join(", ") });
    } else if (event instanceof W.RejectConnection) {
      this.log("in", "RejectConnection", `status ${event.statusCode}`);
    } else if (event instanceof W.RejectData) {
      this.log("in", "RejectData", describeData(event.data));
    } else if (event instanceof W.TextMessage || event instanceof W.BytesMessage) {
      // A message may arrive in pieces, as many as the transport made.
      this.pieces.push(event.data);
      if (!event.messageFinished) return;
      const pieces = this.pieces;
      this.pieces = [];
      const data = event instanceof W.TextMessage ? pieces.join("") : concat(pieces);
      const kind = event.constructor.name;
      this.log("in", kind, `${describeData(data)}${pieces.length > 1 ? `, in ${pieces.length} events` : ""}`,
        { length: data.length, pieces: pieces.length, preview: typeof data === "string" ? data.slice(0, 100) : "" });
      if (this.role === "server" && ws.state === W.ConnectionState.OPEN) {
        // The echo: one whole message back.
        const Echo = event.constructor;
        this.#send(new Echo({ data }), `${kind} (echo) ${describeData(data)}`);
      }
    } else if (event instanceof W.Ping) {
      this.log("in", "Ping", JSON.stringify(textOf(event.payload)));
      this.#send(event.response(), "Pong (the response)");
    } else if (event instanceof W.Pong) {
      this.log("in", "Pong", JSON.stringify(textOf(event.payload)), { preview: textOf(event.payload) });
    } else if (event instanceof W.CloseConnection) {
      this.log("in", "CloseConnection", `${event.code} ${W.CloseReason[event.code] ?? ""} ${JSON.stringify(event.reason)}`, { code: event.code });
      // Reply if the peer started the closing handshake; after our own close
      // (or the end of the stream) the state is CLOSED already.
      if (ws.state === W.ConnectionState.REMOTE_CLOSING) this.#send(event.response(), `CloseConnection ${event.code} (the response)`);
      // The server tears the connection down once the handshake is over.
      if (this.role === "server") this.#end();
    }
  }
}

function concat(chunks) {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}
