// SPDX-License-Identifier: MIT
//
// The HTTP framework: routes, requests and responses, and the connection
// loop each connection's task runs (keep-alive, pipelining, bodies with
// Content-Length or chunked, Expect: 100-continue, HEAD, limits and
// timeouts).  Parsing is parse.c's; this file decides what to answer.
//
// Not yet here (see the HTTP issue): cancelling a handler when its client
// disconnects, chunked responses streamed from a handler, JSON request
// parsing with a library.
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "../../include/cio/http.h"
#include "../internal.h"
#include "../io/server.h"
#include "../io/sock.h"
#include "../tune.h"
#include "parse.h"

#define MAX_SEGS 16
#define MAX_PARAMS 8

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

struct cio_http_req {
  const cio__http_request *head; // parsed head (slices into the buffer)
  char method[16];               // NUL-terminated copies
  char *path;                    //   "
  char *query;                   // raw query string, or NULL
  const char *names[MAX_PARAMS]; // path parameter names
  char *values[MAX_PARAMS];      //   and values
  int nparams;                   // how many
  char *body;                    // request body
  size_t body_len;               //   its length
  char scratch[2048];            // NUL-terminated copies live here
  size_t used;                   // bytes of scratch used
};

struct cio_http_res {
  cio_sock *sock;      // the connection (for streaming)
  double send_timeout; // seconds a write may go without progress
  bool reset;          // a write timed out: reset the connection, send nothing more
  bool streaming;      // a chunked response has started
  bool head_only;      // HEAD: the head, never a body
  bool keep_alive;     // the connection stays open after it
  int status;          // 0 until set
  char *body;          // response body (malloc'd)
  size_t len;          //   its length
  char type[64];       // Content-Type
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
    if (r->nsegs == MAX_SEGS) goto bad;
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

// Appends s as a JSON string (quoted, escaped) to out[*n..cap).
static void json_string(char *out, size_t cap, size_t *n, const char *s) {
  if (*n < cap) out[(*n)++] = '"';
  for (; *s && *n + 7 < cap; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      out[(*n)++] = '\\';
      out[(*n)++] = (char)c;
    } else if (c < 0x20) {
      *n += (size_t)snprintf(out + *n, cap - *n, "\\u%04x", c);
    } else {
      out[(*n)++] = (char)c;
    }
  }
  if (*n < cap) out[(*n)++] = '"';
  out[*n < cap ? *n : cap - 1] = '\0';
}

// FastAPI's validation error: 422 {"detail":[{"type","loc","msg","input"}]}.
static void answer_422(cio_http_res *res, const char *where, const char *name, const char *type,
                       const char *msg, const char *input) {
  char body[1024];
  size_t n = (size_t)snprintf(body, sizeof body, "{\"detail\":[{\"type\":\"%s\",\"loc\":[\"%s\",",
                              type, where);
  json_string(body, sizeof body, &n, name);
  n += (size_t)snprintf(body + n, sizeof body - n, "],\"msg\":\"%s\",\"input\":", msg);
  json_string(body, sizeof body, &n, input);
  snprintf(body + n, sizeof body - n, "}]}");
  cio_http_json(res, 422, body);
}

// ---------------------------------------------------------------- request

static char *keep(cio_http_req *req, const char *p, size_t n) {
  if (req->used + n + 1 > sizeof req->scratch) return NULL;
  char *s = req->scratch + req->used;
  memcpy(s, p, n);
  s[n] = '\0';
  req->used += n + 1;
  return s;
}

const char *cio_http_method(const cio_http_req *req) { return req ? req->method : NULL; }
const char *cio_http_path(const cio_http_req *req) { return req ? req->path : NULL; }

