// SPDX-License-Identifier: MIT
//
// Declared routes (<cio/http_model.h>): parameters and bodies validated
// into FastAPI's 422 answers (pydantic v2's types, messages, loc, input,
// ctx; every error, in FastAPI's order), the handler's typed readers, the
// echo, declarations refused, the OpenAPI document and its pages, and the
// pieces under them: Python's JSON error positions and float repr.  The
// comparison with FastAPI itself is tests/validate_compare.py.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cio.h"
#include "cio/http.h"
#include "cio/http_model.h"
#include "cio/net.h"
#include "helpers/test.h"
#include "http/http.h"
#include "http/json_text.h"
#include "http/model.h"

#ifdef CIO_HAVE_JANSSON
#include <jansson.h>

// ---------------------------------------------------------------- the app under test

static const char *const colours[] = {"red", "green", "blue", NULL};
static const cio_http_field point_fields[] = {
    {.name = "x", .type = CIO_HTTP_INT, .ge = "0", .lt = "100"},
    {.name = "y", .type = CIO_HTTP_INT, .def = "0"},
    {0},
};
static const cio_http_model point = {.name = "Point", .fields = point_fields};
static const cio_http_field word = {.type = CIO_HTTP_STR, .min_length = 2};
static const cio_http_field shape_fields[] = {
    {.name = "name", .type = CIO_HTTP_STR, .min_length = 1, .max_length = 5},
    {.name = "size", .type = CIO_HTTP_FLOAT, .gt = "0", .le = "10.5"},
    {.name = "filled", .type = CIO_HTTP_BOOL, .def = "false"},
    {.name = "colour", .type = CIO_HTTP_ENUM, .values = colours, .def = "\"red\""},
    {.name = "words", .type = CIO_HTTP_ARRAY, .items = &word, .def = "[]", .max_length = 3},
    {.name = "at", .type = CIO_HTTP_OBJECT, .model = &point, .def = "null"},
    {.name = "path",
     .type = CIO_HTTP_ARRAY,
     .items = &(const cio_http_field){.type = CIO_HTTP_OBJECT, .model = &point},
     .def = "[]",
     .min_length = 0},
    {.name = "note", .type = CIO_HTTP_STR, .def = "null", .pattern = "^[a-z]+$"},
    {0},
};
static const cio_http_model shape = {.name = "Shape", .fields = shape_fields};

static const cio_http_field search_params[] = {
    {.name = "id", .in = CIO_HTTP_PATH, .type = CIO_HTTP_INT, .ge = "1"},
    {.name = "q", .type = CIO_HTTP_STR, .min_length = 3},
    {.name = "limit", .type = CIO_HTTP_INT, .def = "10", .le = "50"},
    {.name = "ratio", .type = CIO_HTTP_FLOAT, .def = "0.5"},
    {.name = "exact", .type = CIO_HTTP_BOOL, .def = "false"},
    {.name = "colour", .type = CIO_HTTP_ENUM, .values = colours, .def = "\"blue\""},
    {.name = "user_agent", .in = CIO_HTTP_HEADER, .type = CIO_HTTP_STR, .def = "null"},
    {.name = "x_trace", .in = CIO_HTTP_HEADER, .type = CIO_HTTP_INT},
    {.name = "session", .in = CIO_HTTP_COOKIE, .type = CIO_HTTP_STR, .def = "null"},
    {0},
};
static const char *const tags[] = {"search", NULL};
static const cio_http_decl search_decl = {.name = "search_things",
                                          .params = search_params,
                                          .tags = tags,
                                          .description = "Looks things up."};
static const cio_http_decl shape_decl = {
    .name = "make_shape", .body = &shape, .response = &shape, .status = 201};
static const cio_http_decl secret_decl = {.name = "secret", .hidden = true};
// A named enum in the path, on the first route documented: its schema
// is written after every operation (it once pointed into a freed stack).
static const cio_http_field tone_params[] = {
    {.name = "tone",
     .in = CIO_HTTP_PATH,
     .type = CIO_HTTP_ENUM,
     .values = colours,
     .enum_name = "Tone"},
    {0},
};
static const cio_http_decl tone_decl = {.name = "tone", .params = tone_params};

// What the handlers read, for the test to look at.
static struct {
  int64_t id, limit, x_trace, at_x, path1_y;
  double ratio, size;
  bool exact, filled, at_null, note_null;
  char q[64], colour[16], ua[64], session[64], name[16], word1[16], shape_colour[16];
  size_t nwords, npath;
  int calls;
} seen;

static int search_things(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)arg;
  seen.calls++;
  seen.id = cio_http_arg_int(req, "id");
  seen.limit = cio_http_arg_int(req, "limit");
  seen.x_trace = cio_http_arg_int(req, "x_trace");
  seen.ratio = cio_http_arg_float(req, "ratio");
  seen.exact = cio_http_arg_bool(req, "exact");
  snprintf(seen.q, sizeof seen.q, "%s", cio_http_arg_str(req, "q"));
  snprintf(seen.colour, sizeof seen.colour, "%s", cio_http_arg_str(req, "colour"));
  const char *ua = cio_http_arg_str(req, "user_agent"), *s = cio_http_arg_str(req, "session");
  snprintf(seen.ua, sizeof seen.ua, "%s", ua ? ua : "(null)");
  snprintf(seen.session, sizeof seen.session, "%s", s ? s : "(null)");
  ASSERT_EQ(cio_http_arg_null(req, "user_agent"), ua == NULL);
  ASSERT(cio_http_arg_null(req, "undeclared"));
  return cio_http_json(res, 200, "{\"ok\":true}");
}

