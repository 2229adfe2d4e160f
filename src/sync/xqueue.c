// SPDX-License-Identifier: MIT
//
// A queue between loops (cio_xqueue): cio_queue's FIFO semantics — maxsize
// backpressure, task_done/join, Python 3.13's shutdown — for tasks on
// different threads.  A mutex guards a ring of pointers and three lists of
// waiters (getters, putters, joiners).  The fast path (room to put, an item
// to get) takes the mutex once and touches no waiter.
//
// Waiting: a task adds a waiter (heap-allocated) to a list and parks, its
// loop held (cio_loop_hold) so that it waits for the post rather than
// calling itself deadlocked.  A put wakes the first getter, a get the
// first putter: the waiter leaves the list and a callback is posted to its
// loop (cio_call_soon_threadsafe; on the waker's own loop, the task is
// woken directly).  The woken task then takes the item or the room itself,
// under the mutex, so an item is never handed to a task that is no longer
// there: a task cancelled or timed out after its wakeup was posted takes
// nothing and passes the wakeup on to the next waiter; the callback, which
// may still be in flight, frees the waiter.  Nothing is lost, nothing is
// doubled (tests/test_xqueue.c drives that with random timeouts and
// cancellations across two loops).
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "../../include/cio.h"
#include "../alloc.h"
#include "../task/task.h"
#include "sync.h"

#define CIO__XQUEUE_MAGIC 0x78717565u // "xque"

// A task waiting on the queue.
struct xwaiter {
  struct xwaiter *next; // the list's next
  cio__loop *L;         // the task's loop
  cio_task *task;       //   and the task
  bool posted;          // left the list to be woken (a callback may be in flight)
  bool woken;           // the wakeup reached the task's loop
  bool gone;            // the task stopped waiting before that: the callback frees it
};

// A list of waiters, first come first served.
struct xlist {
  struct xwaiter *head, *tail;
};

struct cio_xqueue {
  uint32_t magic;       // CIO__XQUEUE_MAGIC while alive
  pthread_mutex_t mu;   // guards everything below
  void **ring;          // items, oldest at head
  size_t cap;           //   slots (grows when unbounded)
  size_t head, len;     //   the oldest, how many
  size_t maxsize;       // 0: unbounded
  size_t unfinished;    // put and not yet task_done
  bool shutdown;        // cio_xqueue_shutdown was called
  struct xlist getters; // waiting for an item
  struct xlist putters; // waiting for room
  struct xlist joiners; // waiting for unfinished to reach 0
};

static bool valid(const cio_xqueue *q) { return q && q->magic == CIO__XQUEUE_MAGIC; }

// ---------------------------------------------------------------- waiters

static void list_push(struct xlist *l, struct xwaiter *w) {
  w->next = NULL;
  if (l->tail)
    l->tail->next = w;
  else
    l->head = w;
  l->tail = w;
}

// Takes w out of l if it is there.  Returns true if it was.
static bool list_remove(struct xlist *l, struct xwaiter *w) {
  struct xwaiter *prev = NULL;
  for (struct xwaiter *p = l->head; p; prev = p, p = p->next) {
    if (p != w) continue;
    if (prev)
      prev->next = p->next;
    else
      l->head = p->next;
    if (l->tail == p) l->tail = prev;
    return true;
  }
  return false;
}

// Runs on the waiter's loop: wakes its task, or frees the waiter the task
// has left.
static void woken_cb(void *arg) {
  struct xwaiter *w = arg;
  cio_xqueue *q = (cio_xqueue *)w->next; // stored there when posted
  pthread_mutex_lock(&q->mu);
  bool gone = w->gone;
  w->woken = true;
  pthread_mutex_unlock(&q->mu);
  if (gone) {
    free(w);
    return;
  }
  cio__wake(w->L, w->task, 0);
}

// Wakes the first waiter of l (the mutex held).  A waiter on this thread's
// loop is woken at once; another loop's gets a posted callback.  A post
// that fails (that loop's callback queue full, -EAGAIN) leaves the waiter
// first in line, woken by the next put or get.
static void wake_first(cio_xqueue *q, struct xlist *l) {
  struct xwaiter *w = l->head;
  if (!w) return;
  l->head = w->next;
  if (!l->head) l->tail = NULL;
  w->posted = true;
  if (w->L == cio__tls_loop) {
    w->woken = true;
    cio__wake(w->L, w->task, 0);
    return;
  }
  w->next = (struct xwaiter *)(void *)q; // the callback's way back to the mutex
  if (cio_call_soon_threadsafe(w->L, woken_cb, w) < 0) {
    w->posted = false;
    w->next = l->head;
    l->head = w;
    if (!l->tail) l->tail = w;
  }
}

