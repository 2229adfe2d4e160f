// SPDX-License-Identifier: MIT
//
// A program that uses an installed cio the way an outside project does:
// tasks and gather (the core), an HTTP app with a path parameter, and, when
// cio was built with Jansson (CONSUMER_JSON), JSON bodies in and out plus
// direct json_* calls (which the link line must provide: pkg-config cio and
// cio::cio carry -ljansson).  check.sh builds it three ways.  It serves on
// 127.0.0.1, asks itself two questions at once, and prints one line.
#include <cio.h>
#include <cio/http.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#ifdef CONSUMER_JSON
#include <cio/http_json.h>
#endif

// Prints "consumer: <message>" and returns -1.
static int fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("consumer: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return -1;
}

// GET /hello/{name}
static int hello(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)arg;
  int rc = cio_sleep(0.01); // a handler is a task: it may await
  if (rc < 0) return rc;
#ifdef CONSUMER_JSON
  json_t *v =
      json_pack("{s:s, s:s}", "hello", cio_http_param(req, "name"), "cio", cio_version_string());
  if (!v) return -ENOMEM;
  rc = cio_http_json_value(res, 200, v);
  json_decref(v);
  return rc;
#else
  char body[128];
  snprintf(body, sizeof body, "{\"hello\":\"%s\",\"cio\":\"%s\"}", cio_http_param(req, "name"),
           cio_version_string());
  return cio_http_json(res, 200, body);
#endif
}

#ifdef CONSUMER_JSON
// POST /sum with a JSON array of integers: {"sum": n}.
static int sum(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)arg;
  json_t *in;
  if (cio_http_body_json(req, res, &in) < 0) return 0; // 422 already answered
  json_int_t total = 0;
  size_t i;
  json_t *item;
  json_array_foreach(in, i, item) total += json_integer_value(item);
  json_decref(in);
  json_t *out = json_pack("{s:I}", "sum", total);
  if (!out) return -ENOMEM;
  int rc = cio_http_json_value(res, 200, out);
  json_decref(out);
  return rc;
}
#endif

struct ask {
  const char *port;    // the server's port
  const char *request; // the whole request
  char answer[1024];   // the whole response, NUL-terminated
};

// One HTTP/1.1 exchange over a plain connection (Connection: close).
static int ask(void *arg) {
  struct ask *a = arg;
  cio_sock *s;
  int rc = cio_tcp_connect(&s, "127.0.0.1", a->port);
  if (rc < 0) return rc;
  ssize_t n = cio_sock_write(s, a->request, strlen(a->request));
  size_t got = 0;
  while (n >= 0 && got < sizeof a->answer - 1) {
    n = cio_sock_read(s, a->answer + got, sizeof a->answer - 1 - got);
    if (n <= 0) break;
    got += (size_t)n;
  }
  a->answer[got] = 0;
  (void)cio_sock_close(s);
  return n < 0 ? (int)n : 0;
}

static const char *body_of(const char *answer) {
  const char *b = strstr(answer, "\r\n\r\n");
  return b ? b + 4 : "";
}

static int run(void *arg) {
  (void)arg;
  cio_http_app *app = cio_http_app_new();
  if (!app || cio_http_route(app, "GET", "/hello/{name}", hello, NULL) < 0) return -ENOMEM;
#ifdef CONSUMER_JSON
  if (cio_http_route(app, "POST", "/sum", sum, NULL) < 0) return -ENOMEM;
#endif
  cio_server *srv;
  int rc = cio_http_serve(app, "127.0.0.1", "0", NULL, &srv);
  if (rc < 0) return fail("serve: %s", cio_strerror(rc));
  char port[8];
  snprintf(port, sizeof port, "%d", cio_server_port(srv));
  struct ask q[2] = {
      {.port = port,
       .request = "GET /hello/world HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"},
#ifdef CONSUMER_JSON
      {.port = port,
       .request = "POST /sum HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                  "Content-Type: application/json\r\nContent-Length: 9\r\n\r\n[1,2,3,4]"},
#else
      {.port = port, .request = "GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"},
#endif
  };
  cio_task *t[2] = {cio_spawn(ask, &q[0]), cio_spawn(ask, &q[1])};
  if (!t[0] || !t[1]) return -ENOMEM;
  rc = cio_gather(t, 2, NULL, 0);
  int closed = cio_server_close(srv, 1);
  cio_http_app_free(app);
  if (rc < 0) return fail("request: %s", cio_strerror(rc));
  if (closed < 0) return fail("close: %s", cio_strerror(closed));
  if (strncmp(q[0].answer, "HTTP/1.1 200", 12) != 0) return fail("hello: %s", q[0].answer);
#ifdef CONSUMER_JSON
  // The program's own json_* calls: they need -ljansson on its link line.
  json_error_t err;
  json_t *hi = json_loads(body_of(q[0].answer), 0, &err);
  json_t *total = json_loads(body_of(q[1].answer), 0, &err);
  int ok = hi && total && strcmp(json_string_value(json_object_get(hi, "hello")), "world") == 0 &&
           json_integer_value(json_object_get(total, "sum")) == 10;
  json_decref(hi);
  json_decref(total);
  if (!ok) return fail("unexpected answers:\n%s\n%s", q[0].answer, q[1].answer);
#else
  if (!strstr(body_of(q[0].answer), "\"hello\":\"world\"") ||
      strncmp(q[1].answer, "HTTP/1.1 404", 12) != 0)
    return fail("unexpected answers:\n%s\n%s", q[0].answer, q[1].answer);
#endif
  return 0;
}

int main(void) {
  // The headers compiled against and the library loaded must agree.
  if (cio_version() != CIO_VERSION_NUMBER || strcmp(cio_version_string(), CIO_VERSION_STRING)) {
    fail("built with cio %s, running %s", CIO_VERSION_STRING, cio_version_string());
    return 1;
  }
  int rc = cio_run(run, NULL);
  if (rc < 0) {
    fail("%s", cio_strerror(rc));
    return 1;
  }
#ifdef CONSUMER_JSON
  const char *json = "with JSON";
#else
  const char *json = "without JSON";
#endif
  printf("consumer: ok (cio %s, %s)\n", cio_version_string(), json);
  return 0;
}
