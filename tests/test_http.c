// SPDX-License-Identifier: MIT
//
// The HTTP framework over real sockets: keep-alive, pipelining, bodies
// (Content-Length, chunked, Expect: 100-continue), HEAD, 404/405/422, the
// limits (413, 414, 431, 400, 501), a slow-loris client dropped while others
// are served, handler failures and timeouts, and many concurrent clients on
// the gather endpoint.
#include <arpa/inet.h>
#include <cio.h>
#include <cio/http.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "helpers/test.h"
#include "http/parse.h"
#ifdef CIO_HAVE_JANSSON
#include <cio/http_json.h>
#endif

static int hello(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)req, (void)arg;
  return cio_http_json(res, 200, "{\"message\":\"Hello\"}");
}
static int echo_body(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)arg;
  size_t len;
  const char *body = cio_http_body(req, &len);
  return cio_http_send(res, 200, "text/plain", body, len);
}
static int item(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)arg;
  int64_t limit;
  double ratio;
  bool flag;
  if (cio_http_query_int(req, res, "limit", 10, &limit) < 0 ||
      cio_http_query_float(req, res, "ratio", 0.5, &ratio) < 0 ||
      cio_http_query_bool(req, res, "flag", false, &flag) < 0)
    return 0; // 422 answered
  char body[128];
  snprintf(body, sizeof body, "{\"id\":%lld,\"name\":\"%s\",\"limit\":%lld}",
           (long long)cio_http_param_int(req, "id"), cio_http_query(req, "name") ?: "",
           (long long)limit);
  return cio_http_json(res, 200, body);
}
static int files(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)arg;
  return cio_http_send(res, 200, "text/plain", cio_http_param(req, "p"),
                       strlen(cio_http_param(req, "p")));
}
static int streamer(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)req, (void)arg;
  int rc = cio_http_stream_start(res, 200, "text/plain");
  for (int i = 0; rc == 0 && i < 3; i++) {
    char piece[16];
    int n = snprintf(piece, sizeof piece, "part%d;", i);
    rc = cio_http_stream_write(res, piece, (size_t)n);
    if (rc == 0) rc = cio_sleep(0.01);
  }
  static char big_piece[1500]; // a chunk too big to share a write with its size line
  memset(big_piece, 'x', sizeof big_piece);
  if (rc == 0) rc = cio_http_stream_write(res, big_piece, sizeof big_piece);
  return rc;
}
// GET /big: 1 MiB streamed in 4 KiB pieces (byte i is i*7 mod 251), each
// write awaiting a slow client; counts the handlers that ended.
static int big_streams_ended;
static int big_streamer(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)req, (void)arg;
  unsigned char piece[4096]; // per handler: a write is an await, others run meanwhile
  int rc = cio_http_stream_start(res, 200, "application/octet-stream");
  for (size_t at = 0; rc == 0 && at < (1u << 20); at += sizeof piece) {
    for (size_t i = 0; i < sizeof piece; i++) piece[i] = (unsigned char)((at + i) * 7 % 251);
    rc = cio_http_stream_write(res, piece, sizeof piece);
  }
  big_streams_ended++;
  return rc;
}
#ifdef CIO_HAVE_JANSSON
// POST /sum {"a": 1, "b": 2} -> {"sum": 3, "echo": <the name, escaped>}
static int sum(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)arg;
  json_t *in;
  if (cio_http_body_json(req, res, &in) < 0) return 0; // 422 answered
  json_t *out = json_pack("{s:I, s:O}", "sum",
                          (json_int_t)(json_integer_value(json_object_get(in, "a")) +
                                       json_integer_value(json_object_get(in, "b"))),
                          "echo", json_object_get(in, "name") ?: json_null());
  int rc = cio_http_json_value(res, 200, out);
  json_decref(out);
  json_decref(in);
  return rc;
}
#endif
// An empty body given as (NULL, 0); bad bodies are refused.
static int empty(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)req, (void)arg;
  ASSERT_EQ(cio_http_send(res, 200, "text/plain", NULL, 3), -EINVAL);
  ASSERT_EQ(cio_http_json(res, 200, NULL), -EINVAL);
  return cio_http_send(res, 200, "text/plain", NULL, 0);
}
static int fails(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)req, (void)res, (void)arg;
  return -EIO;
}
static int slow_cancelled; // set when /slow's sleep was interrupted by a cancellation
static int slow(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)req, (void)arg;
  int rc = cio_sleep(5);
  if (rc == -ECANCELED) slow_cancelled = 1;
  return rc < 0 ? rc : cio_http_json(res, 200, "{}");
}
static int sleeper(void *arg) { return cio_sleep(*(double *)arg); }
static int profile(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)arg;
  double s = 0.5;
  cio_task *t[2] = {cio_spawn(sleeper, &s), cio_spawn(sleeper, &s)};
  int rc = cio_gather(t, 2, NULL, 0);
  if (rc < 0) return rc;
  char body[128];
  snprintf(body, sizeof body, "{\"user\":{\"id\":%lld}}",
           (long long)cio_http_param_int(req, "user_id"));
  return cio_http_json(res, 200, body);
}

// Middleware: a request log (outermost) and a timing header.
struct log {
  int requests;    // requests seen
  int last_status; // status of the last one
};
static struct log request_log;
static int logger(cio_http_req *req, cio_http_res *res, cio_http_next next, void *state,
                  void *arg) {
  struct log *l = arg;
  int rc = next(req, res, state);
  l->requests++;
  l->last_status = cio_http_status(res);
  return rc;
}
static int timer(cio_http_req *req, cio_http_res *res, cio_http_next next, void *state, void *arg) {
  (void)arg;
  double t0 = cio_now();
  int rc = next(req, res, state);
  char v[32];
  snprintf(v, sizeof v, "%.6f", cio_now() - t0);
  cio_http_set_header(res, "X-Process-Time", v);
  return rc;
}

// The test app, served with these deadlines.
static cio_server *start_with(cio_http_app **app_out, char *port, double header_timeout,
                              double handler_timeout) {
  cio_http_app *app = cio_http_app_new();
  ASSERT_EQ(cio_http_use(app, logger, &request_log), 0);
  ASSERT_EQ(cio_http_use(app, timer, NULL), 0);
  ASSERT_EQ(cio_http_route(app, "GET", "/", hello, NULL), 0);
  ASSERT_EQ(cio_http_route(app, "POST", "/echo", echo_body, NULL), 0);
  ASSERT_EQ(cio_http_route(app, "GET", "/items/{id:int}", item, NULL), 0);
  ASSERT_EQ(cio_http_route(app, "GET", "/files/{p:path}", files, NULL), 0);
  ASSERT_EQ(cio_http_route(app, "GET", "/fail", fails, NULL), 0);
  ASSERT_EQ(cio_http_route(app, "GET", "/empty", empty, NULL), 0);
  ASSERT_EQ(cio_http_route(app, "GET", "/big", big_streamer, NULL), 0);
  ASSERT_EQ(cio_http_route(app, "GET", "/stream", streamer, NULL), 0);
#ifdef CIO_HAVE_JANSSON
  ASSERT_EQ(cio_http_route(app, "POST", "/sum", sum, NULL), 0);
#endif
  ASSERT_EQ(cio_http_route(app, "GET", "/slow", slow, NULL), 0);
  ASSERT_EQ(cio_http_route(app, "GET", "/user/{user_id:int}/profile", profile, NULL), 0);
  ASSERT_EQ(cio_http_route(app, "GET", "/bad/{x:wat}", hello, NULL), -EINVAL);
  cio_http_opts o = {.max_body = 1000,
                     .max_head = 2048,
                     .max_line = 256,
                     .header_timeout = header_timeout,
                     .handler_timeout = handler_timeout};
  cio_server *srv;
  ASSERT_EQ(cio_http_serve(app, "127.0.0.1", "0", &o, &srv), 0);
  snprintf(port, 8, "%d", cio_server_port(srv));
  *app_out = app;
  return srv;
}
// The test app with a handler timeout of 1 s (GET /slow: 504).
static cio_server *start(cio_http_app **app_out, char *port, double header_timeout) {
  return start_with(app_out, port, header_timeout, 1.0);
}

// Sends raw bytes, reads until the peer closes or `want` responses came.
static size_t exchange(const char *port, const char *req, size_t len, char *out, size_t cap,
                       int want) {
  cio_sock *s;
  ASSERT_EQ(cio_tcp_connect(&s, "127.0.0.1", port), 0);
  ASSERT_EQ(cio_sock_write(s, req, len), (ssize_t)len);
  size_t got = 0;
  for (;;) {
    ssize_t r = cio_sock_read(s, out + got, cap - 1 - got);
    if (r <= 0) break;
    got += (size_t)r;
    out[got] = '\0';
    int n = 0;
    for (const char *p = out; (p = strstr(p, "HTTP/1.1 ")); p++) n++;
    if (want && n >= want && strstr(out, "\r\n\r\n")) {
      // all heads arrived; bodies are small and come with them
      const char *last = out;
      for (const char *p = out; (p = strstr(p, "HTTP/1.1 ")); p++) last = p;
      const char *cl = strstr(last, "Content-Length: ");
      const char *body = strstr(last, "\r\n\r\n");
      if (cl && body && (size_t)(out + got - (body + 4)) >= (size_t)atoi(cl + 16)) break;
    }
  }
  out[got] = '\0';
  cio_sock_close(s);
  return got;
}

