// SPDX-License-Identifier: MIT
//
// TLS streams (<cio/tls.h>): cio against cio, against `openssl s_server`
// and `s_client`, Python's ssl as a client; verification failures named;
// handshakes that stall timed out; interrupted drains resumed.  The
// certificates are made at test time with the openssl command in a temp
// directory: a CA, a server certificate for localhost and 127.0.0.1, an
// expired one, one for another host.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cio.h"
#include "helpers/test.h"
#include "io/stream.h" // cio__stream_abort: an end without close_notify

#ifdef CIO_HAVE_OPENSSL
#include "cio/http.h"
#include "cio/tls.h"

static char dir[64]; // the certificates: ca.pem, srv.pem, exp.pem, other.pem, srv.key
static char path_buf[8][128];
static int path_next;

static const char *path(const char *name) {
  char *p = path_buf[path_next++ % 8];
  snprintf(p, 128, "%s/%s", dir, name);
  return p;
}

// Skips the case for want of a peer program, or fails it where CI asks
// for every peer (CIO_REQUIRE_CLIENTS=1).
static void missing_peer(const char *why) {
  const char *req = getenv("CIO_REQUIRE_CLIENTS");
  if (req && strcmp(req, "1") == 0) test_fail(__FILE__, __LINE__, "%s", why);
  test_skip(why);
}

// Makes the certificates, or skips the case without the openssl command.
static void make_certs(void) {
  // CIO_TEST_TLS_DIR names a directory to keep them in: the EINTR storm
  // makes them there first, outside strace (the openssl command does not
  // retry an interrupted read), and the storm's cases find them made.
  const char *keep = getenv("CIO_TEST_TLS_DIR");
  if (keep && strlen(keep) < sizeof dir) {
    snprintf(dir, sizeof dir, "%s", keep);
    if (access(path("ca.pem"), R_OK) == 0 && access(path("other.pem"), R_OK) == 0) return;
  }
  if (system("command -v openssl >/dev/null 2>&1") != 0)
    missing_peer("needs the openssl command (apt-get install openssl)");
  if (!keep) test_tmpdir(dir, sizeof dir, "tls_");
  char cmd[2048];
  snprintf(cmd, sizeof cmd,
           "cd %s && K='-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes' && "
           "openssl req -x509 $K -keyout ca.key -out ca.pem -days 30 -subj /CN=cio-test-ca && "
           "openssl req $K -keyout srv.key -out srv.csr -subj /CN=localhost && "
           "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' >ext && "
           "printf 'subjectAltName=DNS:other.example\\n' >ext2 && "
           "S='-req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial' && "
           "openssl x509 $S -out srv.pem -days 30 -extfile ext && "
           "openssl x509 $S -out exp.pem -days -1 -extfile ext && "
           "openssl x509 $S -out other.pem -days 30 -extfile ext2",
           dir);
  char quiet[2100];
  snprintf(quiet, sizeof quiet, "( %s ) >/dev/null 2>&1", cmd);
  ASSERT_EQ(system(quiet), 0);
}

static cio_tls_ctx *server_ctx(const char *cert) {
  cio_tls_ctx *c;
  int rc = cio_tls_server_ctx_new(&c, path(cert), path("srv.key"));
  if (rc < 0) fprintf(stderr, "server ctx: %s: %s\n", cio_strerror(rc), cio_tls_last_error());
  ASSERT_EQ(rc, 0);
  return c;
}

static cio_tls_ctx *client_ctx(bool our_ca) {
  cio_tls_ctx *c;
  ASSERT_EQ(cio_tls_client_ctx_new(&c, our_ca ? path("ca.pem") : NULL), 0);
  return c;
}

static cio_sock *listen_any(char port[8]) {
  cio_sock *l;
  ASSERT_EQ(cio_tcp_listen(&l, "127.0.0.1", "0", 16, 0), 0);
  snprintf(port, 8, "%d", cio_sock_port(l));
  return l;
}

// ---------------------------------------------------------------- cio <-> cio

#define BIG ((size_t)1 << 20)
#define PATTERN(i) ((unsigned char)((i)*131 + ((i) >> 16)))

struct server {
  cio_sock *l;
  cio_tls_ctx *ctx;
  int rc; // the accept's result
  size_t got;
  size_t first_bad;
  double delay; // before reading
  bool ktls;    // the kernel encrypts what the server sends
};

static void check_pattern(struct server *s, const unsigned char *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (b[i] != PATTERN(s->got + i) && s->first_bad == SIZE_MAX) s->first_bad = s->got + i;
  s->got += n;
}

// Answers a line, then takes BIG bytes and sends them back.
static int echo_server(void *arg) {
  struct server *s = arg;
  cio_sock *c;
  ASSERT_EQ(cio_sock_accept(s->l, &c), 0);
  cio_stream *st;
  s->rc = cio_tls_accept(&st, s->ctx, c);
  if (s->rc < 0) return 0;
  s->ktls = cio_tls_ktls_send(st);
  char line[64];
  ASSERT_EQ(cio_stream_readuntil(st, "lo", 2, line, sizeof line), 5);
  ASSERT_EQ(cio_stream_readline(st, line, sizeof line), 1);
  ASSERT_EQ(cio_stream_write(st, "world\n", 6), 0);
  ASSERT_EQ(cio_stream_drain(st), 0);
  unsigned char *b = malloc(BIG);
  ASSERT_EQ(cio_stream_readexactly(st, b, BIG, NULL), 0);
  check_pattern(s, b, BIG);
  ASSERT_EQ(cio_stream_write(st, b, BIG), 0);
  ASSERT_EQ(cio_stream_drain(st), 0);
  free(b);
  ASSERT_EQ(cio_stream_close(st), 0);
  return 0;
}

// Kernel TLS asked for on each side, and what each side got.
struct exchange {
  bool server_ktls, client_ktls; // asked
  bool server_got, client_got;   // got
};

static int loopback_main(void *arg) {
  struct exchange *x = arg;
  char port[8];
  struct server s = {.first_bad = SIZE_MAX};
  s.l = listen_any(port);
  s.ctx = server_ctx("srv.pem");
  ASSERT_EQ(cio_tls_ctx_set_ktls(s.ctx, x->server_ktls), 0);
  cio_task *t = cio_spawn(echo_server, &s);
  cio_tls_ctx *cc = client_ctx(true);
  ASSERT_EQ(cio_tls_ctx_set_ktls(cc, x->client_ktls), 0);
  cio_stream *st;
  int rc = cio_tls_connect(&st, cc, "127.0.0.1", port);
  if (rc < 0) fprintf(stderr, "connect: %s: %s\n", cio_strerror(rc), cio_tls_last_error());
  ASSERT_EQ(rc, 0);
  x->client_got = cio_tls_ktls_send(st);
  ASSERT_EQ(cio_stream_write(st, "hello\n", 6), 0);
  ASSERT_EQ(cio_stream_drain(st), 0);
  char line[64];
  ASSERT_EQ(cio_stream_readline(st, line, sizeof line), 6);
  ASSERT(memcmp(line, "world\n", 6) == 0);
  unsigned char *b = malloc(BIG);
  for (size_t i = 0; i < BIG; i++) b[i] = PATTERN(i);
  ASSERT_EQ(cio_stream_write(st, b, BIG), 0);
  ASSERT_EQ(cio_stream_drain(st), 0);
  memset(b, 0, BIG);
  ASSERT_EQ(cio_stream_readexactly(st, b, BIG, NULL), 0);
  for (size_t i = 0; i < BIG; i++) ASSERT_EQ(b[i], PATTERN(i));
  char end[4];
  ASSERT_EQ(cio_stream_read(st, end, sizeof end), 0); // the server's close_notify
  ASSERT_EQ(cio_stream_close(st), 0);
  ASSERT_EQ(cio_join(t), 0);
  ASSERT_EQ(s.rc, 0);
  ASSERT_EQ(s.got, BIG);
  ASSERT_EQ(s.first_bad, SIZE_MAX);
  x->server_got = s.ktls;
  free(b);
  cio_tls_ctx_free(cc);
  cio_tls_ctx_free(s.ctx);
  ASSERT_EQ(cio_sock_close(s.l), 0);
  return 0;
}

static void cio_client_and_server_exchange_lines_and_a_mebibyte(void) {
  make_certs();
  struct exchange x = {0};
  ASSERT_EQ(cio_run(loopback_main, &x), 0);
}

// Whether the kernel offers TLS (the ULP loads on a connected socket).
static bool kernel_offers_tls(void) {
  int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0),
      c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  ASSERT(l >= 0 && c >= 0);
  ASSERT_EQ(bind(l, (struct sockaddr *)&a, sizeof a), 0);
  ASSERT_EQ(listen(l, 1), 0);
  ASSERT_EQ(getsockname(l, (struct sockaddr *)&a, &len), 0);
  int r;
  while ((r = connect(c, (struct sockaddr *)&a, sizeof a)) < 0 && errno == EINTR) {
  }
  ASSERT(r == 0 || errno == EISCONN);
  bool offered = setsockopt(c, SOL_TCP, TCP_ULP, "tls", sizeof "tls") == 0;
  close(c);
  close(l);
  return offered;
}

