#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# pg: PostgreSQL drivers against one throwaway local server (initdb in a
# temporary directory, as `nobody` when run as root; a Unix socket, no TCP;
# fsync off; the server pinned to CPU 0, each client to CPU 1):
#   pg-select-N  queries per second, N tasks (goroutines) over one pool of N
#                connections, each `SELECT ... WHERE id = $1` by primary key
#                on a table of 100,000 rows (N = 1, 10, 100);
#   pg-fetch     rows per second reading a 1,000,000-row table whole into
#                memory (cio_pg_query; asyncpg's fetch; pgx's rows appended
#                to a slice);
#   pg-stream    the same rows one at a time as they arrive, nothing kept
#                (cio_pg_query_stream; pgx's rows.Next; an asyncpg cursor
#                with prefetch 10,000).
# Runtimes: cio (bench_pg_load), Go's pgx v4 (go1: GOMAXPROCS=1, and go),
# asyncpg on uvloop (bench/peers/run_peer.sh).  A pool's release resets
# the session in asyncpg and in cio (four statements: the server's work per
# query about doubles) and not in pgxpool, so the select rows run cio both
# ways and compare like with like: "cio" (reset) with asyncpg,
# "cio-noreset" (PG_NO_RESET: as pgxpool) with pgx.  Each runs PG_ROUNDS times
# (default 2) and keeps its best.  "cio-poll" is cio-noreset (for select;
# cio for the row workloads) with its loop busy-polling PG_POLL_US (default
# 200) before it sleeps (CIO_POLL_US, cio_opts.poll_us): on this VM a client
# that sleeps between answers makes the server's core pay a wake-up
# (an inter-processor interrupt, a VM exit) per answer, and the server's
# one core is what limits these workloads (docs/pg.md measures it); pgx is
# measured beside both.  Prints "<workload> <runtime> <value>
# <unit>" rows with cio's ratio to each peer, and last "pg <cio's
# pg-select-100> q/s".
#
#   bench/pg_load.sh BUILD_DIR
#
# Environment: PG_SECONDS (default 3), PG_ROUNDS, PG_INFLIGHT (default
# "1 10 100"), PG_PEERS (default "go1 go uvloop"), PG_POLL_US.
set -eu
build=${1:?usage: pg_load.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/tls_lib.sh
. "$here/tls_lib.sh" # best, ratio
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tail -n 1)
[ -n "$bin" ] || { echo "pg skipped: no PostgreSQL server (apt-get install postgresql)"; exit 77; }
[ -x "$build/bench/bench_pg_load" ] ||
  { echo "pg skipped: cio was built without libpq (apt-get install libpq-dev)"; exit 77; }
command -v taskset >/dev/null || { echo "pg skipped: no taskset"; exit 77; }
seconds=${PG_SECONDS:-3}
rounds=${PG_ROUNDS:-2}
inflight=${PG_INFLIGHT:-"1 10 100"}
poll_us=${PG_POLL_US:-200}
peers=${PG_PEERS:-"go1 go uvloop"}

