// The seed guide's synchronous client (wsproto's example/synchronous_client.py)
// in JavaScript over Node's `net`:
//
//     node demo/node/client.mjs HOST PORT
//
// Against demo/node/server.mjs (which reverses text) it shows:
//   0) open a TCP connection
//   1) negotiate the WebSocket opening handshake
//   2) send a message and display the response
//   3) send a ping and display the pong
//   4) negotiate the WebSocket closing handshake
//
// Events are handled with the loop from the guide's "WebSocket Clients"
// section. `await` stands in for Python's blocking recv().
import net from "node:net";
import { once } from "node:events";
import {
  WSConnection, ConnectionType, ConnectionState, Request, AcceptConnection, RejectConnection,
  CloseConnection, Message, Ping, Pong, TextMessage, BytesMessage,
} from "../../pkg/node.js";

const show = (bytes) => JSON.stringify(new TextDecoder().decode(bytes));

async function main() {
  const [host, portText] = process.argv.slice(2);
  const port = Number(portText);
  if (!host || !Number.isInteger(port) || port <= 0 || port > 65535) {
    console.log("Usage: node demo/node/client.mjs <HOST> <PORT>");
    process.exit(1);
  }
  await wsprotoDemo(host, port);
}

async function wsprotoDemo(host, port) {
  // 0) Open a TCP connection.
  console.log(`Connecting to ${host}:${port}`);
  const conn = net.connect(port, host);
  await once(conn, "connect");
  const reader = conn[Symbol.asyncIterator]();

  // 1) Negotiate the WebSocket opening handshake. A client starts it by
  //    sending a Request event.
  console.log("Opening WebSocket");
  const ws = new WSConnection(ConnectionType.CLIENT);
  netSend(ws.send(new Request({ host: `${host}:${port}`, target: "/server" })), conn);
  await receive(ws, reader, conn);
  if (ws.state !== ConnectionState.OPEN) return conn.destroy();

  // 2) Send a message and display the response.
  const message = "wsproto is great";
  console.log(`Sending message: ${message}`);
  netSend(ws.send(new Message({ data: message })), conn);
  await receive(ws, reader, conn);

  // 3) Send a ping and display the pong.
  const payload = new TextEncoder().encode("table tennis");
  console.log(`Sending ping: ${show(payload)}`);
  netSend(ws.send(new Ping({ payload })), conn);
  await receive(ws, reader, conn);

  // 4) Negotiate the WebSocket closing handshake. The server replies with
  //    its own close frame and then closes the TCP connection, so we
  //    receive twice: the reply, then the end of the stream.
  console.log("Closing WebSocket");
  netSend(ws.send(new CloseConnection({ code: 1000, reason: "sample reason" })), conn);
  await receive(ws, reader, conn);
  conn.end(); // shutdown(SHUT_WR)
  await receive(ws, reader, conn);
  console.log(`Final state: ${ConnectionState[ws.state]}`);
  ws.free();
}

/**
 * netRecv() then handleEvents(), as the guide does after each send, repeated
 * until something happened: TCP may deliver a reply in more than one read.
 */
async function receive(ws, reader, conn) {
  for (;;) {
    const eof = await netRecv(ws, reader);
    if (handleEvents(ws, conn) > 0 || eof) return;
  }
}

/** Write the bytes wsproto produced to the network. */
function netSend(outData, conn) {
  console.log(`Sending ${outData.length} bytes`);
  conn.write(outData);
}

/**
 * Read from the network into wsproto. A receive of zero bytes (the end of
 * the iteration in Node) means the peer closed the TCP connection: tell
 * wsproto with receiveData(null).
 */
async function netRecv(ws, reader) {
  const { value: inData, done } = await reader.next();
  if (done) {
    console.log("Received 0 bytes (connection closed)");
    ws.receiveData(null);
  } else {
    console.log(`Received ${inData.length} bytes`);
    ws.receiveData(inData);
  }
  return done;
}

/** The event loop from the guide; returns how many events it handled. */
function handleEvents(ws, sock) {
  let handled = 0;
  for (const event of ws.events()) {
    handled++;
    if (event instanceof AcceptConnection) {
      console.log("Connection established");
    } else if (event instanceof RejectConnection) {
      console.log("Connection rejected");
    } else if (event instanceof CloseConnection) {
      console.log(`Connection closed: code=${event.code} reason=${event.reason}`);
      // Reply only if the peer started the closing handshake (after our own
      // close, or after receiveData(null), there is nothing to answer).
      if (ws.state === ConnectionState.REMOTE_CLOSING) sock.write(ws.send(event.response()));
    } else if (event instanceof Ping) {
      console.log(`Received Ping frame with payload ${show(event.payload)}`);
      sock.write(ws.send(event.response()));
    } else if (event instanceof Pong) {
      console.log(`Received pong: ${show(event.payload)}`);
    } else if (event instanceof TextMessage) {
      console.log(`Received TEXT data: ${event.data}`);
      if (event.messageFinished) console.log("Message finished.");
    } else if (event instanceof BytesMessage) {
      console.log(`Received BINARY data: ${event.data.length} bytes`);
      if (event.messageFinished) console.log("BINARY Message finished.");
    } else {
      console.log(`Unknown event: ${event.constructor.name}`);
    }
  }
  return handled;
}

main().catch((err) => {
  console.error(`client: ${err.message}`);
  process.exit(1);
});
