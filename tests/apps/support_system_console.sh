#!/usr/bin/env bash
# Drives build/bin/support_system through --json over pipes:
#   0. the command line: bad options, --help, where the data is, and which
#      files the desk opens (only its own databases);
#   1. the course's iex session (create, assign_agent, resolve) and the rest
#      of the workflow, with every refusal a clear error that changes nothing;
#   2. kills: a ticket's worker between changes, and the Store; nothing
#      acknowledged is lost; what tree, stats and crash report; the top
#      supervisor giving up; SIGTERM; running without a console.
# Besides: an unusable --log is refused at start (0b), and a log that
# fails while the desk runs shows in tree and stats, backs off, and is
# written once when it works again (2d). SIGKILL of the whole desk, in a
# loop, is desk_sigkill_loop.py.
set -euo pipefail
bin=$(realpath "${1:?usage: support_system_console.sh PATH_TO_support_system}")
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

# 0. Malformed options are refused with status 2, a message that names
#    what is wrong and what was expected, and no database is created.
bad_options=("--idle-timeout soon" "--schedulers 0" "--schedulers 2x" "--policy random" "--web-root"
    "--policy" "--frobnicate" "stray" "--log" "--sla normal=5w" "--sla severe=1h"
    "--idle-timeout +5" "--json --json" "--db other.db" "--policy round-robin --policy least-loaded")
messages=("--idle-timeout 'soon': expected a number from 1 to 86400000"
    "--schedulers '0': expected a number from 1 to 1024"
    "--schedulers '2x': expected a number from 1 to 1024"
    "--policy random: expected round-robin or least-loaded"
    "--web-root: expected a directory after it"
    "--policy: expected round-robin or least-loaded after it"
    "--frobnicate: unknown option" "stray: unexpected argument" "--log: expected a path after it"
    "--sla normal=5w: '5w': expected a whole number of s, m, h or d (4h, 30m), from 1s to 366d"
    "--sla severe=1h: 'severe': the priorities are low, normal, high and urgent"
    "--idle-timeout '+5': expected a number from 1 to 86400000"
    "--json: given twice (an option is given once)" "--db: given twice (an option is given once)"
    "--policy: given twice (an option is given once)")
for i in "${!bad_options[@]}"; do
    rc=0
    # shellcheck disable=SC2086
    msg=$(timeout 60 "$bin" --no-http --db "$db" ${bad_options[$i]} </dev/null 2>&1 >/dev/null) || rc=$?
    [ "$rc" -eq 2 ] && grep -qF "support_system: ${messages[$i]}" <<<"$msg" ||
        { echo "FAIL option ${bad_options[$i]}: status $rc, message [$msg]"; exit 1; }
done
[ ! -e "$db" ] || { echo "FAIL: a refused start created $db"; exit 1; }
# -h is --help: status 0, the text on stdout, nothing started. It lists
# every option, and every option it lists is one the desk takes.
for h in -h --help; do
    rc=0
    help=$(timeout 60 "$bin" --no-http "$h" </dev/null 2>/dev/null) || rc=$?
    [ "$rc" -eq 0 ] && grep -q '^usage: support_system' <<<"$help" ||
        { echo "FAIL $h: status $rc, output [$help]"; exit 1; }
done
[ ! -e "$db" ] || { echo "FAIL: --help created $db"; exit 1; }
for opt in --db --log --json --policy --idle-timeout --schedulers --no-console -h --help; do
    grep -qE "^ +(-h, )?$opt( |,|$)" <<<"$help" || { echo "FAIL: --help does not list $opt"; exit 1; }
done
# An option that takes a value is given none, and is refused for that; a
# flag is followed by an unknown option, so the desk stops there instead of
# starting (--no-console would run until the timeout).
while read -r opt value; do
    if [ -n "$value" ]; then probe=("$opt"); else probe=("$opt" --no-such-option); fi
    msg=$(timeout 60 "$bin" --no-http "${probe[@]}" </dev/null 2>&1 >/dev/null || true)
    ! grep -qF -- "$opt: unknown option" <<<"$msg" || { echo "FAIL: --help lists $opt, refused: $msg"; exit 1; }
done < <(grep -oE '^ +(-h, )?--[a-z-]+( [^ ]+)?' <<<"$help" | sed -E 's/^ +(-h, )?//')

