# SPDX-License-Identifier: MIT
#
# queue: one producer task and one consumer task over an
# asyncio.Queue(maxsize=1024); the producer puts the integers 1..N, the
# consumer gets them all and checks their sum. Timed from before the tasks
# are created until the consumer has the last item. Reports ns per item
# (elapsed / N).
#
# Usage: queue.py [--uvloop] [N]   (default N = 500,000)
import argparse
import asyncio
import sys
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


async def producer(q, n):
    for i in range(1, n + 1):
        await q.put(i)


async def consumer(q, n):
    total = 0
    for _ in range(n):
        total += await q.get()
    return total, time.perf_counter_ns()


async def main(n):
    q = asyncio.Queue(maxsize=1024)
    start = time.perf_counter_ns()
    prod = asyncio.create_task(producer(q, n))
    cons = asyncio.create_task(consumer(q, n))
    total, end = await cons
    await prod
    return total, end - start


if __name__ == "__main__":
    args = parse_args(500_000)
    print("items", args.n)
    total, elapsed = asyncio.run(main(args.n))
    want = args.n * (args.n + 1) // 2
    if total != want:
        print(f"queue: sum {total}, want {want}", file=sys.stderr)
        sys.exit(1)
    print(f"elapsed {elapsed / 1e9:.3f} s")
    print(f"queue {elapsed / args.n:.1f} ns")
