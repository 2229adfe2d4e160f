// SPDX-License-Identifier: MIT
//
// The task watcher (see watch.h).
#include "watch.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "../internal.h"

static void on_done(cio__waiter *waiter, void *from) {
  (void)from;
  cio__watch *w = waiter->data;
  w->order[w->ndone++] = (size_t)(waiter - w->waiters);
  cio__wake(w->L, w->owner, 0);
}

static int check(cio__loop *L, cio_task **tasks, size_t n, const char *fn) {
  if (!tasks) return -EINVAL;
  size_t i;
  int rc = 0;
  for (i = 0; i < n; i++) {
    cio_task *t = cio__task_of_checked(L, tasks[i], fn);
    if (!t || t->detached || t->joining || t->marked) {
      rc = -EINVAL;
      break;
    }
    t->marked = true;
  }
  for (size_t j = 0; j < i; j++) cio__rec(tasks[j])->marked = false;
  return rc;
}

// Storage for n waiters and n indices: inline for small sets, else the
// loop's spare buffer when it is big enough (a program that gathers 100,000
// tasks in a loop would otherwise map and fault in fresh memory each time:
// glibc serves blocks that size with mmap), else malloc'd.
static int storage_get(cio__watch *w, size_t n) {
  cio__loop *L = w->L;
  if (n <= CIO__WATCH_INLINE) {
    w->waiters = w->inline_waiters;
    w->order = w->inline_order;
    w->cap = CIO__WATCH_INLINE;
    return 0;
  }
  void *buf;
  if (L->watch_spare && L->watch_spare_n >= n) {
    buf = L->watch_spare;
    w->cap = L->watch_spare_n;
    L->watch_spare = NULL;
  } else {
    if (n > SIZE_MAX / (sizeof *w->waiters + sizeof *w->order)) return -ENOMEM;
    buf = malloc(n * (sizeof *w->waiters + sizeof *w->order));
    if (!buf) return -ENOMEM;
    w->cap = n;
  }
  w->waiters = buf;
  w->order = (size_t *)(void *)(w->waiters + w->cap);
  return 0;
}

// Gives the storage back: the larger of it and the loop's spare is kept.
static void storage_put(cio__watch *w) {
  cio__loop *L = w->L;
  if (w->waiters == w->inline_waiters) return;
  if (L->watch_spare && L->watch_spare_n >= w->cap) {
    free(w->waiters);
    return;
  }
  free(L->watch_spare);
  L->watch_spare = w->waiters;
  L->watch_spare_n = w->cap;
  L->watch_spare_at = cio__loop_now(L);
}

int cio__watch_start(cio__watch *w, cio__loop *L, cio_task **tasks, size_t n, const char *fn) {
  int rc = check(L, tasks, n, fn);
  if (rc < 0) return rc;
  w->L = L;
  w->owner = L->current;
  w->tasks = tasks;
  w->n = n;
  w->ndone = 0;
  if (storage_get(w, n) < 0) return -ENOMEM;
  for (size_t i = 0; i < n; i++) {
    cio__waiter *waiter = &w->waiters[i];
    *waiter = (cio__waiter){.notify = on_done, .data = w};
    cio_task *t = cio__rec(tasks[i]);
    if (t->state >= CIO__DONE)
      w->order[w->ndone++] = i;
    else
      cio__waitq_push(&t->done_waiters, waiter);
  }
  return 0;
}

void cio__watch_detach(cio__watch *w) {
  for (size_t i = 0; i < w->n; i++)
    if (w->waiters[i].linked)
      cio__waitq_remove(&cio__rec(w->tasks[i])->done_waiters, &w->waiters[i]);
}

void cio__watch_stop(cio__watch *w) {
  cio__watch_detach(w);
  storage_put(w);
  w->waiters = NULL;
  w->order = NULL;
  w->n = 0;
}

int cio__watch_park(cio__watch *w, size_t seen, int64_t deadline, const char *what) {
  if (w->ndone > seen) return 0;
  return cio__park(w->L, deadline, what);
}

void cio__watch_cancel_rest(cio__watch *w) {
  for (size_t i = 0; i < w->n; i++) cio__task_cancel(w->L, cio__rec(w->tasks[i]));
}
