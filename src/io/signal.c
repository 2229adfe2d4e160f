// SPDX-License-Identifier: MIT
//
// Signals.  A process-wide handler counts each delivery and wakes the loop
// that asked for the signal (the poller's wakeup is async-signal-safe).
// The loop, in its next pass, wakes the tasks waiting for it, or — for
// SIGINT and SIGTERM with nobody waiting — cancels its main task, which
// is what Ctrl-C does to asyncio.run.  A second SIGINT/SIGTERM before the
// first was handled restores the default action and re-raises, so a loop
// that never comes back to the scheduler can still be interrupted.
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../../include/cio.h"
#include "../debug/debug.h"
#include "../internal.h"
#include "../task/task.h"
#include "signals.h"

#define NSIG_MAX 65

static atomic_int pending[NSIG_MAX];         // deliveries not yet handled
static _Atomic(cio__loop *) owner[NSIG_MAX]; // loop to wake for each signal
static struct sigaction previous[NSIG_MAX];  // what was installed before us
static atomic_bool installed[NSIG_MAX];      // our handler is in place
static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;

// Per loop: who waits for which signal.
struct cio__signal_state {
  int waiters[NSIG_MAX];      // tasks in cio_signal_wait()
  cio__waitq queue[NSIG_MAX]; // their wait queues
};

static int waiting(const cio__loop *L, int signo) {
  return L->signals ? L->signals->waiters[signo] : 0;
}

static void on_signal(int signo) {
  int saved = errno;
  cio__loop *L = atomic_load(&owner[signo]);
  if (atomic_fetch_add(&pending[signo], 1) > 0 && (signo == SIGINT || signo == SIGTERM) && L &&
      waiting(L, signo) == 0) {
    // Not handled since the last one: give the user a way out.
    signal(signo, SIG_DFL);
    raise(signo);
  }
  if (L) {
    atomic_store(&L->signal_pending, true);
    L->poller->wakeup(L->poller_state);
  }
  errno = saved;
}

static int install(int signo, cio__loop *L) {
  atomic_store(&owner[signo], L);
  if (atomic_load(&installed[signo])) return 0;
  pthread_mutex_lock(&install_lock);
  int rc = 0;
  if (!atomic_load(&installed[signo])) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(signo, &sa, &previous[signo]) < 0)
      rc = -errno;
    else
      atomic_store(&installed[signo], true);
  }
  pthread_mutex_unlock(&install_lock);
  return rc;
}

// The signal that prints a task dump: SIGQUIT unless CIO_DUMP says
// otherwise (SIGUSR1, SIGUSR2, or off).  0 for none.
static int dump_signal(void) {
  const char *e = getenv("CIO_DUMP");
  if (!e || !*e || strcmp(e, "SIGQUIT") == 0) return SIGQUIT;
  if (strcmp(e, "SIGUSR1") == 0) return SIGUSR1;
  if (strcmp(e, "SIGUSR2") == 0) return SIGUSR2;
  return 0;
}

int cio__signals_start(cio__loop *L) {
  int dump = dump_signal();
  if (dump) {
    struct sigaction cur;
    if (sigaction(dump, NULL, &cur) == 0 && cur.sa_handler == SIG_DFL &&
        !(cur.sa_flags & SA_SIGINFO))
      install(dump, L);
  }
  // Ctrl-C cancels main, unless the program installed its own handler.
  for (int signo = SIGINT; signo; signo = signo == SIGINT ? SIGTERM : 0) {
    struct sigaction cur;
    if (sigaction(signo, NULL, &cur) == 0 && cur.sa_handler == SIG_DFL &&
        !(cur.sa_flags & SA_SIGINFO))
      if (install(signo, L) < 0) return -errno;
  }
  return 0;
}

void cio__signals_stop(cio__loop *L) {
  for (int signo = 1; signo < NSIG_MAX; signo++) {
    cio__loop *expected = L;
    atomic_compare_exchange_strong(&owner[signo], &expected, NULL);
  }
  free(L->signals);
  L->signals = NULL;
}

void cio__signals_dispatch(cio__loop *L) {
  atomic_store(&L->signal_pending, false);
  for (int signo = 1; signo < NSIG_MAX; signo++) {
    if (atomic_load(&owner[signo]) != L || atomic_load(&pending[signo]) == 0) continue;
    atomic_store(&pending[signo], 0);
    if (waiting(L, signo) > 0) {
      cio__waitq_wake_all(L, &L->signals->queue[signo], signo, NULL);
    } else if (signo == dump_signal()) {
      cio__dump_tasks(L, stderr);
    } else if ((signo == SIGINT || signo == SIGTERM) && L->main_task &&
               L->main_task->state < CIO__DONE) {
      cio__warn("%s: cancelling the main task", signo == SIGINT ? "SIGINT" : "SIGTERM");
      cio__task_cancel(L, L->main_task);
    }
  }
}

int cio_signal_wait(int signo) {
  cio__loop *L = cio__task_loop();
  if (!L) return cio__misuse_outside("cio_signal_wait");
  if (signo <= 0 || signo >= NSIG_MAX || signo == SIGKILL || signo == SIGSTOP || signo == SIGSEGV ||
      signo == SIGBUS || signo == SIGILL || signo == SIGFPE)
    return -EINVAL;
  if (!L->signals && !(L->signals = calloc(1, sizeof *L->signals))) return -ENOMEM;
  int rc = install(signo, L);
  if (rc < 0) return rc;
  L->signals->waiters[signo]++;
  rc = cio__waitq_wait(L, &L->signals->queue[signo], CIO__NEVER, "signal");
  L->signals->waiters[signo]--;
  return rc == CIO__PARK_DEADLINE ? -ETIMEDOUT : rc;
}
