#!/usr/bin/env bash
# Builds pkg/, the npm package: the wasm module and its wasm-bindgen glue
# (wasm-pack, target "web": ES module glue with both `initSync` and an
# async `init`, so one glue serves Node, Deno and browsers), plus
# pkg-template/ (the JS API, entry points, types, README).
#
# CommonJS: rather than building the glue a second time with wasm-pack's
# "nodejs" target and keeping a CommonJS copy of the API by hand, esbuild
# bundles the ESM Node entry (node.js -> api.js -> glue) into one
# wsproto.cjs. The ESM sources stay the single source of truth, and the
# .wasm file is shared.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PWD/node_modules/.bin:$PATH"
# SIMD for masking and UTF-8 validation (Node, Deno, Chromium, Firefox,
# Safari 16.4+). Set per target so host builds are not affected.
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="${CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS:--C target-feature=+simd128}"

out=target/wasm-pack
wasm-pack --quiet build --release --target web --out-dir "$out" --out-name wsproto_wasm \
    --no-pack --no-typescript --mode no-install .

# wasm-opt from npm's binaryen (Debian's is broken; wasm-pack's own is a
# download). The module is small, so -O3 costs seconds; -Os keeps it small.
# --low-memory-unused: nothing lives in the first 1 KiB of memory (data
# starts at 1 MiB; the stack grows down from there), so binaryen may fold
# `ptr + constant` into the offsets of loads and stores: -1.1 KB gzipped.
# --converge repeats -Os while it still shrinks; the producers section
# only names the toolchain.
wasm-opt -Os --converge --low-memory-unused --strip-producers --enable-simd --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
    --enable-nontrapping-float-to-int --enable-reference-types --enable-multivalue \
    "$out/wsproto_wasm_bg.wasm" -o "$out/wsproto_wasm_bg.opt.wasm"

# Assembled aside and swapped in at the end, so tests running meanwhile
# never see a half-built package.
new=pkg.new
rm -rf "$new"
mkdir -p "$new/glue"
cp "$out/wsproto_wasm.js" "$new"/glue/wsproto_wasm.js
cp "$out/wsproto_wasm_bg.opt.wasm" "$new"/glue/wsproto_wasm_bg.wasm
cp pkg-template/api.js pkg-template/node.js pkg-template/deno.js pkg-template/web.js \
    pkg-template/index.d.ts pkg-template/README.md "$new"/
cp pkg-template/index.d.ts "$new"/index.d.cts

# The package version follows the crate's.
version=$(awk -F'"' '/^version = / { print $2; exit }' Cargo.toml)
node -e '
const fs = require("fs");
const p = JSON.parse(fs.readFileSync("pkg-template/package.json", "utf8"));
p.version = process.argv[1];
fs.writeFileSync(process.argv[2] + "/package.json", JSON.stringify(p, null, 2) + "\n");
' "$version" "$new"

esbuild "$new"/node.js --bundle --format=cjs --platform=node --target=node20 --log-level=warning \
    --outfile="$new"/wsproto.cjs \
    --define:import.meta.url=__wsproto_module_url \
    --banner:js='"use strict"; const __wsproto_module_url = require("node:url").pathToFileURL(__filename).href;'

rm -rf pkg.old
[ -d pkg ] && mv pkg pkg.old
mv "$new" pkg
rm -rf pkg.old

echo "built pkg/ (wsproto $version): $(wc -c < pkg/glue/wsproto_wasm_bg.wasm) bytes of wasm"
