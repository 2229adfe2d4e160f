// SPDX-License-Identifier: MIT
//
// The server helper: an accept task that spawns a handler task per
// connection (named after the peer), with an optional limit on connections
// (a semaphore taken before each accept), and a close that is bounded in
// time.  Running out of descriptors (EMFILE/ENFILE) makes the accept task
// back off for a moment instead of spinning, as nginx does, and it serves
// again as soon as descriptors free up.
//
// Closing stops accepting, gives the handlers their grace, then aborts
// what is left: each remaining handler is cancelled, and its connection is
// reset (SO_LINGER 0) rather than flushed, so a peer that stopped reading
// cannot pin a task, or the kernel's send queue, after the grace.  The close
// itself runs shielded: a caller already cancelled (Ctrl-C) still gives the
// grace it asked for.  Live servers are kept in a per-thread list, so a
// second close, or a call on a closed server, is -EINVAL without touching
// freed memory.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../../include/cio.h"
#include "../internal.h"
#include "../loop/loop.h"
#include "../task/task.h"
#include "server.h"
#include "sock.h"
#include "stream.h"

#define EMFILE_BACKOFF 0.05 // seconds to wait when out of descriptors

struct conn {
  cio_server *srv;          // its server
  cio_stream *stream;       // the connection
  cio_task *task;           // its handler
  struct conn *prev, *next; // the server's running connections
  cio__waiter done;         // on the handler's done queue: ends the connection
};

struct cio_server {
  cio_sock *listener;                // listening socket
  cio_conn_fn fn;                    // handler
  void *arg;                         //   its argument
  cio_sem *slots;                    // connection limit, or NULL
  size_t limit;                      // stream limit per connection
  cio_task *acceptor;                // the accept loop
  struct conn *conns;                // running handlers
  size_t nconns;                     // how many
  cio_event *idle;                   // set when nconns drops to 0
  bool closing;                      // cio_server_close() began
  bool aborting;                     // the grace is over: handlers cancelled, connections reset
  int cancelled;                     // handlers cancelled by the abort
  cio__server_closing_fn on_closing; // protocol hook (src/io/server.h), or NULL
  void *on_closing_arg;              //   its argument
  struct cio_server *live_next;      // the thread's other live servers
};

static __thread cio_server *live; // servers started on this thread and not yet freed

// True if srv is a live server of this thread (compares pointers only).
static bool is_live(const cio_server *srv) {
  for (cio_server *s = live; s; s = s->live_next)
    if (s == srv) return true;
  return false;
}

static void unlink_live(cio_server *srv) {
  for (cio_server **p = &live; *p; p = &(*p)->live_next)
    if (*p == srv) {
      *p = srv->live_next;
      return;
    }
}

// A bad handle: say so in debug mode (a second close is the usual cause).
static int bad_handle(const char *fn, const cio_server *srv) {
  if (cio__tls_loop && cio__tls_loop->debug)
    cio__warn("%s(%p): not a live server of this thread (closed already?)", fn, (const void *)srv);
  return -EINVAL;
}

static int handle(void *arg) {
  struct conn *c = arg;
  cio_server *srv = c->srv;
  int rc = srv->fn(c->stream, srv->arg);
  // Flush what the handler queued.  Not shielded: this is where a peer that
  // stopped reading would hold the task, and the close's abort must reach it.
  cio_stream_set_high_water(c->stream, 0);
  int flushed = cio_stream_drain(c->stream);
  (void)flushed; // a failed flush only affects this peer
  if (srv->aborting) {
    // Reset, so the kernel drops what is still queued for a peer that
    // does not read instead of keeping it for minutes.
    struct linger lg = {1, 0};
    (void)setsockopt(cio_sock_fd(cio_stream_sock(c->stream)), SOL_SOCKET, SO_LINGER, &lg,
                     sizeof lg);
  }
  return rc; // conn_done() closes the connection
}

// The handler's task has finished: the connection ends.  This runs whether
// or not its body ran: a task cancelled before it started (a close's abort
// right after the accept) or that got no stack (out of memory) finishes
// without running it, and its connection used to stay open and counted, so
// the close then waited for it forever.
static void conn_done(cio__waiter *w, void *from) {
  (void)from;
  struct conn *c = cio__container_of(w, struct conn, done);
  cio_server *srv = c->srv;
  cio__stream_abort(c->stream);
  if (c->prev)
    c->prev->next = c->next;
  else
    srv->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  if (--srv->nconns == 0) cio_event_set(srv->idle);
  if (srv->slots) cio_sem_release(srv->slots);
  free(c);
}

