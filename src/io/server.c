// SPDX-License-Identifier: MIT
//
// The server helper: an accept task that spawns a handler task per
// connection (named after the peer), with an optional limit on connections
// (a semaphore taken before each accept), and graceful close.  Running out
// of descriptors (EMFILE/ENFILE) makes the accept task back off for a
// moment instead of spinning, as nginx does, and it serves again as soon as
// descriptors free up.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../include/cio.h"
#include "../internal.h"
#include "stream.h"

#define EMFILE_BACKOFF 0.05 // seconds to wait when out of descriptors

struct conn {
  cio_server *srv;          // its server
  cio_stream *stream;       // the connection
  cio_task *task;           // its handler
  struct conn *prev, *next; // the server's running connections
};

struct cio_server {
  cio_sock *listener; // listening socket
  cio_conn_fn fn;     // handler
  void *arg;          //   its argument
  cio_sem *slots;     // connection limit, or NULL
  size_t limit;       // stream limit per connection
  cio_task *acceptor; // the accept loop
  struct conn *conns; // running handlers
  size_t nconns;      // how many
  cio_event *idle;    // set when nconns drops to 0
  bool closing;       // cio_server_close() began
};

static int handle(void *arg) {
  struct conn *c = arg;
  cio_server *srv = c->srv;
  int rc = srv->fn(c->stream, srv->arg);
  cio_scope shield; // closing flushes: let it finish even when cancelled
  if (cio_shield_begin(&shield) == 0) {
    int closed = cio_stream_close(c->stream); // a failed flush only affects this peer
    (void)closed;
    cio_scope_end(&shield);
  }
  if (c->prev)
    c->prev->next = c->next;
  else
    srv->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  if (--srv->nconns == 0) cio_event_set(srv->idle);
  if (srv->slots) cio_sem_release(srv->slots);
  free(c);
  return rc;
}

static int accept_loop(void *arg) {
  cio_server *srv = arg;
  for (;;) {
    if (srv->slots) {
      int rc = cio_sem_acquire(srv->slots);
      if (rc < 0) return rc;
    }
    cio_sock *s;
    int rc = cio_sock_accept(srv->listener, &s);
    if (rc == -EMFILE || rc == -ENFILE || rc == -ENOBUFS || rc == -ENOMEM) {
      if (srv->slots) cio_sem_release(srv->slots);
      if ((rc = cio_sleep(EMFILE_BACKOFF)) < 0) return rc;
      continue;
    }
    if (rc < 0) {
      if (srv->slots) cio_sem_release(srv->slots);
      return rc; // cancelled by close, or the listener is gone
    }
    struct conn *c = calloc(1, sizeof *c);
    cio_stream *st = c ? cio_stream_new(s, srv->limit) : NULL;
    char name[64] = "conn ";
    cio_sock_peer_name(s, name + 5, sizeof name - 5);
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
    *c = (struct conn){srv, st, t, NULL, srv->conns};
    if (srv->conns) srv->conns->prev = c;
    srv->conns = c;
    if (srv->nconns++ == 0) cio_event_clear(srv->idle);
  }
}

int cio_server_start(cio_server **out, const char *host, const char *port, cio_conn_fn fn,
                     void *arg, const cio_server_opts *opts) {
  if (!out || !fn) return -EINVAL;
  cio_server *srv = calloc(1, sizeof *srv);
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
  if (rc < 0) {
    if (srv->listener) cio_sock_close(srv->listener);
    if (srv->slots) cio_sem_free(srv->slots);
    if (srv->idle) cio_event_free(srv->idle);
    free(srv);
    return rc;
  }
  *out = srv;
  return 0;
}

int cio_server_port(const cio_server *srv) { return srv ? cio_sock_port(srv->listener) : -EINVAL; }

size_t cio_server_connections(const cio_server *srv) { return srv ? srv->nconns : 0; }

int cio_server_close(cio_server *srv, double grace) {
  if (!srv || srv->closing) return -EINVAL;
  srv->closing = true;
  cio_cancel(srv->acceptor);
  int acceptor_rc = cio_join(srv->acceptor); // -ECANCELED, as asked
  (void)acceptor_rc;
  cio_sock_close(srv->listener);
  // Let the handlers finish on their own for `grace` seconds...
  int rc = cio_event_wait_for(srv->idle, grace);
  int cancelled = 0;
  if (rc == -ETIMEDOUT) {
    // ...then cancel the rest and wait for them (shielded: we must not free
    // the server while they run).
    for (struct conn *c = srv->conns; c; c = c->next) cancelled += cio_cancel(c->task) > 0;
    cio_scope shield;
    cio_shield_begin(&shield);
    rc = cio_event_wait(srv->idle);
    cio_scope_end(&shield);
  } else if (rc < 0) {
    return rc; // we were cancelled: the server stays, closed to new connections
  }
  if (srv->slots) cio_sem_free(srv->slots);
  cio_event_free(srv->idle);
  free(srv);
  return rc < 0 ? rc : cancelled;
}
