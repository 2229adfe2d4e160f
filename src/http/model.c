// SPDX-License-Identifier: MIT
//
// Declared routes (<cio/http_model.h>): a declaration checked and compiled
// once per route (bounds parsed, patterns compiled, models walked), then
// for each request the parameters validated as FastAPI validates them
// (pydantic v2's types and messages, every error collected), the body
// handed to model_body.c, and the 422 list answered when anything failed.
// The file goes: compiling, the 422 list, checks shared with the body,
// parameters, the readers.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../alloc.h"
#include "http.h"
#include "model.h"

// ---------------------------------------------------------------- compiling

// Parses a bound's text: a JSON number.  Returns false if it is not one.
static bool bound_parse(const char *text, struct bound *b) {
  b->text = text;
  if (!text) return true;
  char *end;
  b->value = strtod(text, &end);
  return *text && *end == '\0' && isfinite(b->value) &&
         strspn(text, "-+.0123456789eE") == strlen(text);
}

// A default's text is valid JSON for its type (strings without escapes).
static bool default_valid(const cio_http_field *f) {
  const char *d = f->def;
  if (!d || strcmp(d, "null") == 0) return true;
  size_t n = strlen(d);
  switch (f->type) {
  case CIO_HTTP_INT:
  case CIO_HTTP_FLOAT: {
    struct bound b;
    return bound_parse(d, &b);
  }
  case CIO_HTTP_BOOL: return strcmp(d, "true") == 0 || strcmp(d, "false") == 0;
  case CIO_HTTP_STR:
  case CIO_HTTP_ENUM:
    return n >= 2 && d[0] == '"' && d[n - 1] == '"' && !memchr(d + 1, '"', n - 2) &&
           !memchr(d, '\\', n);
  case CIO_HTTP_ARRAY: return strcmp(d, "[]") == 0;
  case CIO_HTTP_OBJECT: return false; // null only
  }
  return false;
}

static void vfield_clear(struct vfield *vf);

// Compiles f into *vf, `depth` models and lists deep.  Returns 0, -EINVAL
// or -ENOMEM (vf then holds nothing to free).
// NOLINTNEXTLINE(misc-no-recursion): a model's fields, at most MAX_DEPTH deep
static int vfield_init(struct vfield *vf, const cio_http_field *f, int depth) {
  memset(vf, 0, sizeof *vf);
  vf->f = f;
  if (depth >= MAX_DEPTH || f->type < CIO_HTTP_STR || f->type > CIO_HTTP_ARRAY ||
      !default_valid(f) || !bound_parse(f->gt, &vf->gt) || !bound_parse(f->ge, &vf->ge) ||
      !bound_parse(f->lt, &vf->lt) || !bound_parse(f->le, &vf->le))
    return -EINVAL;
  if (f->type == CIO_HTTP_ENUM && (!f->values || !f->values[0])) return -EINVAL;
  vf->nullable = f->def && strcmp(f->def, "null") == 0;
  if ((f->type == CIO_HTTP_STR || f->type == CIO_HTTP_ENUM) && f->def && !vf->nullable) {
    vf->def_str = cio__strndup(f->def + 1, strlen(f->def) - 2); // without its quotes
    if (!vf->def_str) return -ENOMEM;
  }
  int rc = 0;
  if (f->pattern) {
    vf->re = cio__malloc(sizeof *vf->re);
    if (!vf->re) {
      rc = -ENOMEM;
      goto fail;
    }
    if (regcomp(vf->re, f->pattern, REG_EXTENDED | REG_NOSUB) != 0) {
      free(vf->re);
      vf->re = NULL;
      rc = -EINVAL;
      goto fail;
    }
  }
  if (f->type == CIO_HTTP_OBJECT) {
    if (!f->model || !f->model->fields) {
      rc = -EINVAL;
      goto fail;
    }
    size_t n = 0;
    while (f->model->fields[n].name) n++;
    vf->fields = cio__calloc(n ? n : 1, sizeof *vf->fields);
    if (!vf->fields) {
      rc = -ENOMEM;
      goto fail;
    }
    for (; vf->nfields < n; vf->nfields++) {
      rc = vfield_init(&vf->fields[vf->nfields], &f->model->fields[vf->nfields], depth + 1);
      if (rc < 0) goto fail;
    }
  }
  if (f->type == CIO_HTTP_ARRAY) {
    if (!f->items) {
      rc = -EINVAL;
      goto fail;
    }
    vf->items = cio__malloc(sizeof *vf->items);
    if (!vf->items) {
      rc = -ENOMEM;
      goto fail;
    }
    rc = vfield_init(vf->items, f->items, depth + 1);
    if (rc < 0) {
      free(vf->items);
      vf->items = NULL;
      goto fail;
    }
  }
  return 0;
fail:
  vfield_clear(vf);
  return rc;
}

