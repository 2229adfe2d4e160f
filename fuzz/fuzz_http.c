// SPDX-License-Identifier: MIT
//
// libFuzzer target for the HTTP request parser and the chunked decoder:
// any input must be parsed without a crash, a read outside the buffer, or a
// result that contradicts itself (a head longer than the input, a body
// decoded to more bytes than it had).
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/parse.h"

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
    if (req.chunked) {
      cio__http_chunked d = {0};
      size_t len = size - (size_t)head, used = 0;
      int rc = cio__http_chunked_decode(&d, buf + head, &len, &used);
      if (rc >= 0 && (len > size - (size_t)head || used > size - (size_t)head)) abort();
    }
  }
  // The decoder alone, on the raw input.
  cio__http_chunked d = {0};
  size_t len = size, used = 0;
  int rc = cio__http_chunked_decode(&d, buf, &len, &used);
  if (rc >= 0 && (len > size || used > size)) abort();
  free(buf);
  return 0;
}
