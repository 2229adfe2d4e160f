# SPDX-License-Identifier: MIT
#
# switch: two tasks ping-pong through the event loop, each doing
# `await asyncio.sleep(0)` N times. Reports ns per single yield (elapsed / 2N).
#
# Usage: switch.py [--uvloop] [N]   (default N = 200,000)
import argparse
import asyncio
import time


def parse_args(default_n):
    p = argparse.ArgumentParser()
    p.add_argument("n", nargs="?", type=int, default=default_n)
    p.add_argument("--uvloop", action="store_true", help="use uvloop's event loop policy")
    a = p.parse_args()
    if a.n <= 0:
        p.error("N must be positive")
    if a.uvloop:
        import uvloop
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    print("loop", "uvloop" if a.uvloop else "asyncio")
    return a


async def worker(n):
    for _ in range(n):
        await asyncio.sleep(0)


async def main(n):
    start = time.perf_counter_ns()
    await asyncio.gather(worker(n), worker(n))
    return time.perf_counter_ns() - start


if __name__ == "__main__":
    args = parse_args(200_000)
    print("iterations", args.n)
    elapsed = asyncio.run(main(args.n))
    print(f"elapsed {elapsed / 1e9:.3f} s")
    print(f"switch {elapsed / (2 * args.n):.1f} ns")
