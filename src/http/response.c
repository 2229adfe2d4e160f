// SPDX-License-Identifier: MIT
//
// The response object: what a handler sets (status, type, headers, body),
// or a chunked stream it writes as it goes, and how it goes out: the head
// (Date, Server, framing, Connection), every write timed by the send
// timeout.  Then the answers cio writes itself (errors, 422 validation
// details), and the connection loop's side: writing a finished response
// and clearing it for the next request.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "../../include/cio.h"
#include "../alloc.h"
#include "../io/sock.h"
#include "../io/stream.h"
#include "../tune.h"
#include "http.h"
#include "json_text.h"

// ---------------------------------------------------------------- response

static bool final_status(int status) { return status >= 200 && status <= 599; }

// Sets the response, taking `owned` (malloc'd, len bytes).
int cio__http_set_body(cio_http_res *res, int status, const char *type, char *owned, size_t len) {
  if (!type) type = "application/octet-stream";
  // A final answer is 2xx to 5xx: a 1xx is interim (a client would take the
  // next answer for this request's), and 600 and up are no status (RFC
  // 9110 §15).  After a stream has started, its head is out already.
  if (!final_status(status) || strlen(type) >= MAX_TYPE || !cio__http_field_value_ok(type))
    return -EINVAL;
  if (res->streaming) return -EALREADY;
  if (status == 205) { // "MUST NOT generate content" (RFC 9110 §15.3.6): Content-Length: 0
    free(owned);
    owned = NULL;
    len = 0;
  }
  free(res->body);
  if (res->has_file) close(res->file_fd); // a middleware's answer replaces a file's
  res->has_file = false;
  res->body = owned;
  res->len = len;
  res->status = status;
  // (memcpy: the analyzer loses res->body, set above, across a strcpy into *res)
  if (!res->own_type) memcpy(res->type, type, strlen(type) + 1);
  return 0;
}

int cio_http_send(cio_http_res *res, int status, const char *type, const void *body, size_t len) {
  if (!res || (!body && len)) return -EINVAL;
  char *copy = cio__malloc(len ? len : 1);
  if (!copy) return -ENOMEM;
  if (len) memcpy(copy, body, len); // (NULL, 0) is an empty body
  int rc = cio__http_set_body(res, status, type, copy, len);
  if (rc < 0) free(copy);
  return rc;
}

int cio_http_json(cio_http_res *res, int status, const char *json) {
  if (!json) return -EINVAL;
  return cio_http_send(res, status, "application/json", json, strlen(json));
}

int cio_http_set_header(cio_http_res *res, const char *name, const char *value) {
  if (!res || !name || !value || !*name || !cio__http_field_value_ok(value)) return -EINVAL;
  for (const char *c = name; *c; c++)
    if (!cio__http_is_tchar((unsigned char)*c)) return -EINVAL;
  // The framing is the server's to say: a handler's Content-Length or
  // Transfer-Encoding could contradict the body (a response split in two).
  if (!strcasecmp(name, "content-length") || !strcasecmp(name, "transfer-encoding") ||
      !strcasecmp(name, "connection"))
    return -EINVAL;
  // A value goes without the blanks around it (RFC 9110 §5.5).
  size_t len = strlen(value);
  while (len && (value[len - 1] == ' ' || value[len - 1] == '\t')) len--;
  while (len && (*value == ' ' || *value == '\t')) value++, len--;
  // Content-Type is one field (RFC 9110 §8.3): the handler's replaces the
  // body's, whichever comes first, as a Starlette handler's headers do.
  if (!strcasecmp(name, "content-type")) {
    if (len >= MAX_TYPE) return -EINVAL;
    memcpy(res->type, value, len);
    res->type[len] = '\0';
    res->own_type = true;
    return 0;
  }
  size_t nlen = strlen(name), n = nlen + 2 + len + 2;
  if (n >= sizeof res->headers - res->hlen) return -ENOSPC;
  char *at = res->headers + res->hlen;
  memcpy(at, name, nlen);
  memcpy(at + nlen, ": ", 2);
  memcpy(at + nlen + 2, value, len);
  memcpy(at + nlen + 2 + len, "\r\n", 2);
  res->hlen += n;
  if (!strcasecmp(name, "date")) res->own_date = true;
  if (!strcasecmp(name, "server")) res->own_server = true;
  return 0;
}

