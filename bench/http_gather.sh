#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# http_gather: the guide's GET /user/{id}/profile (two concurrent 0.5 s
# fetches, gathered: ~0.5 s per request) under wrk, cio's fastapi_demo against
# the same endpoint in Go (net/http, GOMAXPROCS=1), Node (http), Python
# aiohttp and FastAPI on uvicorn (bench/peers/http/). Each server runs pinned
# to CPU 0, wrk (1 thread) to CPU 1:
#
#   wrk -t1 -c<connections> -d<seconds>s --latency --timeout 5s \
#       http://127.0.0.1:<port>/user/1/profile
#
# With every request sleeping 0.5 s, the ideal is connections / 0.5 req/s and
# p50 = p99 = 500 ms; what a server adds on top is its overhead per request.
# "nginx" is a floor, not a peer doing the same work: nginx's echo module
# (Debian's libnginx-mod-http-echo, which nginx-light brings) sleeps 0.5 s
# once per request and answers a fixed body, with nginx's worker count set
# to the loops' (reuseport).  Whatever latency it adds is what wrk and the
# machine add to any server.
#
# One row per server: requests/s, p50 and p99 latency (ms, from wrk's latency
# distribution) and errors (wrk's socket errors, connect + read + write +
# timeout, plus its "Non-2xx or 3xx responses"). A peer whose toolchain is
# missing gets a "skipped" row. Last line: "http_gather <cio p99> ms".
#
#   bench/http_gather.sh BUILD_DIR [connections] [seconds]   (1000, 10)
#
# With GATHER_WORKERS=n (make bench W=http_gather_workers: n = 2, 10,000
# connections), every core serves: cio with WORKERS=n loops, Go with
# GOMAXPROCS=n, nginx with n workers, the servers not pinned and wrk
# sharing the same cores (the machine has two); the default servers are
# then cio, Go and nginx.
#
# Environment: HTTP_SERVERS (default "cio go nginx node aiohttp fastapi"; also
# "aiohttp-uvloop"), HTTP_PORT (first port, default 18480; server i uses
# HTTP_PORT + i), BENCH_BUILD (Go binary and logs, default /tmp/cio-peers),
# GO (default: go in PATH, else /usr/bin/go), NODE, PYTHON (/usr/bin/python3).
# wrk's full output for each server is kept in $BENCH_BUILD/http-<name>.wrk
# and the server's output in $BENCH_BUILD/http-<name>.log.
set -eu

usage() {
	echo "usage: $0 BUILD_DIR [connections] [seconds]" >&2
	exit 2
}
if [ $# -lt 1 ] || [ $# -gt 3 ]; then usage; fi
build=$1
conns=${2:-1000}
secs=${3:-10}
case $conns$secs in '' | *[!0-9]*) usage ;; esac

here=$(cd "$(dirname "$0")" && pwd)
peers=$here/peers/http
out=${BENCH_BUILD:-/tmp/cio-peers}
port=${HTTP_PORT:-18480}
workers=${GATHER_WORKERS:-}
case $workers in '' | [1-9] | [1-9][0-9]) ;; *) usage ;; esac
if [ -n "$workers" ]; then
	servers=${HTTP_SERVERS:-cio go nginx}
	server_cpus=0-$(($(nproc) - 1)) load_cpus=$server_cpus
	ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
else
	servers=${HTTP_SERVERS:-cio go nginx node aiohttp fastapi}
	server_cpus=0 load_cpus=1
fi
py=${PYTHON:-/usr/bin/python3}
mkdir -p "$out"

for tool in wrk taskset; do
	command -v "$tool" >/dev/null || { echo "http_gather skipped: $tool not installed" >&2; exit 77; }
done

# wrk holds one descriptor per connection (and the server as many): raise the
# soft limit towards 2 * connections + 100 as far as the hard limit allows.
need=$((2 * conns + 100))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
	hard=$(ulimit -Hn)
	[ "$hard" = unlimited ] || [ "$hard" -ge "$need" ] || need=$hard
	ulimit -n "$need" 2>/dev/null || true
fi
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((conns + 100)) ]; then
	echo "http_gather: ulimit -n is $(ulimit -n), too low for $conns connections" >&2
fi

# ms <wrk duration>: 812.00us / 501.23ms / 1.02s / 1.50m -> milliseconds.
ms() {
	awk -v d="$1" 'BEGIN {
		n = d + 0; u = d; sub(/^[0-9.]+/, "", u)
		f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : -1
		if (f < 0) print "-"; else printf "%.2f", n * f }'
}

# open <port>: true if something accepts connections on 127.0.0.1:<port>.
open_port() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

row() { printf '%-15s %10s req/s  p50 %9s ms  p99 %9s ms  errors %s\n' "$@"; }

cio_p99=-
printf 'http_gather: GET /user/1/profile, wrk -t1 -c%s -d%ss --timeout 5s; ideal %s req/s, 500 ms\n' \
	"$conns" "$secs" "$((conns * 2))"
