// The wasm-vs-native table: the core's loops natively and in wasm, timed
// in turn by wasmcore.mjs, next to the same paths measured through the wasm
// package in this run; and the core natively next to tungstenite, from
// `cargo bench --bench frames` (criterion writes its estimates under
// target/criterion/).

import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const targetDir = process.env.CARGO_TARGET_DIR ?? `${root}/target`;

// Median nanoseconds per payload byte, or null (criterion records the
// bytes one iteration moves as its throughput).
function estimate(group, param) {
  const dir = `${targetDir}/criterion/${group}/${param}/new`;
  if (!existsSync(`${dir}/estimates.json`)) return null;
  const ns = JSON.parse(readFileSync(`${dir}/estimates.json`, "utf8")).median.point_estimate;
  const bytes = JSON.parse(readFileSync(`${dir}/benchmark.json`, "utf8")).throughput?.Bytes;
  return bytes ? ns / bytes : null;
}

function gbps(nsPerByte) {
  return nsPerByte ? 1 / nsPerByte : null;
}

// `core`: wasmCoreReport()'s result.
export function nativeReport(results, core = {}) {
  const rows = [];
  const tungstenite = [];
  const pairs = [
    ["receive masked binary 64 KiB (64 KiB feeds)", "receive", 65536, (r) => r.dir === "recv" && r.feed === 65536],
    ["receive masked binary 1 MiB (64 KiB feeds)", "receive", 1 << 20, (r) => r.dir === "recv" && r.feed === 65536],
    ["receive masked binary 16 MiB (64 KiB feeds)", "receive", 16 << 20, (r) => r.dir === "recv" && r.feed === 65536],
    ["send masked binary 64 KiB", "send", 65536, (r) => r.dir === "send"],
    ["send masked binary 1 MiB", "send", 1 << 20, (r) => r.dir === "send"],
    ["send masked binary 16 MiB", "send", 16 << 20, (r) => r.dir === "send"],
  ];
  for (const [id, group, size, pred] of pairs) {
    const wasm = results.find((r) => r.kind === "binary" && r.size === size && r.fragments === 1 && !r.deflate && pred(r));
    const pkgGbps = wasm?.results?.wsproto?.gbps ?? null;
    const c = core.rows?.[`${group}/${size}`];
    const nativeGbps = c?.native ?? null;
    if (c || pkgGbps) {
      rows.push({
        id,
        nativeGbps,
        coreGbps: c?.wasm ?? null,
        pkgGbps,
        ratio: c?.ratio ?? null,
        pkgRatio: nativeGbps && pkgGbps ? nativeGbps / pkgGbps : null,
      });
    }
    const ns = estimate(group, size);
    const tung = estimate(`tungstenite-${group}`, size);
    if (ns && tung) {
      tungstenite.push({ id, oursGbps: gbps(ns), tungGbps: gbps(tung), ratio: tung / ns });
    }
  }
  for (const [id, group, size] of [
    ["receive masked binary 16 B (64 KiB feeds)", "receive", 16],
    ["receive masked binary 1 KiB (64 KiB feeds)", "receive", 1024],
    ["send masked binary 16 B", "send", 16],
    ["send masked binary 1 KiB", "send", 1024],
  ]) {
    const ns = estimate(group, size);
    const tung = estimate(`tungstenite-${group}`, size);
    if (ns && tung) tungstenite.unshift({ id, oursGbps: gbps(ns), tungGbps: gbps(tung), ratio: tung / ns });
  }
  if (!rows.length && !tungstenite.length) return null;
  const failed = [core.error && `wasm core: ${core.error}`, core.nativeError && `native core: ${core.nativeError}`].filter(Boolean);
  const method = core.rows
    ? `, timed in turn in this run (native, wasm, wasm, native, ...: ${core.blocks} blocks of ${core.rounds} rounds, each block on a fresh wasm ` +
      `instance and native process, about ${core.sampleMs} ms of ${core.clock === "wall" ? "wall-clock" : "CPU"} time per sample) so that the ` +
      `machine's drift hits both sides; each figure is the median of its ${core.blocks * core.rounds} samples (steadier from run to run than the fastest), `
    : ", ";
  return {
    rows,
    tungstenite,
    failed,
    note:
      "Native and wasm core: the same loops on the same bytes (bench/wasm-core: `Connection::receive_data` draining `events()`, or " +
      "`Connection::send_data` framing the borrowed payload, as the package does), one release profile, built natively and as wasm32 with simd128" +
      method +
      "and the ratio is wasm time over native time (1x: as fast as native). " +
      "Package: this run's figure for the same path through the JS package, which also pays the boundary (copying each chunk in, copying " +
      "payloads out, building event objects), measured earlier in the run. The tungstenite table is criterion's (benches/frames.rs, `make bench` runs it first)." +
      " Send used to copy the payload into a new `Vec` per send (an owned event); on this machine a copy between buffers whose addresses agree modulo 4 KiB (power-of-two sizes from the allocator) takes a slow `memmove` path (a 65536-byte `to_vec` in the wasm core ran at 1.6 GB/s, a 60000-byte one at 33 GB/s), which made the 64 KiB row 6.5x. `send_data` borrows the payload: no such copy is left.",
  };
}