int cio_http_status(const cio_http_res *res) { return res ? res->status : 0; }

static const char *reason(int status) {
  switch (status) {
  case 100: return "Continue";
  case 101: return "Switching Protocols";
  case 200: return "OK";
  case 201: return "Created";
  case 202: return "Accepted";
  case 204: return "No Content";
  case 205: return "Reset Content";
  case 206: return "Partial Content";
  case 301: return "Moved Permanently";
  case 302: return "Found";
  case 303: return "See Other";
  case 304: return "Not Modified";
  case 307: return "Temporary Redirect";
  case 308: return "Permanent Redirect";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 412: return "Precondition Failed";
  case 413: return "Content Too Large";
  case 414: return "URI Too Long";
  case 416: return "Range Not Satisfiable";
  case 417: return "Expectation Failed";
  case 422: return "Unprocessable Content";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  case 505: return "HTTP Version Not Supported";
  default: return "Status";
  }
}

// "Date: <IMF-fixdate>\r\n" for the current second (RFC 9110 §6.6.1: an
// origin server with a clock MUST send Date).  Formatted once a second per
// thread (it is on every response), in English whatever the locale.  The
// caller copies it at once: another thread has its own, and this thread
// rewrites it only when asked for it in a later second.
static const char *date_line(void) {
  static __thread time_t formatted = -1;
  static __thread char line[96]; // 37 bytes until the year 10000; room for any int
  static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  struct timespec now;
  clock_gettime(CLOCK_REALTIME_COARSE, &now); // the vDSO's: no system call
  if (now.tv_sec != formatted) {
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    snprintf(line, sizeof line, "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n", days[tm.tm_wday],
             tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    formatted = now.tv_sec;
  }
  return line;
}

// 1xx, 204 and 304 answers have no content, so no Content-Length either
// (RFC 9110 §8.6, §6.4.1), and no Content-Type.
static bool bodiless(int status) { return status < 200 || status == 204 || status == 304; }

#define CHUNKED (-1)   // format_head's length: Transfer-Encoding: chunked
#define NO_LENGTH (-2) // neither (a HEAD answer to a streamed GET)

// Appends to a buffer that cannot overflow: what does not fit is dropped
// and remembered (`over`).
typedef struct head_out {
  char *p;
  size_t cap, n;
  bool over;
} head_out;

static void put(head_out *o, const char *s, size_t n) {
  if (n > o->cap - o->n) {
    o->over = true;
    return;
  }
  memcpy(o->p + o->n, s, n);
  o->n += n;
}

static void put_str(head_out *o, const char *s) { put(o, s, strlen(s)); }

static void put_decimal(head_out *o, unsigned long long v) {
  char d[24];
  size_t i = sizeof d;
  do d[--i] = (char)('0' + v % 10);
  while (v /= 10);
  put(o, d + i, sizeof d - i);
}

// Formats a response head into top[0..cap): status line, Date, Server,
// Content-Type, the framing (`length`: the Content-Length, CHUNKED or
// NO_LENGTH), Connection (close, or keep-alive said to an HTTP/1.0 client,
// which otherwise expects a close: RFC 9112 §9.3, `ab -k`), and the
// handler's headers.  Returns its length, or -EOVERFLOW (cannot happen with
// the field sizes of cio_http_res, which bound it well under 1 KiB).  Put
// together by copies: with snprintf and its ten-field format, a `GET /`
// took 11,553 instructions of the server's user time, now 7,590 (callgrind,
// 5,000 kept-alive requests).
// NOLINTNEXTLINE(readability-non-const-parameter): written through head_out
static int format_head(char *top, size_t cap, const cio_http_res *res, int status, long long length,
                       bool keep_alive) {
  bool none = bodiless(status);
  head_out o = {.p = top, .cap = cap};
  put_str(&o, "HTTP/1.1 ");
  put_decimal(&o, (unsigned)status);
  put(&o, " ", 1);
  put_str(&o, reason(status));
  put(&o, "\r\n", 2);
  if (!res->own_date) put_str(&o, date_line());
  if (!res->own_server) put_str(&o, "Server: cio\r\n");
  if (!none) {
    put_str(&o, "Content-Type: ");
    put_str(&o, res->type[0] ? res->type : "text/plain");
    put(&o, "\r\n", 2);
    if (length >= 0) {
      put_str(&o, "Content-Length: ");
      put_decimal(&o, (unsigned long long)length);
      put(&o, "\r\n", 2);
    } else if (length == CHUNKED) {
      put_str(&o, "Transfer-Encoding: chunked\r\n");
    }
  }
  if (!keep_alive)
    put_str(&o, "Connection: close\r\n");
  else if (res->http10)
    put_str(&o, "Connection: keep-alive\r\n");
  put(&o, res->headers, res->hlen);
  put(&o, "\r\n", 2);
  return o.over ? -EOVERFLOW : (int)o.n;
}

#define SEND_PIECE CIO__TUNED(65536, 512) // bytes written under one send timeout

// Writes all of buf to the client, as cio_sock_write_all, with the send timeout
// applied to each piece of SEND_PIECE bytes: what is timed is progress, as
// with nginx's send_timeout, so a big answer to a slow but reading client
// goes through.  A client that stops reading for that long gets its
// connection reset, and the task serving it is cancelled (a streaming
// handler stops at its next await).  A stream whose write failed is
// broken: later writes return -EPIPE.  Returns len or -errno (-ETIMEDOUT).
ssize_t cio__http_res_write(cio_http_res *res, const void *buf, size_t len) {
  if (res->reset) return -ETIMEDOUT;
  if (res->broken) return -EPIPE;
  for (size_t done = 0; done < len;) {
    size_t n = len - done < SEND_PIECE ? len - done : SEND_PIECE;
    // Timed from the clock, not from the round's cio_now(): a handler may
    // have computed for a long time before it writes.
    cio_scope scope;
    (void)cio_timeout_begin(&scope, res->send_timeout);
    size_t sent;
    ssize_t w = cio__stream_send(res->conn, (const char *)buf + done, n, &sent);
    if (cio_scope_end(&scope) == -ETIMEDOUT) {
      res->reset = true;
      cio_cancel(cio_current());
      return -ETIMEDOUT;
    }
    if (w < 0) {
      // Part of a chunk may be on the wire: nothing more can follow it.
      if (res->streaming) res->broken = true;
      return w;
    }
    done += n;
  }
  return (ssize_t)len;
}

int cio_http_stream_start(cio_http_res *res, int status, const char *type) {
  if (!res || res->status || res->streaming) return -EALREADY;
  if (!type) type = "application/octet-stream";
  if (!final_status(status) || strlen(type) >= MAX_TYPE || !cio__http_field_value_ok(type))
    return -EINVAL;
  if (!res->own_type) strcpy(res->type, type);
  // An HTTP/1.0 client knows no chunked coding (RFC 9112 §6.1): its stream
  // is the raw bytes, ended by closing the connection.
  if (res->http10) res->keep_alive = false;
  char top[1024];
  // A 205 has no content, and says so (Content-Length: 0) to keep the
  // connection's framing (RFC 9112 §6.3 lists no 205 among the bodiless).
  long long framing = status == 205 ? 0 : res->head_only || res->http10 ? NO_LENGTH : CHUNKED;
  int n = format_head(top, sizeof top, res, status, framing, res->keep_alive);
  if (n < 0) return n;
  res->status = status;
  res->streaming = true;
  if (bodiless(status) || status == 205) res->head_only = true; // no chunks, no last chunk
  ssize_t w = cio__http_res_write(res, top, (size_t)n);
  return w < 0 ? (int)w : 0;
}

#define SMALL_CHUNK CIO__TUNED(1000, 3) // chunks up to this size go out in one write

// A chunk's size line ("1f4\r\n") into buf (at least 20 bytes); returns its
// length.
static int size_line(char *buf, size_t len) {
  static const char digits[] = "0123456789abcdef";
  char d[16];
  int i = (int)sizeof d;
  do d[--i] = digits[len & 15];
  while (len >>= 4);
  int n = (int)sizeof d - i;
  memcpy(buf, d + i, (size_t)n);
  memcpy(buf + n, "\r\n", 2);
  return n + 2;
}

int cio_http_stream_write(cio_http_res *res, const void *data, size_t len) {
  if (!res || !res->streaming || (!data && len)) return -EINVAL;
  if (res->head_only || len == 0) return 0; // an empty chunk would end the stream
  if (res->http10) {                        // no chunks: the close ends the body
    ssize_t w = cio__http_res_write(res, data, len);
    return w < 0 ? (int)w : 0;
  }
  char buf[24 + SMALL_CHUNK + 2];
  int n = size_line(buf, len);
  if (len <= SMALL_CHUNK) { // size line, data and CRLF: one system call
    memcpy(buf + n, data, len);
    memcpy(buf + n + len, "\r\n", 2);
    ssize_t w = cio__http_res_write(res, buf, (size_t)n + len + 2);
    return w < 0 ? (int)w : 0;
  }
  ssize_t w = cio__http_res_write(res, buf, (size_t)n);
  if (w >= 0) w = cio__http_res_write(res, data, len);
  if (w >= 0) w = cio__http_res_write(res, "\r\n", 2);
  return w < 0 ? (int)w : 0;
}

// ---------------------------------------------------------------- answers cio writes itself

void cio__http_error_body(cio_http_res *res, int status) {
  char body[128];
  snprintf(body, sizeof body, "{\"detail\":\"%s\"}", reason(status)); // ASCII, no quotes
  if (cio_http_json(res, status, body) < 0) // out of memory: the status line says it all
    (void)cio__http_set_body(res, status, "text/plain", NULL, 0);
}

// Answers with the JSON text j (taking it), or with `fallback` (a literal)
// if building it ran out of memory.
int cio__http_jt_answer(cio_http_res *res, int status, struct cio__jtext *j, const char *fallback) {
  if (j->p) {
    int rc = cio__http_set_body(res, status, "application/json", j->p, j->n);
    if (rc == 0) return 0;
    free(j->p);
  }
  return cio_http_json(res, status, fallback);
}

// FastAPI's validation error: 422 {"detail":[{"type","loc","msg","input"}]},
// the input echoed whole.
void cio__http_answer_422(cio_http_res *res, const char *where, const char *name, const char *type,
                          const char *msg, const char *input, size_t input_len) {
  struct cio__jtext j = cio__jt_new(128 + strlen(name) + strlen(msg) + 6 * input_len);
  cio__jt_lit(&j, "{\"detail\":[{\"type\":");
  cio__jt_str(&j, type, strlen(type));
  cio__jt_lit(&j, ",\"loc\":[");
  cio__jt_str(&j, where, strlen(where));
  cio__jt_lit(&j, ",");
  cio__jt_str(&j, name, strlen(name));
  cio__jt_lit(&j, "],\"msg\":");
  cio__jt_str(&j, msg, strlen(msg));
  cio__jt_lit(&j, ",\"input\":");
  cio__jt_str(&j, input, input_len);
  cio__jt_lit(&j, "}]}");
  (void)cio__http_jt_answer(res, 422, &j, "{\"detail\":\"Unprocessable Content\"}");
}

// ---------------------------------------------------------------- for the connection loop

int cio__http_set_file(cio_http_res *res, int status, const char *type, int fd, off_t off,
                       size_t len) {
  int rc = cio__http_set_body(res, status, type, NULL, len);
  if (rc < 0) {
    close(fd);
    return rc;
  }
  res->has_file = true;
  res->file_fd = fd;
  res->file_off = off;
  return 0;
}

// Sends res->len bytes of the response's file through a TLS transport:
// read into a buffer, written as any body.  The reads of a regular file
// block the loop briefly (the page cache usually has it).
static int send_file_copy(cio_http_res *res) {
  char *buf = cio__malloc(SEND_PIECE);
  if (!buf) return -ENOMEM;
  int rc = 0;
  off_t off = res->file_off;
  for (size_t left = res->len; left && rc == 0;) {
    ssize_t r = pread(res->file_fd, buf, left < SEND_PIECE ? left : SEND_PIECE, off);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) { // an error, or the file shrank since its size was taken
      rc = r < 0 ? -errno : -EIO;
      break;
    }
    ssize_t w = cio__http_res_write(res, buf, (size_t)r);
    if (w < 0) rc = (int)w;
    off += r;
    left -= (size_t)r;
  }
  free(buf);
  return rc;
}

