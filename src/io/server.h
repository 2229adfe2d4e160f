// SPDX-License-Identifier: MIT
//
// Internal server hooks, for a protocol layer built on cio_server (HTTP):
// it learns when a graceful close begins, so that it can finish the
// requests in flight and close idle connections, and whether the close has
// moved on to aborting what is left.
#ifndef CIO_SERVER_INTERNAL_H
#define CIO_SERVER_INTERNAL_H

#include <stdbool.h>

#include "../../include/cio.h"

// Called by cio_server_close() once the server has stopped accepting, with
// the grace it gives the running handlers (seconds, CIO_FOREVER for none).
// Runs in the closing task; must not await.
typedef void (*cio__server_closing_fn)(void *arg, double grace);

// Sets srv's closing hook (NULL: none).  Does not await.
void cio__server_on_close(cio_server *srv, cio__server_closing_fn fn, void *arg);

// True once srv's close has given up waiting and cancelled its handlers
// (their connections are reset, not flushed).
bool cio__server_aborting(const cio_server *srv);

// Cancels every handler now and resets their connections, as the end of the
// grace period does (a second Ctrl-C).  Does not await; a no-op before
// cio_server_close() began.
void cio__server_abort(cio_server *srv);

#endif