static void wake_all(cio_xqueue *q, struct xlist *l) {
  while (l->head) {
    struct xwaiter *before = l->head;
    wake_first(q, l);
    if (l->head == before) break; // could not be posted: left for later
  }
}

// Parks the calling task on list l until woken or `deadline` (the mutex
// held on entry and on return).  Returns 0 when woken, or what cio__park
// returned (-ECANCELED, -ETIMEDOUT, CIO__PARK_DEADLINE as -ETIMEDOUT).
// `pass_on` is the list whose next waiter gets the wakeup this task had
// been given if it leaves without using it (NULL: none).
static int wait_on(cio_xqueue *q, struct xlist *l, cio__loop *L, int64_t deadline,
                   const char *what) {
  struct xwaiter *w = cio__calloc(1, sizeof *w);
  if (!w) return -ENOMEM;
  w->L = L;
  w->task = L->current;
  list_push(l, w);
  pthread_mutex_unlock(&q->mu);
  cio_loop_hold(L, 1);
  int rc = cio__park(L, deadline, what);
  cio_loop_hold(L, -1);
  pthread_mutex_lock(&q->mu);
  if (!w->posted) { // still in line: not woken
    list_remove(l, w);
    free(w);
  } else if (w->woken) {
    free(w);
  } else {
    w->gone = true; // its callback frees it
  }
  if (rc == CIO__PARK_DEADLINE) rc = -ETIMEDOUT;
  if (rc > 0) rc = 0;
  return rc;
}

// ---------------------------------------------------------------- the queue

cio_xqueue *cio_xqueue_new(size_t maxsize) {
  cio_xqueue *q = cio__calloc(1, sizeof *q);
  if (!q) return NULL;
  q->cap = maxsize ? maxsize : 64;
  q->ring = cio__malloc(q->cap * sizeof *q->ring);
  if (!q->ring || pthread_mutex_init(&q->mu, NULL) != 0) {
    free(q->ring);
    free(q);
    errno = ENOMEM;
    return NULL;
  }
  q->maxsize = maxsize;
  q->magic = CIO__XQUEUE_MAGIC;
  return q;
}

int cio_xqueue_free(cio_xqueue *q) {
  if (!valid(q)) return -EINVAL;
  pthread_mutex_lock(&q->mu);
  bool busy = q->getters.head || q->putters.head || q->joiners.head;
  bool items = q->len != 0;
  pthread_mutex_unlock(&q->mu);
  if (busy) return -EBUSY;
  if (items) return -ENOTEMPTY;
  q->magic = 0;
  pthread_mutex_destroy(&q->mu);
  free(q->ring);
  free(q);
  return 0;
}

// Adds item (the mutex held, room checked).  Returns 0 or -ENOMEM.
static int push(cio_xqueue *q, void *item) {
  if (q->len == q->cap) { // unbounded: grow, the ring unrolled
    size_t cap = q->cap * 2;
    void **ring = cio__malloc(cap * sizeof *ring);
    if (!ring) return -ENOMEM;
    for (size_t i = 0; i < q->len; i++) ring[i] = q->ring[(q->head + i) % q->cap];
    free(q->ring);
    q->ring = ring;
    q->cap = cap;
    q->head = 0;
  }
  q->ring[(q->head + q->len) % q->cap] = item;
  q->len++;
  q->unfinished++;
  wake_first(q, &q->getters);
  return 0;
}

static void *pop(cio_xqueue *q) {
  void *item = q->ring[q->head];
  q->head = (q->head + 1) % q->cap;
  q->len--;
  wake_first(q, &q->putters);
  return item;
}

static bool full(const cio_xqueue *q) { return q->maxsize && q->len >= q->maxsize; }

int cio_xqueue_put_for(cio_xqueue *q, void *item, double timeout) {
  cio__loop *L;
  int64_t deadline = cio__await_deadline("cio_xqueue_put", timeout, &L);
  if (deadline < 0) return (int)deadline;
  if (!valid(q) || !item) return -EINVAL;
  int rc = cio__checkpoint(L);
  if (rc < 0) return rc;
  pthread_mutex_lock(&q->mu);
  for (;;) {
    if (q->shutdown) {
      rc = -ESHUTDOWN;
      break;
    }
    if (!full(q)) {
      rc = push(q, item);
      break;
    }
    rc = wait_on(q, &q->putters, L, deadline, "cio_xqueue_put");
    if (rc < 0) {
      // Leaving: a wakeup meant for this task goes to the next putter.
      if (!full(q)) wake_first(q, &q->putters);
      break;
    }
  }
  pthread_mutex_unlock(&q->mu);
  return rc;
}

