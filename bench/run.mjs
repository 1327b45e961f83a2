// The benchmark: wsproto (this repository's npm package, from pkg/) side by
// side with ws's Receiver/Sender and websocket-driver's Hybi parser/framer,
// on frame streams built in memory before the clock starts.
//
//   make bench                      full run (a few minutes), writes docs/
//   make bench QUICK=1              the rows the performance targets name
//                                   (printed; docs/ only with --write)
//   node --expose-gc bench/run.mjs [--quick] [--filter=REGEX] [--runs=N]
//        [--min-time=MS] [--json=FILE] [--no-write] [--write] [--misalign=N]
//        [--core-only]
//
// Writes docs/bench.md (tables, machine, versions, targets, memory) and
// docs/bench.svg (speed-ups over ws and websocket-driver). --filter skips
// the native-vs-wasm core section (bench/lib/wasmcore.mjs, about 45 s; 20 s
// with --quick); --core-only runs only that section and prints it (docs/
// not written).

import { writeFileSync, mkdirSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { payload, buildStream, chunksOf, textOf, jsonPool } from "./lib/streams.mjs";
import { libraries, oursDeflate, deflatedStream, wsNative, versions } from "./lib/adapters.mjs";
import { compare } from "./lib/measure.mjs";
import { floor, viewFloor, isTargetRow } from "./lib/floor.mjs";
import { memoryReport } from "./lib/memory.mjs";
import { nativeReport } from "./lib/native.mjs";
import { wasmCoreReport } from "./lib/wasmcore.mjs";
import { renderMarkdown, renderSvg, fmtRate, fmtGB, fmtRatio } from "./lib/report.mjs";

const args = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, "").split("=");
    return [k, v ?? true];
  }),
);
const quick = Boolean(args.quick);
const settings = {
  runs: Number(args.runs ?? (quick ? 3 : 5)),
  minTime: Number(args["min-time"] ?? (quick ? 20 : 25)) / 1000,
  warmTime: (quick ? 60 : 80) / 1000,
};
const misalign = Number(args.misalign ?? 0);
const filter = args.filter ? new RegExp(args.filter) : null;
const coreOnly = Boolean(args["core-only"]);
const root = fileURLToPath(new URL("..", import.meta.url));

const KiB = 1024;
const MiB = 1024 * 1024;
const SIZES = [0, 16, 125, 126, KiB, 16 * KiB, 65535, 64 * KiB, MiB, 16 * MiB];
const WHOLE = Infinity;

export function sizeLabel(n) {
  if (n >= MiB && n % MiB === 0) return `${n / MiB} MiB`;
  if (n >= KiB && n % KiB === 0) return `${n / KiB} KiB`;
  return `${n} B`;
}
export function feedLabel(n) {
  return n === WHOLE ? "whole" : sizeLabel(n);
}

// How many messages a stream holds: about `budget` payload bytes, at least
// one message, at most 100k.
function countFor(size, budget) {
  return Math.max(1, Math.min(100000, Math.floor(budget / Math.max(size, 40))));
}

// ---- the rows --------------------------------------------------------------------

const rows = [];
function row(r) {
  r.id = [r.dir, r.kind, r.fragments > 1 ? "frag" : "", r.deflate ? "deflate" : "", r.keepCompressor ? "keepCompressor" : "", sizeLabel(r.size), r.dir === "recv" ? feedLabel(r.feed) : ""]
    .filter(Boolean)
    .join(" ");
  r.group = `${r.dir === "recv" ? "server receive (masked frames)" : "client send (masking)"}, ${
    { binary: "binary", ascii: "text, ASCII (JSON)", utf8: "text, multi-byte UTF-8" }[r.kind]
  }${r.fragments > 1 ? `, in ${r.fragments} fragments` : ""}${r.deflate ? ", permessage-deflate" : ""}`;
  rows.push(r);
}

const BUDGET = 4 * MiB;
const BUDGET_1B = 16 * KiB;
const small = (s) => s <= KiB;

