// SPDX-License-Identifier: MIT
//
// The wait queue: a FIFO of waiters that every blocking object (task
// completion, locks, events, queues...) is built on.  Waking is FIFO, and a
// waiter that leaves because it timed out or was cancelled unlinks itself,
// so a wakeup is never spent on a waiter that is gone.
#include "task.h"

void cio__waitq_push(cio__waitq *q, cio__waiter *w) {
  w->next = NULL;
  w->prev = q->tail;
  if (q->tail)
    q->tail->next = w;
  else
    q->head = w;
  q->tail = w;
  w->linked = true;
}

void cio__waitq_remove(cio__waitq *q, cio__waiter *w) {
  if (!w->linked) return;
  if (w->prev)
    w->prev->next = w->next;
  else
    q->head = w->next;
  if (w->next)
    w->next->prev = w->prev;
  else
    q->tail = w->prev;
  w->prev = w->next = NULL;
  w->linked = false;
}

// A waiter whose task is no longer parked was woken already, by its timeout
// or by a cancellation, and has not run yet to unlink itself: it is leaving
// empty-handed, so the wake-up (a permit, the lock, an item) goes to the next
// waiter instead.  Handing it to the leaver lost it: a semaphore shrank for
// good, a lock stayed held by a task that had given up (found by the chaos
// tests in test_sync.c).
cio__waiter *cio__waitq_wake_one(cio__loop *L, cio__waitq *q, int code, void *from) {
  cio__waiter *w;
  while ((w = q->head)) {
    cio__waitq_remove(q, w);
    if (w->notify) {
      w->notify(w, from);
      return w;
    }
    if (w->task->state == CIO__PARKED) {
      cio__wake(L, w->task, code);
      return w;
    }
  }
  return NULL;
}

size_t cio__waitq_wake_all(cio__loop *L, cio__waitq *q, int code, void *from) {
  size_t n = 0;
  while (cio__waitq_wake_one(L, q, code, from)) n++;
  return n;
}

int cio__waitq_wait(cio__loop *L, cio__waitq *q, int64_t deadline, const char *what) {
  cio__waiter w = {.task = L->current};
  cio__waitq_push(q, &w);
  L->current->wait_obj = q;
  int rc = cio__park(L, deadline, what);
  cio__waitq_remove(q, &w);
  return rc;
}
