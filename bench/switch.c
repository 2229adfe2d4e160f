// SPDX-License-Identifier: MIT
//
// switch: two tasks ping-pong through the scheduler with cio_yield().
// Reports nanoseconds per switch (elapsed / total yields).
#include <cio.h>

#include "bench.h"

static long rounds;

static int pinger(void *arg) {
  (void)arg;
  for (long i = 0; i < rounds; i++)
    if (cio_yield() < 0) return -1;
  return 0;
}

static int bench(void *arg) {
  double *ns = arg;
  cio_task *a = cio_spawn(pinger, NULL), *b = cio_spawn(pinger, NULL);
  double t0 = bench_now();
  int ra = cio_join(a), rb = cio_join(b);
  double dt = bench_now() - t0;
  *ns = dt * 1e9 / (2.0 * rounds);
  return ra < 0 ? ra : rb;
}

int main(int argc, char **argv) {
  rounds = bench_count(argc, argv, 20000000);
  double ns = 0;
  if (cio_run(bench, &ns) < 0) return 1;
  printf("yields %ld\n", 2 * rounds);
  printf("switch %.2f ns\n", ns);
  return 0;
}
