// Deno entry: importing is enough (needs read permission for the .wasm file
// next to this one, e.g. --allow-read).
import { initSync } from "./api.js";

initSync(Deno.readFileSync(new URL("./glue/wsproto_wasm_bg.wasm", import.meta.url)));

export * from "./api.js";
export { init as default } from "./api.js";
