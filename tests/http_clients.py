# SPDX-License-Identifier: MIT
#
# Real HTTP clients against cio's HTTP server.
#
#   http_clients.py PORT
#       against test_http.c's app (run by its real_clients case): Python's
#       http.client and httpx, plus a raw socket for pipelining.
#   http_clients.py --demo [emulator args...] path/to/fastapi_demo
#       starts the guide's demo service (examples/fastapi_demo) on a free
#       127.0.0.1 port and runs every client we know against it, each
#       asserting status, headers and body: curl, http.client, httpx (sync
#       and async), h11, aiohttp, Node's http agent (tests/http_clients.js),
#       `ab -k` and wrk (tests/http_clients.lua); then stops it with SIGINT
#       and checks that it exits 0.  A missing client skips (exit 77), unless
#       CIO_REQUIRE_CLIENTS=1 (CI), where it fails.
#
# Prints "ok <checks>" and exits 0, or explains and exits 1.
import asyncio
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

checks = 0


def check(cond, what):
    global checks
    if not cond:
        print("FAILED:", what)
        sys.exit(1)
    checks += 1


def app_checks(port):
    import httpx

    # http.client: keep-alive, JSON, a chunked request body, HEAD, errors.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/")
    r = conn.getresponse()
    check(r.status == 200 and json.loads(r.read()) == {"message": "Hello"}, "GET /")
    sock = conn.sock
    conn.request("GET", "/items/3?name=caf%C3%A9&limit=2")
    r = conn.getresponse()
    body = json.loads(r.read())
    check(conn.sock is sock, "the connection was kept alive")
    check(body == {"id": 3, "name": "café", "limit": 2}, "typed path and query parameters: %r" % body)
    conn.request("POST", "/echo", body=iter([b"chunk-1 ", b"chunk-2"]), encode_chunked=True,
                 headers={"Transfer-Encoding": "chunked"})
    r = conn.getresponse()
    check(r.status == 200 and r.read() == b"chunk-1 chunk-2", "chunked request body")
    conn.request("GET", "/stream")
    r = conn.getresponse()
    check(r.status == 200 and r.read() == b"part0;part1;part2;" + b"x" * 1500,
          "a streamed (chunked) response")
    conn.request("HEAD", "/")
    r = conn.getresponse()
    check(r.status == 200 and r.getheader("Content-Length") == "19" and r.read() == b"", "HEAD")
    conn.request("GET", "/items/abc")
    r = conn.getresponse()
    detail = json.loads(r.read())["detail"][0]
    check(r.status == 422 and detail["loc"] == ["path", "id"] and detail["type"] == "int_parsing",
          "422 in FastAPI's shape")
    conn.request("PUT", "/")
    r = conn.getresponse()
    r.read()
    check(r.status == 405 and r.getheader("Allow") == "GET, HEAD", "405 with Allow (a GET route serves HEAD)")
    conn.request("GET", "/missing")
    r = conn.getresponse()
    r.read()
    check(r.status == 404, "404")
    conn.close()

    # Limits, through http.client: a long target (414), too many header bytes
    # (431), and a malformed request from a raw socket (400).
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/" + "a" * 400)
    r = conn.getresponse()
    r.read()
    check(r.status == 414, "414 for a long request line")
    conn.close()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/", headers={"X-Pad-%d" % i: "v" * 60 for i in range(60)})
    r = conn.getresponse()
    r.read()
    check(r.status == 431, "431 for large headers")
    conn.close()
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n")
    check(s.recv(4096).startswith(b"HTTP/1.1 400 "), "400 for Content-Length with Transfer-Encoding")
    s.close()

    # httpx: a pooled client, the gather endpoint.
    with httpx.Client(base_url="http://127.0.0.1:%d" % port, timeout=5) as client:
        r = client.get("/user/9/profile")
        check(r.status_code == 200 and r.json() == {"user": {"id": 9}}, "profile via httpx")
        r = client.post("/echo", content=b"x" * 900)
        check(r.status_code == 200 and r.content == b"x" * 900, "body via httpx")
        r = client.post("/echo", content=b"x" * 5000)
        check(r.status_code == 413, "413 via httpx")

    # Pipelining: three requests in one send, three answers in order.
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /items/1 HTTP/1.1\r\nHost: x\r\n\r\n"
              b"GET /items/2 HTTP/1.1\r\nHost: x\r\n\r\n"
              b"GET /items/3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    ids = [data.find(b'"id":%d' % i) for i in (1, 2, 3)]
    check(all(i >= 0 for i in ids) and ids == sorted(ids), "pipelined answers in order")



# ---------------------------------------------------------------- the demo service

