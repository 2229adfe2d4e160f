// SPDX-License-Identifier: MIT
//
// A declared JSON body (<cio/http_model.h>): parsed with Jansson, validated
// as FastAPI validates a body model (pydantic v2 in Python lax mode: "3.5"
// is a float, 2.0 an int, true a 1; a str takes only strings), every error
// collected with its location, and the result built as a new value with
// the model's fields in declared order and defaults filled in, which the
// handler reads by path and cio_http_answer_body echoes.  Without Jansson
// only the stubs at the end are built (cio_http_route_decl then refuses a
// body model).
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../alloc.h"
#include "http.h"
#include "model.h"

#ifdef CIO_HAVE_JANSSON
#include <jansson.h>

// ---------------------------------------------------------------- JSON text as Python writes it

// NOLINTNEXTLINE(misc-no-recursion): values from outside nest at most CIO__JSON_MAX_DEPTH
void cio__json_dump(struct cio__jtext *j, const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT: {
    cio__jt_lit(j, "{");
    const char *key;
    json_t *item;
    bool first = true;
    json_object_foreach((json_t *)v, key, item) {
      if (!first) cio__jt_lit(j, ",");
      first = false;
      cio__jt_str(j, key, strlen(key));
      cio__jt_lit(j, ":");
      cio__json_dump(j, item);
    }
    cio__jt_lit(j, "}");
    break;
  }
  case JSON_ARRAY:
    cio__jt_lit(j, "[");
    for (size_t i = 0; i < json_array_size(v); i++) {
      if (i) cio__jt_lit(j, ",");
      cio__json_dump(j, json_array_get(v, i));
    }
    cio__jt_lit(j, "]");
    break;
  case JSON_STRING: cio__jt_str(j, json_string_value(v), json_string_length(v)); break;
  case JSON_INTEGER: {
    char num[24];
    snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
    cio__jt_lit(j, num);
    break;
  }
  case JSON_REAL: cio__jt_float(j, json_real_value(v)); break;
  case JSON_TRUE: cio__jt_lit(j, "true"); break;
  case JSON_FALSE: cio__jt_lit(j, "false"); break;
  case JSON_NULL: cio__jt_lit(j, "null"); break;
  }
}

// ---------------------------------------------------------------- validating

// A validation under way: where errors go.
struct vctx {
  struct errs *e; // the 422 list
};

// Adds an error about v (echoed as its input).
static void verr(struct vctx *c, const char *type, const struct loc *at, const char *msg,
                 const json_t *v, const char *ctx) {
  struct cio__jtext in = cio__jt_new(64);
  if (v)
    cio__json_dump(&in, v);
  else
    cio__jt_lit(&in, "null");
  if (!in.p) {
    c->e->j.p = (free(c->e->j.p), NULL);
    return;
  }
  cio__http_err_add(c->e, type, at, msg, in.p, in.n, ctx);
  free(in.p);
}

// The text of a string value, whitespace trimmed, for a conversion.
static bool trimmed(const json_t *v, char *buf, size_t cap, size_t *n) {
  const char *s = json_string_value(v);
  size_t len = json_string_length(v);
  while (len && strchr(" \t\n\r\f\v", *s)) s++, len--;
  while (len && strchr(" \t\n\r\f\v", s[len - 1])) len--;
  if (len >= cap || memchr(s, '\0', len)) return false;
  memcpy(buf, s, len);
  buf[len] = '\0';
  *n = len;
  return true;
}

