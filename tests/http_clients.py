# SPDX-License-Identifier: MIT
#
# Real HTTP clients against cio's HTTP server (run by test_http.c with the
# port as argument): Python's http.client and httpx, plus a raw socket for
# pipelining.  Prints "ok <checks>" and exits 0, or explains and exits 1.
import http.client
import json
import socket
import sys

import httpx

port = int(sys.argv[1])
checks = 0


def check(cond, what):
    global checks
    if not cond:
        print("FAILED:", what)
        sys.exit(1)
    checks += 1


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
check(r.status == 405 and r.getheader("Allow") == "GET", "405 with Allow")
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

print("ok %d checks" % checks)
