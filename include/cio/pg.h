// SPDX-License-Identifier: MIT
//
// A PostgreSQL driver (asyncpg's role) on libpq, driven by cio's loop: a
// query awaits like every other cio call, under the task's timeout scopes
// and cancellation.  Connections, typed parameters and results (binary
// format), a prepared-statement cache per connection, row streams with
// backpressure, transactions with savepoints, LISTEN/NOTIFY, and a pool.
// Present when cio was built with libpq (the CMake package's PG component,
// cio.pc's pg=yes); it includes <cio.h>.
//
// Cancellation: a call interrupted while the server works on its query (the
// task cancelled, its timeout scope expired) asks the server to cancel it
// (libpq's PQcancel, run on cio's worker threads: libpq 15 has no
// non-blocking cancel) and reads what the server still sends until the
// connection is idle again, for at most 5 s; a connection that cannot be
// brought back so is closed and reports CIO_PG_CONN_LOST from then on.  No
// connection is ever left in the middle of a query.  A call made by a task
// already cancelled or past its scope's deadline sends nothing and returns
// -ECANCELED / -ETIMEDOUT (so a statement reported cancelled never ran);
// cio_pg_rollback() and cio_pg_tx_end() still roll back.
#ifndef CIO_PG_H
#define CIO_PG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../cio.h"

