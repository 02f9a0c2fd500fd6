#!/usr/bin/env python3
"""A damaged database: read errors are errors, never absence, and nothing is
acknowledged into the damaged file.

usage: desk_damaged_db.py PATH_TO_support_system

Builds a desk database (an admin, four agents, 300 tickets), then writes
garbage over two of its pages, as a failing disk would: the leaf page of
the tickets table that holds ticket 150, and the agents table's page. Then
it starts the desk on the damaged file and checks, on the console (--json)
and over HTTP:

  - the desk starts and says at start that the file is damaged, and how
    to recover (it quick-checks the file when it opens it);
  - show 150 is an error naming the damage (store_damaged, SQLite's
    "malformed"), not "there is no ticket 150"; GET /api/tickets/150 is a
    503 {code, message}, not a 404;
  - list is an error, not a shorter list; GET /api/tickets too;
  - agents is an error, not an empty roster (and the desk started at all:
    the roster is read at start); GET /api/agents too;
  - a ticket on a sound page (show 3) is still served;
  - a create (console and HTTP) is refused, saying the database is damaged
    and how to recover (backup copy, sqlite3 .recover), and after the desk
    quits the file is byte for byte what it was;
  - stats and tree show the damage;
  - a notification pending in the outbox is not delivered to the log: it
    could not be marked delivered, and every retry would deliver it again.

Then, on a fresh copy of the sound file, garbage over the credentials
table's page alone: signing in is a 503 store_error, not "wrong name or
password".

Last, damage PRAGMA quick_check cannot see: on another copy, the index
tickets_status is declared (writable_schema) on a column other than the
one it holds. The desk starts sound and acknowledges a create; an edit of
a priority meets the damage (SQLite: malformed): it is refused, nothing of
it is written, the Store is damaged from then on, and the next create is
refused too.
"""
import os
import random
import shutil
import sqlite3
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "web"))
from desk import Desk, Failure  # noqa: E402

PASSWORD = "correct horse battery"
TICKETS = 300
TARGET = 150  # the ticket whose page is damaged
SOUND = 3  # a ticket far from it
NOTICE = "ticket 3 is now pending (left in the outbox)"


def expect_error(answer, code, what, *words):
    if answer.get("ok") is not False or answer["error"]["code"] != code:
        raise Failure("%s: expected the error %s, got %r" % (what, code, answer))
    for w in words:
        if w not in answer["error"]["message"]:
            raise Failure("%s: the message does not say %r: %r" % (what, w, answer))


def expect_http(resp, status, code, what):
    if resp.status != status or not resp.json or resp.json.get("code") != code or \
            not resp.json.get("message"):
        raise Failure("%s: expected %d {code: %s, message}, got %r" % (what, status, code, resp))


def build(binary, tmp):
    desk = Desk(binary, tmp)
    c = desk.client()
    r = c.post("/api/setup", {"token": desk.setup_token, "name": "ada", "password": PASSWORD})
    if r.status != 200:
        raise Failure("the first admin: %r" % r)
    for name in ("carol", "dave"):
        if not desk.command("agent-add " + name).get("ok"):
            raise Failure("agent-add " + name)
    for i in range(1, TICKETS + 1):
        a = desk.command("create -- probe T%05dZ, a description long enough to fill a page" % i)
        if not a.get("ok") or a["ticket"]["id"] != i:
            raise Failure("create %d: %r" % (i, a))
    if desk.quit() != 0:
        raise Failure("the desk did not quit cleanly")
    return desk.db


def overwrite(db, pages, seed):
    """Garbage over pages (numbered from 1)."""
    con = sqlite3.connect(db)
    page_size = con.execute("PRAGMA page_size").fetchone()[0]
    con.close()
    rnd = random.Random(seed)
    with open(db, "r+b") as f:
        for page in pages:
            f.seek((page - 1) * page_size)
            f.write(bytes(rnd.randrange(256) for _ in range(page_size)))


def root_page(db, table):
    con = sqlite3.connect(db)
    page = con.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    con.close()
    return page


def damage(db):
    """Garbage over ticket TARGET's leaf page and over the agents table's
    page; returns the two page numbers (from 1)."""
    con = sqlite3.connect(db)
    with con:
        con.execute("INSERT INTO outbox(ticket, at, text) VALUES(%d, 0, '%s')" % (SOUND, NOTICE))
    page_size = con.execute("PRAGMA page_size").fetchone()[0]
    con.close()
    agents_page = root_page(db, "agents")
    data = open(db, "rb").read()
    offset = data.find(b"probe T%05dZ" % TARGET)
    if offset < 0:
        raise Failure("ticket %d's text is not in the file" % TARGET)
    ticket_page = offset // page_size + 1
    if b"probe T%05dZ" % SOUND in data[(ticket_page - 1) * page_size:ticket_page * page_size]:
        raise Failure("ticket %d shares the damaged page" % SOUND)
    overwrite(db, (ticket_page, agents_page), 20)
    return ticket_page, agents_page


