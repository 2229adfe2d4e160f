// SPDX-License-Identifier: MIT
//
// The HTTP framework: routes, requests and responses, and the connection
// loop each connection's task runs (keep-alive, pipelining, bodies with
// Content-Length or chunked, Expect: 100-continue, HEAD, limits and
// timeouts).  Parsing is parse.c's; this file decides what to answer.
//
// What a handler is handed lives in a per-request arena (see struct
// cio_http_req), sized from the head before the handler runs, so that no
// accessor can fail, cut a value or overwrite what an earlier call returned.
// Paths are decoded as Starlette decodes them (percent-decoding of the whole
// path, then routing; invalid UTF-8 becomes U+FFFD), and every JSON body cio
// writes itself goes through one escaper (jtext below).
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "../../include/cio/http.h"
#include "../internal.h"
#include "../io/server.h"
#include "../io/sock.h"
#include "../tune.h"
#include "parse.h"

#define MAX_SEGS 16  // segments of a route pattern, so also its parameters
#define MAX_TYPE 128 // a Content-Type, with its NUL

enum param_type { P_STR, P_INT, P_FLOAT, P_PATH };

struct seg {
  char *literal; // fixed text, or NULL for a parameter
  char *param;   // parameter name
  int type;      // enum param_type
};

struct route {
  char method[16];           // "GET", ...
  struct seg segs[MAX_SEGS]; // path segments
  int nsegs;                 // how many
  cio_http_handler fn;       // handler
  void *arg;                 //   its argument
  struct route *next;        // next route, in the order added
};

// A middleware in the app's chain.
struct mw {
  cio_http_middleware fn; // the function
  void *arg;              //   its argument
  struct mw *next;        // the next one inward
};

struct conn;

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
  double abort_at;          // once draining: when the close cancels what is left (cio_now())
};

struct cio_http_app {
  struct route *routes;        // first route
  struct route **tail;         // where the next one goes
  struct http_server *servers; // servers started for it (freed with it)
  struct mw *mws;              // middleware, outermost first
  struct mw **mw_tail;         // where the next one goes
};

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
  char *mem;                                // the arena: `small` or malloc'd
  size_t cap, used;                         //   its size, bytes handed out
  _Alignas(max_align_t) char small[1024];   // the arena of small requests
};

struct cio_http_res {
  cio_sock *sock;      // the connection (for streaming)
  double send_timeout; // seconds a write may go without progress
  bool reset;          // a write timed out: reset the connection, send nothing more
  bool streaming;      // a chunked response has started
  bool head_only;      // HEAD: the head, never a body
  bool keep_alive;     // the connection stays open after it
  bool http10;         // the request was HTTP/1.0 (Connection: keep-alive is said)
  bool own_date;       // the handler set Date: send its, not ours
  bool own_server;     // the handler set Server: the same
  int status;          // 0 until set
  char *body;          // response body (malloc'd)
  size_t len;          //   its length
  char type[MAX_TYPE]; // Content-Type
  char headers[512];   // extra header lines
  size_t hlen;         //   their length
};

// ---------------------------------------------------------------- app

cio_http_app *cio_http_app_new(void) {
  cio_http_app *app = calloc(1, sizeof *app);
  if (app) {
    app->tail = &app->routes;
    app->mw_tail = &app->mws;
  }
  return app;
}

void cio_http_app_free(cio_http_app *app) {
  if (!app) return;
  while (app->mws) {
    struct mw *next = app->mws->next;
    free(app->mws);
    app->mws = next;
  }
  while (app->servers) {
    struct http_server *next = app->servers->next;
    free(app->servers);
    app->servers = next;
  }
  struct route *r = app->routes;
  while (r) {
    struct route *next = r->next;
    for (int i = 0; i < r->nsegs; i++) {
      free(r->segs[i].literal);
      free(r->segs[i].param);
    }
    free(r);
    r = next;
  }
  free(app);
}

int cio_http_route(cio_http_app *app, const char *method, const char *pattern, cio_http_handler fn,
                   void *arg) {
  if (!app || !method || !pattern || pattern[0] != '/' || !fn || strlen(method) >= 16)
    return -EINVAL;
  struct route *r = calloc(1, sizeof *r);
  if (!r) return -ENOMEM;
  strcpy(r->method, method);
  r->fn = fn;
  r->arg = arg;
  const char *p = pattern + 1;
  while (*p) {
    const char *end = strchr(p, '/');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    // Beyond MAX_SEGS, an empty segment ("/a//b"), anything after a
    // {name:path} (it takes the rest of the path): refused, not cut.
    if (r->nsegs == MAX_SEGS || n == 0 || (r->nsegs && r->segs[r->nsegs - 1].type == P_PATH))
      goto bad;
    struct seg *s = &r->segs[r->nsegs++];
    if (n >= 2 && p[0] == '{' && p[n - 1] == '}') {
      const char *colon = memchr(p, ':', n);
      size_t name_len = colon ? (size_t)(colon - p - 1) : n - 2;
      s->param = strndup(p + 1, name_len);
      s->type = P_STR;
      if (colon) {
        size_t tl = n - 2 - name_len - 1;
        if (tl == 3 && !strncmp(colon + 1, "int", 3))
          s->type = P_INT;
        else if (tl == 5 && !strncmp(colon + 1, "float", 5))
          s->type = P_FLOAT;
        else if (tl == 4 && !strncmp(colon + 1, "path", 4))
          s->type = P_PATH;
        else if (!(tl == 3 && !strncmp(colon + 1, "str", 3)))
          goto bad;
      }
      if (!s->param || !*s->param) goto bad;
    } else {
      s->literal = strndup(p, n);
      if (!s->literal) goto bad;
    }
    p += n;
    if (*p == '/') p++;
  }
  *app->tail = r;
  app->tail = &r->next;
  return 0;
bad:
  for (int i = 0; i < r->nsegs; i++) {
    free(r->segs[i].literal);
    free(r->segs[i].param);
  }
  free(r);
  return -EINVAL;
}

// ---------------------------------------------------------------- JSON text

// A JSON text cio writes itself (422 bodies, error details), growing as
// needed, so that an input is echoed whole however long it is (the request
// limits bound it).  Strings are escaped as Python's json.dumps escapes
// them with ensure_ascii=False, which is what FastAPI sends: '"', '\\' and
// the control characters escaped, everything else as UTF-8, and bytes that
// are not UTF-8 replaced by U+FFFD (never sent raw).
struct jtext {
  char *p;    // the text (malloc'd), NULL once an allocation failed
  size_t n;   //   its length
  size_t cap; //   its allocation
};

static void jt_raw(struct jtext *j, const char *s, size_t n) {
  if (!j->p) return;
  if (j->n + n + 1 > j->cap) {
    size_t cap = (j->n + n + 1) * 2;
    char *p = realloc(j->p, cap);
    if (!p) {
      free(j->p);
      j->p = NULL;
      return;
    }
    j->p = p;
    j->cap = cap;
  }
  memcpy(j->p + j->n, s, n);
  j->n += n;
  j->p[j->n] = '\0';
}

