// The core in wasm without the JS layer (bench/wasm-core), next to the same
// loops compiled natively (bench/wasm-core/native.rs): answers "how far is
// the wasm build of the core from the native one?" apart from the cost of
// the JS boundary.
//
// Timing the two minutes apart with different harnesses (criterion, then
// this) made the ratio swing from 0.8x to 2.6x on one shared VM. So both
// sides run here, in turn (native, wasm, wasm, native, ...: the order
// alternates so that neither always follows the other), each sample one
// call looping over the same bytes: one call into wasm from JS, one command
// to a native process that times its call itself (process start and input
// building off the clock). Both clocks are the process's CPU time (wall
// with BENCH_CLOCK=wall), as in measure.mjs. See summarise() for the
// statistic and wasmCoreReport() for the blocks.

import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const crate = `${root}/bench/wasm-core`;
const targetDir = `${root}/target/bench-wasm-core`;
const wasmFile = `${targetDir}/wasm32-unknown-unknown/release/wsproto_wasm_core_bench.wasm`;
const nativeBin = `${targetDir}/release/native-core`;

const CHUNK = 64 * 1024;
const SIZES = [65536, 1 << 20, 16 << 20];
const wall = process.env.BENCH_CLOCK === "wall";

// cargo build in bench/wasm-core, release profile (a no-op when nothing
// changed); throws with cargo's message.
function build(args, env = {}) {
  const built = spawnSync("cargo", ["build", "--quiet", "--release", ...args], {
    cwd: crate,
    env: { ...process.env, CARGO_TARGET_DIR: targetDir, ...env },
    encoding: "utf8",
  });
  if (built.status !== 0) throw new Error(`cargo build ${args.join(" ")} in bench/wasm-core failed: ${built.stderr || built.error}`);
}

// Builds the wasm library (simd128, as the package is) and compiles it.
function loadWasm() {
  build(["--lib", "--target", "wasm32-unknown-unknown"], {
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS: "-C target-feature=+simd128",
  });
  if (!existsSync(wasmFile)) throw new Error(`no ${wasmFile}`);
  return new WebAssembly.Module(readFileSync(wasmFile));
}

