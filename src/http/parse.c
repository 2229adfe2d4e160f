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
//   - HTTP/1.1 without a Host, or any request with more than one (§3.2),
//     or a Host that is not a URI authority (§3.2: "a Host header field with
//     an invalid field value"): `a b`, `a@b` (userinfo), `a/b`;
//   - an absolute-form target whose scheme is not http(s), or whose
//     authority is empty or invalid (RFC 9110 §4.2.1, §4.2.4).
// What is accepted that a strict reading might not:
//   - empty lines (CRLF) before the request line, any number while the head
//     stays within its limit (§2.2: SHOULD ignore at least one; nginx
//     ignores any number), also between pipelined requests;
//   - an absolute-form target (§3.2.2: a server MUST accept it): its path
//     is routed, and its authority stands for the Host header.
// The second half of the file decodes percent-escapes into valid UTF-8, for
// paths and query strings.
#include "parse.h"

#include <string.h>
#include <strings.h>

#define DEFAULT_LINE 8192
#define DEFAULT_HEAD 16384

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
static int parse_te(cio__http_slice v, bool *seen_chunked) {
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
        if (!cio__http_is_tchar((unsigned char)coding.p[k])) return -CIO__HTTP_BAD;
      return -CIO__HTTP_NOT_IMPLEMENTED;
    }
    *seen_chunked = true;
    if (i == v.n) break;
    i++; // past the comma
  }
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

// What a head's fields say about its framing and its connection, in
// requests and responses alike.
struct framing {
  int64_t content_length; // -1: none
  bool te, chunked;       // Transfer-Encoding seen; its last coding was chunked
  bool close, keep;       // Connection: close, keep-alive
};

// Takes header h into f if it is Content-Length (digits only; several must
// agree), Transfer-Encoding (parse_te) or Connection.  Returns 1 if it was
// one of them, 0 if not, or a negative status.
static int framing_field(const cio__http_header *h, struct framing *f) {
  if (slice_is(h->name, "content-length")) {
    int64_t v;
    if (!parse_length(h->value, &v)) return -CIO__HTTP_BAD;
    if (f->content_length >= 0 && f->content_length != v) return -CIO__HTTP_BAD;
    f->content_length = v;
  } else if (slice_is(h->name, "transfer-encoding")) {
    f->te = true;
    int rc = parse_te(h->value, &f->chunked);
    if (rc < 0) return rc;
  } else if (slice_is(h->name, "connection")) {
    parse_connection(h->value, &f->close, &f->keep);
  } else {
    return 0;
  }
  return 1;
}

// The limits with their defaults filled in; at most `most` headers (the
// parsed head's room).
static cio__http_limits limits_or_defaults(const cio__http_limits *lim, size_t most) {
  cio__http_limits l = lim ? *lim : (cio__http_limits){0};
  if (!l.max_line) l.max_line = DEFAULT_LINE;
  if (!l.max_head) l.max_head = DEFAULT_HEAD;
  if (!l.max_headers) l.max_headers = CIO__HTTP_MAX_HEADERS;
  if (l.max_headers > most) l.max_headers = most;
  return l;
}

static int parse_request_line(const char *p, const char *eol, cio__http_request *r) {
  const char *s = p;
  while (s < eol && cio__http_is_tchar((unsigned char)*s)) s++;
  if (s == p || s >= eol || *s != ' ') return -CIO__HTTP_BAD;
  r->method = (cio__http_slice){p, (size_t)(s - p)};
  const char *t = ++s;
  // (No '#': a fragment is never sent, RFC 9112 §3.2; it would reach the
  // route as part of the path.)
  while (s < eol && (unsigned char)*s > ' ' && (unsigned char)*s < 0x7f && *s != '#') s++;
  if (s == t || s >= eol || *s != ' ') return -CIO__HTTP_BAD;
  r->target = (cio__http_slice){t, (size_t)(s - t)};
  s++;
  if (eol - s != 8 || memcmp(s, "HTTP/", 5) != 0 || s[6] != '.' || s[5] < '0' || s[5] > '9' ||
      s[7] < '0' || s[7] > '9')
    return -CIO__HTTP_BAD;
  // HTTP/1.2 and up are answered as 1.1 (RFC 9110 §2.5); 2.0 and up is 505.
  if (s[5] != '1') return -CIO__HTTP_VERSION;
  r->minor = s[7] == '0' ? 0 : 1;
  return 0;
}