# 0b. An unusable --log is refused at start with the path and the reason,
#     status non-zero, and nothing is started: no database, no lock; so is
#     a log that would be the database or one of its files. (A
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
# The database or a file beside it as the log: text appended to SQLite's
# files, and notifications marked delivered that no log holds.
for log in "$db" "$db-wal" "$db-shm" "$db-journal" "$db.lock" "$(dirname "$db")/./$(basename "$db")"; do
    rc=0
    msg=$(echo quit | timeout 60 "$bin" --no-http --json --db "$db" --log "$log" 2>&1 >/dev/null) || rc=$?
    [ "$rc" -ne 0 ] && grep -qF "is the database or a file SQLite keeps beside it" <<<"$msg" ||
        { echo "FAIL --log $log: status $rc, message [$msg]"; exit 1; }
done
[ ! -e "$db" ] && [ ! -e "$db.lock" ] || { echo "FAIL: a refused --log started the desk"; exit 1; }

# 0c. Where the data is. Without --db the database is
#     $XDG_DATA_HOME/arbor-desk/desk.db (made if need be), whatever the
#     directory the desk runs in: a second desk started elsewhere finds the
#     same tickets, and nothing is made in the working directory. Without
#     XDG_DATA_HOME (or with a relative one, which the XDG specification
#     ignores), ~/.local/share/arbor-desk/. The desk says the absolute path
#     of its database at start (on stderr when there is no prompt).
mkdir -p "$tmp/here" "$tmp/there" "$tmp/home"
xdb="$tmp/xdg/arbor-desk/desk.db"
out=$(cd "$tmp/here" && echo 'create from here' |
    XDG_DATA_HOME="$tmp/xdg" timeout 60 "$bin" --no-http --json 2>"$tmp/where.err")
check "default db: create" "$(field "$out" ticket.id)" 1
grep -qxF "support_system: the database is $xdb" "$tmp/where.err" ||
    { echo "FAIL: the desk did not say where its database is: $(cat "$tmp/where.err")"; exit 1; }
out=$(cd "$tmp/there" && echo 'show 1' | XDG_DATA_HOME="$tmp/xdg" timeout 60 "$bin" --no-http --json 2>/dev/null)
check "default db: another directory, the same desk" "$(field "$out" ticket.description)" "from here"
[ -z "$(find "$tmp/here" "$tmp/there" -mindepth 1)" ] || { echo "FAIL: files in the working directory"; exit 1; }
for xdg in "" "relative/dir"; do
    echo quit | (cd "$tmp/here" && HOME="$tmp/home" XDG_DATA_HOME="$xdg" timeout 60 "$bin" --no-http --json \
        >/dev/null 2>"$tmp/where.err")
    grep -qxF "support_system: the database is $tmp/home/.local/share/arbor-desk/desk.db" "$tmp/where.err" ||
        { echo "FAIL HOME fallback (XDG_DATA_HOME='$xdg'): $(cat "$tmp/where.err")"; exit 1; }
done
rc=0
msg=$(echo quit | env -u HOME -u XDG_DATA_HOME timeout 60 "$bin" --no-http --json 2>&1 >/dev/null) || rc=$?
[ "$rc" -eq 1 ] && grep -q "neither XDG_DATA_HOME nor HOME" <<<"$msg" ||
    { echo "FAIL without HOME: status $rc, message [$msg]"; exit 1; }
# --db relative to the working directory, said back absolute.
echo quit | (cd "$tmp/here" && timeout 60 "$bin" --no-http --json --db ../there/rel.db >/dev/null 2>"$tmp/where.err")
grep -qxF "support_system: the database is $tmp/there/rel.db" "$tmp/where.err" ||
    { echo "FAIL --db made absolute: $(cat "$tmp/where.err")"; exit 1; }
rm -rf "$tmp/here" "$tmp/there" "$tmp/home" "$tmp/xdg"

# 0d. The desk opens only its own databases. A new one gets the desk's
#     SQLite application_id; a file that is not SQLite, another
#     application's SQLite file (another application_id, or tables without
#     the desk's), or a desk database of a newer schema version is refused
#     at start, with status 1 and a message naming the file and what it
#     is, and is left exactly as it was (same bytes, no WAL, no log or lock
#     file made beside it). A desk database made before the id (id 0, the
#     desk's tables) is still opened, and gets the id.
idir="$tmp/identity"
mkdir "$idir"
echo quit | timeout 60 "$bin" --no-http --json --db "$idir/new.db" >/dev/null 2>>"$tmp/stderr"
check "application_id of a new database" "$(sqlite3 "$idir/new.db" 'PRAGMA application_id')" 1095909956
echo 'hello, not a database' >"$idir/text.db"
sqlite3 "$idir/other.db" 'PRAGMA application_id = 1234; CREATE TABLE songs(title TEXT); INSERT INTO songs VALUES ("a")'
sqlite3 "$idir/noid.db" 'CREATE TABLE tickets(x); CREATE TABLE notes(y)'
cp "$idir/new.db" "$idir/newer.db"
sqlite3 "$idir/newer.db" 'PRAGMA user_version = 99'
files=(text other noid newer)
whats=("is not a desk database: SQLite cannot read it (file is not a database)"
    "is not a desk database: it belongs to another application (its SQLite application_id is 1234"
    "is not a desk database: it holds another application's tables (2 tables, schema version 0"
    "has schema version 99, newer than this desk knows")
