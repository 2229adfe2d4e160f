// SPDX-License-Identifier: MIT
//
// The queue between loops (cio_xqueue): cio_queue's semantics on one loop
// (FIFO, backpressure, nowait, task_done/join, shutdown, free), then across
// two loops on two threads: order and count through a small bound, and
// chaos — producers and consumers on both loops under random timeouts and
// cancellations — after which every item put was got exactly once.  A loop
// whose tasks all wait on another loop waits instead of reporting a
// deadlock.
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cio.h"
#include "helpers/test.h"

static void *as_item(uintptr_t v) { return (void *)v; }

// ---------------------------------------------------------------- one loop

static int slow_getter(void *arg) {
  cio_xqueue *q = arg;
  int rc = cio_sleep(0.05);
  void *item;
  if (rc == 0) rc = cio_xqueue_get(q, &item);
  return rc < 0 ? rc : (int)(uintptr_t)item;
}

static int one_loop_main(void *arg) {
  (void)arg;
  cio_xqueue *q = cio_xqueue_new(2);
  ASSERT(q);
  ASSERT_EQ(cio_xqueue_put(q, as_item(1)), 0);
  ASSERT_EQ(cio_xqueue_put_nowait(q, as_item(2)), 0);
  ASSERT_EQ(cio_xqueue_put_nowait(q, as_item(3)), -EAGAIN); // full
  ASSERT_EQ(cio_xqueue_put_for(q, as_item(3), 0.05), -ETIMEDOUT);
  ASSERT_EQ(cio_xqueue_size(q), 2);
  // A put waits for room a getter makes.
  cio_task *g = cio_spawn(slow_getter, q);
  double t0 = cio_now();
  ASSERT_EQ(cio_xqueue_put(q, as_item(3)), 0);
  ASSERT(cio_now() - t0 >= 0.04);
  ASSERT_EQ(cio_join(g), 1); // FIFO: the first item
  void *item;
  ASSERT_EQ(cio_xqueue_get(q, &item), 0);
  ASSERT_EQ((uintptr_t)item, 2);
  ASSERT_EQ(cio_xqueue_get_nowait(q, &item), 0);
  ASSERT_EQ((uintptr_t)item, 3);
  ASSERT_EQ(cio_xqueue_get_nowait(q, &item), -EAGAIN);
  ASSERT_EQ(cio_xqueue_get_for(q, &item, 0.02), -ETIMEDOUT);
  // join: until every item got is marked done.
  ASSERT_EQ(cio_xqueue_join_for(q, 0.02), -ETIMEDOUT);
  for (int i = 0; i < 3; i++) ASSERT_EQ(cio_xqueue_task_done(q), 0);
  ASSERT_EQ(cio_xqueue_task_done(q), -EOVERFLOW);
  ASSERT_EQ(cio_xqueue_join(q), 0);
  // Shutdown: gets drain what is left, then -ESHUTDOWN; puts fail.
  ASSERT_EQ(cio_xqueue_put(q, as_item(4)), 0);
  ASSERT_EQ(cio_xqueue_shutdown(q, false), 0);
  ASSERT_EQ(cio_xqueue_put(q, as_item(5)), -ESHUTDOWN);
  ASSERT_EQ(cio_xqueue_get(q, &item), 0);
  ASSERT_EQ((uintptr_t)item, 4);
  ASSERT_EQ(cio_xqueue_get(q, &item), -ESHUTDOWN);
  ASSERT_EQ(cio_xqueue_put(q, NULL), -EINVAL);
  ASSERT_EQ(cio_xqueue_free(q), 0);
  // Immediate shutdown drops what is left and lets joiners go.
  q = cio_xqueue_new(0);
  for (uintptr_t i = 1; i <= 100; i++) ASSERT_EQ(cio_xqueue_put(q, as_item(i)), 0); // grows
  ASSERT_EQ(cio_xqueue_size(q), 100);
  ASSERT_EQ(cio_xqueue_free(q), -ENOTEMPTY);
  ASSERT_EQ(cio_xqueue_shutdown(q, true), 100);
  ASSERT_EQ(cio_xqueue_join(q), 0);
  ASSERT_EQ(cio_xqueue_free(q), 0);
  ASSERT_EQ(cio_xqueue_free(NULL), -EINVAL);
  return 0;
}

static void one_loop_semantics(void) { ASSERT_EQ(cio_run(one_loop_main, NULL), 0); }

// ---------------------------------------------------------------- two loops

enum { ITEMS = 200000 };

static cio_xqueue *xq;

static int produce(void *arg) {
  uintptr_t n = (uintptr_t)arg;
  for (uintptr_t i = 1; i <= n; i++) {
    int rc = cio_xqueue_put(xq, as_item(i));
    if (rc < 0) return rc;
  }
  return 0;
}

