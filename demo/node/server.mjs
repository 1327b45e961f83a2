// The seed guide's synchronous server (wsproto's example/synchronous_server.py)
// in JavaScript over Node's `net`:
//
//     node demo/node/server.mjs PORT [BIND_IP]
//
// It reads a message from a WebSocket and sends back the reversed string; it
// answers pings and closes. Like the original, it handles one connection at a
// time and runs a plain request/response loop:
//
//   1) read data from the network into wsproto
//   2) get new events and handle them
//   3) send the bytes wsproto gave us to the network
//
// `await` stands in for Python's blocking recv(); nothing else is asynchronous.
// PORT 0 picks a free port (printed on the first line).
import net from "node:net";
import { once } from "node:events";
import {
  WSConnection, ConnectionType, ConnectionState, Request, AcceptConnection, CloseConnection,
  CloseReason, Message, Ping, TextMessage,
} from "../../pkg/node.js";

async function main() {
  const port = Number(process.argv[2]);
  const ip = process.argv[3] ?? "127.0.0.1";
  if (process.argv[2] === undefined || !Number.isInteger(port) || port < 0 || port > 65535) {
    console.log("Usage: node demo/node/server.mjs <PORT> [BIND_IP]");
    process.exit(1);
  }

  // Connections wait in the listen backlog while one is being handled.
  const pending = [];
  let wake = null;
  const server = net.createServer({ pauseOnConnect: true }, (stream) => {
    pending.push(stream);
    if (wake) wake();
  });
  server.listen(port, ip);
  await once(server, "listening");
  console.log(`Listening on ${ip}:${server.address().port}`);
  process.on("SIGINT", () => {
    console.log("Received SIGINT: shutting down…");
    process.exit(0);
  });

  for (;;) {
    console.log("Waiting for connection...");
    while (pending.length === 0) await new Promise((resolve) => (wake = resolve));
    const stream = pending.shift();
    console.log(`Client connected: ${stream.remoteAddress}:${stream.remotePort}`);
    try {
      await handleConnection(stream);
    } catch (err) {
      console.log(`Connection failed: ${err.message}`);
    }
    stream.end(); // shutdown(SHUT_WR): the server tears the connection down
    stream.destroySoon();
  }
}

async function handleConnection(stream) {
  const ws = new WSConnection(ConnectionType.SERVER);
  const reader = stream[Symbol.asyncIterator]();
  let running = true;
  let text = ""; // a text message may arrive in pieces: join them

  while (running) {
    // 1) Read data from the network. Node gives us null-free chunks and
    //    ends the iteration at EOF, where Python's recv() returns b"".
    const { value: inData, done } = await reader.next();
    if (done) {
      console.log("Received 0 bytes (connection closed)");
      ws.receiveData(null);
    } else {
      console.log(`Received ${inData.length} bytes`);
      ws.receiveData(inData);
    }

    // 2) Get new events and handle them.
    const outData = [];
    for (const event of ws.events()) {
      if (event instanceof Request) {
        // Negotiate a new WebSocket connection.
        console.log("Accepting WebSocket upgrade");
        outData.push(ws.send(new AcceptConnection()));
      } else if (event instanceof CloseConnection) {
        console.log(`Connection closed: code=${event.code}/${CloseReason[event.code]} reason=${event.reason}`);
        // After receiveData(null) the connection is already CLOSED and the
        // 1006 event is only informational: there is nobody to reply to.
        if (ws.state === ConnectionState.REMOTE_CLOSING) outData.push(ws.send(event.response()));
        running = false;
      } else if (event instanceof TextMessage) {
        text += event.data;
        if (!event.messageFinished) continue;
        // Reverse the text (by code point) and send it back.
        console.log("Received request and sending response");
        outData.push(ws.send(new Message({ data: [...text].reverse().join("") })));
        text = "";
      } else if (event instanceof Ping) {
        // Nothing is sent for you: a Ping needs its Pong.
        console.log("Received ping and sending pong");
        outData.push(ws.send(event.response()));
      } else {
        console.log(`Unknown event: ${event.constructor.name}`);
      }
    }

    // 3) Send the data from wsproto to the network.
    const bytes = Buffer.concat(outData);
    console.log(`Sending ${bytes.length} bytes`);
    if (bytes.length) stream.write(bytes);
    if (done) break;
  }
  ws.free();
}

main();
