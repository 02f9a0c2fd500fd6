#!/usr/bin/env bash
# Installs the Debian packages the build and tests need, if any is missing.
# Uses sudo when not root; does nothing when everything is present.
set -euo pipefail
need=(build-essential cmake pkg-config clang clang-format valgrind libsqlite3-dev libcjson-dev libedit-dev sqlite3 python3 node-llhttp curl)
[ "${ARBOR_WITH_BEAM:-0}" = 1 ] && need+=(erlang-nox elixir)
# make bench-http: the load generators and the servers Arbor is compared with.
[ "${ARBOR_WITH_HTTP_BENCH:-0}" = 1 ] && need+=(wrk apache2-utils nginx-light golang-go)
missing=()
for pkg in "${need[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
