// SPDX-License-Identifier: MIT
//
// The guide's producer-consumer with a queue: natural backpressure (the
// producer waits when the queue is full) and join() for "all processed".
#include <cio.h>
#include <stdio.h>

static int consumer(void *arg) {
  cio_queue *q = arg;
  for (;;) {
    void *item;
    int rc = cio_queue_get(q, &item); // item = await queue.get()
    if (rc < 0) return rc == -ESHUTDOWN ? 0 : rc;
    printf("consumed %d\n", *(int *)item);
    if ((rc = cio_sleep(0.05)) < 0) return rc;
    cio_queue_task_done(q); // queue.task_done()
  }
}

static int run(void *arg) {
  (void)arg;
  static int items[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  cio_queue *q = cio_queue_new(CIO_QUEUE_FIFO, 3); // asyncio.Queue(maxsize=3)
  cio_task *c = cio_spawn(consumer, q);
  for (int i = 0; i < 10; i++) {
    int rc = cio_queue_put(q, &items[i]); // await queue.put(item): waits when full
    if (rc < 0) return rc;
  }
  int rc = cio_queue_join(q); // await queue.join(): every item processed
  cio_queue_shutdown(q, false);
  int crc = cio_join(c);
  cio_queue_free(q);
  return rc < 0 ? rc : crc;
}

int main(void) { return cio_run(run, NULL) < 0; }
