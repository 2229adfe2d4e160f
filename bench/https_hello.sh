#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# https_hello: http_hello.sh over TLS.  `GET /` -> {"message":"Hello"} on
# kept-alive HTTPS connections under wrk (1 thread, 100 connections, 5 s)
# pinned to CPU 1, the server pinned to CPU 0: cio's demo service
# (TLS_CERT, TLS_KEY) and nginx with one worker returning the same body.
# Both use an ECDSA P-256 certificate made at run time, and both pick
# TLS_AES_128_GCM_SHA256 from what wrk offers (OpenSSL's default client
# list, AES-256 first: cio's order prefers AES-128, and nginx is given the
# same order with ssl_prefer_server_ciphers on); `openssl s_client` checks
# what each agrees on, on a comment line.  nginx keeps a connection for any
# number of requests (keepalive_requests 1000 would make wrk handshake again
# every 1000 requests; cio has no such limit).  The two take turns,
# HTTP_ROUNDS times (default 2), and each keeps its best round.  Prints one
# row per server and, last, "https_hello <cio requests per second> req/s".
#
#   bench/https_hello.sh BUILD_DIR
set -eu
build=${1:?usage: https_hello.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/tls_lib.sh
. "$here/tls_lib.sh"
command -v wrk >/dev/null || { echo "https_hello skipped: wrk not installed (apt-get install wrk)"; exit 77; }
command -v openssl >/dev/null || { echo "https_hello skipped: no openssl command"; exit 77; }
[ -x "$build/bench/bench_tls_accept" ] || # built when OpenSSL was found, as cio's TLS
  { echo "https_hello skipped: cio was built without OpenSSL (apt-get install libssl-dev)"; exit 77; }
seconds=${HTTP_SECONDS:-5}
load() { taskset -c 1 wrk -t1 -c100 -d"${seconds}s" "$1" | awk '/Requests\/sec/ {print $2}'; }

dir=$(mktemp -d)
server_pid=""
cleanup() {
  [ -z "$server_pid" ] || stop "$server_pid"
  rm -rf "$dir"
}
trap cleanup EXIT
make_cert "$dir"

# What a default OpenSSL client agrees on with the server on PORT.
agreed() {
  timeout 5 openssl s_client -connect "127.0.0.1:$1" </dev/null 2>/dev/null |
    sed -n 's/^New, \(.*\), Cipher is \(.*\)/\1 \2/p'
}

cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
daemon off;
error_log $dir/error.log;
pid $dir/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000000;
  server {
    listen 127.0.0.1:18492 ssl;
    ssl_certificate $dir/cert.pem;
    ssl_certificate_key $dir/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_prefer_server_ciphers on;
    ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256;
    location = / { default_type application/json; return 200 '{"message":"Hello"}'; }
  }
}
CONF

# Serves with NAME (cio or nginx) on PORT for one round: sets result to
# wrk's requests per second ("" if the server does not start; its log is in
# $dir/NAME.log) and notes what TLS agrees on in $dir/NAME.suite.  (It runs
# in this shell, not in $(...), so that the trap sees server_pid.)
run() {
  local name=$1 port=$2
  result=""
  if [ "$name" = cio ]; then
    TLS_CERT=$dir/cert.pem TLS_KEY=$dir/key.pem taskset -c 0 "$build/examples/fastapi_demo" "$port" \
      </dev/null >"$dir/$name.log" 2>&1 &
  else
    taskset -c 0 nginx -c "$dir/nginx.conf" -p "$dir" </dev/null >"$dir/$name.log" 2>&1 &
  fi
  server_pid=$!
  if wait_port "$port" "$server_pid"; then
    [ -s "$dir/$name.suite" ] || agreed "$port" >"$dir/$name.suite"
    result=$(load "https://127.0.0.1:$port/")
  fi
  stop "$server_pid"
  server_pid=""
}

ours="" theirs=""
for _ in $(seq "${HTTP_ROUNDS:-2}"); do
  run cio 18491
  ours=$(best "$ours" "$result")
  if command -v nginx >/dev/null; then
    run nginx 18492
    theirs=$(best "$theirs" "$result")
  fi
done
suite() { cat "$dir/$1.suite" 2>/dev/null || true; }
echo "# TLS agreed with a default OpenSSL client: cio $(suite cio); nginx $(suite nginx)"
if [ -z "$ours" ]; then
  printf '%-8s %-10s %12s (failed: %s)\n' https_hello cio - "$(tail -n 1 "$dir/cio.log")"
  exit 1
fi
printf '%-8s %-10s %12s req/s\n' https_hello cio "$ours"
if [ -n "$theirs" ]; then
  printf '%-8s %-10s %12s req/s   cio/nginx = %s\n' https_hello nginx "$theirs" "$(ratio "$ours" "$theirs")"
else
  printf '%-8s %-10s %12s (nginx not installed)\n' https_hello nginx -
fi
echo "https_hello $ours req/s"
