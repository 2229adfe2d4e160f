// SPDX-License-Identifier: MIT
//
// The guide's "legacy sync libraries" and "CPU-intensive work": blocking
// and CPU-bound calls run on the worker pool (asyncio.to_thread) while the
// loop keeps serving other tasks.
#include <cio.h>
#include <stdio.h>
#include <unistd.h>

static void *legacy_blocking_call(void *arg) { // e.g. a synchronous database driver
  sleep(1);
  return arg;
}

static void *crunch(void *arg) { // CPU-bound
  unsigned long n = (unsigned long)(uintptr_t)arg, x = 0;
  for (unsigned long i = 0; i < n; i++) x += i % 7;
  return (void *)(uintptr_t)x;
}

static int heartbeat(void *arg) {
  (void)arg;
  for (;;) {
    int rc = cio_sleep(0.25);
    if (rc < 0) return rc;
    printf("[%.2f] the loop is still responsive\n", cio_now());
  }
}

static int run(void *arg) {
  (void)arg;
  cio_task *hb = cio_spawn(heartbeat, NULL);
  void *r1, *r2;
  int rc = cio_to_thread(legacy_blocking_call, (void *)"row", &r1); // await asyncio.to_thread(...)
  if (rc == 0) rc = cio_to_thread(crunch, (void *)(uintptr_t)300000000, &r2);
  if (rc == 0)
    printf("blocking call gave \"%s\", crunch gave %lu\n", (char *)r1,
           (unsigned long)(uintptr_t)r2);
  cio_cancel(hb);
  int hrc = cio_join(hb);
  (void)hrc;
  return rc;
}

int main(void) { return cio_run(run, NULL) < 0; }