// Kernel TLS: where the kernel offers it, a side that asks for it gets it
// and the other side, kTLS or not, reads every byte, the line exchange, the
// TLS 1.3 tickets and the close_notify (both control records the kernel
// sends with their type).  Where it does not, nobody gets it and nothing
// changes.  CIO_TEST_KTLS=1 (CI's run under a kernel with TLS) requires it.
static void kernel_tls_sends_where_the_kernel_offers_it(void) {
  make_certs();
  bool offered = kernel_offers_tls();
  const char *req = getenv("CIO_TEST_KTLS");
  if (req && strcmp(req, "1") == 0 && !offered)
    test_fail(__FILE__, __LINE__, "CIO_TEST_KTLS=1, but the kernel has no TLS ULP");
  printf("    the kernel %s TLS\n", offered ? "offers" : "does not offer");
  struct exchange rounds[] = {{.server_ktls = true},
                              {.client_ktls = true},
                              {.server_ktls = true, .client_ktls = true},
                              {0}};
  for (size_t i = 0; i < sizeof rounds / sizeof rounds[0]; i++) {
    struct exchange *x = &rounds[i];
    ASSERT_EQ(cio_run(loopback_main, x), 0);
    printf("    asked server %d client %d: got %d %d\n", x->server_ktls, x->client_ktls,
           x->server_got, x->client_got);
    ASSERT_EQ(x->server_got, offered && x->server_ktls);
    ASSERT_EQ(x->client_got, offered && x->client_ktls);
  }
}

// ---------------------------------------------------------------- verification

struct refusal {
  const char *cert; // the server's
  bool our_ca;      // the client trusts the test CA (else the system store)
  const char *host; // the client asks for
  int want;
};

static int refusal_main(void *arg) {
  struct refusal *r = arg;
  char port[8];
  struct server s = {.first_bad = SIZE_MAX};
  s.l = listen_any(port);
  s.ctx = server_ctx(r->cert);
  cio_task *t = cio_spawn(echo_server, &s);
  cio_tls_ctx *cc = client_ctx(r->our_ca);
  cio_stream *st;
  int rc = cio_tls_connect(&st, cc, r->host, port);
  fprintf(stderr, "refused: %s (%s)\n", cio_strerror(rc), cio_tls_last_error());
  ASSERT_EQ(rc, r->want);
  ASSERT(strlen(cio_tls_last_error()) > 0);
  ASSERT_EQ(cio_join(t), 0);
  ASSERT(s.rc < 0); // the server saw the client's alert
  cio_tls_ctx_free(cc);
  cio_tls_ctx_free(s.ctx);
  ASSERT_EQ(cio_sock_close(s.l), 0);
  return 0;
}

static void unknown_ca_is_refused_as_untrusted(void) {
  make_certs();
  struct refusal r = {"srv.pem", false, "127.0.0.1", CIO_TLS_CERT_UNTRUSTED};
  ASSERT_EQ(cio_run(refusal_main, &r), 0);
}

static void expired_certificate_is_refused_as_expired(void) {
  make_certs();
  struct refusal r = {"exp.pem", true, "127.0.0.1", CIO_TLS_CERT_EXPIRED};
  ASSERT_EQ(cio_run(refusal_main, &r), 0);
}

static void certificate_for_another_host_is_refused(void) {
  make_certs();
  struct refusal r = {"other.pem", true, "127.0.0.1", CIO_TLS_CERT_HOSTNAME};
  ASSERT_EQ(cio_run(refusal_main, &r), 0);
}

static void tls_codes_are_named(void) {
  ASSERT(strstr(cio_strerror(CIO_TLS_CERT_EXPIRED), "expired") != NULL);
  ASSERT(strstr(cio_strerror(CIO_TLS_CERT_UNTRUSTED), "not trusted") != NULL);
  ASSERT(strstr(cio_strerror(CIO_TLS_CERT_HOSTNAME), "another host") != NULL);
  ASSERT(strstr(cio_strerror(CIO_TLS_HANDSHAKE), "handshake") != NULL);
  ASSERT(strcmp(cio_strerror(CIO_TLS_LAST), "TLS error") == 0);
}

// ---------------------------------------------------------------- stalls

// A peer that connects and says nothing: the server's handshake times out
// under a timeout scope, and the connection is closed.
static int stalled_client_main(void *arg) {
  (void)arg;
  char port[8];
  cio_sock *l = listen_any(port);
  cio_tls_ctx *sc = server_ctx("srv.pem");
  cio_sock *mute;
  ASSERT_EQ(cio_tcp_connect(&mute, "127.0.0.1", port), 0);
  cio_sock *c;
  ASSERT_EQ(cio_sock_accept(l, &c), 0);
  cio_scope scope;
  ASSERT_EQ(cio_timeout_begin(&scope, 0.2), 0);
  cio_stream *st;
  ASSERT_EQ(cio_tls_accept(&st, sc, c), -ETIMEDOUT);
  ASSERT_EQ(cio_scope_end(&scope), -ETIMEDOUT);
  char b[4];
  ASSERT_EQ(cio_sock_read(mute, b, sizeof b), 0); // the server closed it
  ASSERT_EQ(cio_sock_close(mute), 0);
  cio_tls_ctx_free(sc);
  ASSERT_EQ(cio_sock_close(l), 0);
  return 0;
}

static void server_handshake_with_a_mute_peer_times_out(void) {
  make_certs();
  ASSERT_EQ(cio_run(stalled_client_main, NULL), 0);
}

// A server that accepts and answers nothing: the client's handshake times out.
static int stalled_server_main(void *arg) {
  (void)arg;
  char port[8];
  cio_sock *l = listen_any(port);
  cio_tls_ctx *cc = client_ctx(true);
  cio_scope scope;
  ASSERT_EQ(cio_timeout_begin(&scope, 0.2), 0);
  cio_stream *st;
  ASSERT_EQ(cio_tls_connect(&st, cc, "127.0.0.1", port), -ETIMEDOUT);
  ASSERT_EQ(cio_scope_end(&scope), -ETIMEDOUT);
  cio_tls_ctx_free(cc);
  ASSERT_EQ(cio_sock_close(l), 0);
  return 0;
}

static void client_handshake_with_a_mute_server_times_out(void) {
  make_certs();
  ASSERT_EQ(cio_run(stalled_server_main, NULL), 0);
}

// ---------------------------------------------------------------- interrupted drains

// As for plain streams (test_net): a drain interrupted part way, then
// resumed, delivers each byte once; here a TLS record may be half written
// when the timeout fires, and the next drain finishes it.
#define DRAIN_LEN ((size_t)8 << 20)

static int late_reader(void *arg) {
  struct server *s = arg;
  cio_sock *c;
  ASSERT_EQ(cio_sock_accept(s->l, &c), 0);
  cio_stream *st;
  s->rc = cio_tls_accept(&st, s->ctx, c);
  ASSERT_EQ(s->rc, 0);
  ASSERT_EQ(cio_sleep(s->delay), 0);
  static unsigned char b[65536];
  for (;;) {
    ssize_t r = cio_stream_read(st, b, sizeof b);
    if (r < 0) fprintf(stderr, "read: %s: %s\n", cio_strerror((int)r), cio_tls_error_string(st));
    ASSERT(r >= 0);
    if (r == 0) break;
    check_pattern(s, b, (size_t)r);
  }
  ASSERT_EQ(cio_stream_close(st), 0);
  return 0;
}

static int cancelled_drainer(void *arg) { return cio_stream_drain((cio_stream *)arg); }

static int interrupted_drain_main(void *arg) {
  bool cancel = *(bool *)arg;
  char port[8];
  struct server s = {.first_bad = SIZE_MAX, .delay = 0.3};
  s.l = listen_any(port);
  s.ctx = server_ctx("srv.pem");
  cio_task *t = cio_spawn(late_reader, &s);
  cio_tls_ctx *cc = client_ctx(true);
  cio_stream *st;
  ASSERT_EQ(cio_tls_connect(&st, cc, "127.0.0.1", port), 0);
  unsigned char *data = malloc(DRAIN_LEN);
  for (size_t i = 0; i < DRAIN_LEN; i++) data[i] = PATTERN(i);
  ASSERT_EQ(cio_stream_write(st, data, DRAIN_LEN), 0);
  if (cancel) { // another task drains and is cancelled part way
    cio_task *d = cio_spawn(cancelled_drainer, st);
    ASSERT_EQ(cio_sleep(0.05), 0);
    ASSERT_EQ(cio_cancel(d), 1);
    ASSERT_EQ(cio_join(d), -ECANCELED);
  } else {
    cio_scope scope;
    ASSERT_EQ(cio_timeout_begin(&scope, 0.05), 0);
    ASSERT_EQ(cio_stream_drain(st), -ETIMEDOUT);
    ASSERT_EQ(cio_scope_end(&scope), -ETIMEDOUT);
  }
  ASSERT(s.got == 0); // the peer has not read yet: the drain stopped part way
  ASSERT(cio_stream_queued(st) > 0);
  ASSERT_EQ(cio_stream_drain(st), 0);
  ASSERT_EQ(cio_stream_close(st), 0);
  ASSERT_EQ(cio_join(t), 0);
  ASSERT_EQ(s.first_bad, SIZE_MAX);
  ASSERT_EQ(s.got, DRAIN_LEN);
  free(data);
  cio_tls_ctx_free(cc);
  cio_tls_ctx_free(s.ctx);
  ASSERT_EQ(cio_sock_close(s.l), 0);
  return 0;
}

