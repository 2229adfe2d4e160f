// SPDX-License-Identifier: MIT
//
// spawn: spawn 1,000,000 trivial tasks, then join them all (the peers'
// shape).  Reports nanoseconds per task (spawn + run + join); an earlier
// line gives spawn-one-join-one, where everything stays in cache.
#include <cio.h>

#include "bench.h"

static int trivial(void *arg) { return (int)(intptr_t)arg & 1; }

static int bench(void *arg) {
  long n = *(long *)arg;
  cio_task **t = malloc(sizeof *t * (size_t)n);
  if (!t) return -1;
  // Warm up the pools once, as a long-running program would have them.
  for (long i = 0; i < n / 10; i++) t[i] = cio_spawn(trivial, (void *)(intptr_t)i);
  for (long i = 0; i < n / 10; i++)
    if (cio_join(t[i]) < 0) return -1;
  double t0 = bench_now();
  for (long i = 0; i < n; i++) t[i] = cio_spawn(trivial, (void *)(intptr_t)i);
  long sum = 0;
  for (long i = 0; i < n; i++) sum += cio_join(t[i]);
  double dt = bench_now() - t0;
  // For reference, the hot-cache shape (libdill's): spawn one, join it.
  double t1 = bench_now();
  for (long i = 0; i < n; i++) sum += cio_join(cio_spawn(trivial, (void *)(intptr_t)i));
  printf("spawn one-at-a-time %.1f ns\n", (bench_now() - t1) * 1e9 / n);
  free(t);
  if (sum != n) return -1;
  *(long *)arg = (long)(dt * 1e9 / n * 100);
  return 0;
}

int main(int argc, char **argv) {
  long n = bench_count(argc, argv, 1000000);
  long v = n;
  if (cio_run(bench, &v) < 0) return 1;
  printf("tasks %ld\n", n);
  printf("spawn %.1f ns\n", v / 100.0);
  return 0;
}