// An int from v in lax mode: an integer, a whole float, a bool, or a
// string of one.  Adds the error and returns false otherwise.
static bool lax_int(struct vctx *c, const json_t *v, const struct loc *at, int64_t *out) {
  if (json_is_integer(v)) {
    *out = json_integer_value(v);
    return true;
  }
  if (json_is_boolean(v)) {
    *out = json_is_true(v);
    return true;
  }
  if (json_is_real(v)) {
    double d = json_real_value(v);
    if (isfinite(d) && d == floor(d) && fabs(d) < 9.2e18) {
      *out = (int64_t)d;
      return true;
    }
    verr(c, isfinite(d) ? "int_from_float" : "finite_number", at,
         isfinite(d) ? "Input should be a valid integer, got a number with a fractional part"
                     : "Input should be a finite number",
         v, NULL);
    return false;
  }
  if (json_is_string(v)) {
    char buf[64];
    size_t n;
    const char *etype, *emsg;
    if (trimmed(v, buf, sizeof buf, &n)) {
      // "5.0" is 5, as pydantic reads it: drop a fractional part of zeros.
      char *dot = strchr(buf, '.');
      if (dot && dot > buf && strspn(dot + 1, "0") == strlen(dot + 1))
        *dot = '\0', n = (size_t)(dot - buf);
      if (cio__http_text_to(P_INT, buf, n, out, &etype, &emsg)) return true;
    }
    verr(c, "int_parsing", at,
         "Input should be a valid integer, unable to parse string as an integer", v, NULL);
    return false;
  }
  verr(c, "int_type", at, "Input should be a valid integer", v, NULL);
  return false;
}

// A float from v in lax mode: a number, a bool, or a string of one.
static bool lax_float(struct vctx *c, const json_t *v, const struct loc *at, double *out) {
  if (json_is_number(v)) {
    *out = json_number_value(v);
    return true;
  }
  if (json_is_boolean(v)) {
    *out = json_is_true(v);
    return true;
  }
  if (json_is_string(v)) {
    char buf[64];
    size_t n;
    const char *etype, *emsg;
    if (trimmed(v, buf, sizeof buf, &n) && cio__http_text_to(P_FLOAT, buf, n, out, &etype, &emsg))
      return true;
    verr(c, "float_parsing", at,
         "Input should be a valid number, unable to parse string as a number", v, NULL);
    return false;
  }
  verr(c, "float_type", at, "Input should be a valid number", v, NULL);
  return false;
}

// A bool from v in lax mode: a bool, 0 or 1, or one of FastAPI's words.
static bool lax_bool(struct vctx *c, const json_t *v, const struct loc *at, bool *out) {
  if (json_is_boolean(v)) {
    *out = json_is_true(v);
    return true;
  }
  if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1)) {
    *out = json_integer_value(v) == 1;
    return true;
  }
  if (json_is_real(v) && (json_real_value(v) == 0 || json_real_value(v) == 1)) {
    *out = json_real_value(v) == 1;
    return true;
  }
  if (json_is_string(v)) {
    char buf[16];
    size_t n;
    const char *etype, *emsg;
    if (trimmed(v, buf, sizeof buf, &n) && cio__http_text_to(P_BOOL, buf, n, out, &etype, &emsg))
      return true;
  }
  if (json_is_string(v) || json_is_number(v))
    verr(c, "bool_parsing", at, "Input should be a valid boolean, unable to interpret input", v,
         NULL);
  else
    verr(c, "bool_type", at, "Input should be a valid boolean", v, NULL);
  return false;
}

static json_t *validate(struct vctx *c, const struct vfield *vf, const json_t *v, struct loc *at);

// A list's length against its bounds: too_short, too_long.
static bool list_length(struct vctx *c, const struct vfield *vf, const json_t *v,
                        const struct loc *at, size_t n) {
  const cio_http_field *f = vf->f;
  bool shortfall = f->min_length && n < f->min_length;
  if (!shortfall && !(f->max_length && n > f->max_length)) return true;
  size_t bound = shortfall ? f->min_length : f->max_length;
  char msg[160], ctx[160];
  snprintf(msg, sizeof msg, "List should have %s %zu item%s after validation, not %zu",
           shortfall ? "at least" : "at most", bound, bound == 1 ? "" : "s", n);
  snprintf(ctx, sizeof ctx, "{\"field_type\":\"List\",\"%s\":%zu,\"actual_length\":%zu}",
           shortfall ? "min_length" : "max_length", bound, n);
  verr(c, shortfall ? "too_short" : "too_long", at, msg, v, ctx);
  return false;
}

