// SPDX-License-Identifier: MIT
//
// The HTTP client (<cio/http_client.h>) on libcurl's multi-socket
// interface.  Why libcurl: HTTP/1.1 and HTTP/2, TLS, proxies, redirects and
// content decoding are each a project of their own, and libcurl is the
// client C programmers trust with them; what cio adds is the part libcurl
// leaves to its caller: the loop, timeouts by phase, cancellation.
//
// One multi handle per client holds its connection pool (curl's
// connection cache, limited per host and in all).  A driver task per
// client runs every curl_multi_socket_action():
//
//   - curl's sockets are watched by an epoll instance of the client's own,
//     level-triggered (curl expects level semantics; cio's poller is
//     edge-triggered); that epoll descriptor is watched by cio's poller,
//     and its edge wakes the driver, which then acts on every ready socket
//     until the inner epoll reports none (so no edge can be missed);
//   - curl's timer is the driver's park deadline.
//
// A request is a task of the caller's: it adds its easy handle to the
// multi, parks, and is woken by the driver when curl says the transfer is
// done.  Its phases are timed here (pool, write, read; curl times the
// connect), and a phase that runs out, a timeout scope or a cancellation
// removes the handle: curl then closes that connection (HTTP/1.1) or
// resets the stream (HTTP/2), so no connection returns to the pool half
// used.
#include <curl/curl.h>
#ifdef CIO_HAVE_JANSSON
#include <jansson.h>
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../include/cio.h"
#include "../../include/cio/http_client.h"
#include "../alloc.h"
#include "../internal.h"
#include "../loop/loop.h"
#include "../sync/quarantine.h"
#include "../task/task.h"
#include "client.h"
#include "json_check.h"
#include "parse.h"

#define CLIENT_MAGIC 0x68636c69u // "hcli"
#define DEFAULT_MAX_BODY ((size_t)64 << 20)
#define EASY_SPARE 64                  // easy handles kept for reuse
#define STREAM_HIGH ((size_t)64 << 10) // a streamed body: curl pauses with this much unread
#define STREAM_LOW ((size_t)16 << 10)  //   and goes on once the reader is down to this
#define NS 1000000000.0

struct cio_http_client {
  uint32_t magic;       // CLIENT_MAGIC while open
  cio__loop *L;         // its loop
  CURLM *multi;         // the connection pool and the transfers
  CURLSH *share;        // TLS sessions shared by the transfers
  int epfd;             // curl's sockets (level-triggered)
  int dead_fd;          // a socket whose peer has gone (retire_idle), or -1
  cio__io io;           // epfd, watched by the loop
  cio_task *driver;     // the driver task (handle)
  cio_task *driver_rec; // its record, to wake it
  int64_t timer_at;     // curl's timer (ns), or -1
  bool inner_ready;     // epfd may have events: the loop saw it readable since the
                        // driver's last epoll_wait found it empty
  bool closing;         // the driver is to end
  bool ended;           // the driver has ended (cancelled with the loop)
  size_t in_flight;     // requests between add and remove
  size_t connections;   // connections opened
  uint8_t *fds;         // per descriptor: FD_* (see on_socket)
  size_t nfds;          //   entries
  CURL *spare[EASY_SPARE];
  int nspare;
  // Settings.
  int64_t pool_ns, read_ns, write_ns; // -1: none
  long connect_ms;                    // (INT_MAX: none)
  long keepalive_s;
  int max_redirects;
  size_t max_body;
  bool http2;
  char *ca_file, *user_agent;
  cio__h1_pool h1; // the own engine's connections (http:// origins), and max_connections
};

// A request in flight, and a streamed response's transfer.
struct request {
  cio_http_client *c; // NULL once finished (the handle went back to the client)
  CURL *easy;
  cio_task *task; // the task waiting on it (record)
  bool parked;    //   parked in this request's wait: only then is it woken
  bool in_multi;  // the transfer is in the client's multi handle
  bool stream;    // cio_http_stream(): the head ends the wait, the body comes after
  bool head_done; //   the final head has come
  bool paused;    //   curl is paused: the reader has STREAM_HIGH unread
  size_t rstart;  //   the unread body is body[rstart, len)
  int error;      //   a stream's failure, returned by every read after it
  int body_fd;    // a body sent from a file (opts.body_file), or -1
  bool upload;    // cio_http_upload_begin(): a task writes the body
  bool up_paused; //   curl waits for the next bytes
  bool up_eof;    //   cio_http_upload_finish() was called
  char *up;       //   bytes written, not yet sent: up[up_start, up_len)
  size_t up_start, up_len, up_cap;
  struct curl_slist *headers; // the request's headers
  char *full_url;             // the URL with its query, or NULL
  bool done;                  // curl finished the transfer
  CURLcode result;            //   how
  bool acquired;              // it has a connection (opening one, or reused)
  bool connected;             // the connection is up: the request goes out
  bool sent;                  // the whole request went out: waiting for the answer
  curl_off_t to_send;         // body bytes
  int64_t start;              // when it was submitted
  int64_t progress;           // the last byte moved
  bool too_large, nomem;
  bool bad_head;       // two Content-Length values that differ, or one with Transfer-Encoding
  bool head_length;    //   the head being read has a Content-Length
  bool head_coding;    //   and a Transfer-Encoding
  int interim;         // 1xx answers so far (CIO__HTTP_MAX_INTERIM)
  int connect_retries; // after an interrupted connect(2)
  char *body;          // the response body
  size_t len, cap;
  char *head; // the final response's header lines
  size_t hlen, hcap;
  bool head_ended; // an empty line ended the head in `head`: lines after it are trailers
  char errbuf[CURL_ERROR_SIZE];
};

static _Thread_local char last_error[CURL_ERROR_SIZE];

const char *cio_http_client_error(void) { return last_error; }

void cio__http_client_error_set(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_ready = CURLE_FAILED_INIT;
static void curl_start(void) { curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT); }

static bool valid(const cio_http_client *c) { return c && c->magic == CLIENT_MAGIC; }

static int64_t seconds_ns(double s, double dflt) {
  if (s == 0) s = dflt;
  return isinf(s) ? -1 : (int64_t)(s * NS);
}

// ---------------------------------------------------------------- the driver

static void on_epfd(cio__io *io, uint32_t ev) {
  (void)ev;
  cio_http_client *c = cio__container_of(io, cio_http_client, io);
  c->inner_ready = true;
  if (c->driver_rec) cio__wake(c->L, c->driver_rec, 0);
}

// curl says which events it wants on a socket.
// What the client knows of a descriptor (c->fds[fd]).  A connection's
// socket, opened and closed through the client's callbacks (FD_OURS),
// stays in the inner epoll between its requests, so that reusing a pooled
// connection costs no epoll_ctl (there were two per request): curl's
// "remove" only clears FD_WANTED, and an idle socket that reports an event
// anyway (the server closed it or wrote on it) is taken out then, and an
// HTTP/1 one retired (retire_idle).  Other descriptors (the resolver's) are
// added and removed as curl says.
#define FD_OURS 1u     // opened by on_open_socket, to be closed by on_close_socket
#define FD_IN 2u       // in the inner epoll for reading
#define FD_OUT 4u      //   and for writing
#define FD_WANTED 8u   // curl waits for it now
#define FD_IDLE 16u    // an HTTP/1 connection back in curl's pool: no transfer on it
#define FD_RETIRED 32u // retired (retire_idle): no longer counted under max_connections

static uint8_t *fd_state(cio_http_client *c, curl_socket_t s) {
  if (s < 0) return NULL;
  if ((size_t)s >= c->nfds) {
    size_t n = c->nfds ? c->nfds : 64;
    while (n <= (size_t)s) n *= 2;
    uint8_t *f = cio__realloc(c->fds, n);
    if (!f) return NULL;
    memset(f + c->nfds, 0, n - c->nfds);
    c->fds = f;
    c->nfds = n;
  }
  return &c->fds[s];
}

// Keeps a socket of ours in the inner epoll with `mask` (FD_IN, FD_OUT;
// 0: out of it).  Returns 0 or -1.
static int fd_register(cio_http_client *c, curl_socket_t s, uint8_t *st, uint8_t mask) {
  uint8_t now = *st & (FD_IN | FD_OUT);
  if (now == mask) return 0;
  struct epoll_event ev = {
      .events = (mask & FD_IN ? EPOLLIN : 0u) | (mask & FD_OUT ? EPOLLOUT : 0u), .data.fd = s};
  int rc;
  if (!mask) {
    rc = epoll_ctl(c->epfd, EPOLL_CTL_DEL, s, NULL);
  } else {
    rc = epoll_ctl(c->epfd, now ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s, &ev);
    if (rc < 0 && (errno == EEXIST || errno == ENOENT))
      rc = epoll_ctl(c->epfd, errno == EEXIST ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s, &ev);
  }
  *st = (uint8_t)((*st & ~(FD_IN | FD_OUT)) | (rc == 0 ? mask : 0));
  return rc == 0 || !mask ? 0 : -1;
}

