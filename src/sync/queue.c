// SPDX-License-Identifier: MIT
//
// Queue: FIFO (a ring), LIFO (a stack) or priority (a binary min-heap on
// (priority, arrival)), bounded or not, with task_done/join and Python
// 3.13's shutdown.
//
// Waiting follows asyncio: a put wakes one waiting getter, which then takes
// an item itself (so a getter cancelled after the wakeup takes nothing and
// passes the wakeup on); a get wakes one waiting putter likewise.  The fast
// path — an item put and got without anyone waiting — touches the array
// and two counters, no wait queue.
//
// From other threads only put_nowait is allowed: the item travels to the
// loop as a posted callback.  Those threads claim room with a
// compare-and-swap on `claimed`, a count that only ever grows (a failed
// post aside), checked against `len` and `received`, which only the loop
// writes: items in flight are claimed - received.  (A count of items in
// flight, which the loop decremented as they arrived, let a thread whose
// look at the queue was stale win the swap after an arrival and another
// claim had brought it back to the value it had seen: two threads took one
// last slot.)  The loop side uses relaxed accesses, which compile to plain
// loads and stores: its own puts are not serialised with the threads'
// claims (see cio_queue_put_nowait in the header).
#include <stdatomic.h>
#include <stdlib.h>

#include "sync.h"

struct slot {
  void *item;       // the caller's pointer
  int64_t priority; // priority queues: lower first
  uint64_t seq;     // arrival order: FIFO among equal priorities
};

struct cio_queue {
  uint32_t magic;           // CIO__QUEUE_MAGIC while alive
  enum cio_queue_kind kind; // FIFO, LIFO, PRIORITY
  size_t maxsize;           // 0 = unbounded
  struct slot *slots;       // ring (FIFO), stack (LIFO) or heap (PRIORITY)
  size_t cap;               // slots allocated
  size_t head;              // FIFO: index of the oldest item
  atomic_size_t len;        // items queued (read by other threads)
  atomic_size_t claimed;    // puts from other threads that found room, ever
  atomic_size_t received;   // of those, arrived on the loop (or dropped)
  uint64_t seq;             // next arrival number
  size_t unfinished;        // items put and not yet task_done()
  bool shutdown;            // cio_queue_shutdown() was called
  cio__loop *loop;          // the loop it belongs to
  cio__waitq getters;       // tasks waiting for an item
  cio__waitq putters;       // tasks waiting for room
  cio__waitq joiners;       // tasks in cio_queue_join()
};

_Static_assert(offsetof(struct cio_queue, magic) == 0, "the magic comes first (sync.h)");

static bool valid(const cio_queue *q) { return q && q->magic == CIO__QUEUE_MAGIC; }

static size_t length(const cio_queue *q) {
  return atomic_load_explicit((atomic_size_t *)&q->len, memory_order_relaxed);
}

static void set_length(cio_queue *q, size_t n) {
  atomic_store_explicit(&q->len, n, memory_order_relaxed);
}

// Items posted by other threads and not yet queued.
static size_t in_flight(const cio_queue *q) {
  return atomic_load_explicit((atomic_size_t *)&q->claimed, memory_order_relaxed) -
         atomic_load_explicit((atomic_size_t *)&q->received, memory_order_relaxed);
}

static bool is_full(const cio_queue *q) {
  return q->maxsize && length(q) + in_flight(q) >= q->maxsize;
}

cio_queue *cio_queue_new(enum cio_queue_kind kind, size_t maxsize) {
  if (kind > CIO_QUEUE_PRIORITY) return cio__null_errno(EINVAL);
  size_t cap = maxsize && maxsize < 64 ? maxsize : 64;
  cio_queue *q = cio__sync_new(sizeof *q, CIO__QUEUE_MAGIC);
  if (q) q->slots = cio__malloc(cap * sizeof *q->slots);
  if (!q || !q->slots) {
    free(q);
    return cio__null_errno(ENOMEM);
  }
  q->kind = kind;
  q->maxsize = maxsize;
  q->cap = cap;
  atomic_init(&q->len, 0);
  atomic_init(&q->claimed, 0);
  atomic_init(&q->received, 0);
  q->loop = cio__tls_loop;
  cio__waitq_init(&q->getters);
  cio__waitq_init(&q->putters);
  cio__waitq_init(&q->joiners);
  return q;
}

