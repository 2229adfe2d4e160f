// SPDX-License-Identifier: MIT
//
// Sockets, streams and the server helper on real sockets on 127.0.0.1.
#include <cio.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "context/valgrind_compat.h"
#include "helpers/test.h"

static int echo(cio_stream *conn, void *arg) {
  (void)arg;
  char buf[16384]; // the default stack is 64 KiB
  for (;;) {
    ssize_t n = cio_stream_read(conn, buf, sizeof buf);
    if (n <= 0) return (int)n;
    int rc = cio_stream_write(conn, buf, (size_t)n);
    if (rc == 0) rc = cio_stream_drain(conn);
    if (rc < 0) return rc;
  }
}

static cio_server *start_echo(char *port, size_t cap) {
  cio_server *srv;
  ASSERT_EQ(cio_server_start(&srv, "127.0.0.1", "0", echo, NULL, NULL), 0);
  snprintf(port, cap, "%d", cio_server_port(srv));
  return srv;
}

// ---------------------------------------------------------------- many connections

struct client {
  const char *port; // server
  int id;           // which client
  long checked;     // bytes verified
};

static int client_fn(void *arg) {
  struct client *c = arg;
  cio_stream *st;
  int rc = cio_stream_connect(&st, "127.0.0.1", c->port);
  if (rc < 0) return rc;
  for (int i = 0; i < 5 && rc == 0; i++) {
    char line[64], back[64];
    int n = snprintf(line, sizeof line, "client %d says %d\n", c->id, i);
    rc = cio_stream_write(st, line, (size_t)n);
    if (rc == 0) rc = cio_stream_drain(st);
    ssize_t got = rc < 0 ? rc : cio_stream_readline(st, back, sizeof back);
    if (got != n || memcmp(line, back, (size_t)n) != 0)
      rc = got < 0 ? (int)got : -EPROTO;
    else
      c->checked += got;
  }
  int closed = cio_stream_close(st);
  return rc < 0 ? rc : closed;
}

static int many_main(void *arg) {
  int n = *(int *)arg;
  char port[8];
  cio_server *srv = start_echo(port, sizeof port);
  struct client *c = calloc((size_t)n, sizeof *c);
  cio_task **t = calloc((size_t)n, sizeof *t);
  for (int i = 0; i < n; i++) {
    c[i] = (struct client){port, i, 0};
    t[i] = cio_spawn(client_fn, &c[i]);
  }
  ASSERT_EQ(cio_gather(t, (size_t)n, NULL, 0), 0);
  long want = 0, got = 0;
  for (int i = 0; i < n; i++) {
    char line[64];
    for (int k = 0; k < 5; k++) want += snprintf(line, sizeof line, "client %d says %d\n", i, k);
    got += c[i].checked;
  }
  ASSERT_EQ(got, want); // every byte checked
  ASSERT_EQ(cio_server_close(srv, 1), 0);
  free(c);
  free(t);
  return 0;
}
static void thousand_concurrent_connections(void) {
  int n = (int)(1000 * test_scale());
  if (n < 10) n = 10;
  ASSERT_EQ(cio_run(many_main, &n), 0);
}

// ---------------------------------------------------------------- short reads and writes

struct bulk {
  cio_sock *s;      // the connection
  size_t len;       // bytes to send
  const char *data; // what
};
static int bulk_writer(void *arg) {
  struct bulk *b = arg;
  // 1-byte... no: many small writes, each awaiting a tiny send buffer.
  for (size_t off = 0; off < b->len; off += 1000) {
    size_t n = b->len - off < 1000 ? b->len - off : 1000;
    ssize_t w = cio_sock_write(b->s, b->data + off, n);
    if (w != (ssize_t)n) return w < 0 ? (int)w : -EIO;
  }
  return cio_sock_shutdown(b->s, SHUT_WR);
}
static int short_io_main(void *arg) {
  (void)arg;
  char port[8];
  cio_server *srv = start_echo(port, sizeof port);
  cio_sock *s;
  ASSERT_EQ(cio_tcp_connect(&s, "127.0.0.1", port), 0);
  int tiny = 4096;
  setsockopt(cio_sock_fd(s), SOL_SOCKET, SO_SNDBUF, &tiny, sizeof tiny);
  size_t len = (size_t)(4 << 20);
  char *data = malloc(len), *back = malloc(len);
  for (size_t i = 0; i < len; i++) data[i] = (char)(i * 7 + (i >> 12));
  struct bulk b = {s, len, data};
  cio_task *w = cio_spawn(bulk_writer, &b);
  size_t got = 0;
  long reads = 0;
  for (;;) { // small reads: many short reads through a tiny buffer
    ssize_t r = cio_sock_read(s, back + got, len - got < 777 ? len - got : 777);
    ASSERT(r >= 0);
    if (r == 0) break;
    got += (size_t)r;
    reads++;
  }
  ASSERT_EQ(cio_join(w), 0);
  ASSERT_EQ(got, len);
  ASSERT(memcmp(data, back, len) == 0); // byte-exact
  ASSERT(reads > 1000);
  ASSERT_EQ(cio_sock_close(s), 0);
  ASSERT_EQ(cio_server_close(srv, 1), 0);
  free(data);
  free(back);
  return 0;
}
static void short_reads_and_writes_are_byte_exact(void) {
  ASSERT_EQ(cio_run(short_io_main, NULL), 0);
}

// ---------------------------------------------------------------- errors

