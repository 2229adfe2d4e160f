// SPDX-License-Identifier: MIT
//
// The watchdog (debug mode): a thread that notices when the loop has not
// come back to the scheduler for longer than the threshold — the guide's
// "time.sleep() in async code" — and reports it while it happens.
//
// The loop bumps a heartbeat at every await and marks when it sleeps in the
// poller.  The watchdog samples both every few milliseconds.  When the
// heartbeat has been still for the threshold while the loop is not
// sleeping, it sends SIGURG to the loop's thread; the handler, running on
// that thread in the middle of the blocking code, prints the running task's
// name and its backtrace.  When the heartbeat moves again, the watchdog
// prints how long the block lasted.
#include <errno.h>
#include <execinfo.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../internal.h"
#include "../task/task.h"
#include "debug.h"

#define SAMPLE_NS 5000000 // 5 ms between samples

struct cio__watchdog {
  cio__loop *L;                     // the loop watched
  pthread_t thread;                 // the watchdog
  pthread_t loop_thread;            // the loop's thread (signalled)
  int64_t threshold;                // ns without an await that counts as blocking
  atomic_bool stop;                 // tear down
  atomic_bool reported;             // a block is being reported
  char blocked_name[CIO__NAME_MAX]; // the task that blocked (written by the handler)
  atomic_bool named;                // blocked_name is written (release/acquire)
  atomic_long longest_ms;           // longest block seen
  struct sigaction before;          // SIGURG's handler before ours, put back at the end
};

// Async-signal-safe output.
static void out(const char *s) {
  ssize_t rc = write(STDERR_FILENO, s, strlen(s));
  (void)rc;
}

static void out_num(long v) {
  char b[24];
  int i = 23;
  b[i] = 0;
  do b[--i] = (char)('0' + v % 10);
  while ((v /= 10) && i > 0);
  out(b + i);
}

static void on_sigurg(int sig, siginfo_t *info, void *uc) {
  (void)sig, (void)info;
  int saved = errno;
  cio__loop *L = cio__tls_loop;
  struct cio__watchdog *w = L ? L->watchdog : NULL;
  if (!w) return;
  cio_task *t = L->current;
  out("cio: the loop is blocked: ");
  if (t) {
    const char *name = t->name ? t->name : "an unnamed task";
    memcpy(w->blocked_name, name, strnlen(name, CIO__NAME_MAX - 1) + 1);
    atomic_store_explicit(&w->named, true, memory_order_release);
    out("task '");
    out(name);
    out("' (id ");
    out_num((long)t->id);
    out(", spawned at ");
    out(t->file ? t->file : "?");
    out(":");
    out_num(t->line);
    out(")");
  } else {
    strcpy(w->blocked_name, "(the loop itself)");
    atomic_store_explicit(&w->named, true, memory_order_release);
    out("code running outside any task");
  }
  out(" has not awaited for ");
  out_num((long)(w->threshold / 1000000));
  out(" ms. A blocking call (sleep(), a long computation, blocking I/O) stalls every other "
      "task: use cio_sleep(), cio_to_thread() or a cio socket. It is here now:\n");
  // The unwinder, past this handler and the signal trampoline; it stops
  // where the interrupted code has no unwind table (on AArch64, a PLT stub:
  // a loop calling clock_gettime() is often caught there).  The task's
  // frame pointers from the saved registers then go further.
  void *pcs[32], *walked[32];
  int n = backtrace(pcs, 32) - 2;
  int m = t && t->stack ? cio__ctx_interrupted_backtrace(uc, walked, 32, t->stack->lo,
                                                         t->stack->lo + t->stack->size)
                        : 0;
  if (m > n)
    backtrace_symbols_fd(walked, m, STDERR_FILENO);
  else if (n > 0)
    backtrace_symbols_fd(pcs + 2, n, STDERR_FILENO);
  errno = saved;
}

static int64_t now_ns(void) { return cio__clock_ns(); }

static void *watch(void *arg) {
  struct cio__watchdog *w = arg;
  cio__loop *L = w->L;
  uint64_t last = atomic_load(&L->beat);
  int64_t since = now_ns();
  struct timespec nap = {0, SAMPLE_NS};
  while (!atomic_load(&w->stop)) {
    nanosleep(&nap, NULL);
    uint64_t beat = atomic_load(&L->beat);
    int64_t now = now_ns();
    if (beat != last || atomic_load(&L->polling)) {
      if (atomic_exchange(&w->reported, false)) {
        long ms = (long)((now - since) / 1000000);
        bool named = atomic_exchange_explicit(&w->named, false, memory_order_acquire);
        fprintf(stderr, "cio: the loop was blocked for %ld ms by %s\n", ms,
                named ? w->blocked_name : "a task");
        if (ms > atomic_load(&w->longest_ms)) atomic_store(&w->longest_ms, ms);
      }
      last = beat;
      since = now;
    } else if (!atomic_load(&w->reported) && now - since >= w->threshold) {
      atomic_store(&w->reported, true);
      pthread_kill(w->loop_thread, SIGURG);
    }
  }
  return NULL;
}

int cio__watchdog_start(cio__loop *L, double threshold) {
  struct cio__watchdog *w = cio__calloc(1, sizeof *w);
  if (!w) return -ENOMEM;
  const char *env = getenv("CIO_BLOCK_MS");
  double ms = env ? strtod(env, NULL) : 0;
  if (ms > 0) threshold = ms / 1000;
  if (!(threshold > 0)) threshold = 0.1; // (NaN too)
  // A threshold past int64_t's 292 years is never reached (and converting
  // it would be undefined behaviour: a negative threshold on x86).
  w->threshold = threshold < 9e9 ? (int64_t)(threshold * 1e9) : INT64_MAX;
  w->L = L;
  w->loop_thread = pthread_self();
  void *prime[1];
  backtrace(prime, 1); // loads libgcc now, not in the signal handler
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_sigurg;
  sa.sa_flags = SA_RESTART | SA_ONSTACK | SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGURG, &sa, &w->before);
  L->watchdog = w;
  // Its thread takes no signals (they are the loop's); it only sends SIGURG.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int started = pthread_create(&w->thread, NULL, watch, w);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (started != 0) {
    sigaction(SIGURG, &w->before, NULL);
    L->watchdog = NULL;
    free(w);
    return -EAGAIN;
  }
  return 0;
}

long cio__watchdog_stop(cio__loop *L) {
  struct cio__watchdog *w = L->watchdog;
  if (!w) return 0;
  atomic_store(&w->stop, true);
  pthread_join(w->thread, NULL);
  sigaction(SIGURG, &w->before, NULL); // the program's own handler, if it had one
  long longest = atomic_load(&w->longest_ms);
  L->watchdog = NULL;
  free(w);
  return longest;
}