static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp) {
  (void)e;
  cio_http_client *c = userp;
  uint8_t *st = fd_state(c, s);
  if (st && (*st & FD_OURS)) {
    if (what == CURL_POLL_REMOVE) {
      *st &= (uint8_t)~FD_WANTED;
      // Left in for reading (the next request's answer); never for
      // writing, which an idle socket always is.
      return fd_register(c, s, st, *st & FD_IN);
    }
    *st = (uint8_t)((*st | FD_WANTED) & ~FD_IDLE);
    return fd_register(
        c, s, st,
        (uint8_t)((what & CURL_POLL_IN ? FD_IN : 0) | (what & CURL_POLL_OUT ? FD_OUT : 0)));
  }
  if (what == CURL_POLL_REMOVE) {
    (void)epoll_ctl(c->epfd, EPOLL_CTL_DEL, s, NULL);
    curl_multi_assign(c->multi, s, NULL);
    return 0;
  }
  struct epoll_event ev = {.events = (what & CURL_POLL_IN ? EPOLLIN : 0u) |
                                     (what & CURL_POLL_OUT ? EPOLLOUT : 0u),
                           .data.fd = s};
  int op = socketp ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
  if (epoll_ctl(c->epfd, op, s, &ev) < 0 && errno == EEXIST) op = EPOLL_CTL_MOD;
  if (op == EPOLL_CTL_MOD && epoll_ctl(c->epfd, op, s, &ev) < 0) return -1;
  if (!socketp) curl_multi_assign(c->multi, s, c);
  return 0;
}

// curl's single timer: the driver's park deadline.
static int on_timer(CURLM *m, long ms, void *userp) {
  (void)m;
  cio_http_client *c = userp;
  c->timer_at = ms < 0 ? -1 : cio__loop_now(c->L) + (int64_t)ms * 1000000;
  if (c->driver_rec) cio__wake(c->L, c->driver_rec, 0);
  return 0;
}

// A transfer has ended: if it leaves an HTTP/1 connection in curl's pool,
// that connection is idle until curl takes it for another request.  (An
// HTTP/2 connection may carry other transfers, and its frames can arrive
// while it is idle: it is left to curl.)
static void note_idle(cio_http_client *c, CURL *e) {
  curl_socket_t s = CURL_SOCKET_BAD;
  long version = 0;
  if (curl_easy_getinfo(e, CURLINFO_ACTIVESOCKET, &s) != CURLE_OK || s == CURL_SOCKET_BAD ||
      curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &version) != CURLE_OK ||
      (version != CURL_HTTP_VERSION_1_0 && version != CURL_HTTP_VERSION_1_1))
    return;
  if ((size_t)s < c->nfds && (c->fds[s] & FD_OURS)) c->fds[s] |= FD_IDLE;
}

// An idle HTTP/1 connection the server wrote on or closed.  Whatever it
// sent (a 408 before its close, an answer to nothing) answers no request of
// ours, yet curl (7.88) would reuse the connection and read those bytes as
// the next request's answer, shifting every answer after it.  So it is never
// reused, as httpx and Go's client do: its descriptor now holds a socket
// whose peer has gone (the connection is closed by that), which curl finds
// dead when it looks, and closes as its own.
static void retire_idle(cio_http_client *c, int fd) {
  (void)fd_register(c, fd, &c->fds[fd], 0);
  c->fds[fd] = (uint8_t)((c->fds[fd] & ~FD_IDLE) | FD_RETIRED);
  c->h1.other_open--; // closed, as far as the server and the limits go
  cio__h1_room(&c->h1);
  if (c->dead_fd < 0) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0) {
      close(sv[1]);
      c->dead_fd = sv[0];
    }
  }
  if (c->dead_fd < 0 || dup3(c->dead_fd, fd, O_CLOEXEC) < 0)
    (void)shutdown(fd, SHUT_RDWR); // no descriptor to spare: curl may still read the bytes
}

// Wakes the requests whose transfers curl finished.
static void finish_done(cio_http_client *c) {
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
    if (m->msg != CURLMSG_DONE) continue;
    note_idle(c, m->easy_handle);
    struct request *r = NULL;
    (void)curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
    if (!r || r->done) continue;
    r->done = true;
    r->result = m->data.result;
    if (r->parked) cio__wake(c->L, r->task, 1);
  }
  cio__h1_room(&c->h1); // an idle connection of libcurl's may now be retired for it
}

static int drive(void *arg) {
  cio_http_client *c = arg;
  c->driver_rec = c->L->current;
  struct epoll_event evs[64];
  int running;
  for (;;) {
    // Retried at once on EINTR: reading it as "none ready" would park the
    // driver with sockets ready, and their edge has already been seen.
    // Skipped when epfd has had no edge since it was last found empty (a
    // wake by curl's timer, as each new request makes): an event there
    // since would have made one, since the loop watches epfd
    // edge-triggered and the kernel signals a nested epoll as sockets in
    // it become ready.  One system call fewer per request.
    int n = 0;
    if (c->inner_ready) {
      c->inner_ready = false;
      do n = epoll_wait(c->epfd, evs, 64, 0);
      while (n < 0 && errno == EINTR);
      if (n < 0) n = 0;
      if (n > 0) c->inner_ready = true; // level-triggered: some may be ready still
    }
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if ((size_t)fd < c->nfds && (c->fds[fd] & (FD_OURS | FD_WANTED)) == FD_OURS) {
        if (c->fds[fd] & FD_IDLE)
          retire_idle(c, fd);
        else // a paused transfer's: curl finds out when it goes on
          (void)fd_register(c, fd, &c->fds[fd], 0);
        continue;
      }
      int mask = 0;
      if (evs[i].events & (EPOLLIN | EPOLLHUP)) mask |= CURL_CSELECT_IN;
      if (evs[i].events & EPOLLOUT) mask |= CURL_CSELECT_OUT;
      if (evs[i].events & EPOLLERR) mask |= CURL_CSELECT_ERR;
      (void)curl_multi_socket_action(c->multi, evs[i].data.fd, mask, &running);
    }
    bool due = c->timer_at >= 0 && cio__loop_now(c->L) >= c->timer_at;
    if (due) {
      c->timer_at = -1;
      (void)curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    finish_done(c);
    if (n > 0 || due) { // more may be ready (level-triggered): look again
      if (cio__coop(c->L) < 0) break;
      continue;
    }
    if (c->closing) break;
    int rc = cio__park(c->L, c->timer_at >= 0 ? c->timer_at : CIO__NEVER, "HTTP client");
    if (rc < 0) break; // the loop ends (cio_run cancels what is left)
  }
  c->driver_rec = NULL;
  c->ended = true;
  return 0;
}

// ---------------------------------------------------------------- client

// The own engine needs a place under max_connections that an idle HTTP/1
// connection of libcurl's holds: that connection is retired.  Returns
// whether one was.
static bool h1_evict_other(cio__h1_pool *p) {
  cio_http_client *c = cio__container_of(p, cio_http_client, h1);
  for (size_t fd = 0; fd < c->nfds; fd++)
    if ((c->fds[fd] & (FD_OURS | FD_IDLE | FD_WANTED | FD_RETIRED)) == (FD_OURS | FD_IDLE)) {
      retire_idle(c, (int)fd);
      return true;
    }
  return false;
}

// The own engine opened or closed a connection: libcurl may open what is
// left of max_connections (at least 1: 0 would be no limit; then submit()
// waits for a place first).
static void h1_open_changed(cio__h1_pool *p) {
  cio_http_client *c = cio__container_of(p, cio_http_client, h1);
  size_t left = p->max_total > p->open ? p->max_total - p->open : 1;
  curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)left);
}

