// SPDX-License-Identifier: MIT
//
// The worker pool (pool.c), for the I/O layer's blocking calls.
#ifndef CIO_POOL_H
#define CIO_POOL_H

#include "../loop/loop.h"

// cio_to_thread() without the argument checks: runs fn(arg) on a worker and
// parks the running task until fn has returned, even when the task is
// cancelled or times out meanwhile (it then returns that error after fn).
int cio__pool_call(cio__loop *L, void *(*fn)(void *), void *arg, void **result);

// cio_to_thread_owned() without the argument checks: arg belongs to the
// call; a task that gives up returns at once, and free_fn(arg, unclaimed)
// runs on the loop once fn has returned.
int cio__pool_submit_owned(cio__loop *L, void *(*fn)(void *), void *arg,
                           void (*free_fn)(void *arg, void *unclaimed), void **result);

// The owned kind with no free_fn: for jobs that release themselves (file.c,
// the name lookups in addr.c).  A task that gives up returns at once while
// fn goes on, so arg must not be the caller's.  If the job cannot be queued
// (-ENOMEM, -EAGAIN), fn never runs: unqueued(arg) (if not NULL) is called
// first, so that the caller knows it must release arg itself.
int cio__pool_submit_wait(cio__loop *L, void *(*fn)(void *), void *arg,
                          void (*unqueued)(void *arg));

#endif
