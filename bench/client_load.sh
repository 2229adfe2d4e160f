#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# client: requests per second of HTTP clients, each ONE client object with
# N requests in flight (N = 1, 10, 100), all doing `GET /` ->
# {"message":"Hello"} on kept-alive connections to the same local nginx
# (one worker, pinned to CPU 0, access_log off, keepalive_requests beyond
# any run).  Each client is pinned to CPU 1 and runs WARMUP (0.5 s) then
# counts its status-200 answers over CLIENT_SECONDS (default 3): cio's
# bench_client_load (<cio/http_client.h>, N tasks on one cio_http_client),
# and through bench/peers/run_peer.sh Go's net/http client (go1:
# GOMAXPROCS=1), httpx.AsyncClient and aiohttp's ClientSession on asyncio's
# loop, aiohttp again on uvloop, and Node's fetch (undici).  Runtimes take
# turns at each N, CLIENT_ROUNDS times (default 2), and each keeps its best
# round.  cio runs twice: as built ("cio") and with its loop busy-polling
# for CLIENT_POLL_US (default 250) before it sleeps ("cio-poll",
# CIO_POLL_US: cio_opts.poll_us), which saves the wake-up of a sleeping vCPU
# per answer when the client waits on few requests.  wrk (one thread, N
# connections) shows what the server gives the fastest C load generator:
# at 1 in flight its round trip bounds every client.  Prints one row per
# runtime and N, "client-<N> <runtime> <req/s> req/s", the peers with cio's
# ratio to them, a comment line per N on the project's targets (cio >= go1,
# cio >= 3x aiohttp), and last "client <cio's req/s at the largest N> req/s".
#
#   bench/client_load.sh BUILD_DIR
#
# Environment: CLIENT_SECONDS, CLIENT_ROUNDS, CLIENT_INFLIGHT (default
# "1 10 100"), CLIENT_PEERS (default "cio-poll wrk go1 httpx aiohttp
# aiohttp-uv node"; httpx-uv also exists), CLIENT_POLL_US.  A missing peer
# program skips its rows with the reason.
set -eu
build=${1:?usage: client_load.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/tls_lib.sh
. "$here/tls_lib.sh" # wait_port, stop, best, ratio
command -v nginx >/dev/null || { echo "client skipped: nginx not installed (apt-get install nginx)"; exit 77; }
command -v taskset >/dev/null || { echo "client skipped: no taskset"; exit 77; }
[ -x "$build/bench/bench_client_load" ] || # built when libcurl was found, as cio's client
  { echo "client skipped: cio was built without libcurl (apt-get install libcurl4-openssl-dev)"; exit 77; }
seconds=${CLIENT_SECONDS:-3}
warmup=0.5
rounds=${CLIENT_ROUNDS:-2}
inflight=${CLIENT_INFLIGHT:-"1 10 100"}
peers=${CLIENT_PEERS:-"cio-poll wrk go1 httpx aiohttp aiohttp-uv node"}
poll_us=${CLIENT_POLL_US:-250}
port=18511
url=http://127.0.0.1:$port/
# A run may not outlast this (the first Go run builds the program).
limit=$(awk -v s="$seconds" -v w="$warmup" 'BEGIN { printf "%d", s + w + 120 }')

dir=$(mktemp -d)
nginx_pid=""
cleanup() {
  [ -z "$nginx_pid" ] || stop "$nginx_pid"
  rm -rf "$dir"
}
trap cleanup EXIT

cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
daemon off;
error_log $dir/error.log;
pid $dir/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000000;
  keepalive_timeout 75s;
  server {
    listen 127.0.0.1:$port;
    location = / { default_type application/json; return 200 '{"message":"Hello"}'; }
  }
}
CONF
taskset -c 0 nginx -c "$dir/nginx.conf" -p "$dir" </dev/null >"$dir/nginx.log" 2>&1 &
nginx_pid=$!
if ! wait_port "$port" "$nginx_pid"; then
  echo "client: nginx did not start: $(tail -n 1 "$dir/error.log" 2>/dev/null || tail -n 1 "$dir/nginx.log")"
  exit 1
