// SPDX-License-Identifier: MIT
//
// The PostgreSQL driver (<cio/pg.h>) against a real server: main() makes a
// throwaway cluster (initdb in a temporary directory, as `nobody` when run
// as root: the server refuses root), starts it on a Unix socket in that
// directory with no TCP listener, and stops and removes it at exit.  Every
// case (each in its own process) connects to it.  Without the server
// binaries the file is skipped; with CIO_REQUIRE_CLIENTS=1 (CI) it fails.
// CIO_TEST_PG_DIR names a cluster already running instead (its socket in
// that directory, its data in data/): tools/eintr-storm.sh starts one
// before the storm, which the server's own tools would not survive.
// demo_service runs examples/fastapi_demo against the cluster (its
// DATABASE_URL routes).  One case, fatal_in_place_of_sync, talks to a
// misbehaving server of its own instead: an answer out of order that a real
// server gives only by a race (a shutdown between two messages).
#include <arpa/inet.h>
#include <errno.h>
#include <glob.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cio.h"
#include "helpers/test.h"

#ifdef CIO_HAVE_PQ
#include "cio/pg.h"
#include "cio/sync.h"

// ---------------------------------------------------------------- the cluster

static char cluster_dir[64]; // the cluster's directory (data/, its socket, log)
static char pg_bin[256];     // the server binaries' directory
static pid_t cluster_owner;  // the process that started it (cases are forked)
static char conninfo[160];   // how the cases connect

// Runs a shell command as the cluster's user (nobody when we are root).
static int as_owner(const char *cmd) {
  char line[1536];
  if (geteuid() == 0)
    snprintf(line, sizeof line, "runuser -u nobody -- sh -c '%s'", cmd);
  else
    snprintf(line, sizeof line, "sh -c '%s'", cmd);
  return system(line);
}

static void stop_cluster(void) {
  if (getpid() != cluster_owner || !cluster_dir[0]) return;
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "%s/pg_ctl -D %s/data -m immediate stop >/dev/null 2>&1", pg_bin,
           cluster_dir);
  (void)as_owner(cmd);
  snprintf(cmd, sizeof cmd, "rm -rf %s", cluster_dir);
  (void)system(cmd);
}

static void missing_peer(const char *why) {
  const char *req = getenv("CIO_REQUIRE_CLIENTS");
  printf("%s\n", why);
  exit(req && strcmp(req, "1") == 0 ? 1 : 77);
}

static void start_cluster(void) {
  const char *given = getenv("CIO_TEST_PG_DIR");
  glob_t g;
  if (glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &g) != 0)
    missing_peer("skipped: needs the PostgreSQL server (apt-get install postgresql)");
  snprintf(pg_bin, sizeof pg_bin, "%s", g.gl_pathv[g.gl_pathc - 1]);
  *strrchr(pg_bin, '/') = '\0';
  globfree(&g);
  if (given && given[0]) { // not ours: neither stopped nor removed at exit
    snprintf(conninfo, sizeof conninfo, "host=%s dbname=postgres user=postgres", given);
    snprintf(cluster_dir, sizeof cluster_dir, "%s", given);
    return;
  }
  snprintf(cluster_dir, sizeof cluster_dir, "/tmp/cio_pg_XXXXXX");
  if (!mkdtemp(cluster_dir)) missing_peer("mkdtemp failed");
  cluster_owner = getpid();
  atexit(stop_cluster);
  if (geteuid() == 0) {
    struct passwd *pw = getpwnam("nobody");
    if (!pw || chown(cluster_dir, pw->pw_uid, pw->pw_gid) != 0)
      missing_peer("running as root without a usable `nobody` user for the server");
  }
  char cmd[1024];
  snprintf(cmd, sizeof cmd,
           "%s/initdb -D %s/data -U postgres -A trust -E UTF8 --locale=C --no-sync "
           ">%s/initdb.log 2>&1",
           pg_bin, cluster_dir, cluster_dir);
  if (as_owner(cmd) != 0) missing_peer("initdb failed (a user namespace without `nobody`?)");
  snprintf(cmd, sizeof cmd,
           "%s/pg_ctl -D %s/data -l %s/log -w -o \"-k %s -c listen_addresses= -c fsync=off "
           "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100\" start "
           ">/dev/null 2>&1",
           pg_bin, cluster_dir, cluster_dir, cluster_dir);
  if (as_owner(cmd) != 0) missing_peer("pg_ctl start failed");
  snprintf(conninfo, sizeof conninfo, "host=%s dbname=postgres user=postgres", cluster_dir);
}

// pg_ctl restart (fast: sessions are ended), for the recovery case.
static void restart_cluster(void) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "%s/pg_ctl -D %s/data -m fast -w restart >/dev/null 2>&1", pg_bin,
           cluster_dir);
  ASSERT_EQ(as_owner(cmd), 0);
}

// ---------------------------------------------------------------- helpers

static cio_pg *connect_ok(void) {
  cio_pg *c = NULL;
  int rc = cio_pg_connect(&c, conninfo, 10);
  if (rc < 0)
    test_fail(__FILE__, __LINE__, "connect: %s: %s", cio_strerror(rc), cio_pg_connect_error());
  return c;
}

static void exec_ok(cio_pg *c, const char *sql) {
  int rc = cio_pg_exec(c, sql, NULL, 0, NULL);
  if (rc < 0)
    test_fail(__FILE__, __LINE__, "%s: %s (%s)", sql, cio_strerror(rc), cio_pg_error_message(c));
}

// One value from `sql` with one parameter (or none).
static cio_pg_result *query1(cio_pg *c, const char *sql, const cio_pg_param *p) {
  cio_pg_result *r = NULL;
  int rc = cio_pg_query(c, sql, p, p ? 1 : 0, &r);
  if (rc < 0)
    test_fail(__FILE__, __LINE__, "%s: %s (%s)", sql, cio_strerror(rc), cio_pg_error_message(c));
  ASSERT_EQ(cio_pg_nrows(r), 1);
  return r;
}

static int64_t int_of(cio_pg *c, const char *sql, const cio_pg_param *p) {
  cio_pg_result *r = query1(c, sql, p);
  int64_t v = 0;
  ASSERT_EQ(cio_pg_get_int(r, 0, 0, &v), 0);
  cio_pg_result_free(r);
  return v;
}

static void run_case(int (*body)(void *)) { ASSERT_EQ(cio_run(body, NULL), 0); }

// ---------------------------------------------------------------- types

static void int_round_trip(cio_pg *c, cio_pg_type t, const char *cast, int64_t v) {
  char sql[64];
  snprintf(sql, sizeof sql, "SELECT $1::%s", cast);
  cio_pg_param p = {t, .i = v};
  ASSERT_EQ(int_of(c, sql, &p), v);
}

static void float_round_trip(cio_pg *c, cio_pg_type t, const char *sql, double v) {
  cio_pg_param p = {t, .f = v};
  cio_pg_result *r = query1(c, sql, &p);
  double got = 0;
  ASSERT_EQ(cio_pg_get_float(r, 0, 0, &got), 0);
  if (isnan(v))
    ASSERT(isnan(got));
  else
    ASSERT(got == v);
  cio_pg_result_free(r);
}

static void text_is(cio_pg *c, const char *sql, const cio_pg_param *p, const char *want) {
  cio_pg_result *r = query1(c, sql, p);
  const char *got;
  size_t len;
  int rc = cio_pg_get_text(r, 0, 0, &got, &len);
  if (rc < 0) test_fail(__FILE__, __LINE__, "%s: %s", sql, cio_strerror(rc));
  if (strcmp(got, want) != 0 || len != strlen(want))
    test_fail(__FILE__, __LINE__, "%s: got \"%s\", want \"%s\"", sql, got, want);
  cio_pg_result_free(r);
}

static int types_body(void *arg) {
  (void)arg;
  cio_pg *c = connect_ok();
  int_round_trip(c, CIO_PG_T_INT8, "int8", INT64_MIN);
  int_round_trip(c, CIO_PG_T_INT8, "int8", INT64_MAX);
  int_round_trip(c, CIO_PG_T_INT8, "int8", 0);
  int_round_trip(c, CIO_PG_T_INT4, "int4", INT32_MIN);
  int_round_trip(c, CIO_PG_T_INT4, "int4", INT32_MAX);
  int_round_trip(c, CIO_PG_T_INT2, "int2", INT16_MIN);
  int_round_trip(c, CIO_PG_T_INT2, "int2", INT16_MAX);
  cio_pg_param too_big = {CIO_PG_T_INT2, .i = 40000};
  cio_pg_result *r = NULL;
  ASSERT_EQ(cio_pg_query(c, "SELECT $1::int2", &too_big, 1, &r), -EINVAL);
  ASSERT_EQ(int_of(c, "SELECT (-32768)::int2", NULL), -32768);
  ASSERT_EQ(int_of(c, "SELECT 2147483647::int4", NULL), 2147483647);
  ASSERT_EQ(int_of(c, "SELECT '-9223372036854775808'::int8", NULL), INT64_MIN);

  double floats[] = {0.0, -0.0, 1.5, -1e308, 5e-324, INFINITY, -INFINITY, NAN, 0.1};
  for (size_t i = 0; i < sizeof floats / sizeof *floats; i++) {
    float_round_trip(c, CIO_PG_T_FLOAT8, "SELECT $1::float8", floats[i]);
    if (fabs(floats[i]) < 1e30 && floats[i] != 5e-324 && floats[i] != 0.1)
      float_round_trip(c, CIO_PG_T_FLOAT4, "SELECT $1::float4", floats[i]);
  }
  r = query1(c, "SELECT 'NaN'::float8, '-Infinity'::float4, 0.1::float4", NULL);
  double d;
  ASSERT_EQ(cio_pg_get_float(r, 0, 0, &d), 0);
  ASSERT(isnan(d));
  ASSERT_EQ(cio_pg_get_float(r, 0, 1, &d), 0);
  ASSERT(isinf(d) && d < 0);
  ASSERT_EQ(cio_pg_get_float(r, 0, 2, &d), 0);
  ASSERT(d == (double)0.1f);
  cio_pg_result_free(r);

  for (int b = 0; b < 2; b++) {
    cio_pg_param p = {CIO_PG_T_BOOL, .b = b};
    r = query1(c, "SELECT $1::bool, NOT $1::bool", &p);
    bool got, neg;
    ASSERT_EQ(cio_pg_get_bool(r, 0, 0, &got), 0);
    ASSERT_EQ(cio_pg_get_bool(r, 0, 1, &neg), 0);
    ASSERT_EQ(got, b);
    ASSERT_EQ(neg, !b);
    cio_pg_result_free(r);
  }

  // Text: empty is not NULL; unicode comes back byte for byte.
  const char *texts[] = {"", "hello", "héllo wörld ✓ 日本語 🐘", "a'b\"c\\d"};
  for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
    cio_pg_param p = {CIO_PG_T_TEXT, .s = texts[i]};
    text_is(c, "SELECT $1::text", &p, texts[i]);
    r = query1(c, "SELECT $1::text IS NULL, length($1::text)", &p);
    bool isnull;
    ASSERT_EQ(cio_pg_get_bool(r, 0, 0, &isnull), 0);
    ASSERT(!isnull);
    cio_pg_result_free(r);
  }
  cio_pg_param null_text = {CIO_PG_T_TEXT, .s = NULL};
  r = query1(c, "SELECT $1::text, $1::text IS NULL", &null_text);
  const char *s;
  bool isnull;
  ASSERT(cio_pg_is_null(r, 0, 0));
  ASSERT_EQ(cio_pg_get_text(r, 0, 0, &s, NULL), CIO_PG_NULL);
  ASSERT_EQ(cio_pg_get_bool(r, 0, 1, &isnull), 0);
  ASSERT(isnull);
  cio_pg_result_free(r);
  cio_pg_param untyped_null = {CIO_PG_T_NULL};
  r = query1(c, "SELECT $1::int8", &untyped_null);
  ASSERT(cio_pg_is_null(r, 0, 0));
  cio_pg_result_free(r);
  r = query1(c, "SELECT ''::text AS empty, NULL::text AS nothing", NULL);
  ASSERT(!cio_pg_is_null(r, 0, 0));
  ASSERT(cio_pg_is_null(r, 0, 1));
  ASSERT(strcmp(cio_pg_column_name(r, 0), "empty") == 0);
  ASSERT(strcmp(cio_pg_column_name(r, 1), "nothing") == 0);
  ASSERT_EQ(cio_pg_ncols(r), 2);
  ASSERT_EQ(cio_pg_column_type(r, 0), CIO_PG_T_TEXT);
  cio_pg_result_free(r);

  // bytea with zero bytes, and empty (not NULL).
  unsigned char blob[256];
  for (int i = 0; i < 256; i++) blob[i] = (unsigned char)i;
  size_t sizes[] = {0, 1, 256};
  for (size_t k = 0; k < 3; k++) {
    cio_pg_param p = {CIO_PG_T_BYTEA, .p = blob, .len = sizes[k]};
    r = query1(c, "SELECT $1::bytea, length($1::bytea)", &p);
    const void *got;
    size_t len;
    int64_t n;
    ASSERT_EQ(cio_pg_get_bytes(r, 0, 0, &got, &len), 0);
    ASSERT_EQ(len, sizes[k]);
    ASSERT(memcmp(got, blob, len) == 0);
    ASSERT_EQ(cio_pg_get_int(r, 0, 1, &n), 0);
    ASSERT_EQ(n, sizes[k]);
    cio_pg_result_free(r);
  }

  // uuid, both ways.
  unsigned char id[16] = {0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8,
                          0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11};
  cio_pg_param pu = {CIO_PG_T_UUID, .p = id};
  text_is(c, "SELECT $1::uuid", &pu, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
  r = query1(c, "SELECT 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid", NULL);
  const void *raw;
  size_t rawlen;
  ASSERT_EQ(cio_pg_get_bytes(r, 0, 0, &raw, &rawlen), 0);
  ASSERT_EQ(rawlen, 16);
  ASSERT(memcmp(raw, id, 16) == 0);
  cio_pg_result_free(r);

  // Timestamps: microseconds since the Unix epoch; infinities as the extremes.
  ASSERT_EQ(int_of(c, "SELECT '1970-01-01 00:00:00+00'::timestamptz", NULL), 0);
  ASSERT_EQ(int_of(c, "SELECT '2000-01-01 00:00:01.5+00'::timestamptz", NULL),
            INT64_C(946684801500000));
  ASSERT_EQ(int_of(c, "SELECT '1969-12-31 23:59:59'::timestamp", NULL), -1000000);
  ASSERT_EQ(int_of(c, "SELECT 'infinity'::timestamptz", NULL), INT64_MAX);
  ASSERT_EQ(int_of(c, "SELECT '-infinity'::timestamp", NULL), INT64_MIN);
  // Past 294246 AD the microseconds since 1970 do not fit 64 bits (those
  // since 2000 still do): out of range, not a value 30 years off.
  cio_pg_result *far = query1(c, "SELECT '294270-01-01'::timestamp", NULL);
  int64_t far_us = 0;
  ASSERT_EQ(cio_pg_get_int(far, 0, 0, &far_us), -EINVAL);
  cio_pg_result_free(far);
  int64_t stamps[] = {0, INT64_C(1700000000123456), -INT64_C(1000000), INT64_MAX, INT64_MIN};
  for (size_t i = 0; i < sizeof stamps / sizeof *stamps; i++) {
    int_round_trip(c, CIO_PG_T_TIMESTAMPTZ, "timestamptz", stamps[i]);
    int_round_trip(c, CIO_PG_T_TIMESTAMP, "timestamp", stamps[i]);
  }
  cio_pg_param ts = {CIO_PG_T_TIMESTAMPTZ, .i = INT64_C(1700000000123456)};
  text_is(c, "SELECT to_char($1::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')", &ts,
          "2023-11-14 22:13:20.123456");

  // numeric as text, both ways.
  const char *numerics[] = {"0",         "-12.50", "0.00001", "123456789012345678901234567890.123",
                            "10000",     "-0.5",   "NaN",     "Infinity",
                            "-Infinity", "1e-20"};
  const char *shown[] = {"0",         "-12.50",
                         "0.00001",   "123456789012345678901234567890.123",
                         "10000",     "-0.5",
                         "NaN",       "Infinity",
                         "-Infinity", "0.00000000000000000001"};
  for (size_t i = 0; i < sizeof numerics / sizeof *numerics; i++) {
    cio_pg_param p = {CIO_PG_T_NUMERIC, .s = numerics[i]};
    text_is(c, "SELECT $1::numeric", &p, shown[i]);
  }
  // json and jsonb as text.
  cio_pg_param pj = {CIO_PG_T_JSON, .s = "{\"a\": [1, 2]}"};
  text_is(c, "SELECT $1::json", &pj, "{\"a\": [1, 2]}");
  cio_pg_param pjb = {CIO_PG_T_JSONB, .s = "{\"b\":1,  \"a\":\"é\"}"};
  text_is(c, "SELECT $1::jsonb", &pjb, "{\"a\": \"é\", \"b\": 1}");
  // A getter of the wrong type says so; other types are OTHER.
  r = query1(c, "SELECT 'x'::text, current_date", NULL);
  int64_t n;
  ASSERT_EQ(cio_pg_get_int(r, 0, 0, &n), CIO_PG_TYPE);
  ASSERT_EQ(cio_pg_column_type(r, 1), CIO_PG_T_OTHER);
  ASSERT_EQ(cio_pg_get_int(r, 1, 0, &n), -EINVAL);
  cio_pg_result_free(r);
  ASSERT_EQ(cio_pg_close(c), 0);
  return 0;
}
static void types(void) { run_case(types_body); }

