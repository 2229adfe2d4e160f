// SPDX-License-Identifier: MIT
//
// libFuzzer target for the whole HTTP server (h2o's and lwan's habit): each
// input is what one client sends on a loopback connection before it shuts
// down its side.  The app has path parameters of every converter, query
// converters, bodies (fixed-length and chunked; JSON with Jansson), a
// streamed answer, a failing handler and a middleware, so the input reaches
// the router, the percent-decoding, the body readers and the keep-alive and
// pipelining logic, not only the head parser.  Declared routes
// (<cio/http_model.h>) take the input through parameter and JSON body
// validation (every type, bound, pattern, nesting) and the OpenAPI
// document.  Any input must be answered
// or refused without a crash, a sanitizer report, a leak or a hang.
#include <cio.h>
#include <cio/http.h>
#include <cio/http_model.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#ifdef CIO_HAVE_JANSSON
#include <cio/http_json.h>
#endif

static int hello(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)req, (void)arg;
  return cio_http_json(res, 200, "{\"message\":\"Hello\"}");
}

static int item(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)arg;
  int64_t limit;
  double ratio;
  bool flag;
  if (cio_http_query_int(req, res, "limit", 10, &limit) < 0 ||
      cio_http_query_float(req, res, "ratio", 0.5, &ratio) < 0 ||
      cio_http_query_bool(req, res, "flag", false, &flag) < 0)
    return 0; // 422 already set
  const char *name = cio_http_query(req, "name");
  char body[512];
  snprintf(body, sizeof body, "{\"id\":%lld,\"limit\":%lld,\"ratio\":%g,\"flag\":%d,\"n\":%zu}",
           (long long)cio_http_param_int(req, "id"), (long long)limit, ratio, flag,
           name ? strlen(name) : 0);
  return cio_http_json(res, 200, body);
}

static int files(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)arg;
  const char *p = cio_http_param(req, "p");
  const char *agent = cio_http_header(req, "user-agent");
  char body[64];
  snprintf(body, sizeof body, "%zu %zu %g", p ? strlen(p) : 0, agent ? strlen(agent) : 0,
           cio_http_param_float(req, "x"));
  return cio_http_send(res, 200, "text/plain", body, strlen(body));
}

// Every accessor, twice, each result checked against the first: nothing a
// later call does may change what an earlier one returned.
static int accessors(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)arg;
  const char *name = cio_http_param(req, "name"), *host = cio_http_header(req, "host");
  size_t qn = 0;
  const char *q = cio_http_query_n(req, "q", &qn), *plain = cio_http_query(req, "q");
  char copy[64];
  snprintf(copy, sizeof copy, "%s|%s", name ? name : "", host ? host : "");
  for (int i = 0; i < 3; i++)
    (void)cio_http_header(req, "user-agent"), (void)cio_http_query(req, "z"),
        (void)cio_http_query_n(req, "q", NULL);
  char again[64];
  snprintf(again, sizeof again, "%s|%s", cio_http_param(req, "name") ?: "",
           cio_http_header(req, "host") ?: "");
  if (strcmp(copy, again) != 0 || (plain && (plain != q || strlen(plain) != qn))) abort();
  return cio_http_send(res, 200, "text/plain", name, strlen(name));
}

static int echo(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)arg;
  size_t len;
  const char *body = cio_http_body(req, &len);
  return cio_http_send(res, 200, "application/octet-stream", body, len);
}

static int stream(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)req, (void)arg;
  if (cio_http_stream_start(res, 200, "text/plain") < 0) return -EIO;
  for (int i = 0; i < 3; i++)
    if (cio_http_stream_write(res, "part;", 5) < 0) return -EIO;
  return 0;
}

static int fails(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)req, (void)res, (void)arg;
  return -EIO;
}

#ifdef CIO_HAVE_JANSSON
static int sum(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)arg;
  json_t *v;
  if (cio_http_body_json(req, res, &v) < 0) return 0; // 400/422 already set
  double total = 0;
  size_t i;
  json_t *x;
  json_array_foreach(v, i, x) total += json_number_value(x);
  json_decref(v);
  char body[64];
  snprintf(body, sizeof body, "{\"sum\":%g}", total);
  return cio_http_json(res, 200, body);
}
#endif

static int header_mw(cio_http_req *req, cio_http_res *res, cio_http_next next, void *state,
                     void *arg) {
  (void)arg;
  int rc = next(req, res, state);
  (void)cio_http_set_header(res, "X-Fuzz", "1");
  return rc;
}

