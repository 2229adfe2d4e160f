// SPDX-License-Identifier: MIT
//
// A pool of PostgreSQL connections (asyncpg's create_pool).  A semaphore of
// max_size permits is the FIFO queue of acquirers: a task holds a permit
// from acquire to release, so connections in use (or being opened) never
// exceed max_size, and idle ones are only opened when none is idle.  Idle
// connections wait in a queue, the one released longest ago handed out
// first.
//
// The session reset.  At release a transaction left open is rolled back at
// once; the rest of the reset (CIO__PG_RESET_SQL: cursors, LISTEN, settings,
// advisory locks) is owed by the connection and goes out with its next
// statement, in the same write (a transaction of its own, then the
// statement's) when that statement is a cached SELECT or DML (pg_query.c's
// run_with_reset), else just before it.  The server thus wakes once per query, not twice: with
// the server on one core, a reset round trip of its own per release costs
// the server about as much as the query itself (a wakeup and a context
// switch of the backend each).  The next user always finds the session
// reset; what the previous user left lasts at most about RESET_DELAY after
// release (the maintenance task resets connections idle that long).  A
// custom opts.reset_sql is sent at release instead, its answer read by the
// next acquirer.
//
// Maintenance: a task per pool (maintain) sleeps until something is due:
// an owed reset older than RESET_DELAY, an idle connection past max_idle
// (while the pool holds more than min_size) or past max_lifetime, a look
// at the idle sockets (every health_check_after: a connection the server
// closed is closed), or fewer than min_size connections (it opens them,
// retrying every RETRY_SECONDS while that fails).  It takes a permit for what it does, so the pool
// never exceeds max_size, and takes the connection it works on out of the idle queue, so no
// acquirer gets one it is working on.  Pool close cancels it; a close while it awaits leaves the
// pool for it to free.
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../include/cio.h"
#include "../../include/cio/sync.h"
#include "../alloc.h"
#include "../sync/quarantine.h"
#include "pg.h"

#define POOL_MAGIC 0x70677070u // "pgpp"
#define RESET_DELAY 0.1        // seconds an idle connection may owe its reset
#define RETRY_SECONDS 1.0      // between attempts to refill to min_size

struct cio_pg_pool {
  uint32_t magic;        // POOL_MAGIC while open
  char *conninfo;        // libpq's connection string (copied)
  char *reset_sql;       // run on release (copied), or "" for none
  cio_pg_pool_opts opts; // the settings, defaults filled in
  cio_sem *permits;      // max_size permits: one per connection in use
  cio_pg *idle;          // idle connections, released longest ago first
  cio_pg *idle_tail;     //   the most recently released
  size_t nidle;          //   how many
  size_t in_use;         // acquired (or being opened for an acquirer)
  size_t waiting;        // tasks waiting for a permit
  bool default_reset;    // reset_sql is CIO__PG_RESET_SQL: owed, not sent at release
  cio_task *maint;       // the maintenance task (detached), NULL once it ended
  cio_event *wake;       //   set to wake it before the time it planned
  double maint_at;       //   when it plans to wake (cio_now() clock)
  size_t maint_held;     //   connections it holds (being reset or opened): 0 or 1
  double refill_after;   //   no refill before (after a failed connect)
  double sweep_at;       //   when to look at the idle sockets next
  bool closing;          // closed while the task held a connection: the task frees it
};

static void fill_defaults(cio_pg_pool_opts *o) {
  if (o->max_size == 0) o->max_size = 10;
  if (o->min_size > o->max_size) o->min_size = o->max_size;
  if (o->connect_timeout <= 0) o->connect_timeout = 10;
  if (o->max_idle <= 0) o->max_idle = 300;
  if (o->max_lifetime <= 0) o->max_lifetime = 3600;
  if (o->health_check_after <= 0) o->health_check_after = 1;
  if (o->statement_cache == 0) o->statement_cache = CIO__PG_DEFAULT_STATEMENTS;
}

