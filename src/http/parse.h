// SPDX-License-Identifier: MIT
//
// The HTTP/1.x request parser: strict where RFC 9112 asks for it, so that a
// request a proxy in front of cio reads one way cannot be read another way
// here (request smuggling).  It allocates nothing: names, values and the
// target are slices of the caller's buffer (picohttpparser's habit), and it
// can be called again with more data until the head is complete.
#ifndef CIO_HTTP_PARSE_H
#define CIO_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// Errors, each the status a server answers with.
#define CIO__HTTP_BAD 400             // malformed
#define CIO__HTTP_URI_TOO_LONG 414    // request line over the limit
#define CIO__HTTP_HEAD_TOO_LARGE 431  // header block or count over the limit
#define CIO__HTTP_NOT_IMPLEMENTED 501 // a transfer coding other than chunked
#define CIO__HTTP_VERSION 505         // not HTTP/1.0 or 1.1

#define CIO__HTTP_MAX_HEADERS 64

typedef struct cio__http_slice {
  const char *p; // start, inside the parsed buffer
  size_t n;      // length
} cio__http_slice;

typedef struct cio__http_header {
  cio__http_slice name;  // as sent (compare case-insensitively)
  cio__http_slice value; // without surrounding whitespace
} cio__http_header;

typedef struct cio__http_limits {
  size_t max_line;    // request line (414 beyond); 0 = 8 KiB
  size_t max_head;    // whole head (431 beyond); 0 = 16 KiB
  size_t max_headers; // header count (431 beyond); 0 = CIO__HTTP_MAX_HEADERS
} cio__http_limits;

typedef struct cio__http_request {
  cio__http_slice method;                          // e.g. "GET"
  cio__http_slice target;                          // request-target, e.g. "/user/1?x=2"
  int minor;                                       // HTTP/1.<minor>
  cio__http_header headers[CIO__HTTP_MAX_HEADERS]; // in order
  size_t nheaders;                                 // how many
  int64_t content_length;                          // -1 if no Content-Length
  bool chunked;                                    // Transfer-Encoding: chunked
  bool keep_alive;                                 // the connection may carry another request
  bool expect_continue;                            // Expect: 100-continue
} cio__http_request;

// Parses the request head at the start of buf[0..len).  Returns the head's
// length (through the empty line) when complete, 0 if more data is needed,
// or minus one of the CIO__HTTP_* statuses.  `lim` may be NULL.
int cio__http_parse_request(const char *buf, size_t len, cio__http_request *req,
                            const cio__http_limits *lim);

// The value of the first header named `name` (case-insensitive), or NULL.
const cio__http_slice *cio__http_header_get(const cio__http_request *req, const char *name);

// Decodes a chunked body incrementally.
typedef struct cio__http_chunked {
  int state;          // where the decoder is (parse.c)
  uint64_t remaining; // bytes left in the current chunk
  size_t trailer;     // bytes of extensions and trailers seen (bounded)
  bool digits;        // the current size line has a digit
} cio__http_chunked;

// Decodes in place: consumes buf[0..*len), moves the payload bytes to the
// front of buf and sets *len to their count.  Returns 1 when the last chunk
// and trailers are done (the bytes after them are not consumed: *used says
// how many were), 0 if more input is needed, -CIO__HTTP_BAD on malformed
// input.  `used` receives the input bytes consumed.
int cio__http_chunked_decode(cio__http_chunked *d, char *buf, size_t *len, size_t *used);

#endif
