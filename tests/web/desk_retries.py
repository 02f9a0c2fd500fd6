#!/usr/bin/env python3
"""Answers that tell the truth, and retries applied once (docs/desk.md, "When
the answer is outcome unknown"; docs/api-http.md, Idempotency-Key).

1. A change whose outcome is unknown says so. The desk runs with the Store's
   test hook ARBOR_DESK_TEST_COMMIT_DELAY_MS (each batch that writes waits
   before its COMMIT, as behind a stalled disk) longer than the call timeout
   ARBOR_DESK_CALL_TIMEOUT_MS: every change times out while its commit is
   still to come, deterministically. The console and HTTP answers must say
   outcome_unknown (never "could not" or "failed"), and a retry under the
   same request id must be answered with the first outcome, the change
   existing exactly once.
2. Idempotency-Key over HTTP on an ordinary desk: a retried create or
   change is made once and answered as the first time; a key reused for
   another request is refused (422) and changes nothing. The same for the
   roster's changes, over HTTP and at the console (--request-id).
3. A commit that SQLite cannot finish (the desk runs under a file size
   limit, RLIMIT_FSIZE, so that writing the log fails at some commit): the
   answer is outcome_unknown, and every acknowledged ticket is in the file.
4. Concurrent edits: two agents race conflicting changes on one ticket,
   many times; exactly one wins each race, the loser gets 409 naming the
   winner, and the history holds each change once.

usage: desk_retries.py PATH_TO_support_system
"""
import http.client
import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from desk import DEADLINE_S, Desk, Failure  # noqa: E402

ADMIN_PW = "correct horse"
SCALE = float(os.environ.get("ARBOR_TEST_TIMEOUT_SCALE", "1") or 1)
CALL_TIMEOUT_MS = int(400 * SCALE)
COMMIT_DELAY_MS = 4 * CALL_TIMEOUT_MS
RACES = 25


def expect(resp, status, code=None, what=""):
    if resp.status != status:
        raise Failure("%s: expected %d, got %r" % (what, status, resp))
    if code is not None and (not resp.json or resp.json.get("code") != code):
        raise Failure("%s: expected code %r, got %r" % (what, code, resp))
    return resp.json


def admin_of(desk):
    c = desk.client()
    r = c.post("/api/setup", {"token": desk.setup_token, "name": "ada", "password": ADMIN_PW})
    expect(r, 200, what="the first admin")
    return c


def honest_unknown(message, what):
    """An unknown outcome is never told as a failure."""
    low = message.lower()
    for word in ("could not", "failed", "cannot"):
        if word in low:
            raise Failure("%s: an unknown outcome told as a failure: %r" % (what, message))
    if "may or may not" not in low:
        raise Failure("%s: the answer does not say the change may have been made: %r"
                      % (what, message))


def console_unknown(desk, line, request_id):
    """line's change times out: the answer is outcome_unknown, and names the
    request id to retry with."""
    a = desk.command(line)
    err = a.get("error") or {}
    if a.get("ok") is not False or err.get("code") != "outcome_unknown":
        raise Failure("%r: expected outcome_unknown, got %r" % (line, a))
    honest_unknown(err["message"], line)
    rid = a.get("request_id")
    if not rid or (request_id and rid != request_id) or ("--request-id " + rid) not in \
            err["message"]:
        raise Failure("%r: the answer does not say how to retry: %r" % (line, a))
    return rid


