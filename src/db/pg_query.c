// SPDX-License-Identifier: MIT
//
// Queries on a connection: the prepared-statement cache (a statement is
// prepared by name on first use and kept, least recently used ones
// deallocated beyond the capacity), cio_pg_query() and cio_pg_exec(), row
// streams in libpq's single-row mode, transactions and savepoints, and
// LISTEN/NOTIFY.
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../include/cio.h"
#include "../alloc.h"
#include "pg.h"

#define SQLSTATE_NO_SUCH_STATEMENT "26000" // invalid_sql_statement_name

// Awaits: a simple query (several statements allowed, text results dropped).
static int simple(cio_pg *c, const char *sql, int64_t *affected) {
  if (!PQsendQuery(c->pq, sql)) return cio__pg_fail_conn(c, CIO_PG_CONN_LOST);
  int rc = cio__pg_flush(c);
  if (rc == 0) rc = cio__pg_collect(c, NULL, affected);
  return rc;
}

// ---------------------------------------------------------------- the statement cache

static uint64_t stmt_hash(const char *sql, const Oid *types, int n) {
  uint64_t h = 1469598103934665603u; // FNV-1a
  for (const unsigned char *p = (const unsigned char *)sql; *p; p++) h = (h ^ *p) * 1099511628211u;
  for (int i = 0; i < n; i++) h = (h ^ types[i]) * 1099511628211u;
  return h;
}

static void lru_unlink(cio_pg *c, cio__pg_stmt *s) {
  if (s->prev)
    s->prev->next = s->next;
  else
    c->lru_head = s->next;
  if (s->next)
    s->next->prev = s->prev;
  else
    c->lru_tail = s->prev;
  c->nstmts--;
}

static void lru_push(cio_pg *c, cio__pg_stmt *s) {
  s->prev = NULL;
  s->next = c->lru_head;
  if (c->lru_head)
    c->lru_head->prev = s;
  else
    c->lru_tail = s;
  c->lru_head = s;
  c->nstmts++;
}

// The cached statement for (sql, types), made most recent; NULL if none.
// A linear walk: the cache holds ~100 entries, and the hash makes each
// comparison one integer compare in the common case.
static cio__pg_stmt *stmt_find(cio_pg *c, const char *sql, const cio__pg_params *p) {
  uint64_t h = stmt_hash(sql, p->types, p->n);
  for (cio__pg_stmt *s = c->lru_head; s; s = s->next) {
    if (s->hash != h || s->ntypes != p->n || strcmp(s->sql, sql) != 0 ||
        memcmp(s->types, p->types, sizeof(Oid) * (size_t)p->n) != 0)
      continue;
    if (s != c->lru_head) {
      lru_unlink(c, s);
      lru_push(c, s);
    }
    return s;
  }
  return NULL;
}

// Forgets every cached statement (the server no longer has them).
static void stmt_forget_all(cio_pg *c) {
  for (cio__pg_stmt *s = c->lru_head, *next; s; s = next) {
    next = s->next;
    free(s);
  }
  c->lru_head = c->lru_tail = NULL;
  c->nstmts = 0;
}

// Awaits: DEALLOCATEs cached statement s and forgets it (one the server
// no longer has is simply forgotten).  Returns 0 or the failure.
static int stmt_drop(cio_pg *c, cio__pg_stmt *s) {
  lru_unlink(c, s);
  char sql[48];
  snprintf(sql, sizeof sql, "DEALLOCATE %s", s->name);
  free(s);
  int rc = simple(c, sql, NULL);
  if (rc == CIO_PG_ERROR && strcmp(c->sqlstate, SQLSTATE_NO_SUCH_STATEMENT) == 0) {
    cio__pg_clear_error(c);
    rc = 0;
  }
  return rc;
}

