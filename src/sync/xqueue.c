// SPDX-License-Identifier: MIT
//
// A queue between loops (cio_xqueue): cio_queue's FIFO semantics — maxsize
// backpressure, task_done/join, Python 3.13's shutdown — for tasks on
// different threads.  In three parts: the ring (lock-free puts and gets),
// the waiters (a mutex, lists, and how a task on another loop is woken),
// and the calls built on both.
//
// The ring.  A bounded ring of slots, each with a sequence number (Dmitry
// Vyukov's bounded MPMC queue): `tail` and `head` count positions ever put
// and taken, and slot p % cap holds seq p while free for the put of
// position p, p + 1 once that put has stored its item, and p + cap once
// the item is taken (free for position p + cap).  A put claims its position
// with a CAS on tail, a get with a CAS on head, so a producer and a consumer
// share no counter, only the slots they hand over.  A bound below the
// ring's power-of-two size (maxsize 3 is a ring of 4) is kept by also
// looking at the slot `maxsize` places back: position p may be put once
// position p - maxsize has been taken.  An unbounded queue has a ring of
// 1,024 and a spill list under the mutex: once the ring is full, puts go
// to the spill (in order) until the gets have emptied it, and a get that
// takes from the spill moves a batch of it back into the ring.
//
// Sleeping without losing a wakeup.  A task that finds the ring empty
// (full) spins a while (how long adapts: see SPIN_MIN), waiting for a
// batch rather than a single item at first (so that the two threads do
// not work on the same cache line, item by item), then registers as a
// waiter: under the mutex it joins a list, increments that list's count
// (a sequentially consistent RMW), then looks at the queue again (a
// sequentially consistent load of tail, or head).  A put claims its
// position with a sequentially consistent CAS on tail, then loads the
// getters' count.  Of the two, one must see the other (Dekker's
// pattern): either the put sees the waiter and wakes it after storing its
// item, or the waiter sees the claimed position and does not sleep.  The
// same holds between gets and putters, and task_done and joiners.  Nobody
// waits, the common case: a put or get costs its CAS, its slot and one load
// of a count that stays in both cores' caches.
//
// Waking.  The waker takes the first waiter off its list (under the mutex)
// and, for a task on another loop, pushes it onto that loop's inbox (a
// lock-free stack) and signals the inbox's loop hook: no allocation, no
// post that could fail, and one eventfd write per loop pass at most.  The
// hook's run wakes the tasks in the inbox.  The woken task then takes its
// item or room itself, so nothing is ever handed to a task that has gone:
// one cancelled or timed out after its wakeup was sent takes nothing and
// passes the wakeup on to the next waiter.  Waiters live on their tasks'
// stacks: a task leaving while its wakeup is still in the inbox takes it
// out first (it is on its own loop's thread, like the hook).
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "../../include/cio.h"
#include "../alloc.h"
#include "../task/task.h"
#include "../tune.h"
#include "quarantine.h"
#include "sync.h"

#define CIO__XQUEUE_MAGIC 0x78717565u // "xque"

// Ring slots of an unbounded queue (beyond them, puts spill to a list).
#define UNBOUNDED_RING CIO__TUNED(1024u, 4u)
// Items a waiting side waits for before it goes on (at most half the
// bound), so that producer and consumer stay cache lines apart.
#define BATCH CIO__TUNED(16u, 2u)
// Spinning before parking, in pauses (about 27 ns each on the machine of
// docs/benchmarks.md): the first SPIN_BATCH wait for a batch, the rest for
// anything.  A park costs the other side a wakeup through this loop's
// eventfd, and this side the time its thread takes to be scheduled again
// (tens of microseconds on a VM), during which the other side may run dry
// (or fill up) and park in turn.  So each side adapts its limit, as glibc's
// adaptive mutex does: doubled (up to SPIN_MAX) after a park that ended
// within SHORT_PARK_NS, which a longer spin would have saved; halved (down
// to SPIN_MIN) after a longer one, when the other side was really idle.
// Beyond SPIN_MIN a spinner gives up its core every SPIN_YIELD pauses, in
// case the thread it waits for is queued behind it.
#define SPIN_BATCH 16
#define SPIN_MIN 160
#define SPIN_MAX CIO__TUNED(2048u, 320u)
#define SPIN_YIELD 8
#define SHORT_PARK_NS 50000

