// The browser demo's page: a wsproto client, and a wsproto server either in
// this page (behind an in-page pipe) or in a Web Worker (behind a
// MessageChannel). The page moves the bytes, shows every event both ends
// see, and cuts the two byte streams back into frames for the wire view.
import init, * as W from "../../pkg/web.js";
import { Endpoint, deflateSupport } from "./endpoint.js";
import { Pipe, WireParser, hex } from "./wire.js";

const $ = (id) => document.getElementById(id);
const settings = { chunkSize: 16, delay: 0 }; // read by the pipes at every write
let worker = null; // { worker, port, ready: Promise<{ ok, reason }> }
let session = null;
let sessions = 0;

// ---- the connection ---------------------------------------------------------

/**
 * A new connection over the chosen transport. Each direction is a Pipe;
 * its deliveries are counted and shown on the wire, then handed to the
 * receiving end (or posted to the worker, which hands them to its end).
 */
function connect() {
  drop();
  const id = ++sessions;
  const transport = document.querySelector("input[name=transport]:checked").value;
  const deflate = $("deflate").checked && !$("deflate").disabled;
  const s = {
    id, transport, deflate, client: null, server: null, pipes: [],
    counts: { c2s: { bytes: 0, chunks: 0 }, s2c: { bytes: 0, chunks: 0 } },
    wire: { c2s: null, s2c: null },
    states: { client: "—", server: "—" },
    start: performance.timeOrigin + performance.now(), // the log's clock
  };
  session = s;
  for (const dir of ["c2s", "s2c"]) s.wire[dir] = new WireParser((item) => showWire(s, dir, item));
  separator(`Connection ${id}: ${transport === "pipe" ? "in-page pipe" : "Web Worker over a MessageChannel"}, ` +
    `${settings.chunkSize > 0 ? `${settings.chunkSize}-byte chunks` : "chunks as written"}` +
    `${settings.delay > 0 ? `, ${settings.delay} ms delay` : ""}, permessage-deflate ${deflate ? "on" : "off"}`);

  // What reaches each end passes here first.
  const tap = (dir, chunk) => {
    if (session !== s) return false;
    if (chunk === null) s.wire[dir].end();
    else {
      s.counts[dir].bytes += chunk.length;
      s.counts[dir].chunks++;
      s.wire[dir].push(chunk);
    }
    showCounts(s);
    return true;
  };

  let toServer; // the client's transport
  if (transport === "pipe") {
    const c2s = new Pipe((chunk) => tap("c2s", chunk) && s.server.receive(chunk), settings);
    const s2c = new Pipe((chunk) => tap("s2c", chunk) && s.client.receive(chunk), settings);
    s.pipes.push(c2s, s2c);
    s.server = new Endpoint(W, "server", {
      deflate, write: (b) => s2c.write(b), end: () => s2c.end(), log: (e) => addLog(s, e),
    });
    toServer = c2s;
  } else {
    const { port } = worker;
    port.postMessage({ type: "open", session: id, deflate, settings });
    const c2s = new Pipe((chunk) => {
      if (!tap("c2s", chunk)) return;
      if (chunk === null) port.postMessage({ type: "eof", session: id });
      else port.postMessage({ type: "data", session: id, chunk }, [chunk.buffer]);
    }, settings);
    s.pipes.push(c2s);
    s.fromWorker = (msg) => {
      if (msg.type === "data") tap("s2c", msg.chunk) && s.client.receive(msg.chunk);
      else if (msg.type === "eof") tap("s2c", null) && s.client.receive(null);
      else if (msg.type === "log") addLog(s, msg.entry);
    };
    s.server = { act: (action) => port.postMessage({ type: "act", session: id, action }, actionTransfer(action)) };
    toServer = c2s;
  }
  s.client = new Endpoint(W, "client", {
    deflate, write: (b) => toServer.write(b), end: () => toServer.end(), log: (e) => addLog(s, e),
  });
  s.client.open(location.host || "demo.invalid");
}

function drop() {
  if (!session) return;
  for (const pipe of session.pipes) pipe.close();
  session.client?.free();
  if (session.transport === "pipe") session.server.free();
  else worker.port.postMessage({ type: "drop", session: session.id });
  session = null;
}

const actionTransfer = (action) => (action.kind === "binary" ? [action.data.buffer] : action.kind === "ping" ? [action.payload.buffer] : []);

function act(action) {
  if (!session) return;
  const from = document.querySelector("input[name=from]:checked").value;
  (from === "client" ? session.client : session.server).act(action);
}

// ---- the event log ----------------------------------------------------------

function separator(text) {
  const li = document.createElement("li");
  li.className = "separator";
  li.textContent = text;
  $("log").append(li);
  const w = document.createElement("li");
  w.className = "separator";
  w.textContent = text;
  $("wire").append(w);
}

const ARROWS = { in: "◀ received", out: "▶ sent", note: "●", error: "✖" };