static int hex(char c);

// RFC 3986 unreserved and sub-delims: what a reg-name is made of (with %XX).
static bool host_char(unsigned char c) {
  static const char extra[] = "-._~!$&'()*+,;=";
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c && strchr(extra, c));
}

// host [":" port]; with need_host, the host must not be empty (an http URI).
static bool valid_authority(cio__http_slice a, bool need_host) {
  const char *p = a.p;
  size_t i = 0, n = a.n;
  if (n && p[0] == '[') { // IP-literal: IPv6address, or IPvFuture ("v1.x")
    bool future = n > 1 && (p[1] == 'v' || p[1] == 'V');
    for (i = 1; i < n && p[i] != ']'; i++) {
      unsigned char c = (unsigned char)p[i];
      if (!(future ? host_char(c) || c == ':' : hex((char)c) >= 0 || c == ':' || c == '.'))
        return false;
    }
    if (i == n || i == 1) return false; // no ']', or "[]"
    i++;
  } else { // reg-name (an IPv4 address is one too)
    while (i < n && p[i] != ':') {
      if (p[i] == '%') {
        if (n - i < 3 || hex(p[i + 1]) < 0 || hex(p[i + 2]) < 0) return false;
        i += 3;
      } else if (host_char((unsigned char)p[i])) {
        i++;
      } else {
        return false;
      }
    }
    if (need_host && i == 0) return false;
  }
  if (i == n) return true;
  if (p[i++] != ':') return false;
  for (; i < n; i++)
    if (p[i] < '0' || p[i] > '9') return false;
  return true;
}

bool cio__http_valid_host(cio__http_slice s) { return valid_authority(s, false); }

// Splits the target into path, query and, in absolute-form, authority.  A
// target that is neither origin- nor absolute-form ("*", "host:443") gets
// no path: the server answers 400, as it serves neither OPTIONS * nor
// CONNECT.
static int parse_target(cio__http_request *r) {
  const char *t = r->target.p, *end = t + r->target.n, *p = t;
  if (*t != '/') {
    const char *s = t;
    while (s < end &&
           ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
            (s > t && ((*s >= '0' && *s <= '9') || *s == '+' || *s == '-' || *s == '.'))))
      s++;
    if (s == t || end - s < 3 || memcmp(s, "://", 3) != 0) return 0;
    cio__http_slice scheme = {t, (size_t)(s - t)};
    if (!slice_is(scheme, "http") && !slice_is(scheme, "https")) return -CIO__HTTP_BAD;
    const char *a = s + 3;
    for (p = a; p < end && *p != '/' && *p != '?';) p++;
    r->authority = (cio__http_slice){a, (size_t)(p - a)};
    if (!valid_authority(r->authority, true)) return -CIO__HTTP_BAD;
  }
  const char *q = memchr(p, '?', (size_t)(end - p));
  r->path = (cio__http_slice){p, (size_t)((q ? q : end) - p)};
  if (r->path.n == 0) r->path = (cio__http_slice){"/", 1}; // "http://h" or "http://h?x"
  if (q) r->query = (cio__http_slice){q + 1, (size_t)(end - q - 1)};
  return 0;
}

