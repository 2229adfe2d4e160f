// SPDX-License-Identifier: MIT
//
// pg_load: PostgreSQL through cio's driver (<cio/pg.h>), two workloads that
// bench/pg_load.sh runs beside asyncpg (uvloop) and Go's pgx v4:
//
//   select: N tasks over ONE pool of N connections, each looping acquire,
//     `SELECT id, name, balance FROM accounts WHERE id = $1` (a random id of
//     100,000, the primary key; a prepared statement), release (which resets
//     the session, as asyncpg's pool does).  After WARMUP seconds the
//     queries are counted over SECONDS.  Prints "pg-select-<N> <q/s> q/s".
//   fetch: one connection reads `SELECT id, name, balance FROM big` (1,000,000
//     rows) whole into memory and sums the ids, best of N rounds.  Prints
//     "pg-fetch <rows/s> rows/s".
//   stream: the same rows as a stream (cio_pg_query_stream), one row at a
//     time, nothing kept; best of N rounds.  Prints "pg-stream <rows/s> rows/s".
//
//   bench_pg_load CONNINFO select N [SECONDS [WARMUP]]
//   bench_pg_load CONNINFO fetch ROUNDS
//   bench_pg_load CONNINFO stream ROUNDS
//
// With PG_NO_RESET set in the environment, the pool resets nothing on
// release (as pgxpool), to tell the reset's cost from the driver's.
#include <cio.h>
#include <cio/pg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

struct params {
  const char *conninfo;
  long n; // tasks (select) or rounds (fetch)
  double seconds, warmup;
  cio_pg_pool *pool;
  long done;   // queries answered
  int failed;  // the first failure's code
  bool stop;   // the tasks are to end
  bool stream; // fetch as a row stream
  double rate;
};

static int select_worker(void *arg) {
  struct params *p = arg;
  uint64_t x = 88172645463325252u ^ (uint64_t)(uintptr_t)&x;
  while (!p->stop) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    cio_pg_param id = {CIO_PG_T_INT4, .i = (int64_t)(x % 100000) + 1};
    cio_pg *c;
    cio_pg_result *r = NULL;
    int rc = cio_pg_pool_acquire(p->pool, 10, &c);
    if (rc == 0) {
      rc = cio_pg_query(c, "SELECT id, name, balance FROM accounts WHERE id = $1", &id, 1, &r);
      int rel = cio_pg_pool_release(p->pool, c);
      if (rc == 0 && (cio_pg_nrows(r) != 1 || rel < 0)) rc = rel < 0 ? rel : -1;
      cio_pg_result_free(r);
    }
    if (rc < 0) {
      if (!p->failed) p->failed = rc;
      p->stop = true;
      return rc;
    }
    p->done++;
  }
  return 0;
}

static int run_select(struct params *p) {
  cio_pg_pool_opts o = {.min_size = (size_t)p->n, .max_size = (size_t)p->n};
  if (getenv("PG_NO_RESET")) o.reset_sql = ""; // as pgxpool: no reset on release
  int rc = cio_pg_pool_open(&p->pool, p->conninfo, &o);
  if (rc < 0) {
    fprintf(stderr, "pg_load: pool: %s: %s\n", cio_strerror(rc), cio_pg_connect_error());
    return rc;
  }
  cio_task **t = calloc((size_t)p->n, sizeof *t);
  for (long i = 0; t && i < p->n; i++) t[i] = cio_spawn(select_worker, p);
  rc = cio_sleep(p->warmup);
  long n0 = p->done;
  double t0 = bench_now();
  if (rc == 0) rc = cio_sleep(p->seconds);
  long n1 = p->done;
  double t1 = bench_now();
  p->stop = true;
  for (long i = 0; t && i < p->n; i++) {
    int jrc = cio_join(t[i]); // a failure is in p->failed
    (void)jrc;
  }
  free(t);
  (void)cio_pg_pool_close(p->pool);
  if (p->failed) {
    fprintf(stderr, "pg_load: %s\n", cio_strerror(p->failed));
    return p->failed;
  }
  printf("queries %ld in %.3f s\n", n1 - n0, t1 - t0);
  printf("pg-select-%ld %.0f q/s\n", p->n, (double)(n1 - n0) / (t1 - t0));
  return rc;
}

#define BIG_SQL "SELECT id, name, balance FROM big"

// One round of fetch: the rows whole (cio_pg_query), then summed.
static int fetch_round(cio_pg *c, size_t *rows, int64_t *sum) {
  cio_pg_result *r;
  int rc = cio_pg_query(c, BIG_SQL, NULL, 0, &r);
  if (rc < 0) return rc;
  int64_t v;
  *rows = cio_pg_nrows(r);
  for (size_t i = 0; i < *rows; i++)
    if (cio_pg_get_int(r, i, 0, &v) == 0) *sum += v;
  cio_pg_result_free(r);
  return 0;
}

// One round of stream: the rows one at a time (cio_pg_query_stream:
// libpq's single-row mode), as pgx's rows.Next() reads them.
static int stream_round(cio_pg *c, size_t *rows, int64_t *sum) {
  int rc = cio_pg_query_stream(c, BIG_SQL, NULL, 0);
  int64_t v;
  cio_pg_result *r;
  while (rc == 0 && (rc = cio_pg_stream_next(c, &r)) == 1) {
    if (cio_pg_get_int(r, 0, 0, &v) == 0) *sum += v;
    ++*rows;
    cio_pg_result_free(r);
    rc = 0;
  }
  return rc;
}

// fetch or stream: p->n rounds on one connection; prints each and the best.
static int run_rows(struct params *p) {
  cio_pg *c;
  int rc = cio_pg_connect(&c, p->conninfo, 10);
  if (rc < 0) return rc;
  double best = 0;
  for (long round = 0; round < p->n && rc == 0; round++) {
    double t0 = bench_now();
    size_t rows = 0;
    int64_t sum = 0;
    rc = p->stream ? stream_round(c, &rows, &sum) : fetch_round(c, &rows, &sum);
    if (rc < 0) break;
    double rate = (double)rows / (bench_now() - t0);
    printf("round %ld: %zu rows, sum %lld, %.0f rows/s\n", round, rows, (long long)sum, rate);
    if (rate > best) best = rate;
  }
  (void)cio_pg_close(c);
  if (rc < 0) {
    fprintf(stderr, "pg_load: %s\n", cio_strerror(rc));
    return rc;
  }
  printf("pg-%s %.0f rows/s\n", p->stream ? "stream" : "fetch", best);
  return 0;
}

static int run(void *arg) {
  struct params *p = arg;
  return p->seconds > 0 ? run_select(p) : run_rows(p);
}

int main(int argc, char **argv) {
  if (argc < 4 || (strcmp(argv[2], "select") != 0 && strcmp(argv[2], "fetch") != 0 &&
                   strcmp(argv[2], "stream") != 0)) {
    fprintf(stderr, "usage: bench_pg_load CONNINFO select N [SECONDS [WARMUP]]\n"
                    "       bench_pg_load CONNINFO fetch|stream ROUNDS\n");
    return 2;
  }
  struct params p = {.conninfo = argv[1], .n = atol(argv[3]), .stream = !strcmp(argv[2], "stream")};
  if (strcmp(argv[2], "select") == 0) {
    p.seconds = argc > 4 ? atof(argv[4]) : 3;
    p.warmup = argc > 5 ? atof(argv[5]) : 0.5;
  }
  if (p.n < 1) return 2;
  return cio_run(run, &p) == 0 ? 0 : 1;
}
