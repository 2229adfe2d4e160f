// SPDX-License-Identifier: MIT
//
// Lock: FIFO-fair, with direct hand-off.  release() gives the lock to the
// first waiter rather than unlocking it, so no newcomer can overtake a
// waiter, and a waiter that is cancelled after being handed the lock hands
// it on to the next one.
#include <stdlib.h>

#include "sync.h"

struct cio_lock {
  uint32_t magic;      // CIO__LOCK_MAGIC while alive
  bool locked;         // held by someone
  cio_task *owner;     // the record of the task that holds it, or NULL
  uint64_t owner_id;   // that task's id: a record can hold another task later
  uint64_t owner_loop; // the serial of the loop it runs on: records die with their loop
  cio__waitq waiters;  // tasks waiting, FIFO
};

_Static_assert(offsetof(struct cio_lock, magic) == 0, "the magic comes first (sync.h)");

static bool valid(const cio_lock *l) { return l && l->magic == CIO__LOCK_MAGIC; }

// Ownership is by task, not by record: a task that ends holding the lock
// leaves it held (as asyncio's Lock does), and a later task spawned into
// the same record is not its owner.  Each task counts the locks it holds,
// so debug mode can report one that ends holding some.
static bool owned_by(const cio_lock *l, const cio_task *t) {
  return t && l->owner == t && l->owner_id == t->id && l->owner_loop == cio__tls_loop->serial;
}

static void set_owner(cio_lock *l, cio_task *t) {
  cio__loop *L = cio__tls_loop;
  bool owner_here = l->owner && L && L->serial == l->owner_loop; // so its record is mapped
  if (owner_here && l->owner->id == l->owner_id && l->owner->locks_held) l->owner->locks_held--;
  l->owner = t;
  l->owner_id = t ? t->id : 0;
  // NOLINTNEXTLINE(clang-analyzer-core.NullDereference): a task implies its loop (L)
  l->owner_loop = t ? L->serial : 0;
  if (t && t->locks_held < UINT8_MAX) t->locks_held++;
}

cio_lock *cio_lock_new(void) {
  cio_lock *l = cio__sync_new(sizeof *l, CIO__LOCK_MAGIC);
  if (!l) return NULL;
  cio__waitq_init(&l->waiters);
  return l;
}

int cio_lock_free(cio_lock *l) {
  if (!valid(l)) return cio__bad_handle("cio_lock_free", "lock", l);
  cio__sync_close(&l->magic, &l->waiters);
  set_owner(l, NULL);
  cio__quarantine(l);
  return 0;
}

int cio_lock_release(cio_lock *l) {
  if (!valid(l)) return -EINVAL;
  if (!l->locked) return -EPERM;
  cio__waiter *w = cio__tls_loop ? cio__waitq_wake_one(cio__tls_loop, &l->waiters, 0, NULL) : NULL;
  set_owner(l, NULL);
  if (w)
    set_owner(l, w->task); // handed over: it runs holding the lock
  else
    l->locked = false;
  return 0;
}

// Inlined into each public call, so the untimed one folds its CIO_FOREVER
// timeout away (the queue benchmark measured the compare).
__attribute__((always_inline)) static inline int acquire(cio_lock *l, double timeout,
                                                         const char *fn) {
  cio__loop *L; // a free lock never suspends:
  int64_t deadline = cio__sync_start_coop(fn, timeout, l, CIO__LOCK_MAGIC, &L);
  if (deadline < 0) return (int)deadline;
  cio_task *cur = L->current;
  if (!l->locked) {
    l->locked = true;
    set_owner(l, cur);
    return 0;
  }
  if (owned_by(l, cur)) return -EDEADLK;
  bool handed;
  int rc = cio__sync_wait_handoff(L, &l->waiters, deadline, "lock", &handed);
  if (rc < 0 && handed) cio_lock_release(l); // interrupted since: hand it on
  return rc;
}

int cio_lock_acquire(cio_lock *l) { return acquire(l, CIO_FOREVER, "cio_lock_acquire"); }

int cio_lock_acquire_for(cio_lock *l, double timeout) {
  return acquire(l, timeout, "cio_lock_acquire_for");
}

int cio_lock_try_acquire(cio_lock *l) {
  if (!valid(l)) return -EINVAL;
  if (l->locked) return -EBUSY;
  l->locked = true;
  set_owner(l, cio__tls_loop ? cio__tls_loop->current : NULL);
  return 0;
}

bool cio_lock_locked(const cio_lock *l) { return valid(l) && l->locked; }
