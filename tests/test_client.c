// SPDX-License-Identifier: MIT
//
// The HTTP client (<cio/http_client.h>) against real servers started here:
// cio's own HTTP server (in the same loop), raw cio sockets that stall,
// reset or answer garbage.
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cio.h"
#include "helpers/test.h"

#ifdef CIO_HAVE_CURL
#include "cio/http.h"
#include "cio/http_client.h"

// ---------------------------------------------------------------- the test app

static int served_now, served_most, served; // requests in handlers, at most, in all

static int hello(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)req, (void)arg;
  served++;
  return cio_http_json(res, 200, "{\"message\":\"Hello\"}");
}

// Echoes the method, the query, a header and the body.
static int echo(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)arg;
  size_t len;
  const char *body = cio_http_body(req, &len);
  const char *q = cio_http_query(req, "q"), *x = cio_http_header(req, "X-Test");
  const char *type = cio_http_header(req, "Content-Type"),
             *auth = cio_http_header(req, "Authorization");
  char *out = malloc(len + 512);
  ASSERT(out);
  int n = snprintf(out, 512, "%s q=[%s] x=[%s] type=[%s] auth=[%s] body=", cio_http_method(req),
                   q ? q : "", x ? x : "", type ? type : "", auth ? auth : "");
  memcpy(out + n, body ? body : "", len);
  int rc = cio_http_send(res, 200, "text/plain", out, (size_t)n + len);
  free(out);
  return rc;
}

// Sleeps (?s=seconds), counting how many handlers run at once.
static int slow(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)arg;
  const char *s = cio_http_query(req, "s");
  served_now++;
  if (served_now > served_most) served_most = served_now;
  int rc = cio_sleep(s ? atof(s) : 0.2);
  served_now--;
  return rc < 0 ? rc : cio_http_json(res, 200, "{\"slept\":true}");
}

static int redirect(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)arg;
  const char *to = cio_http_param(req, "to");
  ASSERT_EQ(cio_http_set_header(res, "Location", strcmp(to, "self") == 0 ? "/r/self" : "/"), 0);
  return cio_http_send(res, 302, "text/plain", "", 0);
}

static int big(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)req, (void)arg;
  static char b[5000];
  memset(b, 'b', sizeof b);
  return cio_http_send(res, 200, "text/plain", b, sizeof b);
}

static cio_server *serve(cio_http_app **app_out, char port[8]) {
  cio_http_app *app = cio_http_app_new();
  ASSERT_EQ(cio_http_route(app, "GET", "/", hello, NULL), 0);
  const char *methods[] = {"GET", "POST", "PUT", "DELETE", "PATCH"};
  for (int i = 0; i < 5; i++) ASSERT_EQ(cio_http_route(app, methods[i], "/echo", echo, NULL), 0);
  ASSERT_EQ(cio_http_route(app, "GET", "/slow", slow, NULL), 0);
  ASSERT_EQ(cio_http_route(app, "GET", "/r/{to}", redirect, NULL), 0);
  ASSERT_EQ(cio_http_route(app, "GET", "/big", big, NULL), 0);
  cio_http_opts o = {.max_body = 1 << 20};
  cio_server *srv;
  ASSERT_EQ(cio_http_serve(app, "127.0.0.1", "0", &o, &srv), 0);
  snprintf(port, 8, "%d", cio_server_port(srv));
  *app_out = app;
  return srv;
}

static void url(char *out, size_t cap, const char *port, const char *path) {
  snprintf(out, cap, "http://127.0.0.1:%s%s", port, path);
}

// ---------------------------------------------------------------- cases

