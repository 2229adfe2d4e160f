// SPDX-License-Identifier: MIT
//
// The scheduler: the ready queue, parking and waking, and the switches
// between tasks.
//
// Tasks switch directly to the next ready task, finishing tasks included;
// the loop's own stack (the thread's) is entered only when nothing is ready,
// to block in the poller.  A finished task's stack is recycled by whichever
// context runs next, since it cannot be recycled while in use.
//
// Work is done in rounds: a round runs the tasks that were ready when it
// began, then the loop takes one non-blocking pass over timers, descriptors
// and posted callbacks, so a task that yields in a loop cannot starve
// timers or I/O.  When there are no timers, descriptors or posts the pass
// is skipped, and so is reading the clock.
#include <errno.h>
#include <fenv.h>
#include <stdio.h>

#include "../internal.h"
#include "../tune.h"
#include "task.h"

void cio__ready(cio__loop *L, cio_task *t) {
  t->state = CIO__READY;
  if (cio__unlikely(L->debug)) t->state_since = cio__loop_now(L);
  t->next_ready = NULL;
  if (L->ready_tail)
    L->ready_tail->next_ready = t;
  else
    L->ready_head = t;
  L->ready_tail = t;
  if (++L->ready_len > L->max_ready) L->max_ready = L->ready_len;
}

// Prefetching.  With thousands of ready tasks their records and stack tops
// are out of the cache, and a task resumed cold stalls for most of its time
// slice on the handful of frames it returns through.  Two cursors run ahead
// of the queue's head.  The far one, PF_RECORD places ahead, starts loading
// the record of the task it reaches (tasks woken by timers or I/O come in
// no particular order, so the hardware prefetcher cannot guess them); the
// near one, PF_STACK places ahead, finds that record in the cache and starts
// loading the top of the task's saved stack; a new task there takes its
// stack from the pool early, so its first frames can be loaded too.  Tasks
// leave the queue only at the head, so a cursor stays valid while it is
// ahead of the head.  They run only while many tasks are suspended: when few
// are, their stacks stay in the cache and the cursors would be pure cost.
#define PF_STACK CIO__TUNED(6, 2)
#define PF_RECORD CIO__TUNED(12, 3)
#define PF_MIN_STACKS CIO__TUNED(1024, 2) // fewer suspended stacks than this stay in the cache

// Moves a cursor one place on after a pop, keeping it `distance` places
// ahead of the head; returns the task it newly reached, or NULL.
static inline cio_task *cursor_step(cio__loop *L, cio__cursor *c, size_t distance) {
  if (c->at && c->pos-- == 0) c->at = NULL; // the head overtook it
  if (!c->at) {
    if (!L->ready_head) return NULL;
    c->at = L->ready_head;
    c->pos = 0;
  }
  cio_task *reached = NULL;
  while (c->pos < distance && c->at->next_ready) {
    c->at = c->at->next_ready;
    c->pos++;
    reached = c->at;
  }
  return reached;
}

static cio_task *ready_pop(cio__loop *L) {
  cio_task *t = L->ready_head;
  L->ready_head = t->next_ready;
  if (!L->ready_head) L->ready_tail = NULL;
  L->ready_len--;
  if (L->ready_len >= PF_STACK && L->stacks.live >= PF_MIN_STACKS) {
    cio_task *r = cursor_step(L, &L->pf_record, PF_RECORD);
    if (r) {
      __builtin_prefetch(r, 1);
      __builtin_prefetch((char *)r + 64, 1);
    }
    cio_task *s = cursor_step(L, &L->pf_stack, PF_STACK);
    if (s) {
      if (s->state != CIO__NEW)
        cio__ctx_prefetch(&s->ctx);
      else if (!s->stack && !s->cancelled && (s->stack = cio__stack_get(&L->stacks)))
        cio__stack_prefetch_top(s->stack); // a new task takes its stack early
    }
  } else {
    L->pf_stack.at = L->pf_record.at = NULL;
  }
  return t;
}

// The next task of this round, starting a new round (with a loop pass) when
// the current one is used up.  NULL if nothing is ready.
static cio_task *next_ready(cio__loop *L) {
  if (L->round_left == 0) {
    if (cio__loop_has_events(L)) {
      // Callbacks posted from other threads run here, outside any task
      // (even though this may be a parked task's stack).
      cio_task *cur = L->current;
      L->current = NULL;
      L->pass_host = cur; // its saved context is stale while we run on its stack
      cio__loop_pass(L, 0);
      L->pass_host = NULL;
      L->current = cur;
    }
    L->now_valid = false;
    L->round_left = L->ready_len;
  }
  if (!L->ready_head) return NULL;
  if (L->round_left) L->round_left--;
  return ready_pop(L);
}