static int behaviour_main(void *arg) {
  (void)arg;
  cio_http_app *app;
  char port[8];
  cio_server *srv = start(&app, port, 2.0);
  static char out[65536];
  // Keep-alive and pipelining: three requests in one write, answered in order.
  const char *pipe3 = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
                      "GET /items/7?name=x%20y&limit=3 HTTP/1.1\r\nHost: a\r\n\r\n"
                      "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";
  exchange(port, pipe3, strlen(pipe3), out, sizeof out, 3);
  const char *a = strstr(out, "{\"message\":\"Hello\"}");
  const char *b = strstr(out, "{\"id\":7,\"name\":\"x y\",\"limit\":3}");
  const char *c = strstr(out, "\r\n\r\nhello");
  ASSERT(a && b && c && a < b && b < c);
  // An empty body.
  const char *e = "GET /empty HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
  exchange(port, e, strlen(e), out, sizeof out, 0);
  ASSERT_STR_CONTAINS(out, "HTTP/1.1 200 OK\r\n");
  ASSERT_STR_CONTAINS(out, "Content-Length: 0\r\n");
  // A hundred pipelined requests in one write: a hundred answers, in order.
  static char pipe100[8192];
  size_t plen = 0;
  for (int i = 0; i < 100; i++)
    plen += (size_t)snprintf(pipe100 + plen, sizeof pipe100 - plen,
                             "GET /items/%d HTTP/1.1\r\nHost: a\r\n%s\r\n", i,
                             i == 99 ? "Connection: close\r\n" : "");
  exchange(port, pipe100, plen, out, sizeof out, 0);
  const char *at = out;
  for (int i = 0; i < 100; i++) {
    char want[32];
    snprintf(want, sizeof want, "{\"id\":%d,", i);
    ASSERT((at = strstr(at, want)) != NULL);
  }
  // Chunked request body, and Expect: 100-continue.
  const char *chunked = "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n";
  exchange(port, chunked, strlen(chunked), out, sizeof out, 1);
  ASSERT_STR_CONTAINS(out, "Content-Length: 7\r\n");
  ASSERT_STR_CONTAINS(out, "\r\n\r\nabcdefg");
  const char *expect =
      "POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
  cio_sock *s;
  ASSERT_EQ(cio_tcp_connect(&s, "127.0.0.1", port), 0);
  ASSERT_EQ(cio_sock_write(s, expect, strlen(expect)), (ssize_t)strlen(expect));
  ssize_t r = cio_sock_read(s, out, sizeof out - 1);
  ASSERT(r > 0);
  out[r] = 0;
  ASSERT_STR_CONTAINS(out, "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_EQ(cio_sock_write(s, "ok", 2), 2);
  r = cio_sock_read(s, out, sizeof out - 1);
  out[r > 0 ? r : 0] = 0;
  ASSERT_STR_CONTAINS(out, "HTTP/1.1 200 OK");
  cio_sock_close(s);
  // HEAD: the head of GET, no body.
  const char *head = "HEAD / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
  size_t n = exchange(port, head, strlen(head), out, sizeof out, 0);
  ASSERT_STR_CONTAINS(out, "Content-Length: 19\r\n");
  ASSERT(strstr(out, "\r\n\r\n") + 4 == out + n);
  // FastAPI's answers.
  static const struct {
    const char *target, *detail;
  } bad_params[] = {
      {"/items/abc", "{\"detail\":[{\"type\":\"int_parsing\",\"loc\":[\"path\",\"id\"],"},
      {"/items/1?limit=lots", "\"type\":\"int_parsing\",\"loc\":[\"query\",\"limit\"]"},
      {"/items/1?ratio=half", "\"type\":\"float_parsing\",\"loc\":[\"query\",\"ratio\"]"},
      {"/items/1?flag=maybe", "\"type\":\"bool_parsing\",\"loc\":[\"query\",\"flag\"]"},
  };
  for (size_t i = 0; i < sizeof bad_params / sizeof bad_params[0]; i++) {
    char req422[128];
    int len =
        snprintf(req422, sizeof req422, "GET %s HTTP/1.1\r\nHost: a\r\n\r\n", bad_params[i].target);
    exchange(port, req422, (size_t)len, out, sizeof out, 1);
    ASSERT_STR_CONTAINS(out, "HTTP/1.1 422 ");
    ASSERT_STR_CONTAINS(out, bad_params[i].detail);
  }
  const char *e405 = "DELETE / HTTP/1.1\r\nHost: a\r\n\r\n";
  exchange(port, e405, strlen(e405), out, sizeof out, 1);
  ASSERT_STR_CONTAINS(out, "HTTP/1.1 405 ");
  ASSERT_STR_CONTAINS(out, "Allow: GET, HEAD\r\n"); // a GET route serves HEAD
  const char *e404 = "GET /nowhere HTTP/1.1\r\nHost: a\r\n\r\n";
  int before = request_log.requests;
  exchange(port, e404, strlen(e404), out, sizeof out, 1);
  ASSERT_STR_CONTAINS(out, "HTTP/1.1 404 ");
  ASSERT_STR_CONTAINS(out, "X-Process-Time: 0.0"); // middleware wraps every request
  ASSERT_EQ(request_log.requests, before + 1);
  ASSERT_EQ(request_log.last_status, 404);
  const char *path = "GET /files/a/b/c.txt HTTP/1.1\r\nHost: a\r\n\r\n";
  exchange(port, path, strlen(path), out, sizeof out, 1);
  ASSERT_STR_CONTAINS(out, "\r\n\r\na/b/c.txt");
  // A streamed (chunked) response, then the connection is reused.
  const char *st2 = "GET /stream HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
  exchange(port, st2, strlen(st2), out, sizeof out, 2);
  ASSERT_STR_CONTAINS(out, "Transfer-Encoding: chunked\r\n");
  ASSERT_STR_CONTAINS(out, "\r\n\r\n6\r\npart0;\r\n6\r\npart1;\r\n6\r\npart2;\r\n5dc\r\nxxx");
  const char *big_end = strstr(out, "5dc\r\n") + 5;
  ASSERT_EQ(strspn(big_end, "x"), 1500);
  ASSERT(strncmp(big_end + 1500, "\r\n0\r\n\r\nHTTP/1.1 200", 19) == 0);
  // Handler failures: 500 with a JSON error, and the server keeps serving.
  const char *f500 = "GET /fail HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
  exchange(port, f500, strlen(f500), out, sizeof out, 2);
  ASSERT_STR_CONTAINS(out, "HTTP/1.1 500 ");
  ASSERT_STR_CONTAINS(out, "\"detail\":\"internal error: Input/output error\"");
  ASSERT_STR_CONTAINS(out, "{\"message\":\"Hello\"}");
  const char *t504 = "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n";
  double t0 = cio_now();
  exchange(port, t504, strlen(t504), out, sizeof out, 1);
  ASSERT_STR_CONTAINS(out, "HTTP/1.1 504 ");
  ASSERT_BETWEEN(cio_now() - t0, 0.9, 3.0);
  // A client that disconnects cancels its handler.
  ASSERT_EQ(slow_cancelled, 0);
  ASSERT_EQ(cio_tcp_connect(&s, "127.0.0.1", port), 0);
  ASSERT_EQ(cio_sock_write(s, t504, strlen(t504)), (ssize_t)strlen(t504));
  ASSERT_EQ(cio_sleep(0.05), 0);
  cio_sock_close(s);
  t0 = cio_now();
  while (!slow_cancelled && cio_now() - t0 < 2) ASSERT_EQ(cio_sleep(0.01), 0);
  ASSERT_EQ(slow_cancelled, 1);
  ASSERT(cio_now() - t0 < 0.5);
  // A client that half-closes after its request (HTTP/1.0 style, `nc -N`)
  // still gets the answer of a handler that finishes, then the close; one
  // whose handler awaits gets it cancelled (as a client that left) and no
  // answer.  (Whether the answer says Connection: close depends on whether
  // the server saw the FIN before answering: both are right.)
  const char *hello1 = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  ASSERT_EQ(cio_tcp_connect(&s, "127.0.0.1", port), 0);
  ASSERT_EQ(cio_sock_write(s, hello1, strlen(hello1)), (ssize_t)strlen(hello1));
  ASSERT_EQ(cio_sock_shutdown(s, SHUT_WR), 0);
  n = 0;
  while ((r = cio_sock_read(s, out + n, sizeof out - 1 - n)) > 0) n += (size_t)r;
  out[n] = 0;
  ASSERT_EQ(r, 0); // then closed
  ASSERT_STR_CONTAINS(out, "HTTP/1.1 200 OK\r\n");
  ASSERT_STR_CONTAINS(out, "\r\n\r\n{\"message\":\"Hello\"}");
  ASSERT(!strstr(strstr(out, "HTTP/1.1 ") + 1, "HTTP/1.1 ")); // one answer
  cio_sock_close(s);
  slow_cancelled = 0;
  ASSERT_EQ(cio_tcp_connect(&s, "127.0.0.1", port), 0);
  ASSERT_EQ(cio_sock_write(s, t504, strlen(t504)), (ssize_t)strlen(t504));
  ASSERT_EQ(cio_sock_shutdown(s, SHUT_WR), 0);
  t0 = cio_now();
  r = cio_sock_read(s, out, sizeof out - 1);
  ASSERT_EQ(r, 0); // closed without an answer
  ASSERT(cio_now() - t0 < 0.9);
  ASSERT_EQ(slow_cancelled, 1);
  cio_sock_close(s);
  ASSERT_EQ(cio_server_close(srv, 1), 0);
  cio_http_app_free(app);
  return 0;
}
static void keepalive_pipelining_bodies_and_errors(void) {
  ASSERT_EQ(cio_run(behaviour_main, NULL), 0);
}

static int limits_main(void *arg) {
  (void)arg;
  cio_http_app *app;
  char port[8];
  cio_server *srv = start(&app, port, 0.3);
  static char out[65536], big[8192];
  struct {
    const char *req;  // what is sent
    const char *want; // status line expected
  } cases[] = {
      {"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n", "HTTP/1.1 413 "},
      {"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: "
       "chunked\r\n\r\nhello",
       "HTTP/1.1 400 "},
      {"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", "HTTP/1.1 501 "},
      {"GET / HTTP/1.1\nHost: a\n\n", "HTTP/1.1 400 "},
      {"GET / HTTP/3.0\r\nHost: a\r\n\r\n", "HTTP/1.1 505 "},
      {"POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\nContent-Length: 2\r\n\r\nhi",
       "HTTP/1.1 417 Expectation Failed"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    exchange(port, cases[i].req, strlen(cases[i].req), out, sizeof out, 0);
    if (!strstr(out, cases[i].want)) test_fail(__FILE__, __LINE__, "case %zu: %s", i, out);
  }
  // 414: a long target; 431: too many header bytes; 413: chunked too long.
  int n = snprintf(big, sizeof big, "GET /");
  while (n < 400) big[n++] = 'a';
  n += snprintf(big + n, sizeof big - (size_t)n, " HTTP/1.1\r\nHost: a\r\n\r\n");
  exchange(port, big, (size_t)n, out, sizeof out, 0);
  ASSERT_STR_CONTAINS(out, "HTTP/1.1 414 ");
  n = snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: a\r\n");
  while (n < 3000) n += snprintf(big + n, sizeof big - (size_t)n, "X-Pad: %050d\r\n", n);
  n += snprintf(big + n, sizeof big - (size_t)n, "\r\n");
  exchange(port, big, (size_t)n, out, sizeof out, 0);
  ASSERT_STR_CONTAINS(out, "HTTP/1.1 431 ");
  n = snprintf(big, sizeof big,
               "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
  for (int k = 0; k < 3; k++) {
    n += snprintf(big + n, sizeof big - (size_t)n, "200\r\n");
    memset(big + n, 'z', 512);
    n += 512;
    n += snprintf(big + n, sizeof big - (size_t)n, "\r\n");
  }
  n += snprintf(big + n, sizeof big - (size_t)n, "0\r\n\r\n");
  exchange(port, big, (size_t)n, out, sizeof out, 0);
  ASSERT_STR_CONTAINS(out, "HTTP/1.1 413 ");
  // A chunk announced bigger than max_body: 413 at its size line, not 408
  // after waiting for bytes that would be refused anyway.
  const char *huge = "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "100000\r\nabc";
  exchange(port, huge, strlen(huge), out, sizeof out, 0);
  ASSERT_STR_CONTAINS(out, "HTTP/1.1 413 ");
  // Slow loris: half a head, then nothing; dropped at the header timeout
  // (0.3 s here) while another client is served meanwhile.
  cio_sock *loris;
  ASSERT_EQ(cio_tcp_connect(&loris, "127.0.0.1", port), 0);
  ASSERT_EQ(cio_sock_write(loris, "GET / HTTP/1.1\r\nHo", 18), 18);
  const char *get = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  exchange(port, get, strlen(get), out, sizeof out, 1);
  ASSERT_STR_CONTAINS(out, "{\"message\":\"Hello\"}");
  double t0 = cio_now();
  ssize_t r;
  size_t got = 0;
  while ((r = cio_sock_read(loris, out + got, sizeof out - 1 - got)) > 0) got += (size_t)r;
  out[got] = 0;
  ASSERT_EQ(r, 0); // closed by the server
  ASSERT_STR_CONTAINS(out, "HTTP/1.1 408 ");
  ASSERT(cio_now() - t0 < 2.0);
  cio_sock_close(loris);
  ASSERT_EQ(cio_server_close(srv, 1), 0);
  cio_http_app_free(app);
  return 0;
}
static void limits_and_slow_loris(void) { ASSERT_EQ(cio_run(limits_main, NULL), 0); }

struct client {
  const char *port; // server
  double took;      // seconds for the answer
  int ok;           // answered correctly
};
static int profile_client(void *arg) {
  struct client *c = arg;
  char buf[1024];
  cio_sock *s;
  double t0 = cio_now();
  int rc = cio_tcp_connect(&s, "127.0.0.1", c->port);
  if (rc < 0) return rc;
  const char *req = "GET /user/5/profile HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
  if (cio_sock_write(s, req, strlen(req)) < 0) rc = -EIO;
  size_t got = 0;
  ssize_t r;
  while (rc == 0 && (r = cio_sock_read(s, buf + got, sizeof buf - 1 - got)) > 0) got += (size_t)r;
  buf[got] = 0;
  cio_sock_close(s);
  c->took = cio_now() - t0;
  c->ok = strstr(buf, "200 OK") && strstr(buf, "{\"user\":{\"id\":5}}");
  return rc;
}
static int concurrency_main(void *arg) {
  int n = *(int *)arg;
  cio_http_app *app;
  char port[8];
  cio_server *srv = start(&app, port, 5.0);
  struct client *c = calloc((size_t)n, sizeof *c);
  cio_task **t = calloc((size_t)n, sizeof *t);
  for (int i = 0; i < n; i++) {
    c[i] = (struct client){port, 0, 0};
    t[i] = cio_spawn(profile_client, &c[i]);
  }
  ASSERT_EQ(cio_gather(t, (size_t)n, NULL, 0), 0);
  double worst = 0, best = 1e9;
  for (int i = 0; i < n; i++) {
    ASSERT(c[i].ok);
    if (c[i].took > worst) worst = c[i].took;
    if (c[i].took < best) best = c[i].took;
  }
  printf("  %d concurrent clients on the gather endpoint, answers in %.3f-%.3f s\n", n, best,
         worst);
  // Each answer gathers two 0.5 s fetches: ~0.5 s; one after the other
  // takes 1 s however idle the machine.
  ASSERT(best < 1.0);
  // And none left out: a SYN dropped by a full accept queue is sent again
  // after 1 s, so its answer takes 1.5 s.  The margin below that is for a
  // loaded machine (1.33 s seen under ctest -j2, when the bound was 1 s).
  ASSERT(worst < 1.45);
  ASSERT_EQ(cio_server_close(srv, 1), 0);
  cio_http_app_free(app);
  free(c);
  free(t);
  return 0;
}
static void thousand_clients_on_profile(void) {
  int n = (int)(1000 * test_scale());
  if (n < 10) n = 10;
  ASSERT_EQ(cio_run(concurrency_main, &n), 0);
}

// Resets at random points: 2,000 clients (scaled), 200 at a time, each send
// a random prefix of a request (some with bodies, chunked, pipelined, or on
// the slow route), maybe read a little, and reset the connection (SO_LINGER
// 0) after a random pause.  The server takes no SIGPIPE (it would kill the
// test), answers a normal request afterwards, and closes every connection
// (the runner fails a case that leaves a descriptor open).
// A client of the stress tests below: its index seeds its choices.
struct wave_client {
  const char *port;
  uint64_t seed;
  int complete; // read a whole answer
};

// Runs fn for clients 0..n-1 of the server on `port`, `wave` at a time (at
// most 200), and returns how many of them read a whole answer.
static int run_in_waves(const char *port, int n, int wave, cio_fn fn) {
  struct wave_client c[200];
  cio_task *t[200];
  ASSERT(wave <= 200);
  int complete = 0;
  for (int done = 0; done < n; done += wave) {
    int k = n - done < wave ? n - done : wave;
    for (int i = 0; i < k; i++) {
      c[i] = (struct wave_client){port, (uint64_t)(done + i), 0};
      ASSERT(t[i] = cio_spawn(fn, &c[i]));
    }
    ASSERT_EQ(cio_gather(t, (size_t)k, NULL, 0), 0);
    for (int i = 0; i < k; i++) complete += c[i].complete;
  }
  return complete;
}

// The end of each stress test: the server still answers, then closes.
static void answers_then_closes(cio_server *srv, cio_http_app *app, const char *port) {
  static char out[4096];
  const char *hello = "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
  exchange(port, hello, strlen(hello), out, sizeof out, 1);
  ASSERT_STR_CONTAINS(out, "HTTP/1.1 200 OK\r\n");
  ASSERT_STR_CONTAINS(out, "{\"message\":\"Hello\"}");
  ASSERT_EQ(cio_server_close(srv, 2), 0);
  cio_http_app_free(app);
}

static const char *const storm_requests[] = {
    "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789",
    "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET /stream HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
    "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
};
static int reset_client(void *arg) {
  struct wave_client *c = arg;
  uint64_t x = c->seed * 0x9E3779B97F4A7C15ull + 1;
  x ^= x >> 29;
  const char *req = storm_requests[x % (sizeof storm_requests / sizeof *storm_requests)];
  size_t cut = (size_t)((x >> 8) % (strlen(req) + 1));
  cio_sock *s;
  ASSERT_EQ(cio_tcp_connect(&s, "127.0.0.1", c->port), 0);
  if (cut) ASSERT_EQ(cio_sock_write(s, req, cut), (ssize_t)cut);
  double pause = (double)((x >> 20) % 20) / 1000; // 0-19 ms
  if (pause > 0) ASSERT_EQ(cio_sleep(pause), 0);
  if ((x >> 32) & 1) { // read a little of whatever came back
    char buf[64];
    cio_scope scope;
    ASSERT_EQ(cio_timeout_begin(&scope, 0.005), 0);
    ssize_t r = cio_sock_read(s, buf, sizeof buf); // data, 0, or -ETIMEDOUT
    ASSERT(r >= 0 || r == -ETIMEDOUT || r == -ECONNRESET);
    (void)cio_scope_end(&scope);
  }
  struct linger lg = {1, 0}; // close with RST
  ASSERT_EQ(setsockopt(cio_sock_fd(s), SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
  ASSERT_EQ(cio_sock_close(s), 0);
  return 0;
}
static int resets_main(void *arg) {
  int n = *(int *)arg;
  cio_http_app *app;
  char port[8];
  cio_server *srv = start(&app, port, 5.0);
  run_in_waves(port, n, 200, reset_client);
  answers_then_closes(srv, app, port);
  printf("  %d connections reset at random points; the server answers after them\n", n);
  return 0;
}
static void resets_at_random_points(void) {
  int n = (int)(2000 * test_scale());
  if (n < 50) n = 50;
  ASSERT_EQ(cio_run(resets_main, &n), 0);
}

// Clients that give up: 400 well-formed requests (scaled), 100 at a time,
// on routes that answer at once, stream, echo a body, gather two 0.5 s
// fetches or overrun the handler timeout; each client waits a random 0-0.7 s
// for its answer and otherwise hangs up.  Every answer read to the end is
// the right one, the server survives, answers afterwards and leaves no
// descriptor open.
static int impatient_client(void *arg) {
  struct wave_client *c = arg;
  uint64_t x = c->seed * 0x9E3779B97F4A7C15ull + 7;
  x ^= x >> 31;
  static const char *const reqs[][2] = {
      {"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "{\"message\":\"Hello\"}"},
      {"GET /items/42 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "{\"id\":42,"},
      {"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nConnection: close\r\n\r\nabcdef",
       "\r\n\r\nabcdef"},
      {"GET /stream HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "part2;"},
      {"GET /user/3/profile HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
       "{\"user\":{\"id\":3}}"},
      {"GET /slow HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "HTTP/1.1 504 "},
  };
  const char *const *r = reqs[x % 6];
  cio_sock *s;
  ASSERT_EQ(cio_tcp_connect(&s, "127.0.0.1", c->port), 0);
  ASSERT_EQ(cio_sock_write(s, r[0], strlen(r[0])), (ssize_t)strlen(r[0]));
  char buf[4096];
  size_t got = 0;
  ssize_t n = 0;
  cio_scope scope;
  ASSERT_EQ(cio_timeout_begin(&scope, (double)((x >> 8) % 700) / 1000), 0);
  while (got < sizeof buf - 1 && (n = cio_sock_read(s, buf + got, sizeof buf - 1 - got)) > 0)
    got += (size_t)n;
  (void)cio_scope_end(&scope);
  buf[got] = '\0';
  if (n == 0) { // the whole answer, then the close
    c->complete = 1;
    ASSERT_STR_CONTAINS(buf, r[1]);
  } else {
    ASSERT(n == -ETIMEDOUT);
  }
  ASSERT_EQ(cio_sock_close(s), 0);
  return 0;
}
static int impatient_main(void *arg) {
  int n = *(int *)arg;
  cio_http_app *app;
  char port[8];
  cio_server *srv = start(&app, port, 5.0);
  int complete = run_in_waves(port, n, 100, impatient_client);
  answers_then_closes(srv, app, port);
  printf("  %d clients, %d read a whole answer, the others hung up\n", n, complete);
  ASSERT(complete > n / 4 && complete < n);
  return 0;
}
static void clients_that_give_up(void) {
  int n = (int)(400 * test_scale());
  if (n < 30) n = 30;
  ASSERT_EQ(cio_run(impatient_main, &n), 0);
}

// Streaming to slow and vanishing readers: clients of /big (1 MiB in 4 KiB
// pieces) that read it all slowly get every byte exactly (chunked coding
// decoded); clients that read part of it, or nothing, and hang up end their
// handler (its writes fail) instead of leaving it blocked; all at once.
struct big_reader {
  const char *port;
  int kind; // 0: read it all, slowly; 1: read ~100 KiB then hang up; 2: hang up at once
};
static int big_client(void *arg) {
  struct big_reader *c = arg;
  cio_sock *s;
  ASSERT_EQ(cio_tcp_connect(&s, "127.0.0.1", c->port), 0);
  const char *req = "GET /big HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(cio_sock_write(s, req, strlen(req)), (ssize_t)strlen(req));
  if (c->kind == 2) return cio_sock_close(s);
  size_t cap = (2u << 20), got = 0;
  char *buf = malloc(cap);
  ASSERT(buf);
  ssize_t n;
  while (got < cap &&
         (n = cio_sock_read(s, buf + got, cap - got > 16384 ? 16384 : cap - got)) > 0) {
    got += (size_t)n;
    if (c->kind == 1 && got > 100000) break;
    if (got % 65536 < (size_t)n) ASSERT_EQ(cio_sleep(0.001), 0); // a slow reader
  }
  ASSERT_EQ(cio_sock_close(s), 0);
  if (c->kind == 0) {
    char *body = strstr(buf, "\r\n\r\n");
    ASSERT(body && strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
    body += 4;
    cio__http_chunked d = {0};
    size_t len = got - (size_t)(body - buf), used = 0;
    ASSERT_EQ(cio__http_chunked_decode(&d, body, &len, &used), 1); // decoded in place, to the end
    ASSERT_EQ(len, (size_t)1 << 20);
    for (size_t i = 0; i < len; i++)
      ASSERT_EQ((unsigned char)body[i], (unsigned char)(i * 7 % 251));
  }
  free(buf);
  return 0;
}
static int big_main(void *arg) {
  (void)arg;
  cio_http_app *app;
  char port[8];
  // The streams take what the readers' pace and the machine's load make
  // them take: no handler timeout cuts them short (that case is
  // a_stream_cut_short_is_never_complete).
  cio_server *srv = start_with(&app, port, 5.0, 0);
  enum { N = 12 };
  struct big_reader c[N];
  cio_task *t[N];
  big_streams_ended = 0;
  for (int i = 0; i < N; i++) {
    c[i] = (struct big_reader){port, i % 3};
    ASSERT(t[i] = cio_spawn(big_client, &c[i]));
  }
  ASSERT_EQ(cio_gather(t, N, NULL, 0), 0);
  double t0 = cio_now();
  while (big_streams_ended < N && cio_now() - t0 < 10) ASSERT_EQ(cio_sleep(0.01), 0);
  ASSERT_EQ(big_streams_ended, N); // every handler ended, none left blocked on a write
  answers_then_closes(srv, app, port);
  return 0;
}
static void streaming_to_slow_and_vanishing_readers(void) { ASSERT_EQ(cio_run(big_main, NULL), 0); }

// Real clients: Python's http.client and httpx (tests/http_clients.py), and
// curl, run as subprocesses against the server.
struct run_result {
  int code;       // exit code
  char out[4096]; // what it printed
};
static void run_program(char *const argv[], struct run_result *r) {
  cio_process *p;
  cio_process_opts o = {.pipe_stdout = true};
  ASSERT_EQ(cio_process_spawn(&p, argv[0], argv, &o), 0);
  size_t got = 0;
  ssize_t n;
  while ((n = cio_stream_read(cio_process_stdout(p), r->out + got, sizeof r->out - 1 - got)) > 0)
    got += (size_t)n;
  r->out[got] = 0;
  ASSERT_EQ(cio_process_wait(p, &r->code), 0);
  ASSERT_EQ(cio_process_free(p), 0);
}
static int clients_main(void *arg) {
  (void)arg;
  cio_http_app *app;
  char port[8];
  cio_server *srv = start(&app, port, 5.0);
  struct run_result r;
  char *py[] = {"/usr/bin/python3", CIO_SOURCE_DIR "/tests/http_clients.py", port, NULL};
  run_program(py, &r);
  if (r.code != 0) test_fail(__FILE__, __LINE__, "python clients: %s", r.out);
  ASSERT_STR_CONTAINS(r.out, "ok 16 checks");
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%s/user/4/profile", port);
  char *curl[] = {"curl", "-s", "-i", url, NULL};
  run_program(curl, &r);
  ASSERT_EQ(r.code, 0);
  ASSERT_STR_CONTAINS(r.out, "HTTP/1.1 200 OK");
  ASSERT_STR_CONTAINS(r.out, "{\"user\":{\"id\":4}}");
  ASSERT_EQ(cio_server_close(srv, 1), 0);
  cio_http_app_free(app);
  return 0;
}
static void real_clients_curl_httpx_http_client(void) {
  if (access("/usr/bin/python3", X_OK) || system("/usr/bin/python3 -c 'import httpx' 2>/dev/null"))
    test_skip("needs /usr/bin/python3 with httpx (apt-get install python3-httpx)");
  if (system("curl --version >/dev/null 2>&1")) test_skip("needs curl");
  ASSERT_EQ(cio_run(clients_main, NULL), 0);
}

static int json_main(void *arg) {
  (void)arg;
#ifdef CIO_HAVE_JANSSON
  cio_http_app *app;
  char port[8];
  cio_server *srv = start(&app, port, 5.0);
  static char out[8192], req[512];
  struct {
    const char *body; // request body
    const char *want; // in the answer
  } cases[] = {
      {"{\"a\": 40, \"b\": 2, \"name\": \"q\\\"\u00e9\\n\"}",
       "{\"sum\":42,\"echo\":\"q\\\"\u00e9\\n\"}"}, // escaped again on the way out
      {"{\"a\": 1,", "\"type\":\"json_invalid\",\"loc\":[\"body\","},
      // Read as Python's json.loads reads it: not UTF-8 is FastAPI's 400;
      // the last duplicate key wins; \u0000 is kept; any value at the top;
      // too deep is 400; an integer beyond 64 bits and 1e400 (Python's
      // inf) cannot be held: json_invalid, in Jansson's words, at the
      // position Jansson stopped.
      {"{\"name\": \"\xff\xfe\"}", "HTTP/1.1 400 "},
      {"{\"a\": 1, \"a\": 40, \"b\": 2}", "{\"sum\":42,"},
      {"{\"a\": 99999999999999999999, \"b\": 2}", "\"ctx\":{\"error\":\"too big integer"},
      {"{\"name\": \"x\\u0000y\"}", "{\"sum\":0,\"echo\":\"x\\u0000y\"}"},
      {"5", "{\"sum\":0,\"echo\":null}"},
      {"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
       "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
       "There was an error parsing the body"},
      {"{\"a\": 1e400}", "\"loc\":[\"body\",11],\"msg\":\"JSON decode "
                         "error\",\"input\":{},\"ctx\":{\"error\":\"real number overflow"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int n =
        snprintf(req, sizeof req, "POST /sum HTTP/1.1\r\nHost: a\r\nContent-Length: %zu\r\n\r\n%s",
                 strlen(cases[i].body), cases[i].body);
    exchange(port, req, (size_t)n, out, sizeof out, 1);
    if (!strstr(out, cases[i].want)) test_fail(__FILE__, __LINE__, "json case %zu: %s", i, out);
  }
  ASSERT_EQ(cio_server_close(srv, 1), 0);
  cio_http_app_free(app);
#endif
  return 0;
}
static void json_bodies(void) {
#ifndef CIO_HAVE_JANSSON
  test_skip("built without Jansson: apt-get install libjansson-dev");
#endif
  ASSERT_EQ(cio_run(json_main, NULL), 0);
}

// ---------------------------------------------------------------- protocol and routing
//
// RFC 9110/9112 points and FastAPI's routing (issue 15): accessors that
// live until the handler returns, Host values, absolute-form targets,
// HTTP/1.0 Expect and keep-alive, Date and Server, bodiless statuses,
// leading empty lines, paths decoded as Starlette does, and 422 bodies that
// are always valid JSON with the input echoed whole.

// GET /acc/{a}/.../{j}: ten parameters, two query values, two headers (one
// read 2,000 times), a 4,000-byte query value; every pointer is read back
// only at the end.
static int accessors(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)arg;
  const char *one = cio_http_query(req, "one"), *two = cio_http_query(req, "two");
  const char *lng = cio_http_query(req, "long");
  const char *x1 = cio_http_header(req, "x-one"), *x2 = NULL;
  for (int i = 0; i < 2000; i++) {
    const char *again = cio_http_header(req, "X-Two");
    if (!again || (x2 && strcmp(again, x2) != 0)) return cio_http_json(res, 500, "{}");
    x2 = again;
  }
  const char *p[10];
  for (int i = 0; i < 10; i++) p[i] = cio_http_param(req, (char[]){(char)('a' + i), '\0'});
  char body[256];
  int n = snprintf(body, sizeof body, "one=%s;two=%s;long=%zu;x1=%s;x2=%s;p=", one ?: "-",
                   two ?: "-", lng ? strlen(lng) : 0, x1 ?: "-", x2 ?: "-");
  for (int i = 0; i < 10; i++)
    n += snprintf(body + n, sizeof body - (size_t)n, "%s%s", i ? "," : "", p[i] ?: "-");
  return cio_http_send(res, 200, "text/plain", body, (size_t)n);
}
static int host_echo(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)arg;
  const char *h = cio_http_header(req, "host");
  return cio_http_send(res, 200, "text/plain", h ?: "-", strlen(h ?: "-"));
}
static int with_status(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)arg;
  return cio_http_send(res, (int)cio_http_param_int(req, "code"), "text/plain", "xyz", 3);
}
static int stream_204(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)req, (void)arg;
  int rc = cio_http_stream_start(res, 204, "text/plain");
  return rc ? rc : cio_http_stream_write(res, "xyz", 3);
}
static int str_param(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)arg;
  const char *v = cio_http_param(req, "name");
  return cio_http_send(res, 200, "text/plain", v, strlen(v));
}
// GET /qn?v=...: the value's length whole and as a C string.
static int query_n(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)arg;
  size_t n = 99;
  const char *v = cio_http_query_n(req, "v", &n);
  char body[64];
  int len = snprintf(body, sizeof body, "%zu %zu %d", n, v ? strlen(v) : 0,
                     cio_http_query(req, "v") != NULL);
  return cio_http_send(res, 200, "text/plain", body, (size_t)len);
}
// Header injection and framing headers are refused; the handler says "ok".
static int injection(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)req, (void)arg;
  ASSERT_EQ(cio_http_send(res, 200, "text/plain\r\nSet-Cookie: x=1", "a", 1), -EINVAL);
  ASSERT_EQ(cio_http_send(res, 200, "text/plain\x01", "a", 1), -EINVAL);
  ASSERT_EQ(cio_http_send(res, 42, "text/plain", "a", 1), -EINVAL);
  char long_type[200];
  memset(long_type, 'a', sizeof long_type - 1);
  long_type[sizeof long_type - 1] = '\0';
  ASSERT_EQ(cio_http_send(res, 200, long_type, "a", 1), -EINVAL); // not cut
  ASSERT_EQ(cio_http_set_header(res, "Content-Length", "1"), -EINVAL);
  ASSERT_EQ(cio_http_set_header(res, "transfer-encoding", "chunked"), -EINVAL);
  ASSERT_EQ(cio_http_set_header(res, "X-A", "a\x01"), -EINVAL);
  ASSERT_EQ(cio_http_set_header(res, "X A", "a"), -EINVAL);
  ASSERT_EQ(cio_http_set_header(res, "Server", "mine"), 0); // replaces cio's
  return cio_http_send(res, 200, "text/plain", "ok", 2);
}

static cio_server *start_proto(cio_http_app **app_out, char *port) {
  cio_http_app *app = cio_http_app_new();
  ASSERT_EQ(cio_http_route(app, "GET", "/", hello, NULL), 0);
  ASSERT_EQ(cio_http_route(app, "POST", "/echo", echo_body, NULL), 0);
  ASSERT_EQ(cio_http_route(app, "PUT", "/echo", echo_body, NULL), 0);
  ASSERT_EQ(cio_http_route(app, "GET", "/items/{id:int}", item, NULL), 0);
  ASSERT_EQ(cio_http_route(app, "GET", "/f/{x:float}", hello, NULL), 0);
  ASSERT_EQ(cio_http_route(app, "GET", "/files/{p:path}", files, NULL), 0);
  ASSERT_EQ(cio_http_route(app, "GET", "/s/{name}", str_param, NULL), 0);
  ASSERT_EQ(cio_http_route(app, "GET", "/user/{id:int}/profile", hello, NULL), 0);
  ASSERT_EQ(
      cio_http_route(app, "GET", "/acc/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}/{j}", accessors, NULL),
      0);
  ASSERT_EQ(cio_http_route(app, "GET", "/host", host_echo, NULL), 0);
  ASSERT_EQ(cio_http_route(app, "GET", "/status/{code:int}", with_status, NULL), 0);
  ASSERT_EQ(cio_http_route(app, "GET", "/stream204", stream_204, NULL), 0);
  ASSERT_EQ(cio_http_route(app, "GET", "/inject", injection, NULL), 0);
  ASSERT_EQ(cio_http_route(app, "GET", "/qn", query_n, NULL), 0);
  // Patterns that cannot be served as written are refused, not cut.
  ASSERT_EQ(cio_http_route(app, "GET", "/a//b", hello, NULL), -EINVAL);
  ASSERT_EQ(cio_http_route(app, "GET", "/{p:path}/x", hello, NULL), -EINVAL);
  ASSERT_EQ(cio_http_route(app, "GET", "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17", hello, NULL),
            -EINVAL);
  cio_http_opts o = {.max_line = 65536, .max_head = 131072, .header_timeout = 5};
  cio_server *srv;
  ASSERT_EQ(cio_http_serve(app, "127.0.0.1", "0", &o, &srv), 0);
  snprintf(port, 8, "%d", cio_server_port(srv));
  *app_out = app;
  return srv;
}

// One request on its own connection (closed by the server after it).
static char *ask(const char *port, const char *req) {
  static char out[1 << 18];
  exchange(port, req, strlen(req), out, sizeof out, 0);
  return out;
}
static char *get(const char *port, const char *target) {
  static char req[1 << 17];
  snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", target);
  return ask(port, req);
}
static const char *body_of(const char *answer) {
  const char *b = strstr(answer, "\r\n\r\n");
  return b ? b + 4 : "";
}

static int accessors_main(void *arg) {
  (void)arg;
  cio_http_app *app;
  char port[8];
  cio_server *srv = start_proto(&app, port);
  static char req[8192];
  int n = snprintf(req, sizeof req, "GET /acc/1/2/3/4/5/6/7/8/9/10?one=first&two=second&long=");
  for (int i = 0; i < 4000; i++) req[n++] = 'x';
  snprintf(req + n, sizeof req - (size_t)n,
           " HTTP/1.1\r\nHost: a\r\nX-One: uno\r\nX-Two: dos\r\nConnection: close\r\n\r\n");
  char *out = ask(port, req);
  ASSERT_STR_CONTAINS(out, "HTTP/1.1 200 ");
  ASSERT_STR_CONTAINS(out, "\r\n\r\none=first;two=second;long=4000;x1=uno;x2=dos;p=1,2,3,4,5,6,7,"
                           "8,9,10");
  ASSERT_EQ(cio_server_close(srv, 1), 0);
  cio_http_app_free(app);
  return 0;
}
static void accessors_live_until_the_handler_returns(void) {
  ASSERT_EQ(cio_run(accessors_main, NULL), 0);
}

static int hosts_main(void *arg) {
  (void)arg;
  cio_http_app *app;
  char port[8];
  cio_server *srv = start_proto(&app, port);
  static const char *const bad[] = {"a b", "a@b", "a/b", "a:b", "[::1", "a\\b", "a?b", "a#b"};
  static const char *const good[] = {"a", "example.com:8080", "[::1]:80", "127.0.0.1", ""};
  char req[256];
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    snprintf(req, sizeof req, "GET /host HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
             bad[i]);
    char *out = ask(port, req);
    if (!strstr(out, "HTTP/1.1 400 ")) test_fail(__FILE__, __LINE__, "Host: %s: %s", bad[i], out);
  }
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    snprintf(req, sizeof req, "GET /host HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
             good[i]);
    char *out = ask(port, req);
    if (!strstr(out, "HTTP/1.1 200 ") || strcmp(body_of(out), *good[i] ? good[i] : "") != 0)
      test_fail(__FILE__, __LINE__, "Host: %s: %s", good[i], out);
  }
  ASSERT_EQ(cio_server_close(srv, 1), 0);
  cio_http_app_free(app);
  return 0;
}
static void host_values_are_validated(void) { ASSERT_EQ(cio_run(hosts_main, NULL), 0); }

static int absolute_main(void *arg) {
  (void)arg;
  cio_http_app *app;
  char port[8];
  cio_server *srv = start_proto(&app, port);
  char *out =
      ask(port, "GET http://x/user/1/profile HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  ASSERT_STR_CONTAINS(out, "HTTP/1.1 200 ");
  out = ask(port, "GET http://x/items/7?name=q HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  ASSERT_STR_CONTAINS(out, "{\"id\":7,\"name\":\"q\",\"limit\":10}");
  // The authority replaces the Host header (RFC 9112 §3.2.2).
  out = ask(port, "GET HTTP://example.org:8080/host HTTP/1.1\r\nHost: other\r\nConnection: "
                  "close\r\n\r\n");
  ASSERT_EQ(strcmp(body_of(out), "example.org:8080"), 0);
  out = ask(port, "GET http://example.org HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  ASSERT_STR_CONTAINS(out, "{\"message\":\"Hello\"}"); // an empty path is "/"
  out = ask(port, "GET http://u@x/ HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  ASSERT_STR_CONTAINS(out, "HTTP/1.1 400 ");
  out = ask(port, "OPTIONS * HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  ASSERT_STR_CONTAINS(out, "HTTP/1.1 400 ");
  ASSERT_EQ(cio_server_close(srv, 1), 0);
  cio_http_app_free(app);
  return 0;
}
static void absolute_form_targets_are_routed(void) { ASSERT_EQ(cio_run(absolute_main, NULL), 0); }

static int http10_main(void *arg) {
  (void)arg;
  cio_http_app *app;
  char port[8];
  cio_server *srv = start_proto(&app, port);
  static char out[8192];
  // Expect: 100-continue in HTTP/1.0: no 100 before the body is sent.
  cio_sock *s;
  ASSERT_EQ(cio_tcp_connect(&s, "127.0.0.1", port), 0);
  const char *head = "POST /echo HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
  ASSERT_EQ(cio_sock_write(s, head, strlen(head)), (ssize_t)strlen(head));
  cio_scope scope;
  ASSERT_EQ(cio_timeout_begin(&scope, 0.3), 0);
  ssize_t r = cio_sock_read(s, out, sizeof out - 1);
  ASSERT_EQ(cio_scope_end(&scope), -ETIMEDOUT);
  ASSERT_EQ(r, -ETIMEDOUT); // nothing came: no "100 Continue"
  ASSERT_EQ(cio_sock_write(s, "ok", 2), 2);
  size_t got = 0;
  while ((r = cio_sock_read(s, out + got, sizeof out - 1 - got)) > 0) got += (size_t)r;
  out[got] = '\0';
  ASSERT(strncmp(out, "HTTP/1.1 200 OK\r\n", 17) == 0);
  ASSERT(strstr(out, "\r\n\r\nok"));
  cio_sock_close(s);
  ASSERT_EQ(cio_server_close(srv, 1), 0);
  cio_http_app_free(app);
  return 0;
}
static void http10_expect_continue_is_ignored(void) { ASSERT_EQ(cio_run(http10_main, NULL), 0); }

static int keep_alive10_main(void *arg) {
  (void)arg;
  cio_http_app *app;
  char port[8];
  cio_server *srv = start_proto(&app, port);
  static char out[8192];
  cio_sock *s;
  ssize_t r;
  size_t got;
  // Keep-alive in HTTP/1.0 is said in the answer, and then honoured.
  ASSERT_EQ(cio_tcp_connect(&s, "127.0.0.1", port), 0);
  const char *ka = "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
  ASSERT_EQ(cio_sock_write(s, ka, strlen(ka)), (ssize_t)strlen(ka));
  got = 0;
  while (!strstr(out, "\"Hello\"}") &&
         (r = cio_sock_read(s, out + got, sizeof out - 1 - got)) > 0) {
    got += (size_t)r;
    out[got] = '\0';
  }
  ASSERT_STR_CONTAINS(out, "HTTP/1.1 200 OK\r\n");
  ASSERT_STR_CONTAINS(out, "Connection: keep-alive\r\n");
  const char *again = "GET / HTTP/1.0\r\n\r\n"; // no keep-alive: closed after it
  ASSERT_EQ(cio_sock_write(s, again, strlen(again)), (ssize_t)strlen(again));
  got = 0;
  while ((r = cio_sock_read(s, out + got, sizeof out - 1 - got)) > 0) got += (size_t)r;
  out[got] = '\0';
  ASSERT_STR_CONTAINS(out, "HTTP/1.1 200 OK\r\n");
  ASSERT_STR_CONTAINS(out, "Connection: close\r\n");
  cio_sock_close(s);
  ASSERT_EQ(cio_server_close(srv, 1), 0);
  cio_http_app_free(app);
  return 0;
}
static void http10_keep_alive_is_said(void) { ASSERT_EQ(cio_run(keep_alive10_main, NULL), 0); }

// The head of the answer at `at`, as a NUL-terminated copy.
static const char *head_at(const char *at) {
  static char head[2048];
  const char *end = strstr(at, "\r\n\r\n");
  ASSERT(end && (size_t)(end - at) < sizeof head);
  memcpy(head, at, (size_t)(end - at) + 2);
  head[end - at + 2] = '\0';
  return head;
}

static int date_main(void *arg) {
  (void)arg;
  cio_http_app *app;
  char port[8];
  cio_server *srv = start_proto(&app, port);
  const char *targets[] = {"/", "/nowhere", "/items/x", "/status/201"};
  for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
    char *out = get(port, targets[i]);
    ASSERT_STR_CONTAINS(out, "\r\nServer: cio\r\n");
    const char *d = strstr(out, "\r\nDate: ");
    ASSERT(d);
    struct tm tm = {0};
    const char *end = strptime(d + 8, "%a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
    ASSERT(end && strncmp(end - 6, " GMT\r\n", 6) == 0);
    double off = difftime(timegm(&tm), time(NULL));
    ASSERT_BETWEEN(off, -3, 1);
  }
  ASSERT_STR_CONTAINS(get(port, "/inject"), "\r\nServer: mine\r\n");
  ASSERT(!strstr(get(port, "/inject"), "Server: cio"));
  ASSERT_EQ(cio_server_close(srv, 1), 0);
  cio_http_app_free(app);
  return 0;
}
static void date_and_server_on_every_answer(void) { ASSERT_EQ(cio_run(date_main, NULL), 0); }

static int bodiless_main(void *arg) {
  (void)arg;
  cio_http_app *app;
  char port[8];
  cio_server *srv = start_proto(&app, port);
  // 204, 304 (set and streamed) carry no Content-Length and no body: the
  // next answer follows their head at once.
  const char *pipe = "GET /status/204 HTTP/1.1\r\nHost: a\r\n\r\n"
                     "GET /status/304 HTTP/1.1\r\nHost: a\r\n\r\n"
                     "GET /stream204 HTTP/1.1\r\nHost: a\r\n\r\n"
                     "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
  char *out = ask(port, pipe);
  const char *at = out;
  const char *want[] = {"HTTP/1.1 204 No Content\r\n", "HTTP/1.1 304 Not Modified\r\n",
                        "HTTP/1.1 204 No Content\r\n", "HTTP/1.1 200 OK\r\n"};
  for (int i = 0; i < 4; i++) {
    if (strncmp(at, want[i], strlen(want[i])) != 0)
      test_fail(__FILE__, __LINE__, "answer %d: %s", i, at);
    const char *head = head_at(at);
    if (i < 3) {
      ASSERT(!strstr(head, "Content-Length") && !strstr(head, "Content-Type"));
      ASSERT(!strstr(head, "Transfer-Encoding"));
    }
    at = strstr(at, "\r\n\r\n") + 4;
  }
  ASSERT_EQ(strcmp(at, "{\"message\":\"Hello\"}"), 0);
  ASSERT_EQ(cio_server_close(srv, 1), 0);
  cio_http_app_free(app);
  return 0;
}
static void no_length_nor_body_on_204_and_304(void) { ASSERT_EQ(cio_run(bodiless_main, NULL), 0); }

static int crlf_main(void *arg) {
  (void)arg;
  cio_http_app *app;
  char port[8];
  cio_server *srv = start_proto(&app, port);
  char *out = ask(port, "\r\nGET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  ASSERT_STR_CONTAINS(out, "HTTP/1.1 200 OK\r\n");
  out = ask(port, "GET / HTTP/1.1\r\nHost: a\r\n\r\n\r\n"
                  "GET /items/3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  ASSERT_STR_CONTAINS(out, "{\"message\":\"Hello\"}");
  ASSERT_STR_CONTAINS(out, "{\"id\":3,");
  // A POST body followed by the CRLF some old clients add.
  out = ask(port, "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi\r\n"
                  "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  ASSERT_STR_CONTAINS(out, "\r\n\r\nhi");
  ASSERT_STR_CONTAINS(out, "{\"message\":\"Hello\"}");
  ASSERT_EQ(cio_server_close(srv, 1), 0);
  cio_http_app_free(app);
  return 0;
}
static void leading_empty_lines_are_ignored(void) { ASSERT_EQ(cio_run(crlf_main, NULL), 0); }

static int paths_main(void *arg) {
  (void)arg;
  cio_http_app *app;
  char port[8];
  cio_server *srv = start_proto(&app, port);
  static const struct {
    const char *target; // requested
    const char *status; // status line
    const char *body;   // the body, exactly, or NULL (not checked)
  } cases[] = {
      {"/", "200 ", "{\"message\":\"Hello\"}"},
      {"/%75ser/1/profile", "200 ", "{\"message\":\"Hello\"}"},
      {"/%69tems/5", "200 ", "{\"id\":5,\"name\":\"\",\"limit\":10}"},
      {"/user//profile", "404 ", NULL}, // an empty segment
      {"/items/", "404 ", NULL},
      {"/items/5/", "200 ", NULL},   // one trailing slash is let through
      {"/files/a+b", "200 ", "a+b"}, // no '+' to space in paths
      {"/files/", "200 ", ""},       // {p:path} may be empty (Starlette's ".*")
      {"/files", "404 ", NULL},
      {"/files/a%20b%2Fc", "200 ", "a b/c"},
      {"/s/a%2Fb", "404 ", NULL}, // decoded first, then routed (Starlette)
      {"/s/a%00b", "404 ", NULL}, // a NUL cannot be a C string
      {"/files/a%00b", "404 ", NULL},
      {"/s/%ff", "200 ", "\xef\xbf\xbd"}, // invalid UTF-8 becomes U+FFFD
      {"/s/%C3%A9t%C3%A9", "200 ", "\xc3\xa9t\xc3\xa9"},
      {"/items/1%00abc", "422 ", NULL}, // not 200 with id 1
      {"/items/1?name=a+b%21&limit=1&limit=2", "200 ", "{\"id\":1,\"name\":\"a b!\",\"limit\":2}"},
      {"/items/1?na%6De=x", "200 ", "{\"id\":1,\"name\":\"x\",\"limit\":10}"},
      {"/items/1?limit=1%00", "422 ", NULL},
      {"/items/1?name=a%00b", "200 ", "{\"id\":1,\"name\":\"\",\"limit\":10}"}, // NULL, not "a"
      {"/qn?v=a%00b", "200 ", "3 1 0"}, // whole through cio_http_query_n
      {"/qn?v=ab", "200 ", "2 2 1"},
      {"/qn", "200 ", "0 0 0"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *out = get(port, cases[i].target);
    char status[16];
    snprintf(status, sizeof status, "HTTP/1.1 %s", cases[i].status);
    if (strncmp(out, status, strlen(status)) != 0 ||
        (cases[i].body && strcmp(body_of(out), cases[i].body) != 0))
      test_fail(__FILE__, __LINE__, "%s: %s", cases[i].target, out);
  }
  char *out = get(port, "/items/1%00abc");
  ASSERT_STR_CONTAINS(out, "\"input\":\"1\\u0000abc\"");
  out = get(port, "/items/%ff");
  ASSERT_STR_CONTAINS(out, "\"input\":\"\xef\xbf\xbd\"");
  out = ask(port, "DELETE /echo HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  ASSERT_STR_CONTAINS(out, "HTTP/1.1 405 ");
  ASSERT_STR_CONTAINS(out, "\r\nAllow: POST, PUT\r\n");
  ASSERT_EQ(cio_server_close(srv, 1), 0);
  cio_http_app_free(app);
  return 0;
}
static void paths_decoded_and_routed_as_starlette(void) { ASSERT_EQ(cio_run(paths_main, NULL), 0); }

static int double_slash_main(void *arg) {
  (void)arg;
  cio_http_app *app;
  char port[8];
  cio_server *srv = start_proto(&app, port);
  ASSERT_STR_CONTAINS(get(port, "//nope"), "HTTP/1.1 404 "); // was served by "/"
  ASSERT_STR_CONTAINS(get(port, "//"), "HTTP/1.1 404 ");
  ASSERT_STR_CONTAINS(get(port, "//items/1"), "HTTP/1.1 404 ");
  ASSERT_STR_CONTAINS(get(port, "/"), "HTTP/1.1 200 ");
  ASSERT_EQ(cio_server_close(srv, 1), 0);
  cio_http_app_free(app);
  return 0;
}
static void double_slash_is_not_root(void) { ASSERT_EQ(cio_run(double_slash_main, NULL), 0); }

#ifdef CIO_HAVE_JANSSON
// Pieces of an input, each with what it decodes to, chosen so that no two
// neighbours make one UTF-8 character together.
static const struct {
  const char *enc; // as sent
  const char *dec; // decoded (in a path; in a query '+' is a space)
  size_t n;        //   its length
} pieces[] = {
    {"a", "a", 1},
    {"%22", "\"", 1},
    {"%5C", "\\", 1},
    {"%00", "\0", 1},
    {"%01", "\x01", 1},
    {"%0A", "\n", 1},
    {"%1f", "\x1f", 1},
    {"%7F", "\x7f", 1},
    {"%ff", "\xef\xbf\xbd", 3},
    {"%80", "\xef\xbf\xbd", 3},
    {"%C0", "\xef\xbf\xbd", 3},
    {"%c3%a9", "\xc3\xa9", 2},
    {"%E2%82%AC", "\xe2\x82\xac", 3},
    {"%F0%9F%98%80", "\xf0\x9f\x98\x80", 4},
    {"%25", "%", 1},
    {"+", "+", 1},
    {"'", "'", 1},
    {"%3C", "<", 1},
};
#define NPIECES (sizeof pieces / sizeof pieces[0])

// Asks for target, checks a 422 came whose body parses as JSON with the
// given loc and `input` equal to want[0..want_len).
static void check_422(const char *port, const char *target, const char *where, const char *name,
                      const char *want, size_t want_len) {
  char *out = get(port, target);
  if (strncmp(out, "HTTP/1.1 422 ", 13) != 0) test_fail(__FILE__, __LINE__, "%.200s", out);
  const char *body = body_of(out);
  json_error_t err;
  json_t *v = json_loads(body, JSON_ALLOW_NUL, &err);
  if (!v)
    test_fail(__FILE__, __LINE__, "invalid JSON (%s) for %.100s: %.300s", err.text, target, body);
  json_t *d = json_array_get(json_object_get(v, "detail"), 0);
  json_t *loc = json_object_get(d, "loc");
  ASSERT(json_is_string(json_object_get(d, "type")) && json_is_string(json_object_get(d, "msg")));
  ASSERT_EQ(strcmp(json_string_value(json_array_get(loc, 0)), where), 0);
  ASSERT_EQ(strcmp(json_string_value(json_array_get(loc, 1)), name), 0);
  json_t *in = json_object_get(d, "input");
  if (!json_is_string(in) || json_string_length(in) != want_len ||
      memcmp(json_string_value(in), want, want_len) != 0)
    test_fail(__FILE__, __LINE__, "input of %.100s: %zu bytes, want %zu", target,
              json_is_string(in) ? json_string_length(in) : 0, want_len);
  json_decref(v);
}

static int json422_main(void *arg) {
  (void)arg;
  cio_http_app *app;
  char port[8];
  cio_server *srv = start_proto(&app, port);
  static char target[1 << 16], want_path[1 << 15], want_query[1 << 15];
  uint64_t x = 0x9E3779B97F4A7C15ull;
  int inputs = 0;
  size_t longest = 0;
  for (int k = 0; k < 240; k++) {
    // Every piece alone, then random mixes, some over 8 KiB once decoded.
    size_t count = k < (int)NPIECES ? 1 : k % 10 == 0 ? 9000 : 1 + k % 40;
    size_t tl = 0, pl = 0, ql = 0;
    char path_t[1 << 15];
    for (size_t i = 0; i < count; i++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      size_t p = k < (int)NPIECES ? (size_t)k : (size_t)(x % NPIECES);
      size_t el = strlen(pieces[p].enc);
      if (tl + el >= 30000) break;
      memcpy(path_t + tl, pieces[p].enc, el);
      tl += el;
      memcpy(want_path + pl, pieces[p].dec, pieces[p].n);
      pl += pieces[p].n;
      memcpy(want_query + ql, pieces[p].enc[0] == '+' ? " " : pieces[p].dec, pieces[p].n);
      ql += pieces[p].n;
    }
    path_t[tl] = '\0';
    if (pl == 1 && want_path[0] >= '0' && want_path[0] <= '9') continue; // would convert
    snprintf(target, sizeof target, "/items/z%s", path_t);
    memmove(want_path + 1, want_path, pl);
    want_path[0] = 'z';
    check_422(port, target, "path", "id", want_path, pl + 1);
    snprintf(target, sizeof target, "/items/1?limit=z%s", path_t);
    memmove(want_query + 1, want_query, ql);
    want_query[0] = 'z';
    check_422(port, target, "query", "limit", want_query, ql + 1);
    inputs++;
    if (pl > longest) longest = pl;
  }
  // cio's other JSON answers parse too.
  const char *others[] = {"/nowhere", "/f/abc", "/items/1?ratio=x", "/items/1?flag=%ff"};
  for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
    json_t *v = json_loads(body_of(get(port, others[i])), 0, NULL);
    ASSERT(v);
    json_decref(v);
  }
  printf("  %d inputs (up to %zu bytes decoded), in a path and in a query: every 422 body is "
         "JSON with the input whole\n",
         inputs, longest);
  ASSERT(longest > 8192);
  ASSERT_EQ(cio_server_close(srv, 1), 0);
  cio_http_app_free(app);
  return 0;
}
#endif
static void every_422_body_is_valid_json(void) {
#ifndef CIO_HAVE_JANSSON
  test_skip("built without Jansson: apt-get install libjansson-dev");
#else
  ASSERT_EQ(cio_run(json422_main, NULL), 0);
#endif
}

static int injection_main(void *arg) {
  (void)arg;
  cio_http_app *app;
  char port[8];
  cio_server *srv = start_proto(&app, port);
  char *out = get(port, "/inject");
  ASSERT_STR_CONTAINS(out, "HTTP/1.1 200 OK\r\n");
  ASSERT(!strstr(out, "Set-Cookie"));
  ASSERT_EQ(strcmp(body_of(out), "ok"), 0);
  ASSERT_EQ(cio_server_close(srv, 1), 0);
  cio_http_app_free(app);
  return 0;
}
static void response_headers_cannot_be_injected(void) {
  ASSERT_EQ(cio_run(injection_main, NULL), 0);
}

// ---------------------------------------------------------------- lifetimes
//
// Shutdown, slow and stalled clients, error answers that must survive the
// close (issue 15): every wait of the server has a deadline, and closing
// ends within its grace.

// Reads until the peer closes, resets or `limit` seconds pass; returns the
// last read's result (0 closed, -ECONNRESET, -ETIMEDOUT) and the text in out.
static ssize_t read_all(cio_sock *s, char *out, size_t cap, double limit, size_t *got) {
  cio_scope scope;
  ASSERT_EQ(cio_timeout_begin(&scope, limit), 0);
  ssize_t r;
  *got = 0;
  while ((r = cio_sock_read(s, out + *got, cap - 1 - *got)) > 0) {
    *got += (size_t)r;
    if (*got == cap - 1) *got = 0; // keep the tail only
  }
  out[*got] = '\0';
  (void)cio_scope_end(&scope);
  return r;
}

// A plain server (cio_server_start) whose handlers write far more than a
// peer that never reads can take: one queues 16 MiB and returns (the
// server's flush then waits), the other writes and drains forever.
static int queue_and_return(cio_stream *conn, void *arg) {
  (void)arg;
  char *junk = calloc(1, 16u << 20);
  ASSERT(junk);
  int rc = cio_stream_write(conn, junk, 16u << 20);
  free(junk);
  return rc;
}
static int write_forever(cio_stream *conn, void *arg) {
  (void)arg;
  static char junk[65536];
  for (;;) {
    int rc = cio_stream_write(conn, junk, sizeof junk);
    if (rc == 0) rc = cio_stream_drain(conn);
    if (rc < 0) return rc;
  }
}
static int stalled_readers_main(void *arg) {
  (void)arg;
  cio_conn_fn fns[2] = {queue_and_return, write_forever};
  for (int k = 0; k < 2; k++) {
    cio_server *srv;
    ASSERT_EQ(cio_server_start(&srv, "127.0.0.1", "0", fns[k], NULL, NULL), 0);
    char port[8];
    snprintf(port, sizeof port, "%d", cio_server_port(srv));
    cio_sock *peer[2]; // connect and never read
    for (int i = 0; i < 2; i++) ASSERT_EQ(cio_tcp_connect(&peer[i], "127.0.0.1", port), 0);
    while (cio_server_connections(srv) < 2) ASSERT_EQ(cio_sleep(0.01), 0);
    ASSERT_EQ(cio_sleep(0.2), 0); // the handlers fill the socket buffers and wait
    double t0 = cio_now();
    ASSERT_EQ(cio_server_close(srv, 0.5), 2); // both aborted after the grace
    ASSERT_BETWEEN(cio_now() - t0, 0.45, 2.5);
    // The connections were reset (SO_LINGER 0), not left to drain: each
    // peer sees the reset once it reads what had arrived.
    for (int i = 0; i < 2; i++) {
      static char buf[1 << 16];
      size_t got;
      ASSERT_EQ(read_all(peer[i], buf, sizeof buf, 5.0, &got), -ECONNRESET);
      ASSERT_EQ(cio_sock_close(peer[i]), 0);
    }
    // A second close, and any use of the closed server, is -EINVAL (no
    // memory touched: ASan checks it).
    ASSERT_EQ(cio_server_close(srv, 0.5), -EINVAL);
    ASSERT_EQ(cio_server_port(srv), -EINVAL);
    ASSERT_EQ(cio_server_connections(srv), 0);
  }
  return 0;
}
static void server_close_aborts_peers_that_stopped_reading(void) {
  double t0 = cio_now();
  ASSERT_EQ(cio_run(stalled_readers_main, NULL), 0); // and the run ends
  (void)t0;
}

// GET /nap: answers after 0.8 s.
static int nap(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)req, (void)arg;
  int rc = cio_sleep(0.8);
  return rc < 0 ? rc : cio_http_json(res, 200, "{\"napped\":true}");
}
struct nap_client {
  const char *port;   // server
  const char *req;    // what it sends
  double send_after;  // seconds to wait before sending
  cio_sock *s;        // its connection (opened by the caller, or here)
  char out[4096];     // what it read
  ssize_t end;        // the last read's result
  double answered_at; // cio_now() at the end
};
static int nap_client(void *arg) {
  struct nap_client *c = arg;
  if (!c->s) ASSERT_EQ(cio_tcp_connect(&c->s, "127.0.0.1", c->port), 0);
  if (c->send_after > 0) ASSERT_EQ(cio_sleep(c->send_after), 0);
  ASSERT_EQ(cio_sock_write(c->s, c->req, strlen(c->req)), (ssize_t)strlen(c->req));
  size_t got;
  c->end = read_all(c->s, c->out, sizeof c->out, 10.0, &got);
  c->answered_at = cio_now();
  ASSERT_EQ(cio_sock_close(c->s), 0);
  return 0;
}

// The pattern of the old demo: main is cancelled (Ctrl-C) before it calls
// cio_server_close; the close still gives its grace, so a request in flight
// gets its whole answer, and the cancellation reaches main afterwards.
static int cancelled_closer_main(void *arg) {
  (void)arg;
  cio_http_app *app = cio_http_app_new();
  ASSERT_EQ(cio_http_route(app, "GET", "/nap", nap, NULL), 0);
  cio_server *srv;
  ASSERT_EQ(cio_http_serve(app, "127.0.0.1", "0", NULL, &srv), 0);
  char port[8];
  snprintf(port, sizeof port, "%d", cio_server_port(srv));
  struct nap_client c = {.port = port, .req = "GET /nap HTTP/1.1\r\nHost: a\r\n\r\n"};
  cio_task *t = cio_spawn(nap_client, &c);
  ASSERT_EQ(cio_sleep(0.2), 0); // the request is in flight
  cio_cancel(cio_current());    // Ctrl-C
  ASSERT_EQ(cio_sleep(1), -ECANCELED);
  double t0 = cio_now();
  ASSERT_EQ(cio_server_close(srv, 3.0), 0); // nobody had to be cancelled
  ASSERT_BETWEEN(cio_now() - t0, 0.3, 2.5);
  ASSERT_EQ(cio_sleep(0), -ECANCELED); // still cancelled
  cio_scope shield;
  ASSERT_EQ(cio_shield_begin(&shield), 0);
  ASSERT_EQ(cio_join(t), 0);
  ASSERT_EQ(cio_scope_end(&shield), 0);
  ASSERT_STR_CONTAINS(c.out, "HTTP/1.1 200 OK\r\n");
  ASSERT_STR_CONTAINS(c.out, "Connection: close\r\n"); // answered during the close
  ASSERT_STR_CONTAINS(c.out, "{\"napped\":true}");
  ASSERT_EQ(c.end, 0);
  cio_http_app_free(app);
  return 0;
}
static void server_close_gives_its_grace_to_a_cancelled_caller(void) {
  ASSERT_EQ(cio_run(cancelled_closer_main, NULL), 0); // main returned normally after the cancel
}

// Closing an HTTP server with only idle kept-alive connections ends at
// once: they are closed, not waited for until the grace ends.
static int idle_close_main(void *arg) {
  (void)arg;
  cio_http_app *app;
  char port[8];
  cio_server *srv = start(&app, port, 5.0);
  cio_sock *s;
  ASSERT_EQ(cio_tcp_connect(&s, "127.0.0.1", port), 0);
  const char *get = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  ASSERT_EQ(cio_sock_write(s, get, strlen(get)), (ssize_t)strlen(get));
  static char out[4096];
  ASSERT(cio_sock_read(s, out, sizeof out) > 0); // answered; the connection stays
  double t0 = cio_now();
  ASSERT_EQ(cio_server_close(srv, 5.0), 0); // closed, not cancelled
  ASSERT(cio_now() - t0 < 1.0);
  size_t got;
  ASSERT_EQ(read_all(s, out, sizeof out, 2.0, &got), 0);
  ASSERT_EQ(cio_sock_close(s), 0);
  cio_http_app_free(app);
  return 0;
}
static void closing_http_server_closes_idle_connections(void) {
  ASSERT_EQ(cio_run(idle_close_main, NULL), 0);
}

// cio_http_run until SIGINT, sent by another thread 0.3 s in: a request in
// flight (/nap, 0.8 s) gets its whole answer; a request that arrives on a
// kept-alive connection during the grace is answered with Connection:
// close; new connections are refused; a handler still running when the
// grace (1.5 s) ends is cancelled; then the call returns.
static void *send_sigint(void *arg) {
  (void)arg;
  usleep(300000);
  kill(getpid(), SIGINT);
  return NULL;
}
struct run_clients {
  char port[8];                 // the server's
  struct nap_client in_flight;  // /nap, sent at once
  struct nap_client kept_alive; // GET / at once, again after the signal
  struct nap_client too_slow;   // /slow (5 s), sent at once
  cio_task *t[3];               // their tasks
  int refused;                  // a connection after the signal was refused
};
static struct run_clients rc_clients;
static int kept_alive_client(void *arg) {
  struct nap_client *c = arg;
  ASSERT_EQ(cio_tcp_connect(&c->s, "127.0.0.1", c->port), 0);
  const char *get = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  ASSERT_EQ(cio_sock_write(c->s, get, strlen(get)), (ssize_t)strlen(get));
  ssize_t r = cio_sock_read(c->s, c->out, sizeof c->out - 1);
  ASSERT(r > 0);
  c->out[r] = '\0';
  ASSERT_STR_CONTAINS(c->out, "{\"message\":\"Hello\"}");
  ASSERT(!strstr(c->out, "Connection: close"));
  c->req = get;
  c->send_after = 0.4; // 0.1 s after the signal, while /nap runs
  return nap_client(c);
}
static int late_connector(void *arg) {
  struct run_clients *rc = arg;
  ASSERT_EQ(cio_sleep(0.5), 0);
  cio_sock *s;
  int r = cio_tcp_connect(&s, "127.0.0.1", rc->port);
  if (r == 0) ASSERT_EQ(cio_sock_close(s), 0);
  rc->refused = r == -ECONNREFUSED;
  return 0;
}
static void run_started(cio_server *srv, void *arg) {
  struct run_clients *rc = arg;
  snprintf(rc->port, sizeof rc->port, "%d", cio_server_port(srv));
  rc->in_flight =
      (struct nap_client){.port = rc->port, .req = "GET /nap HTTP/1.1\r\nHost: a\r\n\r\n"};
  rc->kept_alive = (struct nap_client){.port = rc->port};
  rc->too_slow =
      (struct nap_client){.port = rc->port, .req = "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n"};
  ASSERT(rc->t[0] = cio_spawn(nap_client, &rc->in_flight));
  ASSERT(rc->t[1] = cio_spawn(kept_alive_client, &rc->kept_alive));
  ASSERT(rc->t[2] = cio_spawn(nap_client, &rc->too_slow));
  cio_task *late = cio_spawn(late_connector, rc);
  ASSERT(late);
  cio_detach(late);
}
static int run_main(void *arg) {
  (void)arg;
  cio_http_app *app = cio_http_app_new();
  ASSERT_EQ(cio_http_route(app, "GET", "/", hello, NULL), 0);
  ASSERT_EQ(cio_http_route(app, "GET", "/nap", nap, NULL), 0);
  ASSERT_EQ(cio_http_route(app, "GET", "/slow", slow, NULL), 0);
  cio_http_opts o = {.shutdown_timeout = 1.5, .on_start = run_started, .on_start_arg = &rc_clients};
  pthread_t killer;
  ASSERT_EQ(pthread_create(&killer, NULL, send_sigint, NULL), 0);
  slow_cancelled = 0;
  double t0 = cio_now();
  ASSERT_EQ(cio_http_run(app, "127.0.0.1", "0", &o), 0);
  double took = cio_now() - t0;
  ASSERT_EQ(pthread_join(killer, NULL), 0);
  ASSERT_BETWEEN(took, 1.6, 4.0); // the signal at 0.3 s, then the 1.5 s grace
  cio_scope shield;               // (SIGINT may also have cancelled this task)
  ASSERT_EQ(cio_shield_begin(&shield), 0);
  for (int i = 0; i < 3; i++) ASSERT_EQ(cio_join(rc_clients.t[i]), 0);
  ASSERT_EQ(cio_scope_end(&shield), 0);
  struct nap_client *c = &rc_clients.in_flight;
  ASSERT_STR_CONTAINS(c->out, "HTTP/1.1 200 OK\r\n");
  ASSERT_STR_CONTAINS(c->out, "Connection: close\r\n");
  ASSERT_STR_CONTAINS(c->out, "{\"napped\":true}");
  ASSERT_EQ(c->end, 0);
  c = &rc_clients.kept_alive;
  ASSERT_STR_CONTAINS(c->out, "HTTP/1.1 200 OK\r\n");
  ASSERT_STR_CONTAINS(c->out, "Connection: close\r\n");
  ASSERT_STR_CONTAINS(c->out, "{\"message\":\"Hello\"}");
  ASSERT_EQ(c->end, 0);
  c = &rc_clients.too_slow;
  ASSERT_EQ(c->out[0], '\0'); // no answer: its handler was cancelled
  ASSERT(c->end == 0 || c->end == -ECONNRESET);
  ASSERT_EQ(slow_cancelled, 1);
  ASSERT(rc_clients.refused);
  cio_http_app_free(app);
  return 0;
}
static void http_run_shuts_down_gracefully_on_sigint(void) {
  int rc = cio_run(run_main, NULL);
  ASSERT(rc == 0 || rc == -ECANCELED); // whether SIGINT also cancelled main is signal.c's choice
}

// cio_http_run also ends, gracefully, when its task is cancelled.
static int run_forever(void *arg) {
  cio_http_app *app = arg;
  return cio_http_run(app, "127.0.0.1", "0", NULL);
}
static int run_cancel_main(void *arg) {
  (void)arg;
  cio_http_app *app = cio_http_app_new();
  ASSERT_EQ(cio_http_route(app, "GET", "/", hello, NULL), 0);
  cio_task *t = cio_spawn(run_forever, app);
  ASSERT_EQ(cio_sleep(0.1), 0);
  double t0 = cio_now();
  ASSERT_EQ(cio_cancel(t), 1);
  ASSERT_EQ(cio_join(t), 0);
  ASSERT(cio_now() - t0 < 1.0);
  ASSERT_EQ(cio_http_run(app, "127.0.0.1", "not-a-port", NULL), -EINVAL);
  cio_http_app_free(app);
  return 0;
}
static void http_run_ends_when_cancelled(void) { ASSERT_EQ(cio_run(run_cancel_main, NULL), 0); }

// Slow loris, bounded: a head dripped a byte every 0.1 s is answered 408
// and closed at the head's deadline (0.5 s here), although no single read
// waits that long; the same for a body under its deadline and minimum rate;
// a connection that sends nothing is closed at the header timeout too.
struct dripper {
  cio_sock *s;      // connection
  const char *text; // what to drip, a byte at a time
  int stop;         // set when the answer came
};
static int drip(void *arg) {
  struct dripper *d = arg;
  for (const char *p = d->text; *p && !d->stop; p++) {
    if (cio_sock_write(d->s, p, 1) < 0) break; // reset after the answer
    if (cio_sleep(0.1) < 0) break;
  }
  return 0;
}
static cio_server *start_short(cio_http_app **app_out, char *port, const cio_http_opts *o) {
  cio_http_app *app = cio_http_app_new();
  ASSERT_EQ(cio_http_use(app, logger, &request_log), 0);
  ASSERT_EQ(cio_http_use(app, timer, NULL), 0);
  ASSERT_EQ(cio_http_route(app, "GET", "/", hello, NULL), 0);
  ASSERT_EQ(cio_http_route(app, "POST", "/echo", echo_body, NULL), 0);
  ASSERT_EQ(cio_http_route(app, "GET", "/big", big_streamer, NULL), 0);
  cio_server *srv;
  ASSERT_EQ(cio_http_serve(app, "127.0.0.1", "0", o, &srv), 0);
  snprintf(port, 8, "%d", cio_server_port(srv));
  *app_out = app;
  return srv;
}
static int loris_main(void *arg) {
  (void)arg;
  cio_http_opts o = {.header_timeout = 0.5, .body_timeout = 0.5, .min_body_rate = 1000};
  cio_http_app *app;
  char port[8];
  cio_server *srv = start_short(&app, port, &o);
  static char pad[64];
  memset(pad, 'a', sizeof pad - 1);
  static char head[256], body_head[256];
  snprintf(head, sizeof head, "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: %s\r\n\r\n", pad);
  snprintf(body_head, sizeof body_head,
           "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n%s%s", pad, pad);
  for (int k = 0; k < 2; k++) {
    struct dripper d = {NULL, k == 0 ? head : body_head + 0, 0};
    ASSERT_EQ(cio_tcp_connect(&d.s, "127.0.0.1", port), 0);
    if (k == 1) { // the head at once, then the body dripped
      size_t hl = strstr(body_head, "\r\n\r\n") + 4 - body_head;
      ASSERT_EQ(cio_sock_write(d.s, body_head, hl), (ssize_t)hl);
      d.text = body_head + hl;
    }
    double t0 = cio_now();
    cio_task *t = cio_spawn(drip, &d);
    static char out[4096];
    size_t got;
    ssize_t end = read_all(d.s, out, sizeof out, 5.0, &got);
    double took = cio_now() - t0;
    d.stop = 1;
    ASSERT_EQ(cio_join(t), 0);
    ASSERT_EQ(end, 0); // closed by the server
    ASSERT_STR_CONTAINS(out, "HTTP/1.1 408 ");
    ASSERT_BETWEEN(took, 0.4, 1.5);
    ASSERT_EQ(cio_sock_close(d.s), 0);
  }
  // Nothing sent: closed quietly at the header timeout (not the 60 s idle one).
  cio_sock *s;
  ASSERT_EQ(cio_tcp_connect(&s, "127.0.0.1", port), 0);
  double t0 = cio_now();
  static char out[64];
  size_t got;
  ASSERT_EQ(read_all(s, out, sizeof out, 5.0, &got), 0);
  ASSERT_EQ(got, 0);
  ASSERT_BETWEEN(cio_now() - t0, 0.4, 1.5);
  ASSERT_EQ(cio_sock_close(s), 0);
  // A body that comes fast enough is not cut, however long it takes in all:
  // 3,000 bytes at ~4,000 bytes/s (0.75 s, past body_timeout).
  ASSERT_EQ(cio_tcp_connect(&s, "127.0.0.1", port), 0);
  const char *h3 = "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3000\r\n\r\n";
  ASSERT_EQ(cio_sock_write(s, h3, strlen(h3)), (ssize_t)strlen(h3));
  static char piece[200];
  memset(piece, 'b', sizeof piece);
  for (int i = 0; i < 15; i++) {
    ASSERT_EQ(cio_sock_write(s, piece, sizeof piece), (ssize_t)sizeof piece);
    ASSERT_EQ(cio_sleep(0.05), 0);
  }
  static char big[8192];
  ASSERT_EQ(read_all(s, big, sizeof big, 0.5, &got), -ETIMEDOUT); // kept alive
  ASSERT_STR_CONTAINS(big, "HTTP/1.1 200 OK\r\n");
  ASSERT_STR_CONTAINS(big, "Content-Length: 3000\r\n");
  ASSERT_EQ(cio_sock_close(s), 0);
  ASSERT_EQ(cio_server_close(srv, 1), 0);
  cio_http_app_free(app);
  return 0;
}
static void slow_loris_head_and_body_deadlines(void) { ASSERT_EQ(cio_run(loris_main, NULL), 0); }

// A client that never reads: with a send timeout of 0.5 s, a streaming
// handler's write fails and the handler is cancelled, and the connection is
// reset; the same for a large answer written after the handler returned.
static int flood_ended, flood_rc;
static int flood_stream(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)req, (void)arg;
  static char piece[16384];
  int rc = cio_http_stream_start(res, 200, "application/octet-stream");
  while (rc == 0) rc = cio_http_stream_write(res, piece, sizeof piece);
  flood_rc = rc;
  if (rc == -ETIMEDOUT) rc = cio_sleep(1); // cancelled too: this returns at once
  if (rc == -ECANCELED) flood_ended = 1;
  return rc;
}
static int huge(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)req, (void)arg;
  size_t n = 32u << 20;
  char *body = calloc(1, n);
  ASSERT(body);
  int rc = cio_http_send(res, 200, "application/octet-stream", body, n);
  free(body);
  flood_ended = 1;
  return rc;
}
static int send_timeout_main(void *arg) {
  (void)arg;
  cio_http_opts o = {.send_timeout = 0.5};
  cio_http_app *app;
  char port[8];
  cio_server *srv = start_short(&app, port, &o);
  ASSERT_EQ(cio_http_route(app, "GET", "/flood", flood_stream, NULL), 0);
  ASSERT_EQ(cio_http_route(app, "GET", "/huge", huge, NULL), 0);
  const char *reqs[] = {"GET /flood HTTP/1.1\r\nHost: a\r\n\r\n",
                        "GET /huge HTTP/1.1\r\nHost: a\r\n\r\n"};
  for (int k = 0; k < 2; k++) {
    flood_ended = 0;
    cio_sock *s;
    ASSERT_EQ(cio_tcp_connect(&s, "127.0.0.1", port), 0);
    double t0 = cio_now();
    ASSERT_EQ(cio_sock_write(s, reqs[k], strlen(reqs[k])), (ssize_t)strlen(reqs[k]));
    while (cio_server_connections(srv) == 0) ASSERT_EQ(cio_sleep(0.01), 0);
    while (cio_server_connections(srv) > 0 && cio_now() - t0 < 10) ASSERT_EQ(cio_sleep(0.02), 0);
    ASSERT_EQ(cio_server_connections(srv), 0); // the server let go of it
    ASSERT_BETWEEN(cio_now() - t0, 0.4, 5.0);
    ASSERT_EQ(flood_ended, 1);
    if (k == 0) ASSERT_EQ(flood_rc, -ETIMEDOUT);
    static char out[1 << 16];
    size_t got;
    ASSERT_EQ(read_all(s, out, sizeof out, 5.0, &got), -ECONNRESET); // reset, not closed
    ASSERT_EQ(cio_sock_close(s), 0);
  }
  ASSERT_EQ(cio_server_close(srv, 1), 0);
  cio_http_app_free(app);
  return 0;
}
static void send_timeout_resets_a_client_that_never_reads(void) {
  ASSERT_EQ(cio_run(send_timeout_main, NULL), 0);
}

// An early 413 survives a client that writes its whole 50 MB body before
// reading (as http.client and httpx do): the server closes lingering, so
// the client's writes are read and dropped instead of reset, and it reads
// the 413, in 10 of 10 tries.  (Closing at once, the client's write fails
// with a reset, which those clients report instead of the answer: 0 of 5
// for each; a client that ignored the write error would still read the
// 413 on Linux, which keeps data received before a reset readable.)  The
// middleware wraps that 413 as any other answer.
static int linger_main(void *arg) {
  (void)arg;
  cio_http_app *app;
  char port[8];
  cio_server *srv = start(&app, port, 5.0); // max_body 1000
  size_t total = 50u * 1000 * 1000, piece = 1u << 20;
  char *junk = calloc(1, piece);
  ASSERT(junk);
  int got_413 = 0, tries = 10;
  for (int i = 0; i < tries; i++) {
    cio_sock *s;
    ASSERT_EQ(cio_tcp_connect(&s, "127.0.0.1", port), 0);
    char head[128];
    int n = snprintf(head, sizeof head,
                     "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: %zu\r\n\r\n", total);
    ASSERT_EQ(cio_sock_write(s, head, (size_t)n), n);
    bool written = true;
    for (size_t sent = 0; sent < total && written; sent += piece)
      written = cio_sock_write(s, junk, total - sent < piece ? total - sent : piece) >= 0;
    static char out[4096];
    size_t got;
    (void)read_all(s, out, sizeof out, 10.0, &got);
    if (written && strstr(out, "HTTP/1.1 413 ")) {
      got_413++;
      ASSERT_STR_CONTAINS(out, "X-Process-Time: "); // the middleware ran around it
      ASSERT_EQ(request_log.last_status, 413);
    }
    ASSERT_EQ(cio_sock_close(s), 0);
  }
  free(junk);
  printf("  %d of %d clients wrote a 50 MB body whole and then read the 413\n", got_413, tries);
  ASSERT_EQ(got_413, tries);
  ASSERT_EQ(cio_server_close(srv, 1), 0);
  cio_http_app_free(app);
  return 0;
}
static void lingering_close_keeps_an_early_413(void) { ASSERT_EQ(cio_run(linger_main, NULL), 0); }

// A lingering close does not hold a graceful close for its grace: a client
// that read its 413 and goes on sending (never closing) is dropped about
// LINGER_QUIET (2 s) after the close begins, not at the end of a 30 s
// grace (it was: the close took the whole grace).
static bool trickle_stop;
static int trickle(void *arg) {
  cio_sock *s = arg;
  char junk[100] = {0};
  while (!trickle_stop && cio_sock_write(s, junk, sizeof junk) >= 0)
    if (cio_sleep(0.1) < 0) break;
  return 0;
}

static int linger_close_main(void *arg) {
  (void)arg;
  cio_http_app *app;
  char port[8];
  cio_server *srv = start(&app, port, 5.0); // max_body 1000
  cio_sock *s;
  ASSERT_EQ(cio_tcp_connect(&s, "127.0.0.1", port), 0);
  const char *head = "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\n";
  ASSERT_EQ(cio_sock_write(s, head, strlen(head)), (ssize_t)strlen(head));
  char out[2048] = "";
  size_t got = 0;
  while (!strstr(out, "\r\n\r\n") && got < sizeof out - 1) { // the 413's head
    ssize_t n = cio_sock_read(s, out + got, sizeof out - 1 - got);
    ASSERT(n > 0);
    got += (size_t)n;
    out[got] = '\0';
  }
  ASSERT_STR_CONTAINS(out, "HTTP/1.1 413 ");
  trickle_stop = false;
  cio_task *t = cio_spawn(trickle, s);
  ASSERT_EQ(cio_sleep(0.3), 0); // lingering now, the client still sending
  double t0 = cio_now();
  ASSERT_EQ(cio_server_close(srv, 30), 0);
  double took = cio_now() - t0;
  printf("  the close took %.2f s with a lingering client\n", took);
  ASSERT_BETWEEN(took, 0, 10);
  trickle_stop = true;
  ASSERT_EQ(cio_join(t), 0);
  ASSERT_EQ(cio_sock_close(s), 0);
  cio_http_app_free(app);
  return 0;
}
static void lingering_close_ends_with_the_server(void) {
  ASSERT_EQ(cio_run(linger_close_main, NULL), 0);
}

// Middleware runs around the answers the server gives itself once it has a
// request line: 413 (before the body), 408 (a slow body), 400 (bad chunked
// coding); it can read the request and change the answer.
static int middleware_errors_main(void *arg) {
  (void)arg;
  cio_http_opts o = {.max_body = 1000, .body_timeout = 0.3, .min_body_rate = 1000};
  cio_http_app *app;
  char port[8];
  cio_server *srv = start_short(&app, port, &o);
  static const struct {
    const char *req;  // sent, then nothing more
    const char *want; // status line expected
  } cases[] = {
      {"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n", "HTTP/1.1 413 "},
      {"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc", "HTTP/1.1 408 "},
      {"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
       "HTTP/1.1 400 "},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int before = request_log.requests;
    static char out[4096];
    exchange(port, cases[i].req, strlen(cases[i].req), out, sizeof out, 0);
    if (!strstr(out, cases[i].want)) test_fail(__FILE__, __LINE__, "case %zu: %s", i, out);
    ASSERT_STR_CONTAINS(out, "X-Process-Time: ");
    ASSERT_STR_CONTAINS(out, "Connection: close\r\n");
    ASSERT_EQ(request_log.requests, before + 1);
    ASSERT_EQ(request_log.last_status, atoi(cases[i].want + 9));
  }
  ASSERT_EQ(cio_server_close(srv, 1), 0);
  cio_http_app_free(app);
  return 0;
}
static void middleware_sees_the_servers_own_answers(void) {
  ASSERT_EQ(cio_run(middleware_errors_main, NULL), 0);
}

// A middleware that returns without an answer (and without calling next)
// leaves the server a 500 to send, not a status line of 0.
static int silent(cio_http_req *req, cio_http_res *res, cio_http_next next, void *state,
                  void *arg) {
  (void)req, (void)res, (void)next, (void)state, (void)arg;
  return 0;
}
static int silent_middleware_main(void *arg) {
  (void)arg;
  cio_http_app *app = cio_http_app_new();
  ASSERT_EQ(cio_http_use(app, silent, NULL), 0);
  ASSERT_EQ(cio_http_route(app, "GET", "/", hello, NULL), 0);
  cio_server *srv;
  ASSERT_EQ(cio_http_serve(app, "127.0.0.1", "0", NULL, &srv), 0);
  char port[8];
  snprintf(port, sizeof port, "%d", cio_server_port(srv));
  static char out[4096];
  const char *get = "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
  exchange(port, get, strlen(get), out, sizeof out, 0);
  ASSERT_STR_CONTAINS(out, "HTTP/1.1 500 Internal Server Error\r\n");
  ASSERT_STR_CONTAINS(out, "{\"detail\":\"Internal Server Error\"}");
  ASSERT_EQ(cio_server_close(srv, 1), 0);
  cio_http_app_free(app);
  return 0;
}
static void middleware_without_an_answer_gets_a_500(void) {
  ASSERT_EQ(cio_run(silent_middleware_main, NULL), 0);
}

// Allocation failures while serving: every allocation a workload of four
// pipelined requests makes (a head that grows the connection's buffer and
// takes the arena out of the heap, a chunked body, a copied response, a
// 422 and a 500 built as JSON, a 405's Allow list) fails in turn.  Each
// answer must then be the usual one or a 500/503, the connection may end
// early (closed or reset), and the server must answer the next request.
// Under ASan, nothing may leak.  The client is a thread with blocking
// sockets, so that it allocates nothing through cio.
static int echo_n(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)arg;
  int64_t n;
  if (cio_http_query_int(req, res, "n", 1, &n) < 0) return 0; // 422 answered
  size_t len;
  const char *body = cio_http_body(req, &len);
  return cio_http_send(res, 200, "text/plain", body, len);
}
static const int walk_want[] = {200, 422, 405, 500}; // the workload's answers, in order
struct walk {
  char port[8];    // the server's
  bool plain;      // send one GET / instead of the workload
  atomic_int done; // set by the client thread at its end
  int status[8];   // the answers' statuses, in order
  int answers;     //   how many
  bool reset;      // the connection ended with a reset, not a close
  char error[160]; // what went wrong, "" if nothing
};
// Reads the answers in buf[0..len): status lines, heads, Content-Length bodies.
static void walk_parse(struct walk *w, const char *buf, size_t len) {
  const char *p = buf, *end = buf + len;
  while (p < end && w->answers < 8) {
    const char *head_end = strstr(p, "\r\n\r\n");
    const char *cl = strstr(p, "\r\nContent-Length: ");
    if (strncmp(p, "HTTP/1.1 ", 9) != 0 || !head_end || !cl || cl > head_end) {
      snprintf(w->error, sizeof w->error, "not an answer at byte %zu: %.60s", (size_t)(p - buf), p);
      return;
    }
    w->status[w->answers++] = atoi(p + 9);
    const char *allow = strstr(p, "\r\nAllow: POST, GET, HEAD\r\n"); // a 405 names both routes
    if (w->status[w->answers - 1] == 405 && (!allow || allow > head_end)) {
      snprintf(w->error, sizeof w->error, "a 405 without its whole Allow: %.*s",
               (int)(head_end - p), p);
      return;
    }
    p = head_end + 4 + atoi(cl + 18);
  }
  if (p != end)
    snprintf(w->error, sizeof w->error, "%zu bytes after the answers", (size_t)(end - p));
}
static void *walk_client(void *arg) {
  struct walk *w = arg;
  static char pad[3000], workload[4096], buf[65536];
  memset(pad, 'x', sizeof pad - 1);
  int len = w->plain ? snprintf(workload, sizeof workload,
                                "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                     : snprintf(workload, sizeof workload,
                                "POST /echo/5?n=3 HTTP/1.1\r\nHost: a\r\nX-Pad: %s\r\n"
                                "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
                                "GET /echo/5?n=lots HTTP/1.1\r\nHost: a\r\n\r\n"
                                "DELETE /echo/5 HTTP/1.1\r\nHost: a\r\n\r\n"
                                "GET /fail HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
                                pad);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(w->port))};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct timeval tv = {20, 0}; // a hang fails the case, not the runner
  (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  size_t got = 0;
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    snprintf(w->error, sizeof w->error, "connect: %s", strerror(errno));
  } else if (send(fd, workload, (size_t)len, MSG_NOSIGNAL) != len) {
    w->reset = true; // the server may have closed at once (503, or no memory to accept)
  }
  for (ssize_t r = 1; !w->error[0] && r > 0 && got < sizeof buf;) {
    r = recv(fd, buf + got, sizeof buf - got, 0);
    if (r > 0) got += (size_t)r;
    if (r < 0 && errno == ECONNRESET)
      w->reset = true;
    else if (r < 0)
      snprintf(w->error, sizeof w->error, "recv: %s", strerror(errno));
  }
  close(fd);
  if (!w->error[0]) walk_parse(w, buf, got);
  atomic_store(&w->done, 1);
  return NULL;
}
// Runs the client thread to its end, the loop serving meanwhile.
static void walk_run(struct walk *w) {
  pthread_t t;
  ASSERT_EQ(pthread_create(&t, NULL, walk_client, w), 0);
  while (!atomic_load(&w->done)) {
    int slept = cio_sleep(0.001); // (may fail: the walk's own -ENOMEM)
    (void)slept;
  }
  ASSERT_EQ(pthread_join(t, NULL), 0);
  if (w->error[0]) test_fail(__FILE__, __LINE__, "%s", w->error);
}
static int alloc_walk_main(void *arg) {
  (void)arg;
  cio_http_app *app = cio_http_app_new();
  ASSERT_EQ(cio_http_use(app, logger, &request_log), 0);
  ASSERT_EQ(cio_http_route(app, "GET", "/", hello, NULL), 0);
  ASSERT_EQ(cio_http_route(app, "POST", "/echo/{id:int}", echo_n, NULL), 0);
  ASSERT_EQ(cio_http_route(app, "GET", "/echo/{id:int}", echo_n, NULL), 0);
  ASSERT_EQ(cio_http_route(app, "GET", "/fail", fails, NULL), 0);
  cio_server *srv;
  ASSERT_EQ(cio_http_serve(app, "127.0.0.1", "0", NULL, &srv), 0);
  // The workload once unharmed, counting its allocations.
  struct walk w = {0};
  snprintf(w.port, sizeof w.port, "%d", cio_server_port(srv));
  const long many = 1L << 40;
  ASSERT_EQ(cio__alloc_fail_after(many), 0);
  walk_run(&w);
  long sites = many - cio__alloc_fail_after(0);
  ASSERT_EQ(w.answers, 4);
  for (int i = 0; i < 4; i++) ASSERT_EQ(w.status[i], walk_want[i]);
  printf("the workload allocates %ld times\n", sites);
  ASSERT(sites >= 8); // the connection's buffer and its growth, the request, its arena, ...
  int failed_answers = 0, cut = 0;
  for (long n = 1; n <= sites; n++) {
    struct walk f = {0};
    memcpy(f.port, w.port, sizeof f.port);
    cio__alloc_fail_after(n);
    walk_run(&f);
    (void)cio__alloc_fail_after(0);
    for (int i = 0; i < f.answers; i++)
      if (f.status[i] != walk_want[i]) {
        if (f.status[i] != 500 && f.status[i] != 503)
          test_fail(__FILE__, __LINE__, "allocation %ld failed: answer %d is %d", n, i,
                    f.status[i]);
        failed_answers++;
      }
    if (f.answers < 4) cut++;
    struct walk after = {.plain = true};
    memcpy(after.port, w.port, sizeof after.port);
    walk_run(&after);
    if (after.answers != 1 || after.status[0] != 200)
      test_fail(__FILE__, __LINE__, "after allocation %ld failed, GET / got %d answers (%d)", n,
                after.answers, after.status[0]);
  }
  printf("%ld allocations failed in turn: %d answers 500/503, %d connections cut short\n", sites,
         failed_answers, cut);
  ASSERT_EQ(cio_server_close(srv, 1), 0);
  cio_http_app_free(app);
  return 0;
}
static void every_allocation_failure_answers_503_or_closes(void) {
  ASSERT_EQ(cio_run(alloc_walk_main, NULL), 0);
}

// An app freed twice, or used after its free, is -EINVAL (its memory is
// quarantined, so ASan sees no use after free); NULL too.
static int dead_handler(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)req, (void)arg;
  return cio_http_send(res, 200, "text/plain", "x", 1);
}
static void app_freed_twice_is_einval(void) {
  cio_http_app *app = cio_http_app_new();
  ASSERT(app);
  ASSERT_EQ(cio_http_route(app, "GET", "/", dead_handler, NULL), 0);
  ASSERT_EQ(cio_http_app_free(app), 0);
  ASSERT_EQ(cio_http_app_free(app), -EINVAL);
  ASSERT_EQ(cio_http_route(app, "GET", "/x", dead_handler, NULL), -EINVAL);
  ASSERT_EQ(cio_http_app_free(NULL), -EINVAL);
}

// A streamed answer to HTTP/1.0 is not chunked (RFC 9112 §6.1: a 1.0
// client knows no chunked coding): the raw bytes, ended by the close, even
// when the client asked to keep the connection alive.
static int http10_stream_main(void *arg) {
  (void)arg;
  cio_http_app *app;
  char port[8];
  cio_server *srv = start(&app, port, 5.0);
  static char out[1 << 16];
  const char *req = "GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
  exchange(port, req, strlen(req), out, sizeof out, 0); // reads until the server closes
  ASSERT_STR_CONTAINS(out, "HTTP/1.1 200 OK\r\n");
  ASSERT(strstr(out, "Transfer-Encoding") == NULL);
  ASSERT(strstr(out, "Connection: keep-alive") == NULL);
  const char *body = body_of(out);
  ASSERT_EQ(strncmp(body, "part0;part1;part2;", 18), 0);
  ASSERT_EQ(strlen(body), 18 + 1500);
  req = "GET /stream HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"; // 1.1: chunked
  exchange(port, req, strlen(req), out, sizeof out, 0);
  ASSERT_STR_CONTAINS(out, "Transfer-Encoding: chunked");
  ASSERT_EQ(cio_server_close(srv, 1), 0);
  cio_http_app_free(app);
  return 0;
}
static void http10_streams_are_not_chunked(void) {
  ASSERT_EQ(cio_run(http10_stream_main, NULL), 0);
}

// A stream cut short is never taken for a whole one: a handler that fails
// after three pieces, one that outlives the handler timeout, and one whose
// piece could not be written (its own short timeout) each leave the client
// a chunked body without its last chunk, then the close; over HTTP/1.0 the
// raw bytes end with a reset, not a clean end of stream.  A handler that
// ends well still gets its last chunk on the same server.
static int cut_stream(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)arg;
  const char *how = cio_http_param(req, "how");
  int rc = cio_http_stream_start(res, 200, "text/plain");
  for (int i = 0; rc == 0 && i < 3; i++) rc = cio_http_stream_write(res, "piece;", 6);
  if (rc < 0) return rc;
  if (strcmp(how, "fail") == 0) return -EIO;
  if (strcmp(how, "late") == 0) return cio_sleep(30); // the handler timeout (0.2 s) ends it
  if (strcmp(how, "ignored") == 0) {
    // A 32 MiB piece (more than the kernel buffers on both sides hold) to a
    // client that reads nothing yet, within 0.1 s: part
    // of it goes out, the rest cannot; the handler ignores the error.
    static char big[32u << 20];
    cio_scope scope;
    ASSERT_EQ(cio_timeout_begin(&scope, 0.1), 0);
    rc = cio_http_stream_write(res, big, sizeof big);
    (void)cio_scope_end(&scope);
    ASSERT(rc < 0);
    ASSERT_EQ(cio_http_stream_write(res, "more", 4), -EPIPE); // nothing follows a torn chunk
    return 0;
  }
  return 0; // "ok"
}
static int cut_main(void *arg) {
  (void)arg;
  cio_http_app *app = cio_http_app_new();
  ASSERT_EQ(cio_http_route(app, "GET", "/cut/{how}", cut_stream, NULL), 0);
  cio_http_opts o = {.handler_timeout = 0.2};
  cio_server *srv;
  ASSERT_EQ(cio_http_serve(app, "127.0.0.1", "0", &o, &srv), 0);
  char port[8];
  snprintf(port, sizeof port, "%d", cio_server_port(srv));
  static char out[64u << 20];
  const char *const hows[] = {"ok", "fail", "late", "ignored"};
  for (size_t k = 0; k < sizeof hows / sizeof *hows; k++) {
    for (int minor = 1; minor >= 0; minor--) {
      cio_sock *s;
      ASSERT_EQ(cio_tcp_connect(&s, "127.0.0.1", port), 0);
      char req[96];
      int n =
          snprintf(req, sizeof req, "GET /cut/%s HTTP/1.%d\r\nHost: a\r\nConnection: close\r\n\r\n",
                   hows[k], minor);
      ASSERT_EQ(cio_sock_write(s, req, (size_t)n), n);
      if (strcmp(hows[k], "ignored") == 0) ASSERT_EQ(cio_sleep(0.4), 0); // the write times out
      size_t got = 0;
      ssize_t r;
      cio_scope limit;
      ASSERT_EQ(cio_timeout_begin(&limit, 10), 0);
      while ((r = cio_sock_read(s, out + got, sizeof out - 1 - got)) > 0) got += (size_t)r;
      if (cio_scope_end(&limit) < 0)
        printf("  %s over HTTP/1.%d: no end in 10 s\n", hows[k], minor);
      ASSERT(r != -ETIMEDOUT);
      out[got] = '\0';
      ASSERT_EQ(cio_sock_close(s), 0);
      ASSERT_EQ(strncmp(out, "HTTP/1.1 200 OK\r\n", 17), 0);
      char *body = strstr(out, "\r\n\r\n");
      ASSERT(body);
      body += 4;
      size_t len = got - (size_t)(body - out);
      bool ok = strcmp(hows[k], "ok") == 0;
      if (minor == 0) { // raw bytes: a reset tells a cut from the end
        ASSERT_EQ(r, ok ? 0 : -ECONNRESET);
        ASSERT_EQ(strncmp(body, "piece;piece;piece;", 18), 0);
        continue;
      }
      ASSERT_EQ(r, 0); // a close, not a reset: the pieces sent stay readable
      cio__http_chunked d = {0};
      size_t used = 0;
      int done = cio__http_chunked_decode(&d, body, &len, &used);
      ASSERT_EQ(done, ok ? 1 : 0); // 1: the last chunk came; 0: more was owed
      ASSERT_EQ(strncmp(body, "piece;piece;piece;", 18), 0);
      if (ok) ASSERT_EQ(len, 18);
    }
  }
  ASSERT_EQ(cio_server_close(srv, 1), 0);
  ASSERT_EQ(cio_http_app_free(app), 0);
  return 0;
}
static void a_stream_cut_short_is_never_complete(void) { ASSERT_EQ(cio_run(cut_main, NULL), 0); }

// An admin route that shuts its own server down: closing it from its own
// handler is refused with -EDEADLK (it waited for that handler for ever);
// a task spawned to close it does the job, after the answer went out.
static cio_server *own_server;
static cio_task *closer;
static int close_rc_in_handler = 1;

static int close_own_server(void *arg) {
  (void)arg;
  return cio_server_close(own_server, 5);
}

static int shutdown_route(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)req, (void)arg;
  close_rc_in_handler = cio_server_close(own_server, 5);
  closer = cio_spawn(close_own_server, NULL);
  return closer ? cio_http_json(res, 200, "{\"closing\":true}") : -ENOMEM;
}

static int close_from_handler_main(void *arg) {
  (void)arg;
  cio_http_app *app = cio_http_app_new();
  ASSERT_EQ(cio_http_route(app, "GET", "/shutdown", shutdown_route, NULL), 0);
  ASSERT_EQ(cio_http_serve(app, "127.0.0.1", "0", NULL, &own_server), 0);
  char port[8], out[2048];
  snprintf(port, sizeof port, "%d", cio_server_port(own_server));
  const char *req = "GET /shutdown HTTP/1.1\r\nHost: a\r\n\r\n";
  double t0 = cio_now();
  exchange(port, req, strlen(req), out, sizeof out, 1);
  ASSERT_STR_CONTAINS(out, "HTTP/1.1 200 OK\r\n");
  ASSERT_STR_CONTAINS(out, "{\"closing\":true}");
  ASSERT_EQ(close_rc_in_handler, -EDEADLK);
  ASSERT(closer);
  ASSERT_EQ(cio_join(closer), 0); // closed, no handler cancelled
  ASSERT(cio_now() - t0 < 4);
  cio_http_app_free(app);
  return 0;
}

static void server_closed_from_its_own_handler(void) {
  ASSERT_EQ(cio_run(close_from_handler_main, NULL), 0);
}

// A status for an answer is 2xx-5xx: a 1xx (interim: a client takes the
// next answer for this request's) or 600 and up is refused, and the
// handler's second choice goes out; a 205 goes without its body, framed by
// Content-Length: 0, so the next answer on the connection stays its own; a
// body set after a stream started is refused (it was dropped silently).
static int status_route(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)arg;
  const char *code = cio_http_query(req, "code");
  int rc = cio_http_send(res, code ? atoi(code) : 200, "text/plain", "body", 4);
  if (rc == 0) return 0;
  char text[32];
  snprintf(text, sizeof text, "{\"rc\":%d}", rc);
  return cio_http_json(res, 200, text);
}

static int late_body_route(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)req, (void)arg;
  int rc = cio_http_stream_start(res, 200, "text/plain");
  if (rc < 0) return rc;
  char text[32];
  snprintf(text, sizeof text, "json=%d", cio_http_json(res, 200, "{}"));
  return cio_http_stream_write(res, text, strlen(text));
}

