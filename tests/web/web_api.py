#!/usr/bin/env python3
"""The desk's JSON API over real HTTP (docs/api-http.md): every endpoint and
every error status, against support_system --http 127.0.0.1:0 driven over
pipes. Each refusal is checked to have changed nothing.

usage: web_api.py PATH_TO_support_system
"""
import calendar
import http.client
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from desk import DEADLINE_S, Desk, Failure  # noqa: E402

ADMIN_PW = "correct horse"


def expect(resp, status, code=None, what=""):
    if resp.status != status:
        raise Failure("%s: expected %d, got %r" % (what, status, resp))
    if code is not None and (not resp.json or resp.json.get("code") != code):
        raise Failure("%s: expected code %r, got %r" % (what, code, resp))
    if status >= 400 and not (resp.json and resp.json.get("code") and resp.json.get("message")):
        raise Failure("%s: an error without {code, message}: %r" % (what, resp))
    return resp.json


def wait_until(what, predicate):
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise Failure("not within %d s: %s" % (DEADLINE_S, what))


def signed_out(client, what):
    """GET /api/session says no one is signed in, and the API answers 401."""
    me = expect(client.get("/api/session"), 200, what=what)
    if me != {"agent": None}:
        raise Failure("%s: the session shows %r" % (what, me))
    expect(client.get("/api/tickets"), 401, "not_signed_in", what)


def first_admin(desk):
    """The one-time link: checked, then used once."""
    c = desk.client()
    expect(c.post("/api/setup", {"token": "0" * 64, "name": "ada", "password": ADMIN_PW}),
           403, "bad_setup_token", "a wrong setup token")
    # A bad password does not spend the link.
    expect(c.post("/api/setup", {"token": desk.setup_token, "name": "ada", "password": "short"}),
           400, "bad_password", "a short first password")
    r = c.post("/api/setup", {"token": desk.setup_token, "name": "ada", "password": ADMIN_PW})
    me = expect(r, 200, what="the first admin")
    cookie = r.header("Set-Cookie")
    for attr in ("HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="):
        if attr not in cookie:
            raise Failure("the session cookie lacks %s: %s" % (attr, cookie))
    if me["agent"] != "ada" or me["role"] != "admin" or len(me["csrf_token"]) != 64:
        raise Failure("setup answered %r" % me)
    again = desk.client()
    expect(again.post("/api/setup", {"token": desk.setup_token, "name": "eve",
                                     "password": ADMIN_PW}), 403, "bad_setup_token",
           "the link used twice")
    return c


def sign_in_and_sessions(desk, admin):
    anon = desk.client()
    signed_out(anon, "no session")
    expect(anon.get("/api/tickets"), 401, "not_signed_in", "tickets without a session")
    expect(anon.sign_in("ada", "wrong password"), 401, "bad_credentials", "a wrong password")
    expect(anon.sign_in("nobody", ADMIN_PW), 401, "bad_credentials", "an unknown name")
    expect(anon.sign_in("ada", 7), 400, "wrong_type", "a password that is a number")
    # A form posted from another site cannot sign anyone in: JSON only.
    expect(anon.request("POST", "/api/session", raw=b"name=ada&password=x",
                        content_type="application/x-www-form-urlencoded"), 400,
           "bad_content_type", "a sign-in form")
    anon.cookie = "f" * 64
    signed_out(anon, "a made-up session")
    c = desk.client()
    # A name signs in whatever its ASCII case, as the roster spells it.
    me = expect(c.sign_in("Ada", ADMIN_PW), 200, what="sign in as Ada")
    if me["role"] != "admin" or me["agent"] != "ada":
        raise Failure("ada's role: %r" % me)
    shown = expect(c.get("/api/session"), 200, what="the session")
    if shown["csrf_token"] != c.csrf or shown["agent"] != "ada":
        raise Failure("the session shows %r" % shown)
    # CSRF: a change without the token, or with another session's, is refused.
    before = len(expect(c.get("/api/tickets"), 200)["tickets"])
    expect(c.post("/api/tickets", {"description": "x"}, csrf=False), 403, "bad_csrf_token",
           "a change without the CSRF token")
    expect(c.post("/api/tickets", {"description": "x"}, headers={"X-CSRF-Token": admin.csrf}),
           403, "bad_csrf_token", "another session's CSRF token")
    after = len(expect(c.get("/api/tickets"), 200)["tickets"])
    if before != after:
        raise Failure("a refused change created a ticket")
    # Signing out ends the session, and clears the cookie.
    token = c.cookie
    # A body it does not take is refused, not ignored: still signed in.
    expect(c.request("DELETE", "/api/session", raw=b"\xff\x00", content_type="text/plain"),
           400, "bad_content_type", "sign-out with a text body")
    expect(c.request("DELETE", "/api/session", {"now": True}), 400, "unknown_field",
           "sign-out with a field")
    expect(c.get("/api/tickets"), 200, what="still signed in after refused sign-outs")
    expect(c.request("DELETE", "/api/session"), 200, what="sign out")
    if c.cookie is not None:
        raise Failure("signing out did not clear the cookie")
    c.cookie = token
    signed_out(c, "a session after signing out")


def bad_bodies(desk, c):
    """Each malformed create is a 400 with a code, and creates nothing."""
    before = len(expect(c.get("/api/tickets?limit=1000"), 200)["tickets"])
    cases = [
        ("malformed JSON", dict(raw=b'{"description": '), "malformed_json"),
        ("two values", dict(raw=b'{"description":"a"} {}'), "malformed_json"),
        ("not an object", dict(raw=b'["a"]'), "malformed_json"),
        ("invalid UTF-8", dict(raw=b'{"description":"caf\xe9"}'), "bad_encoding"),
        ("an escaped NUL", dict(raw=b'{"description":"a\\u0000b"}'), "bad_encoding"),
        ("not JSON", dict(raw=b"description=a", content_type="application/x-www-form-urlencoded"),
         "bad_content_type"),
        ("unknown field", dict(body={"description": "a", "colour": "red"}), "unknown_field"),
        ("repeated field", dict(raw=b'{"description":"a","description":"b"}'), "unknown_field"),
        ("wrong type", dict(body={"description": 42}), "wrong_type"),
        ("missing field", dict(body={"customer": "acme"}), "missing_field"),
        ("empty description", dict(body={"description": ""}), "empty_field"),
        ("over-long description", dict(body={"description": "x" * 201}), "field_too_long"),
        ("over-long customer", dict(body={"description": "a", "customer": "é" * 65}),
         "field_too_long"),
        ("control character", dict(body={"description": "a\x07b"}), "bad_field"),
        ("bad priority", dict(body={"description": "a", "priority": "extreme"}), "bad_argument"),
    ]
    for what, kw, code in cases:
        body = kw.pop("body", None)
        expect(c.request("POST", "/api/tickets", body, **kw), 400, code, what)
    after = len(expect(c.get("/api/tickets?limit=1000"), 200)["tickets"])
    if before != after:
        raise Failure("a refused create created a ticket (%d -> %d)" % (before, after))
    # Exactly 200 characters, none ASCII, is accepted.
    t = expect(c.post("/api/tickets", {"description": "é" * 200}), 201, what="200 characters")
    return t["ticket"]["id"]


