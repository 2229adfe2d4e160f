// SPDX-License-Identifier: MIT
//
// The guide's "FastAPI with Async" service, in cio:
//
//   GET /                   -> {"message":"Hello"}
//   GET /data               -> sleeps 1 s, then {"data":"value"}
//   GET /user/{id}/profile  -> fetch_user and fetch_posts (0.5 s each),
//                              gathered: answers in ~0.5 s, not 1 s
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

static cio_http_app *make_app(void) {
  cio_http_app *app = cio_http_app_new();
  if (!app) return NULL;
  cio_http_route(app, "GET", "/", read_root, NULL);
  cio_http_route(app, "GET", "/data", get_data, NULL);
  cio_http_route(app, "GET", "/user/{user_id:int}/profile", get_profile, NULL);
  return app;
}

// Serves on this loop until Ctrl-C.
static int serve(void *arg) {
  struct where *w = arg;
  cio_http_app *app = make_app();
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
#ifdef CIO_HAVE_OPENSSL
  cio_tls_ctx_free(opts.tls);
#endif
  return rc;
}

// Serves on `workers` loops until Ctrl-C: one app, shared by all of them.
static int serve_workers(struct where *w, int workers) {
  cio_http_app *app = make_app();
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
