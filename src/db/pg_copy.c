// SPDX-License-Identifier: MIT
//
// COPY streams: COPY ... FROM STDIN fed piece by piece, COPY ... TO STDOUT
// read piece by piece.  Both keep the connection busy (-EBUSY for other
// calls) until they end; an interruption cancels the COPY through the
// connection's recovery (COPY FROM is failed, COPY TO's rest dropped after
// a cancel request).  Backpressure: a piece is sent on before the next is
// taken (COPY FROM), and the socket is only read when the caller asks for
// the next piece (COPY TO).
#include <errno.h>
#include <stdlib.h>

#include "../../include/cio.h"
#include "../../include/cio/net.h"
#include "pg.h"

// Awaits: sends `sql` and its first answer, which must be `want`.
static int copy_begin(cio_pg *c, const char *sql, ExecStatusType want) {
  int rc = cio__pg_check(c);
  if (rc < 0) return rc;
  if (!sql) return -EINVAL;
  if (!PQsendQuery(c->pq, sql)) return cio__pg_fail_conn(c, CIO_PG_CONN_LOST);
  PGresult *res = NULL;
  if ((rc = cio__pg_flush(c)) == 0) rc = cio__pg_next_result(c, &res);
  if (rc < 0) return rc;
  ExecStatusType st = res ? PQresultStatus(res) : PGRES_EMPTY_QUERY;
  if (st == want) {
    PQclear(res);
    c->copying = want == PGRES_COPY_IN ? 'i' : 'o';
    return 0;
  }
  // Not the COPY asked for: an error, or another statement.  End it.
  rc = st == PGRES_FATAL_ERROR ? cio__pg_fail(c, res) : CIO_PG_PROTOCOL;
  PQclear(res);
  if (c->pq) {
    if (st == PGRES_COPY_IN) (void)cio__pg_copy_in_end(c, "not the COPY direction asked for");
    if (st == PGRES_COPY_OUT) (void)cio__pg_copy_out_drain(c);
    if (c->pq && cio__pg_collect(c, NULL, NULL) == CIO_PG_CONN_LOST) rc = CIO_PG_CONN_LOST;
  }
  return rc;
}

// On an interruption the COPY is over (recovered, or the connection closed).
static int copy_failed(cio_pg *c, int rc) {
  if ((rc == -ECANCELED || rc == -ETIMEDOUT) && c->pq) (void)cio__pg_recover(c);
  c->copying = 0;
  return rc;
}

int cio_pg_copy_in_begin(cio_pg *c, const char *sql) { return copy_begin(c, sql, PGRES_COPY_IN); }

// libpq takes any piece, growing its buffer as needed, so the backpressure
// is here: a piece is sent on (into the kernel's buffer) before the call
// returns.
int cio_pg_copy_put(cio_pg *c, const void *data, size_t len) {
  if (!c || c->magic != CIO__PG_MAGIC || c->copying != 'i' || (!data && len) || len > INT32_MAX)
    return -EINVAL;
  if (!c->pq) return CIO_PG_CONN_LOST;
  if (PQputCopyData(c->pq, data, (int)len) <= 0)
    return copy_failed(c, cio__pg_fail_conn(c, CIO_PG_CONN_LOST));
  int rc = cio__pg_flush(c); // an interruption recovers: the COPY is failed
  if (rc < 0) c->copying = 0;
  return rc;
}

int cio_pg_copy_in_end(cio_pg *c, const char *error, int64_t *rows) {
  if (!c || c->magic != CIO__PG_MAGIC || c->copying != 'i') return -EINVAL;
  if (rows) *rows = 0;
  if (!c->pq) return CIO_PG_CONN_LOST;
  int rc = cio__pg_copy_in_end(c, error);
  if (rc == 0) rc = cio__pg_collect(c, NULL, rows);
  return copy_failed(c, rc);
}

int cio_pg_copy_out_begin(cio_pg *c, const char *sql) { return copy_begin(c, sql, PGRES_COPY_OUT); }

int cio_pg_copy_get(cio_pg *c, void **buf, size_t *len) {
  if (!c || c->magic != CIO__PG_MAGIC || c->copying != 'o' || !buf || !len) return -EINVAL;
  if (!c->pq) return CIO_PG_CONN_LOST;
  for (;;) {
    char *data;
    int r = PQgetCopyData(c->pq, &data, 1);
    if (r > 0) {
      *buf = data;
      *len = (size_t)r;
      return 1;
    }
    if (r == -2) return copy_failed(c, cio__pg_fail_conn(c, CIO_PG_CONN_LOST));
    if (r == -1) { // the end: the COPY's own result follows
      c->copying = 0;
      return cio__pg_collect(c, NULL, NULL);
    }
    int rc = cio__pg_wait_readable(c);
    if (rc == 0 && !PQconsumeInput(c->pq)) rc = cio__pg_fail_conn(c, CIO_PG_CONN_LOST);
    if (rc < 0) return copy_failed(c, rc);
    cio__pg_take_notifications(c);
  }
}

int cio_pg_copy_close(cio_pg *c) {
  if (!c || c->magic != CIO__PG_MAGIC) return -EINVAL;
  if (cio__pg_awaited(c)) return -EBUSY; // another task's call
  if (!c->copying) return 0;
  if (c->copying == 'i') {
    int rc = cio_pg_copy_in_end(c, "closed by cio_pg_copy_close", NULL);
    return rc == CIO_PG_CONN_LOST ? rc : 0;
  }
  return copy_failed(c, -ECANCELED) == -ECANCELED && c->pq ? 0 : CIO_PG_CONN_LOST;
}

void cio_pg_copy_free(void *buf) {
  if (buf) PQfreemem(buf);
}
