// Runs the Autobahn|Testsuite (through the PyPI package `kosoku`) against
// the npm package, both ways:
//   server mode: kosoku's fuzzingclient drives echo-server.mjs;
//   client mode: echo-client.mjs drives kosoku's fuzzingserver.
// Each peer and kosoku run as child processes on free loopback ports. The
// JSON reports (and kosoku's HTML) go to reports/autobahn/<mode>/ (ignored by
// git); the results are compared with js-tests/autobahn/expected.json and
// the summary table in docs/autobahn.md is rewritten after a full run.
//
//   node js-tests/autobahn/run.mjs [--full] [--mode server|client|both]
//        [-i CASE]... [-x CASE]... [-p N] [--update] [--no-docs]
//
// By default (make test-autobahn, part of make test) it runs every case of
// 1.* to 10.* and a sample of the permessage-deflate cases (QUICK below):
// the whole of 12.* and 13.* costs about eight minutes of CPU per mode.
// --full (make test-autobahn-full) runs all 517 cases and rewrites the
// summary in docs/autobahn.md. -p N: N cases at a time (default: the
// number of CPUs, at most 4), with as many echo-server processes
// (node:cluster) or echo-client processes.
//
// Exit status 1 if any case regresses: a result not among the case's
// accepted results in expected.json (OK is always accepted), or a case
// missing from the reports. With --update, expected.json records this run's
// results instead. If the package does not negotiate permessage-deflate
// (needed by the 216 cases of 12.* and 13.* per mode), the run fails.
import { spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { availableParallelism } from "node:os";
import { deflateSupported } from "./peer-common.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const expectedPath = join(here, "expected.json");
const docsPath = join(root, "docs", "autobahn.md");
const reportsRoot = join(root, "reports", "autobahn");
const AGENT = "wsproto-js";
// scripts/setup.sh installs kosoku with pip; KOSOKU names another command.
const KOSOKU = process.env.KOSOKU || "kosoku";
// A bound on each mode (AUTOBAHN_TIMEOUT_MS overrides it): the default
// selection takes well under a minute, the full suite about 10 minutes per
// mode on 2 CPUs.
const modeTimeout = (full) => Number(process.env.AUTOBAHN_TIMEOUT_MS ?? (full ? 90 : 10) * 60 * 1000);

const GROUPS = {
  1: "Framing",
  2: "Pings/Pongs",
  3: "Reserved bits",
  4: "Opcodes",
  5: "Fragmentation",
  6: "UTF-8 handling",
  7: "Close handling",
  9: "Limits/performance",
  10: "Miscellaneous",
  12: "Compression (payloads)",
  13: "Compression (parameters)",
};
// The default selection: cases 1.* to 10.* whole; from each group of 12.*
// and 13.* (one per payload type or set of offer parameters), the first
// four cases (1000 messages of 16 to 1024 bytes) and, for a few, case 11
// (8 KiB messages in 256-byte frames).
// (kosoku, like Autobahn, matches a glob from the start of the id only:
// 12.*.1 would take 12.1.10 too, so the sample lists ids.)
const QUICK = [
  ...["1", "2", "3", "4", "5", "6", "7", "9", "10"].map((g) => `${g}.*`),
  ...[[12, 5], [13, 7]].flatMap(([g, n]) =>
    Array.from({ length: n }, (_, i) => [1, 2, 3, 4].map((c) => `${g}.${i + 1}.${c}`)).flat(),
  ),
  "12.1.11",
  "13.1.11",
  "13.2.11",
];
const COLUMNS = ["OK", "INFORMATIONAL", "NON-STRICT", "UNIMPLEMENTED", "FAILED", "other"];
const CLEAN_CLOSE = new Set(["OK", "INFORMATIONAL"]);

// ---- arguments -------------------------------------------------------------

function parseArgs(argv) {
  const args = {
    modes: ["server", "client"],
    include: [],
    exclude: [],
    parallelism: Math.min(4, availableParallelism()),
    full: false,
    update: false,
    docs: true,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === "--mode") {
      const m = value();
      if (!["server", "client", "both"].includes(m)) throw new Error(`--mode: server, client or both, not ${m}`);
      args.modes = m === "both" ? ["server", "client"] : [m];
    } else if (a === "-i" || a === "--include") args.include.push(value());
    else if (a === "-x" || a === "--exclude") args.exclude.push(value());
    else if (a === "-p" || a === "--parallelism") args.parallelism = Number(value());
    else if (a === "--update") args.update = true;
    else if (a === "--full") args.full = true;
    else if (a === "--no-docs") args.docs = false;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!args.full && args.include.length === 0) args.include = QUICK;
  return args;
}

