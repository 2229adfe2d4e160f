// SPDX-License-Identifier: MIT
//
// What the PostgreSQL driver's files share: the connection record, the
// prepared-statement cache entries, and the calls each file offers the
// others.  pg_conn.c drives libpq's socket (connect, flush, results, the
// cancel-and-drain recovery); pg_types.c converts parameters and values;
// pg_query.c holds queries, streams, transactions and LISTEN; pg_pool.c the
// pool.
#ifndef CIO_DB_PG_H
#define CIO_DB_PG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../include/cio/pg.h"
#include "../loop/loop.h"

#define CIO__PG_MAGIC 0x70676367u      // "pgcg"
#define CIO__PG_RECOVER_SECONDS 5.0    // cancel-and-drain, rollback and reset bound
#define CIO__PG_DEFAULT_STATEMENTS 100 // prepared statements kept per connection

// The pool's session reset: what a connection's previous user may have left
// (asyncpg's reset query, without DEALLOCATE: the statement cache stays).
// Also sent statement by statement in a pipeline (pg_query.c).
#define CIO__PG_RESET_SQL                                                                          \
  "RESET ALL; CLOSE ALL; UNLISTEN *; SELECT pg_catalog.pg_advisory_unlock_all()"

// A prepared statement of the cache: its SQL and parameter types are the key.
typedef struct cio__pg_stmt {
  struct cio__pg_stmt *prev, *next; // the LRU list, most recent first
  uint64_t hash;                    // of sql and types, to compare quickly
  char name[24];                    // "cio_<n>" on the server
  int ntypes;                       // parameters
  Oid *types;                       // their types (in the same allocation)
  char *sql;                        // the statement (likewise)
  bool plain;                       // its last run said SELECT, INSERT, UPDATE, DELETE or MERGE
} cio__pg_stmt;

struct cio_pg {
  uint32_t magic;                 // CIO__PG_MAGIC while open
  PGconn *pq;                     // libpq's connection; NULL once broken and closed
  bool streaming;                 // a single-row query is under way
  PGresult *stream_first;         //   its first result, read by cio_pg_query_stream, not yet taken
  int copying;                    // a COPY is under way: 'i' from the client, 'o' to it, or 0
  bool notification_wait;         // a task awaits a notification on it
  int tx_depth;                   // transactions and savepoints open
  char sqlstate[6];               // of the last CIO_PG_ERROR, or ""
  bool plan_changed;              // it was "cached plan must not change result type"
  bool fatal;                     // it was the server's FATAL: the close that follows is its
                                  //   consequence, and keeps its message
  char *error;                    // the last failure's message (malloc), or NULL
  cio__pg_stmt *lru_head;         // the statement cache, most recently used first
  cio__pg_stmt *lru_tail;         //   least recently used
  size_t nstmts;                  //   entries
  size_t stmt_capacity;           //   at most (0: no cache)
  uint64_t stmt_serial;           //   names given so far
  cio_pg_notification **notes;    // notifications not yet taken (a ring)
  size_t notes_head, notes_count; //   first, how many
  size_t notes_cap;               //   slots
  struct cio_pg_pool *pool;       // the pool it belongs to, or NULL
  struct cio_pg *pool_next;       // the pool's idle list
  bool in_use;                    // acquired from its pool
  bool reset_pending;             // its pool reset was sent, its answer not read yet
  bool reset_owed;                // the pool's reset (CIO__PG_RESET_SQL) is due before its next
                                  //   statement, and not sent yet
  bool reset_prepared;            // the reset's statements are prepared (pg_query.c)
  uint64_t reset_generation;      //   under names of this generation
  bool last_plain;                // the last result read had a plain tag (cio__pg_stmt.plain)
  bool last_rollback;         // the last result read was tagged ROLLBACK (a COMMIT that was not)
  double opened_at;           // cio_now() when connected
  cio__io watch;              // libpq's socket in its loop's poller, once connected
  uint64_t watch_loop;        //   that loop's serial, or 0 if not registered
  struct cio_task *waiter[2]; //   the tasks awaiting it readable, writable
  double idle_since;          // cio_now() when last released
};

// The parameters of a query as libpq takes them (one allocation).
typedef struct cio__pg_params {
  int n;                // how many
  Oid *types;           // their type OIDs (0: the server infers)
  const char **values;  // NULL for SQL NULL
  int *lengths;         // of binary values
  int *formats;         // 1 binary, 0 text
  unsigned char *bytes; // 8 bytes per parameter for the binary numbers
} cio__pg_params;

// pg_types.c
int cio__pg_params_encode(const cio_pg_param *params, size_t n, cio__pg_params **out);
cio_pg_result *cio__pg_result_wrap(PGresult *res);