def console_retry(desk, line):
    """Retries line until the desk answers it for certain (each try may time
    out again while the first commit is still to come)."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        a = desk.command(line)
        if a.get("ok"):
            return a
        code = (a.get("error") or {}).get("code")
        if code == "outcome_unknown":
            honest_unknown(a["error"]["message"], line)
        elif code != "unavailable":  # the worker stopped before taking it: retry
            raise Failure("%r: a retry answered %r" % (line, a))
    raise Failure("%r: no certain answer within %d s" % (line, DEADLINE_S))


def http_retry(client, path, body, key, what):
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        r = client.post(path, body, headers={"Idempotency-Key": key})
        if r.status == 503 and r.json and r.json.get("code") == "unavailable":
            continue
        if r.status != 504:
            return r
        expect(r, 504, "outcome_unknown", what)
        honest_unknown(r.json["message"], what)
    raise Failure("%s: no certain answer within %d s" % (what, DEADLINE_S))


def history_of(desk, tid):
    a = desk.command("show %d" % tid)
    if not a.get("ok"):
        raise Failure("show %d: %r" % (tid, a))
    return a["ticket"]["history"]


def count(history, what, text=None):
    return sum(1 for h in history
               if h["what"] == what and (text is None or h.get("text") == text))


def outcome_unknown(binary, tmp):
    os.environ["ARBOR_DESK_CALL_TIMEOUT_MS"] = str(CALL_TIMEOUT_MS)
    os.environ["ARBOR_DESK_TEST_COMMIT_DELAY_MS"] = str(COMMIT_DELAY_MS)
    try:
        desk = Desk(binary, tmp, name="slow")
    finally:
        del os.environ["ARBOR_DESK_CALL_TIMEOUT_MS"]
        del os.environ["ARBOR_DESK_TEST_COMMIT_DELAY_MS"]
    try:
        # A create: unknown, then the retry answers the ticket it made.
        line = "create --request-id slow-create-1 --customer Acme Printer on fire"
        console_unknown(desk, line, "slow-create-1")
        a = console_retry(desk, line)
        tid = a["ticket"]["id"]
        if not a.get("replayed"):
            raise Failure("the retried create was not answered as made before: %r" % a)
        a = console_retry(desk, line)  # and again, the same ticket
        if a["ticket"]["id"] != tid:
            raise Failure("a retried create answered another ticket: %r" % a)
        found = desk.command("list --search fire")
        if [t["id"] for t in found["tickets"]] != [tid]:
            raise Failure("the retried create made %r" % found)

        # A note: made once however often it is retried.
        line = "note %d --request-id slow-note-1 call them back" % tid
        console_unknown(desk, line, "slow-note-1")
        console_retry(desk, line)
        console_retry(desk, line)
        if count(history_of(desk, tid), "added a note", "call them back") != 1:
            raise Failure("the retried note is not there once: %r" % history_of(desk, tid))
        # The same id for another request is refused, and changes nothing.
        a = desk.command("note %d --request-id slow-note-1 something else" % tid)
        if (a.get("error") or {}).get("code") != "request_id_reused":
            raise Failure("a request id reused for another note: %r" % a)
        if count(history_of(desk, tid), "added a note") != 1:
            raise Failure("a refused note was added")

        # Without --request-id the console makes one up, and says it.
        line = "note %d plain words" % tid
        rid = console_unknown(desk, line, None)
        console_retry(desk, line + " --request-id " + rid)
        if count(history_of(desk, tid), "added a note", "plain words") != 1:
            raise Failure("the note retried under the console's id: %r" % history_of(desk, tid))

        # A transition: resolve retried after its first answer was unknown.
        console_retry(desk, "assign %d alice --request-id slow-assign-1" % tid)
        line = "resolve %d --request-id slow-resolve-1" % tid
        console_unknown(desk, line, "slow-resolve-1")
        a = console_retry(desk, line)
        if a["ticket"]["status"] != "resolved":
            raise Failure("resolve retried: %r" % a)
        if count(history_of(desk, tid), "resolved") != 1:
            raise Failure("resolved twice? %r" % history_of(desk, tid))

        # Over HTTP: 504 outcome_unknown, then the first outcome.
        admin = admin_of(desk)
        body = {"description": "Fax jammed"}
        r = admin.post("/api/tickets", body, headers={"Idempotency-Key": "slow-http-1"})
        expect(r, 504, "outcome_unknown", "a create whose commit is late")
        honest_unknown(r.json["message"], "HTTP create")
        # A read queued behind that commit is answered in time too: the
        # Store is busy, nothing was changed (never an untyped error).
        r = admin.get("/api/tickets/%d" % tid)
        expect(r, 503, "store_busy", "a read behind a late commit")
        r = http_retry(admin, "/api/tickets", body, "slow-http-1", "HTTP create retried")
        t = expect(r, 201, what="the retried HTTP create")["ticket"]
        if r.header("Idempotent-Replayed") != "true":
            raise Failure("the retry is not marked as replayed: %r" % r.headers)
        found = desk.command("list --search Fax")
        if [x["id"] for x in found["tickets"]] != [t["id"]]:
            raise Failure("the retried HTTP create made %r" % found)
        connection_killed(desk, admin)
        sign_in_killed(desk, admin)
        if desk.quit() != 0:
            raise Failure("the slow desk did not quit cleanly")
    except Failure:
        print("--- slow desk stderr:")
        print(desk.stderr())
        if desk.proc.poll() is None:
            desk.proc.kill()
        raise


def connection_pids(desk):
    """The pids of the web's connections, from the tree."""
    pids = []

    def walk(node):
        if node.get("name") == "http_connection" and node.get("pid", "undefined") != "undefined":
            pids.append(node["pid"])
        for child in node.get("children", []):
            walk(child)

    walk(desk.command("tree")["tree"])
    return pids


