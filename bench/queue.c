// SPDX-License-Identifier: MIT
//
// queue: one producer and one consumer over a FIFO of capacity 1024; the
// producer puts 5,000,000 items.  Reports nanoseconds per item.
#include <cio.h>
#include <stdint.h>

#include "bench.h"

struct params {
  long n;       // items
  cio_queue *q; // the queue
  double ns;    // result
};

static int producer(void *arg) {
  struct params *p = arg;
  for (long i = 1; i <= p->n; i++)
    if (cio_queue_put(p->q, (void *)(intptr_t)i) < 0) return -1;
  return 0;
}

static int bench(void *arg) {
  struct params *p = arg;
  p->q = cio_queue_new(CIO_QUEUE_FIFO, 1024);
  if (!p->q) return -1;
  double t0 = bench_now();
  cio_task *t = cio_spawn(producer, p);
  long sum = 0;
  for (long i = 0; i < p->n; i++) {
    void *item;
    if (cio_queue_get(p->q, &item) < 0) return -1;
    sum += (intptr_t)item;
  }
  p->ns = (bench_now() - t0) * 1e9 / p->n;
  if (cio_join(t) < 0 || sum != p->n * (p->n + 1) / 2) return -1;
  return cio_queue_free(p->q);
}

int main(int argc, char **argv) {
  struct params p = {.n = bench_count(argc, argv, 5000000)};
  if (p.n <= 0 || cio_run(bench, &p) < 0) return 1;
  printf("items %ld\n", p.n);
  printf("queue %.2f ns\n", p.ns);
  return 0;
}
