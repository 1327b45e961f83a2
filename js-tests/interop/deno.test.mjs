// Interoperability with Deno: its built-in WebSocket client against our
// server, and our client against Deno.upgradeWebSocket (Deno.serve). The
// peer is peers/deno-peer.js in a child process (Deno from npm); the plan
// is in harness.mjs. Deno offers no permessage-deflate, and its API cannot
// ping or fragment.
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { peerClientRun, peerServerRun, startPeer } from "./harness.mjs";

const root = fileURLToPath(new URL("../..", import.meta.url));
const script = fileURLToPath(new URL("./peers/deno-peer.js", import.meta.url));
const deno = `${root}node_modules/.bin/deno`;
const env = { DENO_NO_UPDATE_CHECK: "1", DENO_NO_PROMPT: "1", NO_COLOR: "1" };
const caps = { ping: false, fragment: false, anyCloseCode: false };
const start = (args) => startPeer(deno, ["run", "--quiet", "--allow-net", script, ...args], { env });

test("a Deno WebSocket client against our server", { timeout: 120000 }, async () => {
  // Our server would accept permessage-deflate: Deno does not offer it.
  await peerClientRun({
    caps,
    deflate: true,
    launch: async (port, n) => start(["client", `ws://127.0.0.1:${port}`, String(n)]),
    expect: { deflate: false, replyEchoes: true },
  });
});

for (const deflate of [false, true]) {
  test(`our client against Deno.upgradeWebSocket${deflate ? ", offering permessage-deflate" : ""}`, { timeout: 120000 }, async () => {
    const peer = start(["server"]);
    try {
      await peerServerRun({ caps, deflate, port: await peer.port(30000), peer, expect: { deflate: false, replyEchoes: true } });
    } finally {
      await peer.stop();
    }
  });
}