// NOLINTNEXTLINE(misc-no-recursion): as deep as vfield_init went (MAX_DEPTH)
static void vfield_clear(struct vfield *vf) {
  free(vf->def_str);
  if (vf->re) {
    regfree(vf->re);
    free(vf->re);
  }
  for (size_t i = 0; i < vf->nfields; i++) vfield_clear(&vf->fields[i]);
  free(vf->fields);
  if (vf->items) {
    vfield_clear(vf->items);
    free(vf->items);
  }
  memset(vf, 0, sizeof *vf);
}

void cio__http_vroute_free(struct vroute *vr) {
  if (!vr) return;
  for (size_t i = 0; i < vr->nparams; i++) vfield_clear(&vr->params[i]);
  free(vr->params);
  if (vr->body) {
    vfield_clear(vr->body);
    free(vr->body);
  }
  free(vr);
}

int cio__http_vroute_new(const cio_http_decl *decl, struct vroute **out) {
  struct vroute *vr = cio__calloc(1, sizeof *vr);
  if (!vr) return -ENOMEM;
  vr->decl = decl;
  int rc = 0;
  size_t n = 0;
  while (decl->params && decl->params[n].name) n++;
  if (n) {
    vr->params = cio__calloc(n, sizeof *vr->params);
    if (!vr->params) {
      rc = -ENOMEM;
      goto fail;
    }
  }
  for (; vr->nparams < n; vr->nparams++) {
    const cio_http_field *f = &decl->params[vr->nparams];
    if (f->type == CIO_HTTP_OBJECT || f->type == CIO_HTTP_ARRAY || f->in > CIO_HTTP_COOKIE ||
        (f->in == CIO_HTTP_PATH && f->def)) {
      rc = -EINVAL;
      goto fail;
    }
    rc = vfield_init(&vr->params[vr->nparams], f, 0);
    if (rc < 0) goto fail;
  }
  if (decl->body) {
    if (!cio__http_have_json()) {
      rc = -ENOTSUP;
      goto fail;
    }
    vr->body = cio__malloc(sizeof *vr->body);
    if (!vr->body) {
      rc = -ENOMEM;
      goto fail;
    }
    // The body as an object field of the declared model.
    vr->body_field = (cio_http_field){.name = "body", .type = CIO_HTTP_OBJECT, .model = decl->body};
    rc = vfield_init(vr->body, &vr->body_field, 0);
    if (rc < 0) {
      free(vr->body);
      vr->body = NULL;
      goto fail;
    }
  }
  *out = vr;
  return 0;
fail:
  cio__http_vroute_free(vr);
  return rc;
}

// ---------------------------------------------------------------- the 422 list

static void loc_write(struct cio__jtext *j, const struct loc *at) {
  cio__jt_lit(j, "[");
  for (int i = 0; i < at->n; i++) {
    if (i) cio__jt_lit(j, ",");
    if (at->key[i]) {
      cio__jt_str(j, at->key[i], strlen(at->key[i]));
    } else {
      char num[24];
      snprintf(num, sizeof num, "%zu", at->index[i]);
      cio__jt_lit(j, num);
    }
  }
  cio__jt_lit(j, "]");
}