int cio_http_client_new(cio_http_client **out, const cio_http_client_opts *opts) {
  if (!out) return -EINVAL;
  *out = NULL;
  cio__loop *L = cio__task_loop();
  if (!L) return cio__misuse_outside("cio_http_client_new");
  cio_http_client_opts o = opts ? *opts : (cio_http_client_opts){0};
  double t[] = {o.keepalive_expiry, o.connect_timeout, o.read_timeout, o.write_timeout,
                o.pool_timeout};
  for (size_t i = 0; i < sizeof t / sizeof *t; i++)
    if (isnan(t[i]) || t[i] < 0) return -EINVAL;
  if (o.max_redirects < 0 || (o.user_agent && !cio__http_field_value_ok(o.user_agent)))
    return -EINVAL;
  pthread_once(&curl_once, curl_start);
  if (curl_ready != CURLE_OK) return -ENOMEM;
  cio_http_client *c = cio__calloc(1, sizeof *c);
  if (!c) return -ENOMEM;
  c->L = L;
  c->epfd = -1;
  c->dead_fd = -1;
  c->timer_at = -1;
  c->inner_ready = true;
  c->pool_ns = seconds_ns(o.pool_timeout, 5);
  c->read_ns = seconds_ns(o.read_timeout, 5);
  c->write_ns = seconds_ns(o.write_timeout, 5);
  double ct = o.connect_timeout == 0 ? 5 : o.connect_timeout;
  // (curl reads 0 as its default of 300 s: "none" is 24 days, as long as
  // curl's timers go.)
  c->connect_ms = isinf(ct) || ct * 1000 > INT_MAX ? INT_MAX : (long)ceil(ct * 1000);
  // curl reuses a connection whose idle whole seconds do not exceed
  // CURLOPT_MAXAGE_CONN: N - 1 closes it once idle N seconds.
  double ka = o.keepalive_expiry == 0 ? 5 : o.keepalive_expiry;
  c->keepalive_s = isinf(ka) || ka > 1e9 ? 1000000000L : (long)ceil(ka) - 1;
  c->max_redirects = o.max_redirects;
  c->max_body = o.max_body ? o.max_body : DEFAULT_MAX_BODY;
  c->h1 = (cio__h1_pool){
      .L = L,
      .max_total = o.max_connections ? o.max_connections : 100,
      .max_per_host = o.max_connections_per_host,
      .max_idle = o.max_keepalive ? o.max_keepalive : 20,
      .keepalive_ns = isinf(ka) ? -1 : (int64_t)(ka * NS),
      .connect_ns = isinf(ct) ? -1 : (int64_t)(ct * NS),
      .read_ns = c->read_ns,
      .write_ns = c->write_ns,
      .pool_ns = c->pool_ns,
      .max_body = c->max_body,
      .other_busy = &c->in_flight,
      .open_changed = h1_open_changed,
      .evict_other = h1_evict_other,
  };
  c->http2 = o.http2;
  char ua[64];
  snprintf(ua, sizeof ua, "cio/%s", cio_version_string());
  c->ca_file = o.ca_file ? strdup(o.ca_file) : NULL;
  c->user_agent = strdup(o.user_agent ? o.user_agent : ua);
  c->h1.user_agent = c->user_agent;
  c->multi = curl_multi_init();
  c->share = curl_share_init();
  c->epfd = epoll_create1(EPOLL_CLOEXEC);
  int rc = -ENOMEM;
  if (c->epfd < 0) rc = -errno;
  if (!c->multi || !c->share || c->epfd < 0 || !c->user_agent || (o.ca_file && !c->ca_file))
    goto fail;
  (void)curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
  curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_timer);
  curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
  curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)c->h1.max_total);
  curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)o.max_connections_per_host);
  curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)(o.max_keepalive ? o.max_keepalive : 20));
  curl_multi_setopt(c->multi, CURLMOPT_PIPELINING,
                    (long)(o.http2 ? CURLPIPE_MULTIPLEX : CURLPIPE_NOTHING));
  c->io.fd = c->epfd;
  c->io.ready = on_epfd;
  rc = cio__loop_watch(L, &c->io, CIO__IO_READ);
  if (rc < 0) goto fail;
  c->driver = cio_spawn(drive, c);
  if (!c->driver) {
    cio__loop_unwatch(L, &c->io);
    rc = -ENOMEM;
    goto fail;
  }
  c->magic = CLIENT_MAGIC;
  *out = c;
  return 0;
fail:
  if (c->multi) curl_multi_cleanup(c->multi);
  if (c->share) curl_share_cleanup(c->share);
  if (c->epfd >= 0) close(c->epfd);
  free(c->ca_file);
  free(c->user_agent);
  free(c);
  return rc;
}

int cio_http_client_close(cio_http_client *c) {
  if (!valid(c)) return cio__bad_handle("cio_http_client_close", "HTTP client", c);
  if (c->in_flight || c->h1.busy) return -EBUSY;
  c->closing = true;
  if (c->driver_rec) cio__wake(c->L, c->driver_rec, 0);
  cio_scope shield;
  cio_shield_begin(&shield); // the driver ends at once: nothing to interrupt
  int rc = cio_join(c->driver);
  (void)cio_scope_end(&shield);
  (void)rc;
  c->magic = 0;
  cio__h1_fini(&c->h1);
  for (int i = 0; i < c->nspare; i++) curl_easy_cleanup(c->spare[i]);
  curl_multi_cleanup(c->multi); // closes the pooled connections
  curl_share_cleanup(c->share);
  cio__loop_unwatch(c->L, &c->io);
  close(c->epfd);
  if (c->dead_fd >= 0) close(c->dead_fd);
  free(c->fds);
  free(c->ca_file);
  free(c->user_agent);
  cio__quarantine(c); // a second close reads the cleared magic
  return 0;
}

size_t cio_http_client_connections(const cio_http_client *c) {
  return valid(c) ? c->connections + c->h1.opened : 0;
}

size_t cio__http_client_origins_kept(const cio_http_client *c) {
  return valid(c) ? c->h1.origins_kept : 0;
}

// ---------------------------------------------------------------- curl's callbacks

static bool grow(char **buf, size_t *cap, size_t need) {
  if (need <= *cap) return true;
  size_t n = *cap ? *cap : 1024;
  while (n < need) n *= 2;
  char *b = cio__realloc(*buf, n);
  if (!b) return false;
  *buf = b;
  *cap = n;
  return true;
}

// The request entered a new phase (connection acquired, request sent):
// its task, parked until the old phase's deadline, recomputes it.
static void phase_changed(struct request *r) {
  if (r->parked) cio__wake(r->c->L, r->task, 0);
}

static size_t on_body(char *p, size_t size, size_t n, void *arg) {
  struct request *r = arg;
  size_t len = size * n;
  r->progress = cio__loop_now(r->c->L);
  if (r->stream) {
    if (r->len - r->rstart >= STREAM_HIGH) { // the reader is behind: hold the server back
      r->paused = true;
      return CURL_WRITEFUNC_PAUSE; // curl gives the same bytes again once unpaused
    }
    if (r->rstart && r->len + len + 1 > r->cap) { // room at the front
      memmove(r->body, r->body + r->rstart, r->len - r->rstart);
      r->len -= r->rstart;
      r->rstart = 0;
    }
    if (!grow(&r->body, &r->cap, r->len + len + 1)) {
      r->nomem = true;
      return 0;
    }
    memcpy(r->body + r->len, p, len);
    r->len += len;
    r->head_done = true;
    phase_changed(r); // the reader, or the caller waiting for the head
    return len;
  }
  if (r->len + len > r->c->max_body) {
    r->too_large = true;
    return 0; // curl stops: CURLE_WRITE_ERROR
  }
  if (!grow(&r->body, &r->cap, r->len + len + 1)) {
    r->nomem = true;
    return 0;
  }
  memcpy(r->body + r->len, p, len);
  r->len += len;
  return len;
}

// Whether a Content-Length value agrees with those of the answer's earlier
// fields (a repeated equal value is allowed, as in a list).
static bool length_agrees(const struct request *r, const char *v, size_t n) {
  while (n && (*v == ' ' || *v == '\t')) v++, n--;
  while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ' || v[n - 1] == '\t')) n--;
  for (const char *at = r->head; at && at < r->head + r->hlen;) {
    const char *end = memchr(at, '\n', (size_t)(r->head + r->hlen - at));
    if ((size_t)(r->head + r->hlen - at) > 15 && strncasecmp(at, "Content-Length:", 15) == 0) {
      const char *w = at + 15;
      size_t m = (size_t)((end ? end : r->head + r->hlen) - w);
      while (m && (*w == ' ' || *w == '\t')) w++, m--;
      while (m && (w[m - 1] == '\r' || w[m - 1] == ' ' || w[m - 1] == '\t')) m--;
      if (m != n || memcmp(w, v, n) != 0) return false;
    }
    at = end ? end + 1 : NULL;
  }
  return true;
}

// At the blank line that ends a head: whether it is the answer's, not a
// 1xx's nor a redirect's that curl will follow.
static bool head_is_final(const struct request *r) {
  long status = 0;
  (void)curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
  return status >= 200; // (redirects are followed by cio, one transfer each)
}

