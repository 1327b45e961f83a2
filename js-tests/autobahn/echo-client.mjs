// An Autobahn echo client on the npm package over Node `net`, for a
// fuzzingserver (kosoku -m fuzzingserver): asks /getCaseCount, runs each
// case through /runCase?case=N&agent=A (echoing every message whole,
// answering pings and closes, offering permessage-deflate when the package
// supports it), then /updateReports?agent=A.
//
//   node js-tests/autobahn/echo-client.mjs ws://127.0.0.1:PORT [agent] [--parallel N]
//
// --parallel N runs N cases at a time in N child processes (the work is
// CPU-bound, deflate above all), each asking this process for the next case.
import net from "node:net";
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { W, deflateOptions, deflateSupported, runEcho } from "./peer-common.mjs";

export const AGENT = "wsproto-js";

/**
 * Two offers, in order of preference: wsproto's default, then the same with
 * client_no_context_takeover. The second is for kosoku: its fuzzingserver
 * asks for client_no_context_takeover (cases 13.2, 13.5, 13.6, 13.7) only
 * from an offer that names it, where Autobahn's offer parser assumes every
 * client accepts it (RFC 7692 7.1.1.2 lets a server send it unasked, and the
 * package honours that: see docs/autobahn.md). With the default offer alone
 * kosoku declines compression there and the cases are UNIMPLEMENTED.
 */
function deflateOffers() {
  return [new W.PerMessageDeflate(deflateOptions()), new W.PerMessageDeflate({ ...deflateOptions(), clientNoContextTakeover: true })];
}

/** One WebSocket connection to `target`; resolves when its socket closes. */
function connect(url, target, { deflate = false, onMessage } = {}) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    socket.once("error", reject);
    socket.once("connect", () => {
      socket.removeListener("error", reject);
      const ws = new W.WSConnection(W.ConnectionType.CLIENT);
      const extensions = deflate ? deflateOffers() : [];
      socket.write(ws.send(new W.Request({ host: `${hostname}:${port}`, target, extensions })));
      runEcho(socket, ws, { onMessage }).then(resolve, reject);
    });
  });
}

export async function caseCount(url) {
  let count = null;
  await connect(url, "/getCaseCount", {
    onMessage: (data) => {
      count = Number(data);
      return true;
    },
  });
  if (!Number.isInteger(count)) throw new Error(`bad case count: ${count}`);
  return count;
}

/** Runs the cases that next() gives (a number, or null when done). */
export async function runCases(url, next, { agent = AGENT, deflate = deflateSupported() } = {}) {
  for (let i = await next(); i !== null; i = await next()) {
    await connect(url, `/runCase?case=${i}&agent=${encodeURIComponent(agent)}`, { deflate });
  }
}

export function updateReports(url, agent = AGENT) {
  return connect(url, `/updateReports?agent=${encodeURIComponent(agent)}`);
}

/** A worker process running the cases `take()` hands it over IPC. */
function worker(args, take) {
  return new Promise((resolve, reject) => {
    const p = fork(fileURLToPath(import.meta.url), [...args, "--worker"], { stdio: "inherit" });
    p.on("message", (m) => {
      if (m === "next") p.send({ case: take() });
    });
    p.on("error", reject);
    p.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`echo-client worker exited with ${code}`))));
  });
}

/** In a worker: asks the parent for the next case. */
function askParent() {
  return new Promise((resolve) => {
    process.once("message", (m) => resolve(m.case));
    process.send("next");
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const option = (name) => {
    const at = args.indexOf(name);
    return at >= 0 ? args.splice(at, 2)[1] : undefined;
  };
  const parallel = Number(option("--parallel") ?? 1);
  const isWorker = args.includes("--worker");
  const [url = "ws://127.0.0.1:9001", agent = AGENT] = args.filter((a) => !a.startsWith("--"));
  if (isWorker) {
    await runCases(url, askParent, { agent });
    process.disconnect();
  } else {
    const count = await caseCount(url);
    console.error(`echo-client: ${count} cases, deflate ${deflateSupported() ? "offered" : "not offered"}, ${parallel} at a time`);
    let next = 1;
    const take = () => (next <= count ? next++ : null);
    if (parallel > 1) {
      await Promise.all(Array.from({ length: parallel }, () => worker([url, agent], take)));
    } else {
      await runCases(url, async () => take(), { agent });
    }
    await updateReports(url, agent);
  }
}
