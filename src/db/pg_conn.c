// SPDX-License-Identifier: MIT
//
// A PostgreSQL connection driven by cio's loop: libpq works in its
// non-blocking mode, and every time it would block the task awaits libpq's
// socket (the descriptor stays libpq's).  While connecting (the socket may
// change between steps) that is cio_wait_readable()/cio_wait_writable();
// once connected the socket stays registered with the loop's poller until
// it closes, so a wait costs one poll() when the answer is there already
// and nothing more when it is not: a query is a send, a poll and a read
// (cio_wait_readable's registration per wait added two epoll_ctl calls).  In order: connecting
// (PQconnectPoll), sending (PQflush), reading results (PQconsumeInput, PQisBusy, PQgetResult), the
// recovery of an interrupted query (cancel, drain), failures, notifications, closing.
//
// A limit: while libpq cannot send all of a query (PQflush says 1) the task
// awaits writability only, reading what the server sent meanwhile at each
// wake-up; a server that fills both directions at once (huge parameters
// while it sends many notices) would stall.  libpq's docs ask for a wait on
// both directions; cio's one-direction waits would need a second task.
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../include/cio.h"
#include "../../include/cio/io.h"
#include "../../include/cio/net.h"
#include "../alloc.h"
#include "../sync/quarantine.h"
#include "../task/task.h"
#include "pg.h"

static _Thread_local char connect_error[512]; // cio_pg_connect_error()

// ---------------------------------------------------------------- connecting

const char *cio_pg_connect_error(void) { return connect_error; }

static int connect_failed(PGconn *pq) {
  snprintf(connect_error, sizeof connect_error, "%s", pq ? PQerrorMessage(pq) : "out of memory");
  size_t n = strlen(connect_error);
  while (n && connect_error[n - 1] == '\n') connect_error[--n] = '\0';
  PQfinish(pq);
  return CIO_PG_CONNECT;
}

// Awaits each step PQconnectPoll asks for; the socket may change between
// steps (another address, another host), so it is read again each time.
static int poll_connect(PGconn *pq) {
  PostgresPollingStatusType st = PGRES_POLLING_WRITING;
  for (;;) {
    if (st == PGRES_POLLING_OK) return 0;
    if (st == PGRES_POLLING_FAILED) return CIO_PG_CONNECT;
    int fd = PQsocket(pq);
    if (fd < 0) return CIO_PG_CONNECT;
    int rc = st == PGRES_POLLING_READING ? cio_wait_readable(fd, CIO_FOREVER)
                                         : cio_wait_writable(fd, CIO_FOREVER);
    if (rc < 0) return rc;
    st = PQconnectPoll(pq);
  }
}

// The server's notices (NOTICE, WARNING) are dropped: libpq's default
// prints them to stderr, which a library must not do behind its caller.
static void drop_notice(void *arg, const char *message) { (void)arg, (void)message; }

int cio_pg_connect(cio_pg **out, const char *conninfo, double timeout) {
  if (!out || !conninfo || isnan(timeout)) return -EINVAL;
  if (!cio_current()) return -EPERM;
  connect_error[0] = '\0';
  cio_pg *c = cio__calloc(1, sizeof *c);
  if (!c) return -ENOMEM;
  const char *keys[] = {"dbname", NULL}, *values[] = {conninfo, NULL};
  PGconn *pq = PQconnectStartParams(keys, values, 1);
  if (!pq || PQstatus(pq) == CONNECTION_BAD) {
    free(c);
    return pq ? connect_failed(pq) : -ENOMEM;
  }
  cio_scope scope;
  int rc = cio_timeout_begin(&scope, timeout);
  if (rc == 0) {
    rc = poll_connect(pq);
    int end = cio_scope_end(&scope);
    if (rc >= 0 && end < 0) rc = end;
  }
  if (rc == 0 && PQsetnonblocking(pq, 1) != 0) rc = CIO_PG_CONNECT;
  if (rc < 0) {
    free(c);
    if (rc == CIO_PG_CONNECT) return connect_failed(pq);
    PQfinish(pq);
    return rc;
  }
  PQsetNoticeProcessor(pq, drop_notice, NULL);
  c->magic = CIO__PG_MAGIC;
  c->pq = pq;
  c->stmt_capacity = CIO__PG_DEFAULT_STATEMENTS;
  c->opened_at = c->idle_since = cio_now();
  *out = c;
  return 0;
}

