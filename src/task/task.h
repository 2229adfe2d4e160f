// SPDX-License-Identifier: MIT
//
// The task record and the scheduler's internal interface.
//
// Life of a task: NEW (spawned, queued, no stack yet) -> RUNNING <-> READY /
// PARKED -> DONE.  A task parks by calling cio__park(); whoever wakes it
// calls cio__wake() with a code the park returns (0, -ECANCELED,
// -ETIMEDOUT...).  A task is woken at most once per park: the first waker
// wins, so a wakeup that hands over ownership (a lock, a queue item) is
// never overtaken by a cancellation; the cancellation is then delivered at
// the next await instead (cancellation is level triggered).
#ifndef CIO_TASK_H
#define CIO_TASK_H

#include <stdbool.h>
#include <stdint.h>

#include "../../include/cio.h"
#include "../internal.h"
#include "../loop/loop.h"

enum cio__state {
  CIO__NEW,     // spawned, never run: no stack
  CIO__READY,   // on the ready queue
  CIO__RUNNING, // the loop's current task
  CIO__PARKED,  // waiting for cio__wake()
  CIO__DONE,    // finished; outcome in `result`
  CIO__FREE,    // released (joined or detached and done); struct is pooled
};

#define CIO__NAME_MAX 48

// A waiter on a wait queue.  Lives on the waiting task's stack (or inside
// the object that waits), linked into the queue while it waits.
typedef struct cio__waiter {
  struct cio__waiter *prev, *next;                   // queue links
  cio_task *task;                                    // the task to wake, or NULL if `notify` is set
  void (*notify)(struct cio__waiter *w, void *from); // called instead of waking, if set
  void *data;                                        // for the owner of the waiter
  bool linked;                                       // on a queue now
} cio__waiter;

// A FIFO of waiters: the one primitive every blocking object is built on.
typedef struct cio__waitq {
  cio__waiter *head, *tail; // FIFO order
} cio__waitq;

// A record is two cache lines.  The first holds what running, parking and
// waking touch; the second the task's identity, outcome and flags.  With
// many thousands of tasks the records are out of the cache, so every line
// counts: spawn+join of a million tasks went from 60 to under 50 ns when the
// record went from 256 to 192 bytes, and 128 takes another line off.  There
// is no list of every task: the records sit in arenas, and walking those
// finds them (cio__task_iter).
struct cio_task {
  // ---- first line: scheduling
  cio__ctx ctx;         // saved context while not running
  cio_task *next_ready; // ready-queue link
  cio__stack *stack;    // NULL before the first run and after finishing
  union {
    struct {     // until the first run:
      cio_fn fn; //   body
      void *arg; //   its argument
    };
    struct {                  // once running:
      const char *waiting_on; // what a parked task waits for ("sleep", "join"...)
      const void *wait_obj;   // the wait queue (or object) it waits on (task dumps)
    };
  };
  int64_t scope_deadline;  // earliest deadline of the open scopes (CIO__NEVER: none)
  cio__waitq done_waiters; // woken when the task finishes
  // ---- second line
  uint64_t id;           // unique id, from 1
  cio_scope *scope_top;  // innermost open scope
  const char *file;      // spawn site (with line)
  char *name;            // malloc'd; NULL = unnamed (cio_task_name() then makes "task-<id>")
  int64_t state_since;   // loop time when it entered its state (debug dump)
  int result;            // outcome once DONE
  int wake_code;         // what the last waker passed to cio__wake()
  uint32_t gen;          // generation: bumped each time the record is released (handles)
  int line;              // spawn site (with file)
  cio__timer timer;      // deadline of the current park
  uint8_t state;         // enum cio__state
  bool cancelled : 1;    // cancellation requested (stays set: level triggered)
  bool shielded : 1;     // a shield scope is open
  bool detached : 1;     // the handle was given up
  bool outcome_read : 1; // somebody looked at the outcome (debug leak report)
  bool joining : 1;      // a cio_join() is under way
  bool canary : 1;       // its stack is canary-guarded: check at every switch
  bool marked : 1;       // scratch mark for duplicate checks (combinators)
  uint8_t locks_held;    // locks it holds (saturating; debug mode reports a task ending with some)
  uint8_t group_cancels; // groups it opened that a failed member is cancelling (see group.c)
#if defined(CIO_ASAN)
  void *asan_fake_stack; // ASan's fake-stack handle across a switch
#elif defined(CIO_TSAN)
  void *tsan_fiber; // TSan's fiber for this stack
#endif
} __attribute__((aligned(64)));

