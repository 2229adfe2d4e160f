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
#include <stdatomic.h>
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

// The lock: glibc's adaptive mutex, which spins briefly before it sleeps
// (what it guards takes tens of nanoseconds).  A plain spinlock was tried
// and lost badly on a loaded machine: a holder descheduled makes the other
// thread spin through its whole time slice.
typedef pthread_mutex_t xlock;

static void xlock_init(xlock *l) {
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
#ifdef PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
  pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
#endif
  pthread_mutex_init(l, &a);
  pthread_mutexattr_destroy(&a);
}

static void lock(xlock *l) { pthread_mutex_lock(l); }
static void unlock(xlock *l) { pthread_mutex_unlock(l); }

static void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

// A list of waiters, first come first served.
struct xlist {
  struct xwaiter *head, *tail;
};

struct cio_xqueue {
  uint32_t magic;       // CIO__XQUEUE_MAGIC while alive
  xlock mu;             // guards everything below (len is also read without it)
  void **ring;          // items, oldest at head
  size_t cap;           //   slots (grows when unbounded)
  size_t head;          //   the oldest
  atomic_size_t len;    //   how many (read unlocked by a waiter about to park)
  size_t maxsize;       // 0: unbounded
  size_t unfinished;    // put and not yet task_done
  bool shutdown;        // cio_xqueue_shutdown was called
  struct xlist getters; // waiting for an item
  struct xlist putters; // waiting for room
  struct xlist joiners; // waiting for unfinished to reach 0
};

static bool valid(const cio_xqueue *q) { return q && q->magic == CIO__XQUEUE_MAGIC; }

// len is written under the lock only; relaxed accesses compile to plain ones.
static size_t len_of(const cio_xqueue *q) {
  return atomic_load_explicit((atomic_size_t *)&q->len, memory_order_relaxed);
}

static void len_set(cio_xqueue *q, size_t n) {
  atomic_store_explicit(&q->len, n, memory_order_relaxed);
}

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
  lock(&q->mu);
  bool gone = w->gone;
  w->woken = true;
  unlock(&q->mu);
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

