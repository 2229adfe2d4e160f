// SPDX-License-Identifier: MIT
//
// Combinators and scopes: gather, wait, wait_for, as_completed, task
// groups, timeout and shield scopes; the guide's patterns with timings, and
// asyncio's hard-won semantics.
#include <cio.h>
#include <string.h>

#include "helpers/test.h"
#include "task/task.h"

// A task that sleeps `delay` seconds and then returns `outcome`.  On
// cancellation it records that and returns -ECANCELED, or `on_cancel` if set.
struct job {
  double delay;   // how long it works
  int outcome;    // what it returns when done
  int on_cancel;  // what it returns when cancelled (0: -ECANCELED)
  double cleanup; // seconds of shielded cleanup after a cancellation
  int saw_cancel; // set when its sleep was interrupted
  int finished;   // set when it returned
};

static int job_fn(void *arg) {
  struct job *j = arg;
  int rc = cio_sleep(j->delay);
  if (rc < 0) {
    j->saw_cancel = 1;
    if (j->cleanup > 0) {
      cio_scope shield;
      ASSERT_EQ(cio_shield_begin(&shield), 0);
      ASSERT_EQ(cio_sleep(j->cleanup), 0);
      ASSERT_EQ(cio_scope_end(&shield), 0);
    }
    j->finished = 1;
    return j->on_cancel ? j->on_cancel : rc;
  }
  j->finished = 1;
  return j->outcome;
}

static cio_task *start(struct job *j) {
  cio_task *t = cio_spawn(job_fn, j);
  ASSERT(t);
  return t;
}

static size_t live_tasks(void) { return cio_all_tasks(NULL, 0); }

// ---------------------------------------------------------------- gather

static int gather_order_main(void *arg) {
  (void)arg;
  struct job j[3] = {
      {.delay = 0.15, .outcome = 1}, {.delay = 0.05, .outcome = 2}, {.delay = 0.1, .outcome = 3}};
  cio_task *t[3] = {start(&j[0]), start(&j[1]), start(&j[2])};
  int out[3] = {0};
  double t0 = cio_now();
  ASSERT_EQ(cio_gather(t, 3, out, 0), 0);
  ASSERT_BETWEEN(cio_now() - t0, 0.15, 1.0);         // concurrently: the longest, not the sum
  ASSERT(out[0] == 1 && out[1] == 2 && out[2] == 3); // in order, not completion order
  ASSERT_EQ(live_tasks(), 1);
  ASSERT_EQ(cio_gather(NULL, 0, NULL, 0), 0); // nothing to gather
  return 0;
}
static void gather_outcomes_in_order(void) { ASSERT_EQ(cio_run(gather_order_main, NULL), 0); }

static int gather_fail_main(void *arg) {
  unsigned flags = *(unsigned *)arg;
  struct job j[2] = {{.delay = 0.05, .outcome = -EIO}, {.delay = 0.3, .outcome = 7}};
  cio_task *t[2] = {start(&j[0]), start(&j[1])};
  int out[2];
  double t0 = cio_now();
  int rc = cio_gather(t, 2, out, flags);
  double dt = cio_now() - t0;
  if (flags & CIO_GATHER_COLLECT) {
    ASSERT_EQ(rc, 1); // one failure
    ASSERT(out[0] == -EIO && out[1] == 7);
  } else if (flags & CIO_GATHER_CANCEL_ON_ERROR) {
    ASSERT_EQ(rc, -EIO);
    ASSERT(out[1] == -ECANCELED && j[1].saw_cancel); // the sibling was cancelled
    ASSERT_BETWEEN(dt, 0.05, 0.25);
  } else {
    ASSERT_EQ(rc, -EIO);                     // first failure, returned once all have finished
    ASSERT(out[1] == 7 && !j[1].saw_cancel); // the sibling ran on (asyncio's default)
    ASSERT_BETWEEN(dt, 0.3, 1.0);
  }
  ASSERT_EQ(live_tasks(), 1);
  return 0;
}
static void gather_first_failure_siblings_run_on(void) {
  unsigned f = 0;
  ASSERT_EQ(cio_run(gather_fail_main, &f), 0);
}
static void gather_cancel_on_error(void) {
  unsigned f = CIO_GATHER_CANCEL_ON_ERROR;
  ASSERT_EQ(cio_run(gather_fail_main, &f), 0);
}
static void gather_collect_every_outcome(void) {
  unsigned f = CIO_GATHER_COLLECT;
  ASSERT_EQ(cio_run(gather_fail_main, &f), 0);
}

struct gatherer {
  struct job j[3]; // its children
};
static int gatherer_fn(void *arg) {
  struct gatherer *g = arg;
  cio_task *t[3];
  for (int i = 0; i < 3; i++) {
    g->j[i] = (struct job){.delay = 10, .cleanup = i == 0 ? 0.05 : 0};
    t[i] = start(&g->j[i]);
  }
  return cio_gather(t, 3, NULL, 0);
}
static int gather_cancel_main(void *arg) {
  (void)arg;
  struct gatherer g;
  cio_task *outer = cio_spawn(gatherer_fn, &g);
  ASSERT_EQ(cio_sleep(0.05), 0);
  double t0 = cio_now();
  ASSERT_EQ(cio_cancel(outer), 1);
  ASSERT_EQ(cio_join(outer), -ECANCELED);
  // Every child was cancelled and awaited, cleanup included, before gather returned.
  for (int i = 0; i < 3; i++) ASSERT(g.j[i].saw_cancel && g.j[i].finished);
  ASSERT_BETWEEN(cio_now() - t0, 0.05, 1.0);
  ASSERT_EQ(live_tasks(), 1);
  return 0;
}
static void gather_cancelled_from_outside_cancels_children(void) {
  ASSERT_EQ(cio_run(gather_cancel_main, NULL), 0);
}

