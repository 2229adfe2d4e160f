// SPDX-License-Identifier: MIT
//
// The HTTP/1.x request parser (see parse.h).  The head is checked in one
// pass once its end (CRLF CRLF) is in the buffer; until then only the
// limits are checked, so a slow client cannot make it work more than once
// per byte received.
//
// What is rejected, and why (RFC 9112 unless noted):
//   - a bare CR or a bare LF as a line ending (§2.2: a recipient that
//     accepts them can disagree with a proxy about where a line ends);
//   - whitespace between a field name and its colon (§5.1), obs-fold
//     continuation lines (§5.2), control characters in values;
//   - Content-Length that is not all digits, or several that differ (§6.3);
//   - Transfer-Encoding together with Content-Length (§6.1: the classic
//     smuggling vector), Transfer-Encoding in HTTP/1.0, "chunked" not last
//     or twice; any other coding is 501, since cio decodes only chunked;
//   - HTTP/1.1 without a Host, or any request with more than one (§3.2).
#include "parse.h"

#include <string.h>
#include <strings.h>

#define DEFAULT_LINE 8192
#define DEFAULT_HEAD 16384

// RFC 9110 token characters.
static bool is_tchar(unsigned char c) {
  static const char extra[] = "!#$%&'*+-.^_`|~";
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c && strchr(extra, c));
}

static bool slice_is(cio__http_slice s, const char *lit) {
  size_t n = strlen(lit);
  return s.n == n && strncasecmp(s.p, lit, n) == 0;
}

// Finds the end of the head: the index just past CRLF CRLF, or 0.
// A bare LF anywhere makes it an error (-1).
static long find_end(const char *buf, size_t len) {
  for (size_t i = 0; i < len; i++) {
    if (buf[i] != '\n') continue;
    if (i == 0 || buf[i - 1] != '\r') return -1;
    if (i >= 3 && buf[i - 2] == '\n' && buf[i - 3] == '\r') return (long)i + 1;
  }
  return 0;
}

// Parses "1*DIGIT" into *v without overflow.
static bool parse_length(cio__http_slice s, int64_t *v) {
  if (s.n == 0 || s.n > 18) return false;
  int64_t x = 0;
  for (size_t i = 0; i < s.n; i++) {
    if (s.p[i] < '0' || s.p[i] > '9') return false;
    x = x * 10 + (s.p[i] - '0');
  }
  *v = x;
  return true;
}

// Transfer-Encoding: a comma-separated list; only "chunked", once and last.
// Empty elements (", chunked", "chunked,"), which RFC 9110 §5.6.1 lets a
// recipient skip, are refused, as nginx, Go and h11 refuse them: a framing
// header that a proxy in front may read another way is how requests are
// smuggled (the differential test against h11 found this one).
static int parse_te(cio__http_request *r, cio__http_slice v, bool *seen_chunked) {
  size_t i = 0;
  for (;;) {
    while (i < v.n && (v.p[i] == ' ' || v.p[i] == '\t')) i++;
    size_t start = i;
    while (i < v.n && v.p[i] != ',') i++;
    size_t end = i;
    while (end > start && (v.p[end - 1] == ' ' || v.p[end - 1] == '\t')) end--;
    if (end == start) return -CIO__HTTP_BAD; // an empty element
    cio__http_slice coding = {v.p + start, end - start};
    if (*seen_chunked) return -CIO__HTTP_BAD; // something after chunked
    if (!slice_is(coding, "chunked")) {
      for (size_t k = 0; k < coding.n; k++)
        if (!is_tchar((unsigned char)coding.p[k])) return -CIO__HTTP_BAD;
      return -CIO__HTTP_NOT_IMPLEMENTED;
    }
    *seen_chunked = true;
    if (i == v.n) break;
    i++; // past the comma
  }
  r->chunked = *seen_chunked;
  return 0;
}

// Connection: a list of options; "close" and "keep-alive" matter.
static void parse_connection(cio__http_slice v, bool *close, bool *keep) {
  size_t i = 0;
  while (i < v.n) {
    while (i < v.n && (v.p[i] == ' ' || v.p[i] == '\t' || v.p[i] == ',')) i++;
    size_t start = i;
    while (i < v.n && v.p[i] != ',' && v.p[i] != ' ' && v.p[i] != '\t') i++;
    cio__http_slice opt = {v.p + start, i - start};
    if (slice_is(opt, "close")) *close = true;
    if (slice_is(opt, "keep-alive")) *keep = true;
  }
}

