// SPDX-License-Identifier: MIT
//
// Task lifecycle and the public task API: spawn, join, detach, cancel,
// inspection, sleep and yield.
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../internal.h"
#include "../tune.h"
#include "task.h"

// Task ids are unique across threads: each thread takes them in blocks, so
// a spawn does not pay for a locked increment of a shared counter.
#define ID_BLOCK CIO__TUNED(1024, 2)
static atomic_uint_fast64_t next_id_block = 1;
static _Thread_local uint64_t next_id CIO__TLS_FAST, end_id CIO__TLS_FAST;

static uint64_t new_id(void) {
  if (cio__unlikely(next_id == end_id)) {
    next_id = atomic_fetch_add_explicit(&next_id_block, ID_BLOCK, memory_order_relaxed);
    end_id = next_id + ID_BLOCK;
  }
  return next_id++;
}

#ifndef CIO_CONTEXT_UCONTEXT                 // there the context is a whole ucontext_t
#if !defined(CIO_ASAN) && !defined(CIO_TSAN) // which add a handle
_Static_assert(offsetof(struct cio_task, id) == 64, "scheduling fields fill the first line");
_Static_assert(sizeof(struct cio_task) == 128, "a record is two cache lines");
#endif
#endif

// ---------------------------------------------------------------- records

// Task records are bump-allocated from arenas and recycled through a free
// list; arenas are unmapped with the loop.  The first arena is small (a
// program with a few tasks pays 64 KiB); once a program runs thousands of
// tasks, arenas are 8 MiB and ask for transparent huge pages, because a
// million records touched one 4 KiB page at a time cost a page fault every
// 16 records (measured here: 75-80 ns per record, against 10 ns with huge
// pages).  (A helper thread populating the next arena ahead of need was
// tried: the spawn loop outruns it, and no gain could be measured.)
#define SMALL_ARENA (64 * 1024)
#define BIG_ARENA (8 * 1024 * 1024)
#define HUGE_PAGE (2 * 1024 * 1024)

struct cio__record_chunk {
  struct cio__record_chunk *next; // every arena of the loop
  size_t len;                     // bytes mapped
};

static int add_arena(cio__loop *L) {
  size_t len = L->record_chunks ? BIG_ARENA : SMALL_ARENA;
  // Over-map so the arena can start on a huge-page boundary.
  size_t map_len = len == BIG_ARENA ? len + HUGE_PAGE : len;
  char *base = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) return -ENOMEM;
#if UINTPTR_MAX > 0xffffffffu
  if ((uintptr_t)(base + map_len) >> CIO__GEN_HIGH_SHIFT) { // handles need those bits
    munmap(base, map_len);
    return -ENOMEM;
  }
