// SPDX-License-Identifier: MIT
//
// Tasks: spawn, join, detach, outcome, names, ids, current, all_tasks,
// nested spawns, and every cancellation case of DESIGN §3.
#include <cio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "helpers/test.h"
#include "task/task.h"

static int return_arg(void *arg) { return (int)(intptr_t)arg; }

static int sleeper(void *arg) {
  int rc = cio_sleep(arg ? *(double *)arg : 10.0);
  return rc < 0 ? rc : 42;
}

// ---------------------------------------------------------------- outcome

static int outcome_main(void *arg) {
  (void)arg;
  cio_task *ok = cio_spawn(return_arg, (void *)(intptr_t)7);
  cio_task *bad = cio_spawn(return_arg, (void *)(intptr_t)-EIO);
  ASSERT(ok && bad);
  ASSERT(!cio_task_done(ok));
  ASSERT_EQ(cio_task_result(ok), -EBUSY);
  ASSERT_EQ(cio_join(ok), 7);
  ASSERT(cio_task_done(bad)); // ran while we were joining `ok`
  ASSERT_EQ(cio_task_result(bad), -EIO);
  ASSERT_EQ(cio_join(bad), -EIO);
  return 5;
}

static void join_returns_outcome(void) { ASSERT_EQ(cio_run(outcome_main, NULL), 5); }

// A task hands back a value through its argument (the documented pattern).
struct square {
  int in, out;
};
static int square(void *arg) {
  struct square *s = arg;
  ASSERT_EQ(cio_sleep(0.001), 0);
  s->out = s->in * s->in;
  return 0;
}
static int value_main(void *arg) {
  (void)arg;
  struct square s[10];
  cio_task *t[10];
  for (int i = 0; i < 10; i++) {
    s[i] = (struct square){i, -1};
    t[i] = cio_spawn(square, &s[i]);
  }
  for (int i = 0; i < 10; i++) ASSERT_EQ(cio_join(t[i]), 0);
  for (int i = 0; i < 10; i++) ASSERT_EQ(s[i].out, i * i);
  return 0;
}
static void task_hands_back_value_through_arg(void) { ASSERT_EQ(cio_run(value_main, NULL), 0); }

// ---------------------------------------------------------------- names, ids

static int names_main(void *arg) {
  (void)arg;
  ASSERT(strcmp(cio_task_name(cio_current()), "main") == 0);
  cio_task *a = cio_spawn_named("fetcher", return_arg, NULL);
  cio_task *b = cio_spawn(return_arg, NULL);
  char longname[100];
  memset(longname, 'x', sizeof longname - 1);
  longname[99] = 0;
  cio_task *c = cio_spawn_named(longname, return_arg, NULL);
  ASSERT(strcmp(cio_task_name(a), "fetcher") == 0);
  char expect[32];
  snprintf(expect, sizeof expect, "task-%llu", (unsigned long long)cio_task_id(b));
  ASSERT(strcmp(cio_task_name(b), expect) == 0);
  ASSERT_EQ(strlen(cio_task_name(c)), 47);
  ASSERT(cio_task_id(b) > cio_task_id(a));
  ASSERT_EQ(cio_join(a), 0);
  ASSERT_EQ(cio_join(b), 0);
  ASSERT_EQ(cio_join(c), 0);
  return 0;
}
static void names_and_ids(void) { ASSERT_EQ(cio_run(names_main, NULL), 0); }