for i in "${!files[@]}"; do
    f="$idir/${files[$i]}.db"
    sum=$(sha256sum <"$f")
    rc=0
    msg=$(echo 'create must not be stored' | timeout 60 "$bin" --no-http --json --db "$f" 2>&1 >/dev/null) || rc=$?
    [ "$rc" -eq 1 ] && grep -qF "support_system: $f ${whats[$i]}" <<<"$msg" &&
        grep -q "nothing was changed in it" <<<"$msg" ||
        { echo "FAIL ${files[$i]}.db: status $rc, message [$msg]"; exit 1; }
    check "${files[$i]}.db unchanged" "$(sha256sum <"$f")" "$sum"
    for extra in -wal -shm .lock; do
        [ ! -e "$f$extra" ] || { echo "FAIL: $f$extra was made"; exit 1; }
    done
    [ ! -e "${f%.db}.log" ] || { echo "FAIL: a log was made beside ${files[$i]}.db"; exit 1; }
done
cp "$idir/new.db" "$idir/old.db"
sqlite3 "$idir/old.db" 'PRAGMA application_id = 0'
out=$(echo 'create on an old desk database' | timeout 60 "$bin" --no-http --json --db "$idir/old.db" 2>>"$tmp/stderr")
check "an old desk database opens" "$(field "$out" ticket.id)" 1
check "and gets the id" "$(sqlite3 "$idir/old.db" 'PRAGMA application_id')" 1095909956

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
check "the unknown command named" "$(field "${out[13]}" error.message)" \
    "frobnicate: unknown command (try: help)"
# Refusals changed nothing: still assigned to bob, history has 6 entries.
check "after refusals" "$(field "${out[14]}" ticket.status)/$(field "${out[14]}" ticket.agent)" "assigned/bob"
check "history" "$(field "${out[14]}" ticket.history.5.what)" "assigned to bob"
check "list" "$(field "${out[15]}" tickets.0.id)" "1"

# 1'. Ids: a number past any id is an unknown ticket, as the web says;
#     what is not a positive number is a bad argument. A name with a space
#     at an end, and a text of spaces alone, are refused and add nothing.
mapfile -t out < <(printf '%s\n' 'show 99999999999999999999' 'show -5' 'show 1x' 'show +' \
    'agent-add " carol"' 'create "   "' 'agents' 'quit' | desk)
check "ids: lines" "${#out[@]}" 8
check "id past any" "$(field "${out[0]}" error.code)" "unknown_ticket"
check "id past any, said" "$(field "${out[0]}" error.message)" "there is no ticket 99999999999999999999"
for i in 1 2 3; do
    check "bad id ($i)" "$(field "${out[$i]}" error.code)" "bad_argument"
done
check "edged name" "$(field "${out[4]}" error.message)" "agent must not begin or end with a space"
check "blank description" "$(field "${out[5]}" error.code)" "empty_field"
grep -q carol <<<"${out[6]}" && { echo "FAIL: ' carol' was added: ${out[6]}"; exit 1; }

# 1''. admin-add and password-reset read the password from the next line
#     (not a terminal): refused before that, they still read it, so it
#     never runs as a command nor shows in an answer. An admin made of a
#     deactivated agent is told they cannot sign in yet.
mapfile -t out < <(printf '%s\n' 'admin-add " bad"' 'create --customer Leak pw1 secret' \
    'password-reset nobody' 'whatever12' 'admin-add a b' 'agent-add twelve12' \
    'admin-add "unclosed' 'agent-add thirteen13' \
    'agent-deactivate bob' 'admin-add BOB' 'bob-password-1' 'list --search pw1' 'agents' \
    'agent-activate bob' 'quit' | desk)
check "passwords: lines" "${#out[@]}" 10
check "admin-add refused" "$(field "${out[0]}" error.code)" "bad_field"
check "password-reset refused" "$(field "${out[1]}" error.code)" "unknown_agent"
check "admin-add of two words refused" "$(field "${out[2]}" error.code)" "bad_argument"
check "an unclosed quote refused" "$(field "${out[3]}" error.code)" "bad_argument"
grep -qE 'whatever12|pw1|twelve12|thirteen13' <<<"${out[*]:0:4}" &&
    { echo "FAIL a password was echoed: ${out[*]:0:4}"; exit 1; }