static size_t on_header(char *p, size_t size, size_t n, void *arg) {
  struct request *r = arg;
  size_t len = size * n;
  r->progress = cio__loop_now(r->c->L);
  if (!r->sent) {
    r->sent = true; // an answer (even a 100 Continue) comes after the request
    phase_changed(r);
  }
  bool status_line = len >= 5 && memcmp(p, "HTTP/", 5) == 0;
  // A status line after a head that ended: the next answer after a 1xx
  // (curl skips them, unbounded).  CURLE_WRITE_ERROR: CIO_HTTP_PROTOCOL.
  if (status_line && r->head_ended && r->interim++ >= CIO__HTTP_MAX_INTERIM) return 0;
  if (status_line) { // a redirect's or a 1xx's next answer
    r->hlen = 0;
    r->head_ended = r->head_length = r->head_coding = false;
  } else if (r->head_ended) {
    return len; // a trailer field (after a chunked body): not one of the head's, as in httpx
  }
  bool empty = (len == 2 || len == 1) && (p[0] == '\r' || p[0] == '\n');
  if (len > 15 && strncasecmp(p, "Content-Length:", 15) == 0) {
    r->head_length = true;
    if (!length_agrees(r, p + 15, len - 15)) r->bad_head = true;
  }
  if (len > 18 && strncasecmp(p, "Transfer-Encoding:", 18) == 0) r->head_coding = true;
  if (r->head_length && r->head_coding) r->bad_head = true; // (a server MUST NOT send both)
  if (r->bad_head) return 0; // which length frames the body? (RFC 9112 §6.3): the connection goes
  if (!grow(&r->head, &r->hcap, r->hlen + len + 1)) {
    r->nomem = true;
    return 0;
  }
  memcpy(r->head + r->hlen, p, len);
  r->hlen += len;
  r->head[r->hlen] = '\0';
  if (empty) r->head_ended = true;
  if (r->stream && !r->head_done && empty && head_is_final(r)) {
    r->head_done = true;
    phase_changed(r);
  }
  return len;
}

static curl_socket_t on_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a) {
  (void)purpose;
  struct request *r = arg;
  r->acquired = true; // a connection of its own: the pool wait is over
  phase_changed(r);
  int fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
  if (fd < 0) return CURL_SOCKET_BAD;
  r->c->connections++;
  r->c->h1.other_open++;
  uint8_t *st = fd_state(r->c, fd);
  if (st) *st = FD_OURS;
  return fd;
}

// curl closes a connection's socket (the kernel takes it out of the epoll).
static int on_close_socket(void *arg, curl_socket_t s) {
  cio_http_client *c = arg;
  if (s >= 0 && (size_t)s < c->nfds) {
    if ((c->fds[s] & (FD_OURS | FD_RETIRED)) == FD_OURS) {
      c->h1.other_open--;
      cio__h1_room(&c->h1); // room under max_connections
    }
    c->fds[s] = 0;
  }
  return close(s);
}

// curl starts a name lookup for a new connection: the request has its
// place under the pool's limits, and the lookup counts as the connect's
// time (curl's connect timeout covers it), as in httpx.
static int on_resolver_start(void *resolver, void *reserved, void *arg) {
  (void)resolver, (void)reserved;
  struct request *r = arg;
  if (!r->acquired) {
    r->acquired = true;
    phase_changed(r);
  }
  return 0;
}

// NOLINTNEXTLINE(readability-non-const-parameter): libcurl's callback type
static int on_prereq(void *arg, char *ip, char *local_ip, int port, int local_port) {
  (void)ip, (void)local_ip, (void)port, (void)local_port;
  struct request *r = arg;
  r->acquired = r->connected = true;
  r->progress = cio__loop_now(r->c->L);
  if (r->to_send == 0) r->sent = true;
  phase_changed(r);
  return CURL_PREREQFUNC_OK;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow) {
  (void)dltotal, (void)dlnow, (void)ultotal;
  struct request *r = arg;
  if (r->connected && !r->sent && ulnow > 0) {
    r->progress = cio__loop_now(r->c->L);
    if (ulnow >= r->to_send) {
      r->sent = true;
      phase_changed(r);
    }
  }
  return 0;
}

// ---------------------------------------------------------------- requests

// A body from a file: curl asks for the next bytes.  (A regular file's
// read is not awaited: the page cache answers at once, a disk may not.)
static size_t on_read_body(char *buf, size_t size, size_t n, void *arg) {
  struct request *r = arg;
  for (;;) {
    ssize_t got = read(r->body_fd, buf, size * n);
    if (got >= 0) return (size_t)got;
    if (errno != EINTR) return CURL_READFUNC_ABORT;
  }
}

// A body a task writes (cio_http_upload_write()): what it wrote so far,
// then a pause until it writes more, then the end.
static size_t on_read_upload(char *buf, size_t size, size_t n, void *arg) {
  struct request *r = arg;
  size_t have = r->up_len - r->up_start;
  if (have == 0) {
    if (r->up_eof) {
      r->sent = true; // all of it: the answer is next (read_timeout)
      return 0;
    }
    r->up_paused = true;
    return CURL_READFUNC_PAUSE;
  }
  size_t k = have < size * n ? have : size * n;
  memcpy(buf, r->up + r->up_start, k);
  r->up_start += k;
  if (r->up_start == r->up_len) r->up_start = r->up_len = 0;
  r->progress = cio__loop_now(r->c->L);
  phase_changed(r); // a writer waiting for room
  return k;
}

// curl rewinds the body to send it again (a 307 or 308 redirect).
static int on_seek_body(void *arg, curl_off_t offset, int origin) {
  struct request *r = arg;
  return lseek(r->body_fd, (off_t)offset, origin) < 0 ? CURL_SEEKFUNC_FAIL : CURL_SEEKFUNC_OK;
}

// curl_easy_setopt, in a run that stops at the first failure (in `ok`).
#define SET(opt, val) ok = ok != CURLE_OK ? ok : curl_easy_setopt(e, opt, val)

