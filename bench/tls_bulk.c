// SPDX-License-Identifier: MIT
//
// The tls_bulk benchmark, cio's side: one TLS 1.3 connection between two
// processes (cio runs one loop per thread; pin them to different cores).
// The client writes M MiB (default 2048) in 64 KiB cio_stream_write() +
// cio_stream_drain() calls and closes; the server reads with 64 KiB
// cio_stream_read() calls and discards until the end of the stream, and
// reports the receiving side's MB/s (10^6 bytes per second), timed from the
// end of its handshake to the end of the stream.  Each side also prints the
// CPU time it spent meanwhile, as a share of that time (getrusage).  Both use cio's default
// contexts (the client verifies the server's certificate against the
// same PEM file: give it a name or address cio can check, 127.0.0.1).
//
// Each side prints the protocol, cipher suite and key exchange its
// connection agreed on: cio keeps its OpenSSL objects to itself, so this
// program interposes SSL_new() (its own definition, which calls OpenSSL's)
// to learn the one SSL object it makes.  The client also says whether the
// kernel offers kTLS (setsockopt TCP_ULP "tls" on a connected socket of its
// own; cio does not use kTLS either way).
//
//   bench_tls_bulk server <port> <cert.pem> <key.pem>
//   bench_tls_bulk client <port> <ca.pem> [MiB]
#include <arpa/inet.h>
#include <cio.h>
#include <cio/tls.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

#define CHUNK (64 * 1024)

// --- the one SSL object of this process -------------------------------

static SSL *the_ssl;

SSL *SSL_new(SSL_CTX *ctx) {
  static SSL *(*real)(SSL_CTX *);
  if (!real) *(void **)&real = dlsym(RTLD_NEXT, "SSL_new");
  SSL *s = real ? real(ctx) : NULL;
  the_ssl = s;
  return s;
}

static void say_agreed(const char *side) {
  if (!the_ssl) {
    printf("%s tls ?\n", side);
    return;
  }
  int group = SSL_get_negotiated_group(the_ssl);
  printf("%s tls %s %s, key exchange %s\n", side, SSL_get_version(the_ssl),
         SSL_CIPHER_get_name(SSL_get_current_cipher(the_ssl)),
         group ? SSL_group_to_name(the_ssl, group) : "?");
}

// This process's CPU time so far (user + system, all threads), in seconds.
static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// --- kTLS ----------------------------------------------------------------

// Whether the kernel takes the "tls" upper layer on a connected TCP socket
// (a loopback pair made for the purpose).
static void say_ktls(void) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int err = 0;
  if (l < 0 || c < 0 || bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 1) < 0 ||
      getsockname(l, (struct sockaddr *)&a, &len) < 0 ||
      connect(c, (struct sockaddr *)&a, sizeof a) < 0)
    err = errno;
  if (err)
    printf("# kTLS: not probed (%s)\n", strerror(err));
  else if (setsockopt(c, SOL_TCP, TCP_ULP, "tls", 4) < 0)
    printf("# kTLS: unavailable (TCP_ULP \"tls\": %s)\n", strerror(errno));
  else
    printf("# kTLS: available (TCP_ULP \"tls\" accepted)\n");
  if (c >= 0) close(c);
  if (l >= 0) close(l);
}

// --- the two sides ---------------------------------------------------------

struct args {
  const char *port, *pem, *key;
  long mib;
};

