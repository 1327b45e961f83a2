// What the Autobahn echo server and echo client share: the package, the
// permessage-deflate probe, and the per-connection echo loop over a Node
// `net` socket.
import * as W from "../../pkg/node.js";

export { W };

/**
 * The PerMessageDeflate settings of both echo peers: the package's
 * defaults, with zlib's level from AUTOBAHN_LEVEL (default 6).
 */
export function deflateOptions() {
  const level = process.env.AUTOBAHN_LEVEL;
  return level === undefined ? {} : { compressionLevel: Number(level) };
}

/**
 * Whether this build of the package negotiates permessage-deflate. The
 * package refuses a `PerMessageDeflate` in a Request or AcceptConnection
 * (LocalProtocolError) until compression lands, so the probe runs a whole
 * handshake in memory: client offer -> server accept -> client sees the
 * extension accepted. AUTOBAHN_DEFLATE=0|1 overrides the probe.
 */
export function deflateSupported() {
  const forced = process.env.AUTOBAHN_DEFLATE;
  if (forced === "0" || forced === "1") return forced === "1";
  let client, server;
  try {
    client = new W.WSConnection(W.ConnectionType.CLIENT);
    server = new W.WSConnection(W.ConnectionType.SERVER);
    server.receiveData(client.send(new W.Request({ host: "probe", target: "/", extensions: [new W.PerMessageDeflate()] })));
    const request = [...server.events()][0];
    if (!(request instanceof W.Request)) return false;
    if (!request.extensions.some((e) => String(e).startsWith("permessage-deflate"))) return false;
    client.receiveData(server.send(new W.AcceptConnection({ extensions: [new W.PerMessageDeflate()] })));
    const accept = [...client.events()][0];
    if (!(accept instanceof W.AcceptConnection)) return false;
    return accept.extensions.some((e) => String(e?.name ?? e).startsWith("permessage-deflate"));
  } catch {
    return false;
  } finally {
    client?.free();
    server?.free();
  }
}

function concat(chunks) {
  if (chunks.length === 1) return chunks[0];
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * Runs one WebSocket connection over `socket` as an echo peer. `ws` is the
 * wsproto connection (its handshake already sent, for a client). Messages
 * are reassembled and echoed whole with the same type; pings are answered;
 * a close is answered, and once the closing handshake is complete the
 * server closes the TCP connection at once while a client waits for the
 * server to do it (RFC 6455 7.1.1), dropping it itself only after
 * `clientDropMs`. Socket EOF is fed as receiveData(null).
 *
 * Hooks: onRequest(request) -> an AcceptConnection / RejectConnection to
 * send (server); onAccept(accept) (client); onMessage(data) -> true if the
 * message was consumed by the hook instead of being echoed (client control
 * connections). Resolves when the socket is closed.
 */
export function runEcho(socket, ws, hooks = {}) {
  const { onRequest, onAccept, onMessage, onReject, clientDropMs = 2000 } = hooks;
  const isClient = ws.client;
  let pieces = [];
  let textMessage = false;
  let finished = false;
  let dropTimer = null;

  const write = (bytes) => {
    if (!socket.destroyed && bytes.length) socket.write(bytes);
  };
  const send = (event) => write(ws.send(event));

  const closedHandshake = () => {
    if (finished) return;
    finished = true;
    if (!isClient) {
      socket.end();
      // A peer that never closes its side does not keep us forever.
      setTimeout(() => socket.destroy(), 5000).unref();
    } else {
      dropTimer = setTimeout(() => socket.destroy(), clientDropMs);
      dropTimer.unref();
    }
  };

  const handle = () => {
    for (const e of ws.events()) {
      if (e instanceof W.Request) {
        send(onRequest ? onRequest(e) : new W.AcceptConnection({}));
        if (ws.state !== W.ConnectionState.OPEN) {
          // Rejected: the response is complete.
          closedHandshake();
          if (isClient) socket.destroy();
        }
      } else if (e instanceof W.AcceptConnection) {
        onAccept?.(e);
      } else if (e instanceof W.RejectConnection || e instanceof W.RejectData) {
        onReject?.(e);
      } else if (e instanceof W.Message) {
        if (pieces.length === 0) textMessage = e instanceof W.TextMessage;
        pieces.push(e.data);
        if (!e.messageFinished) continue;
        const data = textMessage ? pieces.join("") : concat(pieces);
        pieces = [];
        if (onMessage?.(data)) continue;
        if (ws.state !== W.ConnectionState.OPEN) continue;
        send(textMessage ? new W.TextMessage({ data }) : new W.BytesMessage({ data }));
      } else if (e instanceof W.Ping) {
        if (ws.state === W.ConnectionState.OPEN) send(e.response());
      } else if (e instanceof W.CloseConnection) {
        // OPEN: the engine failed the connection on a protocol error and
        // reports the code to send; REMOTE_CLOSING: the peer's close.
        if (ws.state === W.ConnectionState.OPEN || ws.state === W.ConnectionState.REMOTE_CLOSING) {
          send(e.response());
        }
        if (ws.state === W.ConnectionState.CLOSED) closedHandshake();
      }
    }
  };

  const feed = (data) => {
    if (ws.state === W.ConnectionState.CLOSED && data !== null) return;
    try {
      ws.receiveData(data);
      handle();
    } catch (err) {
      if (err instanceof W.RemoteProtocolError) {
        // A broken opening handshake: send the suggested rejection, if any.
        if (err.eventHint) {
          try {
            send(err.eventHint);
          } catch {
            // nothing more to say
          }
        }
        finished = true;
        socket.end();
        setTimeout(() => socket.destroy(), 1000).unref();
      } else {
        socket.destroy();
        throw err;
      }
    }
  };

  return new Promise((resolve) => {
    socket.setNoDelay(true);
    socket.on("data", (chunk) => feed(chunk));
    socket.on("end", () => {
      feed(null);
      socket.destroy();
    });
    socket.on("error", () => socket.destroy());
    socket.on("close", () => {
      if (dropTimer) clearTimeout(dropTimer);
      if (ws.state !== W.ConnectionState.CLOSED) {
        try {
          ws.receiveData(null);
          for (const _ of ws.events());
        } catch {
          // already failed
        }
      }
      ws.free();
      resolve();
    });
  });
}
