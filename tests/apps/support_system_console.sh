#!/usr/bin/env bash
# Drives build/bin/support_system through --json over pipes:
#   1. the course's iex session (create, assign_agent, resolve) and the rest
#      of the workflow, with every refusal a clear error that changes nothing;
#   2. kills: a ticket's worker between changes, and the Store; nothing
#      acknowledged is lost;
#   3. SIGKILL of the whole desk under load, then a restart: every
#      acknowledged change is there, the database passes integrity_check,
#      and every notification of an acknowledged change is in the outbox
#      and in the log at least once, a duplicate only with the same id.
# Besides: an unusable --log is refused at start (0b), and a log that
# fails while the desk runs shows in tree and stats, backs off, and is
# written once when it works again (2d).
set -euo pipefail
bin=${1:?usage: support_system_console.sh PATH_TO_support_system}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
db="$tmp/desk.db"
desk() { timeout 120 "$bin" --no-http --json --demo --db "$db" 2>>"$tmp/stderr"; }
field() { # line, key: prints the value of "key" (string or number) in a JSON line
    python3 -c 'import json,sys; v=json.load(sys.stdin)
for k in sys.argv[1].split("."): v=v[int(k)] if isinstance(v,list) else v[k]
print(v)' "$2" <<<"$1"
}
# Polls below give up at a deadline of 60 s (SECONDS), well inside the
# desks' own timeout of 120 s, so a failure names what did not happen.
check() { # what, got, expected
    [ "$2" = "$3" ] || { echo "FAIL $1: expected [$3], got [$2]"; cat "$tmp/stderr"; exit 1; }
}

# 0. Malformed options are refused with a clear message, status 2, and no
#    database is created.
for opt in "--idle-timeout soon" "--schedulers 0" "--schedulers 2x"; do
    rc=0
    # shellcheck disable=SC2086
    msg=$(timeout 60 "$bin" --no-http --db "$db" $opt </dev/null 2>&1 >/dev/null) || rc=$?
    [ "$rc" -eq 2 ] && grep -q "wants a number" <<<"$msg" ||
        { echo "FAIL option $opt: status $rc, message [$msg]"; exit 1; }
done
[ ! -e "$db" ] || { echo "FAIL: a refused start created $db"; exit 1; }

# 0b. An unusable --log is refused at start with the path and the reason,
#     status non-zero, and nothing is started: no database, no lock. (A
#     directory made read-only stops only a user other than root.)
bad_logs=("$tmp/no/such/dir/desk.log" "$tmp")
reasons=("No such file or directory" "Is a directory")
if [ "$(id -u)" -ne 0 ]; then
    mkdir "$tmp/ro" && chmod 0555 "$tmp/ro"
    bad_logs+=("$tmp/ro/desk.log")
    reasons+=("Permission denied")
fi
for i in "${!bad_logs[@]}"; do
    rc=0
    msg=$(echo quit | timeout 60 "$bin" --no-http --json --db "$db" --log "${bad_logs[$i]}" 2>&1 >/dev/null) || rc=$?
    [ "$rc" -ne 0 ] &&
        grep -qF "cannot use the notification log ${bad_logs[$i]}: ${reasons[$i]}" <<<"$msg" ||
        { echo "FAIL --log ${bad_logs[$i]}: status $rc, message [$msg]"; exit 1; }
done
[ ! -e "$db" ] && [ ! -e "$db.lock" ] || { echo "FAIL: a refused --log started the desk"; exit 1; }