static int make_shape(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)arg;
  seen.calls++;
  snprintf(seen.name, sizeof seen.name, "%s", cio_http_field_str(req, "name"));
  snprintf(seen.shape_colour, sizeof seen.shape_colour, "%s", cio_http_field_str(req, "colour"));
  seen.size = cio_http_field_float(req, "size");
  seen.filled = cio_http_field_bool(req, "filled");
  seen.nwords = cio_http_field_len(req, "words");
  const char *w1 = cio_http_field_str(req, "words.1");
  snprintf(seen.word1, sizeof seen.word1, "%s", w1 ? w1 : "(null)");
  seen.at_null = cio_http_field_null(req, "at");
  seen.at_x = cio_http_field_int(req, "at.x");
  seen.npath = cio_http_field_len(req, "path");
  seen.path1_y = cio_http_field_int(req, "path.1.y");
  seen.note_null = cio_http_field_null(req, "note");
  ASSERT(cio_http_field_null(req, "nowhere.at.all"));
  ASSERT(cio_http_field_str(req, "size") == NULL); // a number is not a string
  return cio_http_answer_body(req, res, 201);
}

static int secret(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)req, (void)arg;
  return cio_http_json(res, 200, "{}");
}

static int plain(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)req, (void)arg;
  return cio_http_json(res, 200, "{}");
}

static char assets[64]; // a directory with the pages' scripts

static cio_http_app *new_app(void) {
  cio_http_app *app = cio_http_app_new();
  ASSERT(app);
  ASSERT_EQ(cio_http_route_decl(app, "GET", "/tones/{tone}", secret, NULL, &tone_decl), 0);
  ASSERT_EQ(cio_http_route_decl(app, "GET", "/things/{id}", search_things, NULL, &search_decl), 0);
  ASSERT_EQ(cio_http_route_decl(app, "POST", "/shapes", make_shape, NULL, &shape_decl), 0);
  ASSERT_EQ(cio_http_route_decl(app, "GET", "/secret", secret, NULL, &secret_decl), 0);
  ASSERT_EQ(cio_http_route(app, "GET", "/plain/{n:int}", plain, NULL), 0);
  snprintf(assets, sizeof assets, "/tmp/cio-model-XXXXXX");
  ASSERT(mkdtemp(assets));
  char path[128];
  snprintf(path, sizeof path, "%s/swagger-ui-bundle.js", assets);
  FILE *f = fopen(path, "w");
  ASSERT(f);
  fputs("// the bundle\n", f);
  fclose(f);
  ASSERT_EQ(cio_http_static(app, "/files", assets, NULL), 0);
  cio_http_openapi_opts o = {.title = "Test <API>", .version = "2.0", .assets_dir = assets};
  ASSERT_EQ(cio_http_openapi(app, &o), 0);
  return app;
}

static void remove_assets(void) {
  char path[128];
  snprintf(path, sizeof path, "%s/swagger-ui-bundle.js", assets);
  unlink(path);
  rmdir(assets);
}

// One request on a new connection (Connection: close): the whole answer.
static void ask(const char *port, const char *method, const char *target, const char *headers,
                const char *body, char *out, size_t cap) {
  char req[4096];
  size_t blen = body ? strlen(body) : 0;
  int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n%s", method,
                   target, headers ? headers : "");
  if (body)
    n += snprintf(req + n, sizeof req - (size_t)n, "Content-Length: %zu\r\n\r\n", blen);
  else
    n += snprintf(req + n, sizeof req - (size_t)n, "\r\n");
  ASSERT((size_t)n < sizeof req);
  cio_sock *s;
  ASSERT_EQ(cio_tcp_connect(&s, "127.0.0.1", port), 0);
  ASSERT_EQ(cio_sock_write(s, req, (size_t)n), n);
  if (blen) ASSERT_EQ(cio_sock_write(s, body, blen), (ssize_t)blen);
  size_t got = 0;
  ssize_t r;
  while ((r = cio_sock_read(s, out + got, cap - 1 - got)) > 0) got += (size_t)r;
  out[got] = '\0';
  cio_sock_close(s);
}

// The answer's status and body.
static int status_of(const char *answer) { return atoi(answer + 9); }
static const char *body_of(const char *answer) {
  const char *b = strstr(answer, "\r\n\r\n");
  return b ? b + 4 : "";
}

// ---------------------------------------------------------------- parameters

struct exchange {
  const char *method, *target, *headers, *body; // the request
  int status;                                   // the answer
  const char *want;                             //   its body, exactly
};