function addLog(s, entry) {
  if (session !== s) return;
  const li = document.createElement("li");
  li.className = `entry ${entry.side} ${entry.dir}`;
  li.dataset.side = entry.side;
  li.dataset.dir = entry.dir;
  li.dataset.kind = entry.kind;
  for (const key of ["length", "pieces", "code", "extensions", "preview"]) {
    if (entry[key] !== undefined) li.dataset[key] = String(entry[key]);
  }
  const time = document.createElement("span");
  time.className = "time";
  time.textContent = `${((entry.at - s.start) / 1000).toFixed(3)}s`;
  const who = document.createElement("span");
  who.className = `who ${entry.side}`;
  who.textContent = entry.side;
  const dir = document.createElement("span");
  dir.className = "dir";
  dir.textContent = ARROWS[entry.dir] ?? entry.dir;
  const kind = document.createElement("b");
  kind.className = "kind";
  kind.textContent = entry.kind;
  const text = document.createElement("span");
  text.className = "text";
  text.textContent = entry.dir === "out" ? entry.text.replace(/^\S+ ?/, "") : entry.text;
  const state = document.createElement("span");
  state.className = "state";
  state.textContent = entry.state;
  li.append(time, who, dir, kind, text, state);
  scrolled($("log"), () => $("log").append(li));
  s.states[entry.side] = entry.state;
  showStates(s);
}

function showStates(s) {
  for (const side of ["client", "server"]) {
    const el = $(`${side}-state`);
    el.textContent = s.states[side];
    el.dataset.state = s.states[side];
  }
}

function showCounts(s) {
  for (const dir of ["c2s", "s2c"]) {
    const { bytes, chunks } = s.counts[dir];
    $(`${dir}-count`).textContent = `${bytes} bytes in ${chunks} chunk${chunks === 1 ? "" : "s"}`;
  }
}

/** Append, keeping the list scrolled to the bottom if it was. */
function scrolled(list, add) {
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  add();
  if (atBottom) list.scrollTop = list.scrollHeight;
}

// ---- the wire view ----------------------------------------------------------

const CLOSE_NAMES = W.CloseReason;

function span(className, text) {
  const el = document.createElement("span");
  if (className) el.className = className;
  el.textContent = text;
  return el;
}

function showWire(s, dir, item) {
  if (session !== s) return;
  const li = document.createElement("li");
  li.className = `frame ${dir}`;
  li.dataset.dir = dir;
  li.dataset.type = item.type;
  const arrow = dir === "c2s" ? "client → server" : "server → client";
  const head = document.createElement("div");
  head.className = "frame-head";
  head.append(span(`who ${dir === "c2s" ? "client" : "server"}`, arrow));

  if (item.type === "http") {
    head.append(span("kind", "HTTP"), span("text", item.firstLine),
      span("meta", `${item.bytes.length} bytes${item.chunks > 1 ? `, in ${item.chunks} chunks` : ""}`));
    const details = document.createElement("details");
    const summary = document.createElement("summary");
    summary.textContent = "the opening handshake";
    details.append(summary);
    const pre = document.createElement("pre");
    pre.className = "http";
    pre.textContent = item.text.replace(/\r\n$/, "").replaceAll("\r\n", "↵\n");
    details.append(pre);
    details.open = true;
    li.append(head, details);
  } else if (item.type === "frame") {
    li.dataset.opcode = item.opname;
    li.dataset.fin = item.fin;
    li.dataset.rsv1 = item.rsv1;
    li.dataset.masked = item.masked;
    li.dataset.length = item.length;
    li.dataset.size = item.header.length + item.length;
    li.dataset.chunks = item.chunks;
    const flags = document.createElement("span");
    flags.className = "flags";
    for (const [name, on, title] of [["FIN", item.fin, "final frame of the message"], ["RSV1", item.rsv1, "compressed (permessage-deflate)"],
      ["RSV2", item.rsv2, ""], ["RSV3", item.rsv3, ""], ["MASK", item.masked, "masked: client to server"]]) {
      if (!on && (name === "RSV2" || name === "RSV3")) continue;
      const f = span(on ? "flag on" : "flag", name);
      f.title = title;
      flags.append(f);
    }
    head.append(span("kind", item.opname), flags,
      span("meta", `opcode 0x${item.opcode.toString(16)} · length ${item.length}` +
        `${item.key ? ` · key ${hex(item.key, "")}` : ""}` +
        `${item.chunks > 1 ? ` · arrived in ${item.chunks} chunks` : ""}`));
    li.append(head, hexView(item), decoded(item));
  } else if (item.type === "eof") {
    head.append(span("kind", "EOF"), span("text", "the end of the stream (a TCP FIN)"));
    li.append(head);
  } else {
    head.append(span("kind", "bytes"), span("text", `${item.bytes.length} bytes after a refused handshake`));
    li.append(head);
  }
  scrolled($("wire"), () => $("wire").append(li));
}

