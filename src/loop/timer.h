// SPDX-License-Identifier: MIT
//
// Timers: a 4-ary min-heap of absolute deadlines, with lazy cancellation.
//
// Arming is O(log4 n) (O(1) on average for random deadlines) and disarming
// is O(1): it only bumps the timer's generation, leaving a stale slot in the
// heap that is dropped when it reaches the top, or when stale slots
// outnumber live ones and the heap is rebuilt without them.  Most timeouts
// are cancelled before they fire, so cancelling must cost no more than
// arming; and since the heap never points back into timers, moving slots
// writes only the heap array, not the (cold) records that hold the timers.
// The heap holds (deadline, sequence, timer, generation), so comparisons
// stay inside the heap array, and timers with equal deadlines fire in the
// order they were armed (asyncio users expect sleep(1) tasks spawned in
// order to wake in order).  A 4-ary heap is half as deep as a binary one.
//
// A slot is live while its generation equals its timer's, which is odd while
// the timer is armed.  A timer must stay mapped while the heap may hold a
// stale slot for it (task records live as long as their loop), and a reused
// timer keeps its generation: cio__timer_init() is for fresh memory only.
// When a generation wraps around, the heap drops every stale slot first, so
// an old slot can never come back to life.
#ifndef CIO_TIMER_H
#define CIO_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cio__timer {
  uint32_t gen; // odd while armed: the heap slot with this generation is live
} cio__timer;

typedef struct cio__timer_slot {
  int64_t deadline;  // the timer's deadline (keeps comparisons local)
  uint64_t seq;      // arming order, breaks ties
  cio__timer *timer; // the timer it belongs to
  uint32_t gen;      // the timer's generation when armed
} cio__timer_slot;

typedef struct cio__timers {
  cio__timer_slot *heap; // heap[0] is the earliest
  size_t len;            // slots, live and stale
  size_t cap;            // allocated slots
  size_t live;           // armed timers
  uint64_t seq;          // next arming sequence number
} cio__timers;

// Prepares a timer in fresh (zeroed or never used) memory.
static inline void cio__timer_init(cio__timer *t) { t->gen = 0; }

static inline bool cio__timer_armed(const cio__timer *t) { return t->gen & 1; }

void cio__timers_init(cio__timers *h);
// Frees the heap.  Timers still armed are left as they are, never touched.
void cio__timers_fini(cio__timers *h);

// Arms `t` for `deadline` (re-arms it if armed).  Returns 0, or -ENOMEM
// only when more timers are armed at once than were reserved.
int cio__timer_arm(cio__timers *h, cio__timer *t, int64_t deadline);

// Makes room for `n` timers armed at once, so that arming one of them never
// needs memory (a task about to wait with a deadline cannot fail for lack
// of it: the task layer reserves a timer for each task when it creates
// it).  Twice as many slots as timers, so that the stale slots a full heap
// is rebuilt without are at least half of it.  Returns 0 or -ENOMEM.
int cio__timers_grow(cio__timers *h, size_t slots);
static inline int cio__timers_reserve(cio__timers *h, size_t n) {
  size_t slots = 2 * n + 64;
  return __builtin_expect(h->cap >= slots, 1) ? 0 : cio__timers_grow(h, slots);
}

// Disarms `t`; nothing happens if it is not armed.
void cio__timer_disarm(cio__timers *h, cio__timer *t);

// The earliest deadline of an armed timer, or INT64_MAX if none is armed.
// (Drops stale slots from the top on the way.)
int64_t cio__timers_next(cio__timers *h);

// For task dumps: the live slots in a malloc'd array (the caller frees it),
// sorted so that cio__timer_deadline() finds a timer's deadline in
// O(log n).  NULL if out of memory or nothing is armed; *n gets the count.
cio__timer_slot *cio__timers_snapshot(const cio__timers *h, size_t *n);

// The deadline `t` waits for, from a snapshot; INT64_MAX if it is not armed.
int64_t cio__timer_deadline(const cio__timer_slot *snap, size_t n, const cio__timer *t);

// Disarms every timer whose deadline is <= now and calls fire() on it,
// earliest first.  Returns how many fired.
size_t cio__timers_run(cio__timers *h, int64_t now, void (*fire)(cio__timer *t));

#endif
