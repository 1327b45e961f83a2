// The chat room behind demo/node/chat.mjs and demo/deno/chat.js: the
// "application glue" of the seed guide's sandwich. It turns wsproto events
// into chat lines and chat lines into wsproto events; it never touches a
// socket. Each server supplies the "network glue" (Node's http server, or
// Deno.listen and a hand-parsed request head) as a transport per client:
//
//   transport = { write(bytes), end() }      // end(): close the TCP connection
//
// The chat protocol is plain text, so any WebSocket client can join:
//   client -> server   a line to say, or "/nick NAME"
//   server -> client   "NAME: text", or "* ..." for news (joins, leaves, names)
// Binary messages are refused with close code 1003 (unsupported data).

/** The largest message the room accepts; larger ones end in a 1009 close. */
export const MAX_MESSAGE = 64 * 1024;

export class ChatRoom {
  /**
   * @param W    the wsproto module (pkg/node.js or pkg/deno.js)
   * @param log  where to print what happens (a line at a time)
   */
  constructor(W, { log = console.log } = {}) {
    this.W = W;
    this.log = log;
    this.clients = new Set(); // every connection, joined or not
    this.count = 0;
  }

  /** A new connection; wsproto's server connection is created here. */
  connect(transport, address = "?") {
    const { W } = this;
    const client = {
      ws: new W.WSConnection(W.ConnectionType.SERVER, { maxMessageSize: MAX_MESSAGE }),
      transport,
      name: `guest-${++this.count}`,
      address,
      joined: false,
      text: "", // the pieces of a text message so far
      timer: null,
      ended: false, // we closed the TCP connection
    };
    this.clients.add(client);
    return client;
  }

  /** Bytes read from the client's socket, or null at the end of the stream. */
  receive(client, data) {
    if (client.ended) return;
    this.#step(client, () => client.ws.receiveData(data));
  }

  /**
   * For a server whose HTTP layer already parsed the upgrade request:
   * `headers` as [name, value] pairs, `path` the request target.
   */
  upgrade(client, headers, path) {
    this.#step(client, () => client.ws.initiateUpgradeConnection(headers, path));
  }

  /** The client's socket is gone (after an error or a normal close). */
  disconnected(client) {
    if (!this.clients.delete(client)) return;
    clearTimeout(client.timer);
    client.ws.free();
    if (client.joined) this.#broadcast(`* ${client.name} left (${this.#online()} online)`);
  }

  /** Say goodbye to everyone with a 1001 close, e.g. on Ctrl-C. */
  shutdown() {
    for (const client of this.clients) {
      if (client.ws.state === this.W.ConnectionState.OPEN) {
        this.#close(client, this.W.CloseReason.GOING_AWAY, "server shutting down");
      } else {
        this.#end(client);
      }
    }
  }