def tickets(desk, c):
    r = c.post("/api/tickets", {"description": "Login fails", "customer": "Acme Corp",
                                "priority": "high"})
    t = expect(r, 201, what="create")["ticket"]
    if (t["status"], t["priority"], t["customer"], t["agent"]) != ("open", "high", "Acme Corp",
                                                                  None):
        raise Failure("created %r" % t)
    if r.header("Location") != "/api/tickets/%d" % t["id"]:
        raise Failure("Location %r" % r.header("Location"))
    tid, v0 = t["id"], t["version"]
    path = "/api/tickets/%d" % tid

    r = c.get(path)
    shown = expect(r, 200, what="show")["ticket"]
    first = shown["history"][0]
    if r.header("ETag") != '"%d"' % v0 or (first["who"], first["role"], first["what"]) != (
            "ada", "agent", "created"):
        raise Failure("show: %r %r" % (r.header("ETag"), shown))
    expect(c.get("/api/tickets/999999"), 404, "unknown_ticket", "an unknown ticket")
    expect(c.get("/api/tickets/abc"), 404, "unknown_ticket", "a ticket id that is no number")
    expect(c.post("/api/tickets/999999/resolve", {}), 404, "unknown_ticket", "resolve unknown")

    # Assign to a named agent, with If-Match: attributed to the signed-in admin.
    expect(c.post(path + "/assign", {"agent": "nobody"}), 400, "unknown_agent", "unknown agent")
    expect(c.post(path + "/assign", {"agent": 7}), 400, "wrong_type", "agent as a number")
    expect(c.post(path + "/assign", {"agent": "bob", "version": "1"}), 400, "wrong_type",
           "version as a string")
    big = expect(c.post(path + "/assign", {"agent": "bob", "version": 9223372036854775807}), 400,
                 "wrong_type", "a version past 2^53")
    if "from 0 to 9007199254740992" not in big["message"]:
        raise Failure("a version past 2^53: %r" % big)
    expect(c.post(path + "/assign", {"agent": "bob"}, headers={"If-Match": "soon"}), 400,
           "bad_argument", "a bad If-Match")
    expect(c.post(path + "/assign", {"agent": "bob", "version": v0},
                  headers={"If-Match": '"%d"' % (v0 + 5)}), 400, "bad_argument",
           "If-Match and version disagree")
    t = expect(c.post(path + "/assign", {"agent": "bob"}, headers={"If-Match": '"%d"' % v0}),
               200, what="assign")["ticket"]
    if (t["status"], t["agent"], t["version"]) != ("assigned", "bob", v0 + 1):
        raise Failure("assigned %r" % t)
    hist = expect(c.get(path), 200)["ticket"]["history"]
    if hist[-1]["who"] != "ada" or hist[-1]["what"] != "assigned to bob":
        raise Failure("the assignment is not attributed to ada: %r" % hist)

    # A change computed from the old version is refused, naming the winner.
    r = c.post(path + "/resolve", {"version": v0})
    expect(r, 409, "conflict", "a stale version")
    if "ada" not in r.json["message"] or "assigned to bob" not in r.json["message"]:
        raise Failure("the conflict does not say who won: %r" % r.json)
    if r.json["ticket"]["status"] != "assigned":
        raise Failure("a conflict changed the ticket: %r" % r.json)
    # The same through If-Match.
    expect(c.post(path + "/resolve", None, headers={"If-Match": '"%d"' % v0}), 409, "conflict",
           "a stale If-Match")
    # A version the ticket has not reached is not "changed since": it is said as it is.
    r = c.post(path + "/resolve", None, headers={"If-Match": '"%d"' % (v0 + 7)})
    expect(r, 409, "conflict", "an If-Match ahead of the ticket")
    if r.json["message"] != "ticket %d is at version %d; it has no version %d yet; nothing was" \
            " changed" % (tid, v0 + 1, v0 + 7):
        raise Failure("a version ahead is not said as it is: %r" % r.json)
    if expect(c.get(path), 200)["ticket"]["version"] != v0 + 1:
        raise Failure("a refused change moved the version")
    # A second assignment loses, and is told to whom it went.
    r = c.post(path + "/assign", {"agent": "alice"})
    expect(r, 409, "already_assigned", "assign twice")
    if "bob" not in r.json["message"]:
        raise Failure("the loser is not told who won: %r" % r.json)

    expect(c.post(path + "/reopen", {"colour": 1}), 400, "unknown_field", "unknown field on act")
    t = expect(c.post(path + "/resolve", {"version": v0 + 1}), 200, what="resolve")["ticket"]
    expect(c.post(path + "/resolve"), 409, "invalid_transition", "resolve twice")
    t = expect(c.post(path + "/close"), 200, what="close")["ticket"]
    t = expect(c.post(path + "/reopen"), 200, what="reopen")["ticket"]
    if (t["status"], t["agent"]) != ("open", None):
        raise Failure("reopened %r" % t)
    # Automatic assignment: the policy picks someone.
    t = expect(c.post(path + "/assign"), 200, what="auto-assign")["ticket"]
    if t["status"] != "assigned" or not t["agent"]:
        raise Failure("auto-assigned %r" % t)
    whats = [h["what"] for h in expect(c.get(path), 200)["ticket"]["history"]]
    if whats[:5] != ["created", "assigned to bob", "resolved", "closed", "reopened"]:
        raise Failure("history %r" % whats)

    # The rest of the workflow, each through its own action.
    t2 = expect(c.post("/api/tickets", {"description": "Printer"}), 201)["ticket"]
    p2 = "/api/tickets/%d" % t2["id"]
    expect(c.post(p2 + "/frobnicate"), 404, "not_found", "an unknown action")
    expect(c.post(p2 + "/reassign", {}), 400, "missing_field", "reassign without an agent")
    expect(c.post(p2 + "/close"), 400, "reason_required", "close an open ticket without a reason")
    expect(c.post(p2 + "/assign", {"agent": "alice"}), 200)
    u = expect(c.post(p2 + "/reassign", {"agent": "bob"}), 200)["ticket"]
    if u["agent"] != "bob":
        raise Failure("reassigned %r" % u)
    u = expect(c.post(p2 + "/pend"), 200)["ticket"]
    u = expect(c.post(p2 + "/resume"), 200)["ticket"]
    u = expect(c.post(p2 + "/unassign"), 200)["ticket"]
    if (u["status"], u["agent"]) != ("open", None):
        raise Failure("unassigned %r" % u)
    expect(c.post(p2 + "/edit", {"priority": "sometimes"}), 400, "bad_argument", "a bad priority")
    u = expect(c.post(p2 + "/edit", {"description": "Printer on fire", "priority": "urgent"}),
               200)["ticket"]
    if (u["description"], u["priority"]) != ("Printer on fire", "urgent"):
        raise Failure("edited %r" % u)
    expect(c.post(p2 + "/reply", {"text": ""}), 400, "empty_field", "an empty reply")
    expect(c.post(p2 + "/reply", {"text": "x" * 2001}), 400, "field_too_long", "a long reply")
    expect(c.post(p2 + "/reply", {"text": "We are on it"}), 200)
    expect(c.post(p2 + "/note", {"text": "Toner smells"}), 200)
    # A reply or a note may hold line breaks and tabs (a CR LF is a line
    # break); not other control characters, nor blanks alone.
    expect(c.post(p2 + "/reply", {"text": "Dear Acme,\r\n\tit works again.\n"}), 200)
    expect(c.post(p2 + "/note", {"text": "line one\nline two"}), 200)
    expect(c.post(p2 + "/note", {"text": "a bell\a"}), 400, "bad_field", "a note with a bell")
    expect(c.post(p2 + "/note", {"text": "a lone\rCR"}), 400, "bad_field", "a note with a lone CR")
    expect(c.post(p2 + "/note", {"text": " \n\t "}), 400, "empty_field", "a note of blanks")
    u = expect(c.post(p2 + "/close", {"reason": "duplicate"}), 200)["ticket"]
    if u["status"] != "closed":
        raise Failure("closed with a reason: %r" % u)
    hist = expect(c.get(p2), 200)["ticket"]["history"]
    kinds = [(h["kind"], h.get("text")) for h in hist if h["kind"] != "event"]
    if kinds != [("reply", "We are on it"), ("note", "Toner smells"),
                 ("reply", "Dear Acme,\n\tit works again.\n"), ("note", "line one\nline two")] or \
            any(h["who"] != "ada" for h in hist):
        raise Failure("the conversation: %r" % hist)

    # The list and its filters.
    expect(c.post("/api/tickets", {"description": "Second"}), 201)
    lst = expect(c.get("/api/tickets?status=open"), 200)["tickets"]
    if not lst or any(x["status"] != "open" for x in lst):
        raise Failure("status=open listed %r" % lst)
    lst = expect(c.get("/api/tickets?status=assigned&agent=" + t["agent"]), 200)["tickets"]
    if tid not in [x["id"] for x in lst]:
        raise Failure("the agent filter lost ticket %d: %r" % (tid, lst))
    lst = expect(c.get("/api/tickets?limit=1"), 200)["tickets"]
    if len(lst) != 1:
        raise Failure("limit=1 listed %d" % len(lst))
    expect(c.get("/api/tickets?status=lost"), 400, "bad_argument", "a bad status")
    expect(c.get("/api/tickets?limit=0"), 400, "bad_argument", "limit 0")
    expect(c.get("/api/tickets?colour=red"), 400, "unknown_parameter", "an unknown parameter")
    expect(c.get("/api/tickets?agent=nobody"), 400, "unknown_agent", "a list of an unknown agent")
    # A ticket's page and the queues refuse what they do not take too, and
    # a ticket's page takes history and before once each.
    for path, what in [("/api/tickets/%d?colour=red" % tid, "a ticket"),
                       ("/api/tickets/%d?history=5&history=6" % tid, "a ticket"),
                       ("/api/queues?agent=bob", "the queues")]:
        r = expect(c.get(path), 400, "unknown_parameter", path)
        if what not in r["message"]:
            raise Failure("%s: %r" % (path, r))
    expect(c.get("/api/tickets/%d?history=5&before=9" % tid), 200, what="history and before")
    return tid


