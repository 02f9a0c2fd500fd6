#!/usr/bin/env bash
# Drives build/bin/simple_queue through --json over a pipe: the course's
# session (queue, enqueue, dequeue), a crash that the supervisor undoes
# "as if nothing had happened", bad input, and the tree.
set -euo pipefail
bin=${1:?usage: simple_queue_console.sh PATH_TO_simple_queue}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=$(printf '%s\n' 'queue' 'enqueue 4' 'queue' 'dequeue' 'queue' 'crash' 'queue' \
    'dequeue' 'dequeue' 'dequeue' 'dequeue' 'enqueue x' 'frobnicate' 'tree' 'quit' |
    timeout 60 "$bin" --json)
expect() { # line number, expected JSON (exact)
    got=$(sed -n "${1}p" <<<"$out")
    if [ "$got" != "$2" ]; then
        echo "line $1: expected $2"
        echo "        got      $got"
        echo "--- whole output:"; echo "$out"
        exit 1
    fi
}
expect 1 '{"ok":true,"queue":[1,2,3]}'
expect 2 '{"ok":true}'
expect 3 '{"ok":true,"queue":[1,2,3,4]}'
expect 4 '{"ok":true,"value":1}'
expect 5 '{"ok":true,"queue":[2,3,4]}'
grep -q '"killed":"<0\.' <<<"$(sed -n 6p <<<"$out")" || { echo "crash: $out"; exit 1; }
expect 7 '{"ok":true,"queue":[1,2,3]}'
expect 8 '{"ok":true,"value":1}'
expect 11 '{"ok":false,"error":{"code":"empty","message":"the queue is empty"}}'
expect 12 '{"ok":false,"error":{"code":"bad_argument","message":"enqueue takes one integer: enqueue N"}}'
expect 13 '{"ok":false,"error":{"code":"unknown_command","message":"unknown command (try: help)"}}'
tree=$(sed -n 14p <<<"$out")
grep -q '"name":"SimpleQueue.Supervisor"' <<<"$tree" || { echo "tree: $tree"; exit 1; }
grep -q '"name":"SimpleQueue","pid":"<0\.[0-9]*\.[0-9]*>","kind":"worker","status":"running","restarts":1' <<<"$tree" ||
    { echo "tree: $tree"; exit 1; }
expect 15 '{"ok":true}'
[ "$(wc -l <<<"$out")" -eq 15 ] || { echo "expected 15 lines: $out"; exit 1; }
# A line is one command whatever its length: 'enqueue', 2,000 blanks and
# 'crash' is one refused enqueue, not an enqueue and then a crash. A blank
# line is answered too (one line in, one answer out).
long_line="enqueue$(printf '%2000s' '')crash"
# Words are quoted as in a shell: '8' is the word 8, "5 6" one word (not
# an integer), and a quote left open is refused.
out=$(printf '%s\n' "$long_line" '' "enqueue '8'" 'enqueue "5 6"' 'enqueue "9' 'queue' 'quit' |
    timeout 60 "$bin" --json)
expect 1 '{"ok":false,"error":{"code":"bad_argument","message":"enqueue takes one integer: enqueue N"}}'
expect 2 '{"ok":true}'
expect 3 '{"ok":true}'
expect 4 '{"ok":false,"error":{"code":"bad_argument","message":"enqueue takes one integer: enqueue N"}}'
grep -q '"code":"bad_argument","message":"a quote is not closed' <<<"$(sed -n 5p <<<"$out")" ||
    { echo "open quote: $out"; exit 1; }
