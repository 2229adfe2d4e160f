# SPDX-License-Identifier: MIT
#
# echo_check: a quick correctness check for an echo server on
# 127.0.0.1:<port>. Opens <conns> connections at once (default 3), sends a
# few messages on each, interleaved across connections, and checks each echo
# byte for byte; then sends 1 MiB on every connection from a sender thread
# while reading it back (so a server that does not read while its writes are
# backed up would stall) and checks it; then closes them all. Prints
# "ok <conns> connections" or exits 1 with the first mismatch.
#
# Usage: /usr/bin/python3 echo_check.py <port> [conns]
import os
import socket
import sys
import threading

TIMEOUT = 10.0


def recv_exactly(s, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(min(65536, n - len(buf)))
        if not chunk:
            raise EOFError(f"connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: echo_check.py <port> [conns]")
    port = int(sys.argv[1])
    nconn = int(sys.argv[2]) if len(sys.argv) == 3 else 3

    conns = [socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) for _ in range(nconn)]

    msgs = [b"hello", b"x", b"\x00\xff binary \r\n", os.urandom(16384), os.urandom(40000)]
    for m in msgs:
        for i, s in enumerate(conns):
            s.sendall(b"%d:" % i + m)
        for i, s in enumerate(conns):
            want = b"%d:" % i + m
            got = recv_exactly(s, len(want))
            if got != want:
                sys.exit(f"conn {i}: echo mismatch on a {len(want)}-byte message")

    big = os.urandom(1 << 20)
    for i, s in enumerate(conns):
        t = threading.Thread(target=s.sendall, args=(big,))
        t.start()
        got = recv_exactly(s, len(big))
        t.join()
        if got != big:
            sys.exit(f"conn {i}: 1 MiB echo mismatch")

    # Half-close: the server must see EOF and close its side.
    for i, s in enumerate(conns):
        s.shutdown(socket.SHUT_WR)
        if s.recv(1) != b"":
            sys.exit(f"conn {i}: data after EOF")
        s.close()
    print(f"ok {nconn} connections")


if __name__ == "__main__":
    main()