def ids(resp):
    return [t["id"] for t in resp["tickets"]]


def ticket_list(desk, c):
    """GET /api/tickets: every filter, the search, each order and the pages,
    as the console's list has them; GET /api/queues counts as the store."""
    made = []
    for desc, prio in [("Zeta printer jam", "low"), ("Zeta login broken", "urgent"),
                       ("Zeta printer toner", "high"), ("Zeta mail bounce", "normal"),
                       ("Zeta printer offline", "urgent")]:
        made.append(expect(c.post("/api/tickets", {"description": desc, "customer": "Zeta Ltd",
                                                   "priority": prio}), 201)["ticket"]["id"])
    z = "/api/tickets?customer=Zeta%20Ltd"
    newest = expect(c.get(z), 200)
    if ids(newest) != made[::-1] or newest["more"] or newest["page"] != 1:
        raise Failure("the customer's list: %r" % newest)
    if ids(expect(c.get(z + "&sort=oldest"), 200)) != made:
        raise Failure("oldest first")
    by_prio = ids(expect(c.get(z + "&sort=priority"), 200))
    if by_prio != [made[1], made[4], made[2], made[3], made[0]]:
        raise Failure("by priority (urgent first, then oldest): %r" % by_prio)
    # Updated last first: a change moves a ticket to the top.
    expect(c.post("/api/tickets/%d/note" % made[2], {"text": "toner ordered"}), 200)
    if ids(expect(c.get(z + "&sort=updated"), 200))[0] != made[2]:
        raise Failure("a changed ticket is not first by updated")
    # Search: whole words, any case, each required; FTS syntax taken literally.
    found = ids(expect(c.get(z + "&search=PRINTER"), 200))
    if found != [made[4], made[2], made[0]]:
        raise Failure("search printer: %r" % found)
    if ids(expect(c.get(z + "&search=printer%20jam"), 200)) != [made[0]]:
        raise Failure("search for two words")
    if ids(expect(c.get(z + "&search=%22printer%22%20OR%20mail"), 200)) != []:
        raise Failure("the search took FTS5 syntax")
    if ids(expect(c.get(z + "&priority=urgent"), 200)) != [made[4], made[1]]:
        raise Failure("priority=urgent")
    # Pages: limit per page, page from 1, "more" while another follows.
    p1 = expect(c.get(z + "&limit=2"), 200)
    p2 = expect(c.get(z + "&limit=2&page=2"), 200)
    p3 = expect(c.get(z + "&limit=2&page=3"), 200)
    if (ids(p1) + ids(p2) + ids(p3) != made[::-1] or not p1["more"] or not p2["more"]
            or p3["more"] or p3["page"] != 3 or p3["limit"] != 2):
        raise Failure("pages %r %r %r" % (p1, p2, p3))
    if ids(expect(c.get(z + "&page=9"), 200)) != []:
        raise Failure("a page past the end is not empty")
    # Assigned, pending, unassigned, an agent's.
    expect(c.post("/api/tickets/%d/assign" % made[0], {"agent": "ada"}), 200)
    expect(c.post("/api/tickets/%d/assign" % made[1], {"agent": "ada"}), 200)
    expect(c.post("/api/tickets/%d/pend" % made[1]), 200)
    expect(c.post("/api/tickets/%d/assign" % made[2], {"agent": "bob"}), 200)
    expect(c.post("/api/tickets/%d/resolve" % made[2]), 200)
    if ids(expect(c.get(z + "&unassigned=true"), 200)) != [made[4], made[3]]:
        raise Failure("unassigned=true")
    if ids(expect(c.get(z + "&agent=ada"), 200)) != [made[1], made[0]]:
        raise Failure("agent=ada")
    if ids(expect(c.get(z + "&status=pending"), 200)) != [made[1]]:
        raise Failure("status=pending")
    # The queues, as lists and as counts; mine is the signed-in agent's.
    queues = expect(c.get("/api/queues"), 200)["queues"]
    for name in ("mine", "unassigned", "open", "pending"):
        lst = expect(c.get("/api/tickets?limit=1000&queue=" + name), 200)["tickets"]
        if len(lst) != queues[name]:
            raise Failure("queue %s lists %d, counts %d" % (name, len(lst), queues[name]))
        zs = [t["id"] for t in lst if t["customer"] == "Zeta Ltd"]
        want = {"mine": [made[1], made[0]], "unassigned": [made[4], made[3]],
                "open": [made[4], made[3], made[1], made[0]], "pending": [made[1]]}[name]
        if zs != want:
            raise Failure("queue %s holds %r of Zeta's, not %r" % (name, zs, want))
    if queues["mine"] != 2 or queues["pending"] < 1:
        raise Failure("queues %r" % queues)
    # Every bad value is a 400 that says which; nothing is listed.
    for query, code in [("status=lost", "bad_argument"), ("queue=theirs", "bad_argument"),
                        ("queue=mine&status=open", "bad_argument"),
                        ("queue=open&agent=bob", "bad_argument"),
                        ("agent=bob&unassigned=true", "bad_argument"),
                        ("unassigned=yes", "bad_argument"), ("priority=extreme", "bad_argument"),
                        ("sort=id", "bad_argument"), ("page=0", "bad_argument"),
                        ("page=x", "bad_argument"), ("page=2147483648", "bad_argument"),
                        ("limit=1001", "bad_argument"), ("limit=-1", "bad_argument"),
                        ("limit=%2B5", "bad_argument"), ("search=" + "w" * 201, "field_too_long"),
                        ("search=" + "w%20" * 300, "field_too_long"),
                        ("search=a%01b", "bad_field"), ("search=", "empty_field"),
                        ("customer=" + "x" * 65, "field_too_long"), ("agent=", "empty_field"),
                        ("search=%zz", "bad_argument"), ("sort=newest&sort=oldest",
                                                         "unknown_parameter"),
                        ("q=printer", "unknown_parameter")]:
        expect(c.get("/api/tickets?" + query), 400, code, "GET /api/tickets?" + query)
    expect(desk.client().get("/api/queues"), 401, "not_signed_in", "queues without a session")


