// SPDX-License-Identifier: MIT
//
// The event loop's state: one loop per thread, reached through a
// thread-local pointer.  The scheduler that moves tasks through it lives in
// task/sched.c; this layer owns the clock, timers, poller and the queue of
// callbacks posted from other threads.  It names nothing above it: the
// scheduler gives it the timer callback, and the modules above it that need
// a turn at every pass (signals, the combinators' spare buffer) attach
// through a hook (cio__loop_hook); work that must report back before the
// loop may end (thread-pool jobs) counts in `refs`.  Only loop.c touches
// the poller and its watch count (cio__loop_watch/unwatch/wakeup).
#ifndef CIO_LOOP_H
#define CIO_LOOP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "../context/context.h"
#include "../context/stack.h"
#include "../tune.h"
#include "poller.h"
#include "timer.h"

// Callbacks queued for a loop at most (cio_call_soon_threadsafe blocks or
// refuses beyond): a flood from other threads is bounded in memory (1.5 MiB
// of queue), and a pass runs at most this many, so timers and I/O come
// round every few milliseconds whatever the flood.
#define CIO__POST_LIMIT CIO__TUNED(65536, 4)

struct cio_task;
struct cio__record_chunk;
struct cio__watchdog;
struct cio_loop;

// A module's attachment to the loop (libuv's prepare and check handles are
// the model).  Every member may be NULL.
typedef struct cio__loop_hook {
  struct cio__loop_hook *next; // the loop's hooks
  // Before each poll: the longest the poll may block, in ns (-1: no limit).
  int64_t (*before_poll)(struct cio_loop *L, struct cio__loop_hook *h);
  // At the pass after cio__loop_hook_signal() (the flag is cleared first).
  // before_poll() and run() may remove their own hook (no other).
  void (*run)(struct cio_loop *L, struct cio__loop_hook *h);
  // At the loop's teardown, after the last pass.
  void (*fini)(struct cio_loop *L, struct cio__loop_hook *h);
  atomic_bool pending; // signalled, not yet run
} cio__loop_hook;

// A callback posted by cio_call_soon_threadsafe().
typedef struct cio__post {
  struct cio__post *next; // FIFO link
  void (*fn)(void *arg);  // runs on the loop thread, outside any task
  void *arg;              // its argument
} cio__post;

// A place in the ready queue some way ahead of its head (sched.c).
typedef struct cio__cursor {
  struct cio_task *at; // the task there, or NULL
  size_t pos;          // its distance from the head
} cio__cursor;

typedef struct cio_loop {
  struct cio_task *current; // the running task; NULL while on the loop's own stack
  uint64_t serial;          // unique per loop ever made (a freed loop's address may come back)
  cio__ctx ctx;             // the loop's own context (the thread's stack)
  void *main_stack_lo;      // the thread's stack, for ASan's fiber switches
  size_t main_stack_size;   //   "

  struct cio_task *ready_head; // FIFO of tasks ready to run
  struct cio_task *ready_tail; //   "
  cio__cursor pf_stack;        // prefetch cursors into the ready queue (sched.c)
  cio__cursor pf_record;       //   "
  size_t ready_len;            // tasks in it
  size_t round_left;           // tasks still to run before the next loop pass
  int coop_left;               // awaits the running task may finish without suspending (coop)

  int64_t now;        // cached clock (ns), valid while now_valid
  bool now_valid;     // false after each pass: read again on demand
  cio__timers timers; // armed deadlines

  const cio__poller_ops *poller; // the backend
  void *poller_state;            // its state
  uint32_t watched;              // descriptors registered with the poller

  cio__loop_hook *hooks;             // modules that want a turn at each pass
  atomic_bool hook_pending;          // some hook was signalled
  void (*timer_fired)(cio__timer *); // what an expired timer does (the scheduler's)

  pthread_mutex_t post_lock;                   // guards the post queue
  cio__post *post_head;                        // callbacks from other threads
  cio__post *post_tail;                        //   "
  atomic_bool post_pending;                    // set by posters, cleared by the loop
  size_t post_count;                           // callbacks queued (at most CIO__POST_LIMIT)
  size_t post_blocked;                         // posting threads waiting for room
  bool post_closed;                            // the loop is ending: no more posts
  pthread_cond_t post_room;                    // signalled when the loop takes the queue or ends
  atomic_int holds;                            // promises of future posts (see cio_loop_hold)
  size_t refs;                                 // work that must report back before the loop may end
  bool (*deadlock_report)(struct cio_loop *L); // every task waits for nothing: report, and
                                               // return true to go on (debug/, set by cio_run)
  void (*smashed_stack)(struct cio_task *t); // a canary stack overflowed: reports, aborts (debug/)

  cio__stack_pool stacks;      // stacks for tasks
  cio__stack *dead_stack;      // stack of a task that just finished, recycled by the next context
  void *dead_fiber;            // its TSan fiber, destroyed with it
  void *tsan_fiber;            // TSan's fiber for the loop's own stack
  cio__ctx dead_ctx;           // where a finished task's last switch saves its (unused) state
  struct cio_task *free_tasks; // task records ready for reuse
  struct cio__record_chunk *record_chunks; // arenas task records come from
  char *record_next;                       // bump pointer in the newest arena
  char *record_end;                        // its end
  size_t nlive;                            // tasks not finished yet
  uint64_t nrecords;                       // task records not yet released
  struct cio_task *pass_host;              // task on whose stack a loop pass runs now, or NULL
  struct cio_task *main_task;              // the task cio_run() started
  bool debug;                              // debug mode
  int64_t spin_max;               // busy-poll at most this long before sleeping (ns; 0: never)
  int64_t spin_window;            // how long the next sleep is preceded by polling (ns)
  int64_t polled_at;              // when the descriptors were last looked at (ns)
  atomic_uint_fast64_t beat;      // debug: bumped at every await (the watchdog watches it)
  atomic_bool polling;            // debug: the loop sleeps in the poller (not blocked)
  struct cio__watchdog *watchdog; // debug: the watchdog, or NULL
  bool closing;                   // main has returned; cancelling the rest
  bool deadlock_cancelled;        // a deadlock was reported and every task cancelled

  uint64_t switches;  // context switches (stats)
  size_t max_ready;   // longest ready queue seen (stats)
  uint64_t stackless; // tasks that failed for want of a stack (out of memory)
} cio__loop;

