// SPDX-License-Identifier: MIT
//
// CORS (cio_http_cors): Starlette's CORSMiddleware as a cio middleware.
// The options are worked out once, as Starlette's constructor does (the
// method list for "*", the sorted union of the safelisted and allowed
// headers, the fixed preflight and simple headers), then each request with
// an Origin is either a preflight, answered here, or a simple request whose
// answer gets the simple headers.  Those depend on the request only, so
// they are set before the rest runs: a streamed answer has them too.
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../alloc.h"
#include "http.h"

// A list of strings (malloc'd, as each string).
struct list {
  char **v;
  size_t n;
};

struct cors {
  struct list origins;  // allowed exactly
  bool all_origins;     // "*" among them
  bool has_regex;       // regex is compiled
  regex_t regex;        //   the origin regex, anchored
  struct list methods;  // allowed in a preflight ("*": Starlette's seven)
  char *methods_text;   //   joined with ", "
  struct list headers;  // the safelisted and allowed headers, lowercased
  char *headers_text;   //   sorted and joined (NULL for "*")
  bool all_headers;     // "*" among the allowed headers
  bool credentials;     // Access-Control-Allow-Credentials: true
  char *expose_text;    // Access-Control-Expose-Headers, or NULL
  char max_age[24];     // Access-Control-Max-Age
  bool explicit_origin; // a preflight names the origin (not "*")
};

static void list_free(struct list *l) {
  for (size_t i = 0; i < l->n; i++) free(l->v[i]);
  free(l->v);
  l->v = NULL;
  l->n = 0;
}

static void cors_free(void *p) {
  struct cors *c = p;
  list_free(&c->origins);
  list_free(&c->methods);
  list_free(&c->headers);
  if (c->has_regex) regfree(&c->regex);
  free(c->methods_text);
  free(c->headers_text);
  free(c->expose_text);
  free(c);
}

// Appends a copy of s to l.  Returns 0 or -ENOMEM.
static int list_add(struct list *l, const char *s) {
  char **v = cio__realloc(l->v, (l->n + 1) * sizeof *v);
  if (!v) return -ENOMEM;
  l->v = v;
  if (!(v[l->n] = cio__strdup(s))) return -ENOMEM;
  l->n++;
  return 0;
}

static bool list_has(const struct list *l, const char *s) {
  for (size_t i = 0; i < l->n; i++)
    if (!strcmp(l->v[i], s)) return true;
  return false;
}

// The strings of l joined with ", " (malloc'd), or NULL out of memory.
static char *list_join(const struct list *l) {
  size_t len = 1;
  for (size_t i = 0; i < l->n; i++) len += strlen(l->v[i]) + 2;
  char *s = cio__malloc(len), *at = s;
  if (!s) return NULL;
  *s = '\0';
  for (size_t i = 0; i < l->n; i++) at += sprintf(at, "%s%s", i ? ", " : "", l->v[i]);
  return s;
}

