#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tls_handshake: full TLS 1.3 handshakes (X25519, an ECDSA P-256
# certificate made at run time, no resumption) per second of the server's
# CPU time.  The servers, each pinned to CPU 0: cio (bench_tls_accept: a
# task per connection, cio_tls_upgrade(), one request, a short answer,
# close), nginx with one worker (ssl_session_tickets off, ssl_session_cache
# off, OpenSSL's NumTickets 0, `return 200`) and Go's crypto/tls
# (peers/go/tls_server.go, GOMAXPROCS=1, tickets off), cio with tickets off
# too (cio_tls_ctx_set_session_tickets(ctx, 0)); then cio and nginx with
# OpenSSL's default two TLS 1.3 tickets after each handshake ("cio-tkt",
# "nginx-tkt"), each other's peers.  The load, the same
# for all, pinned to CPU 1: bench_tls_load (TLS_CONNS connections at once,
# default 100, each a fresh handshake, a short request, the answer's first
# bytes, a reset; for TLS_SECONDS, default 5).
#
# One load core may saturate before the server does, so the figure is
# handshakes per CPU second of the server: the server's utime + stime
# (/proc/PID/stat, with its children for nginx) before and after the load
# window.  A comment line per server gives the handshakes per second of
# wall time, the server's CPU use, the tickets the client got per
# handshake and what the connection agreed on.  The servers take turns,
# TLS_ROUNDS times (default 2), and each keeps its best round.  Prints one
# row per server and, last, "tls_handshake <cio's figure> hs/cpu-s".
#
#   bench/tls_handshake.sh BUILD_DIR
set -eu
build=${1:?usage: tls_handshake.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/tls_lib.sh
. "$here/tls_lib.sh"
[ -x "$build/bench/bench_tls_accept" ] ||
  { echo "tls_handshake skipped: cio was built without OpenSSL (apt-get install libssl-dev)"; exit 77; }
command -v openssl >/dev/null || { echo "tls_handshake skipped: no openssl command"; exit 77; }
seconds=${TLS_SECONDS:-5}
conns=${TLS_CONNS:-100}
tck=$(getconf CLK_TCK)

dir=$(mktemp -d)
server_pid=""
cleanup() {
  [ -z "$server_pid" ] || stop "$server_pid"
  rm -rf "$dir"
}
trap cleanup EXIT
make_cert "$dir"

# nginx 1.22's `ssl_session_tickets off` leaves OpenSSL 3.0 sending two
# TLS 1.3 tickets (stateful ones, which the cache that is off never finds):
# NumTickets 0 stops them.  "nginx-tkt" keeps OpenSSL's default.
nginx_conf() { # NAME PORT TICKETS(on|off)
  mkdir -p "$dir/$1"
  cat >"$dir/$1/nginx.conf" <<CONF
worker_processes 1;
daemon off;
error_log $dir/$1/error.log;
pid $dir/$1/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$2 ssl;
    ssl_certificate $dir/cert.pem;
    ssl_certificate_key $dir/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache off;
    ssl_session_tickets $3;
    $([ "$3" = on ] || echo "ssl_conf_command NumTickets 0;")
    location = / { return 200 'ok\n'; }
  }
}
CONF
}

# Starts server NAME on PORT in the background, pinned to CPU 0: sets
# server_pid, or sets result to why not and returns 1.  (The functions that
# start servers run in this shell, not in $(...), so that the trap sees
# server_pid.)
start_server() {
  local name=$1 port=$2 cmd
  case $name in
  cio) cmd=("$build/bench/bench_tls_accept" "$port" "$dir/cert.pem" "$dir/key.pem" 0) ;;
  cio-tkt) cmd=("$build/bench/bench_tls_accept" "$port" "$dir/cert.pem" "$dir/key.pem") ;;
  nginx | nginx-tkt)
    command -v nginx >/dev/null || { result="nginx not installed"; return 1; }
    if [ "$name" = nginx ]; then nginx_conf "$name" "$port" off; else nginx_conf "$name" "$port" on; fi
    cmd=(nginx -c "$dir/$name/nginx.conf" -p "$dir/$name")
    ;;
  go1) cmd=("$here/peers/run_peer.sh" go1 tls_server "$port" "$dir/cert.pem" "$dir/key.pem") ;;
  esac
  # taskset execs the server (run_peer.sh execs the Go program it built),
  # so $! is the server's own PID.
  taskset -c 0 "${cmd[@]}" </dev/null >"$dir/$name.log" 2>&1 &
  server_pid=$!
  if ! wait_port "$port" "$server_pid"; then
    stop "$server_pid"
    server_pid=""
    result=$(tail -n 1 "$dir/$name.log")
    return 1
  fi
}