def connection_killed(desk, admin):
    """A change whose connection's process is killed while it waits for
    its commit (as when its supervisor is killed) is answered 504
    outcome_unknown in the API's JSON, not a plain 500; and the retry under
    its key makes it once. The connection is found first (a read on it,
    while the Store is idle, then the tree), then the change is sent on it
    and the connection killed before the call's own timeout."""
    for attempt in range(5):
        key = "killed-connection-%d" % attempt
        body = {"description": "Scanner smoking %d" % attempt}
        conn = http.client.HTTPConnection("127.0.0.1", desk.port, timeout=DEADLINE_S)
        head = {"Cookie": "arbor_session=" + admin.cookie}
        conn.request("GET", "/api/session", headers=head)
        conn.getresponse().read()
        pids = connection_pids(desk)
        if len(pids) != 1:
            conn.close()
            continue
        conn.request("POST", "/api/tickets", body=json.dumps(body).encode(),
                     headers=dict(head, **{"Content-Type": "application/json",
                                           "X-CSRF-Token": admin.csrf, "Idempotency-Key": key}))
        time.sleep(0.1 * SCALE)  # in the handler now, waiting for the late commit
        desk.command("kill %s" % pids[0])
        try:
            r = conn.getresponse()
            status, content_type, text = r.status, r.getheader("Content-Type"), r.read().decode()
        except (http.client.HTTPException, OSError):
            continue  # killed before its handler ran (a busy machine): no last words; again
        finally:
            conn.close()
        if status == 504 and "no answer in time" in text:
            continue  # the call's own timeout came first: again
        if status != 504 or content_type != "application/json" or \
                json.loads(text).get("code") != "outcome_unknown":
            raise Failure("a create whose connection was killed: %d %s %r"
                          % (status, content_type, text))
        honest_unknown(json.loads(text)["message"], "a create whose connection was killed")
        r = http_retry(admin, "/api/tickets", body, key, "a killed connection's create retried")
        expect(r, 201, what="the retried create after a killed connection")
        found = desk.command("list --search Scanner")
        if len(found["tickets"]) != 1:
            raise Failure("a killed connection's create, retried, made %r" % found)
        return
    raise Failure("no connection could be killed while its change waited")


def sign_in_killed(desk, admin):
    """A sign-in whose connection's process is killed before it answers
    (its read of the credentials queued behind a late commit) is answered
    503 unavailable in the API's JSON: no session reached the client, so
    it signs in again; not 504, for nothing it must reconcile was made."""
    for attempt in range(5):
        conn = http.client.HTTPConnection("127.0.0.1", desk.port, timeout=DEADLINE_S)
        conn.request("GET", "/api/session")
        conn.getresponse().read()
        pids = connection_pids(desk)
        if len(pids) != 1:
            conn.close()
            continue
        # A create holds the Store in its late commit meanwhile.
        key = "stall-for-sign-in-%d" % attempt
        stall = threading.Thread(target=lambda: admin.post(
            "/api/tickets", {"description": "Stalling %d" % attempt},
            headers={"Idempotency-Key": key}))
        stall.start()
        time.sleep(0.05 * SCALE)
        conn.request("POST", "/api/session",
                     body=json.dumps({"name": "ada", "password": ADMIN_PW}).encode(),
                     headers={"Content-Type": "application/json"})
        time.sleep(0.1 * SCALE)
        desk.command("kill %s" % pids[0])
        try:
            r = conn.getresponse()
            status, text = r.status, r.read().decode()
        except (http.client.HTTPException, OSError):
            status, text = 0, ""  # killed before its handler ran (a busy machine): again
        finally:
            conn.close()
        stall.join(DEADLINE_S)
        if status == 0:
            continue
        if status != 503 or "not signed in" not in text:
            if status in (200, 503):
                continue  # answered before the kill, or the Store was busy: again
            raise Failure("a sign-in whose connection was killed: %d %r" % (status, text))
        if json.loads(text).get("code") != "unavailable":
            raise Failure("a sign-in whose connection was killed: %r" % text)
        return
    raise Failure("no sign-in could be killed before it answered")