int cio_queue_free(cio_queue *q) {
  if (!valid(q)) return cio__bad_handle("cio_queue_free", "queue", q);
  if (length(q) || in_flight(q)) return -ENOTEMPTY;
  q->magic = 0;
  if (cio__tls_loop) {
    cio__waitq_wake_all(cio__tls_loop, &q->getters, -EIDRM, NULL);
    cio__waitq_wake_all(cio__tls_loop, &q->putters, -EIDRM, NULL);
    cio__waitq_wake_all(cio__tls_loop, &q->joiners, -EIDRM, NULL);
  }
  free(q->slots);
  cio__quarantine(q);
  return 0;
}

// ---------------------------------------------------------------- storage

// Doubles the storage of a full queue of n items (n == cap, read once by the
// caller: a second atomic read could differ for all the analyzer knows).
static bool grow(cio_queue *q, size_t n) {
  size_t cap = q->cap * 2;
  struct slot *s = cio__malloc(cap * sizeof *s);
  if (!s) return false;
  for (size_t i = 0; i < n; i++) // unwrap the ring (a no-op order for the others)
    s[i] = q->slots[q->kind == CIO_QUEUE_FIFO ? (q->head + i) % q->cap : i];
  free(q->slots);
  q->slots = s;
  q->cap = cap;
  q->head = 0;
  return true;
}

static bool heap_before(const struct slot *a, const struct slot *b) {
  return a->priority < b->priority || (a->priority == b->priority && a->seq < b->seq);
}

static int push(cio_queue *q, void *item, int64_t priority) {
  size_t n = length(q);
  if (n == q->cap && !grow(q, n)) return -ENOMEM;
  struct slot s = {item, priority, q->seq++};
  if (q->kind == CIO_QUEUE_FIFO) {
    size_t at = q->head + n;
    q->slots[at >= q->cap ? at - q->cap : at] = s;
  } else if (q->kind == CIO_QUEUE_LIFO) {
    q->slots[n] = s;
  } else {
    size_t i = n;
    while (i > 0 && heap_before(&s, &q->slots[(i - 1) / 2])) {
      q->slots[i] = q->slots[(i - 1) / 2];
      i = (i - 1) / 2;
    }
    q->slots[i] = s;
  }
  set_length(q, n + 1);
  q->unfinished++;
  return 0;
}

static void *pop(cio_queue *q) {
  size_t n = length(q) - 1;
  set_length(q, n);
  if (q->kind == CIO_QUEUE_FIFO) {
    void *item = q->slots[q->head].item;
    q->head = q->head + 1 == q->cap ? 0 : q->head + 1;
    return item;
  }
  if (q->kind == CIO_QUEUE_LIFO) return q->slots[n].item;
  void *item = q->slots[0].item;
  struct slot last = q->slots[n];
  size_t i = 0;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && heap_before(&q->slots[c + 1], &q->slots[c])) c++;
    if (!heap_before(&q->slots[c], &last)) break;
    q->slots[i] = q->slots[c];
    i = c;
  }
  if (n) q->slots[i] = last;
  return item;
}

// ---------------------------------------------------------------- waiting for a turn

// Puts wait for room and gets for an item: the same wait, on either side.
enum side { PUT, GET };

// True if the queue has what `side` waits for.
static bool ready(const cio_queue *q, enum side side) {
  return side == PUT ? !is_full(q) : length(q) > 0;
}