static void drain_interrupted_by_timeout_sends_each_byte_once(void) {
  make_certs();
  bool cancel = false;
  ASSERT_EQ(cio_run(interrupted_drain_main, &cancel), 0);
}

static void drain_interrupted_by_cancel_sends_each_byte_once(void) {
  make_certs();
  bool cancel = true;
  ASSERT_EQ(cio_run(interrupted_drain_main, &cancel), 0);
}

// ---------------------------------------------------------------- STARTTLS, ALPN, reads

// Both sides speak plain text first, then upgrade: a line each way in TLS,
// ALPN agreed on the way.
static int starttls_server(void *arg) {
  struct server *s = arg;
  cio_sock *c;
  ASSERT_EQ(cio_sock_accept(s->l, &c), 0);
  cio_stream *st = cio_stream_new(c, 0);
  ASSERT(st != NULL);
  char line[64];
  ASSERT_EQ(cio_stream_readline(st, line, sizeof line), 9);
  ASSERT(memcmp(line, "STARTTLS\n", 9) == 0);
  ASSERT_EQ(cio_stream_write(st, "GO\n", 3), 0);
  ASSERT_EQ(cio_stream_drain(st), 0);
  s->rc = cio_tls_upgrade(st, s->ctx, NULL);
  ASSERT_EQ(s->rc, 0);
  ASSERT(cio_tls_alpn(st) != NULL && strcmp(cio_tls_alpn(st), "http/1.1") == 0);
  ASSERT_EQ(cio_stream_readline(st, line, sizeof line), 6);
  ASSERT(memcmp(line, "hello\n", 6) == 0);
  ASSERT_EQ(cio_stream_write(st, "world\n", 6), 0);
  ASSERT_EQ(cio_stream_close(st), 0);
  return 0;
}

static int starttls_main(void *arg) {
  (void)arg;
  char port[8];
  struct server s = {.first_bad = SIZE_MAX};
  s.l = listen_any(port);
  s.ctx = server_ctx("srv.pem");
  const char *srv_protos[] = {"http/1.1"};
  ASSERT_EQ(cio_tls_ctx_set_alpn(s.ctx, srv_protos, 1), 0);
  cio_task *t = cio_spawn(starttls_server, &s);
  cio_tls_ctx *cc = client_ctx(true);
  const char *protos[] = {"h2", "http/1.1"};
  ASSERT_EQ(cio_tls_ctx_set_alpn(cc, protos, 2), 0);
  const char *bad[] = {""};
  ASSERT_EQ(cio_tls_ctx_set_alpn(cc, bad, 1), -EINVAL);
  cio_stream *st;
  ASSERT_EQ(cio_stream_connect(&st, "127.0.0.1", port), 0);
  ASSERT_EQ(cio_stream_write(st, "STARTTLS\n", 9), 0);
  ASSERT_EQ(cio_tls_upgrade(st, cc, "localhost"), -EBUSY); // queued bytes
  ASSERT_EQ(cio_stream_drain(st), 0);
  char line[64];
  ASSERT_EQ(cio_stream_readline(st, line, sizeof line), 3);
  ASSERT_EQ(cio_tls_upgrade(st, cc, "localhost"), 0);
  ASSERT(cio_tls_alpn(st) != NULL && strcmp(cio_tls_alpn(st), "http/1.1") == 0);
  ASSERT_EQ(cio_stream_write(st, "hello\n", 6), 0);
  ASSERT_EQ(cio_stream_drain(st), 0);
  ASSERT_EQ(cio_stream_readline(st, line, sizeof line), 6);
  ASSERT(memcmp(line, "world\n", 6) == 0);
  ASSERT_EQ(cio_stream_close(st), 0);
  ASSERT_EQ(cio_join(t), 0);
  cio_tls_ctx_free(cc);
  cio_tls_ctx_free(s.ctx);
  ASSERT_EQ(cio_sock_close(s.l), 0);
  return 0;
}

static void starttls_upgrade_with_alpn(void) {
  make_certs();
  ASSERT_EQ(cio_run(starttls_main, NULL), 0);
}

// A server that answers a line only after 0.3 s.
static int slow_server(void *arg) {
  struct server *s = arg;
  cio_sock *c;
  ASSERT_EQ(cio_sock_accept(s->l, &c), 0);
  cio_stream *st;
  s->rc = cio_tls_accept(&st, s->ctx, c);
  ASSERT_EQ(s->rc, 0);
  ASSERT_EQ(cio_sleep(s->delay), 0);
  ASSERT_EQ(cio_stream_write(st, "late line\n", 10), 0);
  ASSERT_EQ(cio_stream_close(st), 0);
  return 0;
}

// A read that times out, and one that is cancelled, leave the stream
// usable: the next read gets the line whole.
static int reader_task(void *arg) {
  char line[64];
  return (int)cio_stream_readline((cio_stream *)arg, line, sizeof line);
}

static int read_interrupted_main(void *arg) {
  (void)arg;
  char port[8];
  struct server s = {.first_bad = SIZE_MAX, .delay = 0.3};
  s.l = listen_any(port);
  s.ctx = server_ctx("srv.pem");
  cio_task *t = cio_spawn(slow_server, &s);
  cio_tls_ctx *cc = client_ctx(true);
  cio_stream *st;
  ASSERT_EQ(cio_tls_connect(&st, cc, "localhost", port), 0);
  char line[64];
  cio_scope scope;
  ASSERT_EQ(cio_timeout_begin(&scope, 0.05), 0);
  ASSERT_EQ(cio_stream_readline(st, line, sizeof line), -ETIMEDOUT);
  ASSERT_EQ(cio_scope_end(&scope), -ETIMEDOUT);
  cio_task *r = cio_spawn(reader_task, st);
  ASSERT_EQ(cio_sleep(0.05), 0);
  ASSERT_EQ(cio_cancel(r), 1);
  ASSERT_EQ(cio_join(r), -ECANCELED);
  ASSERT_EQ(cio_stream_readline(st, line, sizeof line), 10);
  ASSERT(memcmp(line, "late line\n", 10) == 0);
  ASSERT_EQ(cio_stream_read(st, line, sizeof line), 0);
  ASSERT_EQ(cio_stream_close(st), 0);
  ASSERT_EQ(cio_join(t), 0);
  cio_tls_ctx_free(cc);
  cio_tls_ctx_free(s.ctx);
  ASSERT_EQ(cio_sock_close(s.l), 0);
  return 0;
}

static void reads_interrupted_leave_the_stream_usable(void) {
  make_certs();
  ASSERT_EQ(cio_run(read_interrupted_main, NULL), 0);
}

// A client handshake cancelled while the server is mute: -ECANCELED.
static int handshaker(void *arg) {
  cio_stream *st;
  char **a = arg;
  cio_tls_ctx *cc = client_ctx(true);
  int rc = cio_tls_connect(&st, cc, "127.0.0.1", a[0]);
  cio_tls_ctx_free(cc);
  return rc;
}

static int cancelled_handshake_main(void *arg) {
  (void)arg;
  char port[8];
  cio_sock *l = listen_any(port);
  char *a[] = {port};
  cio_task *t = cio_spawn(handshaker, a);
  ASSERT_EQ(cio_sleep(0.1), 0);
  ASSERT_EQ(cio_cancel(t), 1);
  ASSERT_EQ(cio_join(t), -ECANCELED);
  ASSERT_EQ(cio_sock_close(l), 0);
  return 0;
}

static void cancelled_handshake_returns_ecanceled(void) {
  make_certs();
  ASSERT_EQ(cio_run(cancelled_handshake_main, NULL), 0);
}

// Contexts: from PEM text in memory as from files; unreadable files and a
// key that does not match are refused with CIO_TLS_CERT_INVALID.
// (read(2) with its EINTR retried: stdio's fread stops short at one, which
// the EINTR storm makes happen.)
static char *slurp(const char *name, size_t *len) {
  int fd = open(path(name), O_RDONLY | O_CLOEXEC);
  ASSERT(fd >= 0);
  static char bufs[2][8192];
  static int next;
  char *b = bufs[next++ % 2];
  size_t got = 0;
  for (;;) {
    ssize_t r = read(fd, b + got, sizeof bufs[0] - got);
    if (r < 0 && errno == EINTR) continue;
    ASSERT(r >= 0);
    if (r == 0) break;
    got += (size_t)r;
  }
  close(fd);
  *len = got;
  return b;
}

static int mem_ctx_main(void *arg) {
  (void)arg;
  char port[8];
  struct server s = {.first_bad = SIZE_MAX};
  s.l = listen_any(port);
  size_t cl, kl;
  const char *cert = slurp("srv.pem", &cl), *key = slurp("srv.key", &kl);
  ASSERT_EQ(cio_tls_server_ctx_new_mem(&s.ctx, cert, cl, key, kl), 0);
  cio_task *t = cio_spawn(slow_server, &s);
  cio_tls_ctx *cc = client_ctx(true);
  cio_stream *st;
  ASSERT_EQ(cio_tls_connect(&st, cc, "localhost", port), 0);
  char line[64];
  ASSERT_EQ(cio_stream_readline(st, line, sizeof line), 10);
  ASSERT_EQ(cio_stream_close(st), 0);
  ASSERT_EQ(cio_join(t), 0);
  cio_tls_ctx_free(cc);
  cio_tls_ctx_free(s.ctx);
  ASSERT_EQ(cio_sock_close(s.l), 0);
  return 0;
}