void cio__http_err_add(struct errs *e, const char *type, const struct loc *at, const char *msg,
                       const char *input, size_t input_len, const char *ctx) {
  if (e->n >= CIO__HTTP_MAX_ERRORS) {
    e->n++;
    return;
  }
  cio__jt_lit(&e->j, e->n++ ? ",{\"type\":" : "{\"detail\":[{\"type\":");
  cio__jt_str(&e->j, type, strlen(type));
  cio__jt_lit(&e->j, ",\"loc\":");
  loc_write(&e->j, at);
  cio__jt_lit(&e->j, ",\"msg\":");
  cio__jt_str(&e->j, msg, strlen(msg));
  cio__jt_lit(&e->j, ",\"input\":");
  if (input)
    cio__jt_raw(&e->j, input, input_len);
  else
    cio__jt_lit(&e->j, "null");
  if (ctx) {
    cio__jt_lit(&e->j, ",\"ctx\":");
    cio__jt_lit(&e->j, ctx);
  }
  cio__jt_lit(&e->j, "}");
}

void cio__http_enum_expected(struct cio__jtext *j, const char *const *values) {
  size_t n = 0;
  while (values[n]) n++;
  for (size_t i = 0; i < n; i++) {
    if (i) cio__jt_lit(j, i == n - 1 ? " or " : ", ");
    cio__jt_lit(j, "'");
    cio__jt_lit(j, values[i]);
    cio__jt_lit(j, "'");
  }
}

// ---------------------------------------------------------------- checks shared with the body

// Characters in UTF-8 text (continuation bytes not counted).
static size_t utf8_chars(const char *s, size_t n) {
  size_t c = 0;
  for (size_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xC0) != 0x80;
  return c;
}

// Adds a length error: "String should have at least 1 character" and its ctx.
static void length_error(struct errs *e, const struct loc *at, const char *type, const char *what,
                         const char *side, const char *key, size_t bound, const char *input,
                         size_t input_len) {
  char msg[128], ctx[64];
  snprintf(msg, sizeof msg, "String should have %s %zu %s%s", side, bound, what,
           bound == 1 ? "" : "s");
  snprintf(ctx, sizeof ctx, "{\"%s\":%zu}", key, bound);
  cio__http_err_add(e, type, at, msg, input, input_len, ctx);
}

bool cio__http_check_str(struct errs *e, const struct vfield *vf, const struct loc *at,
                         const char *s, size_t n, const char *input, size_t input_len) {
  const cio_http_field *f = vf->f;
  if (f->min_length || f->max_length) {
    size_t chars = utf8_chars(s, n);
    if (f->min_length && chars < f->min_length) {
      length_error(e, at, "string_too_short", "character", "at least", "min_length", f->min_length,
                   input, input_len);
      return false;
    }
    if (f->max_length && chars > f->max_length) {
      length_error(e, at, "string_too_long", "character", "at most", "max_length", f->max_length,
                   input, input_len);
      return false;
    }
  }
  if (vf->re && (memchr(s, '\0', n) || regexec(vf->re, s, 0, NULL, 0) != 0)) {
    struct cio__jtext msg = cio__jt_new(64), ctx = cio__jt_new(64);
    cio__jt_lit(&msg, "String should match pattern '");
    cio__jt_lit(&msg, f->pattern);
    cio__jt_lit(&msg, "'");
    cio__jt_lit(&ctx, "{\"pattern\":");
    cio__jt_str(&ctx, f->pattern, strlen(f->pattern));
    cio__jt_lit(&ctx, "}");
    if (msg.p && ctx.p)
      cio__http_err_add(e, "string_pattern_mismatch", at, msg.p, input, input_len, ctx.p);
    else
      e->j.p = (free(e->j.p), NULL); // out of memory: the answer's fallback
    free(msg.p);
    free(ctx.p);
    return false;
  }
  return true;
}

