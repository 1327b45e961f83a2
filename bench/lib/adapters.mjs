// The three libraries behind one small interface, so that every benchmark
// row runs the same work on each:
//
//   receiver({ text, deflate }) -> pass(chunks) -> { messages, events, units }
//     A fresh server-side parser is fed every chunk; each delivered event is
//     counted and its payload touched (`units`: bytes of a binary payload,
//     UTF-16 code units of a text one). Text is delivered as a JS string by
//     every library: ws hands a validated Buffer to its 'message' listener,
//     so its adapter calls toString() as an application would.
//   sender({ text, deflate, fragments, keepCompressor }) -> pass(payloads) -> { messages, bytes }
//     A fresh client-side framer frames (and masks) each payload; `bytes`
//     counts the frame bytes produced. `keepCompressor` is wsproto's option
//     of that name (ws always keeps its compressor; the others ignore it).
//
// A pass may return a promise (ws's permessage-deflate is asynchronous).
// `null` from a factory means the library cannot do that row.

import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

// ---- wsproto (this repository's package, built into pkg/) -------------------

// WSPROTO_PKG: another build of the package (a directory), to compare
// builds before and after a change.
const pkgDir = process.env.WSPROTO_PKG ? new URL(`file://${process.env.WSPROTO_PKG.replace(/\/?$/, "/")}`) : new URL("../../pkg/", import.meta.url);
const wsproto = await import(new URL("node.js", pkgDir));
// Whether a build of the package can negotiate permessage-deflate.
function deflateWorks({ Connection, ConnectionType, PerMessageDeflate }) {
  try {
    const conn = new Connection(ConnectionType.SERVER, { extensions: [new PerMessageDeflate()] });
    conn.free();
    return true;
  } catch {
    return false;
  }
}

export const oursDeflate = deflateWorks(wsproto);

function makeOurs(mod, name) {
  const { Connection, ConnectionType, BytesMessage, TextMessage, PerMessageDeflate } = mod;
  const deflateOk = deflateWorks(mod);
  return {
    name,
    receiver({ deflate }) {
      if (deflate && !deflateOk) return null;
      return (chunks) => {
        const conn = new Connection(
          ConnectionType.SERVER,
          deflate ? { extensions: [new PerMessageDeflate()] } : undefined,
        );
        let messages = 0;
        let events = 0;
        let units = 0;
        for (let i = 0; i < chunks.length; i++) {
          conn.receiveData(chunks[i]);
          for (const event of conn.events()) {
            events++;
            units += event.data.length;
            if (event.messageFinished) messages++;
          }
        }
        conn.free();
        return { messages, events, units };
      };
    },
    sender({ text, deflate, fragments, keepCompressor }) {
      if (deflate && !deflateOk) return null;
      const Kind = text ? TextMessage : BytesMessage;
      // keepCompressor: the compressor (and its 32 KiB window) kept between
      // messages instead of the default fresh one primed with the last
      // 4 KiB sent (the option is passed only when asked, for older builds).
      const deflateOpts = keepCompressor ? { keepCompressor: true } : undefined;
      return (payloads) => {
        const conn = new Connection(
          ConnectionType.CLIENT,
          deflate ? { extensions: [new PerMessageDeflate(deflateOpts)] } : undefined,
        );
        let bytes = 0;
        for (let i = 0; i < payloads.length; i++) {
          const p = payloads[i];
          if (fragments > 1) {
            for (let f = 0; f < p.length; f++) {
              bytes += conn.send(new Kind({ data: p[f], messageFinished: f === p.length - 1 })).length;
            }
          } else {
            bytes += conn.send(new Kind({ data: p })).length;
          }
        }
        conn.free();
        return { messages: payloads.length, bytes };
      };
    },
  };
}

export const ours = makeOurs(wsproto, "wsproto");

// WSPROTO_BASE: a second build (a directory holding node.js) measured
// alongside, as "wsproto (base)": before/after numbers from one run.
const base = process.env.WSPROTO_BASE
  ? makeOurs(await import(`file://${process.env.WSPROTO_BASE.replace(/\/?$/, "/")}node.js`), "wsproto (base)")
  : null;

// ---- ws ------------------------------------------------------------------------

const ws = require("ws");
const { Receiver, Sender } = ws;
const WsDeflate = ws.PerMessageDeflate ?? require("ws/lib/permessage-deflate");

// Whether ws found its native helpers (bufferutil for masking,
// utf-8-validate for text; without them ws uses JS fallbacks).
export function wsNative() {
  const dir = require.resolve("ws").replace(/index\.js$/, "lib/");
  const bufferUtil = require(dir + "buffer-util.js");
  let bu = false;
  let uv = false;
  try {
    require("bufferutil");
    bu = !process.env.WS_NO_BUFFER_UTIL && /bufferUtil\.mask/.test(bufferUtil.mask.toString());
  } catch {}
  try {
    require("utf-8-validate");
    uv = !process.env.WS_NO_UTF_8_VALIDATE;
  } catch {}
  return { bufferutil: bu, utf8validate: uv };
}

function wsDeflate(isServer) {
  const pmd = new WsDeflate({ isServer, maxPayload: 0 });
  // The default offer, accepted as is: context takeover both ways, 15 bits.
  pmd.accept([{}]);
  return pmd;
}

