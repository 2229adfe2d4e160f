// SPDX-License-Identifier: MIT
//
// The http_validate benchmark's server (bench/http_validate.sh): the demo's
// POST /items twice, to price the declarations.
//
//   POST /items        the route declared with cio's body model (Item, as in
//                      examples/fastapi_demo.c): cio validates and answers
//   POST /items_plain  no declarations: the body parsed with Jansson
//                      (cio_http_body_json) and each field checked by hand,
//                      the same constraints, the item echoed in declared
//                      order (null for absent optionals, numbers as reals)
//
//   bench_validate_server [port [host]]   (port 0: any free port)
//
// Prints "serving on http://HOST:PORT" once it listens; serves until SIGINT
// or SIGTERM.
#include <cio.h>
#include <cio/http.h>
#include <cio/http_json.h>
#include <cio/http_model.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

// ---------------------------------------------------------------- plain

// Characters (code points) in UTF-8 text Jansson has checked.
static size_t utf8_chars(const char *s) {
  size_t n = 0;
  for (; *s; s++)
    if (((unsigned char)*s & 0xC0) != 0x80) n++;
  return n;
}

// One error in FastAPI's shape, appended to `errs` (loc: a "body" path).
static void add_error(json_t *errs, const char *type, const char *field, const char *sub,
                      const char *msg, json_t *input) {
  json_t *loc =
      sub ? json_pack("[s, s, s]", "body", field, sub) : json_pack("[s, s]", "body", field);
  json_array_append_new(errs, json_pack("{s:s, s:o, s:s, s:O}", "type", type, "loc", loc, "msg",
                                        msg, "input", input ? input : json_null()));
}

// A str field: NULL if absent or (when nullable) null; *bad set on an error.
static const char *check_str(json_t *errs, json_t *obj, const char *field, const char *sub,
                             size_t min, size_t max, bool required, bool nullable) {
  json_t *v = json_object_get(obj, sub ? sub : field);
  if (!v || (nullable && json_is_null(v))) {
    if (required) add_error(errs, "missing", field, sub, "Field required", obj);
    return NULL;
  }
  if (!json_is_string(v)) {
    add_error(errs, "string_type", field, sub, "Input should be a valid string", v);
    return NULL;
  }
  const char *s = json_string_value(v);
  size_t n = utf8_chars(s);
  if (n < min) add_error(errs, "string_too_short", field, sub, "String too short", v);
  if (n > max) add_error(errs, "string_too_long", field, sub, "String too long", v);
  return s;
}

// A float field (a number, or a numeric string, as pydantic's lax mode):
// 1 and *out when present, 0 when absent/null, -1 after an error.
static int check_float(json_t *errs, json_t *obj, const char *field, bool required, double *out) {
  json_t *v = json_object_get(obj, field);
  if (!v || (!required && json_is_null(v))) {
    if (required) add_error(errs, "missing", field, NULL, "Field required", obj);
    return 0;
  }
  if (json_is_number(v)) {
    *out = json_number_value(v);
    return 1;
  }
  if (json_is_string(v)) {
    char *end;
    *out = strtod(json_string_value(v), &end);
    if (end != json_string_value(v) && *end == 0) return 1;
    add_error(errs, "float_parsing", field, NULL,
              "Input should be a valid number, unable to parse string as a number", v);
    return -1;
  }
  add_error(errs, "float_type", field, NULL, "Input should be a valid number", v);
  return -1;
}

