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

static bool valid(const cio_sem *s) { return s && s->magic == CIO__SEM_MAGIC; }

static cio_sem *create(int64_t value, bool bounded) {
  if (value < 0) {
    errno = EINVAL;
    return NULL;
  }
  cio_sem *s = calloc(1, sizeof *s);
  if (!s) {
    errno = ENOMEM;
    return NULL;
  }
  s->magic = CIO__SEM_MAGIC;
  s->value = value;
  s->bound = bounded ? value : -1;
  cio__waitq_init(&s->waiters);
  return s;
}

cio_sem *cio_sem_new(int64_t value) { return create(value, false); }
cio_sem *cio_sem_new_bounded(int64_t value) { return create(value, true); }

int cio_sem_free(cio_sem *s) {
  if (!valid(s)) return cio__bad_handle("cio_sem_free", "semaphore", s);
  s->magic = 0;
  if (cio__tls_loop) cio__waitq_wake_all(cio__tls_loop, &s->waiters, -EIDRM, NULL);
  cio__sync_release(s);
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

static int acquire(cio_sem *s, int64_t deadline, const char *fn) {
  cio__loop *L = cio__task_loop();
  if (!L) return cio__misuse_outside(fn);
  if (!valid(s)) return -EINVAL;
  int rc = cio__coop(L); // a free permit never suspends
  if (rc < 0) return rc;
  if (!valid(s)) return -EINVAL;
  if (s->value > 0 && cio__waitq_empty(&s->waiters)) {
    s->value--;
    return 0;
  }
  rc = cio__sync_wait(L, &s->waiters, deadline, "semaphore");
  if (rc < 0) return rc;
  rc = cio__checkpoint(L); // handed a permit but cancelled: pass it on
  if (rc < 0) cio_sem_release(s);
  return rc;
}

int cio_sem_acquire(cio_sem *s) { return acquire(s, CIO__NEVER, "cio_sem_acquire"); }

int cio_sem_acquire_for(cio_sem *s, double timeout) {
  cio__loop *L = cio__task_loop();
  if (!L) return cio__misuse_outside("cio_sem_acquire_for");
  int64_t deadline;
  if (cio__sync_deadline(L, timeout, &deadline) < 0) return -EINVAL;
  return acquire(s, deadline, "cio_sem_acquire_for");
}

int cio_sem_try_acquire(cio_sem *s) {
  if (!valid(s)) return -EINVAL;
  if (s->value <= 0 || !cio__waitq_empty(&s->waiters)) return -EAGAIN;
  s->value--;
  return 0;
}

int64_t cio_sem_value(const cio_sem *s) { return valid(s) ? s->value : -EINVAL; }