static int server(void *arg) {
  struct args *a = arg;
  cio_tls_ctx *ctx;
  int rc = cio_tls_server_ctx_new(&ctx, a->pem, a->key);
  if (rc < 0) {
    fprintf(stderr, "tls_bulk: %s: %s\n", cio_strerror(rc), cio_tls_last_error());
    return rc;
  }
  cio_sock *l, *s;
  rc = cio_tcp_listen(&l, "127.0.0.1", a->port, 1, 0);
  if (rc < 0) goto out;
  printf("listening %d\n", cio_sock_port(l));
  fflush(stdout);
  rc = cio_sock_accept(l, &s);
  cio_sock_close(l);
  if (rc < 0) goto out;
  cio_stream *st;
  rc = cio_tls_accept(&st, ctx, s);
  if (rc < 0) {
    fprintf(stderr, "tls_bulk: handshake: %s: %s\n", cio_strerror(rc), cio_tls_last_error());
    goto out;
  }
  char *buf = malloc(CHUNK);
  long long total = 0;
  double t0 = bench_now(), c0 = cpu_seconds();
  ssize_t n;
  while (buf && (n = cio_stream_read(st, buf, CHUNK)) > 0) total += n;
  double dt = bench_now() - t0, cpu = cpu_seconds() - c0;
  rc = buf ? (int)n : -ENOMEM;
  free(buf);
  say_agreed("server");
  int closed = cio_stream_close(st);
  (void)closed;
  if (rc < 0) {
    fprintf(stderr, "tls_bulk: read: %s\n", cio_strerror(rc));
    goto out;
  }
  printf("received %lld bytes in %.3f s, CPU %.0f%%\n", total, dt, 100 * cpu / dt);
  printf("tls_bulk %.0f MB/s\n", total / dt / 1e6);
out:
  cio_tls_ctx_free(ctx);
  return rc;
}

static int client(void *arg) {
  struct args *a = arg;
  say_ktls();
  cio_tls_ctx *ctx;
  int rc = cio_tls_client_ctx_new(&ctx, a->pem);
  if (rc < 0) {
    fprintf(stderr, "tls_bulk: %s: %s\n", cio_strerror(rc), cio_tls_last_error());
    return rc;
  }
  cio_stream *st;
  rc = cio_tls_connect(&st, ctx, "127.0.0.1", a->port);
  if (rc < 0) {
    fprintf(stderr, "tls_bulk: connect: %s: %s\n", cio_strerror(rc), cio_tls_last_error());
    cio_tls_ctx_free(ctx);
    return rc;
  }
  say_agreed("client");
  printf("client kTLS send: %s\n", cio_tls_ktls_send(st) ? "on" : "off");
  char *buf = malloc(CHUNK);
  if (buf) memset(buf, 'b', CHUNK);
  long chunks = a->mib * (1024 * 1024 / CHUNK);
  double t0 = bench_now(), c0 = cpu_seconds();
  rc = buf ? 0 : -ENOMEM;
  for (long i = 0; i < chunks && rc == 0; i++) {
    rc = cio_stream_write(st, buf, CHUNK);
    if (rc == 0) rc = cio_stream_drain(st);
  }
  int closed = cio_stream_close(st); // close_notify: the server's end of stream
  double dt = bench_now() - t0, cpu = cpu_seconds() - c0;
  free(buf);
  cio_tls_ctx_free(ctx);
  if (rc == 0) rc = closed;
  if (rc < 0) {
    fprintf(stderr, "tls_bulk: write: %s\n", cio_strerror(rc));
    return rc;
  }
  printf("client sent %ld MiB in %.3f s, CPU %.0f%%\n", a->mib, dt, 100 * cpu / dt);
  return 0;
}

int main(int argc, char **argv) {
  struct args a = {NULL, NULL, NULL, 2048};
  if (argc == 5 && strcmp(argv[1], "server") == 0) {
    a = (struct args){argv[2], argv[3], argv[4], 0};
    return cio_run(server, &a) < 0;
  }
  if ((argc == 4 || argc == 5) && strcmp(argv[1], "client") == 0) {
    a = (struct args){argv[2], argv[3], NULL, argc == 5 ? atol(argv[4]) : 2048};
    if (a.mib > 0) return cio_run(client, &a) < 0;
  }
  fprintf(stderr, "usage: bench_tls_bulk server <port> <cert.pem> <key.pem>\n"
                  "       bench_tls_bulk client <port> <ca.pem> [MiB]\n");
  return 2;
}
