// SPDX-License-Identifier: MIT
//
// Signal delivery to loops (signal.c).
#ifndef CIO_SIGNALS_H
#define CIO_SIGNALS_H

#include "../loop/loop.h"

// Puts L on the registry of running loops, so SIGINT and SIGTERM cancel its
// main task (if their action was the default when the first loop started)
// and the signals its tasks wait for reach it.  Returns 0 or -ENOMEM (L then
// gets no signals; cio_signal_wait() fails with -ENOMEM).
int cio__signals_start(cio__loop *L);
// Takes L off the registry; the last loop to leave puts back every signal
// action cio replaced.
void cio__signals_stop(cio__loop *L);

#endif
