#!/usr/bin/env python3
"""The SIGKILL gate: no acknowledged change is lost, however the desk dies.

usage: desk_sigkill_loop.py PATH_TO_support_system [ROUNDS]

ROUNDS (default: $DESK_SIGKILL_ROUNDS, else 10) times, on one database:
start the desk (--json, over pipes; --policy round-robin and least-loaded
in turn), recovering from the previous kill;
check the database against everything acknowledged so far; drive it with
a stream of every kind of change (create, with customer and priority;
assign, to a named agent or by the policy; pend; resume; unassign;
resolve; close; reopen; reply; note; agent-add), SIGKILL it after a random number of answers plus a random
delay, and read the answers it had written. In the first round the log's
directory is moved away halfway, so that the kill surely leaves
notifications pending, which only a desk that resumes from the outbox can
deliver. After the last kill a final desk starts, delivers what is
pending, and everything is checked once more, the log too:

  - PRAGMA integrity_check is ok;
  - every acknowledged create is there, with its text;
  - every ticket holds at least the changes acknowledged on it (its
    version) and at most one more (the command in flight at the kill, which
    may have committed unacknowledged), and, unless that command touched
    it, the state of its last acknowledged change;
  - every acknowledged reply and note is in the ticket's conversation;
  - every acknowledged agent-add is in the roster, and every agent's open
    count (kept for the least-loaded policy) is the recount of their
    assigned and pending tickets;
  - every acknowledged status change has its notification in the outbox,
    and at the end every notification is delivered and in the log at least
    once; lines that share an id are the same line (a duplicate comes only
    from dying between writing a line and marking it).

Every wait has a deadline; the desk is killed if the script fails. Prints
the rounds, the changes checked and the notifications delivered.
"""
import collections
import json
import os
import queue
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

WAIT_S = 60  # the longest wait for any one answer or event
STATUSES = ("open", "assigned", "resolved", "closed", "pending")  # as stored


class Failure(Exception):
    pass


class Desk:
    """support_system --json on pipes: commands written by a thread, the
    answers read by another into a queue."""

    def __init__(self, binary, db, log, stderr, policy="round-robin"):
        self.proc = subprocess.Popen(
            [binary, "--no-http", "--json", "--demo", "--db", db, "--log", log,
             "--policy", policy],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
        self.answers = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.answers.put(line)
        self.answers.put(None)

    def answer(self, what):
        try:
            line = self.answers.get(timeout=WAIT_S)
        except queue.Empty:
            raise Failure(f"no answer within {WAIT_S} s: {what}")
        if line is None:
            raise Failure(f"the desk ended before answering {what}")
        return json.loads(line)

    def ask(self, command):
        self.proc.stdin.write((command + "\n").encode())
        self.proc.stdin.flush()
        return self.answer(command)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=WAIT_S)

    def rest(self):
        """After the kill: the answers it had written and we had not read."""
        self.reader.join(timeout=WAIT_S)
        rest = []
        while True:
            line = self.answers.get_nowait()
            if line is None:
                return rest
            rest.append(json.loads(line))


