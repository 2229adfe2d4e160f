# SPDX-License-Identifier: MIT
#
# sem: an asyncio.Semaphore of 10 permits, 1,000 tasks, each acquiring it M
# times; each acquisition holds the permit across one yield: `async with
# sem: await asyncio.sleep(0)`. Tracks the most holders at once and exits 1
# if it ever exceeds 10. Timed from before the first create_task until gather
# returns. Reports ns per acquisition (elapsed / (1,000 * M)).
#
# Usage: sem.py [--uvloop] [M]   (acquisitions per task; default M = 100)
import argparse
import asyncio
import sys
import time

TASKS = 1000
PERMITS = 10


def parse_args(default_n):
    p = argparse.ArgumentParser()
    p.add_argument("n", nargs="?", type=int, default=default_n)
    p.add_argument("--uvloop", action="store_true", help="use uvloop's event loop policy")
    a = p.parse_args()
    if a.n <= 0:
        p.error("M must be positive")
    if a.uvloop:
        import uvloop
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    print("loop", "uvloop" if a.uvloop else "asyncio")
    return a


holders = 0
max_holders = 0


async def worker(sem, per_task):
    global holders, max_holders
    for _ in range(per_task):
        async with sem:
            holders += 1
            if holders > max_holders:
                max_holders = holders
            await asyncio.sleep(0)
            holders -= 1


async def main(per_task):
    sem = asyncio.Semaphore(PERMITS)
    start = time.perf_counter_ns()
    tasks = [asyncio.create_task(worker(sem, per_task)) for _ in range(TASKS)]
    await asyncio.gather(*tasks)
    return time.perf_counter_ns() - start


if __name__ == "__main__":
    args = parse_args(100)
    total = args.n * TASKS
    print("permits", PERMITS)
    print("tasks", TASKS)
    print("acquisitions", total)
    elapsed = asyncio.run(main(args.n))
    print("max holders", max_holders)
    if max_holders > PERMITS:
        print(f"sem: {max_holders} holders at once, limit {PERMITS}", file=sys.stderr)
        sys.exit(1)
    print(f"elapsed {elapsed / 1e9:.3f} s")
    print(f"sem {elapsed / total:.1f} ns")
