// The chat server of demo/node/chat.mjs on Deno.listen: raw TCP, no HTTP
// server. From the repository root (after `make pkg`):
//
//     DENO_NO_UPDATE_CHECK=1 node_modules/.bin/deno run --allow-net --allow-read demo/deno/chat.js [PORT]
//
// (default: $PORT if --allow-env is given, else 8080; 0 = any free port).
//
// Each connection's request head is read here only far enough to route it:
// a GET for /ws goes to a wsproto server connection, which is fed every byte
// from the first one and parses and validates the opening handshake itself
// (the seed guide's server); anything else is a static file (the chat page,
// the browser demo, the package) with a minimal HTTP/1.1 response.
import * as W from "../../pkg/deno.js";
import { ChatRoom, route } from "../shared/chat.js";

const root = new URL("../../", import.meta.url);
const MAX_HEAD = 16 * 1024;
const port = Number(Deno.args[0] ?? envPort() ?? 8080);
const hostname = "127.0.0.1";
const room = new ChatRoom(W);
const latin1 = new TextDecoder("latin1");
const encoder = new TextEncoder();

function envPort() {
  return Deno.permissions.querySync({ name: "env", variable: "PORT" }).state === "granted" ? Deno.env.get("PORT") : undefined;
}

/** Writes in order without waiting for the peer; end() closes after them. */
function writer(conn) {
  let queue = Promise.resolve();
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    try {
      conn.close();
    } catch {
      // already closed
    }
  };
  return {
    write(bytes) {
      queue = queue.then(async () => {
        for (let at = 0; at < bytes.length && !closed;) at += await conn.write(bytes.subarray(at));
      }).catch(close);
    },
    end() {
      queue = queue.then(() => conn.closeWrite()).catch(() => {}).then(close);
    },
    close,
    get closed() {
      return closed;
    },
  };
}

function concat(a, b) {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function headEnd(bytes) {
  for (let i = 3; i < bytes.length; i++) {
    if (bytes[i] === 10 && bytes[i - 1] === 13 && bytes[i - 2] === 10 && bytes[i - 3] === 13) return i + 1;
  }
  return -1;
}

function respond(out, status, headers, body = new Uint8Array(0), headOnly = false) {
  let head = `HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: ${body.length}\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  out.write(concat(encoder.encode(head + "\r\n"), headOnly ? new Uint8Array(0) : body));
  out.end();
}

async function serve(conn) {
  const out = writer(conn);
  const buf = new Uint8Array(65536);
  const read = async () => {
    try {
      const n = await conn.read(buf);
      return n === null ? null : buf.slice(0, n);
    } catch {
      return null; // reset: the end of the stream
    }
  };

  // Read the request head.
  let bytes = new Uint8Array(0);
  while (headEnd(bytes) < 0) {
    if (bytes.length > MAX_HEAD) return respond(out, "431 Request Header Fields Too Large", {});
    const chunk = await read();
    if (chunk === null) return out.close();
    bytes = concat(bytes, chunk);
  }
  const [method, target = "/"] = latin1.decode(bytes.subarray(0, bytes.indexOf(13))).split(" ");
  let pathname;
  try {
    pathname = new URL(target, "http://localhost").pathname;
  } catch {
    return respond(out, "400 Bad Request", {});
  }

  if (pathname === "/ws") {
    // The WebSocket: wsproto gets everything, the request head included.
    const { hostname: host, port } = conn.remoteAddr;
    const client = room.connect(out, `${host}:${port}`);
    try {
      room.receive(client, bytes);
      for (;;) {
        const chunk = await read();
        room.receive(client, chunk);
        if (chunk === null) break;
      }
    } finally {
      out.close();
      room.disconnected(client);
    }
    return;
  }

  const found = method === "GET" || method === "HEAD" ? route(pathname) : null;
  if (found?.redirect) return respond(out, "302 Found", { location: found.redirect });
  try {
    if (!found) throw new Error("not found");
    const body = await Deno.readFile(new URL(found.file, root));
    respond(out, "200 OK", { "content-type": found.type, "cache-control": "no-cache" }, body, method === "HEAD");
  } catch {
    respond(out, "404 Not Found", { "content-type": "text/plain" }, encoder.encode("not found\n"));
  }
}

let listener;
try {
  listener = Deno.listen({ hostname, port });
} catch (err) {
  console.error(`chat: cannot listen on ${hostname}:${port}: ${err.message}`);
  Deno.exit(1);
}
const base = `http://${hostname}:${listener.addr.port}`;
console.log(`wsproto chat server (Deno ${Deno.version.deno}) listening on ${base}/`);
console.log(`  chat, open it in two tabs:   ${base}/`);
console.log(`  wsproto inside the browser:  ${base}/demo/browser/`);
console.log(`  WebSocket endpoint:          ${base.replace("http", "ws")}/ws`);
console.log("Ctrl-C stops it.");

for (const signal of ["SIGINT", "SIGTERM"]) {
  Deno.addSignalListener(signal, () => {
    console.log("chat: closing every connection (1001) and stopping");
    room.shutdown();
    setTimeout(() => Deno.exit(0), 300);
  });
}

for await (const conn of listener) {
  serve(conn).catch((err) => {
    console.error(`chat: ${err.stack ?? err}`);
    try {
      conn.close();
    } catch {
      // already closed
    }
  });
}
