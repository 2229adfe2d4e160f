// SPDX-License-Identifier: MIT
//
// The guide's "FastAPI with Async" service, in cio:
//
//   GET /                   -> {"message":"Hello"}
//   GET /data               -> sleeps 1 s, then {"data":"value"}
//   GET /user/{id}/profile  -> fetch_user and fetch_posts (0.5 s each),
//                              gathered: answers in ~0.5 s, not 1 s
//   GET /items              -> skip, limit, q: declared query parameters
//   GET /items/{item_id}    -> a path parameter, a query flag, a header, a cookie
//   POST /items             -> a JSON body validated against the Item model
//   GET /models/{name}      -> an enum in the path
//   GET /openapi.json, /docs, /redoc: the document and its pages
//
// With DATABASE_URL set (libpq's conninfo or a postgresql:// URI; a build
// with libpq and Jansson), a pool of connections, the tables users (id,
// name) and posts (id, user_id, title) made and seeded if missing, and:
//
//   GET /db/users/{user_id}          -> {"id":1,"name":"alice"}, or 404
//   GET /db/users/{user_id}/profile  -> the user and their posts: two queries
//                                       on two connections, gathered
//   POST /db/users                   -> {"name": "..."} (min_length 1) inserted,
//                                       201 with the row
//
// A database failure is answered 503 {"detail":"database error: SQLSTATE
// ..."}; the pool is closed when the server stops.
//
// Every route is declared as FastAPI declares it (<cio/http_model.h>):
// what does not validate is answered 422 with FastAPI's error list before
// the handler runs.  tests/fastapi_ref/demo_app.py is the same service in
// FastAPI, and tests/validate_compare.py checks both answer alike.
//
//   make serve PORT=8000        (or: fastapi_demo [port [host]]; port 0: any free port)
//   make serve PORT=8000 WORKERS=2                 (two loops, on two threads, one port)
//   make serve PORT=8443 TLS_CERT=cert.pem TLS_KEY=key.pem      (HTTPS)
//
// HTTPS takes the certificate chain and key from the files named by the
// environment variables TLS_CERT and TLS_KEY (PEM), as the make target
// passes them.
//
// With WORKERS=n in the environment it serves on n loops, each on a thread
// of its own, sharing the port (SO_REUSEPORT): uvicorn's --workers, with
// threads (WORKERS=0: one per CPU).
//
// It serves until Ctrl-C (SIGINT) or SIGTERM, then shuts down as uvicorn
// does: requests in flight get their answers (within 10 s), then it exits.
// The JSON answers are built with Jansson (<cio/http_json.h>) when the
// build has it.
#include <cio.h>
#include <cio/http.h>
#include <cio/http_model.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef CIO_HAVE_JANSSON
#include <cio/http_json.h>
#endif
#ifdef CIO_HAVE_OPENSSL
#include <cio/tls.h>
#endif
#if defined(CIO_HAVE_JANSSON) && defined(CIO_HAVE_PQ)
#define DEMO_DB // the database routes (DATABASE_URL): libpq, and Jansson for the body model
#include <cio/pg.h>
#endif

// @app.get("/")
static int read_root(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)req, (void)arg;
  return cio_http_json(res, 200, "{\"message\":\"Hello\"}");
}

// @app.get("/data"): a slow operation that does not block the server.
static int get_data(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)req, (void)arg;
  int rc = cio_sleep(1.0);
  if (rc < 0) return rc;
  return cio_http_json(res, 200, "{\"data\":\"value\"}");
}

#ifdef CIO_HAVE_JANSSON
struct fetch {
  int64_t user_id; // whose data
  json_t *result;  // what the fetch returns (owned)
};

// async def fetch_user(user_id): await asyncio.sleep(0.5); return {"id": user_id}
static int fetch_user(void *arg) {
  struct fetch *f = arg;
  int rc = cio_sleep(0.5);
  if (rc < 0) return rc;
  f->result = json_pack("{s:I}", "id", (json_int_t)f->user_id);
  return f->result ? 0 : -ENOMEM;
}