static int current_task(void *arg) {
  *(cio_task **)arg = cio_current();
  return 0;
}
static int all_main(void *arg) {
  (void)arg;
  double d = 5;
  cio_task *t[3];
  for (int i = 0; i < 3; i++) t[i] = cio_spawn(sleeper, &d);
  cio_task *list[8];
  ASSERT_EQ(cio_all_tasks(list, 8), 4); // main + 3
  ASSERT(list[0] == cio_current());
  for (int i = 0; i < 3; i++) ASSERT(list[i + 1] == t[i]);
  ASSERT_EQ(cio_all_tasks(NULL, 0), 4);
  for (int i = 0; i < 3; i++) cio_cancel(t[i]);
  for (int i = 0; i < 3; i++) ASSERT_EQ(cio_join(t[i]), -ECANCELED);
  ASSERT_EQ(cio_all_tasks(list, 8), 1);
  cio_task *seen = NULL;
  cio_task *c = cio_spawn(current_task, &seen);
  ASSERT_EQ(cio_join(c), 0);
  ASSERT(seen == c);
  return 0;
}
static void all_tasks_and_current(void) {
  ASSERT(cio_current() == NULL);
  ASSERT_EQ(cio_run(all_main, NULL), 0);
}

// Records are recycled (last released, first reused), yet cio_all_tasks()
// still lists the live tasks in spawn order, and never a released one.
static int all_order_main(void *arg) {
  (void)arg;
  double d = 5;
  cio_task *first[6], *second[4], *list[16];
  for (int i = 0; i < 6; i++) first[i] = cio_spawn(sleeper, &d);
  for (int i = 0; i < 6; i += 2) { // release 0, 2, 4: their records get reused
    cio_cancel(first[i]);
    ASSERT_EQ(cio_join(first[i]), -ECANCELED);
  }
  for (int i = 0; i < 4; i++) second[i] = cio_spawn(sleeper, &d);
  ASSERT_EQ(cio_all_tasks(list, 16), 8); // main, first 1 3 5, second 0-3
  cio_task *expect[8] = {cio_current(), first[1],  first[3],  first[5],
                         second[0],     second[1], second[2], second[3]};
  for (int i = 0; i < 8; i++) ASSERT(list[i] == expect[i]);
  for (int i = 1; i < 8; i++) ASSERT(cio_task_id(list[i]) > cio_task_id(list[i - 1]));
  ASSERT_EQ(cio_all_tasks(list, 3), 8); // a short array gets 3 of them, still sorted
  ASSERT(cio_task_id(list[0]) < cio_task_id(list[1]) &&
         cio_task_id(list[1]) < cio_task_id(list[2]));
  for (int i = 1; i < 6; i += 2) cio_cancel(first[i]);
  for (int i = 0; i < 4; i++) cio_cancel(second[i]);
  for (int i = 1; i < 6; i += 2) ASSERT_EQ(cio_join(first[i]), -ECANCELED);
  for (int i = 0; i < 4; i++) ASSERT_EQ(cio_join(second[i]), -ECANCELED);
  ASSERT_EQ(cio_all_tasks(list, 16), 1);
  return 0;
}
static void all_tasks_in_spawn_order_after_reuse(void) {
  ASSERT_EQ(cio_run(all_order_main, NULL), 0);
}

// ---------------------------------------------------------------- nesting

static int nest(void *arg) {
  int depth = (int)(intptr_t)arg;
  if (depth == 0) return 1;
  cio_task *a = cio_spawn(nest, (void *)(intptr_t)(depth - 1));
  cio_task *b = cio_spawn(nest, (void *)(intptr_t)(depth - 1));
  int ra = cio_join(a), rb = cio_join(b);
  return ra + rb;
}
static int nest_main(void *arg) {
  (void)arg;
  cio_task *t = cio_spawn(nest, (void *)(intptr_t)10);
  ASSERT_EQ(cio_join(t), 1024); // 2^10 leaves
  return 0;
}
static void nested_spawns(void) { ASSERT_EQ(cio_run(nest_main, NULL), 0); }

// ---------------------------------------------------------------- detach

static int count_done(void *arg) {
  ASSERT_EQ(cio_sleep(0.01), 0);
  (*(int *)arg)++;
  return 0;
}
static int detach_main(void *arg) {
  int *done = arg;
  for (int i = 0; i < 10; i++) ASSERT_EQ(cio_detach(cio_spawn(count_done, done)), 0);
  ASSERT_EQ(cio_sleep(0.1), 0);
  ASSERT_EQ(*done, 10);
  cio_task *t = cio_spawn(count_done, done);
  ASSERT_EQ(cio_detach(t), 0);
  ASSERT_EQ(cio_detach(t), -EINVAL); // twice
  ASSERT_EQ(cio_join(t), -EINVAL);   // joining a detached task
  return 0;
}
static void detached_tasks_run_and_free(void) {
  int done = 0;
  ASSERT_EQ(cio_run(detach_main, &done), 0);
  ASSERT_EQ(done, 10); // the 11th was cancelled before it started: never ran
}

