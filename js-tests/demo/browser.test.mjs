// The browser demos in Debian's Chromium (playwright-core), served by the
// Node chat server (demo/node/chat.mjs) started on a random loopback port:
//   - demo/browser/: a wsproto client and server talking through the in-page
//     pipe and through a Web Worker's MessageChannel, re-chunked at 1 byte
//     and at 4 KiB, with and without permessage-deflate, driven through the
//     page's own controls and checked in its event log and wire view;
//   - the chat page: two pages' native WebSockets talking through the
//     wsproto chat server.
// Screenshots land in js-tests/.out/ (ignored by git).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { nodeChat, root } from "./procs.mjs";

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const OUT = join(root, "js-tests", ".out");
const STEP = 20000; // the longest wait for one step in the page

let server;
let browser;
let base;

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: scripts/setup.sh --browser installs Debian's chromium`);
  server = await nodeChat();
  base = `http://127.0.0.1:${server.port}`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
    timeout: 60000,
  });
  mkdirSync(OUT, { recursive: true });
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

async function openPage(path, viewport = { width: 1440, height: 1000 }) {
  const page = await browser.newPage({ viewport });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  await page.goto(`${base}${path}`);
  return { page, errors };
}

/** The event log, as the page shows it: one record per entry. */
const readLog = (page) => page.$$eval("#log li.entry", (lis) => lis.map((li) => ({ ...li.dataset, text: li.querySelector(".text").textContent })));
const readWire = (page) => page.$$eval("#wire li.frame", (lis) => lis.map((li) => ({ ...li.dataset })));

/** Waits until the log has an entry matching every given data attribute. */
function waitEntry(page, match, what = JSON.stringify(match)) {
  return page.waitForFunction(
    (m) => [...document.querySelectorAll("#log li.entry")].some((li) => Object.entries(m).every(([k, v]) => li.dataset[k] === String(v))),
    match,
    { timeout: STEP, polling: 50 },
  ).catch((err) => {
    throw new Error(`waiting for ${what} in the event log: ${err.message}`);
  });
}

const TEXT = "héllo wörld, 你好, 😀 "; // 20 characters, 29 bytes in UTF-8
const REPEAT = 250; // 5000 characters, 7250 bytes: more than 4 KiB
const BINARY = 10000;

/**
 * One connection through the page's controls: handshake, a long text, a
 * binary message, a ping, a close, each checked in the log and on the wire.
 */
async function exchange(page, { transport, chunk, deflate }) {
  await page.check(`input[name=transport][value=${transport}]`);
  await page.fill("#chunk", String(chunk));
  await page.fill("#delay", "0");
  if (deflate) await page.check("#deflate");
  else await page.uncheck("#deflate");
  await page.check("input[name=from][value=client]");
  await page.click("#clear-log");
  await page.click("#clear-wire");
  await page.click("#connect");

  await waitEntry(page, { side: "client", dir: "in", kind: "AcceptConnection" });
  await page.fill("#text", TEXT);
  await page.fill("#repeat", String(REPEAT));
  await page.click("#send-text");
  await waitEntry(page, { side: "client", dir: "in", kind: "TextMessage" });
  await page.fill("#binary-size", String(BINARY));
  await page.click("#send-binary");
  await waitEntry(page, { side: "client", dir: "in", kind: "BytesMessage" });
  await page.fill("#ping-payload", "are you there?");
  await page.click("#send-ping");
  await waitEntry(page, { side: "client", dir: "in", kind: "Pong" });
  await page.fill("#close-code", "1000");
  await page.fill("#close-reason", "bye");
  await page.click("#send-close");
  await waitEntry(page, { side: "client", dir: "in", kind: "CloseConnection" });
  await waitEntry(page, { side: "server", dir: "note", kind: "EOF" });
  await waitEntry(page, { side: "client", dir: "note", kind: "EOF" });

  const log = await readLog(page);
  const seen = log.filter((e) => e.dir === "in").map((e) => `${e.side} ${e.kind}`);
  assert.deepEqual(seen, [
    "server Request", "client AcceptConnection",
    "server TextMessage", "client TextMessage",
    "server BytesMessage", "client BytesMessage",
    "server Ping", "client Pong",
    "server CloseConnection", "client CloseConnection",
  ]);
  assert.deepEqual(log.filter((e) => e.dir === "error"), []);
  const find = (side, kind) => log.find((e) => e.side === side && e.dir === "in" && e.kind === kind);
  const accept = find("client", "AcceptConnection");
  if (deflate) assert.match(accept.extensions, /^permessage-deflate/);
  else assert.equal(accept.extensions, "");
  for (const side of ["server", "client"]) {
    const text = find(side, "TextMessage");
    assert.equal(Number(text.length), TEXT.length * REPEAT, `${side} text length`);
    assert.equal(text.preview, TEXT.repeat(REPEAT).slice(0, 100));
    assert.equal(Number(find(side, "BytesMessage").length), BINARY, `${side} binary length`);
  }
  if (!deflate) {
    // The receiving end saw the text in pieces: one per chunk, at most.
    const pieces = Number(find("server", "TextMessage").pieces);
    assert.ok(pieces > 1, `the server saw the text in ${pieces} pieces`);
    if (chunk === 1) assert.ok(pieces > 1000, `1-byte chunks gave ${pieces} pieces`);
  }
  assert.equal(find("client", "Pong").preview, "are you there?");
  assert.equal(find("server", "CloseConnection").code, "1000");
  assert.equal(find("client", "CloseConnection").code, "1000");
  assert.equal(await page.textContent("#client-state"), "CLOSED");
  assert.equal(await page.textContent("#server-state"), "CLOSED");

  // The wire view: the handshake heads, then frames; masks from the client
  // only; RSV1 on the data frames exactly when deflate is on.
  const wire = await readWire(page);
  const frames = wire.filter((w) => w.type === "frame");
  assert.deepEqual(wire.filter((w) => w.type === "http").map((w) => w.dir), ["c2s", "s2c"]);
  assert.deepEqual(frames.map((f) => `${f.dir} ${f.opcode}`), [
    "c2s text", "s2c text", "c2s binary", "s2c binary", "c2s ping", "s2c pong", "c2s close", "s2c close",
  ]);
  for (const f of frames) {
    assert.equal(f.masked, String(f.dir === "c2s"), `mask on ${f.dir} ${f.opcode}`);
    assert.equal(f.fin, "true");
    const data = f.opcode === "text" || f.opcode === "binary";
    assert.equal(f.rsv1, String(deflate && data), `RSV1 on ${f.dir} ${f.opcode}`);
  }
  const sentText = frames.find((f) => f.dir === "c2s" && f.opcode === "text");
  if (!deflate) assert.equal(Number(sentText.length), Buffer.byteLength(TEXT.repeat(REPEAT)));
  else assert.ok(Number(sentText.length) < 1000, `compressed text is ${sentText.length} bytes`);
  // Each frame came in as many chunks as its size says (one more when it
  // starts mid-chunk).
  for (const f of frames) {
    const least = Math.ceil(Number(f.size) / chunk);
    assert.ok(Number(f.chunks) >= least && Number(f.chunks) <= least + 1,
      `${f.dir} ${f.opcode} frame of ${f.size} bytes in ${f.chunks} chunks of ${chunk}`);
  }
  assert.equal(wire.filter((w) => w.type === "eof").length, 2);
}