static int items_plain(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)arg;
  json_t *body;
  if (cio_http_body_json(req, res, &body) < 0) return 0; // 422 answered
  json_t *errs = json_array();
  json_t *item = NULL;
  if (!json_is_object(body)) {
    json_array_append_new(errs, json_pack("{s:s, s:[s], s:s, s:O}", "type", "model_attributes_type",
                                          "loc", "body", "msg",
                                          "Input should be a valid dictionary or object to "
                                          "extract fields from",
                                          "input", body));
    goto answer;
  }
  const char *name = check_str(errs, body, "name", NULL, 1, 50, true, false);
  const char *description = check_str(errs, body, "description", NULL, 0, 300, false, true);
  double price = 0, tax = 0;
  int has_price = check_float(errs, body, "price", true, &price);
  if (has_price > 0 && !(price > 0))
    add_error(errs, "greater_than", "price", NULL, "Input should be greater than 0",
              json_object_get(body, "price"));
  int has_tax = check_float(errs, body, "tax", false, &tax);
  if (has_tax > 0 && !(tax >= 0))
    add_error(errs, "greater_than_equal", "tax", NULL, "Input should be greater than or equal to 0",
              json_object_get(body, "tax"));
  json_t *tags = json_object_get(body, "tags");
  if (tags && !json_is_array(tags)) {
    add_error(errs, "list_type", "tags", NULL, "Input should be a valid list", tags);
    tags = NULL;
  } else if (tags) {
    if (json_array_size(tags) > 10)
      add_error(errs, "too_long", "tags", NULL, "List should have at most 10 items", tags);
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t) {
      if (!json_is_string(t)) {
        json_t *loc = json_pack("[s, s, I]", "body", "tags", (json_int_t)i);
        json_array_append_new(errs,
                              json_pack("{s:s, s:o, s:s, s:O}", "type", "string_type", "loc", loc,
                                        "msg", "Input should be a valid string", "input", t));
      }
    }
  }
  json_t *image = json_object_get(body, "image");
  const char *url = NULL, *iname = NULL;
  if (image && !json_is_null(image)) {
    if (!json_is_object(image)) {
      add_error(errs, "model_attributes_type", "image", NULL,
                "Input should be a valid dictionary or object to extract fields from", image);
      image = NULL;
    } else {
      url = check_str(errs, image, "image", "url", 0, SIZE_MAX, true, false);
      if (url && strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        add_error(errs, "string_pattern_mismatch", "image", "url",
                  "String should match pattern '^https?://'", json_object_get(image, "url"));
      iname = check_str(errs, image, "image", "name", 0, SIZE_MAX, true, false);
    }
  } else {
    image = NULL;
  }
  if (json_array_size(errs) == 0) {
    json_t *tag_list = tags ? json_deep_copy(tags) : json_array();
    json_t *img = image ? json_pack("{s:s, s:s}", "url", url, "name", iname) : json_null();
    item = json_pack("{s:s, s:o, s:f, s:o, s:o, s:o}", "name", name, "description",
                     description ? json_string(description) : json_null(), "price", price, "tax",
                     has_tax > 0 ? json_real(tax) : json_null(), "tags", tag_list, "image", img);
  }
answer:;
  int rc;
  if (item) {
    rc = cio_http_json_value(res, 200, item);
  } else {
    json_t *detail = json_pack("{s:O}", "detail", errs);
    rc = detail ? cio_http_json_value(res, 422, detail) : -ENOMEM;
    json_decref(detail);
  }
  json_decref(item);
  json_decref(errs);
  json_decref(body);
  return rc;
}

// ---------------------------------------------------------------- declared

// The Item model as examples/fastapi_demo.c declares it; cio validates the
// body before the handler runs (422 with every error otherwise), and the
// handler echoes the validated item.
static const cio_http_field image_fields[] = {
    {.name = "url", .type = CIO_HTTP_STR, .pattern = "^https?://"},
    {.name = "name", .type = CIO_HTTP_STR},
    {0},
};
static const cio_http_model image_model = {.name = "Image", .fields = image_fields};
static const cio_http_field tag = {.type = CIO_HTTP_STR};
static const cio_http_field item_fields[] = {
    {.name = "name", .type = CIO_HTTP_STR, .min_length = 1, .max_length = 50},
    {.name = "description", .type = CIO_HTTP_STR, .def = "null", .max_length = 300},
    {.name = "price", .type = CIO_HTTP_FLOAT, .gt = "0"},
    {.name = "tax", .type = CIO_HTTP_FLOAT, .def = "null", .ge = "0"},
    {.name = "tags", .type = CIO_HTTP_ARRAY, .items = &tag, .def = "[]", .max_length = 10},
    {.name = "image", .type = CIO_HTTP_OBJECT, .model = &image_model, .def = "null"},
    {0},
};
static const cio_http_model item_model = {.name = "Item", .fields = item_fields};
static const cio_http_decl create_decl = {
    .name = "create_item", .body = &item_model, .response = &item_model};

static int items_declared(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)arg;
  return cio_http_answer_body(req, res, 200);
}

// ---------------------------------------------------------------- serving

struct where {
  const char *port, *host;
};

static void started(cio_server *srv, void *arg) {
  const struct where *w = arg;
  printf("serving on http://%s:%d\n", w->host, cio_server_port(srv));
  fflush(stdout);
}

static int serve(void *arg) {
  struct where *w = arg;
  cio_http_app *app = cio_http_app_new();
  if (!app) return -ENOMEM;
  int rc = cio_http_route_decl(app, "POST", "/items", items_declared, NULL, &create_decl);
  if (rc == 0) rc = cio_http_route(app, "POST", "/items_plain", items_plain, NULL);
  if (rc < 0) {
    fprintf(stderr, "validate_server: routes: %s\n", cio_strerror(rc));
    cio_http_app_free(app);
    return rc;
  }
  cio_http_opts opts = {.on_start = started, .on_start_arg = w};
  rc = cio_http_run(app, w->host, w->port, &opts);
  if (rc < 0) fprintf(stderr, "validate_server: %s:%s: %s\n", w->host, w->port, cio_strerror(rc));
  cio_http_app_free(app);
  return rc;
}

int main(int argc, char **argv) {
  struct where w = {argc > 1 ? argv[1] : "0", argc > 2 ? argv[2] : "127.0.0.1"};
  return cio_run(serve, &w) < 0;
}
