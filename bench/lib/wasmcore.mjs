// The core in wasm without the JS layer (bench/wasm-core): the same
// workloads as the native criterion bench, timed from JS around one call
// that loops inside wasm. Answers "how far is the wasm build of the core
// from the native one?" apart from the cost of the JS boundary.

import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const targetDir = `${root}/target/bench-wasm-core`;
const wasmFile = `${targetDir}/wasm32-unknown-unknown/release/wsproto_wasm_core_bench.wasm`;

const CHUNK = 64 * 1024;

// Builds bench/wasm-core (cargo is a no-op when nothing changed) and
// instantiates it. The module still imports wasm-bindgen's placeholders
// (the crate's binding is compiled in): stubs, never called, since the
// send path uses a SeededRandom rather than crypto.
function load() {
  const built = spawnSync("cargo", ["build", "--quiet", "--release", "--target", "wasm32-unknown-unknown"], {
    cwd: `${root}/bench/wasm-core`,
    env: {
      ...process.env,
      CARGO_TARGET_DIR: targetDir,
      CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS: "-C target-feature=+simd128",
    },
    encoding: "utf8",
  });
  if (built.status !== 0 || !existsSync(wasmFile)) throw new Error(`building bench/wasm-core failed: ${built.stderr}`);
  const module = new WebAssembly.Module(readFileSync(wasmFile));
  const imports = {};
  for (const imp of WebAssembly.Module.imports(module)) {
    imports[imp.module] ??= {};
    imports[imp.module][imp.name] =
      imp.kind === "function"
        ? () => {
            throw new Error(`bench/wasm-core called ${imp.name}`);
          }
        : imp.kind === "global"
          ? new WebAssembly.Global({ value: "i32", mutable: false }, 0)
          : imp.kind === "memory"
            ? new WebAssembly.Memory({ initial: 1 })
            : new WebAssembly.Table({ initial: 0, element: "anyfunc" });
  }
  return new WebAssembly.Instance(module, imports).exports;
}

function cpuMs() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function masked(data, count) {
  const len = data.length;
  const head = (len <= 125 ? 2 : len <= 0xffff ? 4 : 10) + 4;
  const out = Buffer.alloc((head + len) * count);
  let at = 0;
  for (let i = 0; i < count; i++) {
    out[at] = 0x82;
    if (len <= 125) out[at + 1] = 0x80 | len;
    else if (len <= 0xffff) {
      out[at + 1] = 0x80 | 126;
      out.writeUInt16BE(len, at + 2);
    } else {
      out[at + 1] = 0x80 | 127;
      out.writeBigUInt64BE(BigInt(len), at + 2);
    }
    const key = [(i * 37 + 1) & 0xff, 0x5a, 0xc3, (i * 11) & 0xff];
    for (let k = 0; k < 4; k++) out[at + head - 4 + k] = key[k];
    for (let j = 0; j < len; j++) out[at + head + j] = data[j] ^ key[j & 3];
    at += head + len;
  }
  return out;
}

// Median GB/s of `runs` timed calls of about 50 ms each (the iteration
// count doubles until one call takes 20 ms).
function time(call, bytesPerIter, runs) {
  let iters = 1;
  for (;;) {
    const t0 = cpuMs();
    call(iters);
    const spent = cpuMs() - t0;
    if (spent >= 20) {
      iters = Math.max(1, Math.round((iters * 50) / spent));
      break;
    }
    iters *= 2;
  }
  const rates = [];
  for (let r = 0; r < runs; r++) {
    const s = cpuMs();
    call(iters);
    rates.push((bytesPerIter * iters) / ((cpuMs() - s) / 1000) / 1e9);
  }
  rates.sort((a, b) => a - b);
  return rates[rates.length >> 1];
}

// { "receive/65536": GB/s, ..., "send/16777216": GB/s }, or { error }.
export function wasmCoreReport(runs = 5) {
  let core;
  try {
    core = load();
  } catch (e) {
    return { error: String(e.message).split("\n")[0] };
  }
  const out = {};
  for (const size of [65536, 1 << 20, 16 << 20]) {
    const count = Math.max(1, Math.floor(CHUNK / size));
    const data = Buffer.alloc(size);
    for (let i = 0; i < size; i++) data[i] = (i * 2654435761) >>> 24;
    const stream = masked(data, count);
    const ptr = core.bench_alloc(stream.length);
    new Uint8Array(core.memory.buffer, ptr, stream.length).set(stream);
    out[`receive/${size}`] = time(
      (iters) => {
        const got = core.bench_receive(ptr, stream.length, CHUNK, iters);
        if (got !== size * count * iters) throw new Error(`wasm core received ${got} bytes`);
      },
      size * count,
      runs,
    );
    const dptr = core.bench_alloc(size);
    new Uint8Array(core.memory.buffer, dptr, size).set(data);
    out[`send/${size}`] = time(
      (iters) => {
        if (core.bench_send(dptr, size, count * iters) < 0) throw new Error("wasm core send failed");
      },
      size * count,
      runs,
    );
  }
  return out;
}