// Awaits: makes room for one more statement, DEALLOCATEing the least
// recently used ones.  Not inside a transaction, where a failed DEALLOCATE
// (of a statement the server dropped behind the cache's back) would abort
// the caller's transaction: the cache then grows past its capacity until
// the next query outside one.  A statement the server no longer has is
// simply forgotten.
static int stmt_make_room(cio_pg *c) {
  while (c->nstmts >= c->stmt_capacity && PQtransactionStatus(c->pq) == PQTRANS_IDLE) {
    int rc = stmt_drop(c, c->lru_tail);
    if (rc < 0) return rc;
  }
  return 0;
}

// Awaits: prepares (sql, types) under a new name and caches it.
static int stmt_prepare(cio_pg *c, const char *sql, const cio__pg_params *p, cio__pg_stmt **out) {
  size_t lsql = strlen(sql) + 1, ltypes = sizeof(Oid) * (size_t)p->n;
  cio__pg_stmt *s = cio__malloc(sizeof *s + ltypes + lsql);
  if (!s) return -ENOMEM;
  s->types = (Oid *)(s + 1);
  s->sql = (char *)s->types + ltypes;
  memcpy(s->types, p->types, ltypes);
  memcpy(s->sql, sql, lsql);
  s->ntypes = p->n;
  s->hash = stmt_hash(sql, p->types, p->n);
  s->plain = false;
  snprintf(s->name, sizeof s->name, "cio_%" PRIu64, ++c->stmt_serial);
  int rc = PQsendPrepare(c->pq, s->name, sql, p->n, p->types)
               ? cio__pg_flush(c)
               : cio__pg_fail_conn(c, CIO_PG_CONN_LOST);
  if (rc == 0) rc = cio__pg_collect(c, NULL, NULL);
  if (rc < 0) {
    free(s);
    return rc;
  }
  lru_push(c, s);
  *out = s;
  return 0;
}

// ---------------------------------------------------------------- queries

// Awaits: sends the query (prepared through the cache, or unnamed without
// one) in single-row mode if asked; does not read its results.
static int send_query(cio_pg *c, const char *sql, const cio__pg_params *p, bool single_row,
                      cio__pg_stmt **used) {
  int ok;
  *used = NULL;
  if (c->stmt_capacity == 0) {
    ok = PQsendQueryParams(c->pq, sql, p->n, p->types, p->values, p->lengths, p->formats, 1);
  } else {
    cio__pg_stmt *s = stmt_find(c, sql, p);
    if (!s) {
      int rc = stmt_make_room(c);
      if (rc == 0) rc = stmt_prepare(c, sql, p, &s);
      if (rc < 0) return rc;
    }
    ok = PQsendQueryPrepared(c->pq, s->name, p->n, p->values, p->lengths, p->formats, 1);
    *used = s;
  }
  if (!ok) return cio__pg_fail_conn(c, CIO_PG_CONN_LOST);
  if (single_row) PQsetSingleRowMode(c->pq);
  return cio__pg_flush(c);
}

// The pool's reset (CIO__PG_RESET_SQL) statement by statement, for a
// pipeline (the extended protocol takes one statement per message): each
// prepared once per connection (named "cio_reset_<generation>_<i>"; parsing
// them for each reset cost a third of the server's time at 10 tasks), and
// the command tag its run must answer.  RESET ALL comes first; the
// function is schema-qualified, so no function of the previous user's
// shadows it.  The tags are checked, so that a statement of that name
// prepared by someone else is never taken for the reset; a DEALLOCATE or
// DISCARD ALL seen in a result (cio__pg_saw_tag), and any failure, makes
// the next preparation take a new generation of names.
static const struct {
  const char *sql, *tag;
} reset_statements[] = {
    {"RESET ALL", "RESET"},
    {"CLOSE ALL", "CLOSE CURSOR ALL"},
    {"UNLISTEN *", "UNLISTEN"},
    {"SELECT pg_catalog.pg_advisory_unlock_all()", "SELECT 1"},
};
#define NRESET (sizeof reset_statements / sizeof *reset_statements)

