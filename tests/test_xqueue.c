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
  // A freed queue is refused (sync.h), not read after its free (ASan).
  ASSERT_EQ(cio_xqueue_free(q), -EINVAL);
  ASSERT_EQ(cio_xqueue_size(q), 0);
  ASSERT_EQ(cio_xqueue_put(q, as_item(1)), -EINVAL);
  ASSERT_EQ(cio_xqueue_free(NULL), -EINVAL);
  return 0;
}

static void one_loop_semantics(void) { ASSERT_EQ(cio_run(one_loop_main, NULL), 0); }

// Bounds that are not the ring's size (a power of two) are kept exactly
// while the ring wraps many times: fill to the bound, find it full, take a
// few; FIFO throughout.
static int bounds_main(void *arg) {
  (void)arg;
  static const size_t bounds[] = {1, 3, 5, 100};
  int rounds = (int)(5000 * test_scale()) + 200;
  uint64_t rnd = 7;
  for (size_t b = 0; b < sizeof bounds / sizeof bounds[0]; b++) {
    size_t m = bounds[b];
    cio_xqueue *q = cio_xqueue_new(m);
    ASSERT(q);
    uintptr_t next_put = 1, next_get = 1;
    void *item;
    for (int r = 0; r < rounds; r++) {
      while (cio_xqueue_size(q) < m) ASSERT_EQ(cio_xqueue_put_nowait(q, as_item(next_put++)), 0);
      ASSERT_EQ(cio_xqueue_put_nowait(q, as_item(next_put)), -EAGAIN);
      ASSERT_EQ(cio_xqueue_put_for(q, as_item(next_put), 0), -ETIMEDOUT);
      size_t k = 1 + test_random(&rnd) % m;
      for (size_t i = 0; i < k; i++) {
        ASSERT_EQ(r % 2 ? cio_xqueue_get(q, &item) : cio_xqueue_get_nowait(q, &item), 0);
        ASSERT_EQ((uintptr_t)item, next_get++);
      }
    }
    while (cio_xqueue_get_nowait(q, &item) == 0) ASSERT_EQ((uintptr_t)item, next_get++);
    ASSERT_EQ(next_get, next_put);
    ASSERT_EQ(cio_xqueue_shutdown(q, true), 0);
    ASSERT_EQ(cio_xqueue_free(q), 0);
  }
  return 0;
}

static void bounds_kept_as_the_ring_wraps(void) { ASSERT_EQ(cio_run(bounds_main, NULL), 0); }

// An unbounded queue holds 1,024 items in its ring and spills the rest to
// a list: puts beyond the ring, gets that empty the spill (puts go back to
// the ring), FIFO and the counts of task_done across both.
static int spill_main(void *arg) {
  (void)arg;
  cio_xqueue *q = cio_xqueue_new(0);
  ASSERT(q);
  uintptr_t next_put = 1, next_get = 1;
  uint64_t rnd = 11;
  void *item;
  for (int r = 0; r < 40; r++) {
    size_t puts = test_random(&rnd) % 3000, gets = test_random(&rnd) % 3000;
    for (size_t i = 0; i < puts; i++)
      ASSERT_EQ(i % 2 ? cio_xqueue_put(q, as_item(next_put++))
                      : cio_xqueue_put_nowait(q, as_item(next_put++)),
                0);
    for (size_t i = 0; i < gets && next_get < next_put; i++) {
      ASSERT_EQ(i % 2 ? cio_xqueue_get(q, &item) : cio_xqueue_get_nowait(q, &item), 0);
      ASSERT_EQ((uintptr_t)item, next_get++);
    }
    ASSERT_EQ(cio_xqueue_size(q), next_put - next_get);
  }
  ASSERT_EQ(cio_xqueue_free(q), next_put == next_get ? 0 : -ENOTEMPTY);
  while (cio_xqueue_get_nowait(q, &item) == 0) ASSERT_EQ((uintptr_t)item, next_get++);
  ASSERT_EQ(next_get, next_put);
  ASSERT_EQ(cio_xqueue_join_for(q, 0.01), -ETIMEDOUT);
  for (uintptr_t i = 1; i < next_put; i++) ASSERT_EQ(cio_xqueue_task_done(q), 0);
  ASSERT_EQ(cio_xqueue_task_done(q), -EOVERFLOW);
  ASSERT_EQ(cio_xqueue_join(q), 0);
  ASSERT_EQ(cio_xqueue_free(q), 0);
  return 0;
}