static int parse_header(const char *p, const char *eol, cio__http_header *h) {
  const char *s = p;
  while (s < eol && cio__http_is_tchar((unsigned char)*s)) s++;
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

static int parse_head(const char *buf, size_t len, cio__http_request *r, size_t max_line,
                      size_t max_head, size_t max_headers) {
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
  if (!eol || eol[1] != '\n') return -CIO__HTTP_BAD; // a bare CR in the request line
  int rc = parse_request_line(p, eol, r);
  if (rc < 0 || (rc = parse_target(r)) < 0) return rc;
  struct framing f = {.content_length = -1};
  bool expect_other = false;
  int hosts = 0;
  for (p = eol + 2; p < stop; p = eol + 2) {
    eol = memchr(p, '\r', (size_t)(stop - p));
    if (!eol || eol[1] != '\n') return -CIO__HTTP_BAD; // a bare CR
    if (r->nheaders == max_headers) return -CIO__HTTP_HEAD_TOO_LARGE;
    cio__http_header *h = &r->headers[r->nheaders];
    if ((rc = parse_header(p, eol, h)) < 0) return rc;
    r->nheaders++;
    if ((rc = framing_field(h, &f)) < 0) return rc;
    if (rc > 0) continue;
    if (slice_is(h->name, "host")) {
      if (!cio__http_valid_host(h->value)) return -CIO__HTTP_BAD;
      hosts++;
    } else if (slice_is(h->name, "expect")) {
      // RFC 9110 §10.1.1: 100-continue is the only expectation; an HTTP/1.0
      // client cannot have asked for it.  Any other: 417, once the head is
      // known to be well-formed.
      expect_other |= !slice_is(h->value, "100-continue");
      r->expect_continue = r->minor == 1 && !expect_other;
    }
  }
  r->content_length = f.content_length;
  r->chunked = f.chunked;
  if (f.te && (!f.chunked || f.content_length >= 0 || r->minor == 0)) return -CIO__HTTP_BAD;
  // Missing: only HTTP/1.1 must have one.  Repeated: 400 for any version.
  if (hosts > 1 || (r->minor == 1 && hosts != 1)) return -CIO__HTTP_BAD;
  if (expect_other) return -CIO__HTTP_EXPECTATION_FAILED;
  r->keep_alive = r->minor == 1 ? !f.close : f.keep && !f.close;
  return (int)end;
}

int cio__http_parse_request(const char *buf, size_t len, cio__http_request *r,
                            const cio__http_limits *lim) {
  cio__http_limits l = limits_or_defaults(lim, CIO__HTTP_MAX_HEADERS);
  // Empty lines before the request line (§2.2) count against the head limit.
  size_t skip = 0;
  while (len - skip >= 2 && buf[skip] == '\r' && buf[skip + 1] == '\n') skip += 2;
  if (skip >= l.max_head) return -CIO__HTTP_HEAD_TOO_LARGE;
  int rc = parse_head(buf + skip, len - skip, r, l.max_line, l.max_head - skip, l.max_headers);
  return rc > 0 ? rc + (int)skip : rc;
}

const cio__http_slice *cio__http_header_get(const cio__http_request *r, const char *name) {
  for (size_t i = 0; i < r->nheaders; i++)
    if (slice_is(r->headers[i].name, name)) return &r->headers[i].value;
  return NULL;
}

// ---------------------------------------------------------------- chunked

enum {
  SIZE,       // hex digits of the chunk size
  SIZE_LF,    // LF after the size line
  DATA,       // chunk payload
  DATA_CR,    // CR after the payload
  DATA_LF,    // LF after it
  TRAILER,    // start of a trailer line (or the final empty line)
  TRAILER_IN, // inside a trailer line
  TRAILER_LF, // LF ending a trailer line
  END_LF,     // LF of the final empty line
  DONE,
  // The extensions after a size (RFC 9112 §7.1.1), in their grammar:
  // *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ), blanks
  // before the CR allowed (as h11 and Go allow them).
  EXT_BWS,      // blanks after the size or a value: ';' or CR next
  EXT_NAME0,    // after ';': blanks, then a name's first byte
  EXT_NAME,     // in a name (a token)
  EXT_NAME_BWS, // blanks after a name: '=', ';' or CR next
  EXT_VAL0,     // after '=': blanks, then a token or a quoted string
  EXT_TOKEN,    // in a token value
  EXT_QUOTED,   // in a quoted value
  EXT_PAIR,     // after a backslash in a quoted value
};

#define MAX_TRAILER 8192            // a size line's extensions; the trailers
#define MAX_EXT_TOTAL (1024 * 1024) // the extensions of all chunks

// The states that want one exact byte, and the state each goes to then.
static const struct {
  char want;          // the byte
  unsigned char next; //   and the state after it
} exact[] = {
    [SIZE_LF] = {'\n', DATA},       [DATA_CR] = {'\r', DATA_LF}, [DATA_LF] = {'\n', SIZE},
    [TRAILER_LF] = {'\n', TRAILER}, [END_LF] = {'\n', DONE},
};

static int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static bool blank(char c) { return c == ' ' || c == '\t'; }

// The state after byte c of a size line's extensions in state `st`, SIZE_LF
// at its CR, or -1 where the grammar has no place for c.
static int ext_next(int st, char c) {
  unsigned char u = (unsigned char)c;
  bool tchar = cio__http_is_tchar(u);
  switch (st) {
  case EXT_NAME0: return blank(c) ? EXT_NAME0 : tchar ? EXT_NAME : -1;
  case EXT_VAL0: return blank(c) ? EXT_VAL0 : c == '"' ? EXT_QUOTED : tchar ? EXT_TOKEN : -1;
  case EXT_QUOTED: // qdtext, a quoted pair, or the end
    if (c == '"') return EXT_BWS;
    if (c == '\\') return EXT_PAIR;
    return c == '\t' || (u >= 0x20 && u != 0x7f) ? EXT_QUOTED : -1;
  case EXT_PAIR: return c == '\t' || (u >= 0x20 && u != 0x7f) ? EXT_QUOTED : -1;
  default: // EXT_NAME, EXT_TOKEN, EXT_BWS, EXT_NAME_BWS
    if (tchar && (st == EXT_NAME || st == EXT_TOKEN)) return st;
    if (blank(c)) return st == EXT_NAME || st == EXT_NAME_BWS ? EXT_NAME_BWS : EXT_BWS;
    if (c == ';') return EXT_NAME0;
    if (c == '\r') return SIZE_LF;
    if (c == '=' && (st == EXT_NAME || st == EXT_NAME_BWS)) return EXT_VAL0;
    return -1;
  }
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
      if (c == '\r') {
        d->state = SIZE_LF;
        in++;
      } else if (c == ';' || blank(c)) {
        d->state = EXT_BWS;
        d->trailer = 0; // the limit is per size line (and on all of them: ext_total)
      } else {
        return -CIO__HTTP_BAD;
      }
      break;
    }
    case TRAILER_IN: // a trailer line: text up to its CR, no control character in it
      if (c == '\r') {
        d->state = TRAILER_LF;
      } else if (((unsigned char)c < ' ' && c != '\t') || ++d->trailer > MAX_TRAILER) {
        return -CIO__HTTP_BAD; // a control character, or trailers too long
      }
      in++;
      break;
    case SIZE_LF:
    case DATA_CR:
    case DATA_LF:
    case TRAILER_LF:
    case END_LF:
      if (c != exact[d->state].want) return -CIO__HTTP_BAD;
      in++;
      d->state = exact[d->state].next;
      if (d->state == DATA && !d->remaining) d->state = TRAILER; // the last chunk (size 0)
      if (d->state == SIZE) d->digits = false;
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
    case TRAILER:
      if (c == '\r') {
        d->state = END_LF;
        in++;
        break;
      }
      d->state = TRAILER_IN;
      break;
    default: { // the extensions
      int next = ext_next(d->state, c);
      if (next < 0) return -CIO__HTTP_BAD;
      if (next != SIZE_LF && (++d->trailer > MAX_TRAILER || ++d->ext_total > MAX_EXT_TOTAL))
        return -CIO__HTTP_BAD; // too long on this line, or in all
      d->state = next;
      in++;
      break;
    }
    }
  }
  *len = out;
  *used = in;
  return d->state == DONE ? 1 : 0;
}

