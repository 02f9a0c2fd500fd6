#!/usr/bin/env python3
"""Crash storms, truthful to the end (issue 20).

usage: desk_crash_storm.py PATH_TO_support_system

Two storms through a pipe (--json, --no-http), each on a new database:

  - `crash 1` as fast as the desk answers, a `show 1` and a `note 1 ...`
    between them now and then: the TicketSupervisor gives up after 1000
    restarts in 5 s, SupportSystem.Supervisor restarts it, and the fourth
    time within 5 s gives up too;
  - `crash store`, four times: SupportSystem.Supervisor gives up (3 in 5 s).

Every answer about ticket 1 must be true until the end: the ticket
(show), its worker killed and restarted (crash), the note added, or an
error that says it cannot be reached now ("unavailable"), never "there is
no ticket 1". The last answer says the supervisor gave up and that the
desk stops; nothing is answered after it; stderr says it plainly; the exit
status is 3; and every acknowledged note is in the database.
"""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading

# The longest a storm may take: 60 s on a quiet release build (it takes
# about 3 s under ASan), scaled as the C tests' deadlines are (make test and
# the other sanitizer targets set ARBOR_TEST_TIMEOUT_SCALE: 3 gives 180 s).
try:
    _SCALE = float(os.environ.get("ARBOR_TEST_TIMEOUT_SCALE", "1"))
except ValueError:
    _SCALE = 1.0
WAIT_S = 60 * (_SCALE if _SCALE > 0 else 1.0)
STORM_LINES = 60000  # far more than the ~4004 crashes that end the desk
GAVE_UP = (
    "SupportSystem.Supervisor gave up: its processes (the Store, the TicketSupervisor and"
    " those after them) were restarted more than 3 times in 5 s"
)


class Failure(Exception):
    pass


def storm_lines(kind):
    yield "create storm ticket"
    if kind == "store":
        for _ in range(4):
            yield "crash store"
        yield "show 1"  # never answered: the desk stops before it
        return
    for n in range(STORM_LINES):
        if n % 97 == 50:
            yield "show 1"
        elif n % 211 == 100:
            yield f"note 1 storm note {n}"
        else:
            yield "crash 1"


def run_storm(binary, tmp, kind):
    db = os.path.join(tmp, f"{kind}.db")
    lines = list(storm_lines(kind))
    with open(os.path.join(tmp, f"{kind}.err"), "w+") as err:
        proc = subprocess.Popen(
            [binary, "--no-http", "--json", "--db", db],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True,
        )

        def feed():
            try:
                for line in lines:
                    proc.stdin.write(line + "\n")
                proc.stdin.close()
            except (BrokenPipeError, OSError, ValueError):
                pass  # the desk stopped reading: it ended

        writer = threading.Thread(target=feed, daemon=True)
        writer.start()
        # communicate() would close the desk's input: read its answers
        # here, the writer feeding it meanwhile; a timer bounds the wait.
        timer = threading.Timer(WAIT_S, proc.kill)
        timer.start()
        out = proc.stdout.read()
        proc.wait()
        if not timer.is_alive():
            raise Failure(f"{kind} storm: the desk did not end within {WAIT_S:g} s")
        timer.cancel()
        writer.join(timeout=WAIT_S)
        err.seek(0)
        stderr = err.read()
    answers = [json.loads(a) for a in out.splitlines()]
    if not answers or not answers[0].get("ok") or answers[0]["ticket"]["id"] != 1:
        raise Failure(f"{kind} storm: create answered {answers[:1]}")
    notes = set()
    for i, a in enumerate(answers[1:-1], start=1):
        command = lines[i]
        if a.get("ok"):
            if command == "show 1" and a["ticket"]["id"] != 1:
                raise Failure(f"{command} answered another ticket: {a}")
            if command.startswith("crash") and not (a.get("killed") and a.get("restarted")):
                raise Failure(f"{command} answered {a}")
            if command.startswith("note"):
                notes.add(command.split(None, 2)[2])
            continue
        code, message = a["error"]["code"], a["error"]["message"]
        # While a worker, the TicketSupervisor or the Store restarts, a
        # command may find it down: an error that says so is true.
        if code not in ("unavailable", "not_restarted", "noproc") or "no ticket" in message:
            raise Failure(f"answer {i} to {command!r} is untrue of a live ticket: {a}")
    last = answers[-1]
    if last.get("ok") or last["error"]["code"] != "supervisor_gave_up":
        raise Failure(f"{kind} storm: the last answer ({len(answers)}) is {last}, not the end")
    if not last["error"]["message"].endswith(GAVE_UP + "; the desk stops"):
        raise Failure(f"{kind} storm: the end was answered {last['error']['message']!r}")
    if not lines[len(answers) - 1].startswith("crash"):
        raise Failure(f"{kind} storm: the end came in answer to {lines[len(answers) - 1]!r}")
    if proc.returncode != 3:
        raise Failure(f"{kind} storm: exit status {proc.returncode}, expected 3; stderr: {stderr[-2000:]}")
    expected = f"support_system: {GAVE_UP}; the desk stops. Every acknowledged change is in {db};"
    if expected not in stderr:
        raise Failure(f"{kind} storm: stderr does not say {expected!r}: {stderr[-2000:]}")
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        if con.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise Failure(f"{kind} storm: integrity_check failed")
        (description,) = con.execute("SELECT description FROM tickets WHERE id = 1").fetchone()
        stored = {b for (b,) in con.execute("SELECT body FROM messages WHERE ticket = 1")}
    finally:
        con.close()
    if description != "storm ticket" or not notes <= stored:
        raise Failure(f"{kind} storm: lost acknowledged notes {sorted(notes - stored)[:5]}")
    return len(answers), len(notes)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    binary = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory() as tmp:
        try:
            for kind in ("ticket", "store"):
                answered, notes = run_storm(binary, tmp, kind)
                print(f"{kind} storm: {answered} answers, all true; {notes} notes kept; exit status 3")
        except Failure as e:
            print(f"desk crash storm: FAIL: {e}")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
