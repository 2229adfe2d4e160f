// SPDX-License-Identifier: MIT
//
// JSON request and response bodies through Jansson (built only when the
// build finds it).  Answers are written as FastAPI's Python writes them
// (model_body.c's cio__json_dump), so a float reads 0.1, not
// 0.10000000000000001, and a whole float 10.0.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../include/cio/http_json.h"
#include "http.h"
#include "model.h"

int cio_http_body_json(cio_http_req *req, cio_http_res *res, json_t **out) {
  if (!req || !res || !out) return -EINVAL;
  size_t len;
  const char *body = cio_http_body(req, &len);
  size_t pos = 0;
  const char *why = "Expecting value"; // no body at all: Python's json.loads(b"")
  int rc = body ? cio__http_json_parse(body, len, false, out, &pos, &why) : -EINVAL;
  if (rc == 0) return 0;
  *out = NULL;
  if (rc == -EBADMSG) { // not UTF-8, or nested too deep
    cio_http_json(res, 400, "{\"detail\":\"There was an error parsing the body\"}");
    return -EINVAL;
  }
  // FastAPI's json_invalid: where and why, in Python's words.
  struct cio__jtext j = cio__jt_new(160);
  char at[24];
  snprintf(at, sizeof at, "%zu", pos);
  cio__jt_lit(&j, "{\"detail\":[{\"type\":\"json_invalid\",\"loc\":[\"body\",");
  cio__jt_lit(&j, at);
  cio__jt_lit(&j, "],\"msg\":\"JSON decode error\",\"input\":{},\"ctx\":{\"error\":");
  cio__jt_str(&j, why, strlen(why));
  cio__jt_lit(&j, "}}]}");
  (void)cio__http_jt_answer(res, 422, &j,
                            "{\"detail\":[{\"type\":\"json_invalid\",\"loc\":[\"body\",0]}]}");
  return -EINVAL;
}

int cio_http_json_value(cio_http_res *res, int status, const json_t *value) {
  if (!res || !value) return -EINVAL;
  struct cio__jtext j = cio__jt_new(256);
  cio__json_dump(&j, value);
  if (!j.p) return -ENOMEM;
  char *text = j.p;
  int rc = cio_http_json(res, status, text);
  free(text);
  return rc;
}
