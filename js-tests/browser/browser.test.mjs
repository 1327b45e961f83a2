// The package in a real browser: Debian's Chromium (installed by
// scripts/setup.sh), driven by playwright-core, loading pkg/web.js from a
// static server on 127.0.0.1 (page.js has the checks). The page's native
// WebSocket talks to a wsproto server running here in Node.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { readFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { extname, join, normalize, resolve } from "node:path";
import { chromium } from "playwright-core";
import * as W from "../../pkg/node.js";
import { echoServer } from "../shared/flows.mjs";
import { nodeEnv } from "../node/net-env.mjs";

const root = resolve(new URL(".", import.meta.url).pathname, "..", "..");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const types = { ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm", ".html": "text/html" };

let server;
let wsServer;
let browser;

before(async () => {
  server = http.createServer(async (req, res) => {
    const url = new URL(req.url, "http://x");
    let file;
    if (url.pathname === "/") file = null;
    else if (url.pathname === "/page.js") file = join(root, "js-tests", "browser", "page.js");
    else if (url.pathname.startsWith("/pkg/")) file = normalize(join(root, url.pathname));
    if (file === null) {
      res.writeHead(200, { "content-type": "text/html" });
      res.end('<!doctype html><meta charset="utf-8"><script type="module" src="/page.js"></script>');
      return;
    }
    if (!file || !file.startsWith(join(root, "pkg")) && !file.endsWith("page.js")) {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { "content-type": types[extname(file)] || "application/octet-stream" });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  wsServer = await echoServer(nodeEnv(W));
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: scripts/setup.sh installs Debian's chromium`);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--headless=new"], timeout: 60000 });
});

after(async () => {
  if (browser) await browser.close();
  if (wsServer) await wsServer.close();
  if (server) server.close();
});

test("web.js in Chromium: init(), an in-page exchange, native WebSocket against wsproto", { timeout: 120000 }, async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`http://127.0.0.1:${server.address().port}/?ws=${wsServer.port}`);
  const result = await page.evaluate(() => window.__result);
  assert.deepEqual(errors, []);
  assert.ok(result.ok, result.error);
  assert.ok(result.log.length >= 8, result.log.join("; "));
});
