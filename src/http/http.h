// SPDX-License-Identifier: MIT
//
// What the files of the HTTP server share: the app (routes, middleware, the
// servers started for it), the request and response objects, and the
// functions one file calls in another.  Who holds what:
//   app.c        the app object, route and middleware registration, the chain
//   route.c      route patterns compiled and matched, a request dispatched
//   request.c    the request object: its arena and the accessors
//   response.c   the response object: head, body, streaming, timed writes
//   json_text.c  the JSON writer (json_text.h) for the bodies cio writes
//   static.c     cio_http_static: a directory's files, conditional and range requests
//   cors.c       cio_http_cors: Starlette's CORSMiddleware
//   conn.c       the connection loop: heads, bodies, deadlines, lingering close
//   serve.c      cio_http_serve and cio_http_run (until a signal)
//   parse.c      the request parser (parse.h)
//   json.c       Jansson glue (built with Jansson only)
#ifndef CIO_HTTP_INTERNAL_H
#define CIO_HTTP_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../../include/cio/http.h"
#include "parse.h"

// ---------------------------------------------------------------- the app

#define MAX_SEGS 16  // segments of a route pattern, so also its parameters
#define MAX_TYPE 128 // a Content-Type, with its NUL

// A parameter's type: {name}, {name:int}, {name:float}, {name:path} in a
// route's pattern; P_BOOL for query parameters only.
enum param_type { P_STR, P_INT, P_FLOAT, P_PATH, P_BOOL };

// One segment of a compiled route pattern (route.c).
struct seg {
  char *literal; // fixed text, or NULL for a parameter
  char *param;   // parameter name
  int type;      // enum param_type
};

// A route: its method, its compiled pattern and its handler.
struct route {
  char method[16];           // "GET", ...
  struct seg segs[MAX_SEGS]; // path segments
  int nsegs;                 // how many
  cio_http_handler fn;       // handler
  void *arg;                 //   its argument
  struct vroute *vr;         // its declaration compiled (model.h), or NULL
  bool undocumented;         // left out of the OpenAPI document (a static mount, the docs)
  struct route *next;        // next route, in the order added
};

// A middleware in the app's chain.
struct mw {
  cio_http_middleware fn; // the function
  void *arg;              //   its argument
  struct mw *next;        // the next one inward
};

struct conn; // a connection being served (conn.c, on its task's stack)

// A server started for an app: its options and its connections, freed with
// the app.
struct http_server {
  cio_http_app *app;        // routes
  cio_http_opts opts;       // limits and timeouts, defaults filled in
  struct http_server *next; // the app's other servers
  cio_server *server;       // the server it runs on (valid while connections run)
  struct conn *conns;       // connections being served
  size_t busy;              // of them, how many are inside a request
  bool draining;            // closing: finish each request, then close its connection
  double drain_at;          // once draining: when it began (cio_now())
  double abort_at;          //   and when the close cancels what is left
};

// Something the app owns and frees with itself (a static mount, the CORS
// settings).
struct owned {
  void (*free)(void *p); // frees p
  void *p;               // the object
  struct owned *next;    // the app's others
};

// What cio_http_app_new returns.
#define CIO__HTTP_APP_MAGIC 0x68617070u // "happ"

struct cio_http_app {
  uint32_t magic;              // CIO__HTTP_APP_MAGIC until freed
  struct route *routes;        // first route
  struct route **tail;         // where the next one goes
  struct route *last;          // the last one added
  pthread_mutex_t lock;        // guards `servers`: loops on several threads may serve the app
  struct http_server *servers; // servers started for it (freed with it)
  struct mw *mws;              // middleware, outermost first
  struct mw **mw_tail;         // where the next one goes
  struct owned *owned;         // objects freed with the app
};

// True if `app` is an app not yet freed (freed ones are quarantined, so
// a second free reads the cleared magic).
static inline bool cio__http_app_valid(const cio_http_app *app) {
  return app && app->magic == CIO__HTTP_APP_MAGIC;
}

// ---------------------------------------------------------------- request and response

