// SPDX-License-Identifier: MIT
//
// The guide's Lock: "only one task can be here at a time".  Each task reads
// a shared counter, awaits, and writes it back: without the lock, updates
// would be lost.
#include <cio.h>
#include <stdio.h>

static cio_lock *lock;
static int counter;

static int increment(void *arg) {
  (void)arg;
  for (int i = 0; i < 1000; i++) {
    int rc = cio_lock_acquire(lock); // async with lock:
    if (rc < 0) return rc;
    int v = counter;
    rc = cio_yield(); // another task runs here
    counter = v + 1;
    cio_lock_release(lock);
    if (rc < 0) return rc;
  }
  return 0;
}

static int run(void *arg) {
  (void)arg;
  lock = cio_lock_new();
  cio_task *t[4];
  for (int i = 0; i < 4; i++) t[i] = cio_spawn(increment, NULL);
  int rc = cio_gather(t, 4, NULL, 0);
  printf("counter = %d (4 x 1000)\n", counter);
  cio_lock_free(lock);
  return rc;
}

int main(void) { return cio_run(run, NULL) < 0; }