class Model:
    """What the desk acknowledged, and what may have happened unacknowledged."""

    def __init__(self):
        self.created = {}  # id -> description
        self.version = {}  # id -> updates acknowledged (synced with the file)
        self.state = {}  # id -> (status, agent) of the last acknowledged change
        self.agents = set()
        self.messages = set()  # (ticket, internal, body) of acknowledged replies and notes
        self.notices = collections.Counter()  # "ticket N is now S" -> acknowledged
        self.in_flight = None  # the command that may have committed unanswered
        self.checked = 0

    def ack(self, command, answer):
        if not answer.get("ok"):
            return
        self.checked += 1
        word = command.split()[0]
        if word == "agent-add":
            self.agents.add(answer["agent"])
            return
        t = answer["ticket"]
        if word == "create":
            self.created[t["id"]] = t["description"]
            self.version.setdefault(t["id"], 0)
        else:
            self.version[t["id"]] = self.version.get(t["id"], 0) + 1
            if t["status"] != self.state[t["id"]][0]:
                self.notices[f"ticket {t['id']} is now {t['status']}"] += 1
            if word in ("reply", "note"):
                self.messages.add((t["id"], word == "note", command.split(None, 2)[2]))
        self.state[t["id"]] = (t["status"], t["agent"] or "")

    def touched_in_flight(self, ticket):
        c = self.in_flight
        return c is not None and len(c.split()) > 1 and c.split()[1] == str(ticket)

    def check(self, db):
        """Checks the file (read only) against what was acknowledged, then
        takes the file's versions as the truth (the command in flight is
        decided by now)."""
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=WAIT_S)
        try:
            integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
            if integrity != "ok":
                raise Failure(f"integrity_check: {integrity}")
            rows = {
                i: (d, s, a, v)
                for i, d, s, a, v in con.execute(
                    "SELECT id, description, status, agent, version FROM tickets"
                )
            }
            for i, description in self.created.items():
                if i not in rows or rows[i][0] != description:
                    raise Failure(f"lost the acknowledged create of ticket {i} ({description!r})")
            for i, acked in self.version.items():
                stored = rows[i][3]
                extra = 1 if self.touched_in_flight(i) else 0
                if not acked <= stored <= acked + extra:
                    raise Failure(
                        f"ticket {i} has version {stored}, {acked} changes acknowledged"
                        f" ({extra} more in flight)"
                    )
                status, agent = STATUSES[rows[i][1]], rows[i][2]
                if not extra and (status, agent) != self.state[i]:
                    raise Failure(f"ticket {i} is {status}/{agent}, acknowledged {self.state[i]}")
                self.version[i] = stored
                self.state[i] = (status, agent)
            stored = set(con.execute("SELECT ticket, internal, body FROM messages"))
            lost = {m for m in self.messages if (m[0], int(m[1]), m[2]) not in stored}
            if lost:
                raise Failure(f"lost acknowledged replies or notes: {sorted(lost)[:5]}")
            for i, (_, status, agent, stored) in rows.items():
                if i not in self.version:  # created by the command in flight, unacknowledged
                    self.version[i] = stored
                    self.state[i] = (STATUSES[status], agent)
            names = {n for (n,) in con.execute("SELECT name FROM agents")}
            if not self.agents <= names:
                raise Failure(f"lost acknowledged agents: {sorted(self.agents - names)}")
            wrong = con.execute(
                "SELECT name, open_count, (SELECT count(*) FROM tickets t WHERE t.agent = a.name"
                " AND t.status IN (1, 4)) AS n FROM agents a WHERE open_count <> n"
            ).fetchall()
            if wrong:
                raise Failure(f"open counts (name, kept, recounted) not the recount: {wrong}")
            outbox = collections.Counter(t for (t,) in con.execute("SELECT text FROM outbox"))
            for text, n in self.notices.items():
                if outbox[text] < n:
                    raise Failure(f"{n} acknowledged changes announce {text!r}, the outbox has {outbox[text]}")
            pending = con.execute("SELECT count(*) FROM outbox WHERE delivered_at IS NULL").fetchone()[0]
        finally:
            con.close()
        self.in_flight = None
        return pending


def commands(rng, rnd, first_id, known_ids, agents):
    """An endless stream of changes of every kind, on tickets that exist or
    that the creates before them make."""
    ids = list(known_ids)
    next_id = first_id
    n = 0
    while True:
        n += 1
        kind = rng.random()
        if kind < 0.25 or not ids:
            ids.append(next_id)
            next_id += 1
            extra = rng.choice(["", " --priority high", ' --customer "Acme Corp"', " --priority low"])
            yield f"create load {rnd}.{n}{extra}"
            continue
        ticket = rng.choice(ids[-200:])
        if kind < 0.42:
            agent = rng.choice(agents + [""]) if agents else ""
            yield f"assign {ticket} {agent}".rstrip()
        elif kind < 0.47:
            yield f"pend {ticket}"
        elif kind < 0.51:
            yield f"resume {ticket}"
        elif kind < 0.54:
            yield f"unassign {ticket}"
        elif kind < 0.64:
            yield f"resolve {ticket}"
        elif kind < 0.72:
            yield f"close {ticket}"
        elif kind < 0.80:
            yield f"reopen {ticket}"
        elif kind < 0.86:
            yield f"reply {ticket} reply {rnd}.{n}"
        elif kind < 0.92:
            yield f"note {ticket} note {rnd}.{n}"
        else:
            name = f"agent{rnd}x{n}"
            agents.append(name)
            yield f"agent-add {name}"


def feed(desk, stream, sent, stop):
    """Writer thread: sends the stream, recording each command before it
    goes, until stopped or the desk is gone."""
    try:
        for command in stream:
            if stop.is_set():
                return
            sent.append(command)
            desk.proc.stdin.write((command + "\n").encode())
            desk.proc.stdin.flush()
    except (BrokenPipeError, OSError, ValueError):
        return


def file_facts(db):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=WAIT_S)
    try:
        ids = [i for (i,) in con.execute("SELECT id FROM tickets")]
        agents = [a for (a,) in con.execute("SELECT name FROM agents")]
        (seq,) = con.execute("SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'tickets'").fetchone()
    finally:
        con.close()
    return ids, agents, seq + 1