// The start of a put or a get (`side`) for entry point `fn`: checks the
// call (`arg_ok`: its item argument), binds the queue to the caller's loop
// (stored in *L), and waits until the queue is ready for it.  Returns 0,
// -ESHUTDOWN if the queue is shut down while not ready, or the error of
// the start or the wait.  Always inline: put and get run it on every call,
// and each gets a copy for its side.
__attribute__((always_inline)) static inline int await_turn(cio_queue *q, enum side side,
                                                            bool arg_ok, double timeout,
                                                            const char *fn, cio__loop **L) {
  // Room or an item there never suspends.
  int64_t deadline = cio__sync_start_coop(fn, timeout, q, CIO__QUEUE_MAGIC, L);
  if (deadline < 0) return (int)deadline;
  if (!arg_ok) return -EINVAL;
  if (!q->loop) q->loop = *L;
  cio__waitq *waiters = side == PUT ? &q->putters : &q->getters;
  while (!ready(q, side)) {
    if (q->shutdown) return -ESHUTDOWN;
    int rc = cio__sync_wait(*L, waiters, deadline, side == PUT ? "queue put" : "queue get");
    if (rc == 0) rc = cio__checkpoint(*L);
    if (rc < 0) {
      // Woken for room or an item but leaving: it goes to the next waiter.
      if (rc != -EIDRM && ready(q, side) && !cio__waitq_empty(waiters))
        cio__waitq_wake_one(*L, waiters, 0, NULL);
      return rc;
    }
  }
  return 0;
}

// ---------------------------------------------------------------- put

// Adds an item on the loop's thread and wakes a getter.
static int put_now(cio__loop *L, cio_queue *q, void *item, int64_t priority) {
  int rc = push(q, item, priority);
  if (rc == 0 && !cio__waitq_empty(&q->getters)) cio__waitq_wake_one(L, &q->getters, 0, NULL);
  return rc;
}

// Inlined into each public call (see lock.c).
__attribute__((always_inline)) static inline int put(cio_queue *q, void *item, int64_t priority,
                                                     double timeout, const char *fn) {
  cio__loop *L;
  int rc = await_turn(q, PUT, item != NULL, timeout, fn, &L);
  if (rc < 0) return rc;
  if (q->shutdown) return -ESHUTDOWN;
  return put_now(L, q, item, priority);
}

int cio_queue_put(cio_queue *q, void *item) {
  return put(q, item, 0, CIO_FOREVER, "cio_queue_put");
}

int cio_queue_put_for(cio_queue *q, void *item, double timeout) {
  return put(q, item, 0, timeout, "cio_queue_put_for");
}

int cio_queue_put_priority(cio_queue *q, void *item, int64_t priority, double timeout) {
  return put(q, item, priority, timeout, "cio_queue_put_priority");
}

// An item posted from another thread arrives on the loop.
struct posted {
  cio_queue *q; // where it goes
  void *item;   // what
};

static void receive(void *arg) {
  struct posted *p = arg;
  cio_queue *q = p->q;
  // Queue it before counting it received (a release: a thread that sees
  // the count sees the item in `len`): a thread checking for room must
  // never see it in neither count, or it could overfill the queue.
  if (put_now(cio__tls_loop, q, p->item, 0) < 0) {
    // Out of memory to store it: try again at the next pass, still in
    // flight, rather than drop it.
    if (cio_call_soon_threadsafe(cio__tls_loop, receive, p) == 0) return;
    cio__warn("queue: out of memory adding an item from another thread (item %p dropped)", p->item);
  }
  size_t received = atomic_load_explicit(&q->received, memory_order_relaxed);
  atomic_store_explicit(&q->received, received + 1, memory_order_release);
  free(p);
}

int cio_queue_put_nowait(cio_queue *q, void *item) {
  if (!valid(q) || !item) return -EINVAL;
  if (q->shutdown) return -ESHUTDOWN;
  cio__loop *L = cio__tls_loop;
  if (L && (q->loop == L || !q->loop)) {
    if (is_full(q)) return -EAGAIN;
    if (!q->loop) q->loop = L;
    return put_now(L, q, item, 0);
  }
  if (!q->loop) return -EINVAL; // no loop to hand it to yet
  // Another thread: claim room, then post the item to the loop.  `received`
  // is read before `len` (see receive) and after the count being swapped.
  size_t claimed = atomic_load(&q->claimed);
  do {
    size_t received = atomic_load_explicit(&q->received, memory_order_acquire);
    if (q->maxsize && length(q) + (claimed - received) >= q->maxsize) return -EAGAIN;
  } while (!atomic_compare_exchange_weak(&q->claimed, &claimed, claimed + 1));
  struct posted *p = cio__malloc(sizeof *p);
  int rc = -ENOMEM;
  if (p) {
    *p = (struct posted){q, item};
    rc = cio_call_soon_threadsafe(q->loop, receive, p);
  }
  if (rc < 0) {
    free(p);
    atomic_fetch_sub(&q->claimed, 1); // as if never claimed
  }
  return rc;
}

