// SPDX-License-Identifier: MIT
//
// Lock: FIFO-fair, with direct hand-off.  release() gives the lock to the
// first waiter rather than unlocking it, so no newcomer can overtake a
// waiter, and a waiter that is cancelled after being handed the lock hands
// it on to the next one.
#include <stdlib.h>

#include "sync.h"

struct cio_lock {
  uint32_t magic;     // CIO__LOCK_MAGIC while alive
  bool locked;        // held by someone
  cio_task *owner;    // the task that acquired it (for -EDEADLK)
  cio__waitq waiters; // tasks waiting, FIFO
};

static bool valid(const cio_lock *l) { return l && l->magic == CIO__LOCK_MAGIC; }

cio_lock *cio_lock_new(void) {
  cio_lock *l = calloc(1, sizeof *l);
  if (!l) {
    errno = ENOMEM;
    return NULL;
  }
  l->magic = CIO__LOCK_MAGIC;
  cio__waitq_init(&l->waiters);
  return l;
}

int cio_lock_free(cio_lock *l) {
  if (!valid(l)) return -EINVAL;
  l->magic = 0;
  if (cio__tls_loop) cio__waitq_wake_all(cio__tls_loop, &l->waiters, -EIDRM, NULL);
  cio__sync_release(l);
  return 0;
}

int cio_lock_release(cio_lock *l) {
  if (!valid(l)) return -EINVAL;
  if (!l->locked) return -EPERM;
  cio__waiter *w = cio__tls_loop ? cio__waitq_wake_one(cio__tls_loop, &l->waiters, 0, NULL) : NULL;
  if (w) {
    l->owner = w->task; // handed over: it runs holding the lock
  } else {
    l->locked = false;
    l->owner = NULL;
  }
  return 0;
}

static int acquire(cio_lock *l, int64_t deadline, const char *fn) {
  cio__loop *L = cio__task_loop();
  if (!L) return cio__misuse_outside(fn);
  if (!valid(l)) return -EINVAL;
  cio_task *cur = L->current;
  if (!l->locked) {
    l->locked = true;
    l->owner = cur;
    return 0;
  }
  if (l->owner == cur) return -EDEADLK;
  int rc = cio__sync_wait(L, &l->waiters, deadline, "lock");
  if (rc < 0) return rc;
  // Handed the lock; if cancelled meanwhile, hand it on (asyncio's rule).
  rc = cio__checkpoint(L);
  if (rc < 0) cio_lock_release(l);
  return rc;
}

int cio_lock_acquire(cio_lock *l) { return acquire(l, CIO__NEVER, "cio_lock_acquire"); }

int cio_lock_acquire_for(cio_lock *l, double timeout) {
  cio__loop *L = cio__task_loop();
  if (!L) return cio__misuse_outside("cio_lock_acquire_for");
  int64_t deadline;
  if (cio__sync_deadline(L, timeout, &deadline) < 0) return -EINVAL;
  return acquire(l, deadline, "cio_lock_acquire_for");
}

int cio_lock_try_acquire(cio_lock *l) {
  if (!valid(l)) return -EINVAL;
  if (l->locked) return -EBUSY;
  l->locked = true;
  l->owner = cio__tls_loop ? cio__tls_loop->current : NULL;
  return 0;
}

bool cio_lock_locked(const cio_lock *l) { return valid(l) && l->locked; }
