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
#include <string.h>

// RFC 9110 token characters (methods, header names).
static inline bool cio__http_is_tchar(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c && strchr("!#$%&'*+-.^_`|~", c));
}

// Whether a header value (or Content-Type) has no control character but
// HTAB (RFC 9110 §5.5): a CR or LF would end its line and start another
// header.  For the values the server and the client send.
static inline bool cio__http_field_value_ok(const char *v) {
  for (; *v; v++)
    if (((unsigned char)*v < ' ' && *v != '\t') || *v == 0x7f) return false;
  return true;
}

// Whether a header line is "Name: value": a token, a colon, a value with
// no control character but HTAB (which may be empty).  For the lines a
// client is given to send.
static inline bool cio__http_header_line_ok(const char *line) {
  const char *p = line;
  while (cio__http_is_tchar((unsigned char)*p)) p++;
  return p > line && *p == ':' && cio__http_field_value_ok(p + 1);
}

// Errors, each the status a server answers with.
#define CIO__HTTP_BAD 400                // malformed
#define CIO__HTTP_URI_TOO_LONG 414       // request line over the limit
#define CIO__HTTP_EXPECTATION_FAILED 417 // an Expect other than 100-continue
#define CIO__HTTP_HEAD_TOO_LARGE 431     // header block or count over the limit
#define CIO__HTTP_NOT_IMPLEMENTED 501    // a transfer coding other than chunked
#define CIO__HTTP_VERSION 505            // not HTTP/1.0 or 1.1

#define CIO__HTTP_MAX_HEADERS 64
// A response may have more (the client takes what servers send; libcurl
// takes any number): its limit's ceiling.
#define CIO__HTTP_MAX_RESPONSE_HEADERS 256

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
  cio__http_slice method;    // e.g. "GET"
  cio__http_slice target;    // request-target as sent, e.g. "/user/1?x=2"
  cio__http_slice path;      // origin-form path ("/" for "http://h"), p NULL for "*" and others
  cio__http_slice query;     // after '?' (may be empty), p NULL without a '?'
  cio__http_slice authority; // host[:port] of an absolute-form target, p NULL otherwise
  int minor;                 // HTTP/1.<minor>
  cio__http_header headers[CIO__HTTP_MAX_HEADERS]; // in order
  size_t nheaders;                                 // how many
  int64_t content_length;                          // -1 if no Content-Length
  bool chunked;                                    // Transfer-Encoding: chunked
  bool keep_alive;                                 // the connection may carry another request
  bool expect_continue;                            // Expect: 100-continue, HTTP/1.1 only
} cio__http_request;

// Parses the request head at the start of buf[0..len).  Returns the head's
// length (through the empty line, and counting the empty lines before the
// request line, which are skipped) when complete, 0 if more data is needed,
// or minus one of the CIO__HTTP_* statuses.  `lim` may be NULL.
int cio__http_parse_request(const char *buf, size_t len, cio__http_request *req,
                            const cio__http_limits *lim);

// The value of the first header named `name` (case-insensitive), or NULL.
const cio__http_slice *cio__http_header_get(const cio__http_request *req, const char *name);

// Decodes a chunked body incrementally.
typedef struct cio__http_chunked {
  int state;          // where the decoder is (parse.c)
  uint64_t remaining; // bytes left in the current chunk
  size_t trailer;     // bytes of this size line's extensions, then of the trailers (bounded)
  size_t ext_total;   // bytes of extensions in the whole body (bounded)
  bool digits;        // the current size line has a digit
} cio__http_chunked;

// Decodes in place: consumes buf[0..*len), moves the payload bytes to the
// front of buf and sets *len to their count.  Returns 1 when the last chunk
// and trailers are done (the bytes after them are not consumed: *used says
// how many were), 0 if more input is needed, -CIO__HTTP_BAD on malformed
// input.  `used` receives the input bytes consumed.
int cio__http_chunked_decode(cio__http_chunked *d, char *buf, size_t *len, size_t *used);

