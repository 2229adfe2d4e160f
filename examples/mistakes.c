// SPDX-License-Identifier: MIT
//
// The guide's five common mistakes, each next to its fix, and what cio
// says about each (run with CIO_DEBUG=1 for mistakes 2 and 3).
//
// Mistake 1, forgetting await: in C, ignoring an awaiting function's result.
//   cio_sleep(1);                      // warning: ignoring return value of 'cio_sleep'
//   if (cio_sleep(1) < 0) return -1;   // fix: check it (tests/compile/ shows the warning)
#include <cio.h>
#include <stdio.h>
#include <unistd.h>

static int background_work(void *arg) {
  (void)arg;
  return cio_sleep(0.1);
}

// Mistake 3: a blocking call in a task stalls every other task.
static int blocking(void *arg) {
  (void)arg;
  usleep(200 * 1000); // wrong: time.sleep(); debug mode reports it while it happens
  return 0;
}

static int not_blocking(void *arg) {
  (void)arg;
  return cio_sleep(0.2); // right: await asyncio.sleep()
}

// Mistake 4: awaiting where there is no task (here: a callback on the loop).
static void callback(void *arg) {
  (void)arg;
  int rc = cio_sleep(1); // wrong: prints a message naming cio_sleep, returns -EPERM
  printf("  callback: cio_sleep returned %s\n", cio_strerror(rc));
}

static int awaits_from_callback(void *arg) {
  (void)arg;
  cio_call_soon_threadsafe(cio_loop_current(), callback, NULL);
  return cio_sleep(0.05);
}

static int run(void *arg) {
  (void)arg;
  // Mistake 2: creating a task but never awaiting it.
  cio_spawn_named("lost", background_work, NULL); // wrong: reported at exit in debug mode
  cio_task *t = cio_spawn(background_work, NULL); // right:
  int rc = cio_join(t);                           //   await task
  cio_task *b = cio_spawn_named("blocker", blocking, NULL);
  cio_task *g = cio_spawn(not_blocking, NULL);
  int rb = cio_join(b), rg = cio_join(g);
  return rc < 0 ? rc : rb < 0 ? rb : rg;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  // Mistake 5: forgetting asyncio.run(): awaiting with no loop at all.
  int rc = cio_sleep(1); // wrong: a message naming cio_sleep, and -EPERM
  printf("without cio_run: %s\n", cio_strerror(rc));
  // Mistake 4 (in debug mode this misuse aborts, so it runs without).
  if (cio_run(awaits_from_callback, NULL) < 0) return 1;
  // Mistakes 2 and 3, with debug mode's reports.
  cio_opts opts = {.debug = true};
  return cio_run_opts(&opts, run, NULL) < 0; // right: cio_run(main, ...)
}