static void unbounded_spills_in_order(void) { ASSERT_EQ(cio_run(spill_main, NULL), 0); }

// A task whose puts and gets never have to wait still lets its loop's
// other tasks and timers run (the cooperative budget): without it, the
// loop below would never see the ticker's flag.
static atomic_bool ticked;

static int ticker(void *arg) {
  (void)arg;
  int rc = cio_sleep(0.001);
  atomic_store(&ticked, true);
  return rc;
}

static double mono_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int busy_main(void *arg) {
  (void)arg;
  cio_xqueue *q = cio_xqueue_new(0);
  cio_task *t = cio_spawn(ticker, NULL);
  double t0 = mono_s();
  for (long n = 1; !atomic_load(&ticked); n++) {
    void *item;
    ASSERT_EQ(cio_xqueue_put(q, as_item(1)), 0);
    ASSERT_EQ(cio_xqueue_get(q, &item), 0);
    if (n % 1024 == 0) ASSERT(mono_s() - t0 < 10);
  }
  ASSERT_EQ(cio_join(t), 0);
  ASSERT_EQ(cio_xqueue_free(q), 0);
  return 0;
}

static void never_waiting_still_lets_the_loop_run(void) { ASSERT_EQ(cio_run(busy_main, NULL), 0); }

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
// Runs a and b, each as the main of its own loop on its own thread, and
// waits for both.
static void run_two_loops(struct loop_job *a, struct loop_job *b) {
  pthread_t ta, tb;
  ASSERT_EQ(pthread_create(&tb, NULL, loop_thread, b), 0);
  ASSERT_EQ(pthread_create(&ta, NULL, loop_thread, a), 0);
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
}

// Bound 3 is not the ring's size (4): the bound is kept by looking at the
// slot three places back.  Bound 0 is unbounded: a producer that runs ahead
// spills past the ring, and the items must still come out in order.
static void order_across_loops(void) {
  static const size_t bounds[] = {1, 2, 3, 64, 0};
  for (size_t b = 0; b < sizeof bounds / sizeof bounds[0]; b++) {
    xq = cio_xqueue_new(bounds[b]);
    bool small = bounds[b] && bounds[b] < 64;
    uintptr_t n = (uintptr_t)(ITEMS / (small ? 4 : 1) * test_scale()) + 1000;
    struct loop_job p = {produce, (void *)n, -1}, c = {consume, (void *)n, -1};
    double t0 = mono_s();
    run_two_loops(&p, &c);
    printf("  bound %zu: %lu items, %.0f ns each\n", bounds[b], (unsigned long)n,
           (mono_s() - t0) * 1e9 / (double)n);
    ASSERT_EQ(p.rc, 0);
    ASSERT_EQ(c.rc, 0);
    ASSERT_EQ(cio_xqueue_free(xq), 0);
  }
}

// ---------------------------------------------------------------- waking across loops

// Request and response between two loops through two queues of one slot:
// each side waits for the other at every round, and now and then one of
// them sleeps long past the other's spin, which then parks.  A lost
// wakeup hangs the case.
static cio_xqueue *req_q, *resp_q;

static int pinger(void *arg) {
  uintptr_t n = (uintptr_t)arg;
  uint64_t rnd = 3;
  for (uintptr_t i = 1; i <= n; i++) {
    ASSERT_EQ(cio_xqueue_put(req_q, as_item(i)), 0);
    if (test_random(&rnd) % 8 == 0) ASSERT_EQ(cio_sleep(0.0001), 0);
    void *item;
    ASSERT_EQ(cio_xqueue_get(resp_q, &item), 0);
    ASSERT_EQ((uintptr_t)item, i);
  }
  return 0;
}