// async def fetch_posts(user_id): ... return {"user_id": user_id, "posts": []}
static int fetch_posts(void *arg) {
  struct fetch *f = arg;
  int rc = cio_sleep(0.5);
  if (rc < 0) return rc;
  f->result = json_pack("{s:I, s:[]}", "user_id", (json_int_t)f->user_id, "posts");
  return f->result ? 0 : -ENOMEM;
}

// @app.get("/user/{user_id}/profile"): two fetches gathered.
static int get_profile(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)arg;
  int64_t id = cio_http_param_int(req, "user_id"); // {user_id:int}: 422 if not
  struct fetch user = {id, NULL}, posts = {id, NULL};
  cio_task *t[2] = {cio_spawn_named("fetch_user", fetch_user, &user),
                    cio_spawn_named("fetch_posts", fetch_posts, &posts)};
  int rc = t[0] && t[1] ? cio_gather(t, 2, NULL, CIO_GATHER_CANCEL_ON_ERROR) : -ENOMEM;
  json_t *body = NULL;
  if (rc == 0) { // {"user": user, "posts": posts}; "o" takes the references
    body = json_pack("{s:o, s:o}", "user", user.result, "posts", posts.result);
    user.result = posts.result = NULL;
  }
  json_decref(user.result);
  json_decref(posts.result);
  if (rc < 0) return rc;
  rc = body ? cio_http_json_value(res, 200, body) : -ENOMEM;
  json_decref(body);
  return rc;
}
#else
// Built without Jansson: the same answer, written out by hand.
static int fetch(void *arg) {
  (void)arg;
  return cio_sleep(0.5);
}
static int get_profile(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)arg;
  long long id = (long long)cio_http_param_int(req, "user_id");
  cio_task *t[2] = {cio_spawn_named("fetch_user", fetch, NULL),
                    cio_spawn_named("fetch_posts", fetch, NULL)};
  int rc = t[0] && t[1] ? cio_gather(t, 2, NULL, CIO_GATHER_CANCEL_ON_ERROR) : -ENOMEM;
  if (rc < 0) return rc;
  char body[160];
  snprintf(body, sizeof body, "{\"user\":{\"id\":%lld},\"posts\":{\"user_id\":%lld,\"posts\":[]}}",
           id, id);
  return cio_http_json(res, 200, body);
}
#endif

#ifdef CIO_HAVE_JANSSON
// The declarations: FastAPI's models and signatures as C data.
static const char *const model_names[] = {"alexnet", "resnet", "lenet", NULL};

static const cio_http_field image_fields[] = {
    {.name = "url", .type = CIO_HTTP_STR, .pattern = "^https?://"},
    {.name = "name", .type = CIO_HTTP_STR},
    {0},
};
static const cio_http_model image_model = {.name = "Image", .fields = image_fields};

static const cio_http_field tag = {.type = CIO_HTTP_STR};
static const cio_http_field item_fields[] = {
    {.name = "name", .type = CIO_HTTP_STR, .min_length = 1, .max_length = 50},
    {.name = "description", .type = CIO_HTTP_STR, .def = "null", .max_length = 300},
    {.name = "price", .type = CIO_HTTP_FLOAT, .gt = "0"},
    {.name = "tax", .type = CIO_HTTP_FLOAT, .def = "null", .ge = "0"},
    {.name = "tags", .type = CIO_HTTP_ARRAY, .items = &tag, .def = "[]", .max_length = 10},
    {.name = "image", .type = CIO_HTTP_OBJECT, .model = &image_model, .def = "null"},
    {0},
};
static const cio_http_model item_model = {.name = "Item", .fields = item_fields};

static const char *const tags_demo[] = {"demo", NULL}, *const tags_users[] = {"users", NULL},
                         *const tags_items[] = {"items", NULL},
                         *const tags_models[] = {"models", NULL};

