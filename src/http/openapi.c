// SPDX-License-Identifier: MIT
//
// The OpenAPI 3.1 document of an app (cio_http_openapi), made from its
// routes' declarations as FastAPI makes it from its endpoints: one path
// item per path, an operation per method (tags, summary from the handler's
// name, operationId as FastAPI forms it, parameters with their schemas,
// the JSON request body, the success answer and the 422 FastAPI adds),
// and components/schemas for every model and named enum reached, plus
// ValidationError and HTTPValidationError.  Schemas are pydantic v2's:
// optional fields are anyOf [T, null], bounds are JSON Schema 2020-12's
// (exclusiveMinimum as a number).  Then the two pages that show it,
// Swagger UI and ReDoc, written here, loading their scripts from a CDN or
// from a directory cio serves.
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../alloc.h"
#include "http.h"
#include "model.h"

// What cio_http_openapi keeps (owned by the app).
struct openapi {
  cio_http_app *app;          // whose routes
  cio_http_openapi_opts opts; // defaults filled in
  char assets[3][256];        // the pages' script and style URLs under assets_url
};

// ---------------------------------------------------------------- names

// FastAPI's title for a name: words split at '_', each capitalised.
static void title_of(struct cio__jtext *j, const char *name) {
  char t[128];
  size_t n = 0;
  bool start = true;
  for (const char *p = name; *p && n + 1 < sizeof t; p++) {
    char c = *p;
    if (c == '_' || c == '-') c = ' ';
    int up = start && isalpha((unsigned char)c)    ? toupper((unsigned char)c)
             : !start && isalpha((unsigned char)c) ? tolower((unsigned char)c)
                                                   : (unsigned char)c;
    t[n++] = (char)up;
    start = !isalnum((unsigned char)c);
  }
  cio__jt_str(j, t, n);
}

// The route's path in the document: "{name}" for each parameter.
static void path_of(const struct route *r, char *out, size_t cap) {
  size_t n = 0;
  if (r->nsegs == 0) n += (size_t)snprintf(out, cap, "/");
  for (int i = 0; i < r->nsegs && n < cap; i++) {
    const struct seg *s = &r->segs[i];
    n += (size_t)snprintf(out + n, cap - n, s->param ? "/{%s}" : "/%s",
                          s->param ? s->param : s->literal);
  }
}

// FastAPI's operationId: name + path with every non-word character as
// '_', then '_' and the method in lower case.
static void operation_id(struct cio__jtext *j, const char *name, const char *path,
                         const char *method) {
  char id[512];
  size_t n = (size_t)snprintf(id, sizeof id, "%s%s_", name, path);
  if (n >= sizeof id) n = sizeof id - 1;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)id[i]) && id[i] != '_') id[i] = '_';
  for (const char *m = method; *m && n + 1 < sizeof id; m++)
    id[n++] = (char)tolower((unsigned char)*m);
  cio__jt_str(j, id, n);
}

// ---------------------------------------------------------------- schemas

// A list of the models and enums the document names, to write once each.
struct named {
  const void *decl[256]; // a cio_http_model or an enum's field
  bool is_enum[256];     //   which
  size_t n;              //   how many
};

static void remember(struct named *nm, const void *decl, bool is_enum) {
  for (size_t i = 0; i < nm->n; i++)
    if (nm->decl[i] == decl) return;
  if (is_enum) // one enum name, one schema, however many fields use it
    for (size_t i = 0; i < nm->n; i++)
      if (nm->is_enum[i] && strcmp(((const cio_http_field *)nm->decl[i])->enum_name,
                                   ((const cio_http_field *)decl)->enum_name) == 0)
        return;
  if (nm->n < 256) {
    nm->decl[nm->n] = decl;
    nm->is_enum[nm->n++] = is_enum;
  }
}

static void ref(struct cio__jtext *j, const char *name) {
  cio__jt_lit(j, "{\"$ref\":\"#/components/schemas/");
  cio__jt_lit(j, name);
  cio__jt_lit(j, "\"}");
}

static void field_schema(struct cio__jtext *j, const cio_http_field *f, struct named *nm,
                         bool with_title, bool with_description);