static int ponger(void *arg) {
  uintptr_t n = (uintptr_t)arg;
  uint64_t rnd = 5;
  for (uintptr_t i = 1; i <= n; i++) {
    void *item;
    ASSERT_EQ(cio_xqueue_get(req_q, &item), 0);
    ASSERT_EQ((uintptr_t)item, i);
    if (test_random(&rnd) % 8 == 0) ASSERT_EQ(cio_sleep(0.0001), 0);
    ASSERT_EQ(cio_xqueue_put(resp_q, as_item(i)), 0);
  }
  return 0;
}

static void ping_pong_across_loops(void) {
  req_q = cio_xqueue_new(1);
  resp_q = cio_xqueue_new(1);
  uintptr_t n = (uintptr_t)(5000 * test_scale()) + 200;
  struct loop_job a = {pinger, (void *)n, -1}, b = {ponger, (void *)n, -1};
  run_two_loops(&a, &b);
  ASSERT_EQ(a.rc, 0);
  ASSERT_EQ(b.rc, 0);
  ASSERT_EQ(cio_xqueue_free(req_q), 0);
  ASSERT_EQ(cio_xqueue_free(resp_q), 0);
}

// Timeouts racing puts: one producer and one consumer, each with random
// short timeouts (an item whose put timed out is put again) and random
// pauses.  Every item arrives once, in order.
static int timed_producer(void *arg) {
  uintptr_t n = (uintptr_t)arg;
  uint64_t rnd = 13;
  for (uintptr_t i = 1; i <= n; i++) {
    int rc;
    while ((rc = cio_xqueue_put_for(xq, as_item(i), (double)(test_random(&rnd) % 200) / 1e6)) ==
           -ETIMEDOUT) {
    }
    ASSERT_EQ(rc, 0);
    if (test_random(&rnd) % 16 == 0)
      ASSERT_EQ(cio_sleep((double)(test_random(&rnd) % 300) / 1e6), 0);
  }
  return 0;
}

static int timed_consumer(void *arg) {
  uintptr_t n = (uintptr_t)arg;
  uint64_t rnd = 17;
  for (uintptr_t i = 1; i <= n;) {
    void *item;
    int rc = cio_xqueue_get_for(xq, &item, (double)(test_random(&rnd) % 150) / 1e6);
    if (rc == -ETIMEDOUT) continue;
    ASSERT_EQ(rc, 0);
    ASSERT_EQ((uintptr_t)item, i++);
    if (test_random(&rnd) % 16 == 0)
      ASSERT_EQ(cio_sleep((double)(test_random(&rnd) % 300) / 1e6), 0);
  }
  return 0;
}

static void timeouts_racing_puts_and_gets(void) {
  xq = cio_xqueue_new(4);
  uintptr_t n = (uintptr_t)(20000 * test_scale()) + 500;
  struct loop_job a = {timed_producer, (void *)n, -1}, b = {timed_consumer, (void *)n, -1};
  run_two_loops(&a, &b);
  ASSERT_EQ(a.rc, 0);
  ASSERT_EQ(b.rc, 0);
  void *item;
  ASSERT_EQ(cio_xqueue_get_nowait(xq, &item), -EAGAIN);
  ASSERT_EQ(cio_xqueue_free(xq), 0);
}

// Five tasks of one loop park on an empty queue; another loop puts five
// items.  They are woken through their loop's inbox in the order they
// waited, so the first to wait gets the first item.
enum { FIVE = 5 };
static atomic_bool all_parked;

static int getter_task(void *arg) {
  void *item;
  int rc = cio_xqueue_get(arg, &item);
  return rc < 0 ? rc : (int)(uintptr_t)item;
}

static int parked_getters_loop(void *arg) {
  cio_xqueue *q = arg;
  cio_task *t[FIVE];
  for (int i = 0; i < FIVE; i++) t[i] = cio_spawn(getter_task, q);
  ASSERT_EQ(cio_sleep(0.1), 0); // time to spin and park, one after the other
  atomic_store(&all_parked, true);
  for (int i = 0; i < FIVE; i++) ASSERT_EQ(cio_join(t[i]), i + 1);
  return 0;
}