static void contexts_from_memory_and_bad_files(void) {
  make_certs();
  cio_tls_ctx *c;
  ASSERT_EQ(cio_tls_server_ctx_new(&c, path("nope.pem"), path("srv.key")), CIO_TLS_CERT_INVALID);
  ASSERT_STR_CONTAINS(cio_tls_last_error(), "No such file or directory");
  ASSERT_EQ(cio_tls_server_ctx_new(&c, path("srv.pem"), path("ca.key")), CIO_TLS_CERT_INVALID);
  ASSERT_EQ(cio_tls_client_ctx_new(&c, path("nope.pem")), CIO_TLS_CERT_INVALID);
  ASSERT_EQ(cio_tls_client_ctx_new(&c, path("srv.key")), CIO_TLS_CERT_INVALID); // no certificate
  ASSERT_EQ(cio_tls_client_ctx_new(&c, "/tmp"), CIO_TLS_CERT_INVALID);          // a directory
  ASSERT_EQ(cio_tls_server_ctx_new_mem(&c, "junk", 4, "junk", 4), CIO_TLS_CERT_INVALID);
  ASSERT_EQ(cio_tls_server_ctx_new(NULL, "a", "b"), -EINVAL);
  ASSERT_EQ(cio_run(mem_ctx_main, NULL), 0);
}

// ---------------------------------------------------------------- resets

// 1,000 peers that reset the connection during the handshake: half send
// a record header and reset; half are cio clients whose handshake a
// timeout cuts at points from 0 to 1.4 ms in (before the ClientHello, with
// the server's flight unread, which makes the close a reset, or just
// after the end, when the client resets at once).  Every accept ends,
// nothing is left behind (the runner checks descriptors; ASan builds check
// memory).
#define RESETS 1000

struct resets {
  cio_sock *l;
  cio_tls_ctx *ctx, *cc;
  int accepted;       // connections the server accepted
  int failed, served; // their handshakes
  int cut;            // the clients' handshakes that the timeout cut
  char port[8];
};

static int reset_handler(void *arg) {
  void **a = arg;
  struct resets *r = a[0];
  cio_stream *st;
  int rc = cio_tls_accept(&st, r->ctx, a[1]);
  free(a);
  if (rc < 0) {
    r->failed++;
    return 0;
  }
  r->served++;
  int closed = cio_stream_close(st); // the peer may be gone
  ASSERT(closed == 0 || closed == -EPIPE || closed == -ECONNRESET);
  return 0;
}

// Accepts until cancelled (a client cut before its connect made none).
static int reset_acceptor(void *arg) {
  struct resets *r = arg;
  static cio_task *handlers[RESETS];
  int n = 0;
  for (; n < RESETS; n++) {
    cio_sock *s;
    int rc = cio_sock_accept(r->l, &s);
    if (rc == -ECANCELED) break;
    ASSERT_EQ(rc, 0);
    void **a = malloc(2 * sizeof *a);
    ASSERT(a);
    a[0] = r;
    a[1] = s;
    handlers[n] = cio_spawn(reset_handler, a);
    ASSERT(handlers[n]);
    r->accepted++;
  }
  for (int i = 0; i < n; i++) ASSERT_EQ(cio_join(handlers[i]), 0);
  return 0;
}