static int gather_bad_main(void *arg) {
  (void)arg;
  struct job j[2] = {{.delay = 0.01}, {.delay = 0.01}};
  cio_task *a = start(&j[0]), *b = start(&j[1]);
  cio_task *dup[2] = {a, a};
  ASSERT_EQ(cio_gather(dup, 2, NULL, 0), -EINVAL);
  cio_task *null[2] = {a, NULL};
  ASSERT_EQ(cio_gather(null, 2, NULL, 0), -EINVAL);
  cio_task *ok[2] = {a, b};
  ASSERT_EQ(cio_gather(ok, 2, NULL, CIO_GATHER_COLLECT), -EINVAL); // COLLECT needs outcomes
  ASSERT_EQ(cio_gather(ok, 2, NULL, 0x80), -EINVAL);
  // Nothing was taken: the handles are still ours.
  ASSERT_EQ(cio_gather(ok, 2, NULL, 0), 0);
  ASSERT_EQ(cio_gather(ok, 2, NULL, 0), -EINVAL); // released by the first gather
  cio_group *g = cio_group_new();
  cio_task *member = cio_group_spawn(g, job_fn, &j[0]);
  ASSERT_EQ(cio_gather(&member, 1, NULL, 0), -EINVAL); // owned by a group
  ASSERT_EQ(cio_group_wait(g), 0);
  ASSERT_EQ(cio_group_free(g), 0);
  return 0;
}
static void gather_bad_input(void) { ASSERT_EQ(cio_run(gather_bad_main, NULL), 0); }

// ---------------------------------------------------------------- wait

static int wait_first_main(void *arg) {
  (void)arg;
  // The guide's "wait for first, then cancel the rest".
  struct job j[3] = {
      {.delay = 0.3, .outcome = 1}, {.delay = 0.05, .outcome = 2}, {.delay = 0.2, .outcome = 3}};
  cio_task *t[3] = {start(&j[0]), start(&j[1]), start(&j[2])};
  cio_task *fastest = t[1];
  double t0 = cio_now();
  ASSERT_EQ(cio_wait(t, 3, CIO_FIRST_COMPLETED, CIO_FOREVER), 1);
  ASSERT_BETWEEN(cio_now() - t0, 0.05, 0.19);
  ASSERT(t[0] == fastest);                      // done first, pending after
  ASSERT(!j[0].saw_cancel && !j[2].saw_cancel); // wait cancels nothing itself
  for (int i = 1; i < 3; i++) cio_cancel(t[i]);
  ASSERT_EQ(cio_join(t[0]), 2);
  ASSERT_EQ(cio_join(t[1]), -ECANCELED);
  ASSERT_EQ(cio_join(t[2]), -ECANCELED);
  ASSERT_BETWEEN(cio_now() - t0, 0.05, 0.19);
  return 0;
}
static void wait_first_then_cancel_the_rest(void) { ASSERT_EQ(cio_run(wait_first_main, NULL), 0); }

static int wait_exception_main(void *arg) {
  (void)arg;
  struct job j[3] = {{.delay = 0.02, .outcome = 1},
                     {.delay = 0.06, .outcome = -EIO},
                     {.delay = 0.4, .outcome = 3}};
  cio_task *t[3] = {start(&j[0]), start(&j[1]), start(&j[2])};
  cio_task *ok = t[0], *bad = t[1], *slow = t[2];
  double t0 = cio_now();
  ASSERT_EQ(cio_wait(t, 3, CIO_FIRST_EXCEPTION, CIO_FOREVER), 2);
  ASSERT_BETWEEN(cio_now() - t0, 0.06, 0.35);
  ASSERT(t[0] == ok && t[1] == bad && t[2] == slow);
  ASSERT_EQ(cio_wait(&slow, 1, CIO_ALL_COMPLETED, CIO_FOREVER), 1);
  ASSERT_EQ(cio_gather(t, 3, NULL, 0), -EIO);
  return 0;
}
static void wait_first_exception(void) { ASSERT_EQ(cio_run(wait_exception_main, NULL), 0); }

static int wait_timeout_main(void *arg) {
  (void)arg;
  struct job j[2] = {{.delay = 0.02, .outcome = 1}, {.delay = 0.4, .outcome = 2}};
  cio_task *t[2] = {start(&j[1]), start(&j[0])};
  cio_task *fast = t[1];
  double t0 = cio_now();
  ASSERT_EQ(cio_wait(t, 2, CIO_ALL_COMPLETED, 0.1), 1); // timed out: one done
  ASSERT_BETWEEN(cio_now() - t0, 0.1, 0.35);
  ASSERT(t[0] == fast);                             // the done one first
  ASSERT(!cio_task_done(t[1]) && !j[1].saw_cancel); // the timeout cancelled nothing
  // 0 and negative timeouts look once and return at once.
  t0 = cio_now();
  ASSERT_EQ(cio_wait(t, 2, CIO_ALL_COMPLETED, 0), 1);
  ASSERT_EQ(cio_wait(t, 2, CIO_ALL_COMPLETED, -5), 1);
  ASSERT_EQ(cio_wait(&t[1], 1, CIO_FIRST_COMPLETED, 0), 0);
  ASSERT(cio_now() - t0 < 0.2);            // waiting for the slow one would take >= 0.28 s
  ASSERT_EQ(cio_gather(t, 2, NULL, 0), 0); // the slow one still completes
  ASSERT(j[1].finished && !j[1].saw_cancel);
  cio_task *none = NULL;
  ASSERT_EQ(cio_wait(&none, 0, CIO_FIRST_COMPLETED, 1), -EINVAL);
  ASSERT_EQ(cio_wait(&none, 1, CIO_FIRST_COMPLETED, 1), -EINVAL);
  return 0;
}
static void wait_timeout_cancels_nothing(void) { ASSERT_EQ(cio_run(wait_timeout_main, NULL), 0); }

// ---------------------------------------------------------------- wait_for

