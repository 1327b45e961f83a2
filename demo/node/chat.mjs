// A multi-client chat server: Node's `http` server for the pages, wsproto
// for the WebSocket connections on /ws. `make demo` runs it.
//
//     node demo/node/chat.mjs [PORT]        (default: $PORT, else 8080; 0 = any)
//
//   http://127.0.0.1:PORT/               the chat page (the browser's native WebSocket)
//   http://127.0.0.1:PORT/demo/browser/  the engine inside the browser, over custom transports
//   ws://127.0.0.1:PORT/ws               the chat itself, for any WebSocket client
//
// Node's HTTP parser reads the upgrade request; wsproto takes over from
// there with initiateUpgradeConnection(headers, path), then gets every byte
// of the socket (starting with the `head` bytes Node read past the request).
// The chat logic (demo/shared/chat.js) is the same as the Deno server's.
// HOST sets the address to listen on (default 127.0.0.1).
import http from "node:http";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import * as W from "../../pkg/node.js";
import { ChatRoom, route } from "../shared/chat.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const port = Number(process.argv[2] ?? process.env.PORT ?? 8080);
const host = process.env.HOST || "127.0.0.1";
const room = new ChatRoom(W);

const server = http.createServer(async (req, res) => {
  const { pathname } = new URL(req.url, "http://localhost");
  const target = req.method === "GET" || req.method === "HEAD" ? route(pathname) : null;
  if (target?.redirect) {
    res.writeHead(302, { location: target.redirect }).end();
    return;
  }
  try {
    if (!target) throw new Error("not found");
    const body = await readFile(root + target.file);
    res.writeHead(200, { "content-type": target.type, "content-length": body.length, "cache-control": "no-cache" });
    res.end(req.method === "HEAD" ? undefined : body);
  } catch {
    res.writeHead(404, { "content-type": "text/plain" }).end(pathname === "/ws" ? "/ws is a WebSocket endpoint\n" : "not found\n");
  }
});

server.on("upgrade", (req, socket, head) => {
  if (new URL(req.url, "http://localhost").pathname !== "/ws") {
    socket.end("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    return;
  }
  socket.setNoDelay(true);
  const client = room.connect(
    {
      write: (bytes) => socket.writable && socket.write(bytes),
      end: () => socket.end(),
    },
    `${socket.remoteAddress}:${socket.remotePort}`,
  );
  socket.on("data", (chunk) => room.receive(client, chunk));
  socket.on("end", () => room.receive(client, null));
  socket.on("error", () => socket.destroy());
  socket.on("close", () => room.disconnected(client));
  // Node keeps header bytes as latin1 strings; wsproto takes bytes.
  const headers = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    headers.push([Buffer.from(req.rawHeaders[i], "latin1"), Buffer.from(req.rawHeaders[i + 1], "latin1")]);
  }
  room.upgrade(client, headers, req.url);
  if (head.length) room.receive(client, head);
});

server.on("error", (err) => {
  if (err.code === "EADDRINUSE") {
    console.error(`chat: port ${port} is in use; pick another with PORT=8081 make demo (or node demo/node/chat.mjs 8081)`);
  } else {
    console.error(`chat: ${err.message}`);
  }
  process.exit(1);
});

server.listen(port, host, () => {
  const { port: actual } = server.address();
  const base = `http://${host.includes(":") ? `[${host}]` : host}:${actual}`;
  console.log(`wsproto chat server (Node ${process.version}) listening on ${base}/`);
  console.log(`  chat, open it in two tabs:   ${base}/`);
  console.log(`  wsproto inside the browser:  ${base}/demo/browser/`);
  console.log(`  WebSocket endpoint:          ${base.replace("http", "ws")}/ws`);
  console.log("Ctrl-C stops it.");
});

let stopping = false;
function stop() {
  if (stopping) process.exit(0);
  stopping = true;
  console.log("chat: closing every connection (1001) and stopping");
  room.shutdown();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