def file_too_big(binary, tmp):
    db = os.path.join(tmp, "full.db")

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past it fails, EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (300 * 1024, 300 * 1024))

    p = subprocess.Popen([binary, "--json", "--no-http", "--db", db], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                         preexec_fn=limit)
    acked, answer = 0, None
    try:
        for i in range(2000):
            p.stdin.write("create --customer Acme ticket %d %s\n" % (i, "x" * 150))
            p.stdin.flush()
            answer = json.loads(p.stdout.readline())
            if not answer.get("ok"):
                break
            acked += 1
        p.stdin.write("quit\n")
        p.stdin.flush()
        p.wait(DEADLINE_S)
    finally:
        if p.poll() is None:
            p.kill()
    err = (answer or {}).get("error") or {}
    if err.get("code") != "outcome_unknown":
        raise Failure("a commit that could not finish answered %r" % answer)
    honest_unknown(err["message"], "a commit that could not finish")
    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT count(*) FROM tickets").fetchone()[0]
    if stored not in (acked, acked + 1):
        raise Failure("%d tickets acknowledged, %d in the file" % (acked, stored))


def idempotency(desk, admin):
    body = {"description": "Idempotent toaster", "customer": "Acme"}
    key = {"Idempotency-Key": "create-toaster-1"}
    r1 = admin.post("/api/tickets", body, headers=key)
    t1 = expect(r1, 201, what="create with a key")["ticket"]
    if r1.header("Idempotent-Replayed"):
        raise Failure("a first create marked replayed")
    r2 = admin.post("/api/tickets", body, headers=key)
    t2 = expect(r2, 201, what="the create retried")["ticket"]
    if t2["id"] != t1["id"] or r2.header("Idempotent-Replayed") != "true" or \
            r2.header("Location") != "/api/tickets/%d" % t1["id"]:
        raise Failure("the retried create: %r %r" % (r2, r2.headers))
    same = [t for t in expect(admin.get("/api/tickets?limit=1000"), 200)["tickets"]
            if t["description"] == body["description"]]
    if len(same) != 1:
        raise Failure("a retried create made %d tickets" % len(same))
    # Another request under the key: refused, nothing made.
    expect(admin.post("/api/tickets", {"description": "Another"}, headers=key), 422,
           "request_id_reused", "a key reused for another create")
    expect(admin.post("/api/tickets", body, headers={"Idempotency-Key": "two words"}), 400,
           "bad_idempotency_key", "a key with a blank")
    expect(admin.post("/api/tickets", body, headers={"Idempotency-Key": "k" * 65}), 400,
           "bad_idempotency_key", "a key too long")
    path = "/api/tickets/%d" % t1["id"]
    # A change retried: a note made once; assign and resolve retried after
    # they moved the ticket on are answered as the first time, not refused.
    for _ in range(2):
        expect(admin.post(path + "/note", {"text": "checked the fuse"},
                          headers={"Idempotency-Key": "note-fuse"}), 200, what="note")
    v = expect(admin.get(path), 200)["ticket"]["version"]
    for i in range(2):
        r = admin.post(path + "/assign", {"agent": "bob"},
                       headers={"Idempotency-Key": "assign-bob", "If-Match": '"%d"' % v})
        t = expect(r, 200, what="assign, try %d" % i)["ticket"]
        if t["agent"] != "bob" or (r.header("Idempotent-Replayed") == "true") != (i == 1):
            raise Failure("assign, try %d: %r %r" % (i, r, r.headers))
    for i in range(2):
        r = admin.post(path + "/resolve", {}, headers={"Idempotency-Key": "resolve-1"})
        if expect(r, 200, what="resolve, try %d" % i)["ticket"]["status"] != "resolved":
            raise Failure("resolve: %r" % r)
    expect(admin.post(path + "/reopen", {}, headers={"Idempotency-Key": "note-fuse"}), 422,
           "request_id_reused", "a note's key reused for a reopen")
    expect(admin.post("/api/tickets/%d/note" % t1["id"], {"text": "another text"},
                      headers={"Idempotency-Key": "note-fuse"}), 422, "request_id_reused",
           "a note's key reused for another text")
    hist = expect(admin.get(path), 200)["ticket"]["history"]
    whats = [h["what"] for h in hist]
    if whats != ["created", "added a note", "assigned to bob", "resolved"]:
        raise Failure("the history after retries: %r" % whats)