static int reset_handler(cio_stream *conn, void *arg) {
  char buf[64];
  ssize_t r;
  while ((r = cio_stream_read(conn, buf, sizeof buf)) > 0) {
  }
  *(ssize_t *)arg = r; // what the server saw when the client reset
  return 0;
}
static int errors_main(void *arg) {
  (void)arg;
  // Refused: nobody listens on a port we just closed.
  cio_sock *l, *s;
  ASSERT_EQ(cio_tcp_listen(&l, "127.0.0.1", "0", 1, 0), 0);
  char port[8];
  snprintf(port, sizeof port, "%d", cio_sock_port(l));
  ASSERT_EQ(cio_sock_close(l), 0);
  ASSERT_EQ(cio_tcp_connect(&s, "127.0.0.1", port), -ECONNREFUSED);
  // Bad input.
  ASSERT_EQ(cio_tcp_connect(&s, "127.0.0.1", "99999"), -EINVAL);
  ASSERT_EQ(cio_tcp_connect(&s, "127.0.0.1", ""), -EINVAL);
  ASSERT_EQ(cio_tcp_connect(&s, NULL, "80"), -EINVAL);
  int rc = cio_tcp_connect(&s, "no-such-host.invalid", "80");
  ASSERT(rc == CIO_EAI_NONAME || rc == CIO_EAI_AGAIN); // dns_failures_have_their_own_codes
  ASSERT_EQ(cio_tcp_listen(&l, "not an address", "0", 0, 0), CIO_EAI_NONAME);
  errno = 0;
  ASSERT(cio_sock_wrap(-1) == NULL && errno == EBADF);
  // Peer reset mid-stream.
  ssize_t seen = 1;
  cio_server *srv;
  ASSERT_EQ(cio_server_start(&srv, "127.0.0.1", "0", reset_handler, &seen, NULL), 0);
  snprintf(port, sizeof port, "%d", cio_server_port(srv));
  ASSERT_EQ(cio_tcp_connect(&s, "localhost", port), 0); // by name, via the pool
  ASSERT_EQ(cio_sock_write(s, "partial", 7), 7);
  struct linger lg = {1, 0}; // close with RST
  setsockopt(cio_sock_fd(s), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  ASSERT_EQ(cio_sleep(0.02), 0);
  ASSERT_EQ(cio_sock_close(s), 0);
  while (seen == 1) ASSERT_EQ(cio_sleep(0.01), 0);
  ASSERT_EQ(seen, -ECONNRESET);
  ASSERT_EQ(cio_server_close(srv, 1), 0);
  // Zero-length operations.
  char port2[8];
  srv = start_echo(port2, sizeof port2);
  ASSERT_EQ(cio_tcp_connect(&s, "127.0.0.1", port2), 0);
  ASSERT_EQ(cio_sock_write(s, "", 0), 0);
  char b;
  ASSERT_EQ(cio_sock_read(s, &b, 0), 0);
  ASSERT_EQ(cio_sock_close(s), 0);
  ASSERT_EQ(cio_server_close(srv, 1), 0);
  return 0;
}
static void refused_reset_and_bad_input(void) { ASSERT_EQ(cio_run(errors_main, NULL), 0); }

// A name that does not resolve gets a CIO_EAI_* code (outside errno's range),
// named in getaddrinfo's words; it used to be -ENOENT, "No such file or
// directory".  Names under .invalid never resolve (RFC 6761).  Without a
// reachable DNS server the answer is EAI_AGAIN rather than EAI_NONAME: both
// are honest, so both are accepted; the lookup must not hang either way.
static int dns_main(void *arg) {
  (void)arg;
  cio_sock *s = NULL;
  double t0 = cio_now();
  int rc = cio_tcp_connect(&s, "no-such-host.invalid", "80");
  double took = cio_now() - t0;
  printf("no-such-host.invalid: %d (%s) in %.3f s\n", rc, cio_strerror(rc), took);
  ASSERT(rc == CIO_EAI_NONAME || rc == CIO_EAI_AGAIN);
  ASSERT(rc <= CIO_EAI_FIRST && rc >= CIO_EAI_LAST);
  ASSERT(s == NULL);
  ASSERT_BETWEEN(took, 0, 20); // glibc gives up on a silent server well before
  ASSERT(strcmp(cio_strerror(rc), gai_strerror(rc == CIO_EAI_NONAME ? EAI_NONAME : EAI_AGAIN)) ==
         0);
  // A numeric host with an unknown service name: bad input, not a DNS failure.
  ASSERT_EQ(cio_tcp_connect(&s, "127.0.0.1", "no-such-service"), -EINVAL);
  // A listener or UDP socket needs a numeric host: a name is not resolved.
  ASSERT_EQ(cio_udp_open(&s, "no-such-host.invalid", "0"), CIO_EAI_NONAME);
  // Every code has getaddrinfo's name and none is an errno's.
  const struct {
    int code, eai;
  } names[] = {{CIO_EAI_NONAME, EAI_NONAME},
               {CIO_EAI_NODATA, EAI_NODATA},
               {CIO_EAI_AGAIN, EAI_AGAIN},
               {CIO_EAI_FAIL, EAI_FAIL}};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    ASSERT(names[i].code <= CIO_EAI_FIRST && names[i].code >= CIO_EAI_LAST);
    ASSERT(strcmp(cio_strerror(names[i].code), gai_strerror(names[i].eai)) == 0);
    ASSERT(strcmp(cio_strerror(names[i].code), strerror(-names[i].code)) != 0);
  }
  return 0;
}
static void dns_failures_have_their_own_codes(void) { ASSERT_EQ(cio_run(dns_main, NULL), 0); }

// ---------------------------------------------------------------- timeouts

static int silent(cio_stream *conn, void *arg) {
  (void)conn, (void)arg;
  return cio_sleep(CIO_FOREVER); // never answers
}
static int timeout_main(void *arg) {
  (void)arg;
  cio_server *srv;
  ASSERT_EQ(cio_server_start(&srv, "127.0.0.1", "0", silent, NULL, NULL), 0);
  char port[8];
  snprintf(port, sizeof port, "%d", cio_server_port(srv));
  cio_sock *s;
  ASSERT_EQ(cio_tcp_connect(&s, "127.0.0.1", port), 0);
  cio_scope scope;
  double t0 = cio_now();
  ASSERT_EQ(cio_timeout_begin(&scope, 0.1), 0);
  char buf[16];
  ASSERT_EQ(cio_sock_read(s, buf, sizeof buf), -ETIMEDOUT); // read timeout
  ASSERT_EQ(cio_scope_end(&scope), -ETIMEDOUT);
  ASSERT_BETWEEN(cio_now() - t0, 0.1, 1.0);
  ASSERT_EQ(cio_sock_close(s), 0);
  // Connect timeout: a listener whose backlog is full drops new SYNs.
  cio_sock *full;
  ASSERT_EQ(cio_tcp_listen(&full, "127.0.0.1", "0", 1, 0), 0);
  snprintf(port, sizeof port, "%d", cio_sock_port(full));
  cio_sock *fill[4] = {0};
  int timed_out = 0;
  for (int i = 0; i < 4 && !timed_out; i++) {
    ASSERT_EQ(cio_timeout_begin(&scope, 0.2), 0);
    int rc = cio_tcp_connect(&fill[i], "127.0.0.1", port);
    if (cio_scope_end(&scope) == -ETIMEDOUT) {
      ASSERT_EQ(rc, -ETIMEDOUT);
      timed_out = 1;
    } else {
      ASSERT_EQ(rc, 0);
    }
  }
  ASSERT(timed_out);
  for (int i = 0; i < 4; i++)
    if (fill[i]) ASSERT_EQ(cio_sock_close(fill[i]), 0);
  ASSERT_EQ(cio_sock_close(full), 0);
  ASSERT_EQ(cio_server_close(srv, 0.05), 1); // the silent handler had to be cancelled
  return 0;
}
static void connect_and_read_timeouts(void) { ASSERT_EQ(cio_run(timeout_main, NULL), 0); }

// ---------------------------------------------------------------- stream reads