static void task_entry(void);
static void reap(cio__loop *L);

// A task that cannot get a stack (out of memory) fails with -ENOMEM.  The
// first is named; after that every doubling of the count is reported, so a
// burst of a million such tasks prints twenty lines, not a million.
static void no_stack(cio__loop *L, cio_task *t) {
  uint64_t n = ++L->stackless;
  if (n == 1)
    cio__warn("task '%s' could not get a stack (out of memory); it fails with -ENOMEM",
              cio__task_name(t));
  else if ((n & (n - 1)) == 0)
    cio__warn("%llu tasks so far could not get a stack (out of memory) and failed with -ENOMEM",
              (unsigned long long)n);
  cio__task_finish(L, t, -ENOMEM);
}

// The next task that can actually run: tasks cancelled before they started
// finish here without running, and a task gets its stack on its first run.
static cio_task *next_runnable(cio__loop *L) {
  cio_task *t;
  while ((t = next_ready(L))) {
    if (cio__likely(t->state != CIO__NEW)) return t;
    if (t->cancelled) {
      if (t->stack) cio__stack_put(&L->stacks, t->stack);
      t->stack = NULL;
      cio__task_finish(L, t, -ECANCELED);
      continue;
    }
    if (!t->stack) t->stack = cio__stack_get(&L->stacks);
    if (!t->stack) {
      no_stack(L, t);
      continue;
    }
    t->canary = t->stack->guard == CIO__GUARD_CANARY;
    cio__ctx_make(&t->ctx, t->stack->lo, t->stack->size, task_entry);
#ifdef CIO_TSAN
    t->tsan_fiber = cio__tsan_create();
#endif
    return t;
  }
  return NULL;
}

int cio__task_take_stack(cio__loop *L, cio_task *t) {
  if (!t->stack && t->state == CIO__NEW) t->stack = cio__stack_get(&L->stacks);
  return t->stack ? 0 : -ENOMEM;
}

// A finished task switches straight to the next one; whoever runs next
// (another task, or the loop) gives its stack back to the pool, since a
// stack cannot be recycled while it is in use.
static void reap(cio__loop *L) {
  cio__stack_put(&L->stacks, L->dead_stack);
  L->dead_stack = NULL;
  if (L->dead_fiber) {
    cio__tsan_destroy(L->dead_fiber);
    L->dead_fiber = NULL;
  }
}

// Leaves the context `from` for task `to`, or for the loop's own stack if
// `to` is NULL.  `fake` keeps ASan's handle for `from`; NULL means `from`
// is never resumed.  Returns when `from` is resumed.
static inline void switch_away(cio__loop *L, cio__ctx *from, void **fake, cio_task *to) {
  L->current = to;
  L->switches++;
  L->coop_left = CIO__COOP_BUDGET;
  if (to) {
    to->state = CIO__RUNNING;
    cio__tsan_switch(cio__task_fiber(to));
    cio__san_start_switch(fake, to->stack->lo, to->stack->size);
    cio__ctx_switch(from, &to->ctx);
  } else {
    cio__tsan_switch(L->tsan_fiber);
    cio__san_start_switch(fake, L->main_stack_lo, L->main_stack_size);
    cio__ctx_switch(from, &L->ctx);
  }
  cio__san_finish_switch(fake ? *fake : NULL);
  if (cio__unlikely(L->dead_stack != NULL)) reap(L);
}

// A canary-guarded stack overflowed: the report (debug/overflow.c, which
// cio_run attaches) names the task; without it, a plain fatal line.
static void smashed(cio__loop *L, cio_task *t) {
  if (L->smashed_stack) L->smashed_stack(t);
  cio__fatal("task '%s': its stack overflowed (its canary was overwritten)", cio__task_name(t));
}

// Suspends the running task `cur` (already queued or parked) and runs
// others; returns when `cur` is resumed.
static void schedule(cio__loop *L, cio_task *cur) {
  if (cio__unlikely(cur->canary) && !cio__stack_intact(cur->stack)) smashed(L, cur);
  if (cio__unlikely(L->debug)) // one writer: a plain store, no locked add
    atomic_store_explicit(&L->beat, atomic_load_explicit(&L->beat, memory_order_relaxed) + 1,
                          memory_order_relaxed);
  cio_task *next = next_runnable(L);
  if (next == cur)
    cur->state = CIO__RUNNING;
  else
    switch_away(L, &cur->ctx, cio__task_fake_stack(cur), next);
}

static void task_timer_fired(cio__timer *tm) {
  cio_task *t = cio__container_of(tm, cio_task, timer);
  cio__wake(cio__tls_loop, t, CIO__WOKE_TIMER);
}

