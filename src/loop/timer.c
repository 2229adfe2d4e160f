// SPDX-License-Identifier: MIT
//
// The 4-ary timer heap with lazy cancellation (see timer.h).
#include "timer.h"

#include <errno.h>
#include <stdlib.h>

// Rebuild the heap without its stale slots once they are more than this
// many and outnumber the live ones: the heap stays under twice the armed
// timers, and each rebuild is paid for by as many cancellations.
#define STALE_MIN 256

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

// Drops every stale slot and restores the heap order (Floyd's heapify).
static void compact(cio__timers *h) {
  size_t n = 0;
  for (size_t i = 0; i < h->len; i++)
    if (slot_live(&h->heap[i])) h->heap[n++] = h->heap[i];
  h->len = n;
  for (size_t i = n > 1 ? (n - 2) / 4 + 1 : 0; i-- > 0;) sift_down(h, i, h->heap[i]);
}

// A timer leaves the armed state (disarmed or fired): its slot goes stale.
static void retire(cio__timers *h, cio__timer *t) {
  t->gen++;
  h->live--;
  if (h->live == 0)
    h->len = 0; // every slot is stale
  else if (t->gen == 0 || (h->len - h->live > STALE_MIN && h->len - h->live > h->live))
    compact(h); // (after a wrap, an old slot of t's could match a new generation)
}

int cio__timer_arm(cio__timers *h, cio__timer *t, int64_t deadline) {
  if (cio__timer_armed(t)) retire(h, t);
  if (h->len == h->cap) {
    size_t cap = h->cap ? h->cap * 2 : 64;
    cio__timer_slot *heap = realloc(h->heap, cap * sizeof *heap);
    if (!heap) return -ENOMEM;
    h->heap = heap;
    h->cap = cap;
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
  cio__timer_slot *v = h->live ? malloc(h->live * sizeof *v) : NULL;
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

size_t cio__timers_run(cio__timers *h, int64_t now, void (*fire)(cio__timer *t)) {
  size_t n = 0;
  while (h->len && h->heap[0].deadline <= now) {
    cio__timer_slot s = h->heap[0];
    pop(h);
    if (s.gen != s.timer->gen) continue; // cancelled
    retire(h, s.timer);
    fire(s.timer);
    n++;
  }
  return n;
}
