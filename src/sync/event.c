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

_Static_assert(offsetof(struct cio_event, magic) == 0, "the magic comes first (sync.h)");

static bool valid(const cio_event *e) { return e && e->magic == CIO__EVENT_MAGIC; }

cio_event *cio_event_new(void) {
  cio_event *e = cio__sync_new(sizeof *e, CIO__EVENT_MAGIC);
  if (!e) return NULL;
  atomic_init(&e->flag, false);
  e->loop = cio__tls_loop;
  cio__waitq_init(&e->waiters);
  return e;
}

int cio_event_free(cio_event *e) {
  if (!valid(e)) return cio__bad_handle("cio_event_free", "event", e);
  cio__sync_close(&e->magic, &e->waiters);
  cio__quarantine(e);
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

// Inlined into each public call (see lock.c).
__attribute__((always_inline)) static inline int wait(cio_event *e, double timeout,
                                                      const char *fn) {
  cio__loop *L; // a set event never suspends:
  int64_t deadline = cio__sync_start_coop(fn, timeout, e, CIO__EVENT_MAGIC, &L);
  if (deadline < 0) return (int)deadline;
  if (!e->loop) e->loop = L;
  if (atomic_load(&e->flag)) return 0;
  int rc = cio__sync_wait(L, &e->waiters, deadline, "event");
  if (rc < 0) return rc;
  // Woken by set(): 0 even if cleared since, unless cancelled meanwhile.
  return cio__checkpoint(L);
}

int cio_event_wait(cio_event *e) { return wait(e, CIO_FOREVER, "cio_event_wait"); }

int cio_event_wait_for(cio_event *e, double timeout) {
  return wait(e, timeout, "cio_event_wait_for");
}