// ---------------------------------------------------------------- the socket's registration

enum { READ, WRITE };

static void on_ready(cio__io *io, uint32_t ev) {
  cio_pg *c = cio__container_of(io, cio_pg, watch);
  cio__loop *L = cio__tls_loop;
  if ((ev & CIO__IO_READ) && c->waiter[READ]) cio__wake(L, c->waiter[READ], 0);
  if ((ev & CIO__IO_WRITE) && c->waiter[WRITE]) cio__wake(L, c->waiter[WRITE], 0);
}

// Takes libpq's socket out of the poller before it closes.  libpq closes
// it itself when a read finds the connection broken (PQsocket then says
// -1): the kernel has dropped the registration with it, and the number may
// belong to another socket by now, so only the loop's count is corrected.
// (Registered with a loop that has ended, it went with that loop's epoll.)
static void unwatch(cio_pg *c) {
  cio__loop *L = cio__tls_loop;
  if (c->watch_loop && L && L->serial == c->watch_loop) {
    if (c->pq && PQsocket(c->pq) == c->watch.fd)
      cio__loop_unwatch(L, &c->watch);
    else
      L->watched--;
  }
  c->watch_loop = 0;
}

// Registers fd with this loop's poller unless it is already.  Returns 0,
// or a negative errno (the caller then waits with cio_wait_*()).
static int watch(cio__loop *L, cio_pg *c, int fd) {
  if (c->watch_loop == L->serial && c->watch.fd == fd) return 0; // libpq never reopens it
  unwatch(c);
  c->watch = (cio__io){.fd = fd, .ready = on_ready};
  int rc = cio__loop_watch(L, &c->watch, CIO__IO_READ | CIO__IO_WRITE);
  if (rc == 0) c->watch_loop = L->serial;
  return rc;
}

// Awaits fd readable (or writable).  Edge-triggered registration reports
// changes, not states, and an edge may have come while nobody waited: a
// poll() with no timeout asks first.
static int wait_fd(cio_pg *c, int fd, int dir) {
  cio__loop *L = cio__tls_loop;
  if (!L || watch(L, c, fd) < 0)
    return dir == READ ? cio_wait_readable(fd, CIO_FOREVER) : cio_wait_writable(fd, CIO_FOREVER);
  int rc = cio__checkpoint(L);
  if (rc < 0) return rc;
  struct pollfd p = {.fd = fd, .events = dir == READ ? POLLIN : POLLOUT};
  int n;
  while ((n = poll(&p, 1, 0)) < 0 && errno == EINTR) {
  }
  if (n != 0) return 0; // ready, hung up or failed: libpq's next call says which
  if (c->waiter[dir]) return -EBUSY;
  c->waiter[dir] = L->current;
  L->current->wait_obj = (const void *)(intptr_t)fd; // task dumps show the fd
  rc = cio__park(L, CIO__NEVER, dir == READ ? "pg socket readable" : "pg socket writable");
  c->waiter[dir] = NULL;
  return rc;
}

// ---------------------------------------------------------------- failures

void cio__pg_clear_error(cio_pg *c) {
  c->sqlstate[0] = '\0';
  c->plan_changed = false;
  c->fatal = false;
  free(c->error);
  c->error = NULL;
}

void cio__pg_failure_keep(cio_pg *c, cio__pg_failure *f) {
  memcpy(f->sqlstate, c->sqlstate, sizeof f->sqlstate);
  f->error = c->error;
  c->error = NULL;
}

void cio__pg_failure_restore(cio_pg *c, cio__pg_failure *f) {
  free(c->error);
  c->error = f->error;
  memcpy(c->sqlstate, f->sqlstate, sizeof c->sqlstate);
}

static void set_error(cio_pg *c, const char *msg) {
  free(c->error);
  c->error = cio__strdup(msg ? msg : "");
  size_t n = c->error ? strlen(c->error) : 0;
  while (n && c->error[n - 1] == '\n') c->error[--n] = '\0';
}

