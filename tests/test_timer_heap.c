// SPDX-License-Identifier: MIT
//
// The timer heap (white box): random arms, re-arms and disarms against a
// brute-force reference; firing order is (deadline, arming order).
#include <stdlib.h>

#include "helpers/test.h"
#include "loop/timer.h"

#define N 2000

static cio__timer timers[N];
static uint64_t armed_seq[N]; // arming order of each armed timer (reference)
static int64_t armed_when[N]; // its deadline (reference)
static int fired[N * 4];
static int nfired;

static void on_fire(cio__timer *t) { fired[nfired++] = (int)(t - timers); }

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void) { return test_random(&rng); }

static void random_operations_match_reference(void) {
  cio__timers h;
  cio__timers_init(&h);
  for (int i = 0; i < N; i++) cio__timer_init(&timers[i]);
  uint64_t seq = 0;
  int64_t now = 0;
  for (int round = 0; round < 50; round++) {
    for (int op = 0; op < 4000; op++) {
      int i = (int)(next_rand() % N);
      if (next_rand() % 3 == 0) {
        cio__timer_disarm(&h, &timers[i]);
      } else {
        int64_t when = now + (int64_t)(next_rand() % 64); // many ties
        ASSERT_EQ(cio__timer_arm(&h, &timers[i], when), 0);
        armed_seq[i] = seq++;
        armed_when[i] = when;
      }
    }
    size_t armed = 0, nsnap;
    cio__timer_slot *snap = cio__timers_snapshot(&h, &nsnap);
    ASSERT_EQ(nsnap, h.live);
    for (int i = 0; i < N; i++) {
      ASSERT_EQ(cio__timer_deadline(snap, nsnap, &timers[i]),
                cio__timer_armed(&timers[i]) ? armed_when[i] : INT64_MAX);
      if (!cio__timer_armed(&timers[i])) continue;
      armed++;
    }
    free(snap);
    ASSERT_EQ(armed, h.live);
    ASSERT(h.len <= 2 * h.live + 257); // stale slots stay bounded
    now += 20;
    // Expected: every armed timer with deadline <= now, by (deadline, seq).
    int expect[N], ne = 0;
    for (int i = 0; i < N; i++)
      if (cio__timer_armed(&timers[i]) && armed_when[i] <= now) expect[ne++] = i;
    for (int a = 1; a < ne; a++) // insertion sort by (deadline, seq)
      for (int b = a; b > 0; b--) {
        int64_t x = armed_when[expect[b - 1]], y = armed_when[expect[b]];
        if (x < y || (x == y && armed_seq[expect[b - 1]] < armed_seq[expect[b]])) break;
        int tmp = expect[b];
        expect[b] = expect[b - 1];
        expect[b - 1] = tmp;
      }
    nfired = 0;
    ASSERT_EQ(cio__timers_run(&h, now, on_fire), ne);
    ASSERT_EQ(nfired, ne);
    for (int k = 0; k < ne; k++) ASSERT_EQ(fired[k], expect[k]);
    for (int k = 0; k < ne; k++) ASSERT(!cio__timer_armed(&timers[fired[k]]));
    ASSERT(cio__timers_next(&h) > now);
  }
  cio__timers_fini(&h);
}

// Cancelling many timers leaves stale slots behind; the heap is rebuilt
// without them before they outnumber the live ones.
static void stale_slots_stay_bounded(void) {
  cio__timers h;
  cio__timers_init(&h);
  for (int i = 0; i < N; i++) cio__timer_init(&timers[i]);
  for (int i = 0; i < 100; i++) ASSERT_EQ(cio__timer_arm(&h, &timers[i], 1000000 + i), 0);
  for (int k = 0; k < 100000; k++) { // cancel-and-rearm churn, as timeouts do
    int i = 100 + k % (N - 100);
    ASSERT_EQ(cio__timer_arm(&h, &timers[i], 5000 + k), 0);
    cio__timer_disarm(&h, &timers[i]);
    ASSERT(h.len <= 2 * h.live + 257);
  }
  ASSERT_EQ(h.live, 100);
  ASSERT_EQ(cio__timers_next(&h), 1000000);
  nfired = 0;
  ASSERT_EQ(cio__timers_run(&h, INT64_MAX, on_fire), 100);
  for (int k = 0; k < 100; k++) ASSERT_EQ(fired[k], k);
  ASSERT_EQ(h.len, 0);
  cio__timers_fini(&h);
}