check "deactivated" "$(field "${out[4]}" agent)" "bob"
check "admin of a deactivated agent" "$(field "${out[5]}" agent)/$(field "${out[5]}" role)/$(field "${out[5]}" active)" "bob/admin/False"
check "no password ran as a create" \
    "$(python3 -c 'import json,sys; print(len(json.loads(sys.argv[1])["tickets"]))' "${out[6]}")" "0"
grep -qE 'twelve12|thirteen13' <<<"${out[7]}" && { echo "FAIL a password ran as agent-add: ${out[7]}"; exit 1; }
text=$(printf '%s\n' 'agent-deactivate alice' 'admin-add alice' 'alice-password-1' 'agent-activate alice' |
    timeout 120 "$bin" --no-http --demo --db "$db" 2>>"$tmp/stderr")
grep -qF 'alice is an admin, but deactivated: they can sign in once agent-activate alice' <<<"$text" ||
    { echo "FAIL admin-add of a deactivated agent: $text"; exit 1; }

# 1a. Words beyond what a command takes are refused, not ignored, and the
#     refused command does nothing (`quit now` does not quit).
mapfile -t out < <(printf '%s\n' 'resolve 1 2' 'tree x' 'stats now' 'agents x' 'help me' \
    'show 1 2' 'assign 1 bob carol' 'quit now' 'show 1' 'quit' | desk)
check "extra words: lines" "${#out[@]}" 10
for i in 0 1 2 3 4 5 6 7; do
    check "extra words ($i)" "$(field "${out[$i]}" error.code)" "bad_argument"
done
check "resolve 1 2" "$(field "${out[0]}" error.message)" "too many arguments: resolve ID"
check "tree x" "$(field "${out[1]}" error.message)" "tree takes no arguments (try: help)"
check "assign 1 bob carol" "$(field "${out[6]}" error.message)" "too many arguments: assign ID [AGENT]"
check "refused: nothing changed" "$(field "${out[8]}" ticket.status)" "assigned"

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

# 1c'. "--" ends the options only before the words: after the first word
#      of a description, a reason or a text it is a word of it (it was
#      dropped: create x -- y made "x y"), and options may still follow
#      (a desk of its own).
mapfile -t out < <(printf '%s\n' 'create x -- y' 'create Login -- issue --customer acme x' \
    'create -- -- y' 'note 1 use -- to end the options' 'note 1 -- --by' 'close 1 spam -- really' \
    'quit' | timeout 120 "$bin" --no-http --json --db "$tmp/dashdash.db" 2>>"$tmp/stderr")
check "--: lines" "${#out[@]}" 7
check "-- after a description word" "$(field "${out[0]}" ticket.description)" "x -- y"
check "-- then an option" "$(field "${out[1]}" ticket.description)/$(field "${out[1]}" ticket.customer)" \
    "Login -- issue x/acme"
check "-- ends the options, then a word" "$(field "${out[2]}" ticket.description)" "-- y"
check "-- in a note" "$(field "${out[3]}" ticket.history.1.text)" "use -- to end the options"
check "-- before a note" "$(field "${out[4]}" ticket.history.2.text)" "--by"
check "-- in a reason" "$(field "${out[5]}" ticket.history.3.what)" "closed: spam -- really"

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

# 1d'. A character of four bytes (an emoji) counts one like any other: a
#      text at its limit is taken in every field that joins words (a
#      description of 200, a note and a reply of 2,000, a reason of 64),
#      and one character more is refused (a desk of its own).
q=$'\xf0\x9f\x98\x80'
q64=$(printf "$q%.0s" {1..64})
q200=$(printf "$q%.0s" {1..200})
q2000=$(printf "$q%.0s" {1..2000})
mapfile -t out < <(printf '%s\n' "create $q200" "create $q200$q" "note 1 $q2000" "note 1 $q2000$q" \
    "reply 1 $q2000" "reply 1 $q2000$q" "close 1 $q64$q" "close 1 $q64" 'quit' |
    timeout 120 "$bin" --no-http --json --db "$tmp/emoji.db" 2>>"$tmp/stderr")
check "emoji: lines" "${#out[@]}" 9
check "200 emoji" "$(field "${out[0]}" ticket.id)/$(field "${out[0]}" ticket.description)" "1/$q200"
check "a note of 2,000 emoji" "$(field "${out[2]}" ok)" "True"
check "a reply of 2,000 emoji" "$(field "${out[4]}" ok)" "True"
check "a reason of 64 emoji" "$(field "${out[7]}" ticket.status)" "closed"
for i in 1 3 5 6; do
    check "one emoji too many ($i)" "$(field "${out[$i]}" error.code)" "field_too_long"
