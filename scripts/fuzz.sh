#!/usr/bin/env bash
# Runs each libFuzzer target that `make fuzz` built, one after the other,
# for SECONDS each (default 60), and fails when any of them finds an input
# that crashes or breaks an invariant. The targets are the folders of
# tests/fuzz/corpus/: each folder is that target's seed corpus. What a run
# learns is kept in BUILD/corpus/TARGET (a later run starts from it), a
# crashing input in BUILD/artifacts/TARGET/, and the whole output in
# BUILD/fuzz_TARGET.log. tests/fuzz/TARGET.dict, where there is one, gives
# the fuzzer the target's words.
#
#   scripts/fuzz.sh [BUILD] [SECONDS]     (make fuzz FUZZ_SECONDS=N)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/fuzz}
seconds=${2:-60}
failed=()
for seeds in tests/fuzz/corpus/*/; do
    target=$(basename "$seeds")
    program=$build/bin/fuzz_$target
    [ -x "$program" ] || { echo "fuzz: $program is not built (make fuzz builds it)"; exit 1; }
    mkdir -p "$build/corpus/$target" "$build/artifacts/$target"
    log=$build/fuzz_$target.log
    dict=()
    [ -f "tests/fuzz/$target.dict" ] && dict=(-dict="tests/fuzz/$target.dict")
    # -max_len: longer than the longest seed (a line past 1,024 bytes).
    if "$program" -max_total_time="$seconds" -max_len=2048 -timeout=25 -print_final_stats=1 \
        "${dict[@]}" -artifact_prefix="$build/artifacts/$target/" "$build/corpus/$target" "$seeds" \
        >"$log" 2>&1; then
        result="no crash"
    else
        result="FAILED"
        failed+=("$target")
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    echo "fuzz_$target: ${runs:-?} executions in ${seconds} s, $result"
done
if [ ${#failed[@]} -gt 0 ]; then
    for target in "${failed[@]}"; do
        echo "---- fuzz_$target (whole output: $build/fuzz_$target.log)"
        log=$build/fuzz_$target.log
        # What broke (an invariant, or a sanitizer's first lines), then how it ended.
        grep -m 3 -E 'invariant broken|ERROR: |runtime error' "$log" || true
        grep -v '^fuzz: --option wants a number' "$log" | grep -v '^    #' | tail -12
        echo "---- the input: $build/artifacts/$target/; once fixed, copy it into" \
            "tests/fuzz/corpus/$target/ so that make test runs it"
    done
    exit 1
fi
