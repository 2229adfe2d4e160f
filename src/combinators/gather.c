// SPDX-License-Identifier: MIT
//
// cio_gather(): await many tasks, outcomes in order.
#include <errno.h>

#include "../internal.h"
#include "watch.h"

int cio_gather(cio_task **tasks, size_t n, int *outcomes, unsigned flags) {
  cio__loop *L = cio__await_loop("cio_gather");
  if (!L) return -EPERM;
  if (flags & ~(CIO_GATHER_CANCEL_ON_ERROR | CIO_GATHER_COLLECT)) return -EINVAL;
  if ((flags & CIO_GATHER_COLLECT) && !outcomes && n) return -EINVAL;
  if (n == 0) return 0;
  cio__watch w;
  int rc = cio__watch_start(&w, L, tasks, n, "cio_gather");
  if (rc < 0) return rc;
  for (size_t i = 0; i < n; i++) cio__rec(tasks[i])->joining = true; // ours now

  int first_failure = 0, interrupted = 0;
  size_t failures = 0, seen = 0;
  bool cancelling = false;
  cio_scope shield;
  while (seen < n) {
    while (seen < w.ndone) {
      int outcome = cio__rec(tasks[w.order[seen++]])->result;
      if (outcome >= 0) continue;
      failures++;
      if (!first_failure) first_failure = outcome;
      if ((flags & CIO_GATHER_CANCEL_ON_ERROR) && !cancelling) {
        cancelling = true;
        cio__watch_cancel_rest(&w);
      }
    }
    if (seen == n) break;
    rc = cio__watch_park(&w, seen, CIO__NEVER, "gather");
    if (rc < 0 && !interrupted) {
      // Cancelled or timed out: cancel the children and still await them
      // all, under a shield, so none is left running.
      interrupted = rc;
      cancelling = true;
      cio__watch_cancel_rest(&w);
      cio__shield_enter(L->current, &shield);
    }
  }
  if (interrupted) cio__shield_leave(L->current, &shield);
  cio__watch_stop(&w);
  for (size_t i = 0; i < n; i++) {
    cio_task *t = cio__rec(tasks[i]);
    if (outcomes) outcomes[i] = t->result;
    t->outcome_read = true;
    cio__task_free(L, t);
  }
  if (interrupted) return interrupted;
  if (flags & CIO_GATHER_COLLECT) return (int)failures;
  return first_failure;
}