static int consume(void *arg) {
  uintptr_t n = (uintptr_t)arg;
  for (uintptr_t i = 1; i <= n; i++) {
    void *item;
    int rc = cio_xqueue_get(xq, &item);
    if (rc < 0) return rc;
    if ((uintptr_t)item != i) return -EPROTO; // out of order
  }
  return 0;
}

struct loop_job {
  cio_fn fn; // the loop's main
  void *arg; //   its argument
  int rc;    // what cio_run returned
};

static void *loop_thread(void *arg) {
  struct loop_job *j = arg;
  j->rc = cio_run(j->fn, j->arg);
  return NULL;
}

// Rounds with bounds from 1 to 64: a small bound makes the producer find the
// queue full and the consumer find it empty at every turn, so both wait
// often (a producer once parked on a queue the consumer had emptied while
// it looked, and both waited for ever).
static void order_across_loops(void) {
  static const size_t bounds[] = {1, 2, 64};
  for (size_t b = 0; b < sizeof bounds / sizeof bounds[0]; b++) {
    xq = cio_xqueue_new(bounds[b]);
    uintptr_t n = (uintptr_t)(ITEMS / (bounds[b] < 64 ? 4 : 1) * test_scale()) + 1000;
    struct loop_job p = {produce, (void *)n, -1}, c = {consume, (void *)n, -1};
    pthread_t tp, tc;
    ASSERT_EQ(pthread_create(&tc, NULL, loop_thread, &c), 0);
    ASSERT_EQ(pthread_create(&tp, NULL, loop_thread, &p), 0);
    pthread_join(tp, NULL);
    pthread_join(tc, NULL);
    ASSERT_EQ(p.rc, 0);
    ASSERT_EQ(c.rc, 0);
    ASSERT_EQ(cio_xqueue_free(xq), 0);
  }
}

// ---------------------------------------------------------------- chaos

enum { CHAOS_ITEMS = 20000, WORKERS = 4 };

static _Atomic uint32_t next_item; // the next item a producer puts
static uint32_t limit;             // how many in all
static _Atomic uint8_t *seen;      // per item: 1 put, 2 got (3 both)
static _Atomic int put_ok, got_ok;

static int chaos_producer(void *arg) {
  uint64_t rnd = (uintptr_t)arg;
  for (;;) {
    uint32_t i = atomic_fetch_add(&next_item, 1) + 1;
    if (i > limit) return 0;
    for (;;) { // until this item is in, or the task is cancelled
      double timeout = (double)(test_random(&rnd) % 1000) / 1e6; // up to 1 ms
      int rc = cio_xqueue_put_for(xq, as_item(i), timeout);
      if (rc == 0) {
        ASSERT_EQ(atomic_fetch_or(&seen[i], 1) & 1, 0); // put once
        atomic_fetch_add(&put_ok, 1);
        break;
      }
      if (rc == -ECANCELED) { // not put: the item stays the producer's
        atomic_fetch_or(&seen[i], 4);
        return rc;
      }
      ASSERT_EQ(rc, -ETIMEDOUT);
    }
  }
}

static int chaos_consumer(void *arg) {
  uint64_t rnd = (uintptr_t)arg;
  for (;;) {
    void *item;
    double timeout = (double)(test_random(&rnd) % 2000) / 1e6;
    int rc = cio_xqueue_get_for(xq, &item, timeout);
    if (rc == -ESHUTDOWN || rc == -ECANCELED) return rc;
    if (rc == -ETIMEDOUT) continue;
    ASSERT_EQ(rc, 0);
    uint32_t i = (uint32_t)(uintptr_t)item;
    ASSERT(i >= 1 && i <= limit);
    ASSERT_EQ(atomic_fetch_or(&seen[i], 2) & 2, 0); // got once
    atomic_fetch_add(&got_ok, 1);
    ASSERT_EQ(cio_xqueue_task_done(xq), 0);
    if (test_random(&rnd) % 64 == 0) { // now and then, slow: the queue fills
      int rc = cio_sleep(0.0002);
      if (rc < 0) return rc;
    }
  }
}

// Each loop runs WORKERS producers and WORKERS consumers, and cancels one
// of them at random every few tens of microseconds, replacing it.  When
// every item is handed out, each loop waits for both loops' producers,
// then for the queue to be drained (join); the first loop shuts it down.
static _Atomic int producing_loops_done;

