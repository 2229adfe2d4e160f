# SPDX-License-Identifier: MIT
#
# pg_load's peer on asyncpg (bench/pg_load.c says what each mode measures):
#   pg_load.py [--uvloop] CONNINFO select N [SECONDS [WARMUP]]
#   pg_load.py [--uvloop] CONNINFO fetch ROUNDS    (Connection.fetch: whole)
#   pg_load.py [--uvloop] CONNINFO stream ROUNDS   (a cursor: row by row)
# CONNINFO is libpq's key=value form (host=/dir dbname=x user=y), turned
# into asyncpg's arguments here.
import asyncio
import random
import sys
import time


def parse_conninfo(s):
    kw = dict(part.split("=", 1) for part in s.split())
    return {"host": kw.get("host"), "database": kw.get("dbname"), "user": kw.get("user")}


async def run_select(asyncpg, conn, n, seconds, warmup):
    pool = await asyncpg.create_pool(**conn, min_size=n, max_size=n)
    done = 0
    stop = False

    async def worker():
        nonlocal done
        while not stop:
            async with pool.acquire() as c:
                row = await c.fetchrow(
                    "SELECT id, name, balance FROM accounts WHERE id = $1", random.randint(1, 100000)
                )
            assert row is not None
            done += 1

    tasks = [asyncio.create_task(worker()) for _ in range(n)]
    await asyncio.sleep(warmup)
    n0, t0 = done, time.monotonic()
    await asyncio.sleep(seconds)
    n1, t1 = done, time.monotonic()
    stop = True
    await asyncio.gather(*tasks)
    await pool.close()
    print(f"queries {n1 - n0} in {t1 - t0:.3f} s")
    print(f"pg-select-{n} {(n1 - n0) / (t1 - t0):.0f} q/s")


async def run_fetch(asyncpg, conn, rounds):
    c = await asyncpg.connect(**conn)
    best = 0
    for r in range(rounds):
        t0 = time.monotonic()
        rows = await c.fetch("SELECT id, name, balance FROM big")
        s = sum(row[0] for row in rows)
        rate = len(rows) / (time.monotonic() - t0)
        print(f"round {r}: {len(rows)} rows, sum {s}, {rate:.0f} rows/s")
        best = max(best, rate)
    await c.close()
    print(f"pg-fetch {best:.0f} rows/s")


async def run_stream(asyncpg, conn, rounds):
    # asyncpg's way to read rows as they come: a cursor, iterated inside a
    # transaction; its default prefetch is 50 rows per round trip (260k
    # rows/s here), so it is given 10,000.
    c = await asyncpg.connect(**conn)
    best = 0
    for r in range(rounds):
        t0 = time.monotonic()
        s = n = 0
        async with c.transaction():
            async for row in c.cursor("SELECT id, name, balance FROM big", prefetch=10000):
                s += row[0]
                n += 1
        rate = n / (time.monotonic() - t0)
        print(f"round {r}: {n} rows, sum {s}, {rate:.0f} rows/s")
        best = max(best, rate)
    await c.close()
    print(f"pg-stream {best:.0f} rows/s")


def main():
    args = sys.argv[1:]
    if args and args[0] == "--uvloop":
        import uvloop

        uvloop.install()
        args = args[1:]
    try:
        import asyncpg
    except ImportError:
        print("pg_load skipped: asyncpg not installed (apt-get install python3-asyncpg)")
        sys.exit(77)
    conn = parse_conninfo(args[0])
    if args[1] == "select":
        n = int(args[2])
        seconds = float(args[3]) if len(args) > 3 else 3
        warmup = float(args[4]) if len(args) > 4 else 0.5
        asyncio.run(run_select(asyncpg, conn, n, seconds, warmup))
    elif args[1] == "stream":
        asyncio.run(run_stream(asyncpg, conn, int(args[2])))
    else:
        asyncio.run(run_fetch(asyncpg, conn, int(args[2])))


main()
