// SPDX-License-Identifier: MIT
//
// cio_loop_call(): await fn(arg) run as a task on another loop.
//
// The caller's task C (on loop A) and the callee's loop B share one record,
// on the heap, owned by both until each lets go (the last frees it).  The
// steps, and who touches what:
//
//   1. C attaches the record's `woken` hook to A, holds A (it waits for
//      another thread, so A must not report a deadlock), and posts start()
//      to B with cio_call_soon_threadsafe (retrying while B's queue is full).
//   2. start(), on B: spawns the task, watches it finish (a waiter on its
//      done queue), attaches the record's `asked` hook to B and counts a
//      ref on B, so B cannot end while C may still signal it.  If B is
//      already ending (its main has returned, or start() runs in its
//      teardown) or has no memory, it answers at once (step 3) with
//      -ESHUTDOWN or -ENOMEM.
//   3. When the task finishes (its body ran or not), B stores the outcome,
//      signals `woken` on A and only then marks the record DONE: B touches
//      A last in that signal, so once C sees DONE, A may end.
//   4. C, woken, sees DONE, then asks B to let go (`asked` with `release`),
//      detaches `woken` and drops its share.  B, at its next pass, detaches
//      `asked`, drops its ref on B and its share.
//
// Cancelling C (or its timeout) while it waits sets `cancel` and signals
// `asked` once the task is spawned: B cancels the task, and C still waits
// for it (shielded) and returns its outcome, as cio_join does; the
// request made before start() ran is seen by start() itself.  Hook signals
// never allocate, block or fail, so no answer is lost and nothing runs
// twice.
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "../../include/cio.h"
#include "../internal.h"
#include "../task/task.h"

enum { POSTED, SPAWNED, DONE };

struct call {
  cio_fn fn;            // what to run
  void *arg;            //   its argument
  cio__loop *caller;    // A
  cio__loop *callee;    // B
  cio__loop_hook woken; // on A: the answer came (run: wake the waiter)
  cio__waitq waiting;   // C, parked until woken (A's thread)
  bool answered;        // `woken` ran: B has answered (A's thread)
  cio__loop_hook asked; // on B: cancel the task, or let go (B's thread runs it)
  cio__waiter done;     // on the task's done queue (B's thread)
  cio_task *task;       // the task (B's thread)
  bool finished;        // the task has finished (B's thread)
  int outcome;          // its outcome, or why it never ran (written before DONE)
  atomic_int state;     // POSTED, SPAWNED, DONE
  atomic_bool cancel;   // C asks B to cancel the task
  atomic_bool release;  // C is done with B
  atomic_int shares;    // 2 while both sides hold the record
};

static void drop(struct call *c) {
  if (atomic_fetch_sub(&c->shares, 1) == 1) free(c);
}

// ---------------------------------------------------------------- on B

// Step 3: the answer, then DONE (the last touch of A).
static void answer(struct call *c, int outcome) {
  c->outcome = outcome;
  cio__loop_hook_signal(c->caller, &c->woken);
  atomic_store(&c->state, DONE);
}

static void task_done(cio__waiter *w, void *from) {
  struct call *c = cio__container_of(w, struct call, done);
  cio_task *t = from;
  t->outcome_read = true;
  c->finished = true;
  answer(c, t->result);
}

// The `asked` hook: a cancellation, or C letting go.
static void asked(cio__loop *L, cio__loop_hook *h) {
  struct call *c = cio__container_of(h, struct call, asked);
  if (atomic_load(&c->release)) {
    cio__loop_hook_remove(L, h);
    L->refs--;
    drop(c);
  } else if (atomic_load(&c->cancel) && !c->finished) {
    cio__task_cancel(L, c->task);
  }
}

// Step 2, posted to B.
static void start(void *arg) {
  struct call *c = arg;
  cio__loop *L = cio__tls_loop;
  if (!L || L->closing) { // B's main has returned: B is ending, whatever it still runs
    answer(c, -ESHUTDOWN);
    drop(c);
    return;
  }
  cio_task *t = cio__task_new(L, "cio_loop_call", c->fn, c->arg, "cio_loop_call", 0);
  if (!t) {
    answer(c, -ENOMEM);
    drop(c);
    return;
  }
  t->detached = true; // freed when it finishes; `done` reads its outcome first
  c->task = t;
  c->done = (cio__waiter){.notify = task_done};
  cio__waitq_push(&t->done_waiters, &c->done);
  c->asked = (cio__loop_hook){.run = asked};
  cio__loop_hook_add(L, &c->asked);
  L->refs++;
  atomic_store(&c->state, SPAWNED);
  if (atomic_load(&c->cancel)) cio__task_cancel(L, t); // asked before we got here
}

// ---------------------------------------------------------------- on A

static void wake(cio__loop *L, cio__loop_hook *h) {
  struct call *c = cio__container_of(h, struct call, woken);
  c->answered = true; // C may be running, not parked: it looks at this first
  cio__waitq_wake_all(L, &c->waiting, 0, NULL);
}

// Posts start() to B; while B's queue is full, tries again every
// millisecond.  Returns 0, or -ENOMEM, -EINVAL, -ECANCELED/-ETIMEDOUT if the
// caller was interrupted first (nothing was posted).
static int post_start(struct call *c) {
  for (;;) {
    int rc = cio_call_soon_threadsafe(c->callee, start, c);
    if (rc != -EAGAIN) return rc;
    rc = cio_sleep(0.001);
    if (rc < 0) return rc;
  }
}

int cio_loop_call(cio_loop *loop, cio_fn fn, void *arg, int *result) {
  cio__loop *L = cio__await_loop("cio_loop_call");
  if (!L) return -EPERM;
  if (!loop || !fn || !result) return -EINVAL;
  int rc = cio__checkpoint(L);
  if (rc < 0) return rc;
  struct call *c = cio__calloc(1, sizeof *c);
  if (!c) return -ENOMEM;
  *c = (struct call){.fn = fn, .arg = arg, .caller = L, .callee = loop};
  atomic_init(&c->shares, 2);
  c->woken = (cio__loop_hook){.run = wake};
  cio__loop_hook_add(L, &c->woken);
  cio__waitq_init(&c->waiting);
  cio_loop_hold(L, 1);
  rc = post_start(c);
  if (rc < 0) {
    cio_loop_hold(L, -1);
    cio__loop_hook_remove(L, &c->woken);
    free(c); // B never saw it
    return rc;
  }
  cio_scope shield;
  bool shielded = false;
  while (!c->answered) {
    int woke = cio__waitq_wait(L, &c->waiting, CIO__NEVER, "cio_loop_call");
    if (woke < 0 && !shielded) { // cancelled or timed out: cancel the task, wait on
      atomic_store(&c->cancel, true);
      if (atomic_load(&c->state) == SPAWNED) cio__loop_hook_signal(loop, &c->asked);
      cio__shield_enter(L->current, &shield);
      shielded = true;
    }
  }
  if (shielded) cio__shield_leave(L->current, &shield);
  // B signals `woken` just before it marks DONE: the mark follows at once.
  while (atomic_load(&c->state) != DONE) sched_yield();
  bool spawned = c->task != NULL; // written by B before DONE
  int outcome = c->outcome;
  cio_loop_hold(L, -1);
  cio__loop_hook_remove(L, &c->woken);
  if (spawned) {
    atomic_store(&c->release, true);
    cio__loop_hook_signal(loop, &c->asked); // B lives: it counts a ref for us
  }
  drop(c);
  if (!spawned) return outcome; // fn never ran: -ESHUTDOWN or -ENOMEM
  *result = outcome;
  return 0;
}