// ---------------------------------------------------------------- cancel

static int cancel_sleeping_main(void *arg) {
  (void)arg;
  cio_task *t = cio_spawn(sleeper, NULL);
  ASSERT_EQ(cio_sleep(0.01), 0); // let it start sleeping
  double t0 = cio_now();
  ASSERT_EQ(cio_cancel(t), 1);
  ASSERT(cio_task_cancelled(t));
  ASSERT_EQ(cio_join(t), -ECANCELED);
  ASSERT(cio_now() - t0 < 1.0);
  return 0;
}
static void cancel_while_sleeping(void) { ASSERT_EQ(cio_run(cancel_sleeping_main, NULL), 0); }

struct steps {
  int reached; // how far the body got
};
static int stepper(void *arg) {
  struct steps *s = arg;
  s->reached = 1;
  int rc = cio_yield();
  s->reached = 2;
  if (rc < 0) return rc;
  s->reached = 3;
  return 0;
}
static int cancel_ready_main(void *arg) {
  (void)arg;
  struct steps s = {0};
  cio_task *t = cio_spawn(stepper, &s);
  ASSERT_EQ(cio_yield(), 0); // t runs to its yield and is ready again
  ASSERT_EQ(s.reached, 1);
  ASSERT_EQ(cio_cancel(t), 1);
  ASSERT_EQ(cio_join(t), -ECANCELED);
  ASSERT_EQ(s.reached, 2);
  return 0;
}
static void cancel_while_ready(void) { ASSERT_EQ(cio_run(cancel_ready_main, NULL), 0); }

static int cancel_before_start_main(void *arg) {
  (void)arg;
  struct steps s = {0};
  cio_task *t = cio_spawn(stepper, &s);
  ASSERT_EQ(cio_cancel(t), 1);
  ASSERT_EQ(cio_join(t), -ECANCELED);
  ASSERT_EQ(s.reached, 0); // the body never ran
  return 0;
}
static void cancel_before_first_run(void) { ASSERT_EQ(cio_run(cancel_before_start_main, NULL), 0); }

static int cancel_after_done_main(void *arg) {
  (void)arg;
  cio_task *t = cio_spawn(return_arg, (void *)(intptr_t)3);
  ASSERT_EQ(cio_sleep(0.001), 0);
  ASSERT(cio_task_done(t));
  ASSERT_EQ(cio_cancel(t), 0); // too late: no effect
  ASSERT(!cio_task_cancelled(t));
  ASSERT_EQ(cio_join(t), 3);
  return 0;
}
static void cancel_after_done(void) { ASSERT_EQ(cio_run(cancel_after_done_main, NULL), 0); }

// Level triggered: every await after the cancellation fails, until return.
static int stubborn(void *arg) {
  int *fails = arg;
  for (int i = 0; i < 5; i++)
    if (cio_sleep(0.001) == -ECANCELED) (*fails)++;
  if (cio_yield() == -ECANCELED) (*fails)++;
  return 9; // returned normally after all: the outcome is 9
}
static int level_main(void *arg) {
  (void)arg;
  int fails = 0;
  cio_task *t = cio_spawn(stubborn, &fails);
  ASSERT_EQ(cio_yield(), 0);
  cio_cancel(t);
  ASSERT_EQ(cio_join(t), 9);
  ASSERT_EQ(fails, 6);
  return 0;
}
static void cancellation_is_level_triggered(void) { ASSERT_EQ(cio_run(level_main, NULL), 0); }