static const struct exchange param_cases[] = {
    {"GET", "/things/5?q=abcd", "X-Trace: 7\r\n", NULL, 200, "{\"ok\":true}"},
    // Every error, in FastAPI's order: path, query, header, cookie.
    {"GET", "/things/0?q=ab&limit=51&ratio=x&exact=perhaps&colour=pink", NULL, NULL, 422,
     "{\"detail\":["
     "{\"type\":\"greater_than_equal\",\"loc\":[\"path\",\"id\"],\"msg\":\"Input should be greater "
     "than or equal to 1\",\"input\":\"0\",\"ctx\":{\"ge\":1}},"
     "{\"type\":\"string_too_short\",\"loc\":[\"query\",\"q\"],\"msg\":\"String should have at "
     "least 3 characters\",\"input\":\"ab\",\"ctx\":{\"min_length\":3}},"
     "{\"type\":\"less_than_equal\",\"loc\":[\"query\",\"limit\"],\"msg\":\"Input should be less "
     "than or equal to 50\",\"input\":\"51\",\"ctx\":{\"le\":50}},"
     "{\"type\":\"float_parsing\",\"loc\":[\"query\",\"ratio\"],\"msg\":\"Input should be a valid "
     "number, unable to parse string as a number\",\"input\":\"x\"},"
     "{\"type\":\"bool_parsing\",\"loc\":[\"query\",\"exact\"],\"msg\":\"Input should be a valid "
     "boolean, unable to interpret input\",\"input\":\"perhaps\"},"
     "{\"type\":\"enum\",\"loc\":[\"query\",\"colour\"],\"msg\":\"Input should be 'red', 'green' "
     "or "
     "'blue'\",\"input\":\"pink\",\"ctx\":{\"expected\":\"'red', 'green' or 'blue'\"}},"
     "{\"type\":\"missing\",\"loc\":[\"header\",\"x-trace\"],\"msg\":\"Field "
     "required\",\"input\":null}]}"},
    {"GET", "/things/abc", "X-Trace: 1\r\n", NULL, 422,
     "{\"detail\":["
     "{\"type\":\"int_parsing\",\"loc\":[\"path\",\"id\"],\"msg\":\"Input should be a valid "
     "integer, unable to parse string as an integer\",\"input\":\"abc\"},"
     "{\"type\":\"missing\",\"loc\":[\"query\",\"q\"],\"msg\":\"Field "
     "required\",\"input\":null}]}"},
    // Characters, not bytes: "héé" is 3 characters (5 bytes), "é" 1.
    {"GET", "/things/1?q=h%C3%A9%C3%A9", "X-Trace: 1\r\n", NULL, 200, "{\"ok\":true}"},
    {"GET", "/things/1?q=%C3%A9%C3%A9", "X-Trace: 1\r\n", NULL, 422,
     "{\"detail\":[{\"type\":\"string_too_short\",\"loc\":[\"query\",\"q\"],\"msg\":\"String "
     "should have at least 3 characters\",\"input\":\"\xc3\xa9\xc3\xa9\",\"ctx\":{\"min_length\":"
     "3}}]}"},
    {"GET", "/things/1?q=abc", "X-Trace: many\r\n", NULL, 422,
     "{\"detail\":[{\"type\":\"int_parsing\",\"loc\":[\"header\",\"x-trace\"],\"msg\":\"Input "
     "should be a valid integer, unable to parse string as an integer\",\"input\":\"many\"}]}"},
    // Undeclared routes are not validated beyond their pattern.
    {"GET", "/plain/3?anything=goes", NULL, NULL, 200, "{}"},
};

static void params_case(const char *port) {
  static char out[16384];
  for (size_t i = 0; i < sizeof param_cases / sizeof param_cases[0]; i++) {
    const struct exchange *x = &param_cases[i];
    ask(port, x->method, x->target, x->headers, x->body, out, sizeof out);
    if (status_of(out) != x->status || strcmp(body_of(out), x->want) != 0)
      test_fail(__FILE__, __LINE__, "%s %s:\nwant %d %s\ngot  %s", x->method, x->target, x->status,
                x->want, out);
  }
  // The values the handler read: converted, defaults filled in.
  seen.calls = 0;
  ask(port, "GET", "/things/42?q=find&exact=YES&colour=green&ratio=2.25",
      "X-Trace: -3\r\nUser-Agent: tester\r\nCookie: a=1; session=\"s1\"; b=2\r\n", NULL, out,
      sizeof out);
  ASSERT_EQ(status_of(out), 200);
  ASSERT_EQ(seen.calls, 1);
  ASSERT_EQ(seen.id, 42);
  ASSERT_EQ(seen.limit, 10);
  ASSERT_EQ(seen.x_trace, -3);
  ASSERT(seen.ratio == 2.25);
  ASSERT(seen.exact);
  ASSERT(strcmp(seen.q, "find") == 0);
  ASSERT(strcmp(seen.colour, "green") == 0);
  ASSERT(strcmp(seen.ua, "tester") == 0);
  ASSERT(strcmp(seen.session, "s1") == 0);
  ask(port, "GET", "/things/1?q=abc", "X-Trace: 0\r\n", NULL, out, sizeof out);
  ASSERT_EQ(seen.calls, 2);
  ASSERT(seen.ratio == 0.5);
  ASSERT(!seen.exact);
  ASSERT(strcmp(seen.colour, "blue") == 0);
  ASSERT(strcmp(seen.ua, "(null)") == 0);
  ASSERT(strcmp(seen.session, "(null)") == 0);
  // A 422 never runs the handler.
  ask(port, "GET", "/things/0?q=abc", "X-Trace: 0\r\n", NULL, out, sizeof out);
  ASSERT_EQ(status_of(out), 422);
  ASSERT_EQ(seen.calls, 2);
}