# 1. The course's session, then the whole workflow and bad input.
mapfile -t out < <(printf '%s\n' \
    'create Login issue --customer acme --priority high' \
    'assign 1' 'resolve 1' 'close 1' 'reopen 1' 'assign 1 nobody' 'assign 1 bob' \
    'assign 1 alice' 'resolve 2' 'resume 1' 'create' 'create x --priority extreme' \
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

# 1b. A line is one command whatever its length: a create longer than
#     1,023 bytes ending in 'resolve 1' is one refused create, and ticket 1
#     stays assigned. A blank line is answered (one line in, one answer out).
mapfile -t out < <(printf '%s\n' "create $(printf 'x%.0s' {1..1100}) resolve 1" '' 'show 1' \
    'quit' | desk)
check "long line: lines" "${#out[@]}" 4
check "long line: one create" "$(field "${out[0]}" error.code)" "field_too_long"
check "blank line" "${out[1]}" '{"ok":true}'
check "long line: no resolve" "$(field "${out[2]}" ticket.status)" "assigned"

# 1c. Shell-like quoting: a quoted customer is one word, "--" ends the
#     options, a quote left open is refused and creates nothing.
mapfile -t out < <(printf '%s\n' \
    'create --customer "Acme Corp" -- Printer --priority "on  fire"' 'create "unclosed' \
    'show 3' 'quit' | desk)
check "quoted customer" "$(field "${out[0]}" ticket.customer)" "Acme Corp"
check "after --" "$(field "${out[0]}" ticket.description)/$(field "${out[0]}" ticket.priority)" \
    "Printer --priority on  fire/normal"
check "open quote" "$(field "${out[1]}" error.code)" "bad_argument"
check "open quote created nothing" "$(field "${out[2]}" error.code)" "unknown_ticket"

# 1d. Unicode: valid UTF-8 is kept, limits count characters (200 two-byte
#     characters are a valid description, 201 are too many), and a line with
#     an invalid byte or a NUL is refused whole and creates nothing. Every
#     answer is valid JSON.
e200=$(printf 'é%.0s' {1..200})
printf '%s\n' "create José --customer \"Zoë Ltd\"" "create $e200" "create ${e200}é" >"$tmp/unicode"
printf 'create bad \xff byte\ncreate nul \0 byte\nshow 5\nquit\n' >>"$tmp/unicode"
desk <"$tmp/unicode" >"$tmp/unicode.out"
python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1], "rb").read().decode("utf-8").splitlines()]' \
    "$tmp/unicode.out" || { echo "FAIL: not JSON"; cat "$tmp/unicode.out"; exit 1; }
mapfile -t out <"$tmp/unicode.out"
check "unicode: lines" "${#out[@]}" 7
check "unicode description" "$(field "${out[0]}" ticket.description)/$(field "${out[0]}" ticket.customer)" "José/Zoë Ltd"
check "200 characters" "$(field "${out[1]}" ticket.description)" "$e200"
check "201 characters" "$(field "${out[2]}" error.code)" "field_too_long"
grep -q "longer than 200 characters" <<<"${out[2]}" || { echo "FAIL limit message: ${out[2]}"; exit 1; }
check "invalid byte" "$(field "${out[3]}" error.code)" "bad_input"
check "NUL" "$(field "${out[4]}" error.code)" "bad_input"
check "refused lines created nothing" "$(field "${out[5]}" error.code)" "unknown_ticket"

# 1e. The helpdesk, on a database of its own without --demo: no agents at
#     first; who made each change (--by, --customer, the console) and
#     when (ISO-8601, UTC); the roster (rename, deactivate, availability);
#     the workflow (pending, reassign, close with a reason); replies and
#     notes in the history. Refusals change nothing.
hdesk() { timeout 120 "$bin" --no-http --json --db "$tmp/helpdesk.db" 2>>"$tmp/stderr"; }
mapfile -t out < <(printf '%s\n' 'agents' 'create Printer on fire --customer Acme' 'assign 1' \
    'agent-add alice' 'agent-add bob' 'agent-add ""' 'assign 1 --by alice' 'pend 1 --by nobody' \
    'pend 1 --by alice' 'reply 1 --customer It still smokes' 'note 1 --by bob "Send a technician"' \
    'resume 1' 'reassign 1 bob' 'edit 1 --priority high' 'close 1' 'agent-rename bob robert' \
    'agent-deactivate robert' 'agent-available alice off' 'agents' 'create Second' 'assign 2' \
    'assign 2 alice' 'close 1 duplicate of 2' 'reply 1 too late' 'show 1' 'quit' | hdesk)