// An object of vf's model: each field in declared order.
// NOLINTNEXTLINE(misc-no-recursion): as deep as the declaration (MAX_DEPTH)
static json_t *validate_object(struct vctx *c, const struct vfield *vf, const json_t *v,
                               struct loc *at) {
  if (!json_is_object(v)) {
    verr(c, "model_attributes_type", at,
         "Input should be a valid dictionary or object to extract fields from", v, NULL);
    return NULL;
  }
  json_t *out = json_object();
  bool ok = out != NULL;
  if (at->n >= MAX_DEPTH) return json_decref(out), NULL;
  for (size_t i = 0; i < vf->nfields; i++) {
    const struct vfield *ff = &vf->fields[i];
    at->key[at->n] = ff->f->name;
    at->n++;
    const json_t *fv = json_object_get(v, ff->f->name);
    json_t *val = NULL;
    if (!fv) {
      if (ff->f->def)
        val = json_loads(ff->f->def, JSON_DECODE_ANY, NULL);
      else
        verr(c, "missing", at, "Field required", v, NULL);
    } else {
      val = validate(c, ff, fv, at);
    }
    at->n--;
    if (!val || !out || json_object_set_new(out, ff->f->name, val) < 0) ok = false;
  }
  if (!ok) {
    json_decref(out);
    return NULL;
  }
  return out;
}

// A list of vf's items.
// NOLINTNEXTLINE(misc-no-recursion): as deep as the declaration (MAX_DEPTH)
static json_t *validate_array(struct vctx *c, const struct vfield *vf, const json_t *v,
                              struct loc *at) {
  if (!json_is_array(v)) {
    verr(c, "list_type", at, "Input should be a valid list", v, NULL);
    return NULL;
  }
  // Too many items is that error alone: pydantic stops at the first item
  // beyond max_length, whatever the items before it were.
  if (vf->f->max_length && json_array_size(v) > vf->f->max_length) {
    (void)list_length(c, vf, v, at, json_array_size(v));
    return NULL;
  }
  json_t *out = json_array();
  bool ok = out != NULL;
  if (at->n >= MAX_DEPTH) return json_decref(out), NULL;
  for (size_t i = 0; i < json_array_size(v); i++) {
    at->key[at->n] = NULL;
    at->index[at->n] = i;
    at->n++;
    json_t *val = validate(c, vf->items, json_array_get(v, i), at);
    at->n--;
    if (!val || !out || json_array_append_new(out, val) < 0) ok = false;
  }
  // pydantic checks the length after the items (hence "after validation").
  if (ok && !list_length(c, vf, v, at, json_array_size(v))) ok = false;
  if (!ok) {
    json_decref(out);
    return NULL;
  }
  return out;
}

// An enum's value: one of its strings.
static json_t *validate_enum(struct vctx *c, const struct vfield *vf, const json_t *v,
                             const struct loc *at) {
  if (json_is_string(v))
    for (const char *const *p = vf->f->values; *p; p++)
      if (strlen(*p) == json_string_length(v) && memcmp(*p, json_string_value(v), strlen(*p)) == 0)
        return json_string(*p);
  struct cio__jtext exp = cio__jt_new(64), msg = cio__jt_new(96), ctx = cio__jt_new(96);
  cio__http_enum_expected(&exp, vf->f->values);
  cio__jt_lit(&msg, "Input should be ");
  if (exp.p) cio__jt_lit(&msg, exp.p);
  cio__jt_lit(&ctx, "{\"expected\":");
  if (exp.p) cio__jt_str(&ctx, exp.p, exp.n);
  cio__jt_lit(&ctx, "}");
  if (exp.p && msg.p && ctx.p)
    verr(c, "enum", at, msg.p, v, ctx.p);
  else
    c->e->j.p = (free(c->e->j.p), NULL);
  free(exp.p), free(msg.p), free(ctx.p);
  return NULL;
}