  // Feed wsproto, then handle every event it has. A peer that breaks the
  // opening handshake makes wsproto throw RemoteProtocolError; its eventHint
  // is the HTTP response to send back (400, 426 with the version we speak...).
  #step(client, feed) {
    const { W } = this;
    try {
      feed();
    } catch (err) {
      if (!(err instanceof W.RemoteProtocolError)) throw err;
      this.log(`[${client.name}] bad handshake from ${client.address}: ${err.message}`);
      if (err.eventHint) this.#write(client, client.ws.send(err.eventHint));
      this.#end(client);
      return;
    }
    for (const event of client.ws.events()) this.#handle(client, event);
  }

  #handle(client, event) {
    const { W } = this;
    const { ws } = client;
    if (event instanceof W.Request) {
      this.#accept(client, event);
    } else if (event instanceof W.TextMessage) {
      client.text += event.data;
      if (!event.messageFinished) return;
      const text = client.text;
      client.text = "";
      this.#said(client, text);
    } else if (event instanceof W.BytesMessage) {
      if (ws.state === W.ConnectionState.OPEN) {
        this.log(`[${client.name}] sent binary data: closing with 1003`);
        this.#close(client, W.CloseReason.UNSUPPORTED_DATA, "this chat carries text only");
      }
    } else if (event instanceof W.Ping) {
      this.#write(client, ws.send(event.response()));
    } else if (event instanceof W.CloseConnection) {
      this.log(`[${client.name}] CloseConnection ${event.code}${event.reason ? ` "${event.reason}"` : ""}`);
      // Reply if the client started the closing handshake (not after our own
      // close, nor after the end of the stream, where the state is CLOSED).
      if (ws.state === W.ConnectionState.REMOTE_CLOSING) this.#write(client, ws.send(event.response()));
      // Either way the handshake is over and the server closes the TCP
      // connection (RFC 6455 section 7.1.1).
      this.#end(client);
    }
  }

  #accept(client, request) {
    const { W } = this;
    const { ws } = client;
    const offered = request.extensions.some((e) => /^\s*permessage-deflate\b/i.test(e));
    let bytes = null;
    let deflate = "not offered";
    if (offered) {
      // Accept compression when this build of the package has it; a refused
      // send changes nothing, so a plain accept can follow.
      try {
        bytes = ws.send(new W.AcceptConnection({ extensions: [new W.PerMessageDeflate()] }));
        deflate = "accepted";
      } catch (err) {
        if (!(err instanceof W.LocalProtocolError)) throw err;
        deflate = `declined (${err.message})`;
      }
    }
    bytes ??= ws.send(new W.AcceptConnection());
    this.#write(client, bytes);
    client.joined = true;
    this.log(`[${client.name}] joined from ${client.address} (${request.target}; permessage-deflate ${deflate})`);
    const others = [...this.clients].filter((c) => c.joined && c !== client).map((c) => c.name);
    this.#send(client, `* welcome, ${client.name}! Type /nick NAME to change your name. ` +
      (others.length ? `Also here: ${others.join(", ")}.` : "Nobody else is here yet."));
    this.#broadcast(`* ${client.name} joined (${this.#online()} online)`, client);
  }

  #said(client, text) {
    const nick = /^\/nick\s+(\S{1,32})\s*$/.exec(text);
    if (nick) {
      const old = client.name;
      client.name = nick[1];
      this.#broadcast(`* ${old} is now ${client.name}`);
    } else if (text.startsWith("/")) {
      this.#send(client, "* commands: /nick NAME");
    } else {
      this.#broadcast(`${client.name}: ${text}`);
    }
  }

  #close(client, code, reason) {
    this.#write(client, client.ws.send(new this.W.CloseConnection({ code, reason })));
    // A client that never answers is dropped after a while.
    client.timer = setTimeout(() => this.#end(client), 5000);
  }

  #end(client) {
    if (client.ended) return;
    client.ended = true;
    clearTimeout(client.timer);
    client.transport.end();
  }

  #online() {
    return [...this.clients].filter((c) => c.joined).length;
  }

  #send(client, line) {
    if (client.ws.state !== this.W.ConnectionState.OPEN) return;
    this.#write(client, client.ws.send(new this.W.TextMessage({ data: line })));
  }

  #broadcast(line, except = null) {
    this.log(line);
    for (const client of this.clients) if (client !== except && client.joined) this.#send(client, line);
  }

  #write(client, bytes) {
    if (bytes.length) client.transport.write(bytes);
  }
}

// ---- static files, served beside the chat ---------------------------------

export const CONTENT_TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".cjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".md": "text/markdown; charset=utf-8",
  ".ts": "text/plain; charset=utf-8",
  ".cts": "text/plain; charset=utf-8",
  ".wasm": "application/wasm",
  ".png": "image/png",
  ".svg": "image/svg+xml",
};

/**
 * What a GET for `pathname` serves, relative to the repository root:
 * { file, type }, { redirect }, or null (404). The page layout mirrors the
 * repository, so the browser demo imports ../../pkg/web.js from any server.
 */
export function route(pathname) {
  if (pathname === "/") return { file: "demo/shared/chat.html", type: CONTENT_TYPES[".html"] };
  if (pathname === "/browser" || pathname === "/demo" || pathname === "/demo/" || pathname === "/demo/browser") {
    return { redirect: "/demo/browser/" };
  }
  let rel;
  try {
    rel = decodeURIComponent(pathname).slice(1);
  } catch {
    return null;
  }
  if (rel.split("/").some((part) => part === ".." || part === "." || part.startsWith(".")) || rel.includes("\\") || rel.includes("\0")) {
    return null;
  }
  if (rel === "demo/browser/") rel += "index.html";
  if (!rel.startsWith("demo/browser/") && !rel.startsWith("pkg/") && !rel.startsWith("demo/shared/")) return null;
  const ext = /\.[a-z]+$/.exec(rel)?.[0] ?? "";
  const type = CONTENT_TYPES[ext];
  return type ? { file: rel, type } : null;
}
