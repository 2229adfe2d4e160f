// SPDX-License-Identifier: MIT
//
// The HTTP request parser: an RFC 9112 edge-case table (including the
// request-smuggling disguises), each case parsed whole, split at every byte,
// and placed right before an unmapped page; the chunked decoder, fed whole
// and one byte at a time; and the response parser, tabled the same way.
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "helpers/test.h"
#include "http/parse.h"

struct req_case {
  const char *text; // the request (may include a body after the head)
  int expect;       // >0: length of the head; 0 would be "incomplete"; <0: -status
};

#define OK_HEAD(s) ((int)strlen(s))

static const struct req_case cases_table[] = {
    // Well-formed.
    {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 0},
    {"GET /user/1/profile?x=2&y=%20 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n", 0},
    {"GET / HTTP/1.0\r\n\r\n", 0},
    {"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", 0},
    {"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", 0},
    {"POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 0},
    {"GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Tab:\tv\t\r\n\r\n", 0},
    // Line endings: bare LF and bare CR (smuggling through a lenient proxy).
    {"GET / HTTP/1.1\nHost: a\n\n", -CIO__HTTP_BAD},
    {"GET / HTTP/1.1\r\nHost: a\n\r\n", -CIO__HTTP_BAD},
    {"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", -CIO__HTTP_BAD},
    // A bare CR ending the request line once hid the byte after it.
    {"GET / HTTP/1.1\rXHost: a\r\n\r\n", -CIO__HTTP_BAD},
    // Field syntax.
    {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", -CIO__HTTP_BAD},
    {"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n folded\r\n\r\n", -CIO__HTTP_BAD},
    {"GET / HTTP/1.1\r\nHost: a\r\n: novalue\r\n\r\n", -CIO__HTTP_BAD},
    {"GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n", -CIO__HTTP_BAD},
    {"GET / HTTP/1.1\r\nHost: a\r\nX\x7f: a\r\n\r\n", -CIO__HTTP_BAD},
    // Content-Length and Transfer-Encoding disguises.
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
     -CIO__HTTP_BAD},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", -CIO__HTTP_BAD},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", -CIO__HTTP_BAD},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", -CIO__HTTP_BAD},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", -CIO__HTTP_BAD},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", -CIO__HTTP_BAD},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
     -CIO__HTTP_BAD},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
     -CIO__HTTP_BAD},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", -CIO__HTTP_BAD},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , chunked\r\n\r\n", -CIO__HTTP_BAD},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked,\r\n\r\n", -CIO__HTTP_BAD},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked , \r\n\r\n", -CIO__HTTP_BAD},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n", -CIO__HTTP_BAD},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n",
     -CIO__HTTP_BAD},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", -CIO__HTTP_NOT_IMPLEMENTED},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n",
     -CIO__HTTP_NOT_IMPLEMENTED},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", -CIO__HTTP_BAD},
    {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", -CIO__HTTP_BAD},
    // Host.
    {"GET / HTTP/1.1\r\n\r\n", -CIO__HTTP_BAD},
    {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", -CIO__HTTP_BAD},
    {"GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", -CIO__HTTP_BAD}, // any version (§3.2)
    // Request line.
    {"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", -CIO__HTTP_BAD},
    {"GET /\t HTTP/1.1\r\nHost: a\r\n\r\n", -CIO__HTTP_BAD},
    {"GET / HTTP/1.1 \r\nHost: a\r\n\r\n", -CIO__HTTP_BAD},
    {"G(T / HTTP/1.1\r\nHost: a\r\n\r\n", -CIO__HTTP_BAD},
    {" / HTTP/1.1\r\nHost: a\r\n\r\n", -CIO__HTTP_BAD},
    {"GET / http/1.1\r\nHost: a\r\n\r\n", -CIO__HTTP_BAD},
    {"GET / HTTP/2.0\r\nHost: a\r\n\r\n", -CIO__HTTP_VERSION},
    {"GET / HTTP/1.2\r\nHost: a\r\n\r\n", 0}, // as 1.1 (RFC 9110 §2.5)
    {"GET / HTTP/1.9\r\nHost: a\r\n\r\n", 0},
    {"GET /s/a#frag HTTP/1.1\r\nHost: a\r\n\r\n", -CIO__HTTP_BAD}, // no fragment (§3.2)
    {"GET /\x80 HTTP/1.1\r\nHost: a\r\n\r\n", -CIO__HTTP_BAD},
    {"GET / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", -CIO__HTTP_EXPECTATION_FAILED},
    {"GET / HTTP/1.0\r\nExpect: 100-continue, x\r\n\r\n", -CIO__HTTP_EXPECTATION_FAILED},
    // Malformed stays 400, whatever the Expect (the head is checked first).
    {"GET / HTTP/1.1\r\nExpect: 200-ok\r\n\r\n", -CIO__HTTP_BAD},
    // Empty lines before the request line are skipped (RFC 9112 §2.2), any
    // number; a bare LF is not an empty line.
    {"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 0},
    {"\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 0},
    {"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", -CIO__HTTP_BAD},
    {"\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", -CIO__HTTP_BAD},
    {"\r\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", -CIO__HTTP_BAD},
    // Host values: a URI authority (RFC 9112 §3.2, RFC 3986 §3.2.2).
    {"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", -CIO__HTTP_BAD},
    {"GET / HTTP/1.1\r\nHost: a@b\r\n\r\n", -CIO__HTTP_BAD},
    {"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", -CIO__HTTP_BAD},
    {"GET / HTTP/1.1\r\nHost: a:b\r\n\r\n", -CIO__HTTP_BAD},
    {"GET / HTTP/1.1\r\nHost: a:80:80\r\n\r\n", -CIO__HTTP_BAD},
    {"GET / HTTP/1.1\r\nHost: a%zz\r\n\r\n", -CIO__HTTP_BAD},
    {"GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", -CIO__HTTP_BAD},
    {"GET / HTTP/1.1\r\nHost: []\r\n\r\n", -CIO__HTTP_BAD},
    {"GET / HTTP/1.1\r\nHost: [a.b.c.g]\r\n\r\n", -CIO__HTTP_BAD},
    {"GET / HTTP/1.1\r\nHost: a\\b\r\n\r\n", -CIO__HTTP_BAD},
    {"GET / HTTP/1.1\r\nHost: \xc3\xa9\r\n\r\n", -CIO__HTTP_BAD},
    {"GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n", 0},
    {"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 0},
    {"GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", 0},
    {"GET / HTTP/1.1\r\nHost: [v1.fe80::a+en1]\r\n\r\n", 0},
    {"GET / HTTP/1.1\r\nHost: xn--caf-dma.example_x~%41\r\n\r\n", 0},
    {"GET / HTTP/1.1\r\nHost:\r\n\r\n", 0},    // empty: allowed (a URI without authority)
    {"GET / HTTP/1.1\r\nHost: a:\r\n\r\n", 0}, // port = *DIGIT
    // Absolute-form targets (RFC 9112 §3.2.2): accepted, http(s) only, with
    // a valid non-empty authority.
    {"GET http://x/user/1/profile HTTP/1.1\r\nHost: a\r\n\r\n", 0},
    {"GET HTTPS://x:443?q=1 HTTP/1.1\r\nHost: a\r\n\r\n", 0},
    {"GET http://u@x/ HTTP/1.1\r\nHost: a\r\n\r\n", -CIO__HTTP_BAD},
    {"GET http:///p HTTP/1.1\r\nHost: a\r\n\r\n", -CIO__HTTP_BAD},
    {"GET ftp://x/p HTTP/1.1\r\nHost: a\r\n\r\n", -CIO__HTTP_BAD},
    {"GET http://x:y/p HTTP/1.1\r\nHost: a\r\n\r\n", -CIO__HTTP_BAD},
    // Expect in HTTP/1.0 is accepted (and ignored: request_fields).
    {"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n", 0},
};

// A copy of text[0..len) placed right before an unmapped page, so a read
// past its end faults.  The copy lives until the next call.
static char *guarded_copy(const char *text, size_t len) {
  static char *pages;
  long ps = sysconf(_SC_PAGESIZE);
  size_t room = 16 * (size_t)ps;
  if (!pages) {
    pages =
        mmap(NULL, room + (size_t)ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT(pages != MAP_FAILED);
    ASSERT_EQ(mprotect(pages + room, (size_t)ps, PROT_NONE), 0);
  }
  ASSERT(len <= room);
  char *at = pages + room - len;
  memcpy(at, text, len);
  return at;
}

static int parse_guarded(const char *text, size_t len, cio__http_request *r,
                         const cio__http_limits *lim) {
  return cio__http_parse_request(guarded_copy(text, len), len, r, lim);
}

static void request_table(void) {
  for (size_t i = 0; i < sizeof cases_table / sizeof cases_table[0]; i++) {
    const struct req_case *c = &cases_table[i];
    size_t len = strlen(c->text);
    int want = c->expect == 0 ? (int)len : c->expect;
    cio__http_request r;
    int got = parse_guarded(c->text, len, &r, NULL);
    if (got != want)
      test_fail(__FILE__, __LINE__, "case %zu: got %d, want %d: %s", i, got, want, c->text);
    // Split at every byte: a prefix is incomplete (0) or, for a bad
    // request, may already be the same error; never a success.
    for (size_t k = 0; k < len; k++) {
      int part = parse_guarded(c->text, k, &r, NULL);
      if (part != 0 && !(want < 0 && part == want))
        test_fail(__FILE__, __LINE__, "case %zu split at %zu: got %d", i, k, part);
    }
  }
}

static void request_fields(void) {
  cio__http_request r;
  const char *t = "POST /a?b=1 HTTP/1.1\r\nHost: ex\r\nContent-Length: 5\r\n"
                  "Connection: close\r\nExpect: 100-continue\r\n\r\nhello";
  int head = cio__http_parse_request(t, strlen(t), &r, NULL);
  ASSERT_EQ(head, (int)strlen(t) - 5); // the body is not part of the head
  ASSERT(r.method.n == 4 && memcmp(r.method.p, "POST", 4) == 0);
  ASSERT(r.target.n == 6 && memcmp(r.target.p, "/a?b=1", 6) == 0);
  ASSERT_EQ(r.minor, 1);
  ASSERT_EQ(r.content_length, 5);
  ASSERT(!r.keep_alive && r.expect_continue && !r.chunked);
  const cio__http_slice *host = cio__http_header_get(&r, "HOST");
  ASSERT(host && host->n == 2 && memcmp(host->p, "ex", 2) == 0);
  ASSERT(cio__http_header_get(&r, "missing") == NULL);
  t = "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
  ASSERT(cio__http_parse_request(t, strlen(t), &r, NULL) > 0 && r.keep_alive);
  t = "GET / HTTP/1.0\r\n\r\n";
  ASSERT(cio__http_parse_request(t, strlen(t), &r, NULL) > 0 && !r.keep_alive);
  t = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  ASSERT(cio__http_parse_request(t, strlen(t), &r, NULL) > 0 && r.keep_alive);
}

// The target split into path, query and authority; Expect ignored in 1.0.
static void request_targets(void) {
  cio__http_request r;
  const char *t = "GET /a/b?x=1&y HTTP/1.1\r\nHost: h\r\n\r\n";
  ASSERT(cio__http_parse_request(t, strlen(t), &r, NULL) > 0);
  ASSERT(r.path.n == 4 && memcmp(r.path.p, "/a/b", 4) == 0);
  ASSERT(r.query.n == 5 && memcmp(r.query.p, "x=1&y", 5) == 0);
  ASSERT(r.authority.p == NULL);
  t = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
  ASSERT(cio__http_parse_request(t, strlen(t), &r, NULL) > 0);
  ASSERT(r.query.p == NULL);
  t = "GET http://ex.com:8080/user/1/profile?z HTTP/1.1\r\nHost: h\r\n\r\n";
  ASSERT(cio__http_parse_request(t, strlen(t), &r, NULL) > 0);
  ASSERT(r.authority.n == 11 && memcmp(r.authority.p, "ex.com:8080", 11) == 0);
  ASSERT(r.path.n == 15 && memcmp(r.path.p, "/user/1/profile", 15) == 0);
  ASSERT(r.query.n == 1 && r.query.p[0] == 'z');
  t = "GET http://ex.com?q HTTP/1.1\r\nHost: h\r\n\r\n";
  ASSERT(cio__http_parse_request(t, strlen(t), &r, NULL) > 0);
  ASSERT(r.path.n == 1 && r.path.p[0] == '/');
  ASSERT(r.query.n == 1 && r.query.p[0] == 'q');
  t = "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n";
  ASSERT(cio__http_parse_request(t, strlen(t), &r, NULL) > 0);
  ASSERT(r.path.p == NULL); // the server answers 400
  // Leading empty lines are part of the head's length.
  t = "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\nNEXT";
  ASSERT_EQ(cio__http_parse_request(t, strlen(t), &r, NULL), (int)strlen(t) - 4);
  ASSERT(r.method.n == 3 && memcmp(r.method.p, "GET", 3) == 0);
  // ...and count against the head limit.
  char buf[600];
  size_t n = 0;
  while (n < 300) n += (size_t)snprintf(buf + n, sizeof buf - n, "\r\n");
  n += (size_t)snprintf(buf + n, sizeof buf - n, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  cio__http_limits lim = {.max_head = 256};
  ASSERT_EQ(cio__http_parse_request(buf, n, &r, &lim), -CIO__HTTP_HEAD_TOO_LARGE);
  ASSERT_EQ(cio__http_parse_request(buf, 300, &r, &lim), -CIO__HTTP_HEAD_TOO_LARGE);
  ASSERT_EQ(cio__http_parse_request(buf, 200, &r, &lim), 0);
  // RFC 9110 §10.1.1: a 100-continue in HTTP/1.0 is ignored.
  t = "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n";
  ASSERT(cio__http_parse_request(t, strlen(t), &r, NULL) > 0 && !r.expect_continue);
  t = "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n";
  ASSERT(cio__http_parse_request(t, strlen(t), &r, NULL) > 0 && r.expect_continue);
}

// Percent-decoding into valid UTF-8, as Python's unquote(errors="replace")
// (tests/http_diff.py checks the same against Python on random input).
static void text_decoding(void) {
  static const struct {
    const char *in;  // encoded
    bool plus;       // '+' is a space
    const char *out; // decoded
    size_t out_len;  //   its length
  } cases[] = {
      {"/%75ser/1", false, "/user/1", 7},
      {"a+b%20c", false, "a+b c", 5},
      {"a+b%20c", true, "a b c", 5},
      {"1%00abc", false, "1\0abc", 5},
      {"%", false, "%", 1},
      {"%4", false, "%4", 2},
      {"%zz%4g", false, "%zz%4g", 6},
      {"%C3%A9%e2%82%ac%F0%9F%98%80", false, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9},
      {"%ff", false, "\xef\xbf\xbd", 3},
      {"a%ffb%e2%82", false,
       "a\xef\xbf\xbd"
       "b\xef\xbf\xbd",
       8},                                                             // one per subpart
      {"%C0%AF", false, "\xef\xbf\xbd\xef\xbf\xbd", 6},                // overlong
      {"%ED%A0%80", false, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 9}, // a surrogate
      {"%F4%90%80%80", false, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 12},
      {"%E2%82A", false,
       "\xef\xbf\xbd"
       "A",
       4},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char out[64];
    size_t n = strlen(cases[i].in);
    size_t got = cio__http_decode(out, n, cases[i].in, n, cases[i].plus);
    if (got != cases[i].out_len || memcmp(out, cases[i].out, got) != 0)
      test_fail(__FILE__, __LINE__, "decode case %zu (%s): %zu bytes", i, cases[i].in, got);
  }
  // A character that does not fit is not cut in half.
  char out[4];
  ASSERT_EQ(cio__http_decode(out, 2, "a%ff", 4, false), 1);
}

static void limits(void) {
  cio__http_request r;
  cio__http_limits lim = {.max_line = 64, .max_head = 256, .max_headers = 4};
  char buf[2048];
  // URI too long: 414, even before the line is complete.
  memset(buf, 'a', sizeof buf);
  memcpy(buf, "GET /", 5);
  ASSERT_EQ(cio__http_parse_request(buf, 100, &r, &lim), -CIO__HTTP_URI_TOO_LONG);
  // Head too large (never ending): 431.
  int n = snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\nHost: a\r\n");
  while (n < 400) n += snprintf(buf + n, sizeof buf - (size_t)n, "X-Pad: %040d\r\n", n);
  ASSERT_EQ(cio__http_parse_request(buf, (size_t)n, &r, &lim), -CIO__HTTP_HEAD_TOO_LARGE);
  // Too many headers: 431.
  n = snprintf(buf, sizeof buf,
               "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n");
  ASSERT_EQ(cio__http_parse_request(buf, (size_t)n, &r, &lim), -CIO__HTTP_HEAD_TOO_LARGE);
  // Within the limits: fine.
  n = snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\n\r\n");
  ASSERT_EQ(cio__http_parse_request(buf, (size_t)n, &r, &lim), n);
}

// ---------------------------------------------------------------- chunked

struct chunk_case {
  const char *in;  // encoded body (and what follows it)
  const char *out; // decoded payload, or NULL for an error
  size_t tail;     // bytes after the body that must not be consumed
};

static const struct chunk_case chunk_cases[] = {
    {"5\r\nhello\r\n0\r\n\r\n", "hello", 0},
    {"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nNEXT", "hello world", 4},
    {"A;ext=1\r\n0123456789\r\n0\r\n\r\n", "0123456789", 0},
    {"3\r\nabc\r\n0\r\nTrailer: x\r\nOther: y\r\n\r\n", "abc", 0},
    {"0\r\n\r\n", "", 0},
    {"zz\r\n", NULL, 0},
    {"\r\n", NULL, 0},
    {";x\r\n", NULL, 0},
    {"5\r\nhelloX\r\n0\r\n\r\n", NULL, 0},
    {"5\nhello\r\n0\r\n\r\n", NULL, 0},
    {"fffffffffffffffff\r\n", NULL, 0},
    {"1\r\na\r\n0\r\nBad\x01: y\r\n\r\n", NULL, 0},
    // Extensions in their grammar (RFC 9112 §7.1.1): blanks around ';' and
    // '=', token and quoted values, names alone, blanks before the CR ...
    {"3 ; a = b ;c;d=\"x\\\"y; z\" \r\nabc\r\n0;last\r\n\r\n", "abc", 0},
    {"3 \r\nabc\r\n0\r\n\r\n", "abc", 0},
    {"3;a\t=\t\"\"\r\nabc\r\n0\r\n\r\n", "abc", 0},
    // ... and nothing else: text after the size, no name, no value, a
    // value that is not a token, an unclosed quote, a control character.
    {"5 xyz\r\nhello\r\n0\r\n\r\n", NULL, 0},
    {"5;=\r\nhello\r\n0\r\n\r\n", NULL, 0},
    {"5;\r\nhello\r\n0\r\n\r\n", NULL, 0},
    {"5;a=\r\nhello\r\n0\r\n\r\n", NULL, 0},
    {"5;a=b c\r\nhello\r\n0\r\n\r\n", NULL, 0},
    {"5;a=(b)\r\nhello\r\n0\r\n\r\n", NULL, 0},
    {"5;a=\"b\r\nhello\r\n0\r\n\r\n", NULL, 0},
    {"5;a=\"b\x01\"\r\nhello\r\n0\r\n\r\n", NULL, 0},
    {"5;a b\r\nhello\r\n0\r\n\r\n", NULL, 0},
};

static void chunked_decoder(void) {
  for (size_t i = 0; i < sizeof chunk_cases / sizeof chunk_cases[0]; i++) {
    const struct chunk_case *c = &chunk_cases[i];
    size_t len = strlen(c->in);
    // Whole.
    char buf[256];
    memcpy(buf, c->in, len);
    cio__http_chunked d = {0};
    size_t n = len, used = 0;
    int rc = cio__http_chunked_decode(&d, buf, &n, &used);
    if (!c->out) {
      if (rc >= 0) test_fail(__FILE__, __LINE__, "chunk case %zu accepted", i);
      continue;
    }
    if (rc != 1 || n != strlen(c->out) || memcmp(buf, c->out, n) != 0 || used != len - c->tail)
      test_fail(__FILE__, __LINE__, "chunk case %zu: rc %d, %zu bytes, used %zu", i, rc, n, used);
    // One byte at a time.
    cio__http_chunked d2 = {0};
    char out[256];
    size_t total = 0, consumed = 0;
    rc = 0;
    for (size_t k = 0; k < len && rc == 0; k++) {
      char byte = c->in[k];
      size_t one = 1, u = 0;
      rc = cio__http_chunked_decode(&d2, &byte, &one, &u);
      ASSERT(rc >= 0);
      if (one) out[total++] = byte;
      consumed += u;
    }
    if (rc != 1 || total != strlen(c->out) || memcmp(out, c->out, total) != 0 ||
        consumed != len - c->tail)
      test_fail(__FILE__, __LINE__, "chunk case %zu byte by byte: rc %d, %zu bytes", i, rc, total);
  }
}

// Extensions are bounded per size line (8 KiB) and over the body (1 MiB),
// not cumulatively at 8 KiB: 2,000 chunks of one byte with a short
// extension each decode (they were refused past about a thousand).
static void chunk_extensions_bounded_per_line(void) {
  static char body[2000 * 16 + 16];
  size_t len = 0;
  for (int i = 0; i < 2000; i++) len += (size_t)sprintf(body + len, "1;name=va\r\nx\r\n");
  len += (size_t)sprintf(body + len, "0\r\n\r\n");
  cio__http_chunked d = {0};
  size_t n = len, used = 0;
  ASSERT_EQ(cio__http_chunked_decode(&d, body, &n, &used), 1);
  ASSERT_EQ(n, 2000);
  ASSERT_EQ(used, len);
  // One size line with more than 8 KiB of extensions is still refused.
  static char one[9000];
  len = (size_t)sprintf(one, "1;");
  memset(one + len, 'a', 8200);
  len += 8200;
  len += (size_t)sprintf(one + len, "\r\nx\r\n0\r\n\r\n");
  cio__http_chunked d2 = {0};
  n = len;
  ASSERT(cio__http_chunked_decode(&d2, one, &n, &used) < 0);
}

// ---------------------------------------------------------------- responses

struct resp_case {
  const char *text; // the response head (and maybe body bytes after it)
  int expect;       // 0: the whole text is the head; >0: head length; <0: -status
  int status;       //   and, when parsed, the status
  int body;         //   and how the body of a GET's answer ends
};

static const struct resp_case responses[] = {
    {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", 0, 200, CIO__HTTP_BODY_LENGTH},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 200, CIO__HTTP_BODY_CHUNKED},
    {"HTTP/1.1 200 OK\r\n\r\n", 0, 200, CIO__HTTP_BODY_CLOSE},
    {"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", 0, 200, CIO__HTTP_BODY_LENGTH}, // no reason
    {"HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", 0, 200, CIO__HTTP_BODY_LENGTH},
    {"HTTP/1.1 404 Not \xc3\xa9 found\t!\r\n\r\n", 0, 404, CIO__HTTP_BODY_CLOSE}, // obs-text
    {"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi", 38, 200, CIO__HTTP_BODY_LENGTH},
    {"HTTP/1.2 200 OK\r\n\r\n", 0, 200, CIO__HTTP_BODY_CLOSE}, // a later 1.x reads as 1.1
    {"HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n", 0, 204, CIO__HTTP_BODY_NONE},
    {"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 304,
     CIO__HTTP_BODY_NONE},
    {"HTTP/1.1 100 Continue\r\n\r\n", 0, 100, CIO__HTTP_BODY_NONE},
    {"HTTP/1.1 599 x\r\n\r\n", 0, 599, CIO__HTTP_BODY_CLOSE},
    {"HTTP/1.1 999 x\r\n\r\n", 0, 999, CIO__HTTP_BODY_CLOSE}, // invalid, yet readable
    {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", 0, 200,
     CIO__HTTP_BODY_LENGTH},
    {"HTTP/1.1 200 OK\r\nX: a\r\n  b\r\n\tc\r\nContent-Length: 1\r\n\r\n", 0, 200,
     CIO__HTTP_BODY_LENGTH}, // obs-fold, kept (RFC 9112 §5.2)
    // The status line.
    {"HTTP/2.0 200 OK\r\n\r\n", -CIO__HTTP_VERSION, 0, 0},
    {"HTTP/2-0 200 OK\r\n\r\n", -CIO__HTTP_BAD, 0, 0}, // fuzz/regression/client-status-line-http2-0
    {"HTTP/1.1 20 OK\r\n\r\n", -CIO__HTTP_BAD, 0, 0},
    {"HTTP/1.1 2000 OK\r\n\r\n", -CIO__HTTP_BAD, 0, 0},
    {"HTTP/1.1 099 OK\r\n\r\n", -CIO__HTTP_BAD, 0, 0},
    {"HTTP/1.1 2x0 OK\r\n\r\n", -CIO__HTTP_BAD, 0, 0},
    {"HTTP/1.1  200 OK\r\n\r\n", -CIO__HTTP_BAD, 0, 0},
    {"HTTP/1.1 200 O\x01K\r\n\r\n", -CIO__HTTP_BAD, 0, 0},
    {"http/1.1 200 OK\r\n\r\n", -CIO__HTTP_BAD, 0, 0},
    {"ICY 200 OK\r\n\r\n", -CIO__HTTP_BAD, 0, 0},
    // Line endings and fields.
    {"HTTP/1.1 200 OK\nContent-Length: 0\n\n", -CIO__HTTP_BAD, 0, 0},
    {"HTTP/1.1 200 OK\rX: a\r\n\r\n", -CIO__HTTP_BAD, 0, 0},
    {"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", -CIO__HTTP_BAD, 0, 0},
    {"HTTP/1.1 200 OK\r\n folded-first: x\r\n\r\n", -CIO__HTTP_BAD, 0, 0},
    {"HTTP/1.1 200 OK\r\nX : a\r\n\r\n", -CIO__HTTP_BAD, 0, 0},
    {"HTTP/1.1 200 OK\r\n: a\r\n\r\n", -CIO__HTTP_BAD, 0, 0},
    {"HTTP/1.1 200 OK\r\nX: \x7f\r\n\r\n", -CIO__HTTP_BAD, 0, 0},
    // Framing.
    {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", -CIO__HTTP_BAD, 0, 0},
    {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", -CIO__HTTP_BAD, 0, 0},
    {"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n", -CIO__HTTP_BAD, 0, 0},
    {"HTTP/1.1 200 OK\r\nContent-Length: 1e3\r\n\r\n", -CIO__HTTP_BAD, 0, 0},
    {"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", -CIO__HTTP_BAD, 0, 0},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", -CIO__HTTP_BAD,
     0, 0},
    {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", -CIO__HTTP_BAD,
     0, 0},
    {"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", -CIO__HTTP_BAD, 0, 0},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", -CIO__HTTP_BAD, 0, 0},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
     -CIO__HTTP_BAD, 0, 0},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", -CIO__HTTP_NOT_IMPLEMENTED, 0,
     0},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\n", -CIO__HTTP_NOT_IMPLEMENTED, 0, 0},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\n\r\n", -CIO__HTTP_BAD, 0, 0},
};

// As parse_guarded, for a response (the copy is written: obs-fold).
static int parse_response_guarded(const char *text, size_t len, cio__http_response_head *r) {
  return cio__http_parse_response(guarded_copy(text, len), len, r, NULL);
}

static void response_table(void) {
  for (size_t i = 0; i < sizeof responses / sizeof responses[0]; i++) {
    const struct resp_case *c = &responses[i];
    size_t len = strlen(c->text);
    int want = c->expect == 0 ? (int)len : c->expect;
    cio__http_response_head r;
    int got = parse_response_guarded(c->text, len, &r);
    if (got != want)
      test_fail(__FILE__, __LINE__, "response %zu: got %d, want %d: %s", i, got, want, c->text);
    if (got > 0 && (r.status != c->status || (int)cio__http_response_body(&r, false) != c->body))
      test_fail(__FILE__, __LINE__, "response %zu: status %d, body end %d: %s", i, r.status,
                (int)cio__http_response_body(&r, false), c->text);
    for (size_t k = 0; k < (size_t)(want > 0 ? want : (int)len); k++) {
      int part = parse_response_guarded(c->text, k, &r);
      if (part != 0 && !(want < 0 && part == want))
        test_fail(__FILE__, __LINE__, "response %zu split at %zu: got %d", i, k, part);
    }
  }
}

static void response_fields(void) {
  char text[] = "HTTP/1.1 201 Created here\r\nLocation: /u/1\r\nX-Fold: a\r\n  b\r\n"
                "Connection: close\r\nContent-Length: 3\r\n\r\nabc";
  cio__http_response_head r;
  ASSERT_EQ(cio__http_parse_response(text, strlen(text), &r, NULL), (int)strlen(text) - 3);
  ASSERT_EQ(r.status, 201);
  ASSERT_EQ(r.minor, 1);
  ASSERT(r.reason.n == 12 && memcmp(r.reason.p, "Created here", 12) == 0);
  ASSERT_EQ(r.nheaders, 4);
  ASSERT_EQ(r.content_length, 3);
  ASSERT(!r.keep_alive && !r.chunked);
  const cio__http_slice *v = cio__http_response_header(&r, "LOCATION");
  ASSERT(v && v->n == 4 && memcmp(v->p, "/u/1", 4) == 0);
  v = cio__http_response_header(&r, "x-fold"); // the fold is blanks now: one value
  ASSERT(v && v->n == 6 && memcmp(v->p, "a    b", 6) == 0);
  ASSERT(cio__http_response_header(&r, "absent") == NULL);
  // The answer to a HEAD has no body, whatever its head says.
  ASSERT_EQ(cio__http_response_body(&r, true), CIO__HTTP_BODY_NONE);
  ASSERT_EQ(cio__http_response_body(&r, false), CIO__HTTP_BODY_LENGTH);

  // Keep-alive: HTTP/1.1 unless "close"; HTTP/1.0 only with "keep-alive".
  static const struct {
    const char *text;
    bool keep;
  } keep[] = {
      {"HTTP/1.1 200 OK\r\n\r\n", true},
      {"HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\n\r\n", false},
      {"HTTP/1.0 200 OK\r\n\r\n", false},
      {"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n\r\n", true},
      {"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", false},
  };
  for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
    char buf[128];
    size_t n = strlen(keep[i].text);
    memcpy(buf, keep[i].text, n);
    ASSERT_EQ(cio__http_parse_response(buf, n, &r, NULL), (int)n);
    if (r.keep_alive != keep[i].keep) test_fail(__FILE__, __LINE__, "keep-alive: %s", buf);
  }

  // Limits: the status line, the head, the header count.
  static char big[20000];
  cio__http_limits lim = {.max_line = 64, .max_head = 256, .max_headers = 4};
  size_t n = (size_t)sprintf(big, "HTTP/1.1 200 %070d\r\n\r\n", 0);
  ASSERT_EQ(cio__http_parse_response(big, n, &r, &lim), -CIO__HTTP_HEAD_TOO_LARGE);
  ASSERT_EQ(cio__http_parse_response(big, 40, &r, &lim), 0); // not over yet
  ASSERT_EQ(cio__http_parse_response(big, 70, &r, &lim), -CIO__HTTP_HEAD_TOO_LARGE);
  n = (size_t)sprintf(big, "HTTP/1.1 200 OK\r\nX: %0250d\r\n\r\n", 0);
  ASSERT_EQ(cio__http_parse_response(big, n, &r, &lim), -CIO__HTTP_HEAD_TOO_LARGE);
  n = (size_t)sprintf(big, "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n");
  ASSERT_EQ(cio__http_parse_response(big, n, &r, &lim), (int)n);
  n = (size_t)sprintf(big, "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n");
  ASSERT_EQ(cio__http_parse_response(big, n, &r, &lim), -CIO__HTTP_HEAD_TOO_LARGE);
}

static const test_case cases[] = {
    {"chunk_extensions_bounded_per_line", chunk_extensions_bounded_per_line, 0},
    {"request_table", request_table, 0},
    {"request_fields", request_fields, 0},
    {"request_targets", request_targets, 0},
    {"text_decoding", text_decoding, 0},
    {"limits", limits, 0},
    {"chunked_decoder", chunked_decoder, 0},
    {"response_table", response_table, 0},
    {"response_fields", response_fields, 0},
};
TEST_MAIN(cases)
