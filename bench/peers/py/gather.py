# SPDX-License-Identifier: MIT
#
# gather: one round create_task()s N coroutines that each do
# `await asyncio.sleep(0)` once, then `await asyncio.gather(*tasks)`; a round
# is timed from before the first create_task until gather returns. Runs R
# rounds and reports the median ns per task (round time / N); also prints the
# fastest and slowest rounds. The cyclic GC stays enabled.
#
# Usage: gather.py [--uvloop] [N [R]]   (default N = 100,000, R = 3)
import argparse
import asyncio
import statistics
import time


def parse_args(default_n, default_rounds):
    p = argparse.ArgumentParser()
    p.add_argument("n", nargs="?", type=int, default=default_n)
    p.add_argument("rounds", nargs="?", type=int, default=default_rounds)
    p.add_argument("--uvloop", action="store_true", help="use uvloop's event loop policy")
    a = p.parse_args()
    if a.n <= 0 or a.rounds <= 0:
        p.error("N and R must be positive")
    if a.uvloop:
        import uvloop
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    print("loop", "uvloop" if a.uvloop else "asyncio")
    return a


async def yield_once():
    await asyncio.sleep(0)


async def main(n, rounds):
    per_task = []
    for _ in range(rounds):
        start = time.perf_counter_ns()
        tasks = [asyncio.create_task(yield_once()) for _ in range(n)]
        await asyncio.gather(*tasks)
        per_task.append((time.perf_counter_ns() - start) / n)
        del tasks
    return per_task


if __name__ == "__main__":
    args = parse_args(100_000, 3)
    print("tasks", args.n)
    print("rounds", args.rounds)
    per_task = asyncio.run(main(args.n, args.rounds))
    print(f"min {min(per_task):.1f} ns")
    print(f"max {max(per_task):.1f} ns")
    print(f"gather {statistics.median(per_task):.1f} ns")
