#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# http_workers: `GET /` -> {"message":"Hello"} served on every core of this
# 2-core machine: cio's demo service on WORKERS loops (cio_http_run_workers,
# SO_REUSEPORT), nginx with WORKERS worker processes, Go net/http with
# GOMAXPROCS=WORKERS, FastAPI on uvicorn --workers WORKERS, and Node's
# cluster module with WORKERS processes (bench/peers/http/). Each is loaded
# by wrk (1 thread, 100 connections, HTTP_SECONDS s, default 3), one after
# another, HTTP_ROUNDS times (default 2), keeping each one's best round.
#
# Nothing is pinned: the servers may use both cores, and wrk shares those
# same two cores with them (there is no third core for it), so every figure
# is what a server gets with the load generator taking part of the machine.
# One row per runtime, then "http_workers <cio requests per second> req/s".
#
#   bench/http_workers.sh BUILD_DIR
#
# Environment: WORKERS (default 2), HTTP_SERVERS (default
# "cio nginx go uvicorn node"), HTTP_PORT (first port, default 18490),
# BENCH_BUILD (Go binary and logs, default /tmp/cio-peers), GO, NODE,
# PYTHON (/usr/bin/python3).
set -eu
build=${1:?usage: http_workers.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
peers=$here/peers/http
out=${BENCH_BUILD:-/tmp/cio-peers}
workers=${WORKERS:-2}
seconds=${HTTP_SECONDS:-3}
rounds=${HTTP_ROUNDS:-2}
port=${HTTP_PORT:-18490}
servers=${HTTP_SERVERS:-cio nginx go uvicorn node}
py=${PYTHON:-/usr/bin/python3}
mkdir -p "$out"
command -v wrk >/dev/null || { echo "http_workers skipped: wrk not installed (apt-get install wrk)"; exit 77; }
command -v setsid >/dev/null || { echo "http_workers skipped: setsid not found (util-linux)"; exit 77; }

open_port() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
best() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b + 0 > a + 0) ? b : a }'; }

# nginx's configuration in $1 (a directory), listening on port $2.
nginx_conf() {
	cat >"$1/nginx.conf" <<CONF
worker_processes $workers;
daemon off;
error_log $1/error.log;
pid $1/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$2 backlog=4096;
    location = / { default_type application/json; return 200 '{"message":"Hello"}'; }
  }
}
CONF
}

# Sets `cmd` (and `env`) to run server $1 on port $2, or `why` to a reason
# to skip it.
command_for() {
	cmd=() env=() why=""
	case $1 in
	cio)
		cmd=("$build/examples/fastapi_demo" "$2" 127.0.0.1) env=(WORKERS="$workers")
		[ -x "${cmd[0]}" ] || why="${cmd[0]} not built"
		;;
	nginx)
		command -v nginx >/dev/null || { why="nginx not installed"; return; }
		nginx_dir=$(mktemp -d)
		nginx_conf "$nginx_dir" "$2"
		cmd=(nginx -c "$nginx_dir/nginx.conf" -p "$nginx_dir")
		;;
	go)
		local go_tool=${GO:-$(command -v go || true)} bin=$out/go_hello
		[ -n "$go_tool" ] || { why="go toolchain not found"; return; }
		if [ ! -x "$bin" ] || [ "$peers/go_hello.go" -nt "$bin" ]; then
			GO111MODULE=off GOFLAGS='' GOPROXY=off GOCACHE=${GOCACHE:-$out/gocache} \
				"$go_tool" build -o "$bin.tmp.$$" "$peers/go_hello.go" && mv -f "$bin.tmp.$$" "$bin" ||
				{ why="go build failed"; return; }
		fi
		cmd=("$bin" "$2") env=(GOMAXPROCS="$workers")
		;;
	uvicorn)
		"$py" -c 'import fastapi, uvicorn' 2>/dev/null ||
			{ why="fastapi/uvicorn not installed for $py (apt-get install python3-fastapi python3-uvicorn)"; return; }
		cmd=("$py" -m uvicorn fastapi_hello:app --app-dir "$peers" --host 127.0.0.1 --port "$2"
			--workers "$workers" --log-level warning --no-access-log --backlog 4096)
		;;
	node)
		local node_tool=${NODE:-$(command -v node || true)}
		[ -n "$node_tool" ] || { why="node not found"; return; }
		cmd=("$node_tool" "$peers/node_hello_cluster.js" "$2" "$workers")
		;;
	*) why="unknown server" ;;
	esac
}

# Runs server $1 on port $2 under wrk once; prints its requests/s, or
# "-" and a reason on stderr.
run_one() {
	local name=$1 p=$2 pid up log=$out/http_workers-$1.log res=$out/http_workers-$1.wrk
	nginx_dir=""
	command_for "$name" "$p"
	if [ -n "$why" ]; then echo "- skipped: $why"; return; fi
	if open_port "$p"; then echo "- failed: port $p already in use"; return; fi
	# In a session of its own, so that the server and any worker processes
	# it forks are stopped together (kill -- -pid).
	env ${env[@]+"${env[@]}"} setsid "${cmd[@]}" </dev/null >"$log" 2>&1 &
	pid=$!
	up=
	for _ in $(seq 100); do # up to 10 s (uvicorn's workers take a while)
		if open_port "$p"; then up=1; break; fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	[ "$name" = cio ] || [ "$name" = nginx ] || sleep 0.5 # every worker process up
	if [ -n "$up" ]; then
		wrk -t1 -c100 -d"${seconds}s" "http://127.0.0.1:$p/" >"$res" 2>&1 || true
		echo "$(awk '/^Requests\/sec:/ {print $2}' "$res")"
	else
		echo "- failed: not listening on $p within 10 s (see $log)"
	fi
	kill -TERM -- -"$pid" 2>/dev/null || true
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL -- -"$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	[ -z "$nginx_dir" ] || rm -rf "$nginx_dir"
}

printf 'http_workers: GET / on %s loops/workers each, wrk -t1 -c100 -d%ss, best of %s; nothing pinned:\n' \
	"$workers" "$seconds" "$rounds"
printf '  wrk shares the same 2 cores with the server (this machine has no core to spare for it)\n'
declare -A rps note
for _ in $(seq "$rounds"); do
	i=0
	for name in $servers; do
		v=$(run_one "$name" $((port + i)))
		i=$((i + 1))
		case $v in
		-*) note[$name]=${v#- } ;;
		*) rps[$name]=$(best "${rps[$name]:-}" "$v") ;;
		esac
	done
done
ours=${rps[cio]:-}
for name in $servers; do
	v=${rps[$name]:-}
	if [ -z "$v" ]; then
		printf '%-12s %-10s %12s (%s)\n' http_workers "$name" - "${note[$name]:-no figure}"
	elif [ "$name" = cio ] || [ -z "$ours" ]; then
		printf '%-12s %-10s %12s req/s\n' http_workers "$name" "$v"
	else
		printf '%-12s %-10s %12s req/s   cio/%s = %s\n' http_workers "$name" "$v" "$name" \
			"$(awk -v a="$ours" -v b="$v" 'BEGIN { printf "%.3f", a / b }')"
	fi
done
echo "http_workers ${ours:--} req/s"