void cio__pg_stream_forget(cio_pg *c) {
  c->streaming = false;
  PQclear(c->stream_first);
  c->stream_first = NULL;
}

void cio__pg_break(cio_pg *c) {
  if (!c->pq) return;
  unwatch(c);
  PQfinish(c->pq);
  c->pq = NULL;
  cio__pg_stream_forget(c);
  c->copying = 0;
  c->tx_depth = 0;
}

int cio__pg_fail_conn(cio_pg *c, int code) {
  if (c->pq && !c->fatal) set_error(c, PQerrorMessage(c->pq));
  if (code == CIO_PG_CONN_LOST) cio__pg_break(c);
  return code;
}

int cio__pg_fail(cio_pg *c, const PGresult *res) {
  const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
  snprintf(c->sqlstate, sizeof c->sqlstate, "%s", state ? state : "");
  // A prepared statement whose table changed shape: 0A000 raised where the
  // server revalidates a cached plan (the function's name, unlike the
  // message, is not translated).
  const char *where = PQresultErrorField(res, PG_DIAG_SOURCE_FUNCTION);
  c->plan_changed =
      state && strcmp(state, "0A000") == 0 && where && strcmp(where, "RevalidateCachedQuery") == 0;
  // FATAL (or PANIC): the server ends the session, and says why.
  const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
  c->fatal = severity && (strcmp(severity, "FATAL") == 0 || strcmp(severity, "PANIC") == 0);
  set_error(c, PQresultErrorMessage(res));
  if (PQstatus(c->pq) == CONNECTION_BAD) {
    cio__pg_break(c);
    return CIO_PG_CONN_LOST;
  }
  return state ? CIO_PG_ERROR : CIO_PG_PROTOCOL;
}

int cio__pg_fail_as(cio_pg *c, const char *state, const char *msg) {
  snprintf(c->sqlstate, sizeof c->sqlstate, "%s", state);
  set_error(c, msg);
  return CIO_PG_ERROR;
}

bool cio_pg_is_ok(const cio_pg *c) { return c && c->magic == CIO__PG_MAGIC && c->pq; }
const char *cio_pg_sqlstate(const cio_pg *c) { return c ? c->sqlstate : ""; }
const char *cio_pg_error_message(const cio_pg *c) { return c && c->error ? c->error : ""; }
int cio_pg_backend_pid(const cio_pg *c) { return c && c->pq ? PQbackendPID(c->pq) : 0; }

int cio__pg_check_idle(cio_pg *c) {
  if (!c || c->magic != CIO__PG_MAGIC) return -EINVAL;
  if (!c->pq) {
    set_error(c, "the connection is broken");
    return CIO_PG_CONN_LOST;
  }
  // Another task's call under way (a query in flight, a wait for
  // notifications): refused before anything is sent, so that the other
  // call's answer is not taken or its wait on the socket disturbed.
  if (c->streaming || c->copying || c->notification_wait ||
      PQtransactionStatus(c->pq) == PQTRANS_ACTIVE)
    return -EBUSY;
  cio__pg_clear_error(c);
  return 0;
}

int cio__pg_interrupted(void) {
  cio__loop *L = cio__tls_loop;
  return L && L->current ? cio__checkpoint(L) : 0;
}

int cio__pg_check(cio_pg *c) {
  int rc = cio__pg_check_idle(c);
  // A task already cancelled, or past its scope's deadline, sends nothing:
  // a statement run (and committed) and then reported cancelled was the
  // worst of both.
  if (rc == 0) rc = cio__pg_interrupted();
  if (rc == 0 && c->reset_owed) rc = cio__pg_reset_now(c);
  return rc;
}

// ---------------------------------------------------------------- notifications

void cio__pg_drop_notifications(cio_pg *c) {
  while (c->notes_count) {
    free(c->notes[c->notes_head]);
    c->notes_head = (c->notes_head + 1) % c->notes_cap;
    c->notes_count--;
  }
}

