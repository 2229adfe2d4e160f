// SPDX-License-Identifier: MIT
//
// Diagnostics every layer may use, at the bottom of the house: warnings,
// fatal errors, the misuse line (an awaiting call outside a task), and the
// seconds-to-nanoseconds conversion every timed call shares.  They know
// nothing of loops or tasks: cio_run tells this module, per thread, whether
// a loop runs and whether it is in debug mode (cio__diag_enter/leave).
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

// What a misuse line needs to know of this thread.
static _Thread_local bool loop_runs; // a loop runs on this thread (cio_run)
static _Thread_local bool debug;     // in debug mode

void cio__diag_enter(bool debug_mode) {
  loop_runs = true;
  debug = debug_mode;
}

void cio__diag_leave(void) { loop_runs = debug = false; }

static bool env_debug(void) {
  const char *e = getenv("CIO_DEBUG");
  return e && *e && strcmp(e, "0") != 0;
}

// One line "cio: <prefix><message>" to stderr, formatted first so that it
// goes out in one write.
static void report(const char *prefix, const char *fmt, va_list ap) {
  char buf[512];
  vsnprintf(buf, sizeof buf, fmt, ap);
  fprintf(stderr, "cio: %s%s\n", prefix, buf);
}

void cio__warn(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  report("", fmt, ap);
  va_end(ap);
}

_Noreturn void cio__fatal(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  report("fatal: ", fmt, ap);
  va_end(ap);
  abort();
}

int cio__misuse_outside(const char *fn) {
  const char *where = loop_runs ? "on the loop's own stack (a thread-safe callback), not in a task"
                                : "outside cio_run(): no event loop runs on this thread";
  fprintf(stderr,
          "cio: %s() called %s; await only from a task started by cio_run() or cio_spawn()\n", fn,
          where);
  if (loop_runs ? debug : env_debug()) abort();
  return -EPERM;
}

int cio__seconds_to_ns(double s, int64_t *ns) {
  if (isnan(s) || s < 0) return -EINVAL;
  if (s >= 9.2e9) {
    *ns = INT64_MAX;
    return 0;
  }
  *ns = (int64_t)(s * 1e9 + 0.5);
  return 0;
}