// ---------------------------------------------------------------- bodies

static const char json_ct[] = "Content-Type: application/json\r\n";

static const struct exchange body_cases[] = {
    // Lax mode: a string number is a float, a whole float an int, 1 a bool.
    {"POST", "/shapes", json_ct,
     "{\"name\":\"sq\",\"size\":\"2.5\",\"filled\":1,\"at\":{\"x\":3.0},\"extra\":true}", 201,
     "{\"name\":\"sq\",\"size\":2.5,\"filled\":true,\"colour\":\"red\",\"words\":[],\"at\":{\"x\":"
     "3,\"y\":0},\"path\":[],\"note\":null}"},
    // A whole number in a float field is echoed as Python writes a float.
    {"POST", "/shapes", "Content-Type: application/vnd.api+json; charset=utf-8\r\n",
     "{\"name\":\"a\",\"size\":10,\"colour\":\"blue\",\"note\":\"ok\"}", 201,
     "{\"name\":\"a\",\"size\":10.0,\"filled\":false,\"colour\":\"blue\",\"words\":[],\"at\":null,"
     "\"path\":[],\"note\":\"ok\"}"},
    // Every error, with its location, nested and in lists.
    {"POST", "/shapes", json_ct,
     "{\"name\":\"\",\"size\":0,\"filled\":\"maybe\",\"colour\":3,\"words\":[\"ok\",\"x\",7],"
     "\"at\":{\"x\":100},\"path\":[{\"x\":1},{\"y\":2.5},\"p\"],\"note\":\"Nope\"}",
     422,
     "{\"detail\":["
     "{\"type\":\"string_too_short\",\"loc\":[\"body\",\"name\"],\"msg\":\"String should have at "
     "least 1 character\",\"input\":\"\",\"ctx\":{\"min_length\":1}},"
     "{\"type\":\"greater_than\",\"loc\":[\"body\",\"size\"],\"msg\":\"Input should be greater "
     "than 0\",\"input\":0,\"ctx\":{\"gt\":0.0}},"
     "{\"type\":\"bool_parsing\",\"loc\":[\"body\",\"filled\"],\"msg\":\"Input should be a valid "
     "boolean, unable to interpret input\",\"input\":\"maybe\"},"
     "{\"type\":\"enum\",\"loc\":[\"body\",\"colour\"],\"msg\":\"Input should be 'red', 'green' or "
     "'blue'\",\"input\":3,\"ctx\":{\"expected\":\"'red', 'green' or 'blue'\"}},"
     "{\"type\":\"string_too_short\",\"loc\":[\"body\",\"words\",1],\"msg\":\"String should have "
     "at least 2 characters\",\"input\":\"x\",\"ctx\":{\"min_length\":2}},"
     "{\"type\":\"string_type\",\"loc\":[\"body\",\"words\",2],\"msg\":\"Input should be a valid "
     "string\",\"input\":7},"
     "{\"type\":\"less_than\",\"loc\":[\"body\",\"at\",\"x\"],\"msg\":\"Input should be less than "
     "100\",\"input\":100,\"ctx\":{\"lt\":100}},"
     "{\"type\":\"missing\",\"loc\":[\"body\",\"path\",1,\"x\"],\"msg\":\"Field "
     "required\",\"input\":{\"y\":2.5}},"
     "{\"type\":\"int_from_float\",\"loc\":[\"body\",\"path\",1,\"y\"],\"msg\":\"Input should be a "
     "valid integer, got a number with a fractional part\",\"input\":2.5},"
     "{\"type\":\"model_attributes_type\",\"loc\":[\"body\",\"path\",2],\"msg\":\"Input should be "
     "a valid dictionary or object to extract fields from\",\"input\":\"p\"},"
     "{\"type\":\"string_pattern_mismatch\",\"loc\":[\"body\",\"note\"],\"msg\":\"String should "
     "match pattern '^[a-z]+$'\",\"input\":\"Nope\",\"ctx\":{\"pattern\":\"^[a-z]+$\"}}]}"},
    {"POST", "/shapes", json_ct, "{\"size\":1.5,\"words\":[\"aa\",\"bb\",\"cc\",\"dd\"]}", 422,
     "{\"detail\":["
     "{\"type\":\"missing\",\"loc\":[\"body\",\"name\"],\"msg\":\"Field required\",\"input\":"
     "{\"size\":1.5,\"words\":[\"aa\",\"bb\",\"cc\",\"dd\"]}},"
     "{\"type\":\"too_long\",\"loc\":[\"body\",\"words\"],\"msg\":\"List should have at most 3 "
     "items after validation, not 4\",\"input\":[\"aa\",\"bb\",\"cc\",\"dd\"],\"ctx\":{\"field_"
     "type\":\"List\",\"max_length\":3,\"actual_length\":4}}]}"},
    {"POST", "/shapes", json_ct, "{\"name\":\"abcdef\",\"size\":11,\"words\":{},\"at\":[]}", 422,
     "{\"detail\":["
     "{\"type\":\"string_too_long\",\"loc\":[\"body\",\"name\"],\"msg\":\"String should have at "
     "most 5 characters\",\"input\":\"abcdef\",\"ctx\":{\"max_length\":5}},"
     "{\"type\":\"less_than_equal\",\"loc\":[\"body\",\"size\"],\"msg\":\"Input should be less "
     "than or equal to 10.5\",\"input\":11,\"ctx\":{\"le\":10.5}},"
     "{\"type\":\"list_type\",\"loc\":[\"body\",\"words\"],\"msg\":\"Input should be a valid "
     "list\",\"input\":{}},"
     "{\"type\":\"model_attributes_type\",\"loc\":[\"body\",\"at\"],\"msg\":\"Input should be a "
     "valid dictionary or object to extract fields from\",\"input\":[]}]}"},
    {"POST", "/shapes", json_ct, "{\"name\":null,\"size\":\"big\"}", 422,
     "{\"detail\":["
     "{\"type\":\"string_type\",\"loc\":[\"body\",\"name\"],\"msg\":\"Input should be a valid "
     "string\",\"input\":null},"
     "{\"type\":\"float_parsing\",\"loc\":[\"body\",\"size\"],\"msg\":\"Input should be a valid "
     "number, unable to parse string as a number\",\"input\":\"big\"}]}"},
    // Not JSON, no body, not an object, another content type.
    {"POST", "/shapes", json_ct, "{\"name\": \"x\",}", 422,
     "{\"detail\":[{\"type\":\"json_invalid\",\"loc\":[\"body\",13],\"msg\":\"JSON decode "
     "error\",\"input\":{},\"ctx\":{\"error\":\"Expecting property name enclosed in double "
     "quotes\"}}]}"},
    {"POST", "/shapes", json_ct, NULL, 422,
     "{\"detail\":[{\"type\":\"missing\",\"loc\":[\"body\"],\"msg\":\"Field "
     "required\",\"input\":null}]}"},
    {"POST", "/shapes", json_ct, "[1,2.0,\"x\"]", 422,
     "{\"detail\":[{\"type\":\"model_attributes_type\",\"loc\":[\"body\"],\"msg\":\"Input should "
     "be a valid dictionary or object to extract fields from\",\"input\":[1,2.0,\"x\"]}]}"},
    {"POST", "/shapes", "Content-Type: text/plain\r\n", "{\"name\":\"a\",\"size\":1}", 422,
     "{\"detail\":[{\"type\":\"model_attributes_type\",\"loc\":[\"body\"],\"msg\":\"Input should "
     "be a valid dictionary or object to extract fields from\",\"input\":\"{\\\"name\\\":\\\"a\\\","
     "\\\"size\\\":1}\"}]}"},
};

