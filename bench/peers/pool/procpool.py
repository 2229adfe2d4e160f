# SPDX-License-Identifier: MIT
#
# procpool: the Python side of the process pool benchmark: asyncio with a
# concurrent.futures.ProcessPoolExecutor (one worker per CPU), 64 tasks each
# awaiting loop.run_in_executor(pool, work, v) one job after another, a job
# being 10 us of CPU (a spin on time.perf_counter), for 3 s after a 0.5 s
# warm-up.
#
# Usage: procpool.py [--uvloop] [SECONDS]
import asyncio
import concurrent.futures
import os
import sys
import time


def work(v):
    end = time.perf_counter() + 10e-6
    while time.perf_counter() < end:
        pass
    return v


async def main(seconds):
    loop = asyncio.get_running_loop()
    done = 0
    with concurrent.futures.ProcessPoolExecutor(len(os.sched_getaffinity(0))) as pool:
        await asyncio.gather(*[loop.run_in_executor(pool, work, 0) for _ in range(64)])
        warm = time.monotonic() + 0.5
        stop = warm + seconds

        async def submitter():
            nonlocal done
            v = 0
            while time.monotonic() < stop:
                v += 1
                if await loop.run_in_executor(pool, work, v) != v:
                    raise SystemExit("wrong result")
                if time.monotonic() >= warm:
                    done += 1

        await asyncio.gather(*[submitter() for _ in range(64)])
    print(f"workers {len(os.sched_getaffinity(0))}, 64 in flight, 10 us jobs")
    print(f"procpool {done / seconds:.0f} jobs/s")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--uvloop"]
    if "--uvloop" in sys.argv:
        import uvloop
        uvloop.install()
    asyncio.run(main(float(args[0]) if args else 3.0))