if (quick) {
  // Exactly the rows the targets of the performance issue name.
  for (const size of [16, 64 * KiB, MiB]) row({ dir: "recv", kind: "binary", size, feed: 64 * KiB, fragments: 1 });
  for (const kind of ["ascii", "utf8"]) for (const size of [KiB, 64 * KiB]) row({ dir: "recv", kind, size, feed: 64 * KiB, fragments: 1 });
  for (const size of [16, KiB, MiB]) row({ dir: "send", kind: "binary", size, fragments: 1 });
  row({ dir: "recv", kind: "ascii", size: 16 * KiB, feed: 64 * KiB, fragments: 1, deflate: true });
  row({ dir: "send", kind: "ascii", size: 16 * KiB, fragments: 1, deflate: true });
  // Not a target row: our other compressor mode, shown next to it.
  row({ dir: "send", kind: "ascii", size: 16 * KiB, fragments: 1, deflate: true, keepCompressor: true });
} else {
  for (const size of SIZES) {
    for (const feed of [WHOLE, 64 * KiB, 1460]) row({ dir: "recv", kind: "binary", size, feed, fragments: 1 });
    if (small(size)) row({ dir: "recv", kind: "binary", size, feed: 1, fragments: 1 });
  }
  for (const size of SIZES) row({ dir: "recv", kind: "binary", size, feed: 64 * KiB, fragments: 4 });
  for (const size of SIZES) {
    row({ dir: "recv", kind: "ascii", size, feed: 64 * KiB, fragments: 1 });
    if (small(size)) row({ dir: "recv", kind: "ascii", size, feed: 1, fragments: 1 });
  }
  for (const size of SIZES) row({ dir: "recv", kind: "utf8", size, feed: 64 * KiB, fragments: 1 });
  for (const size of SIZES) row({ dir: "recv", kind: "utf8", size, feed: 64 * KiB, fragments: 4 });
  for (const size of SIZES) row({ dir: "send", kind: "binary", size, fragments: 1 });
  for (const size of SIZES) row({ dir: "send", kind: "binary", size, fragments: 4 });
  for (const size of SIZES) row({ dir: "send", kind: "ascii", size, fragments: 1 });
  for (const size of SIZES) row({ dir: "send", kind: "utf8", size, fragments: 1 });
  for (const size of [KiB, 16 * KiB, 64 * KiB]) {
    row({ dir: "recv", kind: "ascii", size, feed: 64 * KiB, fragments: 1, deflate: true });
    row({ dir: "send", kind: "ascii", size, fragments: 1, deflate: true });
    // wsproto with PerMessageDeflate({ keepCompressor: true }): a 32 KiB
    // window kept between messages, as ws keeps its zlib stream (the
    // default row above, a fresh compressor per message primed with the
    // last 4 KiB sent, is the one the target is judged on).
    row({ dir: "send", kind: "ascii", size, fragments: 1, deflate: true, keepCompressor: true });
  }
}

// ---- running them ------------------------------------------------------------------

// The messages of a permessage-deflate row: distinct JSON documents of the
// row's size (same structure, other values), cycled. Repeating one message
// would let a compressor with context takeover find each one as a single
// long match in its window and do almost no work, which is not what JSON
// traffic looks like (and flatters a kept 32 KiB window over our default
// compressor primed with only the last 4 KiB sent). The pool (64) is large
// enough that a document comes back only after 64 others, far outside any
// window: every message is new content to compress and inflate.
const DEFLATE_POOL = 64;
function jsonStream(size, count) {
  const pool = jsonPool(size, DEFLATE_POOL);
  return Array.from({ length: count }, (_, i) => pool[i % pool.length]);
}