// Text from a request (a path, a query name or value, a header value) made
// into valid UTF-8, one character at a time: with `percent`, %XX escapes are
// decoded first (a '%' not followed by two hex digits stays as it is); with
// `plus`, '+' is a space (query strings, not paths).  A byte sequence that
// is not UTF-8 becomes U+FFFD, one per maximal ill-formed subpart, exactly as
// Python's bytes.decode("utf-8", "replace") does, which is what uvicorn and
// Starlette give FastAPI handlers.  A NUL is passed through (%00).
typedef struct cio__http_text {
  const char *p; // the text
  size_t n;      //   its length
  size_t i;      // where the next character starts
  bool percent;  // decode %XX
  bool plus;     // '+' is a space
} cio__http_text;

// Writes the next character to out (1 to 4 bytes; U+FFFD is 3) and returns
// its length, or 0 at the end of the text.
size_t cio__http_text_next(cio__http_text *t, char out[4]);

// Decodes src[0..n) into dst[0..cap) as above (percent-decoding on) and
// returns the decoded length; stops at a character that would not fit.  Not
// NUL-terminated.  A request target needs no more than cap = n: its bytes
// are all below 0x7f, so every byte above comes from a 3-byte %XX, and
// U+FFFD is 3 bytes.
size_t cio__http_decode(char *dst, size_t cap, const char *src, size_t n, bool plus);

// True if s is a valid Host value (RFC 9112 §3.2, RFC 3986 §3.2.2-3.2.3):
// uri-host [":" port], the host a reg-name (unreserved, pct-encoded,
// sub-delims; may be empty), or an IP literal in brackets; no userinfo, no
// path, no whitespace.
bool cio__http_valid_host(cio__http_slice s);

// ---------------------------------------------------------------- responses

// A response head (the client's side), as strict as the request parser:
// CRLF line endings only, header names tokens, no control characters in
// values, Content-Length digits only (several must agree), Transfer-Encoding
// "chunked" only (once, last) and never with Content-Length.  obs-fold, which
// RFC 9112 §5.2 has a user agent accept in a response, is replaced in place
// by spaces (so the buffer is written).
typedef struct cio__http_response_head {
  int status;             // 100..999
  int minor;              // HTTP/1.<minor> (1.2 and up read as 1.1)
  cio__http_slice reason; // the reason phrase (may be empty)
  cio__http_header headers[CIO__HTTP_MAX_RESPONSE_HEADERS]; // in order
  size_t nheaders;                                          // how many
  int64_t content_length;                                   // -1 if no Content-Length
  bool chunked;                                             // Transfer-Encoding: chunked
  bool keep_alive; // the connection may carry another request
} cio__http_response_head;

// Clears what a parse fills of a response head, not its array of fields
// (8 KiB: only the first nheaders are read).
static inline void cio__http_response_head_clear(cio__http_response_head *r) {
  memset(r, 0, offsetof(cio__http_response_head, headers));
  r->nheaders = 0;
  r->content_length = -1;
  r->chunked = r->keep_alive = false;
}

// Parses the response head at the start of buf[0..len).  Returns the head's
// length (through the empty line) when complete, 0 if more data is needed,
// -CIO__HTTP_BAD (malformed), -CIO__HTTP_HEAD_TOO_LARGE (status line over
// max_line, head over max_head or more than max_headers headers),
// -CIO__HTTP_VERSION (not HTTP/1.x) or -CIO__HTTP_NOT_IMPLEMENTED (a
// transfer coding other than chunked).  `lim` may be NULL (8 KiB, 16 KiB,
// CIO__HTTP_MAX_HEADERS); its max_headers may go up to
// CIO__HTTP_MAX_RESPONSE_HEADERS.
int cio__http_parse_response(char *buf, size_t len, cio__http_response_head *r,
                             const cio__http_limits *lim);

// How a response's body ends (RFC 9112 §6.3).
typedef enum cio__http_body_end {
  CIO__HTTP_BODY_NONE,    // no body: a HEAD's answer, 1xx, 204, 304
  CIO__HTTP_BODY_LENGTH,  // content_length bytes
  CIO__HTTP_BODY_CHUNKED, // chunked (cio__http_chunked_decode)
  CIO__HTTP_BODY_CLOSE,   // until the server closes (the connection is not reused)
} cio__http_body_end;

// How the body of a response with this head ends; `head_request`: it
// answers a HEAD.
cio__http_body_end cio__http_response_body(const cio__http_response_head *r, bool head_request);

// The value of the first header named `name` (case-insensitive), or NULL.
const cio__http_slice *cio__http_response_header(const cio__http_response_head *r,
                                                 const char *name);

#endif