static int teller(cio_stream *conn, void *arg) {
  const char *what = arg;
  int rc = cio_stream_write(conn, what, strlen(what));
  return rc < 0 ? rc : cio_stream_drain(conn); // then closes
}
static int flood(cio_stream *conn, void *arg) {
  (void)arg;
  char junk[4096];
  memset(junk, 'x', sizeof junk);
  for (;;) { // a peer that sends forever, never a newline
    int rc = cio_stream_write(conn, junk, sizeof junk);
    if (rc == 0) rc = cio_stream_drain(conn);
    if (rc < 0) return rc;
  }
}
static int stream_main(void *arg) {
  (void)arg;
  cio_server *srv;
  char port[8];
  ASSERT_EQ(cio_server_start(&srv, "127.0.0.1", "0", teller, "one\ntwo\r\nend:three", NULL), 0);
  snprintf(port, sizeof port, "%d", cio_server_port(srv));
  cio_stream *st;
  ASSERT_EQ(cio_stream_connect(&st, "127.0.0.1", port), 0);
  char buf[64];
  ASSERT_EQ(cio_stream_readline(st, buf, sizeof buf), 4);
  ASSERT(memcmp(buf, "one\n", 4) == 0);
  ASSERT_EQ(cio_stream_readuntil(st, "\r\n", 2, buf, sizeof buf), 5);
  ASSERT(memcmp(buf, "two\r\n", 5) == 0);
  ASSERT_EQ(cio_stream_readuntil(st, ":", 1, buf, 2), -EMSGSIZE); // cap too small; data stays
  ASSERT_EQ(cio_stream_readuntil(st, ":", 1, buf, sizeof buf), 4);
  size_t got = 99;
  ASSERT_EQ(cio_stream_readexactly(st, buf, 10, &got), -ENODATA); // partial
  ASSERT_EQ(got, 5);
  ASSERT(memcmp(buf, "three", 5) == 0);
  ASSERT_EQ(cio_stream_read(st, buf, sizeof buf), 0); // end of stream, again and again
  ASSERT_EQ(cio_stream_read(st, buf, sizeof buf), 0);
  ASSERT_EQ(cio_stream_close(st), 0);
  ASSERT_EQ(cio_server_close(srv, 1), 0);
  // A peer that sends forever: the limit holds, memory stays bounded.
  ASSERT_EQ(cio_server_start(&srv, "127.0.0.1", "0", flood, NULL, NULL), 0);
  snprintf(port, sizeof port, "%d", cio_server_port(srv));
  cio_sock *s;
  ASSERT_EQ(cio_tcp_connect(&s, "127.0.0.1", port), 0);
  st = cio_stream_new(s, 100000);
  char *line = malloc(1 << 20);
  ASSERT_EQ(cio_stream_readline(st, line, 1 << 20), -EMSGSIZE);
  free(line);
  ASSERT_EQ(cio_stream_close(st), 0);
  ASSERT_EQ(cio_server_close(srv, 0.5), 0);
  return 0;
}
static void stream_readline_readuntil_readexactly(void) {
  ASSERT_EQ(cio_run(stream_main, NULL), 0);
}

// ---------------------------------------------------------------- EMFILE

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}
struct holder {
  const char *port; // server
  double hold;      // seconds to keep the connection
  int ok;           // echoed correctly
};
static int hold_client(void *arg) {
  struct holder *h = arg;
  cio_stream *st;
  int rc;
  // Retry while the process is out of descriptors (the clients share it).
  while ((rc = cio_stream_connect(&st, "127.0.0.1", h->port)) == -EMFILE)
    if ((rc = cio_sleep(0.01)) < 0) return rc;
  if (rc < 0) return rc;
  rc = cio_stream_write(st, "ping\n", 5);
  if (rc == 0) rc = cio_stream_drain(st);
  char buf[8];
  if (rc == 0) rc = cio_stream_readline(st, buf, sizeof buf) == 5 ? 0 : -EPROTO;
  if (rc == 0) rc = cio_sleep(h->hold);
  int closed = cio_stream_close(st);
  h->ok = rc == 0 && closed == 0;
  return rc;
}
static int emfile_main(void *arg) {
  (void)arg;
  char port[8];
  cio_server *srv = start_echo(port, sizeof port);
  enum { N = 40 };
  struct holder h[N];
  cio_task *t[N];
  double cpu0 = cpu_seconds(), t0 = cio_now();
  for (int i = 0; i < N; i++) {
    h[i] = (struct holder){port, i < 20 ? 0.5 : 0.01, 0};
    t[i] = cio_spawn(hold_client, &h[i]);
  }
  ASSERT_EQ(cio_gather(t, N, NULL, 0), 0);
  for (int i = 0; i < N; i++) ASSERT(h[i].ok); // all served once descriptors freed up
  double wall = cio_now() - t0, cpu = cpu_seconds() - cpu0;
  printf("  %d clients through a 64-descriptor limit in %.2f s, %.2f s CPU\n", N, wall, cpu);
  ASSERT(cpu < wall * 0.5 + 0.1); // backed off instead of spinning
  ASSERT_EQ(cio_server_close(srv, 1), 0);
  return 0;
}
static void accept_survives_emfile(void) {
  if (RUNNING_ON_VALGRIND)
    test_skip("valgrind keeps descriptors of its own: the limit cannot be lowered");
  struct rlimit rl = {64, 64};
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
  ASSERT_EQ(cio_run(emfile_main, NULL), 0);
}

// ---------------------------------------------------------------- unix, udp