// ---------------------------------------------------------------- responses

// "HTTP/1.x SP 3DIGIT [SP reason]": a reason of visible characters, blanks
// and obs-text; the SP before an empty reason may be missing (curl, Go and
// h11 read "HTTP/1.1 200" too).
static int parse_status_line(const char *p, const char *eol, cio__http_response_head *r) {
  if (eol - p < 12 || memcmp(p, "HTTP/", 5) != 0 || p[6] != '.' || p[5] < '0' || p[5] > '9' ||
      p[7] < '0' || p[7] > '9' || p[8] != ' ')
    return -CIO__HTTP_BAD;
  if (p[5] != '1') return -CIO__HTTP_VERSION;
  r->minor = p[7] == '0' ? 0 : 1;
  const char *d = p + 9;
  if (d[0] < '1' || d[0] > '9' || d[1] < '0' || d[1] > '9' || d[2] < '0' || d[2] > '9')
    return -CIO__HTTP_BAD;
  r->status = (d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0');
  const char *s = d + 3;
  if (s < eol && *s++ != ' ') return -CIO__HTTP_BAD; // "2000", "200x"
  for (const char *c = s; c < eol; c++) {
    unsigned char ch = (unsigned char)*c;
    if ((ch < ' ' && ch != '\t') || ch == 0x7f) return -CIO__HTTP_BAD;
  }
  r->reason = (cio__http_slice){s, (size_t)(eol - s)};
  return 0;
}

int cio__http_parse_response(char *buf, size_t len, cio__http_response_head *r,
                             const cio__http_limits *lim) {
  cio__http_limits l = limits_or_defaults(lim, CIO__HTTP_MAX_RESPONSE_HEADERS);
  const char *line_end = memchr(buf, '\n', len);
  if ((size_t)((line_end ? line_end : buf + len) - buf) > l.max_line)
    return -CIO__HTTP_HEAD_TOO_LARGE;
  long end = find_end(buf, len < l.max_head + 4 ? len : l.max_head + 4);
  if (end < 0) return -CIO__HTTP_BAD;
  if (end == 0) return len > l.max_head ? -CIO__HTTP_HEAD_TOO_LARGE : 0;

  cio__http_response_head_clear(r);
  char *p = buf, *stop = buf + end - 2; // the final CRLF
  char *eol = memchr(p, '\r', (size_t)(stop - p));
  if (!eol || eol[1] != '\n') return -CIO__HTTP_BAD; // a bare CR in the status line
  int rc = parse_status_line(p, eol, r);
  if (rc < 0) return rc;
  // Whitespace before the first header (RFC 9112 §2.2: reject, or skip
  // those lines unread): rejected, as a fold with nothing to fold into.
  if (eol + 2 < stop && (eol[2] == ' ' || eol[2] == '\t')) return -CIO__HTTP_BAD;
  struct framing f = {.content_length = -1};
  for (p = eol + 2; p < stop; p = eol + 2) {
    eol = memchr(p, '\r', (size_t)(stop - p));
    if (!eol || eol[1] != '\n') return -CIO__HTTP_BAD; // a bare CR
    // obs-fold: the line goes on in the next one, which starts with a blank.
    while (eol + 2 < stop && (eol[2] == ' ' || eol[2] == '\t')) {
      eol[0] = eol[1] = ' ';
      eol = memchr(eol + 2, '\r', (size_t)(stop - (eol + 2)));
      if (!eol || eol[1] != '\n') return -CIO__HTTP_BAD;
    }
    if (r->nheaders == l.max_headers) return -CIO__HTTP_HEAD_TOO_LARGE;
    cio__http_header *h = &r->headers[r->nheaders];
    if ((rc = parse_header(p, eol, h)) < 0 || (rc = framing_field(h, &f)) < 0) return rc;
    r->nheaders++;
  }
  // Transfer-Encoding: "chunked", once and last, as in a request; another
  // coding is one cio cannot take off (parse_te: -CIO__HTTP_NOT_IMPLEMENTED).
  r->content_length = f.content_length;
  r->chunked = f.chunked;
  // Both framings at once is how responses are smuggled to a client behind
  // a shared connection (§6.1 lets a recipient reject it; curl and Go
  // would pick one).  Transfer-Encoding came only with HTTP/1.1.
  if (f.te && (f.content_length >= 0 || r->minor == 0)) return -CIO__HTTP_BAD;
  r->keep_alive = r->minor == 1 ? !f.close : f.keep && !f.close;
  return (int)end;
}

cio__http_body_end cio__http_response_body(const cio__http_response_head *r, bool head_request) {
  if (head_request || r->status < 200 || r->status == 204 || r->status == 304)
    return CIO__HTTP_BODY_NONE;
  if (r->chunked) return CIO__HTTP_BODY_CHUNKED;
  if (r->content_length >= 0) return CIO__HTTP_BODY_LENGTH;
  return CIO__HTTP_BODY_CLOSE;
}

const cio__http_slice *cio__http_response_header(const cio__http_response_head *r,
                                                 const char *name) {
  for (size_t i = 0; i < r->nheaders; i++)
    if (slice_is(r->headers[i].name, name)) return &r->headers[i].value;
  return NULL;
}

// ---------------------------------------------------------------- text

// The byte at `at` (a %XX escape decoded, '+' a space if asked) and the
// index after it; -1 at the end.
static int byte_at(const cio__http_text *t, size_t at, size_t *next) {
  if (at >= t->n) return -1;
  unsigned char c = (unsigned char)t->p[at];
  if (t->percent && c == '%' && t->n - at >= 3 && hex(t->p[at + 1]) >= 0 &&
      hex(t->p[at + 2]) >= 0) {
    *next = at + 3;
    return hex(t->p[at + 1]) * 16 + hex(t->p[at + 2]);
  }
  *next = at + 1;
  return t->plus && c == '+' ? ' ' : c;
}

// Well-formed UTF-8 (Unicode 15, table 3-7): after the lead byte, `need`
// continuation bytes, the first within [lo, hi], the others 80..BF.  A
// sequence that breaks off is replaced by one U+FFFD, and decoding goes on
// at the byte that broke it (the "maximal subpart" practice Python follows).
size_t cio__http_text_next(cio__http_text *t, char out[4]) {
  size_t next;
  int b = byte_at(t, t->i, &next);
  if (b < 0) return 0;
  t->i = next;
  out[0] = (char)b;
  if (b < 0x80) return 1;
  int need, lo = 0x80, hi = 0xbf;
  if (b >= 0xc2 && b <= 0xdf) {
    need = 1;
  } else if (b >= 0xe0 && b <= 0xef) {
    need = 2;
    if (b == 0xe0) lo = 0xa0; // overlong
    if (b == 0xed) hi = 0x9f; // surrogates
  } else if (b >= 0xf0 && b <= 0xf4) {
    need = 3;
    if (b == 0xf0) lo = 0x90; // overlong
    if (b == 0xf4) hi = 0x8f; // above U+10FFFF
  } else {
    need = 0; // 80..C1, F5..FF: never valid
  }
  for (int k = 1; k <= need; k++) {
    b = byte_at(t, t->i, &next);
    if (b < lo || b > hi) {
      need = 0;
      break;
    }
    out[k] = (char)b;
    t->i = next;
    lo = 0x80, hi = 0xbf;
  }
  if (need) return (size_t)need + 1;
  memcpy(out, "\xef\xbf\xbd", 3); // U+FFFD
  return 3;
}

size_t cio__http_decode(char *dst, size_t cap, const char *src, size_t n, bool plus) {
  cio__http_text t = {src, n, 0, true, plus};
  char c[4];
  size_t out = 0, k;
  while ((k = cio__http_text_next(&t, c)) && out + k <= cap) {
    memcpy(dst + out, c, k);
    out += k;
  }
  return out;
}
