# SPDX-License-Identifier: MIT
#
# timers: N tasks each sleep a pseudo-random duration, uniform in 0..1000 ms
# (microsecond resolution, xorshift64 with a fixed seed, same sequence as the
# Go peer). Reports wall time from before creating the first task until all
# have finished.
#
# Usage: timers.py [--uvloop] [N]   (default N = 1,000,000; ~40 s on asyncio)
import argparse
import asyncio
import time

MASK64 = (1 << 64) - 1


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


def durations(n, seed=0x9E3779B97F4A7C15):
    """Yield n sleep durations in seconds (xorshift64, Marsaglia 13/7/17)."""
    x = seed
    for _ in range(n):
        x ^= (x << 13) & MASK64
        x ^= x >> 7
        x ^= (x << 17) & MASK64
        yield (x % 1_000_001) / 1e6


async def main(n):
    start = time.perf_counter()
    tasks = [asyncio.create_task(asyncio.sleep(d)) for d in durations(n)]
    await asyncio.gather(*tasks)
    return time.perf_counter() - start


if __name__ == "__main__":
    args = parse_args(1_000_000)
    print("tasks", args.n)
    wall = asyncio.run(main(args.n))
    print(f"timers {wall:.3f} s")