done
check "emoji: the texts kept" "$(sqlite3 "$tmp/emoji.db" "SELECT count(*) FROM messages WHERE ticket = 1 AND body = '$q2000'")" 2
check "emoji: the reason kept" "$(sqlite3 "$tmp/emoji.db" "SELECT count(*) FROM history WHERE ticket = 1 AND what = 'closed: $q64'")" 1

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
        ("alice", "agent", "event", "assigned to alice by round-robin: first in turn", None),
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
    'list --sort random' 'list closed --customer Acme --priority high' 'list --status open' \
    'list --agent nobody' 'queues --agent nobody' 'list --agent ALICE' 'quit' | hdesk)
check "list: a long agent" "$(field "${out[0]}" error.code)" "field_too_long"
check "list: unassigned" "$(field "${out[1]}" tickets)" "[]"
check "list: search" "$(field "${out[2]}" tickets.0.description)" "Second"
check "list: page 1" "$(field "${out[3]}" tickets.0.id)/$(field "${out[3]}" more)" "2/True"
check "list: page 2" "$(field "${out[4]}" tickets.0.id)/$(field "${out[4]}" more)" "1/False"
check "queues" "$(field "${out[5]}" mine)/$(field "${out[5]}" unassigned)/$(field "${out[5]}" open)/$(field "${out[5]}" pending)" "1/0/1/0"
check "list: bad sort" "$(field "${out[6]}" error.code)" "bad_argument"
check "list: filters" "$(field "${out[7]}" tickets.0.id)" "1"
# An option list does not take is named, with where the status goes.
check "list: unknown option" "$(field "${out[8]}" error.message)" \
    "--status: not an option of list, or its value is missing (a status comes alone: list open); try: help"
# An agent nobody is called is refused (a typo, a name before a rename),
# not answered with an empty list; any case finds the agent.
check "list: an unknown agent" "$(field "${out[9]}" error.code): $(field "${out[9]}" error.message)" \
    "unknown_agent: there is no agent called nobody"
check "queues: an unknown agent" "$(field "${out[10]}" error.code)" "unknown_agent"
check "list: an agent in another case" "$(field "${out[11]}" ok)" "True"
mapfile -t out < <(printf '%s\n' 'close 1 --reason spam' 'create --title x' 'edit 1 --priority' \
    'agent-add --admin dee' 'quit' | hdesk)
check "close: the option named" "$(field "${out[0]}" error.message)" \
    "--reason: not an option of close, or its value is missing; try: help"
check "create: the option named" "$(field "${out[1]}" error.message)" \
    "--title: not an option of create, or its value is missing (a description that begins with -- comes after --); try: help"
check "edit: the value missing" "$(field "${out[2]}" error.message)" \
    "--priority: not an option of edit, or its value is missing; try: help"
check "agent-add: the option named" "$(field "${out[3]}" error.message)" \
    "--admin: not an option of agent-add, or its value is missing; try: help"
# An option is given once: a second one is refused, as the web refuses a
# field or a parameter given twice (the last one won, silently), and the
# command does nothing.
twice=('create --priority high --priority low y' 'edit 2 --priority low --priority high'
    'show 1 --history 3 --history 4' 'list --sort newest --sort oldest' 'list --overdue --overdue'
    'queues --agent alice --agent robert' 'reply 2 --customer --customer hi' 'note 2 x --by alice --by alice'
    'create y --request-id a --request-id b' 'agent-add carol --request-id a --request-id b')
named=(--priority --priority --history --sort --overdue --agent --customer --by --request-id --request-id)
mapfile -t out < <(printf '%s\n' "${twice[@]}" 'show 2' 'show 3' 'agents' 'quit' | hdesk)
for i in "${!twice[@]}"; do
    check "${twice[$i]}" "$(field "${out[$i]}" error.code)/$(field "${out[$i]}" error.message)" \
        "bad_argument/${named[$i]} is given twice"
done
check "given twice: nothing done" "$(field "${out[10]}" ticket.priority)/$(field "${out[10]}" ticket.history_total)" \
    "normal/2"
