#!/usr/bin/env bash
# Installs the Debian packages the build and tests need, if any is missing
# (wrk: the load test, tests/browser/load.test.js), and the browser tests'
# npm packages (tests/browser: playwright-core, which
# drives Debian's chromium and downloads no browser) when they are not
# there. Uses sudo when not root; does nothing when everything is present.
set -euo pipefail
need=(build-essential cmake pkg-config clang clang-format valgrind libsqlite3-dev libcjson-dev libedit-dev libcrypt-dev sqlite3 python3 node-llhttp curl chromium nodejs npm wrk)
[ "${ARBOR_WITH_BEAM:-0}" = 1 ] && need+=(erlang-nox elixir)
# make bench-http: ab and the servers Arbor is compared with (wrk is above).
[ "${ARBOR_WITH_HTTP_BENCH:-0}" = 1 ] && need+=(apache2-utils nginx-light golang-go)
missing=()
for pkg in "${need[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# Node.js from another source (NodeSource's nodejs carries its own npm):
# an npm that runs is enough.
if command -v npm >/dev/null 2>&1; then
    kept=()
    for pkg in "${missing[@]}"; do [[ "$pkg" = nodejs || "$pkg" = npm ]] || kept+=("$pkg"); done
    missing=("${kept[@]}")
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
browser_tests="$(cd "$(dirname "$0")/.." && pwd)/tests/browser"
if [ ! -d "$browser_tests/node_modules" ]; then
    echo "installing the browser tests' npm packages (npm ci in tests/browser)"
    (cd "$browser_tests" && npm ci --no-audit --no-fund)
fi
