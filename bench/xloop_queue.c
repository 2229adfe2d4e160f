// SPDX-License-Identifier: MIT
//
// xloop_queue: nanoseconds per item through a queue between two loops on
// two threads (cio_xqueue, maxsize 1024): one task puts N items on one
// loop, one task gets them on the other, timed from the start of both to
// the last get.  Beside it, the same through cio_queue between two tasks
// of one loop (what crossing threads costs).
//
// Usage: bench_xloop_queue [N]
#include <cio.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long n_items = 5000000;
static cio_xqueue *xq;

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int produce(void *arg) {
  (void)arg;
  for (long i = 1; i <= n_items; i++) {
    int rc = cio_xqueue_put(xq, (void *)(uintptr_t)i);
    if (rc < 0) return rc;
  }
  return 0;
}

static int consume(void *arg) {
  (void)arg;
  for (long i = 1; i <= n_items; i++) {
    void *item;
    int rc = cio_xqueue_get(xq, &item);
    if (rc < 0) return rc;
    if ((uintptr_t)item != (uintptr_t)i) return -1;
  }
  return 0;
}

static void *run(void *fn) {
  intptr_t rc = cio_run((cio_fn)fn, NULL);
  return (void *)rc;
}

// One loop: a producer task and a consumer task on cio_queue.
static cio_queue *q1;

static int produce1(void *arg) {
  (void)arg;
  for (long i = 1; i <= n_items; i++) {
    int rc = cio_queue_put(q1, (void *)(uintptr_t)i);
    if (rc < 0) return rc;
  }
  return 0;
}

static int consume1(void *arg) {
  (void)arg;
  for (long i = 1; i <= n_items; i++) {
    void *item;
    int rc = cio_queue_get(q1, &item);
    if (rc < 0) return rc;
  }
  return 0;
}

static int one_loop(void *arg) {
  (void)arg;
  q1 = cio_queue_new(CIO_QUEUE_FIFO, 1024);
  cio_task *t[2] = {cio_spawn(produce1, NULL), cio_spawn(consume1, NULL)};
  int rc = cio_gather(t, 2, NULL, 0);
  cio_queue_free(q1);
  return rc;
}

int main(int argc, char **argv) {
  if (argc > 1) n_items = atol(argv[1]);
  xq = cio_xqueue_new(1024);
  pthread_t a, b;
  double t0 = now_s();
  pthread_create(&b, NULL, run, (void *)consume);
  pthread_create(&a, NULL, run, (void *)produce);
  void *ra, *rb;
  pthread_join(a, &ra);
  pthread_join(b, &rb);
  double two = now_s() - t0;
  cio_xqueue_free(xq);
  if (ra || rb) {
    fprintf(stderr, "xloop_queue: failed\n");
    return 1;
  }
  t0 = now_s();
  if (cio_run(one_loop, NULL) < 0) return 1;
  double one = now_s() - t0;
  printf("one loop (cio_queue, two tasks) %.1f ns/item\n", one * 1e9 / (double)n_items);
  printf("xloop_queue %.1f ns/item\n", two * 1e9 / (double)n_items);
  return 0;
}
