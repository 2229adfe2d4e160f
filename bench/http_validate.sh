#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# http_validate: POST /items with a valid JSON body,
#   {"name":"Widget","price":9.5,"tags":["a","b"],"description":"d"}
# validated and echoed, under wrk (1 thread, 50 connections, HTTP_SECONDS
# each, default 3; a Lua script for the POST) pinned to CPU 1, each server
# pinned to CPU 0 and checked first to answer that body with 200 and the
# item:
#   cio          bench_validate_server's POST /items, the route declared with
#                cio's body model (cio validates)
#   cio-plain    its POST /items_plain: no declarations, Jansson and checks
#                written by hand (what the declarations save you writing)
#   fastapi      the FastAPI twin (tests/fastapi_ref/demo_app.py), uvicorn,
#                one worker, Debian's FastAPI 0.92 / pydantic 1.10
#   go           net/http + encoding/json + checks by hand, GOMAXPROCS=1
#                (bench/peers/go/validate_server.go)
# The servers take turns, HTTP_ROUNDS times (default 2), each keeping its best
# round (and its lowest server CPU time per request, from /proc/PID/stat:
# steadier than req/s on a shared machine).  Prints one row per runtime,
# "http_validate <runtime> <req/s> req/s   server CPU <us> us/request" (or
# why it was not measured), the ratio declared / plain both ways (the target:
# within 10%), and last "http_validate <cio's req/s> req/s".
#
#   bench/http_validate.sh BUILD_DIR
set -u
build=${1:?usage: http_validate.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
seconds=${HTTP_SECONDS:-3}
py=${PYTHON:-/usr/bin/python3}
out=${BENCH_BUILD:-/tmp/cio-peers}
mkdir -p "$out"
for tool in wrk taskset curl; do
  command -v "$tool" >/dev/null || { echo "http_validate skipped: $tool not installed"; exit 77; }
done

body='{"name":"Widget","price":9.5,"tags":["a","b"],"description":"d"}'
echoed='{"name":"Widget","description":"d","price":9.5,"tax":null,"tags":["a","b"],"image":null}'
work=$(mktemp -d)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
LUA

# The Go peer, built once (standard library only).
go_bin="" go_why=""
go_tool=${GO:-$(command -v go || true)}
[ -n "$go_tool" ] || [ ! -x /usr/bin/go ] || go_tool=/usr/bin/go
if [ -z "$go_tool" ] || [ ! -x "$go_tool" ]; then
  go_why="go toolchain not found"
else
  go_bin=$out/validate_server
  src=$here/peers/go/validate_server.go
  if [ ! -x "$go_bin" ] || [ "$src" -nt "$go_bin" ]; then
    GO111MODULE=off GOFLAGS='' GOPROXY=off GOCACHE=${GOCACHE:-$out/gocache} \
      "$go_tool" build -o "$go_bin.tmp.$$" "$src" >"$work/go.log" 2>&1 &&
      mv -f "$go_bin.tmp.$$" "$go_bin" || go_why="go build failed: $(tail -n 1 "$work/go.log")"
  fi
fi

# start <name>: starts the server on a free port, pinned to CPU 0; sets pid
# and url, or why.
start() {
  local name=$1 port="" cmd=() env=()
  why="" url=""
  case $name in
  cio | cio-plain)
    cmd=("$build/bench/bench_validate_server" 0 127.0.0.1)
    [ -x "${cmd[0]}" ] || { why="${cmd[0]} not built (needs Jansson)"; return; }
    ;;
  go)
    [ -z "$go_why" ] || { why=$go_why; return; }
    cmd=("$go_bin" 0) env=(GOMAXPROCS=1)
    ;;
  fastapi)
    "$py" -c 'import fastapi, uvicorn' 2>/dev/null ||
      { why="fastapi/uvicorn not installed for $py"; return; }
    port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    env=(PYTHONDONTWRITEBYTECODE=1)
    cmd=("$py" -m uvicorn --app-dir "$here/../tests/fastapi_ref" demo_app:app --host 127.0.0.1
         --port "$port" --log-level warning --no-access-log --backlog 4096)
    ;;
  esac
  : >"$work/$name.out"
  env ${env[@]+"${env[@]}"} taskset -c 0 "${cmd[@]}" </dev/null >"$work/$name.out" 2>&1 &
  pid=$!
  for _ in $(seq 300); do
    if [ -z "$port" ]; then
      port=$(sed -n 's|.*serving on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$work/$name.out" | head -n 1)
    fi
    if [ -n "$port" ] && curl -s -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null; then
      break
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  [ -n "$port" ] || { why="did not start: $(tail -c 200 "$work/$name.out")"; stop; return; }
  case $name in
  cio-plain) url=http://127.0.0.1:$port/items_plain ;;
  *) url=http://127.0.0.1:$port/items ;;
  esac
  local got status
  got=$(curl -s -w '\n%{http_code}' -H 'Content-Type: application/json' -d "$body" "$url")
  status=${got##*$'\n'}
  got=${got%$'\n'*}
  if [ "$status" = 404 ] && [ "$name" = cio ]; then
    why="POST /items answered 404: not declared in bench/validate_server.c"
    stop
  elif [ "$status" != 200 ]; then
    why="POST answered $status: ${got:0:200}"
    stop
  elif [ "$name" != go ] && [ "$got" != "$echoed" ]; then
    why="POST echoed ${got:0:200}, not $echoed"
    stop
  fi
}

