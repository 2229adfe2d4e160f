// SPDX-License-Identifier: MIT
//
// Opens N concurrent connections to an echo server, sends a few lines on
// each and checks every byte that comes back.
//
//   echo_client [host] [port] [connections]   (default 127.0.0.1 8888 100)
#include <cio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct client {
  const char *host, *port; // server
  int id;                  // which connection
  long bytes;              // bytes echoed back correctly
};

static int one_client(void *arg) {
  struct client *c = arg;
  cio_stream *st;
  int rc = cio_stream_connect(&st, c->host, c->port);
  if (rc < 0) return rc;
  for (int i = 0; i < 10 && rc >= 0; i++) {
    char line[64], back[64];
    int n = snprintf(line, sizeof line, "client %d line %d\n", c->id, i);
    rc = cio_stream_write(st, line, (size_t)n);
    if (rc == 0) rc = cio_stream_drain(st);
    ssize_t got = rc < 0 ? rc : cio_stream_readline(st, back, sizeof back);
    if (got < 0)
      rc = (int)got;
    else if (got != n || memcmp(line, back, (size_t)n) != 0)
      rc = -EPROTO;
    else
      c->bytes += got;
  }
  int closed = cio_stream_close(st);
  return rc < 0 ? rc : closed;
}

struct params {
  const char *host, *port; // server
  int n;                   // connections
};

static int run(void *arg) {
  struct params *p = arg;
  struct client *c = calloc((size_t)p->n, sizeof *c);
  cio_task **t = calloc((size_t)p->n, sizeof *t);
  int *outcomes = calloc((size_t)p->n, sizeof *outcomes);
  if (!c || !t || !outcomes) return -ENOMEM;
  double t0 = cio_now();
  for (int i = 0; i < p->n; i++) {
    c[i] = (struct client){p->host, p->port, i, 0};
    t[i] = cio_spawn(one_client, &c[i]);
  }
  int failures = cio_gather(t, (size_t)p->n, outcomes, CIO_GATHER_COLLECT);
  for (int i = 0; i < p->n; i++)
    if (outcomes[i] < 0) fprintf(stderr, "connection %d: %s\n", i, cio_strerror(outcomes[i]));
  long bytes = 0;
  for (int i = 0; i < p->n; i++) bytes += c[i].bytes;
  printf("%d connections, %ld bytes echoed and checked, %d failed, %.3f s\n", p->n, bytes, failures,
         cio_now() - t0);
  free(c);
  free(t);
  free(outcomes);
  return failures == 0 ? 0 : -EIO;
}

int main(int argc, char **argv) {
  struct params p = {argc > 1 ? argv[1] : "127.0.0.1", argc > 2 ? argv[2] : "8888",
                     argc > 3 ? atoi(argv[3]) : 100};
  if (p.n <= 0) return 2;
  return cio_run(run, &p) < 0;
}