// Awaits: the results of the reset's statements in a pipeline, up to and
// with their Sync.  Returns 0, 1 if one of them failed or was not what it
// should be, or the connection's failure.
static int reset_results(cio_pg *c, bool prepare) {
  int failed = 0;
  for (size_t i = 0; i < NRESET * (prepare ? 2 : 1); i++) {
    bool run = !prepare || i >= NRESET;
    PGresult *res;
    int rc = cio__pg_next_result(c, &res);
    if (rc < 0) return rc;
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (res && st == PGRES_FATAL_ERROR && !failed) (void)cio__pg_fail(c, res); // says why
    if ((st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) ||
        strcmp(PQcmdStatus(res), run ? reset_statements[i % NRESET].tag : "") != 0)
      failed = 1;
    PQclear(res);
    if (!c->pq) return CIO_PG_CONN_LOST;
    if (res && (rc = cio__pg_next_result(c, &res)) < 0) return rc; // the NULL that ends it
    PQclear(res);
  }
  PGresult *sync = NULL;
  int rc = cio__pg_next_result(c, &sync);
  if (rc == 0 && (!sync || PQresultStatus(sync) != PGRES_PIPELINE_SYNC))
    rc =
        sync && PQresultStatus(sync) == PGRES_FATAL_ERROR ? cio__pg_fail(c, sync) : CIO_PG_PROTOCOL;
  PQclear(sync);
  if (rc < 0 && !c->pq) rc = CIO_PG_CONN_LOST;
  return rc < 0 ? rc : failed;
}

int cio__pg_reset_now(cio_pg *c) {
  int rc = cio__pg_exec_shielded(c, CIO__PG_RESET_SQL);
  cio__pg_drop_notifications(c); // those that came before the UNLISTEN
  if (rc == 0 && c->pq && PQtransactionStatus(c->pq) == PQTRANS_IDLE) {
    c->reset_owed = false;
    return 0;
  }
  cio__pg_break(c); // a session that could not be reset is not handed on
  return CIO_PG_CONN_LOST;
}

// Awaits: the reset the pool owes the session and a cached statement in
// one pipeline, one write and one round trip, as two transactions: the
// reset's statements and a Sync, then the query and a Sync.  The query's
// transaction thus starts under the defaults the reset restored (a
// previous user's default_transaction_read_only or isolation level does
// not reach it), and the query failing leaves the reset done.  The server
// runs the query even if the reset failed: a broken server, or the reset's
// statements deallocated where cio could not see it (EXECUTE in a DO
// block).  The caller then gets CIO_PG_CONN_LOST with the reset's error,
// and the connection is given up, whatever the query did.  Only for
// statements whose last run on this connection was a SELECT or DML
// (s->plain), which run in a pipeline as they would alone.  Returns as
// run().
static int run_with_reset(cio_pg *c, const cio__pg_stmt *s, const cio__pg_params *p,
                          PGresult **rows, int64_t *affected) {
  if (!PQenterPipelineMode(c->pq)) return cio__pg_fail_conn(c, CIO_PG_PROTOCOL);
  bool prepare = !c->reset_prepared;
  int ok = 1;
  char name[NRESET][40];
  for (size_t i = 0; i < NRESET; i++)
    snprintf(name[i], sizeof name[i], "cio_reset_%" PRIu64 "_%zu", c->reset_generation, i);
  for (size_t i = 0; ok && prepare && i < NRESET; i++)
    ok = PQsendPrepare(c->pq, name[i], reset_statements[i].sql, 0, NULL);
  for (size_t i = 0; ok && i < NRESET; i++)
    ok = PQsendQueryPrepared(c->pq, name[i], 0, NULL, NULL, NULL, 0);
  ok = ok && PQpipelineSync(c->pq);
  ok = ok && PQsendQueryPrepared(c->pq, s->name, p->n, p->values, p->lengths, p->formats, 1);
  ok = ok && PQpipelineSync(c->pq);
  int rc = ok ? cio__pg_flush(c) : cio__pg_fail_conn(c, CIO_PG_CONN_LOST);
  if (rc == 0) rc = reset_results(c, prepare);
  bool reset_failed = rc == 1;
  c->reset_prepared = rc == 0 && !reset_failed;
  if (!c->reset_prepared) c->reset_generation++; // whatever the old names hold now
  cio__pg_failure why = {0};                     // the reset's failure, kept over the query's
  if (reset_failed) {
    rc = 0;
    cio__pg_failure_keep(c, &why);
  }
  int query_rc = 0; // the query's own failure (rc: the connection's, or an interruption)
  if (rc == 0) {
    query_rc = cio__pg_collect(c, rows, affected);
    if (query_rc != CIO_PG_ERROR && query_rc != CIO_PG_PROTOCOL) rc = query_rc, query_rc = 0;
  }
  rc = cio__pg_pipeline_end(c, rc);
  if (rc == 0 && !reset_failed) {
    c->reset_owed = false;
    cio__pg_drop_notifications(c); // the previous session's
    return query_rc;
  }
  if (rows) {
    PQclear(*rows);
    *rows = NULL;
  }
  if (reset_failed) {
    cio__pg_failure_restore(c, &why);
    cio__pg_break(c);
    return CIO_PG_CONN_LOST;
  }
  return rc;
}

