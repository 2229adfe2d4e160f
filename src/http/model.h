// SPDX-License-Identifier: MIT
//
// What the declaration files share (<cio/http_model.h>):
//   model.c       declarations compiled per route, parameters validated, the
//                 422 list, the parameter readers
//   model_body.c  the JSON body validated into a new value (Jansson), the
//                 field readers, the echo
//   json_check.c  where and why a JSON text does not parse, in Python's words
//   openapi.c     the OpenAPI document, the Swagger UI and ReDoc pages
#ifndef CIO_HTTP_MODEL_INTERNAL_H
#define CIO_HTTP_MODEL_INTERNAL_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../include/cio/http_model.h"
#include "json_check.h"
#include "json_text.h"

#define MAX_DEPTH 32 // nesting of models and lists in a declaration and in a location

// A bound, parsed from its text.
struct bound {
  const char *text; // as declared (NULL: none)
  double value;     //   its value
};

// A field compiled: its declaration, its bounds parsed, its pattern
// compiled, its model's or items' fields compiled in turn.
struct vfield {
  const cio_http_field *f; // the declaration
  struct bound gt, ge, lt, le;
  regex_t *re;           // the pattern, or NULL
  bool nullable;         // default "null": null is a value
  char *def_str;         // str and enum: the default without its quotes, or NULL
  struct vfield *fields; // object: the model's fields
  size_t nfields;        //   how many
  struct vfield *items;  // array: what each item is
};

// A route's declaration compiled (owned by its route).
struct vroute {
  const cio_http_decl *decl; // the declaration
  struct vfield *params;     // its parameters, in declared order
  size_t nparams;            //   how many
  struct vfield *body;       // the body model as an object field, or NULL
  cio_http_field body_field; //   the field it compiles (named "body")
};

// A parameter's value once validated (in the request).
struct argval {
  const char *name; // the declared name
  bool null;        // null: absent with default "null"
  int64_t i;        // CIO_HTTP_INT (and BOOL as 0/1)
  double d;         // CIO_HTTP_FLOAT
  const char *s;    // CIO_HTTP_STR and ENUM (the request's, or the declaration's default)
  size_t n;         //   its length (a query value may hold a NUL)
};

// Where a value is, for an error's "loc": strings and indexes.
struct loc {
  const char *key[MAX_DEPTH]; // a name, or NULL for an index
  size_t index[MAX_DEPTH];    //   the index
  int n;                      // how deep
};

// The 422 list being built: "{"detail":[" then one item per error.
// A 422's errors: at most CIO__HTTP_MAX_ERRORS are listed (pydantic lists
// them all: a 1 MiB body of bad list items answered about 50 MiB).
#define CIO__HTTP_MAX_ERRORS 100
struct errs {
  struct cio__jtext j; // the text
  int n;               // errors so far (listed or not)
};

// Compiles decl into *out (fields checked as cio_http_route_decl says).
// Returns 0, -EINVAL or -ENOMEM (nothing is then left allocated).
int cio__http_vroute_new(const cio_http_decl *decl, struct vroute **out);
void cio__http_vroute_free(struct vroute *vr);

// Validates the request against vr: parameters, then the body.  Returns 0
// with the values stored in req, or -EINVAL after answering 422.
int cio__http_validate(const struct vroute *vr, cio_http_req *req, cio_http_res *res);

// Adds one error: type, loc, msg, input (JSON text, NULL: null), ctx (a
// JSON object's text, or NULL: none).
void cio__http_err_add(struct errs *e, const char *type, const struct loc *at, const char *msg,
                       const char *input, size_t input_len, const char *ctx);

// The enum message's list: 'a', 'b' or 'c'.
void cio__http_enum_expected(struct cio__jtext *j, const char *const *values);

// True if the string s[0..n) satisfies f's lengths and pattern; otherwise
// adds the error and returns false.  `input` is the JSON text to echo.
bool cio__http_check_str(struct errs *e, const struct vfield *vf, const struct loc *at,
                         const char *s, size_t n, const char *input, size_t input_len);

// The same for a number's bounds.
bool cio__http_check_num(struct errs *e, const struct vfield *vf, const struct loc *at, double v,
                         const char *input, size_t input_len);

// A request body as FastAPI reads it, before validation.
enum { BODY_NONE, BODY_BYTES, BODY_JSON };
struct body_in {
  int kind;   // none (no body, or JSON null), bytes (not a JSON content type), JSON
  void *json; //   the parsed value (a json_t), for BODY_JSON
};

// model_body.c (with Jansson; without it, the stubs there refuse): reads
// the body as FastAPI does, before the parameters are validated.  Returns
// 0 with *in; -EINVAL after adding json_invalid (answered alone, at once,
// as FastAPI does); -EBADMSG for a body that is not UTF-8 (FastAPI's 400).
int cio__http_body_read(cio_http_req *req, struct errs *e, struct body_in *in);

// Validates the body read against vr->body, adding errors; on success
// stores the new value in req.  Takes in->json.  Returns true if it added
// no error.
bool cio__http_validate_body(const struct vroute *vr, cio_http_req *req, struct errs *e,
                             struct body_in *in);
void cio__http_body_value_free(void *value);
bool cio__http_have_json(void);

#ifdef CIO_HAVE_JANSSON
#include <jansson.h>
// Appends v as Python's json.dumps writes it for FastAPI (compact, floats
// as repr, objects in their order).
void cio__json_dump(struct cio__jtext *j, const json_t *v);

// Parses a request body's JSON text as Python's json.loads takes it: a
// UTF-8 BOM skipped, any value at the top, \u0000 in strings, the last of
// duplicate keys; with `big_as_real`, a text with an integer beyond 64
// bits is read again with every number a real (else that integer stops
// it: a reader of json_integer_value() would get 0 for the others).
// Returns 0
// and *out (owned; JSON null too); -EBADMSG for text that is not UTF-8 or
// nests deeper than CIO__JSON_MAX_DEPTH (FastAPI's 400); -EINVAL with
// *pos (characters) and *why where it stops parsing, in Python's words
// when Python fails there too, else in Jansson's (1e400, a lone
// surrogate: Python takes them, cio cannot hold them).
int cio__http_json_parse(const char *body, size_t len, bool big_as_real, json_t **out, size_t *pos,
                         const char **why);
#endif

// json_check.h: cio__json_depth_ok, cio__json_check.

#endif
