// SPDX-License-Identifier: MIT
//
// Timers: a 4-ary min-heap of absolute deadlines.
//
// Insert and cancel are both O(log4 n) and cancel needs no search, because
// each timer knows its slot; most timeouts are cancelled before they fire, so
// cancel has to be as cheap as insert.  The heap holds (deadline, sequence,
// timer) triples, so comparisons stay inside the heap array, and timers with
// equal deadlines fire in the order they were armed (asyncio users expect
// sleep(1) tasks spawned in order to wake in order).  A 4-ary heap is half as
// deep as a binary one and its children share a cache line.
#ifndef CIO_TIMER_H
#define CIO_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CIO__TIMER_IDLE UINT32_MAX // index of a timer that is not armed

// A timer is only its place in the heap: the deadline lives in the heap
// slot, and what expiry does is the caller's (cio__timers_run()), so a task
// record spends 4 bytes on its timer.
typedef struct cio__timer {
  uint32_t index; // slot in the heap, CIO__TIMER_IDLE if not armed
} cio__timer;

typedef struct cio__timer_slot {
  int64_t deadline; // copy of the timer's deadline (keeps comparisons local)
  uint64_t seq;     // arming order, breaks ties
  cio__timer *timer;
} cio__timer_slot;

typedef struct cio__timers {
  cio__timer_slot *heap; // heap[0] is the earliest
  size_t len;            // armed timers
  size_t cap;            // allocated slots
  uint64_t seq;          // next arming sequence number
} cio__timers;

// Prepares a timer that is not armed.
static inline void cio__timer_init(cio__timer *t) { t->index = CIO__TIMER_IDLE; }

static inline bool cio__timer_armed(const cio__timer *t) { return t->index != CIO__TIMER_IDLE; }

void cio__timers_init(cio__timers *h);
void cio__timers_fini(cio__timers *h);

// Arms `t` for `deadline` (re-arms it if armed).  Returns 0 or -ENOMEM.
int cio__timer_arm(cio__timers *h, cio__timer *t, int64_t deadline);

// Disarms `t`; nothing happens if it is not armed.
void cio__timer_disarm(cio__timers *h, cio__timer *t);

// The earliest deadline, or INT64_MAX if no timer is armed.
static inline int64_t cio__timers_next(const cio__timers *h) {
  return h->len ? h->heap[0].deadline : INT64_MAX;
}

// The deadline an armed timer waits for.
static inline int64_t cio__timer_deadline(const cio__timers *h, const cio__timer *t) {
  return h->heap[t->index].deadline;
}

// Disarms every timer whose deadline is <= now and calls fire() on it,
// earliest first.  Returns how many fired.
size_t cio__timers_run(cio__timers *h, int64_t now, void (*fire)(cio__timer *t));

#endif