// True if the failure just recorded is one run() answers by preparing the
// statement again (see there): the server no longer knows it, or its
// table changed shape; never inside a transaction.
static bool prepare_again(cio_pg *c, int rc, const cio__pg_stmt *s) {
  bool unknown = rc == CIO_PG_ERROR && strcmp(c->sqlstate, SQLSTATE_NO_SUCH_STATEMENT) == 0;
  bool reshaped = rc == CIO_PG_ERROR && c->plan_changed && s;
  return (unknown || reshaped) && c->pq && PQtransactionStatus(c->pq) == PQTRANS_IDLE;
}

// Forgets the statement the server refused (prepare_again): all of them if
// it knew none, else that one, dropped on the server too.
static int forget_refused(cio_pg *c, cio__pg_stmt *s) {
  if (strcmp(c->sqlstate, SQLSTATE_NO_SUCH_STATEMENT) == 0) {
    stmt_forget_all(c);
    return 0;
  }
  cio__pg_clear_error(c);
  return s ? stmt_drop(c, s) : 0; // (prepare_again said there is one)
}

// Awaits: runs a query and collects its results.  The reset the pool owes
// the session goes with the query when it can (run_with_reset), else first.
// A statement the server no longer knows (a DEALLOCATE ALL or DISCARD ALL
// behind the cache's back), or whose table changed shape since it was
// prepared ("cached plan must not change result type", as asyncpg's
// InvalidCachedStatementError), is prepared again, once, when no
// transaction is open (in one, the failure has already aborted it, and the
// caller gets it).
static int run(cio_pg *c, const char *sql, const cio_pg_param *params, size_t n, PGresult **rows,
               int64_t *affected) {
  int rc = cio__pg_check_idle(c);
  if (rc == 0) rc = cio__pg_interrupted(); // nothing sent for an interrupted task
  if (rc < 0) return rc;
  if (!sql) return -EINVAL;
  cio__pg_params *p;
  if ((rc = cio__pg_params_encode(params, n, &p)) < 0) return rc;
  for (int attempt = 0; attempt < 2; attempt++) {
    cio__pg_stmt *s = c->reset_owed && c->stmt_capacity ? stmt_find(c, sql, p) : NULL;
    rc = 1;
    if (s && s->plain && PQtransactionStatus(c->pq) == PQTRANS_IDLE) {
      rc = run_with_reset(c, s, p, rows, affected);
      if (rc == 0) s->plain = c->last_plain;
    }
    if (rc == 1) { // not tried: reset first, then the query alone
      cio__pg_clear_error(c);
      rc = c->reset_owed ? cio__pg_reset_now(c) : 0;
      if (rc == 0) rc = send_query(c, sql, p, false, &s);
      if (rc == 0) rc = cio__pg_collect(c, rows, affected);
      if (rc == 0 && s) s->plain = c->last_plain;
    }
    if (attempt > 0 || !prepare_again(c, rc, s)) break;
    if ((rc = forget_refused(c, s)) < 0) break;
  }
  free(p);
  return rc;
}

