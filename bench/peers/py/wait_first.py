# SPDX-License-Identifier: MIT
#
# wait_first: R rounds; each round create_task()s K coroutines: task 0 does
# `await asyncio.sleep(0)` once and returns; tasks 1..K-1 await an
# asyncio.Event that is never set. Main does
# `asyncio.wait(tasks, return_when=FIRST_COMPLETED)`, cancel()s every pending
# task and awaits `asyncio.gather(*pending, return_exceptions=True)`. No
# timers are involved. Reports microseconds per round (elapsed / R).
#
# Usage: wait_first.py [--uvloop] [R [K]]   (default R = 1,000, K = 100)
import argparse
import asyncio
import sys
import time


def parse_args(default_rounds, default_k):
    p = argparse.ArgumentParser()
    p.add_argument("rounds", nargs="?", type=int, default=default_rounds)
    p.add_argument("k", nargs="?", type=int, default=default_k)
    p.add_argument("--uvloop", action="store_true", help="use uvloop's event loop policy")
    a = p.parse_args()
    if a.rounds <= 0 or a.k <= 0:
        p.error("R and K must be positive")
    if a.uvloop:
        import uvloop
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    print("loop", "uvloop" if a.uvloop else "asyncio")
    return a


async def first():
    await asyncio.sleep(0)
    return 0


async def forever(event):
    await event.wait()


async def main(rounds, k):
    start = time.perf_counter_ns()
    for r in range(rounds):
        event = asyncio.Event()
        tasks = [asyncio.create_task(first())]
        tasks += [asyncio.create_task(forever(event)) for _ in range(1, k)]
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for t in pending:
            t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if len(done) != 1 or tasks[0] not in done:
            sys.exit(f"round {r}: {len(done)} tasks done first, want task 0 alone")
    return time.perf_counter_ns() - start


if __name__ == "__main__":
    args = parse_args(1_000, 100)
    print("rounds", args.rounds)
    print("tasks", args.k)
    elapsed = asyncio.run(main(args.rounds, args.k))
    print(f"elapsed {elapsed / 1e9:.3f} s")
    print(f"wait_first {elapsed / 1e3 / args.rounds:.2f} us")
