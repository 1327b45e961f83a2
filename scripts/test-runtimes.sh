#!/usr/bin/env bash
# The package's shared flows, its API cases, CommonJS and the packed-tarball
# test on every supported runtime: Node 20, 22, 24 and 26, Bun 1 and Deno 2
# (pinned in scripts/runtime.sh, installed from npm into .runtimes/ when
# missing). Expects pkg/ to be built (make test-runtimes does that).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH" DENO_NO_UPDATE_CHECK=1 DENO_NO_PROMPT=1

files=(js-tests/node/flows.test.mjs js-tests/node/api.test.mjs js-tests/node/cjs.test.cjs js-tests/pack/pack.test.mjs)
failed=()

for major in 20 22 24 26; do
    node=$(scripts/runtime.sh node "$major")
    printf '== Node %s (%s)\n' "$major" "$("$node" --version)"
    # The pack test runs npm, and npm runs `node`: this one first on PATH.
    if ! PATH="$(dirname "$node"):$PATH" "$node" --test --test-timeout=300000 "${files[@]}"; then
        failed+=("node $major")
    fi
done

bun=$(scripts/runtime.sh bun)
printf '== Bun %s\n' "$("$bun" --version)"
if ! "$bun" test --timeout 300000 "${files[@]}"; then
    failed+=(bun)
fi

deno=$(scripts/runtime.sh deno)
printf '== Deno %s\n' "$("$deno" --version | head -n 1)"
if ! NO_COLOR=1 "$deno" test --quiet --allow-read --allow-net js-tests/deno/*.test.js; then
    failed+=(deno)
fi

if [ "${#failed[@]}" -gt 0 ]; then
    printf 'test-runtimes: failed on %s\n' "${failed[*]}" >&2
    exit 1
fi
echo "test-runtimes: Node 20, 22, 24, 26, Bun 1 and Deno 2 passed"