static void reset_now(cio_sock *c) {
  struct linger lg = {1, 0};
  ASSERT_EQ(setsockopt(cio_sock_fd(c), SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
}

static int cut_client(void *arg) {
  struct resets *r = arg;
  static int n;
  cio_scope scope;
  ASSERT_EQ(cio_timeout_begin(&scope, (double)(n++ % 8) * 0.0002), 0);
  cio_stream *st;
  int rc = cio_tls_connect(&st, r->cc, "127.0.0.1", r->port); // no resolver: EINTR storm
  (void)cio_scope_end(&scope);
  if (rc < 0) {
    if (rc != -ETIMEDOUT && rc != -ECONNRESET)
      fprintf(stderr, "cut client: %s (%s)\n", cio_strerror(rc), cio_tls_last_error());
    ASSERT(rc == -ETIMEDOUT || rc == -ECONNRESET);
    r->cut++;
    return 0;
  }
  reset_now(cio_stream_sock(st));
  cio__stream_abort(st);
  return 0;
}

static int resets_main(void *arg) {
  (void)arg;
  struct resets r = {.ctx = server_ctx("srv.pem"), .cc = client_ctx(true)};
  r.l = listen_any(r.port);
  cio_task *acceptor = cio_spawn(reset_acceptor, &r);
  for (int i = 0; i < RESETS; i++) {
    if (i % 2) {
      ASSERT_EQ(cio_join(cio_spawn(cut_client, &r)), 0);
      continue;
    }
    cio_sock *c;
    ASSERT_EQ(cio_tcp_connect(&c, "127.0.0.1", r.port), 0);
    ASSERT_EQ(cio_sock_write_all(c, "\x16\x03\x01\x02\x00\x01", 6, NULL), 0);
    if (i % 4) ASSERT_EQ(cio_sleep(0.001), 0); // some while the server waits
    reset_now(c);
    ASSERT_EQ(cio_sock_close(c), 0);
  }
  // Every connection made is in the backlog by now: once the acceptor has
  // gone 0.1 s without a new one, it is stopped.
  for (int seen = -1; seen != r.accepted;) {
    seen = r.accepted;
    ASSERT_EQ(cio_sleep(0.1), 0);
  }
  ASSERT(cio_cancel(acceptor) >= 0); // (0: it had accepted all of them)
  ASSERT_EQ(cio_join(acceptor), 0);
  printf("  %d connections: %d handshakes failed, %d ended before the reset; %d clients cut\n",
         r.accepted, r.failed, r.served, r.cut);
  ASSERT_EQ(r.failed + r.served, r.accepted);
  ASSERT(r.accepted >= RESETS / 2 && r.failed >= RESETS / 2);
  ASSERT(r.cut > 0);
  cio_tls_ctx_free(r.ctx);
  cio_tls_ctx_free(r.cc);
  ASSERT_EQ(cio_sock_close(r.l), 0);
  return 0;
}

static void handshakes_reset_by_peers_leave_nothing_behind(void) {
  make_certs();
  ASSERT_EQ(cio_run(resets_main, NULL), 0);
}

// A peer that resets the connection: the server's writes fail with
// -EPIPE or -ECONNRESET (OpenSSL's own socket BIO used write(2), whose
// SIGPIPE killed the process).
static int resetting_client(void *arg) {
  cio_tls_ctx *cc = client_ctx(true);
  cio_stream *st;
  ASSERT_EQ(cio_tls_connect(&st, cc, "127.0.0.1", (const char *)arg), 0);
  struct linger lg = {1, 0};
  ASSERT_EQ(setsockopt(cio_sock_fd(cio_stream_sock(st)), SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
  ASSERT_EQ(cio_stream_close(st), 0); // close_notify, then a reset
  cio_tls_ctx_free(cc);
  return 0;
}

static int reset_after_handshake_main(void *arg) {
  (void)arg;
  char port[8];
  cio_sock *l = listen_any(port);
  cio_tls_ctx *sc = server_ctx("srv.pem");
  cio_task *t = cio_spawn(resetting_client, port);
  cio_sock *c;
  ASSERT_EQ(cio_sock_accept(l, &c), 0);
  cio_stream *st;
  ASSERT_EQ(cio_tls_accept(&st, sc, c), 0);
  ASSERT_EQ(cio_join(t), 0);
  ASSERT_EQ(cio_sleep(0.05), 0);
  static char junk[65536];
  int rc = 0;
  for (int i = 0; i < 100 && rc == 0; i++) {
    rc = cio_stream_write(st, junk, sizeof junk);
    if (rc == 0) rc = cio_stream_drain(st);
  }
  ASSERT(rc == -EPIPE || rc == -ECONNRESET);
  ASSERT_EQ(cio_stream_close(st), rc);
  cio_tls_ctx_free(sc);
  ASSERT_EQ(cio_sock_close(l), 0);
  return 0;
}

static void writes_to_a_reset_peer_fail_without_sigpipe(void) {
  make_certs();
  ASSERT_EQ(cio_run(reset_after_handshake_main, NULL), 0);
}

// A TLS server on cio_server_start: each handler upgrades its fresh
// connection, and the server's close of it sends close_notify.
static int tls_handler(cio_stream *conn, void *arg) {
  int rc = cio_tls_upgrade(conn, arg, NULL);
  if (rc < 0) return rc;
  char line[64];
  ssize_t n = cio_stream_readline(conn, line, sizeof line);
  if (n < 0) return (int)n;
  rc = cio_stream_write(conn, "world\n", 6);
  return rc < 0 ? rc : cio_stream_drain(conn);
}

static int server_start_main(void *arg) {
  (void)arg;
  cio_tls_ctx *sc = server_ctx("srv.pem"), *cc = client_ctx(true);
  cio_server *srv;
  ASSERT_EQ(cio_server_start(&srv, "127.0.0.1", "0", tls_handler, sc, NULL), 0);
  char port[8];
  snprintf(port, sizeof port, "%d", cio_server_port(srv));
  for (int i = 0; i < 3; i++) {
    cio_stream *st;
    ASSERT_EQ(cio_tls_connect(&st, cc, "localhost", port), 0);
    ASSERT_EQ(cio_stream_write(st, "hello\n", 6), 0);
    ASSERT_EQ(cio_stream_drain(st), 0);
    char line[64];
    ASSERT_EQ(cio_stream_readline(st, line, sizeof line), 6);
    ASSERT(memcmp(line, "world\n", 6) == 0);
    ASSERT_EQ(cio_stream_read(st, line, sizeof line), 0); // close_notify, not a bare end
    ASSERT_EQ(cio_stream_close(st), 0);
  }
  ASSERT_EQ(cio_server_close(srv, 1.0), 0);
  cio_tls_ctx_free(sc);
  cio_tls_ctx_free(cc);
  return 0;
}

static void tls_server_on_cio_server_start(void) {
  make_certs();
  ASSERT_EQ(cio_run(server_start_main, NULL), 0);
}

// A peer that ends the connection without close_notify (a truncation an
// attacker could make): the read fails with CIO_TLS_PROTOCOL, not a plain
// end of stream.
static int truncating_server(void *arg) {
  struct server *s = arg;
  cio_sock *c;
  ASSERT_EQ(cio_sock_accept(s->l, &c), 0);
  cio_stream *st;
  s->rc = cio_tls_accept(&st, s->ctx, c);
  ASSERT_EQ(s->rc, 0);
  ASSERT_EQ(cio_stream_write(st, "partial\n", 8), 0);
  ASSERT_EQ(cio_stream_drain(st), 0);
  ASSERT_EQ(shutdown(cio_sock_fd(cio_stream_sock(st)), SHUT_RDWR), 0); // no close_notify
  ASSERT_EQ(cio_sleep(0.1), 0);
  cio__stream_abort(st);
  return 0;
}

static int truncation_main(void *arg) {
  (void)arg;
  char port[8];
  struct server s = {.first_bad = SIZE_MAX};
  s.l = listen_any(port);
  s.ctx = server_ctx("srv.pem");
  cio_task *t = cio_spawn(truncating_server, &s);
  cio_tls_ctx *cc = client_ctx(true);
  cio_stream *st;
  ASSERT_EQ(cio_tls_connect(&st, cc, "localhost", port), 0);
  char line[64];
  ASSERT_EQ(cio_stream_readline(st, line, sizeof line), 8);
  ssize_t r = cio_stream_read(st, line, sizeof line);
  fprintf(stderr, "truncated: %s (%s)\n", cio_strerror((int)r), cio_tls_error_string(st));
  ASSERT_EQ(r, CIO_TLS_PROTOCOL);
  ASSERT_EQ(cio_stream_close(st), 0);
  ASSERT_EQ(cio_join(t), 0);
  cio_tls_ctx_free(cc);
  cio_tls_ctx_free(s.ctx);
  ASSERT_EQ(cio_sock_close(s.l), 0);
  return 0;
}

static void end_without_close_notify_is_a_protocol_error(void) {
  make_certs();
  ASSERT_EQ(cio_run(truncation_main, NULL), 0);
}

// A stream ended with bytes it could not send (a server closing its
// connections aborts them; a close whose drain timed out) sends no
// close_notify: the peer reads what went out, then a truncation
// (CIO_TLS_PROTOCOL), never a clean end that would pass part of the data
// off as all of it.  Both ways: a close whose drain timed out on a full
// socket, and an abort with a line queued while the socket has room.
static int short_closer(void *arg) {
  struct server *s = arg;
  cio_sock *c;
  ASSERT_EQ(cio_sock_accept(s->l, &c), 0);
  cio_stream *st;
  s->rc = cio_tls_accept(&st, s->ctx, c);
  ASSERT_EQ(s->rc, 0);
  if (s->delay > 0) { // the reader waits: bytes are left when the close's time is up
    unsigned char *data = malloc(DRAIN_LEN);
    ASSERT(data);
    for (size_t i = 0; i < DRAIN_LEN; i++) data[i] = PATTERN(i);
    ASSERT_EQ(cio_stream_write(st, data, DRAIN_LEN), 0);
    free(data);
    cio_scope scope;
    ASSERT_EQ(cio_timeout_begin(&scope, 0.05), 0);
    ASSERT_EQ(cio_stream_close(st), -ETIMEDOUT);
    ASSERT_EQ(cio_scope_end(&scope), -ETIMEDOUT);
    return 0;
  }
  unsigned char first[100];
  for (size_t i = 0; i < sizeof first; i++) first[i] = PATTERN(i);
  ASSERT_EQ(cio_stream_write(st, first, sizeof first), 0);
  ASSERT_EQ(cio_stream_drain(st), 0);
  ASSERT_EQ(cio_stream_write(st, "never sent\n", 11), 0); // queued only
  cio__stream_abort(st);
  return 0;
}

static int short_close_main(void *arg) {
  char port[8];
  struct server s = {.first_bad = SIZE_MAX, .delay = *(double *)arg};
  s.l = listen_any(port);
  s.ctx = server_ctx("srv.pem");
  cio_task *t = cio_spawn(short_closer, &s);
  cio_tls_ctx *cc = client_ctx(true);
  cio_stream *st;
  ASSERT_EQ(cio_tls_connect(&st, cc, "localhost", port), 0);
  ASSERT_EQ(cio_sleep(s.delay), 0);
  static unsigned char b[65536];
  ssize_t r;
  while ((r = cio_stream_read(st, b, sizeof b)) > 0) check_pattern(&s, b, (size_t)r);
  fprintf(stderr, "after %zu bytes: %s (%s)\n", s.got, cio_strerror((int)r),
          cio_tls_error_string(st));
  ASSERT(s.got < DRAIN_LEN);
  ASSERT_EQ(s.first_bad, SIZE_MAX);
  if (s.delay == 0) ASSERT_EQ(s.got, 100);
  ASSERT(r == CIO_TLS_PROTOCOL || r == -ECONNRESET);
  ASSERT_EQ(cio_stream_close(st), 0);
  ASSERT_EQ(cio_join(t), 0);
  cio_tls_ctx_free(cc);
  cio_tls_ctx_free(s.ctx);
  ASSERT_EQ(cio_sock_close(s.l), 0);
  return 0;
}

static void close_with_bytes_unsent_sends_no_close_notify(void) {
  make_certs();
  double delays[] = {0.3, 0};
  for (int i = 0; i < 2; i++) ASSERT_EQ(cio_run(short_close_main, &delays[i]), 0);
}

// SNI chooses between two certificates: the client that asks for
// other.example gets other.pem, the one that asks for localhost srv.pem;
// each verifies the certificate against the name it asked for.
struct sni_server {
  cio_sock *l;
  cio_tls_ctx *ctx;
  int n;
};

static int sni_server_fn(void *arg) {
  struct sni_server *s = arg;
  for (int i = 0; i < s->n; i++) {
    cio_sock *c;
    ASSERT_EQ(cio_sock_accept(s->l, &c), 0);
    cio_stream *st;
    ASSERT_EQ(cio_tls_accept(&st, s->ctx, c), 0);
    ASSERT_EQ(cio_stream_write(st, "hi\n", 3), 0);
    ASSERT_EQ(cio_stream_close(st), 0);
  }
  return 0;
}

static int sni_main(void *arg) {
  (void)arg;
  char port[8];
  struct sni_server s = {.n = 2};
  s.l = listen_any(port);
  s.ctx = server_ctx("srv.pem");
  cio_tls_ctx *other = server_ctx("other.pem");
  ASSERT_EQ(cio_tls_ctx_add_sni(s.ctx, "Other.Example", other), 0);
  ASSERT_EQ(cio_tls_ctx_add_sni(s.ctx, "x", s.ctx), -EINVAL);
  cio_task *t = cio_spawn(sni_server_fn, &s);
  cio_tls_ctx *cc = client_ctx(true);
  const char *names[] = {"other.example", "localhost"};
  for (int i = 0; i < 2; i++) {
    cio_stream *st;
    ASSERT_EQ(cio_stream_connect(&st, "127.0.0.1", port), 0);
    int rc = cio_tls_upgrade(st, cc, names[i]);
    if (rc < 0) fprintf(stderr, "%s: %s\n", names[i], cio_tls_error_string(st));
    ASSERT_EQ(rc, 0);
    char line[8];
    ASSERT_EQ(cio_stream_readline(st, line, sizeof line), 3);
    ASSERT_EQ(cio_stream_close(st), 0);
  }
  ASSERT_EQ(cio_join(t), 0);
  cio_tls_ctx_free(cc);
  cio_tls_ctx_free(s.ctx);
  cio_tls_ctx_free(other);
  ASSERT_EQ(cio_sock_close(s.l), 0);
  return 0;
}

static void sni_chooses_the_certificate(void) {
  make_certs();
  ASSERT_EQ(cio_run(sni_main, NULL), 0);
}

// ---------------------------------------------------------------- real peers

// Reads lines from `out` until one starts with `want`; 0 if found.
static int find_line(cio_stream *out, const char *want) {
  char line[512];
  for (;;) {
    ssize_t n = cio_stream_readline(out, line, sizeof line - 1);
    if (n <= 0) return -1;
    line[n] = '\0';
    if (strncmp(line, want, strlen(want)) == 0) return 0;
  }
}

// cio's client against `openssl s_server -www`, which answers a GET with a
// page about the connection.
static int s_server_main(void *arg) {
  (void)arg;
  char port[8];
  test_free_port(port); // (below the ephemeral range: nobody else is given it meanwhile)
  char *argv[] = {"openssl", "s_server",
                  "-accept", port,
                  "-cert",   (char *)path("srv.pem"),
                  "-key",    (char *)path("srv.key"),
                  "-www",    "-quiet",
                  NULL};
  cio_process *p;
  ASSERT_EQ(cio_process_spawn(&p, "openssl", argv, NULL), 0);
  cio_tls_ctx *cc = client_ctx(true);
  cio_stream *st = NULL;
  int rc = -1;
  for (int i = 0; i < 100 && rc < 0; i++) { // until it listens
    rc = cio_tls_connect(&st, cc, "localhost", port);
    if (rc == -ECONNREFUSED)
      ASSERT_EQ(cio_sleep(0.05), 0);
    else
      ASSERT_EQ(rc, 0);
  }
  ASSERT_EQ(rc, 0);
  const char *req = "GET / HTTP/1.0\r\n\r\n";
  ASSERT_EQ(cio_stream_write(st, req, strlen(req)), 0);
  ASSERT_EQ(cio_stream_drain(st), 0);
  char line[256];
  ssize_t n = cio_stream_readline(st, line, sizeof line - 1);
  ASSERT(n > 0);
  line[n] = '\0';
  ASSERT(strncmp(line, "HTTP/1.0 200", 12) == 0);
  ASSERT_EQ(cio_stream_close(st), 0);
  ASSERT_EQ(cio_process_kill(p, SIGTERM), 0);
  int code;
  ASSERT_EQ(cio_process_wait(p, &code), 0);
  ASSERT_EQ(cio_process_free(p), 0);
  cio_tls_ctx_free(cc);
  return 0;
}

static void cio_client_against_openssl_s_server(void) {
  make_certs();
  ASSERT_EQ(cio_run(s_server_main, NULL), 0);
}

// Serves one connection: a line in, "world" out, close.
static int line_server(void *arg) {
  struct server *s = arg;
  cio_sock *c;
  ASSERT_EQ(cio_sock_accept(s->l, &c), 0);
  cio_stream *st;
  s->rc = cio_tls_accept(&st, s->ctx, c);
  if (s->rc < 0) fprintf(stderr, "accept: %s: %s\n", cio_strerror(s->rc), cio_tls_last_error());
  ASSERT_EQ(s->rc, 0);
  char line[64];
  ASSERT_EQ(cio_stream_readline(st, line, sizeof line), 6);
  ASSERT(memcmp(line, "hello\n", 6) == 0);
  ASSERT_EQ(cio_stream_write(st, "world\n", 6), 0);
  ASSERT_EQ(cio_stream_close(st), 0);
  return 0;
}

// A client program against the line server: it must print "world".
static int client_program_main(void *arg) {
  char **argv = arg;
  char port[8];
  struct server s = {.first_bad = SIZE_MAX};
  s.l = listen_any(port);
  s.ctx = server_ctx("srv.pem");
  for (char **a = argv; *a; a++)
    if (strcmp(*a, "PORT") == 0) *a = port;
  cio_task *t = cio_spawn(line_server, &s);
  cio_process *p;
  cio_process_opts o = {.pipe_stdin = true, .pipe_stdout = true};
  ASSERT_EQ(cio_process_spawn(&p, argv[0], argv, &o), 0);
  ASSERT_EQ(cio_stream_write(cio_process_stdin(p), "hello\n", 6), 0);
  ASSERT_EQ(cio_stream_drain(cio_process_stdin(p)), 0);
  ASSERT_EQ(find_line(cio_process_stdout(p), "world"), 0);
  ASSERT_EQ(cio_process_close_stdin(p), 0);
  int code;
  ASSERT_EQ(cio_process_wait(p, &code), 0);
  ASSERT_EQ(code, 0);
  ASSERT_EQ(cio_process_free(p), 0);
  ASSERT_EQ(cio_join(t), 0);
  cio_tls_ctx_free(s.ctx);
  ASSERT_EQ(cio_sock_close(s.l), 0);
  return 0;
}

static void cio_server_against_openssl_s_client(void) {
  make_certs();
  // The port is known once listening: client_program_main puts it for the
  // word "PORT", here the shell's $0.
  char *sh[] = {"sh",
                "-c",
                "exec openssl s_client -connect 127.0.0.1:$0 -CAfile $1 -verify_return_error "
                "-verify_ip 127.0.0.1 -quiet 2>/dev/null",
                "PORT",
                (char *)path("ca.pem"),
                NULL};
  ASSERT_EQ(cio_run(client_program_main, sh), 0);
}

static void python_ssl_client_against_cio_server(void) {
  if (access("/usr/bin/python3", X_OK) != 0) missing_peer("needs /usr/bin/python3");
  make_certs();
  char *argv[] = {"/usr/bin/python3",
                  "-c",
                  "import socket, ssl, sys\n"
                  "ctx = ssl.create_default_context(cafile=sys.argv[2])\n"
                  "with socket.create_connection(('127.0.0.1', int(sys.argv[1]))) as raw:\n"
                  "    with ctx.wrap_socket(raw, server_hostname='localhost') as s:\n"
                  "        s.sendall(sys.stdin.readline().encode())\n"
                  "        print(s.makefile().readline().strip(), s.version(), flush=True)\n",
                  "PORT",
                  (char *)path("ca.pem"),
                  NULL};
  ASSERT_EQ(cio_run(client_program_main, argv), 0);
}

// ---------------------------------------------------------------- client certificates

// Mutual TLS: a server that requires client certificates serves a client
// that presents one its CA signed (and knows its subject), refuses one
// without (CIO_TLS_HANDSHAKE) and one whose certificate expired
// (CIO_TLS_CERT_EXPIRED); the client sees its connection fail.  A server
// that only asks serves the anonymous client too.
struct mtls_server {
  cio_sock *l;
  cio_tls_ctx *ctx;
  int rc;            // the accept's result
  char subject[256]; // the client's, or "" without one
};

static int mtls_accept(void *arg) {
  struct mtls_server *s = arg;
  cio_sock *c;
  ASSERT_EQ(cio_sock_accept(s->l, &c), 0);
  cio_stream *st;
  s->subject[0] = '\0';
  s->rc = cio_tls_accept(&st, s->ctx, c);
  if (s->rc < 0) return 0;
  int n = cio_tls_peer_subject(st, s->subject, sizeof s->subject);
  ASSERT(n > 0 || n == -ENOENT);
  char line[64];
  ASSERT_EQ(cio_stream_readline(st, line, sizeof line), 6);
  ASSERT_EQ(cio_stream_write(st, "world\n", 6), 0);
  ASSERT_EQ(cio_stream_close(st), 0);
  return 0;
}

// Connects with client certificate `cert` (NULL: none); returns what the
// exchange of a line came to: 0, or the first error.
static int mtls_try(struct mtls_server *s, const char *port, const char *cert) {
  cio_task *t = cio_spawn(mtls_accept, s);
  cio_tls_ctx *cc = client_ctx(true);
  if (cert) ASSERT_EQ(cio_tls_ctx_use_certificate(cc, path(cert), path("srv.key")), 0);
  cio_stream *st;
  int rc = cio_tls_connect(&st, cc, "127.0.0.1", port);
  if (rc == 0) {
    char server[256];
    ASSERT(cio_tls_peer_subject(st, server, sizeof server) > 0);
    ASSERT_STR_CONTAINS(server, "CN=localhost");
    char line[64];
    ASSERT_EQ(cio_stream_write(st, "hello\n", 6), 0);
    rc = cio_stream_drain(st);
    ssize_t n = rc == 0 ? cio_stream_readline(st, line, sizeof line) : rc;
    rc = n == 6 ? 0 : n < 0 ? (int)n : -EPROTO;
    int closed = cio_stream_close(st);
    if (rc == 0) ASSERT_EQ(closed, 0);
  }
  ASSERT_EQ(cio_join(t), 0);
  cio_tls_ctx_free(cc);
  return rc;
}

static int mtls_main(void *arg) {
  (void)arg;
  char port[8];
  struct mtls_server s = {.l = listen_any(port), .ctx = server_ctx("srv.pem")};
  ASSERT_EQ(cio_tls_ctx_verify_clients(s.ctx, path("ca.pem"), true), 0);
  ASSERT_EQ(mtls_try(&s, port, "srv.pem"), 0);
  ASSERT_EQ(s.rc, 0);
  ASSERT_STR_CONTAINS(s.subject, "CN=localhost");
  ASSERT(mtls_try(&s, port, NULL) < 0); // the client learns it at its first read
  ASSERT_EQ(s.rc, CIO_TLS_HANDSHAKE);
  fprintf(stderr, "no certificate: %s\n", cio_tls_last_error());
  ASSERT(mtls_try(&s, port, "exp.pem") < 0);
  ASSERT_EQ(s.rc, CIO_TLS_CERT_EXPIRED);
  cio_tls_ctx_free(s.ctx);
  // Asked, not required: the anonymous client is served, without a subject.
  s.ctx = server_ctx("srv.pem");
  ASSERT_EQ(cio_tls_ctx_verify_clients(s.ctx, path("ca.pem"), false), 0);
  ASSERT_EQ(mtls_try(&s, port, NULL), 0);
  ASSERT_EQ(s.rc, 0);
  ASSERT_EQ(s.subject[0], '\0');
  ASSERT_EQ(mtls_try(&s, port, "srv.pem"), 0);
  ASSERT_STR_CONTAINS(s.subject, "CN=localhost");
  // Misuse: the wrong side's call, files that are not there.
  cio_tls_ctx *cc = client_ctx(true);
  ASSERT_EQ(cio_tls_ctx_verify_clients(cc, path("ca.pem"), true), -EINVAL);
  ASSERT_EQ(cio_tls_ctx_use_certificate(s.ctx, path("srv.pem"), path("srv.key")), -EINVAL);
  ASSERT_EQ(cio_tls_ctx_use_certificate(cc, "/nonexistent.pem", path("srv.key")),
            CIO_TLS_CERT_INVALID);
  ASSERT_EQ(cio_tls_ctx_verify_clients(s.ctx, "/nonexistent.pem", true), CIO_TLS_CERT_INVALID);
  cio_tls_ctx_free(cc);
  cio_tls_ctx_free(s.ctx);
  ASSERT_EQ(cio_sock_close(s.l), 0);
  return 0;
}

static void client_certificates_required_asked_and_refused(void) {
  make_certs();
  ASSERT_EQ(cio_run(mtls_main, NULL), 0);
}

// cio's client against nginx with TLS: a GET answered, with and without a
// client certificate (nginx's ssl_verify_client optional echoes the
// subject it verified), over TLS 1.3, with ALPN http/1.1 agreed.
static int nginx_get(cio_tls_ctx *cc, const char *port, char *body, size_t cap) {
  cio_stream *st;
  int rc = cio_tls_connect(&st, cc, "localhost", port);
  if (rc < 0) return rc;
  ASSERT(cio_tls_alpn(st) && strcmp(cio_tls_alpn(st), "http/1.1") == 0);
  const char *req = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(cio_stream_write(st, req, strlen(req)), 0);
  ASSERT_EQ(cio_stream_drain(st), 0);
  size_t got = 0;
  ssize_t n;
  while ((n = cio_stream_read(st, body + got, cap - 1 - got)) > 0) got += (size_t)n;
  ASSERT_EQ(n, 0); // nginx ends with close_notify
  body[got] = '\0';
  ASSERT_EQ(cio_stream_close(st), 0);
  return 0;
}

static int nginx_main(void *arg) {
  (void)arg;
  char port[8];
  cio_sock *l = listen_any(port); // a free port, given back to nginx
  ASSERT_EQ(cio_sock_close(l), 0);
  char conf[2048];
  snprintf(conf, sizeof conf,
           "cat >%s/nginx.conf <<'EOF'\n"
           "%sdaemon off; master_process off; worker_processes 1;\n"
           "error_log %s/nginx.err; pid %s/nginx.pid;\n"
           "events { worker_connections 64; }\n"
           "http { access_log off; client_body_temp_path %s; proxy_temp_path %s;\n"
           "  fastcgi_temp_path %s; uwsgi_temp_path %s; scgi_temp_path %s;\n"
           "  server { listen 127.0.0.1:%s ssl;\n"
           "    ssl_protocols TLSv1.2 TLSv1.3;\n"
           "    ssl_certificate %s/srv.pem; ssl_certificate_key %s/srv.key;\n"
           "    ssl_client_certificate %s/ca.pem; ssl_verify_client optional;\n"
           "    location / { return 200 \"client: [$ssl_client_s_dn] $ssl_protocol\\n\"; } } }\n"
           "EOF",
           dir, nginx_user(), dir, dir, dir, dir, dir, dir, dir, port, dir, dir, dir);
  ASSERT_EQ(system(conf), 0);
  char cpath[128];
  snprintf(cpath, sizeof cpath, "%s/nginx.conf", dir);
  // Under `timeout`: a failed assertion leaves no nginx behind for long.
  char *argv[] = {"timeout", "60", "nginx", "-c", cpath, "-p", dir, "-e", (char *)path("nginx.err"),
                  NULL};
  cio_process *p;
  ASSERT_EQ(cio_process_spawn(&p, "timeout", argv, NULL), 0);
  cio_tls_ctx *cc = client_ctx(true);
  char body[512];
  int rc = -ECONNREFUSED;
  for (int i = 0; i < 100 && rc == -ECONNREFUSED; i++) { // until it listens
    const char *const alpn[] = {"http/1.1"};
    ASSERT_EQ(cio_tls_ctx_set_alpn(cc, alpn, 1), 0);
    rc = nginx_get(cc, port, body, sizeof body);
    if (rc == -ECONNREFUSED) ASSERT_EQ(cio_sleep(0.05), 0);
  }
  ASSERT_EQ(rc, 0);
  ASSERT_STR_CONTAINS(body, "HTTP/1.1 200 OK\r\n");
  ASSERT_STR_CONTAINS(body, "client: [] TLSv1.3");
  ASSERT_EQ(cio_tls_ctx_use_certificate(cc, path("srv.pem"), path("srv.key")), 0);
  ASSERT_EQ(nginx_get(cc, port, body, sizeof body), 0);
  ASSERT_STR_CONTAINS(body, "client: [CN=localhost] TLSv1.3");
  ASSERT_EQ(cio_process_kill(p, SIGQUIT), 0);
  int code;
  ASSERT_EQ(cio_process_wait(p, &code), 0);
  ASSERT_EQ(cio_process_free(p), 0);
  cio_tls_ctx_free(cc);
  return 0;
}

static void cio_client_against_nginx(void) {
  if (system("command -v nginx >/dev/null 2>&1") != 0 && access("/usr/sbin/nginx", X_OK) != 0)
    missing_peer("needs nginx (apt-get install nginx-light)");
  make_certs();
  ASSERT_EQ(cio_run(nginx_main, NULL), 0);
}

// ---------------------------------------------------------------- HTTPS

// cio_http_serve over TLS, against real clients (tests/https_clients.py:
// curl, openssl s_client, Python's ssl, httpx): status and body, ALPN
// http/1.1, SNI choosing between two certificates, session resumption
// with TLS 1.2 and 1.3, a chunked stream, a stream cut short seen as one.
static int https_hello(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)req, (void)arg;
  return cio_http_json(res, 200, "{\"message\":\"Hello\"}");
}
static int https_echo(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)arg;
  size_t len;
  const void *body = cio_http_body(req, &len);
  return cio_http_send(res, 200, "application/octet-stream", body, len);
}
static int https_stream(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)req, (void)arg;
  int rc = cio_http_stream_start(res, 200, "text/plain");
  char piece[101];
  for (int i = 0; rc == 0 && i < 1000; i++) {
    snprintf(piece, sizeof piece, "%099d\n", i);
    rc = cio_http_stream_write(res, piece, 100);
  }
  return rc;
}
static int https_cut(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)req, (void)arg;
  int rc = cio_http_stream_start(res, 200, "text/plain");
  for (int i = 0; rc == 0 && i < 3; i++) rc = cio_http_stream_write(res, "piece;", 6);
  return rc < 0 ? rc : -EIO;
}

