// SPDX-License-Identifier: MIT
//
// Internal socket helpers for the rest of the I/O layer.
#ifndef CIO_SOCK_INTERNAL_H
#define CIO_SOCK_INTERNAL_H

#include "../../include/cio.h"

// Awaits the next readability edge on `s` (for descriptors that are never
// read, like a pidfd).  Returns 0, -ECANCELED, -ETIMEDOUT, -EBADF.
int cio__sock_wait_edge(cio_sock *s);

#endif
