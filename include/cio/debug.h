// SPDX-License-Identifier: MIT
/// \file
///
/// Introspection and debug mode.  Included by <cio.h>.
///
/// Debug mode (cio_opts.debug, or CIO_DEBUG=1 in the environment) adds:
///   - a watchdog that reports, while it happens, a task that keeps the loop
///     from running others for longer than cio_opts.block_threshold (100 ms
///     by default; CIO_BLOCK_MS overrides): its name, spawn site and current
///     backtrace, and afterwards how long it blocked.  The backtrace is taken
///     on the loop's thread by a signal (SIGURG; the program's own handler
///     is put back when cio_run() returns), which also interrupts the
///     blocking call once: a sleep, poll() or select() then returns EINTR
///     early (SA_RESTART restarts the others), as under a profiler;
///   - at the end of cio_run(), every task handle that was neither joined nor
///     detached (a lost task), and every detached task whose failure nobody
///     read, by name and spawn site;
///   - time spent in each state in task dumps;
///   - with CIO_DEBUG=stats, a line of loop statistics at exit.
/// Without debug mode none of this costs more than a predictable branch.
///
/// Task dumps work in every mode: cio_dump_tasks(), and SIGQUIT (Ctrl-\),
/// which prints the dump instead of dumping core while a loop runs (as Go
/// does).  CIO_DUMP=SIGUSR1 (or SIGUSR2) picks another signal, CIO_DUMP=off
/// none.
#ifndef CIO_DEBUG_H
#define CIO_DEBUG_H

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Prints every task of this thread's loop to `out` (stderr if NULL): id,
/// name, state (running, ready, waiting on what — sleep until when, which
/// lock, queue, socket or task), time in that state (debug mode), spawn
/// site, and for suspended tasks the backtrace read from their saved frames
/// (needs frame pointers: cio builds with -fno-omit-frame-pointer; build your
/// code so too, and link with -rdynamic for function names).  Returns the
/// number of tasks printed, or -EPERM outside a loop.  Does not await.
int cio_dump_tasks(FILE *out);

/// Counts of this loop's live tasks per state.
typedef struct cio_task_counts {
  size_t running; ///< 1 when called from a task
  size_t ready;   ///< waiting for their turn
  size_t waiting; ///< parked on something
  size_t fresh;   ///< spawned, not started yet
} cio_task_counts;

/// Fills *counts.  Returns the total, or -EPERM outside a loop.  Does not
/// await; costs in proportion to the most tasks the loop ever had at once.
int cio_task_counts_get(cio_task_counts *counts);

#ifdef __cplusplus
}
#endif
#endif
