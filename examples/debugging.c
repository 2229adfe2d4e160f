// SPDX-License-Identifier: MIT
//
// What debug mode shows, on purpose: a task that blocks the loop (the
// guide's time.sleep() mistake), a task handle that is lost, a failure
// nobody reads, and a task dump of tasks waiting on a lock and a queue.
//
//   CIO_DEBUG=stats ./debugging        (build with -rdynamic for names)
#include <cio.h>
#include <stdio.h>
#include <unistd.h>

// Mistake 3: a blocking call inside a task.
__attribute__((noinline)) int load_config_blocking(void) {
  volatile int rc = usleep(250 * 1000);
  return rc; // (not a tail call, so this frame shows in backtraces)
}

static int blocker(void *arg) {
  (void)arg;
  load_config_blocking();
  return 0;
}

__attribute__((noinline)) int wait_for_job(cio_queue *q) {
  void *job;
  return cio_queue_get(q, &job);
}

static int worker(void *arg) { return wait_for_job(arg); }

static int fails(void *arg) {
  (void)arg;
  return -EIO;
}

static int demo(void *arg) {
  (void)arg;
  cio_queue *jobs = cio_queue_new(CIO_QUEUE_FIFO, 0);
  cio_task *w = cio_spawn_named("worker", worker, jobs);
  cio_spawn_named("forgotten", fails, NULL);              // mistake 2: the handle is lost
  cio_detach(cio_spawn_named("background", fails, NULL)); // nobody reads its failure
  if (cio_sleep(0.01) < 0) return -1;
  cio_dump_tasks(stdout); // what SIGQUIT (Ctrl-\) prints too
  cio_task *b = cio_spawn_named("config-loader", blocker, NULL);
  int rc = cio_join(b);
  cio_cancel(w);
  int wrc = cio_join(w);
  cio_queue_free(jobs);
  return rc < 0 ? rc : (wrc == -ECANCELED ? 0 : wrc);
}

int main(void) {
  cio_opts opts = {.debug = true};
  return cio_run_opts(&opts, demo, NULL) < 0;
}
