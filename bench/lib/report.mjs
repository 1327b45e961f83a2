// docs/bench.md and docs/bench.svg from the results (plain JS, no
// dependency).

import os from "node:os";
import { readFileSync } from "node:fs";

const PEERS = ["ws", "websocket-driver"];

export function fmtRate(x) {
  if (x >= 1e6) return `${(x / 1e6).toPrecision(3)} M`;
  if (x >= 1e3) return `${(x / 1e3).toPrecision(3)} k`;
  return x.toPrecision(3);
}
export function fmtGB(x) {
  if (x === 0) return "-";
  return x >= 0.1 ? `${x.toFixed(2)} GB/s` : `${(x * 1000).toPrecision(3)} MB/s`;
}
export function fmtRatio(x) {
  return x >= 10 ? `${x.toFixed(0)}x` : `${x.toFixed(2)}x`;
}
function fmtBytes(n) {
  if (Math.abs(n) >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (Math.abs(n) >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} B`;
}

function machine() {
  const cpus = os.cpus();
  let model = cpus[0]?.model ?? "unknown CPU";
  return `${model.trim()}, ${cpus.length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()} (${os.arch()})`;
}

function sizeLabel(n) {
  const KiB = 1024;
  const MiB = KiB * KiB;
  if (n >= MiB && n % MiB === 0) return `${n / MiB} MiB`;
  if (n >= KiB && n % KiB === 0) return `${n / KiB} KiB`;
  return `${n} B`;
}
function feedLabel(f) {
  return f === "whole" ? "whole" : sizeLabel(f);
}

function ratio(row, peer, ours = "wsproto") {
  const o = row.results[ours];
  const p = row.results[peer];
  if (!o?.msgs || !p?.msgs) return null;
  return o.msgs / p.msgs;
}

function cell(v) {
  if (!v) return "n/a";
  if (v.pending) return "pending";
  if (!v.msgs) return "n/a";
  return `${fmtRate(v.msgs)} (${fmtGB(v.gbps)})`;
}

// The targets of the performance issue, judged from this run's rows.
export function targets(results, native) {
  const find = (pred) => results.filter(pred);
  const recv = (kind, size) =>
    find((r) => r.dir === "recv" && r.kind === kind && r.size === size && r.feed === 65536 && r.fragments === 1 && !r.deflate);
  const send = (size) => find((r) => r.dir === "send" && r.kind === "binary" && r.size === size && r.fragments === 1 && !r.deflate);
  const list = [];
  const add = (what, rows, peer, goal) => {
    const ratios = rows.map((r) => ({
      id: r.id,
      x: ratio(r, peer),
      floor: ratio(r, peer, "floor"),
      views: ratio(r, peer, "floor (views)"),
      pending: r.results.wsproto?.pending,
    }));
    if (!ratios.length) return;
    const pending = ratios.some((r) => r.pending);
    const worst = Math.min(...ratios.filter((r) => r.x !== null).map((r) => r.x));
    const floors = ratios.filter((r) => r.floor !== null);
    list.push({
      what,
      peer,
      goal: `>= ${goal}x`,
      measured: pending ? "pending" : ratios.map((r) => `${r.id}: ${r.x === null ? "n/a" : fmtRatio(r.x)}`).join("; "),
      met: pending ? "pending" : Number.isFinite(worst) && worst >= goal ? "yes" : "no",
      floor: floors.length ? floors.map((r) => `${fmtRatio(r.floor)}${r.floor < goal ? " (out of reach)" : ""}`).join("; ") : "-",
      // Only where the floor puts the target out of reach: would views help?
      views: floors.some((r) => r.floor < goal)
        ? floors.map((r) => (r.views === null ? "-" : `${fmtRatio(r.views)}${r.views < goal ? " (out of reach)" : ""}`)).join("; ")
        : "-",
    });
  };
  const a = recv("binary", 16);
  const b = [...recv("binary", 65536), ...recv("binary", 1 << 20)];
  const c = [...recv("ascii", 1024), ...recv("ascii", 65536), ...recv("utf8", 1024), ...recv("utf8", 65536)];
  const d = [...send(16), ...send(1024), ...send(1 << 20)];
  add("server receive, masked binary, 16 B, 64 KiB feeds (messages/s)", a, "ws", 8);
  add("server receive, masked binary, 64 KiB and 1 MiB (GB/s)", b, "ws", 3);
  add("receive text, ASCII and multi-byte, 1 KiB and 64 KiB", c, "ws", 2);
  add("client send (masking), 16 B, 1 KiB, 1 MiB", d, "ws", 2);
  add("every path above", [...a, ...b, ...c, ...d], "websocket-driver", 20);
  // Our default compressor only: the keepCompressor variant is shown in the
  // tables, not judged.
  const deflate = find((r) => r.deflate && r.size === 16384 && !r.keepCompressor);
  add("permessage-deflate, 16 KiB JSON, both ways", deflate, "ws", 1);
  const coreRows = native?.rows?.filter((r) => r.ratio !== null) ?? [];
  const what = "the same core natively vs in wasm, timed in turn, >= 64 KiB (wasm time / native time)";
  if (coreRows.length) {
    const worst = Math.max(...coreRows.map((r) => r.ratio));
    list.push({
      what,
      peer: "itself",
      goal: "<= 1.5x",
      measured: coreRows.map((r) => `${r.id}: ${fmtRatio(r.ratio)}`).join("; "),
      met: worst <= 1.5 ? "yes" : "no",
      floor: "-",
      views: "-",
    });
  } else if (native?.failed?.length) {
    list.push({ what, peer: "itself", goal: "<= 1.5x", measured: native.failed.join("; "), met: "not measured", floor: "-", views: "-" });
  }
  return list;
}

// How the package works today and what the floors say (kept by hand: update
// with the code).
const NOTES = [
  "Receive: after the handshake the binding feeds its input buffer to the core, which unmasks each payload in place and writes one 12-byte record " +
    "(kind/flags/code, pointer, length) per piece into a table; no `Vec` and no `Event` is built per data frame, and a whole unfragmented " +
    "frame of up to 64 KiB takes a fast path (about 25 ns per 16 B frame in wasm). Text is checked for ASCII in the unmasking loop itself; " +
    "ASCII needs no UTF-8 validation, so an ASCII payload is read once in wasm. Only pieces that had to be assembled (inflated, or text that completes a code " +
    "point cut between pieces) are owned buffers. JS decodes ASCII text with one latin1 decode per span of pieces and other text from one " +
    "UTF-16 buffer that wasm transcoded, slicing per piece; eight or more small binary pieces close together in the input are copied out " +
    "in one copy and handed out as views, others with `slice()` or a pooled copy. Copies of 65 B to 4 KiB (one piece, or such a span) go " +
    "into a shared 64 KiB pool: V8 spends about 0.5-2 us on each new ArrayBuffer of that size, and with a `slice()` per span 125 B " +
    "messages fed in 1460 B chunks cost 620-680 ns each, against 440 pooled. The call's events go into an array " +
    "made at its size (growing one by `push()` cost 7 ns an event) and `events()` hands them out through a hand-written iterator (a " +
    "generator's result objects cost 13 ns more an event). The Rust API (`Connection::events()`) " +
    "is the same core writing into the event queue instead (an internal sink trait).",
  "Feeds of 1460 B (a TCP segment) into large messages: each call delivers its piece at once, as wsproto does, so each piece is copied out " +
    "into fresh memory. Fresh memory costs about 100 ns per KiB here (the allocator's zeroing of cold pages, measured with perf), and copying " +
    "the chunk in reads cold input: together most of the time of such a call, and why these rows trail ws, which keeps references to its " +
    "input chunks and copies a message once, into memory it does not zero.",
  "Send: JS writes the payload into the scratch buffer after 14 bytes of headroom and the binding frames it there: the header goes just " +
    "before the payload, which is masked in place, and JS copies the frame out. So a send is one copy in, one masking pass, one copy out, " +
    "with no event, no `Vec` and no output buffer (with extensions, `Connection::send_data` frames the borrowed payload into one). " +
    "Mask keys come from `crypto.getRandomValues` writing 16 KiB at a time straight into wasm memory (getrandom's own backend went " +
    "through a 256-byte JS buffer: 16 calls per 4 KiB, a sixth of a small send).",
  "Floors: where a target is above its floor (`out of reach` in the targets table) no wasm engine behind this API can meet it on this machine: " +
    "copying each chunk in and each payload out (binary), or a JS event object and a Uint8Array or string per message already cost that " +
    "much relative to ws. Where the floor is above the target, the distance from wsproto to its floor is JS per-call and per-event work " +
    "(event objects, the `send()` dispatch, the wasm-bindgen call) and wasm work (parsing, masking, UTF-8 validation and transcoding).",
  "Views into wasm memory (the `floor with views` column) would lift the binary floors above every target: no copy out. The package " +
    "does not hand them out, because a view on `memory.buffer` is detached (length 0) when wasm memory grows, and memory grows in " +
    "whichever connection's call needs it: a server forwarding a received message to its other clients (`send()` on each) would " +
    "find it detached from the first send that grows memory on, and a view kept across calls would show other data. A contract of \"valid until " +
    "the next call into the package, from any connection\" is not one a JS application can keep; owned copies are.",
  "Small sends pay fixed costs per call: the event's constructor, the dispatch on its class, one `Uint8Array.set` in, the wasm call (about " +
    "65 ns, 11 of them the bare JS-to-wasm call) and one `slice()` of the frame out (about 55 ns: a new ArrayBuffer).",
  "Multi-byte text: Node 20 decodes such UTF-8 at about 0.25 GB/s (TextDecoder and Buffer alike); the package validates and transcodes " +
    "to UTF-16 in wasm, both with SIMD written for V8 (which rebuilds vector constants at each use: they are made once per call), and " +
    "makes one string per call. Per 1 KiB of the mixed text in wasm: validation about 160 ns, transcoding about 400 ns (from 400 and 940 " +
    "with simdutf8 and a scalar decoder); they are still most of the time above the floor.",
  "permessage-deflate rows: each stream cycles through 64 distinct JSON documents of the row's size (the same record structure, values " +
    "from different seeds), so every message is new content and no document recurs within a 32 KiB window. A stream of one repeated " +
    "message (as these rows used before) lets a compressor with context takeover find each message as one long match and do almost no " +
    "work, which is not what JSON traffic looks like, and it favoured a kept 32 KiB window (ws's, and ours with `keepCompressor`) over " +
    "our default, a fresh compressor per message primed with the last 4 KiB sent. Receive: the frames a ws client sends (context " +
    "takeover, 15 bits), inflated by both. Send: both compress at level 6 with context takeover; the `keepCompressor` rows are wsproto " +
    "with `PerMessageDeflate({ keepCompressor: true })` (ws always keeps its zlib stream) and are not what the target is judged on.",
  "Memory: a large input or output buffer (over 64 KiB) and the records pointing into it are given back as soon as JS has copied the result " +
    "out (`WasmConn.release`), so one 16 MiB message does not stay pinned until the connection's next call.",
];

export function renderMarkdown({ meta, results, memory, native }) {
  const L = [];
  const v = meta.versions;
  L.push("# Benchmark: wsproto vs ws vs websocket-driver");
  L.push("");
  L.push(
    `Generated by \`make bench\`${meta.mode === "quick" ? " (quick mode: only the rows the targets name)" : ""} on ${meta.date.slice(0, 10)} in ${meta.seconds} s. ` +
      "Frame streams are built in memory before timing (no sockets) and fed to each library in chunks of the stated size; " +
      "every delivered message is counted (and binary payload bytes summed) to prove the work was done. " +
      `Each figure is the median of ${meta.settings.runs} interleaved runs (wsproto, ws, websocket-driver, wsproto, ...) after a warm-up, ` +
      `timed in ${meta.clock === "wall" ? "wall-clock time" : "the process's CPU time (a shared machine's other work disturbs it far less than wall time)"}; ` +
      "cells show messages/s (payload GB/s), and `x ws` / `x driver` are wsproto's speed divided by the peer's (above 1: wsproto is faster).",
  );
  L.push("");
  L.push(`- Machine: ${machine()}`);
  L.push(`- Node ${process.version} (V8 ${process.versions.v8})`);
  L.push(
    `- wsproto ${v.wsproto} (this repository, pkg/), ws ${v.ws} (bufferutil ${meta.wsNative.bufferutil ? v.bufferutil + " native" : "absent: JS fallback"}, utf-8-validate ${meta.wsNative.utf8validate ? v["utf-8-validate"] + " native" : "absent"}), websocket-driver ${v["websocket-driver"]}`,
  );
  L.push(
    "- Peers: ws's `Receiver` (a server-side Writable, `write()` per chunk) and `Sender.frame` (as `WebSocket#send` calls it: a Buffer is read-only, a string is encoded and masked in place); " +
      "websocket-driver's `Hybi` driver, opened, `parse()` per chunk and `binary()`/`text()` to send. " +
      "wsproto: `Connection` (frame level) `receiveData()` per chunk then `events()`, and `send()`.",
  );
  L.push(
    "- Text arrives as a JS string from every library (ws hands its listener a validated Buffer; the bench calls `toString()` as an application would). " +
      "wsproto delivers a message fed in pieces as pieces (events with `messageFinished`); ws and websocket-driver buffer whole messages.",
  );
  L.push(
    `- Alignment: every stream has its own ArrayBuffer, starting at byte offset ${meta.misalign}; feed chunks are cut from it at fixed offsets.`,
  );
  if (!meta.oursDeflate) L.push("- permessage-deflate: not yet available in the JS package; its rows say `pending`.");
  L.push("");

  const t = targets(results, native);
  if (t.length) {
    L.push("## Targets");
    L.push("");
    L.push(
      "`floor` is the same ratio for the JS work that no wasm engine can avoid given the API, measured on the same rows and inputs " +
        "(bench/lib/floor.mjs): each chunk copied into wasm memory, each payload piece made its own Uint8Array (a view into one copy " +
        "of the chunk) or string (a slice of one string decoded per call: latin1 for ASCII, UTF-16 that wasm transcoded otherwise) " +
        "inside one event object per piece; for send, the payload copied in and the " +
        "frame copied out. No parsing, unmasking, masking, validation or transcoding. A target above its floor cannot be met by any wasm engine " +
        "behind this API (it says `out of reach`); how far wsproto is from its floor is what is left to gain. " +
        "`floor with views` is the floor of another API contract, shown where the floor is out of reach: binary payloads and sent frames " +
        "handed out as views into wasm memory, valid until the next call, so nothing is copied out (text is a string whatever the " +
        "contract: `-`). Where it is out of reach too, no wasm engine can meet the target on this machine, whatever its API: every " +
        "byte must still be copied into wasm memory, and every message still needs its event and its view.",
    );
    L.push("");
    L.push("| path | peer | target | measured | floor (same order) | floor with views | met |");
    L.push("|---|---|---|---|---|---|---|");
    for (const x of t) L.push(`| ${x.what} | ${x.peer} | ${x.goal} | ${x.measured} | ${x.floor} | ${x.views} | ${x.met} |`);
    L.push("");
  }

  L.push("## Results");
  L.push("");
  L.push("![speed-ups](bench.svg)");
  L.push("");
  const groups = new Map();
  for (const r of results) {
    if (!groups.has(r.group)) groups.set(r.group, []);
    groups.get(r.group).push(r);
  }
  for (const [group, rows] of groups) {
    L.push(`### ${group[0].toUpperCase()}${group.slice(1)}`);
    L.push("");
    const recv = rows[0].dir === "recv";
    L.push(`| size | ${recv ? "feed | " : ""}wsproto | ws | x ws | websocket-driver | x driver |`);
    L.push(`|---:|${recv ? "---:|" : ""}---:|---:|---:|---:|---:|`);
    for (const r of rows) {
      const xw = ratio(r, "ws");
      const xd = ratio(r, "websocket-driver");
      L.push(
        `| ${sizeLabel(r.size)}${r.keepCompressor ? ", `keepCompressor`" : ""} | ${recv ? feedLabel(r.feed) + " | " : ""}${cell(r.results.wsproto)} | ${cell(r.results.ws)} | ${
          xw === null ? "-" : fmtRatio(xw)
        } | ${cell(r.results["websocket-driver"])} | ${xd === null ? "-" : fmtRatio(xd)} |`,
      );
    }
    L.push("");
    const wire = rows.filter((r) => r.results.wsproto?.wirePerMessage && r.results.ws?.wirePerMessage);
    if (wire.length) {
      L.push(
        "Frame bytes per message (compressed, with headers): " +
          wire
            .map(
              (r) =>
                `${sizeLabel(r.size)}${r.keepCompressor ? " `keepCompressor`" : ""}: wsproto ${Math.round(r.results.wsproto.wirePerMessage)}, ws ${Math.round(r.results.ws.wirePerMessage)}`,
            )
            .join("; ") +
          ".",
      );
      L.push("");
    }
  }

  if (native?.rows?.length) {
    L.push("## Native vs wasm");
    L.push("");
    L.push(native.note);
    L.push("");
    for (const f of native.failed ?? []) L.push(`Failed: ${f}.`, "");
    L.push("| path | native core | wasm core | wasm / native | JS package | package / native |");
    L.push("|---|---:|---:|---:|---:|---:|");
    const g = (x) => (x ? fmtGB(x) : "-");
    const q = (x) => (x ? fmtRatio(x) : "-");
    for (const r of native.rows) {
      L.push(`| ${r.id} | ${g(r.nativeGbps)} | ${g(r.coreGbps)} | ${q(r.ratio)} | ${g(r.pkgGbps)} | ${q(r.pkgRatio)} |`);
    }
    if (native.tungstenite?.length) {
      L.push("");
      L.push("The same core natively, next to tungstenite (a native Rust reference, its whole-message API over an in-memory stream):");
      L.push("");
      L.push("| path | wsproto core | tungstenite | wsproto / tungstenite speed |");
      L.push("|---|---:|---:|---:|");
      for (const r of native.tungstenite) L.push(`| ${r.id} | ${fmtGB(r.oursGbps)} | ${fmtGB(r.tungGbps)} | ${fmtRatio(r.ratio)} |`);
    }
    L.push("");
  }

  L.push("## Notes: where the time goes, and what is left");
  L.push("");
  for (const note of NOTES) L.push(`- ${note}`);
  L.push("");

  if (memory) {
    L.push("## Memory and size");
    L.push("");
    L.push(`- \`.wasm\`: ${memory.wasmBytes} bytes, ${memory.wasmGzipBytes} gzipped (gzip -9).`);
    const per = (k, what) => {
      const m = memory[k];
      if (m?.bytesPerConnection !== undefined) {
        L.push(`- ${what}: ${m.bytesPerConnection} bytes of wasm memory per connection (growth over ${m.connections} connections).`);
      } else if (m?.error) L.push(`- ${what}: failed (${m.error}).`);
    };
    per("fresh", "Idle `Connection`, never used");
    per("used", "Idle `Connection` after one 16 B message each way");
    per("handshake", "Idle `WSConnection` (server) after the handshake and one message each way");
    const big = memory.big;
    if (big && !big.error) {
      for (const [k, what] of [
        ["chunks64k", "Receiving a 16 MiB message in 64 KiB chunks"],
        ["whole", "Receiving a 16 MiB message in one chunk"],
        ["send", "Sending a 16 MiB message"],
      ]) {
        const b = big[k];
        L.push(
          `- ${what}: wasm memory grew ${fmtBytes(b.firstGrowth)} the first time and ${fmtBytes(b.secondGrowth)} when a second connection did the same afterwards ` +
            `(the first connection's buffers were given back); afterwards its input buffer holds ${fmtBytes(b.buffersAfter.input)}, its scratch buffer ${fmtBytes(b.buffersAfter.scratch)}.`,
        );
      }
    } else if (big?.error) L.push(`- 16 MiB message: failed (${big.error}).`);
    L.push("");
  }
  return L.join("\n");
}