bool cio__http_check_num(struct errs *e, const struct vfield *vf, const struct loc *at, double v,
                         const char *input, size_t input_len) {
  // pydantic's order: le, lt, ge, gt; the first that fails is the error.
  static const struct {
    size_t off;        // which bound
    int sign;          // v must be (sign > 0: above, < 0: below) it; 0 also equal
    const char *type;  // the error
    const char *words; // its message
    const char *key;   // its ctx key
  } rules[] = {
      {offsetof(struct vfield, le), -1, "less_than_equal", "less than or equal to", "le"},
      {offsetof(struct vfield, lt), -2, "less_than", "less than", "lt"},
      {offsetof(struct vfield, ge), 1, "greater_than_equal", "greater than or equal to", "ge"},
      {offsetof(struct vfield, gt), 2, "greater_than", "greater than", "gt"},
  };
  for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
    const struct bound *b = (const struct bound *)(const void *)((const char *)vf + rules[i].off);
    if (!b->text) continue;
    bool ok = rules[i].sign == -1   ? v <= b->value
              : rules[i].sign == -2 ? v < b->value
              : rules[i].sign == 1  ? v >= b->value
                                    : v > b->value;
    if (ok) continue;
    // A float field's bound is a float to pydantic: its ctx says 0.0 (as
    // Python writes it) and its message 0 (as Rust's Display writes it:
    // no ".0").  An int field's is written as declared.
    const char *shown = b->text, *in_ctx = b->text;
    struct cio__jtext f = cio__jt_new(32);
    if (vf->f->type == CIO_HTTP_FLOAT) {
      cio__jt_float(&f, b->value);
      if (f.p) {
        in_ctx = f.p;
        shown = f.p;
      }
    }
    char msg[160], ctx[96];
    int shown_len = (int)strlen(shown);
    if (f.p && f.n > 2 && strcmp(f.p + f.n - 2, ".0") == 0) shown_len -= 2;
    snprintf(msg, sizeof msg, "Input should be %s %.*s", rules[i].words, shown_len, shown);
    snprintf(ctx, sizeof ctx, "{\"%s\":%s}", rules[i].key, in_ctx);
    free(f.p);
    cio__http_err_add(e, rules[i].type, at, msg, input, input_len, ctx);
    return false;
  }
  return true;
}

// ---------------------------------------------------------------- parameters

static const char *const where_name[] = {
    [CIO_HTTP_QUERY] = "query",
    [CIO_HTTP_PATH] = "path",
    [CIO_HTTP_HEADER] = "header",
    [CIO_HTTP_COOKIE] = "cookie",
};

// Finds cookie `name` in the request's Cookie header as Starlette parses
// it (pairs split at ';', names and values trimmed, the last of a name
// wins, quotes taken off).  Returns a copy kept by the request, or NULL.
static const char *find_cookie(cio_http_req *req, const char *name, size_t *len) {
  const char *h = cio_http_header(req, "Cookie");
  if (!h) return NULL;
  const char *found = NULL, *p = h, *end = h + strlen(h);
  size_t nl = strlen(name);
  while (p < end) {
    const char *semi = memchr(p, ';', (size_t)(end - p));
    const char *stop = semi ? semi : end;
    const char *eq = memchr(p, '=', (size_t)(stop - p));
    if (eq) {
      const char *k = p, *ke = eq, *v = eq + 1, *ve = stop;
      while (k < ke && (*k == ' ' || *k == '\t')) k++;
      while (ke > k && (ke[-1] == ' ' || ke[-1] == '\t')) ke--;
      while (v < ve && (*v == ' ' || *v == '\t')) v++;
      while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
      if (ve - v >= 2 && *v == '"' && ve[-1] == '"') v++, ve--;
      if ((size_t)(ke - k) == nl && memcmp(k, name, nl) == 0) {
        found = v;
        *len = (size_t)(ve - v);
      }
    }
    p = stop + 1;
  }
  if (!found) return NULL;
  char *copy = cio__http_req_keep(req, *len + 1);
  if (!copy) return NULL;
  memcpy(copy, found, *len);
  return copy;
}

// A header parameter's name: '_' as '-'.
static void header_name(const char *name, char *out, size_t cap) {
  size_t i = 0;
  for (; name[i] && i + 1 < cap; i++) out[i] = (char)(name[i] == '_' ? '-' : name[i]);
  out[i] = '\0';
}

// The raw text of parameter f, or NULL when absent.
static const char *param_text(cio_http_req *req, const cio_http_field *f, size_t *len) {
  const char *v = NULL;
  switch (f->in) {
  case CIO_HTTP_QUERY: return cio_http_query_n(req, f->name, len);
  case CIO_HTTP_PATH: v = cio_http_param(req, f->name); break;
  case CIO_HTTP_HEADER: {
    char name[128];
    header_name(f->name, name, sizeof name);
    v = cio_http_header(req, name);
    break;
  }
  case CIO_HTTP_COOKIE: return find_cookie(req, f->name, len);
  }
  if (v) *len = strlen(v);
  return v;
}

