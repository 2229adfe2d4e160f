// SPDX-License-Identifier: MIT
//
// The request object a handler is handed.  What it holds lives in a
// per-request arena (see struct cio_http_req), sized from the head before
// the handler runs, so that no accessor can fail, cut a value or overwrite
// what an earlier call returned.  Paths are decoded as Starlette decodes
// them (percent-decoding of the whole path, then routing; invalid UTF-8
// becomes U+FFFD), and query strings as urllib's parse_qsl.  The file goes:
// the arena, setting a request up from its head, then the accessors
// (method, path, path and query parameters, headers, body).
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../alloc.h"
#include "../internal.h"
#include "http.h"
#include "model.h"

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
char *cio__http_arena_copy(cio_http_req *req, const char *p, size_t n) {
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
// a target that is neither origin- nor absolute-form; 503 without memory).
int cio__http_req_init(cio_http_req *req, const cio__http_request *h) {
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
  req->mem = need <= sizeof req->small ? req->small : cio__malloc(need);
  if (!req->mem) return 503;
  req->cap = need;
  req->used = 0;
  parse_query(req, h->query, pairs); // first: the pairs want the arena's alignment
  req->method = cio__http_arena_copy(req, h->method.p, h->method.n);
  req->path = cio__http_arena_copy(req, h->path.p, h->path.n);
  req->dpath = arena_decode(req, h->path.p, h->path.n, false, &req->dpath_len);
  if (h->authority.p) req->host = cio__http_arena_copy(req, h->authority.p, h->authority.n);
  req->head = h;
  return 0;
}

// Frees what req_init and the body reader allocated, and the request.
// A block freed with the request.
struct kept {
  struct kept *next;              // the request's others
  _Alignas(max_align_t) char p[]; // the bytes
};

void *cio__http_req_keep(cio_http_req *req, size_t n) {
  struct kept *k = cio__calloc(1, sizeof *k + n);
  if (!k) return NULL;
  k->next = req->kept;
  req->kept = k;
  return k->p;
}

void cio__http_req_free(cio_http_req *req) {
  if (!req) return;
  while (req->kept) {
    struct kept *next = req->kept->next;
    free(req->kept);
    req->kept = next;
  }
  free(req->args);
  if (req->body_value) cio__http_body_value_free(req->body_value);
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

// Numbers written as Python (and pydantic 2) reads them from text:
// whitespace around, a sign, single underscores between digits ("1_000");
// an integer may end in a fraction of zeros ("3.0"), which pydantic takes.
// The cleaned text (underscores out) goes to buf; false if it is not a
// number's or does not fit.
static bool py_number_text(const char *s, size_t n, char *buf, size_t cap) {
  if (!n || strlen(s) != n) return false; // (a NUL inside)
  while (n && strchr(" \t\n\r\f\v", *s)) s++, n--;
  while (n && strchr(" \t\n\r\f\v", s[n - 1])) n--;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '_') { // only between two digits
      if (i == 0 || i + 1 == n || !isdigit((unsigned char)s[i - 1]) ||
          !isdigit((unsigned char)s[i + 1]))
        return false;
      continue;
    }
    if (k + 1 >= cap) return false;
    buf[k++] = s[i];
  }
  buf[k] = '\0';
  return k > 0;
}

// Converts the whole of s[0..n) as an integer.
static bool to_int(const char *s, size_t n, int64_t *out) {
  char buf[64];
  if (!py_number_text(s, n, buf, sizeof buf)) return false;
  char *dot = strchr(buf, '.');
  if (dot && dot > buf && isdigit((unsigned char)dot[-1]) && dot[1] &&
      strspn(dot + 1, "0") == strlen(dot + 1))
    *dot = '\0'; // "3.0" is 3
  const char *digits = buf + (buf[0] == '+' || buf[0] == '-');
  if (!*digits || strspn(digits, "0123456789") != strlen(digits)) return false;
  errno = 0;
  long long v = strtoll(buf, NULL, 10);
  if (errno) return false;
  *out = v;
  return true;
}

