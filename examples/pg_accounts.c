// SPDX-License-Identifier: MIT
//
// PostgreSQL through a pool (<cio/pg.h>): make a table, then 20 tasks each
// move money between two random accounts in a SERIALIZABLE transaction,
// retried with a growing pause when the server answers 40001
// (serialization_failure) or 40P01 (deadlock), each attempt under a 2 s
// timeout; at the end the total is what it was.
//
//   pg_accounts CONNINFO        e.g. "host=/var/run/postgresql dbname=postgres"
#include <cio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef CIO_HAVE_PQ
#include <cio/pg.h>

#define ACCOUNTS 10
#define TASKS 20
#define TRANSFERS 25 // per task

static cio_pg_pool *pool;
static int retries;

// One transfer in one transaction.
static int transfer(cio_pg *c, int from, int to, int amount) {
  cio_pg_param p[2] = {{CIO_PG_T_INT4, .i = amount}, {CIO_PG_T_INT4, .i = from}};
  int rc = cio_pg_begin(c, CIO_PG_SERIALIZABLE);
  if (rc < 0) return rc;
  rc = cio_pg_exec(c, "UPDATE accounts SET balance = balance - $1 WHERE id = $2", p, 2, NULL);
  p[1].i = to;
  if (rc == 0)
    rc = cio_pg_exec(c, "UPDATE accounts SET balance = balance + $1 WHERE id = $2", p, 2, NULL);
  return cio_pg_tx_end(c, rc); // commits, or rolls back (even when cancelled)
}

// Whether the server says "try the transaction again".
static bool retryable(cio_pg *c, int rc) {
  const char *state = cio_pg_sqlstate(c);
  return rc == CIO_PG_ERROR && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0);
}

static int client(void *arg) {
  uint64_t x = (uintptr_t)arg * 2654435761u + 1;
  for (int i = 0; i < TRANSFERS; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    int from = (int)(x % ACCOUNTS) + 1, to = (int)((x >> 8) % ACCOUNTS) + 1;
    cio_pg *c;
    int rc = cio_pg_pool_acquire(pool, 5, &c);
    if (rc < 0) return rc;
    for (int attempt = 1;; attempt++) {
      cio_scope scope;
      (void)cio_timeout_begin(&scope, 2);
      rc = transfer(c, from, to, 10);
      (void)cio_scope_end(&scope);
      if (!retryable(c, rc) || attempt == 100) break;
      retries++;
      if ((rc = cio_sleep(0.001 * attempt)) < 0) break;
    }
    int rel = cio_pg_pool_release(pool, c);
    if (rc < 0) {
      fprintf(stderr, "transfer: %s %s\n", cio_strerror(rc), cio_pg_error_message(c));
      return rc;
    }
    if (rel < 0) return rel;
  }
  return 0;
}

static int total(int64_t *sum) {
  cio_pg *c;
  cio_pg_result *r = NULL;
  int rc = cio_pg_pool_acquire(pool, 5, &c);
  if (rc < 0) return rc;
  rc = cio_pg_query(c, "SELECT sum(balance)::int8 FROM accounts", NULL, 0, &r);
  if (rc == 0) rc = cio_pg_get_int(r, 0, 0, sum);
  cio_pg_result_free(r);
  int rel = cio_pg_pool_release(pool, c);
  return rc < 0 ? rc : rel;
}

static int run(void *conninfo) {
  cio_pg_pool_opts o = {.min_size = 2, .max_size = 8};
  int rc = cio_pg_pool_open(&pool, conninfo, &o);
  if (rc < 0) {
    fprintf(stderr, "connect: %s: %s\n", cio_strerror(rc), cio_pg_connect_error());
    return rc;
  }
  cio_pg *c;
  if ((rc = cio_pg_pool_acquire(pool, 5, &c)) < 0) return rc;
  rc = cio_pg_exec(c,
                   "DROP TABLE IF EXISTS accounts; "
                   "CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL); "
                   "INSERT INTO accounts SELECT g, 1000 FROM generate_series(1, 10) g",
                   NULL, 0, NULL);
  int rel = cio_pg_pool_release(pool, c);
  if (rc < 0 || rel < 0) return rc < 0 ? rc : rel;
  int64_t before = 0, after = 0;
  if ((rc = total(&before)) < 0) return rc;
  cio_task *t[TASKS];
  for (int i = 0; i < TASKS; i++) t[i] = cio_spawn(client, (void *)(uintptr_t)(i + 1));
  for (int i = 0; i < TASKS; i++) {
    int jrc = cio_join(t[i]);
    if (jrc < 0 && rc == 0) rc = jrc;
  }
  if (rc == 0) rc = total(&after);
  cio_pg_pool_counts st;
  (void)cio_pg_pool_stats(pool, &st);
  printf("%d transfers, %d retried (40001, 40P01); total %lld before, %lld after; pool of %zu\n",
         TASKS * TRANSFERS, retries, (long long)before, (long long)after, st.size);
  (void)cio_pg_pool_close(pool);
  return rc < 0 ? rc : before == after ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: pg_accounts CONNINFO\n");
    return 2;
  }
  return cio_run(run, argv[1]) == 0 ? 0 : 1;
}

#else
int main(void) {
  puts("pg_accounts: cio was built without libpq (apt-get install libpq-dev)");
  return 0;
}
#endif
