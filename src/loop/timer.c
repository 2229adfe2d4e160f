// SPDX-License-Identifier: MIT
//
// The 4-ary timer heap with lazy cancellation (see timer.h).
#include "timer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../alloc.h"
#include "../tune.h"

// Rebuild the heap without its stale slots once they are more than this
// many and outnumber the live ones: the heap stays under twice the armed
// timers, and each rebuild is paid for by as many cancellations.
#define STALE_MIN CIO__TUNED(256, 2)

static inline bool earlier(const cio__timer_slot *a, const cio__timer_slot *b) {
  return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static inline bool slot_live(const cio__timer_slot *s) { return s->gen == s->timer->gen; }

static void sift_up(cio__timers *h, size_t i, cio__timer_slot s) {
  while (i > 0) {
    size_t parent = (i - 1) / 4;
    if (!earlier(&s, &h->heap[parent])) break;
    h->heap[i] = h->heap[parent];
    i = parent;
  }
  h->heap[i] = s;
}

static void sift_down(cio__timers *h, size_t i, cio__timer_slot s) {
  for (;;) {
    size_t first = 4 * i + 1;
    if (first >= h->len) break;
    size_t best = first;
    size_t end = first + 4 < h->len ? first + 4 : h->len;
    for (size_t c = first + 1; c < end; c++)
      if (earlier(&h->heap[c], &h->heap[best])) best = c;
    if (!earlier(&h->heap[best], &s)) break;
    h->heap[i] = h->heap[best];
    i = best;
  }
  h->heap[i] = s;
}

void cio__timers_init(cio__timers *h) {
  h->heap = NULL;
  h->len = 0;
  h->cap = 0;
  h->live = 0;
  h->seq = 0;
}

void cio__timers_fini(cio__timers *h) {
  free(h->heap); // (not touching the timers: their memory may be gone already)
  cio__timers_init(h);
}

// Removes the earliest slot.
static void pop(cio__timers *h) {
  cio__timer_slot last = h->heap[--h->len];
  if (h->len) sift_down(h, 0, last);
}

// Restores the heap order of the whole array (Floyd's bottom-up heapify,
// O(n)).
static void heapify(cio__timers *h) {
  for (size_t i = h->len > 1 ? (h->len - 2) / 4 + 1 : 0; i-- > 0;) sift_down(h, i, h->heap[i]);
}

// Drops every stale slot and restores the heap order.
static void compact(cio__timers *h) {
  size_t n = 0;
  for (size_t i = 0; i < h->len; i++)
    if (slot_live(&h->heap[i])) h->heap[n++] = h->heap[i];
  h->len = n;
  heapify(h);
}

// A timer leaves the armed state (disarmed or fired): its slot goes stale.
// (While expire_bulk() fires, due timers are out of the heap but still
// counted live, so live may exceed len.)
static void retire(cio__timers *h, cio__timer *t) {
  t->gen++;
  h->live--;
  size_t stale = h->len > h->live ? h->len - h->live : 0;
  if (h->live == 0)
    h->len = 0; // every slot is stale
  else if (t->gen == 0 || (stale > STALE_MIN && stale > h->live))
    compact(h); // (after a wrap, an old slot of t's could match a new generation)
}

int cio__timers_grow(cio__timers *h, size_t slots) {
  size_t cap = h->cap ? h->cap : 64;
  while (cap < slots) cap *= 2;
  if (cap == h->cap) return 0;
  cio__timer_slot *heap = cio__realloc(h->heap, cap * sizeof *heap);
  if (!heap) return -ENOMEM;
  h->heap = heap;
  h->cap = cap;
  return 0;
}

int cio__timer_arm(cio__timers *h, cio__timer *t, int64_t deadline) {
  if (cio__timer_armed(t)) retire(h, t);
  if (h->len == h->cap) {
    // Full of stale slots, when within the reservation (cio__timers_reserve):
    // drop them rather than grow.
    if (h->len > h->live) compact(h);
    if (h->len == h->cap && cio__timers_grow(h, h->cap + 1) < 0) return -ENOMEM;
  }
  t->gen++;
  h->live++;
  cio__timer_slot s = {deadline, h->seq++, t, t->gen};
  sift_up(h, h->len++, s);
  return 0;
}

void cio__timer_disarm(cio__timers *h, cio__timer *t) {
  if (cio__timer_armed(t)) retire(h, t);
}

int64_t cio__timers_next(cio__timers *h) {
  while (h->len && !slot_live(&h->heap[0])) pop(h);
  return h->len ? h->heap[0].deadline : INT64_MAX;
}

static int by_timer(const void *a, const void *b) {
  uintptr_t x = (uintptr_t)((const cio__timer_slot *)a)->timer;
  uintptr_t y = (uintptr_t)((const cio__timer_slot *)b)->timer;
  return (x > y) - (x < y);
}

cio__timer_slot *cio__timers_snapshot(const cio__timers *h, size_t *n) {
  *n = 0;
  cio__timer_slot *v = h->live ? cio__malloc(h->live * sizeof *v) : NULL;
  if (!v) return NULL;
  for (size_t i = 0; i < h->len && *n < h->live; i++)
    if (slot_live(&h->heap[i])) v[(*n)++] = h->heap[i];
  qsort(v, *n, sizeof *v, by_timer);
  return v;
}

int64_t cio__timer_deadline(const cio__timer_slot *snap, size_t n, const cio__timer *t) {
  size_t lo = 0, hi = n; // a timer has at most one live slot
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if ((uintptr_t)snap[mid].timer < (uintptr_t)t)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < n && snap[lo].timer == t && cio__timer_armed(t) ? snap[lo].deadline : INT64_MAX;
}

// ---------------------------------------------------------------- mass expiry
//
// When a large part of the heap comes due at once (a million sleepers that
// started in one long round, a loop that was held up), popping them one by
// one costs a sift-down each through a heap far bigger than the cache: 170
// ns a pop here at a million timers.  Past a budget of pops the rest of the
// due slots are taken out in one sequential pass, sorted by (deadline,
// arming order) with a radix sort, and fired in that order, as the pops
// would have; the slots left are heapified again.

#define BULK_AFTER CIO__TUNED(4096, 4) // pops in one run before the rest may go in bulk
#define RADIX_BITS 11

// A due timer on its way to firing, its sort key (deadline, then arming
// order, relative to the smallest of each) in one word.
struct due {
  uint64_t key;
  cio__timer *timer;
  uint32_t gen;
};

static unsigned bit_width(uint64_t x) { return x ? 64 - (unsigned)__builtin_clzll(x) : 0; }

// Sorts v[0..n) by key, with tmp[0..n) as scratch; returns where the
// result is (v or tmp).  LSD radix: ceil(bits / RADIX_BITS) stable passes.
// `count` has 1 << RADIX_BITS entries (not on the stack: this may run on a
// task's 16 KiB stack).
static struct due *radix_sort(struct due *v, struct due *tmp, size_t n, unsigned bits,
                              size_t *count) {
  for (unsigned shift = 0; shift < bits; shift += RADIX_BITS) {
    const uint64_t mask = (1u << RADIX_BITS) - 1;
    memset(count, 0, sizeof *count << RADIX_BITS);
    for (size_t i = 0; i < n; i++) count[(v[i].key >> shift) & mask]++;
    size_t at = 0;
    for (size_t d = 0; d <= mask; d++) {
      size_t c = count[d];
      count[d] = at;
      at += c;
    }
    for (size_t i = 0; i < n; i++) tmp[count[(v[i].key >> shift) & mask]++] = v[i];
    struct due *swap = v;
    v = tmp;
    tmp = swap;
  }
  return v;
}

// Fires every due timer in order; returns how many fired, or SIZE_MAX if it
// could not (out of memory, or keys that do not fit a word) and left the
// heap as it was, in heap order.
static size_t expire_bulk(cio__timers *h, int64_t now, void (*fire)(cio__timer *t)) {
  // Due slots to the back, the rest to the front.
  size_t keep = 0, end = h->len;
  while (keep < end) {
    if (h->heap[keep].deadline > now) {
      keep++;
    } else {
      cio__timer_slot s = h->heap[keep];
      h->heap[keep] = h->heap[--end];
      h->heap[end] = s;
    }
  }
  size_t n = h->len - keep;
  cio__timer_slot *due_slots = h->heap + keep;
  int64_t dmin = INT64_MAX, dmax = INT64_MIN;
  uint64_t smin = UINT64_MAX, smax = 0;
  for (size_t i = 0; i < n; i++) {
    if (due_slots[i].deadline < dmin) dmin = due_slots[i].deadline;
    if (due_slots[i].deadline > dmax) dmax = due_slots[i].deadline;
    if (due_slots[i].seq < smin) smin = due_slots[i].seq;
    if (due_slots[i].seq > smax) smax = due_slots[i].seq;
  }
  unsigned seq_bits = bit_width(smax - smin);
  unsigned bits = bit_width((uint64_t)dmax - (uint64_t)dmin) + seq_bits;
  _Static_assert(sizeof(struct due) <= sizeof(cio__timer_slot), "entries fit in the slots");
  struct due *out =
      bits <= 64 ? cio__malloc(n * sizeof *out + (sizeof(size_t) << RADIX_BITS)) : NULL;
  if (!out) {
    heapify(h);
    return SIZE_MAX;
  }
  // Each slot becomes a (smaller) entry in place: entry i ends before slot
  // i + 1 begins, and slot i is read before entry i is written.
  struct due *v = (struct due *)(void *)due_slots;
  for (size_t i = 0; i < n; i++) {
    cio__timer_slot s = due_slots[i];
    uint64_t key = (uint64_t)s.deadline - (uint64_t)dmin;
    key = (seq_bits ? key << seq_bits : key) | (s.seq - smin);
    v[i] = (struct due){key, s.timer, s.gen};
  }
  struct due *sorted = radix_sort(v, out, n, bits, (size_t *)(void *)(out + n));
  if (sorted != out) memcpy(out, sorted, n * sizeof *out);
  // The heap is the kept slots from here on (fire() may arm timers).
  h->len = keep;
  heapify(h);
  size_t fired = 0;
  for (size_t i = 0; i < n; i++) {
    if (out[i].gen != out[i].timer->gen) continue; // cancelled
    retire(h, out[i].timer);
    fire(out[i].timer);
    fired++;
  }
  free(out);
  return fired;
}

size_t cio__timers_run(cio__timers *h, int64_t now, void (*fire)(cio__timer *t)) {
  size_t n = 0, pops = 0;
  bool bulk = true;
  while (h->len && h->heap[0].deadline <= now) {
    if (bulk && ++pops > BULK_AFTER && pops > h->len / 64) {
      bulk = false; // (once: it takes every due slot, or declines)
      size_t fired = expire_bulk(h, now, fire);
      if (fired != SIZE_MAX) n += fired;
      continue;
    }
    cio__timer_slot s = h->heap[0];
    pop(h);
    if (s.gen != s.timer->gen) continue; // cancelled
    retire(h, s.timer);
    fire(s.timer);
    n++;
  }
  return n;
}
