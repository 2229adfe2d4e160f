# SPDX-License-Identifier: MIT
#
# The FastAPI twin of cio's examples/fastapi_demo.c: the same routes, the
# same declared parameters and body models, for tests/validate_compare.py
# and tests/openapi_check.py (reference answers) and bench/http_validate.sh
# (FastAPI's figure).  Written for Debian 12's FastAPI 0.92 on pydantic 1.10,
# and it runs on pydantic 2 as well (the few keyword names that changed are
# chosen at import).
#
#   /usr/bin/python3 -m uvicorn --app-dir tests/fastapi_ref demo_app:app --port 8000
import asyncio
import os
from enum import Enum
from typing import List, Optional

import pydantic
from fastapi import Cookie, FastAPI, Header, Path, Query
from pydantic import BaseModel, Field

V2 = pydantic.VERSION.startswith("2")
# pydantic 1 says regex= and max_items=, pydantic 2 pattern= and max_length=.
PATTERN = "pattern" if V2 else "regex"
MAX_ITEMS = "max_length" if V2 else "max_items"


class ModelName(str, Enum):
    alexnet = "alexnet"
    resnet = "resnet"
    lenet = "lenet"


class Image(BaseModel):
    url: str = Field(..., **{PATTERN: "^https?://"})
    name: str


class Item(BaseModel):
    name: str = Field(..., min_length=1, max_length=50)
    description: Optional[str] = Field(None, max_length=300)
    price: float = Field(..., gt=0)
    tax: Optional[float] = Field(None, ge=0)
    tags: List[str] = Field([], **{MAX_ITEMS: 10})
    image: Optional[Image] = None


# With CIO_DOCS_ASSETS (a directory holding swagger-ui-bundle.js,
# swagger-ui.css and redoc.standalone.js), /docs and /redoc load those from
# /assets instead of a CDN, as cio's demo does (tests/docs_browser.sh).
ASSETS = os.environ.get("CIO_DOCS_ASSETS")
app = FastAPI(title="cio demo", version="1.0.0",
              **({"docs_url": None, "redoc_url": None} if ASSETS else {}))

if ASSETS:
    from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles

    app.mount("/assets", StaticFiles(directory=ASSETS), name="assets")

    @app.get("/docs", include_in_schema=False)
    async def docs():
        return get_swagger_ui_html(openapi_url="/openapi.json", title="cio demo - Swagger UI",
                                   swagger_js_url="/assets/swagger-ui-bundle.js",
                                   swagger_css_url="/assets/swagger-ui.css",
                                   swagger_favicon_url="data:,")

    @app.get("/redoc", include_in_schema=False)
    async def redoc():
        return get_redoc_html(openapi_url="/openapi.json", title="cio demo - ReDoc",
                              redoc_js_url="/assets/redoc.standalone.js",
                              redoc_favicon_url="data:,", with_google_fonts=False)


@app.get("/", tags=["demo"])
async def read_root():
    return {"message": "Hello"}


@app.get("/data", tags=["demo"])
async def get_data():
    await asyncio.sleep(1)
    return {"data": "value"}


async def fetch_user(user_id: int):
    await asyncio.sleep(0.5)
    return {"id": user_id}


async def fetch_posts(user_id: int):
    await asyncio.sleep(0.5)
    return {"user_id": user_id, "posts": []}


@app.get("/user/{user_id}/profile", tags=["users"])
async def get_profile(user_id: int):
    user, posts = await asyncio.gather(fetch_user(user_id), fetch_posts(user_id))
    return {"user": user, "posts": posts}


@app.get("/items", tags=["items"])
async def list_items(skip: int = Query(0, ge=0), limit: int = Query(10, ge=1, le=100),
                     q: Optional[str] = Query(None, max_length=50)):
    return {"skip": skip, "limit": limit, "q": q}


@app.get("/items/{item_id}", tags=["items"])
async def read_item(item_id: int = Path(..., ge=1), short: bool = False,
                    x_token: Optional[str] = Header(None), session: Optional[str] = Cookie(None)):
    return {"item_id": item_id, "short": short, "x_token": x_token, "session": session}


@app.post("/items", response_model=Item, tags=["items"], summary="Create an item")
async def create_item(item: Item):
    return item


@app.get("/models/{model_name}", tags=["models"])
async def get_model(model_name: ModelName):
    return {"model_name": model_name}