static int wait_for_main(void *arg) {
  (void)arg;
  // The guide's timeout pattern; the inner task is cancelled *and awaited*:
  // its 0.1 s of shielded cleanup is over when wait_for returns.
  struct job j = {.delay = 10, .cleanup = 0.1};
  cio_task *t = start(&j);
  double t0 = cio_now();
  ASSERT_EQ(cio_wait_for(t, 0.1), -ETIMEDOUT);
  ASSERT(j.saw_cancel && j.finished);
  ASSERT_BETWEEN(cio_now() - t0, 0.2, 1.0);
  ASSERT_EQ(live_tasks(), 1);
  // In time: the result.
  struct job quick = {.delay = 0.02, .outcome = 5};
  ASSERT_EQ(cio_wait_for(start(&quick), 1.0), 5);
  // A task that answers its cancellation with a result: the result wins.
  struct job stubborn = {.delay = 10, .on_cancel = 42};
  ASSERT_EQ(cio_wait_for(start(&stubborn), 0.05), 42);
  return 0;
}
static void wait_for_cancels_and_awaits_inner(void) { ASSERT_EQ(cio_run(wait_for_main, NULL), 0); }

// The result arrives together with the timeout: both deadlines pass while a
// third task blocks the loop, so the timeout fires and the task completes
// in the same pass.  The result is delivered, not dropped.
static int spin(void *arg) {
  double until = *(double *)arg;
  struct timespec ts;
  do clock_gettime(CLOCK_MONOTONIC, &ts);
  while (ts.tv_sec + ts.tv_nsec / 1e9 < until);
  return 0;
}
static int together_main(void *arg) {
  (void)arg;
  struct job j = {.delay = 0.05, .outcome = 99};
  cio_task *t = start(&j);
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  double until = ts.tv_sec + ts.tv_nsec / 1e9 + 0.3;
  cio_task *blocker = cio_spawn(spin, &until);
  ASSERT_EQ(cio_yield(), 0); // the job parks, the blocker spins 0.3 s
  ASSERT_EQ(cio_wait_for(t, 0.1), 99);
  ASSERT_EQ(cio_join(blocker), 0);
  return 0;
}
static void wait_for_result_with_timeout_is_delivered(void) {
  ASSERT_EQ(cio_run(together_main, NULL), 0);
}

static int wait_for_outer(void *arg) { return cio_wait_for((cio_task *)arg, 10); }
static int wait_for_cancel_main(void *arg) {
  (void)arg;
  struct job j = {.delay = 10};
  cio_task *inner = start(&j);
  cio_task *outer = cio_spawn(wait_for_outer, inner);
  ASSERT_EQ(cio_sleep(0.05), 0);
  cio_cancel(outer);
  ASSERT_EQ(cio_join(outer), -ECANCELED);
  ASSERT(j.saw_cancel && j.finished); // cancelling the waiter cancelled the inner task
  ASSERT_EQ(live_tasks(), 1);
  return 0;
}
static void cancelling_wait_for_waiter_cancels_inner(void) {
  ASSERT_EQ(cio_run(wait_for_cancel_main, NULL), 0);
}

static int wait_for_zero_main(void *arg) {
  (void)arg;
  struct job done = {.delay = 0, .outcome = 3};
  cio_task *t = start(&done);
  while (!cio_task_done(t)) ASSERT_EQ(cio_yield(), 0);
  ASSERT_EQ(cio_wait_for(t, 0), 3); // already done: its result, even with 0
  struct job running = {.delay = 10};
  double t0 = cio_now();
  ASSERT_EQ(cio_wait_for(start(&running), 0), -ETIMEDOUT);
  ASSERT_EQ(cio_wait_for(start(&running), -1), -ETIMEDOUT);
  ASSERT(cio_now() - t0 < 0.5);
  ASSERT_EQ(cio_wait_for(NULL, 1), -EINVAL);
  cio_task *u = start(&done);
  ASSERT_EQ(cio_wait_for(u, 0.0 / 0.0), -EINVAL); // NaN: not taken
  ASSERT_EQ(cio_join(u), 3);
  return 0;
}
static void wait_for_zero_and_negative_timeouts(void) {
  ASSERT_EQ(cio_run(wait_for_zero_main, NULL), 0);
}

// ---------------------------------------------------------------- scopes

static int scope_main(void *arg) {
  (void)arg;
  cio_scope s;
  double t0 = cio_now();
  ASSERT_EQ(cio_timeout_begin(&s, 0.1), 0);
  ASSERT_EQ(cio_sleep(10), -ETIMEDOUT);
  ASSERT_BETWEEN(cio_now() - t0, 0.1, 1.0);
  ASSERT_EQ(cio_yield(), -ETIMEDOUT); // level triggered inside the scope
  ASSERT_EQ(cio_sleep(1), -ETIMEDOUT);
  ASSERT_EQ(cio_scope_end(&s), -ETIMEDOUT);
  ASSERT_EQ(cio_sleep(0.01), 0); // outside it, awaits work again
  // A body that finishes in time: the scope reports nothing.
  ASSERT_EQ(cio_timeout_begin(&s, 1), 0);
  ASSERT_EQ(cio_sleep(0.01), 0);
  ASSERT_EQ(cio_scope_end(&s), 0);
  // Expired, but no await was interrupted: nothing to report (asyncio).
  ASSERT_EQ(cio_timeout_begin(&s, 0), 0);
  ASSERT_EQ(cio_scope_end(&s), 0);
  // 0 and negative expire at the next await; CIO_FOREVER never.
  ASSERT_EQ(cio_timeout_begin(&s, 0), 0);
  ASSERT_EQ(cio_sleep(5), -ETIMEDOUT);
  ASSERT_EQ(cio_scope_end(&s), -ETIMEDOUT);
  ASSERT_EQ(cio_timeout_begin(&s, -3), 0);
  ASSERT_EQ(cio_yield(), -ETIMEDOUT);
  ASSERT_EQ(cio_scope_end(&s), -ETIMEDOUT);
  ASSERT_EQ(cio_timeout_begin(&s, CIO_FOREVER), 0);
  ASSERT_EQ(cio_sleep(0.01), 0);
  ASSERT_EQ(cio_scope_end(&s), 0);
  ASSERT_EQ(cio_timeout_begin(&s, 0.0 / 0.0), -EINVAL);
  ASSERT_EQ(cio_timeout_at_begin(&s, cio_now() + 0.05), 0);
  ASSERT_EQ(cio_sleep(1), -ETIMEDOUT);
  ASSERT_EQ(cio_scope_end(&s), -ETIMEDOUT);
  return 0;
}
static void timeout_scope_around_plain_calls(void) { ASSERT_EQ(cio_run(scope_main, NULL), 0); }

