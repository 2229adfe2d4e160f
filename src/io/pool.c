// SPDX-License-Identifier: MIT
//
// The worker pool behind cio_to_thread().  Process-wide: jobs from every
// loop go to one queue; threads are started on demand up to
// min(32, cores + 4) and idle ones wait on a condition variable.  A
// finished job is posted back to its loop (cio_call_soon_threadsafe), which
// wakes the waiting task: no busy waiting anywhere.  A job whose task gave
// up (cancelled, timed out) still runs to the end; its completion then only
// frees it.  Each loop counts its jobs in flight and does not finish before
// they have completed, so a late completion never reaches a freed loop.
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
  struct job *next;    // queue link
  void *(*fn)(void *); // the call
  void *arg;           //   its argument
  void *result;        // its return value
  cio__loop *loop;     // where to report
  cio_task *waiter;    // the task awaiting it, NULL once it gave up
  bool done;           // completed (on the loop)
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work = PTHREAD_COND_INITIALIZER;
static struct job *head, *tail; // queued jobs
static int threads;             // started
static int idle;                // waiting for work
static int max_threads;         // min(32, cores + 4)

// On the loop: the job is done.
static void complete(void *arg) {
  struct job *j = arg;
  cio__loop *L = j->loop;
  L->jobs_in_flight--;
  j->done = true;
  if (!j->waiter)
    free(j); // its task gave up
  else if (j->waiter->state == CIO__PARKED)
    cio__wake(L, j->waiter, 0); // it reads the result and frees the job
  // Otherwise its task was woken already (cancelled, timed out) and has not
  // run yet: it gives up when it does, and frees the job, seeing it done.
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

int cio__pool_submit_wait(cio__loop *L, void *(*fn)(void *), void *arg, void **result) {
  struct job *j = malloc(sizeof *j);
  if (!j) return -ENOMEM;
  *j = (struct job){.fn = fn, .arg = arg, .loop = L, .waiter = L->current};
  pthread_mutex_lock(&lock);
  if (idle == 0 && (threads == 0 || threads < max_threads)) {
    int rc = start_worker();
    if (rc < 0 && threads == 0) {
      pthread_mutex_unlock(&lock);
      free(j);
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
  L->jobs_in_flight++;
  int rc = cio__park(L, CIO__NEVER, "to_thread");
  if (rc < 0) { // gave up: whichever of this and the completion comes last frees the job
    if (j->done)
      free(j);
    else
      j->waiter = NULL;
    return rc;
  }
  if (result) *result = j->result;
  free(j);
  return 0;
}

int cio_to_thread(void *(*fn)(void *), void *arg, void **result) {
  cio__loop *L = cio__task_loop();
  if (!L) return cio__misuse_outside("cio_to_thread");
  if (!fn) return -EINVAL;
  return cio__pool_submit_wait(L, fn, arg, result);
}