static int chaos_loop(void *arg) {
  uint64_t rnd = (uintptr_t)arg;
  bool first = (rnd & 2) == 0;
  cio_task *t[2 * WORKERS];
  for (int i = 0; i < 2 * WORKERS; i++)
    t[i] = cio_spawn(i < WORKERS ? chaos_producer : chaos_consumer, (void *)(uintptr_t)(rnd + i));
  while (atomic_load(&next_item) <= limit) {
    ASSERT_EQ(cio_sleep((double)(test_random(&rnd) % 100) / 1e6), 0);
    int k = (int)(test_random(&rnd) % (2 * WORKERS));
    (void)cio_cancel(t[k]);
    int rc = cio_join(t[k]);
    ASSERT(rc == 0 || rc == -ECANCELED);
    t[k] = cio_spawn(k < WORKERS ? chaos_producer : chaos_consumer,
                     (void *)(uintptr_t)test_random(&rnd));
  }
  for (int i = 0; i < WORKERS; i++) {
    int rc = cio_join(t[i]);
    ASSERT(rc == 0 || rc == -ECANCELED);
  }
  atomic_fetch_add(&producing_loops_done, 1);
  while (atomic_load(&producing_loops_done) < 2) ASSERT_EQ(cio_sleep(0.001), 0);
  ASSERT_EQ(cio_xqueue_join_for(xq, 30), 0);
  if (first) cio_xqueue_shutdown(xq, false);
  for (int i = WORKERS; i < 2 * WORKERS; i++) {
    int rc = cio_join(t[i]);
    ASSERT(rc == -ESHUTDOWN || rc == -ECANCELED);
  }
  return 0;
}

static void chaos_across_loops(void) {
  limit = (uint32_t)(CHAOS_ITEMS * test_scale()) + 500;
  seen = calloc(limit + 1, 1);
  ASSERT(seen);
  xq = cio_xqueue_new(16);
  uint64_t seed = (uint64_t)time(NULL) | 1;
  const char *s = getenv("CIO_TEST_SEED");
  if (s) seed = strtoull(s, NULL, 10) | 1;
  printf("  seed %llu (CIO_TEST_SEED replays it)\n", (unsigned long long)seed);
  // Bit 1 of a loop's seed says which one shuts the queue down.
  struct loop_job a = {chaos_loop, (void *)(uintptr_t)(seed & ~(uint64_t)2), -1},
                  b = {chaos_loop, (void *)(uintptr_t)(seed | 2), -1};
  pthread_t ta, tb;
  ASSERT_EQ(pthread_create(&ta, NULL, loop_thread, &a), 0);
  ASSERT_EQ(pthread_create(&tb, NULL, loop_thread, &b), 0);
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  ASSERT_EQ(a.rc, 0);
  ASSERT_EQ(b.rc, 0);
  // Every item was put and got exactly once, or held by a producer that
  // was cancelled before it could put it (and then never got).
  void *item;
  ASSERT_EQ(cio_xqueue_get_nowait(xq, &item), -ESHUTDOWN); // drained
  int both = 0, abandoned = 0, wrong = 0;
  for (uint32_t i = 1; i <= limit; i++) {
    both += seen[i] == 3;
    abandoned += seen[i] == 4;
    wrong += seen[i] != 3 && seen[i] != 4;
  }
  printf("  %u items: %d put and got once, %d kept by a cancelled producer, %d wrong; %d puts, %d "
         "gets\n",
         limit, both, abandoned, wrong, atomic_load(&put_ok), atomic_load(&got_ok));
  ASSERT_EQ(wrong, 0);
  ASSERT_EQ(atomic_load(&put_ok), both);
  ASSERT_EQ(atomic_load(&got_ok), both);
  ASSERT_EQ(cio_xqueue_free(xq), 0);
  free((void *)seen);
}

// ---------------------------------------------------------------- no false deadlock

static void *late_put(void *arg) {
  struct timespec ts = {0, 200 * 1000 * 1000};
  nanosleep(&ts, NULL);
  ASSERT_EQ(cio_xqueue_put_nowait(arg, as_item(42)), 0); // from a thread with no loop
  return NULL;
}

static int waits_main(void *arg) {
  cio_xqueue *q = arg;
  void *item;
  ASSERT_EQ(cio_xqueue_get(q, &item), 0); // every task of this loop waits here
  ASSERT_EQ((uintptr_t)item, 42);
  return 0;
}

static void waiting_on_another_thread_is_no_deadlock(void) {
  cio_xqueue *q = cio_xqueue_new(1);
  pthread_t t;
  ASSERT_EQ(pthread_create(&t, NULL, late_put, q), 0);
  ASSERT_EQ(cio_run(waits_main, q), 0);
  pthread_join(t, NULL);
  ASSERT_EQ(cio_xqueue_free(q), 0);
}

static const test_case cases[] = {
    {"one_loop_semantics", one_loop_semantics, 0},
    {"order_across_loops", order_across_loops, 120},
    {"chaos_across_loops", chaos_across_loops, 120},
    {"waiting_on_another_thread_is_no_deadlock", waiting_on_another_thread_is_no_deadlock, 0},
};

TEST_MAIN(cases)