# One round for server NAME on PORT: sets result to "<hs/cpu-s> <hs/s>
# <cpu %> <tickets per handshake> <agreed...>", or to a reason and returns 1.
round() {
  local name=$1 port=$2 c0 c1 t0 t1 out hs rate tickets agreed
  start_server "$name" "$port" || return 1
  c0=$(cpu_ticks "$server_pid")
  t0=$(date +%s.%N)
  out=$(taskset -c 1 "$build/bench/bench_tls_load" "$port" "$conns" "$seconds" 2>&1) || true
  t1=$(date +%s.%N)
  c1=$(cpu_ticks "$server_pid")
  stop "$server_pid"
  server_pid=""
  hs=$(printf '%s\n' "$out" | sed -n 's/.*, handshakes \([0-9]*\),.*/\1/p')
  rate=$(printf '%s\n' "$out" | awk '$1 == "tls_handshake" { print $2 }')
  tickets=$(printf '%s\n' "$out" | awk '/^tickets per handshake/ { print $4 }')
  agreed=$(printf '%s\n' "$out" | sed -n 's/^tls //p')
  if [ -z "$hs" ] || [ "$hs" -eq 0 ] || [ "$c1" -le "$c0" ]; then
    result=$(printf '%s\n' "$out" | grep -E '^first error|^connections' | tr '\n' ' ')
    return 1
  fi
  result=$(awk -v hs="$hs" -v ticks=$((c1 - c0)) -v tck="$tck" -v wall="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
    -v rate="$rate" -v tickets="$tickets" -v agreed="$agreed" \
    'BEGIN { cpu = ticks / tck; printf "%.0f %s %.0f %s %s\n", hs / cpu, rate, 100 * cpu / wall, tickets, agreed }')
}

servers=(cio nginx go1 cio-tkt nginx-tkt)
declare -A port=([cio]=18481 [nginx]=18482 [nginx-tkt]=18483 [go1]=18484 [cio-tkt]=18485)
declare -A fig=() note=() why=()
result=""
for _ in $(seq "${TLS_ROUNDS:-2}"); do
  for s in "${servers[@]}"; do
    if round "$s" "${port[$s]}"; then
      r=$result
      v=${r%% *}
      if [ "$(best "${fig[$s]:-}" "$v")" = "$v" ]; then
        fig[$s]=$v
        note[$s]=${r#* }
      fi
    else
      why[$s]=$result
    fi
  done
done

for s in "${servers[@]}"; do
  [ -n "${note[$s]:-}" ] || continue
  read -r rate cpu tickets agreed <<<"${note[$s]}"
  printf '# %-10s %s hs/s, server CPU %s%%, %s tickets per handshake; %s\n' "$s:" "$rate" "$cpu" "$tickets" "$agreed"
done
ours=${fig[cio]:-}
for s in "${servers[@]}"; do
  if [ -z "${fig[$s]:-}" ]; then
    printf '%-8s %-10s %12s (%s)\n' tls_handshake "$s" - "${why[$s]:-failed}"
  elif [ "$s" = cio ] || [ "$s" = cio-tkt ]; then
    printf '%-8s %-10s %12s hs/cpu-s\n' tls_handshake "$s" "${fig[$s]}"
  elif [ "$s" = nginx-tkt ]; then # beside cio with tickets as well
    printf '%-8s %-10s %12s hs/cpu-s   cio-tkt/%s = %s\n' tls_handshake "$s" "${fig[$s]}" "$s" "$(ratio "${fig[cio-tkt]:-0}" "${fig[$s]}")"
  else
    printf '%-8s %-10s %12s hs/cpu-s   cio/%s = %s\n' tls_handshake "$s" "${fig[$s]}" "$s" "$(ratio "${ours:-0}" "${fig[$s]}")"
  fi
done
[ -n "$ours" ] || exit 1
echo "tls_handshake $ours hs/cpu-s"
