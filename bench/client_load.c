// SPDX-License-Identifier: MIT
//
// client_load: requests per second through cio's HTTP client
// (<cio/http_client.h>).  ONE client, N tasks each looping cio_http_get()
// + cio_http_response_free() on URL, so N requests are in flight at all
// times; the client may open N connections and keep N idle ones, so after
// the first requests every one reuses a kept-alive connection.  Only
// status-200 answers count; any failure or other status stops the run and
// fails it.  After WARMUP seconds (default 0.5: connections open, caches
// warm) the count is taken over SECONDS (default 3).  Prints the requests,
// the connections the client opened, and last "client-<N> <req/s> req/s".
// bench/client_load.sh runs it against nginx, beside its peers.
//
//   bench_client_load URL N [SECONDS [WARMUP]]
#include <cio.h>
#include <cio/http_client.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

struct params {
  const char *url;
  long n; // requests in flight (tasks)
  double seconds, warmup;
  cio_http_client *client;
  long done;         // status-200 answers so far
  int failed;        // the first failure's code (0: none yet)
  int failed_status; //   or the first status other than 200
  bool stop;         // the tasks are to end
  double rate;       // result
};

static int worker(void *arg) {
  struct params *p = arg;
  while (!p->stop) {
    cio_http_response *r;
    int rc = cio_http_get(p->client, p->url, &r);
    if (rc < 0) {
      if (!p->failed) p->failed = rc;
      p->stop = true;
      return rc;
    }
    int status = cio_http_response_status(r);
    cio_http_response_free(r);
    if (status != 200) {
      if (!p->failed_status) p->failed_status = status;
      p->stop = true;
      return -1;
    }
    p->done++;
  }
  return 0;
}

static int run(void *arg) {
  struct params *p = arg;
  cio_http_client_opts o = {.max_connections = (size_t)p->n, .max_keepalive = (size_t)p->n};
  int rc = cio_http_client_new(&p->client, &o);
  if (rc < 0) {
    fprintf(stderr, "client_load: cio_http_client_new: %s\n", cio_strerror(rc));
    return rc;
  }
  cio_task **t = calloc((size_t)p->n, sizeof *t);
  if (!t) return -1;
  for (long i = 0; i < p->n; i++)
    if (!(t[i] = cio_spawn(worker, p))) return -1;
  rc = cio_sleep(p->warmup);
  long n0 = p->done;
  double t0 = bench_now();
  if (rc == 0) rc = cio_sleep(p->seconds);
  long n1 = p->done;
  double t1 = bench_now();
  p->stop = true;
  for (long i = 0; i < p->n; i++) {
    int jrc = cio_join(t[i]); // a worker's failure is in p->failed*
    (void)jrc;
  }
  free(t);
  printf("requests %ld in %.3f s\n", n1 - n0, t1 - t0);
  printf("connections %zu\n", cio_http_client_connections(p->client));
  int crc = cio_http_client_close(p->client);
  if (rc < 0 || crc < 0) {
    fprintf(stderr, "client_load: %s\n", cio_strerror(rc < 0 ? rc : crc));
    return -1;
  }
  if (p->failed) {
    fprintf(stderr, "client_load: request failed: %s (%s)\n", cio_strerror(p->failed),
            cio_http_client_error());
    return -1;
  }
  if (p->failed_status) {
    fprintf(stderr, "client_load: status %d\n", p->failed_status);
    return -1;
  }
  p->rate = (double)(n1 - n0) / (t1 - t0);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 3 || atol(argv[2]) < 1) {
    fprintf(stderr, "usage: %s URL N [SECONDS [WARMUP]]\n", argv[0]);
    return 2;
  }
  struct params p = {.url = argv[1],
                     .n = atol(argv[2]),
                     .seconds = argc > 3 ? atof(argv[3]) : 3,
                     .warmup = argc > 4 ? atof(argv[4]) : 0.5};
  if (cio_run(run, &p) < 0) return 1;
  printf("client-%ld %.0f req/s\n", p.n, p.rate);
  return 0;
}