void cio__pg_take_notifications(cio_pg *c) {
  PGnotify *n;
  while (c->pq && (n = PQnotifies(c->pq))) {
    size_t lc = strlen(n->relname) + 1, lp = strlen(n->extra) + 1;
    cio_pg_notification *note = cio__malloc(sizeof *note + lc + lp);
    if (note && c->notes_count == c->notes_cap) {
      size_t cap = c->notes_cap ? 2 * c->notes_cap : 16;
      cio_pg_notification **ring = cio__malloc(cap * sizeof *ring);
      if (ring) {
        for (size_t i = 0; i < c->notes_count; i++)
          ring[i] = c->notes[(c->notes_head + i) % c->notes_cap];
        free(c->notes);
        c->notes = ring;
        c->notes_head = 0;
        c->notes_cap = cap;
      }
    }
    if (!note || c->notes_count == c->notes_cap) { // out of memory: this one is lost
      free(note);
      PQfreemem(n);
      continue;
    }
    char *channel = (char *)(note + 1), *payload = channel + lc;
    memcpy(channel, n->relname, lc);
    memcpy(payload, n->extra, lp);
    note->pid = n->be_pid;
    note->channel = channel;
    note->payload = payload;
    c->notes[(c->notes_head + c->notes_count++) % c->notes_cap] = note;
    PQfreemem(n);
  }
}

// ---------------------------------------------------------------- sending and reading

// Awaits the socket in one direction.  CIO_PG_CONN_LOST without a socket.
static int wait_socket(cio_pg *c, bool writable) {
  int fd = PQsocket(c->pq);
  if (fd < 0) return cio__pg_fail_conn(c, CIO_PG_CONN_LOST);
  return wait_fd(c, fd, writable ? WRITE : READ);
}

int cio__pg_wait_readable(cio_pg *c) {
  int fd = PQsocket(c->pq);
  return fd < 0 ? CIO_PG_CONN_LOST : wait_fd(c, fd, READ);
}

// Reads what the socket holds into libpq.  Does not await.
static int consume(cio_pg *c) {
  if (!PQconsumeInput(c->pq)) return cio__pg_fail_conn(c, CIO_PG_CONN_LOST);
  cio__pg_take_notifications(c);
  return 0;
}

// Awaits until libpq has sent everything; no recovery.
static int flush_raw(cio_pg *c) {
  for (;;) {
    int r = PQflush(c->pq);
    if (r == 0) return 0;
    if (r < 0) return cio__pg_fail_conn(c, CIO_PG_CONN_LOST);
    int rc = wait_socket(c, true);
    if (rc < 0) return rc;
    if ((rc = consume(c)) < 0) return rc;
  }
}

// Awaits until a result can be taken without blocking; no recovery.
static int await_result(cio_pg *c) {
  while (PQisBusy(c->pq)) {
    int rc = wait_socket(c, false);
    if (rc < 0) return rc;
    if ((rc = consume(c)) < 0) return rc;
  }
  return 0;
}

// An await cut short by the task (cancelled, timed out): the query must be
// brought to its end before the error goes up.
static bool interrupted(int rc) { return rc == -ECANCELED || rc == -ETIMEDOUT; }

int cio__pg_flush(cio_pg *c) {
  int rc = flush_raw(c);
  if (interrupted(rc) && cio__pg_recover(c) < 0) return rc;
  return rc;
}

int cio__pg_next_result(cio_pg *c, PGresult **out) {
  *out = NULL; // (also on failure: a caller may PQclear it)
  int rc = await_result(c);
  if (rc < 0) {
    if (interrupted(rc)) (void)cio__pg_recover(c);
    return rc;
  }
  *out = PQgetResult(c->pq);
  return 0;
}

int cio__pg_copy_in_end(cio_pg *c, const char *error) {
  for (;;) {
    int r = PQputCopyEnd(c->pq, error);
    if (r > 0) return flush_raw(c);
    if (r < 0) return cio__pg_fail_conn(c, CIO_PG_CONN_LOST);
    int rc = wait_socket(c, true); // no room in libpq's buffer: send some first
    if (rc < 0) return rc;
    if (PQflush(c->pq) < 0) return cio__pg_fail_conn(c, CIO_PG_CONN_LOST);
  }
}