stop() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  pid=""
}

# cpu_ticks PID: the process's user + system CPU time so far, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# load URL: "<requests per second> <server CPU microseconds per request>", or
# "-" with wrk's complaint when any answer was not 2xx or a socket error
# happened.  The CPU figure (from /proc/PID/stat) is what each request costs
# the server, whatever else the machine is doing; req/s is not.
load() {
  local res t0 t1
  t0=$(cpu_ticks "$pid")
  res=$(taskset -c 1 wrk -t1 -c50 -d"${seconds}s" -s "$work/post.lua" "$1" 2>&1)
  t1=$(cpu_ticks "$pid")
  if printf '%s\n' "$res" | grep -q 'Non-2xx\|Socket errors'; then
    echo "- ($(printf '%s\n' "$res" | grep 'Non-2xx\|Socket errors' | tr -s ' ' | head -n 1))"
  else
    printf '%s\n' "$res" | awk -v ticks=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" '
      / requests in / { n = $1 }
      /Requests\/sec/ { rps = $2 }
      END { printf "%s %.2f\n", rps, (n > 0 ? ticks * 1e6 / hz / n : 0) }'
  fi
}

best() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b + 0 > a + 0) ? b : a }'; }
least() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b + 0 < a + 0) ? b : a }'; }

runtimes=(cio cio-plain fastapi go)
declare -A figure note cpu
for _ in $(seq "${HTTP_ROUNDS:-2}"); do
  for name in "${runtimes[@]}"; do
    [ -z "${note[$name]:-}" ] || continue
    start "$name"
    if [ -n "$why" ]; then
      note[$name]=$why
      continue
    fi
    v=$(load "$url")
    stop
    case $v in
    -*) note[$name]="wrk: $v" ;;
    *)
      figure[$name]=$(best "${figure[$name]:-}" "${v% *}")
      cpu[$name]=$(least "${cpu[$name]:-}" "${v#* }")
      ;;
    esac
  done
done

for name in "${runtimes[@]}"; do
  if [ -n "${note[$name]:-}" ]; then
    printf 'http_validate %-10s %10s req/s   (not measured: %s)\n' "$name" - "${note[$name]}"
  else
    printf 'http_validate %-10s %10s req/s   server CPU %7s us/request\n' "$name" "${figure[$name]}" \
      "${cpu[$name]}"
  fi
done
if [ -n "${figure[cio]:-}" ] && [ -n "${figure[cio-plain]:-}" ]; then
  awk -v a="${figure[cio]}" -v b="${figure[cio-plain]}" -v ca="${cpu[cio]}" -v cb="${cpu[cio-plain]}" \
    'BEGIN { printf "http_validate declared/plain = %.3f in req/s (target >= 0.90), %.3f in CPU per request\n",
             a / b, (ca > 0 ? cb / ca : 0) }'
fi
echo "http_validate ${figure[cio]:--} req/s"
