# SPDX-License-Identifier: MIT
#
# Real TLS clients against cio's HTTPS server (run by test_tls.c's
# https_server_against_real_clients case, which serves the app below and
# made the certificates):
#
#   https_clients.py PORT CERT_DIR
#
#   GET /        -> {"message":"Hello"}
#   POST /echo   -> the body back
#   GET /stream  -> 1000 pieces of 100 bytes, chunked
#   GET /cut     -> a stream whose handler fails after three pieces
#
# The server's default certificate is for localhost and 127.0.0.1; SNI
# "other.example" chooses another, valid only for that name, so a client
# that verifies the name proves which one it got.  Checks: curl (status,
# body, HTTP/1.1, SNI), `openssl s_client` (ALPN, SNI, TLS 1.2 and 1.3),
# Python's ssl (session resumption, TLS 1.2 and 1.3), httpx (GET, POST,
# a chunked stream, a cut stream reported as incomplete).
#
# Prints "ok <n> checks" and exits 0, or explains and exits 1; a missing
# client skips (77), unless CIO_REQUIRE_CLIENTS=1 (CI), where it fails.
import os
import shutil
import socket
import ssl
import subprocess
import sys

checks = 0


def check(cond, what):
    global checks
    if not cond:
        print("FAILED:", what)
        sys.exit(1)
    checks += 1


def run(argv, stdin=b""):
    p = subprocess.run(argv, input=stdin, capture_output=True, timeout=30)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def with_curl(port, ca):
    base = ["curl", "-sS", "--cacert", ca, "-w", "\n%{http_version} %{http_code}"]
    code, out, err = run(base + ["https://localhost:%d/" % port])
    check(code == 0, "curl GET /: %s" % err)
    check(out == '{"message":"Hello"}\n1.1 200', "curl GET /: %r" % out)
    code, out, err = run(base + ["--data-binary", "@-", "https://127.0.0.1:%d/echo" % port],
                         b"x" * 900)
    check(code == 0 and out == "x" * 900 + "\n1.1 200", "curl POST /echo: %r %s" % (out, err))
    resolve = "other.example:%d:127.0.0.1" % port
    code, out, err = run(base + ["--resolve", resolve, "https://other.example:%d/" % port])
    check(code == 0 and out.endswith("1.1 200"), "curl with SNI other.example: %r %s" % (out, err))
    code, out, err = run(base + ["https://localhost:%d/cut" % port])
    # 18: "transfer closed with outstanding read data remaining"
    check(code == 18, "curl GET /cut: exit %d, %r %s" % (code, out, err))


def s_client(port, ca, *extra):
    argv = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-CAfile", ca,
            "-verify_return_error"] + list(extra)
    return run(argv, b"")


def with_openssl(port, ca):
    code, out, err = s_client(port, ca, "-servername", "localhost", "-verify_hostname", "localhost",
                              "-alpn", "h2,http/1.1")
    check(code == 0, "s_client: %s" % err)
    check("ALPN protocol: http/1.1" in out, "s_client ALPN: %s" % out)
    check("New, TLSv1.3, " in out, "s_client TLS 1.3: %s" % out)
    code, out, err = s_client(port, ca, "-servername", "other.example", "-verify_hostname",
                              "other.example")
    check(code == 0 and "Verification: OK" in out, "s_client SNI other.example: %s %s" % (out, err))
    code, out, err = s_client(port, ca, "-servername", "localhost", "-verify_hostname",
                              "other.example")
    check(code != 0, "s_client: localhost's certificate passed for other.example")
    code, out, err = s_client(port, ca, "-tls1_2", "-servername", "localhost")
    check(code == 0 and "New, TLSv1.2, " in out, "s_client TLS 1.2: %s %s" % (out, err))


def get_over_ssl(ctx, port, session=None, name="localhost"):
    with socket.create_connection(("127.0.0.1", port)) as raw:
        with ctx.wrap_socket(raw, server_hostname=name, session=session) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                b = s.recv(4096)
                if not b:
                    break
                data += b
            return data, s.session, s.session_reused, s.version(), s.selected_alpn_protocol()


def with_python_ssl(port, ca):
    for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
        ctx = ssl.create_default_context(cafile=ca)
        ctx.minimum_version = ctx.maximum_version = version
        ctx.set_alpn_protocols(["http/1.1"])
        data, session, reused, got, alpn = get_over_ssl(ctx, port)
        check(data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(b'{"message":"Hello"}'),
              "python ssl GET /: %r" % data)
        check(not reused and got == version.name.replace("v1_", "v1."),
              "python ssl: %s, reused %s" % (got, reused))
        check(alpn == "http/1.1", "python ssl ALPN: %r" % alpn)
        check(session is not None, "python ssl: no session to resume")
        data, _, reused, _, _ = get_over_ssl(ctx, port, session)
        check(reused, "python ssl %s: the session was not resumed" % got)
        check(data.endswith(b'{"message":"Hello"}'), "python ssl resumed GET /: %r" % data)
    ctx = ssl.create_default_context(cafile=ca)
    data, _, _, _, _ = get_over_ssl(ctx, port, name="other.example")
    check(data.startswith(b"HTTP/1.1 200 OK\r\n"), "python ssl SNI other.example: %r" % data)


def with_httpx(port, ca):
    import httpx

    with httpx.Client(verify=ca, base_url="https://localhost:%d" % port) as c:
        r = c.get("/")
        check(r.status_code == 200 and r.json() == {"message": "Hello"}, "httpx GET /: %r" % r.text)
        check(r.http_version == "HTTP/1.1", "httpx: %s" % r.http_version)
        r = c.post("/echo", content=b"abc" * 300)
        check(r.status_code == 200 and r.content == b"abc" * 300, "httpx POST /echo")
        with c.stream("GET", "/stream") as r:
            check(r.headers.get("transfer-encoding") == "chunked", "httpx /stream: not chunked")
            body = b"".join(r.iter_bytes())
        check(body == b"".join(b"%099d\n" % i for i in range(1000)), "httpx /stream body")
        try:
            c.get("/cut")
            cut = "taken for a whole body"
        except httpx.RemoteProtocolError:
            cut = "incomplete"
        check(cut == "incomplete", "httpx GET /cut: %s" % cut)
        r = c.get("/")  # the client goes on after it (a new connection)
        check(r.status_code == 200, "httpx after the cut stream")


def missing_clients():
    missing = []
    try:
        __import__("httpx")
    except ImportError:
        missing.append("python3-httpx")
    for program, package in (("curl", "curl"), ("openssl", "openssl")):
        if not shutil.which(program):
            missing.append(package)
    return missing


def main():
    missing = missing_clients()
    if missing:
        print("skipped: apt-get install " + " ".join(missing))
        sys.exit(1 if os.environ.get("CIO_REQUIRE_CLIENTS") == "1" else 77)
    port, ca = int(sys.argv[1]), os.path.join(sys.argv[2], "ca.pem")
    for client in (with_curl, with_openssl, with_python_ssl, with_httpx):
        client(port, ca)
    print("ok %d checks" % checks)


if __name__ == "__main__":
    main()
