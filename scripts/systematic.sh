#!/usr/bin/env bash
# Runs the OTP scenario tests and the systematic-testing checks of a
# systematic build (cmake -DARBOR_SYSTEMATIC=ON; make systematic) once per
# seed, FIRST..LAST: each seed is one interleaving of the schedulers
# (src/runtime/systematic.h). A failure names its seed and the command
# that reruns it; the script goes on through the other seeds and fails at
# the end if any failed.
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
log=$(mktemp)
trap 'rm -f "$log"' EXIT
failed=()
start=$SECONDS
for ((seed = first; seed <= last; seed++)); do
    if ARBOR_SEED=$seed ctest --test-dir "$build" -L 'otp|systematic' -j "$jobs" \
        --output-on-failure >"$log" 2>&1; then
        continue
    fi
    failed+=("$seed")
    cat "$log"
    names=$(sed -n 's/^[[:space:]]*[0-9]* - \([^ ]*\) (.*/\1/p' "$log" | paste -sd'|')
    echo "systematic: seed $seed failed ($names)."
    echo "  rerun it with: ARBOR_SEED=$seed ARBOR_TEST_SCHEDULERS=$ARBOR_TEST_SCHEDULERS ctest --test-dir $build -R '^($names)\$' --output-on-failure"
done
n=$((last - first + 1))
echo "systematic: seeds $first..$last ($n), $((SECONDS - start)) s, ${#failed[@]} failed${failed:+: ${failed[*]}}"
((${#failed[@]} == 0))