for name in $servers; do
	# The server's command line, or a reason to skip it.
	cmd=() why="" env=() p=$port port_arg=("$port") # the port, the last argument (not nginx's)
	case $name in
	cio)
		cmd=("$build/examples/fastapi_demo")
		[ -x "${cmd[0]}" ] || why="${cmd[0]} not built"
		[ -z "$workers" ] || env=(WORKERS="$workers")
		;;
	go)
		go_tool=${GO:-$(command -v go || true)}
		[ -n "$go_tool" ] || [ ! -x /usr/bin/go ] || go_tool=/usr/bin/go
		if [ -z "$go_tool" ] || [ ! -x "$go_tool" ]; then
			why="go toolchain not found"
		else
			bin=$out/go_profile
			if [ ! -x "$bin" ] || [ "$peers/go_profile.go" -nt "$bin" ]; then
				# Standard library only; build to a temporary name, then rename.
				GO111MODULE=off GOFLAGS='' GOPROXY=off GOCACHE=${GOCACHE:-$out/gocache} \
					"$go_tool" build -o "$bin.tmp.$$" "$peers/go_profile.go" && mv -f "$bin.tmp.$$" "$bin" ||
					why="go build failed"
			fi
			cmd=("$bin") env=(GOMAXPROCS="${workers:-1}")
		fi
		;;
	node)
		node_tool=${NODE:-$(command -v node || true)}
		[ -n "$node_tool" ] && [ -x "$node_tool" ] || why="node not found"
		cmd=("$node_tool" "$peers/node_profile.js")
		;;
	aiohttp | aiohttp-uvloop)
		"$py" -c 'import aiohttp' 2>/dev/null || why="aiohttp not installed for $py (apt-get install python3-aiohttp)"
		cmd=("$py" "$peers/aiohttp_profile.py")
		if [ "$name" = aiohttp-uvloop ]; then
			"$py" -c 'import uvloop' 2>/dev/null || why="uvloop not installed for $py"
			cmd+=(--uvloop)
		fi
		;;
	nginx)
		echo_module=/usr/lib/nginx/modules/ngx_http_echo_module.so
		if ! command -v nginx >/dev/null; then
			why="nginx not installed (apt-get install nginx-light)"
		elif [ ! -e "$echo_module" ]; then
			why="nginx's echo module not installed (apt-get install libnginx-mod-http-echo)"
		else
			mkdir -p "$out/nginx-$p"
			cat >"$out/nginx-$p/nginx.conf" <<CONF
load_module $echo_module;
worker_processes ${workers:-1};
worker_rlimit_nofile $((2 * conns + 100));
daemon off;
error_log $out/nginx-$p/error.log;
pid $out/nginx-$p/nginx.pid;
events { worker_connections $((conns + 100)); }
http {
  access_log off;
  keepalive_requests 1000000000;
  server {
    listen 127.0.0.1:$p reuseport backlog=4096;
    location = /user/1/profile {
      default_type application/json;
      echo_sleep 0.5;
      echo '{"user":{"id":1,"name":"user1"},"posts":[{"id":1,"title":"post 1"}]}';
    }
  }
}
CONF
			cmd=(nginx -c "$out/nginx-$p/nginx.conf" -p "$out/nginx-$p") port_arg=()
		fi
		;;
	fastapi)
		"$py" -c 'import fastapi, uvicorn' 2>/dev/null ||
			why="fastapi/uvicorn not installed for $py (apt-get install python3-fastapi python3-uvicorn)"
		cmd=("$py" "$peers/fastapi_profile.py")
		;;
	*)
		why="unknown server"
		;;
	esac
	if [ -n "$why" ]; then
		printf '%-15s skipped: %s\n' "$name" "$why"
		continue
	fi

	port=$((port + 1))
	if open_port "$p"; then
		printf '%-15s failed: port %s already in use\n' "$name" "$p"
		continue
	fi
	log=$out/http-$name.log
	# taskset execs the server, so $! is the server's own PID.
	env ${env[@]+"${env[@]}"} taskset -c "$server_cpus" "${cmd[@]}" ${port_arg[@]+"${port_arg[@]}"} </dev/null >"$log" 2>&1 &
	pid=$!
	up=
	for _ in $(seq 100); do # up to 10 s
		if open_port "$p"; then up=1; break; fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if [ -z "$up" ] || ! kill -0 "$pid" 2>/dev/null; then
		printf '%-15s failed: not listening on %s within 10 s (see %s)\n' "$name" "$p" "$log"
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		continue
	fi

	res=$out/http-$name.wrk
	taskset -c "$load_cpus" wrk -t1 -c"$conns" -d"${secs}s" --latency --timeout 5s \
		"http://127.0.0.1:$p/user/1/profile" >"$res" 2>&1 || true
	alive=$(kill -0 "$pid" 2>/dev/null && echo yes || echo no)

	rps=$(awk '/^Requests\/sec:/ {print $2}' "$res")
	p50=$(awk '$1 == "50%" {print $2}' "$res")
	p99=$(awk '$1 == "99%" {print $2}' "$res")
	errs=$(awk '/Socket errors:/ { gsub(/,/, ""); n += $4 + $6 + $8 + $10 }
		/Non-2xx or 3xx responses:/ { n += $NF }
		END { print n + 0 }' "$res")
	p50=$(ms "${p50:--}") p99=$(ms "${p99:--}")
	row "$name" "${rps:--}" "$p50" "$p99" "$errs"
	[ -n "$rps" ] || sed 's/^/  | /' "$res"
	[ "$alive" = yes ] || printf '%-15s note: the server exited during the run (see %s)\n' "$name" "$log"
	[ "$name" != cio ] || cio_p99=$p99

	# Stop it: SIGTERM, then SIGKILL after 5 s.
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
done
echo "http_gather $cio_p99 ms"
