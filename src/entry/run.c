// SPDX-License-Identifier: MIT
//
// cio_run(): set up a loop on this thread, run main and every task it
// spawns to completion, tear everything down.  The entry point is the top
// layer: it assembles the ones below (loop, scheduler, the debug aids,
// signals), so none of them has to name another above it.
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../debug/debug.h"
#include "../internal.h"
#include "../io/signals.h"
#include "../task/task.h"

#define DEFAULT_STACK (64 * 1024)
#define MIN_STACK (16 * 1024)
#define MAX_STACK (1024L * 1024 * 1024)
#define MAX_POLL_US 100000

// Parses "65536", "64K", "1M".  Returns 0 if unset or malformed.
static size_t env_size(const char *name) {
  const char *e = getenv(name);
  if (!e || !*e) return 0;
  char *end;
  unsigned long long v = strtoull(e, &end, 10);
  if (*end == 'k' || *end == 'K')
    v <<= 10, end++;
  else if (*end == 'm' || *end == 'M')
    v <<= 20, end++;
  if (*end) {
    cio__warn("%s=%s is not a size (use e.g. 256K or 1M); ignoring it", name, e);
    return 0;
  }
  return (size_t)v;
}

static bool env_flag(const char *name) {
  const char *e = getenv(name);
  return e && *e && strcmp(e, "0") != 0;
}

// The thread's own stack, which ASan must be told about when tasks switch
// back to it.
static void find_main_stack(cio__loop *L) {
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) != 0) return;
  pthread_attr_getstack(&attr, &L->main_stack_lo, &L->main_stack_size);
  pthread_attr_destroy(&attr);
}

int cio_run_opts(const cio_opts *opts, cio_fn main_fn, void *arg) {
  if (!main_fn) return -EINVAL;
  if (cio__tls_loop) {
    cio__warn("cio_run() called inside a running loop; spawn a task instead");
    return -EBUSY;
  }
  size_t stack = opts && opts->stack_size ? opts->stack_size : env_size("CIO_STACK_SIZE");
  if (!stack) stack = DEFAULT_STACK;
  if (stack < MIN_STACK || stack > MAX_STACK) return -EINVAL;
  size_t poll_us = opts && opts->poll_us ? opts->poll_us : env_size("CIO_POLL_US");
  if (poll_us > MAX_POLL_US) {
    if (opts && opts->poll_us) return -EINVAL;
    cio__warn("CIO_POLL_US=%zu is above %d; ignoring it", poll_us, MAX_POLL_US);
    poll_us = 0;
  }

  cio__loop *L = cio__calloc(1, sizeof *L);
  if (!L) return -ENOMEM;
  L->debug = (opts && opts->debug) || env_flag("CIO_DEBUG");
  L->spin_max = (int64_t)poll_us * 1000;
  int rc = cio__loop_init(L);
  if (rc < 0) {
    free(L);
    return rc;
  }
  cio__stack_pool_init(&L->stacks, stack);
  find_main_stack(L);
  L->tsan_fiber = cio__tsan_current();
  rc = cio__overflow_install(L);
  if (rc < 0) goto out;
  cio__tls_loop = L;
  cio__diag_enter(L->debug);
  cio__signals_start(L);
  if (L->debug && cio__watchdog_start(L, opts ? opts->block_threshold : 0) < 0)
    cio__warn("debug mode: could not start the watchdog thread");

  L->deadlock_report = cio__deadlock;
  L->smashed_stack = cio__overflow_canary;
  L->main_task = cio__task_new(L, "main", main_fn, arg, "cio_run", 0);
  if (!L->main_task) {
    rc = -ENOMEM;
  } else {
    rc = cio__sched_run(L);
    if (rc == 0) rc = L->main_task->result;
  }

  long longest = cio__watchdog_stop(L);
  if (L->debug) {
    cio__report_lost(L);
    const char *e = getenv("CIO_DEBUG");
    if (e && strcmp(e, "stats") == 0)
      fprintf(stderr,
              "cio: stats: %llu context switches, longest ready queue %zu, longest block %ld ms, "
              "%zu stacks carved\n",
              (unsigned long long)L->switches, L->max_ready, longest, L->stacks.total);
  }
  cio__signals_stop(L);
  cio__tls_loop = NULL;
  cio__diag_leave();
  cio__overflow_uninstall(L);
out:
  cio__task_records_free(L);
  cio__stack_pool_fini(&L->stacks);
  cio__loop_fini(L);
  free(L);
  return rc;
}

int cio_run(cio_fn main_fn, void *arg) { return cio_run_opts(NULL, main_fn, arg); }
