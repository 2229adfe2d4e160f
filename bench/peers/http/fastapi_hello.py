# SPDX-License-Identifier: MIT
#
# fastapi_hello: the guide's first FastAPI endpoint, GET / ->
# {"message": "Hello"}, for uvicorn with several worker processes:
#
#   python3 -m uvicorn fastapi_hello:app --app-dir bench/peers/http \
#       --host 127.0.0.1 --port <port> --workers 2 --log-level warning \
#       --no-access-log --backlog 4096
#
# uvicorn picks uvloop and httptools when installed (loop="auto",
# http="auto"), as in bench/http_gather.sh's FastAPI peer.
from fastapi import FastAPI

app = FastAPI()


@app.get("/")
async def read_root():
    return {"message": "Hello"}
