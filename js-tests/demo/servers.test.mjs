// The command-line demos, started as their READMEs say on random loopback
// ports, exercised by a wsproto client over Node's `net`, then stopped:
// the chat server on Node (http + initiateUpgradeConnection) and on Deno
// (Deno.listen, wsproto from the first byte), the seed's synchronous client
// and server, and the echo demo.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import * as W from "../../pkg/node.js";
import { Peer, withTimeout, STEP_MS } from "../shared/flows.mjs";
import { nodeEnv } from "../node/net-env.mjs";
import { run, startServer, nodeChat, denoChat } from "./procs.mjs";

const env = nodeEnv(W);
const decode = (b) => new TextDecoder().decode(b);

/** A chat client: a wsproto client that has joined, and its welcome line. */
async function join(port, { deflate = false } = {}) {
  const peer = new Peer(W, new W.WSConnection(W.ConnectionType.CLIENT), await env.connect(port));
  await peer.send(new W.Request({
    host: `127.0.0.1:${port}`, target: "/ws", extensions: deflate ? [new W.PerMessageDeflate()] : [],
  }));
  const accept = await peer.expect(W.AcceptConnection);
  const welcome = await peer.message();
  assert.match(welcome, /^\* welcome, guest-\d+!/);
  return { peer, accept, welcome, name: /guest-\d+/.exec(welcome)[0] };
}

/** Reads whole messages until one satisfies `match`; returns it. */
async function until(peer, match) {
  for (;;) {
    const m = await peer.message();
    if (typeof m === "string" && (typeof match === "string" ? m === match : match.test(m))) return m;
  }
}

/** One raw HTTP exchange: the whole response as text (the server closes). */
function rawHttp(port, request) {
  return withTimeout(new Promise((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1");
    let out = "";
    sock.on("connect", () => sock.write(request));
    sock.on("data", (d) => {
      out += d.toString("latin1");
      // Only the head matters for upgrades refused before the body.
      if (/\r\n\r\n/.test(out) && /^HTTP\/1\.1 (4\d\d)/.test(out)) {
        sock.destroy();
        resolve(out);
      }
    });
    sock.on("end", () => resolve(out));
    sock.on("error", reject);
  }), STEP_MS, `a response to ${request.split("\r\n")[0]}`);
}

/** Fails, saying why, if the package lacks permessage-deflate (a stale pkg/). */
function requireDeflate() {
  const c = new W.WSConnection(W.ConnectionType.CLIENT);
  try {
    c.send(new W.Request({ host: "x", target: "/", extensions: [new W.PerMessageDeflate()] }));
  } catch (err) {
    assert.fail(`permessage-deflate is missing from pkg/ (rebuild it: make pkg): ${err.message}`);
  } finally {
    c.free();
  }
}

