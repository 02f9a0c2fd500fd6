#!/usr/bin/env python3
"""The desk's console at a terminal: non-ASCII text typed there is kept,
and Ctrl-C cancels the line being typed instead of ending the desk.

usage: desk_terminal.py PATH_TO_support_system LINE_EDITOR

Runs support_system on a pseudo-terminal in the C locale (where a line
editor that was not told the locale drops every non-ASCII byte), types
`create José --customer "Zoë Ltd"` and expects the ticket to be answered
with both names whole. Then types half a command, `create lost`, and
Ctrl-C: a new prompt comes, the desk is still there, and `list` shows that
nothing was created; Ctrl-C at an empty prompt, twice, changes nothing
either. Then `quit` and a clean exit. With no line editor built in the
terminal's own line discipline does the reading, and the test still runs.
"""
import os
import re
import sys
import tempfile

from console_line_editing import Failure, Session

PROMPT = b"support> "


def run(session):
    session.expect(re.escape(PROMPT), "the first prompt")
    session.send('create José --customer "Zoë Ltd"\r'.encode())
    line = session.expect(rb"(#1 [^\r\n]*)\r?\n", "the created ticket").group(1)
    if "José (customer Zoë Ltd)".encode() not in line:
        raise Failure(f"the ticket was answered as {line.decode(errors='replace')!r}")
    session.expect(re.escape(PROMPT), "the prompt")
    session.send(b"create lost")
    session.expect(rb"create lost", "the echo of the half-typed line")
    session.send(b"\x03")
    session.expect(re.escape(PROMPT), "a new prompt after Ctrl-C")
    session.send(b"\x03")
    session.expect(re.escape(PROMPT), "a new prompt after Ctrl-C at an empty line")
    session.send(b"\x03")
    session.expect(re.escape(PROMPT), "a new prompt after a second Ctrl-C")
    session.send(b"list\r")
    listed = session.expect(rb"(\d+) tickets?\r?\n", "the list").group(1)
    if listed != b"1":
        raise Failure(f"after Ctrl-C the desk lists {listed.decode()} tickets, expected 1")
    session.expect(re.escape(PROMPT), "the prompt")
    session.send(b"quit\r")
    session.expect(rb"bye", "bye")
    status = session.wait_exit()
    if b"Sanitizer" in session.out:
        raise Failure("a sanitizer reported")
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        raise Failure(f"exit status {status:#x}, expected 0")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    binary, editor = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as tmp:
        session = Session(binary, ["--no-http", "--db", os.path.join(tmp, "desk.db")],
                          locale="C")
        try:
            run(session)
        except Failure as e:
            print(f"desk terminal ({editor}): {e}")
            print("--- output:")
            print(session.out.decode(errors="replace"))
            return 1
        finally:
            session.kill()
    print(f"desk terminal ({editor}): ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
