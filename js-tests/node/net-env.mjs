// The flows' transport over Node's `net`, on 127.0.0.1 with a random port.
import net from "node:net";

export function socketTransport(socket) {
  const queue = [];
  let waiter = null;
  let done = false;
  const push = (chunk) => {
    if (waiter) {
      const w = waiter;
      waiter = null;
      w(chunk);
    } else {
      queue.push(chunk);
    }
  };
  socket.on("data", (chunk) => push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length)));
  socket.on("end", () => {
    done = true;
    push(null);
  });
  socket.on("error", () => {
    done = true;
    push(null);
  });
  return {
    read() {
      if (queue.length) return Promise.resolve(queue.shift());
      if (done) return Promise.resolve(null);
      return new Promise((resolve) => {
        waiter = resolve;
      });
    },
    // Never waits for the peer to read: user-space buffering cannot
    // deadlock two ends that write before they read.
    write(bytes) {
      if (!socket.destroyed) socket.write(bytes);
      return Promise.resolve();
    },
    end() {
      return new Promise((resolve) => socket.end(resolve));
    },
    close() {
      socket.end();
      setTimeout(() => socket.destroy(), 2000).unref();
    },
  };
}

export function nodeEnv(W) {
  return {
    W,
    listen(onTransport) {
      const sockets = new Set();
      const server = net.createServer((socket) => {
        sockets.add(socket);
        socket.on("close", () => sockets.delete(socket));
        onTransport(socketTransport(socket));
      });
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () =>
          resolve({
            port: server.address().port,
            close: () =>
              new Promise((done) => {
                server.close(() => done());
                // Whatever a failed flow left open is not waited for.
                setTimeout(() => {
                  for (const s of sockets) s.destroy();
                }, 200).unref();
              }),
          }),
        );
      });
    },
    connect(port) {
      return new Promise((resolve, reject) => {
        const socket = net.connect(port, "127.0.0.1");
        socket.once("error", reject);
        socket.once("connect", () => {
          socket.removeListener("error", reject);
          resolve(socketTransport(socket));
        });
      });
    },
  };
}
