#!/usr/bin/env bash
# Drives build/bin/support_system through --json over pipes:
#   1. the course's iex session (create, assign_agent, resolve) and the rest
#      of the workflow, with every refusal a clear error that changes nothing;
#   2. kills: a ticket's worker between changes, and the Store; nothing
#      acknowledged is lost;
#   3. SIGKILL of the whole desk under load, then a restart: every
#      acknowledged change is there and the database passes integrity_check.
set -euo pipefail
bin=${1:?usage: support_system_console.sh PATH_TO_support_system}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
db="$tmp/desk.db"
desk() { timeout 120 "$bin" --json --db "$db" 2>>"$tmp/stderr"; }
field() { # line, key: prints the value of "key" (string or number) in a JSON line
    python3 -c 'import json,sys; v=json.load(sys.stdin)
for k in sys.argv[1].split("."): v=v[int(k)] if isinstance(v,list) else v[k]
print(v)' "$2" <<<"$1"
}
check() { # what, got, expected
    [ "$2" = "$3" ] || { echo "FAIL $1: expected [$3], got [$2]"; cat "$tmp/stderr"; exit 1; }
}

# 0. Malformed options are refused with a clear message, status 2, and no
#    database is created.
for opt in "--idle-timeout soon" "--schedulers 0" "--schedulers 2x"; do
    rc=0
    # shellcheck disable=SC2086
    msg=$(timeout 60 "$bin" --db "$db" $opt </dev/null 2>&1 >/dev/null) || rc=$?
    [ "$rc" -eq 2 ] && grep -q "wants a number" <<<"$msg" ||
        { echo "FAIL option $opt: status $rc, message [$msg]"; exit 1; }
done
[ ! -e "$db" ] || { echo "FAIL: a refused start created $db"; exit 1; }

# 1. The course's session, then the whole workflow and bad input.
mapfile -t out < <(printf '%s\n' \
    'create Login issue --customer acme --priority high' \
    'assign 1' 'resolve 1' 'close 1' 'reopen 1' 'assign 1 nobody' 'assign 1 bob' \
    'assign 1 alice' 'resolve 2' 'close 1' 'create' 'create x --priority extreme' \
    'show x' 'frobnicate' 'show 1' 'list assigned --agent bob' 'quit' | desk)
check "lines" "${#out[@]}" 17
check "create" "$(field "${out[0]}" ticket.status)/$(field "${out[0]}" ticket.priority)" "open/high"
check "assign_agent" "$(field "${out[1]}" ticket.status)/$(field "${out[1]}" ticket.agent)" "assigned/alice"
check "resolve" "$(field "${out[2]}" ticket.status)" "resolved"
check "close" "$(field "${out[3]}" ticket.status)" "closed"
check "reopen" "$(field "${out[4]}" ticket.status)/$(field "${out[4]}" ticket.agent)" "open/None"
check "unknown agent" "$(field "${out[5]}" error.code)" "unknown_agent"
check "assign named" "$(field "${out[6]}" ticket.agent)" "bob"
check "second assign loses" "$(field "${out[7]}" error.code)" "already_assigned"
grep -q 'assigned to bob' <<<"${out[7]}" || { echo "loser not told who won: ${out[7]}"; exit 1; }
check "unknown ticket" "$(field "${out[8]}" error.code)" "unknown_ticket"
check "bad transition" "$(field "${out[9]}" error.code)" "invalid_transition"
check "empty description" "$(field "${out[10]}" error.code)" "empty_field"
check "bad priority" "$(field "${out[11]}" error.code)" "bad_argument"
check "bad id" "$(field "${out[12]}" error.code)" "bad_argument"
check "unknown command" "$(field "${out[13]}" error.code)" "unknown_command"
# Refusals changed nothing: still assigned to bob, history has 6 entries.
check "after refusals" "$(field "${out[14]}" ticket.status)/$(field "${out[14]}" ticket.agent)" "assigned/bob"
check "history" "$(field "${out[14]}" ticket.history.5.what)" "assigned to bob"
check "list" "$(field "${out[15]}" tickets.0.id)" "1"

# 2. Kill a worker between changes, then the Store: the state survives.
mapfile -t out < <(printf '%s\n' 'resolve 1' 'crash 1' 'show 1' 'crash store' 'close 1' \
    'show 1' 'stats' 'quit' | desk)
check "worker killed" "$(field "${out[2]}" ticket.status)" "resolved"
check "store killed" "$(field "${out[4]}" ticket.status)" "closed"
check "after both" "$(field "${out[5]}" ticket.status)" "closed"
# stats: the restarted Store has committed the close (at least), no more
# commits than changes, and the tree's processes are counted.
changes=$(field "${out[6]}" store_changes)
commits=$(field "${out[6]}" store_transactions)
python3 -c 'import sys; c, t, p = map(float, sys.argv[1:]); sys.exit(not (c >= 1 and 1 <= t <= c and p >= 6))' \
    "$changes" "$commits" "$(field "${out[6]}" processes)" ||
    { echo "FAIL stats: ${out[6]}"; exit 1; }

# 3. SIGKILL under load: every acknowledged create must be there afterwards.
fifo="$tmp/in"
mkfifo "$fifo"
timeout 120 "$bin" --json --db "$db" <"$fifo" >"$tmp/acks" 2>>"$tmp/stderr" &
pid=$!
exec 3>"$fifo"
seq 1 20000 | sed 's/^/create load /' >&3 &
writer=$!
# Kill it once it has acknowledged some creates and is still taking more
# (a fixed sleep killed a desk that a busy machine had not yet started).
for _ in $(seq 600); do
    [ "$(grep -c '"ok":true' "$tmp/acks" || true)" -ge 50 ] && break
    sleep 0.1
done
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
kill "$writer" 2>/dev/null || true
exec 3>&-
acked=$(grep -c '"ok":true' "$tmp/acks" || true)
[ "$acked" -gt 0 ] || { echo "no create was acknowledged before the kill"; exit 1; }
last=$(grep '"ok":true' "$tmp/acks" | tail -1)
last_id=$(field "$last" ticket.id)
mapfile -t out < <(printf '%s\n' "show $last_id" 'quit' | desk)
check "last acknowledged create" "$(field "${out[0]}" ticket.description)" "load $((last_id - 1))"
count=$(sqlite3 "$db" 'SELECT count(*) FROM tickets')
[ "$count" -ge "$((acked + 1))" ] || { echo "lost: $acked acknowledged, $count stored"; exit 1; }
check "integrity" "$(sqlite3 "$db" 'PRAGMA integrity_check')" "ok"
echo "support_system console: ok ($acked creates acknowledged before SIGKILL, all kept)"
