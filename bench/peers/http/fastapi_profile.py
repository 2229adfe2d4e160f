# SPDX-License-Identifier: MIT
#
# fastapi_profile: the guide's "FastAPI with Async" GET /user/{user_id}/profile,
# verbatim: fetch_user and fetch_posts (asyncio.sleep(0.5) each) run with
# asyncio.gather, ~0.5 s in all. Served by uvicorn, one worker, uvloop if
# installed (loop="auto"), httptools if installed (http="auto"), log level
# warning, no access log, listen backlog 4096 (as cio's HTTP server). Prints
# "listening <port>" once uvicorn has bound the socket, runs until killed.
#
# Usage: python3 fastapi_profile.py <port>
import asyncio
import sys

from fastapi import FastAPI

app = FastAPI()


async def fetch_user(user_id: int):
    await asyncio.sleep(0.5)
    return {"id": user_id}


async def fetch_posts(user_id: int):
    await asyncio.sleep(0.5)
    return {"user_id": user_id, "posts": []}


@app.get("/user/{user_id}/profile")
async def get_profile(user_id: int):
    user, posts = await asyncio.gather(fetch_user(user_id), fetch_posts(user_id))
    return {"user": user, "posts": posts}


@app.on_event("startup")
async def announce():
    # uvicorn runs startup handlers before it binds; print once bound.
    async def when_bound():
        while not (server.started and server.servers):
            await asyncio.sleep(0.01)
        sock = server.servers[0].sockets[0]
        print(f"listening {sock.getsockname()[1]}", flush=True)

    asyncio.get_running_loop().create_task(when_bound())


if __name__ == "__main__":
    import uvicorn

    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        sys.exit("usage: fastapi_profile.py <port>")
    config = uvicorn.Config(app, host="127.0.0.1", port=int(sys.argv[1]), workers=1,
                            loop="auto", http="auto", log_level="warning",
                            access_log=False, backlog=4096)
    server = uvicorn.Server(config)
    server.run()