// Awaits: opens one connection of the pool.
static int open_one(cio_pg_pool *pool, cio_pg **out) {
  cio_pg *c;
  int rc = cio_pg_connect(&c, pool->conninfo, pool->opts.connect_timeout);
  if (rc < 0) return rc;
  c->stmt_capacity = pool->opts.statement_cache;
  c->pool = pool;
  *out = c;
  return 0;
}

static void push_idle(cio_pg_pool *pool, cio_pg *c) {
  c->in_use = false;
  c->idle_since = cio_now();
  c->pool_next = NULL;
  if (pool->idle_tail)
    pool->idle_tail->pool_next = c;
  else
    pool->idle = c;
  pool->idle_tail = c;
  pool->nidle++;
}

static bool too_old(const cio_pg_pool *pool, const cio_pg *c, double now) {
  return now - c->opened_at > pool->opts.max_lifetime;
}

// Closes the idle connections past their lifetime, and those idle past
// max_idle while the pool holds more than min_size.  Does not await.
static void expire_idle(cio_pg_pool *pool) {
  double now = cio_now();
  pool->idle_tail = NULL;
  for (cio_pg **p = &pool->idle; *p;) {
    cio_pg *c = *p;
    bool stale = now - c->idle_since > pool->opts.max_idle &&
                 pool->nidle + pool->in_use + pool->maint_held > pool->opts.min_size;
    if (stale || too_old(pool, c, now) || !cio_pg_is_ok(c)) {
      *p = c->pool_next;
      pool->nidle--;
      (void)cio_pg_close(c);
    } else {
      pool->idle_tail = c;
      p = &c->pool_next;
    }
  }
}

static void pool_free(cio_pg_pool *pool);

// The first idle connection whose owed reset is older than RESET_DELAY, or
// NULL; *due gets the earliest time one falls due.
static cio_pg *reset_due(cio_pg_pool *pool, double now, double *due) {
  for (cio_pg *c = pool->idle; c; c = c->pool_next) {
    if (!c->reset_owed) continue;
    if (now - c->idle_since >= RESET_DELAY) return c;
    *due = fmin(*due, c->idle_since + RESET_DELAY);
  }
  return NULL;
}

static void unlink_idle(cio_pg_pool *pool, cio_pg *c) {
  cio_pg *prev = NULL;
  for (cio_pg *p = pool->idle; p != c; p = p->pool_next) prev = p;
  if (prev)
    prev->pool_next = c->pool_next;
  else
    pool->idle = c->pool_next;
  if (pool->idle_tail == c) pool->idle_tail = prev;
  pool->nidle--;
}

// Awaits: one step of maintenance, holding a permit: resets a connection
// whose reset is overdue, or opens one below min_size.  Returns 1 if it did
// something (look again at once), 0 if nothing is due before *due.
static int maintain_step(cio_pg_pool *pool, double *due) {
  double now = cio_now();
  // Idle sockets are read without waiting, every health_check_after: one
  // the server closed (a terminated backend, a restart) is seen broken and
  // closed below, and min_size made up again.
  if (now >= pool->sweep_at) {
    for (cio_pg *c = pool->idle; c; c = c->pool_next)
      if (c->pq && (!PQconsumeInput(c->pq) || PQstatus(c->pq) == CONNECTION_BAD)) cio__pg_break(c);
    pool->sweep_at = now + pool->opts.health_check_after;
  }
  expire_idle(pool);
  *due = pool->nidle ? pool->sweep_at : INFINITY;
  for (cio_pg *c = pool->idle; c; c = c->pool_next) {
    *due = fmin(*due, c->opened_at + pool->opts.max_lifetime);
    if (pool->nidle + pool->in_use > pool->opts.min_size)
      *due = fmin(*due, c->idle_since + pool->opts.max_idle);
  }
  cio_pg *c = reset_due(pool, now, due);
  bool refill = !c && pool->nidle + pool->in_use < pool->opts.min_size;
  if (refill && now < pool->refill_after) {
    *due = fmin(*due, pool->refill_after);
    refill = false;
  }
  if (!c && !refill) return 0;
  if (cio_sem_try_acquire(pool->permits) < 0) { // every permit is taken: look again later
    *due = fmin(*due, now + RESET_DELAY);
    return 0;
  }
  pool->maint_held++;
  int rc;
  bool opened = !c;
  if (c) {
    unlink_idle(pool, c);
    rc = cio__pg_reset_now(c); // shielded, bounded
  } else {
    rc = open_one(pool, &c);
    if (rc < 0) pool->refill_after = cio_now() + RETRY_SECONDS;
  }
  pool->maint_held--;
  (void)cio_sem_release(pool->permits);
  if (pool->closing || rc < 0) {
    if (c) (void)cio_pg_close(c);
    return pool->closing ? -ECANCELED : 1;
  }
  if (opened) {
    push_idle(pool, c);
    return 1;
  }
  // Back at the head of the queue, where the longest idle wait.
  c->pool_next = pool->idle;
  pool->idle = c;
  if (!pool->idle_tail) pool->idle_tail = c;
  pool->nidle++;
  return 1;
}