int cio_xqueue_put(cio_xqueue *q, void *item) { return cio_xqueue_put_for(q, item, CIO_FOREVER); }

int cio_xqueue_put_nowait(cio_xqueue *q, void *item) {
  if (!valid(q) || !item) return -EINVAL;
  pthread_mutex_lock(&q->mu);
  int rc = q->shutdown ? -ESHUTDOWN : full(q) ? -EAGAIN : push(q, item);
  pthread_mutex_unlock(&q->mu);
  return rc;
}

int cio_xqueue_get_for(cio_xqueue *q, void **item, double timeout) {
  cio__loop *L;
  int64_t deadline = cio__await_deadline("cio_xqueue_get", timeout, &L);
  if (deadline < 0) return (int)deadline;
  if (!valid(q) || !item) return -EINVAL;
  int rc = cio__checkpoint(L);
  if (rc < 0) return rc;
  pthread_mutex_lock(&q->mu);
  for (;;) {
    if (q->len) {
      *item = pop(q);
      rc = 0;
      break;
    }
    if (q->shutdown) {
      rc = -ESHUTDOWN;
      break;
    }
    rc = wait_on(q, &q->getters, L, deadline, "cio_xqueue_get");
    if (rc < 0) {
      if (q->len) wake_first(q, &q->getters); // pass a wakeup on
      break;
    }
  }
  pthread_mutex_unlock(&q->mu);
  return rc;
}

int cio_xqueue_get(cio_xqueue *q, void **item) { return cio_xqueue_get_for(q, item, CIO_FOREVER); }

int cio_xqueue_get_nowait(cio_xqueue *q, void **item) {
  if (!valid(q) || !item) return -EINVAL;
  pthread_mutex_lock(&q->mu);
  int rc = 0;
  if (q->len)
    *item = pop(q);
  else
    rc = q->shutdown ? -ESHUTDOWN : -EAGAIN;
  pthread_mutex_unlock(&q->mu);
  return rc;
}

int cio_xqueue_task_done(cio_xqueue *q) {
  if (!valid(q)) return -EINVAL;
  pthread_mutex_lock(&q->mu);
  int rc = 0;
  if (q->unfinished == 0)
    rc = -EOVERFLOW;
  else if (--q->unfinished == 0)
    wake_all(q, &q->joiners);
  pthread_mutex_unlock(&q->mu);
  return rc;
}

int cio_xqueue_join_for(cio_xqueue *q, double timeout) {
  cio__loop *L;
  int64_t deadline = cio__await_deadline("cio_xqueue_join", timeout, &L);
  if (deadline < 0) return (int)deadline;
  if (!valid(q)) return -EINVAL;
  int rc = cio__checkpoint(L);
  if (rc < 0) return rc;
  pthread_mutex_lock(&q->mu);
  while (q->unfinished && rc == 0) rc = wait_on(q, &q->joiners, L, deadline, "cio_xqueue_join");
  pthread_mutex_unlock(&q->mu);
  return rc;
}

int cio_xqueue_join(cio_xqueue *q) { return cio_xqueue_join_for(q, CIO_FOREVER); }

int cio_xqueue_shutdown(cio_xqueue *q, bool immediate) {
  if (!valid(q)) return -EINVAL;
  pthread_mutex_lock(&q->mu);
  q->shutdown = true;
  int dropped = 0;
  if (immediate) {
    dropped = (int)q->len;
    q->unfinished = q->unfinished > q->len ? q->unfinished - q->len : 0;
    q->len = 0;
    wake_all(q, &q->getters);
    if (q->unfinished == 0) wake_all(q, &q->joiners);
  }
  wake_all(q, &q->putters);
  if (!q->len) wake_all(q, &q->getters);
  pthread_mutex_unlock(&q->mu);
  return dropped;
}

size_t cio_xqueue_size(cio_xqueue *q) {
  if (!valid(q)) return 0;
  pthread_mutex_lock(&q->mu);
  size_t n = q->len;
  pthread_mutex_unlock(&q->mu);
  return n;
}
