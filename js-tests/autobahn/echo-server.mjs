// An Autobahn echo server on the npm package over Node `net`: accepts every
// opening handshake (with permessage-deflate when the package supports it
// and the client offers it), echoes every message whole, answers pings and
// closes, and closes the TCP connection once the closing handshake is done.
//
//   node js-tests/autobahn/echo-server.mjs [port]   prints "listening PORT"
//
// or import { startEchoServer } for a server in the current process.
import net from "node:net";
import { W, deflateOptions, deflateSupported, runEcho } from "./peer-common.mjs";

export const AGENT = "wsproto-js";

export function startEchoServer({ port = 0, host = "127.0.0.1", deflate = deflateSupported() } = {}) {
  const sockets = new Set();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    const ws = new W.WSConnection(W.ConnectionType.SERVER);
    runEcho(socket, ws, {
      onRequest(request) {
        const offered = request.extensions.some((e) => /^\s*permessage-deflate\b/i.test(String(e)));
        return new W.AcceptConnection({
          subprotocol: request.subprotocols[0] ?? null,
          extensions: deflate && offered ? [new W.PerMessageDeflate(deflateOptions())] : [],
          extraHeaders: [["server", AGENT]],
        });
      },
    }).catch((err) => console.error("echo-server:", err));
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () =>
      resolve({
        port: server.address().port,
        deflate,
        close: () =>
          new Promise((done) => {
            server.close(() => done());
            for (const s of sockets) s.destroy();
          }),
      }),
    );
  });
}

// As a program: `--workers N` forks N processes sharing the port (node:cluster)
// so that a parallel fuzzingclient (kosoku -p) uses more than one core.
if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const at = args.indexOf("--workers");
  const workers = at >= 0 ? Number(args.splice(at, 2)[1]) : 1;
  const port = Number(args[0] ?? 0);
  const cluster = (await import("node:cluster")).default;
  if (workers > 1 && cluster.isPrimary) {
    // Workers listening on port 0 all share the one port the primary picks.
    let ready = 0;
    for (let i = 0; i < workers; i++) {
      cluster.fork().on("message", (m) => {
        if (++ready === workers) console.log(`listening ${m.port} deflate=${m.deflate ? 1 : 0} workers=${workers}`);
      });
    }
    for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
    process.on("exit", () => {
      for (const w of Object.values(cluster.workers)) w.process.kill();
    });
  } else {
    const { port: bound, deflate } = await startEchoServer({ port });
    if (cluster.isWorker) process.send({ port: bound, deflate });
    else console.log(`listening ${bound} deflate=${deflate ? 1 : 0}`);
  }
}