// Validates v as vf declares, at `at`: the new value, or NULL after
// adding the errors.
// NOLINTNEXTLINE(misc-no-recursion): as deep as the declaration (MAX_DEPTH)
static json_t *validate(struct vctx *c, const struct vfield *vf, const json_t *v, struct loc *at) {
  if (json_is_null(v) && vf->nullable) return json_null();
  switch (vf->f->type) {
  case CIO_HTTP_STR: {
    if (!json_is_string(v)) {
      verr(c, "string_type", at, "Input should be a valid string", v, NULL);
      return NULL;
    }
    struct cio__jtext in = cio__jt_new(json_string_length(v) + 8);
    cio__jt_str(&in, json_string_value(v), json_string_length(v));
    bool ok = in.p && cio__http_check_str(c->e, vf, at, json_string_value(v), json_string_length(v),
                                          in.p, in.n);
    free(in.p);
    return ok ? json_stringn(json_string_value(v), json_string_length(v)) : NULL;
  }
  case CIO_HTTP_INT: {
    int64_t i;
    if (!lax_int(c, v, at, &i)) return NULL;
    struct cio__jtext in = cio__jt_new(32);
    cio__json_dump(&in, v);
    bool ok = in.p && cio__http_check_num(c->e, vf, at, (double)i, in.p, in.n);
    free(in.p);
    return ok ? json_integer(i) : NULL;
  }
  case CIO_HTTP_FLOAT: {
    double d;
    if (!lax_float(c, v, at, &d)) return NULL;
    struct cio__jtext in = cio__jt_new(32);
    cio__json_dump(&in, v);
    bool ok = in.p && cio__http_check_num(c->e, vf, at, d, in.p, in.n);
    free(in.p);
    return ok ? json_real(d) : NULL;
  }
  case CIO_HTTP_BOOL: {
    bool b;
    return lax_bool(c, v, at, &b) ? json_boolean(b) : NULL;
  }
  case CIO_HTTP_ENUM: return validate_enum(c, vf, v, at);
  case CIO_HTTP_OBJECT: return validate_object(c, vf, v, at);
  case CIO_HTTP_ARRAY: return validate_array(c, vf, v, at);
  }
  return NULL;
}

// True for FastAPI's JSON content types: application/json and
// application/<anything>+json, parameters after ';' ignored.
static bool json_content_type(const char *ct) {
  size_t n = strcspn(ct, ";");
  while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t')) n--;
  while (n && (*ct == ' ' || *ct == '\t')) ct++, n--;
  if (n < 12 || strncasecmp(ct, "application/", 12) != 0) return false;
  return (n == 16 && strncasecmp(ct + 12, "json", 4) == 0) ||
         (n > 17 && strncasecmp(ct + n - 5, "+json", 5) == 0);
}

// True if s[0..n) is well-formed UTF-8 (no overlongs, no surrogates).
static bool utf8_valid(const unsigned char *s, size_t n) {
  for (size_t i = 0; i < n;) {
    unsigned char c = s[i];
    size_t k = c < 0x80             ? 1
               : (c & 0xE0) == 0xC0 ? 2
               : (c & 0xF0) == 0xE0 ? 3
               : (c & 0xF8) == 0xF0 ? 4
                                    : 0;
    if (!k || i + k > n || (k == 2 && c < 0xC2) || (k == 4 && c > 0xF4)) return false;
    for (size_t m = 1; m < k; m++)
      if ((s[i + m] & 0xC0) != 0x80) return false;
    if (k == 3 && ((c == 0xE0 && s[i + 1] < 0xA0) || (c == 0xED && s[i + 1] >= 0xA0))) return false;
    if (k == 4 && ((c == 0xF0 && s[i + 1] < 0x90) || (c == 0xF4 && s[i + 1] >= 0x90))) return false;
    i += k;
  }
  return true;
}

