#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tls_bulk: MB/s (10^6 bytes per second) through one TLS 1.3 connection on
# 127.0.0.1, as the receiving side counts them: a client pinned to CPU 1
# writes TLS_BULK_MIB MiB (default 2048) in 64 KiB writes to a server
# pinned to CPU 0 that reads and discards them.  Two pairs: cio's
# (bench_tls_bulk: cio_stream_write + cio_stream_drain, cio_stream_read)
# and Go's (peers/go/tls_bulk.go, crypto/tls, GOMAXPROCS=1 on each side),
# with an ECDSA P-256 certificate made at run time, which each client
# verifies.  Every side prints what its connection agreed on and its CPU use
# (busy share of the transfer's time); a comment line per pair shows them,
# another says whether both pairs use the same cipher suite, and another
# whether the kernel offers kTLS (cio uses it for sending where it does;
# tools/ktls-vm.sh measures it on and off under a kernel that has it).  The
# pairs take turns, TLS_ROUNDS times (default 2), and each keeps its best
# round.
# Prints one row per pair and, last, "tls_bulk <cio's MB/s> MB/s".
#
#   bench/tls_bulk.sh BUILD_DIR
set -eu
build=${1:?usage: tls_bulk.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/tls_lib.sh
. "$here/tls_lib.sh"
[ -x "$build/bench/bench_tls_bulk" ] ||
  { echo "tls_bulk skipped: cio was built without OpenSSL (apt-get install libssl-dev)"; exit 77; }
command -v openssl >/dev/null || { echo "tls_bulk skipped: no openssl command"; exit 77; }
mib=${TLS_BULK_MIB:-2048}

dir=$(mktemp -d)
server_pid=""
cleanup() {
  [ -z "$server_pid" ] || stop "$server_pid"
  rm -rf "$dir"
}
trap cleanup EXIT
make_cert "$dir"

# One round for pair NAME on PORT: sets result to the server's MB/s, or to
# "" (the reason is in $dir/NAME.why).  Keeps both sides' output in
# $dir/NAME.server and $dir/NAME.client.  (It runs in this shell, not in
# $(...), so that the trap sees server_pid.)
round() {
  local name=$1 port=$2 i
  local -a prog
  result="" # the pair's program: "server ..." and "client ..." follow
  case $name in
  cio) prog=("$build/bench/bench_tls_bulk") ;;
  go1) prog=("$here/peers/run_peer.sh" go1 tls_bulk) ;;
  esac
  : >"$dir/$name.server"
  # taskset execs the server (run_peer.sh execs the Go program it built).
  taskset -c 0 "${prog[@]}" server "$port" "$dir/cert.pem" "$dir/key.pem" \
    </dev/null >"$dir/$name.server" 2>&1 &
  server_pid=$!
  for ((i = 0; i < 1200; i++)); do # up to 60 s: a Go peer is built on its first start
    grep -q '^listening ' "$dir/$name.server" && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.05
  done
  if ! grep -q '^listening ' "$dir/$name.server"; then
    stop "$server_pid"
    server_pid=""
    tail -n 1 "$dir/$name.server" >"$dir/$name.why"
    return 0
  fi
  timeout 120 taskset -c 1 "${prog[@]}" client "$port" "$dir/cert.pem" "$mib" \
    </dev/null >"$dir/$name.client" 2>&1 || tail -n 1 "$dir/$name.client" >"$dir/$name.why"
  for ((i = 0; i < 200; i++)); do # the server ends after its one connection
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.05
  done
  stop "$server_pid"
  server_pid=""
  result=$(awk '$1 == "tls_bulk" { print $2 }' "$dir/$name.server")
}

pairs=(cio go1)
declare -A port=([cio]=18501 [go1]=18502)
declare -A fig=() seen=() cpu=()
result=""
for _ in $(seq "${TLS_ROUNDS:-2}"); do
  for p in "${pairs[@]}"; do
    round "$p" "${port[$p]}"
    v=$result
    [ -n "$v" ] || continue
    fig[$p]=$(best "${fig[$p]:-}" "$v")
    if [ "$v" = "${fig[$p]}" ]; then # the best round's details
      seen[$p]="$(sed -n 's/^client tls //p' "$dir/$p.client"); server $(sed -n 's/^server tls //p' "$dir/$p.server")"
      cpu[$p]="receiver CPU $(sed -n 's/^received .*, CPU //p' "$dir/$p.server"), sender CPU $(sed -n 's/^client sent .*, CPU //p' "$dir/$p.client")"
    fi
  done
done

grep -h '^# kTLS' "$dir/cio.client" 2>/dev/null | head -n 1 || true
suites="" measured=""
for p in "${pairs[@]}"; do
  [ -n "${seen[$p]:-}" ] || continue
  echo "# $p: client ${seen[$p]}; ${cpu[$p]}"
  suites="$suites $(printf '%s\n' "${seen[$p]}" | grep -o 'TLS_[A-Z0-9_]*' | tr '\n' ' ')"
  measured="$measured $p"
done
read -r -a list <<<"$suites"
if [ ${#list[@]} -gt 0 ]; then
  if [ "$(printf '%s\n' "${list[@]}" | sort -u | wc -l)" -eq 1 ]; then
    echo "# both sides of every pair measured (${measured# }) use ${list[0]}"
  else
    echo "# the sides do not all use the same cipher suite:$suites"
  fi
fi
ours=${fig[cio]:-}
for p in "${pairs[@]}"; do
  if [ -z "${fig[$p]:-}" ]; then
    printf '%-8s %-10s %12s (%s)\n' tls_bulk "$p" - "$(cat "$dir/$p.why" 2>/dev/null || echo failed)"
  elif [ "$p" = cio ]; then
    printf '%-8s %-10s %12s MB/s\n' tls_bulk cio "$ours"
  else
    printf '%-8s %-10s %12s MB/s   cio/%s = %s\n' tls_bulk "$p" "${fig[$p]}" "$p" "$(ratio "${ours:-0}" "${fig[$p]}")"
  fi
done
[ -n "$ours" ] || exit 1
echo "tls_bulk $ours MB/s"