#endif
  if (len == BIG_ARENA) {
    char *aligned = (char *)(((uintptr_t)base + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
    if (aligned > base) munmap(base, (size_t)(aligned - base));
    size_t tail = (size_t)(base + map_len - (aligned + len));
    if (tail) munmap(aligned + len, tail);
    base = aligned;
    madvise(base, len, MADV_HUGEPAGE);
  }
  struct cio__record_chunk *c = (struct cio__record_chunk *)(void *)base;
  c->next = L->record_chunks;
  c->len = len;
  L->record_chunks = c;
  uintptr_t first =
      ((uintptr_t)(c + 1) + _Alignof(cio_task) - 1) & ~(uintptr_t)(_Alignof(cio_task) - 1);
  L->record_next = (char *)first;
  L->record_end = base + len;
  return 0;
}

static cio_task *alloc_record(cio__loop *L) {
  cio_task *t = L->free_tasks;
  if (t) {
    L->free_tasks = t->next_ready;
    return t;
  }
  if ((size_t)(L->record_end - L->record_next) < sizeof *t && add_arena(L) < 0) return NULL;
  t = (cio_task *)(void *)L->record_next;
  L->record_next += sizeof *t;
  return t;
}

// The records of arena `c` (the newest ends at the bump pointer).
static void arena_span(cio__loop *L, struct cio__record_chunk *c, cio__task_iter *it) {
  it->chunk = c;
  if (!c) {
    it->at = it->end = NULL;
    return;
  }
  uintptr_t first =
      ((uintptr_t)(c + 1) + _Alignof(cio_task) - 1) & ~(uintptr_t)(_Alignof(cio_task) - 1);
  it->at = (char *)first;
  if (c == L->record_chunks) {
    it->end = L->record_next;
  } else {
    size_t n = ((uintptr_t)c + c->len - first) / sizeof(cio_task);
    it->end = it->at + n * sizeof(cio_task);
  }
}

cio_task *cio__task_iter_next(cio__loop *L, cio__task_iter *it) {
  while (it->chunk) {
    while (it->at < it->end) {
      cio_task *t = (cio_task *)(void *)it->at;
      it->at += sizeof *t;
      if (t->state != CIO__FREE) return t;
    }
    arena_span(L, it->chunk->next, it);
  }
  return NULL;
}

cio_task *cio__task_iter_first(cio__loop *L, cio__task_iter *it) {
  arena_span(L, L->record_chunks, it);
  return cio__task_iter_next(L, it);
}

static int by_id(const void *a, const void *b) {
  uint64_t x = (*(cio_task *const *)a)->id, y = (*(cio_task *const *)b)->id;
  return (x > y) - (x < y);
}

cio_task **cio__tasks_by_id(cio__loop *L, size_t *n) {
  cio__task_iter it;
  *n = 0;
  cio_task **v = cio__malloc(L->nrecords * sizeof *v + 1);
  if (!v) return NULL;
  for (cio_task *t = cio__task_iter_first(L, &it); t && *n < L->nrecords;
       t = cio__task_iter_next(L, &it))
    v[(*n)++] = t;
  qsort(v, *n, sizeof *v, by_id);
  return v;
}

void cio__task_records_free(cio__loop *L) {
  cio__task_iter it; // handles nobody released keep their names
  for (cio_task *t = cio__task_iter_first(L, &it); t; t = cio__task_iter_next(L, &it))
    free(t->name);
  struct cio__record_chunk *c = L->record_chunks;
  while (c) {
    struct cio__record_chunk *next = c->next;
    munmap(c, c->len);
    c = next;
  }
  L->record_chunks = NULL;
  L->free_tasks = NULL;
  L->record_next = L->record_end = NULL;
}

cio_task *cio__task_new(cio__loop *L, const char *name, cio_fn fn, void *arg, const char *file,
                        int line) {
  // Each task may wait with a deadline: its timer slot is reserved now, so
  // that an await never fails for lack of memory.
  if (cio__timers_reserve(&L->timers, L->nrecords + 1) < 0) return NULL;
  cio_task *t = alloc_record(L);
  if (!t) return NULL;
  // Field by field (a compound literal's zeroing of the whole record cost
  // spawn 4 ns); the generation (handles) and the timer's generation
  // survive a reuse: the timer heap may still hold a stale slot pointing
  // here (timer.h).
  t->stack = NULL;
  t->fn = fn;
  t->arg = arg;
  t->scope_deadline = CIO__NEVER;
  cio__waitq_init(&t->done_waiters);
  t->id = new_id();
  t->scope_top = NULL;
  t->file = file;
  t->state_since = 0;
  t->result = t->wake_code = 0;
  t->line = line;
  t->state = CIO__NEW;
  t->cancelled = t->shielded = t->detached = t->outcome_read = false;
  t->joining = t->canary = t->marked = false;
  t->locks_held = t->group_cancels = 0;
#ifdef CIO_ASAN
  t->asan_fake_stack = NULL;
#endif
  t->name = name ? cio__strndup(name, CIO__NAME_MAX - 1) : NULL; // out of memory: unnamed
  L->nrecords++;
  L->nlive++;
  cio__ready(L, t);
  t->state = CIO__NEW;
  return t;
}

void cio__task_free(cio__loop *L, cio_task *t) {
  L->nrecords--;
  free(t->name);
  t->name = NULL;
  t->state = CIO__FREE;
  // Every handle to it is stale from now on.  A record whose generations
  // are used up is never reused (128 bytes per 4 million reuses).
  if (++t->gen == CIO__GEN_RETIRED) return;
  t->next_ready = L->free_tasks;
  L->free_tasks = t;
}

// asyncio.run's epilogue: once main has returned, every task still alive is
// cancelled, and the loop runs until they have finished.
static void cancel_all(cio__loop *L) {
  if (L->nlive == 0) return; // (main has finished)
  size_t n;
  cio_task **v = cio__tasks_by_id(L, &n); // in spawn order, as they were started
  if (v) {
    for (size_t i = 0; i < n; i++)
      if (v[i]->state < CIO__DONE) cio__task_cancel(L, v[i]);
    free(v);
    return;
  }
  cio__task_iter it; // out of memory: in arena order
  for (cio_task *t = cio__task_iter_first(L, &it); t; t = cio__task_iter_next(L, &it))
    if (t->state < CIO__DONE) cio__task_cancel(L, t);
}

void cio__task_finish(cio__loop *L, cio_task *t, int result) {
  t->result = result;
  t->state = CIO__DONE;
  L->nlive--;
  if (L->debug) t->state_since = cio__loop_now(L);
  if (t->done_waiters.head) cio__waitq_wake_all(L, &t->done_waiters, 0, t);
  if (cio__unlikely(L->debug) && t->detached && result < 0 && result != -ECANCELED &&
      !t->outcome_read)
    cio__warn("detached task '%s' (spawned at %s:%d) failed with %s, and nobody will read it "
              "(asyncio: 'Task exception was never retrieved')",
              cio__task_name(t), t->file ? t->file : "?", t->line, cio_strerror(result));
  if (cio__unlikely(L->debug) && t->locks_held)
    cio__warn("task '%s' (spawned at %s:%d) ended holding %u lock%s: it stays locked, and every "
              "task that waits for it waits forever (release it on every path out of the task)",
              cio__task_name(t), t->file ? t->file : "?", t->line, (unsigned)t->locks_held,
              t->locks_held == 1 ? "" : "s");
  if (t == L->main_task) {
    L->closing = true;
    cancel_all(L);
  }
  if (t->detached) cio__task_free(L, t);
}

// ---------------------------------------------------------------- handles

// True if `h` points into one of the loop's record arenas (debug mode only:
// it walks the arenas).
static bool in_arena(cio__loop *L, const cio_task *h) {
  uintptr_t p = (uintptr_t)cio__rec(h);
  for (struct cio__record_chunk *c = L->record_chunks; c; c = c->next)
    if (p > (uintptr_t)c && p < (uintptr_t)c + c->len) return true;
  return false;
}

cio_task *cio__task_of_checked(cio__loop *L, const cio_task *h, const char *fn) {
  cio_task *t = cio__task_of(h);
  if (t || !h || !L || !L->debug) return t;
  // A release build reads the record's generation; debug mode first makes
  // sure there is a record there to read.
  if (!in_arena(L, h)) {
    cio__warn("%s(): %p is not a task handle of this loop", fn, (const void *)h);
    return NULL;
  }
  const cio_task *r = cio__rec(h);
  if (r->state == CIO__FREE)
    cio__warn("%s(): stale task handle: its task was already joined, gathered, or detached and "
              "finished (a released handle stays invalid)",
              fn);
  else
    cio__warn("%s(): stale task handle: its task was already joined, gathered, or detached and "
              "finished; the record now holds task #%llu '%s', which this call does not touch",
              fn, (unsigned long long)r->id, r->name ? r->name : "(unnamed)");
  return NULL;
}

// The record of a handle passed to public entry point `fn`, or NULL (with
// debug mode's report) when it is not valid.
static cio_task *record_of(const cio_task *h, const char *fn) {
  return cio__task_of_checked(cio__tls_loop, h, fn);
}

// ---------------------------------------------------------------- public API

cio_task *cio_spawn_at(const char *name, cio_fn fn, void *arg, const char *file, int line) {
  cio__loop *L = cio__thread_loop("cio_spawn");
  if (!L) return cio__null_errno(EPERM);
  if (!fn) return cio__null_errno(EINVAL);
  cio_task *t = cio__task_new(L, name, fn, arg, file, line);
  if (!t) errno = ENOMEM;
  return cio__handle(t);
}

// Waits until `t` is done; -ECANCELED if the caller was cancelled first.
static int wait_done(cio__loop *L, cio_task *t) {
  while (t->state < CIO__DONE) {
    int rc = cio__waitq_wait(L, &t->done_waiters, CIO__NEVER, "join");
    if (rc < 0) return rc;
  }
  return 0;
}

int cio_join(cio_task *h) {
  cio__loop *L = cio__await_loop("cio_join");
  if (!L) return -EPERM;
  cio_task *t = record_of(h, "cio_join");
  if (!t || t->detached || t->joining) return -EINVAL;
  if (t == L->current) return -EDEADLK;
  t->joining = true;
  if (wait_done(L, t) < 0) {
    // Cancelled or timed out while joining: cancel the child too and still
    // reap it, so the handle never leaks.  Our own cancellation or expired
    // scope stays in force for the next await.
    cio__task_cancel(L, t);
    cio_task *cur = L->current;
    cio_scope shield;
    cio__shield_enter(cur, &shield);
    int rc = wait_done(L, t);
    cio__shield_leave(cur, &shield);
    if (rc < 0) { // only -ENOMEM can get here
      t->joining = false;
      return rc;
    }
  }
  int result = t->result;
  t->outcome_read = true;
  cio__task_free(L, t);
  return result;
}

int cio_detach(cio_task *h) {
  cio__loop *L = cio__thread_loop("cio_detach");
  if (!L) return -EPERM;
  cio_task *t = record_of(h, "cio_detach");
  if (!t || t->detached || t->joining) return -EINVAL;
  t->detached = true;
  if (t->state == CIO__DONE) cio__task_free(L, t);
  return 0;
}

int cio__task_cancel(cio__loop *L, cio_task *t) {
  if (t->state >= CIO__DONE) return 0;
  t->cancelled = true;
  if (t->state == CIO__PARKED && !t->shielded) cio__wake(L, t, -ECANCELED);
  return 1;
}

int cio_cancel(cio_task *h) {
  cio__loop *L = cio__thread_loop("cio_cancel");
  if (!L) return -EPERM;
  cio_task *t = record_of(h, "cio_cancel");
  if (!t) return -EINVAL;
  return cio__task_cancel(L, t);
}

bool cio_task_done(const cio_task *h) {
  const cio_task *t = record_of(h, "cio_task_done");
  return t && t->state == CIO__DONE;
}

int cio_task_result(const cio_task *h) {
  cio_task *t = record_of(h, "cio_task_result");
  if (!t) return -EINVAL;
  if (t->state != CIO__DONE) return -EBUSY;
  t->outcome_read = true;
  return t->result;
}

bool cio_task_cancelled(const cio_task *h) {
  const cio_task *t = record_of(h, "cio_task_cancelled");
  return t && t->cancelled;
}

const char *cio__task_name(cio_task *t) {
  if (!t->name) {
    char buf[32];
    snprintf(buf, sizeof buf, "task-%llu", (unsigned long long)t->id);
    t->name = cio__strdup(buf);
    if (!t->name) return "(unnamed task)"; // out of memory
  }
  return t->name;
}

const char *cio_task_name(const cio_task *h) {
  cio_task *t = record_of(h, "cio_task_name");
  return t ? cio__task_name(t) : "(invalid task)";
}

uint64_t cio_task_id(const cio_task *h) {
  const cio_task *t = record_of(h, "cio_task_id");
  return t ? t->id : 0;
}

cio_task *cio_current(void) {
  cio__loop *L = cio__tls_loop;
  return L ? cio__handle(L->current) : NULL;
}

size_t cio_all_tasks(cio_task **out, size_t cap) {
  cio__loop *L = cio__tls_loop;
  if (!L) return 0;
  size_t n = 0;
  cio__task_iter it;
  for (cio_task *t = cio__task_iter_first(L, &it); t; t = cio__task_iter_next(L, &it)) {
    if (t->state >= CIO__DONE) continue;
    if (n < cap && out) out[n] = t;
    n++;
  }
  if (out) {
    size_t m = n < cap ? n : cap;
    qsort(out, m, sizeof *out, by_id);
    for (size_t i = 0; i < m; i++) out[i] = cio__handle(out[i]);
  }
  return n;
}

// ---------------------------------------------------------------- time

double cio_now(void) {
  cio__loop *L = cio__tls_loop;
  return L ? (double)cio__loop_now(L) / 1e9 : 0.0;
}

int64_t cio_now_ns(void) {
  cio__loop *L = cio__tls_loop;
  return L ? cio__loop_now(L) : 0;
}

int cio_yield(void) {
  cio__loop *L = cio__await_loop("cio_yield");
  if (!L) return -EPERM;
  int rc = cio__checkpoint(L);
  if (rc < 0) return rc;
  cio__yield(L);
  return cio__checkpoint(L);
}

int cio_sleep(double seconds) {
  cio__loop *L = cio__await_loop("cio_sleep");
  if (!L) return -EPERM;
  int64_t ns;
  if (cio__seconds_to_ns(seconds, &ns) < 0) return -EINVAL;
  if (ns == 0) return cio_yield();
  int64_t deadline;
  cio__deadline_after(L, seconds, &deadline);
  // An endless sleep still has a timer, as asyncio.sleep(inf) has: the loop
  // waits for it rather than reporting a deadlock.
  if (deadline == CIO__NEVER) deadline = CIO__NEVER - 1;
  int rc = cio__park(L, deadline, "sleep");
  return rc == CIO__PARK_DEADLINE ? 0 : rc;
}