int cio__pg_copy_out_drain(cio_pg *c) {
  for (;;) {
    char *buf;
    int r = PQgetCopyData(c->pq, &buf, 1);
    if (r > 0) {
      PQfreemem(buf);
      continue;
    }
    if (r == -1) return 0;
    if (r == -2) return cio__pg_fail_conn(c, CIO_PG_CONN_LOST);
    int rc = wait_socket(c, false);
    if (rc < 0) return rc;
    if ((rc = consume(c)) < 0) return rc;
  }
}

// Ends a COPY met where nobody reads or writes its data: COPY FROM is
// failed with `why`, COPY TO's data read and dropped.
static int st_copy(cio_pg *c, ExecStatusType st, const char *why) {
  return st == PGRES_COPY_IN ? cio__pg_copy_in_end(c, why) : cio__pg_copy_out_drain(c);
}

// A command tag of a statement that can share an implicit transaction with
// others (not BEGIN, COMMIT, VACUUM, CALL, DO, ...): "SELECT 1", "INSERT 0 1".
static bool plain_tag(const char *tag) {
  static const char *const plain[] = {"SELECT ", "INSERT ", "UPDATE ", "DELETE ", "MERGE "};
  for (size_t i = 0; i < sizeof plain / sizeof *plain; i++)
    if (strncmp(tag, plain[i], strlen(plain[i])) == 0) return true;
  return false;
}

void cio__pg_saw_tag(cio_pg *c, const char *tag) {
  if (tag[0] != 'D' || (strncmp(tag, "DEALLOCATE", 10) != 0 && strcmp(tag, "DISCARD ALL") != 0))
    return;
  c->reset_prepared = false;
  c->reset_generation++; // (one of the old names may still be taken)
}

int cio__pg_collect(cio_pg *c, PGresult **rows, int64_t *affected) {
  int first = 0;
  c->last_plain = c->last_rollback = false;
  PGresult *res, *kept = NULL;
  for (;;) {
    int rc = cio__pg_next_result(c, &res);
    if (rc < 0) {
      PQclear(kept);
      return rc;
    }
    if (!res) break;
    switch (PQresultStatus(res)) {
    case PGRES_TUPLES_OK:
    case PGRES_SINGLE_TUPLE:
      if (rows) {
        PQclear(kept);
        kept = res;
        res = NULL;
      }
      /* fall through */
    case PGRES_COMMAND_OK:
      cio__pg_saw_tag(c, PQcmdStatus(res ? res : kept));
      c->last_plain = plain_tag(PQcmdStatus(res ? res : kept));
      c->last_rollback = strcmp(PQcmdStatus(res ? res : kept), "ROLLBACK") == 0;
      if (affected && res)
        *affected = strtoll(PQcmdTuples(res), NULL, 10);
      else if (affected)
        *affected = strtoll(PQcmdTuples(kept), NULL, 10);
      break;
    case PGRES_EMPTY_QUERY: break;
    case PGRES_COPY_IN: // not through cio_pg_copy_*: end it so that the connection is idle again
    case PGRES_COPY_OUT: {
      int rc = st_copy(c, PQresultStatus(res), "use cio_pg_copy_in_begin() for COPY FROM STDIN");
      if (!first) first = rc < 0 ? rc : CIO_PG_PROTOCOL;
      break;
    }
    default:
      if (!first) first = cio__pg_fail(c, res);
      break;
    }
    PQclear(res);
    if (!c->pq) break; // broken by a failure
  }
  if (first < 0 || !rows) {
    PQclear(kept);
    return first;
  }
  *rows = kept;
  return 0;
}

// ---------------------------------------------------------------- recovery

// A cancel request on a worker thread: PQcancel connects to the server and
// waits for it to act (libpq 15 has no non-blocking cancel).  The PGcancel is
// the call's own, freed when the thread is done even if the task stopped
// waiting.
static void *send_cancel(void *arg) {
  char err[256];
  return PQcancel(arg, err, sizeof err) ? arg : NULL;
}

static void free_cancel(void *arg, void *unclaimed) {
  (void)unclaimed;
  PQfreeCancel(arg);
}