// ---------------------------------------------------------------- errors

static int errors_body(void *arg) {
  (void)arg;
  cio_pg *bad = NULL;
  char wrong[200];
  snprintf(wrong, sizeof wrong, "%s dbname=no_such_db", conninfo);
  ASSERT_EQ(cio_pg_connect(&bad, wrong, 5), CIO_PG_CONNECT);
  ASSERT(bad == NULL);
  ASSERT_STR_CONTAINS(cio_pg_connect_error(), "no_such_db");
  ASSERT_EQ(cio_pg_connect(&bad, "host=/nonexistent/dir", 5), CIO_PG_CONNECT);

  cio_pg *c = connect_ok();
  exec_ok(c, "DROP TABLE IF EXISTS uniq; CREATE TABLE uniq (id int PRIMARY KEY)");
  cio_pg_param one = {CIO_PG_T_INT4, .i = 1};
  int64_t affected = -1;
  ASSERT_EQ(cio_pg_exec(c, "INSERT INTO uniq VALUES ($1)", &one, 1, &affected), 0);
  ASSERT_EQ(affected, 1);
  ASSERT_EQ(cio_pg_exec(c, "INSERT INTO uniq VALUES ($1)", &one, 1, NULL), CIO_PG_ERROR);
  ASSERT(strcmp(cio_pg_sqlstate(c), "23505") == 0);
  ASSERT_STR_CONTAINS(cio_pg_error_message(c), "duplicate key");
  cio_pg_result *r = NULL;
  ASSERT_EQ(cio_pg_query(c, "SELEC 1", NULL, 0, &r), CIO_PG_ERROR);
  ASSERT(strcmp(cio_pg_sqlstate(c), "42601") == 0);
  ASSERT_EQ(cio_pg_query(c, "SELECT 1/0", NULL, 0, &r), CIO_PG_ERROR);
  ASSERT(strcmp(cio_pg_sqlstate(c), "22012") == 0);
  // The connection goes on, and a success clears the SQLSTATE.
  ASSERT_EQ(int_of(c, "SELECT count(*) FROM uniq", NULL), 1);
  ASSERT(strcmp(cio_pg_sqlstate(c), "") == 0);
  ASSERT(strcmp(cio_strerror(CIO_PG_ERROR), "PostgreSQL error (see its SQLSTATE)") == 0);
  ASSERT_EQ(cio_pg_exec(c, "INSERT INTO uniq VALUES (2), (3); UPDATE uniq SET id = id + 10", NULL,
                        0, &affected),
            0);
  ASSERT_EQ(affected, 3);
  ASSERT_EQ(cio_pg_close(c), 0);
  ASSERT_EQ(cio_pg_close(NULL), -EINVAL);
  ASSERT_EQ(cio_pg_connect(&bad, conninfo, NAN), -EINVAL);
  // Closed twice, used after close: -EINVAL, not a crash.
  ASSERT_EQ(cio_pg_close(c), -EINVAL);
  ASSERT_EQ(cio_pg_exec(c, "SELECT 1", NULL, 0, NULL), -EINVAL);
  ASSERT(!cio_pg_is_ok(c));
  return 0;
}
static void errors(void) { run_case(errors_body); }

// A server that accepts the connection and never answers: the connect's
// timeout and the task's cancellation end it, and nothing is left open.
static char silent_dir[64];

static int connect_silent(void *arg) {
  cio_pg **out = arg;
  char info[128];
  snprintf(info, sizeof info, "host=%s dbname=x user=y", silent_dir);
  return cio_pg_connect(out, info, CIO_FOREVER);
}