static const cio_http_decl root_decl = {.name = "read_root", .tags = tags_demo};
static const cio_http_decl data_decl = {.name = "get_data", .tags = tags_demo};
static const cio_http_field profile_params[] = {
    {.name = "user_id", .in = CIO_HTTP_PATH, .type = CIO_HTTP_INT},
    {0},
};
static const cio_http_decl profile_decl = {
    .name = "get_profile", .params = profile_params, .tags = tags_users};
static const cio_http_field items_params[] = {
    {.name = "skip", .type = CIO_HTTP_INT, .def = "0", .ge = "0"},
    {.name = "limit", .type = CIO_HTTP_INT, .def = "10", .ge = "1", .le = "100"},
    {.name = "q", .type = CIO_HTTP_STR, .def = "null", .max_length = 50},
    {0},
};
static const cio_http_decl items_decl = {
    .name = "read_items", .params = items_params, .tags = tags_items};
static const cio_http_field item_params[] = {
    {.name = "item_id", .in = CIO_HTTP_PATH, .type = CIO_HTTP_INT, .ge = "1"},
    {.name = "short", .type = CIO_HTTP_BOOL, .def = "false"},
    {.name = "x_token", .in = CIO_HTTP_HEADER, .type = CIO_HTTP_STR, .def = "null"},
    {.name = "session", .in = CIO_HTTP_COOKIE, .type = CIO_HTTP_STR, .def = "null"},
    {0},
};
static const cio_http_decl item_decl = {
    .name = "read_item", .params = item_params, .tags = tags_items};
static const cio_http_decl create_decl = {.name = "create_item",
                                          .body = &item_model,
                                          .response = &item_model,
                                          .summary = "Create an item",
                                          .tags = tags_items};
static const cio_http_field model_params[] = {
    {.name = "model_name",
     .in = CIO_HTTP_PATH,
     .type = CIO_HTTP_ENUM,
     .values = model_names,
     .enum_name = "ModelName"},
    {0},
};
static const cio_http_decl model_decl = {
    .name = "get_model", .params = model_params, .tags = tags_models};

// Answers `value` (taking it): FastAPI's JSON.
static int answer(cio_http_res *res, json_t *value) {
  int rc = value ? cio_http_json_value(res, 200, value) : -ENOMEM;
  json_decref(value);
  return rc;
}

// A str parameter as JSON: its value (whole, NUL bytes too), or null.
static json_t *arg_or_null(cio_http_req *req, const char *name) {
  size_t n;
  const char *s = cio_http_arg_str_n(req, name, &n);
  return s ? json_stringn(s, n) : json_null();
}

// @app.get("/items"): skip, limit, q.
static int read_items(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)arg;
  return answer(res, json_pack("{s:I, s:I, s:o}", "skip", (json_int_t)cio_http_arg_int(req, "skip"),
                               "limit", (json_int_t)cio_http_arg_int(req, "limit"), "q",
                               arg_or_null(req, "q")));
}

// @app.get("/items/{item_id}"): a path parameter, a flag, a header, a cookie.
static int read_item(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)arg;
  return answer(res,
                json_pack("{s:I, s:b, s:o, s:o}", "item_id",
                          (json_int_t)cio_http_arg_int(req, "item_id"), "short",
                          (int)cio_http_arg_bool(req, "short"), "x_token",
                          arg_or_null(req, "x_token"), "session", arg_or_null(req, "session")));
}

// @app.post("/items", response_model=Item): the item, validated, echoed.
static int create_item(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)arg;
  return cio_http_answer_body(req, res, 200);
}

// @app.get("/models/{model_name}")
static int get_model(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)arg;
  return answer(res, json_pack("{s:s}", "model_name", cio_http_arg_str(req, "model_name")));
}
#endif

#ifdef DEMO_DB
// ---------------------------------------------------------------- the database
// With DATABASE_URL set (libpq's "host=... dbname=..." or a postgresql://
// URI), a pool of connections and three routes on two tables.

