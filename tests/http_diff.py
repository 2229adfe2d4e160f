#!/usr/bin/python3
# SPDX-License-Identifier: MIT
#
# Differential test of cio's HTTP request parser against h11 (Python's
# strict, well-kept HTTP/1.1 library).  Thousands of request heads, built
# from a valid one by seeded mutations of every part (method, target,
# version, separators, line endings, header names and values, framing
# headers), go through both.  A head counts as accepted by h11 when it
# yields a Request event.
#
# It fails when:
#   - cio accepts a head that h11 rejects (the lenient side is where request
#     smuggling lives), or
#   - both accept it but read a different method, target, version, header
#     list or body framing (Content-Length / chunked).
# cio rejecting what h11 accepts is allowed (stricter), and counted by kind.
# One leniency of cio's is allowed on purpose: empty lines before the
# request line (RFC 9112 §2.2 says a server SHOULD ignore them; h11 refuses
# them), so h11 is shown the head without them.
#
# A second part compares cio's percent-decoding of paths and query values
# (cio__http_decode: UTF-8 with U+FFFD for invalid bytes) with Python's
# urllib.parse.unquote / unquote_plus (errors="replace"), which uvicorn and
# Starlette use, on random mixes of escapes: every byte must agree.
#
#   /usr/bin/python3 tests/http_diff.py [emulator args...] path/to/http_parse_dump
# (CIO_DIFF_CASES sets the count, 20,000 by default; SHOW=n prints n
# failures, SHOW_STRICTER=1 every head only cio refuses.)  Exits 77
# (skipped) without h11 (apt-get install python3-h11).
import json
import os
import random
import struct
import subprocess
import sys

try:
    import h11
except ImportError:
    print("skipped: needs h11 (apt-get install python3-h11)")
    sys.exit(77)

DUMP = sys.argv[1:]  # the dumper, after a cross build's emulator if any
COUNT = int(os.environ.get("CIO_DIFF_CASES", "20000"))
rng = random.Random(20261126)

TOKEN = b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
ODD = [b" ", b"\t", b"\r", b"\n", b"\x00", b"\x01", b"\x7f", b"\x80", b"\xff", b":", b",",
       b";", b"\"", b"(", b"@", b"/", b"?", b"=", b"{", b"\\"]


def token(lo=1, hi=8):
    return bytes(rng.choice(TOKEN) for _ in range(rng.randint(lo, hi)))


def value():
    pool = TOKEN + b" \t,;=\"/()<>@?[]{}\x80\xe9\xff"
    return bytes(rng.choice(pool) for _ in range(rng.randint(0, 12)))


def base():
    """A valid request, as a list of parts to mutate."""
    method = rng.choice([b"GET", b"POST", b"HEAD", b"PUT", b"DELETE", b"OPTIONS", token()])
    target = rng.choice([b"/", b"/a/b?x=1&y=%20", b"/p", b"*", b"http://h/x", b"/" + token(),
                         b"https://h:8080/a?b", b"http://[::1]/"])
    version = rng.choice([b"HTTP/1.1", b"HTTP/1.1", b"HTTP/1.0"])
    headers = [(b"Host", b"example.com")]
    for _ in range(rng.randint(0, 4)):
        headers.append((token(), value().strip(b" \t")))
    framing = rng.choice([None, None, "cl", "te"])
    if framing == "cl":
        headers.append((b"Content-Length", str(rng.randint(0, 99999)).encode()))
    elif framing == "te" and version == b"HTTP/1.1":
        headers.append((b"Transfer-Encoding", b"chunked"))
    rng.shuffle(headers)
    return {"method": method, "sp1": b" ", "target": target, "sp2": b" ", "version": version,
            "eol": b"\r\n", "headers": headers, "end": b"\r\n"}


