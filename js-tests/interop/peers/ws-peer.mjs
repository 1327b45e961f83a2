// A foreign peer on the `ws` package (see ../harness.mjs for the protocol).
//   node ws-peer.mjs server [--no-deflate]      prints "listening PORT"
//   node ws-peer.mjs client URL N [--no-deflate]
// permessage-deflate: the server accepts it, the client offers it, unless
// --no-deflate. Prints one JSON report per closed connection.
import { WebSocket, WebSocketServer } from "ws";

const [mode, ...rest] = process.argv.slice(2);
const deflate = !rest.includes("--no-deflate");
const report = (r) => process.stdout.write(`${JSON.stringify(r)}\n`);

// Listeners go on at once: a message can follow the handshake in the same
// read, before an "open" listener's continuation would run.
function serve(ws, path, extensions) {
  const rep = { path, protocol: ws.protocol, extensions, close: null };
  ws.once("open", () => {
    rep.protocol = ws.protocol;
    rep.extensions = ws.extensions;
  });
  ws.on("message", (data, isBinary) => {
    if (!isBinary) {
      const s = data.toString();
      if (s.startsWith("!")) {
        const [cmd, ...args] = s.split(" ");
        if (cmd === "!close") {
          if (args.length === 0) ws.close();
          else ws.close(Number(args[0]), args.slice(1).join(" "));
        } else if (cmd === "!ping") {
          const payload = args.join(" ");
          ws.once("pong", (p) => ws.send(`!pong ${p.toString()}`));
          ws.ping(Buffer.from(payload));
        } else if (cmd === "!frag") {
          const parts = args.slice(1).join(" ").split("|");
          const binary = args[0] === "bytes";
          parts.forEach((p, i) => ws.send(binary ? Buffer.from(p) : p, { binary, fin: i === parts.length - 1 }));
        } else {
          ws.send(`!unsupported ${cmd}`);
        }
        return;
      }
    }
    ws.send(data, { binary: isBinary });
  });
  ws.on("error", (err) => {
    rep.error = String(err);
  });
  return new Promise((resolve) =>
    ws.on("close", (code, reason) => {
      rep.close = { code, reason: reason.toString() };
      report(rep);
      resolve();
    }),
  );
}

if (mode === "server") {
  const wss = new WebSocketServer({
    host: "127.0.0.1",
    port: 0,
    perMessageDeflate: deflate,
    handleProtocols: (protocols) => [...protocols][0] ?? false,
  });
  wss.on("connection", (ws, req) => serve(ws, req.url, ws.extensions));
  wss.on("listening", () => console.log(`listening ${wss.address().port}`));
} else if (mode === "client") {
  const [base, n] = rest;
  for (let i = 0; i < Number(n); i++) {
    const ws = new WebSocket(`${base}/s/${i}`, ["chat.v2", "chat.v1"], { perMessageDeflate: deflate });
    await serve(ws, `/s/${i}`, null);
  }
} else {
  console.error("usage: ws-peer.mjs server|client ...");
  process.exit(2);
}