static cio_pg_pool *db; // opened in serve(), closed when the server stops

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS users (id bigserial PRIMARY KEY, name text NOT NULL);"
    "CREATE TABLE IF NOT EXISTS posts (id bigserial PRIMARY KEY,"
    "  user_id bigint NOT NULL REFERENCES users (id), title text NOT NULL);"
    "INSERT INTO users (name) SELECT n FROM unnest(ARRAY['alice', 'bob', 'carol']) AS n"
    "  WHERE NOT EXISTS (SELECT 1 FROM users);"
    "INSERT INTO posts (user_id, title) SELECT u.id, p.title"
    "  FROM (VALUES ('alice', 'Hello, cio'), ('alice', 'Gathering queries'),"
    "              ('bob', 'Pools')) AS p (name, title) JOIN users u USING (name)"
    "  WHERE NOT EXISTS (SELECT 1 FROM posts)";

// One query on a connection of the pool: acquire, query, release.  On
// CIO_PG_ERROR, copies the SQLSTATE to `sqlstate` (the connection's own copy
// is gone once it is released).
static int db_query(const char *sql, const cio_pg_param *params, size_t n, cio_pg_result **out,
                    char sqlstate[6]) {
  cio_pg *conn;
  int rc = cio_pg_pool_acquire(db, 5.0, &conn);
  if (rc < 0) return rc;
  rc = cio_pg_query(conn, sql, params, n, out);
  if (rc == CIO_PG_ERROR) snprintf(sqlstate, 6, "%s", cio_pg_sqlstate(conn));
  int rel = cio_pg_pool_release(db, conn); // shielded: runs even if we are cancelled
  return rc < 0 ? rc : rel;
}

// A failed query as 503 {"detail": "database error: SQLSTATE 42P01"} (or
// the reason the server could not be asked).  A cancelled handler stays
// cancelled.
static int db_failed(cio_http_res *res, int rc, const char *sqlstate) {
  if (rc == -ECANCELED) return rc;
  char detail[160];
  if (rc == CIO_PG_ERROR)
    snprintf(detail, sizeof detail, "database error: SQLSTATE %s", sqlstate);
  else
    snprintf(detail, sizeof detail, "database unavailable: %s", cio_strerror(rc));
  json_t *body = json_pack("{s:s}", "detail", detail);
  rc = body ? cio_http_json_value(res, 503, body) : -ENOMEM;
  json_decref(body);
  return rc;
}

// Row `row` of a result as a JSON object, one member per column (bigint and
// text columns are all these tables have).
static json_t *row_json(const cio_pg_result *r, size_t row) {
  json_t *obj = json_object();
  for (size_t col = 0; obj && col < cio_pg_ncols(r); col++) {
    const char *name = cio_pg_column_name(r, col), *s;
    int64_t i;
    json_t *v = cio_pg_get_int(r, row, col, &i) == 0          ? json_integer((json_int_t)i)
                : cio_pg_get_text(r, row, col, &s, NULL) == 0 ? json_string(s)
                                                              : json_null();
    json_object_set_new(obj, name, v);
  }
  return obj;
}

static int not_found(cio_http_res *res) {
  return cio_http_json(res, 404, "{\"detail\":\"Not Found\"}"); // raise HTTPException(404)
}

// @app.get("/db/users/{user_id}"): one user, or 404.
static int db_get_user(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)arg;
  cio_pg_param id = {CIO_PG_T_INT8, .i = cio_http_arg_int(req, "user_id")};
  cio_pg_result *r = NULL;
  char sqlstate[6] = "";
  int rc = db_query("SELECT id, name FROM users WHERE id = $1", &id, 1, &r, sqlstate);
  if (rc < 0) return db_failed(res, rc, sqlstate);
  rc = cio_pg_nrows(r) ? answer(res, row_json(r, 0)) : not_found(res);
  cio_pg_result_free(r);
  return rc;
}

// One of the profile's two queries, run as its own task.
struct db_fetch {
  const char *sql;     // what to run, with the user's id as $1
  int64_t user_id;     // whose
  cio_pg_result *rows; // its rows (owned)
  char sqlstate[6];    // on CIO_PG_ERROR
};

