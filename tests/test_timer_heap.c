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
static uint64_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

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
    size_t armed = 0;
    for (int i = 0; i < N; i++) {
      if (!cio__timer_armed(&timers[i])) continue;
      armed++;
      ASSERT_EQ(cio__timer_deadline(&h, &timers[i]), armed_when[i]);
    }
    ASSERT_EQ(armed, h.len);
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
    {"empty_heap", empty_heap, 0},
};
TEST_MAIN(cases)
