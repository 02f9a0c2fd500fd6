#!/usr/bin/env python3
"""A ticket with a very long history is shown a page at a time.

usage: desk_history_pages.py PATH_TO_support_system

Makes a desk database with one ticket (created and assigned through the
desk), then inserts 200,000 history entries for it directly with sqlite3,
as years of changes would leave them, and starts the desk on it:

  - show (console, --json) answers the latest STORE_HISTORY_PAGE (50)
    entries, oldest first, the newest last, with the history's total and
    how many entries are older than the page;
  - show ID --before K --history N answers the N entries before entry K,
    and the count of those older still; the first page has none older;
  - --history beyond 1000, or 0, is refused and changes nothing;
  - the console's text says how many older entries there are and the
    command that shows them;
  - GET /api/tickets/ID answers the same latest page, ?before=K&history=N
    the older ones, and a bad parameter is a 400 {code, message}.

A desk that reads the whole history answers 200,000 entries here (and
took seconds to do it): the checks are on the page's size and counts,
never on time.
"""
import os
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "web"))
from desk import Desk, Failure  # noqa: E402

PASSWORD = "correct horse battery"
EXTRA = 200000
PAGE = 50


def history_of(answer, what):
    if not answer.get("ok"):
        raise Failure("%s: %r" % (what, answer))
    return answer["ticket"]


def check_page(t, n, total, older, what):
    h = t["history"]
    if len(h) != n or t["history_total"] != total or t["history_older"] != older:
        raise Failure("%s: expected %d entries of %d, %d older; got %d entries, total %r,"
                      " older %r" % (what, n, total, older, len(h), t.get("history_total"),
                                     t.get("history_older")))
    ids = [e["id"] for e in h]
    if ids != sorted(ids) or len(set(ids)) != len(ids):
        raise Failure("%s: the entries are not oldest first: %r" % (what, ids[:5]))
    return h


def main():
    binary = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        desk = Desk(binary, tmp)
        c = desk.client()
        if c.post("/api/setup", {"token": desk.setup_token, "name": "ada",
                                 "password": PASSWORD}).status != 200:
            raise Failure("the first admin")
        tid = history_of(desk.command("create -- a ticket with a long past"), "create")["id"]
        history_of(desk.command("assign %d alice" % tid), "assign")
        if desk.quit() != 0:
            raise Failure("the desk did not quit")

        con = sqlite3.connect(desk.db)
        with con:
            con.executemany(
                "INSERT INTO history(ticket, at, who, role, what) VALUES(?, ?, 'console',"
                " 'operator', ?)", ((tid, 1700000000000 + k, "entry %d" % k) for k in range(EXTRA)))
        con.close()
        total = EXTRA + 2  # created, assigned, then the inserted ones

        desk = Desk(binary, tmp, first_start=False)
        try:
            latest = check_page(history_of(desk.command("show %d" % tid), "show"), PAGE, total,
                                total - PAGE, "show")
            if latest[-1]["what"] != "entry %d" % (EXTRA - 1):
                raise Failure("show: the newest entry is not last: %r" % latest[-1])
            before = latest[0]["id"]
            older = check_page(
                history_of(desk.command("show %d --before %d --history 10" % (tid, before)),
                           "show --before"), 10, total, total - PAGE - 10, "show --before")
            if older[-1]["id"] >= before or older[-1]["what"] != "entry %d" % (EXTRA - PAGE - 1):
                raise Failure("show --before: not the entries just before: %r" % older[-1])
            first = check_page(
                history_of(desk.command("show %d --history 1000 --before %d" % (tid, latest[0]["id"] - (total - PAGE) + 2)),
                           "the first page"), 2, total, 0, "the first page")
            if [e["what"] for e in first] != ["created", "assigned to alice"]:
                raise Failure("the first page: %r" % first)
            for bad in ("show %d --history 1001" % tid, "show %d --history 0" % tid,
                        "show %d --before x" % tid, "show %d --history" % tid):
                a = desk.command(bad)
                if a.get("ok") is not False or a["error"]["code"] != "bad_argument":
                    raise Failure("%s: %r" % (bad, a))

            c = desk.client()
            if c.post("/api/session", {"name": "ada", "password": PASSWORD}).status != 200:
                raise Failure("sign in")
            r = c.get("/api/tickets/%d" % tid)
            if r.status != 200:
                raise Failure("GET the ticket: %r" % r)
            check_page(r.json["ticket"], PAGE, total, total - PAGE, "GET the ticket")
            r = c.get("/api/tickets/%d?before=%d&history=10" % (tid, before))
            got = check_page(r.json["ticket"], 10, total, total - PAGE - 10, "GET ?before")
            if [e["id"] for e in got] != [e["id"] for e in older]:
                raise Failure("GET ?before is not the console's page")
            for q in ("history=0", "history=1001", "before=-1", "before=x"):
                r = c.get("/api/tickets/%d?%s" % (tid, q))
                if r.status != 400 or not r.json or r.json.get("code") != "bad_argument":
                    raise Failure("GET ?%s: %r" % (q, r))
        finally:
            desk.quit()

        # The console's text: the page, and how to see what is older.
        p = subprocess.run([binary, "--no-http", "--db", desk.db], input="show %d\n" % tid,
                           capture_output=True, text=True, timeout=120)
        hint = "... %d older entries of %d (show %d --before %d" % (total - PAGE, total, tid,
                                                                   before)
        if hint not in p.stdout or p.stdout.count("console (operator): entry ") != PAGE:
            raise Failure("the console's text: %s" % p.stdout[-2000:])
    print("a history of %d entries is shown %d at a time" % (total, PAGE))


if __name__ == "__main__":
    try:
        main()
    except Failure as e:
        print("FAIL:", e)
        sys.exit(1)