// Fills *v from f's default.
static void param_default(const struct vfield *vf, struct argval *v) {
  const cio_http_field *f = vf->f;
  const char *d = f->def;
  if (strcmp(d, "null") == 0) {
    v->null = true;
    return;
  }
  switch (f->type) {
  case CIO_HTTP_INT: v->i = strtoll(d, NULL, 10), v->d = (double)v->i; break;
  case CIO_HTTP_FLOAT: v->d = strtod(d, NULL); break;
  case CIO_HTTP_BOOL: v->i = strcmp(d, "true") == 0; break;
  default:
    v->s = vf->def_str;
    v->n = strlen(vf->def_str);
    break;
  }
}

// Validates one parameter into *v, adding errors.
static void param_validate(cio_http_req *req, const struct vfield *vf, struct argval *v,
                           struct errs *e) {
  const cio_http_field *f = vf->f;
  char hname[128];
  struct loc at = {.n = 2};
  at.key[0] = where_name[f->in];
  at.key[1] = f->name;
  if (f->in == CIO_HTTP_HEADER) {
    header_name(f->name, hname, sizeof hname);
    at.key[1] = hname;
  }
  v->name = f->name;
  size_t n = 0;
  const char *text = param_text(req, f, &n);
  if (!text) {
    if (f->def)
      param_default(vf, v);
    else
      cio__http_err_add(e, "missing", &at, "Field required", NULL, 0, NULL);
    return;
  }
  struct cio__jtext input = cio__jt_new(n + 8);
  cio__jt_str(&input, text, n);
  if (!input.p) {
    e->j.p = (free(e->j.p), NULL);
    return;
  }
  switch (f->type) {
  case CIO_HTTP_INT:
  case CIO_HTTP_FLOAT: {
    int type = f->type == CIO_HTTP_INT ? P_INT : P_FLOAT;
    const char *etype, *emsg;
    if (!cio__http_text_to(type, text, n, type == P_INT ? (void *)&v->i : (void *)&v->d, &etype,
                           &emsg)) {
      cio__http_err_add(e, etype, &at, emsg, input.p, input.n, NULL);
      break;
    }
    if (type == P_INT) v->d = (double)v->i;
    (void)cio__http_check_num(e, vf, &at, v->d, input.p, input.n);
    break;
  }
  case CIO_HTTP_BOOL: {
    bool b = false;
    const char *etype, *emsg;
    if (!cio__http_text_to(P_BOOL, text, n, &b, &etype, &emsg))
      cio__http_err_add(e, etype, &at, emsg, input.p, input.n, NULL);
    v->i = b;
    break;
  }
  case CIO_HTTP_ENUM: {
    for (const char *const *p = f->values; *p; p++)
      if (strlen(*p) == n && memcmp(*p, text, n) == 0) v->s = *p, v->n = n;
    if (v->s) break;
    struct cio__jtext exp = cio__jt_new(64), msg = cio__jt_new(96), ctx = cio__jt_new(96);
    cio__http_enum_expected(&exp, f->values);
    cio__jt_lit(&msg, "Input should be ");
    if (exp.p) cio__jt_lit(&msg, exp.p);
    cio__jt_lit(&ctx, "{\"expected\":");
    if (exp.p) cio__jt_str(&ctx, exp.p, exp.n);
    cio__jt_lit(&ctx, "}");
    if (exp.p && msg.p && ctx.p)
      cio__http_err_add(e, "enum", &at, msg.p, input.p, input.n, ctx.p);
    else
      e->j.p = (free(e->j.p), NULL);
    free(exp.p), free(msg.p), free(ctx.p);
    break;
  }
  default: // a string
    if (cio__http_check_str(e, vf, &at, text, n, input.p, input.n)) v->s = text, v->n = n;
    break;
  }
  free(input.p);
}

