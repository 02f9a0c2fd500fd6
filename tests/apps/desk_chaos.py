#!/usr/bin/env python3
"""The chaos gate: random processes of the desk's tree are killed under load,
and nothing acknowledged is lost, no answer is untrue, none is slow.

usage: desk_chaos.py PATH_TO_support_system [SECONDS]

For SECONDS (default: $CHAOS_SECONDS, else 30), on a new database, a desk
started with --json --demo --http 127.0.0.1:0 serves three clients at once:

  - the console (one pipe): changes of every kind (create, with customer
    and priority; assign, to a named agent or by the policy; pend; resume;
    unassign; resolve; close; reopen; reply; note; agent-add), `show`, and
    now and then `tree` and `kill PID`, which sends the exit signal kill to
    a process of the tree chosen at random among every kind: a ticket's
    worker, the Store, the TicketRegistry, Agents, the TicketSupervisor,
    the Notifier and its Dispatcher, the Web, its Events and HTTP, the
    connections' supervisor, the acceptor, the drainer, a connection;
  - two web clients (signed in as the first admin): creates, changes of
    every kind and reads through the HTTP API.

The kills that a supervisor counts against its restart intensity (all but
a ticket's worker and a connection, which are cheap) come one at a time,
each kind once a round, each once the tree is whole again after the last
and only when the supervisor that will restart its victim has room: at
most 3 of its restarts in INTENSITY_WINDOW_S (its intensity is 3 in 5 s,
counted in whole seconds). The gate tests that the desk recovers from
every kind of death, not that it gives up (which desk_crash_storm.py
does). The Dispatcher, restarted after a back-off, is killed at most once
per DISPATCHER_GAP_S.

Every answer during the chaos must be true; an error is fine, a wrong
answer is not:
  - a ticket whose create was acknowledged is never "no such ticket"
    (console unknown_ticket, HTTP 404);
  - a read shows at least every change acknowledged before it was sent
    (its version), and the ticket asked for;
  - an acknowledged change has a version above every one acknowledged
    before it was sent;
  - no answer takes longer than ANSWER_BOUND_S.

Afterwards: the tree is whole (every child of every supervisor running,
the Dispatcher included), the outbox is delivered, the desk quits with
status 0 and no sanitizer report, and the database (PRAGMA integrity_check
ok) holds every acknowledged change: each create with its text, each
change as the history entry of the version it was acknowledged at (a
history entry per version, "assigned to ...", "resolved", ...), each reply
and note in the conversation, each agent on the roster.

Prints the figures: seconds, kills by kind, changes acknowledged and
checked, lost (0), answers and the longest answer's latency.
"""
import collections
import http.client
import json
import os
import random
import sqlite3
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "web"))
from desk import Desk, Failure  # noqa: E402

ANSWER_BOUND_S = 10.0  # the longest any one answer may take
# A supervisor gives up after more than 3 restarts in 5 s, counted in whole
# seconds (intensity.c, as OTP): restarts up to 6 s apart may count
# together. A costly kill is made only when the supervisor that will restart
# its victim has made at most 2 restarts in the last INTENSITY_WINDOW_S.
INTENSITY_WINDOW_S = 7.0
KILL_GAP_S = 0.5  # between one costly kill's restart and the next costly kill
DISPATCHER_GAP_S = 10.0  # it restarts after a back-off that doubles
WEB_CLIENTS = 2
ADMIN, ADMIN_PW = "ada", "correct horse"
AGENTS = ["alice", "bob"]
# A change's history entry begins so (ticket.c).
WHAT = {
    "assign": "assigned to ", "reassign": "reassigned from ", "unassign": "unassigned from ",
    "pend": "pending", "resume": "resumed", "resolve": "resolved", "close": "closed",
    "reopen": "reopened", "reply": "replied", "note": "added a note",
}
# The tree's nodes whose kill a supervisor counts against its intensity,
# by their name in `tree`; a TicketWorker and a connection are not.
# Each with the supervisor that restarts it.
RESTARTED_BY = {"Store": "top", "TicketRegistry": "top", "Agents": "top", "TicketSupervisor": "top",
                "Notifier": "top", "Web": "top", "Events": "Web", "HTTP": "Web",
                "connections": "HTTP", "acceptor 0": "HTTP", "drainer": "HTTP",
                "Dispatcher": "Notifier"}