check "helpdesk: lines" "${#out[@]}" 26
check "no agents at first" "$(field "${out[0]}" agents)" "[]"
check "nobody to assign" "$(field "${out[2]}" error.code)" "no_agents"
check "empty name" "$(field "${out[5]}" error.code)" "empty_field"
check "assign --by" "$(field "${out[6]}" ticket.agent)" "alice"
check "--by an unknown agent" "$(field "${out[7]}" error.code)" "unknown_agent"
check "pend" "$(field "${out[8]}" ticket.status)" "pending"
check "customer reply" "$(field "${out[9]}" ticket.status)" "pending"
check "resume" "$(field "${out[11]}" ticket.status)" "assigned"
check "reassign" "$(field "${out[12]}" ticket.agent)" "bob"
check "edit" "$(field "${out[13]}" ticket.priority)" "high"
check "close needs a reason" "$(field "${out[14]}" error.code)" "reason_required"
check "deactivate lists the open tickets" "$(field "${out[16]}" open_tickets.0.agent)" "robert"
check "roster" "$(python3 -c 'import json,sys
print(" ".join("%s/%s/%s/%s" % (a["name"], a["active"], a["available"], a["open"])
               for a in json.loads(sys.argv[1])["agents"]))' "${out[18]}")" \
    "alice/True/False/0 robert/False/True/1"
check "no agent to pick" "$(field "${out[20]}" error.code)" "no_agents"
check "an unavailable agent by name" "$(field "${out[21]}" ticket.agent)" "alice"
check "close with a reason" "$(field "${out[22]}" ticket.status)" "closed"
check "no reply once closed" "$(field "${out[23]}" error.code)" "invalid_transition"
python3 - "${out[24]}" <<'PY' || { echo "FAIL helpdesk history: ${out[24]}"; exit 1; }
import json, re, sys
t = json.loads(sys.argv[1])["ticket"]
iso = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
assert iso.fullmatch(t["created_at"]) and iso.fullmatch(t["updated_at"]), t
got = [(e["who"], e["role"], e["kind"], e["what"], e.get("text")) for e in t["history"]]
want = [("console", "operator", "event", "created", None),
        ("alice", "agent", "event", "assigned to alice", None),
        ("alice", "agent", "event", "pending: waiting on the customer", None),
        ("Acme", "customer", "reply", "replied", "It still smokes"),
        ("bob", "agent", "note", "added a note", "Send a technician"),
        ("console", "operator", "event", "resumed", None),
        ("console", "operator", "event", "reassigned from alice to bob", None),
        ("console", "operator", "event", "priority changed from normal to high", None),
        ("console", "operator", "event", "agent bob renamed to robert", None),
        ("console", "operator", "event", "closed: duplicate of 2", None)]
assert got == want, got
assert all(iso.fullmatch(e["at"]) for e in t["history"]), t["history"]
PY
# The text answer of show: times in UTC, who and role, a reply's text.
show=$(printf 'show 1\nquit\n' | timeout 60 "$bin" --no-http --db "$tmp/helpdesk.db" 2>>"$tmp/stderr")
grep -qE '^    [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z  Acme \(customer\): replied$' <<<"$show" &&
    grep -qF '        | It still smokes' <<<"$show" || { echo "FAIL show text: $show"; exit 1; }

# 1f. Finding work on that desk: filters, text search, pages, queues; a
#     filter's name is checked whole (65 characters are refused, not cut).
mapfile -t out < <(printf '%s\n' "list --agent $(printf 'x%.0s' {1..65})" 'list --unassigned' \
    'list --search SECOND' 'list --per-page 1' 'list --per-page 1 --page 2' 'queues --agent alice' \
    'list --sort random' 'list closed --customer Acme --priority high' 'quit' | hdesk)