// Where ASan keeps a suspended task's fake-stack handle (NULL without ASan),
// and the task's TSan fiber (NULL without TSan).
static inline void **cio__task_fake_stack(cio_task *t) {
#ifdef CIO_ASAN
  return &t->asan_fake_stack;
#else
  (void)t;
  return NULL;
#endif
}

static inline void *cio__task_fiber(const cio_task *t) {
#ifdef CIO_TSAN
  return t->tsan_fiber;
#else
  (void)t;
  return NULL;
#endif
}

// The loop of this thread if the caller is a task, else NULL (without a
// report: entry points use cio__await_loop() below).
static inline cio__loop *cio__task_loop(void) {
  cio__loop *L = cio__tls_loop;
  return L && L->current ? L : NULL;
}

// How a public entry point starts.  An awaiting one (`fn` its name) gets
// the caller's loop:
//   cio__loop *L = cio__await_loop("cio_join");
//   if (!L) return -EPERM;
// Outside a task it has already reported the misuse (one line naming `fn`;
// in debug mode it aborts: DESIGN §3), so the caller only returns.  Inline:
// every await runs it.
static inline cio__loop *cio__await_loop(const char *fn) {
  cio__loop *L = cio__task_loop();
  if (__builtin_expect(!L, 0)) cio__misuse_outside(fn);
  return L;
}

// As cio__await_loop() for an entry point that does not await but needs a
// loop on this thread, in a task or in a callback on the loop's stack
// (spawn, cancel, detach).
static inline cio__loop *cio__thread_loop(const char *fn) {
  cio__loop *L = cio__tls_loop;
  if (__builtin_expect(!L, 0)) cio__misuse_outside(fn);
  return L;
}

// Appends a task to the ready queue (state READY).
void cio__ready(cio__loop *L, cio_task *t);

// Positive codes cio__park() returns besides what a waker passed.
#define CIO__PARK_DEADLINE 1 // the park's own deadline passed
#define CIO__WOKE_TIMER 2    // internal: the task's timer fired

// Parks the running task until woken or until `deadline` (CIO__NEVER: no
// deadline), and returns the wake code: what cio__wake() passed,
// CIO__PARK_DEADLINE when `deadline` passed, -ETIMEDOUT when an enclosing
// timeout scope expired, -ECANCELED on cancellation.  A task already
// cancelled (and not shielded), or already past its scope deadline, gets
// that error at once without parking.  `what` names the wait in task dumps.
int cio__park(cio__loop *L, int64_t deadline, const char *what);

// Makes a parked task ready; its cio__park() returns `code`.  Does nothing
// if the task is not parked (it was already woken).
void cio__wake(cio__loop *L, cio_task *t, int code);

// An await point that does not park: -ECANCELED if the task is cancelled,
// -ETIMEDOUT if its scope deadline has passed, else 0.  Inline fast path:
// most tasks are neither cancelled nor inside a timeout.
int cio__checkpoint_slow(cio__loop *L);
static inline int cio__checkpoint(cio__loop *L) {
  const cio_task *cur = L->current;
  if (__builtin_expect(!cur->cancelled && !cur->group_cancels && cur->scope_deadline == INT64_MAX,
                       1))
    return 0;
  return cio__checkpoint_slow(L);
}

// Moves the running task to the back of the ready queue and runs others.
void cio__yield(cio__loop *L);

// The cooperative budget (tokio's coop): an awaiting call that can finish
// without suspending (a read served from a buffer, a queue with an item, a
// free lock) calls this first.  After CIO__COOP_BUDGET such calls since the
// task last suspended, the task yields here (a loop pass runs if nothing
// else is ready, so timers and I/O get their turn), and the call then
// returns what this returns: 0, or -ECANCELED / -ETIMEDOUT if the task was
// interrupted meanwhile (before the call did anything).
int cio__coop_yield(cio__loop *L);
static inline int cio__coop(cio__loop *L) {
  if (__builtin_expect(--L->coop_left > 0, 1)) return 0;
  return cio__coop_yield(L);
}