// Content-Type set as a header replaces the body's, before or after it,
// and is sent once; a value goes without the blanks around it.
static int ctype_route(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)req, (void)arg;
  ASSERT_EQ(cio_http_set_header(res, "content-type", " text/csv; charset=utf-8 "), 0);
  ASSERT_EQ(cio_http_set_header(res, "X-Lead", "  v \t"), 0);
  return cio_http_send(res, 200, "text/plain", "a,b\n", 4);
}

static int statuses_main(void *arg) {
  (void)arg;
  cio_http_app *app = cio_http_app_new();
  ASSERT_EQ(cio_http_route(app, "GET", "/status", status_route, NULL), 0);
  ASSERT_EQ(cio_http_route(app, "GET", "/late", late_body_route, NULL), 0);
  ASSERT_EQ(cio_http_route(app, "GET", "/ctype", ctype_route, NULL), 0);
  cio_server *srv;
  ASSERT_EQ(cio_http_serve(app, "127.0.0.1", "0", NULL, &srv), 0);
  char port[8], out[4096], req[512];
  snprintf(port, sizeof port, "%d", cio_server_port(srv));
  const char *refused[] = {"100", "103", "199", "600", "999", "99"};
  for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
    snprintf(req, sizeof req, "GET /status?code=%s HTTP/1.1\r\nHost: a\r\n\r\n", refused[i]);
    exchange(port, req, strlen(req), out, sizeof out, 1);
    ASSERT(strncmp(out, "HTTP/1.1 200 OK\r\n", 17) == 0);
    ASSERT_STR_CONTAINS(out, "{\"rc\":-22}");
  }
  snprintf(req, sizeof req,
           "GET /status?code=205 HTTP/1.1\r\nHost: a\r\n\r\n"
           "GET /status?code=201 HTTP/1.1\r\nHost: a\r\n\r\n");
  exchange(port, req, strlen(req), out, sizeof out, 2);
  ASSERT(strncmp(out, "HTTP/1.1 205 Reset Content\r\n", 28) == 0);
  const char *second = strstr(out + 1, "HTTP/1.1 201 Created\r\n");
  ASSERT(second);
  const char *head_end = strstr(out, "\r\n\r\n");
  ASSERT(head_end + 4 == second); // no content between the two answers
  ASSERT(memmem(out, (size_t)(second - out), "Content-Length: 0\r\n", 19));
  ASSERT_STR_CONTAINS(second, "\r\n\r\nbody");
  const char *late = "GET /late HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
  exchange(port, late, strlen(late), out, sizeof out, 0);
  ASSERT_STR_CONTAINS(out, "json=-114"); // -EALREADY
  const char *ctype = "GET /ctype HTTP/1.1\r\nHost: a\r\n\r\n";
  exchange(port, ctype, strlen(ctype), out, sizeof out, 1);
  ASSERT_STR_CONTAINS(out, "\r\nContent-Type: text/csv; charset=utf-8\r\n");
  ASSERT(!strstr(out, "text/plain"));
  const char *first = strstr(out, "Content-Type:");
  ASSERT(first && !strstr(first + 1, "Content-Type:")); // once
  ASSERT_STR_CONTAINS(out, "\r\nX-Lead: v\r\n");
  ASSERT_EQ(cio_server_close(srv, 1), 0);
  cio_http_app_free(app);
  return 0;
}

