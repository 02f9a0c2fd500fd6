#!/usr/bin/env bash
# `make run` in a scratch directory, with the build replaced by a stand-in
# (MAKE=...) and the desk by a script that prints its arguments:
#   1. a build that succeeds prints nothing (its output goes to a log), and
#      the desk is run on the project's var/support_system.db, made if need be,
#      or on the --db that ARGS names, with ARGS after it;
#   2. a build that fails shows its log and stops: the desk does not run.
set -euo pipefail
makefile=${1:?usage: make_run.sh PATH_TO_Makefile}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/build/release/bin"
cat >"$tmp/build/release/bin/support_system" <<'SH'
#!/bin/sh
echo "desk: $*"
SH
chmod +x "$tmp/build/release/bin/support_system"

rc=0
out=$(make -s -f "$makefile" -C "$tmp" run MAKE="sh -c 'echo compiling noisily' --" 2>&1) || rc=$?
[ "$rc" -eq 0 ] && [ "$out" = "desk: --db var/support_system.db" ] ||
    { echo "FAIL make run: status $rc, output [$out]"; exit 1; }
[ -d "$tmp/var" ] || { echo "FAIL: make run did not make var/"; exit 1; }

# ARGS pass options on; a --db of its own replaces the project's database
# (the desk refuses an option given twice).
rc=0
out=$(make -s -f "$makefile" -C "$tmp" run MAKE=true ARGS="--demo --db other.db" 2>&1) || rc=$?
[ "$rc" -eq 0 ] && [ "$out" = "desk: --demo --db other.db" ] ||
    { echo "FAIL make run ARGS with --db: status $rc, output [$out]"; exit 1; }
rc=0
out=$(make -s -f "$makefile" -C "$tmp" run MAKE=true ARGS="--demo" 2>&1) || rc=$?
[ "$rc" -eq 0 ] && [ "$out" = "desk: --db var/support_system.db --demo" ] ||
    { echo "FAIL make run ARGS: status $rc, output [$out]"; exit 1; }

rc=0
out=$(make -s -f "$makefile" -C "$tmp" run MAKE="sh -c 'echo error: it broke; exit 1' --" 2>&1) || rc=$?
[ "$rc" -ne 0 ] && grep -q "error: it broke" <<<"$out" && ! grep -q "desk:" <<<"$out" ||
    { echo "FAIL failed build: status $rc, output [$out]"; exit 1; }
echo "make run: ok"
