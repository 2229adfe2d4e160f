// SPDX-License-Identifier: MIT
//
// Capacities and thresholds that a test build shrinks.  Built with
// -DCIO_TINY (make test-tiny), every buffer, batch and threshold below is
// tiny, so the paths that only large programs reach (a full event buffer, a
// split guard batch, slab growth, the prefetch cursors, heap compaction, a
// mass expiry) run in every test: tokio's habit with loom.
#ifndef CIO_TUNE_H
#define CIO_TUNE_H

#ifdef CIO_TINY
#define CIO__TUNED(normal, tiny) (tiny)
#else
#define CIO__TUNED(normal, tiny) (normal)
#endif

// Awaiting calls a task may finish without suspending before one yields
// (task.h, cio__coop); tokio's budget is 128 too.
#define CIO__COOP_BUDGET CIO__TUNED(128, 3)

// A loop pass between two rounds of ready tasks looks at the descriptors
// (a non-blocking epoll_wait) only if the last look was this long ago
// (ns): a request that passes through a few tasks in turn (the HTTP
// client's: driver, caller, driver) made a system call at each turn.  Go
// looks only when it runs out of work; tokio every 61 tasks.  0 in the
// tiny build: every round looks, as before.
#define CIO__POLL_GAP_NS CIO__TUNED(50000, 0)

#endif
