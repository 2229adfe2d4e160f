// SPDX-License-Identifier: MIT
//
// The load client for the tls_handshake benchmark, the same for every
// server: N connections at once (default 100) on one thread (OpenSSL and
// non-blocking sockets on epoll, no cio), each one fresh: TCP connect, a
// full TLS 1.3 handshake (X25519, TLS_AES_128_GCM_SHA256 only; no session
// is ever offered back, so there is no resumption; the certificate is not
// verified, its CertificateVerify signature is, as the handshake requires),
// a short HTTP/1.0 request, and as soon as the first bytes of the answer
// arrive (the server finished its handshake and served it) a count and a
// reset (SO_LINGER 0: no TIME_WAIT on either side); then the slot starts
// over.  After D seconds (default 5) no new connection starts and those
// under way get up to 2 s to finish.  Prints what the first connection
// agreed on, the session tickets the server sent per handshake (counted,
// never used), and the handshakes per second of wall time.  Pin it to the
// core the server does not use.
//
//   bench_tls_load <port> [connections] [seconds]
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

enum state { CONNECTING, HANDSHAKE, SEND, RECV };

struct conn {
  int fd;
  SSL *ssl;
  enum state state;
};

static SSL_CTX *ctx;
static struct sockaddr_in addr;
static int ep;
static long handshakes, errors, tickets;
static char first_error[256], agreed[256];

static const char request[] = "GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";

// Called for each NewSessionTicket the server sends: counted, not kept.
static int new_session(SSL *ssl, SSL_SESSION *sess) {
  (void)ssl, (void)sess;
  tickets++;
  return 0; // not taken: OpenSSL frees it
}

static void note_error(const char *what) {
  errors++;
  if (first_error[0]) return;
  unsigned long e = ERR_peek_last_error();
  if (e)
    ERR_error_string_n(e, first_error, sizeof first_error);
  else
    snprintf(first_error, sizeof first_error, "%s: %s", what, strerror(errno ? errno : EPIPE));
}

// Resets the connection (no TIME_WAIT) and frees it.
static void drop(struct conn *c) {
  struct linger lg = {1, 0};
  SSL_free(c->ssl);
  setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  close(c->fd);
  c->ssl = NULL;
  c->fd = -1;
}

// Starts a fresh connection in slot c.  0, or -1 (counted as an error).
static int start(struct conn *c) {
  c->ssl = NULL;
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) {
    note_error("socket");
    return -1;
  }
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->state = HANDSHAKE;
  if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
    if (errno != EINPROGRESS) {
      note_error("connect");
      close(c->fd);
      c->fd = -1;
      return -1;
    }
    c->state = CONNECTING;
  }
  c->ssl = SSL_new(ctx);
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c};
  if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1 || epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
    note_error("setup");
    drop(c);
    return -1;
  }
  SSL_set_connect_state(c->ssl);
  return 0;
}

static void describe(SSL *ssl) {
  int group = SSL_get_negotiated_group(ssl), type = NID_undef, digest = NID_undef;
  SSL_get_peer_signature_type_nid(ssl, &type);
  SSL_get_peer_signature_nid(ssl, &digest);
  EVP_PKEY *key = X509_get0_pubkey(SSL_get0_peer_certificate(ssl));
  char curve[64] = "?";
  size_t len;
  if (key) EVP_PKEY_get_group_name(key, curve, sizeof curve, &len);
  snprintf(agreed, sizeof agreed, "%s %s, key exchange %s, signature %s-%s (certificate key %s)",
           SSL_get_version(ssl), SSL_CIPHER_get_name(SSL_get_current_cipher(ssl)),
           group ? SSL_group_to_name(ssl, group) : "?",
           type == EVP_PKEY_EC ? "ECDSA" : OBJ_nid2sn(type), OBJ_nid2sn(digest), curve);
}