enum { TOOK = 0, EMPTY = 1, BUSY = 2 }; // done; nothing (no room); another thread is half way

struct slot {
  _Atomic uint64_t seq; // p: free for position p; p + 1: holds p's item
  void *item;           // the item, while seq says so
};

struct xhome;

// A task waiting on the queue; it lives on the task's stack.
struct xwaiter {
  struct xwaiter *next;       // the list's next
  struct xwaiter *inbox_next; // the inbox's next, once woken from another thread
  cio__loop *L;               // the task's loop
  cio_task *task;             //   and the task
  struct xhome *home;         // that loop's inbox
  bool posted;                // taken off the list to be woken (under the mutex)
  bool remote;                //   by another thread, through the inbox
  bool woken;                 // the wakeup reached the task's loop (on its thread)
};

// A list of waiters, first come first served.
struct xlist {
  struct xwaiter *head, *tail;
};

struct cio_xqueue {
  // Set at creation, then read only (shutdown and the counts: rarely written).
  uint32_t magic;            // CIO__XQUEUE_MAGIC while alive
  size_t maxsize;            // 0: unbounded
  uint64_t cap;              // ring slots, a power of two
  uint64_t mask;             //   minus one
  uint64_t bound;            // items the ring may hold (maxsize, or cap)
  uint64_t batch;            // what a waiting side waits for (BATCH, at most bound / 2)
  struct slot *ring;         // the slots
  atomic_bool shutdown;      // cio_xqueue_shutdown was called
  atomic_bool spilled;       // unbounded: items wait in the spill list
  _Atomic uint32_t ngetters; // waiters in getters (written under the mutex)
  _Atomic uint32_t nputters; //   in putters
  _Atomic uint32_t njoiners; //   in joiners

  alignas(64) _Atomic uint64_t tail; // positions claimed by puts (producers' line)
  _Atomic uint32_t put_spin;         // pauses a put spins before parking (adapts)

  alignas(64) _Atomic uint64_t head; // positions claimed by gets (consumers' line)
  _Atomic uint64_t done;             // task_done calls, and items dropped by shutdown
  _Atomic uint64_t puts_seen;        // puts as task_done last saw them
  _Atomic uint32_t get_spin;         // pauses a get spins before parking (adapts)

  alignas(64) pthread_mutex_t mu; // guards what follows
  struct xlist getters;           // waiting for an item
  struct xlist putters;           // waiting for room
  struct xlist joiners;           // waiting for every item to be done
  void **spill;                   // unbounded: items beyond the ring, oldest at spill_head
  size_t spill_cap;               //   slots
  size_t spill_head;              //   the oldest
  size_t spill_len;               //   how many
  _Atomic uint64_t spill_puts; // items put to the spill and not moved to the ring (read unlocked)
};

static bool valid(const cio_xqueue *q) { return q && q->magic == CIO__XQUEUE_MAGIC; }

static void lock(cio_xqueue *q) { pthread_mutex_lock(&q->mu); }
static void unlock(cio_xqueue *q) { pthread_mutex_unlock(&q->mu); }

static void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

// Waits a moment for another thread half way through a put or get (a few
// instructions, unless its thread was preempted there: then this one
// gives up its core).
static void backoff(unsigned *n) {
  if (++*n < 64)
    cpu_relax();
  else
    sched_yield();
}

// ---------------------------------------------------------------- the ring

static struct slot *slot_at(const cio_xqueue *q, uint64_t pos) { return &q->ring[pos & q->mask]; }

static uint64_t seq_of(const cio_xqueue *q, uint64_t pos) {
  return atomic_load_explicit(&slot_at(q, pos)->seq, memory_order_acquire);
}

// True if position pos's item is stored (or was, and is taken already).
static bool item_at(const cio_xqueue *q, uint64_t pos) {
  return (int64_t)(seq_of(q, pos) - (pos + 1)) >= 0;
}

// Compares slot pos's state with a free slot for position pos: < 0 while
// an earlier item still holds it (or the item `bound` places back is still
// there), 0 if free, > 0 if pos is stale (another put took it).
static int64_t room_at(const cio_xqueue *q, uint64_t pos) {
  int64_t dif = (int64_t)(seq_of(q, pos) - pos);
  if (dif == 0 && q->bound != q->cap) {
    uint64_t back = pos - q->bound; // taken once its slot awaits back + cap
    if ((int64_t)(seq_of(q, back) - (back + q->cap)) < 0) return -1;
  }
  return dif;
}