// A chunked body is held in a buffer grown as it comes, not one of
// max_body reserved up front: with a max_body of 1 TiB (more than any host
// gives one malloc) a small chunked body is read (it was answered 503).
static int chunked_big_limit_main(void *arg) {
  (void)arg;
  cio_http_app *app = cio_http_app_new();
  ASSERT_EQ(cio_http_route(app, "POST", "/echo", echo_body, NULL), 0);
  cio_server *srv;
  cio_http_opts o = {.max_body = (size_t)1 << 40};
  ASSERT_EQ(cio_http_serve(app, "127.0.0.1", "0", &o, &srv), 0);
  char port[8], out[4096];
  snprintf(port, sizeof port, "%d", cio_server_port(srv));
  const char *req = "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
  exchange(port, req, strlen(req), out, sizeof out, 1);
  ASSERT(strncmp(out, "HTTP/1.1 200 OK\r\n", 17) == 0);
  ASSERT_STR_CONTAINS(out, "\r\n\r\nhello world");
  ASSERT_EQ(cio_server_close(srv, 1), 0);
  cio_http_app_free(app);
  return 0;
}

static void chunked_body_under_a_huge_limit(void) {
  ASSERT_EQ(cio_run(chunked_big_limit_main, NULL), 0);
}

static void statuses_outside_finals_and_205(void) { ASSERT_EQ(cio_run(statuses_main, NULL), 0); }