static int five_puts_loop(void *arg) {
  while (!atomic_load(&all_parked)) ASSERT_EQ(cio_sleep(0.001), 0);
  for (uintptr_t i = 1; i <= FIVE; i++) ASSERT_EQ(cio_xqueue_put(arg, as_item(i)), 0);
  return 0;
}

static void parked_getters_wake_in_order(void) {
  cio_xqueue *q = cio_xqueue_new(0);
  struct loop_job a = {five_puts_loop, q, -1}, b = {parked_getters_loop, q, -1};
  run_two_loops(&a, &b);
  ASSERT_EQ(a.rc, 0);
  ASSERT_EQ(b.rc, 0);
  ASSERT_EQ(cio_xqueue_free(q), 0);
}

// Shutdown and task_done on one loop wake what waits on another: a getter
// on an empty queue and a putter on a full one get -ESHUTDOWN (the full one
// shut down with `immediate`, dropping its item), and a joiner returns once
// the other loop has got its item and marked it done.
static cio_xqueue *empty_q, *full_q, *join_q;
static atomic_bool waiters_parked;

static int put_task(void *arg) { return cio_xqueue_put(arg, as_item(2)); }

static int join_task(void *arg) { return cio_xqueue_join(arg); }

static int waiting_loop(void *arg) {
  (void)arg;
  cio_task *g = cio_spawn(getter_task, empty_q), *p = cio_spawn(put_task, full_q),
           *j = cio_spawn(join_task, join_q);
  ASSERT_EQ(cio_sleep(0.1), 0);
  atomic_store(&waiters_parked, true);
  ASSERT_EQ(cio_join(g), -ESHUTDOWN);
  ASSERT_EQ(cio_join(p), -ESHUTDOWN);
  ASSERT_EQ(cio_join(j), 0);
  return 0;
}

static int ending_loop(void *arg) {
  (void)arg;
  while (!atomic_load(&waiters_parked)) ASSERT_EQ(cio_sleep(0.001), 0);
  ASSERT_EQ(cio_xqueue_shutdown(empty_q, false), 0);
  ASSERT_EQ(cio_xqueue_shutdown(full_q, true), 1);
  void *item;
  ASSERT_EQ(cio_xqueue_get(join_q, &item), 0);
  ASSERT_EQ(cio_xqueue_task_done(join_q), 0);
  return 0;
}

static void shutdown_and_join_wake_other_loops(void) {
  empty_q = cio_xqueue_new(4);
  full_q = cio_xqueue_new(1);
  join_q = cio_xqueue_new(4);
  ASSERT_EQ(cio_xqueue_put_nowait(full_q, as_item(1)), 0);
  ASSERT_EQ(cio_xqueue_put_nowait(join_q, as_item(1)), 0);
  struct loop_job a = {ending_loop, NULL, -1}, b = {waiting_loop, NULL, -1};
  run_two_loops(&a, &b);
  ASSERT_EQ(a.rc, 0);
  ASSERT_EQ(b.rc, 0);
  ASSERT_EQ(cio_xqueue_free(empty_q), 0);
  ASSERT_EQ(cio_xqueue_free(full_q), 0);
  ASSERT_EQ(cio_xqueue_free(join_q), 0);
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
    {"bounds_kept_as_the_ring_wraps", bounds_kept_as_the_ring_wraps, 0},
    {"unbounded_spills_in_order", unbounded_spills_in_order, 0},
    {"never_waiting_still_lets_the_loop_run", never_waiting_still_lets_the_loop_run, 0},
    {"order_across_loops", order_across_loops, 120},
    {"ping_pong_across_loops", ping_pong_across_loops, 120},
    {"timeouts_racing_puts_and_gets", timeouts_racing_puts_and_gets, 120},
    {"parked_getters_wake_in_order", parked_getters_wake_in_order, 0},
    {"shutdown_and_join_wake_other_loops", shutdown_and_join_wake_other_loops, 0},
    {"chaos_across_loops", chaos_across_loops, 120},
    {"waiting_on_another_thread_is_no_deadlock", waiting_on_another_thread_is_no_deadlock, 0},
};

TEST_MAIN(cases)
