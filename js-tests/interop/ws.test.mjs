// Interoperability with Node's `ws` (a devDependency), both directions,
// with and without permessage-deflate; the plan is in harness.mjs. (The
// first checks, in js-tests/node/interop.test.mjs, stay there.)
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { peerClientRun, peerServerRun, startPeer } from "./harness.mjs";

const script = fileURLToPath(new URL("./peers/ws-peer.mjs", import.meta.url));
const caps = { ping: true, fragment: true };

for (const deflate of [false, true]) {
  const tag = deflate ? "with permessage-deflate" : "without compression";
  test(`a ws client against our server, ${tag}`, { timeout: 120000 }, async () => {
    await peerClientRun({
      caps,
      deflate,
      launch: async (port, n) => startPeer(process.execPath, [script, "client", `ws://127.0.0.1:${port}`, String(n)]),
      expect: { deflate, replyEchoes: true },
    });
  });

  test(`our client against a ws server, ${tag}`, { timeout: 120000 }, async () => {
    const peer = startPeer(process.execPath, [script, "server"]);
    try {
      await peerServerRun({ caps, deflate, port: await peer.port(), peer, expect: { deflate, replyEchoes: true } });
    } finally {
      await peer.stop();
    }
  });
}