check "given twice: no ticket made" "$(field "${out[11]}" error.code)" "unknown_ticket"
grep -q carol <<<"${out[12]}" && { echo "FAIL: carol was added: ${out[12]}"; exit 1; }
# A list's customer is a whole name: an empty one is refused, as the web
# refuses customer= (it listed the tickets without a customer). --agent
# and --unassigned exclude each other, as the web's agent= and unassigned=
# (the last one won).
mapfile -t out < <(printf '%s\n' 'list --customer ""' 'list --unassigned --agent alice' \
    'list --agent alice --unassigned' 'quit' | hdesk)
check "list: an empty customer" "$(field "${out[0]}" error.code)/$(field "${out[0]}" error.message)" \
    "empty_field/customer must not be empty"
for i in 1 2; do
    check "list: --agent and --unassigned ($i)" \
        "$(field "${out[$i]}" error.code)/$(field "${out[$i]}" error.message)" \
        "bad_argument/agent and unassigned exclude each other"
done

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
#     The database itself, or a file beside it (its -wal, which may be
#     empty and would open as an empty database; its lock), by any path or
#     link, is refused: a backup there would write over the live desk.
ln -sf "$db" "$tmp/link.db"
mapfile -t out < <(printf '%s\n' "backup $tmp/backup.db" "backup $tmp/no/such/dir/b.db" \
    'list' "backup $db" "backup $(dirname "$db")/../$(basename "$(dirname "$db")")/$(basename "$db")" \
    "backup $db-wal" "backup $db.lock" "backup $tmp/link.db" 'list' "backup ${db%.db}.log" 'quit' | desk)
check "backup" "$(field "${out[0]}" backup)" "$tmp/backup.db"
check "backup refused" "$(field "${out[1]}" error.code)" "backup_failed"
grep -q "$tmp/no/such/dir/b.db: unable to open" <<<"${out[1]}" || { echo "FAIL backup error: ${out[1]}"; exit 1; }
for i in 3 4 5 6 7; do
    check "backup onto the desk's own file ($i)" "$(field "${out[$i]}" error.code)" "bad_argument"
done
grep -q "is the desk's own database" <<<"${out[3]}" || { echo "FAIL backup onto itself: ${out[3]}"; exit 1; }
check "backup onto the notification log" "$(field "${out[9]}" error.message)" \
    "${db%.db}.log is the desk's notification log: back up to another file"
check "the desk still lists after" "${out[8]}" "${out[2]}"
check "its database intact" "$(sqlite3 "$db" 'PRAGMA integrity_check')" "ok"
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

# 2d'. Honest reporting, on a database of its own. `crash store` names
#      every process rest_for_one restarted with the Store; `tree` counts
#      those restarts (an elder's restart restarts a child too) and shows
#      the ticket each worker holds; `stats` shows the helpdesk's figures
#      (tickets by status and by agent) beside the runtime's.
hdb="$tmp/honest.db"
mapfile -t out < <(printf '%s\n' 'create one' 'create two' 'create three' 'assign 1 alice' \
    'assign 2 bob' 'resolve 2' 'crash store' 'show 1' 'show 3' 'tree' 'stats' 'quit' |
    timeout 120 "$bin" --no-http --json --demo --db "$hdb" 2>>"$tmp/stderr")
check "honest: lines" "${#out[@]}" 12
python3 - "${out[6]}" "${out[9]}" "${out[10]}" <<'PY' || { echo "FAIL honest reporting: ${out[6]} ${out[9]} ${out[10]}"; exit 1; }
import json, sys
crash, tree, stats = (json.loads(a) for a in sys.argv[1:])
names = [e["name"] for e in crash["also_restarted"]]
assert names == ["TicketRegistry", "Agents", "TicketSupervisor", "Notifier", "Sla"], names
assert all(e["was"] != e["now"] for e in crash["also_restarted"])
top = {c["name"]: c for c in tree["tree"]["children"]}
for name in names:
    assert top[name]["restarts"] == 1 and top[name]["own_restarts"] == 0, top[name]
assert top["Store"]["restarts"] == 1 and top["Store"]["own_restarts"] == 1
workers = top["TicketSupervisor"]["children"]
assert sorted(w["ticket"] for w in workers) == [1, 3], workers
assert any(w["note"] == "ticket 1 assigned" for w in workers), workers
t = stats["tickets"]
assert t["total"] == 3, t
assert t["by_status"] == {"open": 1, "assigned": 1, "resolved": 1}, t
assert t["by_agent"] == {"alice": {"assigned": 1}, "bob": {"resolved": 1}}, t
assert stats["notifications"]["pending"] >= 0
PY
out=$(printf '%s\n' 'crash store' 'stats' 'tree' 'quit' | timeout 120 "$bin" --no-http --db "$hdb" 2>>"$tmp/stderr")
# (counts in words: "1 restart", "0 restarts")
grep -q "and with it (rest_for_one) TicketRegistry as <" <<<"$out" &&
    grep -qx "tickets: 3 (open 1, assigned 1, resolved 1); by agent: alice (assigned 1), bob (resolved 1)" <<<"$out" &&
    grep -q "^runtime: .*, 1 restart; the Store wrote" <<<"$out" &&
    grep -q "^├── Store <[0-9.]*>, running, 1 restart$" <<<"$out" &&
    grep -q "^│   └── Dispatcher <[0-9.]*>, running, 0 restarts" <<<"$out" ||
    { echo "FAIL honest reporting as text: $out"; exit 1; }

