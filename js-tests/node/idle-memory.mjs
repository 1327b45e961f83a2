// Measures what one idle connection of KIND keeps in wasm memory, in a fresh
// wasm instance (run as `node idle-memory.mjs KIND`; prints JSON). In a
// process that has run other tests, memory freed by them would absorb the
// growth and the measure would read 0: wasm memory never shrinks.
//
// KIND: "server" (a WSConnection server after the handshake: a request with
// browser-sized headers, then a 16-byte message each way), "client" (the
// same from the client's side) or "frames" (a Connection, one message each
// way).

import * as W from "../../pkg/node.js";
import { initSync } from "../../pkg/glue/wsproto_wasm.js";

const memory = initSync().memory;
const N = 3000;

function frame(opcode, payload) {
  // A client's masked frame (payloads under 126 bytes).
  const key = [0x37, 0xfa, 0x21, 0x3d];
  const out = new Uint8Array(6 + payload.length);
  out[0] = 0x80 | opcode;
  out[1] = 0x80 | payload.length;
  out.set(key, 2);
  for (let i = 0; i < payload.length; i++) out[6 + i] = payload[i] ^ key[i & 3];
  return out;
}

const payload = new TextEncoder().encode("0123456789abcdef");
const message = frame(2, payload);
const target = "/socket?room=lobby&token=" + "x".repeat(64);
const subprotocols = ["chat.v2", "chat.v1"];

// One request (clients with the same seed send the same key) and its 101.
const request = new W.WSConnection(W.ConnectionType.CLIENT, { randomSeed: 7 }).send(
  new W.Request({
    host: "chat.example.com",
    target,
    subprotocols,
    extraHeaders: [
      ["Origin", "https://chat.example.com"],
      ["User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"],
      ["Accept-Language", "en-GB,en;q=0.9"],
      ["Cookie", "session=" + "c".repeat(120)],
    ],
  }),
);
const acceptor = new W.WSConnection(W.ConnectionType.SERVER);
acceptor.receiveData(request);
[...acceptor.events()];
const accept = acceptor.send(new W.AcceptConnection({ subprotocol: "chat.v2" }));
acceptor.free();

function expectOne(conn, Kind) {
  const events = [...conn.events()];
  if (events.length !== 1 || !(events[0] instanceof Kind)) throw new Error(`expected one ${Kind.name}`);
}

const make = {
  server() {
    const server = new W.WSConnection(W.ConnectionType.SERVER);
    server.receiveData(request);
    expectOne(server, W.Request);
    server.send(new W.AcceptConnection({ subprotocol: "chat.v2" }));
    server.receiveData(message);
    expectOne(server, W.BytesMessage);
    server.send(new W.BytesMessage({ data: payload }));
    return server;
  },
  client() {
    const client = new W.WSConnection(W.ConnectionType.CLIENT, { randomSeed: 7 });
    client.send(new W.Request({ host: "chat.example.com", target, subprotocols }));
    client.receiveData(accept);
    expectOne(client, W.AcceptConnection);
    client.send(new W.BytesMessage({ data: payload }));
    return client;
  },
  frames() {
    const conn = new W.Connection(W.ConnectionType.SERVER);
    conn.receiveData(message);
    expectOne(conn, W.BytesMessage);
    conn.send(new W.BytesMessage({ data: payload }));
    return conn;
  },
}[process.argv[2]];
if (make === undefined) throw new Error(`unknown kind ${process.argv[2]}`);

const warm = [];
for (let i = 0; i < 100; i++) warm.push(make());
const before = memory.buffer.byteLength;
const kept = [];
for (let i = 0; i < N; i++) kept.push(make());
const grown = memory.buffer.byteLength - before;
console.log(JSON.stringify({ bytesPerConnection: grown / N, grown, connections: N }));