// Deeply nested JSON, as an attacker sends it: parsed and echoed up to the
// depth cio takes (128), 400 beyond it, never a crash (Jansson's parser
// recurses per level; a task's stack is 64 KiB).
static void deep_json(const char *port, char *out, size_t cap) {
  static char body[300000];
  static const int depths[] = {128, 129, 1000, 100000};
  for (size_t k = 0; k < sizeof depths / sizeof depths[0]; k++) {
    int d = depths[k];
    for (int closed = 0; closed < 2; closed++) {
      size_t n = 0;
      n += (size_t)snprintf(body, sizeof body, "{\"name\":");
      for (int i = 0; i < d - 1; i++) body[n++] = '[';
      if (closed)
        for (int i = 0; i < d - 1; i++) body[n++] = ']';
      body[n++] = '}';
      body[n] = '\0';
      ask(port, "POST", "/shapes", json_ct, body, out, cap);
      int want = d > 128 ? 400 : 422;
      if (status_of(out) != want)
        test_fail(__FILE__, __LINE__, "depth %d (%s): status %d, want %d", d,
                  closed ? "closed" : "open", status_of(out), want);
      if (want == 400)
        ASSERT_STR_CONTAINS(body_of(out), "There was an error parsing the body");
      else
        ASSERT_STR_CONTAINS(body_of(out), closed ? "\"string_type\"" : "\"json_invalid\"");
    }
  }
}