def wait_running(desk):
    answer = desk.ask("stats")
    if not answer.get("ok"):
        raise Failure(f"the restarted desk answered stats with {answer}")
    return answer


def run_round(binary, tmp, model, rng, rnd, err):
    db, logs = f"{tmp}/desk.db", f"{tmp}/logs"
    os.makedirs(logs, exist_ok=True)
    # Both policies, a round each: least-loaded reads the open counts.
    policy = "least-loaded" if rnd % 2 == 0 else "round-robin"
    desk = Desk(binary, db, f"{logs}/desk.log", err, policy)
    try:
        wait_running(desk)
        if rnd > 1:
            model.check(db)  # what the last kill left, recovered by this desk
        ids, agents, first_id = file_facts(db)
        sent, stop = [], threading.Event()
        writer = threading.Thread(
            target=feed, args=(desk, commands(rng, rnd, first_id, ids, agents), sent, stop), daemon=True
        )
        writer.start()
        kill_after = rng.randint(30, 600)
        answered = 0
        while answered < kill_after:
            answer = desk.answer("a change of the load")
            model.ack(sent[answered], answer)
            answered += 1
            if rnd == 1 and answered == kill_after // 2:
                shutil.move(logs, f"{tmp}/logs.moved")  # the log cannot be opened now
        time.sleep(rng.uniform(0, 0.02))
        desk.kill()
        stop.set()
        for answer in desk.rest():
            model.ack(sent[answered], answer)
            answered += 1
        model.in_flight = sent[answered] if answered < len(sent) else None
        writer.join(timeout=WAIT_S)
    finally:
        desk.kill()
    return answered


def final_check(binary, tmp, model, err):
    """A last desk recovers, delivers every pending notification; then the
    file and the logs are checked."""
    db, logs = f"{tmp}/desk.db", f"{tmp}/logs"
    os.makedirs(logs, exist_ok=True)
    desk = Desk(binary, db, f"{logs}/desk.log", err)
    try:
        wait_running(desk)
        deadline = time.monotonic() + WAIT_S
        while wait_running(desk)["notifications"]["pending"] != 0:
            if time.monotonic() > deadline:
                raise Failure("notifications still pending a minute after the restart")
            time.sleep(0.05)
        pending = model.check(db)
        if pending:
            raise Failure(f"{pending} notifications pending after the desk said 0")
        desk.ask("quit")
        desk.proc.wait(timeout=WAIT_S)
    finally:
        desk.kill()
    lines = {}
    for path in (f"{tmp}/logs.moved/desk.log", f"{logs}/desk.log"):
        if not os.path.exists(path):
            continue
        for line in open(path, encoding="utf-8"):
            m = re.fullmatch(r"\S+Z #(\d+) (ticket \d+ is now \w+)\n", line)
            if not m:
                raise Failure(f"a log line without its notification id: {line!r}")
            if lines.setdefault(int(m.group(1)), m.group(2)) != m.group(2):
                raise Failure(f"notification id {m.group(1)} names two notifications")
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=WAIT_S)
    try:
        outbox = list(con.execute("SELECT id, text, delivered_at FROM outbox"))
    finally:
        con.close()
    for i, text, delivered in outbox:
        if delivered is None or lines.get(i) != text:
            raise Failure(f"notification #{i} {text!r} is not in the log")
    return len(outbox)


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    binary = os.path.abspath(sys.argv[1])
    rounds = int(sys.argv[2] if len(sys.argv) == 3 else os.environ.get("DESK_SIGKILL_ROUNDS", "10"))
    seed = int(os.environ.get("DESK_SIGKILL_SEED", str(time.time_ns() % 1000000)))
    rng = random.Random(seed)
    model = Model()
    with tempfile.TemporaryDirectory() as tmp, open(f"{tmp}/stderr", "wb") as err:
        try:
            answered = 0
            for rnd in range(1, rounds + 1):
                answered += run_round(binary, tmp, model, rng, rnd, err)
                if rnd == 1:
                    con = sqlite3.connect(f"file:{tmp}/desk.db?mode=ro", uri=True, timeout=WAIT_S)
                    (left,) = con.execute("SELECT count(*) FROM outbox WHERE delivered_at IS NULL").fetchone()
                    con.close()
                    if not left:
                        raise Failure("the first kill left no notification pending")
            notified = final_check(binary, tmp, model, err)
        except Failure as e:
            err.flush()
            print(f"desk SIGKILL loop (seed {seed}): FAIL: {e}")
            print(open(f"{tmp}/stderr", errors="replace").read()[-4000:])
            return 1
    print(
        f"desk SIGKILL loop (seed {seed}): ok: {rounds} rounds, {answered} answers,"
        f" {model.checked} acknowledged changes all kept, {notified} notifications all in the log"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
