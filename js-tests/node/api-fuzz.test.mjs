// The JS API fuzzer (js-tests/fuzz/api-fuzz.mjs) replayed deterministically:
// fixed seeds and run counts, so every machine gives the same verdict, plus
// the counterexamples it found. Exploring new seeds is `make fuzz-js`.
import { test } from "node:test";
import { runApiFuzz, runSequence } from "../fuzz/api-fuzz.mjs";

const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8];
const RUNS = 400;

for (const seed of SEEDS) {
  test(`api fuzz: seed ${seed}, ${RUNS} sequences`, () => {
    runApiFuzz({ seed, numRuns: RUNS });
  });
}

// Counterexamples the fuzzer found (ops for runSequence), fixed since.
const freshPair = { op: "pair", frame: false, handshake: false, upgrade: false, deflate: null, serverDeflate: null, trailing: "none", clientOptions: {}, serverOptions: {} };
const REGRESSIONS = [
  {
    name: "a header getter frees the server during initiateUpgradeConnection: LocalProtocolError, not a TypeError from null",
    ops: [freshPair, { op: "upgrade", of: 1, headers: [], path: "/", hostile: "free" }],
  },
  {
    name: "the same with scratch already reserved: no write into the freed buffer, no 'null pointer passed to rust'",
    ops: [
      freshPair,
      { op: "upgrade", of: 1, headers: [["X", "a".repeat(5000)]], path: "/", hostile: null },
      { op: "upgrade", of: 1, headers: [["X", "Z".repeat(4000)]], path: "/", hostile: "free" },
    ],
  },
];

for (const { name, ops } of REGRESSIONS) {
  test(`api fuzz regression: ${name}`, () => {
    runSequence(ops);
  });
}
