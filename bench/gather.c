// SPDX-License-Identifier: MIT
//
// gather: spawn 100,000 tasks that each yield once, then cio_gather() them.
// Ten rounds; reports the median nanoseconds per task.
#include <cio.h>
#include <stdint.h>

#include "bench.h"

static int yield_once(void *arg) {
  (void)arg;
  return cio_yield();
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

struct params {
  long n, rounds; // tasks per round, rounds
  double ns;      // result: median ns per task
};

static int bench(void *arg) {
  struct params *p = arg;
  cio_task **t = malloc(sizeof *t * (size_t)p->n);
  double *per = malloc(sizeof *per * (size_t)p->rounds);
  if (!t || !per) return -1;
  for (long r = 0; r < p->rounds; r++) {
    double t0 = bench_now();
    for (long i = 0; i < p->n; i++) t[i] = cio_spawn(yield_once, NULL);
    if (cio_gather(t, (size_t)p->n, NULL, 0) < 0) return -1;
    per[r] = (bench_now() - t0) * 1e9 / p->n;
  }
  qsort(per, (size_t)p->rounds, sizeof *per, cmp);
  printf("min %.1f ns\nmax %.1f ns\n", per[0], per[p->rounds - 1]);
  p->ns = per[p->rounds / 2];
  free(per);
  free(t);
  return 0;
}

int main(int argc, char **argv) {
  struct params p = {.n = bench_count(argc, argv, 100000), .rounds = argc > 2 ? atol(argv[2]) : 10};
  if (p.n <= 0 || p.rounds <= 0 || cio_run(bench, &p) < 0) return 1;
  printf("tasks %ld\n", p.n);
  printf("gather %.1f ns\n", p.ns);
  return 0;
}
