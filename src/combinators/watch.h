// SPDX-License-Identifier: MIT
//
// Watching a set of tasks finish: the mechanism under gather, wait and
// as_completed.  A waiter is linked into each task's done queue; when a task
// finishes, its waiter's notify callback appends the task's index to a
// completion list and wakes the watching task.  The watcher then reads the
// list from where it left off, so each completion is seen once, in order,
// and waiting on n tasks costs O(n) in all, not O(n) per wakeup.
#ifndef CIO_WATCH_H
#define CIO_WATCH_H

#include "../task/task.h"
#include "../tune.h"

#define CIO__WATCH_INLINE CIO__TUNED(8, 1) // sets this small need no allocation

typedef struct cio__watch {
  cio__loop *L;                                  // the loop
  cio_task *owner;                               // the watching task, woken on a completion
  bool parked;                                   //   only while parked in cio__watch_park()
  cio_task **tasks;                              // the watched tasks' handles (the caller's array)
  size_t n;                                      // how many
  cio__waiter *waiters;                          // one per task
  size_t *order;                                 // indices of finished tasks, in completion order
  size_t ndone;                                  // entries in order[]
  size_t cap;                                    // tasks the waiters/order storage can hold
  cio__waiter inline_waiters[CIO__WATCH_INLINE]; // storage for small sets
  size_t inline_order[CIO__WATCH_INLINE];        //   "
} cio__watch;

// Checks tasks[0..n) (each a valid handle, not detached or group-owned, not
// being joined, no repeats) and starts watching them; tasks already done are
// recorded at once, in array order.  Returns 0, -EINVAL or -ENOMEM (nothing
// registered).  `fn` names the public call, for debug mode's report of a
// stale handle.  The handles stay valid while watched (nobody else may
// join them), so the watcher reads their records with cio__rec().
int cio__watch_start(cio__watch *w, cio__loop *L, cio_task **tasks, size_t n, const char *fn);

// Unlinks every waiter still registered; the completion list stays
// readable until cio__watch_stop().
void cio__watch_detach(cio__watch *w);

// Stops watching: unlinks every waiter still registered, frees storage.
void cio__watch_stop(cio__watch *w);

// Parks the calling task (the owner from then on) until another task
// finishes, the deadline passes or it is cancelled; returns cio__park()'s
// code.  Returns 0 at once if a completion is already unread (ndone >
// seen).  A completion wakes the owner only while it is parked here: a
// watch kept between calls (as_completed) never cuts short a wait of
// another kind (a sleep between two cio_as_completed_next() returned early).
int cio__watch_park(cio__watch *w, size_t seen, int64_t deadline, const char *what);

// The spare buffer kept for the next large watch on this thread, and how
// many tasks it holds (tests).
void *cio__watch_spare(size_t *n);

// Cancels every watched task that has not finished.
void cio__watch_cancel_rest(cio__watch *w);

#endif