// A park's deadline or the task's scope deadline has passed at `now`: the
// scope takes precedence, since its expiry must reach the code inside it.
static int expired(cio_task *cur, int64_t now) {
  if (cur->scope_deadline <= now) {
    cio__scope_fire(cur, now);
    return -ETIMEDOUT;
  }
  return CIO__PARK_DEADLINE;
}

int cio__park(cio__loop *L, int64_t deadline, const char *what) {
  cio_task *cur = L->current;
  if (cio__cancel_due(cur)) return -ECANCELED;
  int64_t when = deadline < cur->scope_deadline ? deadline : cur->scope_deadline;
  if (when != CIO__NEVER) {
    int64_t now = cio__loop_now(L);
    if (when <= now) return expired(cur, now);
    if (cio__timer_arm(&L->timers, &cur->timer, when) < 0) return -ENOMEM;
  }
  cur->state = CIO__PARKED;
  cur->waiting_on = what;
  if (cio__unlikely(L->debug)) cur->state_since = cio__loop_now(L);
  schedule(L, cur);
  cur->waiting_on = NULL;
  cur->wait_obj = NULL;
  int rc = cur->wake_code;
  return rc == CIO__WOKE_TIMER ? expired(cur, cio__loop_now(L)) : rc;
}

void cio__wake(cio__loop *L, cio_task *t, int code) {
  if (t->state != CIO__PARKED) return;
  if (cio__timer_armed(&t->timer)) cio__timer_disarm(&L->timers, &t->timer);
  t->wake_code = code;
  cio__ready(L, t);
}

int cio__coop_yield(cio__loop *L) {
  L->coop_left = CIO__COOP_BUDGET;
  int rc = cio__checkpoint(L);
  if (rc < 0) return rc;
  cio__yield(L);
  return cio__checkpoint(L);
}

int cio__checkpoint_slow(cio__loop *L) {
  cio_task *cur = L->current;
  if (cio__cancel_due(cur)) return -ECANCELED;
  if (cur->scope_deadline != CIO__NEVER) {
    int64_t now = cio__loop_now(L);
    if (cur->scope_deadline <= now) return expired(cur, now);
  }
  return 0;
}

void cio__yield(cio__loop *L) {
  cio_task *cur = L->current;
  cio__ready(L, cur);
  schedule(L, cur);
}

// The first code that runs on a task's stack.
static void task_entry(void) {
  cio__san_finish_switch(NULL);
  cio__loop *L = cio__tls_loop;
  if (L->dead_stack) reap(L);
#ifdef CIO_CONTEXT_UCONTEXT
  // makecontext copies the creator's FP environment; a task starts with the
  // default one, as with the assembly switch.
  fesetenv(FE_DFL_ENV);
#endif
  cio_task *t = L->current;
  cio_fn fn = t->fn;
  void *arg = t->arg;
  t->waiting_on = NULL; // the same storage from now on
  t->wait_obj = NULL;
  t->result = fn(arg);
  if (cio__unlikely(t->canary) && !cio__stack_intact(t->stack)) smashed(L, t);
  // Record the outcome now (waking joiners; the record may be freed), then
  // leave this stack for good (a NULL fake-stack handle tells ASan so).
  L->dead_stack = t->stack;
#ifdef CIO_TSAN
  L->dead_fiber = t->tsan_fiber;
#endif
  t->stack = NULL;
  cio__task_finish(L, t, t->result);
  switch_away(L, &L->dead_ctx, NULL, next_runnable(L));
  cio__fatal("a finished task was resumed");
}

// Nothing is ready, tasks remain, and no timer, descriptor, post or hold can
// ever wake them.
static bool deadlocked(cio__loop *L) {
  return !cio__loop_has_events(L) && atomic_load(&L->holds) <= 0 && L->refs == 0;
}

int cio__sched_run(cio__loop *L) {
  int rc = 0;
  void *fake = NULL;
  L->timer_fired = task_timer_fired;
  // Thread-pool jobs must report back before the loop may be freed, even
  // when the tasks that started them are gone.
  while (L->nlive > 0 || L->refs > 0) {
    if (cio__unlikely(L->debug)) // one writer: a plain store, no locked add
      atomic_store_explicit(&L->beat, atomic_load_explicit(&L->beat, memory_order_relaxed) + 1,
                            memory_order_relaxed);
    cio_task *t = next_runnable(L);
    if (t) {
      switch_away(L, &L->ctx, &fake, t);
      continue;
    }
    if (L->nlive == 0 && L->refs == 0) break;
    if (deadlocked(L)) {
      rc = -EDEADLK;
      if (!L->deadlock_report || !L->deadlock_report(L)) break; // gave up: tasks are abandoned
      continue;
    }
    cio__loop_pass(L, -1);
    L->round_left = L->ready_len;
  }
  return rc;
}