// The maintenance task (the file comment says what it does).
static int maintain(void *arg) {
  cio_pg_pool *pool = arg;
  for (;;) {
    double due;
    int rc = maintain_step(pool, &due);
    if (rc == 1) continue;
    if (rc == 0) {
      pool->maint_at = due;
      (void)cio_event_clear(pool->wake);
      rc = cio_event_wait_for(pool->wake, isinf(due) ? CIO_FOREVER : fmax(due - cio_now(), 0));
      pool->maint_at = INFINITY;
    }
    if (rc == -ECANCELED || pool->closing) break; // closed, or the loop ends
  }
  pool->maint = NULL;
  if (pool->closing) pool_free(pool); // cio_pg_pool_close() left it to the task
  return 0;
}

int cio_pg_pool_open(cio_pg_pool **out, const char *conninfo, const cio_pg_pool_opts *opts) {
  if (!out || !conninfo) return -EINVAL;
  if (!cio_current()) return -EPERM;
  cio_pg_pool *pool = cio__calloc(1, sizeof *pool);
  if (!pool) return -ENOMEM;
  if (opts) pool->opts = *opts;
  fill_defaults(&pool->opts);
  pool->magic = POOL_MAGIC;
  pool->conninfo = cio__strdup(conninfo);
  pool->default_reset = !pool->opts.reset_sql;
  pool->reset_sql = cio__strdup(pool->opts.reset_sql ? pool->opts.reset_sql : CIO__PG_RESET_SQL);
  pool->opts.reset_sql = NULL; // the copy is the pool's
  pool->permits = cio_sem_new((int64_t)pool->opts.max_size);
  pool->wake = cio_event_new();
  int rc = pool->conninfo && pool->reset_sql && pool->permits && pool->wake ? 0 : -ENOMEM;
  while (rc == 0 && pool->nidle < pool->opts.min_size) {
    cio_pg *c;
    if ((rc = open_one(pool, &c)) == 0) push_idle(pool, c);
  }
  if (rc == 0) {
    pool->maint_at = INFINITY;
    pool->maint = cio_spawn_named("cio_pg_pool maintenance", maintain, pool);
    if (!pool->maint) rc = -ENOMEM;
    if (rc == 0) (void)cio_detach(pool->maint);
  }
  if (rc < 0) {
    (void)cio_pg_pool_close(pool);
    return rc;
  }
  *out = pool;
  return 0;
}

// Awaits: a permit within `timeout` seconds, in arrival order.
static int wait_permit(cio_pg_pool *pool, double timeout) {
  cio_scope scope;
  int rc = cio_timeout_begin(&scope, timeout);
  if (rc < 0) return rc;
  pool->waiting++;
  rc = cio_sem_acquire(pool->permits);
  pool->waiting--;
  int end = cio_scope_end(&scope);
  if (rc == -ETIMEDOUT && end == -ETIMEDOUT) return CIO_PG_POOL_TIMEOUT;
  return rc;
}