static int db_fetch(void *arg) {
  struct db_fetch *f = arg;
  cio_pg_param id = {CIO_PG_T_INT8, .i = f->user_id};
  return db_query(f->sql, &id, 1, &f->rows, f->sqlstate);
}

// @app.get("/db/users/{user_id}/profile"): the user and their posts, two
// queries on two pool connections, gathered: the answer takes as long as
// the slower one, not both.
static int db_get_profile(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)arg;
  int64_t id = cio_http_arg_int(req, "user_id");
  struct db_fetch user = {"SELECT id, name FROM users WHERE id = $1", id, NULL, ""},
                  posts = {"SELECT id, title FROM posts WHERE user_id = $1 ORDER BY id", id, NULL,
                           ""};
  cio_task *t[2] = {cio_spawn_named("fetch_user", db_fetch, &user),
                    cio_spawn_named("fetch_posts", db_fetch, &posts)};
  int rc = t[0] && t[1] ? cio_gather(t, 2, NULL, CIO_GATHER_CANCEL_ON_ERROR) : -ENOMEM;
  if (rc < 0)
    rc = db_failed(res, rc, user.sqlstate[0] ? user.sqlstate : posts.sqlstate);
  else if (cio_pg_nrows(user.rows) == 0)
    rc = not_found(res);
  else {
    json_t *list = json_array();
    for (size_t i = 0; list && i < cio_pg_nrows(posts.rows); i++)
      json_array_append_new(list, row_json(posts.rows, i));
    rc = answer(res, json_pack("{s:o, s:o}", "user", row_json(user.rows, 0), "posts", list));
  }
  cio_pg_result_free(user.rows);
  cio_pg_result_free(posts.rows);
  return rc;
}

// @app.post("/db/users", status_code=201): inserts the validated body.
static int db_create_user(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)arg;
  cio_pg_param name = {CIO_PG_T_TEXT, .s = cio_http_field_str(req, "name")};
  cio_pg_result *r = NULL;
  char sqlstate[6] = "";
  int rc =
      db_query("INSERT INTO users (name) VALUES ($1) RETURNING id, name", &name, 1, &r, sqlstate);
  if (rc < 0) return db_failed(res, rc, sqlstate);
  json_t *row = row_json(r, 0);
  cio_pg_result_free(r);
  rc = row ? cio_http_json_value(res, 201, row) : -ENOMEM;
  json_decref(row);
  return rc;
}

static const char *const tags_db[] = {"database", NULL};
static const cio_http_field db_user_params[] = {
    {.name = "user_id", .in = CIO_HTTP_PATH, .type = CIO_HTTP_INT},
    {0},
};
static const cio_http_decl db_user_decl = {
    .name = "db_get_user", .params = db_user_params, .tags = tags_db};
static const cio_http_decl db_profile_decl = {
    .name = "db_get_profile", .params = db_user_params, .tags = tags_db};
static const cio_http_field new_user_fields[] = {
    {.name = "name", .type = CIO_HTTP_STR, .min_length = 1},
    {0},
};
static const cio_http_model new_user_model = {.name = "NewUser", .fields = new_user_fields};
static const cio_http_decl db_create_decl = {
    .name = "db_create_user", .body = &new_user_model, .status = 201, .tags = tags_db};

// Opens the pool for `url`, makes the tables (with a few rows) if missing,
// and adds the routes.  Returns 0, or < 0 after saying what failed.
static int db_start(cio_http_app *app, const char *url) {
  cio_pg_pool_opts opts = {.max_size = 10, .connect_timeout = 5};
  int rc = cio_pg_pool_open(&db, url, &opts);
  if (rc < 0) {
    fprintf(stderr, "fastapi_demo: DATABASE_URL: %s: %s\n", cio_strerror(rc),
            cio_pg_connect_error());
    return rc;
  }
  cio_pg *conn;
  rc = cio_pg_pool_acquire(db, 5.0, &conn);
  if (rc == 0) {
    rc = cio_pg_exec(conn, schema_sql, NULL, 0, NULL); // one implicit transaction
    if (rc < 0)
      fprintf(stderr, "fastapi_demo: creating the tables: %s (%s)\n", cio_strerror(rc),
              cio_pg_error_message(conn));
    int rel = cio_pg_pool_release(db, conn);
    if (rc == 0) rc = rel;
  } else
    fprintf(stderr, "fastapi_demo: DATABASE_URL: %s: %s\n", cio_strerror(rc),
            cio_pg_connect_error());
  if (rc < 0) {
    (void)cio_pg_pool_close(db);
    db = NULL;
    return rc;
  }
  cio_http_route_decl(app, "GET", "/db/users/{user_id}", db_get_user, NULL, &db_user_decl);
  cio_http_route_decl(app, "GET", "/db/users/{user_id}/profile", db_get_profile, NULL,
                      &db_profile_decl);
  cio_http_route_decl(app, "POST", "/db/users", db_create_user, NULL, &db_create_decl);
  return 0;
}
#endif