static void body_case(const char *port) {
  static char out[16384];
  static char big[400000];
  deep_json(port, big, sizeof big);
  for (size_t i = 0; i < sizeof body_cases / sizeof body_cases[0]; i++) {
    const struct exchange *x = &body_cases[i];
    ask(port, x->method, x->target, x->headers, x->body, out, sizeof out);
    if (status_of(out) != x->status || strcmp(body_of(out), x->want) != 0)
      test_fail(__FILE__, __LINE__, "%s %s %s:\nwant %d %s\ngot  %s", x->method, x->target,
                x->body ? x->body : "(no body)", x->status, x->want, out);
  }
  // A 422 lists 100 errors at most: 1,000 bad items in 4 KB of body made a
  // 150 KB answer (pydantic lists them all).
  static char many[8192], answer[400000];
  int n = snprintf(many, sizeof many, "{\"name\":\"a\",\"size\":1,\"path\":[");
  for (int i = 0; i < 1000; i++)
    n += snprintf(many + n, sizeof many - (size_t)n, "%s1", i ? "," : "");
  snprintf(many + n, sizeof many - (size_t)n, "]}");
  ask(port, "POST", "/shapes", json_ct, many, answer, sizeof answer);
  ASSERT_EQ(status_of(answer), 422);
  int listed = 0;
  for (const char *p = answer; (p = strstr(p, "\"type\":")); p++) listed++;
  ASSERT_EQ(listed, 100);
  ASSERT_STR_CONTAINS(answer, "\"loc\":[\"body\",\"path\",99]");
  ASSERT(!strstr(answer, "\"loc\":[\"body\",\"path\",100]"));
  ASSERT(strlen(answer) < 20000);
  // What the handler read.
  seen.calls = 0;
  ask(port, "POST", "/shapes", json_ct,
      "{\"name\":\"tri\",\"size\":3.5,\"filled\":\"on\",\"colour\":\"green\",\"words\":[\"ab\","
      "\"cd\"],\"at\":{\"x\":\"7\"},\"path\":[{\"x\":1},{\"x\":2,\"y\":-9}]}",
      out, sizeof out);
  ASSERT_EQ(status_of(out), 201);
  ASSERT_EQ(seen.calls, 1);
  ASSERT(strcmp(seen.name, "tri") == 0);
  ASSERT(strcmp(seen.shape_colour, "green") == 0);
  ASSERT(seen.size == 3.5);
  ASSERT(seen.filled);
  ASSERT_EQ(seen.nwords, 2);
  ASSERT(strcmp(seen.word1, "cd") == 0);
  ASSERT(!seen.at_null);
  ASSERT_EQ(seen.at_x, 7);
  ASSERT_EQ(seen.npath, 2);
  ASSERT_EQ(seen.path1_y, -9);
  ASSERT(seen.note_null);
}

// ---------------------------------------------------------------- the document and the pages