static int nested_main(void *arg) {
  (void)arg;
  cio_scope outer, inner;
  // The inner scope's later deadline does not extend the outer one; the
  // outer reports the expiry.
  double t0 = cio_now();
  ASSERT_EQ(cio_timeout_begin(&outer, 0.1), 0);
  ASSERT_EQ(cio_timeout_begin(&inner, 5), 0);
  ASSERT_EQ(cio_sleep(10), -ETIMEDOUT);
  ASSERT_BETWEEN(cio_now() - t0, 0.1, 1.0);
  ASSERT_EQ(cio_scope_end(&inner), 0);
  ASSERT_EQ(cio_scope_end(&outer), -ETIMEDOUT);
  // The inner expires first: it reports, the outer does not, and the code
  // between the two ends can still await.
  ASSERT_EQ(cio_timeout_begin(&outer, 5), 0);
  ASSERT_EQ(cio_timeout_begin(&inner, 0.05), 0);
  ASSERT_EQ(cio_sleep(10), -ETIMEDOUT);
  ASSERT_EQ(cio_scope_end(&inner), -ETIMEDOUT);
  ASSERT_EQ(cio_sleep(0.01), 0);
  ASSERT_EQ(cio_scope_end(&outer), 0);
  // Both expired together: the outermost reports it.
  ASSERT_EQ(cio_timeout_begin(&outer, 0.05), 0);
  ASSERT_EQ(cio_timeout_begin(&inner, 0.05), 0);
  ASSERT_EQ(cio_sleep(10), -ETIMEDOUT);
  ASSERT_EQ(cio_scope_end(&inner), 0);
  ASSERT_EQ(cio_scope_end(&outer), -ETIMEDOUT);
  // Closing out of order is refused.
  ASSERT_EQ(cio_timeout_begin(&outer, 5), 0);
  ASSERT_EQ(cio_timeout_begin(&inner, 5), 0);
  ASSERT_EQ(cio_scope_end(&outer), -EINVAL);
  ASSERT_EQ(cio_scope_end(&inner), 0);
  ASSERT_EQ(cio_scope_end(&outer), 0);
  return 0;
}
static void nested_timeouts_compose(void) { ASSERT_EQ(cio_run(nested_main, NULL), 0); }

static int shield_timeout_main(void *arg) {
  (void)arg;
  cio_scope t, shield, inner;
  ASSERT_EQ(cio_timeout_begin(&t, 0.05), 0);
  ASSERT_EQ(cio_sleep(10), -ETIMEDOUT);
  // Cleanup inside a shield may await although the timeout has expired,
  // and a timeout opened inside the shield still works.
  ASSERT_EQ(cio_shield_begin(&shield), 0);
  ASSERT_EQ(cio_sleep(0.02), 0);
  ASSERT_EQ(cio_timeout_begin(&inner, 0.02), 0);
  ASSERT_EQ(cio_sleep(10), -ETIMEDOUT);
  ASSERT_EQ(cio_scope_end(&inner), -ETIMEDOUT);
  ASSERT_EQ(cio_scope_end(&shield), 0);
  ASSERT_EQ(cio_yield(), -ETIMEDOUT); // outside the shield, expired again
  ASSERT_EQ(cio_scope_end(&t), -ETIMEDOUT);
  return 0;
}
static void shield_holds_off_timeouts(void) { ASSERT_EQ(cio_run(shield_timeout_main, NULL), 0); }

// ---------------------------------------------------------------- as_completed

static int as_completed_main(void *arg) {
  (void)arg;
  // The guide's "for loop over results as they arrive".
  struct job j[3] = {
      {.delay = 0.15, .outcome = 1}, {.delay = 0.05, .outcome = 2}, {.delay = 0.1, .outcome = 3}};
  cio_task *t[3] = {start(&j[0]), start(&j[1]), start(&j[2])};
  cio_as_completed *it;
  ASSERT_EQ(cio_as_completed_begin(&it, t, 3, CIO_FOREVER), 0);
  int expect[3] = {2, 3, 1};
  double t0 = cio_now();
  cio_task *done;
  for (int k = 0; k < 3; k++) {
    ASSERT_EQ(cio_as_completed_next(it, &done), 1);
    ASSERT_EQ(cio_join(done), expect[k]);
    ASSERT_BETWEEN(cio_now() - t0, 0.05 * (k + 1), 0.05 * (k + 1) + 0.3);
  }
  ASSERT_EQ(cio_as_completed_next(it, &done), 0);
  cio_as_completed_end(it);
  return 0;
}
static void as_completed_in_completion_order(void) {
  ASSERT_EQ(cio_run(as_completed_main, NULL), 0);
}

static int as_completed_timeout_main(void *arg) {
  (void)arg;
  struct job j[3] = {{.delay = 5}, {.delay = 0.03, .outcome = 4}, {.delay = 6}};
  cio_task *t[3] = {start(&j[0]), start(&j[1]), start(&j[2])};
  cio_as_completed *it;
  ASSERT_EQ(cio_as_completed_begin(&it, t, 3, 0.1), 0);
  cio_task *done;
  double t0 = cio_now();
  ASSERT_EQ(cio_as_completed_next(it, &done), 1);
  ASSERT_EQ(cio_join(done), 4);
  ASSERT_EQ(cio_as_completed_next(it, &done), -ETIMEDOUT);
  ASSERT_BETWEEN(cio_now() - t0, 0.07, 1.0);
  ASSERT(done == t[0]);
  ASSERT_EQ(cio_as_completed_next(it, &done), -ETIMEDOUT);
  ASSERT(done == t[2]);
  ASSERT_EQ(cio_as_completed_next(it, &done), 0); // each remaining task reported once
  cio_as_completed_end(it);
  ASSERT(!j[0].saw_cancel); // reported as timed out, not cancelled
  cio_cancel(t[0]);
  cio_cancel(t[2]);
  ASSERT_EQ(cio_join(t[0]), -ECANCELED);
  ASSERT_EQ(cio_join(t[2]), -ECANCELED);
  return 0;
}
static void as_completed_overall_timeout(void) {
  ASSERT_EQ(cio_run(as_completed_timeout_main, NULL), 0);
}

