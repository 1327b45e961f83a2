#!/usr/bin/env bash
# Installs what building and testing the package needs, and only what is
# missing, so that a warm rerun takes a second. Expects rustup/cargo, node
# and npm (the machine's own); everything else comes from crates.io or npm:
#   - the wasm32-unknown-unknown target, rustfmt and clippy (rustup)
#   - wasm-bindgen-cli at exactly the version of wasm-bindgen in Cargo.lock
#     (wasm-pack would download it, but only package registries are reachable)
#   - wasm-pack
#   - the root devDependencies (typescript, deno, esbuild, binaryen, ws,
#     playwright-core) by npm
#   - Python's wsproto (the reference implementation, for tests/differential.rs)
#   - kosoku, the Autobahn|Testsuite (js-tests/autobahn)
#   - Python's websockets (a peer for the permessage-deflate interop tests)
#   - with --browser: Debian's chromium, for js-tests/browser (needs root,
#     as on CI; `make test` asks for it, `make demo` does not)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PWD/node_modules/.bin:$PATH"

say() { printf 'setup: %s\n' "$*"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
fi

# make test's lint step; a minimal rustup profile lacks them.
for component in rustfmt clippy; do
    if ! rustup component list --installed | grep -q "^$component"; then
        say "adding the $component component"
        rustup component add "$component"
    fi
done

# The CLI must match the library's version byte for byte (the schema of the
# custom section changes between versions).
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
if [ -z "$want" ]; then
    say "no wasm-bindgen in Cargo.lock; run cargo generate-lockfile first" >&2
    exit 1
fi
have=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
if [ "$have" != "$want" ]; then
    say "installing wasm-bindgen-cli $want (found: ${have:-none}); this takes a few minutes"
    cargo install wasm-bindgen-cli --version "=$want" --force
fi

if ! command -v wasm-pack >/dev/null 2>&1; then
    say "installing wasm-pack; this takes a few minutes"
    cargo install wasm-pack
fi

# The reference the differential tests compare against, at a fixed version.
WSPROTO_PY_VERSION=1.3.2
if ! python3 -c "import wsproto, sys; sys.exit(0 if wsproto.__version__ == '$WSPROTO_PY_VERSION' else 1)" 2>/dev/null; then
    say "installing Python wsproto $WSPROTO_PY_VERSION (the reference for tests/differential.rs)"
    python3 -m pip install --quiet --disable-pip-version-check "wsproto==$WSPROTO_PY_VERSION"
fi

# kosoku: the Autobahn|Testsuite cases, natively (js-tests/autobahn), at a
# fixed version: the recorded results depend on it.
KOSOKU_VERSION=0.1.0
if ! python3 -c "import importlib.metadata as m, sys; sys.exit(0 if m.version('kosoku') == '$KOSOKU_VERSION' else 1)" 2>/dev/null; then
    say "installing kosoku $KOSOKU_VERSION (Autobahn|Testsuite, for js-tests/autobahn)"
    python3 -m pip install --quiet --disable-pip-version-check "kosoku==$KOSOKU_VERSION"
fi

# Python websockets (13+, for its asyncio API): a permessage-deflate peer for
# js-tests/node/deflate.test.mjs.
if ! python3 -c "import websockets.asyncio.server" 2>/dev/null; then
    say "installing Python websockets (a peer for js-tests/node/deflate.test.mjs)"
    python3 -m pip install --quiet --disable-pip-version-check websockets
fi

# npm ci is exact but always reinstalls: skip it when node_modules already
# matches the lock file (npm writes node_modules/.package-lock.json).
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    say "installing npm devDependencies"
    npm ci --no-audit --no-fund --loglevel=error
fi

if [ "${1:-}" = "--browser" ] && [ ! -x /usr/bin/chromium ]; then
    say "installing Debian's chromium for the browser test (a minute or two)"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