// Awaits (shielded, bounded): ends what the connection's user left under
// way (a stream, a transaction), then owes the default reset or sends a
// custom one without waiting for its answer.
static int reset_send(cio_pg_pool *pool, cio_pg *c) {
  const char *sql = pool->reset_sql;
  if (c->streaming && cio__pg_recover(c) < 0) return CIO_PG_CONN_LOST;
  if (!c->pq) return CIO_PG_CONN_LOST;
  if (PQtransactionStatus(c->pq) != PQTRANS_IDLE) {
    int rc = cio__pg_exec_shielded(c, "ROLLBACK");
    if (rc < 0) return rc;
  }
  c->tx_depth = 0;
  cio__pg_drop_notifications(c);
  if (pool->default_reset) {
    c->reset_owed = true;
    return 0;
  }
  if (!sql[0]) return 0;
  if (!PQsendQuery(c->pq, sql)) return cio__pg_fail_conn(c, CIO_PG_CONN_LOST);
  cio_scope shield, bound;
  (void)cio_shield_begin(&shield);
  (void)cio_timeout_begin(&bound, CIO__PG_RECOVER_SECONDS);
  int rc = cio__pg_flush(c);
  (void)cio_scope_end(&bound);
  (void)cio_scope_end(&shield);
  c->reset_pending = rc == 0;
  return rc;
}

// Awaits (shielded, bounded): reads the reset's answer.
static int reset_finish(cio_pg *c) {
  c->reset_pending = false;
  cio_scope shield, bound;
  (void)cio_shield_begin(&shield);
  (void)cio_timeout_begin(&bound, CIO__PG_RECOVER_SECONDS);
  int rc = cio__pg_collect(c, NULL, NULL);
  (void)cio_scope_end(&bound);
  (void)cio_scope_end(&shield);
  cio__pg_drop_notifications(c); // those that came before the UNLISTEN
  if (rc == 0 && (!c->pq || PQtransactionStatus(c->pq) != PQTRANS_IDLE)) rc = CIO_PG_CONN_LOST;
  return rc;
}

// Awaits: an idle connection that works, or NULL if none is left.  One idle
// for long is checked with an empty query first.
static int take_idle(cio_pg_pool *pool, cio_pg **out) {
  *out = NULL;
  while (pool->idle) {
    cio_pg *c = pool->idle;
    pool->idle = c->pool_next;
    if (!pool->idle) pool->idle_tail = NULL;
    pool->nidle--;
    pool->in_use++; // counted while it is checked, so stats add up
    double now = cio_now();
    bool ok = cio_pg_is_ok(c) && !too_old(pool, c, now);
    if (ok && c->reset_pending) ok = reset_finish(c) == 0;
    if (ok && now - c->idle_since > pool->opts.health_check_after) {
      // The owed reset checks the connection as well as an empty query does.
      int rc = c->reset_owed ? cio__pg_reset_now(c) : cio_pg_exec(c, "", NULL, 0, NULL);
      if (rc == -ECANCELED || rc == -ETIMEDOUT) {
        pool->in_use--;
        if (cio_pg_is_ok(c))
          push_idle(pool, c);
        else
          (void)cio_pg_close(c);
        return rc;
      }
      ok = rc == 0;
    }
    if (ok) {
      c->in_use = true;
      *out = c;
      return 0;
    }
    pool->in_use--;
    (void)cio_pg_close(c);
  }
  return 0;
}