HERE = os.path.dirname(os.path.abspath(__file__))
HELLO = {"message": "Hello"}
DATA = {"data": "value"}


def profile(i):
    return {"user": {"id": i}, "posts": {"user_id": i, "posts": []}}


# (path, status, body) the demo answers; bodies are compared as JSON.
ROUTES = [
    ("/", 200, HELLO),
    ("/user/7/profile", 200, profile(7)),
    ("/data", 200, DATA),
    ("/user/abc/profile", 422, None),  # FastAPI's validation error
    ("/nope", 404, {"detail": "Not Found"}),
]


def check_answer(who, path, status, headers, body):
    """headers: a case-insensitive getter; body: bytes."""
    want = [r for r in ROUTES if r[0] == path][0]
    check(status == want[1], "%s %s: status %s, want %s" % (who, path, status, want[1]))
    ctype = headers("content-type") or ""
    check(ctype.startswith("application/json"), "%s %s: Content-Type %r" % (who, path, ctype))
    clen = headers("content-length")
    check(clen is not None and int(clen) == len(body),
          "%s %s: Content-Length %r for %d bytes" % (who, path, clen, len(body)))
    got = json.loads(body)
    if want[2] is not None:
        check(got == want[2], "%s %s: body %r" % (who, path, got))
    else:
        d = got["detail"][0]
        check(d["type"] == "int_parsing" and d["loc"] == ["path", "user_id"] and d["input"] == "abc",
              "%s %s: 422 body %r" % (who, path, got))


def early_413(port):
    """http.client and httpx write a whole body before reading: a 50 MB one
    (over the demo's 1 MiB limit) must still get its 413, not a reset."""
    import httpx
    body = b"x" * 50_000_000
    for i in range(5):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/", body=body)
        r = conn.getresponse()
        check(r.status == 413 and json.loads(r.read()) == {"detail": "Content Too Large"},
              "http.client: 413 for a 50 MB body")
        conn.close()
        r = httpx.post("http://127.0.0.1:%d/" % port, content=body, timeout=10)
        check(r.status_code == 413, "httpx: 413 for a 50 MB body")


def with_curl(port):
    base = "http://127.0.0.1:%d" % port
    for path, _, _ in ROUTES:
        out = subprocess.run(["curl", "-s", "-i", "--max-time", "10", base + path],
                             capture_output=True, timeout=20).stdout
        head, _, body = out.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        hdrs = {l.split(":", 1)[0].strip().lower(): l.split(":", 1)[1].strip() for l in lines[1:]}
        check_answer("curl", path, status, hdrs.get, body)
    # Two URLs in one run share one kept-alive connection.
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-o", "/dev/null", "-w",
                          "%{http_code} %{num_connects}\n", base + "/", base + "/user/1/profile"],
                         capture_output=True, timeout=20, text=True).stdout.split()
    check(out == ["200", "1", "200", "0"], "curl: keep-alive reuse %r" % out)


