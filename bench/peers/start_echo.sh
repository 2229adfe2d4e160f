#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Start one peer TCP echo server on 127.0.0.1:<port>, pinned to CPU <cpu>
# (taskset -c), in the background; wait until it prints "listening <port>"
# (up to 10 s) and print its PID. Stop it with: kill <pid>  (SIGTERM).
#
# Usage: start_echo.sh <go|go1|asyncio|uvloop|node> <port> <cpu>
#   go:      Go, GOMAXPROCS from the environment (runtime default: all cores)
#   go1:     Go with GOMAXPROCS=1
#   asyncio: /usr/bin/python3 asyncio streams;  uvloop: the same on uvloop
#   node:    Node's net module
#
# The Go program is built once into $BENCH_BUILD (default /tmp/cio-peers),
# as run_peer.sh does, and rebuilt when its source is newer. The server's
# stdout and stderr go to $BENCH_BUILD/echo-<lang>-<port>.log (stdin is
# /dev/null), so $(start_echo.sh ...) returns as soon as the PID is printed.
# Environment: GO (default: go in PATH, else /usr/bin/go), PYTHON (default
# /usr/bin/python3), NODE (default: node in PATH).
# Exits 77 after printing "skipped: <reason>" to stderr if the toolchain (or
# taskset) is missing; exits 1 if the server fails to start or does not
# listen within 10 s (the log is copied to stderr, the server killed).
set -eu

usage() {
	echo "usage: $0 <go|go1|asyncio|uvloop|node> <port> <cpu>" >&2
	exit 2
}

[ $# -eq 3 ] || usage
lang=$1
port=$2
cpu=$3
case $port in '' | *[!0-9]*) usage ;; esac
case $lang in go | go1 | asyncio | uvloop | node) ;; *) usage ;; esac

here=$(cd "$(dirname "$0")" && pwd)
build=${BENCH_BUILD:-/tmp/cio-peers}

skip() {
	echo "skipped: $*" >&2
	exit 77
}

command -v taskset >/dev/null 2>&1 || skip "taskset not found"

case $lang in
go | go1)
	go_tool=${GO:-$(command -v go || true)}
	if [ -z "$go_tool" ] && [ -x /usr/bin/go ]; then
		go_tool=/usr/bin/go
	fi
	if [ -z "$go_tool" ] || [ ! -x "$go_tool" ]; then
		skip "go toolchain not found"
	fi
	mkdir -p "$build"
	src=$here/go/echo_server.go
	bin=$build/echo_server
	if [ ! -x "$bin" ] || [ "$src" -nt "$bin" ]; then
		# Standard library only: no modules, no network. Build to a temporary
		# name and rename, so concurrent runs never see a partial binary.
		tmp=$bin.tmp.$$
		GO111MODULE=off GOFLAGS='' GOPROXY=off GOCACHE=${GOCACHE:-$build/gocache} \
			"$go_tool" build -o "$tmp" "$src" >&2
		mv -f "$tmp" "$bin"
	fi
	if [ "$lang" = go1 ]; then
		export GOMAXPROCS=1
	fi
	cmd=("$bin" "$port")
	;;
asyncio | uvloop)
	py=${PYTHON:-/usr/bin/python3}
	[ -x "$py" ] || skip "$py not found"
	cmd=("$py" "$here/py/echo_server.py")
	if [ "$lang" = uvloop ]; then
		"$py" -c 'import uvloop' 2>/dev/null || skip "uvloop not installed for $py"
		cmd+=(--uvloop)
	fi
	cmd+=("$port")
	;;
node)
	node_tool=${NODE:-$(command -v node || true)}
	if [ -z "$node_tool" ] || [ ! -x "$node_tool" ]; then
		skip "node not found"
	fi
	cmd=("$node_tool" "$here/node/echo_server.js" "$port")
	;;
esac

mkdir -p "$build"
log=$build/echo-$lang-$port.log
: >"$log"

# taskset execs the server, so $! is the server's own PID.
taskset -c "$cpu" "${cmd[@]}" </dev/null >"$log" 2>&1 &
pid=$!

fail() {
	echo "$0: $lang echo server on port $port: $*" >&2
	sed 's/^/  | /' "$log" >&2 || true
	exit 1
}

# Poll for up to 10 s.
for _ in $(seq 200); do
	if grep -q '^listening [0-9][0-9]*$' "$log"; then
		echo "$pid"
		exit 0
	fi
	if ! kill -0 "$pid" 2>/dev/null; then
		rc=0
		wait "$pid" || rc=$?
		fail "exited with status $rc before listening"
	fi
	sleep 0.05
done
kill "$pid" 2>/dev/null || true
fail "not listening after 10 s (killed)"
