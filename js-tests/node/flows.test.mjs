// The seed guide's client and server flows over real loopback sockets.
import { test } from "node:test";
import * as W from "../../pkg/node.js";
import { flows } from "../shared/flows.mjs";
import { nodeEnv } from "./net-env.mjs";

for (const { name, fn } of flows) {
  test(name, { timeout: 60000 }, () => fn(nodeEnv(W)));
}
