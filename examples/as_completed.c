// SPDX-License-Identifier: MIT
//
// The guide's "for loop over results as they arrive"
// (for coro in asyncio.as_completed(tasks): result = await coro).
#include <cio.h>
#include <stdio.h>

static int fetch(void *arg) {
  int ms = (int)(intptr_t)arg;
  int rc = cio_sleep(ms / 1000.0);
  return rc < 0 ? rc : ms;
}

static int run(void *arg) {
  (void)arg;
  cio_task *t[3] = {cio_spawn(fetch, (void *)300), cio_spawn(fetch, (void *)100),
                    cio_spawn(fetch, (void *)200)};
  cio_as_completed *it;
  int rc = cio_as_completed_begin(&it, t, 3, 5.0); // at most 5 s for all
  if (rc < 0) return rc;
  cio_task *done;
  while ((rc = cio_as_completed_next(it, &done)) == 1)
    printf("result %d\n", cio_join(done)); // 100, 200, 300
  cio_as_completed_end(it);
  return rc;
}

int main(void) { return cio_run(run, NULL) < 0; }