static void jt_lit(struct jtext *j, const char *s) { jt_raw(j, s, strlen(s)); }

static void jt_str(struct jtext *j, const char *s, size_t n) {
  jt_raw(j, "\"", 1);
  cio__http_text t = {s, n, 0, false, false};
  char c[4];
  size_t k;
  while ((k = cio__http_text_next(&t, c))) {
    unsigned char b = (unsigned char)c[0];
    if (k > 1 || (b >= 0x20 && b != '"' && b != '\\')) {
      jt_raw(j, c, k);
      continue;
    }
    char esc[8];
    const char *short_form = b == '"'    ? "\\\""
                             : b == '\\' ? "\\\\"
                             : b == '\n' ? "\\n"
                             : b == '\r' ? "\\r"
                             : b == '\t' ? "\\t"
                             : b == '\b' ? "\\b"
                             : b == '\f' ? "\\f"
                                         : NULL;
    if (!short_form) snprintf(esc, sizeof esc, "\\u%04x", b);
    jt_lit(j, short_form ? short_form : esc);
  }
  jt_raw(j, "\"", 1);
}

static struct jtext jt_new(size_t hint) {
  struct jtext j = {malloc(hint + 1), 0, hint + 1};
  if (j.p) j.p[0] = '\0';
  return j;
}

static int set_body(cio_http_res *res, int status, const char *type, char *owned, size_t len);

// Answers with the JSON text j (taking it), or with `fallback` (a literal)
// if building it ran out of memory.
static int jt_answer(cio_http_res *res, int status, struct jtext *j, const char *fallback) {
  if (j->p) {
    int rc = set_body(res, status, "application/json", j->p, j->n);
    if (rc == 0) return 0;
    free(j->p);
  }
  return cio_http_json(res, status, fallback);
}

// FastAPI's validation error: 422 {"detail":[{"type","loc","msg","input"}]},
// the input echoed whole.
static void answer_422(cio_http_res *res, const char *where, const char *name, const char *type,
                       const char *msg, const char *input, size_t input_len) {
  struct jtext j = jt_new(128 + strlen(name) + strlen(msg) + 6 * input_len);
  jt_lit(&j, "{\"detail\":[{\"type\":");
  jt_str(&j, type, strlen(type));
  jt_lit(&j, ",\"loc\":[");
  jt_str(&j, where, strlen(where));
  jt_lit(&j, ",");
  jt_str(&j, name, strlen(name));
  jt_lit(&j, "],\"msg\":");
  jt_str(&j, msg, strlen(msg));
  jt_lit(&j, ",\"input\":");
  jt_str(&j, input, input_len);
  jt_lit(&j, "}]}");
  (void)jt_answer(res, 422, &j, "{\"detail\":\"Unprocessable Content\"}");
}

// ---------------------------------------------------------------- request

// Hands out n bytes of the request's arena.  req_init reserved enough for
// everything the request can need; running past it is a bug in that sum.
static char *arena_take(cio_http_req *req, size_t n) {
  if (n > req->cap - req->used)
    cio__fatal("http: request arena overrun (%zu + %zu > %zu)", req->used, n, req->cap);
  char *p = req->mem + req->used;
  req->used += n;
  return p;
}

// A NUL-terminated copy of p[0..n) in the arena.
static char *arena_copy(cio_http_req *req, const char *p, size_t n) {
  char *s = arena_take(req, n + 1);
  memcpy(s, p, n);
  s[n] = '\0';
  return s;
}

// A decoded, NUL-terminated copy of p[0..n) in the arena (no more than n + 1
// bytes: see cio__http_decode).
static char *arena_decode(cio_http_req *req, const char *p, size_t n, bool plus, size_t *len) {
  char *s = arena_take(req, n + 1);
  *len = cio__http_decode(s, n, p, n, plus);
  s[*len] = '\0';
  req->used -= n - *len; // give back what decoding saved
  return s;
}

// Splits and decodes the query as Starlette does (urllib's parse_qsl with
// keep_blank_values): pairs split at '&', empty ones skipped, "name" alone
// is the empty value, '+' is a space, %XX decoded, invalid UTF-8 U+FFFD.
static void parse_query(cio_http_req *req, cio__http_slice q, size_t pairs) {
  if (!q.p) return; // no '?' (and no arithmetic on a NULL pointer)
  req->query = (struct qparam *)(void *)arena_take(req, pairs * sizeof *req->query);
  const char *p = q.p, *end = q.p + q.n;
  while (p < end) {
    const char *amp = memchr(p, '&', (size_t)(end - p));
    const char *stop = amp ? amp : end;
    if (stop > p) {
      const char *eq = memchr(p, '=', (size_t)(stop - p));
      struct qparam *qp = &req->query[req->nquery++];
      qp->name = arena_decode(req, p, (size_t)((eq ? eq : stop) - p), true, &qp->name_len);
      qp->value = eq ? arena_decode(req, eq + 1, (size_t)(stop - eq - 1), true, &qp->len) : "";
      if (!eq) qp->len = 0;
    }
    p = stop + 1;
  }
}

// Sets up the request from its head: the arena, the method, the path raw and
// decoded, the query parameters.  Returns 0, or the status to answer (400 for
// a target that is neither origin- nor absolute-form; 500 without memory).
static int req_init(cio_http_req *req, const cio__http_request *h) {
  if (!h->path.p) return 400;
  // The arena's bound, term by term: the method; the raw and the decoded
  // path (decoding never grows a target); the path parameters' copies (at
  // most the decoded path plus a NUL each); the query's pairs and their
  // decoded names and values with NULs; each header value once, with its
  // NUL; the authority; alignment.
  size_t pairs = h->query.p ? 1 : 0;
  // NOLINTNEXTLINE(clang-analyzer-core.NullDereference): a slice without p has n == 0
  for (size_t i = 0; i < h->query.n; i++) pairs += h->query.p[i] == '&';
  size_t headers = 0;
  for (size_t i = 0; i < h->nheaders; i++) headers += h->headers[i].value.n + 1;
  size_t need = pairs * sizeof(struct qparam) + (h->method.n + 1) + 3 * (h->path.n + 1) + MAX_SEGS +
                (h->query.n + 2 * pairs) + headers + (h->authority.n + 1);
  req->mem = need <= sizeof req->small ? req->small : malloc(need);
  if (!req->mem) return 500;
  req->cap = need;
  req->used = 0;
  parse_query(req, h->query, pairs); // first: the pairs want the arena's alignment
  req->method = arena_copy(req, h->method.p, h->method.n);
  req->path = arena_copy(req, h->path.p, h->path.n);
  req->dpath = arena_decode(req, h->path.p, h->path.n, false, &req->dpath_len);
  if (h->authority.p) req->host = arena_copy(req, h->authority.p, h->authority.n);
  req->head = h;
  return 0;
}

// Frees what req_init and the body reader allocated, and the request.
static void req_free(cio_http_req *req) {
  if (!req) return;
  if (req->mem != req->small) free(req->mem);
  free(req->body);
  free(req);
}

const char *cio_http_method(const cio_http_req *req) { return req ? req->method : NULL; }
const char *cio_http_path(const cio_http_req *req) { return req ? req->path : NULL; }