// Awaits: open_one() within what is left of an acquire's timeout (ending
// at `until`, cio_now()'s clock): CIO_PG_POOL_TIMEOUT when that runs out
// first, as asyncpg's acquire counts the connection's setup in its timeout.
static int open_by(cio_pg_pool *pool, double until, cio_pg **out) {
  cio_scope scope;
  double left = until - cio_now();
  int rc = cio_timeout_begin(&scope, isinf(until) ? CIO_FOREVER : left > 0 ? left : 0);
  if (rc < 0) return rc;
  rc = open_one(pool, out);
  int end = cio_scope_end(&scope);
  return rc == -ETIMEDOUT && end == -ETIMEDOUT ? CIO_PG_POOL_TIMEOUT : rc;
}

int cio_pg_pool_acquire(cio_pg_pool *pool, double timeout, cio_pg **out) {
  if (!pool || pool->magic != POOL_MAGIC || !out || isnan(timeout)) return -EINVAL;
  double until = cio_now() + timeout; // (infinite for CIO_FOREVER)
  int rc = wait_permit(pool, timeout);
  if (rc < 0) return rc;
  expire_idle(pool);
  cio_pg *c;
  rc = take_idle(pool, &c);
  if (rc == 0 && !c) {
    pool->in_use++;
    rc = open_by(pool, until, &c);
    if (rc < 0)
      pool->in_use--;
    else
      c->in_use = true;
  }
  if (rc < 0) {
    (void)cio_sem_release(pool->permits);
    return rc;
  }
  *out = c;
  return 0;
}

int cio_pg_pool_release(cio_pg_pool *pool, cio_pg *c) {
  if (!pool || pool->magic != POOL_MAGIC || !c || c->magic != CIO__PG_MAGIC || c->pool != pool ||
      !c->in_use)
    return -EINVAL;
  bool keep = reset_send(pool, c) == 0 && !too_old(pool, c, cio_now());
  pool->in_use--;
  if (keep)
    push_idle(pool, c);
  else
    (void)cio_pg_close(c);
  expire_idle(pool);
  (void)cio_sem_release(pool->permits);
  // An owed reset is due RESET_DELAY from now: wake the task if it sleeps
  // past that; a closed connection may leave the pool below min_size.  Not
  // at every release: a wakeup per query would cost the loop a task switch.
  if ((keep && c->reset_owed && pool->maint_at > cio_now() + RESET_DELAY) ||
      (!keep && pool->nidle + pool->in_use < pool->opts.min_size))
    (void)cio_event_set(pool->wake);
  return 0;
}

int cio_pg_pool_stats(const cio_pg_pool *pool, cio_pg_pool_counts *out) {
  if (!pool || pool->magic != POOL_MAGIC || !out) return -EINVAL;
  out->idle = pool->nidle;
  out->in_use = pool->in_use;
  out->size = pool->nidle + pool->in_use + pool->maint_held;
  out->waiting = pool->waiting;
  return 0;
}

static void pool_free(cio_pg_pool *pool) {
  if (pool->permits) (void)cio_sem_free(pool->permits);
  if (pool->wake) (void)cio_event_free(pool->wake);
  free(pool->conninfo);
  free(pool->reset_sql);
  cio__quarantine(pool); // a second close reads the cleared magic
}

int cio_pg_pool_close(cio_pg_pool *pool) {
  if (!pool || pool->magic != POOL_MAGIC)
    return cio__bad_handle("cio_pg_pool_close", "cio_pg_pool", pool);
  // A waiter counts as a user: one may hold a place a release handed it
  // and not have run yet (it would go on with a closed pool).
  if (pool->in_use > 0 || pool->waiting > 0) return -EBUSY;
  pool->magic = 0;
  while (pool->idle) {
    cio_pg *c = pool->idle;
    pool->idle = c->pool_next;
    (void)cio_pg_close(c);
  }
  pool->idle_tail = NULL;
  pool->nidle = 0;
  if (pool->maint) { // the task may be awaiting with the pool: it frees the pool as it ends
    pool->closing = true;
    (void)cio_cancel(pool->maint);
    return 0;
  }
  pool_free(pool);
  return 0;
}
