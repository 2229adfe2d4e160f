// SPDX-License-Identifier: MIT
//
// The connection loop each connection's task runs: read a head, read its
// body (Content-Length or chunked, Expect: 100-continue), run the app,
// write the answer, and again while the connection is kept alive
// (pipelined requests stay in the buffer).  Then the ways a connection
// ends: quietly, after an error answer with a lingering close, reset after
// a write that timed out, or closed by a server that is closing.  The file
// goes: the connections a server tracks, reading with deadlines, the head,
// the body, a request served, a connection served.
//
// Every wait of a connection has a deadline: the head must arrive whole
// within header_timeout, the body at min_body_rate after body_timeout, each
// write must make progress within send_timeout, an idle kept-alive
// connection closes after idle_timeout, and a lingering close ends after
// LINGER_TIME.  None of them restarts with each read, so a client that
// trickles bytes cannot hold a connection longer than they allow.
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../../include/cio.h"
#include "../alloc.h"
#include "../io/server.h"
#include "../io/sock.h"
#include "../io/stream.h"
#ifdef CIO_HAVE_OPENSSL
#include "../../include/cio/tls.h"
#endif
#include "../tune.h"
#include "http.h"

// Lingering close (nginx's lingering_close): after an answer that leaves
// unread input (an early 413 or 431, a 408...), closing at once makes the
// kernel answer the client's next bytes with a reset, and a client that
// writes its whole request before reading (Python's http.client, httpx)
// then loses the answer to ConnectionResetError.  So the server shuts down
// its sending side, and reads and drops what still comes until the client
// closes, goes quiet, or a bound below is reached.
#define LINGER_TIME 30.0              // seconds at most (nginx's lingering_time)
#define LINGER_QUIET 2.0              // seconds without a byte that end it
#define LINGER_MAX ((size_t)64 << 20) // bytes dropped at most

// A connection being served (on its task's stack).
struct conn {
  struct http_server *srv;  // its server
  cio_stream *conn;         // the connection: its bytes go through cio__stream_recv/send
  cio_sock *sock;           //   its socket (for the half close, the hang-up watch, the reset)
  cio_task *task;           // the task serving it
  char *buf;                // received bytes
  size_t cap, have;         // allocated, filled
  size_t most;              // the most cap grows to: max_head + room for a chunk line
  bool idle;                // waiting for a request's first byte: a closing server may close it
  bool busy;                // inside a request (counted in srv->busy)
  bool linger;              // input may be left unread: close lingering
  struct conn *prev, *next; // the server's other connections
};

// A closing server closes its idle connections once no request is in
// flight: until then a request that arrives on one is still answered (with
// Connection: close), as it may have been sent before the client could
// know.
static void close_idle(struct http_server *srv) {
  if (!srv->draining || srv->busy) return;
  for (struct conn *c = srv->conns; c; c = c->next)
    if (c->idle) cio_cancel(c->task);
}

static void set_busy(struct conn *c, bool busy) {
  if (c->busy == busy) return;
  c->busy = busy;
  if (busy)
    c->srv->busy++;
  else if (--c->srv->busy == 0)
    close_idle(c->srv);
}

// The server's closing hook (src/io/server.h).
void cio__http_closing(void *arg, double grace) {
  struct http_server *srv = arg;
  srv->draining = true;
  srv->drain_at = cio_now();
  srv->abort_at = srv->drain_at + grace;
  close_idle(srv);
}

// Reads into buf, waiting until `deadline` (on the cio_now() clock) at
// most.  Returns bytes read, 0 at end of stream, -ETIMEDOUT, -errno.
static ssize_t read_by(cio_stream *conn, void *buf, size_t len, double deadline) {
  cio_scope scope;
  (void)cio_timeout_at_begin(&scope, deadline);
  ssize_t r = cio__stream_recv(conn, buf, len);
  int expired = cio_scope_end(&scope);
  return r < 0 && expired == -ETIMEDOUT ? -ETIMEDOUT : r;
}

// The buffer starts small and doubles up to c->most as a head or pipelined
// requests need it: 10,000 idle connections then hold 2 KiB each, not 20.
#define CONN_BUF CIO__TUNED(2048, 64) // bytes a connection's buffer starts with

