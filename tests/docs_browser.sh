#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# /docs (Swagger UI) and /redoc (ReDoc) of cio's demo service, rendered by a
# real browser: Debian's chromium, headless.  The pages' scripts come from
# the npm packages swagger-ui-dist and redoc (.ci/run installs them into
# $CIO_NPM_DIR, default ~/.cache/cio-npm); this test copies
# swagger-ui-bundle.js, swagger-ui.css and redoc.standalone.js into a
# directory and starts the demo with CIO_DOCS_ASSETS=<that directory>, so
# that the demo serves them at /assets and its pages load them from there.
# Then, from chromium's DOM after the page's scripts ran (--dump-dom, 15 s of
# virtual time):
#   /docs:  Swagger UI lists every operation of the demo (an opblock whose
#           summary shows the method and data-path), the POST's summary
#           "Create an item", the tag sections, and no error box;
#   /redoc: ReDoc lists every operation (an http-verb marker followed by the
#           path), the tag sections (data-section-id="tag/..."), the POST's
#           summary in the menu, and the Item schema's fields.
# Screenshots of both pages are kept as docs.png and redoc.png, and the DOMs
# as docs.dom.html and redoc.dom.html, in the build directory (the demo
# binary's parent's parent, or $CIO_ARTIFACTS_DIR): CI artifacts.
#
#   docs_browser.sh [emulator args...] path/to/fastapi_demo
#   docs_browser.sh --twin       (the FastAPI twin instead, serving the same
#                                 assets: checks the checks)
#
# Without chromium or the npm packages: exit 77, or 1 under
# CIO_REQUIRE_CLIENTS=1.
set -u
here=$(cd "$(dirname "$0")" && pwd)

skip() {
  if [ "${CIO_REQUIRE_CLIENTS:-}" = 1 ]; then
    echo "FAILED: $1 (CIO_REQUIRE_CLIENTS=1: a missing peer is a failure)"
    exit 1
  fi
  echo "skipped: $1"
  exit 77
}