static int local_main(void *arg) {
  (void)arg;
  char path[64];
  snprintf(path, sizeof path, "/tmp/cio-test-%d.sock", (int)getpid());
  cio_sock *l, *c, *a;
  ASSERT_EQ(cio_unix_listen(&l, path, 0), 0);
  ASSERT_EQ(cio_unix_connect(&c, path), 0);
  ASSERT_EQ(cio_sock_accept(l, &a), 0);
  ASSERT_EQ(cio_sock_write(c, "unix", 4), 4);
  char buf[8];
  ASSERT_EQ(cio_sock_read(a, buf, sizeof buf), 4);
  ASSERT(memcmp(buf, "unix", 4) == 0);
  ASSERT_EQ(cio_sock_close(a), 0);
  ASSERT_EQ(cio_sock_read(c, buf, sizeof buf), 0); // EOF
  ASSERT_EQ(cio_sock_close(c), 0);
  ASSERT_EQ(cio_sock_close(l), 0);
  unlink(path);
  // UDP round trip.
  cio_sock *u1, *u2;
  ASSERT_EQ(cio_udp_open(&u1, "127.0.0.1", "0"), 0);
  ASSERT_EQ(cio_udp_open(&u2, "127.0.0.1", "0"), 0);
  struct sockaddr_in to = {.sin_family = AF_INET,
                           .sin_port = htons((uint16_t)cio_sock_port(u1)),
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  ASSERT_EQ(cio_sock_sendto(u2, "dgram", 5, (struct sockaddr *)&to, sizeof to), 5);
  struct sockaddr_storage from;
  socklen_t fl;
  ASSERT_EQ(cio_sock_recvfrom(u1, buf, sizeof buf, &from, &fl), 5);
  ASSERT(memcmp(buf, "dgram", 5) == 0);
  ASSERT_EQ(ntohs(((struct sockaddr_in *)&from)->sin_port), cio_sock_port(u2));
  ASSERT_EQ(cio_sock_close(u1), 0);
  ASSERT_EQ(cio_sock_close(u2), 0);
  // IPv6 loopback, if the machine has it.
  if (cio_tcp_listen(&l, "::1", "0", 0, 0) == 0) {
    char port[8];
    snprintf(port, sizeof port, "%d", cio_sock_port(l));
    ASSERT_EQ(cio_tcp_connect(&c, "::1", port), 0);
    ASSERT_EQ(cio_sock_accept(l, &a), 0);
    char name[64];
    ASSERT_EQ(cio_sock_peer_name(a, name, sizeof name), 0);
    ASSERT(strncmp(name, "[::1]:", 6) == 0);
    ASSERT_EQ(cio_sock_close(a), 0);
    ASSERT_EQ(cio_sock_close(c), 0);
    ASSERT_EQ(cio_sock_close(l), 0);
  }
  return 0;
}
static void unix_udp_and_ipv6(void) { ASSERT_EQ(cio_run(local_main, NULL), 0); }

// A task waiting on a socket that another task closes wakes with -EBADF.
static int blocked_reader(void *arg) {
  char b;
  return (int)cio_sock_read((cio_sock *)arg, &b, 1);
}
static int close_main(void *arg) {
  (void)arg;
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  cio_sock *r = cio_sock_wrap(fds[0]);
  ASSERT(r);
  cio_task *t = cio_spawn(blocked_reader, r);
  ASSERT_EQ(cio_yield(), 0);
  cio_task *t2 = cio_spawn(blocked_reader, r);
  ASSERT_EQ(cio_join(t2), -EBUSY); // one reader at a time
  ASSERT_EQ(cio_sock_close(r), 0);
  ASSERT_EQ(cio_join(t), -EBADF);
  close(fds[1]);
  return 0;
}
static void close_wakes_blocked_reader(void) { ASSERT_EQ(cio_run(close_main, NULL), 0); }

// Stream reads under random timeouts: a writer sends 256 KiB (a pattern with
// newlines) in random pieces with random pauses and drains that may time out; the
// reader takes it with random read, readexactly, readline and readuntil
// calls, each inside a timeout scope of 0-2 ms.  As in asyncio, a read that
// times out consumes nothing: everything that was sent arrives exactly
// once, in order, through the reads that succeeded.  Ten seeds.
struct stream_chaos {
  uint64_t rng;
  const char *port;
  unsigned char *sent, *got;
  size_t len, ngot;
};
static uint64_t sc_next(struct stream_chaos *c) { return test_random(&c->rng); }
static int sc_writer(void *arg) {
  struct stream_chaos *c = arg;
  cio_stream *st;
  ASSERT_EQ(cio_stream_connect(&st, "127.0.0.1", c->port), 0);
  for (size_t at = 0; at < c->len;) {
    size_t n = 1 + sc_next(c) % 5000;
    if (n > c->len - at) n = c->len - at;
    ASSERT_EQ(cio_stream_write(st, c->sent + at, n), 0);
    at += n;
    if (sc_next(c) % 3 == 0) { // a drain that may time out: what is queued stays queued
      cio_scope scope;
      ASSERT_EQ(cio_timeout_begin(&scope, (double)(sc_next(c) % 1000) / 1e6), 0);
      int rc = cio_stream_drain(st);
      ASSERT(rc == 0 || rc == -ETIMEDOUT);
      (void)cio_scope_end(&scope);
    }
    if (sc_next(c) % 4 == 0) ASSERT_EQ(cio_sleep((double)(sc_next(c) % 1500) / 1e6), 0);
  }
  return cio_stream_close(st);
}
static int sc_reader(cio_stream *st, void *arg) {
  struct stream_chaos *c = arg;
  static char buf[8192];
  for (;;) {
    cio_scope scope;
    ASSERT_EQ(cio_timeout_begin(&scope, (double)(sc_next(c) % 2000) / 1e6), 0);
    size_t n = 1 + sc_next(c) % 3000;
    ssize_t r;
    switch (sc_next(c) % 4) {
    case 0: r = cio_stream_read(st, buf, n); break;
    case 1: {
      size_t got = 0;
      int rc = cio_stream_readexactly(st, buf, n, &got);
      r = rc == 0 ? (ssize_t)n : rc == -ENODATA ? (ssize_t)got : rc;
      break;
    }
    case 2: r = cio_stream_readline(st, buf, sizeof buf); break;
    default: r = cio_stream_readuntil(st, "\n", 1, buf, sizeof buf); break;
    }
    int expired = cio_scope_end(&scope);
    if (r == -ETIMEDOUT) {
      ASSERT_EQ(expired, -ETIMEDOUT);
      continue;
    }
    if (r == -ENODATA) continue; // readuntil at the end: what is left comes by another read
    ASSERT(r >= 0);
    if (r == 0) return 0; // the end (main checks that it all came)
    ASSERT(c->ngot + (size_t)r <= c->len);
    memcpy(c->got + c->ngot, buf, (size_t)r);
    c->ngot += (size_t)r;
  }
}
static int stream_chaos_main(void *arg) {
  uint64_t seed = *(uint64_t *)arg;
  struct stream_chaos c = {.rng = seed, .len = 256 * 1024};
  ASSERT(c.sent = malloc(c.len));
  ASSERT(c.got = malloc(c.len));
  for (size_t i = 0; i < c.len; i++)
    c.sent[i] = sc_next(&c) % 100 == 0 ? '\n' : (unsigned char)('a' + i % 26);
  cio_server *srv;
  ASSERT_EQ(cio_server_start(&srv, "127.0.0.1", "0", sc_reader, &c, NULL), 0);
  char port[8];
  snprintf(port, sizeof port, "%d", cio_server_port(srv));
  c.port = port;
  cio_task *w = cio_spawn(sc_writer, &c);
  ASSERT_EQ(cio_join(w), 0);
  ASSERT_EQ(cio_server_close(srv, 10), 0);
  if (c.ngot != c.len || memcmp(c.sent, c.got, c.len) != 0) {
    size_t i = 0;
    while (i < c.ngot && i < c.len && c.sent[i] == c.got[i]) i++;
    test_fail(__FILE__, __LINE__, "seed %llu: %zu of %zu bytes arrived; first difference at %zu",
              (unsigned long long)seed, c.ngot, c.len, i);
  }
  free(c.sent);
  free(c.got);
  return 0;
}
static void stream_reads_under_timeouts_lose_nothing(void) {
  for (uint64_t seed = 1; seed <= 10; seed++) ASSERT_EQ(cio_run(stream_chaos_main, &seed), 0);
}

// ---------------------------------------------------------------- interrupted drains

// A drain interrupted part way (timeout or cancellation) consumes what it
// sent, so the next drain sends the rest: the peer, which starts reading
// only after 0.3 s, gets exactly the 8 MiB pattern, each byte once.  (The
// whole buffer used to be sent again: 12.3 MB arrived, corrupt.)
#define PATTERN(i) ((unsigned char)((i)*131 + ((i) >> 16)))
struct late_peer {
  cio_sock *s;      // the accepted connection
  size_t got;       // bytes received
  size_t first_bad; // first byte off the pattern (SIZE_MAX: none)
};
static int late_peer_fn(void *arg) {
  struct late_peer *p = arg;
  int rc = cio_sleep(0.3);
  if (rc < 0) return rc;
  static unsigned char buf[65536];
  for (;;) {
    ssize_t r = cio_sock_read(p->s, buf, sizeof buf);
    if (r < 0) return (int)r;
    if (r == 0) return 0;
    for (ssize_t i = 0; i < r; i++)
      if (buf[i] != PATTERN(p->got + (size_t)i) && p->first_bad == SIZE_MAX)
        p->first_bad = p->got + (size_t)i;
    p->got += (size_t)r;
  }
}
static int cancelled_drainer(void *arg) { return cio_stream_drain((cio_stream *)arg); }
static int interrupted_drain_main(void *arg) {
  bool cancel = *(bool *)arg;
  cio_sock *l;
  ASSERT_EQ(cio_tcp_listen(&l, "127.0.0.1", "0", 1, 0), 0);
  char port[8];
  snprintf(port, sizeof port, "%d", cio_sock_port(l));
  cio_stream *st;
  ASSERT_EQ(cio_stream_connect(&st, "127.0.0.1", port), 0);
  struct late_peer peer = {.first_bad = SIZE_MAX};
  ASSERT_EQ(cio_sock_accept(l, &peer.s), 0);
  cio_task *reader = cio_spawn(late_peer_fn, &peer);
  size_t len = (size_t)8 << 20;
  unsigned char *data = malloc(len);
  for (size_t i = 0; i < len; i++) data[i] = PATTERN(i);
  ASSERT_EQ(cio_stream_write(st, data, len), 0);
  if (cancel) { // another task drains and is cancelled part way
    cio_task *t = cio_spawn(cancelled_drainer, st);
    ASSERT_EQ(cio_sleep(0.05), 0);
    ASSERT_EQ(cio_cancel(t), 1);
    ASSERT_EQ(cio_join(t), -ECANCELED);
  } else {
    cio_scope scope;
    ASSERT_EQ(cio_timeout_begin(&scope, 0.05), 0);
    ASSERT_EQ(cio_stream_drain(st), -ETIMEDOUT);
    ASSERT_EQ(cio_scope_end(&scope), -ETIMEDOUT);
  }
  ASSERT(peer.got == 0); // the peer has not read yet: the drain did stop part way
  ASSERT_EQ(cio_stream_drain(st), 0);
  ASSERT_EQ(cio_stream_close(st), 0);
  ASSERT_EQ(cio_join(reader), 0);
  ASSERT_EQ(peer.first_bad, SIZE_MAX);
  ASSERT_EQ(peer.got, len);
  ASSERT_EQ(cio_sock_close(peer.s), 0);
  ASSERT_EQ(cio_sock_close(l), 0);
  free(data);
  return 0;
}
static void drain_interrupted_by_timeout_sends_each_byte_once(void) {
  bool cancel = false;
  ASSERT_EQ(cio_run(interrupted_drain_main, &cancel), 0);
}
static void drain_interrupted_by_cancel_sends_each_byte_once(void) {
  bool cancel = true;
  ASSERT_EQ(cio_run(interrupted_drain_main, &cancel), 0);
}

// cio_sock_write_all() says how much it sent when interrupted, and sending
// the rest from there delivers every byte once: on a TCP socket (timeout)
// and on a pipe (cancellation), neither read until later.
static int write_all_task(void *arg) {
  void **a = arg;
  return cio_sock_write_all(a[0], a[1], *(size_t *)a[2], a[3]);
}
static int write_all_main(void *arg) {
  (void)arg;
  size_t len = (size_t)8 << 20;
  unsigned char *data = malloc(len);
  for (size_t i = 0; i < len; i++) data[i] = PATTERN(i);
  // TCP, timeout.
  cio_sock *l, *c;
  ASSERT_EQ(cio_tcp_listen(&l, "127.0.0.1", "0", 1, 0), 0);
  char port[8];
  snprintf(port, sizeof port, "%d", cio_sock_port(l));
  ASSERT_EQ(cio_tcp_connect(&c, "127.0.0.1", port), 0);
  struct late_peer peer = {.first_bad = SIZE_MAX};
  ASSERT_EQ(cio_sock_accept(l, &peer.s), 0);
  cio_task *reader = cio_spawn(late_peer_fn, &peer);
  cio_scope scope;
  size_t sent = 12345;
  ASSERT_EQ(cio_timeout_begin(&scope, 0.05), 0);
  ASSERT_EQ(cio_sock_write_all(c, data, len, &sent), -ETIMEDOUT);
  ASSERT_EQ(cio_scope_end(&scope), -ETIMEDOUT);
  ASSERT(sent > 0 && sent < len);
  size_t more = 0;
  ASSERT_EQ(cio_sock_write_all(c, data + sent, len - sent, &more), 0);
  ASSERT_EQ(more, len - sent);
  ASSERT_EQ(cio_sock_shutdown(c, SHUT_WR), 0);
  ASSERT_EQ(cio_join(reader), 0);
  ASSERT_EQ(peer.first_bad, SIZE_MAX);
  ASSERT_EQ(peer.got, len);
  ASSERT_EQ(cio_sock_close(peer.s), 0);
  ASSERT_EQ(cio_sock_close(c), 0);
  ASSERT_EQ(cio_sock_close(l), 0);
  // A pipe, cancellation.
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  cio_sock *w = cio_sock_wrap(fds[1]);
  peer = (struct late_peer){.s = cio_sock_wrap(fds[0]), .first_bad = SIZE_MAX};
  ASSERT(w && peer.s);
  reader = cio_spawn(late_peer_fn, &peer);
  sent = 12345;
  void *a[4] = {w, data, &len, &sent};
  cio_task *t = cio_spawn(write_all_task, a);
  ASSERT_EQ(cio_sleep(0.05), 0);
  ASSERT_EQ(cio_cancel(t), 1);
  ASSERT_EQ(cio_join(t), -ECANCELED);
  ASSERT(sent > 0 && sent < len);
  ASSERT_EQ(cio_sock_write_all(w, data + sent, len - sent, NULL), 0);
  ASSERT_EQ(cio_sock_close(w), 0);
  ASSERT_EQ(cio_join(reader), 0);
  ASSERT_EQ(peer.first_bad, SIZE_MAX);
  ASSERT_EQ(peer.got, len);
  ASSERT_EQ(cio_sock_close(peer.s), 0);
  free(data);
  return 0;
}
static void sock_write_all_reports_what_was_sent(void) {
  ASSERT_EQ(cio_run(write_all_main, NULL), 0);
}

// A task writes to a stream while another task's drain waits for the
// peer: the queue grows (its buffer moves) under the drain, which sends
// the new bytes too, in order.  (The drain used to keep sending from the
// buffer's old address: freed memory.)
static int drainer(void *arg) { return cio_stream_drain((cio_stream *)arg); }
static int write_during_drain_main(void *arg) {
  (void)arg;
  cio_sock *l;
  ASSERT_EQ(cio_tcp_listen(&l, "127.0.0.1", "0", 1, 0), 0);
  char port[8];
  snprintf(port, sizeof port, "%d", cio_sock_port(l));
  cio_stream *st;
  ASSERT_EQ(cio_stream_connect(&st, "127.0.0.1", port), 0);
  struct late_peer peer = {.first_bad = SIZE_MAX};
  ASSERT_EQ(cio_sock_accept(l, &peer.s), 0);
  cio_task *reader = cio_spawn(late_peer_fn, &peer);
  size_t first = (size_t)6 << 20, len = (size_t)16 << 20;
  unsigned char *data = malloc(len);
  for (size_t i = 0; i < len; i++) data[i] = PATTERN(i);
  ASSERT_EQ(cio_stream_write(st, data, first), 0);
  cio_task *d = cio_spawn(drainer, st);
  ASSERT_EQ(cio_sleep(0.05), 0); // the drain waits for the peer
  ASSERT(cio_stream_queued(st) > 0 && cio_stream_queued(st) < first);
  ASSERT_EQ(cio_stream_write(st, data + first, len - first), 0); // grows the queue
  ASSERT_EQ(cio_stream_drain(st), -EBUSY);                       // one drain at a time
  ASSERT_EQ(cio_join(d), 0);
  ASSERT_EQ(cio_stream_queued(st), 0);
  ASSERT_EQ(cio_stream_close(st), 0);
  ASSERT_EQ(cio_join(reader), 0);
  ASSERT_EQ(peer.first_bad, SIZE_MAX);
  ASSERT_EQ(peer.got, len);
  ASSERT_EQ(cio_sock_close(peer.s), 0);
  ASSERT_EQ(cio_sock_close(l), 0);
  free(data);
  return 0;
}
static void stream_write_during_a_drain_keeps_order(void) {
  ASSERT_EQ(cio_run(write_during_drain_main, NULL), 0);
}

// A stream closed while one task reads it and another drains it: both wake
// with -EBADF and the stream is freed once they are out (ASan checks that
// nobody touches it after).  Closing it again returns -EINVAL.
static int stream_reader(void *arg) {
  char buf[64];
  return (int)cio_stream_readline((cio_stream *)arg, buf, sizeof buf);
}
static int close_busy_main(void *arg) {
  (void)arg;
  cio_sock *l, *peer;
  ASSERT_EQ(cio_tcp_listen(&l, "127.0.0.1", "0", 1, 0), 0);
  char port[8];
  snprintf(port, sizeof port, "%d", cio_sock_port(l));
  cio_stream *st;
  ASSERT_EQ(cio_stream_connect(&st, "127.0.0.1", port), 0);
  ASSERT_EQ(cio_sock_accept(l, &peer), 0);
  size_t len = (size_t)8 << 20;
  char *junk = calloc(1, len);
  ASSERT_EQ(cio_stream_write(st, junk, len), 0);
  cio_task *r = cio_spawn(stream_reader, st), *d = cio_spawn(drainer, st);
  ASSERT_EQ(cio_sleep(0.02), 0);
  char buf[8];
  ASSERT_EQ(cio_stream_read(st, buf, sizeof buf), -EBUSY); // one reader at a time
  ASSERT_EQ(cio_stream_close(st), -EBUSY);                 // closed; the drain's bytes are dropped
  ASSERT_EQ(cio_join(r), -EBADF);
  ASSERT_EQ(cio_join(d), -EBADF);
  ASSERT_EQ(cio_stream_close(st), -EINVAL);
  ASSERT_EQ(cio_sock_close(peer), 0);
  ASSERT_EQ(cio_sock_close(l), 0);
  free(junk);
  return 0;
}
static void stream_closed_while_read_and_drained(void) {
  ASSERT_EQ(cio_run(close_busy_main, NULL), 0);
}

// A socket or a stream closed twice: the second close returns -EINVAL (it
// was a heap use after free for streams: SIGSEGV), as does any use after.
static int closed_twice_main(void *arg) {
  (void)arg;
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  cio_sock *r = cio_sock_wrap(fds[0]), *w = cio_sock_wrap(fds[1]);
  ASSERT(r && w);
  ASSERT_EQ(cio_sock_close(r), 0);
  ASSERT_EQ(cio_sock_close(r), -EINVAL);
  char b;
  ASSERT_EQ(cio_sock_read(r, &b, 1), -EBADF);
  cio_stream *st = cio_stream_new(w, 0);
  ASSERT(st);
  ASSERT_EQ(cio_stream_write(st, "x", 1), 0);
  ASSERT_EQ(cio_stream_close(st), -EPIPE); // nobody reads the pipe any more
  ASSERT_EQ(cio_stream_close(st), -EINVAL);
  ASSERT_EQ(cio_stream_write(st, "x", 1), -EINVAL);
  ASSERT_EQ(cio_stream_drain(st), -EINVAL);
  ASSERT_EQ(cio_stream_read(st, &b, 1), -EINVAL);
  ASSERT_EQ(cio_stream_readline(st, &b, 1), -EINVAL);
  ASSERT(cio_stream_sock(st) == NULL);
  ASSERT_EQ(cio_sock_close(w), -EINVAL); // closed with its stream
  return 0;
}
static void socket_and_stream_closed_twice_return_einval(void) {
  ASSERT_EQ(cio_run(closed_twice_main, NULL), 0);
}

// ---------------------------------------------------------------- files

// pwrite and pread on the pool, cancelled while queued behind busy workers:
// they finish and report what they did.  (They returned -ECANCELED at once
// while the worker went on: the write happened after the call said it had
// failed, and the read filled a buffer its caller had taken back.)
static void *busy_worker(void *arg) {
  (void)arg;
  usleep(300 * 1000);
  return NULL;
}
static int occupy_pool(void *arg) {
  (void)arg;
  return cio_to_thread(busy_worker, NULL, NULL);
}
struct file_io {
  int fd;
  char *buf;
  size_t len;
  bool read;
};
static int file_io_task(void *arg) {
  struct file_io *f = arg;
  ssize_t r = f->read ? cio_file_pread(f->fd, f->buf, f->len, 0)
                      : cio_file_pwrite(f->fd, f->buf, f->len, 0);
  if (r < 0) return (int)r;
  ASSERT_EQ(cio_sleep(0), -ECANCELED); // the cancellation comes at the next await
  return (int)r;
}
static int file_cancel_main(void *arg) {
  (void)arg;
  char path[] = "/tmp/cio-file-XXXXXX";
  int fd = mkstemp(path);
  ASSERT(fd >= 0);
  unlink(path);
  size_t len = 100000;
  char *out = malloc(len), *in = calloc(1, len);
  for (size_t i = 0; i < len; i++) out[i] = (char)PATTERN(i);
  long workers = sysconf(_SC_NPROCESSORS_ONLN) + 4;
  if (workers > 32) workers = 32;
  cio_task *busy[64];
  for (int round = 0; round < 2; round++) {
    for (long i = 0; i < workers + 2; i++) busy[i] = cio_spawn(occupy_pool, NULL);
    ASSERT_EQ(cio_sleep(0.02), 0); // every worker is busy for 0.3 s
    struct file_io f = {fd, round ? in : out, len, round == 1};
    cio_task *t = cio_spawn(file_io_task, &f);
    ASSERT_EQ(cio_sleep(0.02), 0);
    ASSERT_EQ(cio_cancel(t), 1);
    ASSERT_EQ(cio_join(t), (int)len); // done, and said so
    if (round == 0) {
      ASSERT_EQ(lseek(fd, 0, SEEK_END), (off_t)len); // written by the time it returned
    } else {
      ASSERT(memcmp(in, out, len) == 0); // read by the time it returned
    }
    for (long i = 0; i < workers + 2; i++) ASSERT_EQ(cio_join(busy[i]), 0);
  }
  // Called already cancelled: nothing is done.
  struct file_io f = {fd, out, len, false};
  cio_task *t = cio_spawn(file_io_task, &f);
  ASSERT_EQ(cio_cancel(t), 1);
  ASSERT_EQ(cio_join(t), -ECANCELED);
  close(fd);
  free(out);
  free(in);
  return 0;
}
static void file_calls_cancelled_on_the_pool_report_what_they_did(void) {
  ASSERT_EQ(cio_run(file_cancel_main, NULL), 0);
}

// ---------------------------------------------------------------- foreign descriptors

// cio_wait_readable/writable on descriptors cio does not own: a pipe made
// readable later by another task, timeouts (own and a scope), cancellation,
// two descriptors at once, the same one twice (-EBUSY), a reader and a
// writer on one socket, a descriptor wrapped (by cio_sock_wrap, which the
// poller refuses while a registration is left) and closed and reopened
// after a wait, and a socket made with libc and connected without cio.
struct fd_waiter {
  int fd;         // what to wait on
  bool write;     // for writing
  double timeout; // its limit
  double woke;    // when it returned
};
static int fd_wait_task(void *arg) {
  struct fd_waiter *w = arg;
  int rc = w->write ? cio_wait_writable(w->fd, w->timeout) : cio_wait_readable(w->fd, w->timeout);
  w->woke = cio_now();
  return rc;
}
static int late_writer(void *arg) {
  int fd = *(int *)arg;
  int rc = cio_sleep(0.05);
  if (rc < 0) return rc;
  return write(fd, "x", 1) == 1 ? 0 : -errno;
}
static int foreign_main(void *arg) {
  (void)arg;
  int a[2], b[2];
  ASSERT_EQ(pipe(a), 0);
  ASSERT_EQ(pipe(b), 0);
  char c;
  // Readable later, written by another task.
  double t0 = cio_now();
  cio_task *w = cio_spawn(late_writer, &a[1]);
  ASSERT_EQ(cio_wait_readable(a[0], CIO_FOREVER), 0);
  ASSERT_BETWEEN(cio_now() - t0, 0.04, 2.0);
  ASSERT_EQ(cio_join(w), 0);
  ASSERT_EQ(cio_wait_readable(a[0], 0), 0); // ready now: no wait
  ASSERT_EQ(read(a[0], &c, 1), 1);
  // The wait left no registration: cio may wrap the descriptor now (the
  // poller refuses a second registration), and then it is cio's.
  int old = a[0];
  cio_sock *s = cio_sock_wrap(a[0]);
  ASSERT(s);
  ASSERT_EQ(cio_wait_readable(a[0], 1), -EEXIST); // a cio socket owns it
  ASSERT_EQ(cio_sock_close(s), 0);                // closes a[0]
  ASSERT_EQ(close(a[1]), 0);
  ASSERT_EQ(pipe(a), 0); // closed and reopened: likely the same numbers
  if (a[0] != old) printf("  (the new pipe got other descriptors)\n");
  // Timeouts: its own, 0, and a scope's.
  t0 = cio_now();
  ASSERT_EQ(cio_wait_readable(a[0], 0.05), -ETIMEDOUT);
  ASSERT_BETWEEN(cio_now() - t0, 0.04, 2.0);
  ASSERT_EQ(cio_wait_readable(a[0], 0), -ETIMEDOUT);
  cio_scope scope;
  ASSERT_EQ(cio_timeout_begin(&scope, 0.05), 0);
  ASSERT_EQ(cio_wait_readable(a[0], CIO_FOREVER), -ETIMEDOUT);
  ASSERT_EQ(cio_scope_end(&scope), -ETIMEDOUT);
  // Cancellation.
  struct fd_waiter fw = {a[0], false, CIO_FOREVER, 0};
  cio_task *t = cio_spawn(fd_wait_task, &fw);
  ASSERT_EQ(cio_sleep(0.02), 0);
  ASSERT_EQ(cio_cancel(t), 1);
  ASSERT_EQ(cio_join(t), -ECANCELED);
  // Two descriptors at once, the second made ready first; the same one twice.
  struct fd_waiter wa = {a[0], false, 5, 0}, wb = {b[0], false, 5, 0}, again = {a[0], false, 5, 0};
  cio_task *ta = cio_spawn(fd_wait_task, &wa), *tb = cio_spawn(fd_wait_task, &wb);
  ASSERT_EQ(cio_sleep(0.02), 0);
  cio_task *t2 = cio_spawn(fd_wait_task, &again);
  ASSERT_EQ(cio_join(t2), -EBUSY);
  ASSERT_EQ(write(b[1], "b", 1), 1);
  ASSERT_EQ(cio_sleep(0.02), 0);
  ASSERT_EQ(write(a[1], "a", 1), 1);
  ASSERT_EQ(cio_join(tb), 0);
  ASSERT_EQ(cio_join(ta), 0);
  ASSERT(wb.woke < wa.woke);
  ASSERT_EQ(read(a[0], &c, 1), 1);
  ASSERT_EQ(read(b[0], &c, 1), 1);
  // Closed and reopened after waits, once more.
  for (int i = 0; i < 2; i++) ASSERT_EQ(close(a[i]), 0);
  ASSERT_EQ(pipe(a), 0);
  ASSERT_EQ(cio_wait_readable(a[0], 0.01), -ETIMEDOUT);
  w = cio_spawn(late_writer, &a[1]);
  ASSERT_EQ(cio_wait_readable(a[0], 5), 0);
  ASSERT_EQ(cio_join(w), 0);
  // A reader and a writer on one socket at once, neither ready at first.
  int sp[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp), 0);
  static char fill[1 << 16];
  while (send(sp[0], fill, sizeof fill, MSG_DONTWAIT) > 0) {
  }
  struct fd_waiter rd = {sp[0], false, 5, 0}, wr = {sp[0], true, 5, 0};
  cio_task *tr = cio_spawn(fd_wait_task, &rd), *tw = cio_spawn(fd_wait_task, &wr);
  ASSERT_EQ(cio_sleep(0.02), 0);
  ASSERT(!cio_task_done(tr) && !cio_task_done(tw));
  while (recv(sp[1], fill, sizeof fill, MSG_DONTWAIT) > 0) { // room for the writer
  }
  ASSERT_EQ(cio_join(tw), 0);
  ASSERT(!cio_task_done(tr));
  ASSERT_EQ(send(sp[1], "r", 1, 0), 1);
  ASSERT_EQ(cio_join(tr), 0);
  close(sp[0]);
  close(sp[1]);
  // Bad input.
  ASSERT_EQ(cio_wait_readable(-1, 1), -EBADF);
  ASSERT_EQ(cio_wait_readable(old + 100, 1), -EBADF); // not open
  ASSERT_EQ(cio_wait_writable(a[1], NAN), -EINVAL);
  for (int i = 0; i < 2; i++) {
    ASSERT_EQ(close(a[i]), 0);
    ASSERT_EQ(close(b[i]), 0);
  }
  return 0;
}
static void wait_readable_writable_on_foreign_descriptors(void) {
  ASSERT_EQ(cio_run(foreign_main, NULL), 0);
  ASSERT_EQ(cio_wait_readable(0, 0), -EPERM); // outside a task
}

