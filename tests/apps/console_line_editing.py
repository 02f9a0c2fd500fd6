#!/usr/bin/env python3
"""Line editing and history in the console, on a pseudo-terminal.

usage: console_line_editing.py PATH_TO_simple_queue LINE_EDITOR

Runs simple_queue on a pty, types `enqueue 7`, then Up arrow + Enter (which
recalls `enqueue 7` from the history and runs it again), then `queue`, and
expects [1, 2, 3, 7, 7]; then a line of 1,500 bytes (`enqueue`, blanks,
`8`), which is one command; then `quit`, and expects a clean exit (status 0,
no sanitizer report). LINE_EDITOR is what the build found (libedit,
readline or none); with none the test is skipped (exit 77).
"""
import fcntl
import os
import pty
import re
import select
import signal
import struct
import sys
import termios
import time

SKIP = 77
# A session's deadline, scaled as the C tests' deadlines are (make test
# and make tsan set ARBOR_TEST_TIMEOUT_SCALE on a busy machine).
try:
    _SCALE = float(os.environ.get("ARBOR_TEST_TIMEOUT_SCALE", "1"))
except ValueError:
    _SCALE = 1.0
DEADLINE_S = 30 * (_SCALE if _SCALE > 0 else 1.0)
PROMPT = b"simple_queue> "
UP = b"\x1b[A"


class Failure(Exception):
    pass


class Session:
    """simple_queue on a pty: what it wrote so far, and a reading position."""

    def __init__(self, binary, args=(), locale=None):
        self.deadline = time.monotonic() + DEADLINE_S
        self.out = b""
        self.pos = 0
        self.eof = False
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            self._exec(binary, list(args), locale)

    @staticmethod
    def _exec(binary, args, locale):
        """Child: a known window size and terminal, no user key bindings;
        with locale, that locale and no other locale variable."""
        try:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
            env = dict(os.environ, TERM="xterm", EDITRC="/dev/null", INPUTRC="/dev/null")
            if locale is not None:
                env = {k: v for k, v in env.items() if not k.startswith(("LC_", "LANG"))}
                env["LANG"] = locale
            os.execve(binary, [binary] + args, env)
        finally:
            os._exit(127)

    def _read_some(self):
        """Waits (until the deadline) for output; False at end of it."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise Failure("timed out")
        ready, _, _ = select.select([self.fd], [], [], left)
        if not ready:
            raise Failure("timed out")
        try:
            data = os.read(self.fd, 4096)
        except OSError:  # EIO: the child has gone and closed the pty
            data = b""
        if not data:
            self.eof = True
            return False
        self.out += data
        return True

    def expect(self, pattern, what):
        """Reads until pattern (bytes regex) matches after the reading
        position; moves past the match and returns it."""
        regex = re.compile(pattern, re.DOTALL)
        while True:
            m = regex.search(self.out, self.pos)
            if m:
                self.pos = m.end()
                return m
            if self.eof or not self._read_some():
                raise Failure(f"end of output while waiting for {what}")

    def send(self, data):
        os.write(self.fd, data)

    def wait_exit(self):
        """Reads to the end of output, then returns the exit status."""
        while not self.eof:
            self._read_some()
        while True:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.pid = 0
                return status
            if time.monotonic() > self.deadline:
                raise Failure("timed out waiting for the exit")
            time.sleep(0.05)

    def kill(self):
        if self.pid:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.pid = 0


def run(session):
    answer = rb"(:ok|\*\* \([a-z_]+\)[^\r\n]*)\r?\n.*?" + re.escape(PROMPT)
    session.expect(re.escape(PROMPT), "the first prompt")
    session.send(b"enqueue 7\r")
    session.expect(answer, "the answer to enqueue 7")
    session.send(UP + b"\r")
    recalled = session.expect(answer, "the answer to Up arrow + Enter").group(1)
    session.send(b"queue\r")
    queue = session.expect(rb"(\[[-0-9, ]*\])\r?\n.*?" + re.escape(PROMPT), "the queue").group(1)
    if queue != b"[1, 2, 3, 7, 7]":
        raise Failure(
            f"queue is {queue.decode()}, expected [1, 2, 3, 7, 7] "
            f"(Up arrow + Enter answered {recalled.decode()!r})"
        )
    # A line is one command whatever its length: enqueue, 1,500 blanks and
    # 8 enqueues 8 (a line cut at 1,023 bytes would be refused).
    session.send(b"enqueue" + b" " * 1500 + b"8\r")
    session.expect(answer, "the answer to the long line")
    session.send(b"queue\r")
    queue = session.expect(rb"(\[[-0-9, ]*\])\r?\n.*?" + re.escape(PROMPT), "the queue").group(1)
    if queue != b"[1, 2, 3, 7, 7, 8]":
        raise Failure(f"after the long line the queue is {queue.decode()}, expected [1, 2, 3, 7, 7, 8]")
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
    if editor == "none":
        print("console line editing: skipped (built without libedit or readline)")
        return SKIP
    session = Session(binary)
    try:
        run(session)
    except Failure as e:
        print(f"console line editing ({editor}): {e}")
        print("--- output:")
        print(session.out.decode(errors="replace"))
        return 1
    finally:
        session.kill()
    print(f"console line editing ({editor}): ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
