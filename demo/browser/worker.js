// The server side of the browser demo's second transport: a Web Worker that
// runs wsproto (pkg/web.js, after `await init()`) and talks to the page over
// a MessageChannel. The page sends the client's bytes, already cut into
// chunks by its pipe; each chunk arrives here as one message and goes to
// receiveData() as it is. The server's bytes go back through a pipe of the
// same chunk size and delay, one message per chunk.
//
// Messages on the port:
//   page -> worker  { type: "open", session, deflate, settings }
//                   { type: "data", session, chunk }  { type: "eof", session }
//                   { type: "act", session, action }   { type: "settings", settings }
//                   { type: "drop", session }
//   worker -> page  { type: "ready", deflate: { ok, reason } }
//                   { type: "data", session, chunk }  { type: "eof", session }
//                   { type: "log", session, entry }
import init, * as W from "../../pkg/web.js";
import { Endpoint, deflateSupport } from "./endpoint.js";
import { Pipe } from "./wire.js";

const settings = { chunkSize: 0, delay: 0 };
let port = null;
let session = null; // { id, server, pipe }

function drop() {
  if (!session) return;
  session.pipe.close();
  session.server.free();
  session = null;
}

function onMessage({ data: msg }) {
  if (msg.type === "settings") {
    Object.assign(settings, msg.settings);
    return;
  }
  if (msg.type === "open") {
    drop();
    Object.assign(settings, msg.settings);
    const id = msg.session;
    const pipe = new Pipe((chunk) => {
      if (chunk === null) port.postMessage({ type: "eof", session: id });
      else port.postMessage({ type: "data", session: id, chunk }, [chunk.buffer]);
    }, settings);
    const server = new Endpoint(W, "server", {
      deflate: msg.deflate,
      write: (bytes) => pipe.write(bytes),
      end: () => pipe.end(),
      log: (entry) => port.postMessage({ type: "log", session: id, entry }),
    });
    session = { id, server, pipe };
    return;
  }
  if (!session || msg.session !== session.id) return; // a previous connection
  if (msg.type === "data") session.server.receive(new Uint8Array(msg.chunk));
  else if (msg.type === "eof") session.server.receive(null);
  else if (msg.type === "act") session.server.act(msg.action);
  else if (msg.type === "drop") drop();
}

// The page hands us one end of a MessageChannel first.
self.onmessage = async ({ data, ports }) => {
  if (data.type !== "port") return;
  port = ports[0];
  await init();
  port.onmessage = onMessage;
  port.postMessage({ type: "ready", deflate: deflateSupport(W) });
};