// A non-blocking libc socket connected to 127.0.0.1:port (awaited through
// cio_wait_writable); its local port in *local.
static int connect_loopback(int port, int *local) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  ASSERT(fd >= 0);
  struct sockaddr_in to = {.sin_family = AF_INET,
                           .sin_port = htons((uint16_t)port),
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int r;
  while ((r = connect(fd, (struct sockaddr *)&to, sizeof to)) < 0 && errno == EINTR) {
  }
  ASSERT(r == 0 || errno == EINPROGRESS || errno == EALREADY);
  ASSERT_EQ(cio_wait_writable(fd, 5), 0); // connected
  int err = -1;
  socklen_t el = sizeof err;
  ASSERT_EQ(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el), 0);
  ASSERT_EQ(err, 0);
  struct sockaddr_in me;
  socklen_t len = sizeof me;
  ASSERT_EQ(getsockname(fd, (struct sockaddr *)&me, &len), 0);
  *local = ntohs(me.sin_port);
  return fd;
}

// A socket made and connected with libc, as a client library would, driven
// through cio_wait_writable/readable: connect completes, the request goes
// out, the answer comes back (from an echo server on the same loop).
static int libc_socket_main(void *arg) {
  (void)arg;
  char port[8];
  cio_server *srv = start_echo(port, sizeof port);
  int local, fd = connect_loopback(atoi(port), &local);
  ASSERT_EQ(send(fd, "hello", 5, 0), 5);
  char buf[8];
  size_t got = 0;
  while (got < 5) {
    ASSERT_EQ(cio_wait_readable(fd, 5), 0);
    ssize_t n = recv(fd, buf + got, sizeof buf - got, MSG_DONTWAIT);
    ASSERT(n > 0 || (n < 0 && errno == EAGAIN));
    if (n > 0) got += (size_t)n;
  }
  ASSERT(memcmp(buf, "hello", 5) == 0);
  ASSERT_EQ(close(fd), 0);
  ASSERT_EQ(cio_server_close(srv, 1), 0);
  return 0;
}
static void wait_on_a_socket_made_with_libc(void) { ASSERT_EQ(cio_run(libc_socket_main, NULL), 0); }