int cio_pg_query(cio_pg *c, const char *sql, const cio_pg_param *params, size_t nparams,
                 cio_pg_result **out) {
  if (!out) return -EINVAL;
  PGresult *rows = NULL;
  int rc = run(c, sql, params, nparams, &rows, NULL);
  if (rc < 0) return rc;
  if (!rows) { // a statement without rows (an INSERT without RETURNING): an empty result
    rows = PQmakeEmptyPGresult(c->pq, PGRES_TUPLES_OK);
    if (!rows) return -ENOMEM;
  }
  cio_pg_result *r = cio__pg_result_wrap(rows);
  if (!r) {
    PQclear(rows);
    return -ENOMEM;
  }
  *out = r;
  return 0;
}

int cio_pg_exec(cio_pg *c, const char *sql, const cio_pg_param *params, size_t nparams,
                int64_t *affected) {
  if (affected) *affected = 0;
  if (nparams > 0) return run(c, sql, params, nparams, NULL, affected);
  int rc = cio__pg_check(c);
  if (rc < 0) return rc;
  return sql ? simple(c, sql, affected) : -EINVAL;
}

int cio__pg_exec_shielded(cio_pg *c, const char *sql) {
  if (!c->pq) return CIO_PG_CONN_LOST;
  cio_scope shield, bound;
  (void)cio_shield_begin(&shield);
  (void)cio_timeout_begin(&bound, CIO__PG_RECOVER_SECONDS);
  int rc = simple(c, sql, NULL);
  (void)cio_scope_end(&bound);
  (void)cio_scope_end(&shield);
  return rc;
}

int cio_pg_set_statement_cache(cio_pg *c, size_t capacity) {
  if (!c || c->magic != CIO__PG_MAGIC) return -EINVAL;
  c->stmt_capacity = capacity;
  if (capacity == 0 || !c->pq) stmt_forget_all(c); // left for the server to drop at close
  return 0;
}

// ---------------------------------------------------------------- streams

// Starts the stream and reads its first result, which stream_next then
// takes.  A failure there comes before any row: it is returned here, and a
// statement the server refuses as run() would is prepared again, once, as
// run() does.
int cio_pg_query_stream(cio_pg *c, const char *sql, const cio_pg_param *params, size_t nparams) {
  int rc = cio__pg_check(c);
  if (rc < 0) return rc;
  if (!sql) return -EINVAL;
  cio__pg_params *p;
  if ((rc = cio__pg_params_encode(params, nparams, &p)) < 0) return rc;
  for (int attempt = 0; attempt < 2; attempt++) {
    cio__pg_stmt *s;
    PGresult *first = NULL;
    rc = send_query(c, sql, p, true, &s);
    if (rc == 0) rc = cio__pg_next_result(c, &first);
    if (rc < 0) break;
    if (first && PQresultStatus(first) == PGRES_FATAL_ERROR) {
      // Failed before its first row: the query's failure, as cio_pg_query's.
      rc = cio__pg_fail(c, first);
      PQclear(first);
      int more = c->pq ? cio__pg_collect(c, NULL, NULL) : 0; // to idle
      if (more < 0 && more != CIO_PG_ERROR) rc = more;
      if (attempt > 0 || !prepare_again(c, rc, s)) break;
      int forgot = forget_refused(c, s);
      if (forgot < 0) {
        rc = forgot;
        break;
      }
      continue;
    }
    c->stream_first = first;
    c->streaming = true;
    break;
  }
  free(p);
  return rc;
}

