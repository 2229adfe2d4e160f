// SPDX-License-Identifier: MIT
//
// Signals.  Every running loop is on a process-wide registry (a list its
// thread joins in cio_run() and leaves at the end, under a lock).  One
// handler serves every signal cio catches: it may run on any thread, so it
// only does async-signal-safe things — it walks the registry, marks the
// signal pending in each loop it concerns and writes that loop's wakeup
// eventfd.  Each loop, in its next pass, wakes its tasks waiting for the
// signal, or — for SIGINT and SIGTERM when none of its tasks has waited for
// them — cancels its main task, which is what Ctrl-C does to asyncio.run.
//
// Dispositions: the first loop to start installs the handler for SIGINT and
// SIGTERM (when their action is the default) and for the dump signal;
// cio_signal_wait() installs it for its signal.  When the last loop ends,
// every action cio replaced is put back exactly as it was (handler, flags,
// mask), unless the program replaced cio's meanwhile.
//
// Leaving the registry: the handler walks the list without a lock, so a
// loop that leaves unlinks its entry and then waits until no handler is
// running before freeing it (a handler that started earlier may still be
// looking at it; one that starts later cannot reach it).
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../include/cio.h"
#include "../debug/debug.h"
#include "../internal.h"
#include "../task/task.h"
#include "signals.h"

// A loop's entry on the registry, and who waits there for which signal.
struct cio__signal_state {
  struct cio__signal_state *_Atomic next; // registry link (the handler follows it)
  cio__loop *loop;                        // the loop it belongs to
  cio__loop_hook hook;                    // signalled by the handler: dispatch() runs on the loop
  atomic_bool caught[NSIG];               // a task here has waited for it: deliveries are theirs
  atomic_bool pending[NSIG];              // delivered, not yet taken (one, like the kernel's)
  atomic_bool interrupted;                // a SIGINT/SIGTERM came to cancel main: the next kills
  cio__waitq queue[NSIG];                 // tasks in cio_signal_wait(), per signal (loop thread)
};

// Process-wide state.  `registry_lock` serialises joining and leaving the
// registry and changing dispositions; the handler takes no lock.
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cio__signal_state *_Atomic registry; // running loops (under the lock to change)
static int nloops;                                 // entries on it (under the lock)
static atomic_int in_handler;                      // handlers running now, on any thread
static atomic_int dump_signo;                      // the dump signal while cio catches it, or 0
static struct sigaction previous[NSIG];            // each replaced action (under the lock)
static bool ours[NSIG];                            // cio replaced it (under the lock)
static atomic_bool cancels[NSIG]; // SIGINT/SIGTERM: was the default, so it cancels main
// SIGINT/SIGTERM: delivered to cancel mains, and no loop has cancelled its
// main for it yet.  With several loops (cio_run_loops), one that ends
// before the handler reaches it still finds the delivery pending, though
// the others acted on it: that is not a Ctrl-C lost.
static atomic_bool unanswered[NSIG];

static bool is_interrupt(int signo) { return signo == SIGINT || signo == SIGTERM; }

// This thread's loop's entry (one loop per thread).
static _Thread_local struct cio__signal_state *mine;

static void deliver(struct cio__signal_state *n, int signo) {
  atomic_store(&n->pending[signo], true);
  cio__loop_hook_signal(n->loop, &n->hook);
}

static void dispatch(cio__loop *L, cio__loop_hook *h);

// Async-signal-safe: atomics, an eventfd write, sigaction and raise.
static void on_signal(int signo) {
  int saved = errno;
  atomic_fetch_add(&in_handler, 1);
  bool cancel = atomic_load(&cancels[signo]), taken = false, again = false;
  if (cancel) atomic_store(&unanswered[signo], true);
  for (struct cio__signal_state *n = atomic_load(&registry); n; n = atomic_load(&n->next)) {
    if (atomic_load(&n->caught[signo]) || signo == atomic_load(&dump_signo)) {
      deliver(n, signo);
      taken = true;
    } else if (cancel) {
      if (atomic_exchange(&n->interrupted, true)) {
        again = true; // its main is being cancelled already
      } else {
        deliver(n, signo);
      }
      taken = true;
    }
  }
  atomic_fetch_sub(&in_handler, 1);
  if (cancel && (again || !taken)) {
    // A second Ctrl-C (asyncio.run raises KeyboardInterrupt then), or no
    // loop to cancel (one is starting or ending): the default action, which
    // was in place before cio's.  The signal is blocked until we return.
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(signo, &dfl, NULL);
    raise(signo);
  }
  errno = saved;
}

// Puts cio's handler on `signo` (under registry_lock).  Returns 0 or -errno.
static int install(int signo) {
  if (ours[signo]) return 0;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  if (sigaction(signo, &sa, &previous[signo]) < 0) return -errno;
  ours[signo] = true;
  return 0;
}

// Installs the handler on `signo` if its action is the default (a program's
// own handler, or SIG_IGN set by a shell for a background job, stays).
static bool install_if_default(int signo) {
  struct sigaction cur;
  if (sigaction(signo, NULL, &cur) < 0 || cur.sa_handler != SIG_DFL || (cur.sa_flags & SA_SIGINFO))
    return false;
  return install(signo) == 0;
}

