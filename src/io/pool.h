// SPDX-License-Identifier: MIT
//
// The worker pool (pool.c), for the I/O layer's blocking calls.
#ifndef CIO_POOL_H
#define CIO_POOL_H

#include "../loop/loop.h"

// Runs fn(arg) on a worker and parks the running task until it is done;
// cio_to_thread() without the argument checks.
int cio__pool_submit_wait(cio__loop *L, void *(*fn)(void *), void *arg, void **result);

#endif
