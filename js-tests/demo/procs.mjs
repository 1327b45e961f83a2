// Starting and stopping the demos as child processes, on random loopback
// ports (port 0; each demo prints the port it got).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const root = resolve(fileURLToPath(new URL(".", import.meta.url)), "..", "..");
export const DENO = resolve(root, "node_modules", ".bin", "deno");
const LISTENING = /[Ll]istening on (?:http:\/\/)?127\.0\.0\.1:(\d+)/;

/** A process: its output so far, a way to wait for it, and stop(). */
export function run(command, args, { env = {}, timeoutMs = 30000 } = {}) {
  const child = spawn(command, args, {
    cwd: root,
    env: { ...process.env, DENO_NO_UPDATE_CHECK: "1", DENO_NO_PROMPT: "1", NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const waiters = [];
  const check = () => {
    for (const w of [...waiters]) {
      const m = w.pattern.exec(output);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        clearTimeout(w.timer);
        w.resolve(m);
      }
    }
  };
  child.stdout.on("data", (d) => {
    output += d;
    check();
  });
  child.stderr.on("data", (d) => {
    output += d;
    check();
  });
  const exited = new Promise((done) => {
    child.on("exit", (code, signal) => done({ code, signal }));
    // A command that cannot start (ENOENT) emits "error", never "exit".
    child.on("error", (err) => {
      output += `\n${err.message}\n`;
      done({ code: null, signal: null });
    });
  });
  exited.then(({ code, signal }) => {
    for (const w of waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new Error(`${command} ${args.join(" ")} exited (${code ?? signal}) before printing ${w.pattern}:\n${output}`));
    }
  });
  const proc = {
    child,
    exited,
    get output() {
      return output;
    },
    /** Resolves with the match once the output matches `pattern`. */
    waitFor(pattern, ms = timeoutMs) {
      return new Promise((resolveMatch, reject) => {
        const w = { pattern, resolve: resolveMatch, reject };
        w.timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`timed out after ${ms} ms waiting for ${pattern} from ${command} ${args.join(" ")}:\n${output}`));
        }, ms);
        waiters.push(w);
        check();
      });
    },
    /** SIGTERM, then SIGKILL if it has not exited within `ms`. */
    async stop(ms = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), ms);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
  return proc;
}

/** Starts a demo server on port 0 and waits for the port it printed. */
export async function startServer(command, args, options) {
  const proc = run(command, args, options);
  try {
    const m = await proc.waitFor(LISTENING);
    proc.port = Number(m[1]);
    return proc;
  } catch (err) {
    await proc.stop();
    throw err;
  }
}

export const nodeChat = () => startServer(process.execPath, ["demo/node/chat.mjs", "0"]);
export const denoChat = async () => {
  if (!existsSync(DENO)) throw new Error(`Deno is missing (${DENO}): run scripts/setup.sh, which installs it with npm`);
  return startServer(DENO, ["run", "--allow-net", "--allow-read", "demo/deno/chat.js", "0"], { timeoutMs: 60000 });
};