check "list: a long agent" "$(field "${out[0]}" error.code)" "field_too_long"
check "list: unassigned" "$(field "${out[1]}" tickets)" "[]"
check "list: search" "$(field "${out[2]}" tickets.0.description)" "Second"
check "list: page 1" "$(field "${out[3]}" tickets.0.id)/$(field "${out[3]}" more)" "2/True"
check "list: page 2" "$(field "${out[4]}" tickets.0.id)/$(field "${out[4]}" more)" "1/False"
check "queues" "$(field "${out[5]}" mine)/$(field "${out[5]}" unassigned)/$(field "${out[5]}" open)/$(field "${out[5]}" pending)" "1/0/1/0"
check "list: bad sort" "$(field "${out[6]}" error.code)" "bad_argument"
check "list: filters" "$(field "${out[7]}" tickets.0.id)" "1"

# 2. Kill a worker between changes, then the Store: the state survives.
mapfile -t out < <(printf '%s\n' 'resolve 1' 'crash 1' 'show 1' 'crash store' 'close 1' \
    'show 1' 'stats' 'crash 999' 'quit' | desk)
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
# A ticket that does not exist has no worker to kill.
check "crash unknown" "$(field "${out[7]}" error.code)" "unknown_ticket"

# 2b. backup PATH copies the database while the desk runs; a path that
#     cannot be written is refused with the path and SQLite's reason. After
#     a clean quit the database file alone holds everything (checkpoint):
#     a copy of it without its -wal file is complete.
mapfile -t out < <(printf '%s\n' "backup $tmp/backup.db" "backup $tmp/no/such/dir/b.db" \
    'list' 'quit' | desk)
check "backup" "$(field "${out[0]}" backup)" "$tmp/backup.db"
check "backup refused" "$(field "${out[1]}" error.code)" "backup_failed"
grep -q "$tmp/no/such/dir/b.db: unable to open" <<<"${out[1]}" || { echo "FAIL backup error: ${out[1]}"; exit 1; }
stored=$(python3 -c 'import json,sys; print(len(json.loads(sys.argv[1])["tickets"]))' "${out[2]}")
check "backup holds every ticket" "$(sqlite3 "$tmp/backup.db" 'SELECT count(*) FROM tickets')" "$stored"
check "backup integrity" "$(sqlite3 "$tmp/backup.db" 'PRAGMA integrity_check')" "ok"
cp "$db" "$tmp/copy.db"
check "copied file after quit" "$(sqlite3 "$tmp/copy.db" 'SELECT count(*) FROM tickets')" "$stored"

# 2c. One desk per database: while a desk runs, a second one on the same
#     file is refused at start, naming the file and the first desk's pid.
fifo1="$tmp/first"
mkfifo "$fifo1"
timeout 120 "$bin" --no-http --json --db "$db" <"$fifo1" >"$tmp/first.out" 2>>"$tmp/stderr" &
first=$!
exec 4>"$fifo1"
echo stats >&4
for _ in $(seq 600); do grep -q '"ok":true' "$tmp/first.out" && break; sleep 0.05; done
grep -q '"ok":true' "$tmp/first.out" || { echo "FAIL: the first desk did not answer"; exit 1; }
rc=0
msg=$(echo quit | timeout 60 "$bin" --no-http --json --db "$db" 2>&1 >/dev/null) || rc=$?
owner=$(cat "$db.lock") # the first desk's pid, written by it
[ "$rc" -ne 0 ] && [ "$(ps -o ppid= -p "$owner" | tr -d " ")" = "$first" ] &&
    grep -qF "$db is in use by another desk (pid $owner," <<<"$msg" ||
    { echo "FAIL second desk: status $rc, message [$msg]"; exit 1; }
echo quit >&4
exec 4>&-
wait "$first"

# 2d. A log that fails while the desk runs (replaced by a directory, which
#     stops root too): the desk keeps serving; stats and tree show the
#     pending count, since when delivery fails and why; one report says it
#     started failing; retries back off and write nothing. When the log can
#     be written again, each notification is written once, and one report
#     says so.
flog="$tmp/failing.log"
coproc FDESK { timeout 120 "$bin" --no-http --json --db "$db" --log "$flog" 2>"$tmp/failing.err"; }
ask() { # command: sets $reply to the desk's answer
    echo "$1" >&"${FDESK[1]}"
    IFS= read -r -t 60 reply <&"${FDESK[0]}" || { echo "FAIL: no answer to $1"; exit 1; }
}
ask stats # the desk has started
rm -f "$flog" && mkdir "$flog"
ask 'create sink failing'
fid=$(field "$reply" ticket.id)
ask "assign $fid"
check "assign while the log fails" "$(field "$reply" ticket.status)" "assigned"
deadline=$((SECONDS + 60))
while [ "$SECONDS" -lt "$deadline" ]; do
    ask stats
    [ "$(field "$reply" notifications.state)" = failing ] &&
        [ "$(field "$reply" notifications.attempts)" -ge 3 ] && break
    sleep 0.05