static int https_clients_main(void *arg) {
  (void)arg;
  cio_tls_ctx *ctx = server_ctx("srv.pem"), *other = server_ctx("other.pem");
  ASSERT_EQ(cio_tls_ctx_add_sni(ctx, "other.example", other), 0);
  cio_http_app *app = cio_http_app_new();
  ASSERT_EQ(cio_http_route(app, "GET", "/", https_hello, NULL), 0);
  ASSERT_EQ(cio_http_route(app, "POST", "/echo", https_echo, NULL), 0);
  ASSERT_EQ(cio_http_route(app, "GET", "/stream", https_stream, NULL), 0);
  ASSERT_EQ(cio_http_route(app, "GET", "/cut", https_cut, NULL), 0);
  cio_http_opts o = {.tls = ctx};
  cio_server *srv;
  ASSERT_EQ(cio_http_serve(app, "127.0.0.1", "0", &o, &srv), 0);
  char port[8];
  snprintf(port, sizeof port, "%d", cio_server_port(srv));
  char *argv[] = {"/usr/bin/python3", CIO_SOURCE_DIR "/tests/https_clients.py", port, dir, NULL};
  cio_process *p;
  cio_process_opts po = {.pipe_stdout = true};
  ASSERT_EQ(cio_process_spawn(&p, argv[0], argv, &po), 0);
  static char out[8192];
  size_t got = 0;
  ssize_t n;
  while ((n = cio_stream_read(cio_process_stdout(p), out + got, sizeof out - 1 - got)) > 0)
    got += (size_t)n;
  out[got] = '\0';
  int code;
  ASSERT_EQ(cio_process_wait(p, &code), 0);
  ASSERT_EQ(cio_process_free(p), 0);
  printf("  %s", out);
  if (code == 77) missing_peer(out);
  ASSERT_EQ(code, 0);
  ASSERT_STR_CONTAINS(out, "ok ");
  ASSERT_EQ(cio_server_close(srv, 1), 0);
  ASSERT_EQ(cio_http_app_free(app), 0);
  cio_tls_ctx_free(ctx);
  cio_tls_ctx_free(other);
  return 0;
}