def roster_idempotency(desk, admin):
    """The roster's changes take request ids as a ticket's do: over HTTP
    (Idempotency-Key) and at the console (--request-id)."""
    def roster():
        return [a["name"] for a in expect(admin.get("/api/agents"), 200)["agents"]]

    key = {"Idempotency-Key": "add-rita"}
    for i in range(2):
        r = admin.post("/api/agents", {"name": "rita"}, headers=key)
        expect(r, 201, what="add rita, try %d" % i)
        if (r.header("Idempotent-Replayed") == "true") != (i == 1):
            raise Failure("add rita, try %d: %r %r" % (i, r, r.headers))
    if roster().count("rita") != 1:
        raise Failure("a retried add made %r" % roster())
    expect(admin.post("/api/agents", {"name": "rudy"}, headers=key), 422, "request_id_reused",
           "an add's key reused for another agent")
    if "rudy" in roster():
        raise Failure("a refused add added rudy")
    # With a password: the retry is answered as the first; another role
    # under the key is another request.
    body = {"name": "pat", "password": "patpass!!", "role": "agent"}
    for i in range(2):
        r = admin.post("/api/agents", body, headers={"Idempotency-Key": "add-pat"})
        if expect(r, 201, what="add pat, try %d" % i)["agent"].get("role") != "agent":
            raise Failure("add pat, try %d: %r" % (i, r))
    body["role"] = "admin"
    expect(admin.post("/api/agents", body, headers={"Idempotency-Key": "add-pat"}), 422,
           "request_id_reused", "an add's key reused with another role")
    pat = desk.client()
    expect(pat.sign_in("pat", "patpass!!"), 200, what="pat signs in")
    # A rename retried after it was made: answered as made, not 404.
    for i in range(2):
        r = admin.post("/api/agents/rita/rename", {"name": "rita2"},
                       headers={"Idempotency-Key": "rename-rita"})
        if expect(r, 200, what="rename, try %d" % i)["agent"]["name"] != "rita2" or \
                (r.header("Idempotent-Replayed") == "true") != (i == 1):
            raise Failure("rename, try %d: %r %r" % (i, r, r.headers))
    expect(admin.post("/api/agents/rita2/deactivate", {},
                      headers={"Idempotency-Key": "rename-rita"}), 422, "request_id_reused",
           "a rename's key reused for a deactivate")
    expect(admin.post("/api/agents/rita2/deactivate", {},
                      headers={"Idempotency-Key": "two words"}), 400, "bad_idempotency_key",
           "a roster change with a bad key")
    names = roster()
    if "rita" in names or names.count("rita2") != 1:
        raise Failure("the roster after a retried rename: %r" % names)

    # The console: --request-id on agent-add, agent-rename, agent-*; each
    # retried once, answered as made before.
    for line in ("agent-add con --request-id con-add",
                 "agent-rename con conrad --request-id con-rename",
                 "agent-available conrad off --request-id con-off"):
        for i in range(2):
            a = desk.command(line)
            if not a.get("ok") or bool(a.get("replayed")) != (i == 1):
                raise Failure("%r, try %d: %r" % (line, i, a))
    a = desk.command("agent-add --request-id con-add other")
    if (a.get("error") or {}).get("code") != "request_id_reused":
        raise Failure("a console add's id reused for another agent: %r" % a)
    a = desk.command("agent-add x --request-id")
    if (a.get("error") or {}).get("code") != "bad_argument":
        raise Failure("agent-add with --request-id and no id: %r" % a)
    names = roster()
    if "other" in names or "con" in names or "x" in names or names.count("conrad") != 1:
        raise Failure("the roster after the console's retries: %r" % names)