// Puts item in the ring: TOOK, or EMPTY if there is no room (as far as
// this thread can tell: see full_or_busy()).  The CAS that claims the
// position is sequentially consistent: it orders the claim before the
// caller's look at the getters' count.
static int ring_put(cio_xqueue *q, void *item) {
  uint64_t pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
  for (;;) {
    int64_t dif = room_at(q, pos);
    if (dif < 0) return EMPTY;
    if (dif > 0) {
      pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
      continue;
    }
    if (atomic_compare_exchange_weak_explicit(&q->tail, &pos, pos + 1, memory_order_seq_cst,
                                              memory_order_relaxed)) {
      struct slot *s = slot_at(q, pos);
      s->item = item;
      atomic_store_explicit(&s->seq, pos + 1, memory_order_release);
      return TOOK;
    }
  }
}

// Takes the oldest item of the ring: TOOK, or EMPTY (as far as this thread
// can tell: see take()).  The claim is sequentially consistent, as above.
static int ring_get(cio_xqueue *q, void **item) {
  uint64_t pos = atomic_load_explicit(&q->head, memory_order_relaxed);
  for (;;) {
    struct slot *s = slot_at(q, pos);
    int64_t dif = (int64_t)(atomic_load_explicit(&s->seq, memory_order_acquire) - (pos + 1));
    if (dif < 0) return EMPTY;
    if (dif > 0) {
      pos = atomic_load_explicit(&q->head, memory_order_relaxed);
      continue;
    }
    if (atomic_compare_exchange_weak_explicit(&q->head, &pos, pos + 1, memory_order_seq_cst,
                                              memory_order_relaxed)) {
      *item = s->item;
      atomic_store_explicit(&s->seq, pos + q->cap, memory_order_release);
      return TOOK;
    }
  }
}

// Positions claimed by puts and not yet by gets.  head is read first, so
// the difference is never negative.  Both loads are sequentially
// consistent: a registering getter's second look is its load of tail, a
// putter's its load of head (see the prologue; on AArch64 an acquire load
// may be LDAPR, which a store-release before it does not order).
static uint64_t ring_count(cio_xqueue *q) {
  uint64_t h = atomic_load_explicit(&q->head, memory_order_seq_cst);
  return atomic_load_explicit(&q->tail, memory_order_seq_cst) - h;
}

// After a put found no room: EMPTY if the ring holds `bound` items, BUSY if
// a get is half way through freeing one.
static int full_or_busy(cio_xqueue *q) { return ring_count(q) < q->bound ? BUSY : EMPTY; }

// ---------------------------------------------------------------- the spill (unbounded queues)

// Appends item to the spill (the mutex held).  0 or -ENOMEM.
static int spill_push(cio_xqueue *q, void *item) {
  if (q->spill_len == q->spill_cap) {
    size_t cap = q->spill_cap ? q->spill_cap * 2 : 64;
    void **s = cio__malloc(cap * sizeof *s);
    if (!s) return -ENOMEM;
    for (size_t i = 0; i < q->spill_len; i++) s[i] = q->spill[(q->spill_head + i) % q->spill_cap];
    free(q->spill);
    q->spill = s;
    q->spill_cap = cap;
    q->spill_head = 0;
  }
  q->spill[(q->spill_head + q->spill_len) % q->spill_cap] = item;
  q->spill_len++;
  atomic_fetch_add_explicit(&q->spill_puts, 1, memory_order_relaxed);
  atomic_store_explicit(&q->spilled, true, memory_order_seq_cst);
  return 0;
}

// Takes the spill's oldest item (the mutex held): TOOK or EMPTY.  The last
// one sends puts back to the ring.
static int spill_pop(cio_xqueue *q, void **item) {
  if (!q->spill_len) return EMPTY;
  *item = q->spill[q->spill_head];
  q->spill_head = (q->spill_head + 1) % q->spill_cap;
  if (--q->spill_len == 0) atomic_store_explicit(&q->spilled, false, memory_order_seq_cst);
  return TOOK;
}