// A timer's generation wraps around after 2^32 arms and disarms: a stale
// slot left from 2^32 transitions ago must not come back to life.
static void generation_wrap_drops_old_slots(void) {
  cio__timers h;
  cio__timers_init(&h);
  cio__timer *t = &timers[0], *other = &timers[1];
  cio__timer_init(t);
  cio__timer_init(other);
  ASSERT_EQ(cio__timer_arm(&h, other, 1000000), 0); // keeps the heap non-empty
  ASSERT_EQ(cio__timer_arm(&h, t, 5), 0);           // generation 1, deadline 5
  cio__timer_disarm(&h, t);                         // its slot is stale now
  t->gen = UINT32_MAX - 1;                          // as if 2^32 - 3 more arms and disarms went by
  ASSERT_EQ(cio__timer_arm(&h, t, 1000), 0);
  cio__timer_disarm(&h, t);                  // wraps to 0
  ASSERT_EQ(cio__timer_arm(&h, t, 1000), 0); // generation 1 again
  nfired = 0;
  ASSERT_EQ(cio__timers_run(&h, 10, on_fire), 0); // the old slot (deadline 5) is gone
  ASSERT(cio__timer_armed(t));
  ASSERT_EQ(cio__timers_run(&h, 1000, on_fire), 1);
  ASSERT_EQ(fired[0], 0);
  cio__timers_fini(&h);
}

// Mass expiry (expire_bulk in timer.c): when most of a big heap is due at
// once, the due timers are taken out in bulk and sorted; they must fire
// exactly as pops would, by (deadline, arming order), stale slots skipped.
#define BIG 200000
static cio__timer big[BIG];
static int64_t big_when[BIG];
static uint64_t big_seq[BIG];
static int big_fired[BIG];
static size_t big_nfired;
static void on_big_fire(cio__timer *t) { big_fired[big_nfired++] = (int)(t - big); }
static int by_when_seq(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  if (big_when[x] != big_when[y]) return big_when[x] < big_when[y] ? -1 : 1;
  return big_seq[x] < big_seq[y] ? -1 : big_seq[x] > big_seq[y];
}
static void expect_big_run(cio__timers *h, int64_t now) {
  static int expect[BIG];
  size_t ne = 0;
  for (int i = 0; i < BIG; i++)
    if (cio__timer_armed(&big[i]) && big_when[i] <= now) expect[ne++] = i;
  qsort(expect, ne, sizeof *expect, by_when_seq);
  big_nfired = 0;
  ASSERT_EQ(cio__timers_run(h, now, on_big_fire), ne);
  ASSERT_EQ(big_nfired, ne);
  for (size_t k = 0; k < ne; k++) ASSERT_EQ(big_fired[k], expect[k]);
  for (size_t k = 0; k < ne; k++) ASSERT(!cio__timer_armed(&big[big_fired[k]]));
  ASSERT(now == INT64_MAX ? cio__timers_next(h) == INT64_MAX : cio__timers_next(h) > now);
}
static void mass_expiry_fires_in_order(void) {
  cio__timers h;
  cio__timers_init(&h);
  for (int i = 0; i < BIG; i++) cio__timer_init(&big[i]);
  uint64_t seq = 0;
  for (int i = 0; i < BIG; i++) { // ms-granular deadlines: many ties
    big_when[i] = (int64_t)(next_rand() % 1000) * 1000000;
    big_seq[i] = seq++;
    ASSERT_EQ(cio__timer_arm(&h, &big[i], big_when[i]), 0);
  }
  for (int i = 0; i < BIG; i += 7) cio__timer_disarm(&h, &big[i]); // stale slots
  for (int i = 3; i < BIG; i += 11) { // re-armed: a stale slot and a live one
    big_when[i] = (int64_t)(next_rand() % 1000) * 1000000;
    big_seq[i] = seq++;
    ASSERT_EQ(cio__timer_arm(&h, &big[i], big_when[i]), 0);
  }
  expect_big_run(&h, 600 * 1000000); // about 60% due: the bulk path
  ASSERT(h.live > 0);
  expect_big_run(&h, 610 * 1000000); // a few: pops
  expect_big_run(&h, INT64_MAX);     // the rest
  ASSERT_EQ(h.live, 0);
  cio__timers_fini(&h);
}

static void empty_heap(void) {
  cio__timers h;
  cio__timers_init(&h);
  ASSERT_EQ(cio__timers_next(&h), INT64_MAX);
  ASSERT_EQ(cio__timers_run(&h, INT64_MAX, on_fire), 0);
  cio__timer t;
  cio__timer_init(&t);
  cio__timer_disarm(&h, &t); // not armed: nothing happens
  cio__timers_fini(&h);
}

static const test_case cases[] = {
    {"random_operations_match_reference", random_operations_match_reference, 0},
    {"stale_slots_stay_bounded", stale_slots_stay_bounded, 0},
    {"generation_wrap_drops_old_slots", generation_wrap_drops_old_slots, 0},
    {"mass_expiry_fires_in_order", mass_expiry_fires_in_order, 0},
    {"empty_heap", empty_heap, 0},
};
TEST_MAIN(cases)