async function inputFor(r) {
  const budget = r.feed === 1 ? BUDGET_1B : BUDGET;
  const count = countFor(r.size, budget);
  const data = payload(r.kind, r.size);
  const text = r.kind !== "binary";
  const expect = { messages: count };
  if (r.deflate && r.kind !== "ascii") throw new Error(`${r.id}: deflate rows are JSON text`);
  if (r.dir === "recv") {
    let stream;
    if (r.deflate) {
      const messages = jsonStream(r.size, count);
      stream = await deflatedStream(messages, text);
      // Proof of work: every library must deliver all of it.
      expect.units = messages.reduce((n, m) => n + m.length, 0);
    } else {
      stream = buildStream({ data, text, count, fragments: r.fragments, masked: true, misalign });
      expect.units = (text ? textOf(data).length : r.size) * count;
    }
    // ws and websocket-driver unmask in place: every pass gets the
    // pristine bytes back first (off the clock).
    const pristine = Buffer.from(stream);
    const prepare = () => pristine.copy(stream);
    return { input: chunksOf(stream, r.feed), expect, count, wire: stream.length, prepare };
  }
  if (r.deflate) return { input: jsonStream(r.size, count), expect, count, wire: 0 };
  const one = text ? textOf(data) : data;
  let item = one;
  if (r.fragments > 1) {
    const step = Math.ceil(r.size / r.fragments);
    item = [];
    for (let i = 0; i < r.fragments; i++) {
      const piece = data.subarray(Math.min(i * step, r.size), Math.min((i + 1) * step, r.size));
      // Text fragments are sent as strings: cut on characters, not bytes.
      item.push(text ? textOf(piece) : piece);
    }
  }
  return { input: Array(count).fill(item), expect, count, wire: 0 };
}

const started = Date.now();
const results = [];

// A warm-up of every library on typical work before any row is timed:
// V8 tiers JS and wasm functions up only once they are hot (the first
// passes of a fresh process ran 5-10x slower here), and later rows should
// not pay for that.
async function warmUp(ms) {
  const work = [];
  for (const [dir, kind, size] of [
    ["recv", "binary", 16],
    ["recv", "binary", 65536],
    ["recv", "ascii", 1024],
    ["recv", "utf8", 1024],
    ["send", "binary", 16],
    ["send", "binary", 1024],
    ["send", "ascii", 1024],
  ]) {
    work.push({ r: { dir, kind, size, feed: 65536, fragments: 1 }, ...(await inputFor({ dir, kind, size, feed: 65536, fragments: 1 })) });
  }
  // permessage-deflate both ways, so that the first deflate row does not pay
  // for first use (JIT, zlib's thread pool for ws).
  for (const dir of ["recv", "send"]) {
    const r = { dir, kind: "ascii", size: 4096, feed: 65536, fragments: 1, deflate: true };
    work.push({ r, ...(await inputFor(r)) });
  }
  for (const lib of libraries) {
    for (const w of work) {
      const opts = { text: w.r.kind !== "binary", deflate: Boolean(w.r.deflate), fragments: 1 };
      const pass = w.r.dir === "recv" ? lib.receiver(opts) : lib.sender(opts);
      if (!pass) continue;
      const end = performance.now() + ms;
      while (performance.now() < end) {
        w.prepare?.();
        const done = pass(w.input, w.count);
        if (done?.then) await done;
      }
    }
  }
}
if (!coreOnly) await warmUp(quick ? 100 : 200);
const selected = coreOnly ? [] : rows.filter((r) => !filter || filter.test(r.id));
console.log(
  `bench: ${selected.length} rows, ${settings.runs} runs each (${quick ? "quick" : "full"} mode); ws native helpers: ${JSON.stringify(wsNative())}`,
);
for (const r of selected) {
  const { input, expect, count, prepare } = await inputFor(r);
  const entries = [];
  const missing = [];
  for (const lib of libraries) {
    const opts = { text: r.kind !== "binary", deflate: Boolean(r.deflate), fragments: r.fragments, keepCompressor: Boolean(r.keepCompressor) };
    const pass = r.dir === "recv" ? lib.receiver(opts) : lib.sender(opts);
    if (pass) entries.push({ name: lib.name, pass });
    else missing.push(lib.name);
  }
  // The floors (bench/lib/floor.mjs), on the rows the targets name.
  if (isTargetRow(r)) {
    for (const f of [floor, viewFloor]) {
      const pass = r.dir === "recv" ? f.receiver({ text: r.kind !== "binary", deflate: Boolean(r.deflate) }) : f.sender({ text: r.kind !== "binary", deflate: Boolean(r.deflate), fragments: r.fragments });
      if (pass) entries.push({ name: f.name, pass });
    }
  }
  let res = {};
  try {
    res = await compare(entries, input, expect, settings, prepare);
  } catch (e) {
    console.error(`bench: ${r.id}: ${e.stack}`);
    process.exitCode = 1;
    continue;
  }
  const out = { ...r, feed: r.feed === WHOLE ? "whole" : r.feed, count, bytes: r.size * count, results: {} };
  for (const [name, v] of Object.entries(res)) {
    out.results[name] = { seconds: v.median, samples: v.samples, msgs: count / v.median, gbps: (r.size * count) / v.median / 1e9 };
    // Compressed sends: the frame bytes per message, the other half of the trade.
    if (r.deflate && r.dir === "send" && v.last?.bytes) out.results[name].wirePerMessage = v.last.bytes / count;
  }
  for (const name of missing) {
    out.results[name] = { pending: name === "wsproto" && r.deflate && !oursDeflate };
  }
  results.push(out);
  const o = out.results.wsproto;
  const line = [r.id.padEnd(30)];
  for (const lib of libraries) {
    const v = out.results[lib.name];
    line.push(`${lib.name}: ${v.msgs ? `${fmtRate(v.msgs)} msg/s ${fmtGB(v.gbps)}` : v.pending ? "pending" : "n/a"}`);
  }
  if (o?.msgs && out.results["wsproto (base)"]?.msgs) line.push(`x base ${fmtRatio(o.msgs / out.results["wsproto (base)"].msgs)}`);
  if (o?.msgs && out.results.ws?.msgs) line.push(`x ws ${fmtRatio(o.msgs / out.results.ws.msgs)}`);
  if (o?.msgs && out.results["websocket-driver"]?.msgs) line.push(`x driver ${fmtRatio(o.msgs / out.results["websocket-driver"].msgs)}`);
  const f = out.results.floor;
  if (f?.msgs && out.results.ws?.msgs) line.push(`floor: x ws ${fmtRatio(f.msgs / out.results.ws.msgs)}, wsproto at ${Math.round((100 * o.msgs) / f.msgs)}% of it`);
  const fv = out.results[viewFloor.name];
  if (fv?.msgs && out.results.ws?.msgs) line.push(`with views: x ws ${fmtRatio(fv.msgs / out.results.ws.msgs)}`);
  if (o?.wirePerMessage && out.results.ws?.wirePerMessage) line.push(`bytes/msg: wsproto ${Math.round(o.wirePerMessage)}, ws ${Math.round(out.results.ws.wirePerMessage)}`);
  console.log(line.join("  "));
}