// The client's settings, the same for each of its requests: set once per
// handle (a handle reused keeps them; resetting and setting them again
// cost about 30 allocations a request).
static bool set_constant(cio_http_client *c, CURL *e) {
  CURLcode ok = CURLE_OK;
  SET(CURLOPT_PROTOCOLS_STR, "http,https");
  SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  SET(CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075700
  // A transfer given up while its name is being looked up (a timeout, a
  // cancel) leaves curl's resolver thread to finish alone: without this
  // curl joins it, and the loop stood still until getaddrinfo returned.
  SET(CURLOPT_QUICK_EXIT, 1L);
#endif
  SET(CURLOPT_WRITEFUNCTION, on_body);
  SET(CURLOPT_HEADERFUNCTION, on_header);
  SET(CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
  SET(CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
  SET(CURLOPT_CLOSESOCKETDATA, c);
  SET(CURLOPT_PREREQFUNCTION, on_prereq);
  SET(CURLOPT_RESOLVER_START_FUNCTION, on_resolver_start);
  SET(CURLOPT_XFERINFOFUNCTION, on_progress);
  SET(CURLOPT_NOPROGRESS, 0L);
  SET(CURLOPT_SHARE, c->share);
  SET(CURLOPT_CONNECTTIMEOUT_MS, c->connect_ms);
  SET(CURLOPT_MAXAGE_CONN, c->keepalive_s);
  SET(CURLOPT_ACCEPT_ENCODING, ""); // every coding curl can decode
  SET(CURLOPT_USERAGENT, c->user_agent);
  SET(CURLOPT_HTTP_VERSION, (long)(c->http2 ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1));
  SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC); // when a user and password are given
  if (c->http2) SET(CURLOPT_PIPEWAIT, 1L);
  if (c->ca_file) SET(CURLOPT_CAINFO, c->ca_file);
  return ok == CURLE_OK;
}

static CURL *take_easy(cio_http_client *c) {
  if (c->nspare) return c->spare[--c->nspare];
  CURL *e = cio__alloc_fails() ? NULL : curl_easy_init();
  if (e && !set_constant(c, e)) {
    curl_easy_cleanup(e);
    e = NULL;
  }
  return e;
}

static void give_easy(cio_http_client *c, CURL *e) {
  if (c->nspare < EASY_SPARE)
    c->spare[c->nspare++] = e;
  else
    curl_easy_cleanup(e);
}

// Sets up the transfer.  Returns 0 or -errno.
static int prepare(struct request *r, const char *method, const char *url,
                   const cio_http_request_opts *o, struct curl_slist **hl, char **full_url) {
  CURL *e = r->easy;
  CURLcode ok = CURLE_OK;
  const char *u = url;
  if (o && o->nquery) {
    if (!o->query) return -EINVAL;
    *full_url = cio__http_client_url_with_query(url, o->query, o->nquery);
    if (!*full_url) return -ENOMEM;
    u = *full_url;
  }
  // The handle keeps the client's settings (set_constant()); what changes
  // from one request to the next is set each time, every one of them, so
  // nothing of the last request stays.
  SET(CURLOPT_URL, u);
  SET(CURLOPT_PRIVATE, (char *)r);
  SET(CURLOPT_ERRORBUFFER, r->errbuf);
  SET(CURLOPT_WRITEDATA, r);
  SET(CURLOPT_HEADERDATA, r);
  SET(CURLOPT_OPENSOCKETDATA, r);
  SET(CURLOPT_PREREQDATA, r);
  SET(CURLOPT_RESOLVER_START_DATA, r);
  SET(CURLOPT_XFERINFODATA, r);
  SET(CURLOPT_MAXFILESIZE_LARGE, r->stream ? (curl_off_t)0 : (curl_off_t)r->c->max_body);
  SET(CURLOPT_HTTPGET, 1L); // GET, no body: forgets the last request's method
  SET(CURLOPT_CUSTOMREQUEST, NULL);
  const void *body = o ? o->body : NULL;
  size_t body_len = o ? o->body_len : 0;
  if (o && o->json) {
    if (body || body_len || o->body_file) return -EINVAL; // one body
    body = o->json;
    body_len = strlen(o->json);
  }
  if (!body && body_len) return -EINVAL;
  bool has_body = body != NULL;
  if (r->upload) {
    if (has_body || (o && o->body_file)) return -EINVAL; // the task's writes are the body
    SET(CURLOPT_POST, 1L);
    SET(CURLOPT_POSTFIELDS, NULL);
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)-1); // chunked: the length is not known
    SET(CURLOPT_READFUNCTION, on_read_upload);
    SET(CURLOPT_READDATA, r);
    SET(CURLOPT_SEEKFUNCTION, NULL); // cannot be sent again
    has_body = true;
    body_len = SIZE_MAX;
  } else if (o && o->body_file) {
    if (has_body) return -EINVAL; // one body
    do r->body_fd = open(o->body_file, O_RDONLY | O_CLOEXEC);
    while (r->body_fd < 0 && errno == EINTR);
    struct stat st;
    if (r->body_fd < 0 || fstat(r->body_fd, &st) < 0) return -errno;
    if (!S_ISREG(st.st_mode)) return -EINVAL;
    SET(CURLOPT_POST, 1L);
    SET(CURLOPT_POSTFIELDS, NULL); // read through on_read_body, not the last request's fields
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)st.st_size);
    SET(CURLOPT_READFUNCTION, on_read_body);
    SET(CURLOPT_READDATA, r);
    SET(CURLOPT_SEEKFUNCTION, on_seek_body);
    SET(CURLOPT_SEEKDATA, r);
    body_len = (size_t)st.st_size;
    has_body = true;
  } else if (strcmp(method, "HEAD") == 0) {
    SET(CURLOPT_NOBODY, 1L);
  } else if (has_body || strcmp(method, "POST") == 0) {
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    SET(CURLOPT_COPYPOSTFIELDS, has_body ? (const char *)body : "");
  }
  // curl's own methods are GET (HTTPGET), HEAD (NOBODY) and POST (a body);
  // the others, and a GET with a body, are named.
  bool named = strcmp(method, "GET") == 0
                   ? has_body
                   : strcmp(method, "HEAD") != 0 && strcmp(method, "POST") != 0;
  if (named) SET(CURLOPT_CUSTOMREQUEST, method);
  // Redirects are followed by cio (request_following()), for both engines.
  SET(CURLOPT_FOLLOWLOCATION, 0L);
  r->to_send = body_len == SIZE_MAX ? (curl_off_t)INT64_MAX : (curl_off_t)body_len;
  bool basic = o && o->user && o->password;
  SET(CURLOPT_USERNAME, basic ? o->user : NULL);
  SET(CURLOPT_PASSWORD, basic ? o->password : NULL);
  // Headers: the caller's; curl's Expect: 100-continue and form type are
  // not sent (httpx sends neither).  A line that is not "Name: value" with
  // a token for a name and no control character in the value is refused,
  // as h11 and Go's client refuse it: a CR or LF would end the line there
  // and send what follows as a header of its own.
  bool own_type = false;
  struct curl_slist *l = NULL;
  for (const char *const *h = o && o->headers ? o->headers : NULL; h && *h; h++) {
    if (!cio__http_header_line_ok(*h)) goto invalid;
    if (strncasecmp(*h, "Content-Type:", 13) == 0) own_type = true;
    struct curl_slist *n = curl_slist_append(l, *h);
    if (!n) goto nomem;
    l = n;
  }
  const char *extra[3] = {NULL, NULL, NULL};
  char *auth = NULL;
  if (has_body) extra[0] = "Expect:";
  if ((has_body || strcmp(method, "POST") == 0) && !own_type)
    extra[1] = o && o->json ? "Content-Type: application/json" : "Content-Type:";
  if (o && o->bearer) { // a token of any length (JWTs run to kilobytes)
    if (!cio__http_field_value_ok(o->bearer)) goto invalid;
    if (asprintf(&auth, "Authorization: Bearer %s", o->bearer) < 0) goto nomem;
    extra[2] = auth;
  }
  for (int i = 0; i < 3; i++) {
    if (!extra[i]) continue;
    struct curl_slist *n = curl_slist_append(l, extra[i]); // (copies the line)
    if (!n) {
      free(auth);
      goto nomem;
    }
    l = n;
  }
  free(auth);
  *hl = l;
  SET(CURLOPT_HTTPHEADER, l);
  if (ok == CURLE_OUT_OF_MEMORY) return -ENOMEM;
  return ok == CURLE_OK ? 0 : -EINVAL;
nomem:
  curl_slist_free_all(l);
  return -ENOMEM;
invalid:
  curl_slist_free_all(l);
  return -EINVAL;
}

#undef SET

// The phase deadline of a request still running, and the code its passing
// means; CIO__NEVER when none applies now.
static int64_t phase_deadline(const struct request *r, int *code) {
  const cio_http_client *c = r->c;
  if (!r->acquired) {
    *code = CIO_HTTP_POOL_TIMEOUT;
    return c->pool_ns < 0 ? CIO__NEVER : r->start + c->pool_ns;
  }
  if (!r->connected) return CIO__NEVER; // curl times the connect
  int64_t limit = r->sent ? c->read_ns : c->write_ns;
  *code = r->sent ? CIO_HTTP_READ_TIMEOUT : CIO_HTTP_WRITE_TIMEOUT;
  return limit < 0 ? CIO__NEVER : r->progress + limit;
}

// Awaits the end of the transfer (or, for a stream, its head).  Returns 0
// (see r->done, r->result), a phase's timeout code, or the park's
// -ECANCELED / -ETIMEDOUT.
static bool connect_interrupted(struct request *r);

static int await_request(struct request *r) {
  cio__loop *L = r->c->L;
  while (!r->done && !(r->stream && r->head_done)) {
    int code = 0;
    int64_t at = phase_deadline(r, &code);
    if (at != CIO__NEVER && cio__loop_now(L) >= at) return code;
    r->task = L->current;
    r->parked = true;
    int rc = cio__park(L, at, "HTTP request");
    r->parked = false;
    if (r->done && connect_interrupted(r)) continue; // tried again
    if (r->done || (r->stream && r->head_done)) return 0;
    if (rc < 0) return rc;
    if (r->c->ended) return -ECANCELED; // the loop is ending
  }
  return 0;
}

// A connect(2) that a signal interrupted: curl takes EINTR for a failure,
// though nothing went out yet.  The transfer starts again (up to 100
// times: a signal storm, not a loop; tools/eintr-storm.sh found it).
// Returns whether it did.
static bool connect_interrupted(struct request *r) {
  long os_errno = 0;
  if (r->result != CURLE_COULDNT_CONNECT || r->connect_retries >= 100) return false;
  (void)curl_easy_getinfo(r->easy, CURLINFO_OS_ERRNO, &os_errno);
  if (os_errno != EINTR) return false;
  cio_http_client *c = r->c;
  (void)curl_multi_remove_handle(c->multi, r->easy);
  r->done = r->acquired = r->connected = r->sent = false;
  r->hlen = r->len = 0;
  r->errbuf[0] = '\0';
  r->connect_retries++;
  r->start = r->progress = cio__loop_now(c->L);
  if (curl_multi_add_handle(c->multi, r->easy) != CURLM_OK) {
    r->in_multi = false; // the failure stands (finish() must not remove it again)
    c->in_flight--;
    r->done = true;
    return false;
  }
  if (c->driver_rec) cio__wake(c->L, c->driver_rec, 0);
  return true;
}

// The X.509 verification results cio names (OpenSSL's numbers); `why` is
// curl's message.
static int cert_code(long v, const char *why) {
  switch (v) {
  case 0: return CIO_TLS_CERT_HOSTNAME; // the chain verified: curl's own name check failed
  case 1:                               // X509_V_ERR_UNSPECIFIED: so curl 7.88 reports that check
    return strstr(why, "host name") ? CIO_TLS_CERT_HOSTNAME : CIO_TLS_CERT_INVALID;
  case 9:                                 // X509_V_ERR_CERT_NOT_YET_VALID
  case 10: return CIO_TLS_CERT_EXPIRED;   // X509_V_ERR_CERT_HAS_EXPIRED
  case 2:                                 // X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT
  case 18:                                // X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
  case 19:                                // X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN
  case 20:                                // X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
  case 21: return CIO_TLS_CERT_UNTRUSTED; // X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE
  case 62:                                // X509_V_ERR_HOSTNAME_MISMATCH
  case 64: return CIO_TLS_CERT_HOSTNAME;  // X509_V_ERR_IP_ADDRESS_MISMATCH
  default: return CIO_TLS_CERT_INVALID;
  }
}