const char *cio_http_param(const cio_http_req *req, const char *name) {
  for (int i = 0; req && i < req->nparams; i++)
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

static int unhex(char c) {
  return isdigit((unsigned char)c) ? c - '0' : (tolower((unsigned char)c) - 'a' + 10);
}

// Decodes %XX and '+' in place.
static void url_decode(char *s) {
  char *o = s;
  for (; *s; s++) {
    if (*s == '%' && isxdigit((unsigned char)s[1]) && isxdigit((unsigned char)s[2])) {
      *o++ = (char)(unhex(s[1]) * 16 + unhex(s[2]));
      s += 2;
    } else {
      *o++ = *s == '+' ? ' ' : *s;
    }
  }
  *o = '\0';
}

const char *cio_http_query(const cio_http_req *req, const char *name) {
  if (!req || !req->query) return NULL;
  size_t nl = strlen(name);
  const char *p = req->query;
  while (*p) {
    const char *amp = strchr(p, '&');
    size_t n = amp ? (size_t)(amp - p) : strlen(p);
    if (n >= nl && !strncmp(p, name, nl) && (n == nl || p[nl] == '=')) {
      static __thread char value[1024];
      size_t vl = n > nl ? n - nl - 1 : 0;
      if (vl >= sizeof value) vl = sizeof value - 1;
      memcpy(value, p + nl + (n > nl), vl);
      value[vl] = '\0';
      url_decode(value);
      return value;
    }
    p += n + (amp != NULL);
  }
  return NULL;
}

static bool to_int(const char *s, int64_t *out) {
  if (!*s) return false;
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (*end || errno) return false;
  *out = v;
  return true;
}

int cio_http_query_int(cio_http_req *req, cio_http_res *res, const char *name, int64_t def,
                       int64_t *out) {
  const char *v = cio_http_query(req, name);
  if (!v) {
    *out = def;
    return 0;
  }
  if (to_int(v, out)) return 0;
  answer_422(res, "query", name, "int_parsing",
             "Input should be a valid integer, unable to parse string as an integer", v);
  return -EINVAL;
}

int cio_http_query_float(cio_http_req *req, cio_http_res *res, const char *name, double def,
                         double *out) {
  const char *v = cio_http_query(req, name);
  if (!v) {
    *out = def;
    return 0;
  }
  char *end;
  double d = strtod(v, &end);
  if (*v && !*end) {
    *out = d;
    return 0;
  }
  answer_422(res, "query", name, "float_parsing",
             "Input should be a valid number, unable to parse string as a number", v);
  return -EINVAL;
}

int cio_http_query_bool(cio_http_req *req, cio_http_res *res, const char *name, bool def,
                        bool *out) {
  static const char *yes[] = {"true", "1", "yes", "on", "t", "y"};
  static const char *no[] = {"false", "0", "no", "off", "f", "n"};
  const char *v = cio_http_query(req, name);
  *out = def;
  if (!v) return 0;
  for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
    if (strcasecmp(v, yes[i]) == 0) return *out = true, 0;
    if (strcasecmp(v, no[i]) == 0) return *out = false, 0;
  }
  answer_422(res, "query", name, "bool_parsing",
             "Input should be a valid boolean, unable to interpret input", v);
  return -EINVAL;
}

const char *cio_http_header(const cio_http_req *req, const char *name) {
  if (!req) return NULL;
  const cio__http_slice *v = cio__http_header_get(req->head, name);
  return v ? keep((cio_http_req *)req, v->p, v->n) : NULL;
}

const char *cio_http_body(const cio_http_req *req, size_t *len) {
  if (len) *len = req ? req->body_len : 0;
  return req ? req->body : NULL;
}

// ---------------------------------------------------------------- response

int cio_http_send(cio_http_res *res, int status, const char *type, const void *body, size_t len) {
  if (!res || (!body && len)) return -EINVAL;
  char *copy = malloc(len ? len : 1);
  if (!copy) return -ENOMEM;
  if (len) memcpy(copy, body, len); // (NULL, 0) is an empty body
  free(res->body);
  res->body = copy;
  res->len = len;
  res->status = status;
  snprintf(res->type, sizeof res->type, "%s", type ? type : "application/octet-stream");
  return 0;
}

int cio_http_json(cio_http_res *res, int status, const char *json) {
  if (!json) return -EINVAL;
  return cio_http_send(res, status, "application/json", json, strlen(json));
}

int cio_http_set_header(cio_http_res *res, const char *name, const char *value) {
  if (!res || !name || !value || strpbrk(name, "\r\n:") || strpbrk(value, "\r\n")) return -EINVAL;
  int n = snprintf(res->headers + res->hlen, sizeof res->headers - res->hlen, "%s: %s\r\n", name,
                   value);
  if (n < 0 || (size_t)n >= sizeof res->headers - res->hlen) return -ENOSPC;
  res->hlen += (size_t)n;
  return 0;
}