done
check "stats: failing" "$(field "$reply" notifications.state)" "failing"
grep -qF "cannot open $flog: Is a directory" <<<"$(field "$reply" notifications.last_error)" ||
    { echo "FAIL stats last_error: $reply"; exit 1; }
python3 -c 'import json,sys; n=json.loads(sys.argv[1])["notifications"]
sys.exit(not (n["pending"] >= 1 and n["failing_since"].endswith("Z") and n["next_attempt_ms"] >= 0))' \
    "$reply" || { echo "FAIL stats: $reply"; exit 1; }
ask tree
python3 -c 'import json,sys
def find(n):
    if n["name"] == "Dispatcher": return n
    for c in n.get("children", []):
        f = find(c)
        if f: return f
d = find(json.loads(sys.argv[1])["tree"])
sys.exit(not (d and "failing since" in d["note"] and "pending" in d["note"] and d["restarts"] == 0))' \
    "$reply" || { echo "FAIL tree: $reply"; exit 1; }
ask "resolve $fid"
check "resolve while the log fails" "$(field "$reply" ticket.status)" "resolved"
check "one failing report" "$(grep -c sink_failing "$tmp/failing.err")" 1
rmdir "$flog"
deadline=$((SECONDS + 60))
while [ "$SECONDS" -lt "$deadline" ]; do
    ask stats
    [ "$(field "$reply" notifications.state)" = ok ] && [ "$(field "$reply" notifications.pending)" = 0 ] && break
    sleep 0.05
done
check "stats: recovered" "$(field "$reply" notifications.state)/$(field "$reply" notifications.pending)" "ok/0"
check "one recovery report" "$(grep -c sink_recovered "$tmp/failing.err")" 1
check "assigned, once" "$(grep -c "ticket $fid is now assigned" "$flog")" 1
check "resolved, once" "$(grep -c "ticket $fid is now resolved" "$flog")" 1
check "no id twice" "$(awk '{print $2}' "$flog" | sort | uniq -d | wc -l)" 0
ask quit
wait "$FDESK_PID"

# 3. SIGKILL under load, on a database of its own (so ticket i is the i-th
#    create): each ticket is created, assigned, replied to, given a note
#    and resolved. Afterwards every acknowledged change is there (each
#    acknowledged reply and note in the conversation), and every notification of an
#    acknowledged status change is in the outbox and, once a restarted desk
#    has caught up, in the log at least once; lines that share an id are
#    the same line (a duplicate comes only from dying between writing a
#    line and marking it delivered). Halfway, the log's directory is moved
#    away (so the log cannot be opened), so that the kill surely leaves
#    notifications pending, which only a restarted desk that resumes from
#    the outbox can deliver.
kdb="$tmp/kill.db"
mkdir "$tmp/klogs"
klog="$tmp/klogs/kill.log"
fifo="$tmp/in"
mkfifo "$fifo"
timeout 120 "$bin" --no-http --json --demo --db "$kdb" --log "$klog" <"$fifo" >"$tmp/acks" 2>>"$tmp/stderr" &
pid=$!
exec 3>"$fifo"
seq 1 20000 | awk '{print "create load " $1; print "assign " $1; print "reply " $1 " reply " $1;
    print "note " $1 " note " $1; print "resolve " $1}' >&3 &