// A shield lets cleanup await while cancelled; the request is delivered after.
static int cleanup_task(void *arg) {
  double *slept = arg;
  int rc = cio_sleep(10);
  ASSERT_EQ(rc, -ECANCELED);
  cio_scope shield;
  ASSERT_EQ(cio_shield_begin(&shield), 0);
  double t0 = cio_now();
  ASSERT_EQ(cio_sleep(0.05), 0); // cleanup still awaits
  *slept = cio_now() - t0;
  ASSERT_EQ(cio_scope_end(&shield), 0);
  ASSERT_EQ(cio_scope_end(&shield), -EINVAL); // no longer open
  ASSERT_EQ(cio_yield(), -ECANCELED);         // delivered again after the scope
  return rc;
}
static int shield_main(void *arg) {
  (void)arg;
  double slept = 0;
  cio_task *t = cio_spawn(cleanup_task, &slept);
  ASSERT_EQ(cio_sleep(0.01), 0);
  cio_cancel(t);
  ASSERT_EQ(cio_join(t), -ECANCELED);
  ASSERT_BETWEEN(slept, 0.04, 2.0);
  return 0;
}
static void shield_lets_cleanup_await(void) { ASSERT_EQ(cio_run(shield_main, NULL), 0); }

// Cancel while shielded: not interrupted, delivered when the scope ends.
static int shielded_sleep(void *arg) {
  (void)arg;
  cio_scope shield;
  ASSERT_EQ(cio_shield_begin(&shield), 0);
  int rc = cio_sleep(0.05);
  ASSERT_EQ(cio_scope_end(&shield), 0);
  ASSERT_EQ(rc, 0);
  return cio_yield();
}
static int shield2_main(void *arg) {
  (void)arg;
  cio_task *t = cio_spawn(shielded_sleep, NULL);
  ASSERT_EQ(cio_sleep(0.01), 0);
  ASSERT_EQ(cio_cancel(t), 1);
  ASSERT_EQ(cio_join(t), -ECANCELED);
  return 0;
}
static void cancel_inside_shield_is_deferred(void) { ASSERT_EQ(cio_run(shield2_main, NULL), 0); }

// Nested shields (with a timeout scope between them): closing the inner
// shield leaves the task shielded; closing the outer one delivers the
// pending cancellation.
static int nested_shields(void *arg) {
  int *stage = arg;
  cio_scope outer, timeout, inner;
  ASSERT_EQ(cio_shield_begin(&outer), 0);
  ASSERT_EQ(cio_timeout_begin(&timeout, 10), 0);
  ASSERT_EQ(cio_shield_begin(&inner), 0);
  *stage = 1;
  ASSERT_EQ(cio_sleep(0.05), 0); // cancelled meanwhile: shielded
  ASSERT_EQ(cio_scope_end(&inner), 0);
  *stage = 2;
  ASSERT_EQ(cio_sleep(0.02), 0); // the outer shield still holds
  ASSERT_EQ(cio_yield(), 0);
  ASSERT_EQ(cio_scope_end(&timeout), 0);
  ASSERT_EQ(cio_yield(), 0);
  ASSERT_EQ(cio_scope_end(&outer), 0);
  *stage = 3;
  return cio_yield(); // -ECANCELED now
}
static int nested_shields_main(void *arg) {
  (void)arg;
  int stage = 0;
  cio_task *t = cio_spawn(nested_shields, &stage);
  ASSERT_EQ(cio_sleep(0.01), 0);
  ASSERT_EQ(stage, 1);
  ASSERT_EQ(cio_cancel(t), 1);
  ASSERT_EQ(cio_join(t), -ECANCELED);
  ASSERT_EQ(stage, 3);
  return 0;
}
static void nested_shields_hold_until_the_outermost_ends(void) {
  ASSERT_EQ(cio_run(nested_shields_main, NULL), 0);
}

