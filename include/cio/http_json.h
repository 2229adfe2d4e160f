// SPDX-License-Identifier: MIT
/// \file
///
/// JSON bodies for <cio/http.h>, with Jansson (Debian: libjansson-dev), a
/// well-kept library that checks UTF-8 and escapes correctly — there is no
/// reason to write a JSON parser here.  Available when the build found
/// Jansson (CIO_HAVE_JANSSON); link with jansson too (pkg-config cio does).
#ifndef CIO_HTTP_JSON_H
#define CIO_HTTP_JSON_H

#include <jansson.h>

#include "http.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Parses the request body as JSON, as FastAPI's json.loads takes it (the
/// same reading as a declared model's body): any value at the top, a UTF-8
/// BOM skipped, NUL (\\u0000) in strings, the last of duplicate keys.  Returns 0
/// and *out (the caller json_decref()s it; JSON null is a value), or
/// -EINVAL after answering 422 in FastAPI's shape ({"detail":[{"type":
/// "json_invalid","loc":["body",pos], ...}]}, also for an integer beyond
/// 64 bits, 1e400 and a lone surrogate escape, which Python takes and
/// Jansson cannot hold), or after answering 400 {"detail":"There
/// was an error parsing the body"} for a body that is not UTF-8 or nests
/// deeper than 128 arrays and objects (Jansson's parser recurses per level,
/// and a task's stack is small; FastAPI answers the same beyond Python's
/// limit): the handler should then return at once.
int cio_http_body_json(cio_http_req *req, cio_http_res *res, json_t **out);

/// Answers with `value` serialized compactly (the caller keeps its
/// reference).  Returns 0, -EINVAL, -ENOMEM.
int cio_http_json_value(cio_http_res *res, int status, const json_t *value);

#ifdef __cplusplus
}
#endif
#endif
