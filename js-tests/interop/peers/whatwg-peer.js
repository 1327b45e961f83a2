// A foreign peer on the WHATWG WebSocket API (../harness.mjs has the
// protocol), shared by Deno (deno-peer.js: its built-in client and the
// sockets of Deno.upgradeWebSocket) and Chromium (loaded into a page). The
// API cannot send pings or fragments: those commands are "!unsupported".

/** Echo peer on an open or opening `socket`; resolves with the report. */
export function serveSocket(socket, path) {
  socket.binaryType = "arraybuffer";
  const rep = { path, protocol: socket.protocol, extensions: socket.extensions, close: null };
  return new Promise((resolve) => {
    socket.addEventListener("open", () => {
      rep.protocol = socket.protocol;
      rep.extensions = socket.extensions;
    });
    socket.addEventListener("message", (ev) => {
      if (typeof ev.data === "string" && ev.data.startsWith("!")) {
        const [cmd, ...args] = ev.data.split(" ");
        if (cmd === "!close") {
          if (args.length === 0) socket.close();
          else socket.close(Number(args[0]), args.slice(1).join(" "));
        } else {
          socket.send(`!unsupported ${cmd}`);
        }
        return;
      }
      socket.send(ev.data);
    });
    socket.addEventListener("error", (ev) => {
      rep.error = ev.message || "error event";
    });
    socket.addEventListener("close", (ev) => {
      rep.close = { code: ev.code, reason: ev.reason, wasClean: ev.wasClean };
      resolve(rep);
    });
  });
}

/** Connects to base/s/0 .. base/s/(n-1) in turn; report(rep) for each. */
export async function runClient(base, n, report, protocols = ["chat.v2", "chat.v1"]) {
  for (let i = 0; i < n; i++) {
    report(await serveSocket(new WebSocket(`${base}/s/${i}`, protocols), `/s/${i}`));
  }
}