// A query parameter, decoded (names and values NUL-terminated in the arena).
struct qparam {
  const char *name;  // decoded name
  size_t name_len;   //   its length (it may hold a NUL)
  const char *value; // decoded value ("" for "?flag")
  size_t len;        //   its length (it may hold a NUL)
};

// A request as its handler sees it.  Everything the accessors return is in
// the arena: one block reserved by req_init from the head's sizes (its bound
// is worked out there), never moved, freed by req_free after the handler
// and the middleware have returned.
struct cio_http_req {
  const cio__http_request *head;            // parsed head (slices into the buffer)
  const char *method;                       // NUL-terminated copy
  const char *path;                         // the path as sent (percent-encoded)
  char *dpath;                              // the path decoded (may hold a NUL)
  size_t dpath_len;                         //   its length
  struct qparam *query;                     // query parameters, in order
  size_t nquery;                            //   how many
  const char *host;                         // an absolute-form target's authority, or NULL
  const char *names[MAX_SEGS];              // path parameter names (the route's)
  const char *values[MAX_SEGS];             //   and values (in the arena)
  int nparams;                              // how many
  const char *hcopy[CIO__HTTP_MAX_HEADERS]; // header values, copied on first use
  char *body;                               // request body (malloc'd)
  size_t body_len;                          //   its length
  const struct vroute *vr;                  // its route's declaration (model.h), or NULL
  struct argval *args;                      //   the declared parameters' values (malloc'd)
  size_t nargs;                             //   how many
  void *body_value;                         //   the validated body (model_body.c)
  struct kept *kept;                        // blocks freed with the request
  char *mem;                                // the arena: `small` or malloc'd
  size_t cap, used;                         //   its size, bytes handed out
  _Alignas(max_align_t) char small[1024];   // the arena of small requests
};

// A response as its handler sets it, with the connection's write settings.
struct cio_http_res {
  cio_stream *conn;    // the connection (its transport: plain or TLS)
  double send_timeout; // seconds a write may go without progress
  bool reset;          // a write timed out: reset the connection, send nothing more
  bool streaming;      // a chunked response has started
  bool broken;         // the stream is cut short: no last chunk, the connection closes
  bool head_only;      // HEAD: the head, never a body
  bool keep_alive;     // the connection stays open after it
  bool http10;         // the request was HTTP/1.0 (Connection: keep-alive is said)
  bool own_date;       // the handler set Date: send its, not ours
  bool own_server;     // the handler set Server: the same
  bool own_type;       // the handler set Content-Type (cio_http_set_header): it wins
  int status;          // 0 until set
  char *body;          // response body (malloc'd)
  size_t len;          //   its length (of a file body: the bytes of it to send)
  bool has_file;       // the body is file_fd's bytes from file_off (static.c), not `body`
  int file_fd;         //   the open file, closed with the response
  off_t file_off;      //   where the body starts in it
  char type[MAX_TYPE]; // Content-Type
  char headers[512];   // extra header lines
  size_t hlen;         //   their length
};

// ---------------------------------------------------------------- app.c

// Runs the request through the app's middleware, outermost first, and then
// its routes; with `status` set (an answer the server gives itself: 413,
// 408...), the middleware runs around that answer instead of the routes.
// Returns what the outermost middleware returned.
int cio__http_app_handle(cio_http_app *app, cio_http_req *req, cio_http_res *res, double timeout,
                         int status);

// Gives the app p to free with itself (through free_fn).  Returns 0, or
// -ENOMEM (p is then still the caller's).
int cio__http_app_own(cio_http_app *app, void *p, void (*free_fn)(void *p));

// ---------------------------------------------------------------- route.c

// Compiles `pattern` (it starts with '/') into r's segments.  Returns 0,
// -EINVAL for a pattern cio refuses, or -ENOMEM (then r holds no segment).
int cio__http_route_compile(struct route *r, const char *pattern);

// Frees r's segments, its declaration and r.
void cio__http_route_free(struct route *r);

// A new route, not yet the app's.  Returns 0 and *out, -EINVAL (see
// cio_http_route) or -ENOMEM.
int cio__http_route_new(cio_http_app *app, const char *method, const char *pattern,
                        cio_http_handler fn, void *arg, struct route **out);

