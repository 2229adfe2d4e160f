// SPDX-License-Identifier: MIT
//
// The HTTP client's own HTTP/1.1 engine, for http:// origins reached
// directly (no proxy): HTTPS, HTTP/2 and proxies stay libcurl's
// (client.c).  Why not libcurl here too: at one request in flight its
// per-request CPU sits on the round trip.  Measured on this project's
// bench machine (docs/benchmarks.md, "Where the client's time goes"): a
// kept-alive GET through libcurl cost ~49 µs of user CPU against ~4 µs for
// the same request written and parsed here, and the rate followed (5,048-
// 5,780 req/s against 6,797-7,109, wrk's level).
//
// A connection is a non-blocking socket watched by the loop
// (edge-triggered); the task of the request does its I/O itself, parking
// on EAGAIN.  Idle connections wait in a pool per origin (most recently
// used first); one the server writes on or closes while idle is closed at
// once (what it sent answers no request).  Every phase has its deadline:
// pool (room under the limits), connect (name lookup on the thread pool,
// then TCP), write and read (no progress for that long).  A request whose
// task is cancelled or timed out closes its connection: none returns to
// the pool half used.  The response head is read by the same strict
// parser as the server's requests (parse.c).
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef CIO_HAVE_ZLIB
#include <zlib.h>
#endif

#include "../../include/cio.h"
#include "../alloc.h"
#include "../internal.h"
#include "../io/sock.h"
#include "../loop/loop.h"
#include "../task/task.h"
#include "client.h"
#include "json_text.h"
#include "parse.h"

#define BUF_START ((size_t)16 << 10)   // a connection's read buffer at first
#define MAX_HEAD ((size_t)128 << 10)   // a response head at most (libcurl: 100 KB a line)
#define INLINE_BODY ((size_t)16 << 10) // bodies up to this go out in the head's write
#define UPLOAD_CHUNK_HEAD 20           // "%zx\r\n" of a chunk at most

// ---------------------------------------------------------------- URLs

// An http:// URL taken apart.
struct h1_url {
  char *host;      // lower case; an IPv6 address without its brackets
  char port[8];    // decimal
  char *authority; // the Host header: host[:port] as written
  char *target;    // the path and query ("/" at least), bytes past 0x7e percent-encoded
};

static void url_free(struct h1_url *u) {
  free(u->host);
  free(u->authority);
  free(u->target);
  *u = (struct h1_url){0};
}

bool cio__h1_serves(const char *url) {
  if (!url || strncasecmp(url, "http://", 7) != 0) return false;
  const char *auth = url + 7;
  size_t n = strcspn(auth, "/?#");
  if (memchr(auth, '@', n)) return false; // credentials in the URL: libcurl's
  const char *proxies[] = {"http_proxy", "all_proxy", "ALL_PROXY"};
  for (size_t i = 0; i < sizeof proxies / sizeof *proxies; i++) {
    const char *v = getenv(proxies[i]);
    if (v && *v) return false;
  }
  return true;
}

static bool host_char(unsigned char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
         ch == '-' || ch == '.' || ch == '_' || ch == '~' || ch == '%';
}

// Takes an http:// URL apart.  Returns 0, -EINVAL (no host, a bad port, a
// character no URL has), -ENOMEM.
static int url_parse(const char *url, struct h1_url *u) {
  *u = (struct h1_url){0};
  const char *auth = url + 7;
  size_t an = strcspn(auth, "/?#");
  const char *host = auth, *hend, *colon;
  if (*auth == '[') {
    hend = memchr(auth, ']', an);
    if (!hend) return -EINVAL;
    host = auth + 1;
    colon = hend + 1 < auth + an ? hend + 1 : NULL;
    if (colon && *colon != ':') return -EINVAL;
    for (const char *p = host; p < hend; p++)
      if (!strchr("0123456789abcdefABCDEF:.", *p)) return -EINVAL;
  } else {
    colon = memchr(auth, ':', an);
    hend = colon ? colon : auth + an;
    for (const char *p = host; p < hend; p++)
      if (!host_char((unsigned char)*p)) return -EINVAL;
  }
  if (hend == host) return -EINVAL;
  long port = 80;
  if (colon && colon + 1 < auth + an) {
    port = 0;
    for (const char *p = colon + 1; p < auth + an; p++) {
      if (*p < '0' || *p > '9' || port > 65535) return -EINVAL;
      port = port * 10 + (*p - '0');
    }
    if (port < 1 || port > 65535) return -EINVAL;
  }
  snprintf(u->port, sizeof u->port, "%ld", port);
  const char *path = auth + an;
  size_t pn = strcspn(path, "#");
  size_t cap = 2 + pn * 3;
  u->host = cio__strndup(host, (size_t)(hend - host));
  u->authority = cio__strndup(auth, an);
  u->target = cio__malloc(cap);
  if (!u->host || !u->authority || !u->target) {
    url_free(u);
    return -ENOMEM;
  }
  for (char *p = u->host; *p; p++)
    if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
  size_t at = 0;
  if (*path != '/') u->target[at++] = '/';
  for (size_t i = 0; i < pn; i++) {
    unsigned char ch = (unsigned char)path[i];
    if (ch <= ' ' || ch == 0x7f) {
      url_free(u);
      return -EINVAL; // (libcurl refuses a URL with a blank or a control character)
    }
    if (ch > 0x7e) {
      at += (size_t)snprintf(u->target + at, cap - at, "%%%02X", ch);
    } else {
      u->target[at++] = (char)ch;
    }
  }
  u->target[at] = '\0';
  return 0;
}

// Percent-encodes s (all but RFC 3986's unreserved characters) onto b.
static void escape(char *b, size_t *at, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
        ch == '-' || ch == '.' || ch == '_' || ch == '~') {
      b[(*at)++] = (char)ch;
    } else {
      b[(*at)++] = '%';
      b[(*at)++] = hex[ch >> 4];
      b[(*at)++] = hex[ch & 15];
    }
  }
}

char *cio__http_client_url_with_query(const char *url, const cio_http_query_param *q, size_t n) {
  const char *hash = strchr(url, '#');
  size_t base = hash ? (size_t)(hash - url) : strlen(url);
  size_t cap = base + 1;
  for (size_t i = 0; i < n; i++)
    cap += 3 * (strlen(q[i].name ? q[i].name : "") + strlen(q[i].value ? q[i].value : "")) + 2;
  char *out = cio__malloc(cap);
  if (!out) return NULL;
  memcpy(out, url, base);
  size_t at = base;
  char sep = memchr(url, '?', base) ? '&' : '?';
  if (sep == '&' && base && url[base - 1] == '?') sep = 0;
  for (size_t i = 0; i < n; i++) {
    if (sep) out[at++] = sep;
    escape(out, &at, q[i].name ? q[i].name : "");
    out[at++] = '=';
    escape(out, &at, q[i].value ? q[i].value : "");
    sep = '&';
  }
  out[at] = '\0';
  return out;
}