def check(binary, tmp, db):
    before = open(db, "rb").read()
    desk = Desk(binary, tmp, first_start=False)
    try:
        start = desk.wait_stderr(r"is DAMAGED \(([^\n]*)\): changes are refused[^\n]*\n").group(0)
        for w in ("backup PATH", ".recover"):
            if w not in start:
                raise Failure("the warning at start does not say %r: %s" % (w, start))

        expect_error(desk.command("show %d" % TARGET), "store_damaged", "show of a damaged ticket",
                     "malformed")
        expect_error(desk.command("list --per-page 1000"), "store_damaged", "list", "malformed")
        expect_error(desk.command("agents"), "store_damaged", "agents", "malformed")
        sound = desk.command("show %d" % SOUND)
        if not sound.get("ok") or sound["ticket"]["id"] != SOUND:
            raise Failure("a ticket on a sound page: %r" % sound)
        expect_error(desk.command("create -- written into a damaged file"), "store_damaged",
                     "a create", "damaged", "backup PATH", ".recover")
        expect_error(desk.command("edit %d --priority high" % SOUND), "store_damaged", "an edit")

        stats = desk.command("stats")
        if stats.get("store_damaged") is not True or not stats.get("store_damage"):
            raise Failure("stats does not show the damage: %r" % stats)
        tree = desk.command("tree")["tree"]
        store = [n for n in tree["children"] if n["name"] == "Store"][0]
        if store.get("damaged") is not True or "DAMAGED" not in store.get("note", ""):
            raise Failure("the tree does not show the damage: %r" % store)

        c = desk.client()
        r = c.post("/api/session", {"name": "ada", "password": PASSWORD})
        if r.status != 200:
            raise Failure("sign in on a damaged desk: %r" % r)
        expect_http(c.get("/api/tickets/%d" % TARGET), 503, "store_damaged",
                    "GET a damaged ticket")
        expect_http(c.get("/api/tickets?limit=1000"), 503, "store_damaged", "GET the list")
        expect_http(c.get("/api/agents"), 503, "store_damaged", "GET the agents")
        expect_http(c.post("/api/tickets", {"description": "over HTTP"}), 503, "store_damaged",
                    "POST a ticket")
        r = c.get("/api/tickets/%d" % SOUND)
        if r.status != 200 or r.json["ticket"]["id"] != SOUND:
            raise Failure("GET a sound ticket: %r" % r)
    finally:
        rc = desk.quit()
    if rc != 0:
        raise Failure("the damaged desk did not quit cleanly (%s)" % rc)
    if open(db, "rb").read() != before:
        raise Failure("the damaged file was changed")
    log = os.path.join(tmp, "desk.log")
    if os.path.exists(log) and NOTICE in open(log).read():
        raise Failure("a notification was delivered from the damaged file")


def check_credentials(binary, tmp, db):
    overwrite(db, (root_page(db, "credentials"),), 21)
    desk = Desk(binary, tmp, name="creds", first_start=False)
    try:
        desk.wait_stderr(r"is DAMAGED")
        expect_http(desk.client().post("/api/session", {"name": "ada", "password": PASSWORD}),
                    503, "store_error", "sign in with the credentials' page damaged")
    finally:
        desk.quit()


def check_hidden_damage(binary, tmp, db):
    con = sqlite3.connect(db)
    con.execute("PRAGMA writable_schema = ON")
    con.execute("UPDATE sqlite_master SET sql = 'CREATE INDEX tickets_status ON tickets(priority)'"
                " WHERE name = 'tickets_status'")
    con.commit()
    con.close()
    desk = Desk(binary, tmp, name="hidden", first_start=False)
    try:
        if "DAMAGED" in desk.stderr():
            raise Failure("quick_check saw the index's damage: the case tests nothing")
        made = desk.command("create -- before the damage is known")
        if not made.get("ok"):
            raise Failure("a create on a file not known to be damaged: %r" % made)
        expect_error(desk.command("edit %d --priority urgent" % SOUND), "store_damaged",
                     "an edit that meets the damage", "malformed")
        expect_error(desk.command("create -- after the damage is known"), "store_damaged",
                     "a create after the damage was found", "backup PATH")
        if desk.command("stats").get("store_damaged") is not True:
            raise Failure("stats does not show the damage found by a write")
    finally:
        desk.quit()
    con = sqlite3.connect(db)
    priority = con.execute("SELECT priority FROM tickets WHERE id = ?", (SOUND,)).fetchone()[0]
    edits = con.execute("SELECT count(*) FROM history WHERE ticket = ?", (SOUND,)).fetchone()[0]
    after = con.execute("SELECT count(*) FROM tickets WHERE description LIKE 'after%'").fetchone()[0]
    con.close()
    if priority != 1 or edits != 1 or after != 0:
        raise Failure("a refused change was written: priority %d, %d history entries, %d"
                      " creates after" % (priority, edits, after))


def main():
    binary = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        db = build(binary, tmp)
        shutil.copy(db, os.path.join(tmp, "creds.db"))
        shutil.copy(db, os.path.join(tmp, "hidden.db"))
        pages = damage(db)
        check(binary, tmp, db)
        check_credentials(binary, tmp, os.path.join(tmp, "creds.db"))
        check_hidden_damage(binary, tmp, os.path.join(tmp, "hidden.db"))
    print("damaged pages %s: every read error was an error, nothing was written" % (pages,))


if __name__ == "__main__":
    try:
        main()
    except Failure as e:
        print("FAIL:", e)
        sys.exit(1)
