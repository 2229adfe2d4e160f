// SPDX-License-Identifier: MIT
//
// The load client for the echo benchmark, the same for every server: N
// connections (default 100), each sending a 64-byte message and waiting for
// all of it to come back, over and over, for D seconds (default 5).  Prints
// the messages per second.  Written with cio; pin it to the core the server
// does not use.
//
//   echo_load <port> [connections] [seconds]
#include <cio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define MSG 64

struct load {
  const char *port; // server
  double until;     // loop-clock time to stop
  long messages;    // round trips completed (all connections)
  int errors;       // connections that failed
};

static int conn_fn(void *arg) {
  struct load *l = arg;
  cio_sock *s;
  int rc = cio_tcp_connect(&s, "127.0.0.1", l->port);
  if (rc < 0) {
    l->errors++;
    return rc;
  }
  char msg[MSG], back[MSG];
  memset(msg, 'm', sizeof msg);
  while (cio_now() < l->until) {
    if (cio_sock_write(s, msg, MSG) != MSG) {
      rc = -EIO;
      break;
    }
    size_t got = 0;
    while (got < MSG) {
      ssize_t r = cio_sock_read(s, back + got, MSG - got);
      if (r <= 0) {
        rc = r == 0 ? -EPIPE : (int)r;
        break;
      }
      got += (size_t)r;
    }
    if (rc < 0) break;
    l->messages++;
  }
  if (rc < 0) l->errors++;
  cio_sock_close(s);
  return rc;
}

struct params {
  const char *port; // server
  int n;            // connections
  double seconds;   // duration
};

static int run(void *arg) {
  struct params *p = arg;
  struct load l = {p->port, cio_now() + p->seconds, 0, 0};
  cio_task **t = calloc((size_t)p->n, sizeof *t);
  double t0 = bench_now();
  for (int i = 0; i < p->n; i++) t[i] = cio_spawn(conn_fn, &l);
  int failures = cio_gather(t, (size_t)p->n, NULL, 0);
  (void)failures;
  double dt = bench_now() - t0;
  free(t);
  printf("connections %d, errors %d, seconds %.2f\n", p->n, l.errors, dt);
  printf("echo %.0f msg/s\n", l.messages / dt);
  return l.errors ? -EIO : 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: echo_load <port> [connections] [seconds]\n");
    return 2;
  }
  struct params p = {argv[1], argc > 2 ? atoi(argv[2]) : 100, argc > 3 ? atof(argv[3]) : 5};
  return cio_run(run, &p) < 0;
}