static int connect_timeout_body(void *arg) {
  (void)arg;
  test_tmpdir(silent_dir, sizeof silent_dir, "pg_silent_");
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s/.s.PGSQL.5432", silent_dir);
  ASSERT(fd >= 0);
  ASSERT_EQ(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  ASSERT_EQ(listen(fd, 8), 0);
  char info[128];
  snprintf(info, sizeof info, "host=%s dbname=x user=y", silent_dir);
  cio_pg *c = NULL;
  double t0 = cio_now();
  ASSERT_EQ(cio_pg_connect(&c, info, 0.2), -ETIMEDOUT);
  ASSERT_BETWEEN(cio_now() - t0, 0.19, 1.5);
  ASSERT(c == NULL);
  cio_task *t = cio_spawn(connect_silent, &c);
  ASSERT_EQ(cio_sleep(0.05), 0);
  ASSERT_EQ(cio_cancel(t), 1);
  ASSERT_EQ(cio_join(t), -ECANCELED);
  ASSERT(c == NULL);
  // A pool's acquire counts opening a connection in its timeout (the
  // connect_timeout is longer here): CIO_PG_POOL_TIMEOUT when it runs out.
  cio_pg_pool *pool;
  ASSERT_EQ(cio_pg_pool_open(&pool, info, &(cio_pg_pool_opts){.max_size = 2, .connect_timeout = 5}),
            0);
  t0 = cio_now();
  ASSERT_EQ(cio_pg_pool_acquire(pool, 0.3, &c), CIO_PG_POOL_TIMEOUT);
  ASSERT_BETWEEN(cio_now() - t0, 0.29, 2);
  ASSERT(c == NULL);
  ASSERT_EQ(cio_pg_pool_close(pool), 0);
  close(fd);
  unlink(sa.sun_path);
  return 0;
}
static void connect_timeout(void) { run_case(connect_timeout_body); }

// Two SERIALIZABLE transactions that each read what the other writes: one
// of them must fail with 40001.
static int serialization_body(void *arg) {
  (void)arg;
  cio_pg *a = connect_ok(), *b = connect_ok();
  exec_ok(a, "DROP TABLE IF EXISTS skew; CREATE TABLE skew (k int, v int); "
             "INSERT INTO skew VALUES (1, 10), (2, 10)");
  ASSERT_EQ(cio_pg_begin(a, CIO_PG_SERIALIZABLE), 0);
  ASSERT_EQ(cio_pg_begin(b, CIO_PG_SERIALIZABLE), 0);
  ASSERT_EQ(int_of(a, "SELECT sum(v)::int8 FROM skew", NULL), 20);
  ASSERT_EQ(int_of(b, "SELECT sum(v)::int8 FROM skew", NULL), 20);
  exec_ok(a, "UPDATE skew SET v = 0 WHERE k = 1");
  exec_ok(b, "UPDATE skew SET v = 0 WHERE k = 2");
  int ra = cio_pg_commit(a);
  int rb = cio_pg_exec(b, "SELECT 1", NULL, 0, NULL);
  if (rb == 0)
    rb = cio_pg_commit(b);
  else
    rb = cio_pg_tx_end(b, rb);
  ASSERT_EQ(ra, 0);
  ASSERT_EQ(rb, CIO_PG_ERROR);
  ASSERT(strcmp(cio_pg_sqlstate(b), "40001") == 0);
  ASSERT_EQ(cio_pg_tx_depth(b), 0);
  ASSERT_EQ(int_of(b, "SELECT sum(v)::int8 FROM skew", NULL), 10);
  ASSERT_EQ(cio_pg_close(a), 0);
  ASSERT_EQ(cio_pg_close(b), 0);
  return 0;
}
static void serialization_failure(void) { run_case(serialization_body); }

// ---------------------------------------------------------------- transactions

static int tx_body(void *arg) {
  (void)arg;
  cio_pg *c = connect_ok();
  exec_ok(c, "DROP TABLE IF EXISTS tx; CREATE TABLE tx (v int)");
  ASSERT_EQ(cio_pg_begin(c, CIO_PG_READ_COMMITTED), 0);
  exec_ok(c, "INSERT INTO tx VALUES (1)");
  ASSERT_EQ(cio_pg_begin(c, CIO_PG_READ_COMMITTED), 0); // a savepoint
  ASSERT_EQ(cio_pg_tx_depth(c), 2);
  exec_ok(c, "INSERT INTO tx VALUES (2)");
  ASSERT_EQ(cio_pg_rollback(c), 0);
  ASSERT_EQ(cio_pg_begin(c, CIO_PG_READ_COMMITTED), 0);
  exec_ok(c, "INSERT INTO tx VALUES (3)");
  ASSERT_EQ(cio_pg_commit(c), 0); // releases the savepoint
  ASSERT_EQ(cio_pg_commit(c), 0);
  ASSERT_EQ(cio_pg_tx_depth(c), 0);
  ASSERT_EQ(int_of(c, "SELECT sum(v)::int8 FROM tx", NULL), 4);
  ASSERT_EQ(cio_pg_commit(c), -EINVAL);
  // tx_end: a failed body rolls back and keeps its error.
  ASSERT_EQ(cio_pg_begin(c, CIO_PG_REPEATABLE_READ), 0);
  exec_ok(c, "INSERT INTO tx VALUES (100)");
  int rc = cio_pg_exec(c, "INSERT INTO tx VALUES ('x')", NULL, 0, NULL);
  ASSERT_EQ(cio_pg_tx_end(c, rc), CIO_PG_ERROR);
  ASSERT(strcmp(cio_pg_sqlstate(c), "22P02") == 0);
  ASSERT_EQ(cio_pg_tx_depth(c), 0);
  ASSERT_EQ(int_of(c, "SELECT sum(v)::int8 FROM tx", NULL), 4);
  // A cancelled body (a timeout) rolls back too, though the task's scope has expired.
  ASSERT_EQ(cio_pg_begin(c, CIO_PG_READ_COMMITTED), 0);
  exec_ok(c, "INSERT INTO tx VALUES (1000)");
  cio_scope scope;
  ASSERT_EQ(cio_timeout_begin(&scope, 0.05), 0);
  rc = cio_pg_exec(c, "SELECT pg_sleep(5)", NULL, 0, NULL);
  ASSERT_EQ(rc, -ETIMEDOUT);
  ASSERT_EQ(cio_pg_tx_end(c, rc), -ETIMEDOUT);
  ASSERT_EQ(cio_scope_end(&scope), -ETIMEDOUT);
  ASSERT_EQ(int_of(c, "SELECT sum(v)::int8 FROM tx", NULL), 4);
  // A failure the caller let pass: the server answers the COMMIT with
  // ROLLBACK (and no error), which the commit reports as the failure it is.
  ASSERT_EQ(cio_pg_begin(c, CIO_PG_READ_COMMITTED), 0);
  exec_ok(c, "INSERT INTO tx VALUES (10000)");
  ASSERT_EQ(cio_pg_exec(c, "INSERT INTO tx VALUES ('y')", NULL, 0, NULL), CIO_PG_ERROR);
  ASSERT_EQ(cio_pg_tx_end(c, 0), CIO_PG_ERROR);
  ASSERT(strcmp(cio_pg_sqlstate(c), "25P02") == 0);
  ASSERT_STR_CONTAINS(cio_pg_error_message(c), "rolled the transaction back");
  ASSERT_EQ(cio_pg_tx_depth(c), 0);
  ASSERT_EQ(int_of(c, "SELECT sum(v)::int8 FROM tx", NULL), 4);
  // A commit by a task cancelled already sends nothing and leaves the
  // transaction open, for the rollback that follows.
  ASSERT_EQ(cio_pg_begin(c, CIO_PG_READ_COMMITTED), 0);
  exec_ok(c, "INSERT INTO tx VALUES (20000)");
  ASSERT_EQ(cio_timeout_begin(&scope, 0), 0);
  ASSERT_EQ(cio_pg_commit(c), -ETIMEDOUT);
  ASSERT_EQ(cio_pg_tx_depth(c), 1);
  ASSERT_EQ(cio_pg_tx_end(c, -ETIMEDOUT), -ETIMEDOUT);
  ASSERT_EQ(cio_scope_end(&scope), -ETIMEDOUT);
  ASSERT_EQ(cio_pg_tx_depth(c), 0);
  ASSERT_EQ(int_of(c, "SELECT sum(v)::int8 FROM tx", NULL), 4);
  ASSERT_EQ(cio_pg_close(c), 0);
  return 0;
}
static void transactions(void) { run_case(tx_body); }

// ---------------------------------------------------------------- streams and the cache

static int stream_body(void *arg) {
  (void)arg;
  cio_pg *c = connect_ok();
  cio_pg_param last = {CIO_PG_T_INT4, .i = 200000};
  ASSERT_EQ(cio_pg_query_stream(c, "SELECT g::int8 FROM generate_series(1, $1) g", &last, 1), 0);
  ASSERT_EQ(cio_pg_exec(c, "SELECT 1", NULL, 0, NULL), -EBUSY);
  int64_t count = 0, sum = 0;
  cio_pg_result *row;
  int rc;
  while ((rc = cio_pg_stream_next(c, &row)) == 1) {
    int64_t v;
    ASSERT_EQ(cio_pg_nrows(row), 1);
    ASSERT_EQ(cio_pg_get_int(row, 0, 0, &v), 0);
    count++;
    sum += v;
    cio_pg_result_free(row);
  }
  ASSERT_EQ(rc, 0);
  ASSERT_EQ(count, 200000);
  ASSERT_EQ(sum, INT64_C(200000) * 200001 / 2);
  // A stream closed early: the rest of a huge query is cancelled at once.
  // (The set-returning function in the select list streams; in FROM it
  // would be materialized whole before the first row.)
  ASSERT_EQ(cio_pg_query_stream(c, "SELECT generate_series(1, 1000000000)", NULL, 0), 0);
  for (int i = 0; i < 10; i++) {
    ASSERT_EQ(cio_pg_stream_next(c, &row), 1);
    cio_pg_result_free(row);
  }
  double t0 = cio_now();
  ASSERT_EQ(cio_pg_stream_close(c), 0);
  ASSERT_BETWEEN(cio_now() - t0, 0, 3);
  ASSERT(cio_pg_is_ok(c));
  ASSERT_EQ(int_of(c, "SELECT 7::int8", NULL), 7);
  // An error inside a stream ends it.
  ASSERT_EQ(cio_pg_query_stream(c, "SELECT 1/(3-g) FROM generate_series(1, 5) g", NULL, 0), 0);
  int rows = 0;
  while ((rc = cio_pg_stream_next(c, &row)) == 1) {
    rows++;
    cio_pg_result_free(row);
  }
  ASSERT_EQ(rc, CIO_PG_ERROR);
  ASSERT(strcmp(cio_pg_sqlstate(c), "22012") == 0);
  ASSERT_EQ(int_of(c, "SELECT 8::int8", NULL), 8);
  // One in its first row is the start's failure, and no stream is open.
  ASSERT_EQ(cio_pg_query_stream(c, "SELECT 1/(1-g) FROM generate_series(1, 5) g", NULL, 0),
            CIO_PG_ERROR);
  ASSERT(strcmp(cio_pg_sqlstate(c), "22012") == 0);
  ASSERT_EQ(cio_pg_stream_next(c, &row), -EINVAL);
  ASSERT_EQ(int_of(c, "SELECT 9::int8", NULL), 9);
  ASSERT_EQ(cio_pg_close(c), 0);
  return 0;
}
static void stream(void) { run_case(stream_body); }

static int cache_body(void *arg) {
  (void)arg;
  cio_pg *c = connect_ok();
  ASSERT_EQ(cio_pg_set_statement_cache(c, 3), 0);
  char sql[64];
  for (int round = 0; round < 3; round++)
    for (int i = 0; i < 6; i++) {
      snprintf(sql, sizeof sql, "SELECT %d::int8 + $1", i);
      cio_pg_param p = {CIO_PG_T_INT8, .i = round};
      ASSERT_EQ(int_of(c, sql, &p), i + round);
      ASSERT(int_of(c, "SELECT count(*) FROM pg_prepared_statements", NULL) <= 3);
    }
  // The same statement is prepared once: its parameter types are part of the key.
  exec_ok(c, "DEALLOCATE ALL");
  cio_pg_param p8 = {CIO_PG_T_INT8, .i = 1}, p4 = {CIO_PG_T_INT4, .i = 1};
  ASSERT_EQ(int_of(c, "SELECT $1::int8", &p8), 1); // prepared again after DEALLOCATE ALL
  ASSERT_EQ(int_of(c, "SELECT $1::int8", &p8), 1);
  ASSERT_EQ(int_of(c, "SELECT $1::int8", &p4), 1);
  ASSERT_EQ(int_of(c,
                   "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE "
                   "'SELECT $1::int8'",
                   NULL),
            2);
  ASSERT_EQ(cio_pg_set_statement_cache(c, 0), 0); // unnamed statements from now on
  ASSERT_EQ(int_of(c, "SELECT $1::int8 * 3", &p8), 3);
  ASSERT_EQ(cio_pg_close(c), 0);
  return 0;
}
static void statement_cache(void) { run_case(cache_body); }

// A cached statement whose table changed shape ("cached plan must not
// change result type", SQLSTATE 0A000) is prepared again, once, and the
// stale one deallocated, outside a transaction (as asyncpg does); inside
// one the failure is the caller's, the transaction being aborted.
static int reshaped_body(void *arg) {
  (void)arg;
  cio_pg *c = connect_ok();
  exec_ok(c, "CREATE TEMP TABLE shape (a int)");
  exec_ok(c, "INSERT INTO shape VALUES (1)");
  cio_pg_result *r = query1(c, "SELECT * FROM shape", NULL);
  ASSERT_EQ(cio_pg_ncols(r), 1);
  cio_pg_result_free(r);
  exec_ok(c, "ALTER TABLE shape ADD COLUMN b int DEFAULT 7");
  r = query1(c, "SELECT * FROM shape", NULL); // the old code: CIO_PG_ERROR, 0A000
  ASSERT_EQ(cio_pg_ncols(r), 2);
  int64_t b = 0;
  ASSERT_EQ(cio_pg_get_int(r, 0, 1, &b), 0);
  ASSERT_EQ(b, 7);
  cio_pg_result_free(r);
  ASSERT_EQ(int_of(c,
                   "SELECT count(*) FROM pg_prepared_statements WHERE statement = "
                   "'SELECT * FROM shape'",
                   NULL),
            1); // the stale one is gone
  exec_ok(c, "BEGIN");
  exec_ok(c, "ALTER TABLE shape ADD COLUMN d int");
  ASSERT_EQ(cio_pg_query(c, "SELECT * FROM shape", NULL, 0, &r), CIO_PG_ERROR);
  ASSERT(strcmp(cio_pg_sqlstate(c), "0A000") == 0);
  exec_ok(c, "ROLLBACK");
  r = query1(c, "SELECT * FROM shape", NULL); // the shape it was prepared for again
  ASSERT_EQ(cio_pg_ncols(r), 2);
  cio_pg_result_free(r);
  // A stream of the same statement (the cache's) is prepared again too: the
  // failure comes before its first row.
  exec_ok(c, "ALTER TABLE shape ADD COLUMN e int DEFAULT 9");
  ASSERT_EQ(cio_pg_query_stream(c, "SELECT * FROM shape", NULL, 0), 0);
  ASSERT_EQ(cio_pg_stream_next(c, &r), 1); // the old code: CIO_PG_ERROR, 0A000
  ASSERT_EQ(cio_pg_ncols(r), 3);
  int64_t e = 0;
  ASSERT_EQ(cio_pg_get_int(r, 0, 2, &e), 0);
  ASSERT_EQ(e, 9);
  cio_pg_result_free(r);
  ASSERT_EQ(cio_pg_stream_next(c, &r), 0);
  // In a transaction the stream gets the failure, as a query does.
  exec_ok(c, "BEGIN");
  exec_ok(c, "ALTER TABLE shape ADD COLUMN f int");
  ASSERT_EQ(cio_pg_query_stream(c, "SELECT * FROM shape", NULL, 0), CIO_PG_ERROR);
  ASSERT(strcmp(cio_pg_sqlstate(c), "0A000") == 0);
  ASSERT_EQ(cio_pg_stream_next(c, &r), -EINVAL); // no stream open
  exec_ok(c, "ROLLBACK");
  ASSERT_EQ(cio_pg_close(c), 0);
  return 0;
}
static void reshaped_table(void) { run_case(reshaped_body); }

// ---------------------------------------------------------------- batches

static int batch_body(void *arg) {
  (void)arg;
  cio_pg *c = connect_ok();
  exec_ok(c, "DROP TABLE IF EXISTS b; CREATE TABLE b (id int PRIMARY KEY)");
  cio_pg_param one = {CIO_PG_T_INT4, .i = 1}, two = {CIO_PG_T_INT4, .i = 2};
  cio_pg_batch_item ok[] = {
      {.sql = "INSERT INTO b VALUES ($1)", .params = &one, .nparams = 1},
      {.sql = "INSERT INTO b VALUES ($1)", .params = &two, .nparams = 1},
      {.sql = "SELECT count(*) FROM b", .params = NULL, .nparams = 0},
  };
  ASSERT_EQ(cio_pg_batch(c, ok, 3), 0);
  int64_t n;
  for (int i = 0; i < 3; i++) ASSERT_EQ(ok[i].rc, 0);
  ASSERT_EQ(cio_pg_get_int(ok[2].result, 0, 0, &n), 0);
  ASSERT_EQ(n, 2);
  for (int i = 0; i < 3; i++) cio_pg_result_free(ok[i].result);
  // A failure rolls back the batch and stops the rest.
  cio_pg_param three = {CIO_PG_T_INT4, .i = 3};
  cio_pg_batch_item bad[] = {
      {.sql = "INSERT INTO b VALUES ($1)", .params = &three, .nparams = 1},
      {.sql = "INSERT INTO b VALUES ($1)", .params = &one, .nparams = 1},
      {.sql = "SELECT 1", .params = NULL, .nparams = 0},
  };
  ASSERT_EQ(cio_pg_batch(c, bad, 3), CIO_PG_ERROR);
  ASSERT_EQ(bad[0].rc, 0);
  ASSERT_EQ(bad[1].rc, CIO_PG_ERROR);
  ASSERT_EQ(bad[2].rc, CIO_PG_ABORTED);
  ASSERT(bad[2].result == NULL);
  ASSERT(strcmp(cio_pg_sqlstate(c), "23505") == 0);
  cio_pg_result_free(bad[0].result);
  ASSERT_EQ(int_of(c, "SELECT count(*) FROM b", NULL), 2);
  // A bad parameter: nothing is sent.
  cio_pg_param huge = {CIO_PG_T_INT2, .i = 1 << 20};
  cio_pg_batch_item invalid[] = {
      {.sql = "INSERT INTO b VALUES ($1)", .params = &three, .nparams = 1},
      {.sql = "SELECT $1::int2", .params = &huge, .nparams = 1}};
  ASSERT_EQ(cio_pg_batch(c, invalid, 2), -EINVAL);
  ASSERT_EQ(int_of(c, "SELECT count(*) FROM b", NULL), 2);
  // A parameter whose type is no parameter type (CIO_PG_T_OTHER names
  // result columns; a number past the enum): -EINVAL, not a read past the
  // table of types (ASan, UBSan).
  cio_pg_param other = {CIO_PG_T_OTHER, .s = "x"}, beyond = {(cio_pg_type)100000000, .i = 1};
  cio_pg_result *none = NULL;
  ASSERT_EQ(cio_pg_query(c, "SELECT $1", &other, 1, &none), -EINVAL);
  ASSERT_EQ(cio_pg_query(c, "SELECT $1", &beyond, 1, &none), -EINVAL);
  ASSERT_EQ(cio_pg_exec(c, "SELECT $1", &beyond, 1, NULL), -EINVAL);
  ASSERT(none == NULL);
  // Interrupted: the rest is cancelled and the connection leaves pipeline mode.
  cio_pg_batch_item slow[] = {{.sql = "SELECT 1", .params = NULL, .nparams = 0},
                              {.sql = "SELECT pg_sleep(5)", .params = NULL, .nparams = 0},
                              {.sql = "SELECT 2", .params = NULL, .nparams = 0}};
  cio_scope scope;
  double t0 = cio_now();
  ASSERT_EQ(cio_timeout_begin(&scope, 0.1), 0);
  ASSERT_EQ(cio_pg_batch(c, slow, 3), -ETIMEDOUT);
  ASSERT_EQ(cio_scope_end(&scope), -ETIMEDOUT);
  ASSERT_BETWEEN(cio_now() - t0, 0.09, 2);
  for (int i = 0; i < 3; i++) ASSERT(slow[i].result == NULL);
  ASSERT(cio_pg_is_ok(c));
  ASSERT_EQ(int_of(c, "SELECT 5::int8", NULL), 5);
  // COPY has no place in a batch (the server would read the queries after
  // it as its data and end the session): refused before anything is sent,
  // comments and case aside.  (libpq gave its result again and again, and
  // the loop spun.)
  const char *copies[] = {"COPY b FROM STDIN",
                          " -- load\n /* a /* nested */ one */ copy(SELECT 1) TO STDOUT"};
  for (int k = 0; k < 2; k++) {
    cio_pg_batch_item with_copy[] = {
        {.sql = "INSERT INTO b VALUES (7)", .params = NULL, .nparams = 0},
        {.sql = copies[k], .params = NULL, .nparams = 0}};
    ASSERT_EQ(cio_pg_batch(c, with_copy, 2), -EINVAL);
    ASSERT(with_copy[0].result == NULL && with_copy[1].result == NULL);
    ASSERT(cio_pg_is_ok(c));
    ASSERT_EQ(int_of(c, "SELECT count(*) FROM b", NULL), 2); // the INSERT was not sent
  }
  cio_pg_batch_item quoted[] = {
      {.sql = "SELECT 'COPY b FROM STDIN'", .params = NULL, .nparams = 0}};
  ASSERT_EQ(cio_pg_batch(c, quoted, 1), 0); // COPY's words in a string are no COPY
  cio_pg_result_free(quoted[0].result);
  // Many in one round trip.
  enum { MANY = 2000 };
  cio_pg_batch_item *many = calloc(MANY, sizeof *many);
  cio_pg_param *ids = calloc(MANY, sizeof *ids);
  ASSERT(many && ids);
  for (int i = 0; i < MANY; i++) {
    ids[i] = (cio_pg_param){CIO_PG_T_INT8, .i = i};
    many[i] = (cio_pg_batch_item){.sql = "SELECT $1::int8 * 2", .params = &ids[i], .nparams = 1};
  }
  ASSERT_EQ(cio_pg_batch(c, many, MANY), 0);
  for (int i = 0; i < MANY; i++) {
    ASSERT_EQ(cio_pg_get_int(many[i].result, 0, 0, &n), 0);
    ASSERT_EQ(n, 2 * i);
    cio_pg_result_free(many[i].result);
  }
  free(many);
  free(ids);
  ASSERT_EQ(cio_pg_close(c), 0);
  return 0;
}
static void batch(void) { run_case(batch_body); }

// ---------------------------------------------------------------- COPY

static int copy_body(void *arg) {
  (void)arg;
  cio_pg *c = connect_ok();
  exec_ok(c, "DROP TABLE IF EXISTS cp; CREATE TABLE cp (id int8, name text)");
  // COPY FROM in pieces that split rows anywhere.
  enum { ROWS = 100000 };
  size_t cap = (size_t)ROWS * 24, len = 0;
  char *data = malloc(cap);
  ASSERT(data);
  for (int i = 1; i <= ROWS; i++) len += (size_t)sprintf(data + len, "%d\tname %d\n", i, i);
  ASSERT_EQ(cio_pg_copy_in_begin(c, "COPY cp FROM STDIN"), 0);
  ASSERT_EQ(cio_pg_exec(c, "SELECT 1", NULL, 0, NULL), -EBUSY);
  uint64_t seed = 7;
  for (size_t off = 0; off < len;) {
    size_t piece = 1 + test_random(&seed) % 5000;
    if (piece > len - off) piece = len - off;
    ASSERT_EQ(cio_pg_copy_put(c, data + off, piece), 0);
    off += piece;
  }
  int64_t rows = 0;
  ASSERT_EQ(cio_pg_copy_in_end(c, NULL, &rows), 0);
  ASSERT_EQ(rows, ROWS);
  ASSERT_EQ(int_of(c, "SELECT sum(id)::int8 FROM cp WHERE name = 'name ' || id", NULL),
            (int64_t)ROWS * (ROWS + 1) / 2);
  // Failed by the caller: nothing stays.
  ASSERT_EQ(cio_pg_copy_in_begin(c, "COPY cp FROM STDIN"), 0);
  ASSERT_EQ(cio_pg_copy_put(c, data, len / 2), 0);
  ASSERT_EQ(cio_pg_copy_in_end(c, "changed my mind", NULL), CIO_PG_ERROR);
  ASSERT(strcmp(cio_pg_sqlstate(c), "57014") == 0);
  ASSERT_EQ(int_of(c, "SELECT count(*) FROM cp", NULL), ROWS);
  // Interrupted while libpq's buffer is full: the COPY is failed, the connection idle.
  ASSERT_EQ(cio_pg_copy_in_begin(c, "COPY cp FROM STDIN"), 0);
  cio_scope scope;
  ASSERT_EQ(cio_timeout_begin(&scope, 0.001), 0);
  int rc = 0;
  for (int round = 0; rc == 0 && round < 1000; round++) rc = cio_pg_copy_put(c, data, len);
  ASSERT_EQ(rc, -ETIMEDOUT);
  ASSERT_EQ(cio_scope_end(&scope), -ETIMEDOUT);
  ASSERT(cio_pg_is_ok(c));
  ASSERT_EQ(int_of(c, "SELECT count(*) FROM cp", NULL), ROWS);
  free(data);
  // COPY TO, read whole.
  ASSERT_EQ(cio_pg_copy_out_begin(c, "COPY (SELECT id FROM cp ORDER BY id) TO STDOUT"), 0);
  void *buf;
  size_t n;
  int64_t count = 0, sum = 0;
  while ((rc = cio_pg_copy_get(c, &buf, &n)) == 1) {
    ASSERT(n > 1 && ((char *)buf)[n - 1] == '\n');
    sum += strtoll(buf, NULL, 10);
    count++;
    cio_pg_copy_free(buf);
  }
  ASSERT_EQ(rc, 0);
  ASSERT_EQ(count, ROWS);
  ASSERT_EQ(sum, (int64_t)ROWS * (ROWS + 1) / 2);
  // COPY TO closed early: the server stops.
  ASSERT_EQ(cio_pg_copy_out_begin(c, "COPY (SELECT generate_series(1, 1000000000)) TO STDOUT"), 0);
  for (int i = 0; i < 10; i++) {
    ASSERT_EQ(cio_pg_copy_get(c, &buf, &n), 1);
    cio_pg_copy_free(buf);
  }
  double t0 = cio_now();
  ASSERT_EQ(cio_pg_copy_close(c), 0);
  ASSERT_BETWEEN(cio_now() - t0, 0, 3);
  ASSERT_EQ(int_of(c, "SELECT 3::int8", NULL), 3);
  // A COPY through the plain calls is refused, and the connection stays usable.
  ASSERT_EQ(cio_pg_exec(c, "COPY cp FROM STDIN", NULL, 0, NULL), CIO_PG_PROTOCOL);
  ASSERT_EQ(cio_pg_exec(c, "COPY cp TO STDOUT", NULL, 0, NULL), CIO_PG_PROTOCOL);
  ASSERT_EQ(cio_pg_copy_in_begin(c, "SELECT 1"), CIO_PG_PROTOCOL);
  ASSERT_EQ(cio_pg_copy_out_begin(c, "COPY cp FROM STDIN"), CIO_PG_PROTOCOL);
  ASSERT_EQ(int_of(c, "SELECT count(*) FROM cp", NULL), ROWS);
  ASSERT_EQ(cio_pg_close(c), 0);
  return 0;
}
static void copy(void) { run_case(copy_body); }

// ---------------------------------------------------------------- cancellation

static int sleeper(void *arg) {
  cio_pg *c = arg;
  return cio_pg_exec(c, "SELECT pg_sleep(10)", NULL, 0, NULL);
}

// Cancels itself, then inserts (refused) and rolls back its transaction
// (done); returns 0 when both went so.
static int insert_cancelled(void *arg) {
  cio_pg *c = arg;
  ASSERT_EQ(cio_pg_begin(c, CIO_PG_READ_COMMITTED), 0);
  ASSERT_EQ(cio_cancel(cio_current()), 1);
  ASSERT_EQ(cio_pg_exec(c, "INSERT INTO cx VALUES (1)", NULL, 0, NULL), -ECANCELED);
  cio_pg_result *r = NULL;
  ASSERT_EQ(
      cio_pg_query(c, "INSERT INTO cx VALUES ($1)", &(cio_pg_param){CIO_PG_T_INT4, .i = 1}, 1, &r),
      -ECANCELED);
  ASSERT_EQ(cio_pg_rollback(c), 0);
  ASSERT_EQ(cio_pg_tx_depth(c), 0);
  return 0;
}

static int cancel_body(void *arg) {
  (void)arg;
  cio_pg *c = connect_ok();
  // A timeout scope: the server stops the query (57014 shows in its stats).
  cio_scope scope;
  double t0 = cio_now();
  ASSERT_EQ(cio_timeout_begin(&scope, 0.1), 0);
  ASSERT_EQ(cio_pg_exec(c, "SELECT pg_sleep(10)", NULL, 0, NULL), -ETIMEDOUT);
  ASSERT_EQ(cio_scope_end(&scope), -ETIMEDOUT);
  ASSERT_BETWEEN(cio_now() - t0, 0.09, 2);
  ASSERT(cio_pg_is_ok(c));
  ASSERT_EQ(int_of(c, "SELECT 1::int8", NULL), 1);
  // A cancelled task.
  cio_task *t = cio_spawn(sleeper, c);
  ASSERT_EQ(cio_sleep(0.1), 0);
  t0 = cio_now();
  ASSERT_EQ(cio_cancel(t), 1);
  ASSERT_EQ(cio_join(t), -ECANCELED);
  ASSERT_BETWEEN(cio_now() - t0, 0, 2);
  ASSERT(cio_pg_is_ok(c));
  // The session is idle, and the server did not go on sleeping.
  ASSERT_EQ(int_of(c,
                   "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%' "
                   "AND state = 'active'",
                   NULL),
            0);
  ASSERT_EQ(int_of(c, "SELECT 2::int8", NULL), 2);
  // A call by a task already cancelled, or past its scope's deadline, sends
  // nothing: a statement run and committed, then reported cancelled, was
  // the worst of both.  A rollback still runs (it cleans up).
  exec_ok(c, "DROP TABLE IF EXISTS cx; CREATE TABLE cx (id int)");
  cio_pg_param zero = {CIO_PG_T_INT4, .i = 0}; // the statement prepared and cached first
  ASSERT_EQ(cio_pg_exec(c, "INSERT INTO cx VALUES ($1)", &zero, 1, NULL), 0);
  exec_ok(c, "DELETE FROM cx");
  cio_task *self_cancelled = cio_spawn(insert_cancelled, c);
  ASSERT_EQ(cio_join(self_cancelled), 0);
  ASSERT_EQ(cio_timeout_begin(&scope, 0), 0);
  ASSERT_EQ(cio_pg_exec(c, "INSERT INTO cx VALUES (2)", NULL, 0, NULL), -ETIMEDOUT);
  cio_pg_result *r = NULL;
  ASSERT_EQ(
      cio_pg_query(c, "INSERT INTO cx VALUES ($1)", &(cio_pg_param){CIO_PG_T_INT4, .i = 3}, 1, &r),
      -ETIMEDOUT);
  ASSERT(r == NULL);
  ASSERT_EQ(cio_scope_end(&scope), -ETIMEDOUT);
  ASSERT_EQ(int_of(c, "SELECT count(*) FROM cx", NULL), 0);
  ASSERT_EQ(cio_pg_close(c), 0);
  return 0;
}
static void cancellation(void) { run_case(cancel_body); }

// Two tasks on one connection: the second call is refused, the first's
// answer stays its own.
static int waiter(void *arg) {
  cio_pg_notification *n = NULL;
  int rc = cio_pg_notification_next(arg, 5, &n);
  if (rc == 0) {
    ASSERT(strcmp(n->payload, "hi") == 0);
    free(n);
  }
  return rc;
}

static int short_sleeper(void *arg) {
  return cio_pg_exec(arg, "SELECT pg_sleep(0.3)", NULL, 0, NULL);
}

static int two_tasks_body(void *arg) {
  (void)arg;
  cio_pg *c = connect_ok(), *other = connect_ok();
  cio_task *t = cio_spawn(sleeper, c);
  ASSERT_EQ(cio_sleep(0.05), 0);
  ASSERT_EQ(cio_pg_exec(c, "SELECT 1", NULL, 0, NULL), -EBUSY);
  cio_pg_result *r = NULL;
  ASSERT_EQ(cio_pg_query(c, "SELECT 1", NULL, 0, &r), -EBUSY);
  ASSERT_EQ(cio_cancel(t), 1);
  ASSERT_EQ(cio_join(t), -ECANCELED);
  // Ending a transaction, a stream or a COPY while another task's query
  // runs is refused too: it broke the connection under that task, which
  // then waited for ever.
  ASSERT_EQ(cio_pg_begin(c, CIO_PG_READ_COMMITTED), 0);
  t = cio_spawn(short_sleeper, c);
  ASSERT_EQ(cio_sleep(0.05), 0);
  ASSERT_EQ(cio_pg_tx_end(c, -1), -EBUSY);
  ASSERT_EQ(cio_pg_rollback(c), -EBUSY);
  ASSERT_EQ(cio_pg_stream_close(c), -EBUSY);
  ASSERT_EQ(cio_pg_copy_close(c), -EBUSY);
  ASSERT_EQ(cio_join(t), 0); // its answer, whole
  ASSERT_EQ(cio_pg_tx_depth(c), 1);
  ASSERT_EQ(cio_pg_rollback(c), 0);
  ASSERT(cio_pg_is_ok(c));
  ASSERT_EQ(cio_pg_listen(c, "ch"), 0);
  t = cio_spawn(waiter, c);
  ASSERT_EQ(cio_sleep(0.05), 0);
  ASSERT_EQ(cio_pg_exec(c, "SELECT 1", NULL, 0, NULL), -EBUSY);
  exec_ok(other, "NOTIFY ch, 'hi'");
  ASSERT_EQ(cio_join(t), 0);
  ASSERT_EQ(int_of(c, "SELECT 4::int8", NULL), 4);
  ASSERT_EQ(cio_pg_close(c), 0);
  ASSERT_EQ(cio_pg_close(other), 0);
  return 0;
}
static void two_tasks_one_connection(void) { run_case(two_tasks_body); }

static int terminated_body(void *arg) {
  (void)arg;
  cio_pg *victim = connect_ok(), *killer = connect_ok();
  cio_pg_param pid = {CIO_PG_T_INT4, .i = cio_pg_backend_pid(victim)};
  ASSERT(pid.i > 0);
  cio_pg_result *r = query1(killer, "SELECT pg_terminate_backend($1)", &pid);
  cio_pg_result_free(r);
  double t0 = cio_now();
  int rc = cio_pg_exec(victim, "SELECT 1", NULL, 0, NULL);
  ASSERT_EQ(rc, CIO_PG_CONN_LOST);
  ASSERT_BETWEEN(cio_now() - t0, 0, 2);
  ASSERT(!cio_pg_is_ok(victim));
  ASSERT(cio_pg_error_message(victim)[0] != '\0');
  ASSERT_EQ(cio_pg_exec(victim, "SELECT 1", NULL, 0, NULL), CIO_PG_CONN_LOST);
  // Killed in the middle of a query, too.
  cio_pg *busy = connect_ok();
  pid.i = cio_pg_backend_pid(busy);
  cio_task *t = cio_spawn(sleeper, busy);
  ASSERT_EQ(cio_sleep(0.1), 0);
  r = query1(killer, "SELECT pg_terminate_backend($1)", &pid);
  cio_pg_result_free(r);
  ASSERT_EQ(cio_join(t), CIO_PG_CONN_LOST);
  ASSERT(strcmp(cio_pg_sqlstate(busy), "57P01") == 0);
  ASSERT_EQ(cio_pg_close(busy), 0);
  ASSERT_EQ(cio_pg_close(victim), 0);
  ASSERT_EQ(cio_pg_close(killer), 0);
  return 0;
}
static void terminated_backend(void) { run_case(terminated_body); }

// libpq closes its socket itself when it finds the connection broken: the
// loop's count of registered descriptors must come back to zero all the
// same, or a deadlock after it would hang instead of being reported.
static int lost_then_stuck_body(void *arg) {
  (void)arg;
  cio_pg *victim = connect_ok(), *killer = connect_ok();
  ASSERT_EQ(int_of(victim, "SELECT 1", NULL), 1); // its socket is registered now
  cio_pg_param pid = {CIO_PG_T_INT4, .i = cio_pg_backend_pid(victim)};
  cio_pg_result_free(query1(killer, "SELECT pg_terminate_backend($1)", &pid));
  ASSERT_EQ(cio_pg_exec(victim, "SELECT 1", NULL, 0, NULL), CIO_PG_CONN_LOST);
  ASSERT_EQ(cio_pg_close(victim), 0);
  ASSERT_EQ(cio_pg_close(killer), 0);
  cio_event *never = cio_event_new();
  ASSERT(never != NULL);
  int rc = cio_event_wait(never); // nothing can set it: a deadlock, reported and cancelled
  cio_event_free(never);
  return rc;
}
static void broken_connection_leaves_no_registration(void) {
  ASSERT_EQ(cio_run(lost_then_stuck_body, NULL), -EDEADLK);
}

// ---------------------------------------------------------------- LISTEN/NOTIFY

static int notify_body(void *arg) {
  (void)arg;
  cio_pg *l = connect_ok(), *s = connect_ok();
  ASSERT_EQ(cio_pg_listen(l, "Chan 1"), 0);
  cio_pg_notification *n = NULL;
  ASSERT_EQ(cio_pg_notification_next(l, 0.05, &n), -ETIMEDOUT);
  enum { N = 200 };
  char payload[16];
  for (int i = 0; i < N; i++) {
    snprintf(payload, sizeof payload, "%d", i);
    cio_pg_param p = {CIO_PG_T_TEXT, .s = payload};
    ASSERT_EQ(cio_pg_exec(s, "SELECT pg_notify('Chan 1', $1)", &p, 1, NULL), 0);
    if (i == N / 2) ASSERT_EQ(int_of(l, "SELECT 1::int8", NULL), 1); // kept across a query
  }
  for (int i = 0; i < N; i++) {
    ASSERT_EQ(cio_pg_notification_next(l, 5, &n), 0);
    ASSERT(strcmp(n->channel, "Chan 1") == 0);
    ASSERT_EQ(atoi(n->payload), i);
    ASSERT_EQ(n->pid, cio_pg_backend_pid(s));
    free(n);
  }
  ASSERT_EQ(cio_pg_unlisten(l, NULL), 0);
  exec_ok(s, "NOTIFY \"Chan 1\", 'late'");
  ASSERT_EQ(cio_pg_notification_next(l, 0.2, &n), -ETIMEDOUT);
  ASSERT_EQ(cio_pg_close(l), 0);
  ASSERT_EQ(cio_pg_close(s), 0);
  return 0;
}
static void listen_notify(void) { run_case(notify_body); }

// ---------------------------------------------------------------- the pool

static char pool_conninfo[256];
static int pool_most_backends, pool_most_in_use;

static int pool_user(void *arg) {
  cio_pg_pool *pool = arg;
  cio_pg *c;
  int rc = cio_pg_pool_acquire(pool, 30, &c);
  if (rc < 0) return rc;
  cio_pg_pool_counts st;
  ASSERT_EQ(cio_pg_pool_stats(pool, &st), 0);
  if ((int)st.in_use > pool_most_in_use) pool_most_in_use = (int)st.in_use;
  int64_t n = int_of(c,
                     "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client "
                     "backend' AND application_name = 'cio_pool'",
                     NULL);
  if (n > pool_most_backends) pool_most_backends = (int)n;
  exec_ok(c, "SELECT pg_sleep(0.005)");
  return cio_pg_pool_release(pool, c);
}

static int pool_body(void *arg) {
  (void)arg;
  cio_pg_pool *pool;
  cio_pg_pool_opts o = {.min_size = 2, .max_size = 5};
  snprintf(pool_conninfo, sizeof pool_conninfo, "%s application_name=cio_pool", conninfo);
  ASSERT_EQ(cio_pg_pool_open(&pool, pool_conninfo, &o), 0);
  cio_pg_pool_counts st;
  ASSERT_EQ(cio_pg_pool_stats(pool, &st), 0);
  ASSERT_EQ(st.size, 2);
  ASSERT_EQ(st.idle, 2);
  enum { N = 60 };
  cio_task *t[N];
  for (int i = 0; i < N; i++) t[i] = cio_spawn(pool_user, pool);
  ASSERT_EQ(cio_sleep(0.002), 0);
  ASSERT_EQ(cio_pg_pool_stats(pool, &st), 0);
  ASSERT(st.waiting > 0);
  for (int i = 0; i < N; i++) ASSERT_EQ(cio_join(t[i]), 0);
  ASSERT_EQ(pool_most_backends, 5);
  ASSERT_EQ(pool_most_in_use, 5);
  ASSERT_EQ(cio_pg_pool_stats(pool, &st), 0);
  ASSERT_EQ(st.in_use, 0);
  ASSERT_EQ(st.waiting, 0);
  ASSERT(st.size <= 5);
  // A session handed back dirty is reset: no transaction, no settings, no LISTEN.
  cio_pg *c;
  ASSERT_EQ(cio_pg_pool_acquire(pool, 1, &c), 0);
  int pid = cio_pg_backend_pid(c);
  ASSERT_EQ(cio_pg_begin(c, CIO_PG_SERIALIZABLE), 0);
  exec_ok(c, "SET statement_timeout = 12345");
  ASSERT_EQ(cio_pg_listen(c, "x"), 0);
  ASSERT_EQ(cio_pg_pool_release(pool, c), 0);
  ASSERT_EQ(cio_pg_pool_release(pool, c), -EINVAL);
  c = NULL;
  for (int i = 0; i < 6 && cio_pg_backend_pid(c) != pid; i++) { // the queue comes round to it
    if (c) ASSERT_EQ(cio_pg_pool_release(pool, c), 0);
    ASSERT_EQ(cio_pg_pool_acquire(pool, 1, &c), 0);
  }
  ASSERT_EQ(cio_pg_backend_pid(c), pid);
  ASSERT_EQ(cio_pg_exec(c, "SAVEPOINT dirty", NULL, 0, NULL), CIO_PG_ERROR);
  ASSERT(strcmp(cio_pg_sqlstate(c), "25P01") == 0);
  cio_pg_result *r = query1(c, "SELECT current_setting('statement_timeout')", NULL);
  const char *v;
  ASSERT_EQ(cio_pg_get_text(r, 0, 0, &v, NULL), 0);
  ASSERT(strcmp(v, "0") == 0);
  cio_pg_result_free(r);
  ASSERT_EQ(int_of(c, "SELECT count(*) FROM pg_listening_channels()", NULL), 0);
  // A broken connection is not given back: the next acquire gets a new one.
  cio_pg *other;
  ASSERT_EQ(cio_pg_pool_acquire(pool, 1, &other), 0);
  cio_pg_param p = {CIO_PG_T_INT4, .i = pid};
  r = query1(other, "SELECT pg_terminate_backend($1)", &p);
  cio_pg_result_free(r);
  ASSERT_EQ(cio_pg_exec(c, "SELECT 1", NULL, 0, NULL), CIO_PG_CONN_LOST);
  ASSERT_EQ(cio_pg_pool_release(pool, c), 0);
  ASSERT_EQ(cio_pg_pool_release(pool, other), 0);
  ASSERT_EQ(cio_pg_pool_acquire(pool, 1, &c), 0);
  ASSERT_NE(cio_pg_backend_pid(c), pid);
  // The pool is full: an acquire times out with its own code.
  cio_pg *held[5] = {c};
  for (int i = 1; i < 5; i++) ASSERT_EQ(cio_pg_pool_acquire(pool, 1, &held[i]), 0);
  cio_pg *none = NULL;
  double t0 = cio_now();
  ASSERT_EQ(cio_pg_pool_acquire(pool, 0.1, &none), CIO_PG_POOL_TIMEOUT);
  ASSERT_BETWEEN(cio_now() - t0, 0.09, 1);
  ASSERT_EQ(cio_pg_pool_close(pool), -EBUSY);
  for (int i = 0; i < 5; i++) ASSERT_EQ(cio_pg_pool_release(pool, held[i]), 0);
  ASSERT_EQ(cio_pg_pool_close(pool), 0);
  ASSERT_EQ(cio_pg_pool_close(pool), -EINVAL);
  // reset_sql "": settings stay from one user to the next (a transaction still ends).
  cio_pg_pool_opts bare = {.max_size = 1, .reset_sql = ""};
  ASSERT_EQ(cio_pg_pool_open(&pool, conninfo, &bare), 0);
  ASSERT_EQ(cio_pg_pool_acquire(pool, 1, &c), 0);
  exec_ok(c, "SET statement_timeout = 4321");
  ASSERT_EQ(cio_pg_begin(c, CIO_PG_READ_COMMITTED), 0);
  ASSERT_EQ(cio_pg_pool_release(pool, c), 0);
  ASSERT_EQ(cio_pg_pool_acquire(pool, 1, &c), 0);
  r = query1(c, "SELECT current_setting('statement_timeout')", NULL);
  ASSERT_EQ(cio_pg_get_text(r, 0, 0, &v, NULL), 0);
  ASSERT(strcmp(v, "4321ms") == 0);
  cio_pg_result_free(r);
  ASSERT_EQ(cio_pg_exec(c, "SAVEPOINT dirty", NULL, 0, NULL), CIO_PG_ERROR);
  ASSERT_EQ(cio_pg_pool_release(pool, c), 0);
  ASSERT_EQ(cio_pg_pool_close(pool), 0);
  return 0;
}
static void pool(void) { run_case(pool_body); }

// Waiters are served first come, first served.
static cio_pg_pool *fifo_pool;
static int fifo_order[5], fifo_next;

static int fifo_waiter(void *arg) {
  cio_pg *c;
  int rc = cio_pg_pool_acquire(fifo_pool, 5, &c);
  if (rc < 0) return rc;
  fifo_order[fifo_next++] = (int)(intptr_t)arg;
  rc = cio_pg_exec(c, "SELECT 1", NULL, 0, NULL);
  int rel = cio_pg_pool_release(fifo_pool, c);
  return rc < 0 ? rc : rel;
}

static int pool_fifo_body(void *arg) {
  (void)arg;
  cio_pg_pool_opts o = {.max_size = 1};
  ASSERT_EQ(cio_pg_pool_open(&fifo_pool, conninfo, &o), 0);
  cio_pg *held;
  ASSERT_EQ(cio_pg_pool_acquire(fifo_pool, 1, &held), 0);
  cio_task *t[5];
  for (int i = 0; i < 5; i++) {
    t[i] = cio_spawn(fifo_waiter, (void *)(intptr_t)i);
    ASSERT_EQ(cio_sleep(0.01), 0); // each is waiting before the next comes
  }
  cio_pg_pool_counts st;
  ASSERT_EQ(cio_pg_pool_stats(fifo_pool, &st), 0);
  ASSERT_EQ(st.waiting, 5);
  ASSERT_EQ(st.in_use, 1);
  ASSERT_EQ(cio_pg_pool_release(fifo_pool, held), 0);
  for (int i = 0; i < 5; i++) ASSERT_EQ(cio_join(t[i]), 0);
  for (int i = 0; i < 5; i++) ASSERT_EQ(fifo_order[i], i);
  // A close right after a release handed the connection's place to a
  // waiter that has not run yet: refused (the waiter went on with a closed
  // pool and opened a connection nobody could release).
  ASSERT_EQ(cio_pg_pool_acquire(fifo_pool, 1, &held), 0);
  fifo_next = 0;
  cio_task *late = cio_spawn(fifo_waiter, (void *)(intptr_t)0);
  ASSERT_EQ(cio_sleep(0.01), 0);
  ASSERT_EQ(cio_pg_pool_release(fifo_pool, held), 0);
  ASSERT_EQ(cio_pg_pool_close(fifo_pool), -EBUSY);
  ASSERT_EQ(cio_join(late), 0);
  ASSERT_EQ(fifo_next, 1);
  ASSERT_EQ(cio_pg_pool_close(fifo_pool), 0);
  return 0;
}
static void pool_fifo(void) { run_case(pool_fifo_body); }

// What a session left, as one cached SELECT sees it: settings made,
// advisory locks held, cursors open (0 each when clean; the unnamed portal
// is the query's own).  $1 is 1 (0 fails: division by zero).  LISTEN is
// checked apart (pg_listening_channels()).
#define LEFTOVERS                                                                                  \
  "SELECT (current_setting('statement_timeout') <> '0')::int4 + "                                  \
  "(SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid())::int4 "  \
  "+ (SELECT count(*) FROM pg_cursors WHERE name <> '')::int4 + 1 / $1::int4 - 1"

// Leaves settings, a LISTEN, an advisory lock and a held cursor behind.
static void dirty_session(cio_pg *c) {
  exec_ok(c, "SET statement_timeout = 12345");
  ASSERT_EQ(cio_pg_listen(c, "x"), 0);
  exec_ok(c, "SELECT pg_advisory_lock(4242)");
  exec_ok(c, "DECLARE held CURSOR WITH HOLD FOR SELECT 1");
  cio_pg_param one = {CIO_PG_T_INT4, .i = 1};
  ASSERT_EQ(int_of(c, LEFTOVERS, &one), 3);
  ASSERT_EQ(int_of(c, "SELECT count(*) FROM pg_listening_channels()", NULL), 1);
}

// The session as the next user finds it: clean.
static void clean_session(cio_pg *c) {
  cio_pg_param one = {CIO_PG_T_INT4, .i = 1};
  ASSERT_EQ(int_of(c, LEFTOVERS, &one), 0);
  ASSERT_EQ(int_of(c, "SELECT count(*) FROM pg_listening_channels()", NULL), 0);
}

// The reset a released connection owes goes out with the next user's first
// cached SELECT (one pipeline): that SELECT already sees a clean session; a
// query failing there leaves the reset done; DEALLOCATE ALL by the previous
// user does not touch the reset (its statements are unnamed).
static int pool_reset_pipelined_body(void *arg) {
  (void)arg;
  cio_pg_pool *pool;
  cio_pg_pool_opts o = {.max_size = 1, .health_check_after = 60};
  ASSERT_EQ(cio_pg_pool_open(&pool, conninfo, &o), 0);
  cio_pg *c;
  cio_pg_param bad = {CIO_PG_T_INT4, .i = 0};
  for (int round = 0; round < 3; round++) {
    ASSERT_EQ(cio_pg_pool_acquire(pool, 1, &c), 0);
    clean_session(c); // its first query cached (and known plain) from round 1 on
    dirty_session(c);
    ASSERT_EQ(cio_pg_pool_release(pool, c), 0);
  }
  // The failing query (division by zero) leaves the reset done ...
  ASSERT_EQ(cio_pg_pool_acquire(pool, 1, &c), 0);
  cio_pg_result *r = NULL;
  ASSERT_EQ(cio_pg_query(c, LEFTOVERS, &bad, 1, &r), CIO_PG_ERROR);
  ASSERT(strcmp(cio_pg_sqlstate(c), "22012") == 0);
  // ... and the next statement still finds the session clean.
  clean_session(c);
  dirty_session(c);
  exec_ok(c, "DEALLOCATE ALL");
  ASSERT_EQ(cio_pg_pool_release(pool, c), 0);
  ASSERT_EQ(cio_pg_pool_acquire(pool, 1, &c), 0);
  clean_session(c);
  dirty_session(c);
  ASSERT_EQ(cio_pg_pool_release(pool, c), 0);
  ASSERT_EQ(cio_pg_pool_acquire(pool, 1, &c), 0);
  clean_session(c); // prepared again under new names
  // The same through a batch.
  cio_pg_batch_item drop = {.sql = "DEALLOCATE ALL"};
  ASSERT_EQ(cio_pg_batch(c, &drop, 1), 0);
  cio_pg_result_free(drop.result);
  dirty_session(c);
  ASSERT_EQ(cio_pg_pool_release(pool, c), 0);
  ASSERT_EQ(cio_pg_pool_acquire(pool, 1, &c), 0);
  clean_session(c);
  // Where cio cannot see it (inside a DO block), the reset fails: the
  // connection is given up with its error (the statement ran too, in the
  // previous user's session), and the pool connects again.
  dirty_session(c);
  exec_ok(c, "DO $$ BEGIN EXECUTE 'DEALLOCATE ALL'; END $$");
  ASSERT_EQ(cio_pg_pool_release(pool, c), 0);
  ASSERT_EQ(cio_pg_pool_acquire(pool, 1, &c), 0);
  cio_pg_param one = {CIO_PG_T_INT4, .i = 1};
  r = NULL;
  ASSERT_EQ(cio_pg_query(c, LEFTOVERS, &one, 1, &r), CIO_PG_CONN_LOST);
  ASSERT(r == NULL);
  ASSERT(strcmp(cio_pg_sqlstate(c), "26000") == 0);
  ASSERT_EQ(cio_pg_pool_release(pool, c), 0);
  ASSERT_EQ(cio_pg_pool_acquire(pool, 1, &c), 0);
  clean_session(c);
  ASSERT_EQ(cio_pg_pool_release(pool, c), 0);
  ASSERT_EQ(cio_pg_pool_close(pool), 0);
  return 0;
}
static void pool_reset_pipelined(void) { run_case(pool_reset_pipelined_body); }

// The reset goes out in a transaction of its own, ahead of the next user's
// first statement: that statement's transaction starts under the defaults
// again, though the previous user made every transaction read-only,
// serializable and deferrable (the old pipeline, one implicit transaction,
// ran the INSERT read-only: 25006).
#define RESET_INSERT "INSERT INTO reset_tx VALUES ($1)"
#define RESET_DEFAULTS                                                                             \
  "SELECT (current_setting('transaction_isolation') = 'read committed' AND "                       \
  "current_setting('transaction_read_only') = 'off' AND "                                          \
  "current_setting('transaction_deferrable') = 'off')::int4 * $1::int4"
static void leave_transaction_defaults(cio_pg_pool *pool) {
  cio_pg *c;
  ASSERT_EQ(cio_pg_pool_acquire(pool, 1, &c), 0);
  exec_ok(c, "SET default_transaction_read_only = on");
  exec_ok(c, "SET default_transaction_isolation = 'serializable'");
  exec_ok(c, "SET default_transaction_deferrable = on");
  ASSERT_EQ(cio_pg_pool_release(pool, c), 0);
}

static int pool_reset_own_transaction_body(void *arg) {
  (void)arg;
  cio_pg_pool *pool;
  cio_pg_pool_opts o = {.max_size = 1, .health_check_after = 60};
  ASSERT_EQ(cio_pg_pool_open(&pool, conninfo, &o), 0);
  cio_pg *c;
  cio_pg_param one = {CIO_PG_T_INT4, .i = 1};
  ASSERT_EQ(cio_pg_pool_acquire(pool, 1, &c), 0);
  exec_ok(c, "CREATE TABLE IF NOT EXISTS reset_tx (v int4)");
  ASSERT_EQ(cio_pg_exec(c, RESET_INSERT, &one, 1, NULL), 0); // both cached, and known plain
  ASSERT_EQ(int_of(c, RESET_DEFAULTS, &one), 1);
  ASSERT_EQ(cio_pg_pool_release(pool, c), 0);
  for (int round = 0; round < 3; round++) {
    leave_transaction_defaults(pool);
    ASSERT_EQ(cio_pg_pool_acquire(pool, 1, &c), 0);
    int rc = cio_pg_exec(c, RESET_INSERT, &one, 1, NULL);
    if (rc < 0) fprintf(stderr, "%s [%s]\n", cio_pg_error_message(c), cio_pg_sqlstate(c));
    ASSERT_EQ(rc, 0);
    ASSERT_EQ(cio_pg_pool_release(pool, c), 0);
    leave_transaction_defaults(pool);
    ASSERT_EQ(cio_pg_pool_acquire(pool, 1, &c), 0);
    ASSERT_EQ(int_of(c, RESET_DEFAULTS, &one), 1);
    ASSERT_EQ(cio_pg_pool_release(pool, c), 0);
  }
  ASSERT_EQ(cio_pg_pool_acquire(pool, 1, &c), 0);
  ASSERT_EQ(int_of(c, "SELECT count(*)::int4 FROM reset_tx", NULL), 4);
  exec_ok(c, "DROP TABLE reset_tx");
  ASSERT_EQ(cio_pg_pool_release(pool, c), 0);
  ASSERT_EQ(cio_pg_pool_close(pool), 0);
  return 0;
}
static void pool_reset_own_transaction(void) { run_case(pool_reset_own_transaction_body); }

// A pooled connection whose backend was terminated while it sat idle: the
// next user's first query (its reset pipelined with it) meets the server's
// FATAL and then the closed socket, and gets the connection's loss, never
// "unexpected answer"; the pool then connects again.
#define SLOW_ONE "SELECT $1::int8 FROM pg_sleep(0.5)"
static int slow_one(void *arg) {
  cio_pg_param one = {CIO_PG_T_INT8, .i = 1};
  cio_pg_result *r = NULL;
  int rc = cio_pg_query(arg, SLOW_ONE, &one, 1, &r);
  cio_pg_result_free(r);
  return rc;
}

static int pool_reset_on_terminated_body(void *arg) {
  (void)arg;
  cio_pg_pool *pool;
  cio_pg_pool_opts o = {.max_size = 1, .health_check_after = 60};
  ASSERT_EQ(cio_pg_pool_open(&pool, conninfo, &o), 0);
  cio_pg *killer = connect_ok(), *c;
  cio_pg_param one = {CIO_PG_T_INT8, .i = 1};
  for (int round = 0; round < 5; round++) {
    for (int i = 0; i < 2; i++) { // cached and known plain
      ASSERT_EQ(cio_pg_pool_acquire(pool, 5, &c), 0);
      ASSERT_EQ(int_of(c, "SELECT $1::int8", &one), 1);
      ASSERT_EQ(cio_pg_pool_release(pool, c), 0);
    }
    ASSERT_EQ(cio_pg_pool_acquire(pool, 5, &c), 0);
    cio_pg_param pid = {CIO_PG_T_INT4, .i = cio_pg_backend_pid(c)};
    ASSERT_EQ(cio_pg_pool_release(pool, c), 0);
    cio_pg_result_free(query1(killer, "SELECT pg_terminate_backend($1)", &pid));
    while (int_of(killer, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", &pid) > 0)
      ASSERT_EQ(cio_sleep(0.005), 0);
    ASSERT_EQ(cio_pg_pool_acquire(pool, 5, &c), 0);
    cio_pg_result *r = NULL;
    int rc = cio_pg_query(c, "SELECT $1::int8", &one, 1, &r);
    cio_pg_result_free(r);
    if (rc != CIO_PG_CONN_LOST)
      fprintf(stderr, "round %d: %s [%s] %s\n", round, cio_strerror(rc), cio_pg_sqlstate(c),
              cio_pg_error_message(c));
    ASSERT_EQ(rc, CIO_PG_CONN_LOST);
    ASSERT(!cio_pg_is_ok(c));
    ASSERT_EQ(cio_pg_pool_release(pool, c), 0);
  }
  // Terminated in the middle of the query that carries the reset.
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < 2; i++) {
      ASSERT_EQ(cio_pg_pool_acquire(pool, 5, &c), 0);
      ASSERT_EQ(int_of(c, SLOW_ONE, &one), 1);
      ASSERT_EQ(cio_pg_pool_release(pool, c), 0);
    }
    ASSERT_EQ(cio_pg_pool_acquire(pool, 5, &c), 0);
    cio_pg_param pid = {CIO_PG_T_INT4, .i = cio_pg_backend_pid(c)};
    cio_task *t = cio_spawn(slow_one, c);
    ASSERT_EQ(cio_sleep(0.1), 0);
    cio_pg_result_free(query1(killer, "SELECT pg_terminate_backend($1)", &pid));
    int rc = cio_join(t);
    if (rc != CIO_PG_CONN_LOST)
      fprintf(stderr, "mid-query round %d: %s [%s] %s\n", round, cio_strerror(rc),
              cio_pg_sqlstate(c), cio_pg_error_message(c));
    ASSERT_EQ(rc, CIO_PG_CONN_LOST);
    ASSERT(strcmp(cio_pg_sqlstate(c), "57P01") == 0);
    ASSERT_EQ(cio_pg_pool_release(pool, c), 0);
  }
  ASSERT_EQ(cio_pg_pool_acquire(pool, 5, &c), 0);
  ASSERT_EQ(int_of(c, "SELECT $1::int8", &one), 1);
  ASSERT_EQ(cio_pg_pool_release(pool, c), 0);
  ASSERT_EQ(cio_pg_close(killer), 0);
  ASSERT_EQ(cio_pg_pool_close(pool), 0);
  return 0;
}
static void pool_reset_on_terminated(void) { run_case(pool_reset_on_terminated_body); }

// ---------------------------------------------------------------- a misbehaving server

// A server of one connection that speaks just enough of the protocol for
// libpq to connect, then answers the first pipeline it is sent (everything
// up to a Sync) with `reply` and closes, at once or `close_after` seconds
// later.  Listens on 127.0.0.1, f->port.
typedef struct fake_server {
  int listener, port;
  const char *reply; // protocol messages, written as they are
  size_t reply_len;
  double close_after;
  pthread_t thread;
} fake_server;

static bool read_full(int fd, void *buf, size_t n) {
  for (size_t got = 0; got < n;) {
    ssize_t r = read(fd, (char *)buf + got, n - got);
    if (r <= 0) return false;
    got += (size_t)r;
  }
  return true;
}

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void *fake_serve(void *arg) {
  fake_server *f = arg;
  int fd = accept(f->listener, NULL, NULL);
  if (fd < 0) return NULL;
  unsigned char head[8], body[4096];
  if (!read_full(fd, head, 4) || be32(head) < 8 || be32(head) - 4 > sizeof body ||
      !read_full(fd, body, be32(head) - 4)) // the startup message
    goto out;
  static const char hello[] = "R\0\0\0\x08\0\0\0\0" // AuthenticationOk
                              "S\0\0\0\x18server_version\0"
                              "15.0\0" // ParameterStatus
                              "S\0\0\0\x19"
                              "client_encoding\0UTF8\0"
                              "S\0\0\0\x19"
                              "integer_datetimes\0on\0"
                              "S\0\0\0\x23standard_conforming_strings\0on\0"
                              "K\0\0\0\x0c\0\0\0\x01\0\0\0\x02" // BackendKeyData
                              "Z\0\0\0\x05I";                   // ReadyForQuery, idle
  if (write(fd, hello, sizeof hello - 1) != (ssize_t)(sizeof hello - 1)) goto out;
  for (;;) { // messages up to the pipeline's Sync
    if (!read_full(fd, head, 5) || be32(head + 1) < 4 || be32(head + 1) - 4 > sizeof body ||
        !read_full(fd, body, be32(head + 1) - 4))
      goto out;
    if (head[0] == 'S') break;
  }
  if (write(fd, f->reply, f->reply_len) != (ssize_t)f->reply_len) goto out;
  usleep((useconds_t)(f->close_after * 1e6));
out:
  close(fd);
  return NULL;
}

static void fake_start(fake_server *f, const char *reply, size_t len, double close_after) {
  f->reply = reply;
  f->reply_len = len;
  f->close_after = close_after;
  f->listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof a;
  ASSERT_EQ(bind(f->listener, (struct sockaddr *)&a, sizeof a), 0);
  ASSERT_EQ(listen(f->listener, 1), 0);
  ASSERT_EQ(getsockname(f->listener, (struct sockaddr *)&a, &alen), 0);
  f->port = ntohs(a.sin_port);
  ASSERT_EQ(pthread_create(&f->thread, NULL, fake_serve, f), 0);
}

static void fake_stop(fake_server *f) {
  ASSERT_EQ(pthread_join(f->thread, NULL), 0);
  close(f->listener);
}

// Awaits: starts a fault server (as fake_start) and connects to it.
static cio_pg *fake_connect(fake_server *f, const char *reply, size_t len, double close_after) {
  fake_start(f, reply, len, close_after);
  char info[160];
  snprintf(info, sizeof info,
           "host=127.0.0.1 port=%d user=u dbname=d sslmode=disable gssencmode=disable", f->port);
  cio_pg *c = NULL;
  if (cio_pg_connect(&c, info, 5) < 0)
    test_fail(__FILE__, __LINE__, "connect: %s", cio_pg_connect_error());
  return c;
}

// The server's FATAL comes where the pipeline's Sync should be answered (a
// shutdown that reached the backend after the last statement, which is
// then not committed), and the connection closes: the batch fails with the
// connection's loss and the server's SQLSTATE, never "unexpected answer".
static int fatal_in_place_of_sync_body(void *arg) {
  (void)arg;
  static const char reply[] = "1\0\0\0\x04"
                              "2\0\0\0\x04"
                              "n\0\0\0\x04"
                              "C\0\0\0\x08SET\0" // the statement went through
                              "E\0\0\0\x4fSFATAL\0VFATAL\0C57P01\0"
                              "Mterminating connection due to administrator command\0\0";
  // Closed with the FATAL, libpq sees both at once; closed a little later,
  // the FATAL first and the close while the pipeline is recovered, whose
  // "server closed the connection" must not replace the server's reason.
  for (int late = 0; late < 2; late++) {
    fake_server f;
    cio_pg *c = fake_connect(&f, reply, sizeof reply - 1, late ? 0.2 : 0);
    cio_pg_batch_item it[1] = {{.sql = "SET application_name = 'x'"}};
    ASSERT_EQ(cio_pg_batch(c, it, 1), CIO_PG_CONN_LOST);
    ASSERT(strcmp(cio_pg_sqlstate(c), "57P01") == 0);
    ASSERT(strstr(cio_pg_error_message(c), "administrator command") != NULL);
    ASSERT(!cio_pg_is_ok(c));
    ASSERT(it[0].result == NULL);
    ASSERT_EQ(cio_pg_close(c), 0);
    fake_stop(&f);
  }
  return 0;
}
static void fatal_in_place_of_sync(void) { run_case(fatal_in_place_of_sync_body); }

// A query answered by the server's FATAL (a shutdown as it arrived), the
// close coming at once or a little later: the call fails with the
// connection's loss and the server's reason, whichever of the two libpq
// reads first.
static int fatal_answer_body(void *arg) {
  (void)arg;
  static const char reply[] = "E\0\0\0\x4fSFATAL\0VFATAL\0C57P01\0"
                              "Mterminating connection due to administrator command\0\0";
  for (int late = 0; late < 2; late++) {
    fake_server f;
    cio_pg *c = fake_connect(&f, reply, sizeof reply - 1, late ? 0.2 : 0);
    ASSERT_EQ(cio_pg_set_statement_cache(c, 0), 0); // one message sequence, one Sync
    cio_pg_param one = {CIO_PG_T_INT4, .i = 1};
    cio_pg_result *r = NULL;
    ASSERT_EQ(cio_pg_query(c, "SELECT $1::int4", &one, 1, &r), CIO_PG_CONN_LOST);
    ASSERT(strcmp(cio_pg_sqlstate(c), "57P01") == 0);
    if (!strstr(cio_pg_error_message(c), "administrator command"))
      test_fail(__FILE__, __LINE__, "close %s: message \"%s\"", late ? "late" : "at once",
                cio_pg_error_message(c));
    ASSERT(!cio_pg_is_ok(c));
    ASSERT_EQ(cio_pg_close(c), 0);
    fake_stop(&f);
  }
  return 0;
}
static void fatal_answer(void) { run_case(fatal_answer_body); }

// Backends of application `name`, from pg_stat_activity.
static int64_t backends_of(cio_pg *c, const char *name) {
  cio_pg_param p = {CIO_PG_T_TEXT, .s = name};
  return int_of(c,
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
                "AND application_name = $1",
                &p);
}

// Awaits until `name` has `want` backends, for at most `seconds`; returns
// the last count.
static int64_t await_backends(cio_pg *c, const char *name, int64_t want, double seconds) {
  double end = cio_now() + seconds;
  int64_t n;
  while ((n = backends_of(c, name)) != want && cio_now() < end) ASSERT_EQ(cio_sleep(0.05), 0);
  return n;
}

// Maintenance without any acquire: an advisory lock a user left is let go
// soon after release (the owed reset is made by the pool's task); idle
// connections past max_idle above min_size are closed; connections closed
// behind the pool's back are replaced up to min_size.
static int pool_maintenance_body(void *arg) {
  (void)arg;
  cio_pg *watch;
  ASSERT_EQ(cio_pg_connect(&watch, conninfo, 10), 0);
  char info[256];
  snprintf(info, sizeof info, "%s application_name=cio_maint", conninfo);
  cio_pg_pool *pool;
  cio_pg_pool_opts o = {.min_size = 2, .max_size = 4, .max_idle = 0.3, .health_check_after = 0.2};
  ASSERT_EQ(cio_pg_pool_open(&pool, info, &o), 0);
  ASSERT_EQ(backends_of(watch, "cio_maint"), 2);
  cio_pg *c[4];
  for (int i = 0; i < 4; i++) ASSERT_EQ(cio_pg_pool_acquire(pool, 1, &c[i]), 0);
  exec_ok(c[0], "SELECT pg_advisory_lock(777)");
  for (int i = 0; i < 4; i++) ASSERT_EQ(cio_pg_pool_release(pool, c[i]), 0);
  ASSERT_EQ(backends_of(watch, "cio_maint"), 4);
  // The lock is free within a second, though nobody used the pool since.
  double t0 = cio_now();
  int64_t got = 0;
  while (!got && cio_now() - t0 < 2) {
    got = int_of(watch, "SELECT pg_try_advisory_lock(777)::int4", NULL);
    if (!got) ASSERT_EQ(cio_sleep(0.02), 0);
  }
  ASSERT_EQ(got, 1);
  exec_ok(watch, "SELECT pg_advisory_unlock(777)");
  // The two above min_size are closed once idle past max_idle.
  ASSERT_EQ(await_backends(watch, "cio_maint", 2, 5), 2);
  cio_pg_pool_counts st;
  ASSERT_EQ(cio_pg_pool_stats(pool, &st), 0);
  ASSERT_EQ(st.size, 2);
  ASSERT_EQ(st.idle, 2);
  // Both killed: the pool opens two new ones by itself (a few seconds at most).
  exec_ok(watch, "CREATE TEMP TABLE old AS SELECT pid FROM pg_stat_activity "
                 "WHERE application_name = 'cio_maint'");
  exec_ok(watch, "SELECT pg_terminate_backend(pid) FROM old");
  double t1 = cio_now();
  int64_t fresh = 0;
  while (fresh != 2 && cio_now() - t1 < 5) {
    ASSERT_EQ(cio_sleep(0.05), 0);
    fresh = int_of(watch,
                   "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'cio_maint' "
                   "AND pid NOT IN (SELECT pid FROM old)",
                   NULL);
  }
  ASSERT_EQ(fresh, 2);
  ASSERT_EQ(await_backends(watch, "cio_maint", 2, 5), 2);
  ASSERT_EQ(cio_pg_pool_stats(pool, &st), 0);
  ASSERT_EQ(st.size, 2);
  ASSERT_EQ(cio_pg_pool_acquire(pool, 1, &c[0]), 0);
  ASSERT_EQ(cio_pg_exec(c[0], "SELECT 1", NULL, 0, NULL), 0);
  ASSERT_EQ(cio_pg_pool_release(pool, c[0]), 0);
  ASSERT_EQ(cio_pg_pool_close(pool), 0);
  ASSERT_EQ(await_backends(watch, "cio_maint", 0, 5), 0);
  ASSERT_EQ(cio_pg_close(watch), 0);
  return 0;
}
static void pool_maintenance(void) { run_case(pool_maintenance_body); }

// Lifetimes: an idle connection past max_idle above min_size is closed,
// one past max_lifetime is replaced (by the pool's task, or at the next use).
static int pool_expiry_body(void *arg) {
  (void)arg;
  cio_pg_pool *pool;
  cio_pg_pool_opts o = {.min_size = 1, .max_size = 3, .max_idle = 0.1, .max_lifetime = 0.4};
  ASSERT_EQ(cio_pg_pool_open(&pool, conninfo, &o), 0);
  cio_pg *c[3];
  for (int i = 0; i < 3; i++) ASSERT_EQ(cio_pg_pool_acquire(pool, 1, &c[i]), 0);
  for (int i = 0; i < 3; i++) ASSERT_EQ(cio_pg_pool_release(pool, c[i]), 0);
  cio_pg_pool_counts st;
  ASSERT_EQ(cio_pg_pool_stats(pool, &st), 0);
  ASSERT_EQ(st.size, 3);
  ASSERT_EQ(cio_sleep(0.2), 0);
  ASSERT_EQ(cio_pg_pool_acquire(pool, 1, &c[0]), 0);
  ASSERT_EQ(cio_pg_pool_stats(pool, &st), 0);
  ASSERT_EQ(st.size, 1); // the idle ones above min_size are gone
  ASSERT_EQ(st.in_use, 1);
  int kept = cio_pg_backend_pid(c[0]);
  ASSERT_EQ(cio_pg_pool_release(pool, c[0]), 0);
  ASSERT_EQ(cio_sleep(0.3), 0); // every connection is now past its lifetime
  ASSERT_EQ(cio_pg_pool_acquire(pool, 1, &c[0]), 0);
  ASSERT_NE(cio_pg_backend_pid(c[0]), kept);
  ASSERT_EQ(cio_pg_exec(c[0], "SELECT 1", NULL, 0, NULL), 0);
  ASSERT_EQ(cio_pg_pool_release(pool, c[0]), 0);
  ASSERT_EQ(cio_pg_pool_close(pool), 0);
  return 0;
}
static void pool_expiry(void) { run_case(pool_expiry_body); }

// Chaos: tasks through a pool, some cancelled or timed out at random points
// mid-query or mid-transaction.  Every acquire must find an idle session
// outside any transaction, and every answer must be its own query's.
typedef struct chaos {
  cio_pg_pool *pool;     // the pool
  uint64_t seed;         // this worker's random sequence
  int ops;               // operations to run
  int dirty;             // acquires that found a transaction open (must stay 0)
  int wrong;             // answers of another query (must stay 0)
  int done, interrupted; // operations that finished, that were cut short
} chaos;

typedef struct chaos_op {
  chaos *ch;    // the worker
  int kind;     // 0 quick select, 1 sleep, 2 transaction, 3 batch
  int64_t tag;  // the value the answer must carry
  double sleep; // seconds of pg_sleep
} chaos_op;

static int chaos_once(void *arg) {
  chaos_op *op = arg;
  cio_pg *c;
  int rc = cio_pg_pool_acquire(op->ch->pool, 10, &c);
  if (rc < 0) return rc;
  rc = cio_pg_exec(c, "SAVEPOINT probe", NULL, 0, NULL);
  if (rc == -ECANCELED || rc == -ETIMEDOUT) {
    int rel = cio_pg_pool_release(op->ch->pool, c);
    return rel < 0 ? rel : rc;
  }
  if (rc != CIO_PG_ERROR || strcmp(cio_pg_sqlstate(c), "25P01") != 0) op->ch->dirty++;
  cio_pg_param p[2] = {{CIO_PG_T_INT8, .i = op->tag}, {CIO_PG_T_FLOAT8, .f = op->sleep}};
  cio_pg_result *r = NULL;
  if (op->kind == 2) {
    rc = cio_pg_begin(c, CIO_PG_READ_COMMITTED);
    if (rc == 0) rc = cio_pg_exec(c, "INSERT INTO chaos VALUES ($1)", p, 1, NULL);
    if (rc == 0) rc = cio_pg_query(c, "SELECT $1::int8, pg_sleep($2)", p, 2, &r);
    rc = cio_pg_tx_end(c, rc);
  } else if (op->kind == 3) {
    cio_pg_batch_item b[2] = {{.sql = "SELECT pg_sleep($1)", .params = &p[1], .nparams = 1},
                              {.sql = "SELECT $1::int8", .params = p, .nparams = 1}};
    rc = cio_pg_batch(c, b, 2);
    cio_pg_result_free(b[0].result);
    r = b[1].result;
  } else if (op->kind == 1) {
    rc = cio_pg_query(c, "SELECT $1::int8, pg_sleep($2)", p, 2, &r);
  } else {
    rc = cio_pg_query(c, "SELECT $1::int8", p, 1, &r);
  }
  int64_t got = -1;
  if (r && (cio_pg_get_int(r, 0, 0, &got) < 0 || got != op->tag)) op->ch->wrong++;
  cio_pg_result_free(r);
  int rel = cio_pg_pool_release(op->ch->pool, c);
  return rc < 0 ? rc : rel;
}

static int chaos_worker(void *arg) {
  chaos *ch = arg;
  for (int i = 0; i < ch->ops; i++) {
    uint64_t x = test_random(&ch->seed);
    chaos_op op = {ch, (int)(x % 4), (int64_t)(x >> 8), (double)((x >> 4) % 4) / 1000};
    int how = (int)((x >> 20) % 4); // 0, 1: left alone; 2: cancelled; 3: a timeout scope
    double when = (double)((x >> 24) % 3000) / 1e6;
    int rc;
    if (how == 3) {
      cio_scope s;
      ASSERT_EQ(cio_timeout_begin(&s, when), 0);
      rc = chaos_once(&op);
      (void)cio_scope_end(&s);
    } else {
      cio_task *t = cio_spawn(chaos_once, &op);
      ASSERT(t);
      if (how == 2) {
        if (cio_sleep(when) < 0) return -ECANCELED;
        (void)cio_cancel(t);
      }
      rc = cio_join(t);
    }
    if (rc == 0)
      ch->done++;
    else if (rc == -ECANCELED || rc == -ETIMEDOUT)
      ch->interrupted++;
    else
      test_fail(__FILE__, __LINE__, "operation failed: %s", cio_strerror(rc));
  }
  return 0;
}

static int chaos_body(void *arg) {
  (void)arg;
  cio_pg *setup = connect_ok();
  exec_ok(setup, "DROP TABLE IF EXISTS chaos; CREATE TABLE chaos (v int8)");
  ASSERT_EQ(cio_pg_close(setup), 0);
  cio_pg_pool *pool;
  cio_pg_pool_opts o = {.max_size = 8};
  ASSERT_EQ(cio_pg_pool_open(&pool, conninfo, &o), 0);
  enum { WORKERS = 16 };
  int total = (int)(10000 * test_scale());
  if (total < WORKERS) total = WORKERS;
  chaos ch[WORKERS];
  cio_task *t[WORKERS];
  for (int i = 0; i < WORKERS; i++) {
    ch[i] = (chaos){pool, 0x9e3779b97f4a7c15u * (uint64_t)(i + 1), total / WORKERS, 0, 0, 0, 0};
    t[i] = cio_spawn(chaos_worker, &ch[i]);
  }
  int done = 0, interrupted = 0;
  for (int i = 0; i < WORKERS; i++) {
    ASSERT_EQ(cio_join(t[i]), 0);
    ASSERT_EQ(ch[i].dirty, 0);
    ASSERT_EQ(ch[i].wrong, 0);
    done += ch[i].done;
    interrupted += ch[i].interrupted;
  }
  printf("chaos: %d operations, %d finished, %d cancelled or timed out\n", done + interrupted, done,
         interrupted);
  ASSERT(done > total / 10 && interrupted > total / 10);
  cio_pg_pool_counts st;
  ASSERT_EQ(cio_pg_pool_stats(pool, &st), 0);
  ASSERT_EQ(st.in_use, 0);
  ASSERT(st.size <= 8);
  // No session was left in a transaction: none of the rolled-back inserts stayed
  // without its commit, and none is idle in transaction now.
  cio_pg *c;
  ASSERT_EQ(cio_pg_pool_acquire(pool, 1, &c), 0);
  ASSERT_EQ(int_of(c,
                   "SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in "
                   "transaction%'",
                   NULL),
            0);
  ASSERT_EQ(cio_pg_pool_release(pool, c), 0);
  ASSERT_EQ(cio_pg_pool_close(pool), 0);
  return 0;
}
static void cancel_chaos(void) { run_case(chaos_body); }

// The server restarts under a pool: calls on the old sessions fail with a
// clear error, then the pool opens new ones.
static int restart_body(void *arg) {
  (void)arg;
  cio_pg_pool *pool;
  cio_pg_pool_opts o = {.min_size = 3, .max_size = 3, .health_check_after = 60};
  ASSERT_EQ(cio_pg_pool_open(&pool, conninfo, &o), 0);
  restart_cluster();
  int failures = 0, successes = 0;
  for (int i = 0; i < 10; i++) {
    cio_pg *c;
    int rc = cio_pg_pool_acquire(pool, 5, &c);
    ASSERT_EQ(rc, 0);
    rc = cio_pg_exec(c, "SELECT 1", NULL, 0, NULL);
    if (rc == 0)
      successes++;
    else {
      ASSERT_EQ(rc, CIO_PG_CONN_LOST);
      ASSERT(i < 3); // only the old sessions fail
      failures++;
    }
    ASSERT_EQ(cio_pg_pool_release(pool, c), 0);
  }
  ASSERT(failures >= 1);
  ASSERT_EQ(successes, 10 - failures);
  // With the default health check, a session idle for a while is checked first.
  o.health_check_after = 0.05;
  cio_pg_pool *checked;
  ASSERT_EQ(cio_pg_pool_open(&checked, conninfo, &o), 0);
  restart_cluster();
  ASSERT_EQ(cio_sleep(0.1), 0);
  for (int i = 0; i < 5; i++) {
    cio_pg *c;
    ASSERT_EQ(cio_pg_pool_acquire(checked, 5, &c), 0);
    ASSERT_EQ(cio_pg_exec(c, "SELECT 1", NULL, 0, NULL), 0);
    ASSERT_EQ(cio_pg_pool_release(checked, c), 0);
  }
  ASSERT_EQ(cio_pg_pool_close(checked), 0);
  ASSERT_EQ(cio_pg_pool_close(pool), 0);
  return 0;
}
static void server_restart(void) { run_case(restart_body); }

// The server restarts while tasks query through a pool: the calls caught by
// it fail with a connection error (never hang, never a wrong answer), and
// once it is back every task succeeds again.
typedef struct busy_worker {
  cio_pg_pool *pool;     // the pool
  bool stop;             // set when the run is over
  int ok, lost, refused; // answers, CIO_PG_CONN_LOST, CIO_PG_CONNECT (or 57P01/57P03)
  int ok_after;          // answers after the restart ended
  bool restarted;        // the restart has ended
  int other;             // any other outcome (must stay 0)
} busy_worker;

static int busy_loop(void *arg) {
  busy_worker *w = arg;
  int64_t tag = 0;
  while (!w->stop) {
    cio_pg *c;
    int rc = cio_pg_pool_acquire(w->pool, 10, &c);
    if (rc == 0) {
      cio_pg_param p = {CIO_PG_T_INT8, .i = ++tag};
      cio_pg_result *r = NULL;
      rc = cio_pg_query(c, "SELECT $1::int8, pg_sleep(0.001)", &p, 1, &r);
      int64_t got = -1;
      if (rc == 0 && (cio_pg_get_int(r, 0, 0, &got) < 0 || got != tag)) w->other++;
      if (rc == CIO_PG_ERROR &&
          (strcmp(cio_pg_sqlstate(c), "57P01") == 0 || strcmp(cio_pg_sqlstate(c), "57P03") == 0))
        rc = CIO_PG_CONNECT; // the server said it is shutting down or starting
      if (rc < 0 && rc != CIO_PG_CONN_LOST && rc != CIO_PG_CONNECT)
        fprintf(stderr, "busy_loop: query: %s [%s] %s\n", cio_strerror(rc), cio_pg_sqlstate(c),
                cio_pg_error_message(c));
      cio_pg_result_free(r);
      ASSERT_EQ(cio_pg_pool_release(w->pool, c), 0);
    }
    if (rc == 0) {
      w->ok++;
      if (w->restarted) w->ok_after++;
    } else if (rc == CIO_PG_CONN_LOST) {
      w->lost++;
    } else if (rc == CIO_PG_CONNECT) {
      w->refused++;
      if (cio_sleep(0.01) < 0) return 0;
    } else {
      fprintf(stderr, "busy_loop: %s (%s)\n", cio_strerror(rc), cio_pg_connect_error());
      w->other++;
    }
  }
  return 0;
}

static void *restart_in_thread(void *arg) {
  (void)arg;
  restart_cluster();
  return NULL;
}

static int restart_busy_body(void *arg) {
  (void)arg;
  cio_pg_pool_opts o = {.max_size = 4, .connect_timeout = 5};
  busy_worker w[6];
  cio_pg_pool *pool;
  ASSERT_EQ(cio_pg_pool_open(&pool, conninfo, &o), 0);
  cio_task *t[6];
  for (int i = 0; i < 6; i++) {
    w[i] = (busy_worker){.pool = pool};
    t[i] = cio_spawn(busy_loop, &w[i]);
  }
  ASSERT_EQ(cio_sleep(0.3), 0);
  ASSERT_EQ(cio_to_thread(restart_in_thread, NULL, NULL), 0); // the loop runs on meanwhile
  for (int i = 0; i < 6; i++) w[i].restarted = true;
  ASSERT_EQ(cio_sleep(0.5), 0);
  int ok = 0, failed = 0;
  for (int i = 0; i < 6; i++) {
    w[i].stop = true;
    ASSERT_EQ(cio_join(t[i]), 0);
    ASSERT_EQ(w[i].other, 0);
    ASSERT(w[i].ok_after > 0);
    ok += w[i].ok;
    failed += w[i].lost + w[i].refused;
  }
  printf("restart under load: %d answers, %d calls failed with a connection error\n", ok, failed);
  ASSERT(failed > 0);
  cio_pg_pool_counts st;
  ASSERT_EQ(cio_pg_pool_stats(pool, &st), 0);
  ASSERT(st.size <= 4);
  ASSERT_EQ(cio_pg_pool_close(pool), 0);
  return 0;
}
static void server_restart_under_load(void) { run_case(restart_busy_body); }

// ---------------------------------------------------------------- the demo service

// examples/fastapi_demo with DATABASE_URL naming a database of its own in
// the cluster.  The test makes the tables first, as views that sleep 0.4 s
// per query over the real tables (the demo's CREATE TABLE IF NOT EXISTS and
// seeding then leave them be): the profile's two queries take 0.4 s each on
// the server, and the answer comes in about 0.4 s only if they ran at once.
#ifdef CIO_FASTAPI_DEMO
#define DEMO_SLOW 0.4

static const char demo_schema[] =
    "CREATE FUNCTION slow() RETURNS boolean LANGUAGE plpgsql"
    "  AS $$BEGIN PERFORM pg_sleep(0.4); RETURN true; END$$;"
    "CREATE TABLE users_t (id bigserial PRIMARY KEY, name text NOT NULL);"
    "CREATE TABLE posts_t (id bigserial PRIMARY KEY,"
    "  user_id bigint NOT NULL REFERENCES users_t (id), title text NOT NULL);"
    "CREATE VIEW users AS SELECT id, name FROM users_t WHERE (SELECT slow());"
    "CREATE VIEW posts AS SELECT id, user_id, title FROM posts_t WHERE (SELECT slow());"
    "INSERT INTO users_t (name) VALUES ('ann'), ('ben');"
    "INSERT INTO posts_t (user_id, title) VALUES (1, 'first'), (1, 'second')";

static int demo_db_body(void *arg) {
  const char *sql = arg;
  cio_pg *c = connect_ok();
  exec_ok(c, sql);
  ASSERT_EQ(cio_pg_close(c), 0);
  return 0;
}

// Runs `sql` in the database `db` (demo_db_body on a conninfo of its own).
static void demo_sql(const char *db, const char *sql) {
  char saved[sizeof conninfo];
  memcpy(saved, conninfo, sizeof saved);
  // (a lock the demo held would make ALTER VIEW wait: an error instead)
  snprintf(conninfo, sizeof conninfo,
           "host=%s dbname=%s user=postgres options='-c lock_timeout=10s'", cluster_dir, db);
  ASSERT_EQ(cio_run(demo_db_body, (void *)sql), 0);
  memcpy(conninfo, saved, sizeof saved);
}

// The demo's output (stdout and stderr), read as it comes by a thread of
// its own: a demo that writes much (a sanitizer's reports) would otherwise
// block on a full pipe while the test waits for its answer.
static struct {
  pid_t pid;
  int fd;
  pthread_t reader;
  pthread_mutex_t mu;
  char text[1 << 16]; // the first 64 KiB
  size_t len;
} demo = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void *demo_read(void *arg) {
  (void)arg;
  char buf[4096];
  ssize_t r;
  while ((r = read(demo.fd, buf, sizeof buf)) > 0 || (r < 0 && errno == EINTR)) {
    if (r < 0) continue;
    pthread_mutex_lock(&demo.mu);
    size_t room = sizeof demo.text - 1 - demo.len, n = (size_t)r < room ? (size_t)r : room;
    memcpy(demo.text + demo.len, buf, n);
    demo.len += n;
    demo.text[demo.len] = '\0';
    pthread_mutex_unlock(&demo.mu);
  }
  return NULL;
}

// A copy of what the demo has written so far.
static const char *demo_said(void) {
  static char copy[sizeof demo.text];
  pthread_mutex_lock(&demo.mu);
  memcpy(copy, demo.text, demo.len + 1);
  pthread_mutex_unlock(&demo.mu);
  return copy;
}

// Fails with `why`, the demo's task dump (SIGQUIT) and its output.
static void demo_stuck(const char *why) {
  kill(demo.pid, SIGQUIT);
  usleep(1000 * 1000);
  test_fail(__FILE__, __LINE__, "%s; the demo's output, then its tasks:\n%s", why, demo_said());
}

static double demo_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

// One request (Connection: close), blocking for at most a minute.  Returns
// the status; `out` gets the whole answer.
static int demo_ask(int port, const char *method, const char *path, const char *json, char *out,
                    size_t size) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT(fd >= 0);
  struct timeval limit = {.tv_sec = (time_t)test_timeout(12)};
  ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit), 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  char req[512];
  int n = snprintf(req, sizeof req,
                   "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                   "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                   method, path, json ? strlen(json) : 0, json ? json : "");
  ASSERT_EQ(write(fd, req, (size_t)n), n);
  size_t got = 0;
  int err = 0;
  while (got + 1 < size) {
    ssize_t r = read(fd, out + got, size - 1 - got);
    if (r > 0) got += (size_t)r;
    if (r > 0 || (r < 0 && errno == EINTR)) continue;
    err = r < 0 ? errno : 0;
    break;
  }
  out[got] = '\0';
  close(fd);
  if (err == EAGAIN || err == EWOULDBLOCK) {
    char why[256];
    snprintf(why, sizeof why, "no whole answer to %s %s in %ld s (%zu bytes: %.80s)", method, path,
             (long)limit.tv_sec, got, out);
    demo_stuck(why);
  }
  int status = 0;
  ASSERT_EQ(sscanf(out, "HTTP/1.1 %d", &status), 1);
  return status;
}