const memory = coreOnly ? null : await memoryReport();
const wasmCore = filter ? {} : await wasmCoreReport(quick ? { blocks: 3 } : undefined);
if (wasmCore.error) console.error(`bench: wasm core: ${wasmCore.error}`);
if (wasmCore.nativeError) console.error(`bench: native core: ${wasmCore.nativeError}`);
const native = nativeReport(results, wasmCore);
const meta = {
  date: new Date().toISOString(),
  mode: quick ? "quick" : "full",
  settings,
  misalign,
  clock: process.env.BENCH_CLOCK === "wall" ? "wall" : "cpu",
  seconds: Math.round((Date.now() - started) / 1000),
  versions: versions(),
  wsNative: wsNative(),
  oursDeflate,
};
if (memory) console.log(`bench: memory ${JSON.stringify(memory)}`);
for (const r of native?.rows ?? []) {
  const g = (x) => (x ? fmtGB(x) : "-");
  const q = (x) => (x ? fmtRatio(x) : "-");
  console.log(`${r.id.padEnd(46)}native ${g(r.nativeGbps)}  wasm core ${g(r.coreGbps)} (${q(r.ratio)})  package ${g(r.pkgGbps)} (${q(r.pkgRatio)})`);
}
if (args.json) writeFileSync(args.json, JSON.stringify({ meta, results, memory, native, wasmCore }, null, 1));
// A quick run does not replace the full report unless asked (--write).
if (!args["no-write"] && !filter && !coreOnly && (!quick || args.write)) {
  mkdirSync(`${root}/docs`, { recursive: true });
  writeFileSync(`${root}/docs/bench.md`, renderMarkdown({ meta, results, memory, native }));
  writeFileSync(`${root}/docs/bench.svg`, renderSvg({ meta, results }));
  console.log(`bench: wrote docs/bench.md and docs/bench.svg in ${meta.seconds} s`);
} else {
  console.log(`bench: done in ${meta.seconds} s (docs/ not written)`);
}