fi

# Runs RUNTIME (cio or a run_peer.sh lang) at N in flight on CPU 1: sets
# result to its req/s, or "" and note to why not (skipped: the reason;
# failed: its last line of output).  cio's connection count goes to
# $dir/cio-N.conns.
run() {
  local rt=$1 n=$2 out rc
  result="" note=""
  set +e
  case $rt in
  cio) out=$(timeout -k 5 "$limit" taskset -c 1 "$build/bench/bench_client_load" "$url" "$n" "$seconds" "$warmup" 2>&1) ;;
  cio-poll) out=$(CIO_POLL_US=$poll_us timeout -k 5 "$limit" taskset -c 1 "$build/bench/bench_client_load" "$url" "$n" "$seconds" "$warmup" 2>&1) ;;
  wrk)
    if command -v wrk >/dev/null; then
      out=$(timeout -k 5 "$limit" taskset -c 1 wrk -t1 -c"$n" -d"${seconds}s" "$url" 2>&1 |
        awk -v n="$n" '/^Requests\/sec/ { printf "client-%s %d req/s\n", n, $2 }')
    else
      out="wrk skipped: not installed (apt-get install wrk)"
      (exit 77)
    fi
    ;;
  *) out=$(timeout -k 5 "$limit" taskset -c 1 "$here/peers/run_peer.sh" "$rt" client_load "$url" "$n" "$seconds" "$warmup" 2>&1) ;;
  esac
  rc=$?
  set -e
  if [ $rc -eq 77 ]; then
    note=$(printf '%s\n' "$out" | tail -n 1)
  elif [ $rc -ne 0 ] || ! printf '%s\n' "$out" | tail -n 1 | grep -q "^client-$n "; then
    note="failed: $(printf '%s\n' "$out" | tail -n 1)"
  else
    result=$(printf '%s\n' "$out" | tail -n 1 | awk '{print $2}')
    [ "$rt" != cio ] || printf '%s\n' "$out" | awk '/^connections/ {print $2}' >"$dir/cio-$n.conns"
  fi
}

ours=""
for n in $inflight; do
  declare -A got=() why=()
  for _ in $(seq "$rounds"); do
    for rt in cio $peers; do
      [ -z "${why[$rt]:-}" ] || continue # skipped or failed once: not again
      run "$rt" "$n"
      if [ -n "$result" ]; then
        got[$rt]=$(best "${got[$rt]:-}" "$result")
      else
        why[$rt]=$note
      fi
    done
  done
  ours=${got[cio]:-}
  if [ -z "$ours" ]; then
    printf '%-8s %-10s %12s (%s)\n' "client-$n" cio - "${why[cio]}"
    exit 1
  fi
  printf '%-8s %-10s %12s req/s\n' "client-$n" cio "$ours"
  for rt in $peers; do
    if [ -n "${got[$rt]:-}" ]; then
      printf '%-8s %-10s %12s req/s   cio/%s = %s\n' "client-$n" "$rt" "${got[$rt]}" "$rt" "$(ratio "$ours" "${got[$rt]}")"
    else
      printf '%-8s %-10s %12s (%s)\n' "client-$n" "$rt" - "${why[$rt]:-not run}"
    fi
  done
  # The project's targets: cio at least Go's client, at least 3x aiohttp
  # (its better loop).
  aio=$(best "${got[aiohttp]:-}" "${got[aiohttp-uv]:-}")
  echo "# client-$n: cio opened $(cat "$dir/cio-$n.conns") connections;" \
    "cio/go1 = $(ratio "$ours" "${got[go1]:-0}") (target >= 1);" \
    "cio/best aiohttp = $(ratio "$ours" "${aio:-0}") (target >= 3)"
  if [ -n "${got[cio-poll]:-}" ]; then
    echo "# client-$n, the loop polling $poll_us us: cio-poll/go1 = $(ratio "${got[cio-poll]}" "${got[go1]:-0}");" \
      "cio-poll/best aiohttp = $(ratio "${got[cio-poll]}" "${aio:-0}")"
  fi
  unset got why
done
echo "client $ours req/s"
