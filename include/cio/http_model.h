// SPDX-License-Identifier: MIT
/// \file
///
/// FastAPI's declarations for <cio/http.h>: what a route takes (path, query,
/// header and cookie parameters, a JSON body model) declared once as plain C
/// data, validated before the handler runs into FastAPI's 422 answers
/// (pydantic v2's error types, messages, `loc`, `input` and `ctx`, every
/// error collected), read by the handler as typed values, and described in
/// an OpenAPI 3.1 document served with Swagger UI and ReDoc pages.
///
///   static const cio_http_field image_fields[] = {
///       {.name = "url", .type = CIO_HTTP_STR, .pattern = "^https?://"},
///       {.name = "name", .type = CIO_HTTP_STR},
///       {0}};
///   static const cio_http_model image = {.name = "Image", .fields = image_fields};
///   static const cio_http_field item_fields[] = {
///       {.name = "name", .type = CIO_HTTP_STR, .min_length = 1, .max_length = 50},
///       {.name = "price", .type = CIO_HTTP_FLOAT, .gt = "0"},
///       {.name = "tags", .type = CIO_HTTP_ARRAY, .items = &(const cio_http_field){
///            .type = CIO_HTTP_STR}, .def = "[]"},
///       {.name = "image", .type = CIO_HTTP_OBJECT, .model = &image, .def = "null"},
///       {0}};
///   static const cio_http_model item = {.name = "Item", .fields = item_fields};
///   static const cio_http_decl create_item_decl = {.name = "create_item", .body = &item};
///   cio_http_route_decl(app, "POST", "/items", create_item, NULL, &create_item_decl);
///
/// and in the handler: cio_http_field_float(req, "price"),
/// cio_http_field_str(req, "image.url"), cio_http_field_len(req, "tags"),
/// cio_http_field_str(req, "tags.0").
///
/// Declarations are read, never copied: they and everything they point to
/// must stay valid while the app lives (static data, as above).  Body models
/// need Jansson (CIO_HAVE_JANSSON); parameters do not.
#ifndef CIO_HTTP_MODEL_H
#define CIO_HTTP_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"