// Moves up to a quarter of the ring's worth of the spill's oldest items
// into the ring (the mutex held, by a get that took from the spill, so
// the ring was empty), so that the gets after it need no lock.  FIFO
// holds: while items wait in the spill, puts go after them.  A moved item
// is counted by tail from then on, and no longer by spill_puts (in that
// order: puts_of() may count it twice for a moment, never not at all).
static void spill_refill(cio_xqueue *q) {
  for (uint64_t n = 0; n < q->cap / 4 && q->spill_len; n++) {
    if (ring_put(q, q->spill[q->spill_head]) != TOOK) return;
    void *moved;
    spill_pop(q, &moved);
    atomic_fetch_sub_explicit(&q->spill_puts, 1, memory_order_seq_cst);
  }
}

// ---------------------------------------------------------------- waking

// A loop's inbox: waiters woken from other threads, newest first, and the
// hook whose run() wakes their tasks.  One per thread, attached to the loop
// running there while it runs.
struct xhome {
  cio__loop_hook hook;             // signalled by wakers (first member: run() finds the home)
  cio__loop *L;                    // the loop it is attached to, or NULL
  _Atomic(struct xwaiter *) inbox; // woken waiters, newest first
};

static __thread struct xhome xhome;

// Wakes the tasks of every waiter in the inbox, in the order they were
// woken (on the inbox's loop thread: from its hook, or from a waiter that
// must take its own wakeup out before it leaves).
static void inbox_drain(struct xhome *h) {
  struct xwaiter *w = atomic_exchange_explicit(&h->inbox, NULL, memory_order_acquire);
  struct xwaiter *fifo = NULL;
  while (w) {
    struct xwaiter *next = w->inbox_next;
    w->inbox_next = fifo;
    fifo = w;
    w = next;
  }
  while (fifo) {
    struct xwaiter *next = fifo->inbox_next; // read first: once marked, fifo may go
    fifo->woken = true;
    cio__wake(h->L, fifo->task, 0); // nothing if it is not parked (it timed out, or is us)
    fifo = next;
  }
}

static void home_run(cio__loop *L, cio__loop_hook *hk) {
  (void)L;
  inbox_drain(cio__container_of(hk, struct xhome, hook));
}

// Every task has left by the loop's teardown, so the inbox is empty.
static void home_fini(cio__loop *L, cio__loop_hook *hk) {
  (void)L;
  cio__container_of(hk, struct xhome, hook)->L = NULL;
}

// This thread's inbox, attached to L.
static struct xhome *home_of(cio__loop *L) {
  struct xhome *h = &xhome;
  if (h->L != L) {
    h->hook = (cio__loop_hook){.run = home_run, .fini = home_fini};
    atomic_init(&h->inbox, NULL);
    h->L = L;
    cio__loop_hook_add(L, &h->hook);
  }
  return h;
}

static void list_push(struct xlist *l, struct xwaiter *w) {
  w->next = NULL;
  if (l->tail)
    l->tail->next = w;
  else
    l->head = w;
  l->tail = w;
}

static void list_remove(struct xlist *l, struct xwaiter *w) {
  struct xwaiter *prev = NULL;
  for (struct xwaiter *p = l->head; p; prev = p, p = p->next) {
    if (p != w) continue;
    if (prev)
      prev->next = p->next;
    else
      l->head = p->next;
    if (l->tail == p) l->tail = prev;
    return;
  }
}

// Wakes the first waiter of l, counted in *n (the mutex held): a task of
// this thread's loop at once, another loop's through its inbox.
static void wake_first(struct xlist *l, _Atomic uint32_t *n) {
  struct xwaiter *w = l->head;
  if (!w) return;
  l->head = w->next;
  if (!l->head) l->tail = NULL;
  atomic_fetch_sub_explicit(n, 1, memory_order_relaxed);
  w->posted = true;
  if (w->L == cio__tls_loop) {
    w->woken = true;
    cio__wake(w->L, w->task, 0);
    return;
  }
  w->remote = true;
  struct xhome *h = w->home;
  struct xwaiter *old = atomic_load_explicit(&h->inbox, memory_order_relaxed);
  for (;;) {
    w->inbox_next = old;
    if (atomic_compare_exchange_weak_explicit(&h->inbox, &old, w, memory_order_release,
                                              memory_order_relaxed))
      break;
  }
  // Under the mutex: the waiter cannot leave (and its loop cannot end)
  // before this returns.
  cio__loop_hook_signal(w->L, &h->hook);
}

