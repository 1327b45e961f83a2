// `make demo`: a WebSocket echo server and a client, both driven by wsproto
// over real TCP sockets on 127.0.0.1, printing every event as it happens.
//
// It is the seed guide's "network glue" and "application glue" in
// JavaScript: bytes from the socket go into receiveData(), events come out
// of events(), and every event we want to send goes through send(), whose
// bytes we write to the socket ourselves.
import net from "node:net";
import {
  WSConnection, ConnectionType, ConnectionState, Request, AcceptConnection, CloseConnection,
  TextMessage, BytesMessage, Ping, Pong, CloseReason,
} from "../../pkg/node.js";

const state = (ws) => ConnectionState[ws.state];
const show = (data) => (typeof data === "string" ? JSON.stringify(data.length > 60 ? data.slice(0, 57) + "..." : data) : `${data.length} bytes`);
const log = (who, text) => console.log(`${who.padEnd(6)} ${text}`);

// ---- the server ------------------------------------------------------------
const server = net.createServer((sock) => {
  const ws = new WSConnection(ConnectionType.SERVER);
  sock.on("data", (chunk) => {
    ws.receiveData(chunk);
    for (const event of ws.events()) {
      if (event instanceof Request) {
        log("server", `Request for ${event.target} (host ${event.host}, subprotocols ${event.subprotocols.join(", ") || "none"}): accepting`);
        sock.write(ws.send(new AcceptConnection({ subprotocol: event.subprotocols[0] ?? null })));
      } else if (event instanceof TextMessage || event instanceof BytesMessage) {
        log("server", `${event.constructor.name} ${show(event.data)}${event.messageFinished ? "" : " (more to come)"}: echoing`);
        const Echo = event.constructor;
        sock.write(ws.send(new Echo({ data: event.data, messageFinished: event.messageFinished })));
      } else if (event instanceof Ping) {
        log("server", `Ping ${show(event.payload)}: answering with a Pong`);
        sock.write(ws.send(event.response()));
      } else if (event instanceof CloseConnection) {
        log("server", `CloseConnection ${event.code} (${CloseReason[event.code]}) "${event.reason}", state ${state(ws)}: replying and closing the socket`);
        sock.end(ws.send(event.response()));
      }
    }
  });
  sock.on("end", () => ws.receiveData(null));
  sock.on("close", () => ws.free());
});

// ---- the client ------------------------------------------------------------
function runClient(port) {
  return new Promise((resolve, reject) => {
    const ws = new WSConnection(ConnectionType.CLIENT);
    const sock = net.connect(port, "127.0.0.1");
    const script = [
      new TextMessage({ data: "Hello, WebSocket!" }),
      new TextMessage({ data: "héllo wörld, 你好, 😀" }),
      new BytesMessage({ data: Uint8Array.from({ length: 70000 }, (_, i) => i & 0xff) }),
      new TextMessage({ data: "one message, ", messageFinished: false }),
      new TextMessage({ data: "sent in two frames" }),
      new Ping({ payload: new TextEncoder().encode("are you there?") }),
    ];
    let received = 0;
    const expected = 4; // echoed messages (the one sent in two frames counts once)
    let pieces = [];
    sock.on("connect", () => {
      log("client", `connected to 127.0.0.1:${port}, sending the opening handshake`);
      sock.write(ws.send(new Request({ host: `127.0.0.1:${port}`, target: "/demo", subprotocols: ["echo.v1"] })));
    });
    sock.on("data", (chunk) => {
      ws.receiveData(chunk);
      for (const event of ws.events()) {
        if (event instanceof AcceptConnection) {
          log("client", `accepted with subprotocol ${event.subprotocol}; state ${state(ws)}`);
          for (const e of script) sock.write(ws.send(e));
        } else if (event instanceof TextMessage || event instanceof BytesMessage) {
          pieces.push(event.data);
          if (event.messageFinished) {
            const whole = typeof event.data === "string" ? show(pieces.join("")) : `${pieces.reduce((n, p) => n + p.length, 0)} bytes`;
            log("client", `echo: ${whole}${pieces.length > 1 ? ` (in ${pieces.length} pieces)` : ""}`);
            pieces = [];
            received++;
          }
        } else if (event instanceof Pong) {
          log("client", `Pong ${JSON.stringify(new TextDecoder().decode(event.payload))}`);
          if (received === expected) {
            log("client", "all echoes received: closing");
            sock.write(ws.send(new CloseConnection({ code: CloseReason.NORMAL_CLOSURE, reason: "bye" })));
            log("client", `state ${state(ws)}`);
          }
        } else if (event instanceof CloseConnection) {
          log("client", `CloseConnection ${event.code} "${event.reason}"; state ${state(ws)}`);
        }
      }
    });
    sock.on("end", () => {
      ws.receiveData(null);
      log("client", `server closed the socket; state ${state(ws)}`);
      sock.end();
      resolve(ws.state);
    });
    sock.on("error", reject);
  });
}

server.listen(0, "127.0.0.1", async () => {
  const { port } = server.address();
  log("server", `listening on 127.0.0.1:${port}`);
  const timer = setTimeout(() => {
    console.error("demo: timed out");
    process.exit(1);
  }, 10000);
  try {
    const final = await runClient(port);
    if (final !== ConnectionState.CLOSED) throw new Error(`client ended in state ${ConnectionState[final]}`);
    console.log("demo: done, both ends closed cleanly");
  } catch (err) {
    console.error("demo failed:", err);
    process.exitCode = 1;
  } finally {
    clearTimeout(timer);
    server.close();
  }
});
