#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Run one peer benchmark (Go, Python or Node) and print its output; the last
# line is "<workload> <value> <unit>".
#
# Usage: run_peer.sh <lang> <workload> [args...]
#   lang:     go | go1 (GOMAXPROCS=1) | asyncio | uvloop
#             | httpx | httpx-uv | aiohttp | aiohttp-uv | node (client_load only)
#   workload: switch | spawn | idle | timers | gather | wait_first | queue | lock | sem
#             | procpool (Go: goroutines; asyncio: a ProcessPoolExecutor)
#             | xloop_queue (Go only: a channel between two goroutines, GOMAXPROCS=2)
#             tls_server | tls_bulk (Go only: servers and a client that
#             bench/tls_handshake.sh and bench/tls_bulk.sh start)
#             client_load (URL N [SECONDS [WARMUP]]: the HTTP client load that
#             bench/client_load.sh runs; Go, httpx, aiohttp and Node's fetch)
#             pg_load (CONNINFO select N [SECONDS [WARMUP]] | CONNINFO fetch
#             ROUNDS: the PostgreSQL load bench/pg_load.sh runs; Go's pgx v4
#             from Debian's golang-github-jackc-pgx-v4-dev, asyncpg)
#
# Go programs are built once into $BENCH_BUILD (default /tmp/cio-peers) and
# rebuilt when their source is newer. Environment: GO (go tool, default: go in
# PATH, else /usr/bin/go), PYTHON (default /usr/bin/python3), NODE (default:
# node in PATH).
# Exits 77 after printing "<workload> skipped: <reason>" if the toolchain is
# missing.
set -eu

usage() {
	echo "usage: $0 <go|go1|asyncio|uvloop|httpx|httpx-uv|aiohttp|aiohttp-uv|node> <switch|spawn|idle|timers|gather|wait_first|queue|lock|sem|procpool|xloop_queue|tls_server|tls_bulk|client_load|pg_load> [args...]" >&2
	exit 2
}

[ $# -ge 2 ] || usage
lang=$1
workload=$2
shift 2

case $workload in
switch | spawn | idle | timers | gather | wait_first | queue | lock | sem | procpool | xloop_queue | tls_server | tls_bulk | client_load | pg_load) ;;
*) usage ;;
esac

here=$(cd "$(dirname "$0")" && pwd)

skip() {
	echo "$workload skipped: $*"
	exit 77
}

case $lang in
go | go1)
	go_tool=${GO:-$(command -v go || true)}
	if [ -z "$go_tool" ] && [ -x /usr/bin/go ]; then
		go_tool=/usr/bin/go
	fi
	if [ -z "$go_tool" ] || [ ! -x "$go_tool" ]; then
		skip "go toolchain not found"
	fi

	build=${BENCH_BUILD:-/tmp/cio-peers}
	mkdir -p "$build"
	src=$here/go/$workload.go
	bin=$build/$workload
	if [ ! -x "$bin" ] || [ "$src" -nt "$bin" ]; then
		# Standard library only: no modules, no network. Build to a temporary
		# name and rename, so concurrent runs never see a partial binary.
		tmp=$bin.tmp.$$
		# pg_load uses pgx, which Debian installs under /usr/share/gocode.
		gopath=${GOPATH:-$HOME/go}
		if [ "$workload" = pg_load ]; then
			[ -d /usr/share/gocode/src/github.com/jackc/pgx/v4 ] ||
				skip "pgx v4 not installed (apt-get install golang-github-jackc-pgx-v4-dev)"
			gopath=/usr/share/gocode
		fi
		GO111MODULE=off GOPATH=$gopath GOFLAGS='' GOPROXY=off GOCACHE=${GOCACHE:-$build/gocache} \
			"$go_tool" build -o "$tmp" "$src"
		mv -f "$tmp" "$bin"
	fi
	if [ "$lang" = go1 ]; then
		export GOMAXPROCS=1
	fi
	exec "$bin" "$@"
	;;
asyncio | uvloop)
	case $workload in tls_* | client_load) skip "no $lang peer (httpx and aiohttp are the Python clients)" ;; esac
	py=${PYTHON:-/usr/bin/python3}
	[ -x "$py" ] || skip "$py not found"
	flag=
	if [ "$lang" = uvloop ]; then
		"$py" -c 'import uvloop' 2>/dev/null || skip "uvloop not installed for $py"
		flag=--uvloop
	fi
	# procpool lives in pool/: py/queue.py would shadow the standard
	# library's queue module, which concurrent.futures imports.
	dir=py
	[ "$workload" = procpool ] && dir=pool
	exec "$py" "$here/$dir/$workload.py" ${flag:+"$flag"} "$@"
	;;
httpx | httpx-uv | aiohttp | aiohttp-uv)
	# The Python HTTP clients live in client/, not py/: py/queue.py would
	# shadow the standard library's queue module, which anyio imports.
	[ "$workload" = client_load ] || skip "$lang is a client_load peer only"
	py=${PYTHON:-/usr/bin/python3}
	[ -x "$py" ] || skip "$py not found"
	mod=${lang%-uv}
	"$py" -c "import $mod" 2>/dev/null || skip "$mod not installed for $py (apt-get install python3-$mod)"
	flag=
	if [ "$lang" != "$mod" ]; then
		"$py" -c 'import uvloop' 2>/dev/null || skip "uvloop not installed for $py"
		flag=--uvloop
	fi
	exec "$py" "$here/client/client_$mod.py" ${flag:+"$flag"} "$@"
	;;
node)
	[ "$workload" = client_load ] || skip "node is a client_load peer only (echo: start_echo.sh)"
	node_tool=${NODE:-$(command -v node || true)}
	if [ -z "$node_tool" ] || [ ! -x "$node_tool" ]; then
		skip "node not found"
	fi
	"$node_tool" -e 'process.exit(typeof fetch === "function" ? 0 : 1)' 2>/dev/null ||
		skip "$node_tool has no global fetch (Node 18 or later)"
	exec "$node_tool" "$here/node/client_load.js" "$@"
	;;
*)
	usage
	;;
esac
