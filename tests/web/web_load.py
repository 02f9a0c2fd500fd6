#!/usr/bin/env python3
"""The desk's JSON API under load (issue 18, "Load"): 64 keep-alive
connections, each a thread, run the ticket mix for LOAD_SECONDS against
support_system --http 127.0.0.1:0 on a durable database: create, read the
ticket (GET /api/tickets/:id), assign and resolve, each change sending the
version the answer before it gave (If-Match). Every answer must be the
expected 2xx and no connection may be closed under it; after the desk has
quit, the database is read back and every acknowledged change must be
there: each ticket at the status and version its last answer said, with a
history entry per change.

usage: web_load.py PATH_TO_support_system
"""
import http.client
import json
import os
import sqlite3
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from desk import DEADLINE_S, Desk, Failure  # noqa: E402

CONNECTIONS = 64
LOAD_SECONDS = 3.0
ADMIN_PW = "correct horse"
STATUS_NUMBER = {"open": 0, "assigned": 1, "resolved": 2}  # ticket.h's stored numbers


class Worker(threading.Thread):
    """One keep-alive connection running the mix until the deadline."""

    def __init__(self, port, cookie, csrf, deadline):
        super().__init__(daemon=True)
        self.port, self.cookie, self.csrf, self.deadline = port, cookie, csrf, deadline
        self.acknowledged = {}  # ticket id -> (status, version, changes acknowledged)
        self.requests = 0
        self.error = None

    def call(self, conn, method, path, body=None, version=None, expect=200):
        headers = {"Cookie": "arbor_session=" + self.cookie}
        data = None
        if method == "POST":
            headers["X-CSRF-Token"] = self.csrf
            headers["Content-Type"] = "application/json"
            data = json.dumps(body or {}).encode()
        if version is not None:
            headers["If-Match"] = '"%d"' % version
        conn.request(method, path, body=data, headers=headers)
        r = conn.getresponse()
        text = r.read().decode("utf-8", "replace")
        self.requests += 1
        if r.status != expect:
            raise Failure("%s %s answered %d (expected %d): %s"
                          % (method, path, r.status, expect, text[:300]))
        if r.getheader("Connection", "").lower() == "close":
            raise Failure("%s %s closed the keep-alive connection" % (method, path))
        ticket = json.loads(text)["ticket"]
        if r.getheader("ETag") != '"%d"' % ticket["version"]:
            raise Failure("%s %s: ETag %r for version %d"
                          % (method, path, r.getheader("ETag"), ticket["version"]))
        return ticket

    def one_ticket(self, conn):
        t = self.call(conn, "POST", "/api/tickets",
                      {"description": "Load test", "customer": "Load"}, expect=201)
        tid = t["id"]
        self.acknowledged[tid] = ("open", t["version"], 1)
        got = self.call(conn, "GET", "/api/tickets/%d" % tid)
        if got["version"] != t["version"] or got["status"] != "open":
            raise Failure("ticket %d read back as %r" % (tid, got))
        t = self.call(conn, "POST", "/api/tickets/%d/assign" % tid, version=t["version"])
        if t["status"] != "assigned":
            raise Failure("assign answered %r" % t)
        self.acknowledged[tid] = ("assigned", t["version"], 2)
        t = self.call(conn, "POST", "/api/tickets/%d/resolve" % tid, version=t["version"])
        if t["status"] != "resolved":
            raise Failure("resolve answered %r" % t)
        self.acknowledged[tid] = ("resolved", t["version"], 3)

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=DEADLINE_S)
        try:
            conn.connect()
            conn.auto_open = 0  # a closed keep-alive connection is an error, not a reconnect
            while time.monotonic() < self.deadline:
                self.one_ticket(conn)
        except (Failure, OSError, http.client.HTTPException, ValueError, KeyError) as e:
            self.error = "%s: %s" % (type(e).__name__, e)
        finally:
            conn.close()


def sign_in_admin(desk):
    c = desk.client()
    r = c.post("/api/setup", {"token": desk.setup_token, "name": "ada", "password": ADMIN_PW})
    if r.status != 200:
        raise Failure("setup answered %r" % r)
    return c


def check_stored(db, acknowledged):
    """Every acknowledged change is in the database."""
    h = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    try:
        for tid, (status, version, changes) in acknowledged.items():
            row = h.execute("SELECT status, version, (SELECT COUNT(*) FROM history"
                            " WHERE ticket = tickets.id) FROM tickets WHERE id = ?",
                            (tid,)).fetchone()
            if row is None:
                raise Failure("acknowledged ticket %d is not stored" % tid)
            if row[0] != STATUS_NUMBER[status] or row[1] != version or row[2] < changes:
                raise Failure("ticket %d stored as (status %d, version %d, %d history entries),"
                              " acknowledged as (%s, version %d, %d changes)"
                              % (tid, row[0], row[1], row[2], status, version, changes))
    finally:
        h.close()


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    binary = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        desk = Desk(binary, tmp)
        try:
            admin = sign_in_admin(desk)
            deadline = time.monotonic() + LOAD_SECONDS
            workers = [Worker(desk.port, admin.cookie, admin.csrf, deadline)
                       for _ in range(CONNECTIONS)]
            for w in workers:
                w.start()
            for w in workers:
                w.join(LOAD_SECONDS + DEADLINE_S)
                if w.is_alive():
                    raise Failure("a connection was still waiting %d s after the load"
                                  % DEADLINE_S)
            errors = [w.error for w in workers if w.error]
            if errors:
                raise Failure("%d of %d connections failed; the first: %s"
                              % (len(errors), CONNECTIONS, errors[0]))
            acknowledged = {}
            for w in workers:
                acknowledged.update(w.acknowledged)
            requests = sum(w.requests for w in workers)
            if any(w.requests == 0 for w in workers):
                raise Failure("a connection made no request")
            rc = desk.quit()
            if rc != 0:
                raise Failure("the desk exited with %d" % rc)
            check_stored(desk.db, acknowledged)
        except Failure as e:
            print("FAIL:", e)
            print("--- desk stderr:")
            print(desk.stderr()[-4000:])
            if desk.proc.poll() is None:
                desk.proc.kill()
            sys.exit(1)
    print("web load: %d connections, %d requests in %.0f s, all answered 2xx; "
          "%d tickets, every acknowledged change stored"
          % (CONNECTIONS, requests, LOAD_SECONDS, len(acknowledged)))


if __name__ == "__main__":
    main()
