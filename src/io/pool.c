// SPDX-License-Identifier: MIT
//
// The worker pool behind cio_to_thread().  Process-wide: jobs from every
// loop go to one queue; threads are started on demand up to
// min(32, cores + 4) and idle ones wait on a condition variable.  A
// finished job is posted back to its loop (cio_call_soon_threadsafe), which
// wakes the waiting task: no busy waiting anywhere.  Each loop counts its
// jobs in flight and does not finish before they have completed, so a late
// completion never reaches a freed loop.
//
// Two ways to give up.  cio_to_thread() waits: a cancelled or timed-out
// caller parks again (shielded) until the worker is done with the job, so
// the job and its argument may live on the caller's stack.  The owned kind
// (cio_to_thread_owned, and the I/O layer's lookups) returns at once: the
// job is on the heap and owns its argument, and whichever of the caller
// giving up and the completion comes last releases both, on the loop.
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../include/cio.h"
#include "../internal.h"
#include "../task/task.h"
#include "pool.h"

struct job {
  struct job *next;                            // queue link
  void *(*fn)(void *);                         // the call
  void *arg;                                   //   its argument
  void (*free_fn)(void *arg, void *unclaimed); // owned kind: releases arg (may be NULL)
  void *result;                                // fn's return value
  cio__loop *loop;                             // where to report
  cio_task *waiter;                            // the task awaiting it, NULL once it gave up
  bool done;                                   // completed (on the loop)
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work = PTHREAD_COND_INITIALIZER;
static struct job *head, *tail; // queued jobs
static int threads;             // started
static int idle;                // waiting for work
static int max_threads;         // min(32, cores + 4)

// Ends an owned job, on the loop: its argument (with fn's return value if
// nobody received it) goes to free_fn, then the job is freed.
static void release(struct job *j, void *unclaimed) {
  if (j->free_fn) j->free_fn(j->arg, unclaimed);
  free(j);
}

// On the loop: the job is done.
static void complete(void *arg) {
  struct job *j = arg;
  cio__loop *L = j->loop;
  L->refs--;
  j->done = true;
  if (!j->waiter)
    release(j, j->result); // an owned job whose task gave up
  else if (j->waiter->state == CIO__PARKED)
    cio__wake(L, j->waiter, 0); // it reads the result (and frees an owned job)
  // Otherwise its task was woken already (cancelled, timed out) and has not
  // run yet: it sees the job done when it does.  A waiting job may be on
  // that task's stack: nothing here touches it after this point.
}

static void *worker(void *unused) {
  (void)unused;
  pthread_mutex_lock(&lock);
  for (;;) {
    while (!head) {
      idle++;
      pthread_cond_wait(&work, &lock);
      idle--;
    }
    struct job *j = head;
    head = j->next;
    if (!head) tail = NULL;
    pthread_mutex_unlock(&lock);
    j->result = j->fn(j->arg);
    // Cannot fail for lack of memory silently: retry until it is posted.
    while (cio_call_soon_threadsafe(j->loop, complete, j) < 0) usleep(1000);
    pthread_mutex_lock(&lock);
  }
  return NULL;
}

static int start_worker(void) {
  if (!max_threads) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    max_threads = cores + 4 < 32 ? (int)cores + 4 : 32;
  }
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  // Workers never take signals: they belong to the loops' threads.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t th;
  int rc = pthread_create(&th, &attr, worker, NULL);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  if (rc) return -rc;
  threads++;
  return 0;
}

// Queues j (from the loop's thread).  Returns 0 or -EAGAIN (no thread).
static int submit(cio__loop *L, struct job *j) {
  pthread_mutex_lock(&lock);
  if (idle == 0 && (threads == 0 || threads < max_threads)) {
    int rc = start_worker();
    if (rc < 0 && threads == 0) {
      pthread_mutex_unlock(&lock);
      return -EAGAIN;
    }
  }
  if (tail)
    tail->next = j;
  else
    head = j;
  tail = j;
  pthread_cond_signal(&work);
  pthread_mutex_unlock(&lock);
  L->refs++;
  return 0;
}

int cio__pool_call(cio__loop *L, void *(*fn)(void *), void *arg, void **result) {
  int rc = cio__checkpoint(L); // cancelled already: fn is not started
  if (rc < 0) return rc;
  struct job j = {.fn = fn, .arg = arg, .loop = L, .waiter = L->current};
  rc = submit(L, &j);
  if (rc < 0) return rc;
  rc = cio__park(L, CIO__NEVER, "to_thread");
  if (!j.done) {
    // Cancelled or timed out while fn runs: fn still uses arg (and j is on
    // this stack), so wait for the completion; a shield keeps further
    // cancellations and expiries from waking us before it.
    cio_scope shield;
    cio__shield_enter(L->current, &shield);
    while (!j.done) (void)cio__park(L, CIO__NEVER, "to_thread (given up, waiting for fn)");
    cio__shield_leave(L->current, &shield);
  }
  if (rc < 0) return rc;
  if (result) *result = j.result;
  return 0;
}

// The owned kinds: free_fn releases arg in every case; unqueued(arg) is
// called only when the job could not be queued.
static int submit_owned(cio__loop *L, void *(*fn)(void *), void *arg,
                        void (*free_fn)(void *arg, void *unclaimed), void (*unqueued)(void *arg),
                        void **result) {
  struct job *j = cio__malloc(sizeof *j);
  if (!j) {
    if (unqueued) unqueued(arg);
    if (free_fn) free_fn(arg, NULL);
    return -ENOMEM;
  }
  *j = (struct job){.fn = fn, .arg = arg, .free_fn = free_fn, .loop = L, .waiter = L->current};
  int rc = submit(L, j);
  if (rc < 0) {
    if (unqueued) unqueued(arg);
    release(j, NULL);
    return rc;
  }
  rc = cio__park(L, CIO__NEVER, "to_thread");
  if (rc < 0) { // gave up: whichever of this and the completion comes last releases the job
    if (j->done)
      release(j, j->result);
    else
      j->waiter = NULL;
    return rc;
  }
  if (result) *result = j->result;
  release(j, result ? NULL : j->result);
  return 0;
}

int cio__pool_submit_owned(cio__loop *L, void *(*fn)(void *), void *arg,
                           void (*free_fn)(void *arg, void *unclaimed), void **result) {
  return submit_owned(L, fn, arg, free_fn, NULL, result);
}

int cio__pool_submit_wait(cio__loop *L, void *(*fn)(void *), void *arg,
                          void (*unqueued)(void *arg)) {
  return submit_owned(L, fn, arg, NULL, unqueued, NULL);
}

int cio_to_thread(void *(*fn)(void *), void *arg, void **result) {
  cio__loop *L = cio__await_loop("cio_to_thread");
  if (!L) return -EPERM;
  if (!fn) return -EINVAL;
  return cio__pool_call(L, fn, arg, result);
}

int cio_to_thread_owned(void *(*fn)(void *), void *arg, void (*free_fn)(void *arg, void *unclaimed),
                        void **result) {
  cio__loop *L = cio__await_loop("cio_to_thread_owned");
  int rc = !L ? -EPERM : !fn ? -EINVAL : cio__checkpoint(L);
  if (rc < 0) { // arg is the call's in every case
    if (free_fn) free_fn(arg, NULL);
    return rc;
  }
  return cio__pool_submit_owned(L, fn, arg, free_fn, result);
}
