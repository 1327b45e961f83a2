# Two commands matter: `make demo` and `make test`. Both set up what they
# need first (scripts/setup.sh installs only what is missing).
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
export PATH := $(HOME)/.cargo/bin:$(CURDIR)/node_modules/.bin:$(PATH)
export DENO_NO_UPDATE_CHECK := 1
export DENO_NO_PROMPT := 1
# SIMD for the wasm build (see scripts/build-pkg.sh); the same flags for the
# wasm tests so that both share one build cache.
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS := -C target-feature=+simd128

.PHONY: all setup pkg demo test test-lint test-rust test-wasm test-node test-deno test-browser test-types test-pack test-demo \
	test-interop test-autobahn test-autobahn-full test-autobahn-ci test-lts test-runtimes fuzz fuzz-js bench clean

all: pkg

setup:
	@scripts/setup.sh

# The npm package, in pkg/.
pkg: setup
	@scripts/build-pkg.sh

# The Node chat server with the browser demo beside it, on 127.0.0.1:$PORT
# (default 8080); it prints the URLs to open. See demo/README.md.
demo: pkg
	node demo/node/chat.mjs $(or $(PORT),8080)

# Every test; each step says what it runs. Deterministic: nothing here
# explores new random inputs (that is `make fuzz`: property tests run fixed
# seeds), and no test has a fixed time limit (a test of linear work counts
# allocations or compares with a baseline in the same run), so a commit
# gives the same verdict on every machine.
test:
	@scripts/setup.sh --browser
	$(MAKE) --no-print-directory test-lint
	$(MAKE) --no-print-directory test-rust
	$(MAKE) --no-print-directory pkg
	$(MAKE) --no-print-directory test-wasm test-node test-deno test-browser test-types test-pack test-demo
	$(MAKE) --no-print-directory test-interop
	$(MAKE) --no-print-directory test-autobahn-ci
	@echo "make test: all test suites passed"

# rustfmt (rustfmt.toml) and clippy with warnings as errors, natively and
# for the wasm build.
test-lint:
	cargo fmt --check
	cargo clippy --all-targets --quiet -- -D warnings
	cargo clippy --target wasm32-unknown-unknown --lib --quiet -- -D warnings

# The crate's unit, integration and doc tests; tests/fuzz_replay.rs replays
# every committed fuzz input (fuzz/corpus/, fuzz/regressions/).
test-rust:
	cargo test --quiet

# tests/wasm.rs under Node through wasm-bindgen-test-runner: what
# `wasm-pack test --node` does, but building only that test target (the
# other tests and their dev-dependencies are native-only).
test-wasm:
	CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
	    cargo test --target wasm32-unknown-unknown --test wasm

test-node:
	node --test --test-timeout=60000 js-tests/node/*.test.mjs js-tests/node/*.test.cjs

test-deno:
	NO_COLOR=1 deno test --quiet --allow-read --allow-net js-tests/deno

test-browser:
	node --test --test-timeout=180000 js-tests/browser/*.test.mjs

test-types:
	tsc -p js-tests/types --noEmit --strict

test-pack:
	node --test --test-timeout=300000 js-tests/pack/*.test.mjs

# The demos: the Node and Deno servers on random ports, driven by a client;
# the browser demo and the chat page in Chromium (screenshots: js-tests/.out/).
test-demo:
	node --test --test-timeout=600000 js-tests/demo/*.test.mjs

# Interoperability over loopback with ws, Python websockets, Deno and
# Chromium, both directions where the peer can be both (docs/interop.md).
test-interop:
	node --test --test-timeout=180000 js-tests/interop/*.test.mjs

# Autobahn|Testsuite through kosoku, server and client modes: cases 1-10
# whole and a sample of the compression cases 12-13, compared with
# js-tests/autobahn/expected.json. test-autobahn-full: all 517 cases both
# ways (about 20 minutes on 2 CPUs) and the summary in docs/autobahn.md.
# test-autobahn (the quick check while developing) takes 30-45 s on 2 CPUs,
# 57 s with one case at a time (-p 1), 93 s with the 2 CPUs busy.
test-autobahn:
	node js-tests/autobahn/run.mjs

test-autobahn-full:
	node js-tests/autobahn/run.mjs --full

# What make test runs: all 517 cases both ways (about 19 minutes on 2 CPUs),
# each mode bounded to 30 minutes, docs/ left as they are.
test-autobahn-ci:
	AUTOBAHN_TIMEOUT_MS=1800000 node js-tests/autobahn/run.mjs --full --no-docs

# The Node and pack suites on the current Node LTS (24, from npm); CI runs
# this after make test, which uses the Node on PATH.
test-lts: pkg
	PATH="$$(dirname "$$(scripts/runtime.sh node 24)"):$$PATH" \
	    $(MAKE) --no-print-directory test-node test-pack

# The package's shared flows and the packed-tarball test on every runtime
# the package states it supports: Node 20, 22, 24, 26, Bun 1 and Deno 2
# (installed from npm into .runtimes/ when missing).
test-runtimes: pkg
	scripts/test-runtimes.sh

# Exploring with cargo-fuzz (nightly; cargo-fuzz is installed if missing)
# and with fast-check through the JS package (make fuzz-js), for
# FUZZ_SECONDS per target. Not part of make test. Record each run in
# docs/fuzzing.md (the script prints the table row).
FUZZ_SECONDS ?= 60
fuzz: pkg
	scripts/fuzz.sh $(FUZZ_SECONDS)
	$(MAKE) --no-print-directory fuzz-js

fuzz-js: pkg
	node js-tests/fuzz/api-fuzz.mjs --seconds $(FUZZ_SECONDS)

# The benchmark: the core natively next to tungstenite (cargo bench,
# benches/frames.rs), then the package side by side with ws and
# websocket-driver and the core natively vs in wasm, timed in turn
# (bench/run.mjs), which writes docs/bench.md and docs/bench.svg. QUICK=1:
# only the rows the performance targets name, printed (under a minute once
# built), without cargo bench (no target needs its figures).
bench: pkg
	$(if $(QUICK),,cargo bench --quiet --bench frames)
	node --expose-gc bench/run.mjs $(if $(QUICK),--quick)

clean:
	rm -rf pkg target/wasm-pack js-tests/.out .runtimes
