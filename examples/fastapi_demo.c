// SPDX-License-Identifier: MIT
//
// The guide's "FastAPI with Async" service, in cio:
//
//   GET /                   -> {"message":"Hello"}
//   GET /data               -> sleeps 1 s, then {"data":"value"}
//   GET /user/{id}/profile  -> fetch_user and fetch_posts (0.5 s each),
//                              gathered: answers in ~0.5 s, not 1 s
//
//   make serve PORT=8000        (or: fastapi_demo [port])
#include <cio.h>
#include <cio/http.h>
#include <stdio.h>
#include <stdlib.h>

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

struct fetch {
  int64_t user_id; // whose data
  char json[128];  // the result
};

static int fetch_user(void *arg) {
  struct fetch *f = arg;
  int rc = cio_sleep(0.5);
  if (rc < 0) return rc;
  snprintf(f->json, sizeof f->json, "{\"id\":%lld}", (long long)f->user_id);
  return 0;
}

static int fetch_posts(void *arg) {
  struct fetch *f = arg;
  int rc = cio_sleep(0.5);
  if (rc < 0) return rc;
  snprintf(f->json, sizeof f->json, "{\"user_id\":%lld,\"posts\":[]}", (long long)f->user_id);
  return 0;
}

// @app.get("/user/{user_id}/profile"): two fetches gathered.
static int get_profile(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)arg;
  int64_t id = cio_http_param_int(req, "user_id"); // {user_id:int}: 422 if not
  struct fetch user = {.user_id = id}, posts = {.user_id = id};
  cio_task *t[2] = {cio_spawn_named("fetch_user", fetch_user, &user),
                    cio_spawn_named("fetch_posts", fetch_posts, &posts)};
  if (!t[0] || !t[1]) return -ENOMEM;
  int rc = cio_gather(t, 2, NULL, CIO_GATHER_CANCEL_ON_ERROR);
  if (rc < 0) return rc;
  char body[320];
  snprintf(body, sizeof body, "{\"user\":%s,\"posts\":%s}", user.json, posts.json);
  return cio_http_json(res, 200, body);
}

static int serve(void *arg) {
  const char *port = arg;
  cio_http_app *app = cio_http_app_new();
  if (!app) return -ENOMEM;
  cio_http_route(app, "GET", "/", read_root, NULL);
  cio_http_route(app, "GET", "/data", get_data, NULL);
  cio_http_route(app, "GET", "/user/{user_id:int}/profile", get_profile, NULL);
  cio_server *srv;
  int rc = cio_http_serve(app, "0.0.0.0", port, NULL, &srv);
  if (rc < 0) {
    fprintf(stderr, "fastapi_demo: cannot listen on port %s: %s\n", port, cio_strerror(rc));
    return rc;
  }
  printf("serving on http://127.0.0.1:%d (Ctrl-C to stop)\n", cio_server_port(srv));
  fflush(stdout);
  rc = cio_sleep(CIO_FOREVER); // until Ctrl-C
  int closed = cio_server_close(srv, 1.0);
  (void)closed;
  cio_http_app_free(app);
  return rc == -ECANCELED ? 0 : rc;
}

int main(int argc, char **argv) {
  const char *port = argc > 1 ? argv[1] : "8000";
  return cio_run(serve, (void *)port) < 0;
}