static const char *reason(int status);

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
  char top[768];
  int n = snprintf(top, sizeof top, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n%s%s%.*s\r\n", status,
                   reason(status), type ? type : "application/octet-stream",
                   res->head_only ? "" : "Transfer-Encoding: chunked\r\n",
                   res->keep_alive ? "" : "Connection: close\r\n", (int)res->hlen, res->headers);
  if (n < 0 || (size_t)n >= sizeof top) return -EOVERFLOW;
  res->status = status;
  res->streaming = true;
  ssize_t w = res_write(res, top, (size_t)n);
  return w < 0 ? (int)w : 0;
}

#define SMALL_CHUNK CIO__TUNED(1000, 3) // chunks up to this size go out in one write

int cio_http_stream_write(cio_http_res *res, const void *data, size_t len) {
  if (!res || !res->streaming) return -EINVAL;
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

static const char *reason(int status) {
  switch (status) {
  case 200: return "OK";
  case 201: return "Created";
  case 204: return "No Content";
  case 400: return "Bad Request";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 408: return "Request Timeout";
  case 413: return "Content Too Large";
  case 414: return "URI Too Long";
  case 422: return "Unprocessable Content";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 504: return "Gateway Timeout";
  case 505: return "HTTP Version Not Supported";
  default: return "Status";
  }
}

static void error_body(cio_http_res *res, int status) {
  char body[128];
  snprintf(body, sizeof body, "{\"detail\":\"%s\"}", reason(status));
  cio_http_json(res, status, body);
}

// ---------------------------------------------------------------- routing

// Matches path against r; fills the parameters.  Returns 1 on a match, 0
// if the path does not fit, -1 if it fits but a typed parameter does not
// convert (then *bad is that parameter's segment index).
static int match(const struct route *r, cio_http_req *req, char *path, int *bad) {
  char *segs[MAX_SEGS + 1];
  int n = 0;
  char *p = path + 1;
  char *rest[MAX_SEGS + 1];
  while (*p && n <= MAX_SEGS) {
    rest[n] = p;
    segs[n++] = p;
    char *slash = strchr(p, '/');
    if (!slash) break;
    *slash = '\0';
    p = slash + 1;
  }
  if (path[1] == '\0') n = 0;
  int rc = 1;
  req->nparams = 0;
  int i;
  for (i = 0; i < r->nsegs; i++) {
    const struct seg *s = &r->segs[i];
    if (s->type == P_PATH && s->param) { // the rest of the path, slashes included
      if (i >= n) {
        rc = 0;
        break;
      }
      for (int k = i; k < n - 1; k++) segs[k][strlen(segs[k])] = '/';
      req->names[req->nparams] = s->param;
      req->values[req->nparams++] = rest[i];
      i = r->nsegs;
      n = i; // consumed
      break;
    }
    if (i >= n) {
      rc = 0;
      break;
    }
    if (s->literal) {
      if (strcmp(s->literal, segs[i]) != 0) {
        rc = 0;
        break;
      }
      continue;
    }
    url_decode(segs[i]);
    if (req->nparams < MAX_PARAMS) {
      req->names[req->nparams] = s->param;
      req->values[req->nparams++] = segs[i];
    }
    int64_t iv;
    char *end;
    if ((s->type == P_INT && !to_int(segs[i], &iv)) ||
        (s->type == P_FLOAT && (strtod(segs[i], &end), *end || !*segs[i]))) {
      if (rc == 1) *bad = i;
      rc = -1;
    }
  }
  if (rc != 0 && i != n) rc = 0;
  return rc; // (path is a scratch copy: dispatch makes a fresh one per route)
}

// Routes the request: runs the handler or answers 404/405/422.
static void dispatch(cio_http_app *app, cio_http_req *req, cio_http_res *res, double timeout) {
  char allow[128] = "";
  size_t plen = strlen(req->path);
  char *path = malloc(plen + 1);
  if (!path) {
    error_body(res, 500);
    return;
  }
  bool head = strcmp(req->method, "HEAD") == 0;
  for (struct route *r = app->routes; r; r = r->next) {
    memcpy(path, req->path, plen + 1);
    int bad = -1;
    int m = match(r, req, path, &bad);
    if (m == 0) continue;
    if (strcmp(r->method, req->method) != 0 && !(head && strcmp(r->method, "GET") == 0)) {
      if (!strstr(allow, r->method)) {
        size_t al = strlen(allow);
        snprintf(allow + al, sizeof allow - al, "%s%s", al ? ", " : "", r->method);
      }
      continue;
    }
    if (m < 0) {
      const struct seg *s = &r->segs[bad];
      bool is_int = s->type == P_INT;
      answer_422(res, "path", s->param, is_int ? "int_parsing" : "float_parsing",
                 is_int ? "Input should be a valid integer, unable to parse string as an integer"
                        : "Input should be a valid number, unable to parse string as a number",
                 cio_http_param(req, s->param));
      free(path);
      return;
    }
    // Parameters point into `path`: keep them in the request's scratch.
    for (int i = 0; i < req->nparams; i++)
      req->values[i] = keep(req, req->values[i], strlen(req->values[i]));
    free(path);
    int rc;
    cio_scope scope;
    if (timeout > 0) (void)cio_timeout_begin(&scope, timeout);
    rc = r->fn(req, res, r->arg);
    int expired = timeout > 0 ? cio_scope_end(&scope) : 0;
    if (expired == -ETIMEDOUT || (rc == -ETIMEDOUT && !res->status)) {
      cio_http_json(res, 504, "{\"detail\":\"the handler timed out\"}");
    } else if (rc == -ECANCELED && !res->status && cio_task_cancelled(cio_current())) {
      // Cancelled because the client hung up (or the server is closing): no
      // answer is owed.
    } else if (rc < 0 || !res->status) {
      char body[160];
      snprintf(body, sizeof body, "{\"detail\":\"internal error: %s\"}",
               rc < 0 ? cio_strerror(rc) : "no response");
      cio_http_json(res, 500, body);
    }
    return;
  }
  free(path);
  if (allow[0]) {
    error_body(res, 405);
    cio_http_set_header(res, "Allow", allow);
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

static int write_response(struct conn *c, cio_http_res *res, bool head_only, bool keep_alive) {
  (void)c;
  char top[1024];
  int n = snprintf(
      top, sizeof top, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s%.*s\r\n",
      res->status, reason(res->status), res->type[0] ? res->type : "text/plain", res->len,
      keep_alive ? "" : "Connection: close\r\n", (int)res->hlen, res->headers);
  if (n < 0 || (size_t)n >= sizeof top) return -EOVERFLOW;
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
  req->head = h;
  snprintf(req->method, sizeof req->method, "%.*s", (int)h->method.n, h->method.p);
  const char *q = memchr(h->target.p, '?', h->target.n);
  size_t plen = q ? (size_t)(q - h->target.p) : h->target.n;
  req->path = keep(req, h->target.p, plen);
  if (q) req->query = keep(req, q + 1, h->target.n - plen - 1);
  if (!req->path || req->path[0] != '/') {
    int bad = !req->path ? 414 : 400;
    free(req);
    return fail(c, res, bad) < 0 ? -EPIPE : 1;
  }
  size_t consumed = head_len;
  if (!status && has_body) {
    int b = read_body(c, srv, h, head_len, &req->body, &req->body_len, &consumed);
    if (b < 0) {
      free(req);
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
  struct chain chain = {srv->app, srv->app->mws, srv->opts.handler_timeout, status};
  int mrc = chain_next(req, res, &chain);
  bool hung_up = cio_task_cancelled(cio_current());
  if (mrc < 0 && !res->status && !hung_up) error_body(res, 500);
  cio__sock_cancel_on_hup(c->sock, NULL);
  bool head_only = res->head_only;
  free(req->body);
  free(req);
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
    // No timeout scope is open here, so -ETIMEDOUT is a delivery too: until
    // issue 14's point 7 is fixed, SIGINT (2) reads as an internal wake code.
    if (rc < 0 && rc != -ETIMEDOUT) return rc == -ECANCELED ? 0 : rc;
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