def agents(desk, admin):
    lst = expect(admin.get("/api/agents"), 200)["agents"]
    names = {a["name"]: a["role"] for a in lst}
    # Load: the tickets assigned to each now (assigned or pending), as the list counts them.
    for a in lst:
        held = [t for status in ("assigned", "pending") for t in expect(
            admin.get("/api/tickets?limit=1000&status=%s&agent=%s" % (status, a["name"])),
            200)["tickets"]]
        if a["load"] != len(held):
            raise Failure("%s's load is %r, but %d are assigned" % (a["name"], a["load"],
                                                                  len(held)))
    if sum(a["load"] for a in lst) < 1:
        raise Failure("no load at all: %r" % lst)
    if names.get("ada") != "admin" or "bob" not in names or names["bob"] is not None:
        raise Failure("agents %r" % lst)
    expect(admin.post("/api/agents", {"name": "carol", "password": "carolpass", "role": "chief"}),
           400, "bad_argument", "a bad role")
    expect(admin.post("/api/agents", {"name": "carol", "password": "short"}), 400,
           "bad_password", "a short password")
    expect(admin.post("/api/agents", {"name": "carol", "role": "agent"}), 400, "missing_field",
           "a role without a password")
    expect(admin.post("/api/agents", {"name": "x" * 65}), 400, "field_too_long", "a long name")
    if "carol" in [a["name"] for a in expect(admin.get("/api/agents"), 200)["agents"]]:
        raise Failure("a refused agent was added")
    a = expect(admin.post("/api/agents", {"name": "carol", "password": "carolpass"}), 201,
               what="add an agent")["agent"]
    if a != {"name": "carol", "role": "agent"}:
        raise Failure("added %r" % a)
    expect(admin.post("/api/agents", {"name": "carol"}), 409, "agent_exists", "add twice")
    carol = desk.client()
    expect(carol.sign_in("carol", "carolpass"), 200, what="carol signs in")
    expect(carol.post("/api/agents", {"name": "dave"}), 403, "forbidden", "an agent adds one")
    expect(carol.post("/api/processes/%3C0.1.0%3E/kill"), 403, "forbidden",
           "an agent kills a process")
    # Her changes are hers.
    t = expect(carol.post("/api/tickets", {"description": "Carol's"}), 201)["ticket"]
    expect(carol.post("/api/tickets/%d/assign" % t["id"], {"agent": "carol"}), 200)
    hist = expect(carol.get("/api/tickets/%d" % t["id"]), 200)["ticket"]["history"]
    if hist[-1]["who"] != "carol":
        raise Failure("carol's change is attributed to %r" % hist[-1])
    # A password reset at the console signs her out.
    r = desk.command("password-reset carol", "carolpass2")
    if not r.get("ok"):
        raise Failure("password-reset: %r" % r)
    signed_out(carol, "a session after a password reset")
    expect(carol.sign_in("carol", "carolpass"), 401, "bad_credentials", "the old password")
    me = expect(carol.sign_in("carol", "carolpass2"), 200, what="the new password")
    if me["role"] != "agent":
        raise Failure("a reset changed the role: %r" % me)
    # admin-add at the console.
    r = desk.command("admin-add dora", "dorapass")
    if r.get("role") != "admin":
        raise Failure("admin-add: %r" % r)
    r = desk.command("admin-add erin", "short")
    if r.get("ok") or r["error"]["code"] != "bad_password":
        raise Failure("admin-add with a short password: %r" % r)
    expect(desk.client().sign_in("dora", "dorapass"), 200, what="dora signs in")
    expect(desk.client().sign_in("erin", "short"), 401, "bad_credentials", "erin was not added")
    return carol


def agents_admin(desk, admin):
    """POST /api/agents/:name/ACTION: an admin renames, deactivates and
    activates agents and sets their availability; no one else may."""
    def roster():
        return {a["name"]: a for a in expect(admin.get("/api/agents"), 200)["agents"]}
    carol = desk.client()
    expect(carol.sign_in("carol", "carolpass2"), 200)
    before = roster()
    for action, body in [("rename", {"name": "x"}), ("deactivate", None), ("activate", None),
                         ("unavailable", None), ("available", None)]:
        expect(carol.post("/api/agents/bob/" + action, body), 403, "forbidden",
               "an agent may not " + action)
        expect(admin.post("/api/agents/bob/" + action, body, csrf=False), 403, "bad_csrf_token",
               action + " without the CSRF token")
        expect(admin.post("/api/agents/nobody/" + action, body), 404, "unknown_agent",
               action + " an unknown agent")
    expect(admin.post("/api/agents/bob/promote"), 404, "not_found", "an unknown agent action")
    expect(admin.post("/api/agents/bob/rename", {}), 400, "missing_field", "rename without a name")
    expect(admin.post("/api/agents/bob/rename", {"name": "alice"}), 409, "agent_exists",
           "rename to a taken name")
    expect(admin.post("/api/agents/bob/rename", {"name": "x" * 65}), 400, "field_too_long",
           "rename to a long name")
    expect(admin.post("/api/agents/BOB/rename", {"name": "bob"}), 409, "unchanged",
           "rename to the same name")
    expect(admin.post("/api/agents/bob/deactivate", {"really": True}), 400, "unknown_field",
           "deactivate with a field")
    if roster() != before:
        raise Failure("a refused agent action changed the roster: %r" % roster())

    # Availability: the policy skips an unavailable agent; naming one still assigns.
    a = expect(admin.post("/api/agents/carol/unavailable"), 200)["agent"]
    if (a["name"], a["active"], a["available"]) != ("carol", True, False):
        raise Failure("unavailable: %r" % a)
    if roster()["carol"]["available"]:
        raise Failure("the roster still shows carol available")
    a = expect(admin.post("/api/agents/carol/available", {}), 200)["agent"]
    if not a["available"] or not roster()["carol"]["available"]:
        raise Failure("available: %r" % a)

    # Deactivate: the answer lists the agent's open tickets; none can be
    # assigned to them until they are activated again.
    t = expect(admin.post("/api/tickets", {"description": "For bob"}), 201)["ticket"]
    expect(admin.post("/api/tickets/%d/assign" % t["id"], {"agent": "bob"}), 200)
    d = expect(admin.post("/api/agents/bob/deactivate"), 200)
    held = [x["id"] for x in d["open_tickets"]]
    if d["agent"]["active"] or t["id"] not in held or roster()["bob"]["active"]:
        raise Failure("deactivated %r" % d)
    t2 = expect(admin.post("/api/tickets", {"description": "Not for bob"}), 201)["ticket"]
    expect(admin.post("/api/tickets/%d/assign" % t2["id"], {"agent": "bob"}), 409,
           "agent_inactive", "assign to a deactivated agent")
    a = expect(admin.post("/api/agents/bob/activate"), 200)["agent"]
    if not a["active"] or not roster()["bob"]["active"]:
        raise Failure("activated %r" % a)
    expect(admin.post("/api/tickets/%d/assign" % t2["id"], {"agent": "bob"}), 200)

    # A deactivated agent can no longer sign in, and their sessions end,
    # whether the web or the console deactivated them; activated, they
    # sign in again. An admin cannot deactivate themselves.
    # Named in another case (CAROL is carol): the same agent, whose
    # sessions end, and the answer names them as the roster does.
    d = expect(admin.post("/api/agents/CAROL/deactivate"), 200)
    if d["agent"]["name"] != "carol":
        raise Failure("deactivated as %r" % d["agent"])
    signed_out(carol, "a session after the web deactivated its agent")
    refused = expect(desk.client().sign_in("carol", "carolpass2"), 403, "agent_inactive",
                     "a deactivated agent signs in")
    if "deactivated" not in refused["message"]:
        raise Failure("the refusal says %r" % refused)
    expect(admin.post("/api/agents/carol/activate"), 200)
    expect(carol.sign_in("carol", "carolpass2"), 200, what="carol signs in once activated")
    r = desk.command("agent-deactivate Carol")
    if not r.get("ok") or r.get("agent") != "carol":
        raise Failure("agent-deactivate: %r" % r)
    signed_out(carol, "a session after the console deactivated its agent")
    r = desk.command("agent-activate carol")
    if not r.get("ok"):
        raise Failure("agent-activate: %r" % r)
    expect(carol.sign_in("carol", "carolpass2"), 200, what="carol signs in once activated again")
    expect(admin.post("/api/agents/ada/deactivate"), 409, "cannot_deactivate_self",
           "an admin deactivates themselves")
    expect(admin.post("/api/agents/ADA/deactivate"), 409, "cannot_deactivate_self",
           "an admin deactivates themselves, named in another case")
    if not roster()["ada"]["active"]:
        raise Failure("a refused self-deactivation deactivated ada")
    expect(admin.get("/api/agents"), 200, what="the admin is still signed in")

    # Rename: the roster, the tickets, a history entry by the admin; the
    # password goes with the name, and the old name's sessions end.
    mine = expect(carol.post("/api/tickets", {"description": "Carol holds it"}), 201)["ticket"]
    expect(carol.post("/api/tickets/%d/assign" % mine["id"], {"agent": "carol"}), 200)
    r = expect(admin.post("/api/agents/carol/rename", {"name": "carla"}), 200)["agent"]
    if (r["name"], r["was"]) != ("carla", "carol"):
        raise Failure("renamed %r" % r)
    names = roster()
    if "carol" in names or "carla" not in names or names["carla"]["role"] != "agent":
        raise Failure("the roster after a rename: %r" % names)
    shown = expect(admin.get("/api/tickets/%d" % mine["id"]), 200)["ticket"]
    if shown["agent"] != "carla" or shown["history"][-1]["what"] != \
            "agent carol renamed to carla" or shown["history"][-1]["who"] != "ada":
        raise Failure("the ticket after a rename: %r" % shown)
    signed_out(carol, "the old name's session after a rename")
    expect(desk.client().sign_in("carol", "carolpass2"), 401, "bad_credentials",
           "the old name signs in")
    carla = desk.client()
    expect(carla.sign_in("carla", "carolpass2"), 200, what="the new name signs in")
    # The console's rename ends the old name's sessions too, named in any
    # case: else a session in the old name would act as whoever is given
    # that name next, with its role.
    r = desk.command("agent-rename CARLA carola")
    if not r.get("ok") or (r.get("agent"), r.get("was")) != ("carola", "carla"):
        raise Failure("agent-rename: %r" % r)
    signed_out(carla, "the old name's session after the console's rename")
    expect(desk.client().sign_in("carola", "carolpass2"), 200, what="the console's new name signs in")
    if not desk.command("agent-rename carola carla").get("ok"):
        raise Failure("the name back")