// GET, POST, PUT...: status, headers, body, query parameters encoded,
// bearer and basic auth, JSON bodies; 404 is an answer; 50 requests in a
// row ride one kept-alive connection.
static int basics_main(void *arg) {
  (void)arg;
  cio_http_app *app;
  char port[8], u[128];
  cio_server *srv = serve(&app, port);
  cio_http_client *c;
  ASSERT_EQ(cio_http_client_new(&c, NULL), 0);
  cio_http_response *r;
  url(u, sizeof u, port, "/");
  ASSERT_EQ(cio_http_get(c, u, &r), 0);
  ASSERT_EQ(cio_http_response_status(r), 200);
  size_t len;
  const char *body = cio_http_response_body(r, &len);
  ASSERT_EQ(len, strlen("{\"message\":\"Hello\"}"));
  ASSERT_EQ(strcmp(body, "{\"message\":\"Hello\"}"), 0);
  ASSERT(strcmp(cio_http_response_header(r, "content-type"), "application/json") == 0);
  ASSERT(cio_http_response_header(r, "X-None") == NULL);
  ASSERT(strcmp(cio_http_response_version(r), "HTTP/1.1") == 0);
  ASSERT(strcmp(cio_http_response_url(r), u) == 0);
  cio_http_response_free(r);

  url(u, sizeof u, port, "/echo");
  const char *headers[] = {"X-Test: yes", NULL};
  cio_http_query_param q[] = {{"q", "a b&c=d/é"}};
  cio_http_request_opts o = {.headers = headers,
                             .query = q,
                             .nquery = 1,
                             .body = "payload",
                             .body_len = 7,
                             .bearer = "tok"};
  ASSERT_EQ(cio_http_request(c, "PUT", u, &o, &r), 0);
  ASSERT_EQ(cio_http_response_status(r), 200);
  ASSERT_STR_CONTAINS(cio_http_response_body(r, NULL),
                      "PUT q=[a b&c=d/é] x=[yes] type=[] auth=[Bearer tok] body=payload");
  cio_http_response_free(r);
  cio_http_request_opts j = {.json = "{\"a\":1}", .user = "al", .password = "pw"};
  ASSERT_EQ(cio_http_request(c, "POST", u, &j, &r), 0);
  ASSERT_STR_CONTAINS(
      cio_http_response_body(r, NULL),
      "POST q=[] x=[] type=[application/json] auth=[Basic YWw6cHc=] body={\"a\":1}");
  cio_http_response_free(r);
  ASSERT_EQ(cio_http_request(c, "DELETE", u, NULL, &r), 0);
  ASSERT_STR_CONTAINS(cio_http_response_body(r, NULL), "DELETE q=[]");
  cio_http_response_free(r);

  url(u, sizeof u, port, "/nowhere");
  ASSERT_EQ(cio_http_get(c, u, &r), 0);
  ASSERT_EQ(cio_http_response_status(r), 404);
  cio_http_response_free(r);

  size_t before = cio_http_client_connections(c);
  url(u, sizeof u, port, "/");
  for (int i = 0; i < 50; i++) {
    ASSERT_EQ(cio_http_get(c, u, &r), 0);
    ASSERT_EQ(cio_http_response_status(r), 200);
    cio_http_response_free(r);
  }
  ASSERT_EQ(cio_http_client_connections(c), before); // kept alive, reused
  ASSERT_EQ(before, 1);
  ASSERT_EQ(cio_http_client_close(c), 0);
  ASSERT_EQ(cio_http_client_close(c), -EINVAL); // closed already
  ASSERT_EQ(cio_server_close(srv, 1), 0);
  ASSERT_EQ(cio_http_app_free(app), 0);
  return 0;
}

static void requests_and_answers(void) { ASSERT_EQ(cio_run(basics_main, NULL), 0); }

// Concurrent requests stay within the pool's limit per host (counted on
// the server: handlers running at once), and wait for a connection.
struct fetch {
  cio_http_client *c;
  const char *url;
  int rc, status;
};
static int fetch(void *arg) {
  struct fetch *f = arg;
  cio_http_response *r;
  f->rc = cio_http_get(f->c, f->url, &r);
  if (f->rc == 0) f->status = cio_http_response_status(r);
  cio_http_response_free(r);
  return 0;
}

static int limits_main(void *arg) {
  (void)arg;
  cio_http_app *app;
  char port[8], u[128];
  cio_server *srv = serve(&app, port);
  cio_http_client_opts co = {.max_connections_per_host = 3};
  cio_http_client *c;
  ASSERT_EQ(cio_http_client_new(&c, &co), 0);
  url(u, sizeof u, port, "/slow?s=0.1");
  enum { N = 20 };
  struct fetch f[N];
  cio_task *t[N];
  served_most = 0;
  for (int i = 0; i < N; i++) {
    f[i] = (struct fetch){c, u, -1, 0};
    t[i] = cio_spawn(fetch, &f[i]);
  }
  for (int i = 0; i < N; i++) {
    ASSERT_EQ(cio_join(t[i]), 0);
    ASSERT_EQ(f[i].rc, 0);
    ASSERT_EQ(f[i].status, 200);
  }
  printf("  %d requests, at most %d at once on the server, %zu connections\n", N, served_most,
         cio_http_client_connections(c));
  ASSERT_EQ(served_most, 3);
  ASSERT(cio_http_client_connections(c) <= 3);
  ASSERT_EQ(cio_http_client_close(c), 0);
  ASSERT_EQ(cio_server_close(srv, 1), 0);
  ASSERT_EQ(cio_http_app_free(app), 0);
  return 0;
}