static void https_server_against_real_clients(void) {
  if (access("/usr/bin/python3", X_OK) != 0) missing_peer("needs /usr/bin/python3");
  make_certs();
  ASSERT_EQ(cio_run(https_clients_main, NULL), 0);
}

// A client that stalls in the handshake is dropped at the header timeout;
// a client context, or HTTPS where cio has no OpenSSL, is refused.
static int https_stall_main(void *arg) {
  (void)arg;
  cio_tls_ctx *ctx = server_ctx("srv.pem"), *cc = client_ctx(true);
  cio_http_app *app = cio_http_app_new();
  ASSERT_EQ(cio_http_route(app, "GET", "/", https_hello, NULL), 0);
  cio_http_opts o = {.tls = cc, .header_timeout = 0.3};
  cio_server *srv;
  ASSERT_EQ(cio_http_serve(app, "127.0.0.1", "0", &o, &srv), -EINVAL);
  o.tls = ctx;
  ASSERT_EQ(cio_http_serve(app, "127.0.0.1", "0", &o, &srv), 0);
  char port[8];
  snprintf(port, sizeof port, "%d", cio_server_port(srv));
  cio_sock *s;
  ASSERT_EQ(cio_tcp_connect(&s, "127.0.0.1", port), 0);
  ASSERT_EQ(cio_sock_write(s, "\x16\x03\x01", 3), 3); // a record header, then nothing
  double t0 = cio_now();
  char b[64];
  cio_scope scope;
  ASSERT_EQ(cio_timeout_begin(&scope, 10), 0);
  ssize_t r = cio_sock_read(s, b, sizeof b);
  ASSERT_EQ(cio_scope_end(&scope), 0);
  ASSERT(r == 0 || r == -ECONNRESET);
  ASSERT(cio_now() - t0 >= 0.25);
  ASSERT_EQ(cio_sock_close(s), 0);
  // A server with the default deadlines (a slow machine, valgrind, may
  // take 0.3 s over a handshake) serves a client and agrees on http/1.1.
  ASSERT_EQ(cio_server_close(srv, 1), 0);
  o.header_timeout = 0;
  ASSERT_EQ(cio_http_serve(app, "127.0.0.1", "0", &o, &srv), 0);
  snprintf(port, sizeof port, "%d", cio_server_port(srv));
  const char *const protocols[] = {"h2", "http/1.1"};
  ASSERT_EQ(cio_tls_ctx_set_alpn(cc, protocols, 2), 0);
  cio_stream *st;
  ASSERT_EQ(cio_tls_connect(&st, cc, "localhost", port), 0);
  ASSERT(cio_tls_alpn(st) && strcmp(cio_tls_alpn(st), "http/1.1") == 0);
  const char *req = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(cio_stream_write(st, req, strlen(req)), 0);
  ASSERT_EQ(cio_stream_drain(st), 0);
  char line[128];
  ASSERT(cio_stream_readline(st, line, sizeof line) > 0);
  ASSERT_EQ(strncmp(line, "HTTP/1.1 200 OK\r\n", 17), 0);
  ASSERT_EQ(cio_stream_close(st), 0);
  ASSERT_EQ(cio_server_close(srv, 1), 0);
  ASSERT_EQ(cio_http_app_free(app), 0);
  cio_tls_ctx_free(ctx);
  cio_tls_ctx_free(cc);
  return 0;
}