#ifdef __cplusplus
extern "C" {
#endif

// The failures (CIO_PG_ERROR, CIO_PG_CONNECT, CIO_PG_CONN_LOST, ...) are
// defined in <cio.h>, beside the other modules' codes.

/// A connection.  Used by one task at a time, on the loop that opened it: a
/// call made while another task's call on it is under way returns -EBUSY.
typedef struct cio_pg cio_pg;
/// A query's rows, read whole (or one row of a stream).
typedef struct cio_pg_result cio_pg_result;
/// A pool of connections.
typedef struct cio_pg_pool cio_pg_pool;

/// The types of parameters and of the values getters read.  Parameters go in
/// PostgreSQL's binary format (text-like ones as text).
typedef enum cio_pg_type {
  CIO_PG_T_NULL,        ///< SQL NULL, of a type the server infers
  CIO_PG_T_BOOL,        ///< .b
  CIO_PG_T_INT2,        ///< .i (must fit 16 bits)
  CIO_PG_T_INT4,        ///< .i (must fit 32 bits)
  CIO_PG_T_INT8,        ///< .i
  CIO_PG_T_FLOAT4,      ///< .f
  CIO_PG_T_FLOAT8,      ///< .f
  CIO_PG_T_TEXT,        ///< .s, NUL-terminated (NULL .s: SQL NULL)
  CIO_PG_T_BYTEA,       ///< .p and .len (NULL .p: SQL NULL; zero bytes allowed)
  CIO_PG_T_UUID,        ///< .p, 16 bytes
  CIO_PG_T_TIMESTAMP,   ///< .i, microseconds since 1970-01-01 00:00 (no zone)
  CIO_PG_T_TIMESTAMPTZ, ///< .i, microseconds since 1970-01-01 00:00 UTC
  CIO_PG_T_NUMERIC,     ///< .s, the number as text ("12.50")
  CIO_PG_T_JSON,        ///< .s, JSON text
  CIO_PG_T_JSONB,       ///< .s, JSON text
  CIO_PG_T_OTHER,       ///< a result column of another type (cast it to text in SQL)
} cio_pg_type;

/// A query parameter: a type and the member of the union it names, e.g.
/// `(cio_pg_param){CIO_PG_T_INT8, .i = 42}` or `{CIO_PG_T_TEXT, .s = "x"}`.
/// The values are copied by the call that sends them.
typedef struct cio_pg_param {
  cio_pg_type type; ///< which member is set
  union {
    bool b;        ///< BOOL
    int64_t i;     ///< INT2/4/8, TIMESTAMP(TZ)
    double f;      ///< FLOAT4/8
    const char *s; ///< TEXT, NUMERIC, JSON, JSONB
    struct {
      const void *p; ///< BYTEA, UUID
      size_t len;    ///< BYTEA's length
    };
  };
} cio_pg_param;

// ---------------------------------------------------------------- connections

/// Awaits: connects with libpq's `conninfo` ("host=/tmp dbname=x" or a
/// postgresql:// URI) within `timeout` seconds (CIO_FOREVER: no limit) and
/// sets *out to a connection the caller owns (cio_pg_close()).  Returns 0,
/// CIO_PG_CONNECT (cio_pg_connect_error() says why), -ETIMEDOUT,
/// -ECANCELED, -ENOMEM, -EINVAL (NULL argument, NaN timeout), -EPERM outside a
/// task.  *out is untouched on failure.
CIO_AWAIT int cio_pg_connect(cio_pg **out, const char *conninfo, double timeout);

/// libpq's message for the last cio_pg_connect() of this thread that
/// returned CIO_PG_CONNECT (valid until the next connect); "" if none.
const char *cio_pg_connect_error(void);

/// Closes the connection and frees it (and its cached statements and unread
/// notifications).  Does not await: a connection in the middle of a query
/// is just dropped (the server sees the socket close).  Returns 0 or
/// -EINVAL for NULL.
int cio_pg_close(cio_pg *conn);

/// False once the connection broke (CIO_PG_CONN_LOST); close it then.
bool cio_pg_is_ok(const cio_pg *conn);

/// The SQLSTATE of the last CIO_PG_ERROR on this connection ("23505",
/// "40001", ...), or "" if the last call did not fail so.  Owned by the
/// connection, valid until its next call.
const char *cio_pg_sqlstate(const cio_pg *conn);

/// The server's (or libpq's) message for the last failure on this connection,
/// or "".  Owned by the connection, valid until its next call.
const char *cio_pg_error_message(const cio_pg *conn);

/// The server's process id for this connection (what pg_backend_pid() says).
int cio_pg_backend_pid(const cio_pg *conn);

/// How many prepared statements the connection keeps (least recently used
/// ones are deallocated beyond it); 0 turns the cache off (every query is
/// then sent unnamed).  Default 100.  Returns 0 or -EINVAL.
int cio_pg_set_statement_cache(cio_pg *conn, size_t capacity);

// ---------------------------------------------------------------- queries

/// Awaits: runs one statement with `nparams` parameters ($1, $2, ...) and
/// sets *out to its rows, which the caller frees with cio_pg_result_free().
/// The statement is prepared on first use and kept in the connection's cache.
/// Returns 0, CIO_PG_ERROR (cio_pg_sqlstate()), CIO_PG_CONN_LOST,
/// CIO_PG_PROTOCOL, -ETIMEDOUT, -ECANCELED (the query cancelled as the file
/// comment says), -EBUSY (a stream or COPY is open on the connection, or
/// another task's call is under way), -ENOMEM, -EINVAL (NULL argument, a
/// parameter out of its type's range), -EPERM outside a task.  *out is set
/// only on success.
CIO_AWAIT int cio_pg_query(cio_pg *conn, const char *sql, const cio_pg_param *params,
                           size_t nparams, cio_pg_result **out);

/// Awaits: runs a command and sets *affected (if not NULL) to the rows it
/// touched (INSERT, UPDATE, DELETE, ...; 0 for others).  Without parameters
/// `sql` may hold several statements separated by semicolons (sent as one
/// simple query; *affected is then the last one's).  Returns as cio_pg_query().
CIO_AWAIT int cio_pg_exec(cio_pg *conn, const char *sql, const cio_pg_param *params, size_t nparams,
                          int64_t *affected);

/// Awaits: starts a query whose rows are then read one by one with
/// cio_pg_stream_next(), so that a result larger than memory can be walked
/// (libpq's single-row mode; the server is held back by TCP while the rows
/// are not read).  Until the stream ends or is closed, the connection takes
/// no other query (-EBUSY).  It reads as far as the first row: a failure
/// before it (a bad statement, a division by zero in the first row) is
/// returned here, with no stream left open, and a cached statement the
/// server refuses is prepared again as cio_pg_query() does.  Returns as
/// cio_pg_query().
CIO_AWAIT int cio_pg_query_stream(cio_pg *conn, const char *sql, const cio_pg_param *params,
                                  size_t nparams);

/// Awaits: the next row of the open stream.  Returns 1 with *row set to a
/// one-row result (the caller frees it), 0 at the end (the stream is then
/// closed), or an error as cio_pg_query() (the stream is then closed too;
/// after -ECANCELED/-ETIMEDOUT the rest of the query was cancelled).
/// -EINVAL if no stream is open.
CIO_AWAIT int cio_pg_stream_next(cio_pg *conn, cio_pg_result **row);

/// Awaits: closes an open stream before its end: cancels the rest of the
/// query and reads until the connection is idle (shielded, at most 5 s).
/// Returns 0 (also if no stream was open), or CIO_PG_CONN_LOST; -EBUSY
/// (nothing done) while another task's call on the connection is under way.
CIO_AWAIT int cio_pg_stream_close(cio_pg *conn);

/// One query of a batch: what to run, and after cio_pg_batch() its outcome.
typedef struct cio_pg_batch_item {
  const char *sql;            ///< one statement
  const cio_pg_param *params; ///< its parameters...
  size_t nparams;             ///<   how many
  int rc;                     ///< out: 0, CIO_PG_ERROR, or CIO_PG_ABORTED (not run)
  cio_pg_result *result;      ///< out: its rows on success (the caller frees), else NULL
} cio_pg_batch_item;

/// Awaits: runs the queries in one round trip (libpq's pipeline mode): all
/// are sent, then their answers read in order.  Unless a transaction is
/// open, the batch is one implicit transaction: if a query fails, the ones
/// before it are rolled back and the ones after it are not run
/// (CIO_PG_ABORTED).  Statements are sent unnamed (not through the cache).
/// Returns 0 if every query succeeded, the first failure's code otherwise
/// (the items say which; cio_pg_sqlstate() is the failed query's);
/// -ECANCELED / -ETIMEDOUT (the batch cancelled, no item's result is kept),
/// CIO_PG_CONN_LOST, -EBUSY (as cio_pg_query()), -ENOMEM, -EINVAL (a NULL
/// argument or sql, a bad parameter, a COPY statement: its data needs
/// cio_pg_copy_*; nothing is sent then), -EPERM outside a task.
CIO_AWAIT int cio_pg_batch(cio_pg *conn, cio_pg_batch_item *items, size_t n);

// ---------------------------------------------------------------- COPY

/// Awaits: starts `sql`, a `COPY ... FROM STDIN`; its data is then sent with
/// cio_pg_copy_put() and the COPY ended with cio_pg_copy_in_end().  Until
/// then the connection takes no other query (-EBUSY).  Returns as
/// cio_pg_exec(); CIO_PG_PROTOCOL if `sql` is not a COPY FROM STDIN.
CIO_AWAIT int cio_pg_copy_in_begin(cio_pg *conn, const char *sql);
/// Awaits: sends a piece of the COPY's data (any split: rows may span
/// pieces), in the COPY's format.  Waits until the piece is sent on
/// (backpressure).  Returns 0; on -ECANCELED / -ETIMEDOUT the COPY is failed
/// and over; CIO_PG_CONN_LOST; -EINVAL if no COPY FROM is under way.
CIO_AWAIT int cio_pg_copy_put(cio_pg *conn, const void *data, size_t len);
/// Awaits: ends the COPY FROM: with `error` NULL, commits it and sets *rows
/// (if not NULL) to the rows copied; otherwise fails it with that message
/// (the server then answers CIO_PG_ERROR, SQLSTATE 57014).  Returns as
/// cio_pg_exec().
CIO_AWAIT int cio_pg_copy_in_end(cio_pg *conn, const char *error, int64_t *rows);

/// Awaits: starts `sql`, a `COPY ... TO STDOUT`, whose data is then read
/// with cio_pg_copy_get().  Returns as cio_pg_copy_in_begin().
CIO_AWAIT int cio_pg_copy_out_begin(cio_pg *conn, const char *sql);
/// Awaits the next piece of the COPY's data (a row, in the text and CSV
/// formats): returns 1 with *buf and *len set (free *buf with
/// cio_pg_copy_free()), 0 at the end (the COPY is over), or an error as
/// cio_pg_exec() (the COPY is then over too).  The server is held back by
/// TCP while the pieces are not read.
CIO_AWAIT int cio_pg_copy_get(cio_pg *conn, void **buf, size_t *len);
/// Frees a piece from cio_pg_copy_get().  Accepts NULL.
void cio_pg_copy_free(void *buf);
/// Awaits: ends a COPY before its end (COPY FROM failed, COPY TO cancelled),
/// shielded, at most 5 s.  Returns 0 (also when none is under way) or
/// CIO_PG_CONN_LOST; -EBUSY as cio_pg_stream_close().
CIO_AWAIT int cio_pg_copy_close(cio_pg *conn);

// ---------------------------------------------------------------- results

/// Frees a result.  Accepts NULL.  Does not await.
void cio_pg_result_free(cio_pg_result *res);
/// Rows and columns of a result.
size_t cio_pg_nrows(const cio_pg_result *res);
size_t cio_pg_ncols(const cio_pg_result *res);
/// A column's name (owned by the result), or NULL for a column out of range.
const char *cio_pg_column_name(const cio_pg_result *res, size_t col);
/// A column's type; CIO_PG_T_OTHER for types cio does not read (cast them
/// to text in the query), -EINVAL (as an int) out of range.
int cio_pg_column_type(const cio_pg_result *res, size_t col);

/// Whether a value is SQL NULL (also true out of range).
bool cio_pg_is_null(const cio_pg_result *res, size_t row, size_t col);

/// The value as an integer: INT2, INT4, INT8, and TIMESTAMP(TZ) as
/// microseconds since 1970-01-01 (UTC for TIMESTAMPTZ; PostgreSQL's
/// 'infinity' and '-infinity' come as INT64_MAX and INT64_MIN).  Returns 0,
/// CIO_PG_NULL, CIO_PG_TYPE for another type, -EINVAL out of range.
int cio_pg_get_int(const cio_pg_result *res, size_t row, size_t col, int64_t *out);
/// The value as a double: FLOAT4, FLOAT8 (NaN and infinities included).
/// Returns as cio_pg_get_int().
int cio_pg_get_float(const cio_pg_result *res, size_t row, size_t col, double *out);
/// The value of a BOOL.  Returns as cio_pg_get_int().
int cio_pg_get_bool(const cio_pg_result *res, size_t row, size_t col, bool *out);
/// The value as text, NUL-terminated and owned by the result: TEXT (and
/// varchar, char, name), NUMERIC ("-12.50", "NaN"), JSON and JSONB, UUID
/// ("a0ee...-..."), and INT2/4/8 in decimal.  *len (if not NULL) gets its
/// length.  Returns as cio_pg_get_int(), and -ENOMEM.
int cio_pg_get_text(const cio_pg_result *res, size_t row, size_t col, const char **out,
                    size_t *len);
/// The raw bytes of a BYTEA (or the 16 of a UUID), owned by the result.
/// Returns as cio_pg_get_int().
int cio_pg_get_bytes(const cio_pg_result *res, size_t row, size_t col, const void **out,
                     size_t *len);

// ---------------------------------------------------------------- transactions

/// Isolation levels for cio_pg_begin().
typedef enum cio_pg_isolation {
  CIO_PG_READ_COMMITTED,  ///< the server's default
  CIO_PG_REPEATABLE_READ, ///< one snapshot for the transaction
  CIO_PG_SERIALIZABLE,    ///< may fail with SQLSTATE 40001: retry the transaction
} cio_pg_isolation;

/// Awaits: opens a transaction, or inside one a savepoint (the isolation is
/// then ignored).  Returns as cio_pg_exec().
CIO_AWAIT int cio_pg_begin(cio_pg *conn, cio_pg_isolation isolation);
/// Awaits: commits the innermost transaction or releases its savepoint.
/// Returns as cio_pg_exec(); -EINVAL outside a transaction; CIO_PG_ERROR
/// with SQLSTATE 25P02 when the server rolled the transaction back instead
/// (a statement in it had failed); -ECANCELED / -ETIMEDOUT with nothing
/// sent and the transaction still open if the task was interrupted already.
CIO_AWAIT int cio_pg_commit(cio_pg *conn);
/// Awaits: rolls back the innermost transaction or savepoint.  Returns as
/// cio_pg_exec(); -EINVAL outside a transaction.  A task cancelled or out of
/// time still rolls back (shielded).
CIO_AWAIT int cio_pg_rollback(cio_pg *conn);
/// Awaits: ends the innermost transaction by the outcome of the work done in
/// it: commits if `rc` >= 0 and returns the commit's result, else rolls back
/// (shielded from the task's cancellation, at most 5 s) and returns `rc`.
/// So a cancelled or failed task never leaves a transaction open:
///
///     int rc = cio_pg_begin(c, CIO_PG_SERIALIZABLE);
///     if (rc < 0) return rc;
///     rc = cio_pg_tx_end(c, transfer(c, from, to));
///
/// -EBUSY (nothing done) while another task's call on the connection is
/// under way: ending its transaction under it would break that call.
CIO_AWAIT int cio_pg_tx_end(cio_pg *conn, int rc);
/// How many transactions and savepoints are open (0: none).
int cio_pg_tx_depth(const cio_pg *conn);

// ---------------------------------------------------------------- LISTEN/NOTIFY

/// A notification, freed by the caller with free().
typedef struct cio_pg_notification {
  int pid;             ///< the notifying server process
  const char *channel; ///< the channel (in the same allocation)
  const char *payload; ///< the payload, "" if none (likewise)
} cio_pg_notification;

/// Awaits: LISTEN on `channel` (quoted as an identifier).  Returns as
/// cio_pg_exec().
CIO_AWAIT int cio_pg_listen(cio_pg *conn, const char *channel);
/// Awaits: UNLISTEN `channel`, or every channel for NULL.
CIO_AWAIT int cio_pg_unlisten(cio_pg *conn, const char *channel);
/// Awaits the next notification, in the order the server sent them (those
/// that arrived during queries are kept for this call).  Sets *out (the
/// caller frees it).  Returns 0, -ETIMEDOUT after `timeout` seconds,
/// -ECANCELED, CIO_PG_CONN_LOST, -EBUSY (as cio_pg_query()), -EINVAL, -EPERM.
CIO_AWAIT int cio_pg_notification_next(cio_pg *conn, double timeout, cio_pg_notification **out);

// ---------------------------------------------------------------- pool

/// A pool's settings (asyncpg's create_pool).  Zeroes give the defaults.
typedef struct cio_pg_pool_opts {
  size_t min_size;           ///< connections opened at once and kept, reopened when lost (0: none)
  size_t max_size;           ///< connections at most (0: 10)
  double connect_timeout;    ///< seconds to open one (0: 10)
  double max_idle;           ///< seconds an idle connection above min_size is kept (0: 300;
                             ///< closed by the pool's maintenance task, without any acquire)
  double max_lifetime;       ///< seconds a connection is used at most (0: 3600)
  double health_check_after; ///< idle this long, a connection is checked before use; also how
                             ///< often idle sockets are looked at for a closed connection (0: 1)
  size_t statement_cache;    ///< per connection (0: 100)
  const char *reset_sql;     ///< run on release (copied); NULL: CLOSE ALL, UNLISTEN *, RESET
                             ///< ALL, advisory locks released, sent with the next statement
                             ///< (see cio_pg_pool_release()); "": none (as pgx: settings made
                             ///< by one user stay for the next)
} cio_pg_pool_opts;

/// Pool counters.
typedef struct cio_pg_pool_counts {
  size_t size;    ///< connections open (idle + in use + one the pool's task works on)
  size_t idle;    ///< waiting in the pool
  size_t in_use;  ///< acquired
  size_t waiting; ///< tasks waiting in cio_pg_pool_acquire()
} cio_pg_pool_counts;

/// Awaits: makes a pool for `conninfo` (copied) and opens opts->min_size
/// connections.  Sets *out (the caller closes it with cio_pg_pool_close()).
/// The pool's maintenance task (detached, on this loop) then closes idle
/// connections past max_idle (above min_size) or max_lifetime, closes those
/// the server closed, and opens connections back up to min_size (one
/// attempt a second while they fail).  opts may be NULL.  Returns 0, or as
/// cio_pg_connect() (nothing is kept).
CIO_AWAIT int cio_pg_pool_open(cio_pg_pool **out, const char *conninfo,
                               const cio_pg_pool_opts *opts);

/// Awaits: sets *conn to a connection of the pool, idle and outside any
/// transaction; waiters are served first come, first served.  An idle
/// connection past max_lifetime or broken is replaced; one idle past
/// health_check_after is checked with an empty query first.  Give it back with
/// cio_pg_pool_release().  Returns 0, CIO_PG_POOL_TIMEOUT after `timeout`
/// seconds (opening a connection counts in it, as in asyncpg; so does
/// connect_timeout, the sooner), -ECANCELED, -ETIMEDOUT (a timeout scope), CIO_PG_CONNECT,
/// -ENOMEM, -EINVAL, -EPERM.
CIO_AWAIT int cio_pg_pool_acquire(cio_pg_pool *pool, double timeout, cio_pg **conn);

/// Awaits: gives back a connection: a stream is closed and a transaction
/// left open rolled back (a round trip, shielded, at most 5 s); a broken
/// connection is closed instead.  The session reset (cursors, LISTEN,
/// settings, advisory locks; prepared statements are kept) is owed: the
/// next user's first statement carries it (for a cached SELECT or DML the
/// same write, as a transaction of its own just before), so the next user
/// always finds the session reset, and a release takes no round trip.  A
/// connection nobody takes within 0.1 s is reset by the pool's task.  A
/// custom opts->reset_sql is sent here, its answer read by the next
/// acquirer.  The next waiter gets the connection.  Returns 0, or -EINVAL
/// for a connection not acquired from `pool`.
CIO_AWAIT int cio_pg_pool_release(cio_pg_pool *pool, cio_pg *conn);

/// Sets *out to the pool's counters.  Returns 0 or -EINVAL.  Does not await.
int cio_pg_pool_stats(const cio_pg_pool *pool, cio_pg_pool_counts *out);

/// Closes the idle connections, stops the maintenance task and frees the
/// pool (or leaves it to the task to free as it ends, if it was awaiting).
/// Every connection must have been released first, and no task be waiting
/// in cio_pg_pool_acquire(): returns -EBUSY (and does nothing) otherwise;
/// 0, -EINVAL for NULL.  Does not await.
int cio_pg_pool_close(cio_pg_pool *pool);

#ifdef __cplusplus
}
#endif

#endif
