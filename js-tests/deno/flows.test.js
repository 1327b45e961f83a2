// The same flows as js-tests/node, over Deno.listen / Deno.connect, with
// the package imported through its Deno entry.
import * as W from "../../pkg/deno.js";
import { flows } from "../shared/flows.mjs";
import { denoEnv } from "./deno-env.js";

for (const { name, fn } of flows) {
  Deno.test({ name, sanitizeOps: false, sanitizeResources: false, fn: () => fn(denoEnv(W)) });
}