static void pool_limits_hold(void) { ASSERT_EQ(cio_run(limits_main, NULL), 0); }

// Timeouts by phase: read (the handler sleeps), pool (the only connection
// is busy), write (a server that never reads a big body), connect (a
// listener whose queue is full); a timeout scope and a cancel around a
// request; each leaves the client usable.
static int never_reads(void *arg) {
  cio_sock *l = arg, *s;
  ASSERT_EQ(cio_sock_accept(l, &s), 0);
  int rc = cio_sleep(30); // cancelled at the end
  ASSERT_EQ(cio_sock_close(s), 0);
  return rc;
}

static int timeouts_main(void *arg) {
  (void)arg;
  cio_http_app *app;
  char port[8], u[128];
  cio_server *srv = serve(&app, port);
  cio_http_client_opts co = {.read_timeout = 0.2,
                             .pool_timeout = 0.2,
                             .write_timeout = 0.3,
                             .connect_timeout = 0.3,
                             .max_connections = 1};
  cio_http_client *c;
  ASSERT_EQ(cio_http_client_new(&c, &co), 0);
  cio_http_response *r;
  url(u, sizeof u, port, "/slow?s=1");
  double t0 = cio_now();
  ASSERT_EQ(cio_http_get(c, u, &r), CIO_HTTP_READ_TIMEOUT);
  ASSERT(r == NULL);
  ASSERT_BETWEEN(cio_now() - t0, 0.19, 0.9);
  ASSERT_STR_CONTAINS(cio_http_client_error(), "read timed out");

  // Pool: the one connection is busy with a slow request.
  cio_http_client *one;
  cio_http_client_opts oo = {.pool_timeout = 0.2, .max_connections = 1};
  ASSERT_EQ(cio_http_client_new(&one, &oo), 0);
  url(u, sizeof u, port, "/slow?s=0.6");
  struct fetch f = {one, u, -1, 0};
  cio_task *busy = cio_spawn(fetch, &f);
  ASSERT_EQ(cio_sleep(0.05), 0);
  char u2[128];
  url(u2, sizeof u2, port, "/");
  t0 = cio_now();
  ASSERT_EQ(cio_http_get(one, u2, &r), CIO_HTTP_POOL_TIMEOUT);
  ASSERT_BETWEEN(cio_now() - t0, 0.19, 0.55);
  ASSERT_EQ(cio_join(busy), 0);
  ASSERT_EQ(f.rc, 0);
  ASSERT_EQ(cio_http_get(one, u2, &r), 0); // the client goes on
  cio_http_response_free(r);
  ASSERT_EQ(cio_http_client_close(one), 0);

  // A scope and a cancel.
  url(u, sizeof u, port, "/slow?s=5");
  cio_scope scope;
  ASSERT_EQ(cio_timeout_begin(&scope, 0.1), 0);
  ASSERT_EQ(cio_http_get(c, u, &r), -ETIMEDOUT);
  ASSERT_EQ(cio_scope_end(&scope), -ETIMEDOUT);
  f = (struct fetch){c, u, -1, 0};
  cio_task *t = cio_spawn(fetch, &f);
  ASSERT_EQ(cio_sleep(0.05), 0);
  ASSERT_EQ(cio_cancel(t), 1);
  ASSERT_EQ(cio_join(t), 0);
  ASSERT_EQ(f.rc, -ECANCELED);
  ASSERT_EQ(cio_http_get(c, u2, &r), 0);
  ASSERT_EQ(cio_http_response_status(r), 200);
  cio_http_response_free(r);
  ASSERT_EQ(cio_http_client_close(c), 0);

  // Write: a server that never reads; 64 MiB cannot go out.
  cio_sock *l;
  ASSERT_EQ(cio_tcp_listen(&l, "127.0.0.1", "0", 4, 0), 0);
  char lport[8];
  snprintf(lport, sizeof lport, "%d", cio_sock_port(l));
  cio_task *nr = cio_spawn(never_reads, l);
  ASSERT_EQ(cio_http_client_new(&c, &co), 0);
  size_t n = (size_t)64 << 20;
  char *junk = calloc(1, n);
  ASSERT(junk);
  cio_http_request_opts o = {.body = junk, .body_len = n};
  url(u, sizeof u, lport, "/");
  t0 = cio_now();
  ASSERT_EQ(cio_http_request(c, "POST", u, &o, &r), CIO_HTTP_WRITE_TIMEOUT);
  ASSERT_BETWEEN(cio_now() - t0, 0.29, 5);
  free(junk);
  ASSERT_EQ(cio_cancel(nr), 1);
  ASSERT_EQ(cio_join(nr), -ECANCELED);
  ASSERT_EQ(cio_sock_close(l), 0);
  ASSERT_EQ(cio_http_client_close(c), 0);
  ASSERT_EQ(cio_server_close(srv, 1), 0);
  ASSERT_EQ(cio_http_app_free(app), 0);
  return 0;
}