// Waiters of a cancelled task are woken with its outcome; a joiner that is
// cancelled cancels and still reaps what it joins.
static int joiner(void *arg) { return cio_join((cio_task *)arg); }
static int join_cancel_main(void *arg) {
  (void)arg;
  cio_task *inner = cio_spawn_named("inner", sleeper, NULL);
  cio_task *outer = cio_spawn_named("outer", joiner, inner);
  ASSERT_EQ(cio_sleep(0.01), 0);
  double t0 = cio_now();
  cio_cancel(outer);
  ASSERT_EQ(cio_join(outer), -ECANCELED); // inner's outcome, passed through
  ASSERT(cio_now() - t0 < 1.0);
  ASSERT_EQ(cio_all_tasks(NULL, 0), 1); // inner is gone too
  return 0;
}
static void cancelled_joiner_cancels_and_reaps(void) {
  ASSERT_EQ(cio_run(join_cancel_main, NULL), 0);
}

// asyncio.run's epilogue: tasks left when main returns are cancelled and
// awaited; detached ones run their cleanup.
static int cleanup_counter(void *arg) {
  int rc = cio_sleep(100);
  (*(int *)arg)++;
  return rc;
}
static int leftover_main(void *arg) {
  for (int i = 0; i < 5; i++) ASSERT_EQ(cio_detach(cio_spawn(cleanup_counter, arg)), 0);
  ASSERT_EQ(cio_sleep(0.01), 0);
  return 3;
}
static void run_cancels_leftover_tasks(void) {
  int cleaned = 0;
  ASSERT_EQ(cio_run(leftover_main, &cleaned), 3);
  ASSERT_EQ(cleaned, 5);
}

// ---------------------------------------------------------------- stale handles

// A released handle never reaches the task that reuses its record: join,
// cancel, detach and every inspection give -EINVAL (or "not done"), and the
// new task's own handle still works.
static int stale_main(void *arg) {
  (void)arg;
  cio_task *t = cio_spawn(return_arg, (void *)(intptr_t)1);
  ASSERT_EQ(cio_join(t), 1);
  double long_sleep = 10.0;
  cio_task *t2 = cio_spawn(sleeper, &long_sleep); // gets t's record
  ASSERT(t2 != NULL && t2 != t);
  ASSERT_EQ(cio_cancel(t), -EINVAL);
  ASSERT_EQ(cio_detach(t), -EINVAL);
  ASSERT_EQ(cio_task_result(t), -EINVAL);
  ASSERT(!cio_task_done(t));
  ASSERT(!cio_task_cancelled(t));
  ASSERT_EQ(cio_task_id(t), 0);
  ASSERT(strcmp(cio_task_name(t), "(invalid task)") == 0);
  ASSERT_EQ(cio_wait_for(t, 0.01), -EINVAL);
  cio_task *v[2] = {t2, t};
  int out[2];
  ASSERT_EQ(cio_gather(v, 2, out, 0), -EINVAL);
  ASSERT_EQ(cio_wait(v, 2, CIO_FIRST_COMPLETED, 0.01), -EINVAL);
  ASSERT_EQ(cio_join(t), -EINVAL);
  ASSERT(!cio_task_cancelled(t2)); // the stale cancel did not reach it
  ASSERT_EQ(cio_yield(), 0);
  ASSERT_EQ(cio_cancel(t2), 1);
  ASSERT_EQ(cio_join(t2), -ECANCELED); // its owner still joins it
  // The same through a detached task's end and a gather.
  cio_task *d = cio_spawn(return_arg, NULL);
  ASSERT_EQ(cio_detach(d), 0);
  ASSERT_EQ(cio_yield(), 0);
  cio_task *g[2] = {cio_spawn(return_arg, (void *)(intptr_t)2), cio_spawn(return_arg, NULL)};
  ASSERT_EQ(cio_gather(g, 2, out, 0), 0);
  cio_task *n = cio_spawn(return_arg, (void *)(intptr_t)3);
  ASSERT_EQ(cio_join(d), -EINVAL);
  ASSERT_EQ(cio_join(g[0]), -EINVAL);
  ASSERT_EQ(cio_join(g[1]), -EINVAL);
  ASSERT_EQ(cio_join(n), 3);
  return 0;
}
static void stale_handles_never_reach_a_new_task(void) { ASSERT_EQ(cio_run(stale_main, NULL), 0); }

