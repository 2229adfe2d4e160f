// SPDX-License-Identifier: MIT
//
// The epoll backend: one epoll instance per loop, edge-triggered
// registrations, and an eventfd that other threads write to wake the loop.
//
// Under ThreadSanitizer, signals reach the loop's thread only while it
// waits in epoll.  TSan runs a signal's handler at once only inside a call
// it knows to block; anywhere else it keeps the signal for a later
// intercepted call, and with fibers (each task one) that later call could
// be long in coming: a TSan build of fastapi_demo ignored a Ctrl-C in 7 of
// 10 runs with other TSan tests beside it (tests/http_clients.py; test_pg
// demo_service hung so in CI), and in 0 of 6 with this.  So the loop's
// thread blocks the asynchronous signals and epoll_pwait() opens them for
// the wait, which TSan intercepts as blocking.  Other builds take signals
// anywhere, as before; children start with none blocked (process.c).
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../alloc.h"
#include "../context/valgrind_compat.h"
#include "../tune.h"
#include "poller.h"

#define MAX_EVENTS CIO__TUNED(256, 2) // events taken per epoll_pwait2() call

#if defined(__SANITIZE_THREAD__)
#define SIGNALS_IN_WAIT 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SIGNALS_IN_WAIT 1
#endif
#endif

struct epoll_state {
  int epfd;                              // the epoll instance
  int wakefd;                            // eventfd written by wakeup()
  struct epoll_event events[MAX_EVENTS]; // buffer for one poll()
#ifdef SIGNALS_IN_WAIT
  sigset_t open; // the thread's mask before: what the wait lets in
#endif
};

// Set once epoll_pwait2() is known to be missing (process-wide: loops on
// other threads share it).  Under valgrind it is not tried at all: valgrind
// 3.19 would warn about it in every process.
static atomic_bool no_pwait2;

static int epoll_init(void **state) {
  struct epoll_state *s = cio__calloc(1, sizeof *s);
  if (!s) return -ENOMEM;
  s->epfd = epoll_create1(EPOLL_CLOEXEC);
  s->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  if (s->epfd < 0 || s->wakefd < 0 || epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->wakefd, &ev) < 0) {
    int err = -errno;
    if (s->epfd >= 0) close(s->epfd);
    if (s->wakefd >= 0) close(s->wakefd);
    free(s);
    return err;
  }
  if (RUNNING_ON_VALGRIND) atomic_store_explicit(&no_pwait2, true, memory_order_relaxed);
#ifdef SIGNALS_IN_WAIT
  // Every signal but the synchronous ones (a fault, or the SIGPIPE of a
  // write, is handled where it happens: sock.c takes a write's SIGPIPE back)
  // and the watchdog's SIGURG, sent to the thread while it runs.
  sigset_t async;
  sigfillset(&async);
  static const int keep[] = {SIGSEGV, SIGBUS,  SIGILL,  SIGFPE, SIGTRAP,
                             SIGSYS,  SIGABRT, SIGPIPE, SIGURG};
  for (size_t i = 0; i < sizeof keep / sizeof *keep; i++) sigdelset(&async, keep[i]);
  pthread_sigmask(SIG_BLOCK, &async, &s->open);
#endif
  *state = s;
  return 0;
}

static void epoll_fini(void *state) {
  struct epoll_state *s = state;
#ifdef SIGNALS_IN_WAIT
  pthread_sigmask(SIG_SETMASK, &s->open, NULL);
#endif
  close(s->epfd);
  close(s->wakefd);
  free(s);
}

static uint32_t to_epoll(uint32_t events) {
  return EPOLLET | EPOLLRDHUP | (events & CIO__IO_READ ? EPOLLIN : 0u) |
         (events & CIO__IO_WRITE ? EPOLLOUT : 0u);
}

static int epoll_add(void *state, cio__io *io, uint32_t events) {
  struct epoll_state *s = state;
  struct epoll_event ev = {.events = to_epoll(events), .data.ptr = io};
  if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, io->fd, &ev) < 0) return -errno;
  io->events = events;
  return 0;
}

static int epoll_del(void *state, cio__io *io) {
  struct epoll_state *s = state;
  if (epoll_ctl(s->epfd, EPOLL_CTL_DEL, io->fd, NULL) < 0) return -errno;
  io->events = 0;
  return 0;
}

// epoll_pwait2 (Linux 5.11) takes a nanosecond timeout; where it is missing
// (older kernels, valgrind 3.19) epoll_wait gets the timeout rounded up to
// whole milliseconds, so a timer is never reached early.
static int wait_events(struct epoll_state *s, int64_t timeout_ns) {
#ifndef SIGNALS_IN_WAIT
  if (!atomic_load_explicit(&no_pwait2, memory_order_relaxed)) {
    struct timespec ts, *tp = NULL;
    if (timeout_ns >= 0) {
      ts.tv_sec = timeout_ns / 1000000000;
      ts.tv_nsec = timeout_ns % 1000000000;
      tp = &ts;
    }
    int n = epoll_pwait2(s->epfd, s->events, MAX_EVENTS, tp, NULL);
    if (n >= 0 || errno != ENOSYS) return n;
    atomic_store_explicit(&no_pwait2, true, memory_order_relaxed);
  }
#endif
  int ms = timeout_ns < 0                               ? -1
           : timeout_ns >= (int64_t)INT32_MAX * 1000000 ? INT32_MAX
                                                        : (int)((timeout_ns + 999999) / 1000000);
#ifdef SIGNALS_IN_WAIT
  return epoll_pwait(s->epfd, s->events, MAX_EVENTS, ms, &s->open);
#else
  return epoll_wait(s->epfd, s->events, MAX_EVENTS, ms);
#endif
}

static int epoll_poll(void *state, int64_t timeout_ns) {
  struct epoll_state *s = state;
  int n = wait_events(s, timeout_ns);
  if (n < 0) return errno == EINTR ? 0 : -errno;
  int reported = 0;
  for (int i = 0; i < n; i++) {
    cio__io *io = s->events[i].data.ptr;
    uint32_t e = s->events[i].events;
    if (!io) { // the wakeup eventfd
      uint64_t v;
      ssize_t r;
      while ((r = read(s->wakefd, &v, sizeof v)) > 0 || (r < 0 && errno == EINTR)) {
      }
      reported++; // a busy-polling loop must see it: the eventfd is read now
      continue;
    }
    uint32_t ev = 0;
    if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) ev |= CIO__IO_READ;
    if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) ev |= CIO__IO_WRITE;
    if (e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) ev |= CIO__IO_HUP;
    io->ready(io, ev & (io->events | CIO__IO_HUP | (e & (EPOLLHUP | EPOLLERR) ? 3u : 0u)));
    reported++;
  }
  return reported;
}

static int epoll_wakeup(void *state) {
  struct epoll_state *s = state;
  uint64_t one = 1;
  while (write(s->wakefd, &one, sizeof one) < 0) {
    if (errno == EAGAIN) return 0; // the counter is full: the loop wakes anyway
    if (errno != EINTR) return -errno;
  }
  return 0;
}

const cio__poller_ops cio__poller_epoll = {
    .name = "epoll",
    .init = epoll_init,
    .fini = epoll_fini,
    .add = epoll_add,
    .del = epoll_del,
    .poll = epoll_poll,
    .wakeup = epoll_wakeup,
};