static void timeouts_by_phase_and_cancellation(void) { ASSERT_EQ(cio_run(timeouts_main, NULL), 0); }

// Errors a caller can branch on.
static int errors_main(void *arg) {
  (void)arg;
  cio_http_app *app;
  char port[8], u[128];
  cio_server *srv = serve(&app, port);
  cio_http_client_opts co = {.max_body = 1000, .max_redirects = 3};
  cio_http_client *c;
  ASSERT_EQ(cio_http_client_new(&c, &co), 0);
  cio_http_response *r;
  url(u, sizeof u, port, "/big");
  ASSERT_EQ(cio_http_get(c, u, &r), CIO_HTTP_BODY_TOO_LARGE);
  url(u, sizeof u, port, "/r/home");
  ASSERT_EQ(cio_http_get(c, u, &r), 0);
  ASSERT_EQ(cio_http_response_status(r), 200);
  url(u, sizeof u, port, "/");
  ASSERT(strcmp(cio_http_response_url(r), u) == 0);
  cio_http_response_free(r);
  url(u, sizeof u, port, "/r/self");
  ASSERT_EQ(cio_http_get(c, u, &r), CIO_HTTP_TOO_MANY_REDIRECTS);
  // A closed port, a name that does not resolve, a bad URL.
  cio_sock *l;
  ASSERT_EQ(cio_tcp_listen(&l, "127.0.0.1", "0", 4, 0), 0);
  char closed[8];
  snprintf(closed, sizeof closed, "%d", cio_sock_port(l));
  ASSERT_EQ(cio_sock_close(l), 0);
  url(u, sizeof u, closed, "/");
  ASSERT_EQ(cio_http_get(c, u, &r), -ECONNREFUSED);
  ASSERT_EQ(cio_http_get(c, "http://no-such-host.invalid/", &r), CIO_EAI_NONAME);
  ASSERT_EQ(cio_http_get(c, "ftp://127.0.0.1/", &r), -EINVAL);
  ASSERT_EQ(cio_http_get(c, "not a url", &r), -EINVAL);
  ASSERT_EQ(cio_http_request(c, "GET X", u, NULL, &r), -EINVAL);
  ASSERT_EQ(cio_http_client_close(c), 0);
  // Without redirects, a 302 is the answer.
  ASSERT_EQ(cio_http_client_new(&c, NULL), 0);
  url(u, sizeof u, port, "/r/home");
  ASSERT_EQ(cio_http_get(c, u, &r), 0);
  ASSERT_EQ(cio_http_response_status(r), 302);
  ASSERT(strcmp(cio_http_response_header(r, "Location"), "/") == 0);
  cio_http_response_free(r);
  ASSERT_EQ(cio_http_client_close(c), 0);
  ASSERT_EQ(cio_server_close(srv, 1), 0);
  ASSERT_EQ(cio_http_app_free(app), 0);
  return 0;
}

static void errors_are_named(void) { ASSERT_EQ(cio_run(errors_main, NULL), 0); }

static const test_case cases[] = {
    {"requests_and_answers", requests_and_answers, 0},
    {"pool_limits_hold", pool_limits_hold, 0},
    {"timeouts_by_phase_and_cancellation", timeouts_by_phase_and_cancellation, 0},
    {"errors_are_named", errors_are_named, 0},
};

int main(int argc, char **argv) {
  return test_main(argc, argv, cases, sizeof cases / sizeof *cases);
}

#else
int main(void) {
  puts("skipped: cio was built without libcurl (apt-get install libcurl4-openssl-dev)");
  return 77;
}
#endif
