#!/usr/bin/env python3
"""The http_hello example, driven by curl as its comment describes: GET
/plaintext answers "Hello, World!" as text/plain with the headers
TechEmpower's plaintext test asks for (Server, Date, Content-Length), over
HTTP/1.1 with keep-alive (two URLs, one connection) and HTTP/1.0; HEAD has
no body; other paths are 404 and other methods 405.
Usage: http_hello_test.py PATH_TO_HTTP_HELLO"""
import shutil
import subprocess
import sys


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def curl(*args):
    out = subprocess.run(["curl", "-sS", "--max-time", "10"] + list(args),
                         capture_output=True, text=True)
    if out.returncode != 0:
        fail("curl %s: %s" % (" ".join(args), out.stderr))
    return out.stdout, out.stderr


def main():
    if not shutil.which("curl"):
        print("curl is not installed (scripts/install-deps.sh installs it)")
        sys.exit(77)
    server = subprocess.Popen([sys.argv[1], "--port", "0", "--schedulers", "2"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        if not line.startswith("listening on 127.0.0.1:"):
            fail("unexpected first line %r (stderr: %s)" % (line, server.stderr.read()))
        base = "http://127.0.0.1:%d" % int(line.rsplit(":", 1)[1])

        body, _ = curl(base + "/plaintext")
        if body != "Hello, World!":
            fail("body %r" % body)
        head, _ = curl("-i", base + "/plaintext")
        head = head.replace("\r\n", "\n")
        for want in ("HTTP/1.1 200 OK\n", "Content-Type: text/plain\n", "Content-Length: 13\n",
                     "Server: arbor\n", "\nDate: "):
            if want not in head:
                fail("no %r in %r" % (want, head))
        # Two URLs on one command: curl reuses the kept-alive connection.
        _, err = curl("-v", base + "/plaintext", base + "/plaintext")
        if "Re-using existing connection" not in err and "Reusing existing connection" not in err:
            fail("the connection was not kept alive: %s" % err)
        body, _ = curl("--http1.0", base + "/plaintext")
        if body != "Hello, World!":
            fail("HTTP/1.0 body %r" % body)
        head, _ = curl("-I", base + "/plaintext")
        if "Content-Length: 13" not in head:
            fail("HEAD %r" % head)
        code, _ = curl("-o", "/dev/null", "-w", "%{http_code}", base + "/nothing")
        if code != "404":
            fail("an unknown path answered %s" % code)
        code, _ = curl("-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", base + "/plaintext")
        if code != "405":
            fail("POST answered %s" % code)
        if server.poll() is not None:
            fail("the server exited: %s" % server.stderr.read())
        print("ok")
    finally:
        server.kill()
        server.wait()


main()