const char *cio_http_param(const cio_http_req *req, const char *name) {
  for (int i = 0; req && name && i < req->nparams; i++)
    if (strcmp(req->names[i], name) == 0) return req->values[i];
  return NULL;
}

int64_t cio_http_param_int(const cio_http_req *req, const char *name) {
  const char *v = cio_http_param(req, name);
  return v ? strtoll(v, NULL, 10) : 0;
}

double cio_http_param_float(const cio_http_req *req, const char *name) {
  const char *v = cio_http_param(req, name);
  return v ? strtod(v, NULL) : 0;
}

// The last parameter called `name` (Starlette's QueryParams[name]), or NULL.
static const struct qparam *find_query(const cio_http_req *req, const char *name) {
  if (!req || !name) return NULL;
  size_t nl = strlen(name);
  for (size_t i = req->nquery; i-- > 0;)
    if (req->query[i].name_len == nl && memcmp(req->query[i].name, name, nl) == 0)
      return &req->query[i];
  return NULL;
}

const char *cio_http_query_n(const cio_http_req *req, const char *name, size_t *len) {
  const struct qparam *q = find_query(req, name);
  if (len) *len = q ? q->len : 0;
  return q ? q->value : NULL;
}

const char *cio_http_query(const cio_http_req *req, const char *name) {
  const struct qparam *q = find_query(req, name);
  // A value with a NUL in it (%00) is not a C string: cut at the NUL it
  // would read as another value ("a.txt%00.jpg" as "a.txt").
  return q && strlen(q->value) == q->len ? q->value : NULL;
}

// Converts the whole of s[0..n) (no NUL inside) as an integer.
static bool to_int(const char *s, size_t n, int64_t *out) {
  if (!n || strlen(s) != n) return false;
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (*end || errno) return false;
  *out = v;
  return true;
}

static bool to_float(const char *s, size_t n, double *out) {
  if (!n || strlen(s) != n) return false;
  char *end;
  double d = strtod(s, &end);
  if (*end) return false;
  *out = d;
  return true;
}

int cio_http_query_int(cio_http_req *req, cio_http_res *res, const char *name, int64_t def,
                       int64_t *out) {
  const struct qparam *q = find_query(req, name);
  if (!q) {
    *out = def;
    return 0;
  }
  if (to_int(q->value, q->len, out)) return 0;
  answer_422(res, "query", name, "int_parsing",
             "Input should be a valid integer, unable to parse string as an integer", q->value,
             q->len);
  return -EINVAL;
}

int cio_http_query_float(cio_http_req *req, cio_http_res *res, const char *name, double def,
                         double *out) {
  const struct qparam *q = find_query(req, name);
  if (!q) {
    *out = def;
    return 0;
  }
  if (to_float(q->value, q->len, out)) return 0;
  answer_422(res, "query", name, "float_parsing",
             "Input should be a valid number, unable to parse string as a number", q->value,
             q->len);
  return -EINVAL;
}

int cio_http_query_bool(cio_http_req *req, cio_http_res *res, const char *name, bool def,
                        bool *out) {
  static const char *yes[] = {"true", "1", "yes", "on", "t", "y"};
  static const char *no[] = {"false", "0", "no", "off", "f", "n"};
  const struct qparam *q = find_query(req, name);
  *out = def;
  if (!q) return 0;
  for (size_t i = 0; i < sizeof yes / sizeof yes[0] && strlen(q->value) == q->len; i++) {
    if (strcasecmp(q->value, yes[i]) == 0) return *out = true, 0;
    if (strcasecmp(q->value, no[i]) == 0) return *out = false, 0;
  }
  answer_422(res, "query", name, "bool_parsing",
             "Input should be a valid boolean, unable to interpret input", q->value, q->len);
  return -EINVAL;
}

const char *cio_http_header(const cio_http_req *req, const char *name) {
  if (!req || !name) return NULL;
  // RFC 9112 §3.2.2: with an absolute-form target, its authority is the host.
  if (req->host && strcasecmp(name, "host") == 0) return req->host;
  cio_http_req *r = (cio_http_req *)req; // the copies are a cache
  for (size_t i = 0; i < req->head->nheaders; i++) {
    const cio__http_header *h = &req->head->headers[i];
    if (h->name.n != strlen(name) || strncasecmp(h->name.p, name, h->name.n) != 0) continue;
    if (!r->hcopy[i]) r->hcopy[i] = arena_copy(r, h->value.p, h->value.n);
    return r->hcopy[i];
  }
  return NULL;
}

const char *cio_http_body(const cio_http_req *req, size_t *len) {
  if (len) *len = req ? req->body_len : 0;
  return req ? req->body : NULL;
}

// ---------------------------------------------------------------- response

// A Content-Type or header value: visible characters, spaces and tabs, no
// other control characters (RFC 9110 §5.5), so no CR or LF that would end
// the line and start another header.
static bool field_value_ok(const char *v) {
  for (; *v; v++)
    if (((unsigned char)*v < ' ' && *v != '\t') || *v == 0x7f) return false;
  return true;
}

// Sets the response, taking `owned` (malloc'd, len bytes).
static int set_body(cio_http_res *res, int status, const char *type, char *owned, size_t len) {
  if (!type) type = "application/octet-stream";
  if (status < 100 || status > 999 || strlen(type) >= MAX_TYPE || !field_value_ok(type))
    return -EINVAL;
  free(res->body);
  res->body = owned;
  res->len = len;
  res->status = status;
  // (memcpy: the analyzer loses res->body, set above, across a strcpy into *res)
  memcpy(res->type, type, strlen(type) + 1);
  return 0;
}

int cio_http_send(cio_http_res *res, int status, const char *type, const void *body, size_t len) {
  if (!res || (!body && len)) return -EINVAL;
  char *copy = malloc(len ? len : 1);
  if (!copy) return -ENOMEM;
  if (len) memcpy(copy, body, len); // (NULL, 0) is an empty body
  int rc = set_body(res, status, type, copy, len);
  if (rc < 0) free(copy);
  return rc;
}

int cio_http_json(cio_http_res *res, int status, const char *json) {
  if (!json) return -EINVAL;
  return cio_http_send(res, status, "application/json", json, strlen(json));
}

int cio_http_set_header(cio_http_res *res, const char *name, const char *value) {
  if (!res || !name || !value || !*name || !field_value_ok(value)) return -EINVAL;
  for (const char *c = name; *c; c++)
    if (!isalnum((unsigned char)*c) && !strchr("!#$%&'*+-.^_`|~", *c)) return -EINVAL;
  // The framing is the server's to say: a handler's Content-Length or
  // Transfer-Encoding could contradict the body (a response split in two).
  if (!strcasecmp(name, "content-length") || !strcasecmp(name, "transfer-encoding") ||
      !strcasecmp(name, "connection"))
    return -EINVAL;
  int n = snprintf(res->headers + res->hlen, sizeof res->headers - res->hlen, "%s: %s\r\n", name,
                   value);
  if (n < 0 || (size_t)n >= sizeof res->headers - res->hlen) return -ENOSPC;
  res->hlen += (size_t)n;
  if (!strcasecmp(name, "date")) res->own_date = true;
  if (!strcasecmp(name, "server")) res->own_server = true;
  return 0;
}

