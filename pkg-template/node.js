// Node entry (ESM): importing is enough; the module is compiled synchronously
// from the .wasm file next to this one.
import { readFileSync } from "node:fs";
import { initSync } from "./api.js";

initSync(readFileSync(new URL("./glue/wsproto_wasm_bg.wasm", import.meta.url)));

export * from "./api.js";
export { init as default } from "./api.js";