static void wake_all(struct xlist *l, _Atomic uint32_t *n) {
  while (l->head) wake_first(l, n);
}

// Wakes a waiter of l if the count says there may be one (the caller has
// just made a sequentially consistent claim, so the load cannot miss a
// waiter that did not see the claim).
static void wake_if_waiting(cio_xqueue *q, struct xlist *l, _Atomic uint32_t *n) {
  if (__builtin_expect(atomic_load_explicit(n, memory_order_seq_cst) == 0, 1)) return;
  lock(q);
  wake_first(l, n);
  unlock(q);
}

static void spin_adapt(_Atomic uint32_t *limit, bool grow);

// Parks the calling task on list l (counted in *n) until woken or
// `deadline`, unless go_on(q), looked at after registering, says that
// what it waits for has come.  Returns 0 (woken, or no need to park),
// -ECANCELED or -ETIMEDOUT; in the latter cases a wakeup it was given is
// passed on to the next waiter.  A wakeup adapts the side's spin limit
// (*spin, unless NULL): up if it came soon from another thread, down if
// it came late, or from this loop (which cannot run while its thread
// spins).
static int wait_on(cio_xqueue *q, struct xlist *l, _Atomic uint32_t *n,
                   bool (*go_on)(cio_xqueue *q), cio__loop *L, int64_t deadline, const char *what,
                   _Atomic uint32_t *spin) {
  struct xwaiter w = {.L = L, .task = L->current, .home = home_of(L)};
  lock(q);
  list_push(l, &w);
  atomic_fetch_add_explicit(n, 1, memory_order_seq_cst);
  if (go_on(q)) {
    list_remove(l, &w);
    atomic_fetch_sub_explicit(n, 1, memory_order_relaxed);
    unlock(q);
    return 0;
  }
  unlock(q);
  cio_loop_hold(L, 1);
  int64_t t0 = spin ? cio__clock_ns() : 0;
  int rc = cio__park(L, deadline, what);
  cio_loop_hold(L, -1);
  bool soon = spin && cio__clock_ns() - t0 < SHORT_PARK_NS;
  lock(q);
  if (spin && rc == 0) spin_adapt(spin, w.remote && soon);
  if (!w.posted) {
    list_remove(l, &w);
    atomic_fetch_sub_explicit(n, 1, memory_order_relaxed);
  } else if (rc < 0) {
    wake_first(l, n); // leaving with a wakeup: the next waiter gets it
  }
  unlock(q);
  // A wakeup still in this loop's inbox points into this stack frame.
  if (w.posted && !w.woken) inbox_drain(w.home);
  if (rc == CIO__PARK_DEADLINE) rc = -ETIMEDOUT;
  return rc > 0 ? 0 : rc;
}

// What each kind of waiter looks at after registering (sequentially
// consistent loads: see the prologue).
static bool getter_go_on(cio_xqueue *q) {
  return atomic_load(&q->shutdown) || atomic_load(&q->spilled) || ring_count(q) != 0;
}

static bool putter_go_on(cio_xqueue *q) {
  return atomic_load(&q->shutdown) || ring_count(q) < q->bound;
}

// Items ever put: those counted by tail and those still counted by the
// spill.  The spill's count is read first: a move into the ring adds to
// tail before it takes from spill_puts, so a count read without the mutex
// may include a moved item twice for a moment (task_done then allows one
// call too many, in a race), never miss one; under the mutex it is exact.
static uint64_t puts_of(cio_xqueue *q) {
  uint64_t spilled = atomic_load(&q->spill_puts);
  return atomic_load(&q->tail) + spilled;
}

static bool joiner_go_on(cio_xqueue *q) { return atomic_load(&q->done) == puts_of(q); }

// ---------------------------------------------------------------- spinning

static bool room_for(const cio_xqueue *q, uint64_t pos) { return room_at(q, pos) >= 0; }