// The schema of f's type and constraints (no title, default, nullability).
// NOLINTNEXTLINE(misc-no-recursion): a list's items, as deep as the declaration (MAX_DEPTH)
static void type_schema(struct cio__jtext *j, const cio_http_field *f, struct named *nm) {
  static const char *const json_type[] = {
      [CIO_HTTP_STR] = "string",   [CIO_HTTP_INT] = "integer", [CIO_HTTP_FLOAT] = "number",
      [CIO_HTTP_BOOL] = "boolean", [CIO_HTTP_ENUM] = "string", [CIO_HTTP_ARRAY] = "array",
  };
  if (f->type == CIO_HTTP_OBJECT) {
    remember(nm, f->model, false);
    ref(j, f->model->name);
    return;
  }
  if (f->type == CIO_HTTP_ENUM && f->enum_name) {
    remember(nm, f, true);
    ref(j, f->enum_name);
    return;
  }
  cio__jt_lit(j, "{\"type\":\"");
  cio__jt_lit(j, json_type[f->type]);
  cio__jt_lit(j, "\"");
  if (f->type == CIO_HTTP_ENUM) {
    cio__jt_lit(j, ",\"enum\":[");
    for (const char *const *v = f->values; *v; v++) {
      if (v != f->values) cio__jt_lit(j, ",");
      cio__jt_str(j, *v, strlen(*v));
    }
    cio__jt_lit(j, "]");
  }
  const struct {
    const char *text, *key;
  } bounds[] = {{f->gt, "exclusiveMinimum"},
                {f->ge, "minimum"},
                {f->lt, "exclusiveMaximum"},
                {f->le, "maximum"}};
  for (size_t i = 0; i < 4; i++)
    if (bounds[i].text) {
      cio__jt_lit(j, ",\"");
      cio__jt_lit(j, bounds[i].key);
      cio__jt_lit(j, "\":");
      cio__jt_lit(j, bounds[i].text);
    }
  char num[64];
  bool array = f->type == CIO_HTTP_ARRAY;
  if (f->min_length) {
    snprintf(num, sizeof num, ",\"%s\":%zu", array ? "minItems" : "minLength", f->min_length);
    cio__jt_lit(j, num);
  }
  if (f->max_length) {
    snprintf(num, sizeof num, ",\"%s\":%zu", array ? "maxItems" : "maxLength", f->max_length);
    cio__jt_lit(j, num);
  }
  if (f->pattern) {
    cio__jt_lit(j, ",\"pattern\":");
    cio__jt_str(j, f->pattern, strlen(f->pattern));
  }
  if (array) {
    cio__jt_lit(j, ",\"items\":");
    field_schema(j, f->items, nm, false, true);
  }
  cio__jt_lit(j, "}");
}

// A field's whole schema: its type (anyOf with null when it may be null),
// title, default, description.
// NOLINTNEXTLINE(misc-no-recursion): as type_schema
static void field_schema(struct cio__jtext *j, const cio_http_field *f, struct named *nm,
                         bool with_title, bool with_description) {
  bool nullable = f->def && strcmp(f->def, "null") == 0;
  bool described = with_description && f->description;
  bool extra = with_title || f->def || described;
  if (!extra && !nullable) {
    type_schema(j, f, nm);
    return;
  }
  cio__jt_lit(j, "{");
  if (nullable) {
    cio__jt_lit(j, "\"anyOf\":[");
    type_schema(j, f, nm);
    cio__jt_lit(j, ",{\"type\":\"null\"}]");
  } else {
    // The type's members, inlined beside the title and default (a $ref
    // may have siblings in JSON Schema 2020-12).
    struct cio__jtext t = cio__jt_new(128);
    type_schema(&t, f, nm);
    if (t.p)
      cio__jt_raw(j, t.p + 1, t.n - 2); // without its braces
    else
      j->p = (free(j->p), NULL);
    free(t.p);
  }
  if (with_title) {
    cio__jt_lit(j, ",\"title\":");
    title_of(j, f->name);
  }
  if (f->def) {
    cio__jt_lit(j, ",\"default\":");
    cio__jt_lit(j, f->def);
  }
  if (described) {
    cio__jt_lit(j, ",\"description\":");
    cio__jt_str(j, f->description, strlen(f->description));
  }
  cio__jt_lit(j, "}");
}