test("the browser demo: custom transports, re-chunked, with and without deflate", { timeout: 600000 }, async (t) => {
  const { page, errors } = await openPage("/demo/browser/");
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 30000 });
  assert.equal(await page.getAttribute("body", "data-ready"), "true", await page.textContent("#session-info"));
  // The package has permessage-deflate: a page without it is a failure, not
  // a reason to skip (a test below covers a package without it).
  assert.equal(await page.getAttribute("body", "data-deflate"), "available",
    `permessage-deflate is missing from pkg/ (rebuild it: make pkg): ${await page.textContent("#deflate-note")}`);
  assert.equal(await page.isDisabled("#deflate"), false);

  for (const transport of ["pipe", "worker"]) {
    for (const chunk of [1, 4096]) {
      for (const deflate of [false, true]) {
        const name = `${transport}, ${chunk}-byte chunks, deflate ${deflate ? "on" : "off"}`;
        await t.test(name, () => exchange(page, { transport, chunk, deflate }));
      }
    }
  }

  await t.test("the server's side: send from the server, with a delay, over the worker", async () => {
    await page.check("input[name=transport][value=worker]");
    await page.fill("#chunk", "7");
    await page.fill("#delay", "20");
    await page.click("#clear-log");
    await page.click("#connect");
    await waitEntry(page, { side: "client", dir: "in", kind: "AcceptConnection" });
    await page.check("input[name=from][value=server]");
    await page.fill("#text", "from the worker");
    await page.fill("#repeat", "1");
    await page.click("#send-text");
    await waitEntry(page, { side: "client", dir: "in", kind: "TextMessage", preview: "from the worker" });
    await page.click("#send-ping");
    await waitEntry(page, { side: "server", dir: "in", kind: "Pong" });
    await page.fill("#close-code", "1001");
    await page.fill("#close-reason", "going away");
    await page.click("#send-close");
    await waitEntry(page, { side: "client", dir: "in", kind: "CloseConnection", code: 1001 });
    await waitEntry(page, { side: "server", dir: "in", kind: "CloseConnection", code: 1001 });
    await waitEntry(page, { side: "client", dir: "note", kind: "EOF" });
    // After the close, the state machine refuses to send.
    await page.click("#send-text");
    await waitEntry(page, { side: "server", dir: "error", kind: "LocalProtocolError" });
    await page.check("input[name=from][value=client]");
  });

  await t.test("a screenshot of the page with a live connection", async () => {
    await page.check("input[name=transport][value=pipe]");
    await page.fill("#chunk", "16");
    await page.fill("#delay", "0");
    await page.uncheck("#deflate");
    await page.click("#clear-log");
    await page.click("#clear-wire");
    await page.click("#connect");
    await waitEntry(page, { side: "client", dir: "in", kind: "AcceptConnection" });
    await page.fill("#text", "Hello, WebSocket! héllo wörld 😀");
    await page.fill("#repeat", "1");
    await page.click("#send-text");
    await waitEntry(page, { side: "client", dir: "in", kind: "TextMessage" });
    await page.fill("#binary-size", "40");
    await page.click("#send-binary");
    await waitEntry(page, { side: "client", dir: "in", kind: "BytesMessage" });
    await page.click("#send-ping");
    await waitEntry(page, { side: "client", dir: "in", kind: "Pong" });
    const file = join(OUT, "demo-browser.png");
    await page.screenshot({ path: file, fullPage: true });
    assert.ok(statSync(file).size > 20000, "the screenshot has content");
    // What the screenshot shows: a rendered log and wire view.
    const rendered = await page.$$eval("#log li.entry", (lis) => lis.filter((li) => li.getBoundingClientRect().height > 0).length);
    assert.ok(rendered >= 8, `${rendered} log entries rendered`);
    assert.ok((await page.$$("#wire li.frame")).length >= 6);
    assert.equal(await page.textContent("#client-state"), "OPEN");
  });

  assert.deepEqual(errors, []);
  await page.close();
});