// curl's result as a cio code.
static int result_code(const struct request *r) {
  long os_errno = 0, verify = 0;
  switch (r->result) {
  case CURLE_OK: return 0;
  case CURLE_OUT_OF_MEMORY:
    // libcurl (7.88) says this too of a header line past its 100 KB limit:
    // an answer's head that big is the server's fault, not our memory's.
    return r->sent && !r->head_ended && !r->nomem ? CIO_HTTP_PROTOCOL : -ENOMEM;
  case CURLE_UNSUPPORTED_PROTOCOL:
    // Before connecting: a URL's scheme; after: an answer curl refuses (no
    // status line, which it takes for HTTP/0.9; a status it cannot read).
    return r->connected ? CIO_HTTP_PROTOCOL : -EINVAL;
  case CURLE_URL_MALFORMAT:
  case CURLE_BAD_FUNCTION_ARGUMENT: return -EINVAL;
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY: return CIO_EAI_NONAME;
  case CURLE_COULDNT_CONNECT:
    (void)curl_easy_getinfo(r->easy, CURLINFO_OS_ERRNO, &os_errno);
    return os_errno ? -(int)os_errno : -ECONNREFUSED;
  case CURLE_OPERATION_TIMEDOUT: return CIO_HTTP_CONNECT_TIMEOUT; // the only timeout curl runs
  case CURLE_PEER_FAILED_VERIFICATION:
    (void)curl_easy_getinfo(r->easy, CURLINFO_SSL_VERIFYRESULT, &verify);
    return cert_code(verify, r->errbuf);
  case CURLE_SSL_CACERT_BADFILE: return CIO_TLS_CERT_INVALID;
  case CURLE_SSL_CONNECT_ERROR: return CIO_TLS_HANDSHAKE;
  case CURLE_TOO_MANY_REDIRECTS: return CIO_HTTP_TOO_MANY_REDIRECTS;
  case CURLE_FILESIZE_EXCEEDED: return CIO_HTTP_BODY_TOO_LARGE;
  case CURLE_WRITE_ERROR:
    return r->too_large ? CIO_HTTP_BODY_TOO_LARGE : r->nomem ? -ENOMEM : CIO_HTTP_PROTOCOL;
  case CURLE_SEND_ERROR:
    (void)curl_easy_getinfo(r->easy, CURLINFO_OS_ERRNO, &os_errno);
    return os_errno ? -(int)os_errno : -EPIPE;
  case CURLE_RECV_ERROR: // the system's error, or none: the answer was bad (a chunk's size)
    (void)curl_easy_getinfo(r->easy, CURLINFO_OS_ERRNO, &os_errno);
    return os_errno ? -(int)os_errno : CIO_HTTP_PROTOCOL;
  default: return CIO_HTTP_PROTOCOL; // a bad head, a short body, a bad coding, nothing at all
  }
}

// Splits the head into fields (in place).  Returns false for ENOMEM.
bool cio__http_client_split_head(cio_http_response *resp) {
  size_t lines = 0;
  for (const char *p = resp->head; *p; p++) lines += *p == '\n';
  resp->names = cio__calloc(lines + 1, sizeof *resp->names);
  resp->values = cio__calloc(lines + 1, sizeof *resp->values);
  if (!resp->names || !resp->values) return false;
  char *line = strchr(resp->head, '\n'); // after the status line
  while (line && *++line) {
    char *end = strchr(line, '\n');
    if (end) *end = '\0';
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t')) line[--n] = 0;
    char *colon = strchr(line, ':');
    if ((line[0] == ' ' || line[0] == '\t') && resp->nfields) {
      // obs-fold (RFC 9112 §5.2): the line continues the field before it,
      // joined by a space; that value ends before this line starts.
      char *v = line;
      while (*v == ' ' || *v == '\t') v++;
      char *tail = (char *)resp->values[resp->nfields - 1];
      tail += strlen(tail);
      *tail++ = ' ';
      memmove(tail, v, strlen(v) + 1);
    } else if (colon) {
      *colon = '\0';
      char *v = colon + 1;
      while (*v == ' ' || *v == '\t') v++;
      resp->names[resp->nfields] = line;
      resp->values[resp->nfields++] = v;
    }
    line = end;
  }
  return true;
}

static int make_response(struct request *r, cio_http_response **out) {
  cio_http_response *resp = cio__calloc(1, sizeof *resp);
  if (!resp) return -ENOMEM;
  long status = 0, version = 0;
  char *url = NULL;
  (void)curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
  (void)curl_easy_getinfo(r->easy, CURLINFO_HTTP_VERSION, &version);
  (void)curl_easy_getinfo(r->easy, CURLINFO_EFFECTIVE_URL, &url);
  if (status < 100 || status > 999) { // no status line curl could read ("HTTP/2-0 200")
    free(resp);
    return CIO_HTTP_PROTOCOL;
  }
  resp->status = (int)status;
  resp->version = version == CURL_HTTP_VERSION_2_0   ? "HTTP/2"
                  : version == CURL_HTTP_VERSION_1_0 ? "HTTP/1.0"
                  : version == CURL_HTTP_VERSION_3   ? "HTTP/3"
                                                     : "HTTP/1.1";
  if ((!r->stream && !grow(&r->body, &r->cap, r->len + 1)) ||
      !grow(&r->head, &r->hcap, r->hlen + 1)) {
    free(resp);
    return -ENOMEM;
  }
  r->head[r->hlen] = '\0';
  resp->head = r->head;
  r->head = NULL;
  r->hlen = r->hcap = 0; // (trailers would start a new one)
  if (!r->stream) {      // the body moves to the response; a stream's stays with its transfer
    r->body[r->len] = '\0';
    resp->body = r->body;
    resp->len = r->len;
    r->body = NULL;
  }
  resp->url = strdup(url ? url : "");
  if (!resp->url || !cio__http_client_split_head(resp)) {
    cio_http_response_free(resp);
    return -ENOMEM;
  }
  *out = resp;
  return 0;
}

static void note_error(const struct request *r, int code) {
  // A phase's timeout is cio's verdict, not curl's.
  bool ours = code >= CIO_HTTP_POOL_TIMEOUT && code <= CIO_HTTP_CONNECT_TIMEOUT && !r->done;
  const char *why = cio_strerror(code);
  if (r->bad_head)
    why = r->head_coding ? "Content-Length and Transfer-Encoding both (framed two ways)"
                         : "two Content-Length values that differ";
  else if (r->interim > CIO__HTTP_MAX_INTERIM)
    why = CIO__HTTP_TOO_MANY_INTERIM;
  else if (!ours && r->errbuf[0])
    why = r->errbuf;
  else if (!ours && r->done && r->result != CURLE_OK)
    why = curl_easy_strerror(r->result);
  snprintf(last_error, sizeof last_error, "%s", why);
}

// Takes the transfer out of the multi handle (curl closes a connection
// left half used) and gives the handle back to the client: after this the
// request no longer refers to the client.
static void finish(struct request *r) {
  cio_http_client *c = r->c;
  if (!c) return;
  if (r->in_multi) {
    (void)curl_multi_remove_handle(c->multi, r->easy);
    r->in_multi = false;
    c->in_flight--;
  }
  if (r->easy) give_easy(c, r->easy);
  r->easy = NULL;
  r->c = NULL;
}

static void request_free(struct request *r) {
  if (!r) return;
  finish(r);
  if (r->body_fd >= 0) close(r->body_fd);
  free(r->up);
  curl_slist_free_all(r->headers);
  free(r->full_url);
  free(r->body);
  free(r->head);
  free(r);
}

// Checks a call on the client (`fn` names it).  Returns 0, or a negative
// code: -EPERM (not a task of the client's loop), -EINVAL (a closed
// client, no method or URL, a method with a blank), -ECANCELED (the client
// is closing), the task's -ECANCELED or -ETIMEDOUT.
static int call_begin(cio_http_client *c, const char *fn, const char *method, const char *url) {
  cio__loop *L = cio__await_loop(fn);
  if (!L) return -EPERM;
  if (!valid(c)) {
    (void)cio__bad_handle(fn, "HTTP client", c); // says so in debug mode
    return -EINVAL;
  }
  if (!method || !url || !*method || strpbrk(method, " \r\n\t")) return -EINVAL;
  if (c->L != L) return -EPERM;
  if (c->ended || c->closing) return -ECANCELED;
  last_error[0] = '\0';
  return cio__checkpoint(L);
}