// Interrupted (its task cancelled, or a scope of the caller's run out), a
// call ends and the iteration goes on, as an interrupted await of asyncio's
// as_completed: the next call waits again, completions still come in
// order.  Between two calls a completion never wakes the task from a wait
// of another kind (a sleep between two calls returned early, with 0: the
// watch woke whatever the task was parked in).  end() leaves no waiter.
static int as_completed_interrupted_main(void *arg) {
  (void)arg;
  struct job j[2] = {{.delay = 0.1, .outcome = 1}, {.delay = 0.3, .outcome = 2}};
  cio_task *t[2] = {start(&j[0]), start(&j[1])}, *done = t[0];
  cio_as_completed *it;
  ASSERT_EQ(cio_as_completed_begin(&it, t, 2, CIO_FOREVER), 0);
  cio_scope scope;
  ASSERT_EQ(cio_timeout_begin(&scope, 0.02), 0);
  ASSERT_EQ(cio_as_completed_next(it, &done), -ETIMEDOUT);
  ASSERT_EQ(cio_scope_end(&scope), -ETIMEDOUT);
  ASSERT(done == NULL);
  ASSERT_EQ(cio_as_completed_next(it, &done), 1); // goes on
  ASSERT_EQ(cio_join(done), 1);
  double t0 = cio_now();
  ASSERT_EQ(cio_sleep(0.4), 0); // the second finishes meanwhile, at 0.3 s
  ASSERT_BETWEEN(cio_now() - t0, 0.39, 5);
  ASSERT_EQ(cio_as_completed_next(it, &done), 1);
  ASSERT_EQ(cio_join(done), 2);
  ASSERT_EQ(cio_as_completed_next(it, &done), 0);
  ASSERT_EQ(cio_as_completed_end(it), 0);
  return 0;
}
static void as_completed_interrupted_goes_on(void) {
  ASSERT_EQ(cio_run(as_completed_interrupted_main, NULL), 0);
}

struct iterate {
  cio_task *t[2]; // watched
  int rc;         // what next() returned
};
static int iterate_fn(void *arg) {
  struct iterate *s = arg;
  cio_as_completed *it;
  ASSERT_EQ(cio_as_completed_begin(&it, s->t, 2, CIO_FOREVER), 0);
  cio_task *done;
  s->rc = cio_as_completed_next(it, &done);
  ASSERT_EQ(cio_as_completed_end(it), 0);
  ASSERT(cio__waitq_empty(&s->t[0]->done_waiters)); // end() left no waiter
  ASSERT(cio__waitq_empty(&s->t[1]->done_waiters));
  return s->rc;
}
static int as_completed_cancel_main(void *arg) {
  (void)arg;
  struct job j[2] = {{.delay = 10}, {.delay = 10}};
  struct iterate s = {{start(&j[0]), start(&j[1])}, 0};
  cio_task *outer = cio_spawn(iterate_fn, &s);
  ASSERT_EQ(cio_sleep(0.02), 0);
  cio_cancel(outer);
  ASSERT_EQ(cio_join(outer), -ECANCELED);
  ASSERT_EQ(s.rc, -ECANCELED);
  ASSERT(cio__waitq_empty(&s.t[0]->done_waiters));
  for (int i = 0; i < 2; i++) cio_cancel(s.t[i]);
  ASSERT_EQ(cio_gather(s.t, 2, NULL, 0), -ECANCELED);
  return 0;
}
static void as_completed_cancelled_leaves_no_waiter(void) {
  ASSERT_EQ(cio_run(as_completed_cancel_main, NULL), 0);
}

// ---------------------------------------------------------------- groups

static int spawner(void *arg) {
  // A member that spawns a sibling into its own group (nursery style).
  cio_group *g = arg;
  static struct job late = {.delay = 0.05, .outcome = 0};
  return cio_group_spawn(g, job_fn, &late) ? 0 : -errno;
}
static int group_main(void *arg) {
  (void)arg;
  struct job j[3] = {{.delay = 0.05}, {.delay = 0.1}, {.delay = 0.02}};
  cio_group *g = cio_group_new();
  ASSERT(g);
  for (int i = 0; i < 3; i++) ASSERT(cio_group_spawn(g, job_fn, &j[i]));
  cio_task *s = cio_group_spawn_named(g, "spawner", spawner, g);
  ASSERT_EQ(cio_join(s), -EINVAL); // the group owns it
  ASSERT_EQ(cio_detach(s), -EINVAL);
  ASSERT_EQ(cio_group_free(g), -EBUSY);
  double t0 = cio_now();
  ASSERT_EQ(cio_group_wait(g), 0);
  ASSERT_BETWEEN(cio_now() - t0, 0.1, 1.0);
  for (int i = 0; i < 3; i++) ASSERT(j[i].finished);
  ASSERT_EQ(cio_group_failures(g, NULL, 0), 0);
  ASSERT_EQ(live_tasks(), 1); // nothing leaks
  errno = 0;
  ASSERT(cio_group_spawn(g, job_fn, &j[0]) == NULL);
  ASSERT_EQ(errno, EINVAL); // closed
  ASSERT_EQ(cio_group_wait(g), -EINVAL);
  ASSERT_EQ(cio_group_free(g), 0);
  return 0;
}
static void group_waits_for_all(void) { ASSERT_EQ(cio_run(group_main, NULL), 0); }