[ $# -ge 1 ] || { echo "usage: docs_browser.sh [emulator...] fastapi_demo | --twin"; exit 2; }
chromium=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[ -n "$chromium" ] || skip "chromium not installed (apt-get install chromium)"
npm=${CIO_NPM_DIR:-$HOME/.cache/cio-npm}/node_modules
swagger=$npm/swagger-ui-dist
redoc=$npm/redoc/bundles/redoc.standalone.js
[ -f "$swagger/swagger-ui-bundle.js" ] && [ -f "$swagger/swagger-ui.css" ] && [ -f "$redoc" ] \
  || skip "swagger-ui-dist and redoc not in $npm (npm install --prefix ${npm%/node_modules} swagger-ui-dist redoc)"

work=$(mktemp -d)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
mkdir "$work/assets" "$work/profile"
cp "$swagger/swagger-ui-bundle.js" "$swagger/swagger-ui.css" "$redoc" "$work/assets/"

if [ "$1" = --twin ]; then
  /usr/bin/python3 -c "import fastapi, uvicorn" 2>/dev/null || skip "FastAPI/uvicorn not installed"
  # A free port below the ephemeral range, which no other program's bind to
  # port 0 can be given before uvicorn binds it (tests/helpers/test.h).
  port=$(/usr/bin/python3 -c '
import random, socket
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for _ in range(200):
    p = random.randrange(10000, low)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        print(p)
        break
    except OSError:
        pass
    finally:
        s.close()
')
  PYTHONDONTWRITEBYTECODE=1 CIO_DOCS_ASSETS=$work/assets /usr/bin/python3 -m uvicorn --app-dir "$here/fastapi_ref" demo_app:app \
    --host 127.0.0.1 --port "$port" --log-level warning >"$work/out" 2>&1 &
  pid=$!
  shots=${CIO_ARTIFACTS_DIR:-$work}
  what="the FastAPI twin"
else
  bin=${!#}
  shots=${CIO_ARTIFACTS_DIR:-$(cd "$(dirname "$bin")/.." && pwd)}
  CIO_DOCS_ASSETS=$work/assets "$@" 0 127.0.0.1 >"$work/out" 2>&1 &
  pid=$!
  port=""
  for _ in $(seq 200); do
    port=$(sed -n 's|.*serving on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$work/out" | head -n 1)
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  [ -n "$port" ] || { echo "FAILED: the demo did not say where it serves: $(tail -c 300 "$work/out")"; exit 1; }
  what="cio's demo"
fi
for _ in $(seq 200); do
  curl -s -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null && break
  sleep 0.05
done
base=http://127.0.0.1:$port

fail=0
for asset in swagger-ui-bundle.js swagger-ui.css redoc.standalone.js; do
  got=$(curl -s "$base/assets/$asset" | cmp - "$work/assets/$asset" >/dev/null 2>&1 && echo same)
  if [ "$got" = same ]; then
    echo "ok   /assets/$asset served byte for byte"
  else
    echo "FAIL /assets/$asset is not the file given in CIO_DOCS_ASSETS"
    fail=1
  fi
done

browse() { # page, then chromium's extra arguments
  local page=$1
  shift
  timeout 120 "$chromium" --headless=new --no-sandbox --disable-gpu --no-first-run \
    --user-data-dir="$work/profile" --virtual-time-budget=15000 "$@" "$base$page" 2>>"$work/chromium.log"
}

for page in docs redoc; do
  if ! browse "/$page" --dump-dom >"$work/$page.html"; then
    echo "FAIL chromium could not render /$page: $(tail -n 3 "$work/chromium.log")"
    fail=1
    continue
  fi
  cp "$work/$page.html" "$shots/$page.dom.html" 2>/dev/null || true
  browse "/$page" --window-size=1280,2400 --screenshot="$shots/$page.png" >/dev/null \
    && echo "--   screenshot: $shots/$page.png, DOM: $shots/$page.dom.html"
  /usr/bin/python3 - "$page" "$work/$page.html" <<'PY' || fail=1
import html.parser
import sys

page, path = sys.argv[1], sys.argv[2]
OPS = [("GET", "/"), ("GET", "/data"), ("GET", "/user/{user_id}/profile"), ("GET", "/items"),
       ("POST", "/items"), ("GET", "/items/{item_id}"), ("GET", "/models/{model_name}")]
TAGS = ["demo", "users", "items", "models"]


class Dom(html.parser.HTMLParser):
    """Collects, for each element, its classes, attributes and own text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.elems, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        e = {"tag": tag, "cls": (a.get("class") or "").split(), "attrs": a, "text": ""}
        self.elems.append(e)
        if tag not in ("br", "img", "input", "meta", "link", "hr", "source", "path", "use"):
            self.stack.append(e)

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()["tag"] == tag:
                break

    def handle_data(self, data):
        if self.stack:
            self.stack[-1]["text"] += data
        self.text.append(data)


dom = Dom()
dom.feed(open(path, encoding="utf-8", errors="replace").read())
text = " ".join(dom.text)
els = dom.elems
bad = []


def need(cond, what):
    print(("ok   " if cond else "FAIL ") + "/%s: %s" % (page, what))
    if not cond:
        bad.append(what)


if page == "docs":
    # Swagger UI: <span class="opblock-summary-method">GET</span> then
    # <span class="opblock-summary-path" data-path="/items">.
    found, method = [], None
    for e in els:
        if "opblock-summary-method" in e["cls"]:
            method = e["text"].strip().upper()
        elif "opblock-summary-path" in e["cls"] and method:
            found.append((method, e["attrs"].get("data-path") or e["text"].strip()))
            method = None
    for op in OPS:
        need(op in found, "Swagger UI lists %s %s" % op)
    need(len(found) == len(OPS), "Swagger UI lists exactly %d operations (found %d: %s)"
         % (len(OPS), len(found), found))
    descs = [e["text"].strip() for e in els if "opblock-summary-description" in e["cls"]]
    need("Create an item" in descs, "POST /items shows its summary 'Create an item' (%s)" % descs)
    tags = [e["attrs"].get("data-tag") for e in els if "opblock-tag" in e["cls"]]
    for t in TAGS:
        need(t in tags, "a tag section '%s' (%s)" % (t, tags))
    errs = [e for e in els if "errors-wrapper" in e["cls"] or "loading-container" in e["cls"]]
    need(not errs and "Failed to load API definition" not in text,
         "no loading or error box (the definition loaded and parsed)")
    need("cio demo" in text, "the title 'cio demo' is shown")
else:
    # ReDoc: <span class="http-verb get">get</span><span>/items</span>.
    found = []
    for i, e in enumerate(els):
        if "http-verb" in e["cls"]:
            nxt = els[i + 1]["text"].strip() if i + 1 < len(els) else ""
            found.append((e["text"].strip().upper(), nxt))
    for op in OPS:
        need(op in found, "ReDoc lists %s %s" % op)
    need(len(found) == len(OPS), "ReDoc lists exactly %d operations (found %d: %s)"
         % (len(OPS), len(found), found))
    sections = {e["attrs"].get("data-section-id") for e in els if "data-section-id" in e["attrs"]}
    for t in TAGS:
        need("tag/" + t in sections, "a tag section 'tag/%s'" % t)
    menu = [e["text"].strip() for i, e in enumerate(els[:-1]) if "operation-type" in e["cls"]
            for e in [els[i + 1]]]
    need("Create an item" in menu, "the menu names POST /items 'Create an item' (%s)" % menu)
    for field in ("name", "description", "price", "tax", "tags", "image"):
        need(any(e["text"].strip() == field for e in els if e["tag"] == "span"),
             "the request body's field '%s' is shown" % field)
    need("cio demo" in text, "the title 'cio demo' is shown")
sys.exit(1 if bad else 0)
PY
done
if [ "$fail" = 0 ]; then
  echo "ok: $what's /docs and /redoc list every operation in chromium"
else
  echo "FAILED: see above (screenshots and DOMs in $shots)"
fi
exit "$fail"