// Makes the request and adds its transfer (call_begin() passed).  Returns
// 0 and *out, or a negative code (nothing left behind).
static int submit(cio_http_client *c, const char *method, const char *url,
                  const cio_http_request_opts *o, bool stream, bool upload, struct request **out) {
  cio__loop *L = c->L;
  int64_t start = cio__loop_now_fresh(L);
  // The own engine's connections count under max_connections too: libcurl
  // is left the places they do not hold.
  int rc = c->h1.open ? cio__h1_room_for_other(&c->h1, start) : 0;
  if (rc < 0) return rc;
  struct request *r = cio__calloc(1, sizeof *r);
  if (!r) return -ENOMEM;
  r->c = c;
  r->body_fd = -1;
  r->task = L->current;
  r->stream = stream;
  r->upload = upload;
  r->easy = take_easy(c);
  rc = r->easy ? prepare(r, method, url, o, &r->headers, &r->full_url) : -ENOMEM;
  if (rc == 0) {
    r->start = r->progress = start;
    CURLMcode m = curl_multi_add_handle(c->multi, r->easy);
    rc = m == CURLM_OK ? 0 : m == CURLM_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;
  }
  if (rc < 0) {
    note_error(r, rc);
    request_free(r);
    return rc;
  }
  r->in_multi = true;
  c->in_flight++;
  if (c->driver_rec) cio__wake(L, c->driver_rec, 0); // (curl's timer callback does too)
  *out = r;
  return 0;
}

// One request, no redirect followed, through the engine that serves its
// URL.  Awaits.  Returns 0 and *out (a stream's body still to read), or a
// negative code (nothing left behind).
static int one_request(cio_http_client *c, const char *fn, const char *method, const char *url,
                       const cio_http_request_opts *o, bool stream, cio_http_response **out) {
  int rc = call_begin(c, fn, method, url);
  if (rc < 0) return rc;
  if (cio__h1_serves(url)) return cio__h1_request(&c->h1, method, url, o, stream, out);
  struct request *r = NULL;
  rc = submit(c, method, url, o, stream, false, &r);
  if (rc < 0) return rc;
  rc = await_request(r);
  if (rc == 0 && r->done) rc = result_code(r);
  if (rc == 0) rc = make_response(r, out);
  if (rc != 0 || !*out) {
    rc = rc < 0 ? rc : -ENOMEM;
    note_error(r, rc);
    request_free(r); // abandoned: curl closes a connection left half used
    return rc;
  }
  if (stream)
    (*out)->stream = r;
  else
    request_free(r); // done
  return 0;
}

// ---------------------------------------------------------------- redirects
//
// Redirects are followed here, for both engines, as httpx follows them: a
// 303 makes any method but HEAD a GET without a body, a 301 or 302 makes
// a POST one; 307 and 308 keep the method and the body; the Location is
// taken relative to the URL answered (no query parameters are added
// again); to another origin (scheme, host or port) no credentials go
// (bearer, basic, an Authorization header of the caller's).

// The next request of a chain of redirects.
struct hop {
  const char *method;      // its method (the caller's string, or "GET")
  char *url;               // its URL (owned), or NULL before the first redirect
  cio_http_request_opts o; // its options
  const char **headers;    // o.headers without Authorization (owned), or NULL
};

static void hop_free(struct hop *h) {
  free(h->url);
  free(h->headers);
}

// Whether URLs a and b have the same scheme, host and port.
static bool same_origin(const char *a, const char *b) {
  CURLU *u[2] = {curl_url(), curl_url()};
  bool same = u[0] && u[1] && curl_url_set(u[0], CURLUPART_URL, a, 0) == CURLUE_OK &&
              curl_url_set(u[1], CURLUPART_URL, b, 0) == CURLUE_OK;
  const CURLUPart parts[] = {CURLUPART_SCHEME, CURLUPART_HOST, CURLUPART_PORT};
  for (size_t i = 0; same && i < sizeof parts / sizeof *parts; i++) {
    char *x = NULL, *y = NULL;
    same = curl_url_get(u[0], parts[i], &x, CURLU_DEFAULT_PORT) == CURLUE_OK &&
           curl_url_get(u[1], parts[i], &y, CURLU_DEFAULT_PORT) == CURLUE_OK &&
           strcasecmp(x, y) == 0;
    curl_free(x);
    curl_free(y);
  }
  curl_url_cleanup(u[0]);
  curl_url_cleanup(u[1]);
  return same;
}

// The Location `to` taken relative to `from`, or NULL (ENOMEM, or not a
// URL: the answer then stands).
static char *resolve_location(const char *from, const char *to) {
  CURLU *u = curl_url();
  char *out = NULL;
  if (u && curl_url_set(u, CURLUPART_URL, from, 0) == CURLUE_OK &&
      curl_url_set(u, CURLUPART_URL, to, CURLU_URLENCODE) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_URL, &out, 0) == CURLUE_OK) {
    char *copy = cio__strdup(out);
    curl_free(out);
    out = copy;
  }
  curl_url_cleanup(u);
  return out;
}

// After an answer `resp` to `method` with options `o` (which may be h's
// own), with `left` redirects still allowed: sets *h to the redirect to
// follow and returns 1; returns 0 if the answer stands (not a redirect, no
// Location, redirects off), CIO_HTTP_TOO_MANY_REDIRECTS, or -ENOMEM.
static int follow_redirect(const cio_http_client *c, const cio_http_response *resp,
                           const char *method, const cio_http_request_opts *o, int left,
                           struct hop *h) {
  int status = resp->status;
  bool redirect = status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
  if (!c->max_redirects || !redirect) return 0;
  const char *loc = cio_http_response_header(resp, "Location");
  if (!loc || !*loc) return 0;
  if (left <= 0) return CIO_HTTP_TOO_MANY_REDIRECTS;
  char *url = resolve_location(resp->url, loc);
  if (!url) return 0;
  cio_http_request_opts next = o ? *o : (cio_http_request_opts){0};
  next.query = NULL;
  next.nquery = 0;
  const char *next_method = method;
  if ((status == 303 && strcmp(method, "HEAD") != 0) ||
      ((status == 301 || status == 302) && strcmp(method, "POST") == 0)) {
    next_method = "GET";
    next.body = NULL;
    next.body_len = 0;
    next.json = NULL;
    next.body_file = NULL;
  }
  const char **kept = NULL;
  if (!same_origin(resp->url, url)) {
    next.bearer = next.user = next.password = NULL;
    size_t n = 0;
    while (next.headers && next.headers[n]) n++;
    if (n && !(kept = calloc(n + 1, sizeof *kept))) {
      free(url);
      return -ENOMEM;
    }
    for (size_t i = 0, k = 0; i < n; i++)
      if (strncasecmp(next.headers[i], "Authorization:", 14) != 0) kept[k++] = next.headers[i];
    next.headers = kept;
  }
  if (kept || next.headers != h->headers) { // the old list is not the new one's
    free(h->headers);
    h->headers = kept;
  }
  free(h->url);
  h->url = url;
  h->method = next_method;
  h->o = next;
  return 1;
}

// Awaits: the request, and each redirect followed (see above), until an
// answer stands: the whole body, or for a stream its head.  Returns 0 and
// *out, or a negative code (nothing left behind).  `fn` names the public
// call.
static int request_following(cio_http_client *c, const char *fn, const char *method,
                             const char *url, const cio_http_request_opts *o, bool stream,
                             cio_http_response **out) {
  struct hop h = {.method = method};
  int rc, left = valid(c) ? c->max_redirects : 0;
  for (;;) {
    cio_http_response *resp = NULL;
    const cio_http_request_opts *ho = h.url ? &h.o : o;
    rc = one_request(c, fn, h.method, h.url ? h.url : url, ho, stream, &resp);
    if (rc < 0) break;
    int next = follow_redirect(c, resp, h.method, ho, left--, &h);
    if (next == 0) {
      *out = resp;
      break;
    }
    cio_http_response_free(resp); // a redirect's body is not read: its connection is closed
    if (next < 0) {
      rc = next;
      snprintf(last_error, sizeof last_error, "%s", cio_strerror(rc));
      break;
    }
  }
  hop_free(&h);
  return rc;
}

int cio_http_request(cio_http_client *c, const char *method, const char *url,
                     const cio_http_request_opts *o, cio_http_response **out) {
  if (out) *out = NULL;
  if (!out) return -EINVAL;
  return request_following(c, "cio_http_request", method, url, o, false, out);
}

int cio_http_stream(cio_http_client *c, const char *method, const char *url,
                    const cio_http_request_opts *o, cio_http_response **out) {
  if (out) *out = NULL;
  if (!out) return -EINVAL;
  return request_following(c, "cio_http_stream", method, url, o, true, out);
}

// ---------------------------------------------------------------- uploads

#define UPLOAD_MAGIC 0x75706c64u // "upld"