static int group_fail_main(void *arg) {
  (void)arg;
  // a fails; b's cleanup fails too; c is merely cancelled.
  struct job a = {.delay = 0.05, .outcome = -EIO};
  struct job b = {.delay = 10, .on_cancel = -EPIPE};
  struct job c = {.delay = 10};
  cio_group *g = cio_group_new();
  ASSERT(cio_group_spawn(g, job_fn, &a) && cio_group_spawn(g, job_fn, &b) &&
         cio_group_spawn(g, job_fn, &c));
  double t0 = cio_now();
  ASSERT_EQ(cio_group_wait(g), -EIO); // the first failure
  ASSERT(cio_now() - t0 < 1.0);
  ASSERT(b.saw_cancel && c.saw_cancel);
  int f[4];
  ASSERT_EQ(cio_group_failures(g, f, 4), 2); // every failure, cancellations excluded
  ASSERT(f[0] == -EIO && f[1] == -EPIPE);
  ASSERT_EQ(cio_group_free(g), 0);
  ASSERT_EQ(live_tasks(), 1);
  return 0;
}
static void group_failure_cancels_siblings_reports_all(void) {
  ASSERT_EQ(cio_run(group_fail_main, NULL), 0);
}

struct owner {
  struct job j[2]; // the group's tasks
};
static int group_owner(void *arg) {
  struct owner *o = arg;
  cio_group *g = cio_group_new();
  for (int i = 0; i < 2; i++) {
    o->j[i] = (struct job){.delay = 10, .cleanup = 0.03};
    ASSERT(cio_group_spawn(g, job_fn, &o->j[i]));
  }
  int rc = cio_group_wait(g);
  ASSERT_EQ(cio_group_free(g), 0);
  return rc;
}
static int group_cancel_main(void *arg) {
  (void)arg;
  struct owner o;
  cio_task *t = cio_spawn(group_owner, &o);
  ASSERT_EQ(cio_sleep(0.02), 0);
  cio_cancel(t);
  ASSERT_EQ(cio_join(t), -ECANCELED);
  for (int i = 0; i < 2; i++) ASSERT(o.j[i].saw_cancel && o.j[i].finished);
  ASSERT_EQ(live_tasks(), 1);
  return 0;
}
static void cancelling_owner_cancels_group(void) { ASSERT_EQ(cio_run(group_cancel_main, NULL), 0); }

static int not_owner(void *arg) { return cio_group_wait((cio_group *)arg); }
static int group_owner_only_main(void *arg) {
  (void)arg;
  cio_group *g = cio_group_new();
  cio_task *t = cio_spawn(not_owner, g);
  ASSERT_EQ(cio_join(t), -EPERM);
  ASSERT_EQ(cio_group_wait(g), 0); // empty
  ASSERT_EQ(cio_group_free(g), 0);
  ASSERT_EQ(cio_group_free(NULL), -EINVAL);
  return 0;
}
static void group_wait_owner_only(void) { ASSERT_EQ(cio_run(group_owner_only_main, NULL), 0); }

// The first failure cancels the group's body as well (asyncio's TaskGroup):
// the owner's sleep ends at once with -ECANCELED, an event only the failed
// member would set does not hang it, and cio_group_wait() returns the
// failure; afterwards the owner awaits normally again.
static int fail_fast(void *arg) {
  (void)arg;
  int rc = cio_sleep(0.02);
  return rc < 0 ? rc : -EIO;
}
static int group_body_main(void *arg) {
  (void)arg;
  cio_group *g = cio_group_new();
  ASSERT(cio_group_spawn(g, fail_fast, NULL));
  double t0 = cio_now();
  ASSERT_EQ(cio_sleep(1.0), -ECANCELED);
  ASSERT(cio_now() - t0 < 0.5);
  ASSERT_EQ(cio_sleep(0.01), -ECANCELED); // level triggered until the wait
  ASSERT(!cio_task_cancelled(cio_current()));
  ASSERT_EQ(cio_group_wait(g), -EIO);
  ASSERT_EQ(cio_sleep(0.01), 0); // lifted
  ASSERT_EQ(cio_group_free(g), 0);

  cio_event *never = cio_event_new(); // set only by a member that fails first
  g = cio_group_new();
  ASSERT(cio_group_spawn(g, fail_fast, NULL));
  ASSERT_EQ(cio_event_wait(never), -ECANCELED);
  ASSERT_EQ(cio_group_wait(g), -EIO);
  ASSERT_EQ(cio_group_free(g), 0);
  ASSERT_EQ(cio_event_free(never), 0);

  // A shield still lets the body's cleanup await; a group freed without a
  // wait lifts its cancellation too.
  g = cio_group_new();
  ASSERT(cio_group_spawn(g, fail_fast, NULL));
  cio_scope shield;
  ASSERT_EQ(cio_shield_begin(&shield), 0);
  ASSERT_EQ(cio_sleep(0.1), 0);
  ASSERT_EQ(cio_scope_end(&shield), 0);
  ASSERT_EQ(cio_yield(), -ECANCELED);
  ASSERT_EQ(cio_group_free(g), 0);
  ASSERT_EQ(cio_yield(), 0);
  return 7;
}
static void group_failure_cancels_the_body(void) { ASSERT_EQ(cio_run(group_body_main, NULL), 7); }

// The whole program: a body blocked on something only the failed member
// would provide ends with that member's error, not a deadlock.
static int group_deadlock_main(void *arg) {
  (void)arg;
  cio_event *never = cio_event_new();
  cio_group *g = cio_group_new();
  ASSERT(cio_group_spawn(g, fail_fast, NULL));
  int rc = cio_event_wait(never);
  if (rc < 0) rc = cio_group_wait(g);
  ASSERT_EQ(cio_group_free(g), 0);
  ASSERT_EQ(cio_event_free(never), 0);
  return rc;
}
static void group_failure_ends_a_blocked_body(void) {
  ASSERT_EQ(cio_run(group_deadlock_main, NULL), -EIO);
}

// ---------------------------------------------------------------- guide patterns