COSTLY = list(RESTARTED_BY)
# Some are killed by their registered name (kill NAME), the others by pid.
REGISTERED = {"Store": "SupportSystem.Store", "TicketRegistry": "SupportSystem.TicketRegistry",
              "Agents": "SupportSystem.Agents", "TicketSupervisor": "SupportSystem.TicketSupervisor",
              "Notifier": "SupportSystem.Notifier", "Events": "SupportSystem.Web.Events"}


class Model:
    """What was acknowledged, by any client (shared, under a lock)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.created = {}  # id -> description
        self.version = {}  # id -> the highest version acknowledged
        self.changes = []  # (id, version, action, text or None)
        # Changes whose first answer was outcome_unknown and whose retry
        # under the same request id was answered as made before: made once,
        # at a version above floor, not known which: (id, floor, action, text)
        self.replayed = []
        self.agents = set()
        self.answers = 0
        self.max_latency = 0.0
        self.slowest = ""
        self.errors = collections.Counter()  # error codes answered meanwhile

    def ids(self):
        with self.lock:
            return list(self.created)

    def floor(self, tid):
        """The version a read or change sent now must reach."""
        with self.lock:
            return self.version.get(tid, -1)

    def answered(self, what, seconds):
        with self.lock:
            self.answers += 1
            if seconds > self.max_latency:
                self.max_latency, self.slowest = seconds, what
        if seconds > ANSWER_BOUND_S:
            raise Failure(f"{what} took {seconds:.1f} s (bound {ANSWER_BOUND_S} s)")

    def error(self, code):
        with self.lock:
            self.errors[code] += 1

    def ack_create(self, ticket, description, replayed=False):
        if ticket["description"] != description or (ticket["version"] != 0 and not replayed):
            raise Failure(f"create {description!r} answered {ticket}")
        with self.lock:
            self.created[ticket["id"]] = description
            self.version[ticket["id"]] = 0

    def ack_change(self, tid, action, text, ticket, floor, what, replayed=False):
        if ticket["id"] != tid or ticket["version"] <= floor:
            raise Failure(f"{what} answered version {ticket['version']} of ticket {ticket['id']},"
                          f" after version {floor} of ticket {tid} was acknowledged")
        with self.lock:
            if replayed:  # the ticket as it is now: the change is at a version in between
                self.replayed.append((tid, floor, action, text))
            else:
                self.changes.append((tid, ticket["version"], action, text))
            self.version[tid] = max(self.version[tid], ticket["version"])

    def check_read(self, tid, ticket, floor, what):
        if ticket["id"] != tid or ticket["version"] < floor:
            raise Failure(f"{what} showed version {ticket['version']} of ticket {ticket['id']},"
                          f" after version {floor} of ticket {tid} was acknowledged")

    def known(self, tid, what, answer):
        """An answer that there is no such ticket, about one acknowledged."""
        with self.lock:
            if tid in self.created:
                raise Failure(f"{what}: ticket {tid} exists, yet the answer was {answer}")

    def console_error(self, tid, what, answer):
        """A console error about ticket tid: it must not deny a live one,
        nor the agents (none is ever removed or made unavailable)."""
        e = answer["error"]
        if e["code"] == "unknown_ticket" or "no ticket" in e["message"]:
            self.known(tid, what, answer)
        untrue_of_agents(what, e.get("code"), answer)


def untrue_of_agents(what, code, answer):
    """alice, bob and ada are on the roster, active and available, all along."""
    if code in ("unknown_agent", "no_agents", "agent_inactive"):
        raise Failure(f"{what}: the agents are there, yet the answer was {answer}")


def pick_change(rng, tid, tag):
    """A change of any kind to ticket tid: (action, console words, web body)."""
    action = rng.choice(["assign", "assign", "reassign", "unassign", "pend", "resume", "resolve",
                         "resolve", "close", "close", "reopen", "reply", "reply", "note"])
    agent = rng.choice(AGENTS)
    if action == "assign" and rng.random() < 0.5:
        return action, f"assign {tid}", {}, None
    if action in ("assign", "reassign"):
        return action, f"{action} {tid} {agent}", {"agent": agent}, None
    if action in ("reply", "note"):
        text = f"{action} {tag}"
        # reply --customer: as the ticket's customer (refused when it has none)
        customer = " --customer" if action == "reply" and rng.random() < 0.5 else ""
        return action, f"{action} {tid}{customer} {text}", {"text": text}, text
    if action == "close" and rng.random() < 0.5:
        return action, f"close {tid} duplicate", {"reason": "duplicate"}, None
    return action, f"{action} {tid}", {}, None


class Console:
    """The console client: changes, reads and the kills."""

    def __init__(self, desk, model, rng, stop):
        self.desk, self.model, self.rng, self.stop = desk, model, rng, stop
        self.kills = collections.Counter()
        self.log = []  # (seconds, what was killed), for a failure's report
        # A costly kill waits until the tree is whole again after the last
        # one (its victim's pid gone), and KILL_GAP_S more; its restart is
        # counted when seen, against the supervisor that made it.
        self.costly_pending = None  # (kind, pid) of the last costly kill, until restarted
        self.last_whole = 0.0
        self.restarts = collections.defaultdict(list)  # supervisor -> when its restarts were seen
        self.last_tree = 0.0
        self.last_dispatcher = 0.0
        self.cycle = []  # the costly kinds still to kill in this round, every kind once a round
        self.n = 0

    def ask_once(self, command):
        """command under a request id of its own, repeated (same id) while
        the answer is outcome_unknown, as the desk tells a user to: the
        definite answer, and whether it was a replay of the first try."""
        rid = f"chaos-console-{self.n}"
        deadline = time.monotonic() + 60
        while True:
            answer = self.ask(f"{command} --request-id {rid}")
            if answer.get("ok") or answer["error"]["code"] != "outcome_unknown":
                return answer, bool(answer.get("replayed"))
            if time.monotonic() > deadline:
                raise Failure(f"{command!r}: outcome still unknown after 60 s of retries")

    def ask(self, command):
        started = time.monotonic()
        try:
            answer = self.desk.command(command)
        except ValueError:  # an empty line: its output ended
            self.desk.proc.wait(timeout=60)
            raise Failure(f"the desk ended (status {self.desk.proc.returncode}) before answering {command!r}")
        self.model.answered(f"console {command!r}", time.monotonic() - started)
        if not answer.get("ok"):
            self.model.error(answer["error"]["code"])
        return answer

    def step(self):
        self.n += 1
        ids = self.model.ids()
        r = self.rng.random()
        now = time.monotonic()
        # A tree is taken every 0.25 s at most, for a costly kill or to see
        # the last one's restart; and at random, for a cheap kill.
        if r < 0.08 or now - self.last_tree >= 0.25:
            return self.kill()
        if r < 0.3 or not ids:
            extra, customer = self.rng.choice([("", ""), (" --priority high", ""),
                                               (' --customer "Acme Corp"', "Acme Corp")])
            description = f"console {self.n}"
            answer, replayed = self.ask_once(f"create {description}{extra}")
            if answer.get("ok"):
                self.model.ack_create(answer["ticket"], description, replayed)
                if answer["ticket"]["customer"] != customer:
                    raise Failure(f"create{extra} answered {answer}")
            return
        if r < 0.33:
            name = f"agent{self.n}"
            if self.ask(f"agent-add {name}").get("ok"):
                with self.model.lock:
                    self.model.agents.add(name)
            return
        tid = self.rng.choice(ids[-100:])
        floor = self.model.floor(tid)
        if r < 0.45:
            answer = self.ask(f"show {tid}")
            if answer.get("ok"):
                self.model.check_read(tid, answer["ticket"], floor, f"show {tid}")
            else:
                self.model.console_error(tid, f"show {tid}", answer)
            return
        action, words, _, text = pick_change(self.rng, tid, f"console {self.n}")
        answer, replayed = self.ask_once(words)
        if answer.get("ok"):
            self.model.ack_change(tid, action, text, answer["ticket"], floor, words, replayed)
        else:
            self.model.console_error(tid, words, answer)

    def kill(self):
        """Kills one process of the tree, of a kind chosen at random."""
        answer = self.ask("tree")
        self.last_tree = time.monotonic()
        if not answer.get("ok"):
            return
        nodes = {}  # name -> [pid]

        def walk(node):
            if node.get("pid", "undefined") != "undefined" and node.get("status", "running") == "running":
                nodes.setdefault(node["name"], []).append(node["pid"])
            for child in node.get("children", []):
                walk(child)

        walk(answer["tree"])
        now = time.monotonic()
        # Restarted: its supervisor has replaced the pid (a tree taken
        # before the exit signal arrived still shows it), and all runs.
        pids = {p for ps in nodes.values() for p in ps}
        if self.costly_pending and self.costly_pending[1] not in pids and not tree_whole(answer["tree"]):
            self.restarts[RESTARTED_BY[self.costly_pending[0]]].append(now)
            self.costly_pending, self.last_whole = None, now
        kinds = [k for k in ("SupportSystem.TicketWorker", "http_connection") if k in nodes]
        if not self.cycle:
            self.cycle = self.rng.sample(COSTLY, len(COSTLY))
        if not self.costly_pending and now - self.last_whole >= KILL_GAP_S:
            # The first kind of the round whose supervisor has room; the
            # others wait for their turn.
            for costly in self.cycle:
                recent = [t for t in self.restarts[RESTARTED_BY[costly]] if t > now - INTENSITY_WINDOW_S]
                if (costly in nodes and len(recent) < 3 and
                        (costly != "Dispatcher" or now - self.last_dispatcher >= DISPATCHER_GAP_S)):
                    kinds = [costly]
                    self.cycle.remove(costly)
                    break
        if not kinds:
            return
        kind = self.rng.choice(kinds)
        pid = self.rng.choice(nodes[kind])
        by_name = kind in REGISTERED and self.rng.random() < 0.5
        answer = self.ask(f"kill {REGISTERED[kind] if by_name else pid}")
        if not answer.get("ok"):
            if answer["error"]["code"] != "no_such_process":  # it may have exited since
                raise Failure(f"kill answered {answer}")
            return
        if by_name and answer["name"] != REGISTERED[kind]:
            raise Failure(f"kill {REGISTERED[kind]} answered {answer}")
        self.kills[kind] += 1
        self.log.append((time.monotonic(), f"{kind} {answer['killed']}"))
        if kind in COSTLY:
            self.costly_pending = (kind, answer["killed"])
        if kind == "Dispatcher":
            self.last_dispatcher = time.monotonic()

    def run(self, until):
        while time.monotonic() < until and not self.stop.is_set():
            self.step()


class WebClient(threading.Thread):
    """A browser: creates, changes and reads over HTTP until the deadline."""

    def __init__(self, desk, model, seed, until, stop, number):
        super().__init__(daemon=True)
        self.desk, self.model, self.rng = desk, model, random.Random(seed)
        self.until, self.stop, self.number = until, stop, number
        self.client = desk.client()
        self.error = None
        self.unreachable = 0  # requests the web could not take (it was restarting)
        self.n = 0

    def sign_in(self):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            r = self.call("POST", "/api/session", {"name": ADMIN, "password": ADMIN_PW}, sign_in=False)
            if r is not None and r.status == 200:
                return
            if r is not None and r.status != 503:
                raise Failure(f"sign-in answered {r}")
        raise Failure("could not sign in for 60 s")

    def call_once(self, method, path, body):
        """A change under an Idempotency-Key of its own, repeated (same key)
        while the answer is 504 outcome_unknown: the definite answer (None:
        the request was cut, outcome unknown, not retried), and whether it
        was a replay of the first try."""
        key = f"chaos-web{self.number}-{self.n}"
        deadline = time.monotonic() + 60
        while True:
            r = self.call(method, path, body, headers={"Idempotency-Key": key})
            if r is None or r.status != 504:
                return r, r is not None and r.header("Idempotent-Replayed") == "true"
            if time.monotonic() > deadline:
                raise Failure(f"{method} {path}: outcome still unknown after 60 s of retries")

    def call(self, method, path, body=None, sign_in=True, headers=None):
        """The answer, or None when the request could not be made or its
        connection was cut (the web restarting), or a read's connection was
        killed (its last words, 500 internal_error); a change's killed
        connection answers 504 outcome_unknown, which call_once retries."""
        started = time.monotonic()
        try:
            r = self.client.request(method, path, body, headers=headers)
        except (OSError, http.client.HTTPException):
            self.unreachable += 1
            self.model.answered(f"web {method} {path} (cut)", time.monotonic() - started)
            self.stop.wait(0.02)  # a refused connection is instant: pace the retries
            return None
        self.model.answered(f"web {method} {path}", time.monotonic() - started)
        if r.status == 500 and (r.json or {}).get("code") == "internal_error":
            self.unreachable += 1  # a read whose connection was killed
            return None
        if r.status >= 400 and not r.json:
            raise Failure(f"{method} {path}: an error not in the API's JSON: {r}")
        if r.status == 401 and sign_in:  # a session of a web that was restarted: sign in again
            self.sign_in()
            return None
        if r.status >= 400:
            code = (r.json or {}).get("code")
            self.model.error(f"http {r.status} {code}")
            untrue_of_agents(f"{method} {path}", code, r)
        return r

    def step(self):
        self.n += 1
        ids = self.model.ids()
        r = self.rng.random()
        if r < 0.25 or not ids:
            description = f"web {self.number}.{self.n}"
            res, replayed = self.call_once("POST", "/api/tickets",
                                           {"description": description, "customer": "Web"})
            if res is not None and res.status == 201:
                self.model.ack_create(res.json["ticket"], description, replayed)
            elif res is not None and res.status not in (503,):
                raise Failure(f"create answered {res}")
            return
        tid = self.rng.choice(ids[-100:])
        floor = self.model.floor(tid)
        if r < 0.45:
            res = self.call("GET", f"/api/tickets/{tid}")
            if res is None:
                return
            if res.status == 200:
                self.model.check_read(tid, res.json["ticket"], floor, f"GET ticket {tid}")
            elif res.status == 404:
                self.model.known(tid, f"GET /api/tickets/{tid}", res)
            elif res.status != 503:
                raise Failure(f"GET /api/tickets/{tid} answered {res}")
            return
        action, _, body, text = pick_change(self.rng, tid, f"web {self.number}.{self.n}")
        path = f"/api/tickets/{tid}/{action}"
        res, replayed = self.call_once("POST", path, body)
        if res is None:
            return
        if res.status == 200:
            self.model.ack_change(tid, action, text, res.json["ticket"], floor, path, replayed)
        elif res.status == 404:
            self.model.known(tid, path, res)
        elif res.status not in (400, 409, 503):
            raise Failure(f"POST {path} answered {res}")

    def run(self):
        try:
            self.sign_in()
            while time.monotonic() < self.until and not self.stop.is_set():
                self.step()
        except Exception as e:  # noqa: BLE001 (reported by the main thread)
            self.error = f"{type(e).__name__}: {e}"
            self.stop.set()


def check_kill_command(desk):
    """kill refuses what names no process, and kills by pid or by name."""
    for command, code in (("kill", "bad_argument"), ("kill 1 2", "bad_argument"),
                          ("kill NoSuchName", "no_such_process"), ("kill <0.0.999>", "no_such_process"),
                          # outside the tree: nothing would restart them
                          ("kill SupportSystem.Console", "outside_tree"),
                          ("kill SupportSystem.ConsoleWatcher", "outside_tree")):
        answer = desk.command(command)
        if answer.get("ok") or answer["error"]["code"] != code:
            raise Failure(f"{command!r} answered {answer}, expected {code}")
    for how in ("name", "pid"):
        store = desk.command("tree")["tree"]["children"][0]
        answer = desk.command(f"kill {'SupportSystem.Store' if how == 'name' else store['pid']}")
        if not answer.get("ok") or answer["killed"] != store["pid"] or answer["name"] != "SupportSystem.Store":
            raise Failure(f"kill the Store by {how} ({store}) answered {answer}")
        deadline = time.monotonic() + 60  # the exit signal is on its way: poll
        while True:
            again = desk.command("tree")["tree"]["children"][0]
            # The tree is read from the supervisors' tables, without a call:
            # it may show the Store between its end and its restart (no pid).
            if again["name"] == "Store" and again.get("status") == "running" and \
                    again["pid"] not in (store["pid"], "undefined") and again["restarts"] > store["restarts"]:
                break
            if time.monotonic() > deadline:
                raise Failure(f"the Store after kill by {how}: {again} (was {store})")
            time.sleep(0.01)


def tree_whole(tree):
    """The names of what is not running in the tree ([] when whole)."""
    missing = []
    expected = {"SupportSystem.Supervisor": ["Store", "TicketRegistry", "Agents", "TicketSupervisor",
                                             "Notifier", "Web"],
                "Notifier": ["Dispatcher"], "Web": ["Events", "HTTP"],
                "HTTP": ["connections", "acceptor 0", "drainer"]}

    def walk(node):
        if node.get("status", "running") != "running" or node.get("pid", "undefined") == "undefined":
            missing.append(node["name"])
        names = [c["name"] for c in node.get("children", [])]
        missing.extend(f"{node['name']}/{n}" for n in expected.get(node["name"], []) if n not in names)
        for child in node.get("children", []):
            walk(child)

    walk(tree)
    return missing


def wait_whole(desk, deadline_s):
    deadline = time.monotonic() + deadline_s
    while True:
        answer = desk.command("tree")
        missing = tree_whole(answer["tree"]) if answer.get("ok") else ["tree"]
        stats = desk.command("stats")
        pending = stats["notifications"]["pending"] if stats.get("ok") else None
        if not missing and pending == 0:
            return
        if time.monotonic() > deadline:
            raise Failure(f"{deadline_s} s after the chaos: not running {missing},"
                          f" {pending} notifications pending")
        time.sleep(0.1)


def check_database(db, model):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
        if integrity != "ok":
            raise Failure(f"integrity_check: {integrity}")
        tickets = {i: (d, v) for i, d, v in con.execute("SELECT id, description, version FROM tickets")}
        history = collections.defaultdict(list)
        for ticket, what in con.execute("SELECT ticket, what FROM history ORDER BY id"):
            history[ticket].append(what)
        messages = set(con.execute("SELECT ticket, internal, body FROM messages"))
        names = {n for (n,) in con.execute("SELECT name FROM agents")}
    finally:
        con.close()
    lost = []
    for tid, description in model.created.items():
        if tickets.get(tid, (None,))[0] != description:
            lost.append(f"create of ticket {tid} ({description!r})")
        elif len(history[tid]) != tickets[tid][1] + 1:
            lost.append(f"ticket {tid}: version {tickets[tid][1]}, {len(history[tid])} history entries")
    for tid, version, action, text in model.changes:
        entries = history.get(tid, [])
        if version >= len(entries) or not entries[version].startswith(WHAT[action]):
            lost.append(f"{action} of ticket {tid} at version {version}"
                        f" (history there: {entries[version] if version < len(entries) else None!r})")
        if text is not None and (tid, int(action == "note"), text) not in messages:
            lost.append(f"{action} {text!r} of ticket {tid}")
    for tid, floor, action, text in model.replayed:
        entries = history.get(tid, [])
        if not any(e.startswith(WHAT[action]) for e in entries[floor + 1:]):
            lost.append(f"{action} of ticket {tid} after version {floor} (replayed)")
        if text is not None and (tid, int(action == "note"), text) not in messages:
            lost.append(f"{action} {text!r} of ticket {tid}")
    lost += [f"agent {a}" for a in sorted(model.agents - names)]
    return lost


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    binary = os.path.abspath(sys.argv[1])
    seconds = float(sys.argv[2] if len(sys.argv) == 3 else os.environ.get("CHAOS_SECONDS", "30"))
    seed = int(os.environ.get("CHAOS_SEED", str(time.time_ns() % 1000000)))
    rng = random.Random(seed)
    model = Model()
    with tempfile.TemporaryDirectory() as tmp:
        desk = Desk(binary, tmp)
        stop = threading.Event()
        clients = []
        console = None
        try:
            setup = desk.client().post("/api/setup", {"token": desk.setup_token, "name": ADMIN,
                                                      "password": ADMIN_PW})
            if setup.status != 200:
                raise Failure(f"setup answered {setup}")
            check_kill_command(desk)
            console = Console(desk, model, rng, stop)
            console.restarts["top"] += [time.monotonic()] * 2  # the check restarted the Store twice
            started = time.monotonic()
            until = started + seconds
            clients = [WebClient(desk, model, rng.random(), until, stop, i)
                       for i in range(WEB_CLIENTS)]
            for c in clients:
                c.start()
            console.run(until)
            for c in clients:
                c.join(timeout=60)
                if c.error:
                    raise Failure(f"web client {c.number}: {c.error}")
            elapsed = time.monotonic() - started
            wait_whole(desk, 90)
            rc = desk.quit()
            if rc != 0:
                raise Failure(f"the desk quit with status {rc}")
            lost = check_database(desk.db, model)
            if lost:
                raise Failure(f"{len(lost)} acknowledged changes lost: {lost[:10]}")
        except Failure as e:
            stop.set()
            if desk.proc.poll() is None:
                desk.proc.kill()
            print(f"desk chaos (seed {seed}): FAIL: {e}")
            if console is not None:
                print("the kills, the last 20:", ", ".join(f"{t - console.log[0][0]:.2f} s {k}"
                                                          for t, k in console.log[-20:]))
            err = desk.stderr().splitlines()
            print("\n".join(line for line in err if not line.startswith("=") or "supervisor <0." in line
                            and "dynamic_supervisor" not in line)[-8000:])
            return 1
        finally:
            stop.set()
            if desk.proc.poll() is None:
                desk.proc.kill()
    kills = ", ".join(f"{k} {n}" for k, n in sorted(console.kills.items(), key=lambda x: -x[1]))
    spared = [k for k in COSTLY if not console.kills[k]]
    if spared:  # only when the machine is too slow for a round in the time given
        kills += f"; not reached in this run: {', '.join(spared)}"
    unreachable = sum(c.unreachable for c in clients)
    errors = ", ".join(f"{k} {n}" for k, n in model.errors.most_common(8))
    print(f"desk chaos (seed {seed}): ok: {elapsed:.1f} s; {sum(console.kills.values())} kills ({kills});"
          f" {len(model.created)} creates and {len(model.changes)} changes acknowledged"
          f" ({len(model.replayed)} more made once after outcome_unknown and a retry), all checked,"
          f" 0 lost; {model.answers} answers, the longest {model.max_latency:.2f} s"
          f" ({model.slowest}; bound {ANSWER_BOUND_S:.0f} s); errors answered meanwhile: {errors or 'none'};"
          f" {unreachable} web requests cut or refused")
    return 0


if __name__ == "__main__":
    sys.exit(main())
