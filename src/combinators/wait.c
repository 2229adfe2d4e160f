// SPDX-License-Identifier: MIT
//
// cio_wait() (the first, the first failure, or all, with a timeout) and
// cio_wait_for() (one task with a timeout).
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../internal.h"
#include "watch.h"

static bool satisfied(const cio__watch *w, enum cio_when when) {
  if (w->ndone == w->n) return true;
  switch (when) {
  case CIO_FIRST_COMPLETED: return w->ndone > 0;
  case CIO_FIRST_EXCEPTION:
    for (size_t i = 0; i < w->ndone; i++)
      if (cio__rec(w->tasks[w->order[i]])->result < 0) return true;
    return false;
  case CIO_ALL_COMPLETED: return false;
  }
  return true;
}

// Puts the finished tasks first (completion order), then the pending ones
// (in their original order).
static int partition(cio__watch *w) {
  cio_task *inline_buf[CIO__WATCH_INLINE];
  cio_task **copy = w->n <= CIO__WATCH_INLINE ? inline_buf : cio__malloc(w->n * sizeof *copy);
  if (!copy) return -ENOMEM;
  memcpy(copy, w->tasks, w->n * sizeof *copy);
  size_t k = 0;
  for (size_t i = 0; i < w->ndone; i++) {
    cio__rec(copy[w->order[i]])->marked = true;
    w->tasks[k++] = copy[w->order[i]];
  }
  for (size_t i = 0; i < w->n; i++) {
    if (cio__rec(copy[i])->marked)
      cio__rec(copy[i])->marked = false;
    else
      w->tasks[k++] = copy[i];
  }
  if (copy != inline_buf) free(copy);
  return 0;
}

int cio_wait(cio_task **tasks, size_t n, enum cio_when when, double timeout) {
  cio__loop *L;
  int64_t deadline = cio__await_deadline("cio_wait", timeout, &L);
  if (deadline < 0) return (int)deadline;
  if (n == 0 || when > CIO_ALL_COMPLETED) return -EINVAL;
  cio__watch w;
  int rc = cio__watch_start(&w, L, tasks, n, "cio_wait");
  if (rc < 0) return rc;
  while (!satisfied(&w, when)) {
    size_t seen = w.ndone;
    rc = cio__watch_park(&w, seen, deadline, "wait");
    if (rc == CIO__PARK_DEADLINE) break; // timed out: report what is done
    if (rc < 0) {
      cio__watch_stop(&w);
      return rc;
    }
  }
  // Stop first: no completion may be recorded while tasks[] is reordered.
  size_t ndone = w.ndone;
  cio__watch_detach(&w);
  rc = partition(&w);
  cio__watch_stop(&w);
  return rc < 0 ? rc : (int)ndone;
}

int cio_wait_for(cio_task *h, double timeout) {
  cio__loop *L = cio__await_loop("cio_wait_for");
  if (!L) return -EPERM;
  cio_task *t = cio__task_of_checked(L, h, "cio_wait_for");
  if (!t || t->detached || t->joining || t == L->current) return -EINVAL;
  cio_scope scope;
  int rc = cio_timeout_begin(&scope, timeout);
  if (rc < 0) return rc;
  int outcome = cio_join(h);
  rc = cio_scope_end(&scope);
  if (outcome != -ECANCELED) return outcome; // a result is never dropped
  if (rc == -ETIMEDOUT) return -ETIMEDOUT;   // our timeout cancelled it
  // The caller's own cancellation or enclosing scope, if any, explains it.
  rc = cio__checkpoint(L);
  return rc < 0 ? rc : outcome;
}
