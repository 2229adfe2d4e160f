// SPDX-License-Identifier: MIT
//
// cio_run_loops(): thread-per-core.  N threads, each running a loop of its
// own with cio_run_opts(); nothing is shared between the loops but what the
// program shares, and no task moves from one to another.  The loops are a
// group: the first main to fail cancels the others' (unless keep_going),
// and the call returns when every loop has ended.
//
// Cancelling another loop's main goes through a loop hook (loop.h): the
// failing loop signals the hook of every other loop, whose next pass then
// cancels its own main, on its own thread.  Signalling a hook never
// allocates, blocks or fails, as posting a callback can.  A loop is on the
// group's list, and may be signalled, only while its main runs: it leaves
// the list (under the group's lock) before its main returns, so no thread
// signals a loop that may be gone.
//
// Signals: the loops' threads block SIGINT and SIGTERM, so the signal
// module's handler (io/signal.c) runs on the calling thread, which only
// waits here; that handler cancels the main of every loop on its registry,
// as it does for a single loop.  The calling thread keeps them blocked too
// until every loop has joined that registry (each loop joins before its
// main starts), so a Ctrl-C during start-up reaches every loop, not only
// those that were quick to start.
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>

#include "../../include/cio.h"
#include "../internal.h"
#include "../task/task.h"

struct group;

// One loop of the group.
struct member {
  struct group *g;       // its group
  int index;             // 0..n-1
  pthread_t thread;      // the thread running it
  cio__loop *loop;       // the loop while its main runs, else NULL (under g->lock)
  cio__loop_hook cancel; // signalled to cancel its main (attached while loop is set)
  bool arrived;          // its main started, or its loop could not start (under g->lock)
};

struct group {
  cio_loop_fn main;      // every loop's main
  void *arg;             // its argument
  cio_loops_opts opts;   // as given (zeroes if NULL)
  pthread_mutex_t lock;  // guards what the fields below say
  pthread_cond_t change; // signalled when a loop arrives
  int arrived;           // members arrived (under lock)
  int failure;           // the first failure, or 0 (under lock)
  bool cancelling;       // the mains are being cancelled (under lock)
  int n;                 // members
  struct member *m;      // the members
};

int cio_cpu_count(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) < 0) return 1;
  int n = CPU_COUNT(&set);
  return n > 0 ? n : 1;
}

// ---------------------------------------------------------------- in each loop

// The hook's run(): on the loop's thread, at the pass after a signal.
static void cancel_main(cio__loop *L, cio__loop_hook *h) {
  (void)h;
  if (L->main_task && L->main_task->state < CIO__DONE) cio__task_cancel(L, L->main_task);
}

// Records a failure; the first one cancels the other loops' mains.  Under
// the lock, so every loop signalled is on the list, hence alive.
static void fail(struct group *g, int rc, const struct member *self) {
  pthread_mutex_lock(&g->lock);
  if (!g->failure) g->failure = rc;
  if (!g->opts.keep_going && !g->cancelling) {
    g->cancelling = true;
    for (int i = 0; i < g->n; i++)
      if (&g->m[i] != self && g->m[i].loop) cio__loop_hook_signal(g->m[i].loop, &g->m[i].cancel);
  }
  pthread_mutex_unlock(&g->lock);
}

static void arrive(struct group *g, struct member *m) {
  m->arrived = true;
  g->arrived++;
  pthread_cond_broadcast(&g->change);
}

// The main task of each loop: joins the group's list, runs the program's
// main, leaves the list.
static int member_main(void *arg) {
  struct member *m = arg;
  struct group *g = m->g;
  cio__loop *L = cio__tls_loop;
  m->cancel = (cio__loop_hook){.run = cancel_main};
  cio__loop_hook_add(L, &m->cancel);
  pthread_mutex_lock(&g->lock);
  m->loop = L;
  arrive(g, m);
  bool cancelled = g->cancelling; // a loop failed before this one started
  pthread_mutex_unlock(&g->lock);
  if (cancelled) cio__task_cancel(L, L->main_task);

  int rc = g->main(g->arg, m->index);

  pthread_mutex_lock(&g->lock);
  m->loop = NULL;
  pthread_mutex_unlock(&g->lock);
  cio__loop_hook_remove(L, &m->cancel);
  if (rc < 0) fail(g, L->deadlock_cancelled ? -EDEADLK : rc, m);
  return rc;
}

static void *member_thread(void *arg) {
  struct member *m = arg;
  struct group *g = m->g;
  int rc = cio_run_opts(&g->opts.loop, member_main, m);
  if (rc < 0) fail(g, rc, m); // a second report of main's failure changes nothing
  pthread_mutex_lock(&g->lock);
  if (!m->arrived) arrive(g, m); // the loop could not start
  pthread_mutex_unlock(&g->lock);
  return NULL;
}

// ---------------------------------------------------------------- the calling thread

// Starts member i's thread, pinned to the i-th allowed CPU if asked.
static int start(struct group *g, int i, const cpu_set_t *allowed) {
  pthread_attr_t attr;
  int rc = pthread_attr_init(&attr);
  if (rc) return -rc;
  if (g->opts.pin) {
    int want = i % CPU_COUNT(allowed), seen = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
      if (!CPU_ISSET(cpu, allowed) || seen++ != want) continue;
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(cpu, &one);
      rc = pthread_attr_setaffinity_np(&attr, sizeof one, &one);
      break;
    }
  }
  if (rc == 0) rc = pthread_create(&g->m[i].thread, &attr, member_thread, &g->m[i]);
  pthread_attr_destroy(&attr);
  return -rc;
}

int cio_run_loops(int n, cio_loop_fn main_fn, void *arg, const cio_loops_opts *opts) {
  if (!main_fn) return -EINVAL;
  if (cio_loop_current()) {
    cio__warn("cio_run_loops() called inside a running loop; it starts loops of its own");
    return -EBUSY;
  }
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof allowed, &allowed) < 0 || CPU_COUNT(&allowed) == 0) {
    CPU_ZERO(&allowed);
    CPU_SET(0, &allowed);
  }
  if (n <= 0) n = CPU_COUNT(&allowed);
  struct group g = {.main = main_fn, .arg = arg, .n = n};
  if (opts) g.opts = *opts;
  g.m = cio__calloc((size_t)n, sizeof *g.m);
  if (!g.m) return -ENOMEM;
  pthread_mutex_init(&g.lock, NULL);
  pthread_cond_init(&g.change, NULL);

  // Threads inherit the mask: the loops' keep these blocked for good.
  sigset_t interrupts, saved;
  sigemptyset(&interrupts);
  sigaddset(&interrupts, SIGINT);
  sigaddset(&interrupts, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &interrupts, &saved);
  for (int i = 0; i < n; i++) g.m[i] = (struct member){.g = &g, .index = i}; // before any runs
  int started = 0, rc = 0;
  while (started < n && (rc = start(&g, started, &allowed)) == 0) started++;
  if (rc < 0) fail(&g, rc, NULL); // the loops started are cancelled
  pthread_mutex_lock(&g.lock);
  g.arrived += n - started; // those never started will not arrive
  while (g.arrived < n) pthread_cond_wait(&g.change, &g.lock);
  pthread_mutex_unlock(&g.lock);
  pthread_sigmask(SIG_SETMASK, &saved, NULL); // every loop is on the signal registry

  for (int i = 0; i < started; i++) pthread_join(g.m[i].thread, NULL);
  pthread_cond_destroy(&g.change);
  pthread_mutex_destroy(&g.lock);
  free(g.m);
  return g.failure;
}