static void demo_service(void) {
  if (getenv("CIO_TEST_EMULATED")) { // qemu-user runs this test, not what it starts
    puts("skipped under an emulator: the demo is not started");
    return;
  }
  demo_sql("postgres", "DROP DATABASE IF EXISTS demo"); // a cluster given by CIO_TEST_PG_DIR
  demo_sql("postgres", "CREATE DATABASE demo");
  demo_sql("demo", demo_schema);
  char url[200];
  snprintf(url, sizeof url, "host=%s dbname=demo user=postgres", cluster_dir);
  int out[2];
  ASSERT_EQ(pipe(out), 0);
  pid_t pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); // not left serving if this case fails
    dup2(out[1], 1), dup2(out[1], 2), close(out[0]), close(out[1]);
    setenv("DATABASE_URL", url, 1);
    execl(CIO_FASTAPI_DEMO, CIO_FASTAPI_DEMO, "0", "127.0.0.1", (char *)NULL);
    _exit(127);
  }
  close(out[1]);
  demo.pid = pid;
  demo.fd = out[0];
  ASSERT_EQ(pthread_create(&demo.reader, NULL, demo_read, NULL), 0);
  int port = 0;
  for (double until = demo_now() + test_timeout(12); !port; usleep(10 * 1000)) {
    const char *at = strstr(demo_said(), "serving on http://127.0.0.1:");
    if (at) ASSERT_EQ(sscanf(at, "serving on http://127.0.0.1:%d", &port), 1);
    if (!port && (demo_now() > until || waitpid(pid, NULL, WNOHANG) == pid))
      test_fail(__FILE__, __LINE__, "the demo did not start: %s", demo_said());
  }

  static char a[8192];
  ASSERT_EQ(demo_ask(port, "GET", "/db/users/1", NULL, a, sizeof a), 200);
  ASSERT_STR_CONTAINS(a, "{\"id\":1,\"name\":\"ann\"}");
  ASSERT_EQ(demo_ask(port, "GET", "/db/users/99", NULL, a, sizeof a), 404);
  ASSERT_STR_CONTAINS(a, "{\"detail\":\"Not Found\"}");
  ASSERT_EQ(demo_ask(port, "GET", "/db/users/x", NULL, a, sizeof a), 422);
  ASSERT_EQ(demo_ask(port, "GET", "/db/users/99/profile", NULL, a, sizeof a), 404);
  // The profile: once to open the pool's second connection, then timed.
  ASSERT_EQ(demo_ask(port, "GET", "/db/users/1/profile", NULL, a, sizeof a), 200);
  double t0 = demo_now();
  ASSERT_EQ(demo_ask(port, "GET", "/db/users/1/profile", NULL, a, sizeof a), 200);
  double took = demo_now() - t0;
  ASSERT_STR_CONTAINS(a, "{\"user\":{\"id\":1,\"name\":\"ann\"},\"posts\":[{\"id\":1,\"title\":"
                         "\"first\"},{\"id\":2,\"title\":\"second\"}]}");
  if (took < DEMO_SLOW * 0.9 || took > DEMO_SLOW * 1.75)
    test_fail(__FILE__, __LINE__, "profile in %.3f s: its two %.1f s queries were not gathered",
              took, DEMO_SLOW);
  ASSERT_EQ(demo_ask(port, "POST", "/db/users", "{\"name\":\"cy\"}", a, sizeof a), 201);
  ASSERT_STR_CONTAINS(a, "{\"id\":3,\"name\":\"cy\"}");
  ASSERT_EQ(demo_ask(port, "POST", "/db/users", "{\"name\":\"\"}", a, sizeof a), 422);
  ASSERT_STR_CONTAINS(a, "\"string_too_short\"");
  ASSERT_EQ(demo_ask(port, "GET", "/db/users/3", NULL, a, sizeof a), 200);
  // A database failure: 503 naming the SQLSTATE (42P01, undefined_table).
  demo_sql("demo", "ALTER VIEW posts RENAME TO posts_gone");
  ASSERT_EQ(demo_ask(port, "GET", "/db/users/1/profile", NULL, a, sizeof a), 503);
  ASSERT_STR_CONTAINS(a, "{\"detail\":\"database error: SQLSTATE 42P01\"}");
  ASSERT_EQ(demo_ask(port, "GET", "/db/users/1", NULL, a, sizeof a), 200); // still serving

  // Shut down as Ctrl-C does: exits 0, every pool connection given back.
  ASSERT_EQ(kill(pid, SIGINT), 0);
  int status = 0;
  pid_t r = 0;
  for (double until = demo_now() + test_timeout(12); r == 0 && demo_now() < until;
       usleep(10 * 1000))
    r = waitpid(pid, &status, WNOHANG);
  if (r != pid) demo_stuck("the demo did not exit after SIGINT");
  pthread_join(demo.reader, NULL);
  close(demo.fd);
  const char *said = demo_said();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    test_fail(__FILE__, __LINE__, "the demo ended with status %#x: %s", status, said);
  if (strstr(said, "not released")) test_fail(__FILE__, __LINE__, "at shutdown: %s", said);
}
#else
static void demo_service(void) { puts("examples/fastapi_demo is not built: nothing to check"); }
#endif