static void model_schema(struct cio__jtext *j, const cio_http_model *m, struct named *nm) {
  cio__jt_lit(j, "{\"properties\":{");
  for (const cio_http_field *f = m->fields; f->name; f++) {
    if (f != m->fields) cio__jt_lit(j, ",");
    cio__jt_str(j, f->name, strlen(f->name));
    cio__jt_lit(j, ":");
    field_schema(j, f, nm, true, true);
  }
  cio__jt_lit(j, "},\"type\":\"object\"");
  bool any = false;
  for (const cio_http_field *f = m->fields; f->name; f++)
    if (!f->def) {
      cio__jt_lit(j, any ? "," : ",\"required\":[");
      cio__jt_str(j, f->name, strlen(f->name));
      any = true;
    }
  if (any) cio__jt_lit(j, "]");
  cio__jt_lit(j, ",\"title\":");
  cio__jt_str(j, m->name, strlen(m->name));
  if (m->description) {
    cio__jt_lit(j, ",\"description\":");
    cio__jt_str(j, m->description, strlen(m->description));
  }
  cio__jt_lit(j, "}");
}

// ---------------------------------------------------------------- operations

static const char *const where_name[] = {
    [CIO_HTTP_QUERY] = "query",
    [CIO_HTTP_PATH] = "path",
    [CIO_HTTP_HEADER] = "header",
    [CIO_HTTP_COOKIE] = "cookie",
};

static void parameter(struct cio__jtext *j, const cio_http_field *f, struct named *nm) {
  char name[128];
  size_t n = 0;
  for (; f->name[n] && n + 1 < sizeof name; n++)
    name[n] = (char)(f->in == CIO_HTTP_HEADER && f->name[n] == '_' ? '-' : f->name[n]);
  name[n] = '\0';
  cio__jt_lit(j, "{\"name\":");
  cio__jt_str(j, name, n);
  cio__jt_lit(j, ",\"in\":\"");
  cio__jt_lit(j, where_name[f->in]);
  cio__jt_lit(j, f->def ? "\",\"required\":false" : "\",\"required\":true");
  cio__jt_lit(j, ",\"schema\":");
  field_schema(j, f, nm, true, false); // its description goes beside the schema
  if (f->description) {
    cio__jt_lit(j, ",\"description\":");
    cio__jt_str(j, f->description, strlen(f->description));
  }
  cio__jt_lit(j, "}");
}

// An undeclared route's path parameters, from its pattern's converters.
static void pattern_parameters(struct cio__jtext *j, const struct route *r) {
  bool first = true;
  for (int i = 0; i < r->nsegs; i++) {
    const struct seg *s = &r->segs[i];
    if (!s->param) continue;
    cio__jt_lit(j, first ? ",\"parameters\":[" : ",");
    first = false;
    cio__jt_lit(j, "{\"name\":");
    cio__jt_str(j, s->param, strlen(s->param));
    cio__jt_lit(j, ",\"in\":\"path\",\"required\":true,\"schema\":{\"type\":\"");
    cio__jt_lit(j, s->type == P_INT ? "integer" : s->type == P_FLOAT ? "number" : "string");
    cio__jt_lit(j, "\",\"title\":");
    title_of(j, s->param);
    cio__jt_lit(j, "}}");
  }
  if (!first) cio__jt_lit(j, "]");
}