static void document_case(const char *port) {
  static char out[65536];
  ask(port, "GET", "/openapi.json", NULL, NULL, out, sizeof out);
  ASSERT_EQ(status_of(out), 200);
  json_error_t err;
  json_t *doc = json_loads(body_of(out), 0, &err);
  if (!doc) test_fail(__FILE__, __LINE__, "not JSON (%s): %s", err.text, body_of(out));
  ASSERT(strcmp(json_string_value(json_object_get(doc, "openapi")), "3.1.0") == 0);
  json_t *info = json_object_get(doc, "info");
  ASSERT(strcmp(json_string_value(json_object_get(info, "title")), "Test <API>") == 0);
  json_t *paths = json_object_get(doc, "paths");
  // The declared routes and the undeclared one; not the hidden route, the
  // static mount or the documentation's own routes.
  ASSERT_EQ(json_object_size(paths), 4);
  ASSERT(json_object_get(paths, "/tones/{tone}"));
  ASSERT(json_object_get(paths, "/things/{id}"));
  ASSERT(json_object_get(paths, "/shapes"));
  ASSERT(json_object_get(paths, "/plain/{n}"));
  json_t *get = json_object_get(json_object_get(paths, "/things/{id}"), "get");
  ASSERT(strcmp(json_string_value(json_object_get(get, "operationId")),
                "search_things_things__id__get") == 0);
  ASSERT(strcmp(json_string_value(json_object_get(get, "summary")), "Search Things") == 0);
  ASSERT(strcmp(json_string_value(json_object_get(get, "description")), "Looks things up.") == 0);
  ASSERT(strcmp(json_string_value(json_array_get(json_object_get(get, "tags"), 0)), "search") == 0);
  json_t *params = json_object_get(get, "parameters");
  ASSERT_EQ(json_array_size(params), 9);
  json_t *id = json_array_get(params, 0), *limit = json_array_get(params, 2),
         *ua = json_array_get(params, 6), *colour = json_array_get(params, 5);
  ASSERT(strcmp(json_string_value(json_object_get(id, "in")), "path") == 0);
  ASSERT(json_is_true(json_object_get(id, "required")));
  ASSERT_EQ(json_integer_value(json_object_get(json_object_get(id, "schema"), "minimum")), 1);
  ASSERT(json_is_false(json_object_get(limit, "required")));
  json_t *ls = json_object_get(limit, "schema");
  ASSERT_EQ(json_integer_value(json_object_get(ls, "maximum")), 50);
  ASSERT_EQ(json_integer_value(json_object_get(ls, "default")), 10);
  ASSERT(strcmp(json_string_value(json_object_get(ua, "name")), "user-agent") == 0);
  ASSERT(strcmp(json_string_value(json_object_get(ua, "in")), "header") == 0);
  ASSERT_EQ(json_array_size(json_object_get(json_object_get(colour, "schema"), "enum")), 3);
  ASSERT(json_object_get(json_object_get(get, "responses"), "422"));
  json_t *post = json_object_get(json_object_get(paths, "/shapes"), "post");
  ASSERT(json_object_get(json_object_get(post, "responses"), "201"));
  ASSERT(json_is_true(json_object_get(json_object_get(post, "requestBody"), "required")));
  json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");
  json_t *shape_s = json_object_get(schemas, "Shape");
  ASSERT(shape_s);
  ASSERT(json_object_get(schemas, "Point")); // reached through Shape only
  json_t *tone_s = json_object_get(schemas, "Tone");
  ASSERT(tone_s);
  ASSERT_EQ(json_array_size(json_object_get(tone_s, "enum")), 3);
  ASSERT(json_object_get(schemas, "HTTPValidationError"));
  ASSERT(json_object_get(schemas, "ValidationError"));
  json_t *req = json_object_get(shape_s, "required");
  ASSERT_EQ(json_array_size(req), 2); // name, size
  json_t *props = json_object_get(shape_s, "properties");
  json_t *size = json_object_get(props, "size");
  ASSERT_EQ(json_integer_value(json_object_get(size, "exclusiveMinimum")), 0);
  ASSERT(json_real_value(json_object_get(size, "maximum")) == 10.5);
  json_t *at = json_object_get(props, "at");
  ASSERT_EQ(json_array_size(json_object_get(at, "anyOf")), 2);
  json_t *words = json_object_get(props, "words");
  ASSERT_EQ(json_integer_value(json_object_get(words, "maxItems")), 3);
  ASSERT_EQ(json_integer_value(json_object_get(json_object_get(words, "items"), "minLength")), 2);
  json_decref(doc);
  // The pages: Swagger UI and ReDoc, their scripts from the assets directory.
  ask(port, "GET", "/docs", NULL, NULL, out, sizeof out);
  ASSERT_EQ(status_of(out), 200);
  ASSERT_STR_CONTAINS(out, "Content-Type: text/html; charset=utf-8\r\n");
  ASSERT_STR_CONTAINS(out, "<title>Test &lt;API&gt; - Swagger UI</title>");
  ASSERT_STR_CONTAINS(out, "src=\"/docs-assets/swagger-ui-bundle.js\"");
  ASSERT_STR_CONTAINS(out, "url: \"/openapi.json\"");
  ask(port, "GET", "/redoc", NULL, NULL, out, sizeof out);
  ASSERT_STR_CONTAINS(out, "<redoc spec-url=\"/openapi.json\"></redoc>");
  ASSERT_STR_CONTAINS(out, "src=\"/docs-assets/redoc.standalone.js\"");
  ask(port, "GET", "/docs-assets/swagger-ui-bundle.js", NULL, NULL, out, sizeof out);
  ASSERT_EQ(status_of(out), 200);
  ASSERT(strcmp(body_of(out), "// the bundle\n") == 0);
}

// ---------------------------------------------------------------- serving

static void (*current)(const char *port);

static int serve_main(void *arg) {
  (void)arg;
  cio_http_app *app = new_app();
  cio_server *srv;
  ASSERT_EQ(cio_http_serve(app, "127.0.0.1", "0", NULL, &srv), 0);
  char port[8];
  snprintf(port, sizeof port, "%d", cio_server_port(srv));
  current(port);
  ASSERT_EQ(cio_server_close(srv, 1.0), 0);
  cio_http_app_free(app);
  remove_assets();
  return 0;
}

static void served(void (*fn)(const char *port)) {
  current = fn;
  ASSERT_EQ(cio_run(serve_main, NULL), 0);
}

static void parameters_validated(void) { served(params_case); }
static void bodies_validated(void) { served(body_case); }
static void openapi_document(void) { served(document_case); }

// ---------------------------------------------------------------- declarations refused

static int h(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)req, (void)arg;
  return cio_http_json(res, 200, "{}");
}

