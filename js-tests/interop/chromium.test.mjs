// Interoperability with Chromium's native WebSocket (Debian's chromium,
// headless, driven by playwright-core, as in js-tests/browser) as a client
// of our Node server, with and without permessage-deflate. The page runs
// peers/whatwg-peer.js, served from 127.0.0.1; the plan is in harness.mjs.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { existsSync, readFileSync } from "node:fs";
import { chromium } from "playwright-core";
import { peerClientRun } from "./harness.mjs";
import { withTimeout } from "../shared/flows.mjs";

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const peerSource = readFileSync(new URL("./peers/whatwg-peer.js", import.meta.url));
// Browsers close with 1000 or 3000-4999 only, and cannot ping or fragment.
const caps = { ping: false, fragment: false, anyCloseCode: false };

let site;
let browser;

before(async () => {
  site = http.createServer((req, res) => {
    if (req.url === "/whatwg-peer.js") {
      res.writeHead(200, { "content-type": "text/javascript" }).end(peerSource);
    } else {
      res.writeHead(200, { "content-type": "text/html" }).end('<!doctype html><meta charset="utf-8"><title>interop</title>');
    }
  });
  await new Promise((resolve) => site.listen(0, "127.0.0.1", resolve));
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: scripts/setup.sh installs Debian's chromium`);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--headless=new"], timeout: 60000 });
});

after(async () => {
  if (browser) await browser.close();
  if (site) site.close();
});

/** The page as a foreign client: reports(n, ms) resolves once its run ends. */
async function launchPage(port, n) {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`http://127.0.0.1:${site.address().port}/`);
  const run = page.evaluate(
    async ([base, count]) => {
      const { runClient } = await import("/whatwg-peer.js");
      const reports = [];
      await runClient(base, count, (r) => reports.push(r));
      return reports;
    },
    [`ws://127.0.0.1:${port}`, n],
  );
  const failed = run.then(
    () => new Promise(() => {}),
    (err) => {
      throw new Error(`the page failed: ${err.message}; page errors: ${errors.join("; ")}`);
    },
  );
  failed.catch(() => {});
  return {
    failed,
    reports: (count, ms) => withTimeout(run, ms, `the page's ${count} reports`),
    stop: () => page.close(),
  };
}

for (const deflate of [false, true]) {
  test(`Chromium's WebSocket against our server, ${deflate ? "with permessage-deflate" : "declining permessage-deflate"}`, { timeout: 180000 }, async () => {
    // Chromium offers permessage-deflate; our server accepts it or not.
    await peerClientRun({ caps, deflate, launch: launchPage, expect: { deflate, replyEchoes: true } });
  });
}