writer=$!
acked_at_least() { # n: waits (with a deadline) until n changes are acknowledged
    local deadline=$((SECONDS + 60))
    while [ "$SECONDS" -lt "$deadline" ]; do
        [ "$(grep -c '"ok":true' "$tmp/acks" || true)" -ge "$1" ] && return
        sleep 0.05
    done
}
acked_at_least 300
mv "$tmp/klogs" "$tmp/klogs.1"
acked_at_least 600
# $pid is timeout's; the desk is its child, whose pid is in the lock file.
kill -9 "$(cat "$kdb.lock")" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
kill "$writer" 2>/dev/null || true
exec 3>&-
acked=$(grep -c '"ok":true' "$tmp/acks" || true)
[ "$acked" -ge 600 ] || { echo "only $acked changes acknowledged before the kill"; exit 1; }
left=$(sqlite3 "$kdb" 'SELECT count(*) FROM outbox WHERE delivered_at IS NULL')
[ "$left" -gt 0 ] || { echo "FAIL: the kill left no notification pending"; exit 1; }
# Restart with the log back, and let the Dispatcher deliver what the kill
# left pending.
mkdir "$tmp/klogs"
coproc KDESK { timeout 120 "$bin" --no-http --json --db "$kdb" --log "$klog" 2>>"$tmp/stderr"; }
pending=
deadline=$((SECONDS + 60))
while [ "$SECONDS" -lt "$deadline" ]; do
    echo stats >&"${KDESK[1]}"
    IFS= read -r -t 60 reply <&"${KDESK[0]}" || { echo "FAIL: no answer after the restart"; exit 1; }
    pending=$(field "$reply" notifications.pending)
    [ "$pending" = 0 ] && break
    sleep 0.05
done
check "pending after the restart" "$pending" 0
echo quit >&"${KDESK[1]}"
wait "$KDESK_PID"
cat "$tmp/klogs.1/kill.log" "$klog" >"$tmp/kill.logs"
python3 - "$tmp/acks" "$kdb" "$tmp/kill.logs" <<'PY' || exit 1
import json, re, sqlite3, sys
acks, db, log = sys.argv[1:]
con = sqlite3.connect(db)
stored = dict(con.execute("SELECT id, status FROM tickets"))
outbox = {text: (i, d) for i, text, d in con.execute("SELECT id, text, delivered_at FROM outbox")}
messages = set(con.execute("SELECT ticket, internal, body FROM messages"))
names = ["open", "assigned", "resolved", "closed"]
lines = {}
for line in open(log):
    m = re.fullmatch(r"\S+Z #(\d+) (ticket \d+ is now \w+)\n", line)
    assert m, "a log line without its notification id: %r" % line
    i = int(m.group(1))
    assert lines.setdefault(i, m.group(2)) == m.group(2), "id %d names two notifications" % i
expected = posts = 0
for i, a in enumerate(map(json.loads, open(acks))):
    if not a.get("ok"):
        continue
    t = a["ticket"]
    assert stored[t["id"]] >= names.index(t["status"]), "lost change %r" % t
    if i % 5 in (2, 3):  # the reply, the note (one answer per line, in order)
        kind = "reply" if i % 5 == 2 else "note"
        assert (t["id"], i % 5 == 3, "%s %d" % (kind, t["id"])) in messages, "lost %s %r" % (kind, t)
        posts += 1
    if t["status"] == "open":
        continue
    text = "ticket %d is now %s" % (t["id"], t["status"])
    assert text in outbox, "no notification for an acknowledged change: " + text
    i, delivered = outbox[text]
    assert delivered is not None, "still pending: " + text
    assert lines.get(i) == text, "not in the log: #%d %s" % (i, text)
    expected += 1
assert expected > 0 and posts > 0
for text, (i, delivered) in outbox.items():  # and those committed but not acknowledged
    assert delivered is not None and lines.get(i) == text, "not delivered: #%d %s" % (i, text)
print("%d notifications of acknowledged changes, %d in all, all in the log; %d replies and notes"
      % (expected, len(outbox), posts))
PY
check "integrity" "$(sqlite3 "$kdb" 'PRAGMA integrity_check')" "ok"
echo "support_system console: ok ($acked changes acknowledged before SIGKILL, all kept and notified; $left notifications were pending)"
