// SPDX-License-Identifier: MIT
//
// Internal socket helpers for the rest of the I/O layer.
#ifndef CIO_SOCK_INTERNAL_H
#define CIO_SOCK_INTERNAL_H

#include "../../include/cio.h"

// Awaits the next readability edge on `s` (for descriptors that are never
// read, like a pidfd).  Returns 0, -ECANCELED, -ETIMEDOUT, -EBADF.
int cio__sock_wait_edge(cio_sock *s);

// Cancels task t (NULL: nobody) when the peer closes the connection (a
// FIN or an error, not more data), or at once if it already has.  Used so
// that a client that disconnects cancels its HTTP handler.  Returns 0 or
// -EBADF.
int cio__sock_cancel_on_hup(cio_sock *s, cio_task *t);

#endif
