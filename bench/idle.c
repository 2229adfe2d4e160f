// SPDX-License-Identifier: MIT
//
// idle: 100,000 tasks each sleeping 1 s.  Reports the resident memory each
// sleeping task adds (VmRSS while all sleep minus before, over N) and the
// wall time until all have finished.
#include <cio.h>

#include "bench.h"

static int sleeper(void *arg) {
  (void)arg;
  return cio_sleep(1.0);
}

struct result {
  long n;      // tasks
  double kib;  // resident KiB per task
  double wall; // seconds until all finished
};

static int bench(void *arg) {
  struct result *r = arg;
  cio_task **t = malloc(sizeof *t * (size_t)r->n);
  if (!t) return -1;
  long before = bench_rss_kib();
  double t0 = bench_now();
  for (long i = 0; i < r->n; i++) t[i] = cio_spawn(sleeper, NULL);
  if (cio_sleep(0.5) < 0) return -1; // all are asleep now
  long during = bench_rss_kib();
  for (long i = 0; i < r->n; i++)
    if (cio_join(t[i]) < 0) return -1;
  r->wall = bench_now() - t0;
  r->kib = (double)(during - before) / r->n;
  free(t);
  return 0;
}

int main(int argc, char **argv) {
  struct result r = {.n = bench_count(argc, argv, 100000)};
  if (cio_run(bench, &r) < 0) return 1;
  printf("tasks %ld\n", r.n);
  printf("idle wall %.3f s\n", r.wall);
  printf("idle %.2f KiB\n", r.kib);
  return 0;
}