// cio_current() and cio_all_tasks() give the handle cio_spawn() gave.
static int same_handle_body(void *arg) {
  *(cio_task **)arg = cio_current();
  return 0;
}
static int same_handle_main(void *arg) {
  (void)arg;
  cio_task *first = cio_spawn(return_arg, NULL);
  ASSERT_EQ(cio_join(first), 0); // so the next one reuses a record
  cio_task *seen = NULL;
  cio_task *t = cio_spawn(same_handle_body, &seen);
  cio_task *all[4];
  ASSERT_EQ(cio_all_tasks(all, 4), 2);
  ASSERT(all[0] == cio_current() && all[1] == t);
  ASSERT_EQ(cio_join(t), 0);
  ASSERT(seen == t);
  return 0;
}
static void current_and_all_tasks_give_spawned_handles(void) {
  ASSERT_EQ(cio_run(same_handle_main, NULL), 0);
}

// Debug mode names the misuse.
static int stale_debug_main(void *arg) {
  (void)arg;
  cio_task *t = cio_spawn(return_arg, NULL);
  ASSERT_EQ(cio_join(t), 0);
  cio_task *t2 = cio_spawn_named("successor", return_arg, NULL);
  ASSERT_EQ(cio_cancel(t), -EINVAL);
  ASSERT_EQ(cio_join(t2), 0);
  return 0;
}
static void stale_debug_child(void) {
  cio_opts o = {.debug = true};
  exit(cio_run_opts(&o, stale_debug_main, NULL) == 0 ? 0 : 1);
}
static void debug_mode_names_a_stale_handle(void) {
  char out[4096];
  int st = test_run_child(stale_debug_child, out, sizeof out);
  ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  ASSERT_STR_CONTAINS(out, "cio_cancel(): stale task handle");
  ASSERT_STR_CONTAINS(out, "'successor'");
}

// A record whose generations are used up is retired: the next spawn gets
// another record, so even then no handle aliases a later task.
static int retire_main(void *arg) {
  (void)arg;
  cio_task *t = cio_spawn(return_arg, NULL);
  cio__rec(t)->gen = CIO__GEN_RETIRED - 1; // as after 4 million reuses
  cio_task *h = cio__handle(cio__rec(t));
  ASSERT_EQ(cio_join(h), 0);
  cio_task *t2 = cio_spawn(return_arg, NULL);
  ASSERT(cio__rec(t2) != cio__rec(t));
  ASSERT_EQ(cio_join(h), -EINVAL);
  ASSERT_EQ(cio_join(t2), 0);
  return 0;
}
static void record_with_used_up_generations_is_retired(void) {
  ASSERT_EQ(cio_run(retire_main, NULL), 0);
}

// Lock ownership is by task, not by record: a task that ended holding a
// lock does not make the next task in its record the owner.
static int take_lock(void *arg) {
  ASSERT_EQ(cio_lock_acquire(arg), 0);
  return 0; // ends holding it
}
static int try_lock_for(void *arg) { return cio_lock_acquire_for(arg, 0.1); }
static int lock_owner_main(void *arg) {
  (void)arg;
  cio_lock *l = cio_lock_new();
  cio_task *t = cio_spawn(take_lock, l);
  ASSERT_EQ(cio_join(t), 0);
  cio_task *t2 = cio_spawn(try_lock_for, l);
  ASSERT(cio__rec(t2) == cio__rec(t)); // the same record
  ASSERT_EQ(cio_join(t2), -ETIMEDOUT);
  ASSERT(cio_lock_locked(l));
  ASSERT_EQ(cio_lock_release(l), 0);
  ASSERT_EQ(cio_lock_free(l), 0);
  return 0;
}
static void lock_owner_is_a_task_not_a_record(void) {
  ASSERT_EQ(cio_run(lock_owner_main, NULL), 0);
}