def find(node, name):
    if node.get("name") == name:
        return node
    for child in node.get("children", []):
        found = find(child, name)
        if found:
            return found
    return None


def runtime(desk, admin, tid):
    tree = expect(admin.get("/api/tree"), 200)["tree"]
    if tree["name"] != "SupportSystem.Supervisor" or not find(tree, "Web") \
            or not find(tree, "Store") or not find(tree, "HTTP"):
        raise Failure("tree %r" % tree)
    procs = expect(admin.get("/api/processes?sort=memory&limit=5"), 200)
    mem = [p["memory"] for p in procs["processes"]]
    if len(mem) != 5 or mem != sorted(mem, reverse=True) or procs["total"] < 10:
        raise Failure("processes by memory %r" % procs)
    q = expect(admin.get("/api/processes?sort=queue"), 200)["processes"]
    ql = [p["message_queue_len"] for p in q]
    if ql != sorted(ql, reverse=True):
        raise Failure("processes by queue %r" % ql)
    # By reductions (work since the spawn): most first, every row counted,
    # the busiest process past a slice's worth after the requests above.
    r = expect(admin.get("/api/processes?sort=reductions&limit=1000"), 200)["processes"]
    rl = [p["reductions"] for p in r]
    if not all(isinstance(x, int) and x >= 0 for x in rl) or rl != sorted(rl, reverse=True) \
            or rl[0] < 1000:
        raise Failure("processes by reductions %r" % rl)
    byname = {p["name"]: p["reductions"] for p in r if p["name"]}
    if byname.get("SupportSystem.Store", 0) < 1:
        raise Failure("the Store counts no reductions: %r" % byname)
    expect(admin.get("/api/processes?sort=cpu"), 400, "bad_argument", "a bad sort")
    expect(admin.get("/api/processes?limit=x"), 400, "bad_argument", "a bad limit")
    expect(admin.post("/api/processes/%3C0.999999.77%3E/kill"), 404, "no_such_process",
           "kill a process that does not exist")
    expect(admin.post("/api/processes/nonsense/kill"), 404, "no_such_process", "kill nonsense")
    # The console and its watcher are outside the tree: nothing would
    # restart them, so they are refused, marked so in the table, and live on.
    every = expect(admin.get("/api/processes?limit=1000"), 200)["processes"]
    killable = {p["name"]: p["killable"] for p in every if p["name"]}
    if killable.get("SupportSystem.Console") is not False or \
            killable.get("SupportSystem.ConsoleWatcher") is not False or \
            killable.get("SupportSystem.Store") is not True:
        raise Failure("killable %r" % killable)
    for name in ("SupportSystem.Console", "SupportSystem.ConsoleWatcher"):
        pid = next(p["pid"] for p in every if p["name"] == name)
        refused = expect(admin.post("/api/processes/%s/kill" % pid.strip("<>")), 403, "outside_tree",
                         "kill " + name)
        if "nothing would restart it" not in refused["message"]:
            raise Failure("kill %s answered %r" % (name, refused))
    alive = {p["name"] for p in expect(admin.get("/api/processes?limit=1000"), 200)["processes"]}
    if not {"SupportSystem.Console", "SupportSystem.ConsoleWatcher"} <= alive:
        raise Failure("the console's processes after the refusals: %r" % alive)
    # Kill the Store: its supervisor restarts it, and what came after it
    # (rest_for_one: the Web too); nothing acknowledged is lost.
    store = find(tree, "Store")["pid"]
    before = expect(admin.get("/api/tickets/%d" % tid), 200)["ticket"]
    # Meanwhile other clients read the tree: the restart of the web kills
    # their connections mid-walk, and a killed connection must leak nothing
    # (the sanitizer's leak check at exit says so).
    stop = threading.Event()

    def read_trees():
        while not stop.is_set():
            try:
                admin.get("/api/tree")
            except (ConnectionError, OSError, http.client.HTTPException):
                pass
    readers = [threading.Thread(target=read_trees) for _ in range(4)]
    for t in readers:
        t.start()
    expect(admin.post("/api/processes/%s/kill" % store.strip("<>"), {"colour": "red"}), 400,
           "unknown_field", "kill with a field")
    expect(admin.post("/api/processes/%s/kill" % store.strip("<>"), raw=b"\xff",
                      content_type="text/plain"), 400, "bad_content_type", "kill with a text body")
    if find(expect(admin.get("/api/tree"), 200)["tree"], "Store")["pid"] != store:
        raise Failure("a refused kill killed the Store")
    k = expect(admin.post("/api/processes/%s/kill" % store.strip("<>")), 200, what="kill Store")
    if k["killed"] != store or k["name"] != "SupportSystem.Store":
        raise Failure("killed %r" % k)

    def store_back():
        try:
            r = admin.get("/api/tree")
        except (ConnectionError, OSError, http.client.HTTPException):
            return None  # the Web restarts with the rest
        if r.status != 200:
            return None
        s = find(r.json["tree"], "Store")
        return s and s["pid"] != store and s["status"] == "running" and s
    s = wait_until("the Store restarted", store_back)
    stop.set()
    for t in readers:
        t.join()
    if s["restarts"] < 1:
        raise Failure("the Store's restart is not counted: %r" % s)
    # The process table has each supervised child's restarts, as the tree
    # counts them, and sorts by them: most first, unsupervised (null) last.
    procs = expect(admin.get("/api/processes?sort=restarts&limit=1000"), 200)["processes"]
    rs = [-1 if p["restarts"] is None else p["restarts"] for p in procs]
    if rs != sorted(rs, reverse=True) or rs[0] < 1:
        raise Failure("processes by restarts %r" % rs)
    row = [p for p in procs if p["pid"] == s["pid"]]
    if not row or row[0]["restarts"] != s["restarts"] or row[0]["name"] != "SupportSystem.Store":
        raise Failure("the Store's row %r, its node %r" % (row, s))
    if not any(p["restarts"] is None for p in procs):
        raise Failure("no process is unsupervised: %r" % procs[-3:])
    after = expect(admin.get("/api/tickets/%d" % tid), 200, what="after the restart")["ticket"]
    if (after["status"], after["agent"], after["version"]) != \
            (before["status"], before["agent"], before["version"]):
        raise Failure("the Store's restart lost a change: %r -> %r" % (before, after))