// ---------------------------------------------------------------- connections

struct h1_origin {
  struct h1_origin *next;
  char *host, port[8];
  size_t users;              // requests holding it, from prepare() to their end
  size_t open;               // connections open to it (or being opened)
  struct h1_conn *idle;      // idle ones, the most recently used first
  struct h1_conn *idle_last; //   and the least
};

struct h1_conn {
  cio__io io; // the socket, watched by the loop
  cio__h1_pool *p;
  struct h1_origin *origin;
  struct h1_conn *prev, *next; // in origin->idle while idle
  bool idle;
  bool reused;      // it has carried a request before this one
  cio_task *waiter; // the task parked until the socket is ready
  int64_t idle_since;
  char *buf; // what was read and not yet used: buf[start, len)
  size_t start, len, cap;
};

static void wake_waiters(cio__h1_pool *p) { (void)cio__waitq_wake_all(p->L, &p->waiters, 0, NULL); }

void cio__h1_room(cio__h1_pool *p) { wake_waiters(p); }

// Takes an idle connection out of its origin's list.  (clang-tidy's
// analyzer takes a connection freed after this for one still listed: it
// does not know that k->origin is the list it was found in.)
static void idle_remove(struct h1_conn *k) {
  struct h1_origin *o = k->origin;
  if (k->prev)
    k->prev->next = k->next;
  else
    o->idle = k->next;
  if (k->next)
    k->next->prev = k->prev;
  else
    o->idle_last = k->prev;
  k->prev = k->next = NULL;
  k->idle = false;
  k->p->idle--;
}

// Closes a connection and frees it.
static void conn_close(struct h1_conn *k) {
  cio__h1_pool *p = k->p;
  if (k->idle) idle_remove(k);
  cio__loop_unwatch(p->L, &k->io);
  close(k->io.fd);
  k->origin->open--;
  p->open--;
  free(k->buf);
  free(k);
  if (p->open_changed) p->open_changed(p);
  wake_waiters(p); // room under the limits
}

// Closes an idle connection.
static void drop_idle(struct h1_conn *k) {
  idle_remove(k);
  conn_close(k);
}

static void on_conn_ready(cio__io *io, uint32_t ev) {
  struct h1_conn *k = cio__container_of(io, struct h1_conn, io);
  if (k->idle) {
    // The server wrote on an idle connection, or closed it: whatever it
    // sent answers no request of ours (a 408 before its close, bytes past
    // a body), so the connection is done.
    if (ev & (CIO__IO_READ | CIO__IO_HUP)) drop_idle(k);
    return;
  }
  if (k->waiter) cio__wake(k->p->L, k->waiter, 0);
}

// Parks until the socket may be ready again, or `deadline` (then
// `timeout_code`).  Returns 0, timeout_code, -ECANCELED, -ETIMEDOUT.
static int conn_wait(struct h1_conn *k, int64_t deadline, int timeout_code, const char *what) {
  cio__loop *L = k->p->L;
  k->waiter = L->current;
  int rc = cio__park(L, deadline, what);
  k->waiter = NULL;
  return rc == CIO__PARK_DEADLINE ? timeout_code : rc < 0 ? rc : 0;
}

static int64_t after(cio__h1_pool *p, int64_t ns) {
  return ns < 0 ? CIO__NEVER : cio__loop_now_fresh(p->L) + ns;
}

// Connects to one address.  Returns 0 and *out, or -errno (-ECANCELED,
// -ETIMEDOUT when the connect scope or the task's ran out).
static int connect_one(cio__h1_pool *p, struct h1_origin *o, const struct addrinfo *a,
                       struct h1_conn **out) {
  int fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int one = 1;
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct h1_conn *k = cio__calloc(1, sizeof *k);
  if (!k) {
    close(fd);
    return -ENOMEM;
  }
  k->p = p;
  k->origin = o;
  k->io.fd = fd;
  k->io.ready = on_conn_ready;
  int rc = cio__loop_watch(p->L, &k->io, CIO__IO_READ | CIO__IO_WRITE);
  if (rc < 0) {
    close(fd);
    free(k);
    return rc;
  }
  // A signal during a non-blocking connect leaves it going on: EINTR is
  // EINPROGRESS here.
  bool pending = false;
  rc = 0;
  if (connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
    if (errno == EINPROGRESS || errno == EINTR)
      pending = true;
    else
      rc = -errno;
  }
  while (pending) { // (the socket was watched before the connect: no edge is missed)
    rc = conn_wait(k, CIO__NEVER, 0, "HTTP connect");
    if (rc < 0) break;
    int err = 0;
    socklen_t len = sizeof err;
    struct sockaddr_storage peer;
    socklen_t plen = sizeof peer;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (err) {
      rc = -err;
      break;
    }
    pending = getpeername(fd, (struct sockaddr *)&peer, &plen) < 0; // not connected yet
  }
  if (rc < 0) {
    cio__loop_unwatch(p->L, &k->io);
    close(fd);
    free(k);
    return rc;
  }
  *out = k;
  return 0;
}

// Opens a connection to o (its place under the limits already counted):
// the name looked up on the thread pool, each address tried in turn, all
// within connect_timeout.  Returns 0 and *out, CIO_HTTP_CONNECT_TIMEOUT,
// CIO_EAI_NONAME, -ECONNREFUSED..., -ECANCELED, -ETIMEDOUT.
static int conn_open(cio__h1_pool *p, struct h1_origin *o, struct h1_conn **out) {
  cio_scope scope;
  bool scoped = p->connect_ns >= 0 && cio_timeout_begin(&scope, (double)p->connect_ns / 1e9) == 0;
  struct addrinfo *res = NULL;
  int rc = cio__resolve(p->L, o->host, o->port, SOCK_STREAM, 0, &res);
  if (rc <= CIO_EAI_NONAME && rc >= CIO_EAI_LAST) {
    cio__http_client_error_set("could not resolve host: %s", o->host);
    rc = CIO_EAI_NONAME; // (as libcurl says of every lookup that failed)
  }
  if (rc == 0) {
    rc = -ECONNREFUSED;
    for (const struct addrinfo *a = res; a; a = a->ai_next) {
      rc = connect_one(p, o, a, out);
      if (rc == 0 || rc == -ECANCELED || rc == -ETIMEDOUT || rc == -ENOMEM) break;
    }
    if (rc < 0 && rc != -ECANCELED && rc != -ETIMEDOUT)
      cio__http_client_error_set("could not connect to %s port %s: %s", o->host, o->port,
                                 strerror(-rc));
  }
  if (res) freeaddrinfo(res);
  if (scoped && cio_scope_end(&scope) == -ETIMEDOUT) {
    rc = CIO_HTTP_CONNECT_TIMEOUT;
    cio__http_client_error_set("%s", cio_strerror(rc));
  }
  if (rc == 0) p->opened++;
  return rc;
}

