// SPDX-License-Identifier: MIT
//
// Timeout and shield scopes.  Each task keeps a stack of open scopes and
// one number, its scope deadline: the earliest deadline of the timeout
// scopes open since the innermost shield.  Every park waits at most until
// then, so deadlines compose without any work at the await sites: an inner
// scope can only make the deadline earlier, and closing it restores the
// enclosing one.
#include <errno.h>
#include <math.h>

#include "../internal.h"
#include "task.h"

enum { KIND_TIMEOUT = 1, KIND_SHIELD = 2 };

static void push(cio_task *t, cio_scope *s, int kind, int64_t deadline) {
  s->kind_ = kind;
  s->fired_ = 0;
  s->task_ = t;
  s->parent_ = t->scope_top;
  s->saved_deadline_ = t->scope_deadline;
  s->deadline_ = deadline;
  t->scope_top = s;
  if (kind == KIND_SHIELD) {
    t->shielded = true;
    t->scope_deadline = CIO__NEVER;
  } else if (deadline < t->scope_deadline) {
    t->scope_deadline = deadline;
  }
}

// Opens a timeout scope in the running task of L.
static int begin_at(cio__loop *L, cio_scope *s, int64_t deadline) {
  if (!s) return -EINVAL;
  push(L->current, s, KIND_TIMEOUT, deadline);
  return 0;
}

int cio__deadline_after(cio__loop *L, double seconds, int64_t *deadline) {
  if (isnan(seconds)) return -EINVAL;
  if (seconds <= 0) {
    *deadline = cio__loop_now(L); // expires at the next await, as asyncio.timeout(0)
    return 0;
  }
  int64_t ns;
  cio__seconds_to_ns(seconds, &ns);
  if (ns == INT64_MAX) { // CIO_FOREVER: no clock needed
    *deadline = CIO__NEVER;
    return 0;
  }
  int64_t now = cio__loop_now_fresh(L);
  *deadline = ns >= CIO__NEVER - now ? CIO__NEVER : now + ns;
  return 0;
}

int cio_timeout_begin(cio_scope *s, double seconds) {
  cio__loop *L;
  int64_t deadline = cio__await_deadline("cio_timeout_begin", seconds, &L);
  return deadline < 0 ? (int)deadline : begin_at(L, s, deadline);
}

int cio_timeout_at_begin(cio_scope *s, double when) {
  if (isnan(when)) return -EINVAL;
  int64_t deadline;
  if (when <= 0)
    deadline = 0;
  else if (when >= 9.2e9)
    deadline = CIO__NEVER;
  else
    deadline = (int64_t)(when * 1e9);
  cio__loop *L = cio__await_loop("cio_timeout_at_begin");
  if (!L) return -EPERM;
  return begin_at(L, s, deadline);
}

int cio_shield_begin(cio_scope *s) {
  cio__loop *L = cio__await_loop("cio_shield_begin");
  if (!L) return -EPERM;
  if (!s) return -EINVAL;
  push(L->current, s, KIND_SHIELD, CIO__NEVER);
  return 0;
}

// True if a shield is open in the chain from `s` outwards.
static bool shield_open(const cio_scope *s) {
  for (; s; s = s->parent_)
    if (s->kind_ == KIND_SHIELD) return true;
  return false;
}

static void pop(cio_task *t, cio_scope *s) {
  t->scope_top = s->parent_;
  t->scope_deadline = s->saved_deadline_;
  if (s->kind_ == KIND_SHIELD) t->shielded = shield_open(s->parent_);
}

int cio_scope_end(cio_scope *s) {
  cio__loop *L = cio__await_loop("cio_scope_end");
  if (!L) return -EPERM;
  cio_task *t = L->current;
  if (!s || s != t->scope_top) return -EINVAL;
  pop(t, s);
  return s->fired_ ? -ETIMEDOUT : 0;
}

void cio__scope_fire(cio_task *t, int64_t now) {
  cio_scope *owner = NULL;
  for (cio_scope *s = t->scope_top; s && s->kind_ != KIND_SHIELD; s = s->parent_)
    if (s->deadline_ <= now) owner = s;
  if (owner) owner->fired_ = 1;
}

void cio__shield_enter(cio_task *t, cio_scope *s) { push(t, s, KIND_SHIELD, CIO__NEVER); }

void cio__shield_leave(cio_task *t, cio_scope *s) { pop(t, s); }
