#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Run one peer benchmark (Go or Python) and print its output; the last line is
# "<workload> <value> <unit>".
#
# Usage: run_peer.sh <lang> <workload> [args...]
#   lang:     go | go1 (GOMAXPROCS=1) | asyncio | uvloop
#   workload: switch | spawn | idle | timers | gather | wait_first | queue | lock | sem
#             tls_server | tls_bulk (Go only: servers and a client that
#             bench/tls_handshake.sh and bench/tls_bulk.sh start)
#
# Go programs are built once into $BENCH_BUILD (default /tmp/cio-peers) and
# rebuilt when their source is newer. Environment: GO (go tool, default: go in
# PATH, else /usr/bin/go), PYTHON (default /usr/bin/python3).
# Exits 77 after printing "<workload> skipped: <reason>" if the toolchain is
# missing.
set -eu

usage() {
	echo "usage: $0 <go|go1|asyncio|uvloop> <switch|spawn|idle|timers|gather|wait_first|queue|lock|sem|tls_server|tls_bulk> [args...]" >&2
	exit 2
}

[ $# -ge 2 ] || usage
lang=$1
workload=$2
shift 2

case $workload in
switch | spawn | idle | timers | gather | wait_first | queue | lock | sem | tls_server | tls_bulk) ;;
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
		GO111MODULE=off GOFLAGS='' GOPROXY=off GOCACHE=${GOCACHE:-$build/gocache} \
			"$go_tool" build -o "$tmp" "$src"
		mv -f "$tmp" "$bin"
	fi
	if [ "$lang" = go1 ]; then
		export GOMAXPROCS=1
	fi
	exec "$bin" "$@"
	;;
asyncio | uvloop)
	case $workload in tls_*) skip "no Python peer" ;; esac
	py=${PYTHON:-/usr/bin/python3}
	[ -x "$py" ] || skip "$py not found"
	flag=
	if [ "$lang" = uvloop ]; then
		"$py" -c 'import uvloop' 2>/dev/null || skip "uvloop not installed for $py"
		flag=--uvloop
	fi
	exec "$py" "$here/py/$workload.py" ${flag:+"$flag"} "$@"
	;;
*)
	usage
	;;
esac
