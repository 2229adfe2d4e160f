// SPDX-License-Identifier: MIT
//
// Signal delivery to loops (signal.c).
#ifndef CIO_SIGNALS_H
#define CIO_SIGNALS_H

#include "../loop/loop.h"

// Makes SIGINT and SIGTERM cancel L's main task (if their action is the
// default).  Returns 0 or -errno.
int cio__signals_start(cio__loop *L);
// Stops delivering signals to L.
void cio__signals_stop(cio__loop *L);

#endif
