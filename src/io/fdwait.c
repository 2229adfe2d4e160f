// SPDX-License-Identifier: MIT
//
// Awaiting descriptors that cio does not own (cio_wait_readable/writable):
// the sockets of libpq, hiredis, c-ares or libcurl, which those libraries
// read and write themselves.  A descriptor is registered with the loop's
// poller only while a task waits on it, and removed as the last waiter
// leaves, so its owner may close it as soon as the wait returns.
//
// The poller takes one registration per descriptor, so a reader and a
// writer on the same descriptor share one record (always watching both
// directions).  A loop's records sit on a list that a new wait searches:
// O(descriptors being waited on), fine for the few connections such a
// library keeps; a hash table keyed by fd would fix it for thousands.  The
// list is per thread (a thread runs one loop at a time) and holds records
// only while tasks wait, so nothing is left behind when a thread exits.
//
// Edge-triggered registration misses readiness that came before it, so a
// wait first asks poll() with no timeout; the registration then reports
// every change after that.  A wait that blocks costs three system calls
// (poll, and the poller's add and del); one that finds the descriptor
// ready, one.
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>

#include "../../include/cio.h"
#include "../internal.h"
#include "../task/task.h"

enum { READ, WRITE };

struct fdwait {
  cio__io io;          // poller registration (io.fd is the descriptor)
  cio__loop *loop;     // the loop it is registered with
  cio_task *waiter[2]; // the task waiting to read, to write (NULL: none)
  struct fdwait *next; // the thread's list
};

static __thread struct fdwait *waits; // this thread's records

static void on_ready(cio__io *io, uint32_t ev) {
  struct fdwait *w = cio__container_of(io, struct fdwait, io);
  // Each waiter clears its own slot when it runs (whatever woke it).
  if ((ev & CIO__IO_READ) && w->waiter[READ]) cio__wake(w->loop, w->waiter[READ], 0);
  if ((ev & CIO__IO_WRITE) && w->waiter[WRITE]) cio__wake(w->loop, w->waiter[WRITE], 0);
}

static struct fdwait *find(cio__loop *L, int fd) {
  for (struct fdwait *w = waits; w; w = w->next)
    if (w->io.fd == fd && w->loop == L) return w;
  return NULL;
}

static void drop(cio__loop *L, struct fdwait *w) {
  cio__loop_unwatch(L, &w->io);
  struct fdwait **p = &waits;
  while (*p != w) p = &(*p)->next;
  *p = w->next;
  free(w);
}

// The record for fd, registered now if nobody waits on it yet.
static int attach(cio__loop *L, int fd, struct fdwait **out) {
  struct fdwait *w = find(L, fd);
  if (!w) {
    if (!(w = cio__calloc(1, sizeof *w))) return -ENOMEM;
    w->io.fd = fd;
    w->io.ready = on_ready;
    w->loop = L;
    int rc = cio__loop_watch(L, &w->io, CIO__IO_READ | CIO__IO_WRITE);
    if (rc < 0) {
      free(w);
      return rc; // -EEXIST: a cio_sock owns it
    }
    w->next = waits;
    waits = w;
  }
  *out = w;
  return 0;
}

static int wait_fd(int fd, double timeout, int dir, const char *fn) {
  cio__loop *L = cio__await_loop(fn);
  if (!L) return -EPERM;
  if (fd < 0) return -EBADF;
  int64_t deadline;
  if (cio__deadline_after(L, timeout, &deadline) < 0) return -EINVAL;
  int rc = cio__checkpoint(L);
  if (rc < 0) return rc;
  struct pollfd p = {.fd = fd, .events = dir == READ ? POLLIN : POLLOUT};
  int n;
  while ((n = poll(&p, 1, 0)) < 0 && errno == EINTR) {
  }
  if (n < 0) return -errno;
  if (p.revents & POLLNVAL) return -EBADF;
  if (n > 0) return 0; // ready (or hung up, or failed: the next call will not block)
  if (deadline <= cio__loop_now(L)) return -ETIMEDOUT;
  struct fdwait *w;
  if ((rc = attach(L, fd, &w)) < 0) return rc;
  if (w->waiter[dir]) return -EBUSY; // the record stays: its other waiter keeps it
  w->waiter[dir] = L->current;
  L->current->wait_obj = (const void *)(intptr_t)fd; // task dumps show the fd
  rc = cio__park(L, deadline, dir == READ ? "fd readable" : "fd writable");
  w->waiter[dir] = NULL;
  if (!w->waiter[!dir]) drop(L, w);
  return rc == CIO__PARK_DEADLINE ? -ETIMEDOUT : rc;
}

int cio_wait_readable(int fd, double timeout) {
  return wait_fd(fd, timeout, READ, "cio_wait_readable");
}

int cio_wait_writable(int fd, double timeout) {
  return wait_fd(fd, timeout, WRITE, "cio_wait_writable");
}
