// SPDX-License-Identifier: MIT
//
// sem: a semaphore of 10 permits, 1,000 tasks, 1,000,000 acquisitions in
// all; each holds its permit across one yield.  Checks that never more than
// 10 hold one.  Reports nanoseconds per acquisition.
#include <cio.h>

#include "bench.h"

struct params {
  long per_task;   // acquisitions per task
  int holders;     // holding a permit now
  int max_holders; // most at once
  cio_sem *sem;    // the semaphore
};

static int worker(void *arg) {
  struct params *p = arg;
  for (long i = 0; i < p->per_task; i++) {
    if (cio_sem_acquire(p->sem) < 0) return -1;
    if (++p->holders > p->max_holders) p->max_holders = p->holders;
    int rc = cio_yield();
    p->holders--;
    cio_sem_release(p->sem);
    if (rc < 0) return rc;
  }
  return 0;
}

static int bench(void *arg) {
  struct params *p = arg;
  enum { TASKS = 1000 };
  p->sem = cio_sem_new(10);
  cio_task *t[TASKS];
  double t0 = bench_now();
  for (int i = 0; i < TASKS; i++) t[i] = cio_spawn(worker, p);
  if (cio_gather(t, TASKS, NULL, 0) < 0) return -1;
  double dt = bench_now() - t0;
  if (p->max_holders != 10) return -1;
  printf("max holders %d\n", p->max_holders);
  printf("sem %.2f ns\n", dt * 1e9 / (p->per_task * TASKS));
  return cio_sem_free(p->sem);
}

int main(int argc, char **argv) {
  struct params p = {.per_task = bench_count(argc, argv, 1000)};
  if (p.per_task <= 0 || cio_run(bench, &p) < 0) return 1;
  return 0;
}
