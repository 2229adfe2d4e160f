// SPDX-License-Identifier: MIT
//
// Barrier: `parties` tasks meet; the last to arrive releases the others.
// A party that leaves (cancelled, timed out) breaks the barrier for the
// rest, as threading.Barrier does, so nobody waits for a party that will
// never come.  Whoever ends a generation (the last arrival, abort, reset,
// free) writes each waiting party's outcome into it, parked or not: a party
// whose timeout fired, or that was cancelled, just before its generation
// ended has not run yet, and the outcome written decides what it returns.
// (Going by a cycle count instead, such a party broke a barrier that had
// been reset since.)
#include <stdlib.h>

#include "sync.h"

struct cio_barrier {
  uint32_t magic;     // CIO__BARRIER_MAGIC while alive
  size_t parties;     // tasks that must meet
  size_t count;       // arrived in the current cycle
  bool broken;        // aborted or left: waits fail with -EPIPE
  cio__waitq waiters; // arrived tasks, waiting
};

_Static_assert(offsetof(struct cio_barrier, magic) == 0, "the magic comes first (sync.h)");

static bool valid(const cio_barrier *b) { return b && b->magic == CIO__BARRIER_MAGIC; }

cio_barrier *cio_barrier_new(size_t parties) {
  if (parties < 1) return cio__null_errno(EINVAL);
  cio_barrier *b = cio__sync_new(sizeof *b, CIO__BARRIER_MAGIC);
  if (!b) return NULL;
  b->parties = parties;
  cio__waitq_init(&b->waiters);
  return b;
}

// Sets every waiting party's outcome (RELEASED, -EPIPE, -EIDRM) and wakes
// the ones still parked with it.
#define RELEASED 1
static void end_generation(cio_barrier *b, int outcome) {
  for (cio__waiter *w = b->waiters.head; w; w = w->next) *(int *)w->data = outcome;
  if (cio__tls_loop)
    cio__waitq_wake_all(cio__tls_loop, &b->waiters, outcome == RELEASED ? 0 : outcome, NULL);
}

int cio_barrier_free(cio_barrier *b) {
  if (!valid(b)) return cio__bad_handle("cio_barrier_free", "barrier", b);
  b->magic = 0;
  end_generation(b, -EIDRM);
  cio__quarantine(b);
  return 0;
}

static void break_barrier(cio_barrier *b, bool broken) {
  b->broken = broken;
  b->count = 0;
  end_generation(b, -EPIPE);
}

int cio_barrier_abort(cio_barrier *b) {
  if (!valid(b)) return -EINVAL;
  break_barrier(b, true);
  return 0;
}

int cio_barrier_reset(cio_barrier *b) {
  if (!valid(b)) return -EINVAL;
  break_barrier(b, false);
  return 0;
}

static int wait(cio_barrier *b, double timeout, const char *fn) {
  cio__loop *L;
  int64_t deadline = cio__sync_start(fn, timeout, b, CIO__BARRIER_MAGIC, &L);
  if (deadline < 0) return (int)deadline;
  if (b->broken) return -EPIPE;
  int index = (int)b->count++;
  if (b->count == b->parties) { // the last one: release everybody
    b->count = 0;
    end_generation(b, RELEASED);
    return index;
  }
  int outcome = 0;
  cio__waiter w = {.task = L->current, .data = &outcome};
  cio__waitq_push(&b->waiters, &w);
  L->current->wait_obj = &b->waiters;
  int rc = cio__park(L, deadline, "barrier");
  cio__waitq_remove(&b->waiters, &w);
  if (outcome == RELEASED)
    return index;                         // even if a timeout or cancellation came at once:
                                          // it arrives at the next await
  if (outcome < 0) return outcome;        // broken, reset or freed first
  if (!b->broken) break_barrier(b, true); // we left first: broken for the others
  return rc == CIO__PARK_DEADLINE ? -ETIMEDOUT : rc;
}

int cio_barrier_wait(cio_barrier *b) { return wait(b, CIO_FOREVER, "cio_barrier_wait"); }

int cio_barrier_wait_for(cio_barrier *b, double timeout) {
  return wait(b, timeout, "cio_barrier_wait_for");
}

size_t cio_barrier_parties(const cio_barrier *b) { return valid(b) ? b->parties : 0; }
size_t cio_barrier_n_waiting(const cio_barrier *b) { return valid(b) ? b->count : 0; }
bool cio_barrier_broken(const cio_barrier *b) { return valid(b) && b->broken; }