struct where {
  const char *port, *host; // where to listen
  bool https;              // with TLS_CERT and TLS_KEY
};

#define SELF_SIGNED                                                                                \
  "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 "                 \
  "-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout key.pem -out "    \
  "cert.pem"

static void started(cio_server *srv, void *arg) {
  static atomic_flag said = ATOMIC_FLAG_INIT; // once, however many loops serve
  if (atomic_flag_test_and_set(&said)) return;
  const struct where *w = arg;
  const char *host = w->host;
  if (strcmp(host, "0.0.0.0") == 0) host = "127.0.0.1"; // every address: this one too
  printf("serving on %s://%s:%d (Ctrl-C to stop)\n", w->https ? "https" : "http", host,
         cio_server_port(srv));
#ifdef CIO_HAVE_OPENSSL
  if (!w->https)
    printf("HTTPS: make serve PORT=8443 TLS_CERT=cert.pem TLS_KEY=key.pem; a self-signed pair: "
           "%s\n",
           SELF_SIGNED);
#endif
  fflush(stdout);
}

// HTTPS when TLS_CERT and TLS_KEY name a certificate and its key: sets
// *ctx.  Returns 0 (*ctx NULL: plain HTTP), or -1 after saying what is wrong.
static int tls_from_env(cio_tls_ctx **ctx) {
  const char *cert = getenv("TLS_CERT"), *key = getenv("TLS_KEY");
  *ctx = NULL;
  if ((!cert || !*cert) && (!key || !*key)) return 0;
#ifdef CIO_HAVE_OPENSSL
  if (cert && *cert && key && *key) {
    int rc = cio_tls_server_ctx_new(ctx, cert, key);
    if (rc == 0) return 0;
    fprintf(stderr, "fastapi_demo: %s, %s: %s (%s)\n", cert, key, cio_strerror(rc),
            cio_tls_last_error());
  }
  fprintf(stderr,
          "fastapi_demo: HTTPS needs TLS_CERT and TLS_KEY; a self-signed pair: " SELF_SIGNED "\n");
#else
  fprintf(stderr,
          "fastapi_demo: this cio was built without OpenSSL (apt-get install libssl-dev)\n");
#endif
  return -1;
}