# 2e. The top supervisor gives up: four `crash store` within 5 s are one
#     restart more than its intensity (3 in 5 s). The fourth is answered
#     with what happened, stderr says it plainly, and the desk exits with
#     status 3 at once, though its input is still open. The data is kept.
gdb="$tmp/gaveup.db"
coproc GDESK { timeout 120 "$bin" --no-http --json --db "$gdb" 2>"$tmp/gaveup.err"; }
# bash forgets a coproc's pid and descriptors once it has ended: keep them.
gpid=$GDESK_PID
exec {gin}>&"${GDESK[1]}" {gout}<&"${GDESK[0]}"
gask() { # command: sets $reply to the desk's answer
    echo "$1" >&"$gin"
    IFS= read -r -t 60 reply <&"$gout" || { echo "FAIL: no answer to $1"; exit 1; }
}
gask 'create kept through the end'
for i in 1 2 3; do
    gask 'crash store'
    check "crash store $i" "$(field "$reply" ok)" "True"
done
gask 'crash store'
check "fourth crash store" "$(field "$reply" error.code)" "supervisor_gave_up"
grep -q "SupportSystem.Supervisor gave up: its processes (the Store, the TicketSupervisor and those after them) were restarted more than 3 times in 5 s; the desk stops" <<<"$reply" ||
    { echo "FAIL gave-up answer: $reply"; exit 1; }
rc=0
wait "$gpid" || rc=$? # while its input stays open: the desk must not wait for it
exec {gin}>&- {gout}<&-
check "exit status after giving up" "$rc" 3
grep -qF "support_system: SupportSystem.Supervisor gave up: its processes (the Store, the TicketSupervisor and those after them) were restarted more than 3 times in 5 s; the desk stops. Every acknowledged change is in $gdb;" "$tmp/gaveup.err" ||
    { echo "FAIL gave-up message: $(cat "$tmp/gaveup.err")"; exit 1; }
# The supervisors' reports, held while the desk started, go to stderr once
# it runs: each kill of the Store, and the top supervisor's giving up.
[ "$(grep -c '^=SUPERVISOR REPORT==== supervisor <[0-9.]*> child_terminated: reason=killed child=Store$' "$tmp/gaveup.err")" -eq 4 ] &&
    grep -q '^=SUPERVISOR REPORT==== supervisor <[0-9.]*> reached_max_restart_intensity: reason=shutdown child=Store$' "$tmp/gaveup.err" ||
    { echo "FAIL reports after the start: $(cat "$tmp/gaveup.err")"; exit 1; }
check "kept after giving up" "$(sqlite3 "$gdb" 'SELECT description FROM tickets')" "kept through the end"

# 2f. SIGTERM stops the desk cleanly while it waits for input: status 0,
#     a message, the lock released, and the database checkpointed (the
#     file alone holds every change).
coproc TDESK { timeout 120 "$bin" --no-http --json --db "$gdb" 2>"$tmp/term.err"; }
tpid=$TDESK_PID
exec {tin}>&"${TDESK[1]}" {tout}<&"${TDESK[0]}"
echo 'create before SIGTERM' >&"$tin"
IFS= read -r -t 60 reply <&"$tout" || { echo "FAIL: no answer before SIGTERM"; exit 1; }
kill -TERM "$(cat "$gdb.lock")"
rc=0
wait "$tpid" || rc=$?
exec {tin}>&- {tout}<&-
check "exit status after SIGTERM" "$rc" 0
grep -q "support_system: Terminated: stopping" "$tmp/term.err" ||
    { echo "FAIL SIGTERM message: $(cat "$tmp/term.err")"; exit 1; }
cp "$gdb" "$tmp/term-copy.db"
check "checkpointed at SIGTERM" "$(sqlite3 "$tmp/term-copy.db" 'SELECT count(*) FROM tickets')" 2