// True if the running task must see -ECANCELED at its next await: it was
// cancelled, or a group it opened is cancelling its body (group.c).
static inline bool cio__cancel_due(const cio_task *t) {
  return (t->cancelled || t->group_cancels) && !t->shielded;
}

// The absolute deadline `seconds` from now: CIO_FOREVER (or anything
// beyond the clock's range) is CIO__NEVER, 0 or negative is now.  -EINVAL
// for NaN.
int cio__deadline_after(cio__loop *L, double seconds, int64_t *deadline);

// The start of an awaiting entry point `fn` with a timeout: stores the
// caller's loop in *L and returns the deadline `timeout` seconds from now
// (loop time, >= 0), or a negative errno: -EPERM outside a task, the misuse
// reported as cio__await_loop() does, or -EINVAL for a NaN timeout:
//   cio__loop *L;
//   int64_t deadline = cio__await_deadline("cio_wait", timeout, &L);
//   if (deadline < 0) return (int)deadline;
// A call without a timeout passes CIO_FOREVER and reads no clock, so each
// pair of calls (cio_lock_acquire and cio_lock_acquire_for...) shares one
// body.
static inline int64_t cio__await_deadline(const char *fn, double timeout, cio__loop **L) {
  *L = cio__await_loop(fn);
  if (!*L) return -EPERM;
  if (timeout == CIO_FOREVER) return CIO__NEVER; // no clock, no call
  int64_t deadline;
  return cio__deadline_after(*L, timeout, &deadline) < 0 ? -EINVAL : deadline;
}

// Marks the timeout scope that owns an expiry at `now` (the outermost
// expired one inside the nearest shield) as fired (scope.c).
void cio__scope_fire(cio_task *t, int64_t now);

// Opens and closes an internal shield around waits that must finish (the
// reaping part of cio_join).
void cio__shield_enter(cio_task *t, cio_scope *s);
void cio__shield_leave(cio_task *t, cio_scope *s);

// Wait queues.
static inline void cio__waitq_init(cio__waitq *q) { q->head = q->tail = NULL; }
static inline bool cio__waitq_empty(const cio__waitq *q) { return q->head == NULL; }
void cio__waitq_push(cio__waitq *q, cio__waiter *w);
void cio__waitq_remove(cio__waitq *q, cio__waiter *w);
// Unlinks the first waiter and wakes it (or calls its notify), passing over
// waiters already woken by a timeout or a cancellation (they are leaving).
// Returns the waiter woken, or NULL if none was.
cio__waiter *cio__waitq_wake_one(cio__loop *L, cio__waitq *q, int code, void *from);
// Wakes every waiter; returns how many.
size_t cio__waitq_wake_all(cio__loop *L, cio__waitq *q, int code, void *from);
// Parks the running task on `q` until woken, the deadline, or cancellation;
// unlinks itself on timeout or cancellation.  Returns the wake code.
int cio__waitq_wait(cio__loop *L, cio__waitq *q, int64_t deadline, const char *what);

// Task records and lifecycle (task.c).
cio_task *cio__task_new(cio__loop *L, const char *name, cio_fn fn, void *arg, const char *file,
                        int line);
void cio__task_free(cio__loop *L, cio_task *t);
// Gives a task that has not started its stack now (sched.c), so that it
// cannot fail to start for lack of one: for a task whose body must run,
// such as a server's accept loop.  Returns 0 or -ENOMEM.
int cio__task_take_stack(cio__loop *L, cio_task *t);

// Walks every task record in use (spawned and not yet released: joined or
// detached and done), in no particular order:
//   cio__task_iter it;
//   for (cio_task *t = cio__task_iter_first(L, &it); t; t = cio__task_iter_next(L, &it))
// Records may be released during the walk, but not allocated.
typedef struct cio__task_iter {
  struct cio__record_chunk *chunk; // arena being walked
  char *at, *end;                  // next record to look at; end of the arena's records
} cio__task_iter;
cio_task *cio__task_iter_first(cio__loop *L, cio__task_iter *it);
cio_task *cio__task_iter_next(cio__loop *L, cio__task_iter *it);