int cio_pg_stream_next(cio_pg *c, cio_pg_result **row) {
  if (!c || c->magic != CIO__PG_MAGIC || !row || !c->streaming) return -EINVAL;
  PGresult *res = c->stream_first;
  c->stream_first = NULL;
  int rc = res ? 0 : cio__pg_next_result(c, &res);
  if (rc < 0) return rc; // recovered (or broken): the stream is over
  ExecStatusType st = res ? PQresultStatus(res) : PGRES_TUPLES_OK;
  if (st == PGRES_SINGLE_TUPLE) {
    cio_pg_result *r = cio__pg_result_wrap(res);
    if (!r) {
      PQclear(res);
      return cio__pg_recover(c) < 0 ? CIO_PG_CONN_LOST : -ENOMEM;
    }
    *row = r;
    return 1;
  }
  // The end: a final empty TUPLES_OK (or an error), then NULL.
  rc = st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK ? 0 : cio__pg_fail(c, res);
  PQclear(res);
  if (res && c->pq) {
    int more = cio__pg_collect(c, NULL, NULL);
    if (rc == 0) rc = more;
  }
  c->streaming = false;
  return rc;
}

int cio_pg_stream_close(cio_pg *c) {
  if (!c || c->magic != CIO__PG_MAGIC) return -EINVAL;
  if (cio__pg_awaited(c)) return -EBUSY; // another task's call
  return c->streaming ? cio__pg_recover(c) : 0;
}

// ---------------------------------------------------------------- transactions

// The server is outside any transaction (or the connection broke): no level is open.
static void sync_depth(cio_pg *c) {
  if (!c->pq || PQtransactionStatus(c->pq) == PQTRANS_IDLE) c->tx_depth = 0;
}

int cio_pg_begin(cio_pg *c, cio_pg_isolation isolation) {
  static const char *const begin[] = {
      [CIO_PG_READ_COMMITTED] = "BEGIN ISOLATION LEVEL READ COMMITTED",
      [CIO_PG_REPEATABLE_READ] = "BEGIN ISOLATION LEVEL REPEATABLE READ",
      [CIO_PG_SERIALIZABLE] = "BEGIN ISOLATION LEVEL SERIALIZABLE",
  };
  if (!c || c->magic != CIO__PG_MAGIC || (unsigned)isolation > CIO_PG_SERIALIZABLE) return -EINVAL;
  char sql[48];
  if (c->tx_depth > 0) snprintf(sql, sizeof sql, "SAVEPOINT cio_%d", c->tx_depth);
  int rc = cio_pg_exec(c, c->tx_depth > 0 ? sql : begin[isolation], NULL, 0, NULL);
  if (rc == 0) c->tx_depth++;
  return rc;
}

int cio_pg_commit(cio_pg *c) {
  if (!c || c->magic != CIO__PG_MAGIC || c->tx_depth == 0) return -EINVAL;
  // Interrupted already: nothing is sent, the transaction stays open (for
  // the rollback that follows).
  int rc = cio__pg_interrupted();
  if (rc < 0) return rc;
  char sql[48];
  if (c->tx_depth > 1) snprintf(sql, sizeof sql, "RELEASE SAVEPOINT cio_%d", c->tx_depth - 1);
  rc = cio_pg_exec(c, c->tx_depth > 1 ? sql : "COMMIT", NULL, 0, NULL);
  // The server answers COMMIT of a transaction in which a statement failed
  // with ROLLBACK, and no error: the work is gone, which is no success (as
  // pgx's ErrTxCommitRollback).
  if (rc == 0 && c->tx_depth == 1 && c->last_rollback)
    rc = cio__pg_fail_as(c, "25P02",
                         "COMMIT rolled the transaction back: a statement in it had failed");
  if (rc != -EBUSY) c->tx_depth--; // a failed COMMIT ends the transaction too
  sync_depth(c);
  return rc;
}

// Awaits (shielded, bounded): rolls back the innermost level.
static int rollback(cio_pg *c) {
  if (c->tx_depth == 0) return -EINVAL;
  if (c->streaming && cio__pg_recover(c) < 0) return CIO_PG_CONN_LOST;
  char sql[96];
  int d = c->tx_depth - 1;
  if (d > 0)
    snprintf(sql, sizeof sql, "ROLLBACK TO SAVEPOINT cio_%d; RELEASE SAVEPOINT cio_%d", d, d);
  int rc = cio__pg_exec_shielded(c, d > 0 ? sql : "ROLLBACK");
  if (c->tx_depth > 0) c->tx_depth--;
  sync_depth(c);
  return rc;
}