// Makes room in c->buf (moving it: slices into it go stale).  Returns 0, or
// -ENOBUFS when it is at its most, -ENOMEM.
static int grow(struct conn *c) {
  if (c->cap >= c->most) return -ENOBUFS;
  size_t cap = c->cap * 2 < c->most ? c->cap * 2 : c->most;
  char *b = cio__realloc(c->buf, cap);
  if (!b) return -ENOMEM;
  c->buf = b;
  c->cap = cap;
  return 0;
}

// Reads more into c->buf by `deadline`; as read_by.  Grows the buffer when
// it is full, unless `fixed` (a parsed head points into it): -ENOBUFS when
// it cannot, -ENOMEM when that ran out of memory.
static ssize_t read_more(struct conn *c, double deadline, bool fixed) {
  if (c->have == c->cap) {
    int rc = fixed ? -ENOBUFS : grow(c);
    if (rc < 0) return rc;
  }
  ssize_t r = read_by(c->conn, c->buf + c->have, c->cap - c->have, deadline);
  if (r > 0) c->have += (size_t)r;
  return r;
}
// Answers an error found before there is a request to show the middleware
// (the head did not parse, or its target is unusable); the connection then
// closes, lingering.
static int fail(struct conn *c, cio_http_res *res, int status) {
  cio__http_reset_res(res);
  cio__http_error_body(res, status);
  int rc = cio__http_write_response(res, false, false);
  cio__http_reset_res(res);
  c->linger = true;
  return rc;
}

// Reads until a whole request head is buffered.  The head has one deadline,
// head_by (header_timeout after its first byte, or after the accept for a
// connection's first request; 0: not started), however the bytes trickle
// in; before its first byte a kept-alive connection may idle for
// idle_timeout.  Returns the head's length; 0 to close quietly (the client
// left or idled out, or the server is closing); or -status to answer: 408,
// 503 out of memory, or the parser's 400, 414, 417, 431, 501, 505.
static int read_head(struct conn *c, cio__http_request *h, double head_by) {
  struct http_server *srv = c->srv;
  cio__http_limits lim = {srv->opts.max_line, srv->opts.max_head, 0};
  int head_len;
  while ((head_len = cio__http_parse_request(c->buf, c->have, h, &lim)) == 0) {
    if (c->have && !head_by) head_by = cio_now() + srv->opts.header_timeout;
    if (c->have) set_busy(c, true);
    if (!c->have && srv->draining && !srv->busy) return 0; // closing, nothing in flight
    c->idle = !c->have;
    ssize_t r = read_more(c, head_by ? head_by : cio_now() + srv->opts.idle_timeout, false);
    c->idle = false;
    if (r > 0) continue;
    if (r == -ETIMEDOUT && c->have) return -408; // slow loris: answer and drop it
    if (r == -ENOMEM) return -503;               // (a request may be on its way: answer it)
    return 0; // closed, reset, idle too long, or cancelled by a closing server
  }
  return head_len;
}

// The body's deadline: body_timeout from its start, plus the time the
// bytes received so far take at min_body_rate.  A client sending at least
// that fast never meets it; one that trickles meets it soon after
// body_timeout.
static double body_deadline(const struct http_server *srv, double start, size_t received) {
  return start + srv->opts.body_timeout + (double)received / srv->opts.min_body_rate;
}

// What a read of the body that ended early answers: 408 for a client too
// slow, 503 when awaiting ran out of memory, or -EPIPE: the client left.
static int body_read_failed(ssize_t r) {
  return r == -ETIMEDOUT ? 408 : r == -ENOMEM ? 503 : -EPIPE;
}

