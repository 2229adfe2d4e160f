// SPDX-License-Identifier: MIT
//
// Task stacks: carved from large mmap'd slabs, guarded, pooled for reuse.
//
// Why slabs: vm.max_map_count defaults to 65530 and an mprotect'd guard page
// splits a mapping in two, so one mapping per stack stops near 32,000 tasks.
// Here one mapping holds many stacks and the guard below each stack is a
// guard region installed with madvise(MADV_GUARD_INSTALL) (Linux 6.13+),
// which lives inside the mapping and costs no extra VMA: a million stacks
// are about a thousand mappings.  On older kernels the first stacks get
// mprotect guards while a budget of mappings lasts (a quarter of
// max_map_count); beyond it a stack gets a canary word at its low end,
// checked every time its task switches out and when it finishes.
//
// Memory is committed lazily: a stack costs address space until its task
// touches it, and a task that has not started has no stack at all.  A
// finished task's stack goes back to a LIFO pool, so the next task runs on
// memory that is already resident and cached.  After a burst, stacks the
// pool has not needed for a while are given back to the kernel
// (MADV_DONTNEED, by the helper thread; guard regions survive it) down to
// a reserve, so a server that once ran a million tasks does not keep 4 GiB.
#ifndef CIO_STACK_H
#define CIO_STACK_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../tune.h"

enum cio__guard {
  CIO__GUARD_MADVISE,  // guard region inside the slab (no extra mapping)
  CIO__GUARD_MPROTECT, // PROT_NONE page, one extra mapping
  CIO__GUARD_CANARY,   // no guard: canary word checked at every switch
};

#define CIO__CANARY 0x63696f2d73746b21ull // "cio-stk!"

typedef struct cio__stack {
  char *lo;             // lowest usable byte (just above the guard)
  size_t size;          // usable bytes
  uint8_t guard;        // enum cio__guard
  unsigned valgrind_id; // valgrind's id for this stack
} cio__stack;

typedef struct cio__stack_pool {
  size_t size;             // usable size of every stack in this pool
  size_t guard_size;       // bytes of guard below each stack
  cio__stack **free;       // stacks ready for reuse, used LIFO (an array: no pointer chasing)
  size_t nfree;            // how many
  size_t free_cap;         // allocated entries
  struct cio__slab *slabs; // every slab, for teardown
  size_t next_slab;        // stacks in the next slab (grows to a cap)
  size_t live;             // stacks handed out and not yet returned
  size_t total;            // stacks carved so far
  // The prefetcher thread (stack.c) and what it hands over:
  pthread_mutex_t lock;    // guards ready, nready, stop
  pthread_cond_t cond;     // wakes the prefetcher
  struct cio__slab *ready; // slabs built ahead of demand
  int nready;              // how many
  bool stop;               // the pool is being torn down
  bool prefetching;        // the thread runs
  pthread_t thread;        // the prefetcher
  // Trimming (the same thread releases the pages of idle stacks):
  size_t low;                      // fewest free stacks since the last trim check
  size_t clean;                    // free[0, clean) are released already
  int64_t trim_at;                 // loop time of the last check
  struct cio__trim_batch *trim;    // stacks handed to the helper to release (under lock)
  struct cio__trim_batch *trimmed; // released stacks it handed back (under lock)
  bool batch_out;                  // a batch is with the helper or not yet taken back
  size_t released;                 // stacks released since the pool began (stats, tests)
} cio__stack_pool;

// Sets up an empty pool of stacks with `size` usable bytes (rounded up to
// pages).  No memory is mapped until the first cio__stack_get().
void cio__stack_pool_init(cio__stack_pool *p, size_t size);

// Unmaps every slab.  Stacks still handed out become invalid.
void cio__stack_pool_fini(cio__stack_pool *p);

// Returns a stack, or NULL if no memory could be mapped.
cio__stack *cio__stack_get(cio__stack_pool *p);

#define CIO__STACK_KEEP CIO__TUNED(1024, 4) // free stacks never trimmed
#define CIO__STACK_TRIM_PERIOD 1000000000   // ns between trim checks

// True if the pool holds more idle stacks than it keeps: the loop should
// call cio__stack_trim() at least every CIO__STACK_TRIM_PERIOD.
static inline bool cio__stack_trimmable(const cio__stack_pool *p) {
  return p->prefetching && (p->batch_out || p->nfree > p->clean + CIO__STACK_KEEP);
}

// Called by the loop (at time `now`, in ns): once per trim period, hands the
// stacks that no task needed during the last period, beyond the reserve, to
// the helper thread, which releases their memory.  Cheap when there is
// nothing to do.
void cio__stack_trim(cio__stack_pool *p, int64_t now);

// Gives a stack back to the pool.
void cio__stack_put(cio__stack_pool *p, cio__stack *s);

// Starts loading the top of a stack (where a task's first frames go) into
// the cache, for writing.
static inline void cio__stack_prefetch_top(const cio__stack *s) {
  const char *top = s->lo + s->size;
  for (int off = 64; off <= 512; off += 64) __builtin_prefetch(top - off, 1);
}

// True if the canary of a canary-guarded stack is intact (always true for
// other guards).
static inline bool cio__stack_intact(const cio__stack *s) {
  return s->guard != CIO__GUARD_CANARY || *(const uint64_t *)(const void *)s->lo == CIO__CANARY;
}

// Where an address lies in a pool's stack arena (for fault reports).
typedef struct cio__stack_where {
  const cio__stack *stack; // the slot: a stack and the guard below it
  bool in_guard;           // in that guard, not in the usable part
} cio__stack_where;

// Finds the slot of the pool's arena that holds `addr`: false if no slab of
// the pool holds it.  One comparison per slab (slabs grow to 1,024 stacks:
// about a thousand for a million stacks), then a division.  Reads only, so
// it is async-signal-safe on the pool's own thread (the SIGSEGV handler);
// slabs the prefetcher built but the loop has not taken yet are not looked
// at (no task runs on them).
bool cio__stack_locate(const cio__stack_pool *p, const void *addr, cio__stack_where *w);

#endif
