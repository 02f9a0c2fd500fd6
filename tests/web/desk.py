"""A support_system desk with its web interface, for the web tests: started
over pipes with --json and --http 127.0.0.1:0, the port read from the line
it prints at start, and an HTTP client that keeps its own cookies."""
import http.client
import json
import os
import re
import select
import subprocess
import time

DEADLINE_S = 60


class Failure(Exception):
    pass


class Desk:
    def __init__(self, binary, tmp, extra=(), name="desk", first_start=True, env=None):
        self.tmp = tmp
        self.db = os.path.join(tmp, name + ".db")
        self.err_path = os.path.join(tmp, name + ".stderr")
        self.err_file = open(self.err_path, "w+")
        self.proc = subprocess.Popen(
            [binary, "--json", "--demo", "--db", self.db, "--http", "127.0.0.1:0", *extra],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err_file, text=True,
            env=dict(os.environ, **env) if env else None)
        line = self.wait_stderr(r"Web desk on http://127\.0\.0\.1:(\d+)/\n")
        self.port = int(line.group(1))
        self.setup_token = None
        if first_start:  # a new database: the first admin's link follows
            self.setup_token = self.wait_stderr(r"/#setup=([0-9a-f]{64}) ").group(1)

    def stderr(self):
        with open(self.err_path) as f:
            return f.read()

    def wait_stderr(self, pattern):
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            m = re.search(pattern, self.stderr())
            if m:
                return m
            if self.proc.poll() is not None:
                raise Failure("the desk exited (%s): %s" % (self.proc.returncode, self.stderr()))
            time.sleep(0.02)
        raise Failure("no %r on stderr within %d s: %s" % (pattern, DEADLINE_S, self.stderr()))

    def command(self, *lines):
        """Sends lines to the console; returns its one JSON answer."""
        self.proc.stdin.write("".join(l + "\n" for l in lines))
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], DEADLINE_S)
        if not ready:
            raise Failure("the console did not answer %r" % (lines,))
        return json.loads(self.proc.stdout.readline())

    def quit(self):
        if self.proc.poll() is None:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
            try:
                self.proc.wait(DEADLINE_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                raise Failure("the desk did not quit")
        self.err_file.close()
        err = self.stderr()
        if "Sanitizer" in err or "runtime error" in err:
            raise Failure("a sanitizer reported:\n" + err)
        return self.proc.returncode

    def client(self):
        return Client(self.port)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def __repr__(self):
        return "%d %s" % (self.status, self.body[:300])


class Client:
    """One browser: its session cookie and CSRF token."""

    def __init__(self, port):
        self.port = port
        self.cookie = None
        self.csrf = None

    def request(self, method, path, body=None, headers=None, raw=None, csrf=True,
                content_type="application/json"):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=DEADLINE_S)
        h = dict(headers or {})
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None and content_type:
            h.setdefault("Content-Type", content_type)
        if self.cookie:
            h["Cookie"] = "arbor_session=" + self.cookie
        if csrf and self.csrf and method not in ("GET", "HEAD"):
            h.setdefault("X-CSRF-Token", self.csrf)
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        resp = Response(r.status, r.getheaders(), r.read().decode("utf-8", "replace"))
        conn.close()
        cookie = resp.header("Set-Cookie")
        if cookie:
            m = re.match(r"arbor_session=([^;]*)", cookie)
            self.cookie = m.group(1) if m and m.group(1) else None
        if resp.json and isinstance(resp.json, dict) and "csrf_token" in resp.json:
            self.csrf = resp.json["csrf_token"]
        return resp

    def sign_in(self, name, password):
        return self.request("POST", "/api/session", {"name": name, "password": password})

    def get(self, path):
        return self.request("GET", path)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)
