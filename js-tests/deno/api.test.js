// In-memory API tests (js-tests/shared/api-cases.mjs) through the Deno entry.
import * as W from "../../pkg/deno.js";
import { cases } from "../shared/api-cases.mjs";

for (const { name, fn } of cases) {
  Deno.test({ name, fn: () => fn(W) });
}