// pg_conn.c
// Notes a result's command tag: a DEALLOCATE or DISCARD ALL may have
// dropped the pool reset's prepared statements, which are then prepared
// again, under new names, with the next reset.
void cio__pg_saw_tag(cio_pg *c, const char *tag);
// Records the failure of `res` (SQLSTATE and message) or of the connection.
int cio__pg_fail(cio_pg *c, const PGresult *res);
// Records a failure the server did not report as one (SQLSTATE `state`,
// message `msg`).  Returns CIO_PG_ERROR.
int cio__pg_fail_as(cio_pg *c, const char *state, const char *msg);
// Records a message of libpq's own (the connection's) and returns `code`.
int cio__pg_fail_conn(cio_pg *c, int code);
// Clears the last failure.
void cio__pg_clear_error(cio_pg *c);
// A failure set aside while something else runs on the connection (a
// rollback, a reset) whose own failure must not replace it.
typedef struct cio__pg_failure {
  char sqlstate[6];
  char *error;
} cio__pg_failure;
// Moves the last failure into *f (the connection then has none).
void cio__pg_failure_keep(cio_pg *c, cio__pg_failure *f);
// Puts *f back as the last failure, dropping whatever was recorded since.
void cio__pg_failure_restore(cio_pg *c, cio__pg_failure *f);
// The connection as usable: 0, CIO_PG_CONN_LOST, -EBUSY while another call (or
// a stream, a COPY) is under way, -EINVAL.  Does not await.
int cio__pg_check_idle(cio_pg *c);
// Whether a task awaits the connection now (its socket, a notification):
// another task's call under way, which nothing else may touch.
static inline bool cio__pg_awaited(const cio_pg *c) {
  return c->waiter[0] || c->waiter[1] || c->notification_wait;
}
// -ECANCELED or -ETIMEDOUT if the running task is cancelled or past its
// scope's deadline already, else 0.  Does not await.
int cio__pg_interrupted(void);
// Awaits: cio__pg_check_idle(), then -ECANCELED / -ETIMEDOUT if the task is
// interrupted already (nothing is sent), then the reset the pool owes the
// session (reset_owed), if any.  Returns as cio__pg_check_idle().
int cio__pg_check(cio_pg *c);
// Drops the notifications not yet taken.
void cio__pg_drop_notifications(cio_pg *c);
// Awaits: sends what libpq holds.  On an interruption, recovers first.
int cio__pg_flush(cio_pg *c);
// Awaits: the next result of the query under way (NULL once it is done).
// On an interruption, recovers (cancel and drain) and returns the error.
int cio__pg_next_result(cio_pg *c, PGresult **out);
// Awaits: reads every result of the query under way; the last one with rows
// goes to *rows (if not NULL, else it is freed), the affected rows of the
// last command to *affected (if not NULL).  Returns 0 or the first error.
int cio__pg_collect(cio_pg *c, PGresult **rows, int64_t *affected);
// Awaits: ends COPY FROM STDIN (error NULL: done; else failed with that message).
int cio__pg_copy_in_end(cio_pg *c, const char *error);
// Awaits: reads and drops the rest of a COPY TO STDOUT.
int cio__pg_copy_out_drain(cio_pg *c);
// Awaits (shielded, bounded): cancels the query under way and reads until
// the connection is idle; closes it if that fails.  Returns 0 or CIO_PG_CONN_LOST.
int cio__pg_recover(cio_pg *c);
// Awaits: the end of a pipeline whose results were all read (rc 0) or
// whose reading failed (rc < 0): its Sync, then out of pipeline mode.  A
// FATAL in the Sync's place (a server shutting down after the last
// statement, which is then not committed) is the server's error; whatever
// failed, the pipeline is brought to its end or the connection closed, and
// an error that left the connection closed is returned as CIO_PG_CONN_LOST
// (the SQLSTATE says why).  Returns 0, that error, or rc as given.
int cio__pg_pipeline_end(cio_pg *c, int rc);
// Takes the notifications libpq has read into the connection's queue.
void cio__pg_take_notifications(cio_pg *c);
// Marks the stream over and frees the first result it kept, if any.
void cio__pg_stream_forget(cio_pg *c);
// Breaks the connection for good: closes libpq's side.
void cio__pg_break(cio_pg *c);
// Awaits libpq's socket readable.  Returns 0, CIO_PG_CONN_LOST (no socket),
// -ECANCELED, -ETIMEDOUT, -EBUSY (another task awaits it).
int cio__pg_wait_readable(cio_pg *c);

// pg_query.c
// Awaits: runs `sql` as a simple query (several statements allowed), shielded
// from cancellation and bounded by CIO__PG_RECOVER_SECONDS (rollback, reset).
int cio__pg_exec_shielded(cio_pg *c, const char *sql);
// Awaits (shielded, bounded): runs the reset the pool owes the session
// (CIO__PG_RESET_SQL) and drops the notifications received before it.
// Returns 0, or CIO_PG_CONN_LOST (the connection is then broken).
int cio__pg_reset_now(cio_pg *c);

#endif
