// SPDX-License-Identifier: MIT
//
// What the synchronization objects share: how a call on one starts and
// ends, and waiting on a wait queue with asyncio's cancellation rules.
#ifndef CIO_SYNC_INTERNAL_H
#define CIO_SYNC_INTERNAL_H

#include <errno.h>

#include "../internal.h"
#include "../task/task.h"
#include "../tune.h"
#include "quarantine.h"

// Magic numbers of live objects; zeroed by *_free(), so a double free or a
// use after free is caught while the memory is not reused.  Every object of
// this layer starts with its magic (a uint32_t), so the helpers below can
// tell a live object of any type.
#define CIO__LOCK_MAGIC 0x6c6f636bu    // "lock"
#define CIO__EVENT_MAGIC 0x65766e74u   // "evnt"
#define CIO__COND_MAGIC 0x636f6e64u    // "cond"
#define CIO__SEM_MAGIC 0x73656d61u     // "sema"
#define CIO__BARRIER_MAGIC 0x62617272u // "barr"
#define CIO__QUEUE_MAGIC 0x71756575u   // "queu"

// A new object of `size` bytes, zeroed, its magic set to `magic`; NULL
// with errno ENOMEM.
static inline void *cio__sync_new(size_t size, uint32_t magic) {
  uint32_t *obj = cio__zalloc(size);
  if (obj) *obj = magic;
  return obj;
}

// True if `obj` is a live object whose type has magic number `magic`.
static inline bool cio__sync_alive(const void *obj, uint32_t magic) {
  return obj && *(const uint32_t *)obj == magic;
}

// The start of an awaiting call on `obj` (of the type whose magic is
// `magic`) for entry point `fn`: as cio__await_deadline(), the caller's loop
// in *L and the deadline `timeout` seconds from now returned, or -EPERM
// (reported), -EINVAL (NaN timeout, or `obj` not live).
static inline int64_t cio__sync_start(const char *fn, double timeout, const void *obj,
                                      uint32_t magic, cio__loop **L) {
  int64_t deadline = cio__await_deadline(fn, timeout, L);
  if (deadline < 0) return deadline;
  return cio__sync_alive(obj, magic) ? deadline : -EINVAL;
}

// As cio__sync_start(), for a call that can finish without suspending (a
// free lock, a queue with an item): it then spends one unit of the
// cooperative budget (cio__coop(), which may yield), and returns
// -ECANCELED / -ETIMEDOUT if the task was interrupted meanwhile, or -EINVAL
// if another task freed `obj` meanwhile.
static inline int64_t cio__sync_start_coop(const char *fn, double timeout, const void *obj,
                                           uint32_t magic, cio__loop **L) {
  int64_t deadline = cio__sync_start(fn, timeout, obj, magic, L);
  if (deadline < 0) return deadline;
  if (__builtin_expect(--(*L)->coop_left > 0, 1)) return deadline; // cio__coop's fast path
  int rc = cio__coop_yield(*L); // a yield: the object may be gone since
  if (rc < 0) return rc;
  return cio__sync_alive(obj, magic) ? deadline : -EINVAL;
}

// Parks the running task on `q` until woken, `deadline` or an interruption.
// Returns 0 when woken normally, the code a waker passed (-EIDRM, -EPIPE,
// -ESHUTDOWN...), -ETIMEDOUT for the deadline or an expired scope,
// -ECANCELED.  The waiter is off the queue on return.
static inline int cio__sync_wait(cio__loop *L, cio__waitq *q, int64_t deadline, const char *what) {
  int rc = cio__waitq_wait(L, q, deadline, what);
  return rc == CIO__PARK_DEADLINE ? -ETIMEDOUT : rc;
}

// Parks until handed what `q` guards (a lock, a permit), as
// cio__sync_wait() does; *handed says whether it was handed over.  A task
// interrupted after the hand-off (cancelled before it ran again) gets the
// error, and the caller hands the thing on (asyncio's rule).
static inline int cio__sync_wait_handoff(cio__loop *L, cio__waitq *q, int64_t deadline,
                                         const char *what, bool *handed) {
  int rc = cio__sync_wait(L, q, deadline, what);
  *handed = rc == 0;
  return rc < 0 ? rc : cio__checkpoint(L);
}

// The first half of a *_free(): clears the object's magic (at `magic`), so
// any later call sees -EINVAL, and wakes the tasks waiting on `q` with
// -EIDRM.  The caller then frees what the object owns and hands the object
// to cio__quarantine() rather than free(): a double free or a late use is
// then caught by the magic check instead of touching freed memory.
static inline void cio__sync_close(uint32_t *magic, cio__waitq *q) {
  *magic = 0;
  if (cio__tls_loop) cio__waitq_wake_all(cio__tls_loop, q, -EIDRM, NULL);
}

#endif