static const char *reason(int status) {
  switch (status) {
  case 100: return "Continue";
  case 101: return "Switching Protocols";
  case 200: return "OK";
  case 201: return "Created";
  case 202: return "Accepted";
  case 204: return "No Content";
  case 301: return "Moved Permanently";
  case 302: return "Found";
  case 303: return "See Other";
  case 304: return "Not Modified";
  case 307: return "Temporary Redirect";
  case 308: return "Permanent Redirect";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 413: return "Content Too Large";
  case 414: return "URI Too Long";
  case 422: return "Unprocessable Content";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  case 505: return "HTTP Version Not Supported";
  default: return "Status";
  }
}

// "Date: <IMF-fixdate>\r\n" for the current second (RFC 9110 §6.6.1: an
// origin server with a clock MUST send Date).  Formatted once a second per
// thread (it is on every response), in English whatever the locale.  The
// caller copies it at once: another thread has its own, and this thread
// rewrites it only when asked for it in a later second.
static const char *date_line(void) {
  static __thread time_t formatted = -1;
  static __thread char line[96]; // 37 bytes until the year 10000; room for any int
  static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  struct timespec now;
  clock_gettime(CLOCK_REALTIME_COARSE, &now); // the vDSO's: no system call
  if (now.tv_sec != formatted) {
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    snprintf(line, sizeof line, "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n", days[tm.tm_wday],
             tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    formatted = now.tv_sec;
  }
  return line;
}

// 1xx, 204 and 304 answers have no content, so no Content-Length either
// (RFC 9110 §8.6, §6.4.1), and no Content-Type.
static bool bodiless(int status) { return status < 200 || status == 204 || status == 304; }

#define CHUNKED (-1)   // format_head's length: Transfer-Encoding: chunked
#define NO_LENGTH (-2) // neither (a HEAD answer to a streamed GET)

// Formats a response head into top[0..cap): status line, Date, Server,
// Content-Type, the framing (`length`: the Content-Length, CHUNKED or
// NO_LENGTH), Connection (close, or keep-alive said to an HTTP/1.0 client,
// which otherwise expects a close: RFC 9112 §9.3, `ab -k`), and the
// handler's headers.  Returns its length, or -EOVERFLOW (cannot happen with
// the field sizes of cio_http_res, which bound it well under 1 KiB).
static int format_head(char *top, size_t cap, const cio_http_res *res, int status, long long length,
                       bool keep_alive) {
  bool none = bodiless(status);
  char framing[48] = "";
  if (!none && length >= 0)
    snprintf(framing, sizeof framing, "Content-Length: %lld\r\n", length);
  else if (!none && length == CHUNKED)
    snprintf(framing, sizeof framing, "Transfer-Encoding: chunked\r\n");
  const char *type = res->type[0] ? res->type : "text/plain";
  int n = snprintf(top, cap, "HTTP/1.1 %d %s\r\n%s%s%s%s%s%s%s%.*s\r\n", status, reason(status),
                   res->own_date ? "" : date_line(), res->own_server ? "" : "Server: cio\r\n",
                   none ? "" : "Content-Type: ", none ? "" : type, none ? "" : "\r\n", framing,
                   !keep_alive   ? "Connection: close\r\n"
                   : res->http10 ? "Connection: keep-alive\r\n"
                                 : "",
                   (int)res->hlen, res->headers);
  return n < 0 || (size_t)n >= cap ? -EOVERFLOW : n;
}

#define SEND_PIECE CIO__TUNED(65536, 512) // bytes written under one send timeout

// Writes all of buf to the client, as cio_sock_write, with the send timeout
// applied to each piece of SEND_PIECE bytes: what is timed is progress, as
// with nginx's send_timeout, so a big answer to a slow but reading client
// goes through.  A client that stops reading for that long gets its
// connection reset, and the task serving it is cancelled (a streaming
// handler stops at its next await).  Returns len or -errno (-ETIMEDOUT).
static ssize_t res_write(cio_http_res *res, const void *buf, size_t len) {
  if (res->reset) return -ETIMEDOUT;
  for (size_t done = 0; done < len;) {
    size_t n = len - done < SEND_PIECE ? len - done : SEND_PIECE;
    // Timed from the clock, not from the round's cio_now(): a handler may
    // have computed for a long time before it writes.
    cio_scope scope;
    (void)cio_timeout_begin(&scope, res->send_timeout);
    ssize_t w = cio_sock_write(res->sock, (const char *)buf + done, n);
    if (cio_scope_end(&scope) == -ETIMEDOUT) {
      res->reset = true;
      cio_cancel(cio_current());
      return -ETIMEDOUT;
    }
    if (w < 0) return w;
    done += n;
  }
  return (ssize_t)len;
}

int cio_http_stream_start(cio_http_res *res, int status, const char *type) {
  if (!res || res->status || res->streaming) return -EALREADY;
  if (!type) type = "application/octet-stream";
  if (status < 100 || status > 999 || strlen(type) >= MAX_TYPE || !field_value_ok(type))
    return -EINVAL;
  strcpy(res->type, type);
  char top[1024];
  int n = format_head(top, sizeof top, res, status, res->head_only ? NO_LENGTH : CHUNKED,
                      res->keep_alive);
  if (n < 0) return n;
  res->status = status;
  res->streaming = true;
  if (bodiless(status)) res->head_only = true; // no chunks, no last chunk
  ssize_t w = res_write(res, top, (size_t)n);
  return w < 0 ? (int)w : 0;
}

#define SMALL_CHUNK CIO__TUNED(1000, 3) // chunks up to this size go out in one write

int cio_http_stream_write(cio_http_res *res, const void *data, size_t len) {
  if (!res || !res->streaming || (!data && len)) return -EINVAL;
  if (res->head_only || len == 0) return 0; // an empty chunk would end the stream
  char buf[24 + SMALL_CHUNK + 2];
  int n = snprintf(buf, 24, "%zx\r\n", len);
  if (len <= SMALL_CHUNK) { // size line, data and CRLF: one system call
    memcpy(buf + n, data, len);
    memcpy(buf + n + len, "\r\n", 2);
    ssize_t w = res_write(res, buf, (size_t)n + len + 2);
    return w < 0 ? (int)w : 0;
  }
  ssize_t w = res_write(res, buf, (size_t)n);
  if (w >= 0) w = res_write(res, data, len);
  if (w >= 0) w = res_write(res, "\r\n", 2);
  return w < 0 ? (int)w : 0;
}

static void error_body(cio_http_res *res, int status) {
  char body[128];
  snprintf(body, sizeof body, "{\"detail\":\"%s\"}", reason(status)); // ASCII, no quotes
  cio_http_json(res, status, body);
}

// ---------------------------------------------------------------- routing

// A piece of the decoded path.
struct slot {
  const char *p; // start, in req->dpath
  size_t n;      // length
};

// Matches the decoded path path[0..len) against r, as Starlette's compiled
// patterns do: a {name} (str, int or float) takes one non-empty segment, a
// literal matches itself, {name:path} takes the rest (slashes included).
// "//nope" has an empty first segment and "/user//profile" an empty second
// one: neither matches.  One trailing slash is let through ("/items/1/"
// is "/items/1"; FastAPI answers it with a redirect there).  A NUL (%00)
// cannot be handed to C as part of a str or path value: such a value does
// not match (404); an int or float one matches and fails to convert (422).
// Returns the number of parameters found (their slices in vals), or -1.
static int match(const struct route *r, const char *path, size_t len, struct slot *vals) {
  const char *pos = path + 1, *end = path + len;
  bool more = len > 1; // a segment starts at pos
  int nv = 0;
  for (int i = 0; i < r->nsegs; i++) {
    const struct seg *s = &r->segs[i];
    bool rest = s->param && s->type == P_PATH; // the last segment of its pattern
    if (!more && !(rest && i == 0)) return -1; // ("/" has no segment, but "/{p:path}" takes "")
    if (rest) {
      size_t n = (size_t)(end - pos);
      if (memchr(pos, '\0', n)) return -1;
      vals[nv++] = (struct slot){pos, n};
      return nv;
    }
    const char *e = memchr(pos, '/', (size_t)(end - pos));
    if (!e) e = end;
    size_t n = (size_t)(e - pos);
    if (s->literal) {
      if (strlen(s->literal) != n || memcmp(s->literal, pos, n) != 0) return -1;
    } else {
      if (n == 0 || (s->type == P_STR && memchr(pos, '\0', n))) return -1;
      vals[nv++] = (struct slot){pos, n};
    }
    more = e < end;
    pos = more ? e + 1 : end;
  }
  return more && pos != end ? -1 : nv; // segments left over; a trailing slash is fine
}

// Adds `method` to the comma-separated list *allow (malloc'd) unless it is there.
static void allow_add(char **allow, size_t *len, const char *method) {
  size_t ml = strlen(method);
  for (const char *p = *allow; p && *p;) {
    const char *comma = strchr(p, ',');
    size_t n = comma ? (size_t)(comma - p) : strlen(p);
    if (n == ml && memcmp(p, method, n) == 0) return;
    p = comma ? comma + 2 : p + n;
  }
  char *grown = realloc(*allow, *len + ml + 3);
  if (!grown) return; // the 405 goes out without this method in Allow
  *allow = grown;
  *len += (size_t)sprintf(grown + *len, "%s%s", *len ? ", " : "", method);
}

// Runs the route's handler within the handler timeout and turns what it
// returned into an answer (504, 500, or none for a client that left).
static void run_handler(const struct route *r, cio_http_req *req, cio_http_res *res,
                        double timeout) {
  cio_scope scope;
  if (timeout > 0) (void)cio_timeout_begin(&scope, timeout);
  int rc = r->fn(req, res, r->arg);
  int expired = timeout > 0 ? cio_scope_end(&scope) : 0;
  if (expired == -ETIMEDOUT || (rc == -ETIMEDOUT && !res->status)) {
    cio_http_json(res, 504, "{\"detail\":\"the handler timed out\"}");
  } else if (rc == -ECANCELED && !res->status && cio_task_cancelled(cio_current())) {
    // Cancelled because the client hung up (or the server is closing): no
    // answer is owed.
  } else if (rc < 0 || !res->status) {
    struct jtext what = jt_new(64), j = jt_new(96);
    jt_lit(&what, "internal error: ");
    jt_lit(&what, rc < 0 ? cio_strerror(rc) : "no response");
    jt_lit(&j, "{\"detail\":");
    if (what.p) {
      jt_str(&j, what.p, what.n);
    } else { // out of memory: the fallback below
      free(j.p);
      j.p = NULL;
    }
    free(what.p);
    jt_lit(&j, "}");
    (void)jt_answer(res, 500, &j, "{\"detail\":\"internal error\"}");
  }
}

// Routes the request: runs the handler or answers 404/405/422.
static void dispatch(cio_http_app *app, cio_http_req *req, cio_http_res *res, double timeout) {
  char *allow = NULL;
  size_t allow_len = 0;
  bool head = strcmp(req->method, "HEAD") == 0;
  for (struct route *r = app->routes; r; r = r->next) {
    struct slot vals[MAX_SEGS];
    int nv = match(r, req->dpath, req->dpath_len, vals);
    if (nv < 0) continue;
    if (strcmp(r->method, req->method) != 0 && !(head && strcmp(r->method, "GET") == 0)) {
      allow_add(&allow, &allow_len, r->method);
      continue;
    }
    free(allow);
    // The parameters, copied into the arena (they live until the request
    // is freed), then converted: the first that does not convert is 422.
    req->nparams = 0;
    for (int i = 0; i < r->nsegs; i++) {
      const struct seg *s = &r->segs[i];
      if (!s->param) continue;
      const struct slot *v = &vals[req->nparams];
      req->names[req->nparams] = s->param;
      // NOLINTNEXTLINE(clang-analyzer-core.CallAndMessage): match() set one per parameter
      req->values[req->nparams++] = arena_copy(req, v->p, v->n);
    }
    for (int i = 0, k = 0; i < r->nsegs; i++) {
      const struct seg *s = &r->segs[i];
      if (!s->param) continue;
      const struct slot *v = &vals[k];
      const char *text = req->values[k++];
      int64_t iv;
      double dv;
      if (s->type == P_INT && !to_int(text, v->n, &iv)) {
        answer_422(res, "path", s->param, "int_parsing",
                   "Input should be a valid integer, unable to parse string as an integer", v->p,
                   v->n);
        return;
      }
      if (s->type == P_FLOAT && !to_float(text, v->n, &dv)) {
        answer_422(res, "path", s->param, "float_parsing",
                   "Input should be a valid number, unable to parse string as a number", v->p,
                   v->n);
        return;
      }
    }
    run_handler(r, req, res, timeout);
    return;
  }
  if (allow) {
    error_body(res, 405);
    (void)cio_http_set_header(res, "Allow", allow);
    free(allow);
  } else {
    error_body(res, 404);
  }
}

// ---------------------------------------------------------------- middleware

int cio_http_use(cio_http_app *app, cio_http_middleware fn, void *arg) {
  if (!app || !fn) return -EINVAL;
  struct mw *m = calloc(1, sizeof *m);
  if (!m) return -ENOMEM;
  m->fn = fn;
  m->arg = arg;
  *app->mw_tail = m;
  app->mw_tail = &m->next;
  return 0;
}

int cio_http_status(const cio_http_res *res) { return res ? res->status : 0; }

// Where a request is in the middleware chain.
struct chain {
  cio_http_app *app; // routes
  struct mw *at;     // the next middleware to run, or NULL: route it
  double timeout;    // handler timeout
  int status;        // an answer the server gives itself (413, 408...), or 0: route it
};

static int chain_next(cio_http_req *req, cio_http_res *res, void *state) {
  struct chain *c = state;
  struct mw *m = c->at;
  if (!m) {
    if (c->status)
      error_body(res, c->status); // middleware sees it as any other answer
    else
      dispatch(c->app, req, res, c->timeout);
    return 0;
  }
  c->at = m->next;
  return m->fn(req, res, chain_next, c, m->arg);
}

// ---------------------------------------------------------------- connections
//
// Every wait of a connection has a deadline: the head must arrive whole
// within header_timeout, the body at min_body_rate after body_timeout, each
// write must make progress within send_timeout, an idle kept-alive
// connection closes after idle_timeout, and a lingering close ends after
// LINGER_TIME.  None of them restarts with each read, so a client that
// trickles bytes cannot hold a connection longer than they allow.

// Lingering close (nginx's lingering_close): after an answer that leaves
// unread input (an early 413 or 431, a 408...), closing at once makes the
// kernel answer the client's next bytes with a reset, and a client that
// writes its whole request before reading (Python's http.client, httpx)
// then loses the answer to ConnectionResetError.  So the server shuts down
// its sending side, and reads and drops what still comes until the client
// closes, goes quiet, or a bound below is reached.
#define LINGER_TIME 5.0               // seconds at most
#define LINGER_QUIET 2.0              // seconds without a byte that end it
#define LINGER_MAX ((size_t)64 << 20) // bytes dropped at most

// A connection being served (on its task's stack).
struct conn {
  struct http_server *srv;  // its server
  cio_sock *sock;           // the connection
  cio_task *task;           // the task serving it
  char *buf;                // received bytes
  size_t cap, have;         // allocated, filled
  size_t most;              // the most cap grows to: max_head + room for a chunk line
  bool idle;                // waiting for a request's first byte: a closing server may close it
  bool busy;                // inside a request (counted in srv->busy)
  bool linger;              // input may be left unread: close lingering
  struct conn *prev, *next; // the server's other connections
};

// A closing server closes its idle connections once no request is in
// flight: until then a request that arrives on one is still answered (with
// Connection: close), as it may have been sent before the client could
// know.
static void close_idle(struct http_server *srv) {
  if (!srv->draining || srv->busy) return;
  for (struct conn *c = srv->conns; c; c = c->next)
    if (c->idle) cio_cancel(c->task);
}

static void set_busy(struct conn *c, bool busy) {
  if (c->busy == busy) return;
  c->busy = busy;
  if (busy)
    c->srv->busy++;
  else if (--c->srv->busy == 0)
    close_idle(c->srv);
}

// The server's closing hook (src/io/server.h).
static void http_closing(void *arg, double grace) {
  struct http_server *srv = arg;
  srv->draining = true;
  srv->abort_at = cio_now() + grace;
  close_idle(srv);
}

// Reads into buf, waiting until `deadline` (on the cio_now() clock) at
// most.  Returns bytes read, 0 at end of stream, -ETIMEDOUT, -errno.
static ssize_t read_by(cio_sock *s, void *buf, size_t len, double deadline) {
  cio_scope scope;
  (void)cio_timeout_at_begin(&scope, deadline);
  ssize_t r = cio_sock_read(s, buf, len);
  int expired = cio_scope_end(&scope);
  return r < 0 && expired == -ETIMEDOUT ? -ETIMEDOUT : r;
}

// The buffer starts small and doubles up to c->most as a head or pipelined
// requests need it: 10,000 idle connections then hold 2 KiB each, not 20.
#define CONN_BUF CIO__TUNED(2048, 64) // bytes a connection's buffer starts with

// Makes room in c->buf (moving it: slices into it go stale).  Returns 0, or
// -ENOBUFS when it is at its most, -ENOMEM.
static int grow(struct conn *c) {
  if (c->cap >= c->most) return -ENOBUFS;
  size_t cap = c->cap * 2 < c->most ? c->cap * 2 : c->most;
  char *b = realloc(c->buf, cap);
  if (!b) return -ENOMEM;
  c->buf = b;
  c->cap = cap;
  return 0;
}

// Reads more into c->buf by `deadline`; as read_by.  Grows the buffer when
// it is full, unless `fixed` (a parsed head points into it).
static ssize_t read_more(struct conn *c, double deadline, bool fixed) {
  if (c->have == c->cap && (fixed || grow(c) < 0)) return -ENOBUFS;
  ssize_t r = read_by(c->sock, c->buf + c->have, c->cap - c->have, deadline);
  if (r > 0) c->have += (size_t)r;
  return r;
}

// Writes the response res holds (see format_head).  A 204, 304 or 1xx
// goes without its body, whatever the handler set.
static int write_response(struct conn *c, cio_http_res *res, bool head_only, bool keep_alive) {
  (void)c;
  char top[1024];
  int n = format_head(top, sizeof top, res, res->status, (long long)res->len, keep_alive);
  if (n < 0) return n;
  if (bodiless(res->status)) head_only = true;
  if (head_only || res->len == 0 || (size_t)n + res->len > sizeof top) {
    ssize_t w = res_write(res, top, (size_t)n);
    if (w < 0) return (int)w;
    if (!head_only && res->len) w = res_write(res, res->body, res->len);
    return w < 0 ? (int)w : 0;
  }
  memcpy(top + n, res->body, res->len); // one write for small responses
  ssize_t w = res_write(res, top, (size_t)n + res->len);
  return w < 0 ? (int)w : 0;
}

// Clears the response for the next request (the connection's settings stay).
static void reset_res(cio_http_res *res) {
  free(res->body);
  cio_http_res keep = *res;
  memset(res, 0, sizeof *res);
  res->sock = keep.sock;
  res->send_timeout = keep.send_timeout;
  res->reset = keep.reset;
}

// Answers an error found before there is a request to show the middleware
// (the head did not parse, or its target is unusable); the connection then
// closes, lingering.
static int fail(struct conn *c, cio_http_res *res, int status) {
  reset_res(res);
  error_body(res, status);
  int rc = write_response(c, res, false, false);
  reset_res(res);
  c->linger = true;
  return rc;
}

// Reads until a whole request head is buffered.  The head has one deadline,
// head_by (header_timeout after its first byte, or after the accept for a
// connection's first request; 0: not started), however the bytes trickle
// in; before its first byte a kept-alive connection may idle for
// idle_timeout.  Returns the head's length; 0 to close quietly (the client
// left or idled out, or the server is closing); or -status to answer: 408,
// or the parser's 400, 414, 431, 501, 505.
static int read_head(struct conn *c, cio__http_request *h, double head_by) {
  struct http_server *srv = c->srv;
  cio__http_limits lim = {srv->opts.max_line, srv->opts.max_head, 0};
  int head_len;
  while ((head_len = cio__http_parse_request(c->buf, c->have, h, &lim)) == 0) {
    if (c->have && !head_by) head_by = cio_now() + srv->opts.header_timeout;
    if (c->have) set_busy(c, true);
    if (!c->have && srv->draining && !srv->busy) return 0; // closing, nothing in flight
    c->idle = !c->have;
    ssize_t r = read_more(c, head_by ? head_by : cio_now() + srv->opts.idle_timeout, false);
    c->idle = false;
    if (r > 0) continue;
    if (r == -ETIMEDOUT && c->have) return -408; // slow loris: answer and drop it
    return 0; // closed, reset, idle too long, or cancelled by a closing server
  }
  return head_len;
}

// The body's deadline: body_timeout from its start, plus the time the
// bytes received so far take at min_body_rate.  A client sending at least
// that fast never meets it; one that trickles meets it soon after
// body_timeout.
static double body_deadline(const struct http_server *srv, double start, size_t received) {
  return start + srv->opts.body_timeout + (double)received / srv->opts.min_body_rate;
}

// Reads the body the head announces into a malloc'd buffer.  Returns 0, a
// status to answer (400 bad chunked coding, 408 too slow, 413 too big), or
// -errno when the client left.
static int read_body(struct conn *c, const struct http_server *srv, const cio__http_request *h,
                     size_t head_len, char **out, size_t *out_len, size_t *consumed) {
  size_t max = srv->opts.max_body, received = 0;
  double start = cio_now();
  if (h->chunked) {
    cio__http_chunked d = {0};
    char *body = malloc(max + 1);
    size_t blen = 0, pos = head_len;
    if (!body) return -ENOMEM;
    for (;;) {
      size_t len = c->have - pos, used = 0;
      int rc = cio__http_chunked_decode(&d, c->buf + pos, &len, &used);
      if (rc < 0) {
        free(body);
        return 400;
      }
      if (blen + len > max) {
        free(body);
        return 413;
      }
      memcpy(body + blen, c->buf + pos, len);
      blen += len;
      pos += used;
      if (rc == 1) break;
      // Drop what was consumed so the buffer never fills up.
      memmove(c->buf + head_len, c->buf + pos, c->have - pos);
      c->have -= pos - head_len;
      pos = head_len;
      ssize_t r = read_more(c, body_deadline(srv, start, received), true);
      if (r <= 0) {
        free(body);
        return r == -ETIMEDOUT ? 408 : -EPIPE;
      }
      received += (size_t)r;
    }
    body[blen] = '\0';
    *out = body;
    *out_len = blen;
    *consumed = pos;
    return 0;
  }
  size_t cl = h->content_length > 0 ? (size_t)h->content_length : 0;
  if (cl > max) return 413;
  char *body = malloc(cl + 1);
  if (!body) return -ENOMEM;
  size_t got = c->have - head_len < cl ? c->have - head_len : cl;
  memcpy(body, c->buf + head_len, got);
  size_t pos = head_len + got;
  while (got < cl) { // read the rest straight into the body
    ssize_t r = read_by(c->sock, body + got, cl - got, body_deadline(srv, start, received));
    if (r <= 0) {
      free(body);
      return r == -ETIMEDOUT ? 408 : -EPIPE;
    }
    got += (size_t)r;
    received += (size_t)r;
  }
  body[cl] = '\0';
  *out = body;
  *out_len = cl;
  *consumed = pos;
  return 0;
}

// Sends a finished handler's answer although the connection's task was
// cancelled by the client's FIN: a half-closed client still reads, and for
// one that left the write just fails.  Shielded from that cancellation and
// bounded in time, since the client may not read at all: by the send
// timeout, and by the end of a closing server's grace (a shield would
// otherwise keep the close waiting).
#define HUNG_UP_WRITE_TIMEOUT 5.0

static void answer_hung_up(struct conn *c, cio_http_res *res, bool head_only) {
  double limit =
      HUNG_UP_WRITE_TIMEOUT < res->send_timeout ? HUNG_UP_WRITE_TIMEOUT : res->send_timeout;
  if (c->srv->draining && c->srv->abort_at - cio_now() < limit)
    limit = c->srv->abort_at - cio_now();
  if (limit <= 0 || cio__server_aborting(c->srv->server)) return;
  cio_scope shield, scope;
  if (cio_shield_begin(&shield) < 0) return;
  if (cio_timeout_begin(&scope, limit) == 0) {
    (void)write_response(c, res, head_only, false);
    (void)cio_scope_end(&scope);
  }
  (void)cio_scope_end(&shield);
}

// Shuts down the sending side, then drops what the client still sends (see
// LINGER_TIME), so that it reads the answer before any reset.
static void linger_close(struct conn *c) {
  if (cio_sock_shutdown(c->sock, SHUT_WR) < 0) return;
  double end = cio_now() + LINGER_TIME;
  for (size_t dropped = 0; dropped < LINGER_MAX;) {
    double quiet = cio_now() + LINGER_QUIET;
    ssize_t r = read_by(c->sock, c->buf, c->cap, quiet < end ? quiet : end);
    if (r <= 0) break; // the client closed or went quiet, time is up, or the server aborts
    dropped += (size_t)r;
  }
}

// Serves the request whose head is in c->buf[0, head_len): reads its body,
// runs the middleware and the handler (or, for an error found on the way,
// such as 413, the middleware around that answer), and writes the answer.
// Returns 0 to read the next request, 1 to close the connection, -errno.
static int serve_request(struct conn *c, cio_http_res *res, cio__http_request *h, size_t head_len) {
  struct http_server *srv = c->srv;
  bool has_body = h->chunked || h->content_length > 0;
  int status = 0;
  if (h->chunked && c->cap < head_len + 4096) { // room for the chunk lines...
    while (grow(c) == 0) {
    }
    cio__http_limits lim = {srv->opts.max_line, srv->opts.max_head, 0};
    if (cio__http_parse_request(c->buf, c->have, h, &lim) != (int)head_len) return -EPROTO;
  } //                                          ...and the head parsed again where it now is
  if (has_body && !h->chunked && (size_t)h->content_length > srv->opts.max_body) {
    status = 413; // refused before it is sent (no 100 Continue)
  } else if (has_body && h->expect_continue && c->have == head_len) {
    static const char go_on[] = "HTTP/1.1 100 Continue\r\n\r\n";
    if (res_write(res, go_on, sizeof go_on - 1) < 0) return 1;
  }
  cio_http_req *req = calloc(1, sizeof *req);
  if (!req) return -ENOMEM;
  int bad = req_init(req, h);
  if (bad) {
    req_free(req);
    return fail(c, res, bad) < 0 ? -EPIPE : 1;
  }
  size_t consumed = head_len;
  if (!status && has_body) {
    int b = read_body(c, srv, h, head_len, &req->body, &req->body_len, &consumed);
    if (b < 0) {
      req_free(req);
      return b; // the client left
    }
    status = b;
  }
  // A client that disconnects while its handler runs cancels the handler.
  // TCP cannot tell a client that left from one that only shut down its
  // sending side (HTTP/1.0 style, `nc -N`), so both cancel, as Go's
  // request context does; a handler that finishes anyway still has its
  // answer sent (below), and the connection then closes.
  if (!status) cio__sock_cancel_on_hup(c->sock, cio_current());
  res->head_only = strcmp(req->method, "HEAD") == 0;
  res->keep_alive = h->keep_alive && !status && !srv->draining;
  res->http10 = h->minor == 0;
  struct chain chain = {srv->app, srv->app->mws, srv->opts.handler_timeout, status};
  int mrc = chain_next(req, res, &chain);
  bool hung_up = cio_task_cancelled(cio_current());
  if (mrc < 0 && !res->status && !hung_up) error_body(res, 500);
  cio__sock_cancel_on_hup(c->sock, NULL);
  bool head_only = res->head_only;
  req_free(req);
  if (hung_up) { // the client left, a write timed out, or the server aborts
    if (res->status && !res->streaming && !res->reset) answer_hung_up(c, res, head_only);
    return 1;
  }
  // Closing began while the handler ran: this answer closes the connection.
  bool keep_alive = res->keep_alive && !srv->draining;
  int rc;
  if (res->streaming) { // the last chunk
    ssize_t w = head_only ? 0 : res_write(res, "0\r\n\r\n", 5);
    rc = w < 0 ? (int)w : 0;
  } else {
    rc = write_response(c, res, head_only, keep_alive);
  }
  reset_res(res);
  if (rc < 0) return rc;
  // An error answered before the request was read whole, or requests
  // pipelined after one that closes: input is left unread.
  if (status || (!keep_alive && c->have > consumed)) c->linger = true;
  if (!keep_alive) return 1;
  // Pipelining: keep what follows this request.
  memmove(c->buf, c->buf + consumed, c->have - consumed);
  c->have -= consumed;
  return 0;
}

static int serve_connection(cio_stream *st, void *arg) {
  struct http_server *srv = arg;
  struct conn c = {.srv = srv, .sock = cio_stream_sock(st), .task = cio_current()};
  c.most = srv->opts.max_head + 4096;
  c.cap = CONN_BUF < c.most ? CONN_BUF : c.most;
  c.buf = malloc(c.cap);
  if (!c.buf) return -ENOMEM;
  c.next = srv->conns;
  if (srv->conns) srv->conns->prev = &c;
  srv->conns = &c;
  cio_http_res res;
  memset(&res, 0, sizeof res);
  res.sock = c.sock;
  res.send_timeout = srv->opts.send_timeout;
  double head_by = cio_now() + srv->opts.header_timeout; // the first head counts from the accept
  int rc = 0;
  while (rc == 0) {
    cio__http_request h;
    int head_len = read_head(&c, &h, head_by);
    head_by = 0;
    if (head_len == 0) break;
    set_busy(&c, true);
    rc = head_len < 0 ? (fail(&c, &res, -head_len), 1)
                      : serve_request(&c, &res, &h, (size_t)head_len);
    set_busy(&c, false);
  }
  if (res.reset) { // a write timed out: drop what the kernel still holds for this client
    struct linger lg = {1, 0};
    (void)setsockopt(cio_sock_fd(c.sock), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  } else if (c.linger && !cio_task_cancelled(cio_current())) {
    linger_close(&c);
  }
  set_busy(&c, false);
  if (c.prev)
    c.prev->next = c.next;
  else
    srv->conns = c.next;
  if (c.next) c.next->prev = c.prev;
  reset_res(&res);
  free(c.buf);
  return rc < 0 ? rc : 0;
}

// Fills in the defaults of the options (docs/http.md lists them).
static void default_opts(cio_http_opts *o) {
  if (!o->max_body) o->max_body = 1 << 20;
  if (!o->max_head) o->max_head = 16384;
  if (!o->max_line) o->max_line = 8192;
  if (!(o->header_timeout > 0)) o->header_timeout = 10;
  if (!(o->body_timeout > 0)) o->body_timeout = 10;
  if (!(o->min_body_rate > 0)) o->min_body_rate = 1024;
  if (!(o->send_timeout > 0)) o->send_timeout = 60;
  if (!(o->idle_timeout > 0)) o->idle_timeout = 60;
  if (!(o->shutdown_timeout > 0)) o->shutdown_timeout = 10;
}

int cio_http_serve(cio_http_app *app, const char *host, const char *port, const cio_http_opts *opts,
                   cio_server **out) {
  if (!app || !out) return -EINVAL;
  struct http_server *srv = calloc(1, sizeof *srv); // freed with the app
  if (!srv) return -ENOMEM;
  srv->app = app;
  if (opts) srv->opts = *opts;
  default_opts(&srv->opts);
  cio_server_opts so = {.max_connections = srv->opts.max_connections, .backlog = 4096};
  int rc = cio_server_start(out, host, port, serve_connection, srv, &so);
  if (rc < 0) {
    free(srv);
    return rc;
  }
  srv->server = *out;
  cio__server_on_close(*out, http_closing, srv);
  srv->next = app->servers;
  app->servers = srv;
  return 0;
}

// ---------------------------------------------------------------- serving until a signal

// cio_http_run's signal watchers: the first SIGINT or SIGTERM starts the
// graceful shutdown, a later one cuts its grace short (as a second Ctrl-C
// does to uvicorn).
struct run_state {
  cio_event *stop; // set by the first signal
  cio_server *srv; // the server, while it closes
  int signals;     // received so far
};
struct watcher {
  struct run_state *st; // shared state
  int signo;            // SIGINT or SIGTERM
};

static int watch_signal(void *arg) {
  struct watcher *w = arg;
  for (;;) {
    int rc = cio_signal_wait(w->signo);
    if (rc < 0) return rc == -ECANCELED ? 0 : rc;
    if (w->st->signals++ == 0) {
      fprintf(stderr, "cio: %s: closing the HTTP server (again to abort requests in flight)\n",
              w->signo == SIGINT ? "SIGINT" : "SIGTERM");
      cio_event_set(w->st->stop);
    } else if (w->st->srv) {
      cio__server_abort(w->st->srv);
    }
  }
}

int cio_http_run(cio_http_app *app, const char *host, const char *port, const cio_http_opts *opts) {
  if (!cio_current()) return cio__misuse_outside("cio_http_run");
  cio_server *srv;
  int rc = cio_http_serve(app, host, port, opts, &srv);
  if (rc < 0) return rc;
  double grace = app->servers->opts.shutdown_timeout;
  struct run_state st = {cio_event_new(), NULL, 0};
  struct watcher w[2] = {{&st, SIGINT}, {&st, SIGTERM}};
  cio_task *t[2] = {NULL, NULL};
  for (int i = 0; i < 2 && st.stop; i++)
    t[i] = cio_spawn_named("http: signals", watch_signal, &w[i]);
  if (!st.stop || !t[0] || !t[1]) rc = -ENOMEM;
  if (rc == 0 && opts && opts->on_start) opts->on_start(srv, opts->on_start_arg);
  if (rc == 0) {
    int waited = cio_event_wait(st.stop); // 0 after a signal, -ECANCELED if this task is cancelled
    (void)waited;
  }
  st.srv = srv;
  int closed = cio_server_close(srv, grace); // shielded: the grace is given even when cancelled
  st.srv = NULL;
  for (int i = 0; i < 2; i++) {
    if (!t[i]) continue;
    cio_cancel(t[i]);
    int joined = cio_join(t[i]);
    (void)joined;
  }
  if (st.stop) cio_event_free(st.stop);
  return rc < 0 ? rc : closed < 0 ? closed : 0;
}