int cio_pg_rollback(cio_pg *c) {
  if (!c || c->magic != CIO__PG_MAGIC) return -EINVAL;
  if (cio__pg_awaited(c)) return -EBUSY; // another task's call
  int rc = cio__pg_check(c);
  // A stream of ours is ended first; a task cancelled or out of time still
  // rolls back (cleaning up is what it does next), shielded.
  if (rc < 0 && !(rc == -EBUSY && c->streaming) && rc != -ECANCELED && rc != -ETIMEDOUT) return rc;
  return rollback(c);
}

int cio_pg_tx_end(cio_pg *c, int rc) {
  if (!c || c->magic != CIO__PG_MAGIC) return -EINVAL;
  // Another task's call under way: its connection is not to be broken
  // under it (a rollback sent now would do that).
  if (cio__pg_awaited(c)) return -EBUSY;
  if (rc >= 0) return cio_pg_commit(c);
  if (!c->pq) {
    c->tx_depth = 0;
    return rc;
  }
  // Keep the failure's SQLSTATE and message for the caller: the rollback's own are dropped.
  cio__pg_failure kept;
  cio__pg_failure_keep(c, &kept);
  (void)rollback(c);
  cio__pg_failure_restore(c, &kept);
  return rc;
}

int cio_pg_tx_depth(const cio_pg *c) { return c ? c->tx_depth : 0; }

// ---------------------------------------------------------------- LISTEN/NOTIFY

// Awaits: "<verb> <channel as an identifier>".
static int channel_command(cio_pg *c, const char *verb, const char *channel) {
  int rc = cio__pg_check(c);
  if (rc < 0) return rc;
  if (!channel) return simple(c, "UNLISTEN *", NULL);
  char *quoted = PQescapeIdentifier(c->pq, channel, strlen(channel));
  if (!quoted) return -ENOMEM;
  size_t len = strlen(verb) + strlen(quoted) + 2;
  char *sql = cio__malloc(len);
  if (sql) snprintf(sql, len, "%s %s", verb, quoted);
  PQfreemem(quoted);
  if (!sql) return -ENOMEM;
  rc = simple(c, sql, NULL);
  free(sql);
  return rc;
}

int cio_pg_listen(cio_pg *c, const char *channel) {
  return channel ? channel_command(c, "LISTEN", channel) : -EINVAL;
}

int cio_pg_unlisten(cio_pg *c, const char *channel) {
  return channel_command(c, "UNLISTEN", channel);
}

static cio_pg_notification *note_pop(cio_pg *c) {
  if (c->notes_count == 0) return NULL;
  cio_pg_notification *n = c->notes[c->notes_head];
  c->notes_head = (c->notes_head + 1) % c->notes_cap;
  c->notes_count--;
  return n;
}

int cio_pg_notification_next(cio_pg *c, double timeout, cio_pg_notification **out) {
  if (!out) return -EINVAL;
  int rc = cio__pg_check(c);
  if (rc < 0) return rc;
  if ((*out = note_pop(c))) return 0;
  cio_scope scope;
  if ((rc = cio_timeout_begin(&scope, timeout)) < 0) return rc;
  c->notification_wait = true;
  while (rc == 0 && !(*out = note_pop(c))) {
    rc = cio__pg_wait_readable(c);
    if (rc == 0 && !PQconsumeInput(c->pq)) rc = cio__pg_fail_conn(c, CIO_PG_CONN_LOST);
    if (rc == 0) cio__pg_take_notifications(c);
  }
  c->notification_wait = false;
  int end = cio_scope_end(&scope);
  if (rc == CIO_PG_CONN_LOST) cio__pg_break(c);
  return rc < 0 ? rc : end < 0 && !*out ? end : 0;
}