// The loop of this thread.  Initial-exec TLS: the library is built as
// position-independent code (for the shared library), where the default
// model calls __tls_get_addr at every access, and this pointer is read by
// every call of the API.  (A library loaded with dlopen() after start-up
// then needs the few bytes of static TLS that glibc keeps spare for this.)
#define CIO__TLS_FAST __attribute__((tls_model("initial-exec")))
extern __thread cio__loop *cio__tls_loop CIO__TLS_FAST;

// Reads the monotonic clock (ns).
static inline int64_t cio__clock_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

// The loop's cached clock, read at most once per round unless a deadline
// is set (below).
static inline int64_t cio__loop_now(cio__loop *L) {
  if (!L->now_valid) {
    L->now = cio__clock_ns();
    L->now_valid = true;
  }
  return L->now;
}

// The clock read afresh (and cached for the rest of the round), for a new
// deadline: it counts from the moment it is set, as asyncio's call_later
// does, however long the round has already run.  21 ns here.
static inline int64_t cio__loop_now_fresh(cio__loop *L) {
  L->now = cio__clock_ns();
  L->now_valid = true;
  return L->now;
}

// Work the loop must look at between tasks: timers, descriptors, posts.
static inline bool cio__loop_has_events(cio__loop *L) {
  return L->timers.live || L->watched ||
         atomic_load_explicit(&L->post_pending, memory_order_relaxed) ||
         atomic_load_explicit(&L->hook_pending, memory_order_relaxed);
}

// Sets up the clock, timers, poller and post queue.  Returns 0 or -errno.
int cio__loop_init(cio__loop *L);
void cio__loop_fini(cio__loop *L);

// One pass: runs expired timers, polls descriptors (blocking up to
// `timeout_ns`, capped by the next timer; 0 = do not block, -1 = until
// something happens) and runs posted callbacks.
void cio__loop_pass(cio__loop *L, int64_t timeout_ns);

// Attaches a hook (it must live until removed or until the loop ends) or
// detaches it.  On the loop's thread only.
void cio__loop_hook_add(cio__loop *L, cio__loop_hook *h);
void cio__loop_hook_remove(cio__loop *L, cio__loop_hook *h);

// Makes h's run() happen at the loop's next pass, which does not block.
// Safe from any thread and from signal handlers (while L lives).
void cio__loop_hook_signal(cio__loop *L, cio__loop_hook *h);

// Starts watching io->fd for `events` (the only way to the poller; see
// poller.h for the contract).  Returns 0 or -errno.
int cio__loop_watch(cio__loop *L, cio__io *io, uint32_t events);
// Stops watching it; no ready() call for it follows.
void cio__loop_unwatch(cio__loop *L, cio__io *io);
// Makes a concurrent or the next poll return soon.  Async-signal-safe.
int cio__loop_wakeup(cio__loop *L);

#endif