dir=$(mktemp -d)
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi; }
[ "$(id -u)" != 0 ] || chown nobody "$dir"
cleanup() {
  as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C --no-sync >/dev/null
as_owner taskset -c 0 "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
  -o "-k $dir -c listen_addresses= -c fsync=off -c synchronous_commit=off -c max_connections=300 -c shared_buffers=256MB" \
  start >/dev/null
conninfo="host=$dir dbname=postgres user=postgres"
"$bin/psql" -q -h "$dir" -U postgres -d postgres >/dev/null <<'SQL'
CREATE TABLE accounts (id int PRIMARY KEY, name text NOT NULL, balance float8 NOT NULL);
INSERT INTO accounts SELECT g, 'account ' || g, g * 1.5 FROM generate_series(1, 100000) g;
CREATE TABLE big (id int8, name text, balance float8);
INSERT INTO big SELECT g, 'row ' || g, g * 0.25 FROM generate_series(1, 1000000) g;
VACUUM ANALYZE;
SQL

# Runs RUNTIME with the arguments; sets result (the last line's value) or
# note (why not).
run() {
  local rt=$1 out rc
  shift
  result="" note=""
  set +e
  if [ "$rt" = cio ]; then
    out=$(timeout -k 5 300 taskset -c 1 "$build/bench/bench_pg_load" "$conninfo" "$@" 2>&1)
  elif [ "$rt" = cio-noreset ]; then
    out=$(PG_NO_RESET=1 timeout -k 5 300 taskset -c 1 "$build/bench/bench_pg_load" "$conninfo" "$@" 2>&1)
  elif [ "$rt" = cio-poll ]; then # as cio-noreset for select, the loop polling before it sleeps
    out=$(CIO_POLL_US=$poll_us PG_NO_RESET=1 timeout -k 5 300 taskset -c 1 "$build/bench/bench_pg_load" "$conninfo" "$@" 2>&1)
  else
    out=$(timeout -k 5 300 taskset -c 1 "$here/peers/run_peer.sh" "$rt" pg_load "$conninfo" "$@" 2>&1)
  fi
  rc=$?
  set -e
  if [ $rc -eq 77 ]; then
    note=$(printf '%s\n' "$out" | tail -n 1)
  elif [ $rc -ne 0 ] || ! printf '%s\n' "$out" | tail -n 1 | grep -q "^pg-"; then
    note="failed: $(printf '%s\n' "$out" | tail -n 1)"
  else
    result=$(printf '%s\n' "$out" | tail -n 1 | awk '{print $2}')
  fi
}

# One workload: every runtime PG_ROUNDS times, in turns; then the rows.
measure() {
  local name=$1 unit=$2 rt base ours_rt=cio
  shift 2
  declare -A got=() why=()
  if [ "$1" = select ]; then ours_rt="cio cio-noreset cio-poll"; else ours_rt="cio cio-poll"; fi
  for _ in $(seq "$rounds"); do
    for rt in $ours_rt $peers; do
      [ -z "${why[$rt]:-}" ] || continue
      run "$rt" "$@"
      if [ -n "$result" ]; then got[$rt]=$(best "${got[$rt]:-}" "$result"); else why[$rt]=$note; fi
    done
  done
  ours=${got[cio]:-}
  if [ -z "$ours" ]; then
    printf '%-13s %-8s %12s (%s)\n' "$name" cio - "${why[cio]}"
    exit 1
  fi
  printf '%-13s %-11s %12s %s\n' "$name" cio "$ours" "$unit"
  for rt in cio-noreset cio-poll; do
    [ -z "${got[$rt]:-}" ] || printf '%-13s %-11s %12s %s\n' "$name" "$rt" "${got[$rt]}" "$unit"
  done
  for rt in $peers; do
    base=cio poll=""
    case $rt in go*)
      [ -z "${got[cio-noreset]:-}" ] || base=cio-noreset
      [ -z "${got[cio-poll]:-}" ] || [ -z "${got[$rt]:-}" ] ||
        poll="   cio-poll/$rt = $(ratio "${got[cio-poll]}" "${got[$rt]}")"
      ;;
    esac
    if [ -n "${got[$rt]:-}" ]; then
      printf '%-13s %-11s %12s %s   %s/%s = %s%s\n' "$name" "$rt" "${got[$rt]}" "$unit" "$base" "$rt" "$(ratio "${got[$base]}" "${got[$rt]}")" "$poll"
    else
      printf '%-13s %-11s %12s (%s)\n' "$name" "$rt" - "${why[$rt]:-not run}"
    fi
  done
}

select_ours=""
for n in $inflight; do
  measure "pg-select-$n" q/s select "$n" "$seconds" 0.5
  select_ours=$ours
done
measure pg-fetch rows/s fetch 3
measure pg-stream rows/s stream 3
echo "pg $select_ours q/s"