static void operation(struct cio__jtext *j, const struct route *r, const char *path,
                      struct named *nm) {
  const cio_http_decl *d = r->vr ? r->vr->decl : NULL;
  char method[16];
  size_t ml = strlen(r->method);
  for (size_t i = 0; i <= ml; i++) method[i] = (char)tolower((unsigned char)r->method[i]);
  cio__jt_lit(j, "\"");
  cio__jt_lit(j, method);
  cio__jt_lit(j, "\":{");
  bool any = false;
  if (d && d->tags && d->tags[0]) {
    cio__jt_lit(j, "\"tags\":[");
    for (const char *const *t = d->tags; *t; t++) {
      if (t != d->tags) cio__jt_lit(j, ",");
      cio__jt_str(j, *t, strlen(*t));
    }
    cio__jt_lit(j, "],");
  }
  if (d && (d->summary || d->name)) {
    cio__jt_lit(j, "\"summary\":");
    if (d->summary)
      cio__jt_str(j, d->summary, strlen(d->summary));
    else
      title_of(j, d->name);
    cio__jt_lit(j, ",");
  }
  if (d && d->description) {
    cio__jt_lit(j, "\"description\":");
    cio__jt_str(j, d->description, strlen(d->description));
    cio__jt_lit(j, ",");
  }
  cio__jt_lit(j, "\"operationId\":");
  operation_id(j, d && d->name ? d->name : "", path, r->method);
  if (d && d->deprecated) cio__jt_lit(j, ",\"deprecated\":true");
  if (d && d->params && d->params[0].name) {
    cio__jt_lit(j, ",\"parameters\":[");
    for (const cio_http_field *f = d->params; f->name; f++) {
      if (f != d->params) cio__jt_lit(j, ",");
      parameter(j, f, nm);
    }
    cio__jt_lit(j, "]");
    any = true;
  } else if (!d) {
    pattern_parameters(j, r);
  }
  if (d && d->body) {
    remember(nm, d->body, false);
    cio__jt_lit(j, ",\"requestBody\":{\"content\":{\"application/json\":{\"schema\":");
    ref(j, d->body->name);
    cio__jt_lit(j, "}},\"required\":true}");
    any = true;
  }
  char status[16];
  snprintf(status, sizeof status, "%d", d && d->status ? d->status : 200);
  cio__jt_lit(j, ",\"responses\":{\"");
  cio__jt_lit(j, status);
  cio__jt_lit(j, "\":{\"description\":\"Successful Response\",\"content\":{\"application/json\":"
                 "{\"schema\":");
  if (d && d->response) {
    remember(nm, d->response, false);
    ref(j, d->response->name);
  } else {
    cio__jt_lit(j, "{}");
  }
  cio__jt_lit(j, "}}}");
  if (any || (!d && r->nsegs && strchr(path, '{')))
    cio__jt_lit(j, ",\"422\":{\"description\":\"Validation Error\",\"content\":"
                   "{\"application/json\":{\"schema\":"
                   "{\"$ref\":\"#/components/schemas/HTTPValidationError\"}}}}");
  cio__jt_lit(j, "}}");
}

// FastAPI's two schemas for its 422 answer.
static const char validation_schemas[] =
    "\"HTTPValidationError\":{\"properties\":{\"detail\":{\"items\":{\"$ref\":"
    "\"#/components/schemas/ValidationError\"},\"type\":\"array\",\"title\":\"Detail\"}},"
    "\"type\":\"object\",\"title\":\"HTTPValidationError\"},"
    "\"ValidationError\":{\"properties\":{\"loc\":{\"items\":{\"anyOf\":[{\"type\":\"string\"},"
    "{\"type\":\"integer\"}]},\"type\":\"array\",\"title\":\"Location\"},\"msg\":{\"type\":"
    "\"string\",\"title\":\"Message\"},\"type\":{\"type\":\"string\",\"title\":\"Error Type\"},"
    "\"input\":{\"title\":\"Input\"},\"ctx\":{\"type\":\"object\",\"title\":\"Context\"}},"
    "\"type\":\"object\",\"required\":[\"loc\",\"msg\",\"type\"],\"title\":\"ValidationError\"}";