#ifdef __cplusplus
extern "C" {
#endif

/// A value's type, as pydantic validates it.  Query, header, cookie and
/// path values are text converted as FastAPI converts them; body values are
/// JSON in pydantic's lax mode (a JSON string "3.5" is a valid float, 2.0 a
/// valid int, 2.5 is not).
typedef enum cio_http_type {
  CIO_HTTP_STR = 1, ///< a string (lengths count characters, not bytes)
  CIO_HTTP_INT,     ///< an integer (int64_t)
  CIO_HTTP_FLOAT,   ///< a number (double)
  CIO_HTTP_BOOL,    ///< true/false (also 1/0, "yes"/"no", "on"/"off", "t"/"f", "y"/"n")
  CIO_HTTP_ENUM,    ///< one of `values` (a Python str Enum)
  CIO_HTTP_OBJECT,  ///< body only: an object of `model`
  CIO_HTTP_ARRAY,   ///< body only: a list of `items`
} cio_http_type;

/// Where a parameter comes from.
typedef enum cio_http_where {
  CIO_HTTP_QUERY = 0, ///< the query string (the default)
  CIO_HTTP_PATH,      ///< a {name} of the route's pattern
  CIO_HTTP_HEADER,    ///< a header: the name with '_' as '-', any case (x_token: X-Token)
  CIO_HTTP_COOKIE,    ///< a cookie of the Cookie header
} cio_http_where;

typedef struct cio_http_model cio_http_model;

/// A parameter, or a field of a body model.  A list of them ends with a
/// field whose name is NULL ({0}).  Bounds are JSON numbers as text ("0",
/// "0.5"), written into messages and the document as given: NULL, none.
typedef struct cio_http_field {
  const char *name;                   ///< the parameter's or the field's name
  cio_http_type type;                 ///< its type
  cio_http_where in;                  ///< parameters only: where it comes from
  const char *def;                    ///< its default as JSON text ("10", "null", "[]"); NULL:
                                      ///< required.  "null" also lets a body field be null
  const char *gt, *ge, *lt, *le;      ///< int and float: bounds (> >= < <=)
  size_t min_length, max_length;      ///< str: characters; array: items (0: no bound)
  const char *pattern;                ///< str: a POSIX extended regex it must contain a match of
  const char *const *values;          ///< enum: the values allowed, NULL-terminated
  const char *enum_name;              ///< enum: its schema's name ("ModelName"), or NULL
  const cio_http_model *model;        ///< object: its model
  const struct cio_http_field *items; ///< array: what each item is (its name unused)
  const char *description;            ///< for the document, or NULL
} cio_http_field;

/// A JSON object's declaration (pydantic's BaseModel).
struct cio_http_model {
  const char *name;             ///< its schema's name in the document ("Item")
  const cio_http_field *fields; ///< its fields, {0}-terminated, in the order they are echoed
  const char *description;      ///< for the document, or NULL
};

/// What a route declares: FastAPI's decorator and function signature.
typedef struct cio_http_decl {
  const char *name;               ///< the handler's name ("read_item"): operationId and the
                                  ///< default summary ("Read Item"), as FastAPI makes them
  const cio_http_field *params;   ///< path, query, header and cookie parameters, or NULL
  const cio_http_model *body;     ///< the JSON body, or NULL (a body is then not read)
  const cio_http_model *response; ///< the success answer's model (the document only), or NULL
  int status;                     ///< the success status in the document (0: 200)
  const char *summary;            ///< NULL: made from name
  const char *description;        ///< or NULL
  const char *const *tags;        ///< NULL-terminated, or NULL
  bool deprecated;                ///< marked so in the document
  bool hidden;                    ///< left out of the document (include_in_schema=False)
} cio_http_decl;

/// Adds a declared route: before `fn` runs, every parameter and the body
/// are validated; if anything fails, the request is answered 422
/// {"detail":[...]} with every error, in FastAPI's order (path, query,
/// header, cookie, then the body) and `fn` does not run.  A path parameter
/// declared here is matched as a plain segment and converted by its
/// declaration ({item_id} in the pattern).  Does not await.  Returns 0,
/// -ENOMEM, -ENOTSUP (a body model in a cio built without Jansson), or
/// -EINVAL for what cio_http_route refuses, a NULL decl, a parameter of
/// type object or array, a path parameter not in the pattern, a bound that
/// is not a number, a pattern that does not compile, an enum without
/// values, an object without a model or an array without items.
int cio_http_route_decl(cio_http_app *app, const char *method, const char *pattern,
                        cio_http_handler fn, void *arg, const cio_http_decl *decl);

// ---------------------------------------------------------------- reading values

/// A declared parameter's value, validated and converted (its default when
/// absent).  None awaits.  For a name not declared, or whose value is null
/// (absent with default "null"), the int and float readers return 0, the
/// bool reader false, the str reader NULL.  Strings (enum values too) are
/// owned by the request.
int64_t cio_http_arg_int(const cio_http_req *req, const char *name);
double cio_http_arg_float(const cio_http_req *req, const char *name);
bool cio_http_arg_bool(const cio_http_req *req, const char *name);
const char *cio_http_arg_str(const cio_http_req *req, const char *name);
/// The same, NUL bytes included (a query value sent with %00): *len (may
/// be NULL) receives the length.
const char *cio_http_arg_str_n(const cio_http_req *req, const char *name, size_t *len);
/// True if the parameter is null (absent with default "null") or not declared.
bool cio_http_arg_null(const cio_http_req *req, const char *name);

/// A field of the validated body, by path: field names and list indexes
/// joined by '.' ("price", "image.url", "tags.2").  Absent fields hold
/// their defaults.  None awaits.  A path that leads nowhere, or to null,
/// reads as 0, false or NULL; cio_http_field_null tells.  Strings are owned
/// by the request.
int64_t cio_http_field_int(const cio_http_req *req, const char *path);
double cio_http_field_float(const cio_http_req *req, const char *path);
bool cio_http_field_bool(const cio_http_req *req, const char *path);
const char *cio_http_field_str(const cio_http_req *req, const char *path);
/// A list's length (0 for anything else).
size_t cio_http_field_len(const cio_http_req *req, const char *path);
/// True if the path leads to null or nowhere.
bool cio_http_field_null(const cio_http_req *req, const char *path);

/// Answers `status` with the validated body as JSON, every field of the
/// model in declared order (defaults filled in, floats as Python writes
/// them: 10 is 10.0), as FastAPI echoes a model.  Does not await.  Returns
/// 0, -ENOMEM, or -EINVAL when the route declares no body.
int cio_http_answer_body(cio_http_req *req, cio_http_res *res, int status);

// ---------------------------------------------------------------- the document and its pages

/// What cio_http_openapi serves.  NULL or 0 members take the defaults.
typedef struct cio_http_openapi_opts {
  const char *title;           ///< info.title (default "cio")
  const char *version;         ///< info.version (default "0.1.0")
  const char *description;     ///< info.description, or NULL
  const char *openapi_url;     ///< the document (default "/openapi.json")
  const char *docs_url;        ///< Swagger UI (default "/docs"; "" for none)
  const char *redoc_url;       ///< ReDoc (default "/redoc"; "" for none)
  const char *swagger_js_url;  ///< default: swagger-ui-dist@5's bundle on jsDelivr, as FastAPI's
  const char *swagger_css_url; ///< default: its CSS, the same way
  const char *redoc_js_url;    ///< default: redoc@2's standalone bundle on jsDelivr
  /// Offline: a directory holding swagger-ui-bundle.js, swagger-ui.css and
  /// redoc.standalone.js, served at assets_url (default "/docs-assets")
  /// with cio_http_static; the pages then load them from there.  NULL: none.
  const char *assets_dir;
  const char *assets_url; ///< where assets_dir is served
} cio_http_openapi_opts;

/// Serves the OpenAPI 3.1 document of the app's declared routes at
/// openapi_url (made afresh on each request, so routes added later are in
/// it), and the Swagger UI and ReDoc pages that show it.  Routes added with
/// cio_http_route appear with their path parameters only.  Does not await;
/// opts (may be NULL) is copied, its strings are not (keep them alive).
/// Returns 0, -ENOMEM, -EINVAL (NULL app), or what cio_http_static returns
/// for assets_dir.
int cio_http_openapi(cio_http_app *app, const cio_http_openapi_opts *opts);

#ifdef __cplusplus
}
#endif
#endif