// Spins up to `limit` pauses until ready(q, position) says that what the
// caller waits for has come: a batch (the position `batch` places on)
// during the first SPIN_BATCH pauses, then anything (position `next`).
// True if it came, or the queue was shut down or spilled.
static bool spin_for(cio_xqueue *q, bool (*ready)(const cio_xqueue *q, uint64_t pos), uint64_t next,
                     uint32_t limit) {
  uint64_t far = next + q->batch - 1;
  for (uint32_t i = 1; i <= limit; i++) {
    if (i > SPIN_MIN && i % SPIN_YIELD == 0)
      sched_yield();
    else
      cpu_relax();
    if (ready(q, i <= SPIN_BATCH ? far : next)) return true;
    if (atomic_load_explicit(&q->shutdown, memory_order_relaxed) ||
        atomic_load_explicit(&q->spilled, memory_order_relaxed))
      return true;
  }
  return false;
}

// Doubles a side's spin limit (up to SPIN_MAX), or halves it (down to
// SPIN_MIN).
static void spin_adapt(_Atomic uint32_t *limit, bool grow) {
  uint32_t s = atomic_load_explicit(limit, memory_order_relaxed);
  if (grow)
    s = s * 2 > SPIN_MAX ? SPIN_MAX : s * 2;
  else
    s = s / 2 < SPIN_MIN ? SPIN_MIN : s / 2;
  atomic_store_explicit(limit, s, memory_order_relaxed);
}

// The pauses a call with `deadline` may spin: the side's limit, cut to
// about the time left before the call's (or its scope's) deadline.
static uint32_t spin_budget(_Atomic uint32_t *limit, cio__loop *L, int64_t deadline) {
  uint32_t n = atomic_load_explicit(limit, memory_order_relaxed);
  int64_t until = deadline < L->current->scope_deadline ? deadline : L->current->scope_deadline;
  if (until == CIO__NEVER) return n;
  int64_t left = (until - cio__loop_now(L)) / 32; // a pause is about 27 ns here
  if (left <= 0) return 0;
  return left < (int64_t)n ? (uint32_t)left : n;
}

// ---------------------------------------------------------------- put and take

// Adds item: TOOK, EMPTY (no room), BUSY (a get is freeing room: try
// again), or -ENOMEM (the spill cannot grow).  Wakes a getter if one waits.
static int give(cio_xqueue *q, void *item) {
  if (!atomic_load_explicit(&q->spilled, memory_order_acquire)) {
    if (ring_put(q, item) == TOOK) {
      wake_if_waiting(q, &q->getters, &q->ngetters);
      return TOOK;
    }
    if (q->maxsize) return full_or_busy(q);
  }
  // Unbounded, and the ring is full or items wait in the spill: after them.
  lock(q);
  int rc = TOOK;
  if (atomic_load(&q->spilled) || ring_put(q, item) != TOOK) rc = spill_push(q, item);
  if (rc == TOOK) wake_first(&q->getters, &q->ngetters);
  unlock(q);
  return rc;
}

// Takes the oldest item: TOOK, EMPTY, or BUSY (a put is storing one: try
// again).  Wakes a putter if one waits.
static int take(cio_xqueue *q, void **item) {
  if (ring_get(q, item) == TOOK) {
    wake_if_waiting(q, &q->putters, &q->nputters);
    return TOOK;
  }
  if (atomic_load_explicit(&q->spilled, memory_order_acquire)) {
    // The ring again first: the look above may have missed an item that a
    // putter stored just before it began to spill (this thread can see the
    // spill's flag and not yet that store).  Under the mutex no put adds
    // to the ring while items are spilled, so an empty ring is really empty.
    lock(q);
    int rc = ring_get(q, item);
    if (rc != TOOK && ring_count(q)) rc = BUSY; // a put half way: its item comes first
    if (rc == EMPTY && spill_pop(q, item) == TOOK) {
      spill_refill(q);
      rc = TOOK;
    }
    unlock(q);
    if (rc != EMPTY) return rc;
  }
  return ring_count(q) ? BUSY : EMPTY;
}

// A successful await spends a unit of the cooperative budget; when it is
// spent the task yields, its call done (docs/runtime.md: a queue that is
// never empty must not starve the loop).
static void coop_after(cio__loop *L) {
  if (__builtin_expect(--L->coop_left > 0, 1)) return;
  L->coop_left = CIO__COOP_BUDGET;
  cio__yield(L);
}

// ---------------------------------------------------------------- the queue

