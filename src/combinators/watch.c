// SPDX-License-Identifier: MIT
//
// The task watcher (see watch.h).
#include "watch.h"

#include <errno.h>
#include <stdlib.h>

#include "../internal.h"

static void on_done(cio__waiter *waiter, void *from) {
  (void)from;
  cio__watch *w = waiter->data;
  w->order[w->ndone++] = (size_t)(waiter - w->waiters);
  cio__wake(w->L, w->owner, 0);
}

static int check(cio_task **tasks, size_t n) {
  if (!tasks) return -EINVAL;
  size_t i;
  int rc = 0;
  for (i = 0; i < n; i++) {
    cio_task *t = tasks[i];
    if (!cio__task_valid(t) || t->detached || t->joining || t->marked) {
      rc = -EINVAL;
      break;
    }
    t->marked = true;
  }
  for (size_t j = 0; j < i; j++) tasks[j]->marked = false;
  return rc;
}

int cio__watch_start(cio__watch *w, cio__loop *L, cio_task **tasks, size_t n) {
  int rc = check(tasks, n);
  if (rc < 0) return rc;
  w->L = L;
  w->owner = L->current;
  w->tasks = tasks;
  w->n = n;
  w->ndone = 0;
  if (n <= CIO__WATCH_INLINE) {
    w->waiters = w->inline_waiters;
    w->order = w->inline_order;
  } else {
    w->waiters = malloc(n * sizeof *w->waiters);
    w->order = malloc(n * sizeof *w->order);
    if (!w->waiters || !w->order) {
      free(w->waiters);
      free(w->order);
      return -ENOMEM;
    }
  }
  for (size_t i = 0; i < n; i++) {
    cio__waiter *waiter = &w->waiters[i];
    *waiter = (cio__waiter){.notify = on_done, .data = w};
    if (tasks[i]->state >= CIO__DONE)
      w->order[w->ndone++] = i;
    else
      cio__waitq_push(&tasks[i]->done_waiters, waiter);
  }
  return 0;
}

void cio__watch_detach(cio__watch *w) {
  for (size_t i = 0; i < w->n; i++)
    if (w->waiters[i].linked) cio__waitq_remove(&w->tasks[i]->done_waiters, &w->waiters[i]);
}

void cio__watch_stop(cio__watch *w) {
  cio__watch_detach(w);
  if (w->waiters != w->inline_waiters) {
    free(w->waiters);
    free(w->order);
  }
  w->waiters = NULL;
  w->order = NULL;
  w->n = 0;
}

int cio__watch_park(cio__watch *w, size_t seen, int64_t deadline, const char *what) {
  if (w->ndone > seen) return 0;
  return cio__park(w->L, deadline, what);
}

void cio__watch_cancel_rest(cio__watch *w) {
  for (size_t i = 0; i < w->n; i++)
    if (w->tasks[i]->state < CIO__DONE) cio_cancel(w->tasks[i]);
}