// The whole document.
static void document(struct cio__jtext *j, const struct openapi *o) {
  struct named *nm = cio__calloc(1, sizeof *nm);
  if (!nm) {
    j->p = (free(j->p), NULL);
    return;
  }
  cio__jt_lit(j, "{\"openapi\":\"3.1.0\",\"info\":{\"title\":");
  cio__jt_str(j, o->opts.title, strlen(o->opts.title));
  if (o->opts.description) {
    cio__jt_lit(j, ",\"description\":");
    cio__jt_str(j, o->opts.description, strlen(o->opts.description));
  }
  cio__jt_lit(j, ",\"version\":");
  cio__jt_str(j, o->opts.version, strlen(o->opts.version));
  cio__jt_lit(j, "},\"paths\":{");
  // One path item per path, its operations in the order routes were added.
  bool first_path = true;
  for (const struct route *r = o->app->routes; r; r = r->next) {
    if (r->undocumented || (r->vr && r->vr->decl->hidden)) continue;
    char path[512];
    path_of(r, path, sizeof path);
    bool seen = false; // an earlier route wrote this path's item
    for (const struct route *q = o->app->routes; q != r && !seen; q = q->next) {
      char qp[512];
      path_of(q, qp, sizeof qp);
      seen = !q->undocumented && !(q->vr && q->vr->decl->hidden) && strcmp(qp, path) == 0;
    }
    if (seen) continue;
    if (!first_path) cio__jt_lit(j, ",");
    first_path = false;
    cio__jt_str(j, path, strlen(path));
    cio__jt_lit(j, ":{");
    bool first_op = true;
    for (const struct route *q = r; q; q = q->next) {
      char qp[512];
      path_of(q, qp, sizeof qp);
      if (q->undocumented || (q->vr && q->vr->decl->hidden) || strcmp(qp, path) != 0) continue;
      if (!first_op) cio__jt_lit(j, ",");
      first_op = false;
      operation(j, q, path, nm);
    }
    cio__jt_lit(j, "}");
  }
  cio__jt_lit(j, "},\"components\":{\"schemas\":{");
  // Models reached from models are remembered as they are written: walk
  // until the list stops growing.
  for (size_t i = 0; i < nm->n; i++) {
    if (i) cio__jt_lit(j, ",");
    if (nm->is_enum[i]) {
      const cio_http_field *f = nm->decl[i];
      cio__jt_str(j, f->enum_name, strlen(f->enum_name));
      cio__jt_lit(j, ":{\"type\":\"string\",\"enum\":[");
      for (const char *const *v = f->values; *v; v++) {
        if (v != f->values) cio__jt_lit(j, ",");
        cio__jt_str(j, *v, strlen(*v));
      }
      cio__jt_lit(j, "],\"title\":");
      cio__jt_str(j, f->enum_name, strlen(f->enum_name));
      cio__jt_lit(j, "}");
    } else {
      const cio_http_model *m = nm->decl[i];
      cio__jt_str(j, m->name, strlen(m->name));
      cio__jt_lit(j, ":");
      model_schema(j, m, nm);
    }
  }
  cio__jt_lit(j, nm->n ? "," : "");
  cio__jt_lit(j, validation_schemas);
  cio__jt_lit(j, "}}}");
  free(nm);
}

static int serve_document(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)req;
  struct cio__jtext j = cio__jt_new(4096);
  document(&j, arg);
  if (!j.p) return -ENOMEM;
  return cio__http_jt_answer(res, 200, &j, "{}");
}

// ---------------------------------------------------------------- the pages

// Appends s for an HTML attribute or text: & < > " ' as references.
static void html(struct cio__jtext *j, const char *s) {
  for (; *s; s++) {
    const char *ref = *s == '&'    ? "&amp;"
                      : *s == '<'  ? "&lt;"
                      : *s == '>'  ? "&gt;"
                      : *s == '"'  ? "&quot;"
                      : *s == '\'' ? "&#x27;"
                                   : NULL;
    if (ref)
      cio__jt_lit(j, ref);
    else
      cio__jt_raw(j, s, 1);
  }
}

// Appends s as a JavaScript string inside a <script>: a JSON string with
// '<' escaped, so no "</script>" can end the element.
static void js_string(struct cio__jtext *j, const char *s) {
  struct cio__jtext t = cio__jt_new(64);
  cio__jt_str(&t, s, strlen(s));
  if (!t.p) {
    j->p = (free(j->p), NULL);
    return;
  }
  for (size_t i = 0; i < t.n; i++) {
    if (t.p[i] == '<')
      cio__jt_lit(j, "\\u003c");
    else
      cio__jt_raw(j, t.p + i, 1);
  }
  free(t.p);
}