static const test_case cases[] = {
    {"statuses_outside_finals_and_205", statuses_outside_finals_and_205, 30},
    {"chunked_body_under_a_huge_limit", chunked_body_under_a_huge_limit, 30},
    {"server_closed_from_its_own_handler", server_closed_from_its_own_handler, 30},
    {"http10_streams_are_not_chunked", http10_streams_are_not_chunked, 0},
    {"a_stream_cut_short_is_never_complete", a_stream_cut_short_is_never_complete, 0},
    {"app_freed_twice_is_einval", app_freed_twice_is_einval, 0},
    {"json_bodies", json_bodies, 0},
    {"resets_at_random_points", resets_at_random_points, 120},
    {"clients_that_give_up", clients_that_give_up, 120},
    {"streaming_to_slow_and_vanishing_readers", streaming_to_slow_and_vanishing_readers, 120},
    {"real_clients_curl_httpx_http_client", real_clients_curl_httpx_http_client, 60},
    {"keepalive_pipelining_bodies_and_errors", keepalive_pipelining_bodies_and_errors, 0},
    {"limits_and_slow_loris", limits_and_slow_loris, 0},
    {"thousand_clients_on_profile", thousand_clients_on_profile, 60},
    {"accessors_live_until_the_handler_returns", accessors_live_until_the_handler_returns, 0},
    {"host_values_are_validated", host_values_are_validated, 0},
    {"absolute_form_targets_are_routed", absolute_form_targets_are_routed, 0},
    {"http10_expect_continue_is_ignored", http10_expect_continue_is_ignored, 0},
    {"http10_keep_alive_is_said", http10_keep_alive_is_said, 0},
    {"date_and_server_on_every_answer", date_and_server_on_every_answer, 0},
    {"no_length_nor_body_on_204_and_304", no_length_nor_body_on_204_and_304, 0},
    {"leading_empty_lines_are_ignored", leading_empty_lines_are_ignored, 0},
    {"double_slash_is_not_root", double_slash_is_not_root, 0},
    {"paths_decoded_and_routed_as_starlette", paths_decoded_and_routed_as_starlette, 0},
    {"every_422_body_is_valid_json", every_422_body_is_valid_json, 60},
    {"response_headers_cannot_be_injected", response_headers_cannot_be_injected, 0},
    {"server_close_aborts_peers_that_stopped_reading",
     server_close_aborts_peers_that_stopped_reading, 0},
    {"server_close_gives_its_grace_to_a_cancelled_caller",
     server_close_gives_its_grace_to_a_cancelled_caller, 0},
    {"closing_http_server_closes_idle_connections", closing_http_server_closes_idle_connections, 0},
    {"http_run_shuts_down_gracefully_on_sigint", http_run_shuts_down_gracefully_on_sigint, 0},
    {"http_run_ends_when_cancelled", http_run_ends_when_cancelled, 0},
    {"slow_loris_head_and_body_deadlines", slow_loris_head_and_body_deadlines, 0},
    {"send_timeout_resets_a_client_that_never_reads", send_timeout_resets_a_client_that_never_reads,
     0},
    {"lingering_close_keeps_an_early_413", lingering_close_keeps_an_early_413, 60},
    {"lingering_close_ends_with_the_server", lingering_close_ends_with_the_server, 60},
    {"middleware_sees_the_servers_own_answers", middleware_sees_the_servers_own_answers, 0},
    {"middleware_without_an_answer_gets_a_500", middleware_without_an_answer_gets_a_500, 0},
    {"every_allocation_failure_answers_503_or_closes",
     every_allocation_failure_answers_503_or_closes, 120},
};
TEST_MAIN(cases)