static int by_text(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

// Works out what Starlette's constructor does.  Returns 0, -EINVAL, -ENOMEM.
static int cors_setup(struct cors *c, const cio_http_cors_opts *o) {
  static const char *const all_methods[] = {"DELETE", "GET",  "HEAD", "OPTIONS",
                                            "PATCH",  "POST", "PUT",  NULL};
  static const char *const get_only[] = {"GET", NULL};
  static const char *const safelisted[] = {"Accept", "Accept-Language", "Content-Language",
                                           "Content-Type", NULL};
  int rc = 0;
  for (const char *const *s = o->allow_origins; s && *s && rc == 0; s++) {
    rc = list_add(&c->origins, *s);
    if (!strcmp(*s, "*")) c->all_origins = true;
  }
  if (rc == 0 && o->allow_origin_regex) {
    // Python's fullmatch: the whole origin, so anchored both ends.
    size_t n = strlen(o->allow_origin_regex);
    char *anchored = cio__malloc(n + 5);
    if (!anchored) return -ENOMEM;
    snprintf(anchored, n + 5, "^(%s)$", o->allow_origin_regex);
    int bad = regcomp(&c->regex, anchored, REG_EXTENDED | REG_NOSUB);
    free(anchored);
    if (bad) return bad == REG_ESPACE ? -ENOMEM : -EINVAL;
    c->has_regex = true;
  }
  const char *const *methods = o->allow_methods ? o->allow_methods : get_only;
  for (const char *const *s = methods; *s; s++)
    if (!strcmp(*s, "*")) methods = all_methods;
  for (const char *const *s = methods; *s && rc == 0; s++) rc = list_add(&c->methods, *s);
  if (rc == 0 && !(c->methods_text = list_join(&c->methods))) rc = -ENOMEM;
  // The union of the safelisted headers and the allowed ones (as given,
  // so "accept" beside "Accept"), sorted as Python sorts strings.
  struct list all = {0};
  for (const char *const *s = safelisted; *s && rc == 0; s++) rc = list_add(&all, *s);
  for (const char *const *s = o->allow_headers; s && *s && rc == 0; s++) {
    if (!strcmp(*s, "*")) c->all_headers = true;
    if (!list_has(&all, *s)) rc = list_add(&all, *s);
  }
  if (rc == 0) {
    qsort(all.v, all.n, sizeof *all.v, by_text);
    if (!c->all_headers && !(c->headers_text = list_join(&all))) rc = -ENOMEM;
  }
  for (size_t i = 0; i < all.n && rc == 0; i++) {
    for (char *p = all.v[i]; *p; p++)
      if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
    rc = list_add(&c->headers, all.v[i]);
  }
  list_free(&all);
  if (rc == 0 && o->expose_headers && o->expose_headers[0]) {
    struct list ex = {0};
    for (const char *const *s = o->expose_headers; *s && rc == 0; s++) rc = list_add(&ex, *s);
    if (rc == 0 && !(c->expose_text = list_join(&ex))) rc = -ENOMEM;
    list_free(&ex);
  }
  c->credentials = o->allow_credentials;
  snprintf(c->max_age, sizeof c->max_age, "%d",
           o->max_age == 0  ? 600
           : o->max_age < 0 ? 0
                            : o->max_age);
  c->explicit_origin = !c->all_origins || c->credentials;
  return rc;
}

static bool origin_allowed(const struct cors *c, const char *origin) {
  if (c->all_origins) return true;
  if (c->has_regex && regexec(&c->regex, origin, 0, NULL, 0) == 0) return true;
  return list_has(&c->origins, origin);
}

// Whether every header named in the comma-separated `requested` is allowed
// (each lowercased and stripped, as Starlette compares them).
static bool headers_allowed(const struct cors *c, const char *requested) {
  const char *p = requested;
  for (;;) {
    const char *comma = strchr(p, ',');
    const char *end = comma ? comma : p + strlen(p);
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t')) end--;
    bool found = false;
    for (size_t i = 0; i < c->headers.n && !found; i++)
      found = strlen(c->headers.v[i]) == (size_t)(end - p) &&
              !strncasecmp(c->headers.v[i], p, (size_t)(end - p));
    if (!found) return false;
    if (!comma) return true;
    p = comma + 1;
  }
}

// Answers a preflight as Starlette's preflight_response does.
static int preflight(const struct cors *c, cio_http_req *req, cio_http_res *res,
                     const char *origin) {
  const char *method = cio_http_header(req, "Access-Control-Request-Method");
  const char *requested = cio_http_header(req, "Access-Control-Request-Headers");
  int rc = c->explicit_origin ? cio_http_set_header(res, "Vary", "Origin")
                              : cio_http_set_header(res, "Access-Control-Allow-Origin", "*");
  if (rc == 0) rc = cio_http_set_header(res, "Access-Control-Allow-Methods", c->methods_text);
  if (rc == 0) rc = cio_http_set_header(res, "Access-Control-Max-Age", c->max_age);
  if (rc == 0 && c->headers_text)
    rc = cio_http_set_header(res, "Access-Control-Allow-Headers", c->headers_text);
  if (rc == 0 && c->credentials)
    rc = cio_http_set_header(res, "Access-Control-Allow-Credentials", "true");
  char failures[64] = "Disallowed CORS ";
  const char *sep = "";
  if (origin_allowed(c, origin)) {
    if (rc == 0 && c->explicit_origin)
      rc = cio_http_set_header(res, "Access-Control-Allow-Origin", origin);
  } else {
    strcat(failures, "origin");
    sep = ", ";
  }
  if (!list_has(&c->methods, method)) {
    strcat(failures, sep);
    strcat(failures, "method");
    sep = ", ";
  }
  if (requested && c->all_headers) {
    if (rc == 0) rc = cio_http_set_header(res, "Access-Control-Allow-Headers", requested);
  } else if (requested && !headers_allowed(c, requested)) {
    strcat(failures, sep);
    strcat(failures, "headers");
    sep = ", ";
  }
  if (rc < 0) return rc; // the headers did not fit (an Origin of hundreds of bytes): 500
  const char *type = "text/plain; charset=utf-8";
  if (*sep) return cio_http_send(res, 400, type, failures, strlen(failures));
  return cio_http_send(res, 200, type, "OK", 2);
}

// The middleware.
static int cors_mw(cio_http_req *req, cio_http_res *res, cio_http_next next, void *state,
                   void *arg) {
  const struct cors *c = arg;
  const char *origin = cio_http_header(req, "Origin");
  if (!origin) return next(req, res, state);
  if (!strcmp(cio_http_method(req), "OPTIONS") &&
      cio_http_header(req, "Access-Control-Request-Method"))
    return preflight(c, req, res, origin);
  int rc = 0;
  if (c->credentials) rc = cio_http_set_header(res, "Access-Control-Allow-Credentials", "true");
  if (rc == 0 && c->expose_text)
    rc = cio_http_set_header(res, "Access-Control-Expose-Headers", c->expose_text);
  // With "*", a request with cookies still gets its origin named.
  bool named = c->all_origins ? cio_http_header(req, "Cookie") != NULL : origin_allowed(c, origin);
  if (rc == 0 && named) {
    rc = cio_http_set_header(res, "Access-Control-Allow-Origin", origin);
    if (rc == 0) rc = cio_http_set_header(res, "Vary", "Origin");
  } else if (rc == 0 && c->all_origins) {
    rc = cio_http_set_header(res, "Access-Control-Allow-Origin", "*");
  }
  if (rc < 0) return rc; // the headers did not fit: 500
  return next(req, res, state);
}

int cio_http_cors(cio_http_app *app, const cio_http_cors_opts *opts) {
  if (!cio__http_app_valid(app) || !opts) return -EINVAL;
  struct cors *c = cio__calloc(1, sizeof *c);
  if (!c) return -ENOMEM;
  int rc = cors_setup(c, opts);
  if (rc == 0) rc = cio__http_app_own(app, c, cors_free);
  if (rc < 0) {
    cors_free(c);
    return rc;
  }
  return cio_http_use(app, cors_mw, c);
}
