// SPDX-License-Identifier: MIT
//
// wait_first: 10,000 rounds; each spawns 100 tasks of which the first
// finishes after one yield and the rest wait until cancelled, waits for the
// first completion with cio_wait(FIRST_COMPLETED), cancels the rest and
// reaps them all.  Reports microseconds per round.
#include <cio.h>
#include <errno.h>
#include <stdint.h>

#include "bench.h"

static int quick(void *arg) {
  (void)arg;
  return cio_yield();
}

static int forever(void *arg) {
  (void)arg;
  return cio_sleep(CIO_FOREVER);
}

struct params {
  long rounds, k; // rounds, tasks per round
  double us;      // result
};

static int bench(void *arg) {
  struct params *p = arg;
  cio_task **t = malloc(sizeof *t * (size_t)p->k);
  if (!t) return -1;
  double t0 = bench_now();
  for (long r = 0; r < p->rounds; r++) {
    t[0] = cio_spawn(quick, NULL);
    for (long i = 1; i < p->k; i++) t[i] = cio_spawn(forever, NULL);
    cio_task *first = t[0];
    if (cio_wait(t, (size_t)p->k, CIO_FIRST_COMPLETED, CIO_FOREVER) != 1 || t[0] != first)
      return -1;
    for (long i = 1; i < p->k; i++) cio_cancel(t[i]);
    if (cio_gather(t, (size_t)p->k, NULL, 0) != -ECANCELED) return -1;
  }
  p->us = (bench_now() - t0) * 1e6 / p->rounds;
  free(t);
  return 0;
}

int main(int argc, char **argv) {
  struct params p = {.rounds = bench_count(argc, argv, 10000), .k = argc > 2 ? atol(argv[2]) : 100};
  if (p.rounds <= 0 || p.k <= 1 || cio_run(bench, &p) < 0) return 1;
  printf("rounds %ld\n", p.rounds);
  printf("wait_first %.2f us\n", p.us);
  return 0;
}