static int parse_request_line(const char *p, const char *eol, cio__http_request *r) {
  const char *s = p;
  while (s < eol && is_tchar((unsigned char)*s)) s++;
  if (s == p || s >= eol || *s != ' ') return -CIO__HTTP_BAD;
  r->method = (cio__http_slice){p, (size_t)(s - p)};
  const char *t = ++s;
  while (s < eol && (unsigned char)*s > ' ' && (unsigned char)*s < 0x7f) s++;
  if (s == t || s >= eol || *s != ' ') return -CIO__HTTP_BAD;
  r->target = (cio__http_slice){t, (size_t)(s - t)};
  s++;
  if (eol - s != 8 || memcmp(s, "HTTP/", 5) != 0 || s[6] != '.' || s[5] < '0' || s[5] > '9' ||
      s[7] < '0' || s[7] > '9')
    return -CIO__HTTP_BAD;
  if (s[5] != '1' || (s[7] != '0' && s[7] != '1')) return -CIO__HTTP_VERSION;
  r->minor = s[7] - '0';
  return 0;
}

static int parse_header(const char *p, const char *eol, cio__http_header *h) {
  const char *s = p;
  while (s < eol && is_tchar((unsigned char)*s)) s++;
  // An empty name, obs-fold (a line starting with whitespace) and
  // whitespace before the colon all end up here.
  if (s == p || s >= eol || *s != ':') return -CIO__HTTP_BAD;
  h->name = (cio__http_slice){p, (size_t)(s - p)};
  s++;
  while (s < eol && (*s == ' ' || *s == '\t')) s++;
  const char *v = s, *end = eol;
  for (const char *c = v; c < eol; c++) {
    unsigned char ch = (unsigned char)*c;
    if ((ch < ' ' && ch != '\t') || ch == 0x7f) return -CIO__HTTP_BAD; // CTLs, bare CR
  }
  while (end > v && (end[-1] == ' ' || end[-1] == '\t')) end--;
  h->value = (cio__http_slice){v, (size_t)(end - v)};
  return 0;
}

int cio__http_parse_request(const char *buf, size_t len, cio__http_request *r,
                            const cio__http_limits *lim) {
  size_t max_line = lim && lim->max_line ? lim->max_line : DEFAULT_LINE;
  size_t max_head = lim && lim->max_head ? lim->max_head : DEFAULT_HEAD;
  size_t max_headers = lim && lim->max_headers ? lim->max_headers : CIO__HTTP_MAX_HEADERS;
  if (max_headers > CIO__HTTP_MAX_HEADERS) max_headers = CIO__HTTP_MAX_HEADERS;
  const char *line_end = memchr(buf, '\n', len);
  if (!line_end && len > max_line) return -CIO__HTTP_URI_TOO_LONG;
  if (line_end && (size_t)(line_end - buf) > max_line) return -CIO__HTTP_URI_TOO_LONG;
  long end = find_end(buf, len < max_head + 4 ? len : max_head + 4);
  if (end < 0) return -CIO__HTTP_BAD;
  if (end == 0) return len > max_head ? -CIO__HTTP_HEAD_TOO_LARGE : 0;

  memset(r, 0, sizeof *r);
  r->content_length = -1;
  const char *p = buf, *stop = buf + end - 2; // the final CRLF
  const char *eol = memchr(p, '\r', (size_t)(stop - p));
  int rc = parse_request_line(p, eol, r);
  if (rc < 0) return rc;
  bool close = false, keep = false, seen_chunked = false, seen_te = false;
  int hosts = 0;
  for (p = eol + 2; p < stop; p = eol + 2) {
    eol = memchr(p, '\r', (size_t)(stop - p));
    if (!eol || eol[1] != '\n') return -CIO__HTTP_BAD; // a bare CR
    if (r->nheaders == max_headers) return -CIO__HTTP_HEAD_TOO_LARGE;
    cio__http_header *h = &r->headers[r->nheaders];
    if ((rc = parse_header(p, eol, h)) < 0) return rc;
    r->nheaders++;
    if (slice_is(h->name, "content-length")) {
      int64_t v;
      if (!parse_length(h->value, &v)) return -CIO__HTTP_BAD;
      if (r->content_length >= 0 && r->content_length != v) return -CIO__HTTP_BAD;
      r->content_length = v;
    } else if (slice_is(h->name, "transfer-encoding")) {
      seen_te = true;
      if ((rc = parse_te(r, h->value, &seen_chunked)) < 0) return rc;
    } else if (slice_is(h->name, "host")) {
      hosts++;
    } else if (slice_is(h->name, "connection")) {
      parse_connection(h->value, &close, &keep);
    } else if (slice_is(h->name, "expect")) {
      if (!slice_is(h->value, "100-continue")) return -CIO__HTTP_BAD; // 417 in spirit
      r->expect_continue = true;
    }
  }
  if (seen_te && (!r->chunked || r->content_length >= 0 || r->minor == 0)) return -CIO__HTTP_BAD;
  // Missing: only HTTP/1.1 must have one.  Repeated: 400 for any version.
  if (hosts > 1 || (r->minor == 1 && hosts != 1)) return -CIO__HTTP_BAD;
  r->keep_alive = r->minor == 1 ? !close : keep && !close;
  return (int)end;
}