def events(desk, admin):
    """GET /api/events: a change made elsewhere arrives as an event."""
    sock = socket.create_connection(("127.0.0.1", desk.port), timeout=DEADLINE_S)
    sock.sendall(("GET /api/events HTTP/1.1\r\nHost: x\r\nCookie: arbor_session=%s\r\n"
                  "Accept: text/event-stream\r\n\r\n" % admin.cookie).encode())
    buf = b""
    deadline = time.monotonic() + DEADLINE_S
    while b"\r\n\r\n" not in buf and time.monotonic() < deadline:
        buf += sock.recv(4096)
    head = buf.split(b"\r\n\r\n")[0].decode()
    if not head.startswith("HTTP/1.1 200") or "text/event-stream" not in head:
        raise Failure("the event stream answered %r" % head)
    # First, a snapshot of the tickets as they are.
    listed = expect(admin.get("/api/tickets?limit=1000"), 200)["tickets"]
    snap = re.compile(rb"event: snapshot\ndata: ([^\n]*)\n")
    while not snap.search(buf):
        if time.monotonic() > deadline:
            raise Failure("no snapshot: %r" % buf[-2000:])
        buf += sock.recv(65536)
    tickets = json.loads(snap.search(buf).group(1))["tickets"]
    if [t["id"] for t in tickets] != [t["id"] for t in listed] or not tickets:
        raise Failure("the snapshot %r is not the list %r" % (tickets[:3], listed[:3]))
    body = buf[buf.index(b"\r\n\r\n") + 4:]
    if not re.match(rb"[0-9a-f]+\r\nid: [0-9]+-[0-9]+\nevent: snapshot\n", body):
        raise Failure("something came before the snapshot: %r" % buf[:600])
    # The stream is subscribed before its head is sent: a change now is seen.
    other = desk.client()
    expect(other.sign_in("dora", "dorapass"), 200)
    t = expect(other.post("/api/tickets", {"description": "Seen live"}), 201)["ticket"]
    expect(other.post("/api/tickets/%d/assign" % t["id"], {"agent": "bob"}), 200)
    want = re.compile(rb'event: ticket\ndata: (\{[^\n]*"id":%d[^\n]*"status":"assigned"[^\n]*)\n'
                      % t["id"])
    while not want.search(buf):
        if time.monotonic() > deadline:
            raise Failure("no event for ticket %d: %r" % (t["id"], buf[-2000:]))
        chunk = sock.recv(4096)
        if not chunk:
            raise Failure("the event stream closed: %r" % buf[-2000:])
        buf += chunk
    # A process that dies and is restarted shows as process events: kill
    # the ticket's worker (a transient child: restarted after a kill).
    tree = expect(admin.get("/api/tree"), 200)["tree"]
    workers = find(tree, "TicketSupervisor")["children"]
    if not workers:
        raise Failure("no ticket worker in the tree: %r" % tree)
    pid = workers[0]["pid"]
    expect(admin.post("/api/processes/%s/kill" % pid.strip("<>")), 200, what="kill a worker")
    # (A dynamic supervisor's report names itself, not the child.)
    sup = find(tree, "TicketSupervisor")["pid"]
    want = re.compile(rb'event: process\ndata: (\{[^\n]*"pid":"%s"[^\n]*"what":"child_terminated"'
                      rb'[^\n]*"reason":"killed"[^\n]*)\n' % re.escape(sup.encode()))
    while not want.search(buf):
        if time.monotonic() > deadline:
            raise Failure("no process event for %s: %r" % (pid, buf[-2000:]))
        chunk = sock.recv(4096)
        if not chunk:
            raise Failure("the event stream closed: %r" % buf[-2000:])
        buf += chunk
    sock.close()
    # Without a session: 401.
    expect(desk.client().get("/api/events"), 401, "not_signed_in", "events without a session")


