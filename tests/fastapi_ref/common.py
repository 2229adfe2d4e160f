# SPDX-License-Identifier: MIT
#
# What the FastAPI reference tests share: starting cio's demo service and the
# FastAPI twin (demo_app.py) on free 127.0.0.1 ports, skipping (77) or, with
# CIO_REQUIRE_CLIENTS=1, failing when a peer is missing, and a small HTTP
# request helper that sends exactly the bytes it is given.
import http.client
import os
import re
import select
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"


def require_clients():
    return os.environ.get("CIO_REQUIRE_CLIENTS") == "1"


def skip(why):
    """Exit 77 (skipped) with a reason, or 1 under CIO_REQUIRE_CLIENTS=1."""
    if require_clients():
        print("FAILED: %s (CIO_REQUIRE_CLIENTS=1: a missing peer is a failure)" % why)
        sys.exit(1)
    print("skipped: %s" % why)
    sys.exit(77)


def fail(why):
    print("FAILED: %s" % why)
    sys.exit(1)


def have_fastapi():
    """None if Debian's FastAPI and uvicorn import under /usr/bin/python3, else why not."""
    if not os.access(PYTHON, os.X_OK):
        return "%s not found" % PYTHON
    r = subprocess.run([PYTHON, "-c", "import fastapi, uvicorn, pydantic"], capture_output=True,
                       text=True)
    if r.returncode != 0:
        return "FastAPI/uvicorn not importable by %s (apt-get install python3-fastapi " \
               "python3-uvicorn): %s" % (PYTHON, r.stderr.strip().splitlines()[-1:])
    return None


def wait_ready(port, proc, what, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            fail("%s exited (%s) before answering" % (what, proc.returncode))
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/")
            r = c.getresponse()
            r.read()
            c.close()
            if r.status == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    fail("%s did not answer GET / on port %d within %.0f s" % (what, port, timeout))


class Server:
    def __init__(self, proc, port, what):
        self.proc, self.port, self.what = proc, port, what

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_twin(extra_env=None):
    """uvicorn (one worker, log level warning) serving demo_app on a socket
    bound here to a free port, handed over with --fd (no port race)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.update(extra_env or {})
    proc = subprocess.Popen([PYTHON, "-m", "uvicorn", "--app-dir", HERE, "demo_app:app",
                             "--fd", str(sock.fileno()), "--log-level", "warning",
                             "--no-access-log"],
                            pass_fds=[sock.fileno()], env=env, stdin=subprocess.DEVNULL)
    sock.close()
    srv = Server(proc, port, "the FastAPI twin (uvicorn)")
    try:
        wait_ready(port, proc, srv.what)
    except SystemExit:
        srv.stop()
        raise
    return srv


def start_cio(argv, extra_env=None):
    """cio's demo: `fastapi_demo 0 127.0.0.1` prints 'serving on http://127.0.0.1:PORT'."""
    env = dict(os.environ)
    env.update(extra_env or {})
    proc = subprocess.Popen(list(argv) + ["0", "127.0.0.1"], stdout=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=env)
    port = None
    deadline = time.monotonic() + 20
    buf = b""
    while time.monotonic() < deadline and port is None:
        r, _, _ = select.select([proc.stdout], [], [], 0.2)
        if r:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            buf += chunk
            m = re.search(rb"serving on http://127\.0\.0\.1:(\d+)", buf)
            if m:
                port = int(m.group(1))
        elif proc.poll() is not None:
            break
    if port is None:
        proc.kill()
        fail("cio's demo (%s) did not say 'serving on http://127.0.0.1:PORT': %r"
             % (" ".join(argv), buf[-300:]))
    srv = Server(proc, port, "cio's fastapi_demo")
    wait_ready(port, proc, srv.what)
    # Drain its stdout from here on so that it never blocks on a full pipe.
    import threading

    def drain():
        try:
            while os.read(proc.stdout.fileno(), 65536):
                pass
        except OSError:
            pass
    threading.Thread(target=drain, daemon=True).start()
    return srv


def request(port, method, target, headers=None, body=None, timeout=10):
    """One request on a fresh connection; headers is a list of (name, value)
    sent as given (http.client adds Host, and Content-Length for a body;
    Accept-Encoding is suppressed).  Returns (status, headers dict with
    lower-case names, raw body bytes)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.putrequest(method, target, skip_accept_encoding=True)
    for k, v in headers or []:
        c.putheader(k, v)
    if body is not None:
        c.putheader("Content-Length", str(len(body)))
    c.endheaders(body)
    r = c.getresponse()
    data = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    return r.status, hdrs, data
