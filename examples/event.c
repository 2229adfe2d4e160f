// SPDX-License-Identifier: MIT
//
// The guide's Event: tasks wait until another one signals.
#include <cio.h>
#include <stdio.h>

static int worker(void *arg) {
  cio_event *ready = arg;
  int rc = cio_event_wait(ready); // await event.wait()
  if (rc == 0) printf("[%.2f] %s starts\n", cio_now(), cio_task_name(cio_current()));
  return rc;
}

static int run(void *arg) {
  (void)arg;
  cio_event *ready = cio_event_new();
  cio_task *t[3] = {cio_spawn_named("worker-1", worker, ready),
                    cio_spawn_named("worker-2", worker, ready),
                    cio_spawn_named("worker-3", worker, ready)};
  printf("[%.2f] preparing...\n", cio_now());
  int rc = cio_sleep(0.5);
  cio_event_set(ready); // event.set(): all waiters go
  int wrc = cio_gather(t, 3, NULL, 0);
  cio_event_free(ready);
  return rc < 0 ? rc : wrc;
}

int main(void) { return cio_run(run, NULL) < 0; }
