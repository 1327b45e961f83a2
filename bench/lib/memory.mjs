// Memory and size: what one idle connection costs in wasm memory, whether
// buffers shrink back after a 16 MiB message, and the .wasm file's size.
//
// Each scenario runs in its own Node process, so that memory freed by one
// cannot hide growth in the next (wasm memory never shrinks; the allocator
// reuses what was freed). `memoryReport()` spawns them; run this file
// directly with a scenario name to see one.

import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(import.meta.url);
const wasmPath = fileURLToPath(new URL("../../pkg/glue/wsproto_wasm_bg.wasm", import.meta.url));

// Indices into the binding's control block (src/wasm/mod.rs).
const CTL_INPUT_CAP = 9;
const CTL_SCRATCH_CAP = 11;

function maskedFrame(payload, opcode = 2) {
  const len = payload.length;
  const head = len <= 125 ? 2 : len <= 0xffff ? 4 : 10;
  const out = Buffer.alloc(head + 4 + len);
  out[0] = 0x80 | opcode;
  if (len <= 125) out[1] = 0x80 | len;
  else if (len <= 0xffff) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(len, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeBigUInt64BE(BigInt(len), 2);
  }
  const key = [0x12, 0x34, 0x56, 0x78];
  for (let k = 0; k < 4; k++) out[head + k] = key[k];
  for (let i = 0; i < len; i++) out[head + 4 + i] = payload[i] ^ key[i & 3];
  return out;
}

async function scenario(name) {
  const p = await import("../../pkg/node.js");
  const glue = await import("../../pkg/glue/wsproto_wasm.js");
  const memory = glue.initSync().memory;
  const size = () => memory.buffer.byteLength;
  const { Connection, WSConnection, ConnectionType, BytesMessage, Request, AcceptConnection } = p;
  const small = maskedFrame(Buffer.from("0123456789abcdef"));

  const used = {
    // A frame-level server connection, never used.
    fresh: () => new Connection(ConnectionType.SERVER),
    // ... after one 16-byte message each way.
    used: () => {
      const c = new Connection(ConnectionType.SERVER);
      c.receiveData(small);
      for (const e of c.events()) if (!e.messageFinished) throw new Error("no message");
      c.send(new BytesMessage({ data: Buffer.from("0123456789abcdef") }));
      return c;
    },
    // A WSConnection server after the handshake and one message each way.
    handshake: () => {
      const client = new WSConnection(ConnectionType.CLIENT);
      const server = new WSConnection(ConnectionType.SERVER);
      server.receiveData(client.send(new Request({ host: "localhost", target: "/" })));
      for (const _ of server.events());
      client.receiveData(server.send(new AcceptConnection()));
      client.free();
      server.receiveData(small);
      for (const _ of server.events());
      server.send(new BytesMessage({ data: Buffer.from("0123456789abcdef") }));
      return server;
    },
  };

  if (used[name]) {
    const N = 10000;
    const warm = [];
    for (let i = 0; i < 200; i++) warm.push(used[name]());
    const before = size();
    const keep = [];
    for (let i = 0; i < N; i++) keep.push(used[name]());
    const after = size();
    return { bytesPerConnection: Math.round((after - before) / N), connections: N };
  }

  if (name === "big") {
    // A 16 MiB message through connection A (fed in 64 KiB chunks, then
    // whole), then the same through B: if A gave its buffers back, B
    // reuses them and memory does not grow a second time.
    const MiB16 = 16 << 20;
    const frame = maskedFrame(Buffer.alloc(MiB16, 0x5a));
    const pass = (conn, chunk) => {
      let got = 0;
      for (let at = 0; at < frame.length; at += chunk) {
        conn.receiveData(frame.subarray(at, Math.min(at + chunk, frame.length)));
        for (const e of conn.events()) got += e.data.length;
      }
      if (got !== MiB16) throw new Error(`got ${got} bytes`);
      conn.receiveData(small); // the next call releases the last call's events
      for (const _ of conn.events());
    };
    const caps = (conn) => {
      const u32 = new Uint32Array(memory.buffer);
      return { input: u32[conn._ctl + CTL_INPUT_CAP], scratch: u32[conn._ctl + CTL_SCRATCH_CAP] };
    };
    const out = {};
    for (const [label, chunk] of [["chunks64k", 64 << 10], ["whole", Infinity]]) {
      const a = new Connection(ConnectionType.SERVER);
      const b = new Connection(ConnectionType.SERVER);
      const m0 = size();
      pass(a, chunk);
      const m1 = size();
      pass(b, chunk);
      const m2 = size();
      out[label] = { firstGrowth: m1 - m0, secondGrowth: m2 - m1, buffersAfter: caps(a) };
    }
    // Sending: a client frames (and masks) a 16 MiB message, twice.
    const c = new Connection(ConnectionType.CLIENT);
    const d = new Connection(ConnectionType.CLIENT);
    const data = Buffer.alloc(MiB16, 0x5a);
    const s0 = size();
    c.send(new BytesMessage({ data }));
    c.send(new BytesMessage({ data: Buffer.from("x") }));
    const s1 = size();
    d.send(new BytesMessage({ data }));
    d.send(new BytesMessage({ data: Buffer.from("x") }));
    const s2 = size();
    out.send = { firstGrowth: s1 - s0, secondGrowth: s2 - s1, buffersAfter: caps(c) };
    out.totalMemory = size();
    return out;
  }
  throw new Error(`unknown scenario ${name}`);
}

export async function memoryReport() {
  const wasm = readFileSync(wasmPath);
  const out = { wasmBytes: wasm.length, wasmGzipBytes: gzipSync(wasm, { level: 9 }).length };
  for (const name of ["fresh", "used", "handshake", "big"]) {
    try {
      out[name] = JSON.parse(execFileSync(process.execPath, [here, name], { encoding: "utf8" }));
    } catch (e) {
      out[name] = { error: String(e.message).split("\n")[0] };
    }
  }
  return out;
}

if (process.argv[1] === here) {
  process.stdout.write(JSON.stringify(await scenario(process.argv[2])) + "\n");
}