// ---------------------------------------------------------------- get

static void *take(cio__loop *L, cio_queue *q) {
  void *item = pop(q);
  if (!cio__waitq_empty(&q->putters)) cio__waitq_wake_one(L, &q->putters, 0, NULL);
  return item;
}

// Inlined into each public call (see lock.c).
__attribute__((always_inline)) static inline int get(cio_queue *q, void **item, double timeout,
                                                     const char *fn) {
  cio__loop *L;
  int rc = await_turn(q, GET, item != NULL, timeout, fn, &L);
  if (rc < 0) return rc;
  if (!item) return -EINVAL; // (await_turn said so; for the analyzer, which loses track)
  *item = take(L, q);
  return 0;
}

int cio_queue_get(cio_queue *q, void **item) { return get(q, item, CIO_FOREVER, "cio_queue_get"); }

int cio_queue_get_for(cio_queue *q, void **item, double timeout) {
  return get(q, item, timeout, "cio_queue_get_for");
}

int cio_queue_get_nowait(cio_queue *q, void **item) {
  if (!valid(q) || !item) return -EINVAL;
  cio__loop *L = cio__tls_loop;
  if (!L || (q->loop && q->loop != L)) return -EPERM; // not thread-safe
  if (length(q) == 0) return q->shutdown ? -ESHUTDOWN : -EAGAIN;
  *item = take(L, q);
  return 0;
}

// ---------------------------------------------------------------- join, shutdown

int cio_queue_task_done(cio_queue *q) {
  if (!valid(q)) return -EINVAL;
  if (q->unfinished == 0) return -EOVERFLOW; // more task_done() than items
  if (--q->unfinished == 0 && cio__tls_loop)
    cio__waitq_wake_all(cio__tls_loop, &q->joiners, 0, NULL);
  return 0;
}

static int join(cio_queue *q, double timeout, const char *fn) {
  cio__loop *L;
  int64_t deadline = cio__sync_start(fn, timeout, q, CIO__QUEUE_MAGIC, &L);
  if (deadline < 0) return (int)deadline;
  while (q->unfinished > 0) {
    int rc = cio__sync_wait(L, &q->joiners, deadline, "queue join");
    if (rc < 0) return rc;
  }
  return 0;
}

int cio_queue_join(cio_queue *q) { return join(q, CIO_FOREVER, "cio_queue_join"); }

int cio_queue_join_for(cio_queue *q, double timeout) {
  return join(q, timeout, "cio_queue_join_for");
}

int cio_queue_shutdown(cio_queue *q, bool immediate) {
  if (!valid(q)) return -EINVAL;
  cio__loop *L = cio__tls_loop;
  q->shutdown = true;
  int dropped = 0;
  if (immediate) {
    while (length(q)) {
      pop(q);
      dropped++;
    }
    q->unfinished = q->unfinished > (size_t)dropped ? q->unfinished - (size_t)dropped : 0;
  }
  if (L) {
    cio__waitq_wake_all(L, &q->putters, -ESHUTDOWN, NULL);
    // Every getter looks again, as in Python: one takes an item if any is
    // left, the rest see the shutdown.  (Waking them only when the queue was
    // empty left a getter parked forever behind one that had been woken
    // for the last item.)
    cio__waitq_wake_all(L, &q->getters, 0, NULL);
    if (q->unfinished == 0) cio__waitq_wake_all(L, &q->joiners, 0, NULL);
  }
  return dropped;
}

size_t cio_queue_size(const cio_queue *q) { return valid(q) ? length(q) : 0; }
size_t cio_queue_maxsize(const cio_queue *q) { return valid(q) ? q->maxsize : 0; }
bool cio_queue_empty(const cio_queue *q) { return !valid(q) || length(q) == 0; }
bool cio_queue_full(const cio_queue *q) { return valid(q) && is_full(q); }