// Moves connection c on as far as it goes without waiting.  Returns 1 when
// it is over (served or failed: c is dropped), else 0.
static int step(struct conn *c) {
  int r;
  ERR_clear_error();
  errno = 0;
  switch (c->state) {
  case CONNECTING: {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err == EINPROGRESS || err == EALREADY) return 0;
    if (err) {
      errno = err;
      goto fail;
    }
    c->state = HANDSHAKE;
  }
  // fall through
  case HANDSHAKE:
    r = SSL_do_handshake(c->ssl);
    if (r != 1) goto again;
    if (!agreed[0]) describe(c->ssl);
    c->state = SEND;
    // fall through
  case SEND:
    r = SSL_write(c->ssl, request, sizeof request - 1);
    if (r <= 0) goto again;
    c->state = RECV;
    // fall through
  case RECV: {
    char buf[4096];
    r = SSL_read(c->ssl, buf, sizeof buf);
    if (r <= 0) goto again;
    handshakes++;
    drop(c);
    return 1;
  }
  }
  return 0;
again:
  switch (SSL_get_error(c->ssl, r)) {
  case SSL_ERROR_WANT_READ:
  case SSL_ERROR_WANT_WRITE: return 0;
  default: break;
  }
fail:
  note_error(c->state == CONNECTING ? "connect" : c->state == HANDSHAKE ? "handshake" : "exchange");
  drop(c);
  return 1;
}

static SSL_CTX *client_ctx(void) {
  SSL_CTX *x = SSL_CTX_new(TLS_client_method());
  if (!x) return NULL;
  if (SSL_CTX_set_min_proto_version(x, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(x, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_ciphersuites(x, "TLS_AES_128_GCM_SHA256") != 1 ||
      SSL_CTX_set1_groups_list(x, "X25519") != 1) {
    SSL_CTX_free(x);
    return NULL;
  }
  SSL_CTX_set_verify(x, SSL_VERIFY_NONE, NULL);
  // Tickets are counted by the callback and dropped; no session is stored,
  // and none is ever set on a connection: every handshake is a full one.
  SSL_CTX_set_session_cache_mode(x, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(x, new_session);
  return x;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: bench_tls_load <port> [connections] [seconds]\n");
    return 2;
  }
  int n = argc > 2 ? atoi(argv[2]) : 100;
  double seconds = argc > 3 ? atof(argv[3]) : 5;
  if (n <= 0 || seconds <= 0) return 2;
  signal(SIGPIPE, SIG_IGN);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)atoi(argv[1]));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ctx = client_ctx();
  ep = epoll_create1(EPOLL_CLOEXEC);
  struct conn *conns = calloc((size_t)n, sizeof *conns);
  if (!ctx || ep < 0 || !conns) {
    fprintf(stderr, "tls_load: setup failed\n");
    return 1;
  }

  double t0 = bench_now(), deadline = t0 + seconds, last = t0;
  int active = 0;
  for (int i = 0; i < n; i++) active += start(&conns[i]) == 0;
  struct epoll_event evs[256];
  while (active > 0) {
    double now = bench_now();
    if (now > deadline + 2) break; // the stragglers are not waited for longer
    int k = epoll_wait(ep, evs, 256, 100);
    if (k < 0 && errno != EINTR) break;
    for (int i = 0; i < k; i++) {
      struct conn *c = evs[i].data.ptr;
      long before = handshakes;
      if (!step(c)) continue;
      now = bench_now();
      if (handshakes > before) last = now;
      active--;
      // Start again (a failed start counts as an error and frees the slot).
      while (now < deadline && start(c) < 0 && errors < 1000) {
      }
      if (c->fd >= 0) active++;
    }
  }
  double dt = last - t0;
  printf("tls %s\n", agreed[0] ? agreed : "(no handshake completed)");
  printf("tickets per handshake %.2f\n", handshakes ? (double)tickets / handshakes : 0.0);
  printf("connections %d, handshakes %ld, errors %ld, seconds %.2f\n", n, handshakes, errors, dt);
  if (first_error[0]) printf("first error: %s\n", first_error);
  printf("tls_handshake %.0f hs/s\n", dt > 0 ? handshakes / dt : 0.0);
  return handshakes == 0;
}
