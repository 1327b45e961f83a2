#!/usr/bin/env bash
# Explores with every cargo-fuzz target (or the ones named) for a bounded
# time and fails if any of them finds a crash, a leak, a timeout or an
# allocation over the limit. This is `make fuzz`, not part of `make test`:
# `make test` only replays the committed inputs (tests/fuzz_replay.rs).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]      default: 20 s each, all targets
#
# The targets are thin wrappers of the checks in fuzz/checks/. Seeds are
# read from fuzz/corpus/<target>/ (kept in git, never written by a run);
# what a run discovers goes to fuzz/corpus-run/<target>/ (ignored) so that
# later runs start from it. Crashes land in fuzz/artifacts/<target>/; a
# crash that is fixed goes to fuzz/regressions/<target>/ (replayed first
# here, and by `make test`). Each target's line ends with a row for the
# table in docs/fuzzing.md. Needs the nightly toolchain; installs
# cargo-fuzz only if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

say() { printf 'fuzz: %s\n' "$*"; }

seconds=${1:-20}
shift || true
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
    say "usage: scripts/fuzz.sh [SECONDS] [TARGET...]" >&2
    exit 2
fi

if ! rustup toolchain list | grep -q '^nightly'; then
    say "installing the nightly toolchain (cargo-fuzz needs it)"
    if ! rustup toolchain install nightly --profile minimal; then
        say "cargo-fuzz needs the nightly toolchain, and none could be installed:" >&2
        say "install it with 'rustup toolchain install nightly --profile minimal'" >&2
        exit 1
    fi
fi
if ! command -v cargo-fuzz >/dev/null 2>&1; then
    say "installing cargo-fuzz; this takes a few minutes"
    cargo install cargo-fuzz
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

# -a: debug assertions, so arithmetic overflow panics instead of wrapping.
build_flags=(-a)
# Per input: 10 s at most; no single allocation over 64 MiB (nothing the
# engine does should allocate by a declared length); 2 GiB in all.
libfuzzer_flags=(-timeout=10 -malloc_limit_mb=64 -rss_limit_mb=2048 -print_final_stats=1)

mkdir -p fuzz/corpus-run
say "building the targets"
if ! cargo +nightly fuzz build "${build_flags[@]}" >fuzz/corpus-run/build.log 2>&1; then
    tail -n 60 fuzz/corpus-run/build.log >&2
    say "build failed (log: fuzz/corpus-run/build.log)" >&2
    exit 1
fi

failed=()
for target in "${targets[@]}"; do
    if [ -d "fuzz/regressions/$target" ] && [ -n "$(ls -A "fuzz/regressions/$target")" ]; then
        say "$target: replaying fuzz/regressions/$target"
        if ! cargo +nightly fuzz run "${build_flags[@]}" "$target" "fuzz/regressions/$target" -- \
                -runs=0 "${libfuzzer_flags[@]}" >"fuzz/corpus-run/$target.regressions.log" 2>&1; then
            tail -n 40 "fuzz/corpus-run/$target.regressions.log" >&2
            failed+=("$target (regression)")
            continue
        fi
        rm -f "fuzz/corpus-run/$target.regressions.log"
    fi
    mkdir -p "fuzz/corpus-run/$target" "fuzz/corpus/$target"
    log="fuzz/corpus-run/$target.log"
    say "$target: fuzzing for ${seconds}s"
    # CPU time (user + system) is what docs/fuzzing.md records.
    TIMEFORMAT='%U %S'
    if { time cargo +nightly fuzz run "${build_flags[@]}" "$target" "fuzz/corpus-run/$target" "fuzz/corpus/$target" -- \
            -max_total_time="$seconds" "${libfuzzer_flags[@]}" >"$log" 2>&1; } 2>"$log.cpu"; then
        runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
        cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*' || echo '?')
        corpus=$(find "fuzz/corpus-run/$target" -type f | wc -l)
        say "$target: ok (log: $log)"
        cpu=$(awk '{ printf "%d", $1 + $2 }' "$log.cpu")
        say "| \`$target\` | $(date -u +%F) | ${seconds} s | ${cpu} s | $runs | $cov | $corpus | 0 |"
    else
        tail -n 60 "$log" >&2
        say "$target: FAILED (log: $log; artifacts: fuzz/artifacts/$target/)" >&2
        failed+=("$target")
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    say "failed: ${failed[*]}" >&2
    exit 1
fi
say "all targets ok"