static int fetch(void *arg) {
  int rc = cio_sleep(1.0);
  return rc < 0 ? rc : (int)(intptr_t)arg * 10;
}
static int guide_concurrency_main(void *arg) {
  (void)arg;
  double t0 = cio_now();
  ASSERT_EQ(fetch((void *)1), 10); // sequential: one after another
  ASSERT_EQ(fetch((void *)2), 20);
  double sequential = cio_now() - t0;
  t0 = cio_now();
  cio_task *t[2] = {cio_spawn(fetch, (void *)1), cio_spawn(fetch, (void *)2)};
  int out[2];
  ASSERT_EQ(cio_gather(t, 2, out, 0), 0); // concurrent: gather
  double concurrent = cio_now() - t0;
  ASSERT(out[0] == 10 && out[1] == 20);
  ASSERT_BETWEEN(sequential, 2.0, 2.6);
  ASSERT_BETWEEN(concurrent, 1.0, 1.5);
  return 0;
}
static void guide_sequential_vs_concurrent(void) {
  ASSERT_EQ(cio_run(guide_concurrency_main, NULL), 0);
}

static int ticker(void *arg) {
  // The guide's "loop with delay": do something every 0.1 s.
  double *ticks = arg;
  for (int i = 0;; i++) {
    int rc = cio_sleep(0.1);
    if (rc < 0) return i;
    ticks[i] = cio_now();
  }
}
static int long_running(void *arg) {
  (void)arg;
  return cio_sleep(3600);
}
static int guide_loop_cancel_main(void *arg) {
  (void)arg;
  double ticks[64] = {0};
  double t0 = cio_now();
  cio_task *t = cio_spawn(ticker, ticks);
  ASSERT_EQ(cio_sleep(0.55), 0);
  cio_cancel(t);
  int n = cio_join(t);
  // Five ticks (0.1, 0.2, ... 0.5) on an idle machine.  Each sleep counts
  // from the last tick, so a loaded one (TSan under ctest -j2 was 48 ms late
  // by the fifth) may fit fewer in 0.55 s; none is ever early, and the
  // cancel ends the loop.
  ASSERT_BETWEEN(n, 3, 5);
  double last = t0;
  for (int i = 0; i < n; i++) {
    ASSERT_BETWEEN(ticks[i] - last, 0.1, 0.25);
    last = ticks[i];
  }
  ASSERT(last - t0 <= 0.55 + 0.25);
  // The guide's cancellation pattern: cancel after 1 s, await, see it.
  cio_task *lr = cio_spawn(long_running, NULL);
  t0 = cio_now();
  ASSERT_EQ(cio_sleep(1), 0);
  ASSERT_EQ(cio_cancel(lr), 1);
  ASSERT_EQ(cio_join(lr), -ECANCELED);
  ASSERT_BETWEEN(cio_now() - t0, 1.0, 1.3);
  return 0;
}
static void guide_loop_with_delay_and_cancellation(void) {
  ASSERT_EQ(cio_run(guide_loop_cancel_main, NULL), 0);
}

// ---------------------------------------------------------------- chaos
//
// Randomized trees of tasks (seeded; 200 seeds, 20 in scaled-down runs) that use every combinator
// (gather in each mode, wait, wait_for, as_completed, groups) inside random
// timeout and shield scopes, with random sleeps and failures, while a chaos
// task cancels random live tasks at random moments.  Whatever happens, each
// call returns one of its documented outcomes, nothing hangs, and when the
// root has returned no task is left: every handle was released by the
// combinator that owned it.
static uint64_t chaos_rng;
static cio_task *chaos_main_task;
static int chaos_nodes, chaos_cancels;
static uint64_t chaos_next(void) { return test_random(&chaos_rng); }
static double chaos_seconds(void) { return (double)(chaos_next() % 3000) / 1e6; } // 0-3 ms
static bool chaos_outcome(int rc) { // what a node may return
  return rc >= 0 || rc == -EIO || rc == -ECANCELED || rc == -ETIMEDOUT;
}
static int chaos_node(void *arg);
static int chaos_children(cio_task **t, int k, int depth) {
  for (int i = 0; i < k; i++) {
    t[i] = cio_spawn(chaos_node, (void *)(intptr_t)(depth - 1));
    ASSERT(t[i]);
  }
  return k;
}
// Joins (and so releases) tasks that a combinator left with the caller.
static void chaos_reap(cio_task **t, int k) {
  for (int i = 0; i < k; i++) {
    cio_cancel(t[i]);
    cio_scope shield;
    ASSERT_EQ(cio_shield_begin(&shield), 0); // reap even when cancelled ourselves
    int rc = cio_join(t[i]);
    ASSERT_EQ(cio_scope_end(&shield), 0);
    ASSERT(chaos_outcome(rc));
  }
}
static int chaos_act(int depth) {
  cio_task *t[4];
  int k = 2 + (int)(chaos_next() % 3);
  int action = depth <= 0 ? 0 : 1 + (int)(chaos_next() % 7);
  int rc;
  switch (action) {
  case 0: // a leaf
    rc = chaos_next() % 2 ? cio_sleep(chaos_seconds()) : cio_yield();
    if (rc == 0 && chaos_next() % 5 == 0) rc = -EIO;
    return rc;
  case 1: { // gather, in one of its three modes
    int outcomes[4];
    unsigned flags = (unsigned)(chaos_next() % 3);
    rc = cio_gather(t, (size_t)chaos_children(t, k, depth), outcomes, flags);
    for (int i = 0; i < k; i++) ASSERT(chaos_outcome(outcomes[i]));
    return rc;
  }
  case 2: { // wait for the first (or all) with a timeout, cancel the rest
    chaos_children(t, k, depth);
    rc = cio_wait(t, (size_t)k, chaos_next() % 2 ? CIO_FIRST_COMPLETED : CIO_ALL_COMPLETED,
                  chaos_seconds());
    ASSERT(rc >= 0 || rc == -ECANCELED || rc == -ETIMEDOUT);
    chaos_reap(t, k);
    return rc < 0 ? rc : 0;
  }
  case 3: // wait_for one child
    return cio_wait_for(cio_spawn(chaos_node, (void *)(intptr_t)(depth - 1)), chaos_seconds());
  case 4: { // as_completed with an overall timeout
    chaos_children(t, k, depth);
    cio_as_completed *it;
    ASSERT_EQ(cio_as_completed_begin(&it, t, (size_t)k, chaos_seconds()), 0);
    cio_task *done;
    while ((rc = cio_as_completed_next(it, &done)) == 1) {
    }
    ASSERT(rc == 0 || rc == -ECANCELED || rc == -ETIMEDOUT);
    cio_as_completed_end(it);
    chaos_reap(t, k); // handed out or not, the caller still owns them
    return rc;
  }
  case 5: { // a task group
    cio_group *g = cio_group_new();
    ASSERT(g);
    for (int i = 0; i < k; i++)
      if (!cio_group_spawn(g, chaos_node, (void *)(intptr_t)(depth - 1))) break;
    rc = cio_group_wait(g);
    ASSERT_EQ(cio_group_free(g), 0);
    return rc;
  }
  case 6: { // a timeout scope around another action
    cio_scope scope;
    ASSERT_EQ(cio_timeout_begin(&scope, chaos_seconds()), 0);
    rc = chaos_act(depth - 1);
    int end = cio_scope_end(&scope);
    ASSERT(end == 0 || end == -ETIMEDOUT);
    return rc;
  }
  default: { // a shield around another action
    cio_scope scope;
    ASSERT_EQ(cio_shield_begin(&scope), 0);
    rc = chaos_act(depth - 1);
    ASSERT_EQ(cio_scope_end(&scope), 0);
    return rc;
  }
  }
}
static int chaos_node(void *arg) {
  chaos_nodes++;
  int rc = chaos_act((int)(intptr_t)arg);
  ASSERT(chaos_outcome(rc));
  return rc < 0 ? rc : 0;
}
static int chaos_monkey(void *arg) {
  volatile bool *stop = arg;
  cio_task *all[256];
  while (!*stop) {
    if (cio_sleep((double)(chaos_next() % 200) / 1e6) < 0) return 0;
    size_t n = cio_all_tasks(all, 256);
    if (n > 256) n = 256;
    if (n > 2) {
      cio_task *victim = all[chaos_next() % n];
      if (victim != cio_current() && victim != chaos_main_task && cio_cancel(victim) == 1)
        chaos_cancels++;
    }
  }
  return 0;
}
static int chaos_main(void *arg) {
  chaos_rng = *(uint64_t *)arg;
  chaos_main_task = cio_current();
  volatile bool stop = false;
  cio_task *monkey = cio_spawn(chaos_monkey, (void *)&stop);
  ASSERT(monkey);
  cio_task *roots[6];
  for (int i = 0; i < 6; i++) ASSERT(roots[i] = cio_spawn(chaos_node, (void *)(intptr_t)5));
  for (int i = 0; i < 6; i++) {
    int rc = cio_join(roots[i]);
    ASSERT(chaos_outcome(rc));
  }
  stop = true;
  ASSERT_EQ(cio_join(monkey), 0);
  cio_task *all[4];
  ASSERT_EQ(cio_all_tasks(all, 4), 1); // only main: nothing leaked
  return 0;
}
static void combinators_under_chaos_leave_nothing(void) {
  int seeds = test_scale() < 1 ? 20 : 200;
  for (uint64_t seed = 1; seed <= (uint64_t)seeds; seed++) ASSERT_EQ(cio_run(chaos_main, &seed), 0);
  printf("     %d seeds: %d tasks, %d cancelled by the monkey\n", seeds, chaos_nodes,
         chaos_cancels);
  ASSERT(chaos_nodes > 25 * seeds && chaos_cancels > seeds);
}