expect 6 '{"ok":true,"queue":[1,2,3,8]}'
expect 7 '{"ok":true}'
[ "$(wc -l <<<"$out")" -eq 7 ] || { echo "expected 7 lines: $out"; exit 1; }
# An empty word is no integer: enqueue "" (and a trailing backslash, which
# splits as an empty word) once enqueued 0 (found by fuzz_simple_queue_command).
out=$(printf '%s\n' 'enqueue ""' 'enqueue \' 'queue' | timeout 60 "$bin" --json)
expect 1 '{"ok":false,"error":{"code":"bad_argument","message":"enqueue takes one integer: enqueue N"}}'
expect 2 '{"ok":false,"error":{"code":"bad_argument","message":"enqueue takes one integer: enqueue N"}}'
expect 3 '{"ok":true,"queue":[1,2,3]}'
# A line that is not UTF-8 is refused whole.
out=$(printf 'enqueue 5\xff\nqueue\n' | timeout 60 "$bin" --json)
grep -q '"code":"bad_input","message":"the line is not valid UTF-8' <<<"$(sed -n 1p <<<"$out")" ||
    { echo "invalid UTF-8: $out"; exit 1; }
expect 2 '{"ok":true,"queue":[1,2,3]}'
# End of input stops it cleanly too.
printf 'queue\n' | timeout 60 "$bin" --json >/dev/null
# A malformed option is refused with exit status 2 and a message naming
# what is wrong and what was expected; -h is --help (status 0), which
# lists every option.
bad=("--schedulers many" "--schedulers" "--frobnicate" "stray")
messages=("--schedulers 'many': expected a number from 1 to 1024"
    "--schedulers: expected a number from 1 to 1024 after it" "--frobnicate: unknown option"
    "stray: unexpected argument")
for i in "${!bad[@]}"; do
    rc=0
    # shellcheck disable=SC2086
    msg=$(timeout 60 "$bin" ${bad[$i]} </dev/null 2>&1 >/dev/null) || rc=$?
    [ "$rc" -eq 2 ] && grep -qF "simple_queue: ${messages[$i]}" <<<"$msg" ||
        { echo "bad option ${bad[$i]}: status $rc, message [$msg]"; exit 1; }
done
for h in -h --help; do
    rc=0
    help=$(timeout 60 "$bin" "$h" </dev/null) || rc=$?
    [ "$rc" -eq 0 ] || { echo "$h: status $rc"; exit 1; }
    for opt in --json --schedulers -h --help; do
        grep -qE "^ +(-h, )?$opt( |,|$)" <<<"$help" || { echo "$h does not list $opt"; exit 1; }
    done
done
# Extra words are refused, not ignored: `quit now` does not quit, `queue
# x` shows nothing.
# An unknown command is unknown whatever follows it (`foo bar`).
out=$(printf '%s\n' 'quit now' 'queue x' 'crash now' 'enqueue 1 2' 'queue' 'foo bar' 'quit' | timeout 60 "$bin" --json)
expect 1 '{"ok":false,"error":{"code":"bad_argument","message":"too many arguments (try: help)"}}'
expect 2 '{"ok":false,"error":{"code":"bad_argument","message":"too many arguments (try: help)"}}'
expect 3 '{"ok":false,"error":{"code":"bad_argument","message":"too many arguments (try: help)"}}'
expect 4 '{"ok":false,"error":{"code":"bad_argument","message":"enqueue takes one integer: enqueue N"}}'
expect 5 '{"ok":true,"queue":[1,2,3]}'
expect 6 '{"ok":false,"error":{"code":"unknown_command","message":"unknown command (try: help)"}}'
expect 7 '{"ok":true}'
# Integers stay exact in JSON, beyond 2^53 and at the ends of the range.
out=$(printf '%s\n' 'enqueue 9007199254740993' 'enqueue -9223372036854775808' \
    'enqueue 9223372036854775807' 'queue' 'dequeue' 'dequeue' 'dequeue' 'dequeue' 'dequeue' 'quit' |
    timeout 60 "$bin" --json)
expect 4 '{"ok":true,"queue":[1,2,3,9007199254740993,-9223372036854775808,9223372036854775807]}'
expect 8 '{"ok":true,"value":9007199254740993}'
expect 9 '{"ok":true,"value":-9223372036854775808}'
# Every value of a long queue is answered, none cut off.
out=$({ seq 1 5003 | sed 's/^/enqueue /'; echo queue; echo quit; } | timeout 60 "$bin" --json)
python3 -c 'import json, sys
q = json.loads(sys.stdin.read().splitlines()[5003])
sys.exit(not (q["ok"] and q["queue"] == [1, 2, 3] + list(range(1, 5004))))' <<<"$out" ||
    { echo "long queue: $(sed -n 5004p <<<"$out" | cut -c1-200)..."; exit 1; }
out=$({ seq 1 5003 | sed 's/^/enqueue /'; echo queue; echo quit; } | timeout 60 "$bin")
[ "$(sed -n 5004p <<<"$out")" = "[1, 2, 3, $(seq -s ', ' 1 5003)]" ] ||
    { echo "long queue as text: $(sed -n 5004p <<<"$out" | cut -c1-200)..."; exit 1; }
# A fourth crash within 5 s exceeds the supervisor's intensity (3 in 5 s):
# that crash is answered with the plain truth, stderr says why SimpleQueue
# stops, and the exit status is not 0. Nothing after it is answered.
rc=0
out=$(printf '%s\n' crash crash crash crash queue |
    timeout 60 "$bin" --json 2>"$tmp/stderr") || rc=$?
for i in 1 2 3; do
    grep -q '"ok":true,"killed":"<0\.' <<<"$(sed -n ${i}p <<<"$out")" || { echo "crash $i: $out"; exit 1; }
done
expect 4 '{"ok":false,"error":{"code":"supervisor_gave_up","message":"SimpleQueue.Supervisor gave up: SimpleQueue crashed more than 3 times in 5 s"}}'
[ "$(wc -l <<<"$out")" -eq 4 ] || { echo "expected 4 lines after the supervisor gave up: $out"; exit 1; }
[ "$rc" -eq 3 ] || { echo "exit status $rc after the supervisor gave up, expected 3"; exit 1; }
grep -qx 'simple_queue: SimpleQueue.Supervisor gave up: SimpleQueue crashed more than 3 times in 5 s; stopping' "$tmp/stderr" ||
    { echo "stderr after the supervisor gave up: $(cat "$tmp/stderr")"; exit 1; }
# SIGTERM while it waits for a line (its input still open) stops it
# cleanly: status 0 and a message.
mkfifo "$tmp/in"
"$bin" --json <"$tmp/in" >"$tmp/term.out" 2>"$tmp/term.err" & # ctest's timeout bounds it
qpid=$!
exec {qin}>"$tmp/in"
echo queue >&"$qin"
for _ in $(seq 1200); do [ -s "$tmp/term.out" ] && break; sleep 0.05; done
kill -TERM "$qpid"
rc=0
wait "$qpid" || rc=$?
exec {qin}>&-
[ "$rc" -eq 0 ] && grep -qx "simple_queue: Terminated: stopping" "$tmp/term.err" ||
    { echo "SIGTERM: status $rc, stderr [$(cat "$tmp/term.err")]"; exit 1; }
echo "simple_queue console: ok"
