// SPDX-License-Identifier: MIT
//
// Semaphore and BoundedSemaphore, with direct hand-off of permits to
// waiters (FIFO; a newcomer cannot take a permit a waiter is owed).
#include <stdlib.h>

#include "sync.h"

struct cio_sem {
  uint32_t magic;     // CIO__SEM_MAGIC while alive
  int64_t value;      // free permits
  int64_t bound;      // initial value of a bounded semaphore, or -1
  cio__waitq waiters; // tasks waiting for a permit, FIFO
};

_Static_assert(offsetof(struct cio_sem, magic) == 0, "the magic comes first (sync.h)");

static bool valid(const cio_sem *s) { return s && s->magic == CIO__SEM_MAGIC; }

static cio_sem *create(int64_t value, bool bounded) {
  if (value < 0) return cio__null_errno(EINVAL);
  cio_sem *s = cio__sync_new(sizeof *s, CIO__SEM_MAGIC);
  if (!s) return NULL;
  s->value = value;
  s->bound = bounded ? value : -1;
  cio__waitq_init(&s->waiters);
  return s;
}

cio_sem *cio_sem_new(int64_t value) { return create(value, false); }
cio_sem *cio_sem_new_bounded(int64_t value) { return create(value, true); }

int cio_sem_free(cio_sem *s) {
  if (!valid(s)) return cio__bad_handle("cio_sem_free", "semaphore", s);
  cio__sync_close(&s->magic, &s->waiters);
  cio__quarantine(s);
  return 0;
}

int cio_sem_release(cio_sem *s) {
  if (!valid(s)) return -EINVAL;
  if (cio__tls_loop && cio__waitq_wake_one(cio__tls_loop, &s->waiters, 0, NULL))
    return 0; // the permit went to a waiter
  if (s->bound >= 0 && s->value >= s->bound) return -EOVERFLOW;
  s->value++;
  return 0;
}

int cio_sem_try_acquire(cio_sem *s) {
  if (!valid(s)) return -EINVAL;
  if (s->value <= 0 || !cio__waitq_empty(&s->waiters)) return -EAGAIN;
  s->value--;
  return 0;
}

// Inlined into each public call (see lock.c).
__attribute__((always_inline)) static inline int acquire(cio_sem *s, double timeout,
                                                         const char *fn) {
  cio__loop *L; // a free permit never suspends:
  int64_t deadline = cio__sync_start_coop(fn, timeout, s, CIO__SEM_MAGIC, &L);
  if (deadline < 0) return (int)deadline;
  if (s->value > 0 && cio__waitq_empty(&s->waiters)) {
    s->value--;
    return 0;
  }
  bool handed;
  int rc = cio__sync_wait_handoff(L, &s->waiters, deadline, "semaphore", &handed);
  if (rc < 0 && handed) cio_sem_release(s); // interrupted since: pass the permit on
  return rc;
}

int cio_sem_acquire(cio_sem *s) { return acquire(s, CIO_FOREVER, "cio_sem_acquire"); }

int cio_sem_acquire_for(cio_sem *s, double timeout) {
  return acquire(s, timeout, "cio_sem_acquire_for");
}

int64_t cio_sem_value(const cio_sem *s) { return valid(s) ? s->value : -EINVAL; }
