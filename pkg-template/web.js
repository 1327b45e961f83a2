// Browser and bundler entry: call `await init()` once (the default export
// too) before creating a connection; it fetches the .wasm file next to the
// glue, or takes a URL, Response, bytes or WebAssembly.Module.
export * from "./api.js";
export { init as default } from "./api.js";