#ifdef CIO_HAVE_JANSSON
static const char *const kinds[] = {"a", "b", NULL};
static const cio_http_field leaf_fields[] = {
    {.name = "n", .type = CIO_HTTP_INT, .ge = "-5", .lt = "1e3"},
    {.name = "k", .type = CIO_HTTP_ENUM, .values = kinds, .def = "\"a\""},
    {0},
};
static const cio_http_model leaf = {.name = "Leaf", .fields = leaf_fields};
static const cio_http_field leaf_item = {.type = CIO_HTTP_OBJECT, .model = &leaf};
static const cio_http_field word = {.type = CIO_HTTP_STR, .pattern = "^[a-z]*$", .max_length = 4};
static const cio_http_field doc_fields[] = {
    {.name = "s", .type = CIO_HTTP_STR, .min_length = 1},
    {.name = "f", .type = CIO_HTTP_FLOAT, .gt = "0", .def = "1.5"},
    {.name = "b", .type = CIO_HTTP_BOOL, .def = "null"},
    {.name = "words", .type = CIO_HTTP_ARRAY, .items = &word, .def = "[]", .max_length = 3},
    {.name = "leaves", .type = CIO_HTTP_ARRAY, .items = &leaf_item, .def = "[]"},
    {.name = "leaf", .type = CIO_HTTP_OBJECT, .model = &leaf, .def = "null"},
    {0},
};
static const cio_http_model doc = {.name = "Doc", .fields = doc_fields};
static const cio_http_field doc_params[] = {
    {.name = "id", .in = CIO_HTTP_PATH, .type = CIO_HTTP_INT, .le = "99"},
    {.name = "q", .type = CIO_HTTP_STR, .def = "null", .max_length = 8},
    {.name = "x_n", .in = CIO_HTTP_HEADER, .type = CIO_HTTP_FLOAT, .def = "0"},
    {.name = "c", .in = CIO_HTTP_COOKIE, .type = CIO_HTTP_ENUM, .values = kinds, .def = "null"},
    {0},
};
static const cio_http_decl doc_decl = {.name = "put_doc", .params = doc_params, .body = &doc};

// Reads what the declaration validated, then echoes the body.
static int put_doc(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)arg;
  const char *q = cio_http_arg_str(req, "q"), *c = cio_http_arg_str(req, "c");
  size_t n = cio_http_field_len(req, "leaves");
  int64_t total = cio_http_arg_int(req, "id") + (q ? (int64_t)strlen(q) : 0) +
                  (c ? (int64_t)strlen(c) : 0) + (int64_t)cio_http_arg_float(req, "x_n");
  for (size_t i = 0; i < n; i++) {
    char path[32];
    snprintf(path, sizeof path, "leaves.%zu.n", i);
    total += cio_http_field_int(req, path);
  }
  if (total == INT64_MIN) abort(); // (keeps the reads)
  return cio_http_answer_body(req, res, 200);
}
#endif

static cio_http_app *build_app(void) {
  cio_http_app *app = cio_http_app_new();
  if (!app || cio_http_use(app, header_mw, NULL) < 0 ||
      cio_http_route(app, "GET", "/", hello, NULL) < 0 ||
      cio_http_route(app, "GET", "/items/{id:int}", item, NULL) < 0 ||
      cio_http_route(app, "GET", "/files/{x:float}/{p:path}", files, NULL) < 0 ||
      cio_http_route(app, "POST", "/echo", echo, NULL) < 0 ||
      cio_http_route(app, "PUT", "/echo/{name}", echo, NULL) < 0 ||
      cio_http_route(app, "GET", "/s/{name}", accessors, NULL) < 0 ||
      cio_http_route(app, "GET", "/stream", stream, NULL) < 0 ||
      cio_http_route(app, "GET", "/fail", fails, NULL) < 0)
    abort();
#ifdef CIO_HAVE_JANSSON
  if (cio_http_route(app, "POST", "/sum", sum, NULL) < 0 ||
      cio_http_route_decl(app, "PUT", "/doc/{id}", put_doc, NULL, &doc_decl) < 0 ||
      cio_http_openapi(app, NULL) < 0)
    abort();
#endif
  return app;
}

struct input {
  const uint8_t *data;
  size_t size;
  const char *port;
};

// The client: sends the input, shuts down its side, reads to the end.
static int client(void *arg) {
  struct input *in = arg;
  cio_sock *s;
  if (cio_tcp_connect(&s, "127.0.0.1", in->port) < 0) abort();
  if (in->size && cio_sock_write(s, in->data, in->size) < 0) {
    // the server may refuse and close before reading it all
  }
  (void)cio_sock_shutdown(s, SHUT_WR);
  char buf[4096];
  cio_scope limit;
  (void)cio_timeout_begin(&limit, 5.0); // a hang would be a bug: libFuzzer reports it first
  while (cio_sock_read(s, buf, sizeof buf) > 0) {
  }
  if (cio_scope_end(&limit) == -ETIMEDOUT) abort(); // the server never closed
  cio_sock_close(s);
  return 0;
}

static int fuzz_main(void *arg) {
  static cio_http_app *app;
  if (!app) app = build_app(); // once per process: the fuzzer's leak check ignores it
  struct input *in = arg;
  cio_http_opts o = {.max_body = 4096,
                     .max_head = 2048,
                     .max_line = 512,
                     .header_timeout = 1.0,
                     .handler_timeout = 1.0};
  cio_server *srv;
  if (cio_http_serve(app, "127.0.0.1", "0", &o, &srv) < 0) abort();
  char port[8];
  snprintf(port, sizeof port, "%d", cio_server_port(srv));
  in->port = port;
  cio_task *t = cio_spawn(client, in);
  if (!t || cio_join(t) < 0) abort();
  return cio_server_close(srv, 1.0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct input in = {data, size, NULL};
  if (cio_run(fuzz_main, &in) < 0) abort();
  return 0;
}
