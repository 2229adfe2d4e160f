# SPDX-License-Identifier: MIT
#
# lock: 8 tasks contend for one asyncio.Lock, TOTAL acquisitions in all
# (TOTAL // 8 each). Each acquisition holds the lock across one yield, so the
# others queue up on it: `async with lock: counter += 1; await
# asyncio.sleep(0)`. Timed from before the first create_task until gather
# returns; checks the counter. Also counts hand-offs (acquisitions by a
# different task than the previous one). Reports ns per acquisition
# (elapsed / acquisitions).
#
# Usage: lock.py [--uvloop] [TOTAL]   (default TOTAL = 100,000; at least 8)
import argparse
import asyncio
import sys
import time

TASKS = 8


def parse_args(default_n):
    p = argparse.ArgumentParser()
    p.add_argument("n", nargs="?", type=int, default=default_n)
    p.add_argument("--uvloop", action="store_true", help="use uvloop's event loop policy")
    a = p.parse_args()
    if a.n < TASKS:
        p.error(f"TOTAL must be at least {TASKS}")
    if a.uvloop:
        import uvloop
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    print("loop", "uvloop" if a.uvloop else "asyncio")
    return a


counter = 0
last = -1  # previous holder
handoffs = 0  # acquisitions by a different task than the previous one


async def worker(lock, per_task, ident):
    global counter, last, handoffs
    for _ in range(per_task):
        async with lock:
            counter += 1
            if last != ident:
                last = ident
                handoffs += 1
            await asyncio.sleep(0)


async def main(per_task):
    lock = asyncio.Lock()
    start = time.perf_counter_ns()
    tasks = [asyncio.create_task(worker(lock, per_task, i)) for i in range(TASKS)]
    await asyncio.gather(*tasks)
    return time.perf_counter_ns() - start


if __name__ == "__main__":
    args = parse_args(100_000)
    per_task = args.n // TASKS
    total = per_task * TASKS
    print("tasks", TASKS)
    print("acquisitions", total)
    elapsed = asyncio.run(main(per_task))
    if counter != total:
        print(f"lock: counter {counter}, want {total}", file=sys.stderr)
        sys.exit(1)
    print("handoffs", handoffs)
    print(f"elapsed {elapsed / 1e9:.3f} s")
    print(f"lock {elapsed / total:.1f} ns")