// Reads the body the head announces into a malloc'd buffer.  Returns 0, a
// status to answer (400 bad chunked coding, 408 too slow, 413 too big, 503
// out of memory), or -errno when the client left.
static int read_body(struct conn *c, const struct http_server *srv, const cio__http_request *h,
                     size_t head_len, char **out, size_t *out_len, size_t *consumed) {
  size_t max = srv->opts.max_body, received = 0;
  double start = cio_now();
  if (h->chunked) {
    cio__http_chunked d = {0};
    // Grown as the chunks come (doubling, up to max + 1): reserving
    // max_body for every chunked request cost a big max_body its address
    // space, and failed (503) where it exceeded what the host could give.
    size_t cap = max < 4096 ? max + 1 : 4096;
    char *body = cio__malloc(cap);
    size_t blen = 0, pos = head_len;
    if (!body) return 503;
    for (;;) {
      size_t len = c->have - pos, used = 0;
      int rc = cio__http_chunked_decode(&d, c->buf + pos, &len, &used);
      if (rc < 0) {
        free(body);
        return 400;
      }
      // Too big already, or announced to be (a chunk's size is known at
      // its size line: 413 then, not after waiting for its bytes).
      if (blen + len > max || d.remaining > max - (blen + len)) {
        free(body);
        return 413;
      }
      if (blen + len + 1 > cap) {
        size_t want = cap;
        while (want < blen + len + 1) want = want > max / 2 ? max + 1 : want * 2;
        char *grown = cio__realloc(body, want);
        if (!grown) {
          free(body);
          return 503;
        }
        body = grown;
        cap = want;
      }
      memcpy(body + blen, c->buf + pos, len);
      blen += len;
      pos += used;
      if (rc == 1) break;
      // Drop what was consumed so the buffer never fills up.
      memmove(c->buf + head_len, c->buf + pos, c->have - pos);
      c->have -= pos - head_len;
      pos = head_len;
      ssize_t r = read_more(c, body_deadline(srv, start, received), true);
      if (r <= 0) {
        free(body);
        return body_read_failed(r);
      }
      received += (size_t)r;
    }
    body[blen] = '\0';
    *out = body;
    *out_len = blen;
    *consumed = pos;
    return 0;
  }
  size_t cl = h->content_length > 0 ? (size_t)h->content_length : 0;
  if (cl > max) return 413;
  char *body = cio__malloc(cl + 1);
  if (!body) return 503;
  size_t got = c->have - head_len < cl ? c->have - head_len : cl;
  memcpy(body, c->buf + head_len, got);
  size_t pos = head_len + got;
  while (got < cl) { // read the rest straight into the body
    ssize_t r = read_by(c->conn, body + got, cl - got, body_deadline(srv, start, received));
    if (r <= 0) {
      free(body);
      return body_read_failed(r);
    }
    got += (size_t)r;
    received += (size_t)r;
  }
  body[cl] = '\0';
  *out = body;
  *out_len = cl;
  *consumed = pos;
  return 0;
}

// Sends a finished handler's answer although the connection's task was
// cancelled by the client's FIN: a half-closed client still reads, and for
// one that left the write just fails.  Shielded from that cancellation and
// bounded in time, since the client may not read at all: by the send
// timeout, and by the end of a closing server's grace (a shield would
// otherwise keep the close waiting).
#define HUNG_UP_WRITE_TIMEOUT 5.0

static void answer_hung_up(struct conn *c, cio_http_res *res, bool head_only) {
  double limit =
      HUNG_UP_WRITE_TIMEOUT < res->send_timeout ? HUNG_UP_WRITE_TIMEOUT : res->send_timeout;
  if (c->srv->draining && c->srv->abort_at - cio_now() < limit)
    limit = c->srv->abort_at - cio_now();
  if (limit <= 0 || cio__server_aborting(c->srv->server)) return;
  cio_scope shield, scope;
  if (cio_shield_begin(&shield) < 0) return;
  if (cio_timeout_begin(&scope, limit) == 0) {
    (void)cio__http_write_response(res, head_only, false);
    (void)cio_scope_end(&scope);
  }
  (void)cio_scope_end(&shield);
}

