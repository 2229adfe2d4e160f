// SPDX-License-Identifier: MIT
//
// Event: a flag tasks wait for.  set() may also come from another thread:
// the flag is atomic, and the waiters are woken on the event's loop
// through a posted callback.
#include <stdatomic.h>
#include <stdlib.h>

#include "sync.h"

struct cio_event {
  uint32_t magic;     // CIO__EVENT_MAGIC while alive
  atomic_bool flag;   // set or not (read by any thread)
  cio__loop *loop;    // the loop it belongs to (first to use it)
  cio__waitq waiters; // tasks waiting for the flag
};

static bool valid(const cio_event *e) { return e && e->magic == CIO__EVENT_MAGIC; }

cio_event *cio_event_new(void) {
  cio_event *e = calloc(1, sizeof *e);
  if (!e) {
    errno = ENOMEM;
    return NULL;
  }
  e->magic = CIO__EVENT_MAGIC;
  atomic_init(&e->flag, false);
  e->loop = cio__tls_loop;
  cio__waitq_init(&e->waiters);
  return e;
}

int cio_event_free(cio_event *e) {
  if (!valid(e)) return cio__bad_handle("cio_event_free", "event", e);
  e->magic = 0;
  if (cio__tls_loop) cio__waitq_wake_all(cio__tls_loop, &e->waiters, -EIDRM, NULL);
  cio__sync_release(e);
  return 0;
}

static void wake_waiters(void *arg) {
  cio_event *e = arg;
  if (valid(e) && atomic_load(&e->flag)) cio__waitq_wake_all(cio__tls_loop, &e->waiters, 0, NULL);
}

int cio_event_set(cio_event *e) {
  if (!valid(e)) return -EINVAL;
  atomic_store(&e->flag, true);
  if (cio__tls_loop && (e->loop == cio__tls_loop || !e->loop)) {
    cio__waitq_wake_all(cio__tls_loop, &e->waiters, 0, NULL);
    return 0;
  }
  // From another thread: wake the waiters on the event's own loop.
  return e->loop ? cio_call_soon_threadsafe(e->loop, wake_waiters, e) : 0;
}

int cio_event_clear(cio_event *e) {
  if (!valid(e)) return -EINVAL;
  atomic_store(&e->flag, false);
  return 0;
}

bool cio_event_is_set(const cio_event *e) {
  return valid(e) && atomic_load((atomic_bool *)&e->flag);
}

static int wait(cio_event *e, int64_t deadline, const char *fn) {
  cio__loop *L = cio__task_loop();
  if (!L) return cio__misuse_outside(fn);
  if (!valid(e)) return -EINVAL;
  if (!e->loop) e->loop = L;
  int rc = cio__coop(L); // a set event never suspends
  if (rc < 0) return rc;
  if (!valid(e)) return -EINVAL;
  if (atomic_load(&e->flag)) return 0;
  rc = cio__sync_wait(L, &e->waiters, deadline, "event");
  if (rc < 0) return rc;
  // Woken by set(): 0 even if cleared since, unless cancelled meanwhile.
  return cio__checkpoint(L);
}

int cio_event_wait(cio_event *e) { return wait(e, CIO__NEVER, "cio_event_wait"); }

int cio_event_wait_for(cio_event *e, double timeout) {
  cio__loop *L = cio__task_loop();
  if (!L) return cio__misuse_outside("cio_event_wait_for");
  int64_t deadline;
  if (cio__sync_deadline(L, timeout, &deadline) < 0) return -EINVAL;
  return wait(e, deadline, "cio_event_wait_for");
}
