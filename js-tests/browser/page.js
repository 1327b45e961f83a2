// Runs inside headless Chromium, loaded by browser.test.mjs: the package's
// browser entry (web.js) with `await init()`, an in-page client/server
// exchange, and the browser's own WebSocket against a wsproto server in Node.
import init, * as W from "/pkg/web.js";

async function run() {
  const log = [];
  const check = (cond, what) => {
    if (!cond) throw new Error(`failed: ${what}`);
    log.push(what);
  };

  let early = null;
  try {
    new W.WSConnection(W.ConnectionType.CLIENT);
  } catch (e) {
    early = e;
  }
  check(early instanceof Error && /init\(\)/.test(early.message), "a connection before init() names init()");

  await init();
  await init(); // idempotent

  const client = new W.WSConnection(W.ConnectionType.CLIENT);
  const server = new W.WSConnection(W.ConnectionType.SERVER);
  server.receiveData(client.send(new W.Request({ host: location.host, target: "/in-page" })));
  const [request] = server.events();
  check(request instanceof W.Request && request.target === "/in-page", "Request in the page");
  client.receiveData(server.send(new W.AcceptConnection()));
  check([...client.events()][0] instanceof W.AcceptConnection, "AcceptConnection in the page");
  const text = "héllo from a browser 😀".repeat(1000);
  server.receiveData(client.send(new W.TextMessage({ data: text })));
  check([...server.events()].map((e) => e.data).join("") === text, "text round trip in the page");
  let threw = false;
  try {
    client.send(new W.CloseConnection({ code: 1006 }));
  } catch (e) {
    threw = e instanceof W.LocalProtocolError;
  }
  check(threw, "LocalProtocolError in the page");

  // The browser's own WebSocket against the wsproto server in Node.
  const port = new URLSearchParams(location.search).get("ws");
  const ws = new WebSocket(`ws://127.0.0.1:${port}/from-browser`, ["browser.v1"]);
  ws.binaryType = "arraybuffer";
  const received = [];
  await new Promise((resolve, reject) => {
    ws.onopen = () => {
      check(ws.protocol === "browser.v1", "native WebSocket open with a subprotocol");
      ws.send("hello from Chromium");
      ws.send(new Uint8Array(70000).fill(7));
    };
    ws.onmessage = (m) => {
      received.push(m.data);
      if (received.length === 2) ws.close(1000, "done");
    };
    ws.onclose = (e) => (e.code === 1000 ? resolve() : reject(new Error(`closed with ${e.code}`)));
    ws.onerror = () => reject(new Error("WebSocket error"));
  });
  check(received[0] === "hello from Chromium", "echoed text through the native WebSocket");
  check(received[1].byteLength === 70000 && new Uint8Array(received[1])[69999] === 7, "echoed binary");
  return log;
}

window.__result = run().then(
  (log) => ({ ok: true, log }),
  (e) => ({ ok: false, error: String(e && e.stack ? e.stack : e) }),
);