// Shuts down the sending side, then drops what the client still sends (see
// LINGER_TIME), so that it reads the answer before any reset.  A closing
// server does not wait for it past LINGER_QUIET after the close began:
// the client had that long to read its answer (a client that kept
// sending held the close for its whole grace).
static void linger_close(struct conn *c) {
  cio__stream_goodbye(c->conn); // TLS: close_notify before the FIN
  if (cio_sock_shutdown(c->sock, SHUT_WR) < 0) return;
  double end = cio_now() + LINGER_TIME;
  for (size_t dropped = 0; dropped < LINGER_MAX;) {
    const struct http_server *srv = c->srv;
    if (srv->draining && srv->drain_at + LINGER_QUIET < end) end = srv->drain_at + LINGER_QUIET;
    double quiet = cio_now() + LINGER_QUIET;
    cio_scope scope;
    (void)cio_timeout_at_begin(&scope, quiet < end ? quiet : end);
    ssize_t r = cio__sock_discard(c->sock, LINGER_MAX - dropped);
    (void)cio_scope_end(&scope);
    if (r <= 0) break; // the client closed or went quiet, time is up, or the server aborts
    dropped += (size_t)r;
  }
}

// Serves the request whose head is in c->buf[0, head_len): reads its body,
// runs the middleware and the handler (or, for an error found on the way,
// such as 413, the middleware around that answer), and writes the answer.
// Returns 0 to read the next request, 1 to close the connection, -errno.
static int serve_request(struct conn *c, cio_http_res *res, cio__http_request *h, size_t head_len) {
  struct http_server *srv = c->srv;
  bool has_body = h->chunked || h->content_length > 0;
  int status = 0;
  if (h->chunked && c->cap < head_len + 4096) { // room for the chunk lines...
    int grown;
    while ((grown = grow(c)) == 0) {
    }
    if (grown == -ENOMEM) status = 503; // (refused before it is sent)
    cio__http_limits lim = {srv->opts.max_line, srv->opts.max_head, 0};
    if (cio__http_parse_request(c->buf, c->have, h, &lim) != (int)head_len) return -EPROTO;
  } //                                          ...and the head parsed again where it now is
  if (has_body && !h->chunked && (size_t)h->content_length > srv->opts.max_body) {
    status = 413; // refused before it is sent (no 100 Continue)
  } else if (has_body && h->expect_continue && c->have == head_len && !status) {
    static const char go_on[] = "HTTP/1.1 100 Continue\r\n\r\n";
    if (cio__http_res_write(res, go_on, sizeof go_on - 1) < 0) return 1;
  }
  cio_http_req *req = cio__calloc(1, sizeof *req);
  if (!req) return fail(c, res, 503) < 0 ? -EPIPE : 1;
  int bad = cio__http_req_init(req, h);
  if (bad) {
    cio__http_req_free(req);
    return fail(c, res, bad) < 0 ? -EPIPE : 1;
  }
  size_t consumed = head_len;
  if (!status && has_body) {
    int b = read_body(c, srv, h, head_len, &req->body, &req->body_len, &consumed);
    if (b < 0) {
      cio__http_req_free(req);
      return b; // the client left
    }
    status = b;
  }
  // A client that disconnects while its handler runs cancels the handler.
  // TCP cannot tell a client that left from one that only shut down its
  // sending side (HTTP/1.0 style, `nc -N`), so both cancel, as Go's
  // request context does; a handler that finishes anyway still has its
  // answer sent (below), and the connection then closes.
  if (!status) cio__sock_cancel_on_hup(c->sock, cio_current());
  res->head_only = strcmp(req->method, "HEAD") == 0;
  res->keep_alive = h->keep_alive && !status && !srv->draining;
  res->http10 = h->minor == 0;
  // What the middleware returns is no answer: one that failed or returned
  // without an answer (its own may have run out of memory), or a handler
  // whose 500 could not be built either, leaves a 500 to send.
  (void)cio__http_app_handle(srv->app, req, res, srv->opts.handler_timeout, status);
  bool hung_up = cio_task_cancelled(cio_current());
  if (!res->status && !hung_up) cio__http_error_body(res, 500);
  cio__sock_cancel_on_hup(c->sock, NULL);
  bool head_only = res->head_only;
  cio__http_req_free(req);
  if (hung_up) { // the client left, a write timed out, or the server aborts
    if (res->status && !res->streaming && !res->reset) answer_hung_up(c, res, head_only);
    return 1;
  }
  // Closing began while the handler ran: this answer closes the connection.
  bool keep_alive = res->keep_alive && !srv->draining;
  int rc;
  if (res->broken) {
    // A stream cut short: the close without a last chunk tells a chunked
    // client (curl, httpx: "incomplete body"); an HTTP/1.0 stream ends
    // with the close anyway, so it ends with a reset instead.
    if (res->http10) res->reset = true;
    rc = -EPIPE;
  } else if (res->streaming) { // the last chunk (HTTP/1.0: the close)
    ssize_t w = head_only || res->http10 ? 0 : cio__http_res_write(res, "0\r\n\r\n", 5);
    rc = w < 0 ? (int)w : 0;
  } else {
    rc = cio__http_write_response(res, head_only, keep_alive);
  }
  cio__http_reset_res(res);
  if (rc < 0) return rc;
  // An error answered before the request was read whole, or requests
  // pipelined after one that closes: input is left unread.
  if (status || (!keep_alive && c->have > consumed)) c->linger = true;
  if (!keep_alive) return 1;
  // Pipelining: keep what follows this request.
  memmove(c->buf, c->buf + consumed, c->have - consumed);
  c->have -= consumed;
  return 0;
}