static const test_case cases[] = {
    {"gather_outcomes_in_order", gather_outcomes_in_order, 0},
    {"gather_first_failure_siblings_run_on", gather_first_failure_siblings_run_on, 0},
    {"gather_cancel_on_error", gather_cancel_on_error, 0},
    {"gather_collect_every_outcome", gather_collect_every_outcome, 0},
    {"gather_cancelled_from_outside_cancels_children",
     gather_cancelled_from_outside_cancels_children, 0},
    {"gather_bad_input", gather_bad_input, 0},
    {"wait_first_then_cancel_the_rest", wait_first_then_cancel_the_rest, 0},
    {"wait_first_exception", wait_first_exception, 0},
    {"wait_timeout_cancels_nothing", wait_timeout_cancels_nothing, 0},
    {"wait_for_cancels_and_awaits_inner", wait_for_cancels_and_awaits_inner, 0},
    {"wait_for_result_with_timeout_is_delivered", wait_for_result_with_timeout_is_delivered, 0},
    {"cancelling_wait_for_waiter_cancels_inner", cancelling_wait_for_waiter_cancels_inner, 0},
    {"wait_for_zero_and_negative_timeouts", wait_for_zero_and_negative_timeouts, 0},
    {"timeout_scope_around_plain_calls", timeout_scope_around_plain_calls, 0},
    {"nested_timeouts_compose", nested_timeouts_compose, 0},
    {"shield_holds_off_timeouts", shield_holds_off_timeouts, 0},
    {"as_completed_in_completion_order", as_completed_in_completion_order, 0},
    {"as_completed_overall_timeout", as_completed_overall_timeout, 0},
    {"as_completed_cancelled_leaves_no_waiter", as_completed_cancelled_leaves_no_waiter, 0},
    {"as_completed_interrupted_goes_on", as_completed_interrupted_goes_on, 0},
    {"group_waits_for_all", group_waits_for_all, 0},
    {"group_failure_cancels_siblings_reports_all", group_failure_cancels_siblings_reports_all, 0},
    {"cancelling_owner_cancels_group", cancelling_owner_cancels_group, 0},
    {"group_wait_owner_only", group_wait_owner_only, 0},
    {"group_failure_cancels_the_body", group_failure_cancels_the_body, 0},
    {"group_failure_ends_a_blocked_body", group_failure_ends_a_blocked_body, 0},
    {"guide_sequential_vs_concurrent", guide_sequential_vs_concurrent, 0},
    {"guide_loop_with_delay_and_cancellation", guide_loop_with_delay_and_cancellation, 0},
    {"combinators_under_chaos_leave_nothing", combinators_under_chaos_leave_nothing, 120},
};
TEST_MAIN(cases)
