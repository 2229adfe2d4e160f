# SPDX-License-Identifier: MIT
#
# client_aiohttp: the client benchmark's aiohttp peer, requests per second
# through aiohttp's client (Debian's python3-aiohttp, with its C HTTP
# parser). ONE ClientSession over a TCPConnector that opens at most N
# connections (limit=N; idle ones are kept for reuse); N asyncio tasks each
# loop `async with session.get(URL) as r: await r.read()`, so N requests
# are in flight at all times. Only status-200 answers count; any failure or
# other status fails the run. After WARMUP seconds (default 0.5) the count
# is taken over SECONDS (default 3). Prints the loop, the requests and last
# "client-<N> <req/s> req/s". The default event loop is asyncio's own;
# --uvloop installs uvloop's.
#
# Usage: client_aiohttp.py [--uvloop] URL N [SECONDS [WARMUP]]
import argparse
import asyncio
import sys
import time

import aiohttp

done = 0
stop = False
failure = None


async def worker(session, url):
    global done, stop, failure
    while not stop:
        try:
            async with session.get(url) as r:
                await r.read()
                status = r.status
        except Exception as e:  # noqa: BLE001 - any failure ends the run
            failure = failure or repr(e)
            stop = True
            return
        if status != 200:
            failure = failure or f"status {status}"
            stop = True
            return
        done += 1


async def main(a):
    global stop
    connector = aiohttp.TCPConnector(limit=a.n)
    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        tasks = [asyncio.create_task(worker(session, a.url)) for _ in range(a.n)]
        await asyncio.sleep(a.warmup)
        n0, t0 = done, time.perf_counter()
        await asyncio.sleep(a.seconds)
        n1, t1 = done, time.perf_counter()
        stop = True
        await asyncio.gather(*tasks)
    return n1 - n0, t1 - t0


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("n", type=int)
    p.add_argument("seconds", nargs="?", type=float, default=3.0)
    p.add_argument("warmup", nargs="?", type=float, default=0.5)
    p.add_argument("--uvloop", action="store_true", help="use uvloop's event loop policy")
    a = p.parse_args()
    if a.n <= 0:
        p.error("N must be positive")
    if a.uvloop:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    print("loop", "uvloop" if a.uvloop else "asyncio", "aiohttp", aiohttp.__version__)
    return a


if __name__ == "__main__":
    a = parse_args()
    count, elapsed = asyncio.run(main(a))
    if failure:
        print("client_aiohttp:", failure, file=sys.stderr)
        sys.exit(1)
    print(f"requests {count} in {elapsed:.3f} s")
    print(f"client-{a.n} {count / elapsed:.0f} req/s")