// The records in use, sorted by id (spawn order), in a malloc'd array the
// caller frees; *n gets their number.  NULL if out of memory (or none).
cio_task **cio__tasks_by_id(cio__loop *L, size_t *n);

// Frees every task record of the loop (at teardown).
void cio__task_records_free(cio__loop *L);
// Records the outcome, wakes the waiters and frees a detached task's record.
void cio__task_finish(cio__loop *L, cio_task *t, int result);
// ---------------------------------------------------------------- handles
//
// A `cio_task *` given to the user is a handle, not the record's address: it
// carries the record's generation in bits the address leaves free (the low
// 6, since records are 64-byte aligned, and on 64-bit machines the top 16,
// above the 48-bit user address space of x86-64 and AArch64 Linux).  A
// record's generation is bumped when it is released, so a handle kept after
// cio_join() or a detached task's end no longer matches, whoever has the
// record now.  A record whose generation has used all its bits is retired
// (never handed out again), so no handle can ever alias a later task.
// Inside cio, `cio_task *` values are records unless a comment says
// handle; public entry points turn handles into records with
// cio__task_of().
#if UINTPTR_MAX > 0xffffffffu
#define CIO__GEN_HIGH_SHIFT 48 // user addresses are below 2^48
#define CIO__GEN_BITS 22
#else
#define CIO__GEN_HIGH_SHIFT 32 // (no high bits on 32-bit machines)
#define CIO__GEN_BITS 6
#endif
#define CIO__GEN_RETIRED ((1u << CIO__GEN_BITS) - 1) // a record at this generation is retired

// The record a handle names, without checking it (the handle must be known
// valid, or the caller checks the generation itself).
static inline cio_task *cio__rec(const cio_task *h) {
  uintptr_t v = (uintptr_t)h & ~(uintptr_t)63;
#if UINTPTR_MAX > 0xffffffffu
  v &= ((uintptr_t)1 << CIO__GEN_HIGH_SHIFT) - 1;
#endif
  return (cio_task *)v;
}

// The generation a handle carries.
static inline uint32_t cio__handle_gen(const cio_task *h) {
  uintptr_t v = (uintptr_t)h;
  uint32_t gen = (uint32_t)(v & 63);
#if UINTPTR_MAX > 0xffffffffu
  gen |= (uint32_t)(v >> CIO__GEN_HIGH_SHIFT) << 6;
#endif
  return gen;
}

// The handle of record `t` (NULL for NULL).
static inline cio_task *cio__handle(const cio_task *t) {
  if (!t) return NULL;
  uintptr_t v = (uintptr_t)t | (t->gen & 63);
#if UINTPTR_MAX > 0xffffffffu
  v |= (uintptr_t)(t->gen >> 6) << CIO__GEN_HIGH_SHIFT;
#endif
  return (cio_task *)v;
}

// The record handle `h` names if the handle is still valid (its task not
// released), else NULL.
static inline cio_task *cio__task_of(const cio_task *h) {
  cio_task *t = cio__rec(h);
  return t && t->gen == cio__handle_gen(h) && t->state != CIO__FREE ? t : NULL;
}

// As cio__task_of(), for public entry point `fn`: in debug mode a handle
// that is not valid any more is reported, naming `fn` and what the record
// holds now.
cio_task *cio__task_of_checked(cio__loop *L, const cio_task *h, const char *fn);

// Cancels record `t` (cio_cancel() without the handle check).  Returns 0
// if it had finished, else 1.
int cio__task_cancel(cio__loop *L, cio_task *t);
// The name of record `t` ("task-<id>" if unnamed).
const char *cio__task_name(cio_task *t);

// The scheduler's main loop (sched.c): runs until every task has finished.
// Returns 0, or -EDEADLK if every task waits and nothing can wake them.
int cio__sched_run(cio__loop *L);

#endif
