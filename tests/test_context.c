// SPDX-License-Identifier: MIT
//
// The context switch: state that must survive a switch does (callee-saved
// registers, floating point values and the FP control state), and deep
// recursion on task stacks interleaves correctly with other tasks.
#include <cio.h>
#include <fenv.h>
#include <math.h>
#include <string.h>

#include "context/valgrind_compat.h"
#include "helpers/test.h"

// Recurses `depth` frames, yielding at every level, and returns a checksum
// computed from values that live in registers and frames across the yields.
static unsigned long recurse(int depth, unsigned long acc) {
  volatile unsigned char pad[64]; // real frames, not a tail call
  memset((char *)pad, depth & 0xff, sizeof pad);
  if (depth == 0) return acc;
  if (cio_yield() < 0) return 0;
  unsigned long below = recurse(depth - 1, acc * 31 + depth);
  return below + pad[depth % 64] + depth;
}

static unsigned long expected_recurse(int depth, unsigned long acc) {
  if (depth == 0) return acc;
  return expected_recurse(depth - 1, acc * 31 + depth) + (depth & 0xff) + depth;
}

struct rec {
  int depth;            // recursion depth
  unsigned long result; // checksum
};

static int rec_task(void *arg) {
  struct rec *r = arg;
  r->result = recurse(r->depth, 7);
  return 0;
}

static int deep_main(void *arg) {
  (void)arg;
  struct rec r[4] = {{100, 0}, {250, 0}, {37, 0}, {180, 0}};
  cio_task *t[4];
  for (int i = 0; i < 4; i++) t[i] = cio_spawn(rec_task, &r[i]);
  for (int i = 0; i < 4; i++) ASSERT_EQ(cio_join(t[i]), 0);
  for (int i = 0; i < 4; i++) ASSERT_EQ(r[i].result, expected_recurse(r[i].depth, 7));
  return 0;
}

static void deep_recursion_interleaved(void) { ASSERT_EQ(cio_run(deep_main, NULL), 0); }

// Many integer and floating point values live across yields: if a callee-saved
// register or d8-d15 / xmm state were lost, the sums would differ.
static int regs_task(void *arg) {
  unsigned long seed = (unsigned long)(uintptr_t)arg;
  unsigned long a = seed, b = seed * 3, c = seed * 5, d = seed * 7, e = seed * 11, f = seed * 13;
  double x = seed * 0.5, y = seed * 0.25, z = seed * 0.125, w = 1.0 / (seed + 1);
  for (int i = 0; i < 1000; i++) {
    a += b ^ (unsigned long)i;
    b += c + i;
    c ^= d << 1;
    d += e * 3;
    e ^= f + i;
    f += a;
    x = x * 1.0000001 + y;
    y = y * 0.9999999 + z;
    z = z + w;
    w = sqrt(w + 1.0);
    if (cio_yield() < 0) return -1;
  }
  // The same arithmetic without switches, written out again on purpose: the
  // values above must stay in registers across the yields, which a shared
  // helper working on a struct in memory would not test.
  unsigned long ai = seed, bi = seed * 3, ci = seed * 5, di = seed * 7, ei = seed * 11,
                fi = seed * 13;
  double xi = seed * 0.5, yi = seed * 0.25, zi = seed * 0.125, wi = 1.0 / (seed + 1);
  for (int i = 0; i < 1000; i++) {
    ai += bi ^ (unsigned long)i;
    bi += ci + i;
    ci ^= di << 1;
    di += ei * 3;
    ei ^= fi + i;
    fi += ai;
    xi = xi * 1.0000001 + yi;
    yi = yi * 0.9999999 + zi;
    zi = zi + wi;
    wi = sqrt(wi + 1.0);
  }
  ASSERT(a == ai && b == bi && c == ci && d == di && e == ei && f == fi);
  ASSERT(x == xi && y == yi && z == zi && w == wi);
  return 0;
}

static int regs_main(void *arg) {
  (void)arg;
  cio_task *t[8];
  for (long i = 0; i < 8; i++) t[i] = cio_spawn(regs_task, (void *)(intptr_t)(i + 1));
  for (int i = 0; i < 8; i++) ASSERT_EQ(cio_join(t[i]), 0);
  return 0;
}

static void registers_survive_switches(void) { ASSERT_EQ(cio_run(regs_main, NULL), 0); }

// The rounding mode is per task: one task rounding upward must not change
// how another rounds, and keeps its own mode across switches.
static int round_up_task(void *arg) {
  (void)arg;
  fesetround(FE_UPWARD);
  for (int i = 0; i < 100; i++) {
    ASSERT_EQ(cio_yield(), 0);
    ASSERT_EQ(fegetround(), FE_UPWARD);
    volatile double one = 1.0, three = 3.0;
    // valgrind does not emulate SSE rounding modes; the mode itself is checked above.
    if (!RUNNING_ON_VALGRIND) ASSERT(one / three > 0.3333333333333333);
  }
  fesetround(FE_TONEAREST);
  return 0;
}

static int nearest_task(void *arg) {
  (void)arg;
  for (int i = 0; i < 100; i++) {
    ASSERT_EQ(cio_yield(), 0);
    ASSERT_EQ(fegetround(), FE_TONEAREST);
  }
  return 0;
}

static int fp_main(void *arg) {
  (void)arg;
  cio_task *a = cio_spawn(round_up_task, NULL);
  cio_task *b = cio_spawn(nearest_task, NULL);
  ASSERT_EQ(cio_join(a), 0);
  ASSERT_EQ(cio_join(b), 0);
  return 0;
}

static void fp_control_word_is_per_task(void) { ASSERT_EQ(cio_run(fp_main, NULL), 0); }

// Interleaving: two tasks yielding in turn alternate strictly (FIFO).
struct trace {
  char log[64]; // order of steps
  int len;      // used
};

static int tracer(void *arg) {
  struct trace *tr = arg;
  char me = cio_task_name(cio_current())[0];
  for (int i = 0; i < 4; i++) {
    tr->log[tr->len++] = me;
    ASSERT_EQ(cio_yield(), 0);
  }
  return 0;
}

static int order_main(void *arg) {
  (void)arg;
  struct trace tr = {{0}, 0};
  cio_task *a = cio_spawn_named("a", tracer, &tr);
  cio_task *b = cio_spawn_named("b", tracer, &tr);
  ASSERT_EQ(cio_join(a), 0);
  ASSERT_EQ(cio_join(b), 0);
  tr.log[tr.len] = 0;
  ASSERT(strcmp(tr.log, "abababab") == 0);
  return 0;
}

static void yield_alternates_fifo(void) { ASSERT_EQ(cio_run(order_main, NULL), 0); }

static const test_case cases[] = {
    {"deep_recursion_interleaved", deep_recursion_interleaved, 0},
    {"registers_survive_switches", registers_survive_switches, 0},
    {"fp_control_word_is_per_task", fp_control_word_is_per_task, 0},
    {"yield_alternates_fifo", yield_alternates_fifo, 0},
};
TEST_MAIN(cases)
