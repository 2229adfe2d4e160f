#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The suite under a storm of EINTR.  strace makes every third call of the
# system calls that cio must retry (socket reads and writes, accept4,
# connect, the poller's wait; plain read for files, pipes and the eventfd)
# fail with EINTR, from each process's and thread's 20th call of that kind
# on, so the dynamic loader is spared.  Results must not change: no lost or
# doubled byte, no hang, no error reaching the caller.
#
#   tools/eintr-storm.sh [build-dir]     (default: build; needs strace)
#
# `write` is left alone: the test runner's own output would lose lines.
# Skipped cases: server_restart and server_restart_under_load (test_pg:
# pg_ctl is not stormed either),
# thousand_clients_on_profile (a 1 s latency bound that
# tracing a thousand connections breaks), and in test_http the poller is
# not stormed: an interrupted wait delays the news of a client's FIN past
# its handler, which answers with keep-alive instead of "Connection: close"
# (correct either way; the test pins the usual order).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
if ! command -v strace >/dev/null; then
  echo "skipped: needs strace (apt-get install strace)"
  exit 0
fi

io=read,readv,writev,recvfrom,sendto,recvmsg,sendmsg,accept4,connect
fail=0
# The TLS tests' certificates are made before the storm (the openssl command
# does not retry an interrupted read), and the cases whose peer is another
# program (openssl s_server/s_client, Python) are skipped under it: the
# storm is for cio's own calls.
tls_dir=$(mktemp -d)
trap 'rm -rf "$tls_dir"' EXIT
export CIO_TEST_TLS_DIR=$tls_dir
if [ -x "$build/tests/test_tls" ]; then
  "$build/tests/test_tls" contexts_from_memory_and_bad_files >/dev/null 2>&1 || true
fi
# PostgreSQL likewise: a cluster started before the storm (initdb and the
# server are not stormed, nor is test_pg's server restart).
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tail -n 1 || true)
pg_dir=""
if [ -n "$pg_bin" ] && [ -x "$build/tests/test_pg" ]; then
  pg_dir=$(mktemp -d)
  as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi; }
  [ "$(id -u)" != 0 ] || chown nobody "$pg_dir"
  if as_pg "$pg_bin/initdb" -D "$pg_dir/data" -U postgres -A trust -E UTF8 --locale=C --no-sync >/dev/null 2>&1 &&
    as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w \
      -o "-k $pg_dir -c listen_addresses= -c fsync=off" start >/dev/null 2>&1; then
    export CIO_TEST_PG_DIR=$pg_dir
  fi
  trap 'as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1; rm -rf "$tls_dir" "$pg_dir"' EXIT
fi
skip=thousand_clients_on_profile,server_restart,server_restart_under_load,cio_client_against_openssl_s_server,cio_server_against_openssl_s_client
skip=$skip,python_ssl_client_against_cio_server,https_server_against_real_clients,cio_client_against_nginx
skip=$skip,session_tickets_can_be_turned_off,against_nginx_http_https_http2_gzip
skip=$skip,against_python_http_server,same_answers_as_nginx,cors_same_answers_as_starlette
for t in "$build"/tests/test_*; do
  [ -x "$t" ] || continue
  calls=$io,epoll_wait,epoll_pwait2
  [ "$(basename "$t")" = test_http ] && calls=$io
  # The dynamic loader reads each library's ELF header once: test_client
  # loads libcurl's 30-odd libraries, so its storm starts later.
  from=20
  [ "$(basename "$t")" = test_client ] && from=60
  [ "$(basename "$t")" = test_pg ] && from=100 # libpq's libraries: gssapi, ldap, nettle...
  printf '%-24s ' "$(basename "$t")"
  start=$SECONDS
  # Scaled down (CIO_TEST_SCALE, as under the sanitizers): every interrupted
  # call is what is tested, not the chaos loops' length, and strace makes
  # each call slow.
  if out=$(CIO_TEST_SKIP=$skip CIO_TEST_TIMEOUT_MULT=4 CIO_TEST_SCALE=${CIO_TEST_SCALE:-0.25} \
      timeout 900 strace -f --seccomp-bpf -qq -o /dev/null -e trace="$calls" \
      -e inject="$calls":error=EINTR:when=$from+3 "$t" 2>&1); then
    echo "$(echo "$out" | tail -1)  ($((SECONDS - start)) s)"
  else
    echo "FAILED"
    echo "$out" | grep -v '^ok ' | tail -20
    fail=1
  fi
done
exit $fail
