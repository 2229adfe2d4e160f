# SPDX-License-Identifier: MIT
#
# aiohttp_profile: the guide's GET /user/{id}/profile with aiohttp.web on
# asyncio (uvloop with --uvloop). Each request awaits asyncio.gather of
# fetch_user and fetch_posts (asyncio.sleep(0.5) each, ~0.5 s in all), then
# answers {"user":{"id":N},"posts":{"user_id":N,"posts":[]}}. Listens on
# 127.0.0.1:<port> with a listen backlog of 4096 (as cio's HTTP server;
# aiohttp's default is 128), access log off, prints "listening <port>" once
# it accepts, runs until killed.
#
# Usage: python3 aiohttp_profile.py [--uvloop] <port>
import asyncio
import functools
import json
import sys

from aiohttp import web


# Compact JSON, byte for byte the body the other servers send.
dumps = functools.partial(json.dumps, separators=(",", ":"))


async def fetch_user(user_id):
    await asyncio.sleep(0.5)
    return {"id": user_id}


async def fetch_posts(user_id):
    await asyncio.sleep(0.5)
    return {"user_id": user_id, "posts": []}


async def profile(request):
    try:
        user_id = int(request.match_info["user_id"])
    except ValueError:
        return web.json_response({"detail": "user_id: not an integer"}, status=422, dumps=dumps)
    user, posts = await asyncio.gather(fetch_user(user_id), fetch_posts(user_id))
    return web.json_response({"user": user, "posts": posts}, dumps=dumps)


async def main(port):
    app = web.Application()
    app.router.add_get("/user/{user_id}/profile", profile)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=4096)
    await site.start()
    print(f"listening {runner.addresses[0][1]}", flush=True)
    await asyncio.Event().wait()  # until killed


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--uvloop"]:
        import uvloop

        uvloop.install()
        args = args[1:]
    if len(args) != 1 or not args[0].isdigit():
        sys.exit("usage: aiohttp_profile.py [--uvloop] <port>")
    asyncio.run(main(int(args[0])))