# 2g. Without a console (--no-console, as the systemd unit runs it) the
#     desk reads nothing, even with its input open, and runs until SIGTERM.
ndb="$tmp/service.db"
mkfifo "$tmp/service.in"
timeout 120 "$bin" --no-http --no-console --db "$ndb" <"$tmp/service.in" >"$tmp/service.out" 2>"$tmp/service.err" &
npid=$!
exec {nin}>"$tmp/service.in"
echo 'create not read' >&"$nin"
deadline=$((SECONDS + 60))
until [ -s "$ndb.lock" ] && [ -s "$ndb" ] || [ "$SECONDS" -ge "$deadline" ]; do sleep 0.05; done
kill -0 "$npid" || { echo "FAIL: the desk without a console did not stay"; exit 1; }
kill -TERM "$(cat "$ndb.lock")"
rc=0
wait "$npid" || rc=$?
exec {nin}>&-
check "--no-console: status after SIGTERM" "$rc" 0
check "--no-console: nothing read" "$(sqlite3 "$ndb" 'SELECT count(*) FROM tickets')" 0

# 3. SLA (--sla in seconds, so no test waits hours): show says when a ticket
#    is due; once that passes, the desk records the breach by itself (the
#    history, the log's notification), the Overdue queue lists it and
#    queues counts it, a list marks it, stats names the times, and tree
#    says when the timer wakes next.
sdb="$tmp/sla.db"
sdesk() { timeout 120 "$bin" --no-http --json --db "$sdb" --sla normal=1s,low=3d "$@" 2>>"$tmp/stderr"; }
mapfile -t out < <(printf '%s\n' 'create --priority normal Printer on fire' \
    'create --priority low Toner low' 'show 1' 'quit' | sdesk)
due=$(field "${out[2]}" ticket.due_at)
[[ "$due" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$ ]] || { echo "FAIL sla: due_at [$due]"; exit 1; }
check "sla: not yet breached" "$(field "${out[2]}" ticket.breached)" "False"
# The desk runs (and records) until the breach shows; a desk started after
# the due time records it at start.
deadline=$((SECONDS + 60))
while :; do
    mapfile -t out < <(printf '%s\n' 'queues' 'list --overdue' 'show 1' 'list' 'stats' 'quit' | sdesk)
    [ "$(field "${out[0]}" overdue)" = 1 ] && break
    [ "$SECONDS" -lt "$deadline" ] || { echo "FAIL sla: no breach by the deadline: ${out[0]}"; exit 1; }
done
check "sla: overdue list" "$(field "${out[1]}" tickets.0.id)/$(field "${out[1]}" tickets.0.overdue)" "1/True"
check "sla: overdue list length" "$(python3 -c 'import json,sys; print(len(json.loads(sys.argv[1])["tickets"]))' "${out[1]}")" 1
check "sla: show breached" "$(field "${out[2]}" ticket.breached)/$(field "${out[2]}" ticket.due_at)" "True/$due"
check "sla: history" "$(field "${out[2]}" ticket.history.1.what)/$(field "${out[2]}" ticket.history.1.role)" \
    "SLA breached: resolution due $due/desk"
check "sla: the low one is not" "$(field "${out[3]}" tickets.0.id)/$(field "${out[3]}" tickets.0.overdue)" "2/False"
check "sla: stats" "$(field "${out[4]}" sla.policy)" "urgent=4h,high=8h,normal=1s,low=3d"
grep -qF "ticket 1 breached its SLA: resolution was due $due" "$tmp/sla.log" ||
    { echo "FAIL sla: no notification in the log: $(cat "$tmp/sla.log")"; exit 1; }
check "sla: notified once" "$(grep -c 'breached its SLA' "$tmp/sla.log")" 1
check "sla: recorded once" "$(sqlite3 "$sdb" "SELECT count(*) FROM history WHERE what LIKE 'SLA breached%'")" 1
# The text answers: show's due line, and the list's mark.
# And tree: the timer sleeps until the low ticket is due (3 days), having
# found nothing more to record.
text=$(printf 'show 1\nlist\nqueues\ntree\nquit\n' | timeout 60 "$bin" --no-http --db "$sdb" 2>>"$tmp/stderr")
grep -qE "^    resolution due $due; breached at [0-9T:Z-]+$" <<<"$text" &&
    grep -qE '^    └── SlaTimer <[0-9.]+>, running, 0 restarts \(next due [0-9T:Z-]+; 0 breaches recorded\)$' <<<"$text" &&
    grep -qE '^#1 \[open, normal\] Printer on fire OVERDUE$' <<<"$text" &&
    grep -qF 'unassigned 2, open 2, pending 0, overdue 1' <<<"$text" ||
    { echo "FAIL sla text: $text"; exit 1; }

echo "support_system console: ok"