// ---------------------------------------------------------------- cooperative budget

// The chat server's fast sender: its lines are all buffered already, so
// readline never has to suspend; the budget still makes the reader yield
// every 128 calls, and a task beside it (a writer, here a counter) runs
// while the 8,000 lines are read, not after.
struct chat {
  int ticks;        // the other task's turns
  int ticks_at_end; // its turns by the time the last line was read
};
static int ticker(void *arg) {
  for (;;) {
    if (cio_yield() < 0) return 0;
    ((struct chat *)arg)->ticks++;
  }
}
static int chat_main(void *arg) {
  struct chat *c = arg;
  enum { LINES = 8000 };
  static char lines[LINES * 8];
  for (int i = 0; i < LINES; i++) memcpy(lines + i * 8, "message\n", 8);
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  int sz = 1 << 20;
  ASSERT_EQ(setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz), 0);
  ASSERT_EQ(write(fds[1], lines, sizeof lines), (ssize_t)sizeof lines); // all there at once
  close(fds[1]);
  cio_stream *st = cio_stream_new(cio_sock_wrap(fds[0]), sizeof lines);
  ASSERT(st);
  cio_task *t = cio_spawn(ticker, c);
  ASSERT_EQ(cio_yield(), 0);
  int before = c->ticks, n = 0;
  char buf[64];
  ssize_t r;
  while ((r = cio_stream_readline(st, buf, sizeof buf)) > 0) n++;
  ASSERT_EQ(r, 0);
  ASSERT_EQ(n, LINES);
  c->ticks_at_end = c->ticks - before;
  ASSERT_EQ(cio_stream_close(st), 0);
  ASSERT_EQ(cio_cancel(t), 1);
  ASSERT_EQ(cio_join(t), 0);
  return 0;
}
static void buffered_reads_still_let_others_run(void) {
  struct chat c = {0};
  ASSERT_EQ(cio_run(chat_main, &c), 0);
  printf("    the other task ran %d times during 8,000 buffered lines\n", c.ticks_at_end);
  ASSERT(c.ticks_at_end >= 8000 / 128 / 2); // (a budget of 128)
}