// The module still imports wasm-bindgen's placeholders (the crate's binding
// is compiled in): stubs, never called, since the send path uses a
// SeededRandom rather than crypto.
function instantiate(module) {
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

// Milliseconds.
function now() {
  if (wall) return performance.now();
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

// The native side of one workload: a native-core process, and
// `sample(iters)`, the milliseconds it timed for one call of `iters`
// iterations (rejects with its stderr if it fails).
function nativeWorkload(kind, size) {
  const child = spawn(nativeBin, [kind, String(size)]);
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  child.on("error", (e) => (stderr += e.message));
  // Writing to a dead child fails: its missing answer says so.
  child.stdin.on("error", () => {});
  const closed = new Promise((resolve) => child.on("close", resolve));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return {
    async sample(iters) {
      child.stdin.write(`${iters}\n`);
      // A sample takes about 25 ms: a child silent for a minute is stuck.
      const timer = setTimeout(() => child.kill(), 60000);
      let value, done;
      try {
        ({ value, done } = await lines.next());
      } finally {
        clearTimeout(timer);
      }
      const [cpu, wallMs] = (value ?? "").split(" ").map(Number);
      if (done || !(cpu >= 0)) {
        child.kill();
        await closed;
        throw new Error(`native-core ${kind} ${size}: ${stderr.trim().split("\n")[0] || "no answer"}`);
      }
      return wall ? wallMs : cpu;
    },
    close() {
      child.stdin.end();
      return closed;
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill();
    },
  };
}

// The wasm side of one workload on a fresh instance: `call(iters)`,
// checked, and the bytes one iteration moves.
function wasmWorkload(module, kind, size) {
  const core = instantiate(module);
  const count = Math.max(1, Math.floor(CHUNK / size));
  const frames = kind === "receive" ? 1 : 0;
  const ptr = core.bench_input(size, count, frames) >>> 0;
  if (ptr === 0) throw new Error(`wasm core could not build its ${kind} ${size} input`);
  const len = core.bench_input_len() >>> 0;
  const call =
    kind === "receive"
      ? (iters) => {
          const got = core.bench_receive(ptr, len, CHUNK, iters);
          if (got !== size * count * iters) throw new Error(`wasm core received ${got} bytes`);
        }
      : (iters) => {
          if (core.bench_send(ptr, len, count * iters) < 0) throw new Error("wasm core send failed");
        };
  return { call, bytes: size * count };
}

// Iterations for one sample of about `ms` (doubling until one call takes
// 20 ms), after a first call that grows wasm memory.
function calibrate(call, ms) {
  call(1);
  for (let iters = 1; ; iters *= 2) {
    const t0 = now();
    call(iters);
    const spent = now() - t0;
    if (spent >= 20) return Math.max(1, Math.round((iters * ms) / spent));
  }
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

// Each side's figure is the median of its samples. Tried on this VM (six
// runs, one process per side): from run to run the ratio of the minimums
// moved by 1.2x to 1.9x depending on the row, the ratio of the medians by
// 1.1x to 1.3x (1.6x for 64 KiB sends: see the blocks below). A minimum is
// one lucky moment, which one side may get and the other not; the median
// uses every sample, and interleaving gives both sides the same moments.
const summarise = median;

function firstLine(e) {
  return String(e.message).split("\n")[0];
}

// { rows: { "receive/65536": { wasm, native, ratio, samples, iters }, ... } }
// in GB/s (ratio: wasm time / native time), or { error } when the wasm side
// failed; `nativeError` (and no native figures) when the native side did.
//
// Each workload runs in `blocks` blocks of `rounds` rounds, each block on a
// fresh wasm instance and a fresh native process: here one such block of
// 64 KiB sends gave anywhere from 1.0x to 1.85x within one run (where the
// buffers land seems to matter), so the figures pool several.
export async function wasmCoreReport({ blocks = 8, rounds = 4, sampleMs = 25 } = {}) {
  let module;
  let nativeError = null;
  try {
    module = loadWasm();
  } catch (e) {
    return { error: firstLine(e) };
  }
  try {
    build(["--bin", "native-core"]);
  } catch (e) {
    nativeError = firstLine(e);
  }
  const rows = {};
  try {
    for (const size of SIZES) {
      for (const kind of ["receive", "send"]) {
        const samples = { native: [], wasm: [] };
        let iters, bytes;
        for (let b = 0; b < blocks; b++) {
          const w = wasmWorkload(module, kind, size);
          bytes = w.bytes;
          iters ??= calibrate(w.call, sampleMs);
          const native = nativeError ? null : nativeWorkload(kind, size);
          try {
            // A failing native side stops the native figures, not the report.
            const nativeMs = (n = iters) =>
              native.sample(n).catch((e) => {
                nativeError ??= firstLine(e);
              });
            // Two short untimed calls on each side: glibc hands a 16 MiB
            // buffer fresh pages (page faults) in a process's first two calls,
            // until a free has raised its mmap threshold and its heap keeps
            // them; a first timed send/16 MiB ran at a quarter of the speed.
            for (let i = 0; i < 2; i++) {
              w.call(Math.ceil(iters / 4));
              if (native) await nativeMs(Math.ceil(iters / 4));
            }
            for (let r = 0; r < rounds; r++) {
              for (const side of r % 2 ? ["wasm", "native"] : ["native", "wasm"]) {
                if (side === "wasm") {
                  const t0 = now();
                  w.call(iters);
                  samples.wasm.push(now() - t0);
                } else if (!nativeError) samples.native.push(await nativeMs());
              }
            }
            await native?.close();
          } finally {
            // Whatever failed, no child is left waiting on its stdin (which
            // would keep this process from exiting).
            native?.kill();
          }
        }
        const gbps = (ms) => (bytes * iters) / (ms / 1000) / 1e9;
        const w = summarise(samples.wasm);
        const n = nativeError ? null : summarise(samples.native);
        rows[`${kind}/${size}`] = { wasm: gbps(w), native: n && gbps(n), ratio: n && w / n, samples, iters };
      }
    }
  } catch (e) {
    return { error: firstLine(e) };
  }
  return { rows, nativeError, blocks, rounds, sampleMs, clock: wall ? "wall" : "cpu" };
}
