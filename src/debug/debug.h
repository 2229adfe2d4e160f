// SPDX-License-Identifier: MIT
//
// Diagnostics: misuse lines, stack-overflow reports, the deadlock report and
// the task dump.
#ifndef CIO_DEBUG_INTERNAL_H
#define CIO_DEBUG_INTERNAL_H

#include <stdbool.h>
#include <stdio.h>

#include "../loop/loop.h"

struct cio_task;

// Installs the SIGSEGV/SIGBUS handler that names the task whose stack
// overflowed, with an alternate signal stack for this thread.  Returns 0 or
// -errno.  cio__overflow_uninstall() undoes it for this thread.
int cio__overflow_install(cio__loop *L);
void cio__overflow_uninstall(cio__loop *L);

// Reports a smashed canary of task `t` and aborts.
_Noreturn void cio__overflow_canary(struct cio_task *t);

// Called when every task waits and nothing can wake them: prints the report
// and a task dump, and cancels every task.  Returns true to keep running
// (the cancelled tasks may finish), false to give up (a second deadlock after
// cancelling: the tasks are abandoned).
bool cio__deadlock(cio__loop *L);

// Prints every task of L to `out`; returns how many.
int cio__dump_tasks(cio__loop *L, FILE *out);

// Debug mode: starts the watchdog thread for L (threshold in seconds, 0 for
// the default).  Returns 0 or -errno.
int cio__watchdog_start(cio__loop *L, double threshold);
// Stops it; returns the longest block seen, in ms.
long cio__watchdog_stop(cio__loop *L);

// Debug mode, at the end of cio_run(): reports lost tasks.
void cio__report_lost(cio__loop *L);

#endif