// ---- processes -------------------------------------------------------------

const children = new Set();

function start(command, argv, env = {}) {
  const child = spawn(command, argv, { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  child.output = "";
  const collect = (chunk) => {
    child.output += chunk;
    if (child.output.length > 1 << 20) child.output = child.output.slice(-(1 << 19));
  };
  child.stdout.setEncoding("utf8").on("data", collect);
  child.stderr.setEncoding("utf8").on("data", collect);
  child.exited = new Promise((resolve) => {
    child.on("error", (err) => {
      child.output += `\n${err}`;
      resolve(-1);
    });
    child.on("exit", (code, signal) => {
      children.delete(child);
      resolve(code ?? signal);
    });
  });
  return child;
}

function stop(child) {
  if (children.has(child)) child.kill("SIGTERM");
  return child.exited;
}

process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => process.exit(130));
}

/** Resolves with the first match of `re` in the child's output. */
function waitFor(child, re, what, ms = 30000) {
  return new Promise((resolve, reject) => {
    const check = () => {
      const m = child.output.match(re);
      if (m) {
        cleanup();
        resolve(m);
      }
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out waiting for ${what}; output:\n${child.output}`));
    }, ms);
    const onExit = () => {
      setImmediate(() => {
        check();
        cleanup();
        reject(new Error(`${what}: the process exited; output:\n${child.output}`));
      });
    };
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout.off("data", check);
      child.stderr.off("data", check);
      child.off("exit", onExit);
    };
    child.stdout.on("data", check);
    child.stderr.on("data", check);
    child.once("exit", onExit);
    check();
  });
}

function bounded(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took more than ${ms / 1000} s`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function selection(args) {
  return [...args.include.flatMap((c) => ["-i", c]), ...args.exclude.flatMap((c) => ["-x", c])];
}

// ---- the two modes ---------------------------------------------------------

async function runServerMode(args, outdir, env) {
  const server = start(process.execPath, [join(here, "echo-server.mjs"), "0", "--workers", String(args.parallelism)], env);
  try {
    const [, port] = await waitFor(server, /listening (\d+)/, "the echo server");
    const kosoku = start(KOSOKU, [`127.0.0.1:${port}`, "-o", outdir, "-p", String(args.parallelism), ...selection(args)]);
    const code = await bounded(kosoku.exited, modeTimeout(args.full), "server mode").catch(async (err) => {
      await stop(kosoku);
      throw err;
    });
    return { code, output: kosoku.output + server.output };
  } finally {
    await stop(server);
  }
}

async function runClientMode(args, outdir, env) {
  const kosoku = start(KOSOKU, ["-m", "fuzzingserver", "127.0.0.1:0", "-o", outdir, ...selection(args)]);
  try {
    const [, url] = await waitFor(kosoku, /listening on (ws:\/\/[\d.]+:\d+)/, "kosoku's fuzzingserver");
    const client = start(process.execPath, [join(here, "echo-client.mjs"), url, AGENT, "--parallel", String(args.parallelism)], env);
    const clientCode = await bounded(client.exited, modeTimeout(args.full), "client mode").catch(async (err) => {
      await stop(client);
      throw err;
    });
    if (clientCode !== 0) throw new Error(`the echo client exited with ${clientCode}:\n${client.output}`);
    const code = await bounded(kosoku.exited, 60000, "kosoku writing its reports");
    return { code, output: kosoku.output + client.output };
  } finally {
    await stop(kosoku);
  }
}

// ---- results ---------------------------------------------------------------

function compareIds(a, b) {
  const x = a.split(".").map(Number);
  const y = b.split(".").map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? -1) - (y[i] ?? -1);
    if (d) return d;
  }
  return 0;
}

// A case selector as kosoku reads it (Autobahn's rule): an id, or a glob
// that must match from the start of the id (re.match).
function globToRegExp(glob) {
  if (!glob.includes("*")) return new RegExp(`^${glob.replace(/\./g, "\\.")}$`);
  return new RegExp(`^${glob.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}`);
}

/** One case's result: its behavior, plus the close verdict if that was not clean. */
function resultOf(entry) {
  return CLEAN_CLOSE.has(entry.behaviorClose) ? entry.behavior : `${entry.behavior}/${entry.behaviorClose}`;
}

function readResults(outdir) {
  const indexPath = join(outdir, "index.json");
  if (!existsSync(indexPath)) return null;
  const index = JSON.parse(readFileSync(indexPath, "utf8"));
  const cases = index[AGENT] ?? {};
  const results = {};
  for (const [id, entry] of Object.entries(cases)) {
    let description = "";
    try {
      description = JSON.parse(readFileSync(join(outdir, entry.reportfile), "utf8")).description;
    } catch {
      // the index alone is enough
    }
    results[id] = { ...entry, result: resultOf(entry), description };
  }
  return results;
}

function judge(mode, results, expected, { selected }) {
  const accepted = expected[mode] ?? {};
  const regressions = [];
  const improvements = [];
  const ids = new Set([...Object.keys(results), ...Object.keys(accepted).filter(selected)]);
  for (const id of [...ids].sort(compareIds)) {
    const r = results[id];
    if (!r) {
      regressions.push(`${id}: missing from the reports (expected ${accepted[id]?.join(" or ")})`);
      continue;
    }
    const ok = accepted[id];
    if (!ok) {
      regressions.push(`${id}: ${r.result}, but the case has no recorded expectation (run with --update)`);
    } else if (r.result === "OK" && !ok.includes("OK")) {
      improvements.push(`${id}: OK (recorded: ${ok.join(" or ")})`);
    } else if (r.result !== "OK" && !ok.includes(r.result)) {
      regressions.push(`${id}: ${r.result} (accepted: ${ok.join(" or ")}; ${r.description})`);
    }
  }
  return { regressions, improvements };
}

function table(results) {
  const rows = new Map();
  for (const [id, r] of Object.entries(results)) {
    const group = Number(id.split(".")[0]);
    if (!rows.has(group)) rows.set(group, Object.fromEntries(["cases", ...COLUMNS, "close"].map((c) => [c, 0])));
    const row = rows.get(group);
    row.cases++;
    row[COLUMNS.includes(r.behavior) ? r.behavior : "other"]++;
    if (!CLEAN_CLOSE.has(r.behaviorClose)) row.close++;
  }
  const head = ["Group", "Cases", ...COLUMNS.slice(0, 5), "Close not clean"];
  const lines = [`| ${head.join(" | ")} |`, `| ${head.map((_, i) => (i === 0 ? "---" : "---:")).join(" | ")} |`];
  const total = Object.fromEntries(["cases", ...COLUMNS, "close"].map((c) => [c, 0]));
  for (const group of [...rows.keys()].sort((a, b) => a - b)) {
    const row = rows.get(group);
    for (const k of Object.keys(total)) total[k] += row[k];
    lines.push(`| ${group}. ${GROUPS[group] ?? ""} | ${row.cases} | ${COLUMNS.slice(0, 5).map((c) => row[c]).join(" | ")} | ${row.close} |`);
  }
  lines.push(`| **Total** | **${total.cases}** | ${COLUMNS.slice(0, 5).map((c) => `**${total[c]}**`).join(" | ")} | **${total.close}** |`);
  if (total.other) lines.push("", `${total.other} case(s) had another verdict (ERROR): see the reports.`);
  return lines.join("\n");
}

function notable(results) {
  const lines = [];
  for (const id of Object.keys(results).sort(compareIds)) {
    const r = results[id];
    if (r.result === "OK") continue;
    const code = r.remoteCloseCode === null || r.remoteCloseCode === undefined ? "none" : r.remoteCloseCode;
    lines.push(`- ${id} ${r.result} (our close code: ${code}): ${r.description}`);
  }
  return lines.length ? lines.join("\n") : "- none: every case is OK";
}

const BEGIN = "<!-- autobahn-summary: begin (written by js-tests/autobahn/run.mjs) -->";
const END = "<!-- autobahn-summary: end -->";

function writeDocs(summaries) {
  const parts = [
    BEGIN,
    "",
    "permessage-deflate: offered by the client, accepted by the server.",
  ];
  for (const { mode, results } of summaries) {
    const title = mode === "server" ? "Server mode (kosoku's fuzzingclient drives echo-server.mjs)" : "Client mode (echo-client.mjs drives kosoku's fuzzingserver)";
    parts.push("", `### ${title}`, "", table(results), "", "Cases not OK:", "", notable(results));
  }
  parts.push("", END);
  const block = parts.join("\n");
  const old = existsSync(docsPath) ? readFileSync(docsPath, "utf8") : "";
  const at = old.indexOf(BEGIN);
  const end = old.indexOf(END);
  const next = at >= 0 && end > at ? old.slice(0, at) + block + old.slice(end + END.length) : `${old}${old ? "\n" : ""}${block}\n`;
  if (next !== old) {
    writeFileSync(docsPath, next);
    console.log(`autobahn: wrote the summary to ${relative(root, docsPath)}`);
  }
}

function writeExpected(expected, summaries) {
  for (const { mode, results } of summaries) {
    const accepted = { ...(expected[mode] ?? {}) };
    for (const id of Object.keys(results)) {
      accepted[id] = [results[id].result];
    }
    expected[mode] = Object.fromEntries(Object.keys(accepted).sort(compareIds).map((id) => [id, accepted[id]]));
  }
  // One case per line: diffs stay readable.
  const lines = ["{"];
  const top = Object.entries(expected);
  top.forEach(([key, value], i) => {
    const comma = i < top.length - 1 ? "," : "";
    if (key === "server" || key === "client") {
      lines.push(`  ${JSON.stringify(key)}: {`);
      const entries = Object.entries(value);
      entries.forEach(([id, list], j) => lines.push(`    ${JSON.stringify(id)}: ${JSON.stringify(list)}${j < entries.length - 1 ? "," : ""}`));
      lines.push(`  }${comma}`);
    } else {
      lines.push(`  ${JSON.stringify(key)}: ${JSON.stringify(value)}${comma}`);
    }
  });
  lines.push("}");
  writeFileSync(expectedPath, `${lines.join("\n")}\n`);
  console.log(`autobahn: recorded this run's results in ${relative(root, expectedPath)}`);
}

// ---- main ------------------------------------------------------------------

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const partial = !args.full || args.include.length > 0 || args.exclude.length > 0;
  const expected = existsSync(expectedPath)
    ? JSON.parse(readFileSync(expectedPath, "utf8"))
    : { note: "Per case, the accepted Autobahn results (behavior, or behavior/behaviorClose when the close was not clean)." };
  if (!deflateSupported()) {
    console.error("autobahn: this build of the package (pkg/) does not negotiate permessage-deflate, which the 216 cases of 12.* and 13.* per mode need: rebuild it with make pkg");
    process.exit(1);
  }
  // The children probe the package too; pin them to this answer.
  const env = { AUTOBAHN_DEFLATE: "1" };
  const includes = args.include.map(globToRegExp);
  const excludes = args.exclude.map(globToRegExp);
  const selected = (id) => (includes.length === 0 || includes.some((re) => re.test(id))) && !excludes.some((re) => re.test(id));

  const summaries = [];
  let failed = false;
  for (const mode of args.modes) {
    const outdir = join(reportsRoot, mode);
    rmSync(outdir, { recursive: true, force: true });
    const started = performance.now();
    let run;
    try {
      run = await (mode === "server" ? runServerMode : runClientMode)(args, outdir, env);
    } catch (err) {
      console.error(`autobahn ${mode}: ${err.message}`);
      failed = true;
      continue;
    }
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const results = readResults(outdir);
    if (!results || Object.keys(results).length === 0) {
      console.error(`autobahn ${mode}: no reports (kosoku exited with ${run.code}); output:\n${run.output}`);
      failed = true;
      continue;
    }
    const { regressions, improvements } = judge(mode, results, expected, { selected });
    summaries.push({ mode, results });
    const counts = {};
    for (const [id, r] of Object.entries(results)) {
      counts[r.result] = (counts[r.result] ?? 0) + 1;
    }
    const summary = Object.entries(counts).map(([k, n]) => `${n} ${k}`).join(", ");
    console.log(`autobahn ${mode}: ${Object.keys(results).length} cases in ${seconds} s: ${summary} (reports: ${relative(root, outdir)}/index.html)`);
    for (const line of improvements) console.log(`autobahn ${mode}: improved: ${line}`);
    if (regressions.length && !args.update) {
      failed = true;
      console.error(`autobahn ${mode}: ${regressions.length} regression(s):`);
      for (const line of regressions) console.error(`  ${line}`);
    }
  }

  if (args.update && summaries.length) writeExpected(expected, summaries);
  if (args.docs && !partial && summaries.length === 2) writeDocs(summaries);
  if (failed && !args.update) {
    console.error("autobahn: FAILED");
    process.exit(1);
  }
  console.log("autobahn: no regressions");
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
