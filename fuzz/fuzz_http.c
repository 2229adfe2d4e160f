// SPDX-License-Identifier: MIT
//
// libFuzzer target for the HTTP request parser, the response parser and
// the chunked decoder: any input must be parsed without a crash, a read
// outside the buffer, or a result that contradicts itself (a head longer
// than the input, a body decoded to more bytes than it had, a path or
// authority outside the target, a decoded path longer than the encoded one
// or not UTF-8, a response head complete in fewer bytes than it has, or read
// otherwise a second time).
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/parse.h"

// True if s[0..n) is well-formed UTF-8 (checked the slow, obvious way).
static int utf8_ok(const unsigned char *s, size_t n) {
  for (size_t i = 0; i < n;) {
    unsigned c = s[i], len = c < 0x80       ? 1
                             : c >> 5 == 6  ? 2
                             : c >> 4 == 14 ? 3
                             : c >> 3 == 30 ? 4
                                            : 0;
    if (!len || i + len > n) return 0;
    unsigned cp = len == 1 ? c : c & (0x7f >> len);
    for (unsigned k = 1; k < len; k++) {
      if (s[i + k] >> 6 != 2) return 0;
      cp = cp << 6 | (s[i + k] & 0x3f);
    }
    static const unsigned min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    i += len;
  }
  return 1;
}

static int inside(cio__http_slice s, const cio__http_request *r) {
  return !s.p || (s.p >= r->target.p && s.p + s.n <= r->target.p + r->target.n) ||
         (s.n == 1 && s.p[0] == '/'); // "http://h" has the path "/"
}

// The response parser on its own exact-size copy (it writes obs-folds).
static void check_response(const uint8_t *data, size_t size) {
  char *buf = malloc(size ? size : 1);
  memcpy(buf, data, size);
  cio__http_response_head r;
  cio__http_limits lim = {.max_line = 1024, .max_head = 4096, .max_headers = 16};
  int head = cio__http_parse_response(buf, size, &r, &lim);
  if (head > (int)size) abort();
  if (head > 0) {
    if (r.status < 100 || r.status > 999 || r.nheaders > 16) abort();
    for (size_t i = 0; i < r.nheaders; i++)
      if (r.headers[i].name.p < buf || r.headers[i].value.p + r.headers[i].value.n > buf + size)
        abort();
    if (r.chunked && r.content_length >= 0) abort();
    int status = r.status;
    bool chunked = r.chunked, keep = r.keep_alive;
    int64_t length = r.content_length;
    // Read again (its folds now blanks): the same head.  One byte short:
    // not complete.
    if (cio__http_parse_response(buf, size, &r, &lim) != head || r.status != status ||
        r.chunked != chunked || r.keep_alive != keep || r.content_length != length)
      abort();
    if (cio__http_parse_response(buf, (size_t)head - 1, &r, &lim) > 0) abort();
  }
  free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // An exact-size copy, so ASan sees any read past the end.
  char *buf = malloc(size ? size : 1);
  memcpy(buf, data, size);
  cio__http_request req;
  cio__http_limits lim = {.max_line = 1024, .max_head = 4096, .max_headers = 16};
  int head = cio__http_parse_request(buf, size, &req, &lim);
  if (head > (int)size) abort();
  if (head > 0) {
    for (size_t i = 0; i < req.nheaders; i++)
      if (req.headers[i].name.p < buf ||
          req.headers[i].value.p + req.headers[i].value.n > buf + size)
        abort();
    if (!inside(req.path, &req) || !inside(req.query, &req) || !inside(req.authority, &req))
      abort();
    if (req.path.p) { // decoding never grows a target, and gives UTF-8
      char *out = malloc(req.path.n);
      size_t n = cio__http_decode(out, req.path.n, req.path.p, req.path.n, false);
      if (n > req.path.n || !utf8_ok((const unsigned char *)out, n)) abort();
      free(out);
    }
    if (req.chunked) {
      cio__http_chunked d = {0};
      size_t len = size - (size_t)head, used = 0;
      int rc = cio__http_chunked_decode(&d, buf + head, &len, &used);
      if (rc >= 0 && (len > size - (size_t)head || used > size - (size_t)head)) abort();
    }
  }
  check_response(data, size);
  // Percent-decoding of any bytes (raw ones above 0x7f too: U+FFFD can
  // then take 3 bytes for 1, so the room is 3 per input byte).
  char *text = malloc(3 * size + 1);
  size_t tn = cio__http_decode(text, 3 * size, buf, size, size && buf[0] == '+');
  if (tn > 3 * size || !utf8_ok((const unsigned char *)text, tn)) abort();
  free(text);
  // The decoder alone, on the raw input.
  cio__http_chunked d = {0};
  size_t len = size, used = 0;
  int rc = cio__http_chunked_decode(&d, buf, &len, &used);
  if (rc >= 0 && (len > size || used > size)) abort();
  free(buf);
  return 0;
}