class Stream:
    """GET /api/events on a socket of its own, read event by event."""

    def __init__(self, desk, cookie, last_event_id=None):
        self.sock = socket.create_connection(("127.0.0.1", desk.port), timeout=DEADLINE_S)
        extra = "Last-Event-ID: %s\r\n" % last_event_id if last_event_id else ""
        self.sock.sendall(("GET /api/events HTTP/1.1\r\nHost: x\r\nCookie: arbor_session=%s\r\n"
                           "Accept: text/event-stream\r\n%s\r\n" % (cookie, extra)).encode())
        self.raw = b""
        self.buf = b""  # the body, its chunks joined
        while b"\r\n\r\n" not in self.raw:
            self.recv()
        head, self.raw = self.raw.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 200") or b"Transfer-Encoding: chunked" not in head:
            raise Failure("the event stream answered %r" % head)

    def recv(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise Failure("the event stream closed: %r" % self.raw[-500:])
        self.raw += chunk

    def more(self):
        """Reads until one more chunk of the body is whole."""
        while True:
            if b"\r\n" in self.raw:
                size_line, rest = self.raw.split(b"\r\n", 1)
                size = int(size_line, 16)
                if len(rest) >= size + 2:
                    self.buf += rest[:size]
                    self.raw = rest[size + 2:]
                    return
            self.recv()

    def next(self):
        """The next event as {"id", "event", "data"} (comments skipped)."""
        while True:
            while b"\n\n" not in self.buf:
                self.more()
            block, self.buf = self.buf.split(b"\n\n", 1)
            ev = {}
            for line in block.decode().split("\n"):
                if line.startswith(":"):
                    continue
                k, _, v = line.partition(": ")
                ev[k] = json.loads(v) if k == "data" else v
            if ev:
                return ev

    def until(self, pred, what):
        seen = []
        while True:
            ev = self.next()
            seen.append(ev)
            if pred(ev):
                return seen
            if len(seen) > 2000:
                raise Failure("no %s among %r" % (what, seen[-5:]))

    def closes_within(self, seconds, what):
        """Waits up to seconds for the server to close the stream, which
        must send no event meanwhile (heartbeat comments aside)."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure("%s: the stream stayed open" % what)
            self.sock.settimeout(left)
            try:
                ev = self.next()
            except socket.timeout:
                continue
            except Failure as e:
                if "closed" in str(e):
                    return
                raise
            raise Failure("%s: the stream sent %r" % (what, ev))

    def close(self):
        self.sock.close()


def streams_end_with_their_session(desk, admin):
    """An event stream reads nothing once its session has ended: signed
    out, or its agent deactivated. It closes then, without waiting for
    another event, and a stream of another session goes on."""
    expect(admin.post("/api/agents", {"name": "evan", "password": "evanpass1"}), 201)
    others = Stream(desk, admin.cookie)
    if others.next()["event"] != "snapshot":
        raise Failure("the admin stream's first event")
    for how in ("sign-out", "deactivate"):
        evan = desk.client()
        expect(evan.sign_in("evan", "evanpass1"), 200)
        s = Stream(desk, evan.cookie)
        if s.next()["event"] != "snapshot":
            raise Failure("the stream's first event")
        if how == "sign-out":
            expect(evan.request("DELETE", "/api/session"), 200)
        else:
            expect(admin.post("/api/agents/evan/deactivate"), 200)
        s.closes_within(10, "after " + how)  # no event comes: it closes by itself
        s.close()
        if how == "deactivate":
            expect(admin.post("/api/agents/evan/activate"), 200)
    t = expect(admin.post("/api/tickets", {"description": "For the admin's stream"}), 201)
    others.until(lambda e: e["event"] == "ticket" and e["data"]["id"] == t["ticket"]["id"],
                 "the admin's next event")
    others.close()


def streams_end_when_their_session_expires(binary, tmp):
    """A stream whose session expires closes then, with no event to send:
    on a desk whose sessions last 3 s (ARBOR_DESK_TEST_SESSION_TTL_MS)."""
    d = Desk(binary, tmp, name="expiry", env={"ARBOR_DESK_TEST_SESSION_TTL_MS": "3000"})
    try:
        first_admin(d)
        for attempt in range(3):  # a slow start may outlast the session: sign in again
            c = d.client()
            expect(c.sign_in("ada", ADMIN_PW), 200, what="ada signs in")
            try:
                s = Stream(d, c.cookie)
                break
            except Failure:
                if attempt == 2:
                    raise
        if s.next()["event"] != "snapshot":
            raise Failure("the expiring stream's first event")
        s.closes_within(20, "a session that expires in 3 s")
        s.close()
        signed_out(c, "an expired session")
        if d.quit() != 0:
            raise Failure("the expiry desk did not quit cleanly")
    finally:
        if d.proc.poll() is None:
            d.proc.kill()


def resume(desk, admin):
    """Last-Event-ID: a reconnect gets the events it missed, in order, then
    "resume"; from too far back, or not an id of this run, a snapshot that
    says why."""
    s = Stream(desk, admin.cookie)
    snap = s.next()
    if snap["event"] != "snapshot" or snap["data"]["reason"] != "connect" or "id" not in snap:
        raise Failure("the first event: %r" % snap)
    # Two ticket events; the client goes away after the first.
    t = expect(admin.post("/api/tickets", {"description": "Missed while away"}), 201)["ticket"]
    first = s.until(lambda e: e["event"] == "ticket" and e["data"]["id"] == t["id"], "the create")
    last_id = first[-1]["id"]
    s.close()
    expect(admin.post("/api/tickets/%d/assign" % t["id"], {"agent": "bob"}), 200)
    expect(admin.post("/api/tickets/%d/note" % t["id"], {"text": "while away"}), 200)
    s = Stream(desk, admin.cookie, last_id)
    seen = s.until(lambda e: e["event"] == "resume", "a resume")
    tickets = [(e["data"]["id"], e["data"]["version"]) for e in seen if e["event"] == "ticket"]
    if any(e["event"] == "snapshot" for e in seen) or tickets != [(t["id"], 1), (t["id"], 2)]:
        raise Failure("the resume after %s sent %r" % (last_id, seen))
    run, seq = last_id.split("-")
    ids = [e["id"] for e in seen]
    if ids != ["%s-%d" % (run, int(seq) + i) for i in range(1, len(seen))] + [ids[-2]] or \
            seen[-1]["data"] != {"after": last_id, "replayed": len(seen) - 1}:
        raise Failure("the replayed ids %r, the resume %r" % (ids, seen[-1]))
    # Live again after the resume.
    expect(admin.post("/api/tickets/%d/resolve" % t["id"]), 200)
    s.until(lambda e: e["event"] == "ticket" and e["data"]["status"] == "resolved", "live")
    s.close()
    # An id the desk never gave (another run's, or nonsense): a snapshot.
    for bad in ("1-1", "%s-999999999" % run, "yesterday", "%s-1x" % run):
        s = Stream(desk, admin.cookie, bad)
        ev = s.next()
        s.close()
        if ev["event"] != "snapshot" or ev["data"]["reason"] != "unknown":
            raise Failure("Last-Event-ID %r: %r" % (bad, ev))
    # More events missed than the ring holds (256): a snapshot, too_old.
    for i in range(140):
        x = expect(admin.post("/api/tickets", {"description": "Flood %d" % i}), 201)["ticket"]
        expect(admin.post("/api/tickets/%d/assign" % x["id"], {"agent": "bob"}), 200)
    s = Stream(desk, admin.cookie, last_id)
    ev = s.next()
    s.close()
    if ev["event"] != "snapshot" or ev["data"]["reason"] != "too_old":
        raise Failure("a resume from too long ago: %r" % ev)


def iso_s(text):
    """An ISO-8601 UTC time to seconds since the epoch."""
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))


def sla(binary, tmp):
    """SLA timers on a desk of their own (--sla in seconds): the due time
    in the ticket, pending pausing it, a priority edit moving it, the
    breach as an "sla" event with its notification, the Overdue queue and
    its count, and the refusals of the queue's filters."""
    d = Desk(binary, tmp, extra=["--sla", "normal=2s,low=3d"], name="sla")
    try:
        c = first_admin(d)
        stream = Stream(d, c.cookie)
        stream.until(lambda ev: ev.get("event") == "snapshot", "the snapshot")
        low = expect(c.post("/api/tickets", {"description": "Toner low", "priority": "low"}),
                     201)["ticket"]
        late = expect(c.post("/api/tickets", {"description": "Server down"}), 201)["ticket"]
        paused = expect(c.post("/api/tickets", {"description": "Waiting", "priority": "high"}),
                        201)["ticket"]
        for t in (low, late, paused):
            if t["breached"] or t["overdue"] or t["breached_at"] is not None or \
                    t["sla_left_s"] is not None:
                raise Failure("a new ticket's SLA: %r" % t)
        if iso_s(low["due_at"]) - iso_s(low["created_at"]) not in (3 * 86400, 3 * 86400 + 1):
            raise Failure("low's due time: %r" % low)
        # Pending pauses the clock: no due time, the time left kept.
        expect(c.post("/api/tickets/%d/assign" % paused["id"], {"agent": "bob"}), 200)
        p = expect(c.post("/api/tickets/%d/pend" % paused["id"]), 200)["ticket"]
        if p["due_at"] is not None or not isinstance(p["sla_left_s"], int) or \
                not 8 * 3600 - 60 < p["sla_left_s"] <= 8 * 3600:
            raise Failure("a pending ticket's SLA: %r" % p)
        # A priority edit moves the due time by the difference: 3 d to 4 h.
        u = expect(c.post("/api/tickets/%d/edit" % low["id"], {"priority": "urgent"}),
                   200)["ticket"]
        moved = iso_s(low["due_at"]) - iso_s(u["due_at"])
        if abs(moved - 68 * 3600) > 1:
            raise Failure("the edit moved the due time by %d s: %r" % (moved, u))
        # The breach, as it happens: the sla event, with the ticket.
        seen = stream.until(lambda ev: ev.get("event") == "sla", "an sla event")
        ev = seen[-1]["data"]
        if ev["id"] != late["id"] or ev["due_at"] != late["due_at"] or \
                not ev["ticket"]["overdue"] or ev["ticket"]["breached_at"] != ev["breached_at"]:
            raise Failure("the sla event: %r" % ev)
        stream.close()
        shown = expect(c.get("/api/tickets/%d" % late["id"]), 200)["ticket"]
        if not (shown["breached"] and shown["overdue"]) or shown["due_at"] != late["due_at"]:
            raise Failure("the breached ticket: %r" % shown)
        entry = shown["history"][-1]
        if (entry["who"], entry["role"], entry["what"]) != (
                "desk", "desk", "SLA breached: resolution due " + late["due_at"]):
            raise Failure("the breach's history entry: %r" % entry)
        # The Overdue queue and its count; a list marks the overdue.
        overdue = expect(c.get("/api/tickets?queue=overdue"), 200)["tickets"]
        if [t["id"] for t in overdue] != [late["id"]]:
            raise Failure("the Overdue queue: %r" % overdue)
        queues = expect(c.get("/api/queues"), 200)["queues"]
        if queues["overdue"] != 1:
            raise Failure("queues %r" % queues)
        marks = {t["id"]: t["overdue"] for t in
                 expect(c.get("/api/tickets?limit=1000"), 200)["tickets"]}
        if marks != {low["id"]: False, late["id"]: True, paused["id"]: False}:
            raise Failure("the list's marks: %r" % marks)
        expect(c.get("/api/tickets?queue=overdue&status=open"), 400, "bad_argument",
               "the Overdue queue with a status")
        expect(c.get("/api/tickets?queue=late"), 400, "bad_argument", "an unknown queue")
        # Resumed, the paused ticket's clock runs with what was left.
        r = expect(c.post("/api/tickets/%d/resume" % paused["id"]), 200)["ticket"]
        if r["due_at"] is None or r["sla_left_s"] is not None:
            raise Failure("a resumed ticket's SLA: %r" % r)
        # Resolved, the breached ticket leaves the queue.
        expect(c.post("/api/tickets/%d/assign" % late["id"], {"agent": "bob"}), 200)
        done = expect(c.post("/api/tickets/%d/resolve" % late["id"]), 200)["ticket"]
        if done["overdue"] or not done["breached"] or done["due_at"] is not None:
            raise Failure("a resolved breached ticket: %r" % done)
        if expect(c.get("/api/queues"), 200)["queues"]["overdue"] != 0:
            raise Failure("a resolved ticket is still counted overdue")
        # The notifier delivers the breach's notification, once.
        log = os.path.join(tmp, "sla.log")
        line = "ticket %d breached its SLA: resolution was due %s" % (late["id"], late["due_at"])
        wait_until("the breach's notification in the log",
                   lambda: os.path.exists(log) and line in open(log).read())
    finally:
        rc = d.quit()
    if rc != 0:
        raise Failure("the SLA desk exited with %d" % rc)
    db = sqlite3.connect(os.path.join(tmp, "sla.db"))
    n = db.execute("SELECT count(*) FROM history WHERE what LIKE 'SLA breached%'").fetchone()[0]
    db.close()
    if n != 1:
        raise Failure("%d breaches recorded, not 1" % n)
    if open(os.path.join(tmp, "sla.log")).read().count("breached its SLA") != 1:
        raise Failure("the breach was notified more than once")


def protocol(desk, admin):
    r = admin.request("PUT", "/api/tickets", {})
    expect(r, 405, "method_not_allowed", "a method the path does not take")
    if r.header("Allow") != "GET, POST":
        raise Failure("Allow: %r" % r.header("Allow"))
    # A path of the API's that takes POST alone, asked with GET: 405 as
    # well (the dashboard's files, which take any GET, are not under /api/).
    for path, allow in [("/api/tickets/1/assign", "POST"), ("/api/agents/bob/rename", "POST"),
                        ("/api/processes/1/kill", "POST")]:
        r = admin.get(path)
        expect(r, 405, "method_not_allowed", "GET " + path)
        if r.header("Allow") != allow:
            raise Failure("GET %s: Allow: %r" % (path, r.header("Allow")))
    expect(admin.get("/api/nothing"), 404, "not_found", "an unknown path")
    expect(admin.request("DELETE", "/api/nothing"), 404, "not_found", "an unknown path, DELETE")
    expect(admin.get("/api/tickets/%zz"), 400, "bad_path", "a bad escape in the path")


def start_refusals(binary, tmp, port):
    """A taken port is refused with a hint; a non-loopback address warns."""
    d = subprocess.run(
        [binary, "--json", "--db", os.path.join(tmp, "other.db"), "--http",
         "127.0.0.1:%d" % port], input="quit\n", capture_output=True, text=True,
        timeout=DEADLINE_S)
    # One plain line, not the supervisors' start_error reports before it.
    taken = "cannot listen on 127.0.0.1:%d: the port is taken by another program" % port
    if d.returncode == 0 or taken not in d.stderr or "REPORT" in d.stderr:
        raise Failure("a taken port: status %d, %r" % (d.returncode, d.stderr))
    d = subprocess.run(
        [binary, "--json", "--db", os.path.join(tmp, "other.db"), "--http", "192.0.2.1:4000"],
        input="quit\n", capture_output=True, text=True, timeout=DEADLINE_S)
    foreign = "cannot listen on 192.0.2.1:4000: the address is not one of this machine's"
    if d.returncode == 0 or foreign not in d.stderr or "REPORT" in d.stderr:
        raise Failure("an address not of this machine: status %d, %r" % (d.returncode, d.stderr))
    for bad in ("4000", "127.0.0.1:", "127.0.0.1:70000", ":80"):
        d = subprocess.run(
            [binary, "--db", os.path.join(tmp, "bad.db"), "--http", bad], input="",
            capture_output=True, text=True, timeout=DEADLINE_S)
        if d.returncode != 2 or "--http wants ADDRESS:PORT" not in d.stderr:
            raise Failure("--http %s: status %d, %r" % (bad, d.returncode, d.stderr))
    d = subprocess.run(
        [binary, "--json", "--db", os.path.join(tmp, "wide.db"), "--http", "0.0.0.0:0"],
        input="quit\n", capture_output=True, text=True, timeout=DEADLINE_S)
    if d.returncode != 0 or "warning: the web desk listens on 0.0.0.0" not in d.stderr:
        raise Failure("0.0.0.0: status %d, %r" % (d.returncode, d.stderr))


def stored_passwords(db):
    """Passwords are stored as yescrypt hashes, each with its own salt."""
    con = sqlite3.connect(db)
    rows = con.execute("SELECT agent, hash, role FROM credentials ORDER BY agent").fetchall()
    con.close()
    if [(a, r) for a, _, r in rows] != [("ada", "admin"), ("carla", "agent"),
                                        ("dora", "admin"), ("evan", "agent")]:
        raise Failure("credentials %r" % [(a, r) for a, _, r in rows])
    salts = set()
    for agent, h, _ in rows:
        if not h.startswith("$y$") or ADMIN_PW in h or "pass" in h:
            raise Failure("%s's password is stored as %r" % (agent, h))
        salts.add(h.rsplit("$", 1)[0])
    if len(salts) != len(rows):
        raise Failure("two passwords share a salt")


def setup_gives_the_link_back(binary, tmp):
    """A setup refused after its link was checked makes no admin and gives
    the link back: here a name that could be either of two agents (zed and
    Zed, on a database from before names were one agent's whatever their
    case)."""
    first = Desk(binary, tmp, name="twins")
    if first.quit() != 0:
        raise Failure("the twins' first desk did not quit cleanly")
    con = sqlite3.connect(first.db)
    con.execute("INSERT INTO agents(name, added) VALUES('zed', 0), ('Zed', 0)")
    con.commit()
    con.close()
    desk = Desk(binary, tmp, name="twins")  # no admin yet: a new link
    try:
        c = desk.client()
        expect(c.post("/api/setup", {"token": desk.setup_token, "name": "ZED",
                                     "password": ADMIN_PW}),
               409, "agent_exists", "a first admin who could be zed or Zed")
        me = expect(c.post("/api/setup", {"token": desk.setup_token, "name": "Zed",
                                          "password": ADMIN_PW}),
                    200, what="the same link, for Zed")
        if me["agent"] != "Zed" or me["role"] != "admin":
            raise Failure("setup answered %r" % me)
    finally:
        if desk.quit() != 0:
            raise Failure("the twins' desk did not quit cleanly")


def legacy_case_twins(db):
    """Makes Carla beside carla, with her password, as a database from before
    names were one agent's whatever their case could hold."""
    con = sqlite3.connect(db)
    for table, key in (("agents", "name"), ("credentials", "agent")):
        cols = [r[1] for r in con.execute("PRAGMA table_info(%s)" % table)]
        picked = ", ".join("'Carla'" if c == key else c for c in cols)
        con.execute("INSERT INTO %s(%s) SELECT %s FROM %s WHERE %s = 'carla'"
                    % (table, ", ".join(cols), picked, table, key))
    con.commit()
    con.close()


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    binary = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        desk = Desk(binary, tmp)
        try:
            admin = first_admin(desk)
            sign_in_and_sessions(desk, admin)
            bad_bodies(desk, admin)
            tid = tickets(desk, admin)
            ticket_list(desk, admin)
            agents(desk, admin)
            agents_admin(desk, admin)
            events(desk, admin)
            streams_end_with_their_session(desk, admin)
            streams_end_when_their_session_expires(binary, tmp)
            resume(desk, admin)
            protocol(desk, admin)
            sla(binary, tmp)
            start_refusals(binary, tmp, desk.port)
            setup_gives_the_link_back(binary, tmp)
            runtime(desk, admin, tid)
            rc = desk.quit()
            if rc != 0:
                raise Failure("the desk exited with %d" % rc)
            stored_passwords(desk.db)
            legacy_case_twins(desk.db)
            # A restart: sessions are in memory, so ada signs in again;
            # her password is stored. No setup link: there is an admin.
            again = Desk(binary, tmp, first_start=False)
            c = again.client()
            c.cookie = admin.cookie
            signed_out(c, "an old session after a restart")
            expect(c.sign_in("ada", ADMIN_PW), 200, what="sign in after a restart")
            # Two names that differ only in case (a database from before
            # that rule): each signs in by its own spelling, and another
            # spelling, which could be either, by neither.
            for name, status, code in [("carla", 200, None), ("Carla", 200, None),
                                       ("CARLA", 401, "bad_credentials")]:
                me = expect(again.client().sign_in(name, "carolpass2"), status, code,
                            "%s beside carla and Carla" % name)
                if status == 200 and me["agent"] != name:
                    raise Failure("%s signed in as %r" % (name, me))
            if "No admin yet" in again.stderr():
                raise Failure("a setup link was printed on a desk with an admin")
            if again.quit() != 0:
                raise Failure("the second desk did not quit cleanly")
        except Failure as e:
            print("FAIL:", e)
            print("--- desk stderr:")
            print(desk.stderr())
            if desk.proc.poll() is None:
                desk.proc.kill()
            sys.exit(1)
    print("web API: every endpoint and error status checked")


if __name__ == "__main__":
    main()
