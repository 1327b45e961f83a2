// The package as a new user gets it: `npm pack` pkg/, install the tarball
// into a fresh project (in a temporary directory), then import it from ESM,
// require it from CommonJS, import it from Deno through node_modules, and
// type-check both module kinds with TypeScript's nodenext resolution.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname ?? new URL(".", import.meta.url).pathname, "..", "..");
const bin = (name) => join(root, "node_modules", ".bin", name);
let dir;

function run(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { cwd: dir, encoding: "utf8", timeout: 120000, stdio: ["ignore", "pipe", "pipe"], ...opts });
}

// The same conversation for every entry point.
const flow = `
  const client = new W.WSConnection(W.ConnectionType.CLIENT);
  const server = new W.WSConnection(W.ConnectionType.SERVER);
  server.receiveData(client.send(new W.Request({ host: "localhost", target: "/pack" })));
  const [request] = server.events();
  if (!(request instanceof W.Request) || request.target !== "/pack") throw new Error("no Request");
  client.receiveData(server.send(new W.AcceptConnection()));
  server.receiveData(client.send(new W.TextMessage({ data: "packed" })));
  const [message] = server.events();
  if (!(message instanceof W.TextMessage) || message.data !== "packed") throw new Error("no message");
  if (client.state !== W.ConnectionState.OPEN) throw new Error("not OPEN");
  let threw = false;
  try { client.send(new W.CloseConnection({ code: 1006 })); } catch (e) { threw = e instanceof W.LocalProtocolError; }
  if (!threw) throw new Error("no LocalProtocolError");
  console.log("ok " + KIND);
`;

before(() => {
  dir = mkdtempSync(join(tmpdir(), "wsproto-pack-"));
  const out = run("npm", ["pack", join(root, "pkg"), "--pack-destination", dir, "--silent"]).trim().split("\n").pop();
  const tarball = readdirSync(dir).find((f) => f.endsWith(".tgz"));
  assert.ok(tarball, `npm pack made no tarball (${out})`);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "fresh-project", version: "1.0.0", private: true }));
  run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", `./${tarball}`]);
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("the tarball holds only the package files", () => {
  const files = run("tar", ["-tzf", readdirSync(dir).find((f) => f.endsWith(".tgz"))]).trim().split("\n").sort();
  for (const f of ["package/package.json", "package/README.md", "package/index.d.ts", "package/wsproto.cjs", "package/node.js", "package/glue/wsproto_wasm_bg.wasm"]) {
    assert.ok(files.includes(f), `${f} in ${files}`);
  }
  assert.ok(files.length < 20, files.join(" "));
});

test("ESM: import from 'wsproto' in Node", () => {
  writeFileSync(join(dir, "esm.mjs"), `import * as W from "wsproto"; const KIND = "esm";\n${flow}`);
  assert.equal(run(process.execPath, ["esm.mjs"]).trim(), "ok esm");
});

test("CommonJS: require('wsproto') in Node", () => {
  writeFileSync(join(dir, "cjs.cjs"), `const W = require("wsproto"); const KIND = "cjs";\n${flow}`);
  assert.equal(run(process.execPath, ["cjs.cjs"]).trim(), "ok cjs");
});

test("Deno: import from 'wsproto' through node_modules", () => {
  writeFileSync(join(dir, "deno.mjs"), `import * as W from "wsproto"; const KIND = "deno";\n${flow}`);
  const out = run(bin("deno"), ["run", "--quiet", "--allow-read", "deno.mjs"], {
    env: { ...process.env, DENO_NO_UPDATE_CHECK: "1", DENO_NO_PROMPT: "1" },
  });
  assert.equal(out.trim(), "ok deno");
});

test("TypeScript: the types resolve for ESM and CommonJS (nodenext)", () => {
  writeFileSync(join(dir, "use.mts"), `import { WSConnection, ConnectionType, Request } from "wsproto";\nconst ws = new WSConnection(ConnectionType.CLIENT);\nexport const bytes: Uint8Array = ws.send(new Request({ host: "h", target: "/" }));\n`);
  writeFileSync(join(dir, "use.cts"), `import W = require("wsproto");\nconst ws = new W.WSConnection(W.ConnectionType.SERVER);\nexport const state: W.ConnectionState = ws.state;\n`);
  run(bin("tsc"), ["--noEmit", "--strict", "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022",
    "--lib", "es2022,dom,esnext.disposable", "use.mts", "use.cts"]);
});
