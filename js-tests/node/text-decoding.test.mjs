// The text-decoding cases of js-tests/shared/api-cases.mjs again, through
// the decoders used where there is no Node Buffer (browsers): TextDecoder
// for latin1 and UTF-16 (api.js picks its decoders when it is loaded).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { cases } from "../shared/api-cases.mjs";

const saved = Object.getOwnPropertyDescriptor(globalThis, "Buffer");
delete globalThis.Buffer;
let W;
try {
  W = await import("../../pkg/api.js");
} finally {
  Object.defineProperty(globalThis, "Buffer", saved);
}
W.initSync(readFileSync(new URL("../../pkg/glue/wsproto_wasm_bg.wasm", import.meta.url)));

const text = cases.filter(({ name }) => name.startsWith("text decoding"));
test("text decoding cases exist", () => assert.ok(text.length >= 3));
for (const { name, fn } of text) {
  test(`${name} (no Buffer)`, { timeout: 60000 }, () => fn(W));
}