def mutate(r):
    kind = rng.choice(["method", "target", "version", "sp", "eol", "name", "value", "colon",
                       "cl", "te", "host", "fold", "lead", "none", "none"])
    h = r["headers"]
    if kind == "method":
        r["method"] = rng.choice([b"", b"get", b"G ET", b"GET\x00", token() + rng.choice(ODD)])
    elif kind == "target":
        r["target"] = rng.choice([b"", b"/a b", b"/\x7f", b"/\x80", b"/\t", b"//", b"a", b"/%00",
                                  b"/" + rng.choice(ODD), b"http://x/user/1/profile",
                                  b"HTTP://x", b"http://x?y", b"http://u@x/", b"http:///p",
                                  b"ftp://x/", b"http://x:y/", b"http://[::1]:80/p", b"http:x"])
    elif kind == "version":
        r["version"] = rng.choice([b"HTTP/1.2", b"HTTP/2.0", b"HTTP/1.10", b"http/1.1",
                                   b"HTTP/1", b"HTTP/01.1", b"HTTP/1.1 ", b"HTTP /1.1", b""])
    elif kind == "sp":
        r[rng.choice(["sp1", "sp2"])] = rng.choice([b"", b"  ", b"\t", b" \t"])
    elif kind == "eol":
        r[rng.choice(["eol", "end"])] = rng.choice([b"\n", b"\r", b"\r\r\n", b"\n\r"])
    elif kind == "name" and h:
        i = rng.randrange(len(h))
        n = h[i][0]
        cut = rng.randint(0, len(n))
        h[i] = (n[:cut] + rng.choice(ODD) + n[cut:], h[i][1])
    elif kind == "value" and h:
        i = rng.randrange(len(h))
        v = h[i][1]
        cut = rng.randint(0, len(v))
        h[i] = (h[i][0], v[:cut] + rng.choice(ODD + [b"  ", b"\x0b", b"\x0c"]) + v[cut:])
    elif kind == "colon" and h:
        i = rng.randrange(len(h))
        h[i] = (h[i][0] + rng.choice([b" ", b"\t", b"::", b""]), h[i][1])
    elif kind == "cl":
        h.append((rng.choice([b"Content-Length", b"content-length", b"Content-length "]),
                  rng.choice([b"5", b"05", b"+5", b"-1", b"5,5", b"5, 5", b"5 5", b"0x5", b"",
                              b"99999999999999999999", b"1e3", b" 7 "])))
    elif kind == "te":
        h.append((b"Transfer-Encoding",
                  rng.choice([b"chunked", b"Chunked", b"chunked, chunked", b"gzip, chunked",
                              b"chunked, gzip", b"identity", b"x", b" chunked", b"chunked,",
                              b",chunked", b"\"chunked\"", b"chunk"])))
    elif kind == "host":
        odd = rng.choice([b"other", b"a b", b"a@b", b"a/b", b"a:b", b"a:80", b"[::1]:8080", b"[::1",
                          b"", b"a%41", b"a%4", b"a\\b", b"xn--e-9a.com", b"1.2.3.4:5", b"a?b"])
        rng.choice([lambda: h.append((b"Host", b"other")),
                    lambda: h.__setitem__(slice(None), [x for x in h if x[0] != b"Host"]),
                    lambda: h.__setitem__(slice(None), [(n, odd if n == b"Host" else v)
                                                        for n, v in h])])()
    elif kind == "fold" and h:
        i = rng.randrange(len(h))
        h[i] = (h[i][0], h[i][1] + b"\r\n " + token())
    elif kind == "lead":
        r["lead"] = rng.choice([b"\r\n", b"\r\n\r\n", b"\n", b"\r", b"\r\n\n"])
    return kind


def render(r):
    out = r.get("lead", b"") + r["method"] + r["sp1"] + r["target"] + r["sp2"] + r["version"] + r["eol"]
    for n, v in r["headers"]:
        out += n + b": " + v + r["eol"]
    return out + r["end"]


def h11_view(data):
    """('ok', fields) / ('bad', reason) / ('incomplete', None) as h11 sees data."""
    while data.startswith(b"\r\n"):  # RFC 9112 §2.2: cio ignores them, h11 refuses
        data = data[2:]
    conn = h11.Connection(h11.SERVER)
    try:
        conn.receive_data(data)
        ev = conn.next_event()
    except h11.RemoteProtocolError as e:
        return "bad", str(e)
    if ev is h11.NEED_DATA:
        return "incomplete", None
    if not isinstance(ev, h11.Request):
        return "bad", repr(ev)
    framing = ("chunked", None) if conn.their_state is h11.SEND_BODY and any(
        n == b"transfer-encoding" for n, _ in ev.headers) else None
    cl = [v for n, v in ev.headers if n == b"content-length"]
    return "ok", {
        "m": ev.method, "t": ev.target, "v": min(int(ev.http_version.split(b".")[1]), 1),  # 1.2 is read as 1.1 (RFC 9110 2.5)
        "h": [(n.lower(), v) for n, v in ev.headers],  # h11 lowercases TE's value
        "cl": int(cl[0]) if cl else -1, "ch": framing is not None,
    }