static void https_handshake_stall_and_refused_contexts(void) {
  make_certs();
  ASSERT_EQ(cio_run(https_stall_main, NULL), 0);
}

// Session tickets: with none sent (cio_tls_ctx_set_session_tickets(ctx,
// 0)), a TLS 1.3 client has no session to resume; with the default it
// resumes (Python's ssl, twice each).
static int tickets_main(void *arg) {
  (void)arg;
  const char *script =
      "import socket, ssl, sys\n"
      "ctx = ssl.create_default_context(cafile=sys.argv[2])\n"
      "ctx.minimum_version = ssl.TLSVersion.TLSv1_3\n"
      "sess = None\n"
      "for i in range(2):\n"
      "    with socket.create_connection(('127.0.0.1', int(sys.argv[1]))) as raw:\n"
      "        with ctx.wrap_socket(raw, server_hostname='localhost', session=sess) as s:\n"
      "            s.sendall(b'GET / HTTP/1.1\\r\\nHost: a\\r\\nConnection: close\\r\\n\\r\\n')\n"
      "            while s.recv(4096): pass\n"
      "            sess, reused = s.session, s.session_reused\n"
      "print('reused' if reused else 'new', flush=True)\n";
  for (int tickets = 0; tickets <= 1; tickets++) {
    cio_tls_ctx *ctx = server_ctx("srv.pem");
    if (!tickets) ASSERT_EQ(cio_tls_ctx_set_session_tickets(ctx, 0), 0);
    cio_http_app *app = cio_http_app_new();
    ASSERT_EQ(cio_http_route(app, "GET", "/", https_hello, NULL), 0);
    cio_http_opts o = {.tls = ctx};
    cio_server *srv;
    ASSERT_EQ(cio_http_serve(app, "127.0.0.1", "0", &o, &srv), 0);
    char port[8];
    snprintf(port, sizeof port, "%d", cio_server_port(srv));
    char *argv[] = {"/usr/bin/python3", "-c", (char *)script, port, (char *)path("ca.pem"), NULL};
    cio_process *p;
    cio_process_opts po = {.pipe_stdout = true};
    ASSERT_EQ(cio_process_spawn(&p, argv[0], argv, &po), 0);
    char out[64];
    ssize_t n = cio_stream_readline(cio_process_stdout(p), out, sizeof out - 1);
    out[n > 0 ? n : 0] = '\0';
    int code;
    ASSERT_EQ(cio_process_wait(p, &code), 0);
    ASSERT_EQ(cio_process_free(p), 0);
    ASSERT_EQ(code, 0);
    ASSERT_STR_CONTAINS(out, tickets ? "reused" : "new");
    ASSERT_EQ(cio_server_close(srv, 1), 0);
    ASSERT_EQ(cio_http_app_free(app), 0);
    cio_tls_ctx_free(ctx);
  }
  cio_tls_ctx *cc = client_ctx(true);
  ASSERT_EQ(cio_tls_ctx_set_session_tickets(cc, 0), -EINVAL);
  cio_tls_ctx_free(cc);
  return 0;
}

static void session_tickets_can_be_turned_off(void) {
  if (access("/usr/bin/python3", X_OK) != 0) missing_peer("needs /usr/bin/python3");
  make_certs();
  ASSERT_EQ(cio_run(tickets_main, NULL), 0);
}

static const test_case cases[] = {
    {"session_tickets_can_be_turned_off", session_tickets_can_be_turned_off, 0},
    {"cio_client_against_nginx", cio_client_against_nginx, 60},
    {"client_certificates_required_asked_and_refused",
     client_certificates_required_asked_and_refused, 0},
    {"https_server_against_real_clients", https_server_against_real_clients, 120},
    {"https_handshake_stall_and_refused_contexts", https_handshake_stall_and_refused_contexts, 0},
    {"tls_codes_are_named", tls_codes_are_named, 0},
    {"cio_client_and_server_exchange_lines_and_a_mebibyte",
     cio_client_and_server_exchange_lines_and_a_mebibyte, 0},
    {"kernel_tls_sends_where_the_kernel_offers_it", kernel_tls_sends_where_the_kernel_offers_it, 0},
    {"unknown_ca_is_refused_as_untrusted", unknown_ca_is_refused_as_untrusted, 0},
    {"expired_certificate_is_refused_as_expired", expired_certificate_is_refused_as_expired, 0},
    {"certificate_for_another_host_is_refused", certificate_for_another_host_is_refused, 0},
    {"server_handshake_with_a_mute_peer_times_out", server_handshake_with_a_mute_peer_times_out, 0},
    {"client_handshake_with_a_mute_server_times_out", client_handshake_with_a_mute_server_times_out,
     0},
    {"drain_interrupted_by_timeout_sends_each_byte_once",
     drain_interrupted_by_timeout_sends_each_byte_once, 0},
    {"drain_interrupted_by_cancel_sends_each_byte_once",
     drain_interrupted_by_cancel_sends_each_byte_once, 0},
    {"cio_client_against_openssl_s_server", cio_client_against_openssl_s_server, 0},
    {"cio_server_against_openssl_s_client", cio_server_against_openssl_s_client, 0},
    {"python_ssl_client_against_cio_server", python_ssl_client_against_cio_server, 0},
    {"starttls_upgrade_with_alpn", starttls_upgrade_with_alpn, 0},
    {"tls_server_on_cio_server_start", tls_server_on_cio_server_start, 0},
    {"sni_chooses_the_certificate", sni_chooses_the_certificate, 0},
    {"close_with_bytes_unsent_sends_no_close_notify", close_with_bytes_unsent_sends_no_close_notify,
     0},
    {"end_without_close_notify_is_a_protocol_error", end_without_close_notify_is_a_protocol_error,
     0},
    {"contexts_from_memory_and_bad_files", contexts_from_memory_and_bad_files, 0},
    {"writes_to_a_reset_peer_fail_without_sigpipe", writes_to_a_reset_peer_fail_without_sigpipe, 0},
    {"handshakes_reset_by_peers_leave_nothing_behind",
     handshakes_reset_by_peers_leave_nothing_behind, 0},
    {"reads_interrupted_leave_the_stream_usable", reads_interrupted_leave_the_stream_usable, 0},
    {"cancelled_handshake_returns_ecanceled", cancelled_handshake_returns_ecanceled, 0},
};

TEST_MAIN(cases)

#else // built without OpenSSL: the whole file is skipped (ctest shows it)

int main(void) {
  puts("skipped: cio was built without OpenSSL 3: no TLS (apt-get install libssl-dev, then "
       "rebuild)");
  return 77;
}

#endif
