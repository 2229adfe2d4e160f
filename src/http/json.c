// SPDX-License-Identifier: MIT
//
// JSON request and response bodies through Jansson (built only when the
// build finds it).
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../include/cio/http_json.h"

int cio_http_body_json(cio_http_req *req, cio_http_res *res, json_t **out) {
  if (!req || !res || !out) return -EINVAL;
  size_t len;
  const char *body = cio_http_body(req, &len);
  json_error_t err;
  *out = body ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &err) : NULL;
  if (*out) return 0;
  if (!body) snprintf(err.text, sizeof err.text, "empty body");
  json_t *detail = json_pack("{s:[{s:s, s:[s,i], s:s, s:{s:s}}]}", "detail", "type", "json_invalid",
                             "loc", "body", body ? err.position : 0, "msg", "JSON decode error",
                             "ctx", "error", err.text);
  if (!detail || cio_http_json_value(res, 422, detail) < 0)
    cio_http_json(res, 422, "{\"detail\":[{\"type\":\"json_invalid\",\"loc\":[\"body\",0]}]}");
  json_decref(detail);
  return -EINVAL;
}

int cio_http_json_value(cio_http_res *res, int status, const json_t *value) {
  if (!res || !value) return -EINVAL;
  char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
  if (!text) return -ENOMEM;
  int rc = cio_http_json(res, status, text);
  free(text);
  return rc;
}
