// SPDX-License-Identifier: MIT
//
// The poller contract: how the loop waits for file descriptors and for
// wakeups from other threads.  One backend per file (poll_epoll.c; an
// io_uring backend can follow), chosen at run time by CIO_BACKEND.
#ifndef CIO_POLLER_H
#define CIO_POLLER_H

#include <stdint.h>

#define CIO__IO_READ 1u  // readable, or hung up / error (a read will not block)
#define CIO__IO_WRITE 2u // writable, or error
#define CIO__IO_HUP 4u   // reported with READ: the peer closed or the socket failed

// A file descriptor the poller watches.  Owned by whoever registered it and
// must stay valid until removed.
typedef struct cio__io {
  int fd;                                         // the descriptor
  uint32_t events;                                // CIO__IO_* currently watched
  void (*ready)(struct cio__io *io, uint32_t ev); // called on the loop with what is ready
} cio__io;

typedef struct cio__poller_ops {
  const char *name; // "epoll", ...
  // Creates the backend state in *state.  Returns 0 or -errno.
  int (*init)(void **state);
  // Frees the backend state; watched descriptors are left open.
  void (*fini)(void *state);
  // Starts watching io->fd for `events` (edge-triggered: ready() is called
  // once per change of readiness).  Returns 0 or -errno (-EBADF, -EPERM for
  // a regular file...).
  int (*add)(void *state, cio__io *io, uint32_t events);
  // Stops watching io->fd; no ready() call for it follows.  Returns 0 or -errno.
  int (*del)(void *state, cio__io *io);
  // Waits up to timeout_ns (0: do not block, -1: no limit) for readiness or
  // a wakeup, calling ready() for each ready descriptor.  Returns the number
  // of descriptors reported plus one if a wakeup() was consumed, or -errno
  // (EINTR counts as 0).
  int (*poll)(void *state, int64_t timeout_ns);
  // Makes a concurrent or the next poll() return soon.  Safe from any
  // thread and from signal handlers.  Returns 0 or -errno.
  int (*wakeup)(void *state);
} cio__poller_ops;

extern const cio__poller_ops cio__poller_epoll;

// The backend CIO_BACKEND names (default epoll), or NULL if unknown.
const cio__poller_ops *cio__poller_pick(void);

#endif
