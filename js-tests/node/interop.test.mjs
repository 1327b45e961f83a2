// Interoperability with another implementation: the `ws` package (a
// devDependency) as server for our client, and as client of our server.
import { test } from "node:test";
import assert from "node:assert/strict";
import { WebSocketServer, WebSocket } from "ws";
import * as W from "../../pkg/node.js";
import { Peer, echoServer, pattern, text, withTimeout, STEP_MS } from "../shared/flows.mjs";
import { nodeEnv } from "./net-env.mjs";

test("our client against a ws server", { timeout: 60000 }, async () => {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, handleProtocols: (protocols) => [...protocols][0] });
  await new Promise((resolve) => wss.once("listening", resolve));
  wss.on("connection", (sock) => {
    sock.on("message", (data, isBinary) => {
      if (!isBinary && data.toString() === "bye") sock.close(1000, "see you");
      else sock.send(data, { binary: isBinary });
    });
  });
  try {
    const env = nodeEnv(W);
    const t = await env.connect(wss.address().port);
    const peer = new Peer(W, new W.WSConnection(W.ConnectionType.CLIENT), t);
    await peer.send(new W.Request({ host: "127.0.0.1", target: "/", subprotocols: ["proto.a", "proto.b"] }));
    const accept = await peer.expect(W.AcceptConnection);
    assert.equal(accept.subprotocol, "proto.a");
    for (const n of [0, 125, 126, 65535, 65536, 1 << 20]) {
      await peer.send(new W.TextMessage({ data: text(n) }));
      assert.equal(await peer.message(), text(n));
      await peer.send(new W.BytesMessage({ data: pattern(n) }));
      assert.deepEqual(await peer.message(), pattern(n));
    }
    await peer.send(new W.Ping({ payload: new TextEncoder().encode("ping!") }));
    const pong = await peer.expect(W.Pong);
    assert.equal(new TextDecoder().decode(pong.payload), "ping!");
    await peer.send(new W.TextMessage({ data: "bye" }));
    const close = await peer.expect(W.CloseConnection);
    assert.deepEqual([close.code, close.reason], [1000, "see you"]);
    await peer.send(close.response());
    assert.equal(peer.ws.state, W.ConnectionState.CLOSED);
    assert.equal(await peer.next("EOF"), null);
    t.close();
  } finally {
    for (const c of wss.clients) c.terminate();
    await new Promise((resolve) => wss.close(resolve));
  }
});

test("a ws client against our server", { timeout: 60000 }, async () => {
  const env = nodeEnv(W);
  const log = [];
  const server = await echoServer(env, log);
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/from-ws`, ["superchat"]);
    const received = [];
    let onMessage = null;
    ws.on("message", (data, isBinary) => {
      received.push([isBinary, data]);
      if (onMessage) onMessage();
    });
    const nextMessage = () =>
      withTimeout(
        new Promise((resolve) => {
          if (received.length) return resolve(received.shift());
          onMessage = () => {
            onMessage = null;
            resolve(received.shift());
          };
        }),
        STEP_MS,
        "a message from our server",
      );
    await withTimeout(new Promise((resolve, reject) => { ws.once("open", resolve); ws.once("error", reject); }), STEP_MS, "open");
    assert.equal(ws.protocol, "superchat");
    for (const n of [0, 125, 126, 65536, 1 << 20]) {
      ws.send(text(n));
      const [isBinary, data] = await nextMessage();
      assert.equal(isBinary, false);
      assert.equal(data.toString(), text(n));
      ws.send(pattern(n));
      const [isBinary2, data2] = await nextMessage();
      assert.equal(isBinary2, true);
      assert.deepEqual(new Uint8Array(data2), pattern(n));
    }
    const pong = withTimeout(new Promise((resolve) => ws.once("pong", resolve)), STEP_MS, "pong");
    ws.ping(Buffer.from("hi"));
    assert.equal((await pong).toString(), "hi");
    const closed = withTimeout(new Promise((resolve) => ws.once("close", (code, reason) => resolve([code, reason.toString()]))), STEP_MS, "close");
    ws.close(4000, "custom");
    assert.deepEqual(await closed, [4000, "custom"]);
    const request = log[0];
    assert.ok(request instanceof W.Request);
    assert.equal(request.target, "/from-ws");
    // ws offers permessage-deflate; this build declines it and ws copes.
    assert.ok(request.extensions.some((e) => e.startsWith("permessage-deflate")), String(request.extensions));
    const close = log.find((e) => e instanceof W.CloseConnection);
    assert.deepEqual([close.code, close.reason], [4000, "custom"]);
  } finally {
    await server.close();
  }
});
