#!/usr/bin/env bash
# Runs the systematic-testing checks of a systematic build (cmake
# -DARBOR_SYSTEMATIC=ON; make systematic), which choose their own seeds,
# then the OTP scenario tests once per seed, FIRST..LAST: each seed is one
# interleaving of the schedulers (src/runtime/systematic.h). Each test program runs all its cases in one
# go (each case still in its own process), JOBS programs at a time: ctest
# would start a program per case, and a seed's run would cost half as much
# again. A failure names its seed and the command that reruns it; the
# script goes on through the other seeds and fails at the end if any
# failed.
#
#   scripts/systematic.sh BUILD_DIR [FIRST [LAST]]
#
# ARBOR_TEST_SCHEDULERS (default 4 here) sets the tests' scheduler count.
set -uo pipefail
build=${1:?usage: scripts/systematic.sh BUILD_DIR [FIRST [LAST]]}
first=${2:-1}
last=${3:-$first}
if ! [[ $first =~ ^[0-9]+$ && $last =~ ^[0-9]+$ ]] || ((first > last)); then
    echo "systematic: seeds must be numbers, FIRST <= LAST (got '$first' '$last')" >&2
    exit 2
fi
export ARBOR_TEST_SCHEDULERS=${ARBOR_TEST_SCHEDULERS:-4}
jobs=${JOBS:-$(nproc)}

if ! ctest --test-dir "$build" -L systematic -j "$jobs" --output-on-failure; then
    echo "systematic: the mode's own checks failed (tests/systematic)"
    exit 1
fi

# The programs behind the ctest label otp.
mapfile -t programs < <(ctest --test-dir "$build" -L otp --show-only=json-v1 |
    python3 -c 'import json, sys
seen = []
for t in json.load(sys.stdin)["tests"]:
    if t["command"][0] not in seen:
        seen.append(t["command"][0])
print("\n".join(seen))')
if ((${#programs[@]} == 0)); then
    echo "systematic: no otp tests in $build" >&2
    exit 2
fi

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
failed=()
start=$SECONDS
for ((seed = first; seed <= last; seed++)); do
    rm -f "$logs"/*
    # Each program's output goes to its log, kept only when it fails.
    printf '%s\n' "${programs[@]}" | ARBOR_SEED=$seed xargs -P "$jobs" -I{} \
        sh -c 'log="$1/$(basename "$2").log"; "$2" >"$log" 2>&1 && rm -f "$log"' sh "$logs" {}
    shopt -s nullglob
    failures=("$logs"/*.log)
    shopt -u nullglob
    ((${#failures[@]} == 0)) && continue
    failed+=("$seed")
    cat "${failures[@]}"
    cases=$(sed -n 's/^test \([^ ]*\): seed .*/\1/p' "${failures[@]}" | paste -sd' ')
    echo "systematic: seed $seed failed: ${cases:-a test program}."
    echo "  rerun a case with the line above, or the seed with: make systematic ARBOR_SEED=$seed"
done
echo "systematic: seeds $first..$last ($((last - first + 1))), ${#programs[@]} programs," \
    "$((SECONDS - start)) s, ${#failed[@]} failed${failed:+: ${failed[*]}}"
((${#failed[@]} == 0))