test("without permessage-deflate in the package, the toggle is off and says why", { timeout: 60000 }, async () => {
  // The package as it was before compression: constructing the extension
  // throws. Appended to api.js, so it holds whatever the module contains.
  const context = await browser.newContext();
  await context.route("**/pkg/api.js", async (route) => {
    const response = await route.fetch();
    const body = `${await response.text()}
PerMessageDeflate = class { constructor() { throw new LocalProtocolError("permessage-deflate is not available in this build yet"); } };
`;
    await route.fulfill({ response, body });
  });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`${base}/demo/browser/`);
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 30000 });
  assert.equal(await page.getAttribute("body", "data-ready"), "true");
  assert.equal(await page.getAttribute("body", "data-deflate"), "unavailable");
  assert.equal(await page.isDisabled("#deflate"), true);
  assert.equal(await page.isChecked("#deflate"), false);
  assert.equal(await page.textContent("#deflate-note"), "Not available: permessage-deflate is not available in this build yet.");
  // Everything else still works, over both transports.
  for (const transport of ["pipe", "worker"]) {
    await page.check(`input[name=transport][value=${transport}]`);
    await page.click("#clear-log");
    await page.click("#connect");
    await waitEntry(page, { side: "client", dir: "in", kind: "AcceptConnection", extensions: "" });
    await page.click("#send-text");
    await waitEntry(page, { side: "client", dir: "in", kind: "TextMessage" });
  }
  assert.deepEqual(errors, []);
  await context.close();
});

test("the chat page: two browsers' native WebSockets through the wsproto chat server", { timeout: 120000 }, async () => {
  const a = await openPage("/", { width: 900, height: 640 });
  const b = await openPage("/", { width: 900, height: 640 });
  const connected = (page) => page.waitForFunction(() => document.getElementById("status").className === "open", null, { timeout: STEP });
  await connected(a.page);
  await connected(b.page);
  const sees = (page, text) => page.waitForFunction(
    (t) => [...document.querySelectorAll("#messages li")].some((li) => li.textContent === t), text, { timeout: STEP },
  ).catch((err) => {
    throw new Error(`waiting for ${JSON.stringify(text)} on the chat page: ${err.message}`);
  });
  const say = async (page, text) => {
    await page.fill("#text", text);
    await page.press("#text", "Enter");
  };

  // Each page knows its guest name from the server's welcome.
  const nameOf = (page) => page.$eval("#messages li.news", (li) => /^welcome, (\S+)!/.exec(li.textContent)[1]);
  const guestA = await nameOf(a.page);
  const guestB = await nameOf(b.page);
  assert.notEqual(guestA, guestB);
  await sees(a.page, `${guestB} joined (2 online)`);

  await say(a.page, "/nick alice");
  await say(b.page, "/nick bob");
  for (const page of [a.page, b.page]) {
    await sees(page, `${guestA} is now alice`);
    await sees(page, `${guestB} is now bob`);
  }
  await say(a.page, "hello from Alice's Chromium 😀");
  await sees(b.page, "alice: hello from Alice's Chromium 😀");
  const long = "a longer line, which compresses well. ".repeat(12).trim();
  await say(b.page, long);
  await sees(a.page, `bob: ${long}`);
  await sees(b.page, `bob: ${long}`);
  await say(a.page, "thanks, bob: both of us are wsproto on the server side");
  await sees(b.page, "alice: thanks, bob: both of us are wsproto on the server side");

  // Chromium offers permessage-deflate, the server accepts it, and the
  // browser says what it negotiated.
  assert.match(await a.page.textContent("#status"), /permessage-deflate/);

  await a.page.screenshot({ path: join(OUT, "demo-chat.png") });
  await b.page.close();
  await sees(a.page, "bob left (1 online)");
  assert.deepEqual(a.errors, []);
  assert.deepEqual(b.errors, []);
  await a.page.close();
});
