// SPDX-License-Identifier: MIT
//
// The guide's "loop with delay": do something every interval, until
// cancelled.
#include <cio.h>
#include <stdio.h>

static int every_half_second(void *arg) {
  (void)arg;
  for (;;) {                                       // while True:
    int rc = cio_sleep(0.5);                       //   await asyncio.sleep(0.5)
    if (rc < 0) return rc;                         //   (cancelled: stop)
    printf("[%.2f] doing something\n", cio_now()); //   await do_something()
  }
}

static int run(void *arg) {
  (void)arg;
  cio_task *t = cio_spawn(every_half_second, NULL);
  int rc = cio_sleep(2.2); // let it run a while
  cio_cancel(t);
  int outcome = cio_join(t);
  printf("stopped: %s\n", cio_strerror(outcome));
  return rc;
}

int main(void) { return cio_run(run, NULL) < 0; }
