// SPDX-License-Identifier: MIT
//
// timers: 1,000,000 tasks each sleeping a pseudo-random 0-1000 ms (the same
// xorshift64 sequence as the peers).  Reports the wall time from the first
// spawn until every task has finished.
#include <cio.h>
#include <stdint.h>

#include "bench.h"

static int sleeper(void *arg) {
  uint64_t us = (uint64_t)(uintptr_t)arg;
  return cio_sleep((double)us / 1e6);
}

static int bench(void *arg) {
  long n = *(long *)arg;
  cio_task **t = malloc(sizeof *t * (size_t)n);
  if (!t) return -1;
  uint64_t x = 0x9E3779B97F4A7C15ull; // the peers' seed
  double t0 = bench_now();
  for (long i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    t[i] = cio_spawn(sleeper, (void *)(uintptr_t)(x % 1000001));
  }
  for (long i = 0; i < n; i++)
    if (cio_join(t[i]) < 0) return -1;
  double dt = bench_now() - t0;
  free(t);
  *(double *)arg = dt;
  return 0;
}

int main(int argc, char **argv) {
  long n = bench_count(argc, argv, 1000000);
  union {
    long n;
    double wall;
  } v = {.n = n};
  if (cio_run(bench, &v) < 0) return 1;
  printf("tasks %ld\n", n);
  printf("timers %.3f s\n", v.wall);
  return 0;
}
