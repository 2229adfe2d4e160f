// SPDX-License-Identifier: MIT
//
// The guide's "wait for first": run three fetches, use the first result,
// cancel the rest (asyncio.wait(..., return_when=FIRST_COMPLETED)).
#include <cio.h>
#include <stdio.h>

static int fetch(void *arg) { // takes `arg` milliseconds, returns it
  int ms = (int)(intptr_t)arg;
  int rc = cio_sleep(ms / 1000.0);
  return rc < 0 ? rc : ms;
}

static int run(void *arg) {
  (void)arg;
  cio_task *t[3] = {cio_spawn(fetch, (void *)300), cio_spawn(fetch, (void *)100),
                    cio_spawn(fetch, (void *)200)};
  // done, pending = await asyncio.wait(tasks, return_when=FIRST_COMPLETED)
  int ndone = cio_wait(t, 3, CIO_FIRST_COMPLETED, CIO_FOREVER);
  if (ndone < 0) return ndone;
  int first = cio_join(t[0]); // done tasks come first in the array
  printf("first result: %d ms\n", first);
  for (int i = ndone; i < 3; i++) cio_cancel(t[i]); // for task in pending: task.cancel()
  int outcomes[3];
  int failed = cio_gather(t + 1, 2, outcomes + 1, CIO_GATHER_COLLECT); // reap them
  printf("%d other tasks cancelled\n", failed);
  return 0;
}

int main(void) { return cio_run(run, NULL) < 0; }