// Puts back every action cio replaced (under registry_lock, the last loop
// gone).  An action the program changed since is left as it is.
static void restore_all(void) {
  atomic_store(&dump_signo, 0);
  for (int signo = 1; signo < NSIG; signo++) {
    if (!ours[signo]) continue;
    struct sigaction cur;
    if (sigaction(signo, NULL, &cur) == 0 && !(cur.sa_flags & SA_SIGINFO) &&
        cur.sa_handler == on_signal)
      sigaction(signo, &previous[signo], NULL);
    ours[signo] = false;
    atomic_store(&cancels[signo], false);
  }
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
  struct cio__signal_state *n = cio__calloc(1, sizeof *n);
  if (!n) return -ENOMEM;
  n->loop = L;
  n->hook = (cio__loop_hook){.run = dispatch};
  cio__loop_hook_add(L, &n->hook); // before the handler can signal it
  for (int signo = 0; signo < NSIG; signo++) cio__waitq_init(&n->queue[signo]);
  pthread_mutex_lock(&registry_lock);
  if (nloops == 0) {
    // Ctrl-C cancels main, unless the program installed its own handler.
    // `cancels` is set first: the handler may run as soon as it is in place.
    for (int signo = SIGINT; signo; signo = signo == SIGINT ? SIGTERM : 0) {
      atomic_store(&cancels[signo], true);
      if (!install_if_default(signo)) atomic_store(&cancels[signo], false);
    }
    int dump = dump_signal();
    if (dump && install_if_default(dump)) atomic_store(&dump_signo, dump);
  }
  atomic_store(&n->next, atomic_load(&registry));
  atomic_store(&registry, n);
  nloops++;
  pthread_mutex_unlock(&registry_lock);
  mine = n;
  return 0;
}

void cio__signals_stop(cio__loop *L) {
  struct cio__signal_state *n = mine;
  if (!n) return;
  pthread_mutex_lock(&registry_lock);
  struct cio__signal_state *_Atomic *link = &registry;
  while (atomic_load(link) != n) link = &atomic_load(link)->next;
  atomic_store(link, atomic_load(&n->next));
  bool last = --nloops == 0;
  bool cancel[NSIG];
  for (int signo = 0; signo < NSIG; signo++) cancel[signo] = atomic_load(&cancels[signo]);
  if (last) restore_all();
  pthread_mutex_unlock(&registry_lock);
  // A handler that found n before it was unlinked may still use it.
  while (atomic_load(&in_handler) > 0) sched_yield();
  mine = NULL;
  cio__loop_hook_remove(L, &n->hook);
  // A Ctrl-C that came after the loop's last pass cancelled nothing: with
  // the actions restored, it does now what it would have done without cio.
  // Sent to the process, not raised on this thread: a loop of
  // cio_run_loops() blocks it, and would lose it when its thread ends.
  for (int signo = SIGINT; last && signo; signo = signo == SIGINT ? SIGTERM : 0)
    if (cancel[signo] && atomic_load(&n->pending[signo]) && !atomic_load(&n->caught[signo]) &&
        atomic_exchange(&unanswered[signo], false))
      kill(getpid(), signo);
  free(n);
}

// The hook's run(): at the pass after a delivery, on the loop's thread.
static void dispatch(cio__loop *L, cio__loop_hook *h) {
  struct cio__signal_state *n = cio__container_of(h, struct cio__signal_state, hook);
  for (int signo = 1; signo < NSIG; signo++) {
    if (!atomic_load_explicit(&n->pending[signo], memory_order_relaxed)) continue;
    if (atomic_load(&n->caught[signo])) {
      // The waiters' (wake code 0: a signal number must not be mistaken for
      // a park reason); with none parked, kept for the next wait.
      if (atomic_exchange(&n->pending[signo], false) &&
          cio__waitq_wake_all(L, &n->queue[signo], 0, NULL) == 0)
        atomic_store(&n->pending[signo], true);
      continue;
    }
    atomic_store(&n->pending[signo], false);
    if (signo == atomic_load(&dump_signo)) {
      cio__dump_tasks(L, stderr);
    } else if (is_interrupt(signo) && L->main_task && L->main_task->state < CIO__DONE) {
      // Said once, by the first loop to act: with cio_run_loops every loop
      // cancels its main for the same signal.
      if (atomic_exchange(&unanswered[signo], false))
        cio__warn("%s: cancelling the main task", signo == SIGINT ? "SIGINT" : "SIGTERM");
      cio__task_cancel(L, L->main_task);
    } else if (is_interrupt(signo) && atomic_load(&unanswered[signo])) {
      cio__warn("%s: the main task has returned; another one ends the process",
                signo == SIGINT ? "SIGINT" : "SIGTERM");
    }
  }
}

int cio_signal_wait(int signo) {
  cio__loop *L = cio__await_loop("cio_signal_wait");
  if (!L) return -EPERM;
  if (signo <= 0 || signo >= NSIG || signo == SIGKILL || signo == SIGSTOP || signo == SIGSEGV ||
      signo == SIGBUS || signo == SIGILL || signo == SIGFPE)
    return -EINVAL;
  struct cio__signal_state *n = mine;
  if (!n) return -ENOMEM; // the loop could not join the registry
  int rc = cio__checkpoint(L);
  if (rc < 0) return rc;
  pthread_mutex_lock(&registry_lock);
  rc = install(signo);
  pthread_mutex_unlock(&registry_lock);
  if (rc < 0) return rc;
  atomic_store(&n->caught[signo], true);
  if (atomic_exchange(&n->pending[signo], false)) return signo; // came since the last wait
  // A signal can come from outside at any time: a task waiting for one is
  // not deadlocked, so the wait holds the loop open.
  cio_loop_hold(L, 1);
  rc = cio__waitq_wait(L, &n->queue[signo], CIO__NEVER, "signal");
  cio_loop_hold(L, -1);
  return rc == 0 ? signo : rc;
}