// Debug mode reports a task that ends holding a lock (and not one that
// released it, nor one whose lock was released by another task).
static int release_lock(void *arg) {
  ASSERT_EQ(cio_lock_acquire(arg), 0);
  return cio_lock_release(arg);
}
static int lock_debug_main(void *arg) {
  (void)arg;
  cio_lock *l = cio_lock_new(), *l2 = cio_lock_new();
  ASSERT_EQ(cio_join(cio_spawn(release_lock, l)), 0);
  cio_task *t = cio_spawn_named("holder", take_lock, l);
  ASSERT_EQ(cio_join(t), 0);
  ASSERT_EQ(cio_lock_release(l), 0);
  ASSERT_EQ(cio_join(cio_spawn_named("released-by-other", take_lock, l2)), 0);
  ASSERT_EQ(cio_lock_release(l2), 0);
  ASSERT_EQ(cio_lock_free(l), 0);
  ASSERT_EQ(cio_lock_free(l2), 0);
  return 0;
}
static void lock_debug_child(void) {
  cio_opts o = {.debug = true};
  exit(cio_run_opts(&o, lock_debug_main, NULL) == 0 ? 0 : 1);
}
static void debug_mode_reports_a_task_ending_with_a_lock(void) {
  char out[4096];
  int st = test_run_child(lock_debug_child, out, sizeof out);
  ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  ASSERT_STR_CONTAINS(out, "task 'holder'");
  ASSERT_STR_CONTAINS(out, "ended holding 1 lock");
  const char *first = strstr(out, "ended holding");
  ASSERT(strstr(first + 1, "ended holding") != NULL); // released-by-other ended holding it too
  ASSERT(strstr(out, "task 'task-") == NULL);         // not the one that released its own
}

// ---------------------------------------------------------------- cooperative budget