cio_xqueue *cio_xqueue_new(size_t maxsize) {
  if (maxsize > ((size_t)1 << 40)) {
    errno = ENOMEM;
    return NULL;
  }
  cio_xqueue *q = cio__aligned_zalloc(64, sizeof *q);
  if (!q) return NULL;
  // Two slots at least: with one, "taken" (p + cap) would read as "holds p".
  uint64_t cap = maxsize ? 2 : UNBOUNDED_RING;
  while (cap < maxsize) cap *= 2;
  q->ring = cio__malloc(cap * sizeof *q->ring);
  if (!q->ring) {
    free(q);
    errno = ENOMEM;
    return NULL;
  }
  for (uint64_t i = 0; i < cap; i++) atomic_init(&q->ring[i].seq, i);
  q->cap = cap;
  q->mask = cap - 1;
  q->bound = maxsize ? maxsize : cap;
  q->batch = q->bound / 2 < BATCH ? q->bound / 2 : BATCH;
  if (q->batch == 0) q->batch = 1;
  q->maxsize = maxsize;
  atomic_init(&q->put_spin, SPIN_MIN);
  atomic_init(&q->get_spin, SPIN_MIN);
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
#ifdef PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
  pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
#endif
  pthread_mutex_init(&q->mu, &a);
  pthread_mutexattr_destroy(&a);
  q->magic = CIO__XQUEUE_MAGIC;
  return q;
}

int cio_xqueue_free(cio_xqueue *q) {
  if (!valid(q)) return cio__bad_handle("cio_xqueue_free", "cross-loop queue", q);
  lock(q);
  bool busy = q->getters.head || q->putters.head || q->joiners.head;
  bool items = ring_count(q) != 0 || q->spill_len != 0;
  unlock(q);
  if (busy) return -EBUSY;
  if (items) return -ENOTEMPTY;
  q->magic = 0;
  pthread_mutex_destroy(&q->mu);
  free(q->spill);
  free(q->ring);
  cio__quarantine(q); // a later call reads the cleared magic (sync.h)
  return 0;
}

int cio_xqueue_put_for(cio_xqueue *q, void *item, double timeout) {
  cio__loop *L;
  int64_t deadline = cio__await_deadline("cio_xqueue_put", timeout, &L);
  if (deadline < 0) return (int)deadline;
  if (!valid(q) || !item) return -EINVAL;
  int rc = cio__checkpoint(L);
  if (rc < 0) return rc;
  bool spun = false;
  unsigned busy = 0;
  for (;;) {
    if (atomic_load_explicit(&q->shutdown, memory_order_acquire)) return -ESHUTDOWN;
    rc = give(q, item);
    if (rc == TOOK) break;
    if (rc < 0) return rc;
    if (rc == BUSY) {
      backoff(&busy);
      continue;
    }
    if (!spun) {
      spun = true;
      uint64_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
      if (spin_for(q, room_for, t, spin_budget(&q->put_spin, L, deadline))) continue;
    }
    rc = wait_on(q, &q->putters, &q->nputters, putter_go_on, L, deadline, "cio_xqueue_put",
                 &q->put_spin);
    if (rc < 0) return rc;
  }
  coop_after(L);
  return 0;
}

int cio_xqueue_put(cio_xqueue *q, void *item) { return cio_xqueue_put_for(q, item, CIO_FOREVER); }

int cio_xqueue_put_nowait(cio_xqueue *q, void *item) {
  if (!valid(q) || !item) return -EINVAL;
  unsigned busy = 0;
  for (;;) {
    if (atomic_load_explicit(&q->shutdown, memory_order_acquire)) return -ESHUTDOWN;
    int rc = give(q, item);
    if (rc != BUSY) return rc == EMPTY ? -EAGAIN : rc;
    backoff(&busy);
  }
}

