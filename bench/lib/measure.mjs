// Timing: warm up, calibrate a repeat count, then take interleaved samples
// (library A, B, C, A, B, C, ...) so that drift on a shared machine spreads
// over all of them, and report medians.
//
// The clock is the process's CPU time (user + system, all threads: GC
// helpers and zlib's thread pool count too) unless BENCH_CLOCK=wall. On a
// machine shared with other work, wall time also counts the time this
// process waited for a core, which made repeated runs of the same code
// differ by 2-3x here; CPU time does not.

import { performance } from "node:perf_hooks";

const wall = process.env.BENCH_CLOCK === "wall";
// Milliseconds.
function now() {
  if (wall) return performance.now();
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

// Forcing a full collection before each sample (BENCH_GC=1, with
// --expose-gc) is not the default: measured here, wsproto's sends ran 4x
// slower for many passes after each forced gc(), which no server sees.
const gc = process.env.BENCH_GC && globalThis.gc ? globalThis.gc : () => {};

function isPromise(x) {
  return x !== null && typeof x === "object" && typeof x.then === "function";
}

// One pass, checked: the library must have delivered every message.
async function once(pass, input, expect, prepare) {
  prepare();
  let r = pass(input, expect.messages);
  if (isPromise(r)) r = await r;
  if (r.messages !== expect.messages) {
    throw new Error(`delivered ${r.messages} messages, expected ${expect.messages}`);
  }
  if (expect.units !== undefined && r.units !== expect.units) {
    throw new Error(`delivered ${r.units} payload units, expected ${expect.units}`);
  }
  return r;
}

// Seconds per pass over `reps` passes. `prepare` runs before each pass,
// off the clock: it restores the input, which ws and websocket-driver
// unmask in place.
async function timed(pass, input, expect, reps, prepare) {
  gc();
  let total = 0;
  for (let i = 0; i < reps; i++) {
    prepare();
    const t0 = now();
    let r = pass(input, expect.messages);
    if (isPromise(r)) r = await r;
    total += now() - t0;
    if (r.messages !== expect.messages) throw new Error(`delivered ${r.messages} messages, expected ${expect.messages}`);
  }
  return total / 1000 / reps;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

// `entries`: [{ name, pass }]. Returns { name: { median, samples, last } }.
export async function compare(entries, input, expect, { runs, minTime, warmTime }, prepare = () => {}) {
  const plan = [];
  for (const e of entries) {
    // Warm-up (JIT, allocator, wasm memory growth) and a first estimate.
    const last = await once(e.pass, input, expect, prepare);
    let spent = 0;
    let passes = 0;
    while (spent < warmTime || passes < 2) {
      spent += await timed(e.pass, input, expect, 1, prepare);
      passes++;
    }
    const per = spent / passes;
    plan.push({ e, last, reps: Math.max(1, Math.ceil(minTime / per)), samples: [] });
  }
  for (let r = 0; r < runs; r++) {
    for (const p of plan) p.samples.push(await timed(p.e.pass, input, expect, p.reps, prepare));
  }
  const out = {};
  for (const p of plan) out[p.e.name] = { median: median(p.samples), samples: p.samples, reps: p.reps, last: p.last };
  return out;
}