const cio__http_slice *cio__http_header_get(const cio__http_request *r, const char *name) {
  for (size_t i = 0; i < r->nheaders; i++)
    if (slice_is(r->headers[i].name, name)) return &r->headers[i].value;
  return NULL;
}

// ---------------------------------------------------------------- chunked

enum {
  SIZE,       // hex digits of the chunk size
  EXT,        // ";ext" after the size, up to CR
  SIZE_LF,    // LF after the size line
  DATA,       // chunk payload
  DATA_CR,    // CR after the payload
  DATA_LF,    // LF after it
  TRAILER,    // start of a trailer line (or the final empty line)
  TRAILER_IN, // inside a trailer line
  TRAILER_LF, // LF ending a trailer line
  END_LF,     // LF of the final empty line
  DONE,
};

#define MAX_TRAILER 8192

static int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int cio__http_chunked_decode(cio__http_chunked *d, char *buf, size_t *len, size_t *used) {
  size_t in = 0, out = 0, n = *len;
  while (in < n && d->state != DONE) {
    char c = buf[in];
    switch (d->state) {
    case SIZE: {
      int h = hex(c);
      if (h >= 0) {
        if (d->remaining >> 59) return -CIO__HTTP_BAD; // would overflow
        d->remaining = d->remaining * 16 + (uint64_t)h;
        d->digits = true;
        in++;
        break;
      }
      if (!d->digits) return -CIO__HTTP_BAD; // a size line without a size
      if (c == ';' || c == ' ' || c == '\t') {
        d->state = EXT;
      } else if (c == '\r') {
        d->state = SIZE_LF;
        in++;
      } else {
        return -CIO__HTTP_BAD;
      }
      break;
    }
    case EXT:
      if (c == '\r') {
        d->state = SIZE_LF;
      } else if ((unsigned char)c < ' ' && c != '\t') {
        return -CIO__HTTP_BAD;
      } else if (++d->trailer > MAX_TRAILER) {
        return -CIO__HTTP_BAD;
      }
      in++;
      break;
    case SIZE_LF:
      if (c != '\n') return -CIO__HTTP_BAD;
      in++;
      d->state = d->remaining ? DATA : TRAILER;
      break;
    case DATA: {
      size_t take = n - in < d->remaining ? n - in : (size_t)d->remaining;
      memmove(buf + out, buf + in, take);
      out += take;
      in += take;
      d->remaining -= take;
      if (!d->remaining) d->state = DATA_CR;
      break;
    }
    case DATA_CR:
      if (c != '\r') return -CIO__HTTP_BAD;
      in++;
      d->state = DATA_LF;
      break;
    case DATA_LF:
      if (c != '\n') return -CIO__HTTP_BAD;
      in++;
      d->state = SIZE;
      d->digits = false;
      break;
    case TRAILER:
      if (c == '\r') {
        d->state = END_LF;
        in++;
        break;
      }
      d->state = TRAILER_IN;
      break;
    case TRAILER_IN:
      if (c == '\r')
        d->state = TRAILER_LF;
      else if (((unsigned char)c < ' ' && c != '\t') || ++d->trailer > MAX_TRAILER)
        return -CIO__HTTP_BAD;
      in++;
      break;
    case TRAILER_LF:
      if (c != '\n') return -CIO__HTTP_BAD;
      in++;
      d->state = TRAILER;
      break;
    case END_LF:
      if (c != '\n') return -CIO__HTTP_BAD;
      in++;
      d->state = DONE;
      break;
    }
  }
  *len = out;
  *used = in;
  return d->state == DONE ? 1 : 0;
}