function chatSuite(name, start) {
  describe(`${name} chat server`, () => {
    test("serves the pages and the package beside /ws", { timeout: 90000 }, async () => {
      const server = await start();
      try {
        const base = `http://127.0.0.1:${server.port}`;
        const page = await fetch(`${base}/`);
        assert.equal(page.status, 200);
        assert.match(page.headers.get("content-type"), /text\/html/);
        assert.match(await page.text(), /new WebSocket\(/);
        const demo = await fetch(`${base}/demo/browser/`);
        assert.equal(demo.status, 200);
        assert.match(await demo.text(), /wsproto in the browser/);
        for (const file of ["app.js", "worker.js", "wire.js", "endpoint.js", "style.css"]) {
          assert.equal((await fetch(`${base}/demo/browser/${file}`)).status, 200, file);
        }
        assert.equal((await fetch(`${base}/pkg/web.js`)).status, 200);
        const wasm = await fetch(`${base}/pkg/glue/wsproto_wasm_bg.wasm`);
        assert.equal(wasm.headers.get("content-type"), "application/wasm");
        assert.ok((await wasm.arrayBuffer()).byteLength > 1000);
        const moved = await fetch(`${base}/demo`, { redirect: "manual" });
        assert.equal(moved.status, 302);
        assert.equal(moved.headers.get("location"), "/demo/browser/");
        // Nothing outside the served folders.
        for (const path of ["/pkg/%2e%2e/Makefile", "/demo/node/chat.mjs", "/Makefile", "/nope"]) {
          assert.equal((await fetch(`${base}${path}`)).status, 404, path);
        }
      } finally {
        await server.stop();
      }
    });

    test("two clients chat: joins, broadcasts, /nick, fragments, 1003 for binary, leaves", { timeout: 90000 }, async () => {
      const server = await start();
      try {
        const a = await join(server.port);
        assert.equal(a.welcome, `* welcome, ${a.name}! Type /nick NAME to change your name. Nobody else is here yet.`);
        const b = await join(server.port);
        assert.match(b.welcome, new RegExp(`Also here: ${a.name}\\.$`));
        await until(a.peer, `* ${b.name} joined (2 online)`);

        await a.peer.send(new W.TextMessage({ data: "hello from a, héllo 😀" }));
        for (const p of [a.peer, b.peer]) await until(p, `${a.name}: hello from a, héllo 😀`);

        await b.peer.send(new W.TextMessage({ data: "/nick bob" }));
        for (const p of [a.peer, b.peer]) await until(p, `* ${b.name} is now bob`);
        // A message in three frames is one chat line.
        await b.peer.send(new W.TextMessage({ data: "hi ", messageFinished: false }));
        await b.peer.send(new W.TextMessage({ data: "there, ", messageFinished: false }));
        await b.peer.send(new W.TextMessage({ data: "a" }));
        for (const p of [a.peer, b.peer]) await until(p, "bob: hi there, a");

        // Pings are answered.
        await a.peer.send(new W.Ping({ payload: new TextEncoder().encode("still there?") }));
        let e;
        while (!((e = await a.peer.next("Pong")) instanceof W.Pong));
        assert.equal(decode(e.payload), "still there?");

        // Binary is refused with 1003; a replies; the server closes TCP.
        await a.peer.send(new W.BytesMessage({ data: new Uint8Array([1, 2, 3]) }));
        while (!((e = await a.peer.next("CloseConnection")) instanceof W.CloseConnection));
        assert.equal(e.code, W.CloseReason.UNSUPPORTED_DATA);
        assert.equal(e.reason, "this chat carries text only");
        await a.peer.send(e.response());
        assert.equal(a.peer.ws.state, W.ConnectionState.CLOSED);
        assert.equal(await a.peer.next("EOF"), null);
        await until(b.peer, `* ${a.name} left (1 online)`);

        // A client-initiated close: the reply, then the server closes TCP.
        await b.peer.send(new W.CloseConnection({ code: 1000, reason: "bye" }));
        while (!((e = await b.peer.next("CloseConnection")) instanceof W.CloseConnection));
        assert.equal(e.code, 1000);
        assert.equal(b.peer.ws.state, W.ConnectionState.CLOSED);
        assert.equal(await b.peer.next("EOF"), null);
        a.peer.t.close();
        b.peer.t.close();
        await server.waitFor(/bob left \(0 online\)/, STEP_MS);
      } finally {
        await server.stop();
      }
    });

    test("permessage-deflate for the clients that offer it; handshake errors answered", { timeout: 90000 }, async () => {
      requireDeflate();
      const server = await start();
      try {
        const a = await join(server.port, { deflate: true });
        assert.match(a.accept.extensions.join(", "), /^permessage-deflate/);
        const b = await join(server.port);
        assert.deepEqual(b.accept.extensions, []);
        const long = "compressible ".repeat(2000);
        await a.peer.send(new W.TextMessage({ data: long }));
        await until(b.peer, `${a.name}: ${long}`);
        await until(a.peer, `${a.name}: ${long}`);
        a.peer.t.close();
        b.peer.t.close();
        // A bad version gets the engine's 426 with the version it speaks.
        const refused = await rawHttp(server.port,
          "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 12\r\n\r\n");
        assert.match(refused, /^HTTP\/1\.1 426 /);
        assert.match(refused, /sec-websocket-version: 13/i);
        // Not a WebSocket path.
        const other = await rawHttp(server.port,
          "GET /elsewhere HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
        assert.match(other, /^HTTP\/1\.1 404 /);
      } finally {
        await server.stop();
      }
    });

    test("stopping the server closes every connection with 1001", { timeout: 90000 }, async () => {
      const server = await start();
      const a = await join(server.port);
      const stopped = server.stop();
      let e;
      while (!((e = await a.peer.next("CloseConnection")) instanceof W.CloseConnection));
      assert.equal(e.code, W.CloseReason.GOING_AWAY);
      assert.equal(e.reason, "server shutting down");
      await a.peer.send(e.response());
      a.peer.t.close();
      await stopped;
    });
  });
}

chatSuite("Node", nodeChat);
chatSuite("Deno", denoChat);

test("the seed's synchronous client against the seed's server", { timeout: 60000 }, async () => {
  const server = await startServer(process.execPath, ["demo/node/server.mjs", "0"]);
  try {
    const client = run(process.execPath, ["demo/node/client.mjs", "127.0.0.1", String(server.port)]);
    const { code } = await withTimeout(client.exited, 20000, "client.mjs to finish");
    assert.equal(code, 0, client.output);
    const out = client.output;
    for (const line of [
      "Connection established",
      "Received TEXT data: taerg si otorpsw", // "wsproto is great", reversed
      'Received pong: "table tennis"',
      "Connection closed: code=1000 reason=sample reason",
      "Received 0 bytes (connection closed)",
      "Final state: CLOSED",
    ]) {
      assert.ok(out.includes(line), `client output lacks ${JSON.stringify(line)}:\n${out}`);
    }
    await server.waitFor(/Connection closed: code=1000\/NORMAL_CLOSURE reason=sample reason/, STEP_MS);
    // One connection at a time, then the next: a second client works too.
    const again = run(process.execPath, ["demo/node/client.mjs", "127.0.0.1", String(server.port)]);
    assert.equal((await withTimeout(again.exited, 20000, "the second client")).code, 0, again.output);
    // A usage line without arguments.
    const usage = run(process.execPath, ["demo/node/client.mjs"]);
    assert.equal((await usage.exited).code, 1);
    assert.match(usage.output, /Usage: node demo\/node\/client\.mjs <HOST> <PORT>/);
  } finally {
    await server.stop();
  }
});

test("the echo demo runs to a clean close", { timeout: 60000 }, async () => {
  const echo = run(process.execPath, ["demo/node/echo.mjs"]);
  const { code } = await withTimeout(echo.exited, 30000, "echo.mjs");
  assert.equal(code, 0, echo.output);
  assert.match(echo.output, /demo: done, both ends closed cleanly/);
});