int cio__http_json_parse(const char *body, size_t len, bool big_as_real, json_t **out, size_t *pos,
                         const char **why) {
  *out = NULL;
  *pos = 0;
  *why = NULL;
  // Python's json.loads(bytes) takes a UTF-8 BOM; text that is not UTF-8
  // fails to decode, which FastAPI answers 400.
  if (len >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0) body += 3, len -= 3;
  // Not UTF-8, or nested beyond what a task's stack parses (Python's json
  // module fails too, deeper): FastAPI's 400.
  if (!utf8_valid((const unsigned char *)body, len) || !cio__json_depth_ok(body, len))
    return -EBADMSG;
  json_error_t jerr;
  json_t *v = json_loadb(body, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
  bool python_fails = !v && cio__json_check(body, len, pos, why);
  // An integer beyond 64 bits, which Python reads: as a float (a float
  // field takes it; an int field then refuses it as too large).
  if (!v && !python_fails && big_as_real)
    v = json_loadb(body, len, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &jerr);
  if (!v && !python_fails) { // Python would take it (1e400, a lone surrogate): Jansson's words
    static _Thread_local char text[JSON_ERROR_TEXT_LENGTH];
    snprintf(text, sizeof text, "%s", jerr.text);
    *why = text;
    *pos = 0;
    for (size_t i = 0; i < (size_t)jerr.position && i < len; i++) // characters, as Python counts
      *pos += ((unsigned char)body[i] & 0xC0) != 0x80;
  }
  *out = v;
  return v ? 0 : -EINVAL;
}

int cio__http_body_read(cio_http_req *req, struct errs *e, struct body_in *in) {
  in->kind = BODY_NONE;
  in->json = NULL;
  size_t len;
  const char *body = cio_http_body(req, &len);
  if (!body || len == 0) return 0; // no body: FastAPI's None
  const char *ct = cio_http_header(req, "Content-Type");
  if (ct && !json_content_type(ct)) { // not JSON: the bytes as they are
    in->kind = BODY_BYTES;
    return 0;
  }
  json_t *v = NULL;
  size_t pos = 0;
  const char *why = NULL;
  int rc = cio__http_json_parse(body, len, true, &v, &pos, &why);
  if (rc == -EBADMSG) return rc;
  if (!v) {
    struct cio__jtext ctx = cio__jt_new(96);
    cio__jt_lit(&ctx, "{\"error\":");
    cio__jt_str(&ctx, why, strlen(why));
    cio__jt_lit(&ctx, "}");
    struct loc jat = {.n = 2, .key = {"body", NULL}, .index = {0, pos}};
    if (ctx.p)
      cio__http_err_add(e, "json_invalid", &jat, "JSON decode error", "{}", 2, ctx.p);
    else
      e->j.p = (free(e->j.p), NULL);
    free(ctx.p);
    return -EINVAL;
  }
  if (json_is_null(v)) { // FastAPI reads null as no body
    json_decref(v);
    return 0;
  }
  in->kind = BODY_JSON;
  in->json = v;
  return 0;
}

bool cio__http_validate_body(const struct vroute *vr, cio_http_req *req, struct errs *e,
                             struct body_in *in) {
  struct vctx c = {e};
  struct loc at = {.n = 1};
  at.key[0] = "body";
  if (in->kind == BODY_NONE) {
    cio__http_err_add(e, "missing", &at, "Field required", NULL, 0, NULL);
    return false;
  }
  if (in->kind == BODY_BYTES) { // which no model takes
    size_t len;
    const char *body = cio_http_body(req, &len);
    struct cio__jtext text = cio__jt_new(len + 8);
    cio__jt_str(&text, body, len);
    if (text.p)
      cio__http_err_add(e, "model_attributes_type", &at,
                        "Input should be a valid dictionary or object to extract fields from",
                        text.p, text.n, NULL);
    else
      e->j.p = (free(e->j.p), NULL);
    free(text.p);
    return false;
  }
  json_t *out = validate(&c, vr->body, in->json, &at);
  json_decref(in->json);
  in->json = NULL;
  if (!out) return false;
  req->body_value = out;
  return true;
}

void cio__http_body_value_free(void *value) { json_decref(value); }
bool cio__http_have_json(void) { return true; }

// ---------------------------------------------------------------- readers

// The value at `path` ("image.url", "tags.2") in the validated body, or NULL.
static const json_t *at_path(const cio_http_req *req, const char *path) {
  const json_t *v = req ? req->body_value : NULL;
  while (v && path && *path) {
    size_t n = strcspn(path, ".");
    if (json_is_object(v)) {
      char key[128];
      if (n >= sizeof key) return NULL;
      memcpy(key, path, n);
      key[n] = '\0';
      v = json_object_get(v, key);
    } else if (json_is_array(v)) {
      char *end;
      unsigned long long i = strtoull(path, &end, 10);
      if (end != path + n || n == 0) return NULL;
      v = json_array_get(v, (size_t)i);
    } else {
      return NULL;
    }
    path += n;
    if (*path == '.') path++;
  }
  return v;
}

int64_t cio_http_field_int(const cio_http_req *req, const char *path) {
  const json_t *v = at_path(req, path);
  return json_is_integer(v) ? json_integer_value(v) : (int64_t)json_number_value(v);
}

double cio_http_field_float(const cio_http_req *req, const char *path) {
  return json_number_value(at_path(req, path));
}

bool cio_http_field_bool(const cio_http_req *req, const char *path) {
  return json_is_true(at_path(req, path));
}

const char *cio_http_field_str(const cio_http_req *req, const char *path) {
  return json_string_value(at_path(req, path));
}

size_t cio_http_field_len(const cio_http_req *req, const char *path) {
  return json_array_size(at_path(req, path));
}

bool cio_http_field_null(const cio_http_req *req, const char *path) {
  const json_t *v = at_path(req, path);
  return !v || json_is_null(v);
}

int cio_http_answer_body(cio_http_req *req, cio_http_res *res, int status) {
  if (!req || !res || !req->body_value) return -EINVAL;
  struct cio__jtext j = cio__jt_new(256);
  cio__json_dump(&j, req->body_value);
  if (!j.p) return -ENOMEM;
  return cio__http_jt_answer(res, status, &j, "{}");
}

#else // without Jansson: no body models

int cio__http_body_read(cio_http_req *req, struct errs *e, struct body_in *in) {
  (void)req, (void)e;
  in->kind = BODY_NONE;
  in->json = NULL;
  return 0;
}
bool cio__http_validate_body(const struct vroute *vr, cio_http_req *req, struct errs *e,
                             struct body_in *in) {
  (void)vr, (void)req, (void)e, (void)in;
  return false;
}
void cio__http_body_value_free(void *value) { (void)value; }
bool cio__http_have_json(void) { return false; }
int64_t cio_http_field_int(const cio_http_req *req, const char *path) {
  (void)req, (void)path;
  return 0;
}
double cio_http_field_float(const cio_http_req *req, const char *path) {
  (void)req, (void)path;
  return 0;
}
bool cio_http_field_bool(const cio_http_req *req, const char *path) {
  (void)req, (void)path;
  return false;
}
const char *cio_http_field_str(const cio_http_req *req, const char *path) {
  (void)req, (void)path;
  return NULL;
}
size_t cio_http_field_len(const cio_http_req *req, const char *path) {
  (void)req, (void)path;
  return 0;
}
bool cio_http_field_null(const cio_http_req *req, const char *path) {
  (void)req, (void)path;
  return true;
}
int cio_http_answer_body(cio_http_req *req, cio_http_res *res, int status) {
  (void)req, (void)res, (void)status;
  return -EINVAL;
}

#endif