#define SENDFILE_PIECE CIO__TUNED(1 << 20, 512) // file bytes sent under one send timeout

// Sends res->len bytes of the response's file with sendfile(2), the kernel
// copying from the page cache to the socket, under the send timeout as
// cio__http_res_write (but in pieces of 1 MiB: fewer system calls): each
// piece must go out within it, or the connection is reset and its task
// cancelled.  A file that shrank since its size was taken ends the body
// short (-EIO): the connection closes, so the client sees a body shorter
// than its Content-Length.
static int send_file(cio_http_res *res) {
  if (res->reset) return -ETIMEDOUT;
  if (cio__stream_transport(res->conn)) return send_file_copy(res);
  cio_sock *s = cio_stream_sock(res->conn);
  off_t off = res->file_off;
  for (size_t left = res->len; left;) {
    size_t piece = left < SENDFILE_PIECE ? left : SENDFILE_PIECE;
    off_t from = off;
    cio_scope scope;
    (void)cio_timeout_begin(&scope, res->send_timeout);
    int rc = cio__sock_sendfile(s, res->file_fd, &off, piece);
    if (cio_scope_end(&scope) == -ETIMEDOUT) {
      res->reset = true;
      cio_cancel(cio_current());
      return -ETIMEDOUT;
    }
    if (rc < 0) return rc;
    left -= (size_t)(off - from);
  }
  return 0;
}

