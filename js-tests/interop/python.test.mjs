// Interoperability with Python's `websockets` (the pip package), both
// directions, with and without permessage-deflate: the peer is
// js-tests/python-peers/websockets_peer.py in a child process; the plan is
// in harness.mjs.
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { peerClientRun, peerServerRun, startPeer } from "./harness.mjs";

const script = fileURLToPath(new URL("../python-peers/websockets_peer.py", import.meta.url));
const python = process.env.PYTHON || "python3";
const caps = { ping: true, fragment: true };

for (const deflate of [false, true]) {
  const tag = deflate ? "with permessage-deflate" : "without compression";
  test(`a websockets client against our server, ${tag}`, { timeout: 120000 }, async () => {
    await peerClientRun({
      caps,
      deflate,
      launch: async (port, n) => startPeer(python, [script, "client", `ws://127.0.0.1:${port}`, String(n)]),
      expect: { deflate, replyEchoes: true },
    });
  });

  test(`our client against a websockets server, ${tag}`, { timeout: 120000 }, async () => {
    const peer = startPeer(python, [script, "server"]);
    try {
      await peerServerRun({ caps, deflate, port: await peer.port(), peer, expect: { deflate, replyEchoes: true } });
    } finally {
      await peer.stop();
    }
  });
}