// Makes r the app's last route.
void cio__http_route_link(cio_http_app *app, struct route *r);

// Routes the request: runs the handler (within `timeout` seconds if > 0) or
// answers 404, 405 or 422.
void cio__http_dispatch(cio_http_app *app, cio_http_req *req, cio_http_res *res, double timeout);

// ---------------------------------------------------------------- request.c

// Sets up the request from its head.  Returns 0, or the status to answer.
int cio__http_req_init(cio_http_req *req, const cio__http_request *h);

// Frees what req_init and the body reader allocated, and the request.
void cio__http_req_free(cio_http_req *req);

// n zeroed bytes freed with the request (beyond its arena), or NULL.
void *cio__http_req_keep(cio_http_req *req, size_t n);

// Converts text[0..n) (NUL-terminated at n) as P_INT (int64_t), P_FLOAT
// (double) or P_BOOL (bool) into *out.  Returns true, or false with
// FastAPI's error type and message for it.
bool cio__http_text_to(int type, const char *text, size_t n, void *out, const char **etype,
                       const char **emsg);

// A NUL-terminated copy of p[0..n) in the request's arena.
char *cio__http_arena_copy(cio_http_req *req, const char *p, size_t n);

// Converts a path or query parameter's value text[0..n) (NUL-terminated
// at n) as an enum param_type into *out: an int64_t for P_INT, a double for
// P_FLOAT, a bool for P_BOOL; P_STR and P_PATH values are left as they are.
// A value holding a NUL does not convert.  Returns 0, or -EINVAL after
// answering FastAPI's 422 for `name` in `where` ("path", "query"), the
// value echoed whole; *out is then untouched.
int cio__http_convert(cio_http_res *res, const char *where, const char *name, int type,
                      const char *text, size_t n, void *out);

// ---------------------------------------------------------------- response.c

// Sets the response, taking `owned` (malloc'd, len bytes).  Returns 0 or
// -EINVAL (then `owned` is still the caller's).
int cio__http_set_body(cio_http_res *res, int status, const char *type, char *owned, size_t len);

// Answers {"detail": <the reason phrase>} with `status`; out of memory,
// with `status` and an empty body: the status is always set.
void cio__http_error_body(cio_http_res *res, int status);

// FastAPI's validation error: 422 {"detail":[{"type","loc","msg","input"}]},
// the input echoed whole.
void cio__http_answer_422(cio_http_res *res, const char *where, const char *name, const char *type,
                          const char *msg, const char *input, size_t input_len);

struct cio__jtext;

// Answers with the JSON text j (taking it), or with `fallback` (a literal)
// if building it ran out of memory.
int cio__http_jt_answer(cio_http_res *res, int status, struct cio__jtext *j, const char *fallback);

// Sets the response to len bytes of the open file fd from `off`, taking fd
// (closed with the response, also on failure); sent with sendfile(2), or
// read and written through a TLS transport.  Returns 0 or -EINVAL.
int cio__http_set_file(cio_http_res *res, int status, const char *type, int fd, off_t off,
                       size_t len);

// Writes buf to the client under the send timeout.  Returns len or -errno.
ssize_t cio__http_res_write(cio_http_res *res, const void *buf, size_t len);

// Writes the response res holds.  Returns 0 or -errno.
int cio__http_write_response(cio_http_res *res, bool head_only, bool keep_alive);

// Clears the response for the next request (the connection's settings stay).
void cio__http_reset_res(cio_http_res *res);

// ---------------------------------------------------------------- static.c

// Tests set it to open files as a kernel without openat2(2) makes static.c
// open them (openat, then a check through /proc/self/fd).
extern bool cio__http_static_no_openat2;

// ---------------------------------------------------------------- conn.c

// Serves one connection (cio_server's handler; arg: the struct http_server).
int cio__http_serve_connection(cio_stream *st, void *arg);

// The server's closing hook (src/io/server.h; arg: the struct http_server).
void cio__http_closing(void *arg, double grace);

#endif