// A horizontal bar chart, log scale: wsproto's speed-up over each peer for
// a selection of rows (those the targets name, and a few more).
export function renderSvg({ meta, results }) {
  const picked = results.filter((r) => r.results.wsproto?.msgs && (r.results.ws?.msgs || r.results["websocket-driver"]?.msgs));
  const key = (r) =>
    (r.dir === "send" && r.fragments === 1) ||
    (r.dir === "recv" && r.feed === 65536 && r.fragments === 1) ||
    r.deflate;
  let rows = picked.filter(key);
  if (rows.length > 40) rows = rows.filter((r) => [16, 1024, 65536, 1 << 20].includes(r.size) || r.deflate);
  const label = (r) =>
    `${r.dir === "recv" ? "receive" : "send"} ${r.kind === "binary" ? "binary" : r.kind === "ascii" ? "text" : "text (UTF-8)"}${r.deflate ? " deflate" : ""} ${sizeLabel(r.size)}${r.keepCompressor ? " (keepCompressor)" : ""}`;
  const W = 900;
  const left = 250;
  const right = 60;
  const barH = 9;
  const rowH = 2 * barH + 8;
  const top = 56;
  const H = top + rows.length * rowH + 40;
  const values = rows.flatMap((r) => PEERS.map((p) => ratio(r, p)).filter((x) => x !== null));
  const lo = Math.min(0.5, ...values) * 0.8;
  const hi = Math.max(2, ...values) * 1.25;
  const x = (v) => left + ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (W - left - right);
  const colors = { ws: "#3b73b9", "websocket-driver": "#e08a2c" };
  const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;");
  const S = [];
  S.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`);
  S.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  S.push(
    `<text x="${left}" y="18" font-size="14" font-weight="bold">wsproto's speed-up (log scale; 1x = as fast as the peer)</text>`,
  );
  S.push(
    `<text x="${left}" y="34" fill="#555">${esc(`Node ${process.version}, ${meta.date.slice(0, 10)}, ${os.cpus()[0]?.model?.trim() ?? ""}; receive fed in 64 KiB chunks`)}</text>`,
  );
  let lx = left;
  for (const p of PEERS) {
    S.push(`<rect x="${lx}" y="42" width="10" height="10" fill="${colors[p]}"/>`);
    S.push(`<text x="${lx + 14}" y="51">vs ${p}</text>`);
    lx += 140;
  }
  for (const tick of [0.25, 0.5, 1, 2, 3, 5, 8, 10, 20, 50, 100, 200, 500, 1000]) {
    if (tick < lo || tick > hi) continue;
    const tx = x(tick);
    S.push(`<line x1="${tx}" y1="${top - 4}" x2="${tx}" y2="${H - 30}" stroke="${tick === 1 ? "#000" : "#ddd"}"/>`);
    S.push(`<text x="${tx}" y="${H - 16}" text-anchor="middle">${tick}x</text>`);
  }
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    S.push(`<text x="${left - 6}" y="${y + barH + 4}" text-anchor="end">${esc(label(r))}</text>`);
    PEERS.forEach((p, j) => {
      const v = ratio(r, p);
      if (v === null) return;
      const x0 = x(Math.min(1, v));
      const x1 = x(Math.max(1, v));
      const by = y + j * barH;
      S.push(`<rect x="${x0.toFixed(1)}" y="${by}" width="${Math.max(1, x1 - x0).toFixed(1)}" height="${barH - 1}" fill="${colors[p]}"/>`);
      S.push(
        v >= 1
          ? `<text x="${(x1 + 3).toFixed(1)}" y="${by + barH - 1}" font-size="9">${fmtRatio(v)}</text>`
          : `<text x="${(x0 - 3).toFixed(1)}" y="${by + barH - 1}" font-size="9" text-anchor="end">${fmtRatio(v)}</text>`,
      );
    });
  });
  S.push("</svg>");
  return S.join("\n") + "\n";
}