// The origin of u, held for a request (origin_put() gives it back); NULL
// for ENOMEM.
static struct h1_origin *origin_get(cio__h1_pool *p, const struct h1_url *u) {
  struct h1_origin *o = p->origins;
  while (o && (strcmp(o->port, u->port) != 0 || strcmp(o->host, u->host) != 0)) o = o->next;
  if (!o) {
    o = cio__calloc(1, sizeof *o);
    if (!o || !(o->host = cio__strdup(u->host))) {
      free(o);
      return NULL;
    }
    memcpy(o->port, u->port, sizeof o->port);
    o->next = p->origins;
    p->origins = o;
    p->origins_kept++;
  }
  o->users++;
  return o;
}

// A request is done with its origin.  The record stays (for its idle
// connections, or the next request) until sweep() finds it unused.
static void origin_put(struct h1_origin *o) {
  if (o) o->users--;
}

// Whether the server has sent something (an early answer) or closed.
static bool answered(const struct h1_conn *k) {
  char c;
  ssize_t n = recv(k->io.fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n >= 0 || (errno != EAGAIN && errno != EINTR);
}

// NOLINTBEGIN(clang-analyzer-unix.Malloc): see idle_remove()
// The least recently used idle connection of any origin, or NULL.
static struct h1_conn *oldest_idle(cio__h1_pool *p) {
  struct h1_conn *best = NULL;
  for (struct h1_origin *o = p->origins; o; o = o->next)
    if (o->idle_last && (!best || o->idle_last->idle_since < best->idle_since)) best = o->idle_last;
  return best;
}

// Closes o's idle connections that have outlived keepalive_expiry (the
// oldest are at the end).
static void close_expired(cio__h1_pool *p, struct h1_origin *o, int64_t now) {
  while (o->idle_last && p->keepalive_ns >= 0 && now - o->idle_last->idle_since > p->keepalive_ns)
    drop_idle(o->idle_last);
}

// The same for every origin, at most once a second (as libcurl prunes its
// cache): an origin no longer asked for does not keep them open.  An
// origin with no connection and no request is forgotten then, so a
// client that asks thousands of hosts keeps records of those of the last
// second and those it holds connections to (at most max_connections).
static void sweep(cio__h1_pool *p, int64_t now) {
  if (now - p->swept < 1000000000) return;
  p->swept = now;
  for (struct h1_origin **link = &p->origins, *o; (o = *link);) {
    close_expired(p, o, now);
    if (o->users || o->open) {
      link = &o->next;
      continue;
    }
    *link = o->next;
    free(o->host);
    free(o);
    p->origins_kept--;
  }
}

// Whether one more connection fits under max_total beside libcurl's (one
// place is left to libcurl while it has transfers and no connection: its
// limit cannot be set to none).
static bool total_room(const cio__h1_pool *p) {
  size_t other = p->other_open ? p->other_open : p->other_busy && *p->other_busy ? 1 : 0;
  return p->open + other < p->max_total;
}

// Awaits a connection to o: an idle one (*reused set), or room to open a
// new one (counted here; *k NULL).  Returns 0, CIO_HTTP_POOL_TIMEOUT,
// -ECANCELED, -ETIMEDOUT.
static int acquire(cio__h1_pool *p, struct h1_origin *o, int64_t start, struct h1_conn **k) {
  int rc = 0;
  for (;;) {
    int64_t now = cio__loop_now(p->L);
    sweep(p, now);
    close_expired(p, o, now);
    if (o->idle) {
      *k = o->idle;
      idle_remove(*k);
      if (answered(*k)) { // closed by the server, its FIN not yet seen by the loop
        conn_close(*k);
        continue;
      }
      (*k)->reused = true;
      break;
    }
    bool host_room = !p->max_per_host || o->open < p->max_per_host;
    if (host_room && !total_room(p)) {
      struct h1_conn *old = oldest_idle(p); // another origin's idle one makes room
      if (old) {
        drop_idle(old);
        continue;
      }
      if (p->evict_other && p->evict_other(p)) continue; // or one of libcurl's
    }
    if (host_room && total_room(p)) {
      *k = NULL;
      o->open++;
      p->open++;
      if (p->open_changed) p->open_changed(p);
      break;
    }
    int64_t at = p->pool_ns < 0 ? CIO__NEVER : start + p->pool_ns;
    if (now >= at) {
      rc = CIO_HTTP_POOL_TIMEOUT;
      break;
    }
    rc = cio__waitq_wait(p->L, &p->waiters, at, "HTTP connection pool");
    if (rc == CIO__PARK_DEADLINE) rc = CIO_HTTP_POOL_TIMEOUT;
    if (rc < 0) break;
    rc = 0;
  }
  if (rc == CIO_HTTP_POOL_TIMEOUT) cio__http_client_error_set("%s", cio_strerror(rc));
  return rc;
}
// NOLINTEND(clang-analyzer-unix.Malloc)

int cio__h1_room_for_other(cio__h1_pool *p, int64_t start) {
  for (;;) {
    if (p->open + p->other_open < p->max_total) return 0;
    struct h1_conn *old = oldest_idle(p);
    if (old) {
      drop_idle(old);
      continue;
    }
    if (p->open < p->max_total) return 0; // libcurl waits for (or reuses) one of its own
    int64_t at = p->pool_ns < 0 ? CIO__NEVER : start + p->pool_ns;
    if (cio__loop_now(p->L) >= at) {
      cio__http_client_error_set("%s", cio_strerror(CIO_HTTP_POOL_TIMEOUT));
      return CIO_HTTP_POOL_TIMEOUT;
    }
    int rc = cio__waitq_wait(p->L, &p->waiters, at, "HTTP connection pool");
    if (rc < 0) return rc;
  }
}

// Gives back the place acquire() counted for a connection that could not
// be opened.
static void unreserve(cio__h1_pool *p, struct h1_origin *o) {
  o->open--;
  p->open--;
  if (p->open_changed) p->open_changed(p);
  wake_waiters(p);
}

// A connection whose exchange is over: kept idle for the next request, or
// closed (`reusable` false, bytes left unread, too many idle).
static void release(struct h1_conn *k, bool reusable) {
  cio__h1_pool *p = k->p;
  if (!reusable || k->start != k->len || p->idle >= p->max_idle) {
    conn_close(k);
    return;
  }
  struct h1_origin *o = k->origin;
  k->start = k->len = 0;
  k->idle = true;
  k->idle_since = cio__loop_now(p->L);
  k->prev = NULL;
  k->next = o->idle;
  if (o->idle)
    o->idle->prev = k;
  else
    o->idle_last = k;
  o->idle = k;
  p->idle++;
  wake_waiters(p);
}

// Sends len bytes.  Returns 0, CIO_HTTP_WRITE_TIMEOUT (no progress for
// write_timeout), -EPIPE, -ECONNRESET..., -ECANCELED, -ETIMEDOUT.
static int conn_send(struct h1_conn *k, const char *buf, size_t len) {
  while (len) {
    ssize_t n = send(k->io.fd, buf, len, MSG_NOSIGNAL);
    if (n > 0) {
      buf += n;
      len -= (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) return -errno;
    int rc = conn_wait(k, after(k->p, k->p->write_ns), CIO_HTTP_WRITE_TIMEOUT, "HTTP write");
    if (rc < 0) return rc;
  }
  return 0;
}

// Sends len bytes of the file fd from *off.  Returns as conn_send(), or
// -EIO for a file that ended early.
static int conn_send_file(struct h1_conn *k, int fd, off_t *off, size_t len) {
  while (len) {
    ssize_t n = sendfile(k->io.fd, fd, off, len);
    if (n > 0) {
      len -= (size_t)n;
      continue;
    }
    if (n == 0) return -EIO; // the file is shorter than it was
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return -errno;
    int rc = conn_wait(k, after(k->p, k->p->write_ns), CIO_HTTP_WRITE_TIMEOUT, "HTTP write");
    if (rc < 0) return rc;
  }
  return 0;
}

// Reads what comes next onto the buffer (room made for at least `room`
// bytes, and the used bytes dropped).  Returns the bytes read, 0 at the
// server's close, CIO_HTTP_READ_TIMEOUT (nothing for read_timeout),
// -ECONNRESET..., -ECANCELED, -ETIMEDOUT, -ENOMEM.
static ssize_t conn_fill(struct h1_conn *k, size_t room) {
  if (k->start == k->len) k->start = k->len = 0;
  if (k->cap - k->len < room && k->start) {
    memmove(k->buf, k->buf + k->start, k->len - k->start);
    k->len -= k->start;
    k->start = 0;
  }
  if (k->cap - k->len < room || !k->buf) {
    size_t cap = k->cap ? k->cap : BUF_START;
    while (cap - k->len < room) cap *= 2;
    char *b = cio__realloc(k->buf, cap);
    if (!b) return -ENOMEM;
    k->buf = b;
    k->cap = cap;
  }
  for (;;) {
    ssize_t n = recv(k->io.fd, k->buf + k->len, k->cap - k->len, 0);
    if (n >= 0) {
      k->len += (size_t)n;
      return n;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return -errno;
    int rc = conn_wait(k, after(k->p, k->p->read_ns), CIO_HTTP_READ_TIMEOUT, "HTTP read");
    if (rc < 0) return rc;
  }
}

// ---------------------------------------------------------------- requests

// What goes out, built once (a request tried again on another connection
// sends the same).
struct h1_out {
  char *head; // the head, and a small body after it
  size_t len;
  const char *body; // a bigger body, sent after the head
  size_t body_len;
  int body_fd; // or a file's contents (body_len bytes), or -1
  bool is_head, idempotent, chunked;
};

static void base64(struct cio__jtext *b, const unsigned char *s, size_t n) {
  static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (size_t i = 0; i < n; i += 3) {
    unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0) |
                 (i + 2 < n ? s[i + 2] : 0);
    char q[4] = {abc[v >> 18 & 63], abc[v >> 12 & 63], (char)(i + 1 < n ? abc[v >> 6 & 63] : '='),
                 (char)(i + 2 < n ? abc[v & 63] : '=')};
    cio__jt_raw(b, q, 4);
  }
}

// Whether the caller's headers name `name` ("Name:" prefix, no case).
static bool caller_sets(const cio_http_request_opts *o, const char *name) {
  size_t n = strlen(name);
  for (const char *const *h = o && o->headers ? o->headers : NULL; h && *h; h++)
    if (strncasecmp(*h, name, n) == 0 && (*h)[n] == ':') return true;
  return false;
}

static void put_field(struct cio__jtext *b, const cio_http_request_opts *o, const char *name,
                      const char *value) {
  if (caller_sets(o, name)) return; // the caller's replaces it (or, empty, removes it)
  cio__jt_lit(b, name);
  cio__jt_lit(b, ": ");
  cio__jt_lit(b, value);
  cio__jt_lit(b, "\r\n");
}

static bool has_token(const char *method, const char *const *list) {
  for (; *list; list++)
    if (strcmp(method, *list) == 0) return true;
  return false;
}

// Builds the request.  Returns 0, -EINVAL (a bad header line, two bodies,
// a body file that is not a regular file), -ENOMEM, or a file's -errno.
static int build(struct h1_out *out, const char *method, const struct h1_url *u,
                 const cio_http_request_opts *o, const char *user_agent, bool upload) {
  *out = (struct h1_out){.body_fd = -1};
  const char *body = o ? o->body : NULL;
  size_t body_len = o ? o->body_len : 0;
  bool json = o && o->json;
  if (json) {
    if (body || body_len || o->body_file) return -EINVAL; // one body
    body = o->json;
    body_len = strlen(o->json);
  }
  if (!body && body_len) return -EINVAL;
  bool has_body = body != NULL;
  if (upload && (has_body || (o && o->body_file))) return -EINVAL;
  if (o && o->body_file) {
    if (has_body) return -EINVAL;
    do out->body_fd = open(o->body_file, O_RDONLY | O_CLOEXEC);
    while (out->body_fd < 0 && errno == EINTR);
    struct stat st;
    if (out->body_fd < 0 || fstat(out->body_fd, &st) < 0) return -errno;
    if (!S_ISREG(st.st_mode)) return -EINVAL;
    body_len = (size_t)st.st_size;
    has_body = true;
  }
  for (const char *const *h = o && o->headers ? o->headers : NULL; h && *h; h++)
    if (!cio__http_header_line_ok(*h)) return -EINVAL;
  if (o && o->bearer && !cio__http_field_value_ok(o->bearer)) return -EINVAL;
  static const char *const idempotent[] = {"GET",     "HEAD",  "PUT", "DELETE",
                                           "OPTIONS", "TRACE", NULL};
  out->is_head = strcmp(method, "HEAD") == 0;
  out->idempotent = has_token(method, idempotent);
  out->chunked = upload;
  struct cio__jtext b = cio__jt_new(256 + (body_len <= INLINE_BODY ? body_len : 0));
  cio__jt_lit(&b, method);
  cio__jt_lit(&b, " ");
  cio__jt_lit(&b, u->target);
  cio__jt_lit(&b, " HTTP/1.1\r\n");
  put_field(&b, o, "Host", u->authority);
  put_field(&b, o, "User-Agent", user_agent);
  put_field(&b, o, "Accept", "*/*");
#ifdef CIO_HAVE_ZLIB
  put_field(&b, o, "Accept-Encoding", "gzip, deflate");
#endif
  if (o && o->user && o->password && !caller_sets(o, "Authorization")) {
    struct cio__jtext cred = cio__jt_new(64);
    cio__jt_lit(&cred, o->user);
    cio__jt_lit(&cred, ":");
    cio__jt_lit(&cred, o->password);
    cio__jt_lit(&b, "Authorization: Basic ");
    if (cred.p) base64(&b, (const unsigned char *)cred.p, cred.n);
    cio__jt_lit(&b, "\r\n");
    if (!cred.p) { // (the head is given up too)
      free(b.p);
      b.p = NULL;
    }
    free(cred.p);
  }
  if (o && o->bearer && !caller_sets(o, "Authorization")) {
    cio__jt_lit(&b, "Authorization: Bearer ");
    cio__jt_lit(&b, o->bearer);
    cio__jt_lit(&b, "\r\n");
  }
  if (json) put_field(&b, o, "Content-Type", "application/json");
  if (upload) {
    cio__jt_lit(&b, "Transfer-Encoding: chunked\r\n");
  } else if (has_body || strcmp(method, "POST") == 0) {
    char n[32];
    snprintf(n, sizeof n, "Content-Length: %zu\r\n", body_len);
    cio__jt_lit(&b, n);
  }
  for (const char *const *h = o && o->headers ? o->headers : NULL; h && *h; h++) {
    const char *v = strchr(*h, ':') + 1;
    while (*v == ' ' || *v == '\t') v++;
    if (!*v) continue; // "Name:" removes a field, as with libcurl
    if (strncasecmp(*h, "Content-Length:", 15) == 0 ||
        strncasecmp(*h, "Transfer-Encoding:", 18) == 0)
      continue; // the body's framing is the client's
    cio__jt_lit(&b, *h);
    cio__jt_lit(&b, "\r\n");
  }
  cio__jt_lit(&b, "\r\n");
  if (has_body && out->body_fd < 0 && body_len <= INLINE_BODY) {
    cio__jt_raw(&b, body, body_len);
  } else if (has_body) {
    out->body = out->body_fd < 0 ? body : NULL;
    out->body_len = body_len;
  }
  if (!b.p) return -ENOMEM;
  out->head = b.p;
  out->len = b.n;
  return 0;
}

static void out_free(struct h1_out *out) {
  free(out->head);
  if (out->body_fd >= 0) close(out->body_fd);
}

// Sends the request on k.  Returns 0 or conn_send()'s codes.
static int send_request(struct h1_conn *k, const struct h1_out *out) {
  int rc = conn_send(k, out->head, out->len);
  if (rc == 0 && out->body) rc = conn_send(k, out->body, out->body_len);
  if (rc == 0 && out->body_fd >= 0) {
    off_t off = 0;
    rc = conn_send_file(k, out->body_fd, &off, out->body_len);
  }
  return rc;
}

static const cio__http_limits head_limits = {
    .max_line = 16 << 10, .max_head = MAX_HEAD, .max_headers = CIO__HTTP_MAX_RESPONSE_HEADERS};

#define H1_NOTHING (-9999) // no byte of an answer came before the close (or a reset)

// Reads the answer's head (1xx answers before it skipped).  Returns its
// length in k->buf from k->start, H1_NOTHING (closed before a byte came),
// CIO_HTTP_PROTOCOL, CIO_HTTP_READ_TIMEOUT, -ECONNRESET..., -ECANCELED,
// -ETIMEDOUT; *any says whether a byte came.
static int read_head(struct h1_conn *k, cio__http_response_head *h, bool *anyp) {
  bool any = false;
  int interim = 0;
  *anyp = false;
  for (;;) {
    size_t have = k->len - k->start;
    if (have) {
      any = *anyp = true;
      int rc = cio__http_parse_response(k->buf + k->start, have, h, &head_limits);
      if (rc > 0 && h->status < 200 && h->status != 101) { // 100 Continue, 103 Early Hints
        if (++interim > CIO__HTTP_MAX_INTERIM) {
          cio__http_client_error_set("%s", CIO__HTTP_TOO_MANY_INTERIM);
          return CIO_HTTP_PROTOCOL;
        }
        k->start += (size_t)rc;
        continue;
      }
      if (rc > 0) return rc;
      if (rc < 0) {
        cio__http_client_error_set(rc == -CIO__HTTP_HEAD_TOO_LARGE ? "response head too large"
                                   : rc == -CIO__HTTP_VERSION      ? "not an HTTP/1.x response"
                                   : rc == -CIO__HTTP_NOT_IMPLEMENTED
                                       ? "a transfer coding other than chunked"
                                       : "malformed response head");
        return CIO_HTTP_PROTOCOL;
      }
      if (have >= MAX_HEAD) {
        cio__http_client_error_set("response head too large");
        return CIO_HTTP_PROTOCOL;
      }
    }
    ssize_t n = conn_fill(k, 4096);
    if (n == 0) {
      if (!any) return H1_NOTHING;
      cio__http_client_error_set("the server closed the connection in the response head");
      return CIO_HTTP_PROTOCOL;
    }
    if (n < 0) {
      if (n == CIO_HTTP_READ_TIMEOUT) cio__http_client_error_set("%s", cio_strerror((int)n));
      return (int)n;
    }
  }
}

// ---------------------------------------------------------------- bodies

struct cio__h1_body {
  cio__h1_pool *p;
  struct h1_conn *k; // NULL once given back or closed
  cio__http_body_end end;
  uint64_t remaining; // of a Content-Length body
  cio__http_chunked ch;
  size_t pay, pay_n; // body bytes ready in k->buf (framing undone)
  bool ended;        // the framing's end was read
  bool reusable;     // the connection may carry another request afterwards
  int error;         // a failure, returned by every read after it
#ifdef CIO_HAVE_ZLIB
  bool inflating; // Content-Encoding gzip or deflate: z decodes
  bool z_end;     //   its stream ended
  bool z_raw;     //   "deflate" that may come without zlib's header (as some servers send it)
  z_stream z;
#endif
};

// Fails the body: its connection is closed.  Returns rc.
static int body_fail(struct cio__h1_body *b, int rc) {
  if (b->k) conn_close(b->k);
  b->k = NULL;
  b->error = rc;
  return rc;
}

// Makes body bytes ready (b->pay_n > 0).  Returns 1, 0 at the body's end,
// or a failure.
static int payload(struct cio__h1_body *b) {
  struct h1_conn *k = b->k;
  for (;;) {
    if (b->pay_n) return 1;
    if (b->ended) return 0;
    size_t avail = k->len - k->start;
    if (avail) {
      if (b->end == CIO__HTTP_BODY_LENGTH) {
        size_t n = avail < b->remaining ? avail : (size_t)b->remaining;
        b->pay = k->start;
        b->pay_n = n;
        k->start += n;
        b->remaining -= n;
        b->ended = b->remaining == 0;
        continue;
      }
      if (b->end == CIO__HTTP_BODY_CLOSE) {
        b->pay = k->start;
        b->pay_n = avail;
        k->start = k->len;
        continue;
      }
      size_t plen = avail, used = 0; // chunked: decoded in place
      int rc = cio__http_chunked_decode(&b->ch, k->buf + k->start, &plen, &used);
      if (rc < 0) {
        cio__http_client_error_set("malformed chunked body");
        return CIO_HTTP_PROTOCOL;
      }
      b->pay = k->start;
      b->pay_n = plen;
      k->start += used;
      b->ended = rc == 1;
      continue;
    }
    ssize_t n = conn_fill(k, 4096);
    if (n == 0) {
      if (b->end == CIO__HTTP_BODY_CLOSE) {
        b->ended = true;
        continue;
      }
      cio__http_client_error_set("the server closed the connection before the body's end");
      return CIO_HTTP_PROTOCOL;
    }
    if (n < 0) {
      if (n == CIO_HTTP_READ_TIMEOUT) cio__http_client_error_set("%s", cio_strerror((int)n));
      return (int)n;
    }
  }
}

// Reads up to cap bytes of the body (decoded).  Returns the bytes read, 0
// at its end (the connection then goes back to the pool), or a failure
// (the connection is closed).
static ssize_t body_read(struct cio__h1_body *b, char *out, size_t cap) {
  if (b->error) return b->error;
  if (!b->k) return 0;
  for (;;) {
    int rc = payload(b);
    // The task's cancellation or timeout interrupts a wait, not the body:
    // nothing was half read, and reading may go on.
    if (rc == -ECANCELED || rc == -ETIMEDOUT) return rc;
    if (rc < 0) return body_fail(b, rc);
#ifdef CIO_HAVE_ZLIB
    if (b->inflating && rc == 1 && !b->z_end) {
      b->z.next_in = (unsigned char *)b->k->buf + b->pay;
      b->z.avail_in = (unsigned)b->pay_n;
      b->z.next_out = (unsigned char *)out;
      b->z.avail_out = (unsigned)(cap < UINT32_MAX ? cap : UINT32_MAX);
      bool first = b->z.total_in == 0;
      int z = inflate(&b->z, Z_NO_FLUSH);
      if (z == Z_DATA_ERROR && first &&
          b->z_raw) { // no zlib header: raw deflate, as libcurl reads it
        b->z_raw = false;
        if (inflateReset2(&b->z, -15) != Z_OK) return body_fail(b, -ENOMEM);
        continue; // the same bytes again
      }
      size_t used = b->pay_n - b->z.avail_in;
      b->pay += used;
      b->pay_n -= used;
      size_t made = (size_t)((char *)b->z.next_out - out);
      if (z == Z_STREAM_END) b->z_end = true;
      if (z != Z_OK && z != Z_STREAM_END && z != Z_BUF_ERROR) {
        cio__http_client_error_set("bad %s body", "compressed");
        return body_fail(b, CIO_HTTP_PROTOCOL);
      }
      if (made) return (ssize_t)made;
      if (cap == 0) return 0;
      continue;
    }
    if (b->inflating && rc == 1) { // past the compressed stream's end: dropped
      b->pay_n = 0;
      continue;
    }
    if (b->inflating && rc == 0 && !b->z_end) {
      cio__http_client_error_set("compressed body cut short");
      return body_fail(b, CIO_HTTP_PROTOCOL);
    }
#endif
    if (rc == 0) {
      struct h1_conn *k = b->k;
      b->k = NULL;
      release(k, b->reusable);
      return 0;
    }
    size_t n = b->pay_n < cap ? b->pay_n : cap;
    memcpy(out, b->k->buf + b->pay, n);
    b->pay += n;
    b->pay_n -= n;
    return (ssize_t)n;
  }
}

static void body_end_decoding(struct cio__h1_body *b) {
#ifdef CIO_HAVE_ZLIB
  if (b->inflating) inflateEnd(&b->z);
  b->inflating = false;
#else
  (void)b;
#endif
}

// Sets up reading the body of the answer whose head is h.  Returns 0,
// -ENOMEM.
static int body_begin(struct cio__h1_body *b, cio__h1_pool *p, struct h1_conn *k,
                      const cio__http_response_head *h, bool is_head) {
  *b = (struct cio__h1_body){.p = p, .k = k};
  b->end = cio__http_response_body(h, is_head);
  b->reusable = h->keep_alive && b->end != CIO__HTTP_BODY_CLOSE && h->status != 101;
  b->ended = b->end == CIO__HTTP_BODY_NONE;
  if (b->end == CIO__HTTP_BODY_LENGTH) {
    b->remaining = (uint64_t)h->content_length;
    b->ended = b->remaining == 0;
  }
#ifdef CIO_HAVE_ZLIB
  const cio__http_slice *ce = cio__http_response_header(h, "Content-Encoding");
  if (ce && !b->ended &&
      ((ce->n == 4 && strncasecmp(ce->p, "gzip", 4) == 0) ||
       (ce->n == 6 && strncasecmp(ce->p, "x-gzip", 6) == 0) ||
       (ce->n == 7 && strncasecmp(ce->p, "deflate", 7) == 0))) {
    if (inflateInit2(&b->z, 15 + 32) != Z_OK) return -ENOMEM; // gzip or zlib, told by its header
    b->inflating = true;
    b->z_raw = ce->n == 7;
  }
#endif
  return 0;
}

// Copies the head into a response.  Returns 0 or -ENOMEM.
static int make_response(const struct h1_conn *k, size_t head_len, const cio__http_response_head *h,
                         const char *url, cio_http_response **out) {
  cio_http_response *resp = cio__calloc(1, sizeof *resp);
  if (!resp) return -ENOMEM;
  resp->status = h->status;
  resp->version = h->minor == 0 ? "HTTP/1.0" : "HTTP/1.1";
  resp->head = cio__strndup(k->buf + k->start, head_len);
  resp->url = cio__strdup(url);
  if (!resp->head || !resp->url || !cio__http_client_split_head(resp)) {
    cio_http_response_free(resp);
    return -ENOMEM;
  }
  *out = resp;
  return 0;
}

// One exchange: a connection (a kept-alive one tried again on a new one
// if the server had closed it unseen), the request, the answer's head.
// Returns 0 with *k, *h and the head's length *head_len, or a negative
// code (the connection is closed).
static int exchange(cio__h1_pool *p, struct h1_origin *o, const struct h1_out *out, int64_t start,
                    struct h1_conn **kp, cio__http_response_head *h, size_t *head_len) {
  for (;;) {
    struct h1_conn *k = NULL;
    int rc = acquire(p, o, start, &k);
    if (rc < 0) return rc;
    if (!k) {
      rc = conn_open(p, o, &k);
      if (rc < 0 || !k) {
        unreserve(p, o);
        return rc < 0 ? rc : -EIO;
      }
    }
    int sent = send_request(k, out);
    if (sent == CIO_HTTP_WRITE_TIMEOUT || sent == -ECANCELED || sent == -ETIMEDOUT ||
        sent == -ENOMEM || sent == -EIO) {
      conn_close(k);
      if (sent == CIO_HTTP_WRITE_TIMEOUT) cio__http_client_error_set("%s", cio_strerror(sent));
      return sent;
    }
    // A send that failed may still have an answer behind it (a 413 before
    // the server stopped reading): it is read if it came.
    bool any;
    rc = read_head(k, h, &any);
    if (rc > 0) {
      *kp = k;
      *head_len = (size_t)rc;
      return 0;
    }
    bool reused = k->reused;
    conn_close(k);
    bool nothing = rc == H1_NOTHING || (!any && (rc == -ECONNRESET || rc == -EPIPE));
    // A kept-alive connection that the server had closed (its FIN not yet
    // seen): nothing of the request was answered, so an idempotent one, or
    // one the server did not take, goes again on another connection (as
    // Go's client does; libcurl sends any again).
    if (reused && nothing && (out->idempotent || sent < 0)) continue;
    if (sent < 0 && nothing) {
      cio__http_client_error_set("sending the request failed: %s", strerror(-sent));
      return sent;
    }
    if (rc == H1_NOTHING) {
      cio__http_client_error_set("empty reply from server");
      return CIO_HTTP_PROTOCOL;
    }
    if (rc > -1000 && rc != -ECANCELED && rc != -ETIMEDOUT) // an errno
      cio__http_client_error_set("receiving the response failed: %s", strerror(-rc));
    return rc;
  }
}

// The request's parts: its URL taken apart (with the query appended) and
// what goes out.  Returns 0 or a negative code.
static int prepare(cio__h1_pool *p, const char *method, const char *url,
                   const cio_http_request_opts *o, bool upload, char **full, struct h1_url *u,
                   struct h1_out *out, struct h1_origin **origin) {
  *full = NULL;
  *u = (struct h1_url){0};
  *out = (struct h1_out){.body_fd = -1};
  if (o && o->nquery && !o->query) return -EINVAL;
  // (The URL answered is without its fragment, as libcurl's.)
  *full = cio__http_client_url_with_query(url, o ? o->query : NULL, o ? o->nquery : 0);
  if (!*full) return -ENOMEM;
  int rc = url_parse(*full, u);
  if (rc == 0) rc = build(out, method, u, o, p->user_agent, upload);
  if (rc == 0 && !(*origin = origin_get(p, u))) rc = -ENOMEM;
  if (rc == -EINVAL) cio__http_client_error_set("bad URL, method or header");
  return rc;
}

// Reads a whole body into the response; `length` (the Content-Length, or
// -1) sizes the first allocation, up to max_body (a compressed body's
// length says nothing of its decoded size, and a server's word is no
// reason to allocate past the limit).  Returns 0 or a failure.
static int read_whole(struct cio__h1_body *b, cio_http_response *resp, int64_t length) {
  size_t cap = length >= 0 && (uint64_t)length <= b->p->max_body ? (size_t)length + 1 : 1024;
  for (;;) {
    if (cap < resp->len + 1024 + 1) cap = (resp->len + 1024) * 2;
    char *nb = cio__realloc(resp->body, cap);
    if (!nb) return body_fail(b, -ENOMEM);
    resp->body = nb;
    ssize_t n = body_read(b, resp->body + resp->len, cap - resp->len - 1);
    if (n < 0) return (int)n;
    if (n == 0) break;
    resp->len += (size_t)n;
    if (resp->len > b->p->max_body) {
      cio__http_client_error_set("%s", cio_strerror(CIO_HTTP_BODY_TOO_LARGE));
      return body_fail(b, CIO_HTTP_BODY_TOO_LARGE);
    }
  }
  resp->body[resp->len] = '\0';
  return 0;
}

// After the head: the response, its body read whole or left to stream.
static int answer(cio__h1_pool *p, struct h1_conn *k, const cio__http_response_head *h,
                  size_t head_len, const struct h1_out *out, const char *url, bool stream,
                  bool keep, cio_http_response **res) {
  cio_http_response *resp = NULL;
  int rc = make_response(k, head_len, h, url, &resp);
  k->start += head_len;
  struct cio__h1_body *b = rc == 0 ? cio__calloc(1, sizeof *b) : NULL;
  if (rc == 0 && !b) rc = -ENOMEM;
  if (rc == 0) rc = body_begin(b, p, k, h, out->is_head);
  if (rc == 0 && !keep) b->reusable = false;
  if (rc < 0) {
    conn_close(k);
    free(b);
    cio_http_response_free(resp);
    return rc;
  }
  if (stream) {
    resp->h1 = b;
    p->busy++; // until the body is read or freed
    *res = resp;
    return 0;
  }
  if (b->end == CIO__HTTP_BODY_LENGTH && h->content_length > (int64_t)p->max_body
#ifdef CIO_HAVE_ZLIB
      && !b->inflating
#endif
  ) {
    rc = body_fail(b, CIO_HTTP_BODY_TOO_LARGE); // said before it comes
    cio__http_client_error_set("%s", cio_strerror(rc));
  } else {
    rc = read_whole(b, resp, b->end == CIO__HTTP_BODY_LENGTH ? h->content_length : -1);
    if (rc < 0 && b->k) conn_close(b->k); // interrupted: the rest of the body is not read
  }
  body_end_decoding(b);
  free(b);
  if (rc < 0) {
    cio_http_response_free(resp);
    return rc;
  }
  *res = resp;
  return 0;
}

int cio__h1_request(cio__h1_pool *p, const char *method, const char *url,
                    const cio_http_request_opts *o, bool stream, cio_http_response **res) {
  int64_t start = cio__loop_now_fresh(p->L);
  char *full;
  struct h1_url u;
  struct h1_out out;
  struct h1_origin *origin = NULL;
  int rc = prepare(p, method, url, o, false, &full, &u, &out, &origin);
  p->busy++;
  struct h1_conn *k = NULL;
  cio__http_response_head h;
  cio__http_response_head_clear(&h);
  size_t head_len = 0;
  if (rc == 0) rc = exchange(p, origin, &out, start, &k, &h, &head_len);
  if (rc == 0 && k) rc = answer(p, k, &h, head_len, &out, full, stream, true, res);
  p->busy--;
  origin_put(origin);
  out_free(&out);
  url_free(&u);
  free(full);
  return rc;
}

ssize_t cio__h1_read(struct cio__h1_body *b, void *buf, size_t len) {
  if (len == 0) return 0;
  bool had = b->k != NULL;
  ssize_t n = body_read(b, buf, len);
  if (had && !b->k) b->p->busy--; // read to its end, or failed: the connection is no longer held
  return n;
}

void cio__h1_body_free(struct cio__h1_body *b) {
  if (!b) return;
  if (b->k) {
    if (b->ended && !b->pay_n) // a body that had nothing left to read
      release(b->k, b->reusable);
    else
      conn_close(b->k); // a body not read to its end
    b->p->busy--;
  }
  body_end_decoding(b);
  free(b);
}

// ---------------------------------------------------------------- uploads
//
// The body goes out in chunks as the task writes it.  A write frames its
// bytes as a chunk onto `pending` and sends what the socket takes; it
// waits only while more than UPLOAD_HIGH is left unsent (backpressure).
// An interrupted write leaves its bytes queued: nothing is half sent.

#define UPLOAD_HIGH ((size_t)64 << 10)

struct cio__h1_upload {
  cio__h1_pool *p;
  struct h1_conn *k; // NULL once failed
  struct h1_origin *origin;
  struct h1_out out;
  struct h1_url u;
  char *full;
  struct cio__jtext pending; // framed bytes not yet sent: pending.p[sent, pending.n)
  size_t sent;
  int error; // a failure, returned by every call after it
};

static int upload_push(struct cio__h1_upload *up, bool all);

int cio__h1_upload_begin(cio__h1_pool *p, const char *method, const char *url,
                         const cio_http_request_opts *o, struct cio__h1_upload **res) {
  struct cio__h1_upload *up = cio__calloc(1, sizeof *up);
  if (!up) return -ENOMEM;
  up->p = p;
  int64_t start = cio__loop_now_fresh(p->L);
  int rc = prepare(p, method, url, o, true, &up->full, &up->u, &up->out, &up->origin);
  struct h1_conn *k = NULL;
  if (rc == 0) rc = acquire(p, up->origin, start, &k);
  if (rc == 0 && !k) {
    rc = conn_open(p, up->origin, &k);
    if (rc < 0) unreserve(p, up->origin);
  }
  if (rc < 0) {
    origin_put(up->origin);
    out_free(&up->out);
    url_free(&up->u);
    free(up->full);
    free(up);
    return rc;
  }
  up->k = k;
  p->busy++;
  up->pending = cio__jt_new(up->out.len + 4096);
  cio__jt_raw(&up->pending, up->out.head, up->out.len);
  rc = !up->pending.p ? -ENOMEM : upload_push(up, false); // the head goes out now
  if (rc < 0) {
    cio__h1_upload_abort(up);
    return rc;
  }
  *res = up;
  return 0;
}

// Sends the pending bytes the socket takes now; waits for room while more
// than UPLOAD_HIGH are left (or, with `all`, until none are).  Returns 0 or
// conn_send()'s codes.
static int upload_push(struct cio__h1_upload *up, bool all) {
  while (up->sent < up->pending.n) {
    ssize_t n = send(up->k->io.fd, up->pending.p + up->sent, up->pending.n - up->sent,
                     MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      up->sent += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) return -errno;
    if (!all && up->pending.n - up->sent <= UPLOAD_HIGH) break;
    int rc = conn_wait(up->k, after(up->p, up->p->write_ns), CIO_HTTP_WRITE_TIMEOUT, "HTTP upload");
    if (rc < 0) return rc;
  }
  if (up->sent == up->pending.n) up->sent = up->pending.n = 0;
  return 0;
}

// Ends the upload with a failure: its connection is closed.
static int upload_fail(struct cio__h1_upload *up, int rc) {
  up->error = rc;
  if (up->k) {
    conn_close(up->k);
    up->k = NULL;
    up->p->busy--;
  }
  if (rc == CIO_HTTP_WRITE_TIMEOUT) cio__http_client_error_set("%s", cio_strerror(rc));
  return rc;
}

int cio__h1_upload_write(struct cio__h1_upload *up, const void *data, size_t len) {
  if (up->error || !up->k) return -EPIPE;
  if (answered(up->k)) return -EPIPE; // finish reads the answer
  if (len) {
    char size[UPLOAD_CHUNK_HEAD];
    int n = snprintf(size, sizeof size, "%zx\r\n", len);
    if (up->sent && up->sent > up->pending.cap / 2) { // room at the front
      memmove(up->pending.p, up->pending.p + up->sent, up->pending.n - up->sent);
      up->pending.n -= up->sent;
      up->sent = 0;
    }
    cio__jt_raw(&up->pending, size, (size_t)n);
    cio__jt_raw(&up->pending, data, len);
    cio__jt_raw(&up->pending, "\r\n", 2);
    if (!up->pending.p) return upload_fail(up, -ENOMEM);
  }
  int rc = upload_push(up, false);
  if (rc == -EPIPE || rc == -ECONNRESET) return -EPIPE; // the server stopped reading
  if (rc == -ECANCELED || rc == -ETIMEDOUT) return rc;  // the bytes stay queued
  if (rc < 0) return upload_fail(up, rc);
  return 0;
}

static void upload_free(struct cio__h1_upload *up) {
  if (up->k) {
    conn_close(up->k);
    up->p->busy--;
  }
  origin_put(up->origin);
  out_free(&up->out);
  url_free(&up->u);
  free(up->full);
  free(up->pending.p);
  free(up);
}

int cio__h1_upload_finish(struct cio__h1_upload *up, cio_http_response **res) {
  int rc = up->error;
  if (rc == 0 && !up->k) rc = -ECANCELED;
  struct h1_conn *k = up->k;
  bool early = rc == 0 && answered(k); // the server answered before the body's end
  if (rc == 0 && !early) {
    cio__jt_raw(&up->pending, "0\r\n\r\n", 5);
    rc = !up->pending.p ? -ENOMEM : upload_push(up, true);
    early = rc == -EPIPE || rc == -ECONNRESET;
    if (early) rc = 0; // its answer may be there
  }
  cio__http_response_head h;
  cio__http_response_head_clear(&h);
  int head = 0; // the head's length
  if (rc == 0 && k) {
    bool any;
    head = read_head(k, &h, &any);
    rc = head == H1_NOTHING ? CIO_HTTP_PROTOCOL : head < 0 ? head : 0;
    if (head == H1_NOTHING) cio__http_client_error_set("empty reply from server");
  }
  if (rc == 0 && head > 0 && k) {
    up->k = NULL;
    up->p->busy--;
    // After an early answer the body was cut off: the connection is not
    // reused.
    rc = answer(up->p, k, &h, (size_t)head, &up->out, up->full, false, !early, res);
  }
  upload_free(up);
  return rc;
}

void cio__h1_upload_abort(struct cio__h1_upload *up) { upload_free(up); }

// ---------------------------------------------------------------- the end

// NOLINTBEGIN(clang-analyzer-unix.Malloc): see idle_remove()
void cio__h1_fini(cio__h1_pool *p) {
  struct h1_origin *o = p->origins;
  while (o) {
    while (o->idle) drop_idle(o->idle);
    struct h1_origin *next = o->next;
    free(o->host);
    free(o);
    o = next;
  }
  p->origins = NULL;
  p->origins_kept = 0;
}
// NOLINTEND(clang-analyzer-unix.Malloc)