// Freed through the quarantine, its magic cleared: a write, finish or
// abort given it after its finish or abort finds no magic and is refused.
struct cio_http_upload {
  uint32_t magic;            // UPLOAD_MAGIC while open
  struct request *r;         // through libcurl
  struct cio__h1_upload *h1; // or through the own engine
};

static bool upload_open(const cio_http_upload *up) { return up && up->magic == UPLOAD_MAGIC; }

static void upload_free(cio_http_upload *up) {
  up->magic = 0;
  up->r = NULL;
  up->h1 = NULL;
  cio__quarantine(up);
}

int cio_http_upload_begin(cio_http_client *c, const char *method, const char *url,
                          const cio_http_request_opts *o, cio_http_upload **out) {
  if (out) *out = NULL;
  if (!out) return -EINVAL;
  int rc = call_begin(c, "cio_http_upload_begin", method, url);
  if (rc < 0) return rc;
  cio_http_upload *up = cio__calloc(1, sizeof *up);
  if (!up) return -ENOMEM;
  if (cio__h1_serves(url))
    rc = cio__h1_upload_begin(&c->h1, method, url, o, &up->h1);
  else
    rc = submit(c, method, url, o, false, true, &up->r);
  if (rc < 0) {
    free(up);
    return rc;
  }
  up->magic = UPLOAD_MAGIC;
  *out = up;
  return 0;
}

// Makes curl go on after a pause for the body's next bytes.
static void resume_upload(struct request *r) {
  if (r->up_paused && r->c && r->in_multi) {
    r->up_paused = false;
    (void)curl_easy_pause(r->easy, CURLPAUSE_CONT);
  }
}

int cio_http_upload_write(cio_http_upload *up, const void *data, size_t len) {
  cio__loop *L = cio__await_loop("cio_http_upload_write");
  if (!L) return -EPERM;
  if (!upload_open(up)) return cio__bad_handle("cio_http_upload_write", "HTTP upload", up);
  if (!data && len) return -EINVAL;
  int rc = cio__coop(L);
  if (rc < 0) return rc;
  if (up->h1) return cio__h1_upload_write(up->h1, data, len);
  struct request *r = up->r;
  if (r->done || !r->c) return -EPIPE; // the server answered (or the transfer failed): finish
  if (!grow(&r->up, &r->up_cap, r->up_len + len)) return -ENOMEM;
  if (len) memcpy(r->up + r->up_len, data, len);
  r->up_len += len;
  r->progress = cio__loop_now(L);
  resume_upload(r);
  // Backpressure: while more than STREAM_HIGH waits to be sent, the
  // writer waits (sending may make no progress for write_timeout).
  while (r->up_len - r->up_start > STREAM_HIGH && !r->done && r->c) {
    int64_t at = r->c->write_ns < 0 ? CIO__NEVER : r->progress + r->c->write_ns;
    if (cio__loop_now(L) >= at) {
      finish(r);
      r->error = CIO_HTTP_WRITE_TIMEOUT;
      note_error(r, r->error);
      return r->error;
    }
    r->task = L->current;
    r->parked = true;
    rc = cio__park(L, at, "HTTP upload");
    r->parked = false;
    if (rc < 0) return rc; // interrupted: what was written stays queued
  }
  return r->error ? r->error : 0;
}

int cio_http_upload_finish(cio_http_upload *up, cio_http_response **out) {
  if (out) *out = NULL;
  if (!upload_open(up)) return cio__bad_handle("cio_http_upload_finish", "HTTP upload", up);
  if (!out) return -EINVAL;
  struct request *r = up->r;
  struct cio__h1_upload *h1 = up->h1;
  upload_free(up);
  if (h1) return cio__h1_upload_finish(h1, out);
  if (r->error || !r->c) {
    int rc = r->error ? r->error : -ECANCELED;
    request_free(r);
    return rc;
  }
  r->up_eof = true;
  resume_upload(r);
  int rc = await_request(r);
  if (rc == 0) rc = result_code(r);
  if (rc == 0) rc = make_response(r, out);
  if (rc < 0) note_error(r, rc);
  request_free(r);
  return rc;
}

void cio_http_upload_abort(cio_http_upload *up) {
  if (!upload_open(up)) {
    if (up) (void)cio__bad_handle("cio_http_upload_abort", "HTTP upload", up);
    return;
  }
  if (up->h1)
    cio__h1_upload_abort(up->h1); // its connection is closed
  else
    request_free(up->r); // the transfer is removed: curl closes its connection
  upload_free(up);
}

// A stream's end: the transfer is done and everything read.  Returns 0, or
// its failure (kept for later reads).
static int stream_end(struct request *r) {
  if (r->error) return r->error;
  int rc = result_code(r);
  if (rc < 0) {
    note_error(r, rc);
    r->error = rc;
  }
  finish(r);
  return rc;
}

ssize_t cio_http_response_read(cio_http_response *resp, void *buf, size_t len) {
  cio__loop *L = cio__await_loop("cio_http_response_read");
  if (!L) return -EPERM;
  if (!resp || (!buf && len)) return -EINVAL;
  int rc = cio__coop(L); // data already there never suspends
  if (rc < 0) return rc;
  if (resp->h1) return cio__h1_read(resp->h1, buf, len);
  struct request *r = resp->stream;
  if (!r) { // a body read whole: handed out piece by piece
    size_t n = resp->len - resp->read_at < len ? resp->len - resp->read_at : len;
    if (n) memcpy(buf, resp->body + resp->read_at, n);
    resp->read_at += n;
    return (ssize_t)n;
  }
  if (len == 0) return 0;
  int64_t since = cio__loop_now(L);
  for (;;) {
    size_t unread = r->len - r->rstart;
    if (unread) {
      size_t n = unread < len ? unread : len;
      memcpy(buf, r->body + r->rstart, n);
      r->rstart += n;
      if (r->rstart == r->len) r->rstart = r->len = 0;
      if (r->paused && r->len - r->rstart <= STREAM_LOW && r->c) {
        r->paused = false;
        (void)curl_easy_pause(r->easy, CURLPAUSE_CONT); // may hand over more at once
      }
      return (ssize_t)n;
    }
    if (r->error || r->done || !r->c) return r->c ? stream_end(r) : r->error;
    int64_t read_ns = r->c->read_ns;
    int64_t at = read_ns < 0 ? CIO__NEVER : since + read_ns;
    if (cio__loop_now(L) >= at) { // the server sent nothing for read_timeout
      r->error = CIO_HTTP_READ_TIMEOUT;
      note_error(r, r->error);
      finish(r);
      return r->error;
    }
    r->task = L->current;
    r->parked = true;
    rc = cio__park(L, at, "HTTP response body");
    r->parked = false;
    if (rc < 0) return rc; // interrupted: the stream goes on
    if (r->c && r->c->ended) {
      finish(r);
      return r->error = -ECANCELED;
    }
  }
}

int cio_http_get(cio_http_client *c, const char *url, cio_http_response **out) {
  return cio_http_request(c, "GET", url, NULL, out);
}

// ---------------------------------------------------------------- responses

int cio_http_response_status(const cio_http_response *r) { return r ? r->status : 0; }

const char *cio_http_response_header(const cio_http_response *r, const char *name) {
  if (!r || !name) return NULL;
  for (size_t i = r->nfields; i-- > 0;)
    if (strcasecmp(r->names[i], name) == 0) return r->values[i];
  return NULL;
}

const char *cio_http_response_body(const cio_http_response *r, size_t *len) {
  bool whole = r && !r->stream && !r->h1;
  if (len) *len = whole ? r->len : 0;
  return whole ? r->body : NULL;
}

int cio_http_response_json(const cio_http_response *r, struct json_t **out) {
  if (out) *out = NULL;
  if (!r || !out || r->stream || r->h1) return -EINVAL;
#ifdef CIO_HAVE_JANSSON
  if (!cio__json_depth_ok(r->body, r->len)) { // Jansson recurses per level; a task's stack is small
    snprintf(last_error, sizeof last_error, "not JSON cio parses: nested deeper than %d levels",
             CIO__JSON_MAX_DEPTH);
    return -EBADMSG;
  }
  json_error_t err;
  *out = json_loadb(r->body, r->len, JSON_DECODE_ANY, &err);
  if (*out) return 0;
  snprintf(last_error, sizeof last_error, "not JSON: %s (line %d, column %d)", err.text, err.line,
           err.column);
  return -EBADMSG;
#else
  return -ENOTSUP; // built without Jansson
#endif
}

const char *cio_http_response_url(const cio_http_response *r) { return r ? r->url : NULL; }

const char *cio_http_response_version(const cio_http_response *r) { return r ? r->version : NULL; }

void cio_http_response_free(cio_http_response *r) {
  if (!r) return;
  request_free(r->stream); // a stream not read to its end: its connection is closed
  cio__h1_body_free(r->h1);
  free(r->body);
  free(r->head);
  free(r->url);
  free(r->names);
  free(r->values);
  free(r);
}