static int serve_swagger(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)req;
  const struct openapi *o = arg;
  struct cio__jtext j = cio__jt_new(1024);
  cio__jt_lit(&j,
              "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
              "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
  html(&j, o->opts.title);
  cio__jt_lit(&j, " - Swagger UI</title>\n<link rel=\"stylesheet\" href=\"");
  html(&j, o->opts.swagger_css_url);
  cio__jt_lit(&j, "\">\n</head>\n<body>\n<div id=\"swagger-ui\"></div>\n<script src=\"");
  html(&j, o->opts.swagger_js_url);
  cio__jt_lit(&j, "\"></script>\n<script>\nwindow.ui = SwaggerUIBundle({\n  url: ");
  js_string(&j, o->opts.openapi_url);
  cio__jt_lit(
      &j, ",\n  dom_id: \"#swagger-ui\",\n  deepLinking: true,\n  layout: \"BaseLayout\",\n"
          "  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset]\n"
          "});\n</script>\n</body>\n</html>\n");
  if (!j.p) return -ENOMEM;
  int rc = cio_http_send(res, 200, "text/html; charset=utf-8", j.p, j.n);
  free(j.p);
  return rc;
}

static int serve_redoc(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)req;
  const struct openapi *o = arg;
  struct cio__jtext j = cio__jt_new(1024);
  cio__jt_lit(&j,
              "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
              "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
  html(&j, o->opts.title);
  cio__jt_lit(&j, " - ReDoc</title>\n<style>body { margin: 0; padding: 0; }</style>\n</head>\n"
                  "<body>\n<redoc spec-url=\"");
  html(&j, o->opts.openapi_url);
  cio__jt_lit(&j, "\"></redoc>\n<script src=\"");
  html(&j, o->opts.redoc_js_url);
  cio__jt_lit(&j, "\"></script>\n</body>\n</html>\n");
  if (!j.p) return -ENOMEM;
  int rc = cio_http_send(res, 200, "text/html; charset=utf-8", j.p, j.n);
  free(j.p);
  return rc;
}

// ---------------------------------------------------------------- registering

static int hidden_route(cio_http_app *app, const char *url, cio_http_handler fn, void *arg) {
  if (!url || !*url) return 0;
  int rc = cio_http_route(app, "GET", url, fn, arg);
  if (rc == 0) app->last->undocumented = true;
  return rc;
}

int cio_http_openapi(cio_http_app *app, const cio_http_openapi_opts *opts) {
  if (!cio__http_app_valid(app)) return -EINVAL;
  struct openapi *o = cio__calloc(1, sizeof *o);
  if (!o) return -ENOMEM;
  o->app = app;
  if (opts) o->opts = *opts;
  cio_http_openapi_opts *p = &o->opts;
  if (!p->title) p->title = "cio";
  if (!p->version) p->version = "0.1.0";
  if (!p->openapi_url) p->openapi_url = "/openapi.json";
  if (!p->docs_url) p->docs_url = "/docs";
  if (!p->redoc_url) p->redoc_url = "/redoc";
  if (p->assets_dir) {
    if (!p->assets_url) p->assets_url = "/docs-assets";
    const char *names[3] = {"swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"};
    for (int i = 0; i < 3; i++)
      snprintf(o->assets[i], sizeof o->assets[i], "%s/%s", p->assets_url, names[i]);
    p->swagger_js_url = o->assets[0];
    p->swagger_css_url = o->assets[1];
    p->redoc_js_url = o->assets[2];
  }
  if (!p->swagger_js_url)
    p->swagger_js_url = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js";
  if (!p->swagger_css_url)
    p->swagger_css_url = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css";
  if (!p->redoc_js_url)
    p->redoc_js_url = "https://cdn.jsdelivr.net/npm/redoc@2/bundles/redoc.standalone.js";
  int rc = cio__http_app_own(app, o, free);
  if (rc < 0) {
    free(o);
    return rc;
  }
  rc = hidden_route(app, p->openapi_url, serve_document, o);
  if (rc == 0) rc = hidden_route(app, p->docs_url, serve_swagger, o);
  if (rc == 0) rc = hidden_route(app, p->redoc_url, serve_redoc, o);
  if (rc == 0 && p->assets_dir) rc = cio_http_static(app, p->assets_url, p->assets_dir, NULL);
  return rc;
}