static void declarations_refused(void) {
  cio_http_app *app = cio_http_app_new();
  static const cio_http_field not_number[] = {{.name = "a", .type = CIO_HTTP_INT, .ge = "ten"},
                                              {0}};
  static const cio_http_field bad_regex[] = {{.name = "a", .type = CIO_HTTP_STR, .pattern = "(["},
                                             {0}};
  static const cio_http_field no_values[] = {{.name = "a", .type = CIO_HTTP_ENUM}, {0}};
  static const cio_http_field array_param[] = {
      {.name = "a", .type = CIO_HTTP_ARRAY, .items = &word}, {0}};
  static const cio_http_field not_in_path[] = {
      {.name = "b", .in = CIO_HTTP_PATH, .type = CIO_HTTP_INT}, {0}};
  static const cio_http_field bad_default[] = {{.name = "a", .type = CIO_HTTP_INT, .def = "x"},
                                               {0}};
  static const cio_http_field no_model[] = {{.name = "o", .type = CIO_HTTP_OBJECT}, {0}};
  static const cio_http_model no_model_m = {.name = "M", .fields = no_model};
  const cio_http_decl bad[] = {
      {.params = not_number},  {.params = bad_regex},   {.params = no_values},
      {.params = array_param}, {.params = not_in_path}, {.params = bad_default},
      {.body = &no_model_m},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (cio_http_route_decl(app, "GET", "/x/{a}", h, NULL, &bad[i]) != -EINVAL)
      test_fail(__FILE__, __LINE__, "declaration %zu was taken", i);
  ASSERT_EQ(cio_http_route_decl(app, "GET", "/x", h, NULL, NULL), -EINVAL);
  // Nothing refused was added: the app has no route.
  ASSERT(app->routes == NULL);
  cio_http_app_free(app);
}

#endif // CIO_HAVE_JANSSON

// ---------------------------------------------------------------- Python's words

static void json_errors_as_python_says(void) {
  // Each checked against Python 3.11's json.loads.
  static const struct {
    const char *text;
    size_t pos;
    const char *msg;
  } cases[] = {
      {"", 0, "Expecting value"},
      {"  ", 2, "Expecting value"},
      {"{", 1, "Expecting property name enclosed in double quotes"},
      {"{\"a\" 1}", 5, "Expecting ':' delimiter"},
      {"{\"a\":1 \"b\":2}", 7, "Expecting ',' delimiter"},
      {"[1,]", 3, "Expecting value"},
      {"[1 2]", 3, "Expecting ',' delimiter"},
      {"\"abc", 0, "Unterminated string starting at"},
      {"\"a\x01\"", 2, "Invalid control character at"},
      {"\"\\x\"", 1, "Invalid \\escape"},
      {"\"\\u12\"", 2, "Invalid \\uXXXX escape"},
      {"\"\\u00zz\"  ", 2, "Invalid \\uXXXX escape"},
      {"1 2", 2, "Extra data"},
      {"{\"\xc3\xa9\":1,}", 7, "Expecting property name enclosed in double quotes"},
      {"nul", 0, "Expecting value"},
      {"-", 0, "Expecting value"},
      {"01", 1, "Extra data"},
      {"[1.]", 2, "Expecting ',' delimiter"},
      {"{\"a\":1}x", 7, "Extra data"},
      {"{\"a\":tru}", 5, "Expecting value"},
      {"\t[\n", 3, "Expecting value"},
      {"1e", 1, "Extra data"},
      {"[1e]", 2, "Expecting ',' delimiter"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    size_t pos = 99;
    const char *msg = NULL;
    ASSERT(cio__json_check(cases[i].text, strlen(cases[i].text), &pos, &msg));
    if (pos != cases[i].pos || strcmp(msg, cases[i].msg) != 0)
      test_fail(__FILE__, __LINE__, "%s: want %zu %s, got %zu %s", cases[i].text, cases[i].pos,
                cases[i].msg, pos, msg);
  }
  static const char *const fine[] = {"NaN", "[-Infinity, 1e5, 2E-3]", " {\"a\": [true, null]} ",
                                     "\"\\ud83d\\ude00\""};
  for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++) {
    size_t pos;
    const char *msg;
    ASSERT(!cio__json_check(fine[i], strlen(fine[i]), &pos, &msg));
  }
}

static void floats_as_python_writes_them(void) {
  static const struct {
    double v;
    const char *repr;
  } cases[] = {
      {0.1, "0.1"},
      {10.0, "10.0"},
      {1e16, "1e+16"},
      {1e15, "1000000000000000.0"},
      {1.5e-05, "1.5e-05"},
      {0.0001, "0.0001"},
      {-2.5, "-2.5"},
      {123456789.123, "123456789.123"},
      {5e-324, "5e-324"},
      {1.7976931348623157e308, "1.7976931348623157e+308"},
      {1.0 / 3, "0.3333333333333333"},
      {1e22, "1e+22"},
      {12345678901234567.0, "1.2345678901234568e+16"},
      {0.00012, "0.00012"},
      {0.0, "0.0"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct cio__jtext j = cio__jt_new(8);
    cio__jt_float(&j, cases[i].v);
    ASSERT(j.p);
    if (strcmp(j.p, cases[i].repr) != 0)
      test_fail(__FILE__, __LINE__, "want %s, got %s", cases[i].repr, j.p);
    free(j.p);
  }
}

static const test_case cases[] = {
#ifdef CIO_HAVE_JANSSON
    {"parameters_validated", parameters_validated, 60},
    {"bodies_validated", bodies_validated, 60},
    {"openapi_document", openapi_document, 60},
    {"declarations_refused", declarations_refused, 0},
#endif
    {"json_errors_as_python_says", json_errors_as_python_says, 0},
    {"floats_as_python_writes_them", floats_as_python_writes_them, 0},
};

TEST_MAIN(cases)