def race(desk, admin):
    """Two agents race conflicting changes; exactly one wins each time."""
    clients = {}
    for name in ("alice", "bob"):
        expect(admin.post("/api/agents", {"name": name + "2", "password": name + "pass!"}), 201,
               what="add " + name + "2")
        c = desk.client()
        expect(c.sign_in(name + "2", name + "pass!"), 200, what=name + "2 signs in")
        clients[name + "2"] = c
    names = sorted(clients)

    def duel(path, bodies, version):
        barrier = threading.Barrier(2)
        out = {}

        def go(name):
            barrier.wait()
            out[name] = clients[name].post(path + "/" + bodies[name][0], bodies[name][1],
                                           headers={"If-Match": '"%d"' % version})
        threads = [threading.Thread(target=go, args=(n,)) for n in names]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        won = [n for n in names if out[n].status == 200]
        lost = [n for n in names if out[n].status != 200]
        if len(won) != 1:
            raise Failure("%s: %d winners: %r" % (path, len(won), out))
        loser = out[lost[0]]
        expect(loser, 409, "conflict", "the race's loser")
        if won[0] not in loser.json["message"]:
            raise Failure("the conflict does not name the winner %s: %r" % (won[0], loser.json))
        return won[0], out[won[0]].json["ticket"]

    for i in range(RACES):
        t = expect(admin.post("/api/tickets", {"description": "race %d" % i}), 201)["ticket"]
        path = "/api/tickets/%d" % t["id"]
        # Each assigns the ticket to themselves, from the same version.
        winner, t2 = duel(path, {n: ("assign", {"agent": n}) for n in names}, t["version"])
        if t2["agent"] != winner:
            raise Failure("%s won, but the ticket went to %r" % (winner, t2))
        # One resolves, the other reassigns to themselves, from the same version.
        bodies = {names[0]: ("resolve", {}), names[1]: ("reassign", {"agent": names[1]})}
        if winner == names[1]:
            bodies[names[1]] = ("resolve", {})
            bodies[names[0]] = ("reassign", {"agent": names[0]})
        winner2, t3 = duel(path, bodies, t2["version"])
        shown = expect(admin.get(path), 200)["ticket"]
        whats = [h["what"] for h in shown["history"]]
        if whats.count("created") != 1 or sum(w.startswith("assigned to") for w in whats) != 1:
            raise Failure("race %d: the history after the assign race: %r" % (i, whats))
        if len(whats) != 3 or whats[1] != "assigned to " + winner or \
                shown["version"] != t["version"] + 2:
            raise Failure("race %d: lost or doubled a change: %r" % (i, shown))
        resolved = whats[2] == "resolved"
        if resolved != (shown["status"] == "resolved") or \
                [h["who"] for h in shown["history"]][2] != winner2:
            raise Failure("race %d: the second race's winner %s, history %r"
                          % (i, winner2, shown["history"]))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    binary = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        try:
            outcome_unknown(binary, tmp)
            file_too_big(binary, tmp)
            desk = Desk(binary, tmp)
            try:
                admin = admin_of(desk)
                idempotency(desk, admin)
                roster_idempotency(desk, admin)
                race(desk, admin)
                if desk.quit() != 0:
                    raise Failure("the desk did not quit cleanly")
            except Failure:
                print("--- desk stderr:")
                print(desk.stderr())
                if desk.proc.poll() is None:
                    desk.proc.kill()
                raise
        except Failure as e:
            print("FAIL:", e)
            sys.exit(1)
    print("desk retries: unknown outcomes said, retries made once, races won once")


if __name__ == "__main__":
    main()
