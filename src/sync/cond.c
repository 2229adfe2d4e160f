// SPDX-License-Identifier: MIT
//
// Condition: wait releases the lock, waits for a notify, and re-acquires
// the lock before returning, shielded, so the caller holds it on every
// return path.  A waiter that is cancelled after being notified passes the
// notification on (asyncio 3.13's rule).
#include <stdlib.h>

#include "sync.h"

struct cio_cond {
  uint32_t magic;     // CIO__COND_MAGIC while alive
  cio_lock *lock;     // the lock it waits with
  bool own_lock;      // created by cio_cond_new(NULL): freed with it
  cio__waitq waiters; // tasks waiting for a notify, FIFO
};

_Static_assert(offsetof(struct cio_cond, magic) == 0, "the magic comes first (sync.h)");

static bool valid(const cio_cond *c) { return c && c->magic == CIO__COND_MAGIC; }

cio_cond *cio_cond_new(cio_lock *lock) {
  cio_cond *c = cio__sync_new(sizeof *c, CIO__COND_MAGIC);
  if (!c) return NULL;
  cio__waitq_init(&c->waiters);
  c->lock = lock ? lock : cio_lock_new();
  if (!c->lock) {
    free(c);
    return cio__null_errno(ENOMEM);
  }
  c->own_lock = !lock;
  return c;
}

int cio_cond_free(cio_cond *c) {
  if (!valid(c)) return cio__bad_handle("cio_cond_free", "condition", c);
  cio__sync_close(&c->magic, &c->waiters);
  if (c->own_lock) cio_lock_free(c->lock);
  cio__quarantine(c);
  return 0;
}

cio_lock *cio_cond_lock(cio_cond *c) { return valid(c) ? c->lock : NULL; }

int cio_cond_notify(cio_cond *c, size_t n) {
  if (!valid(c)) return -EINVAL;
  if (!cio_lock_locked(c->lock)) return -EPERM;
  size_t woken = 0;
  while (woken < n && cio__tls_loop && cio__waitq_wake_one(cio__tls_loop, &c->waiters, 0, NULL))
    woken++;
  return (int)woken;
}

int cio_cond_notify_all(cio_cond *c) { return cio_cond_notify(c, (size_t)-1); }

static int wait(cio__loop *L, cio_cond *c, int64_t deadline) {
  if (!cio_lock_locked(c->lock)) return -EPERM;
  cio_lock *lock = c->lock;
  cio_lock_release(lock);
  int rc = cio__sync_wait(L, &c->waiters, deadline, "condition");
  if (rc == -EIDRM) return rc; // freed: nothing left to touch
  cio_scope shield;
  cio__shield_enter(L->current, &shield);
  int locked = cio_lock_acquire(lock);
  cio__shield_leave(L->current, &shield);
  if (locked < 0) return locked; // only if the lock itself was freed
  if (rc == 0) {
    rc = cio__checkpoint(L);
    if (rc < 0) cio_cond_notify(c, 1); // notified but cancelled: pass it on
  }
  return rc;
}

// One wait, for cio_cond_wait() and cio_cond_wait_for().
static int wait_once(cio_cond *c, double timeout, const char *fn) {
  cio__loop *L;
  int64_t deadline = cio__sync_start(fn, timeout, c, CIO__COND_MAGIC, &L);
  return deadline < 0 ? (int)deadline : wait(L, c, deadline);
}

int cio_cond_wait(cio_cond *c) { return wait_once(c, CIO_FOREVER, "cio_cond_wait"); }

int cio_cond_wait_for(cio_cond *c, double timeout) {
  return wait_once(c, timeout, "cio_cond_wait_for");
}

int cio_cond_wait_until(cio_cond *c, bool (*pred)(void *), void *arg, double timeout) {
  cio__loop *L;
  int64_t deadline = cio__sync_start("cio_cond_wait_until", timeout, c, CIO__COND_MAGIC, &L);
  if (deadline < 0) return (int)deadline;
  if (!pred) return -EINVAL;
  while (!pred(arg)) {
    int rc = wait(L, c, deadline);
    if (rc < 0) return rc;
  }
  return 0;
}
