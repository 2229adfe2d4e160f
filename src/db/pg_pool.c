// SPDX-License-Identifier: MIT
//
// A pool of PostgreSQL connections (asyncpg's create_pool).  A semaphore of
// max_size permits is the FIFO queue of acquirers: a task holds a permit
// from acquire to release, so connections in use (or being opened) never
// exceed max_size, and idle ones are only opened when none is idle.  Idle
// connections wait in a queue: the one released longest ago is handed out
// first, which gives the reset sent at each release (below) time to be
// answered before the connection is used again.
//
// The session reset of a released connection is sent at release and its
// answer read by the next acquirer of that connection (usually it is there
// by then): a release costs no round trip, as in pools that do not reset
// (pgx), while the session is still reset as asyncpg's pool does.
//
// Expiry is lazy: idle connections past max_idle (above min_size) or past
// max_lifetime are closed when the pool is next used (an acquire or a
// release), not by a timer; an idle pool keeps its connections until then.
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

// The session reset on release: what a connection's previous user may have
// left (asyncpg's reset query, without DEALLOCATE: the statement cache stays).
#define RESET_SQL "CLOSE ALL; UNLISTEN *; RESET ALL; SELECT pg_advisory_unlock_all()"

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
                 pool->nidle + pool->in_use > pool->opts.min_size;
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

int cio_pg_pool_open(cio_pg_pool **out, const char *conninfo, const cio_pg_pool_opts *opts) {
  if (!out || !conninfo) return -EINVAL;
  if (!cio_current()) return -EPERM;
  cio_pg_pool *pool = cio__calloc(1, sizeof *pool);
  if (!pool) return -ENOMEM;
  if (opts) pool->opts = *opts;
  fill_defaults(&pool->opts);
  pool->magic = POOL_MAGIC;
  pool->conninfo = cio__strdup(conninfo);
  pool->reset_sql = cio__strdup(pool->opts.reset_sql ? pool->opts.reset_sql : RESET_SQL);
  pool->opts.reset_sql = NULL; // the copy is the pool's
  pool->permits = cio_sem_new((int64_t)pool->opts.max_size);
  int rc = pool->conninfo && pool->reset_sql && pool->permits ? 0 : -ENOMEM;
  while (rc == 0 && pool->nidle < pool->opts.min_size) {
    cio_pg *c;
    if ((rc = open_one(pool, &c)) == 0) push_idle(pool, c);
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

static void drop_notifications(cio_pg *c) {
  while (c->notes_count) {
    free(c->notes[c->notes_head]);
    c->notes_head = (c->notes_head + 1) % c->notes_cap;
    c->notes_count--;
  }
}

// Awaits (shielded, bounded): ends what the connection's user left under
// way (a stream, a transaction) and sends the reset, without waiting for
// its answer.
static int reset_send(cio_pg *c, const char *sql) {
  if (c->streaming && cio__pg_recover(c) < 0) return CIO_PG_CONN_LOST;
  if (!c->pq) return CIO_PG_CONN_LOST;
  if (PQtransactionStatus(c->pq) != PQTRANS_IDLE) {
    int rc = cio__pg_exec_shielded(c, "ROLLBACK");
    if (rc < 0) return rc;
  }
  c->tx_depth = 0;
  drop_notifications(c);
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
  drop_notifications(c); // those that came before the UNLISTEN
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
      int rc = cio_pg_exec(c, "", NULL, 0, NULL);
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

int cio_pg_pool_acquire(cio_pg_pool *pool, double timeout, cio_pg **out) {
  if (!pool || pool->magic != POOL_MAGIC || !out || isnan(timeout)) return -EINVAL;
  int rc = wait_permit(pool, timeout);
  if (rc < 0) return rc;
  expire_idle(pool);
  cio_pg *c;
  rc = take_idle(pool, &c);
  if (rc == 0 && !c) {
    pool->in_use++;
    rc = open_one(pool, &c);
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
  bool keep = reset_send(c, pool->reset_sql) == 0 && !too_old(pool, c, cio_now());
  pool->in_use--;
  if (keep)
    push_idle(pool, c);
  else
    (void)cio_pg_close(c);
  expire_idle(pool);
  (void)cio_sem_release(pool->permits);
  return 0;
}

int cio_pg_pool_stats(const cio_pg_pool *pool, cio_pg_pool_counts *out) {
  if (!pool || pool->magic != POOL_MAGIC || !out) return -EINVAL;
  out->idle = pool->nidle;
  out->in_use = pool->in_use;
  out->size = pool->nidle + pool->in_use;
  out->waiting = pool->waiting;
  return 0;
}

int cio_pg_pool_close(cio_pg_pool *pool) {
  if (!pool || pool->magic != POOL_MAGIC)
    return cio__bad_handle("cio_pg_pool_close", "cio_pg_pool", pool);
  if (pool->in_use > 0) return -EBUSY;
  pool->magic = 0;
  while (pool->idle) {
    cio_pg *c = pool->idle;
    pool->idle = c->pool_next;
    (void)cio_pg_close(c);
  }
  if (pool->permits) (void)cio_sem_free(pool->permits);
  free(pool->conninfo);
  free(pool->reset_sql);
  cio__quarantine(pool); // a second close reads the cleared magic
  return 0;
}