int cio_xqueue_get_for(cio_xqueue *q, void **item, double timeout) {
  cio__loop *L;
  int64_t deadline = cio__await_deadline("cio_xqueue_get", timeout, &L);
  if (deadline < 0) return (int)deadline;
  if (!valid(q) || !item) return -EINVAL;
  int rc = cio__checkpoint(L);
  if (rc < 0) return rc;
  bool spun = false;
  unsigned busy = 0;
  for (;;) {
    // Shut down is read before looking: an item put before the shutdown is
    // then seen, and got.
    bool down = atomic_load_explicit(&q->shutdown, memory_order_acquire);
    rc = take(q, item);
    if (rc == TOOK) break;
    if (rc == BUSY) {
      backoff(&busy);
      continue;
    }
    if (down) return -ESHUTDOWN;
    if (!spun) {
      spun = true;
      uint64_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
      if (spin_for(q, item_at, h, spin_budget(&q->get_spin, L, deadline))) continue;
    }
    rc = wait_on(q, &q->getters, &q->ngetters, getter_go_on, L, deadline, "cio_xqueue_get",
                 &q->get_spin);
    if (rc < 0) return rc;
  }
  coop_after(L);
  return 0;
}

int cio_xqueue_get(cio_xqueue *q, void **item) { return cio_xqueue_get_for(q, item, CIO_FOREVER); }

int cio_xqueue_get_nowait(cio_xqueue *q, void **item) {
  if (!valid(q) || !item) return -EINVAL;
  unsigned busy = 0;
  for (;;) {
    bool down = atomic_load_explicit(&q->shutdown, memory_order_acquire);
    int rc = take(q, item);
    if (rc == TOOK) return 0;
    if (rc == EMPTY) return down ? -ESHUTDOWN : -EAGAIN;
    backoff(&busy);
  }
}

int cio_xqueue_task_done(cio_xqueue *q) {
  if (!valid(q)) return -EINVAL;
  uint64_t d = atomic_load_explicit(&q->done, memory_order_relaxed);
  for (;;) {
    // Puts are read from the producers' line only when the count seen last
    // time is used up.
    uint64_t puts = atomic_load_explicit(&q->puts_seen, memory_order_relaxed);
    if (d >= puts) {
      puts = puts_of(q);
      atomic_store_explicit(&q->puts_seen, puts, memory_order_relaxed);
      if (d >= puts) return -EOVERFLOW;
    }
    if (atomic_compare_exchange_weak_explicit(&q->done, &d, d + 1, memory_order_seq_cst,
                                              memory_order_relaxed))
      break;
  }
  if (__builtin_expect(atomic_load_explicit(&q->njoiners, memory_order_seq_cst) != 0, 0)) {
    lock(q);
    if (joiner_go_on(q)) wake_all(&q->joiners, &q->njoiners);
    unlock(q);
  }
  return 0;
}

int cio_xqueue_join_for(cio_xqueue *q, double timeout) {
  cio__loop *L;
  int64_t deadline = cio__await_deadline("cio_xqueue_join", timeout, &L);
  if (deadline < 0) return (int)deadline;
  if (!valid(q)) return -EINVAL;
  int rc = cio__checkpoint(L);
  while (rc == 0 && !joiner_go_on(q))
    rc = wait_on(q, &q->joiners, &q->njoiners, joiner_go_on, L, deadline, "cio_xqueue_join", NULL);
  return rc;
}

int cio_xqueue_join(cio_xqueue *q) { return cio_xqueue_join_for(q, CIO_FOREVER); }

int cio_xqueue_shutdown(cio_xqueue *q, bool immediate) {
  if (!valid(q)) return -EINVAL;
  lock(q);
  atomic_store(&q->shutdown, true);
  int dropped = 0;
  if (immediate) {
    void *item;
    unsigned busy = 0;
    for (;;) {
      int rc = ring_get(q, &item);
      if (rc != TOOK) rc = spill_pop(q, &item);
      if (rc != TOOK && ring_count(q)) rc = BUSY; // a put half way: its item is dropped too
      if (rc == EMPTY) break;
      if (rc == TOOK)
        dropped++;
      else
        backoff(&busy);
    }
    atomic_fetch_add(&q->done, (uint64_t)dropped);
    if (joiner_go_on(q)) wake_all(&q->joiners, &q->njoiners);
  }
  // Getters find what is left, or -ESHUTDOWN; putters -ESHUTDOWN.
  wake_all(&q->putters, &q->nputters);
  wake_all(&q->getters, &q->ngetters);
  unlock(q);
  return dropped;
}

size_t cio_xqueue_size(cio_xqueue *q) {
  if (!valid(q)) return 0;
  uint64_t n = ring_count(q);
  if (atomic_load_explicit(&q->spilled, memory_order_acquire)) {
    lock(q);
    n += q->spill_len;
    unlock(q);
  }
  return (size_t)n;
}