static int accept_loop(void *arg) {
  cio_server *srv = arg;
  for (;;) {
    if (srv->slots) {
      int rc = cio_sem_acquire(srv->slots);
      if (rc < 0) return rc;
    }
    cio_sock *s;
    struct sockaddr_storage peer = {0};
    int rc = cio__sock_accept(srv->listener, &s, &peer);
    if (rc == -EMFILE || rc == -ENFILE || rc == -ENOBUFS || rc == -ENOMEM) {
      if (srv->slots) cio_sem_release(srv->slots);
      if ((rc = cio_sleep(EMFILE_BACKOFF)) < 0) return rc;
      continue;
    }
    if (rc < 0) {
      if (srv->slots) cio_sem_release(srv->slots);
      return rc; // cancelled by close, or the listener is gone
    }
    struct conn *c = cio__calloc(1, sizeof *c);
    cio_stream *st = c ? cio_stream_new(s, srv->limit) : NULL;
    char name[64] = "conn ";
    cio__sock_addr_name(&peer, name + 5, sizeof name - 5);
    cio_task *t = st ? cio_spawn_named(name, handle, c) : NULL;
    if (!t) {
      if (st)
        cio__stream_abort(st); // nothing was written: no flush needed
      else
        cio_sock_close(s);
      free(c);
      if (srv->slots) cio_sem_release(srv->slots);
      continue;
    }
    cio_detach(t);
    *c = (struct conn){srv, st, t, NULL, srv->conns, {.notify = conn_done}};
    cio__waitq_push(&cio__rec(t)->done_waiters, &c->done);
    if (srv->conns) srv->conns->prev = c;
    srv->conns = c;
    if (srv->nconns++ == 0) cio_event_clear(srv->idle);
  }
}

int cio_server_start(cio_server **out, const char *host, const char *port, cio_conn_fn fn,
                     void *arg, const cio_server_opts *opts) {
  if (!out || !fn) return -EINVAL;
  cio_server *srv = cio__calloc(1, sizeof *srv);
  if (!srv) return -ENOMEM;
  srv->fn = fn;
  srv->arg = arg;
  srv->limit = opts ? opts->limit : 0;
  int rc =
      cio_tcp_listen(&srv->listener, host, port, opts ? opts->backlog : 0, opts ? opts->flags : 0);
  if (rc == 0 && opts && opts->max_connections &&
      !(srv->slots = cio_sem_new((int64_t)opts->max_connections)))
    rc = -ENOMEM;
  if (rc == 0 && !(srv->idle = cio_event_new())) rc = -ENOMEM;
  if (rc == 0) cio_event_set(srv->idle);
  if (rc == 0 && !(srv->acceptor = cio_spawn_named("server accept", accept_loop, srv))) rc = -errno;
  // Its stack now: an acceptor that could not start (out of memory) would
  // leave a server that listens and never answers.
  if (rc == 0 && cio__task_take_stack(cio__tls_loop, cio__rec(srv->acceptor)) < 0) {
    cio_cancel(srv->acceptor); // it never runs
    cio_detach(srv->acceptor);
    rc = -ENOMEM;
  }
  if (rc < 0) {
    if (srv->listener) cio_sock_close(srv->listener);
    if (srv->slots) cio_sem_free(srv->slots);
    if (srv->idle) cio_event_free(srv->idle);
    free(srv);
    return rc;
  }
  srv->live_next = live;
  live = srv;
  *out = srv;
  return 0;
}

int cio_server_port(const cio_server *srv) {
  if (!is_live(srv)) return bad_handle("cio_server_port", srv);
  return cio_sock_port(srv->listener);
}

size_t cio_server_connections(const cio_server *srv) { return is_live(srv) ? srv->nconns : 0; }

void cio__server_on_close(cio_server *srv, cio__server_closing_fn fn, void *arg) {
  srv->on_closing = fn;
  srv->on_closing_arg = arg;
}

bool cio__server_aborting(const cio_server *srv) { return srv->aborting; }

void cio__server_abort(cio_server *srv) {
  if (!srv->closing) return;
  srv->aborting = true;
  for (struct conn *c = srv->conns; c; c = c->next) srv->cancelled += cio_cancel(c->task) > 0;
}

int cio_server_close(cio_server *srv, double grace) {
  if (!is_live(srv) || srv->closing) return bad_handle("cio_server_close", srv);
  if (isnan(grace) || grace < 0) return -EINVAL;
  // One of its own connections' tasks (a handler's /shutdown): the close
  // would wait for that task, which waits for the close, for ever.
  cio_task *self = cio_current();
  for (struct conn *c = srv->conns; c && self; c = c->next)
    if (c->task == self) return -EDEADLK;
  // Shielded from the caller's cancellation and timeouts: the grace asked
  // for is given, then the rest is aborted, so this always ends (a caller
  // cancelled meanwhile sees it at its next await).
  cio_scope shield;
  int rc = cio_shield_begin(&shield);
  if (rc < 0) return rc; // outside a task
  srv->closing = true;
  cio_cancel(srv->acceptor);
  int acceptor_rc = cio_join(srv->acceptor); // -ECANCELED, as asked
  (void)acceptor_rc;
  cio_sock_close(srv->listener);
  if (srv->on_closing) srv->on_closing(srv->on_closing_arg, grace);
  // Let the handlers finish on their own for `grace` seconds...
  rc = cio_event_wait_for(srv->idle, grace);
  // ...then cancel the rest and wait for them: cancelled, they no longer
  // flush, and their connections are reset.
  if (rc == -ETIMEDOUT) cio__server_abort(srv);
  if (rc < 0) rc = cio_event_wait(srv->idle);
  (void)cio_scope_end(&shield);
  unlink_live(srv);
  if (srv->slots) cio_sem_free(srv->slots);
  cio_event_free(srv->idle);
  int cancelled = srv->cancelled;
  free(srv);
  return rc < 0 ? rc : cancelled;
}
