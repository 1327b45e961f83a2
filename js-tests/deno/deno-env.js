// The flows' transport over Deno.listen / Deno.connect on 127.0.0.1.

function connTransport(conn) {
  let writing = Promise.resolve();
  let closed = false;
  return {
    async read() {
      const buf = new Uint8Array(65536);
      try {
        const n = await conn.read(buf);
        return n === null ? null : buf.subarray(0, n);
      } catch {
        return null; // reset or closed: the end of the stream
      }
    },
    // Queued, never waiting for the peer to read (see the Node transport).
    write(bytes) {
      writing = writing.then(async () => {
        let at = 0;
        while (at < bytes.length && !closed) at += await conn.write(bytes.subarray(at));
      }).catch(() => {});
      return Promise.resolve();
    },
    async end() {
      await writing;
      await conn.closeWrite();
    },
    close() {
      writing.finally(() => {
        if (!closed) {
          closed = true;
          try {
            conn.close();
          } catch {
            // already closed
          }
        }
      });
    },
  };
}

export function denoEnv(W) {
  return {
    W,
    listen(onTransport) {
      const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const conns = new Set();
      const accepting = (async () => {
        try {
          for await (const conn of listener) {
            conns.add(conn);
            onTransport(connTransport(conn));
          }
        } catch {
          // listener closed
        }
      })();
      return Promise.resolve({
        port: listener.addr.port,
        async close() {
          listener.close();
          await accepting;
          await new Promise((r) => setTimeout(r, 50));
          for (const c of conns) {
            try {
              c.close();
            } catch {
              // already closed by the flow
            }
          }
        },
      });
    },
    async connect(port) {
      return connTransport(await Deno.connect({ hostname: "127.0.0.1", port }));
    },
  };
}
