# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# Helpers the TLS benchmarks share (sourced by tls_handshake.sh,
# https_hello.sh and tls_bulk.sh; not run on its own).

# An ECDSA P-256 certificate for 127.0.0.1 and localhost, self-signed, with
# its key: DIR/cert.pem and DIR/key.pem.
make_cert() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost \
    -keyout "$1/key.pem" -out "$1/cert.pem" 2>/dev/null
}

# Waits until 127.0.0.1:PORT accepts a connection (the connection is closed
# at once: a TLS server sees a handshake that ends before it starts), for
# up to 60 s (a Go peer is built on its first start).  Returns 1 if process
# PID exits first or time runs out.
wait_port() {
  local port=$1 pid=$2 i
  for ((i = 0; i < 1200; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# CPU time (user + system, in clock ticks) of process PID and its children
# (nginx's workers), from /proc/PID/stat: a process's figures there cover
# all its threads.
cpu_ticks() {
  local p f sum=0 rest
  for p in "$1" $(ps -o pid= --ppid "$1" 2>/dev/null); do
    f=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    rest=${f##*) } # the fields after the command's name, from the 3rd on
    read -r -a f <<<"$rest"
    sum=$((sum + f[11] + f[12])) # fields 14 and 15: utime, stime
  done
  echo "$sum"
}

# Stops a server started in the background (and nginx's workers with it).
stop() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# The larger of two figures ("" counts as none).
best() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b + 0 > a + 0) ? b : a }'; }

# a/b to three places, or "-".
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "-" }'; }
