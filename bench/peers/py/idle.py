# SPDX-License-Identifier: MIT
#
# idle: N tasks each sleep 1 s concurrently. Reports the resident memory added
# per sleeping task: (VmRSS while all sleep - VmRSS before) / N, sampled after
# creating all tasks and sleeping 0.5 s in main, plus the total wall time
# until all finish.
#
# Usage: idle.py [--uvloop] [N]   (default N = 100,000)
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


def vm_rss_kib():
    """VmRSS of this process in KiB, from /proc/self/status."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("VmRSS not found in /proc/self/status")


async def main(n):
    before = vm_rss_kib()
    start = time.perf_counter()
    tasks = [asyncio.create_task(asyncio.sleep(1)) for _ in range(n)]
    await asyncio.sleep(0.5)
    during = vm_rss_kib()
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - start
    return before, during, wall


if __name__ == "__main__":
    args = parse_args(100_000)
    print("tasks", args.n)
    before, during, wall = asyncio.run(main(args.n))
    print("rss_before", before, "KiB")
    print("rss_during", during, "KiB")
    print(f"idle wall {wall:.3f} s")
    print(f"idle {(during - before) / args.n:.2f} KiB")
