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
  if (w->parked) cio__wake(w->L, w->owner, 0);
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

// The spare buffer: the last large waiters-and-order storage, kept for the
// next large gather on this thread's loop and freed after a trim period
// unused.  It attaches to the loop through a hook (before each poll: free it
// if stale, else cap the poll so it will be; at the loop's end: free it), so
// the loop knows nothing of combinators.  One loop per thread: the state is
// the thread's.
static _Thread_local struct spare {
  cio__loop_hook hook; // attached while `buf` is set
  cio__loop *loop;     // the loop it is attached to
  void *buf;           // the buffer, or NULL
  size_t n;            // how many tasks it holds
  int64_t at;          // when it was put back
} spare;

static void spare_drop(void) {
  free(spare.buf);
  spare.buf = NULL;
  if (spare.loop) cio__loop_hook_remove(spare.loop, &spare.hook);
  spare.loop = NULL;
}

static int64_t spare_before_poll(cio__loop *L, cio__loop_hook *h) {
  (void)h;
  int64_t idle = cio__loop_now(L) - spare.at;
  if (idle <= CIO__STACK_TRIM_PERIOD) return CIO__STACK_TRIM_PERIOD - idle; // wake to free it
  spare_drop(); // nobody gathered that many for a while
  return -1;
}

static void spare_fini(cio__loop *L, cio__loop_hook *h) {
  (void)L, (void)h;
  spare.loop = NULL; // (the loop is unlinking its hooks)
  spare_drop();
}

void *cio__watch_spare(size_t *n) {
  *n = spare.n;
  return spare.buf;
}

// Storage for n waiters and n indices: inline for small sets, else the
// spare buffer when it is big enough (a program that gathers 100,000 tasks
// in a loop would otherwise map and fault in fresh memory each time: glibc
// serves blocks that size with mmap), else malloc'd.
static int storage_get(cio__watch *w, size_t n) {
  if (n <= CIO__WATCH_INLINE) {
    w->waiters = w->inline_waiters;
    w->order = w->inline_order;
    w->cap = CIO__WATCH_INLINE;
    return 0;
  }
  void *buf;
  if (spare.buf && spare.loop == w->L && spare.n >= n) {
    buf = spare.buf;
    w->cap = spare.n;
    spare.buf = NULL;
    cio__loop_hook_remove(spare.loop, &spare.hook);
    spare.loop = NULL;
  } else {
    if (n > SIZE_MAX / (sizeof *w->waiters + sizeof *w->order)) return -ENOMEM;
    buf = cio__malloc(n * (sizeof *w->waiters + sizeof *w->order));
    if (!buf) return -ENOMEM;
    w->cap = n;
  }
  w->waiters = buf;
  w->order = (size_t *)(void *)(w->waiters + w->cap);
  return 0;
}

// Gives the storage back: the larger of it and the spare is kept.
static void storage_put(cio__watch *w) {
  cio__loop *L = w->L;
  if (w->waiters == w->inline_waiters) return;
  if (spare.buf && spare.loop == L && spare.n >= w->cap) {
    free(w->waiters);
    return;
  }
  spare_drop();
  spare.buf = w->waiters;
  spare.n = w->cap;
  spare.at = cio__loop_now(L);
  spare.loop = L;
  spare.hook = (cio__loop_hook){.before_poll = spare_before_poll, .fini = spare_fini};
  cio__loop_hook_add(L, &spare.hook);
}

int cio__watch_start(cio__watch *w, cio__loop *L, cio_task **tasks, size_t n, const char *fn) {
  int rc = check(L, tasks, n, fn);
  if (rc < 0) return rc;
  w->L = L;
  w->owner = L->current;
  w->tasks = tasks;
  w->n = n;
  w->ndone = 0;
  w->parked = false;
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
  w->owner = w->L->current;
  w->parked = true;
  int rc = cio__park(w->L, deadline, what);
  w->parked = false;
  return rc;
}

void cio__watch_cancel_rest(cio__watch *w) {
  for (size_t i = 0; i < w->n; i++) cio__task_cancel(w->L, cio__rec(w->tasks[i]));
}
