// SPDX-License-Identifier: MIT
//
// The 4-ary timer heap (see timer.h).
#include "timer.h"

#include <errno.h>
#include <stdlib.h>

static inline bool earlier(const cio__timer_slot *a, const cio__timer_slot *b) {
  return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static inline void place(cio__timers *h, size_t i, cio__timer_slot s) {
  h->heap[i] = s;
  s.timer->index = (uint32_t)i;
}

static void sift_up(cio__timers *h, size_t i, cio__timer_slot s) {
  while (i > 0) {
    size_t parent = (i - 1) / 4;
    if (!earlier(&s, &h->heap[parent])) break;
    place(h, i, h->heap[parent]);
    i = parent;
  }
  place(h, i, s);
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
    place(h, i, h->heap[best]);
    i = best;
  }
  place(h, i, s);
}

void cio__timers_init(cio__timers *h) {
  h->heap = NULL;
  h->len = 0;
  h->cap = 0;
  h->seq = 0;
}

void cio__timers_fini(cio__timers *h) {
  for (size_t i = 0; i < h->len; i++) h->heap[i].timer->index = CIO__TIMER_IDLE;
  free(h->heap);
  cio__timers_init(h);
}

// Removes the slot at i and fills the hole with the last slot.
static void remove_at(cio__timers *h, size_t i) {
  h->heap[i].timer->index = CIO__TIMER_IDLE;
  cio__timer_slot last = h->heap[--h->len];
  if (i == h->len) return;
  if (i > 0 && earlier(&last, &h->heap[(i - 1) / 4]))
    sift_up(h, i, last);
  else
    sift_down(h, i, last);
}

int cio__timer_arm(cio__timers *h, cio__timer *t, int64_t deadline) {
  if (cio__timer_armed(t)) remove_at(h, t->index);
  if (h->len == h->cap) {
    size_t cap = h->cap ? h->cap * 2 : 64;
    cio__timer_slot *heap = realloc(h->heap, cap * sizeof *heap);
    if (!heap) return -ENOMEM;
    h->heap = heap;
    h->cap = cap;
  }
  cio__timer_slot s = {deadline, h->seq++, t};
  sift_up(h, h->len++, s);
  return 0;
}

void cio__timer_disarm(cio__timers *h, cio__timer *t) {
  if (cio__timer_armed(t)) remove_at(h, t->index);
}

size_t cio__timers_run(cio__timers *h, int64_t now, void (*fire)(cio__timer *t)) {
  size_t n = 0;
  while (h->len && h->heap[0].deadline <= now) {
    cio__timer *t = h->heap[0].timer;
    remove_at(h, 0);
    fire(t);
    n++;
  }
  return n;
}
