// SPDX-License-Identifier: MIT
//
// Routing: a route's pattern compiled into segments ("/items/{id:int}"),
// a decoded path matched against them as Starlette matches, and the
// request dispatched to the first route that matches (its parameters
// copied and converted, 422 when one does not convert), or answered 404 or
// 405 with an Allow header.  The list is walked in the order the routes
// were added: O(routes) per request, which a trie would fix if apps with
// hundreds of routes come.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../include/cio.h"
#include "../alloc.h"
#include "http.h"
#include "json_text.h"
#include "model.h"

// ---------------------------------------------------------------- compiling

// Frees the segments' text (r itself stays).
static void free_segs(struct route *r) {
  for (int i = 0; i < r->nsegs; i++) {
    free(r->segs[i].literal);
    free(r->segs[i].param);
  }
  r->nsegs = 0;
}

int cio__http_route_compile(struct route *r, const char *pattern) {
  int rc = -EINVAL; // what a goto refused says
  const char *p = pattern + 1;
  while (*p) {
    const char *end = strchr(p, '/');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    // Beyond MAX_SEGS, an empty segment ("/a//b"), anything after a
    // {name:path} (it takes the rest of the path): refused, not cut.
    if (r->nsegs == MAX_SEGS || n == 0 || (r->nsegs && r->segs[r->nsegs - 1].type == P_PATH))
      goto refused;
    struct seg *s = &r->segs[r->nsegs++];
    if (n >= 2 && p[0] == '{' && p[n - 1] == '}') {
      const char *colon = memchr(p, ':', n);
      size_t name_len = colon ? (size_t)(colon - p - 1) : n - 2;
      s->param = cio__strndup(p + 1, name_len);
      if (!s->param) {
        rc = -ENOMEM;
        goto refused;
      }
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
          goto refused;
      }
      if (!*s->param) goto refused;
    } else {
      s->literal = cio__strndup(p, n);
      if (!s->literal) {
        rc = -ENOMEM;
        goto refused;
      }
    }
    p += n;
    if (*p == '/') p++;
  }
  return 0;
refused:
  free_segs(r);
  return rc;
}

void cio__http_route_free(struct route *r) {
  free_segs(r);
  cio__http_vroute_free(r->vr);
  free(r);
}

// ---------------------------------------------------------------- matching

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

// Adds `method` to the comma-separated list *allow (malloc'd) unless it is
// there.  Returns false when out of memory (*allow is then unchanged).
static bool allow_add(char **allow, size_t *len, const char *method) {
  size_t ml = strlen(method);
  for (const char *p = *allow; p && *p;) {
    const char *comma = strchr(p, ',');
    size_t n = comma ? (size_t)(comma - p) : strlen(p);
    if (n == ml && memcmp(p, method, n) == 0) return true;
    p = comma ? comma + 2 : p + n;
  }
  char *grown = cio__realloc(*allow, *len + ml + 3);
  if (!grown) return false;
  *allow = grown;
  *len += (size_t)sprintf(grown + *len, "%s%s", *len ? ", " : "", method);
  return true;
}

// Runs the route's handler within the handler timeout and turns what it
// returned into an answer (504, 500, or none for a client that left).
static void run_handler(const struct route *r, cio_http_req *req, cio_http_res *res,
                        double timeout) {
  cio_scope scope;
  if (timeout > 0) (void)cio_timeout_begin(&scope, timeout);
  int rc = r->fn(req, res, r->arg);
  int expired = timeout > 0 ? cio_scope_end(&scope) : 0;
  if (res->streaming) {
    // The head is sent: a handler that failed or ran out of time cannot
    // answer 500 or 504 any more, and its client must not take what it got
    // for the whole body, so the stream ends without its last chunk.
    if (expired == -ETIMEDOUT || rc < 0) res->broken = true;
    return;
  }
  if (expired == -ETIMEDOUT || (rc == -ETIMEDOUT && !res->status)) {
    cio_http_json(res, 504, "{\"detail\":\"the handler timed out\"}");
  } else if (rc == -ECANCELED && !res->status && cio_task_cancelled(cio_current())) {
    // Cancelled because the client hung up (or the server is closing): no
    // answer is owed.
  } else if (rc < 0 || !res->status) {
    struct cio__jtext what = cio__jt_new(64), j = cio__jt_new(96);
    cio__jt_lit(&what, "internal error: ");
    cio__jt_lit(&what, rc < 0 ? cio_strerror(rc) : "no response");
    cio__jt_lit(&j, "{\"detail\":");
    if (what.p) {
      cio__jt_str(&j, what.p, what.n);
    } else { // out of memory: the fallback below
      free(j.p);
      j.p = NULL;
    }
    free(what.p);
    cio__jt_lit(&j, "}");
    (void)cio__http_jt_answer(res, 500, &j, "{\"detail\":\"internal error\"}");
  }
}

// Routes the request: runs the handler or answers 404/405/422 (503 when
// the Allow list of a 405 ran out of memory).
void cio__http_dispatch(cio_http_app *app, cio_http_req *req, cio_http_res *res, double timeout) {
  char *allow = NULL;
  size_t allow_len = 0;
  bool allow_whole = true; // no method was left out of `allow` for want of memory
  bool head = strcmp(req->method, "HEAD") == 0;
  for (struct route *r = app->routes; r; r = r->next) {
    struct slot vals[MAX_SEGS];
    int nv = match(r, req->dpath, req->dpath_len, vals);
    if (nv < 0) continue;
    if (strcmp(r->method, req->method) != 0 && !(head && strcmp(r->method, "GET") == 0)) {
      allow_whole &= allow_add(&allow, &allow_len, r->method);
      // A GET route serves HEAD too (RFC 9110 §9.3.2), and says so.
      if (strcmp(r->method, "GET") == 0) allow_whole &= allow_add(&allow, &allow_len, "HEAD");
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
      req->values[req->nparams++] = cio__http_arena_copy(req, v->p, v->n);
    }
    for (int i = 0, k = 0; i < r->nsegs; i++) {
      const struct seg *s = &r->segs[i];
      if (!s->param) continue;
      union {
        int64_t i;
        double d;
      } value; // (the handler converts again: cio_http_param_int)
      // NOLINTNEXTLINE(clang-analyzer-core.CallAndMessage): as above
      if (cio__http_convert(res, "path", s->param, s->type, req->values[k], vals[k].n, &value) < 0)
        return;
      k++;
    }
    if (r->vr && cio__http_validate(r->vr, req, res) < 0) return; // 422 answered
    run_handler(r, req, res, timeout);
    return;
  }
  if (!allow_whole) {
    cio__http_error_body(res, 503);
  } else if (allow) {
    cio__http_error_body(res, 405);
    (void)cio_http_set_header(res, "Allow", allow);
  } else {
    cio__http_error_body(res, 404);
  }
  free(allow);
}