def cio_views(cases):
    feed = b"".join(struct.pack("<I", len(c)) + c for c in cases)
    out = subprocess.run(DUMP, input=feed, capture_output=True, check=True).stdout
    views = []
    for line in out.decode().splitlines():
        d = json.loads(line)
        if d["r"] <= 0:
            views.append(("incomplete" if d["r"] == 0 else "bad", d["r"]))
            continue
        enc = lambda s: s.encode("latin-1")
        views.append(("ok", {
            "m": enc(d["m"]), "t": enc(d["t"]), "v": d["v"],
            "h": [(enc(n).lower(), enc(v).lower() if enc(n).lower() == b"transfer-encoding"
                   else enc(v)) for n, v in d["h"]],
            "cl": d["cl"], "ch": d["ch"],
        }))
    return views


def decoding_differences(count):
    """How many random texts cio decodes differently from Python's unquote."""
    import urllib.parse
    pool = ["%%%02X" % b for b in (0x00, 0x20, 0x2b, 0x2f, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f,
                                   0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed,
                                   0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff)]
    pool += ["a", "+", "%", "%4", "%zz", "/", "%e2%82%ac", "%F0%9F%98%80", "%c3%a9"]
    texts = []
    for _ in range(count):
        parts = [rng.choice(pool) if rng.random() < 0.8 else "%%%02x" % rng.randrange(256)
                 for _ in range(rng.randint(0, 10))]
        texts.append(rng.choice("+-") + "".join(parts))
    feed = b"".join(struct.pack("<I", len(t)) + t.encode() for t in texts)
    out = subprocess.run(DUMP + ["--decode"], input=feed, capture_output=True, check=True)
    bad = 0
    for t, got in zip(texts, out.stdout.decode().splitlines()):
        f = urllib.parse.unquote_plus if t[0] == "+" else urllib.parse.unquote
        want = f(t[1:], errors="replace").encode("utf-8").hex()
        if got != want:
            bad += 1
            if bad <= int(os.environ.get("SHOW", "20")):
                print(f"FAIL decoding {t[1:]!r} (plus: {t[0] == '+'}): cio {got}, Python {want}")
    print(f"{count} texts percent-decoded: {count - bad} as Python's unquote, {bad} differ")
    return bad


def main():
    cases, kinds = [], []
    for i in range(COUNT):
        r = base()
        kind = "valid"
        for _ in range(rng.choice([0, 1, 1, 2])):
            kind = mutate(r)
        cases.append(render(r))
        kinds.append(kind)
    ours = cio_views(cases)
    assert len(ours) == len(cases)
    agree, stricter, failures = 0, {}, []
    for data, kind, (cv, cd) in zip(cases, kinds, ours):
        hv, hd = h11_view(data)
        if cv == hv == "ok":
            if cd != hd:
                failures.append(("both accept, read differently", data, cd, hd))
            else:
                agree += 1
        elif cv == "ok":
            failures.append(("cio accepts, h11 rejects", data, cd, hd))
        elif hv == "ok":
            stricter[kind] = stricter.get(kind, 0) + 1
            if os.environ.get("SHOW_STRICTER"):
                print(f"stricter ({kind}, cio {cd}): {data!r}")
        else:
            agree += 1
    print(f"{len(cases)} request heads: {agree} read the same by cio and h11, "
          f"{sum(stricter.values())} refused by cio only (stricter), {len(failures)} failures")
    if stricter:
        print("  refused by cio only, by mutation: " +
              ", ".join(f"{k} {v}" for k, v in sorted(stricter.items())))
    for what, data, cd, hd in failures[:int(os.environ.get("SHOW", "20"))]:
        print(f"FAIL {what}: {data!r}\n     cio: {cd}\n     h11: {hd}")
    bad = decoding_differences(COUNT)
    return 1 if failures or bad else 0


sys.exit(main())