// HTTPS: the server's handshake, within the first head's deadline (as
// nginx's client_header_timeout covers it).  Returns 0, or 1 to close: a
// client that failed it, was too slow, or left.
static int handshake(struct conn *c, double deadline) {
#ifdef CIO_HAVE_OPENSSL
  if (c->srv->draining) return 1;
  cio_scope scope;
  (void)cio_timeout_at_begin(&scope, deadline);
  c->idle = true; // a closing server need not wait for it
  int rc = cio_tls_upgrade(c->conn, c->srv->opts.tls, NULL);
  c->idle = false;
  (void)cio_scope_end(&scope);
  return rc < 0 ? 1 : 0;
#else
  (void)c, (void)deadline;
  return 1; // cio_http_serve refused the context
#endif
}

int cio__http_serve_connection(cio_stream *st, void *arg) {
  struct http_server *srv = arg;
  struct conn c = {.srv = srv, .conn = st, .sock = cio_stream_sock(st), .task = cio_current()};
  c.most = srv->opts.max_head + 4096;
  c.cap = CONN_BUF < c.most ? CONN_BUF : c.most;
  // Without memory for its buffer, the connection gets a 503 at once and a
  // lingering close through `spare`, a buffer that needs no allocation.
  char spare[256];
  c.buf = cio__malloc(c.cap);
  if (!c.buf) {
    c.buf = spare;
    c.cap = c.most = sizeof spare;
  }
  c.next = srv->conns;
  if (srv->conns) srv->conns->prev = &c;
  srv->conns = &c;
  cio_http_res res;
  memset(&res, 0, sizeof res);
  res.conn = st;
  res.send_timeout = srv->opts.send_timeout;
  double head_by = cio_now() + srv->opts.header_timeout; // the first head counts from the accept
  int rc = srv->opts.tls ? handshake(&c, head_by) : 0;
  if (rc == 0 && c.buf == spare) rc = (fail(&c, &res, 503), 1);
  while (rc == 0) {
    cio__http_request h;
    int head_len = read_head(&c, &h, head_by);
    head_by = 0;
    if (head_len == 0) break;
    set_busy(&c, true);
    rc = head_len < 0 ? (fail(&c, &res, -head_len), 1)
                      : serve_request(&c, &res, &h, (size_t)head_len);
    set_busy(&c, false);
  }
  if (res.reset) { // a write timed out: drop what the kernel still holds for this client
    struct linger lg = {1, 0};
    (void)setsockopt(cio_sock_fd(c.sock), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  } else if (c.linger && !cio_task_cancelled(cio_current())) {
    linger_close(&c);
  }
  set_busy(&c, false);
  if (c.prev)
    c.prev->next = c.next;
  else
    srv->conns = c.next;
  if (c.next) c.next->prev = c.prev;
  cio__http_reset_res(&res);
  if (c.buf != spare) free(c.buf);
  return rc < 0 ? rc : 0;
}
