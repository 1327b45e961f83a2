// A foreign peer on Deno's built-in WebSocket client and on
// Deno.upgradeWebSocket (../harness.mjs has the protocol).
//   deno run --allow-net deno-peer.js server       prints "listening PORT"
//   deno run --allow-net deno-peer.js client URL N
import { runClient, serveSocket } from "./whatwg-peer.js";

const [mode, ...rest] = Deno.args;
const report = (rep) => console.log(JSON.stringify(rep));

if (mode === "server") {
  Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: ({ port }) => console.log(`listening ${port}`) }, (req) => {
    const offered = (req.headers.get("sec-websocket-protocol") ?? "").split(",").map((s) => s.trim()).filter(Boolean);
    const { socket, response } = Deno.upgradeWebSocket(req, offered.length ? { protocol: offered[0] } : {});
    serveSocket(socket, new URL(req.url).pathname).then(report);
    return response;
  });
} else if (mode === "client") {
  await runClient(rest[0], Number(rest[1]), report);
} else {
  console.error("usage: deno-peer.js server|client ...");
  Deno.exit(2);
}
