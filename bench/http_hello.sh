#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# http: `GET /` -> {"message":"Hello"} under wrk (1 thread, 100 connections,
# 5 s) pinned to CPU 1, the server pinned to CPU 0: cio's demo service and
# nginx with one worker returning the same body.  The two take turns,
# HTTP_ROUNDS times (default 2), and each keeps its best round: on a shared
# VM a single 5 s run of either can land in a slow stretch.  Prints one row
# per server and, last, "http <cio requests per second> req/s".
#
#   bench/http_hello.sh BUILD_DIR
set -eu
build=${1:?usage: http_hello.sh BUILD_DIR}
command -v wrk >/dev/null || { echo "http skipped: wrk not installed (apt-get install wrk)"; exit 77; }
seconds=${HTTP_SECONDS:-5}
load() { taskset -c 1 wrk -t1 -c100 -d"${seconds}s" "$1" | awk '/Requests\/sec/ {print $2}'; }

best() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b + 0 > a + 0) ? b : a }'; }

run_cio() {
  taskset -c 0 "$build/examples/fastapi_demo" 18471 >/dev/null &
  local pid=$!
  sleep 0.3
  load http://127.0.0.1:18471/
  kill "$pid"
  wait "$pid" 2>/dev/null || true
}

run_nginx() {
  local dir
  dir=$(mktemp -d)
  cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
daemon off;
error_log $dir/error.log;
pid $dir/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  server {
    listen 127.0.0.1:18472;
    location = / { default_type application/json; return 200 '{"message":"Hello"}'; }
  }
}
CONF
  taskset -c 0 nginx -c "$dir/nginx.conf" -p "$dir" &
  local npid=$!
  sleep 0.3
  load http://127.0.0.1:18472/
  kill "$npid"
  wait "$npid" 2>/dev/null || true
  rm -rf "$dir"
}

ours="" theirs=""
for _ in $(seq "${HTTP_ROUNDS:-2}"); do
  ours=$(best "$ours" "$(run_cio)")
  command -v nginx >/dev/null && theirs=$(best "$theirs" "$(run_nginx)")
done
printf '%-8s %-10s %12s req/s\n' http cio "$ours"
if [ -n "$theirs" ]; then
  ratio=$(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.3f", a / b }')
  printf '%-8s %-10s %12s req/s   cio/nginx = %s\n' http nginx "$theirs" "$ratio"
else
  printf '%-8s %-10s %12s (nginx not installed)\n' http nginx -
fi
echo "http $ours req/s"