// Reads and drops results until the query is over (in pipeline mode:
// until the pipeline's sync, and leaves the mode).  With `block` false it
// stops (returning 1) where it would have to wait.
static int drain(cio_pg *c, bool block) {
  for (;;) {
    if (!block && PQisBusy(c->pq)) return 1;
    int rc = await_result(c);
    if (rc < 0) return rc;
    PGresult *res = PQgetResult(c->pq);
    if (!res) { // the end of one query; in a pipeline, maybe not the last
      if (PQpipelineStatus(c->pq) == PQ_PIPELINE_OFF || PQexitPipelineMode(c->pq)) return 0;
      continue;
    }
    ExecStatusType st = PQresultStatus(res);
    PQclear(res);
    if (st == PGRES_COPY_OUT && !block) return 1; // its data may be long: cancel first
    if ((st == PGRES_COPY_IN || st == PGRES_COPY_OUT) && (rc = st_copy(c, st, "cancelled")) < 0)
      return rc;
    if (st == PGRES_PIPELINE_SYNC && PQexitPipelineMode(c->pq)) return 0;
    if (PQstatus(c->pq) == CONNECTION_BAD) return cio__pg_fail_conn(c, CIO_PG_CONN_LOST);
  }
}

int cio__pg_recover(cio_pg *c) {
  if (!c->pq) return CIO_PG_CONN_LOST;
  cio_scope shield, bound;
  (void)cio_shield_begin(&shield);
  (void)cio_timeout_begin(&bound, CIO__PG_RECOVER_SECONDS);
  int rc = flush_raw(c);
  if (rc == 0 && (rc = consume(c)) == 0) rc = drain(c, false);
  if (rc == 1) { // the server is still at it: cancel, then read what it sends
    PGcancel *cancel = PQgetCancel(c->pq);
    rc = cancel ? cio_to_thread_owned(send_cancel, cancel, free_cancel, NULL) : -ENOMEM;
    if (rc == 0 || rc == -ENOMEM || rc == -EAGAIN) rc = drain(c, true);
  }
  (void)cio_scope_end(&bound);
  (void)cio_scope_end(&shield);
  cio__pg_stream_forget(c);
  c->copying = 0;
  if (rc < 0 || PQstatus(c->pq) == CONNECTION_BAD) {
    if (c->pq && PQstatus(c->pq) != CONNECTION_BAD && !c->fatal) // else the message says why
      set_error(c, "the query could not be cancelled in time: connection closed");
    cio__pg_break(c);
    return CIO_PG_CONN_LOST;
  }
  if (PQtransactionStatus(c->pq) == PQTRANS_IDLE) c->tx_depth = 0;
  return 0;
}

int cio__pg_pipeline_end(cio_pg *c, int rc) {
  PGresult *sync = NULL;
  if (rc == 0) rc = cio__pg_next_result(c, &sync);
  if (rc == 0) {
    ExecStatusType st = sync ? PQresultStatus(sync) : PGRES_FATAL_ERROR;
    if (sync && st == PGRES_FATAL_ERROR)
      rc = cio__pg_fail(c, sync); // a FATAL in its place: the server is going away
    else if (st != PGRES_PIPELINE_SYNC || !PQexitPipelineMode(c->pq))
      rc = CIO_PG_PROTOCOL;
  }
  PQclear(sync);
  if (rc < 0 && c->pq && PQpipelineStatus(c->pq) != PQ_PIPELINE_OFF) (void)cio__pg_recover(c);
  if ((rc == CIO_PG_ERROR || rc == CIO_PG_PROTOCOL) && !c->pq) rc = CIO_PG_CONN_LOST;
  return rc;
}

// ---------------------------------------------------------------- closing

int cio_pg_close(cio_pg *c) {
  if (!c || c->magic != CIO__PG_MAGIC) return cio__bad_handle("cio_pg_close", "cio_pg", c);
  c->magic = 0;
  cio__pg_break(c);
  for (cio__pg_stmt *s = c->lru_head, *next; s; s = next) {
    next = s->next;
    free(s);
  }
  for (size_t i = 0; i < c->notes_count; i++) free(c->notes[(c->notes_head + i) % c->notes_cap]);
  free(c->notes);
  free(c->error);
  cio__quarantine(c); // a second close reads the cleared magic
  return 0;
}