def with_http_client(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    sock = None
    for path, _, _ in ROUTES:
        conn.request("GET", path)
        r = conn.getresponse()
        check_answer("http.client", path, r.status, r.getheader, r.read())
        check(sock is None or conn.sock is sock, "http.client: connection kept alive")
        sock = conn.sock
    conn.close()


def with_httpx(port):
    import httpx
    with httpx.Client(base_url="http://127.0.0.1:%d" % port, timeout=10) as client:
        for path, _, _ in ROUTES:
            r = client.get(path)
            check_answer("httpx", path, r.status_code, r.headers.get, r.content)

    async def many():
        async with httpx.AsyncClient(base_url="http://127.0.0.1:%d" % port, timeout=10) as client:
            t0 = time.monotonic()
            rs = await asyncio.gather(*(client.get("/user/%d/profile" % i) for i in range(20)))
            took = time.monotonic() - t0
            for i, r in enumerate(rs):
                check(r.status_code == 200 and r.json() == profile(i), "httpx async %d: %r" % (i, r.text))
            # twenty 0.5 s requests at once: the server gathers them all
            check(took < 2.0, "httpx async: 20 profiles took %.2f s" % took)
            for path, _, _ in ROUTES:
                r = await client.get(path)
                check_answer("httpx async", path, r.status_code, r.headers.get, r.content)
    asyncio.run(many())


def with_h11(port):
    import h11
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    conn = h11.Connection(h11.CLIENT)
    for path, _, _ in ROUTES:  # one connection, one request after the other
        s.sendall(conn.send(h11.Request(method="GET", target=path, headers=[("Host", "x")])))
        s.sendall(conn.send(h11.EndOfMessage()))
        response, body = None, b""
        while True:
            ev = conn.next_event()
            if ev is h11.NEED_DATA:
                conn.receive_data(s.recv(65536))
                continue
            if isinstance(ev, h11.Response):
                response = ev
            elif isinstance(ev, h11.Data):
                body += ev.data
            elif isinstance(ev, h11.EndOfMessage):
                break
        hdrs = {k.decode().lower(): v.decode() for k, v in response.headers}
        check_answer("h11", path, response.status_code, hdrs.get, body)
        conn.start_next_cycle()
        check(conn.our_state is h11.IDLE, "h11: kept alive")
    s.close()


def with_aiohttp(port):
    import aiohttp

    async def run():
        async with aiohttp.ClientSession("http://127.0.0.1:%d" % port) as session:
            for path, _, _ in ROUTES:
                async with session.get(path) as r:
                    check_answer("aiohttp", path, r.status, r.headers.get, await r.read())

            async def one(i):
                async with session.get("/user/%d/profile" % i) as r:
                    return r.status, await r.json()
            got = await asyncio.gather(*(one(i) for i in range(10)))
            check(got == [(200, profile(i)) for i in range(10)], "aiohttp gathered: %r" % got)
    asyncio.run(run())


def with_node(port):
    out = subprocess.run(["node", os.path.join(HERE, "http_clients.js"), str(port)],
                         capture_output=True, text=True, timeout=60)
    check(out.returncode == 0 and out.stdout.startswith("ok"),
          "node: %s %s" % (out.stdout, out.stderr))


def http10_keep_alive_header(port):
    """Whether an HTTP/1.0 keep-alive request gets `Connection: keep-alive` back."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    s.close()
    return re.search(rb"(?im)^connection:\s*keep-alive", head) is not None


def with_ab(port):
    out = subprocess.run(["ab", "-k", "-q", "-n", "2000", "-c", "4", "-s", "3",
                          "http://127.0.0.1:%d/" % port], capture_output=True, text=True, timeout=60)
    text = out.stdout
    ok = (out.returncode == 0 and re.search(r"Complete requests:\s+2000\b", text)
          and re.search(r"Failed requests:\s+0\b", text)
          and re.search(r"Keep-Alive requests:\s+2000\b", text)
          and "Non-2xx" not in text and re.search(r"Document Length:\s+19 bytes", text))
    # ab speaks HTTP/1.0: without `Connection: keep-alive` in the answer it
    # waits for a close that never comes (issue 15, point 10).
    check(http10_keep_alive_header(port), "HTTP/1.0 keep-alive answer lacks Connection: keep-alive")
    check(ok, "ab -k: %s %s" % (text, out.stderr))


def with_wrk(port):
    out = subprocess.run(["wrk", "-t1", "-c16", "-d1s", "-s", os.path.join(HERE, "http_clients.lua"),
                          "http://127.0.0.1:%d" % port], capture_output=True, text=True, timeout=60)
    text = out.stdout
    m = re.search(r"checked (\d+) answers, (\d+) wrong", text)
    check(out.returncode == 0 and m and int(m.group(1)) > 10 and m.group(2) == "0"
          and "Socket errors" not in text and "Non-2xx" not in text, "wrk: %s %s" % (text, out.stderr))


def missing_clients():
    missing = []
    for module in ("httpx", "h11", "aiohttp"):
        try:
            __import__(module)
        except ImportError:
            missing.append("python3-" + module)
    for program, package in (("curl", "curl"), ("node", "nodejs"), ("ab", "apache2-utils"),
                             ("wrk", "wrk")):
        if not shutil.which(program):
            missing.append(package)
    return missing


def demo_checks(command):
    missing = missing_clients()
    if missing:
        print("skipped: apt-get install " + " ".join(missing))
        sys.exit(1 if os.environ.get("CIO_REQUIRE_CLIENTS") == "1" else 77)
    demo = subprocess.Popen(command + ["0", "127.0.0.1"], stdout=subprocess.PIPE, text=True)
    try:
        line = demo.stdout.readline()
        m = re.search(r"127\.0\.0\.1:(\d+)", line)
        check(m is not None, "the demo did not start: %r" % line)
        port = int(m.group(1))
        for client in (with_curl, with_http_client, with_httpx, with_h11, with_aiohttp, with_node,
                       with_ab, with_wrk, early_413):
            client(port)
        # Ctrl-C: it shuts down gracefully and exits 0.
        demo.send_signal(signal.SIGINT)
        check(demo.wait(timeout=15) == 0, "the demo's exit code after SIGINT: %s" % demo.returncode)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()


if __name__ == "__main__":
    if sys.argv[1] == "--demo":
        demo_checks(sys.argv[2:])
    else:
        app_checks(int(sys.argv[1]))
    print("ok %d checks" % checks)