int cio__http_validate(const struct vroute *vr, cio_http_req *req, cio_http_res *res) {
  struct errs e = {cio__jt_new(256), 0};
  req->vr = vr;
  // The body is read first: JSON that does not parse is answered at once
  // with that error alone, a body that is not UTF-8 with 400.
  struct body_in body = {BODY_NONE, NULL};
  int rc = vr->body ? cio__http_body_read(req, &e, &body) : 0;
  if (rc == -EBADMSG) {
    free(e.j.p);
    cio_http_json(res, 400, "{\"detail\":\"There was an error parsing the body\"}");
    return rc;
  }
  if (rc < 0) {
    cio__jt_lit(&e.j, "]}");
    (void)cio__http_jt_answer(res, 422, &e.j, "{\"detail\":\"Unprocessable Content\"}");
    return rc;
  }
  if (vr->nparams) {
    req->args = cio__calloc(vr->nparams, sizeof *req->args);
    if (!req->args) {
      free(e.j.p);
      cio__http_body_value_free(body.json);
      cio__http_error_body(res, 503);
      return -ENOMEM;
    }
    req->nargs = vr->nparams;
  }
  // FastAPI's order: path, query, header, cookie; each in declared order.
  static const cio_http_where order[] = {CIO_HTTP_PATH, CIO_HTTP_QUERY, CIO_HTTP_HEADER,
                                         CIO_HTTP_COOKIE};
  for (size_t w = 0; w < 4; w++)
    for (size_t i = 0; i < vr->nparams; i++)
      if (vr->params[i].f->in == order[w]) param_validate(req, &vr->params[i], &req->args[i], &e);
  if (vr->body) (void)cio__http_validate_body(vr, req, &e, &body);
  if (e.n == 0 && e.j.p) {
    free(e.j.p);
    return 0;
  }
  cio__jt_lit(&e.j, "]}");
  (void)cio__http_jt_answer(res, 422, &e.j, "{\"detail\":\"Unprocessable Content\"}");
  return -EINVAL;
}

// ---------------------------------------------------------------- registering

int cio_http_route_decl(cio_http_app *app, const char *method, const char *pattern,
                        cio_http_handler fn, void *arg, const cio_http_decl *decl) {
  if (!decl) return -EINVAL;
  struct route *r;
  int rc = cio__http_route_new(app, method, pattern, fn, arg, &r);
  if (rc < 0) return rc;
  rc = cio__http_vroute_new(decl, &r->vr);
  // Each path parameter declared is in the pattern, and matched there as
  // any segment: the declaration converts it.
  for (size_t i = 0; rc == 0 && i < r->vr->nparams; i++) {
    const cio_http_field *f = r->vr->params[i].f;
    if (f->in != CIO_HTTP_PATH) continue;
    int k = 0;
    while (k < r->nsegs && !(r->segs[k].param && strcmp(r->segs[k].param, f->name) == 0)) k++;
    if (k == r->nsegs)
      rc = -EINVAL;
    else if (r->segs[k].type != P_PATH)
      r->segs[k].type = P_STR;
  }
  if (rc < 0) {
    cio__http_route_free(r);
    return rc;
  }
  cio__http_route_link(app, r);
  return 0;
}

// ---------------------------------------------------------------- readers

static const struct argval *find_arg(const cio_http_req *req, const char *name) {
  for (size_t i = 0; req && name && i < req->nargs; i++)
    if (req->args[i].name && strcmp(req->args[i].name, name) == 0) return &req->args[i];
  return NULL;
}

int64_t cio_http_arg_int(const cio_http_req *req, const char *name) {
  const struct argval *v = find_arg(req, name);
  return v && !v->null ? v->i : 0;
}

double cio_http_arg_float(const cio_http_req *req, const char *name) {
  const struct argval *v = find_arg(req, name);
  return v && !v->null ? v->d : 0;
}

bool cio_http_arg_bool(const cio_http_req *req, const char *name) {
  const struct argval *v = find_arg(req, name);
  return v && !v->null && v->i;
}

const char *cio_http_arg_str(const cio_http_req *req, const char *name) {
  const struct argval *v = find_arg(req, name);
  return v && !v->null ? v->s : NULL;
}

const char *cio_http_arg_str_n(const cio_http_req *req, const char *name, size_t *len) {
  const struct argval *v = find_arg(req, name);
  bool set = v && !v->null && v->s;
  if (len) *len = set ? v->n : 0;
  return set ? v->s : NULL;
}

bool cio_http_arg_null(const cio_http_req *req, const char *name) {
  const struct argval *v = find_arg(req, name);
  return !v || v->null;
}
