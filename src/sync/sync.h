// SPDX-License-Identifier: MIT
//
// What the synchronization objects share: binding to a loop, and waiting
// on a wait queue with asyncio's cancellation rules.
#ifndef CIO_SYNC_INTERNAL_H
#define CIO_SYNC_INTERNAL_H

#include <errno.h>

#include "../internal.h"
#include "../task/task.h"
#include "../tune.h"
#include "quarantine.h"

// Magic numbers of live objects; zeroed by *_free(), so a double free or a
// use after free is caught while the memory is not reused.
#define CIO__LOCK_MAGIC 0x6c6f636bu    // "lock"
#define CIO__EVENT_MAGIC 0x65766e74u   // "evnt"
#define CIO__COND_MAGIC 0x636f6e64u    // "cond"
#define CIO__SEM_MAGIC 0x73656d61u     // "sema"
#define CIO__BARRIER_MAGIC 0x62617272u // "barr"
#define CIO__QUEUE_MAGIC 0x71756575u   // "queu"

// Parks the running task on `q` until woken, `deadline` or an interruption.
// Returns 0 when woken normally, the code a waker passed (-EIDRM, -EPIPE,
// -ESHUTDOWN...), -ETIMEDOUT for the deadline or an expired scope,
// -ECANCELED.  The waiter is off the queue on return.
static inline int cio__sync_wait(cio__loop *L, cio__waitq *q, int64_t deadline, const char *what) {
  int rc = cio__waitq_wait(L, q, deadline, what);
  return rc == CIO__PARK_DEADLINE ? -ETIMEDOUT : rc;
}

// A timeout in seconds as a deadline; -EINVAL for NaN.
static inline int cio__sync_deadline(cio__loop *L, double timeout, int64_t *deadline) {
  return cio__deadline_after(L, timeout, deadline);
}

// Frees a synchronization object whose magic was just cleared, after a
// delay (quarantine.h): a double free or a late use is caught by the magic
// check (-EINVAL) instead of touching freed memory.
void cio__sync_release(void *obj);

#endif
