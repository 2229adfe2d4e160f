// SPDX-License-Identifier: MIT
//
// The guide's cancellation: start a long task, cancel it after a second,
// await it and see the cancellation.
#include <cio.h>
#include <stdio.h>

static int long_running(void *arg) {
  (void)arg;
  int rc = cio_sleep(3600);
  if (rc == -ECANCELED) {
    // Cleanup may still await, inside a shield scope.
    cio_scope shield;
    cio_shield_begin(&shield);
    int cleanup = cio_sleep(0.1); // e.g. flush, say goodbye
    cio_scope_end(&shield);
    printf("cleaned up (%s)\n", cio_strerror(cleanup));
  }
  return rc;
}

static int run(void *arg) {
  (void)arg;
  cio_task *task = cio_spawn(long_running, NULL); // task = asyncio.create_task(...)
  int rc = cio_sleep(1);                          // await asyncio.sleep(1)
  cio_cancel(task);                               // task.cancel()
  if (cio_join(task) == -ECANCELED)               // try: await task
    printf("Cancelled\n");                        // except CancelledError
  return rc;
}

int main(void) { return cio_run(run, NULL) < 0; }
