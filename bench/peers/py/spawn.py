# SPDX-License-Identifier: MIT
#
# spawn: create_task() N trivial coroutines (all created first), then await
# each task in turn. Reports ns per task (elapsed / N). A plain await loop is
# used rather than gather(), which adds a done-callback and result slot per
# task (~1 us extra per task at N = 1e6). The cyclic GC stays enabled, as in
# any ordinary program; with 1e6 live tasks it dominates task creation.
#
# Usage: spawn.py [--uvloop] [N]   (default N = 1,000,000)
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


async def trivial():
    pass


async def main(n):
    start = time.perf_counter_ns()
    tasks = [asyncio.create_task(trivial()) for _ in range(n)]
    for t in tasks:
        await t
    return time.perf_counter_ns() - start


if __name__ == "__main__":
    args = parse_args(1_000_000)
    print("tasks", args.n)
    elapsed = asyncio.run(main(args.n))
    print(f"elapsed {elapsed / 1e9:.3f} s")
    print(f"spawn {elapsed / args.n:.1f} ns")
