// SPDX-License-Identifier: MIT
//
// The tls_handshake benchmark's cio server: one loop, cio_server_start(),
// and a task per connection that makes the TLS handshake
// (cio_tls_upgrade(), the way cio's HTTPS server does it), reads one
// request (one read, whatever it holds), answers with a short HTTP/1.0
// response and closes (close_notify).  The context is cio's default
// server context (cio_tls_server_ctx_new(): TLS 1.2 and 1.3, OpenSSL's
// default of two TLS 1.3 session tickets per handshake, which cio's API
// does not change).  The load is bench_tls_load; bench/tls_handshake.sh
// runs it and counts this process's CPU time.  Prints "listening <port>".
//
//   bench_tls_accept <port> <cert.pem> <key.pem>
#include <cio.h>
#include <cio/tls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char answer[] = "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n";

static int conn_fn(cio_stream *conn, void *arg) {
  int rc = cio_tls_upgrade(conn, arg, NULL);
  if (rc < 0) return rc;
  char req[4096];
  ssize_t n = cio_stream_read(conn, req, sizeof req);
  if (n <= 0) return (int)n;
  rc = cio_stream_write(conn, answer, sizeof answer - 1);
  return rc < 0 ? rc : cio_stream_drain(conn); // the server closes it
}

struct args {
  const char *port, *cert, *key;
  const char *tickets; // TLS 1.3 tickets per handshake, or NULL: OpenSSL's default
};

static int serve(void *arg) {
  struct args *a = arg;
  cio_tls_ctx *ctx;
  int rc = cio_tls_server_ctx_new(&ctx, a->cert, a->key);
  if (rc < 0) {
    fprintf(stderr, "tls_accept: %s: %s\n", cio_strerror(rc), cio_tls_last_error());
    return rc;
  }
  if (a->tickets) rc = cio_tls_ctx_set_session_tickets(ctx, (unsigned)atoi(a->tickets));
  cio_server *srv;
  if (rc == 0) rc = cio_server_start(&srv, "127.0.0.1", a->port, conn_fn, ctx, NULL);
  if (rc < 0) {
    cio_tls_ctx_free(ctx);
    return rc;
  }
  printf("listening %d\n", cio_server_port(srv));
  fflush(stdout);
  rc = cio_sleep(CIO_FOREVER); // until SIGTERM cancels us
  int closed = cio_server_close(srv, 0.1);
  (void)closed;
  cio_tls_ctx_free(ctx);
  return rc == -ECANCELED ? 0 : rc;
}

int main(int argc, char **argv) {
  if (argc != 4 && argc != 5) {
    fprintf(stderr, "usage: bench_tls_accept <port> <cert.pem> <key.pem> [tickets]\n");
    return 2;
  }
  struct args a = {argv[1], argv[2], argv[3], argc == 5 ? argv[4] : NULL};
  return cio_run(serve, &a) < 0;
}