export const wsPeer = {
  name: "ws",
  receiver({ text, deflate }) {
    return (chunks, expected) => {
      const pmd = deflate ? wsDeflate(true) : null;
      const extensions = pmd ? { "permessage-deflate": pmd } : {};
      const receiver = new Receiver({ isServer: true, maxPayload: 0, extensions, binaryType: "nodebuffer" });
      let messages = 0;
      let units = 0;
      let failure = null;
      let done = null;
      receiver.on("error", (e) => {
        failure = e;
        if (done) done();
      });
      receiver.on("message", (data, isBinary) => {
        messages++;
        units += isBinary ? data.length : data.toString().length;
        if (done && messages === expected) done();
      });
      for (let i = 0; i < chunks.length; i++) receiver.write(chunks[i]);
      const result = () => {
        if (failure) throw failure;
        if (pmd) pmd.cleanup();
        return { messages, events: messages, units };
      };
      if (!deflate || messages === expected || failure) return result();
      return new Promise((resolve, reject) => {
        done = () => {
          try {
            resolve(result());
          } catch (e) {
            reject(e);
          }
        };
      });
    };
  },
  sender({ text, deflate, fragments }) {
    if (deflate) {
      return (payloads) =>
        new Promise((resolve, reject) => {
          const pmd = wsDeflate(false);
          let bytes = 0;
          const socket = {
            cork() {},
            uncork() {},
            write(chunk, cb) {
              bytes += chunk.length;
              if (cb) cb();
              return true;
            },
            destroyed: false,
          };
          const sender = new Sender(socket, { "permessage-deflate": pmd });
          let left = payloads.length;
          const sent = (err) => {
            if (err) return reject(err);
            if (--left === 0) {
              pmd.cleanup();
              resolve({ messages: payloads.length, bytes });
            }
          };
          for (const p of payloads) {
            sender.send(p, { binary: !text, compress: true, fin: true, mask: true }, sent);
          }
        });
    }
    const opcode = text ? 1 : 2;
    return (payloads) => {
      let bytes = 0;
      for (let i = 0; i < payloads.length; i++) {
        const p = payloads[i];
        // As WebSocket#send does: a Buffer is read-only (ws copies it while
        // masking), a string is encoded into a new Buffer and masked in place.
        if (fragments > 1) {
          for (let f = 0; f < p.length; f++) {
            const list = Sender.frame(p[f], {
              fin: f === p.length - 1,
              mask: true,
              opcode: f === 0 ? opcode : 0,
              readOnly: !text,
              rsv1: false,
            });
            for (const b of list) bytes += b.length;
          }
        } else {
          const list = Sender.frame(p, { fin: true, mask: true, opcode, readOnly: !text, rsv1: false });
          for (const b of list) bytes += b.length;
        }
      }
      return { messages: payloads.length, bytes };
    };
  },
};

// ---- websocket-driver ---------------------------------------------------------------

const Hybi = require("websocket-driver/lib/websocket/driver/hybi");

// A driver past its handshake: what websocket-driver's server and client
// become once open (the frame parser and framer are Hybi's).
function openDriver(options) {
  const driver = new Hybi(null, "ws://bench/", { maxLength: 0x7fffffff, ...options });
  // What the handshake does: set up the (empty) extension pipeline.
  driver._extensions.generateResponse("");
  driver.readyState = 1;
  return driver;
}

export const driverPeer = {
  name: "websocket-driver",
  receiver({ deflate }) {
    // websocket-driver compresses only through the separate
    // permessage-deflate package: not measured.
    if (deflate) return null;
    return (chunks) => {
      const driver = openDriver({ requireMasking: true });
      let messages = 0;
      let units = 0;
      let failure = null;
      driver.on("error", (e) => (failure = e));
      driver.on("message", (event) => {
        messages++;
        units += event.data.length;
      });
      for (let i = 0; i < chunks.length; i++) driver.parse(chunks[i]);
      if (failure) throw failure;
      return { messages, events: messages, units };
    };
  },
  sender({ text, deflate, fragments }) {
    // No API for sending a message in fragments, nor deflate (see above).
    if (deflate || fragments > 1) return null;
    return (payloads) => {
      const driver = openDriver({ masking: true });
      let bytes = 0;
      driver.io.on("data", (chunk) => (bytes += chunk.length));
      for (let i = 0; i < payloads.length; i++) {
        if (text) driver.text(payloads[i]);
        else driver.binary(payloads[i]);
      }
      return { messages: payloads.length, bytes };
    };
  },
};

export const libraries = base ? [ours, base, wsPeer, driverPeer] : [ours, wsPeer, driverPeer];

export function versions() {
  const read = (p) => JSON.parse(require("node:fs").readFileSync(p, "utf8")).version;
  const v = (name) => {
    try {
      return read(require.resolve(`${name}/package.json`));
    } catch {
      return "absent";
    }
  };
  return {
    wsproto: read(new URL("package.json", pkgDir)),
    ws: v("ws"),
    "websocket-driver": v("websocket-driver"),
    bufferutil: v("bufferutil"),
    "utf-8-validate": v("utf-8-validate"),
  };
}

// The frames a ws client sends for `payloads` with permessage-deflate (the
// default parameters, context takeover): the input of the deflate receive
// rows, so that both parsers inflate the same bytes.
export function deflatedStream(payloads, text) {
  return new Promise((resolve, reject) => {
    const pmd = wsDeflate(false);
    const parts = [];
    const socket = {
      cork() {},
      uncork() {},
      write(chunk, cb) {
        parts.push(Buffer.from(chunk));
        if (cb) cb();
        return true;
      },
      destroyed: false,
    };
    const sender = new Sender(socket, { "permessage-deflate": pmd });
    let left = payloads.length;
    for (const p of payloads) {
      sender.send(p, { binary: !text, compress: true, fin: true, mask: true }, (err) => {
        if (err) return reject(err);
        if (--left === 0) {
          pmd.cleanup();
          const all = Buffer.concat(parts);
          const out = Buffer.from(new ArrayBuffer(all.length));
          all.copy(out);
          resolve(out);
        }
      });
    }
  });
}