static const test_case cases[] = {
    {"types", types, 0},
    {"errors", errors, 0},
    {"connect_timeout", connect_timeout, 0},
    {"serialization_failure", serialization_failure, 0},
    {"transactions", transactions, 0},
    {"stream", stream, 60},
    {"statement_cache", statement_cache, 0},
    {"reshaped_table", reshaped_table, 0},
    {"batch", batch, 0},
    {"copy", copy, 60},
    {"cancellation", cancellation, 0},
    {"two_tasks_one_connection", two_tasks_one_connection, 0},
    {"terminated_backend", terminated_backend, 0},
    {"broken_connection_leaves_no_registration", broken_connection_leaves_no_registration, 30},
    {"listen_notify", listen_notify, 0},
    {"pool", pool, 0},
    {"pool_fifo", pool_fifo, 0},
    {"pool_expiry", pool_expiry, 0},
    {"pool_reset_pipelined", pool_reset_pipelined, 0},
    {"pool_reset_own_transaction", pool_reset_own_transaction, 0},
    {"pool_reset_on_terminated", pool_reset_on_terminated, 0},
    {"fatal_in_place_of_sync", fatal_in_place_of_sync, 0},
    {"fatal_answer", fatal_answer, 0},
    {"pool_maintenance", pool_maintenance, 0},
    {"cancel_chaos", cancel_chaos, 300},
    {"server_restart", server_restart, 60},
    {"server_restart_under_load", server_restart_under_load, 60},
    {"demo_service", demo_service, 60},
};

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  start_cluster();
  return test_main(argc, argv, cases, sizeof cases / sizeof *cases);
}

#else
int main(void) {
  const char *req = getenv("CIO_REQUIRE_CLIENTS");
  puts("skipped: cio was built without libpq (apt-get install libpq-dev)");
  return req && strcmp(req, "1") == 0 ? 1 : 77;
}
#endif
