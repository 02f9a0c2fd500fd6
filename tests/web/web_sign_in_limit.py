#!/usr/bin/env python3
"""Sign-in rate limiting (apps/support_system/web/sign_in_limit.h): after 5
failed sign-ins for a name, or 20 from an address, sign-ins of that name, or
from that address, are refused with 429 and Retry-After until the block
passes; refused attempts are neither checked nor counted; a sign-in that
succeeds clears its name's count. Over real HTTP against support_system
--http 127.0.0.1:0, on a desk of its own (the blocks are in memory).

usage: web_sign_in_limit.py PATH_TO_support_system
"""
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from desk import DEADLINE_S, Desk, Failure  # noqa: E402

FREE_PER_NAME = 5
FREE_PER_ADDRESS = 20


def status(resp, want, code, what):
    if resp.status != want or (code and (resp.json or {}).get("code") != code):
        raise Failure("%s: expected %d %s, got %r" % (what, want, code, resp))
    return resp


def blocked(resp, what):
    status(resp, 429, "too_many_attempts", what)
    after = resp.header("Retry-After")
    if not after or not after.isdigit() or not 1 <= int(after) <= 2:
        raise Failure("%s: Retry-After %r" % (what, after))


def until_accepted(desk, name, password, what):
    """Polls (each refusal not counted) until the block has passed."""
    deadline = time.monotonic() + DEADLINE_S
    c = desk.client()
    while True:
        r = c.sign_in(name, password)
        if r.status == 200:
            return r
        blocked(r, what)
        if time.monotonic() > deadline:
            raise Failure("%s: still refused after %d s" % (what, DEADLINE_S))
        time.sleep(0.05)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with tempfile.TemporaryDirectory() as tmp:
        desk = Desk(sys.argv[1], tmp)
        try:
            admin = desk.client()
            status(admin.post("/api/setup", {"token": desk.setup_token, "name": "ada",
                                             "password": "ada-password"}), 200, None, "setup")
            status(admin.post("/api/agents", {"name": "bo", "password": "bo-password"}), 201,
                   None, "add bo")
            c = desk.client()
            failures = 0
            # A name: five wrong passwords, then even the right one is refused.
            # The name is counted whatever its case (bo, Bo and BO sign in as
            # one agent), so changing the case gains no tries.
            for i, name in enumerate(["bo", "Bo", "BO", "bO", "bo"][:FREE_PER_NAME]):
                status(c.sign_in(name, "wrong %d" % i), 401, "bad_credentials",
                       "wrong password %d as %s" % (i + 1, name))
                failures += 1
            blocked(c.sign_in("bo", "bo-password"), "the right password while blocked")
            blocked(c.sign_in("bo", "wrong"), "a wrong one while blocked")
            # Another name from the same address is not blocked.
            status(desk.client().sign_in("ada", "ada-password"), 200, None, "ada meanwhile")
            # The block passes (the refusals did not extend it) and a success
            # clears the count: one failure is a 401 again, not a block.
            until_accepted(desk, "BO", "bo-password", "bo (as BO) after the block")
            status(c.sign_in("bo", "wrong again"), 401, "bad_credentials", "after a success")
            failures += 1
            # An unknown name is limited the same (it is not told apart).
            for i in range(FREE_PER_NAME):
                status(c.sign_in("ghost", "x%d" % i), 401, "bad_credentials", "ghost %d" % i)
                failures += 1
            blocked(c.sign_in("ghost", "x"), "an unknown name")
            # An address: 20 failures over as many names block every name from it.
            i = 0
            while failures < FREE_PER_ADDRESS:
                status(c.sign_in("name%d" % i, "x"), 401, "bad_credentials", "name%d" % i)
                failures += 1
                i += 1
            blocked(desk.client().sign_in("ada", "ada-password"), "ada from a blocked address")
            until_accepted(desk, "ada", "ada-password", "ada after the address's block")
            if desk.quit() != 0:
                raise Failure("the desk did not quit cleanly")
        except Failure as e:
            print("FAIL:", e)
            print("--- desk stderr:")
            print(desk.stderr())
            if desk.proc.poll() is None:
                desk.proc.kill()
            sys.exit(1)
    print("sign-in limits: names, addresses, Retry-After, expiry checked")


if __name__ == "__main__":
    main()