// ---------------------------------------------------------------- accepted connections

// A connection accepted from cio's listener has TCP_NODELAY (set once on the
// listener, which Linux copies to each connection), and a server names the
// task of each connection after its peer, from accept's own address.
static char conn_task_name[64];

static int namer(cio_stream *conn, void *arg) {
  (void)conn, (void)arg;
  snprintf(conn_task_name, sizeof conn_task_name, "%s", cio_task_name(cio_current()));
  return 0;
}

static int accepted_main(void *arg) {
  (void)arg;
  cio_sock *l, *s;
  ASSERT_EQ(cio_tcp_listen(&l, "127.0.0.1", "0", 0, 0), 0);
  int local, fd = connect_loopback(cio_sock_port(l), &local);
  ASSERT_EQ(cio_sock_accept(l, &s), 0);
  int on = 0;
  socklen_t len = sizeof on;
  ASSERT_EQ(getsockopt(cio_sock_fd(s), IPPROTO_TCP, TCP_NODELAY, &on, &len), 0);
  ASSERT_EQ(on, 1);
  ASSERT_EQ(cio_sock_close(s), 0);
  ASSERT_EQ(cio_sock_close(l), 0);
  close(fd);

  cio_server *srv;
  ASSERT_EQ(cio_server_start(&srv, "127.0.0.1", "0", namer, NULL, NULL), 0);
  fd = connect_loopback(cio_server_port(srv), &local);
  for (int i = 0; i < 5000 && !conn_task_name[0]; i++) ASSERT_EQ(cio_sleep(0.001), 0);
  char want[64];
  snprintf(want, sizeof want, "conn 127.0.0.1:%d", local);
  ASSERT(strcmp(conn_task_name, want) == 0);
  close(fd);
  ASSERT_EQ(cio_server_close(srv, 1), 0);
  return 0;
}
static void accepted_connections_have_nodelay_and_their_peer_as_name(void) {
  ASSERT_EQ(cio_run(accepted_main, NULL), 0);
}