function hexView(f) {
  const pre = document.createElement("div");
  pre.className = "hex";
  const h = f.header;
  pre.append(span("b0", hex(h.subarray(0, 1))), " ", span("b1", hex(h.subarray(1, 2 + f.lengthBytes))));
  if (f.key) pre.append(" ", span("key", hex(f.key)));
  if (f.payload.length) {
    pre.append(" ", span("pl", hex(f.payload)));
    if (f.truncated) pre.append(span("more", ` … ${f.length - f.payload.length} more bytes`));
  }
  return pre;
}

function decoded(f) {
  const el = document.createElement("div");
  el.className = "decoded";
  const data = f.unmasked;
  let text;
  if (f.rsv1) text = `compressed payload (${f.length} bytes on the wire); the event log shows it inflated`;
  else if (f.opcode === 0x1 || (f.opcode === 0x0 && looksText(data))) text = JSON.stringify(new TextDecoder().decode(data)) + (f.truncated ? " …" : "");
  else if (f.opcode === 0x8) {
    text = data.length >= 2 ? `code ${(data[0] << 8) | data[1]} ${CLOSE_NAMES[(data[0] << 8) | data[1]] ?? ""}` : "no status code";
    if (data.length > 2) text += ` reason ${JSON.stringify(new TextDecoder().decode(data.subarray(2)))}`;
  } else if (f.opcode === 0x9 || f.opcode === 0xa) text = `payload ${JSON.stringify(new TextDecoder().decode(data))}`;
  else if (f.opcode === 0x2 || f.opcode === 0x0) text = f.length ? `${hex(data.subarray(0, 24))}${f.length > 24 ? " …" : ""}` : "empty";
  else text = f.length ? `${f.length} bytes` : "empty";
  el.textContent = (f.key && data.length && !f.rsv1 ? "unmasked: " : "") + text;
  return el;
}

function looksText(bytes) {
  return bytes.length > 0 && bytes.every((b) => b >= 0x20 || b === 9 || b === 10 || b === 13);
}

// ---- the controls -----------------------------------------------------------

function setupControls() {
  $("chunk").value = settings.chunkSize;
  const changed = () => {
    settings.chunkSize = Math.max(0, Math.floor(Number($("chunk").value) || 0));
    settings.delay = Math.max(0, Number($("delay").value) || 0);
    worker?.port.postMessage({ type: "settings", settings });
  };
  $("chunk").addEventListener("input", changed);
  $("delay").addEventListener("input", changed);
  for (const b of document.querySelectorAll("[data-chunk]")) {
    b.addEventListener("click", () => {
      $("chunk").value = b.dataset.chunk;
      changed();
    });
  }
  $("connect").addEventListener("click", () => connect());
  const form = (id, make) => $(id).addEventListener("submit", (e) => {
    e.preventDefault();
    act(make());
  });
  form("text-form", () => ({ kind: "text", data: $("text").value.repeat(Math.max(1, Number($("repeat").value) || 1)) }));
  form("binary-form", () => {
    const n = Math.max(0, Math.floor(Number($("binary-size").value) || 0));
    return { kind: "binary", data: Uint8Array.from({ length: n }, (_, i) => i & 0xff) };
  });
  form("ping-form", () => ({ kind: "ping", payload: new TextEncoder().encode($("ping-payload").value) }));
  form("close-form", () => ({ kind: "close", code: Number($("close-code").value), reason: $("close-reason").value }));
  $("clear-log").addEventListener("click", () => ($("log").textContent = ""));
  $("clear-wire").addEventListener("click", () => ($("wire").textContent = ""));
}

function startWorker() {
  const w = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
  const channel = new MessageChannel();
  w.postMessage({ type: "port" }, [channel.port2]);
  let ready;
  const readyPromise = new Promise((resolve) => (ready = resolve));
  channel.port1.onmessage = ({ data: msg }) => {
    if (msg.type === "ready") ready(msg.deflate);
    else if (session && session.id === msg.session && session.fromWorker) session.fromWorker(msg);
  };
  w.onerror = (e) => {
    $("session-info").textContent = `The worker failed: ${e.message ?? "see the console"}`;
  };
  return { worker: w, port: channel.port1, ready: readyPromise };
}

async function main() {
  setupControls();
  await init();
  worker = startWorker();
  // Offer compression only if this build of the package can do it.
  const deflate = deflateSupport(W);
  const box = $("deflate");
  box.disabled = !deflate.ok;
  box.checked = false;
  $("deflate-note").textContent = deflate.ok
    ? `Offered by the client, accepted by the server (${deflate.reason.replace(/^negotiated: /, "")}).`
    : `Not available: ${deflate.reason}.`;
  $("deflate-note").classList.toggle("warn", !deflate.ok);
  box.closest(".field").classList.toggle("disabled", !deflate.ok);
  document.body.dataset.deflate = deflate.ok ? "available" : "unavailable";
  await worker.ready;
  $("connect").disabled = false;
  document.body.dataset.ready = "true";
  connect();
}

main().catch((err) => {
  document.body.dataset.ready = "error";
  $("session-info").textContent = `Failed to start: ${err.message}`;
  console.error(err);
});