// Writes the response res holds (see format_head).  A 204, 304 or 1xx
// goes without its body, whatever the handler set.
int cio__http_write_response(cio_http_res *res, bool head_only, bool keep_alive) {
  char top[1024];
  int n = format_head(top, sizeof top, res, res->status, (long long)res->len, keep_alive);
  if (n < 0) return n;
  if (bodiless(res->status)) head_only = true;
  if (res->has_file) {
    ssize_t w = cio__http_res_write(res, top, (size_t)n);
    if (w < 0) return (int)w;
    return head_only || !res->len ? 0 : send_file(res);
  }
  if (head_only || res->len == 0 || (size_t)n + res->len > sizeof top) {
    ssize_t w = cio__http_res_write(res, top, (size_t)n);
    if (w < 0) return (int)w;
    if (!head_only && res->len) w = cio__http_res_write(res, res->body, res->len);
    return w < 0 ? (int)w : 0;
  }
  memcpy(top + n, res->body, res->len); // one write for small responses
  ssize_t w = cio__http_res_write(res, top, (size_t)n + res->len);
  return w < 0 ? (int)w : 0;
}

// Clears the response for the next request (the connection's settings stay).
void cio__http_reset_res(cio_http_res *res) {
  free(res->body);
  if (res->has_file) close(res->file_fd);
  cio_http_res keep = *res;
  memset(res, 0, sizeof *res);
  res->conn = keep.conn;
  res->send_timeout = keep.send_timeout;
  res->reset = keep.reset;
}