// Parks the calling task on list l until woken or `deadline` (the lock
// held on entry and on return), after a short spin the first time of a
// call (*spun).  Returns 0 when woken or when the spin saw the queue
// change, or -ECANCELED, -ETIMEDOUT, -ENOMEM.  A caller that leaves with
// an error passes on the wakeup it may have been given.
static int wait_on(cio_xqueue *q, struct xlist *l, cio__loop *L, int64_t deadline, const char *what,
                   bool *spun) {
  // The other loop is likely busy putting or getting: look for a few
  // microseconds before parking, which costs a wakeup through its loop.
  // Once per call, so that a call that keeps losing the race still parks
  // (and its timeout and cancellation are heard).
  if (!*spun) {
    *spun = true;
    unlock(&q->mu);
    size_t was = atomic_load_explicit(&q->len, memory_order_relaxed);
    for (int i = 0; i < 200; i++) {
      cpu_relax();
      if (atomic_load_explicit(&q->len, memory_order_relaxed) != was) break;
    }
    lock(&q->mu);
    // The caller looks at the queue again, under the lock: what it waits
    // for may have come and gone while the lock was free (a putter that
    // found the queue full must not park on a queue since emptied).
    return cio__checkpoint(L);
  }
  struct xwaiter *w = cio__calloc(1, sizeof *w);
  if (!w) return -ENOMEM;
  w->L = L;
  w->task = L->current;
  list_push(l, w);
  unlock(&q->mu);
  cio_loop_hold(L, 1);
  int rc = cio__park(L, deadline, what);
  cio_loop_hold(L, -1);
  lock(&q->mu);
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
  xlock_init(&q->mu);
  if (!q->ring) {
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
  lock(&q->mu);
  bool busy = q->getters.head || q->putters.head || q->joiners.head;
  bool items = len_of(q) != 0;
  unlock(&q->mu);
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
  size_t len = len_of(q);
  if (len == q->cap) { // unbounded: grow, the ring unrolled
    size_t cap = q->cap * 2;
    void **ring = cio__malloc(cap * sizeof *ring);
    if (!ring) return -ENOMEM;
    for (size_t i = 0; i < len; i++) ring[i] = q->ring[(q->head + i) % q->cap];
    free(q->ring);
    q->ring = ring;
    q->cap = cap;
    q->head = 0;
  }
  q->ring[(q->head + len) % q->cap] = item;
  len_set(q, len + 1);
  q->unfinished++;
  wake_first(q, &q->getters);
  return 0;
}

static void *pop(cio_xqueue *q) {
  void *item = q->ring[q->head];
  q->head = (q->head + 1) % q->cap;
  len_set(q, len_of(q) - 1);
  wake_first(q, &q->putters);
  return item;
}

static bool full(const cio_xqueue *q) { return q->maxsize && len_of(q) >= q->maxsize; }

int cio_xqueue_put_for(cio_xqueue *q, void *item, double timeout) {
  cio__loop *L;
  int64_t deadline = cio__await_deadline("cio_xqueue_put", timeout, &L);
  if (deadline < 0) return (int)deadline;
  if (!valid(q) || !item) return -EINVAL;
  int rc = cio__checkpoint(L);
  if (rc < 0) return rc;
  bool spun = false;
  lock(&q->mu);
  for (;;) {
    if (q->shutdown) {
      rc = -ESHUTDOWN;
      break;
    }
    if (!full(q)) {
      rc = push(q, item);
      break;
    }
    rc = wait_on(q, &q->putters, L, deadline, "cio_xqueue_put", &spun);
    if (rc < 0) {
      // Leaving: a wakeup meant for this task goes to the next putter.
      if (!full(q)) wake_first(q, &q->putters);
      break;
    }
  }
  unlock(&q->mu);
  return rc;
}

int cio_xqueue_put(cio_xqueue *q, void *item) { return cio_xqueue_put_for(q, item, CIO_FOREVER); }

int cio_xqueue_put_nowait(cio_xqueue *q, void *item) {
  if (!valid(q) || !item) return -EINVAL;
  lock(&q->mu);
  int rc = q->shutdown ? -ESHUTDOWN : full(q) ? -EAGAIN : push(q, item);
  unlock(&q->mu);
  return rc;
}

int cio_xqueue_get_for(cio_xqueue *q, void **item, double timeout) {
  cio__loop *L;
  int64_t deadline = cio__await_deadline("cio_xqueue_get", timeout, &L);
  if (deadline < 0) return (int)deadline;
  if (!valid(q) || !item) return -EINVAL;
  int rc = cio__checkpoint(L);
  if (rc < 0) return rc;
  bool spun = false;
  lock(&q->mu);
  for (;;) {
    if (len_of(q)) {
      *item = pop(q);
      rc = 0;
      break;
    }
    if (q->shutdown) {
      rc = -ESHUTDOWN;
      break;
    }
    rc = wait_on(q, &q->getters, L, deadline, "cio_xqueue_get", &spun);
    if (rc < 0) {
      if (len_of(q)) wake_first(q, &q->getters); // pass a wakeup on
      break;
    }
  }
  unlock(&q->mu);
  return rc;
}

int cio_xqueue_get(cio_xqueue *q, void **item) { return cio_xqueue_get_for(q, item, CIO_FOREVER); }

int cio_xqueue_get_nowait(cio_xqueue *q, void **item) {
  if (!valid(q) || !item) return -EINVAL;
  lock(&q->mu);
  int rc = 0;
  if (len_of(q))
    *item = pop(q);
  else
    rc = q->shutdown ? -ESHUTDOWN : -EAGAIN;
  unlock(&q->mu);
  return rc;
}

int cio_xqueue_task_done(cio_xqueue *q) {
  if (!valid(q)) return -EINVAL;
  lock(&q->mu);
  int rc = 0;
  if (q->unfinished == 0)
    rc = -EOVERFLOW;
  else if (--q->unfinished == 0)
    wake_all(q, &q->joiners);
  unlock(&q->mu);
  return rc;
}

int cio_xqueue_join_for(cio_xqueue *q, double timeout) {
  cio__loop *L;
  int64_t deadline = cio__await_deadline("cio_xqueue_join", timeout, &L);
  if (deadline < 0) return (int)deadline;
  if (!valid(q)) return -EINVAL;
  int rc = cio__checkpoint(L);
  if (rc < 0) return rc;
  lock(&q->mu);
  bool spun = true; // a join waits for work to be done: no spinning
  while (q->unfinished && rc == 0)
    rc = wait_on(q, &q->joiners, L, deadline, "cio_xqueue_join", &spun);
  unlock(&q->mu);
  return rc;
}

int cio_xqueue_join(cio_xqueue *q) { return cio_xqueue_join_for(q, CIO_FOREVER); }

int cio_xqueue_shutdown(cio_xqueue *q, bool immediate) {
  if (!valid(q)) return -EINVAL;
  lock(&q->mu);
  q->shutdown = true;
  int dropped = 0;
  if (immediate) {
    size_t len = len_of(q);
    dropped = (int)len;
    q->unfinished = q->unfinished > len ? q->unfinished - len : 0;
    len_set(q, 0);
    wake_all(q, &q->getters);
    if (q->unfinished == 0) wake_all(q, &q->joiners);
  }
  wake_all(q, &q->putters);
  if (!len_of(q)) wake_all(q, &q->getters);
  unlock(&q->mu);
  return dropped;
}

size_t cio_xqueue_size(cio_xqueue *q) {
  if (!valid(q)) return 0;
  lock(&q->mu);
  size_t n = len_of(q);
  unlock(&q->mu);
  return n;
}
