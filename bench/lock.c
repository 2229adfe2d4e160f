// SPDX-License-Identifier: MIT
//
// lock: 8 tasks contend for one lock, 1,000,000 acquisitions in all; each
// holds the lock across one yield, so the others queue up on it and every
// acquisition is a hand-off.  Reports nanoseconds per acquisition.
#include <cio.h>

#include "bench.h"

struct params {
  long total;     // acquisitions
  long counter;   // incremented under the lock
  cio_lock *lock; // the lock
};

static int worker(void *arg) {
  struct params *p = arg;
  for (long i = 0; i < p->total / 8; i++) {
    if (cio_lock_acquire(p->lock) < 0) return -1;
    p->counter++;
    int rc = cio_yield();
    cio_lock_release(p->lock);
    if (rc < 0) return rc;
  }
  return 0;
}

static int bench(void *arg) {
  struct params *p = arg;
  p->lock = cio_lock_new();
  cio_task *t[8];
  double t0 = bench_now();
  for (int i = 0; i < 8; i++) t[i] = cio_spawn(worker, p);
  if (cio_gather(t, 8, NULL, 0) < 0) return -1;
  double dt = bench_now() - t0;
  if (p->counter != p->total / 8 * 8) return -1;
  printf("lock %.2f ns\n", dt * 1e9 / p->counter);
  return cio_lock_free(p->lock);
}

int main(int argc, char **argv) {
  struct params p = {.total = bench_count(argc, argv, 1000000)};
  if (p.total < 8 || cio_run(bench, &p) < 0) return 1;
  return 0;
}
