#!/usr/bin/env python3
"""The echo server example, driven over loopback as its README describes:
two clients echo, one kills the acceptor with "crash acceptor", the other
keeps working, and new connections reach the restarted acceptor on the
same port. Usage: echo_server_test.py PATH_TO_ECHO_SERVER"""
import socket
import subprocess
import sys
import time

DEADLINE = time.monotonic() + 60


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def recv_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            fail("connection closed after %r" % data)
        data += chunk
    return data


def echo(sock, text):
    sock.sendall(text)
    got = recv_exactly(sock, len(text))
    if got != text:
        fail("sent %r, got %r" % (text, got))


def main():
    server = subprocess.Popen([sys.argv[1], "--port", "0"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        if not line.startswith("listening on 127.0.0.1:"):
            fail("unexpected first line %r" % line)
        port = int(line.rsplit(":", 1)[1])
        a = socket.create_connection(("127.0.0.1", port), timeout=10)
        b = socket.create_connection(("127.0.0.1", port), timeout=10)
        echo(a, b"hello\n")
        echo(b, b"x" * 100000)  # more than one read and one write
        a.sendall(b"crash acceptor\n")
        if recv_exactly(a, 16) != b"acceptor killed\n":
            fail("no answer to crash acceptor")
        # The supervisor starts a new acceptor on the same port.
        line = server.stdout.readline()
        if line.strip() != "listening on 127.0.0.1:%d" % port:
            fail("the acceptor did not come back on port %d: %r" % (port, line))
        echo(a, b"after\n")
        echo(b, b"still here\n")
        c = socket.create_connection(("127.0.0.1", port), timeout=10)
        echo(c, b"new connection\n")
        for s in (a, b, c):
            s.close()
        if server.poll() is not None:
            fail("the server exited: %s" % server.stderr.read())
        if time.monotonic() > DEADLINE:
            fail("too slow")
        print("ok")
    finally:
        server.kill()
        server.wait()


main()
