// SPDX-License-Identifier: MIT
//
// Feeds requests to cio's HTTP parser and prints what it made of each, for
// the differential test against h11 (tests/http_diff.py).  Input on stdin:
// records of a 4-byte little-endian length and that many bytes.  Output: one
// JSON object per record, in order:
//   {"r": <parser's return>, "m": method, "t": target, "v": minor version,
//    "h": [[name, value], ...], "cl": Content-Length or -1, "ch": chunked}
// (only "r" when the parser did not accept the head).  Bytes are written as
// \u00XX escapes above 0x7e and below 0x20, so Python reads them back as
// Latin-1, the way h11 hands them out.
//
// With --decode, each record is instead a flag byte ('+': '+' is a space)
// and text to percent-decode (cio__http_decode); the output is one line of
// the decoded bytes in hex, to compare with Python's unquote.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/parse.h"

static void put_string(const char *p, size_t n) {
  putchar('"');
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c == '"' || c == '\\')
      printf("\\%c", c);
    else if (c < 0x20 || c > 0x7e)
      printf("\\u%04x", c);
    else
      putchar(c);
  }
  putchar('"');
}

static void dump(const char *buf, size_t len) {
  cio__http_request req;
  int r = cio__http_parse_request(buf, len, &req, NULL);
  printf("{\"r\": %d", r);
  if (r > 0) {
    printf(", \"m\": ");
    put_string(req.method.p, req.method.n);
    printf(", \"t\": ");
    put_string(req.target.p, req.target.n);
    printf(", \"v\": %d, \"h\": [", req.minor);
    for (size_t i = 0; i < req.nheaders; i++) {
      printf(i ? ", [" : "[");
      put_string(req.headers[i].name.p, req.headers[i].name.n);
      printf(", ");
      put_string(req.headers[i].value.p, req.headers[i].value.n);
      printf("]");
    }
    printf("], \"cl\": %lld, \"ch\": %s", (long long)req.content_length,
           req.chunked ? "true" : "false");
  }
  printf("}\n");
}

static void decode(const char *buf, size_t len) {
  if (!len) return;
  char *out = malloc(len);
  size_t n = out ? cio__http_decode(out, len - 1, buf + 1, len - 1, buf[0] == '+') : 0;
  for (size_t i = 0; i < n; i++) printf("%02x", (unsigned char)out[i]);
  printf("\n");
  free(out);
}

int main(int argc, char **argv) {
  bool decoding = argc > 1 && strcmp(argv[1], "--decode") == 0;
  unsigned char hdr[4];
  while (fread(hdr, 1, 4, stdin) == 4) {
    size_t len = (size_t)hdr[0] | (size_t)hdr[1] << 8 | (size_t)hdr[2] << 16 | (size_t)hdr[3] << 24;
    char *buf = malloc(len ? len : 1);
    if (!buf || fread(buf, 1, len, stdin) != len) {
      fprintf(stderr, "http_parse_dump: truncated record\n");
      return 2;
    }
    if (decoding)
      decode(buf, len);
    else
      dump(buf, len);
    free(buf);
  }
  return 0;
}
