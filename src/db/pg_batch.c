// SPDX-License-Identifier: MIT
//
// Batches in libpq's pipeline mode: every query of a batch is queued with
// one Sync after the last, sent in one flush, and the answers are read in
// order.  An interruption goes through the connection's recovery, which
// knows to read up to the pipeline's Sync and leave the mode.
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../include/cio.h"
#include "../alloc.h"
#include "pg.h"

// Frees the results kept so far (the batch failed as a whole).
static void drop_results(cio_pg_batch_item *items, size_t n) {
  for (size_t i = 0; i < n; i++) {
    cio_pg_result_free(items[i].result);
    items[i].result = NULL;
    items[i].rc = CIO_PG_ABORTED;
  }
}

// Encodes every item's parameters (before anything is sent, so that a bad
// one leaves the batch unsent).
static int encode_all(const cio_pg_batch_item *items, size_t n, cio__pg_params **params) {
  for (size_t i = 0; i < n; i++) {
    int rc = items[i].sql ? cio__pg_params_encode(items[i].params, items[i].nparams, &params[i])
                          : -EINVAL;
    if (rc < 0) {
      while (i > 0) free(params[--i]);
      return rc;
    }
  }
  return 0;
}

// Queues every query and the Sync.  Does not await.
static int queue_all(cio_pg *c, const cio_pg_batch_item *items, size_t n,
                     cio__pg_params *const *params) {
  for (size_t i = 0; i < n; i++) {
    const cio__pg_params *p = params[i];
    if (!PQsendQueryParams(c->pq, items[i].sql, p->n, p->types, p->values, p->lengths, p->formats,
                           1))
      return cio__pg_fail_conn(c, CIO_PG_CONN_LOST);
  }
  return PQpipelineSync(c->pq) ? 0 : cio__pg_fail_conn(c, CIO_PG_CONN_LOST);
}

// Awaits: the results of one item, up to the NULL that ends them.
static int read_item(cio_pg *c, cio_pg_batch_item *item) {
  PGresult *res;
  for (;;) {
    int rc = cio__pg_next_result(c, &res);
    if (rc < 0) return rc;
    if (!res) return 0;
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_COMMAND_OK) cio__pg_saw_tag(c, PQcmdStatus(res));
    if ((st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) && !item->result) {
      if (!(item->result = cio__pg_result_wrap(res))) {
        PQclear(res);
        return -ENOMEM;
      }
      item->rc = 0;
      continue;
    }
    if (st == PGRES_FATAL_ERROR) {
      item->rc = cio__pg_fail(c, res);
    } else if (st == PGRES_PIPELINE_ABORTED) {
      item->rc = CIO_PG_ABORTED;
    } else if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
      // A COPY that is_copy() did not see: the server now reads the rest
      // of the pipeline as COPY data.  The connection is given up (libpq
      // gave this result again and again, and the loop spun on it).
      PQclear(res);
      item->rc = cio__pg_fail_conn(c, CIO_PG_PROTOCOL);
      return item->rc;
    }
    PQclear(res);
    if (!c->pq) return CIO_PG_CONN_LOST;
  }
}

// Whether `sql` is a COPY statement: its first word, after blanks and
// comments, is COPY.  (A statement of the extended protocol is one
// statement, and COPY cannot be nested in another.)
static bool is_copy(const char *sql) {
  const char *p = sql;
  for (;;) {
    while (isspace((unsigned char)*p)) p++;
    if (p[0] == '-' && p[1] == '-') {
      p += strcspn(p, "\n");
    } else if (p[0] == '/' && p[1] == '*') { // comments nest in PostgreSQL
      int depth = 0;
      do {
        if (p[0] == '/' && p[1] == '*')
          depth++, p += 2;
        else if (p[0] == '*' && p[1] == '/')
          depth--, p += 2;
        else
          p++;
      } while (depth > 0 && *p);
    } else {
      break;
    }
  }
  return strncasecmp(p, "copy", 4) == 0 && !isalnum((unsigned char)p[4]) && p[4] != '_';
}

int cio_pg_batch(cio_pg *c, cio_pg_batch_item *items, size_t n) {
  int rc = cio__pg_check(c);
  if (rc < 0) return rc;
  if (!items || n == 0) return -EINVAL;
  // COPY in a pipeline: the server would read the queries after it as its
  // data and end the session.  Refused before anything is sent.
  for (size_t i = 0; i < n; i++)
    if (!items[i].sql || is_copy(items[i].sql)) return -EINVAL;
  for (size_t i = 0; i < n; i++) {
    items[i].result = NULL;
    items[i].rc = CIO_PG_ABORTED;
  }
  cio__pg_params **params = cio__calloc(n, sizeof *params);
  if (!params) return -ENOMEM;
  rc = encode_all(items, n, params);
  if (rc == 0 && !PQenterPipelineMode(c->pq)) rc = cio__pg_fail_conn(c, CIO_PG_PROTOCOL);
  if (rc < 0) {
    free(params);
    return rc;
  }
  rc = queue_all(c, items, n, params);
  for (size_t i = 0; i < n; i++) free(params[i]);
  free(params);
  if (rc == 0) rc = cio__pg_flush(c);
  for (size_t i = 0; rc == 0 && i < n; i++) rc = read_item(c, &items[i]);
  rc = cio__pg_pipeline_end(c, rc);
  if (rc < 0) {
    drop_results(items, n);
    return rc;
  }
  for (size_t i = 0; i < n; i++)
    if (items[i].rc < 0) return items[i].rc;
  return 0;
}