static bool to_float(const char *s, size_t n, double *out) {
  char buf[128];
  if (!py_number_text(s, n, buf, sizeof buf)) return false;
  // strtod reads hexadecimal ("0x1p3"), which Python's float() does not.
  if (strpbrk(buf, "xXpP")) return false;
  char *end;
  double d = strtod(buf, &end);
  if (*end || end == buf) return false;
  *out = d;
  return true;
}

// The booleans FastAPI accepts, in any case.
static bool to_bool(const char *s, size_t n, bool *out) {
  static const char *yes[] = {"true", "1", "yes", "on", "t", "y"};
  static const char *no[] = {"false", "0", "no", "off", "f", "n"};
  for (size_t i = 0; i < sizeof yes / sizeof yes[0] && strlen(s) == n; i++) {
    if (strcasecmp(s, yes[i]) == 0) return *out = true, true;
    if (strcasecmp(s, no[i]) == 0) return *out = false, true;
  }
  return false;
}

// FastAPI's 422 for a value that does not convert, by type.
static const struct {
  const char *type; // the error's "type"
  const char *msg;  //   and "msg"
} not_converted[] = {
    [P_INT] = {"int_parsing",
               "Input should be a valid integer, unable to parse string as an integer"},
    [P_FLOAT] = {"float_parsing",
                 "Input should be a valid number, unable to parse string as a number"},
    [P_BOOL] = {"bool_parsing", "Input should be a valid boolean, unable to interpret input"},
};

bool cio__http_text_to(int type, const char *text, size_t n, void *out, const char **etype,
                       const char **emsg) {
  bool ok = type == P_INT     ? to_int(text, n, out)
            : type == P_FLOAT ? to_float(text, n, out)
                              : to_bool(text, n, out);
  if (!ok) {
    *etype = not_converted[type].type;
    *emsg = not_converted[type].msg;
  }
  return ok;
}

int cio__http_convert(cio_http_res *res, const char *where, const char *name, int type,
                      const char *text, size_t n, void *out) {
  bool ok = type == P_INT     ? to_int(text, n, out)
            : type == P_FLOAT ? to_float(text, n, out)
            : type == P_BOOL  ? to_bool(text, n, out)
                              : true; // str and path values are text already
  if (ok) return 0;
  cio__http_answer_422(res, where, name, not_converted[type].type, not_converted[type].msg, text,
                       n);
  return -EINVAL;
}

// The query parameter `name` converted as `type` into *out, left as it is
// when absent.  Returns 0, or -EINVAL after answering 422.
static int query_convert(cio_http_req *req, cio_http_res *res, const char *name, int type,
                         void *out) {
  const struct qparam *q = find_query(req, name);
  return q ? cio__http_convert(res, "query", name, type, q->value, q->len, out) : 0;
}

int cio_http_query_int(cio_http_req *req, cio_http_res *res, const char *name, int64_t def,
                       int64_t *out) {
  *out = def;
  return query_convert(req, res, name, P_INT, out);
}

int cio_http_query_float(cio_http_req *req, cio_http_res *res, const char *name, double def,
                         double *out) {
  *out = def;
  return query_convert(req, res, name, P_FLOAT, out);
}

int cio_http_query_bool(cio_http_req *req, cio_http_res *res, const char *name, bool def,
                        bool *out) {
  *out = def;
  return query_convert(req, res, name, P_BOOL, out);
}

const char *cio_http_header(const cio_http_req *req, const char *name) {
  if (!req || !name) return NULL;
  // RFC 9112 §3.2.2: with an absolute-form target, its authority is the host.
  if (req->host && strcasecmp(name, "host") == 0) return req->host;
  cio_http_req *r = (cio_http_req *)req; // the copies are a cache
  for (size_t i = 0; i < req->head->nheaders; i++) {
    const cio__http_header *h = &req->head->headers[i];
    if (h->name.n != strlen(name) || strncasecmp(h->name.p, name, h->name.n) != 0) continue;
    if (!r->hcopy[i]) r->hcopy[i] = cio__http_arena_copy(r, h->value.p, h->value.n);
    return r->hcopy[i];
  }
  return NULL;
}

const char *cio_http_body(const cio_http_req *req, size_t *len) {
  if (len) *len = req ? req->body_len : 0;
  return req ? req->body : NULL;
}