// The app.  with_db: the database routes when DATABASE_URL is set (their
// pool belongs to the loop that calls this, so only one loop serves them).
static cio_http_app *make_app(bool with_db) {
  cio_http_app *app = cio_http_app_new();
  if (!app) return NULL;
  (void)with_db; // (without Jansson: no database routes)
#ifdef CIO_HAVE_JANSSON
  cio_http_route_decl(app, "GET", "/", read_root, NULL, &root_decl);
  cio_http_route_decl(app, "GET", "/data", get_data, NULL, &data_decl);
  cio_http_route_decl(app, "GET", "/user/{user_id}/profile", get_profile, NULL, &profile_decl);
  cio_http_route_decl(app, "GET", "/items", read_items, NULL, &items_decl);
  cio_http_route_decl(app, "GET", "/items/{item_id}", read_item, NULL, &item_decl);
  cio_http_route_decl(app, "POST", "/items", create_item, NULL, &create_decl);
  cio_http_route_decl(app, "GET", "/models/{model_name}", get_model, NULL, &model_decl);
  const char *url = getenv("DATABASE_URL");
  if (url && *url && !with_db) {
    fprintf(stderr, "fastapi_demo: DATABASE_URL ignored with WORKERS: a pool serves one loop\n");
  } else if (url && *url) {
#ifdef DEMO_DB
    if (db_start(app, url) < 0) {
      cio_http_app_free(app);
      return NULL;
    }
#else
    fprintf(stderr, "fastapi_demo: DATABASE_URL ignored: this cio was built without libpq\n");
#endif
  }
  // /openapi.json, /docs, /redoc; CIO_DOCS_ASSETS names a directory with
  // Swagger UI's and ReDoc's scripts, for a machine without the CDN.
  cio_http_openapi_opts docs = {.title = "cio demo",
                                .version = "1.0.0",
                                .assets_dir = getenv("CIO_DOCS_ASSETS"),
                                .assets_url = "/assets"};
  if (docs.assets_dir && !*docs.assets_dir) docs.assets_dir = NULL;
  int docs_rc = cio_http_openapi(app, &docs);
  if (docs_rc < 0) {
    fprintf(stderr, "fastapi_demo: docs: %s: %s\n", docs.assets_dir ? docs.assets_dir : "",
            cio_strerror(docs_rc));
    cio_http_app_free(app);
    return NULL;
  }
#else
  cio_http_route(app, "GET", "/", read_root, NULL);
  cio_http_route(app, "GET", "/data", get_data, NULL);
  cio_http_route(app, "GET", "/user/{user_id:int}/profile", get_profile, NULL);
  if (getenv("DATABASE_URL"))
    fprintf(stderr, "fastapi_demo: DATABASE_URL ignored: the database routes need Jansson\n");
#endif
  return app;
}

// Serves on this loop until Ctrl-C.
static int serve(void *arg) {
  struct where *w = arg;
  cio_http_app *app = make_app(true);
  if (!app) return -ENOMEM;
  cio_http_opts opts = {.on_start = started, .on_start_arg = (void *)w};
  int rc = tls_from_env(&opts.tls);
  if (rc == 0) {
    w->https = opts.tls != NULL;
    rc = cio_http_run(app, w->host, w->port, &opts); // until Ctrl-C, then gracefully
    if (rc < 0)
      fprintf(stderr, "fastapi_demo: cannot listen on %s:%s: %s\n", w->host, w->port,
              cio_strerror(rc));
  }
  cio_http_app_free(app);
#ifdef DEMO_DB
  if (db && cio_pg_pool_close(db) < 0)
    fprintf(stderr, "fastapi_demo: a pool connection was not released\n");
  db = NULL;
#endif
#ifdef CIO_HAVE_OPENSSL
  cio_tls_ctx_free(opts.tls);
#endif
  return rc;
}

// Serves on `workers` loops until Ctrl-C: one app, shared by all of them.
static int serve_workers(struct where *w, int workers) {
  cio_http_app *app = make_app(false);
  if (!app) return -ENOMEM;
  cio_http_opts opts = {.on_start = started, .on_start_arg = (void *)w};
  int rc = tls_from_env(&opts.tls);
  if (rc == 0) {
    w->https = opts.tls != NULL;
    rc = cio_http_run_workers(app, w->host, w->port, &opts, workers);
    if (rc < 0)
      fprintf(stderr, "fastapi_demo: serving on %s:%s: %s\n", w->host, w->port, cio_strerror(rc));
  }
  cio_http_app_free(app);
#ifdef CIO_HAVE_OPENSSL
  cio_tls_ctx_free(opts.tls);
#endif
  return rc;
}

int main(int argc, char **argv) {
  struct where w = {argc > 1 ? argv[1] : "8000", argc > 2 ? argv[2] : "0.0.0.0", false};
  const char *workers = getenv("WORKERS");
  if (workers && *workers) return serve_workers(&w, atoi(workers)) < 0;
  return cio_run(serve, &w) < 0;
}
