#!/usr/bin/python3
# SPDX-License-Identifier: MIT
#
# A soak of the guide's demo service (examples/fastapi_demo), run by hand
# once, not in CI (figures in docs/http.md):
#   1. wrk at 200 connections for 30 s over mixed routes (/, the gathered
#      profile, /data's 1 s sleep, a 404 and a 422);
#   2. 10,000 idle kept-alive connections (each answered once, then held)
#      beside a wrk run at 100 connections for 10 s.
# Prints the server's resident memory and descriptor count before, between
# and after, and wrk's summary lines.  127.0.0.1 only; raises its own
# descriptor limit (run as root, or with a hard limit above 20,000).
#
#   ulimit -n 65536; tools/http_soak.py build/examples/fastapi_demo [seconds]
import os
import re
import resource
import socket
import subprocess
import sys
import tempfile
import time

binary = sys.argv[1]
seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 30
IDLE = 10000

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))

LUA = """
local paths = {"/", "/user/%d/profile", "/data", "/nope", "/user/abc/profile", "/", "/"}
local n = 0
request = function()
  n = n + 1
  local p = paths[n % #paths + 1]
  if p:find("%%d") then p = string.format(p, n % 1000) end
  return wrk.format("GET", p)
end
"""


def usage(pid):
    with open("/proc/%d/status" % pid) as f:
        rss = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
    return "RSS %6.1f MiB, %5d descriptors" % (rss / 1024, len(os.listdir("/proc/%d/fd" % pid)))


def wrk(port, conns, secs, script):
    out = subprocess.run(["wrk", "-t2", "-c%d" % conns, "-d%ds" % secs, "--timeout", "5s", "-s",
                          script, "http://127.0.0.1:%d" % port], capture_output=True, text=True)
    keep = [l.strip() for l in out.stdout.splitlines()
            if re.search(r"requests in|Requests/sec|Socket errors|Non-2xx|Latency", l)]
    return "\n    ".join(keep)


demo = subprocess.Popen([binary, "0", "127.0.0.1"], stdout=subprocess.PIPE, text=True)
try:
    port = int(re.search(r":(\d+)", demo.stdout.readline()).group(1))
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(LUA)
    time.sleep(0.2)
    print("start:                  ", usage(demo.pid))
    print("wrk -c200 %d s, mixed routes:\n    %s" % (seconds, wrk(port, 200, seconds, f.name)))
    time.sleep(1)
    print("after:                  ", usage(demo.pid))

    for round in (1, 2):  # twice: the second must not grow on the first
        idle = []
        t0 = time.monotonic()
        for i in range(IDLE):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"GET / HTTP/1.1\r\nHost: soak\r\n\r\n")
            idle.append(s)
            if len(idle) % 500 == 0:  # read the answers as we go
                for c in idle[-500:]:
                    assert c.recv(4096).startswith(b"HTTP/1.1 200 ")
        print("round %d: %d idle kept-alive connections (%.1f s):" % (round, IDLE, time.monotonic() - t0))
        print("    ", usage(demo.pid))
        print("    wrk -c100 10 s beside them:\n        %s" % wrk(port, 100, 10, f.name).replace("\n    ", "\n        "))
        print("    with them, after wrk:", usage(demo.pid))
        for s in idle:  # each still answers on its kept-alive connection
            s.sendall(b"GET / HTTP/1.1\r\nHost: soak\r\n\r\n")
        alive = sum(s.recv(4096).startswith(b"HTTP/1.1 200 ") for s in idle)
        for s in idle:
            s.close()
        print("    %d of %d idle connections answered again" % (alive, IDLE))
        time.sleep(3)  # idle stacks are trimmed each second, past a pool of 1,024
        print("    all closed, 3 s later:", usage(demo.pid))
    os.unlink(f.name)
finally:
    demo.send_signal(2)
    print("exit code after SIGINT:", demo.wait(timeout=20))