static const test_case cases[] = {
    {"buffered_reads_still_let_others_run", buffered_reads_still_let_others_run, 0},
    {"thousand_concurrent_connections", thousand_concurrent_connections, 60},
    {"short_reads_and_writes_are_byte_exact", short_reads_and_writes_are_byte_exact, 60},
    {"refused_reset_and_bad_input", refused_reset_and_bad_input, 0},
    {"dns_failures_have_their_own_codes", dns_failures_have_their_own_codes, 60},
    {"connect_and_read_timeouts", connect_and_read_timeouts, 0},
    {"stream_readline_readuntil_readexactly", stream_readline_readuntil_readexactly, 0},
    {"accept_survives_emfile", accept_survives_emfile, 0},
    {"unix_udp_and_ipv6", unix_udp_and_ipv6, 0},
    {"close_wakes_blocked_reader", close_wakes_blocked_reader, 0},
    {"stream_reads_under_timeouts_lose_nothing", stream_reads_under_timeouts_lose_nothing, 60},
    {"drain_interrupted_by_timeout_sends_each_byte_once",
     drain_interrupted_by_timeout_sends_each_byte_once, 0},
    {"drain_interrupted_by_cancel_sends_each_byte_once",
     drain_interrupted_by_cancel_sends_each_byte_once, 0},
    {"sock_write_all_reports_what_was_sent", sock_write_all_reports_what_was_sent, 0},
    {"stream_write_during_a_drain_keeps_order", stream_write_during_a_drain_keeps_order, 0},
    {"stream_closed_while_read_and_drained", stream_closed_while_read_and_drained, 0},
    {"socket_and_stream_closed_twice_return_einval", socket_and_stream_closed_twice_return_einval,
     0},
    {"file_calls_cancelled_on_the_pool_report_what_they_did",
     file_calls_cancelled_on_the_pool_report_what_they_did, 0},
    {"wait_readable_writable_on_foreign_descriptors", wait_readable_writable_on_foreign_descriptors,
     0},
    {"wait_on_a_socket_made_with_libc", wait_on_a_socket_made_with_libc, 0},
    {"accepted_connections_have_nodelay_and_their_peer_as_name",
     accepted_connections_have_nodelay_and_their_peer_as_name, 0},
};
TEST_MAIN(cases)
