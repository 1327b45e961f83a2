// In-memory API tests (js-tests/shared/api-cases.mjs) through the Node ESM entry.
import { test } from "node:test";
import * as W from "../../pkg/node.js";
import { cases } from "../shared/api-cases.mjs";

for (const { name, fn } of cases) {
  test(name, { timeout: 60000 }, () => fn(W));
}
