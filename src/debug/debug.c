// SPDX-License-Identifier: MIT
//
// The deadlock report, the task dump and the lost-task report (warnings
// and misuse lines are src/diag.c's, at the bottom).
#include "debug.h"

#include <errno.h>
#include <execinfo.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../internal.h"
#include "../task/task.h"

static const char *state_name(const cio_task *t) {
  switch (t->state) {
  case CIO__NEW: return "new";
  case CIO__READY: return "ready";
  case CIO__RUNNING: return "running";
  case CIO__PARKED: return "waiting";
  case CIO__DONE: return "done";
  }
  return "?";
}

// The saved frames of a suspended task, symbolized.
static void print_backtrace(FILE *out, const cio__loop *L, const cio_task *t) {
  void *pcs[24];
  int n = 0;
  if (t->state == CIO__RUNNING || t == L->pass_host) // on the CPU now: its saved frames are stale
    n = backtrace(pcs, 24);
  else if (t->stack && (t->state == CIO__PARKED || t->state == CIO__READY))
    n = cio__ctx_backtrace(&t->ctx, pcs, 24, t->stack->lo, t->stack->lo + t->stack->size);
  if (n <= 0) return;
  char **names = backtrace_symbols(pcs, n);
  for (int i = 0; i < n; i++) fprintf(out, "      at %s\n", names ? names[i] : "?");
  free(names);
}

int cio__dump_tasks(cio__loop *L, FILE *out) {
  int64_t now = cio__loop_now(L);
  int n = 0;
  fprintf(out, "cio: %zu task(s) alive:\n", L->nlive);
  size_t count, ntimers;
  cio_task **v = cio__tasks_by_id(L, &count);
  cio__timer_slot *timers = cio__timers_snapshot(&L->timers, &ntimers);
  if (!v && L->nrecords) fprintf(out, "  (out of memory: cannot list them)\n");
  for (size_t i = 0; v && i < count; i++) {
    cio_task *t = v[i];
    if (t->state >= CIO__DONE) continue;
    n++;
    fprintf(out, "  #%llu %s: %s", (unsigned long long)t->id, cio__task_name(t), state_name(t));
    if (t->state == CIO__PARKED) {
      const char *what = t->waiting_on ? t->waiting_on : "?";
      if (strcmp(what, "sleep") == 0 && cio__timer_armed(&t->timer))
        fprintf(out, " (sleep, %.3f s left)",
                (double)(cio__timer_deadline(timers, ntimers, &t->timer) - now) / 1e9);
      else if (strcmp(what, "join") == 0 && t->wait_obj)
        fprintf(out, " on join of '%s'",
                cio__task_name(cio__container_of(t->wait_obj, cio_task, done_waiters)));
      else if (strncmp(what, "socket", 6) == 0)
        fprintf(out, " on %s (fd %d)", what, (int)(intptr_t)t->wait_obj);
      else if (t->wait_obj)
        fprintf(out, " on %s %p", what, t->wait_obj);
      else
        fprintf(out, " on %s", what);
      if (cio__timer_armed(&t->timer) && strcmp(what, "sleep") != 0)
        fprintf(out, " (deadline in %.3f s)",
                (double)(cio__timer_deadline(timers, ntimers, &t->timer) - now) / 1e9);
    }
    if (L->debug && t->state != CIO__RUNNING)
      fprintf(out, " for %.3f s", (double)(now - t->state_since) / 1e9);
    if (t->cancelled) fprintf(out, " [cancelled]");
    fprintf(out, ", spawned at %s:%d\n", t->file ? t->file : "?", t->line);
    print_backtrace(out, L, t);
  }
  free(timers);
  free(v);
  fflush(out);
  return n;
}

int cio_dump_tasks(FILE *out) {
  cio__loop *L = cio__tls_loop;
  if (!L) return -EPERM;
  return cio__dump_tasks(L, out ? out : stderr);
}

int cio_task_counts_get(cio_task_counts *c) {
  cio__loop *L = cio__tls_loop;
  if (!L) return -EPERM;
  cio_task_counts z = {0, 0, 0, 0};
  cio__task_iter it;
  for (cio_task *t = cio__task_iter_first(L, &it); t; t = cio__task_iter_next(L, &it)) {
    switch (t->state) {
    case CIO__RUNNING: z.running++; break;
    case CIO__READY: z.ready++; break;
    case CIO__PARKED: z.waiting++; break;
    case CIO__NEW: z.fresh++; break;
    default: break;
    }
  }
  if (c) *c = z;
  return (int)(z.running + z.ready + z.waiting + z.fresh);
}

void cio__report_lost(cio__loop *L) {
  size_t n;
  cio_task **v = cio__tasks_by_id(L, &n);
  if (!v && L->nrecords)
    fprintf(stderr,
            "cio: %llu task(s) were never joined or detached (out of memory: cannot "
            "name them)\n",
            (unsigned long long)L->nrecords);
  for (size_t i = 0; v && i < n; i++) {
    cio_task *t = v[i];
    if (t == L->main_task || t->detached) continue;
    fprintf(stderr,
            "cio: task '%s' (spawned at %s:%d) was never joined or detached: a lost task "
            "(its outcome was %s). Keep the handle and cio_join() it, or cio_detach() it.\n",
            cio__task_name(t), t->file ? t->file : "?", t->line,
            t->state == CIO__DONE ? cio_strerror(t->result) : "not reached");
  }
  free(v);
}

bool cio__deadlock(cio__loop *L) {
  bool again = L->deadlock_cancelled;
  fprintf(stderr,
          "cio: deadlock: %zu task(s) wait and nothing can wake them (no ready task, timer, "
          "descriptor or other thread)%s\n",
          L->nlive, again ? "; they ignored cancellation, abandoning them" : "; cancelling them");
  cio__dump_tasks(L, stderr);
  if (again) return false;
  L->deadlock_cancelled = true;
  cio__task_iter it;
  for (cio_task *t = cio__task_iter_first(L, &it); t; t = cio__task_iter_next(L, &it))
    if (t->state < CIO__DONE) cio__task_cancel(L, t);
  return true;
}