// A task whose awaits all finish at once (here: an uncontended lock) still
// lets others run: every CIO__COOP_BUDGET such awaits it yields, so a
// sleeper's 10 ms timer fires while it loops, and a yielding task runs
// between its batches.
struct hog {
  cio_lock *lock;    // taken and released in a loop
  double seconds;    // how long to loop (wall clock)
  int *others;       // bumped by the other task
  int others_seen;   // others' count when the loop ended
  double sleeper_at; // when the sleeper woke, relative to the start
};
static double wall(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
static int lock_hog(void *arg) {
  struct hog *h = arg;
  double end = wall() + h->seconds;
  while (wall() < end) {
    ASSERT_EQ(cio_lock_acquire(h->lock), 0);
    ASSERT_EQ(cio_lock_release(h->lock), 0);
  }
  h->others_seen = *h->others;
  return 0;
}
static int yielder(void *arg) {
  for (;;) {
    if (cio_yield() < 0) return 0;
    ++*(int *)arg;
  }
}
struct wake {
  double start, at;
};
static int timed_sleeper(void *arg) {
  struct wake *w = arg;
  ASSERT_EQ(cio_sleep(0.01), 0);
  w->at = wall() - w->start;
  return 0;
}
static int coop_main(void *arg) {
  (void)arg;
  int others = 0;
  struct hog h = {.lock = cio_lock_new(), .seconds = 0.5, .others = &others};
  struct wake w = {.start = wall()};
  cio_task *s = cio_spawn(timed_sleeper, &w);
  cio_task *y = cio_spawn(yielder, &others);
  ASSERT_EQ(cio_yield(), 0); // both started
  cio_task *t = cio_spawn(lock_hog, &h);
  ASSERT_EQ(cio_join(t), 0);
  ASSERT_EQ(cio_join(s), 0);
  ASSERT_EQ(cio_cancel(y), 1);
  ASSERT_EQ(cio_join(y), 0);
  ASSERT(w.at < 0.4); // woke while the hog still looped (0.5 s)
  ASSERT(h.others_seen > 10);
  ASSERT_EQ(cio_lock_free(h.lock), 0);
  return 0;
}
static void awaits_that_never_suspend_still_yield(void) { ASSERT_EQ(cio_run(coop_main, NULL), 0); }

// ---------------------------------------------------------------- bad input

static int bad_main(void *arg) {
  (void)arg;
  ASSERT_EQ(cio_join(NULL), -EINVAL);
  ASSERT_EQ(cio_cancel(NULL), -EINVAL);
  ASSERT_EQ(cio_detach(NULL), -EINVAL);
  ASSERT_EQ(cio_task_result(NULL), -EINVAL);
  ASSERT(!cio_task_done(NULL));
  ASSERT_EQ(cio_join(cio_current()), -EDEADLK);
  errno = 0;
  ASSERT(cio_spawn(NULL, NULL) == NULL);
  ASSERT_EQ(errno, EINVAL);
  cio_task *t = cio_spawn(return_arg, NULL);
  ASSERT_EQ(cio_join(t), 0);
  ASSERT_EQ(cio_join(t), -EINVAL); // joined twice: the handle was released
  return 0;
}
static void bad_handles(void) { ASSERT_EQ(cio_run(bad_main, NULL), 0); }

static int nested_run_main(void *arg) {
  (void)arg;
  ASSERT_EQ(cio_run(return_arg, NULL), -EBUSY);
  return 0;
}
static void bad_run_arguments(void) {
  ASSERT_EQ(cio_run(NULL, NULL), -EINVAL);
  cio_opts small = {.stack_size = 4096};
  ASSERT_EQ(cio_run_opts(&small, return_arg, NULL), -EINVAL);
  cio_opts huge = {.stack_size = (size_t)1 << 40};
  ASSERT_EQ(cio_run_opts(&huge, return_arg, NULL), -EINVAL);
  ASSERT_EQ(cio_run(nested_run_main, NULL), 0);
}

static const test_case cases[] = {
    {"join_returns_outcome", join_returns_outcome, 0},
    {"task_hands_back_value_through_arg", task_hands_back_value_through_arg, 0},
    {"names_and_ids", names_and_ids, 0},
    {"all_tasks_and_current", all_tasks_and_current, 0},
    {"all_tasks_in_spawn_order_after_reuse", all_tasks_in_spawn_order_after_reuse, 0},
    {"nested_spawns", nested_spawns, 0},
    {"detached_tasks_run_and_free", detached_tasks_run_and_free, 0},
    {"cancel_while_sleeping", cancel_while_sleeping, 0},
    {"cancel_while_ready", cancel_while_ready, 0},
    {"cancel_before_first_run", cancel_before_first_run, 0},
    {"cancel_after_done", cancel_after_done, 0},
    {"cancellation_is_level_triggered", cancellation_is_level_triggered, 0},
    {"shield_lets_cleanup_await", shield_lets_cleanup_await, 0},
    {"cancel_inside_shield_is_deferred", cancel_inside_shield_is_deferred, 0},
    {"nested_shields_hold_until_the_outermost_ends", nested_shields_hold_until_the_outermost_ends,
     0},
    {"cancelled_joiner_cancels_and_reaps", cancelled_joiner_cancels_and_reaps, 0},
    {"run_cancels_leftover_tasks", run_cancels_leftover_tasks, 0},
    {"bad_handles", bad_handles, 0},
    {"stale_handles_never_reach_a_new_task", stale_handles_never_reach_a_new_task, 0},
    {"current_and_all_tasks_give_spawned_handles", current_and_all_tasks_give_spawned_handles, 0},
    {"debug_mode_names_a_stale_handle", debug_mode_names_a_stale_handle, 0},
    {"record_with_used_up_generations_is_retired", record_with_used_up_generations_is_retired, 0},
    {"bad_run_arguments", bad_run_arguments, 0},
    {"lock_owner_is_a_task_not_a_record", lock_owner_is_a_task_not_a_record, 0},
    {"awaits_that_never_suspend_still_yield", awaits_that_never_suspend_still_yield, 0},
    {"debug_mode_reports_a_task_ending_with_a_lock", debug_mode_reports_a_task_ending_with_a_lock,
     0},
};
TEST_MAIN(cases)
