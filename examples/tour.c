// SPDX-License-Identifier: MIT
//
// The tour: every pattern of the asyncio quick-reference guide, run in C
// with cio, each with what it shows and the time it took.
//
//   tour            (make demo)     about 17 seconds
//   tour --quick                    every wait 10x shorter (CI)
#include <cio.h>
#include <cio/http.h>
#include <cio/procpool.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef CIO_HAVE_JANSSON
#include <cio/http_json.h>
#endif
#ifdef CIO_HAVE_PQ
#include <cio/pg.h>
#include <glob.h>
#include <pwd.h>
#endif

static double unit = 1.0; // seconds per "second" of the guide (0.1 with --quick)
static bool color;        // stdout is a terminal
static int passed, failed;

// Prints one pattern's line: a check mark (or a cross) and the text.
static void report(bool ok, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void report(bool ok, const char *name, const char *fmt, ...) {
  char text[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  const char *mark =
      ok ? (color ? "\033[32m✓\033[0m" : "ok") : (color ? "\033[31m✗\033[0m" : "FAIL");
  printf("%s %-22s %s\n", mark, name, text);
  fflush(stdout);
  ok ? passed++ : failed++;
}

// How many fetches run now, and the most at once since it was reset: the
// checks below ask whether work overlapped, which a loaded machine cannot
// blur, where elapsed time can.
static int fetching, most_fetching;

// "async def fetch(i): await asyncio.sleep(1); return i * 10"
static int fetch(void *arg) {
  if (++fetching > most_fetching) most_fetching = fetching;
  int rc = cio_sleep(1.0 * unit);
  fetching--;
  return rc < 0 ? rc : (int)(intptr_t)arg * 10;
}

// ---------------------------------------------------------------- patterns

static void quick_start(void) {
  double t0 = cio_now();
  int r = fetch((void *)4); // calling it from a task is the await
  report(r == 40, "quick start", "await fetch() -> %d after %.2f s", r, cio_now() - t0);
}

static void sequential_vs_concurrent(void) {
  double t0 = cio_now();
  most_fetching = 0;
  int a = fetch((void *)1), b = fetch((void *)2);
  double seq = cio_now() - t0;
  int seq_most = most_fetching;
  most_fetching = 0;
  t0 = cio_now();
  cio_task *t[2] = {cio_spawn(fetch, (void *)1), cio_spawn(fetch, (void *)2)};
  int out[2];
  int rc = cio_gather(t, 2, out, 0);
  double conc = cio_now() - t0;
  report(a == 10 && b == 20 && rc == 0 && out[1] == 20 && seq_most == 1 && most_fetching == 2,
         "sequential/concurrent", "sequential %.2f s · gathered %.2f s", seq, conc);
}

static int slow_service(void *arg) {
  (void)arg;
  return cio_sleep(10 * unit);
}

static void timeout(void) {
  double t0 = cio_now();
  int rc = cio_wait_for(cio_spawn(slow_service, NULL), 0.5 * unit);
  report(rc == -ETIMEDOUT, "timeout", "wait_for(slow, %.2f s) -> %s after %.2f s", 0.5 * unit,
         cio_strerror(rc), cio_now() - t0);
}

struct limited {
  cio_sem *sem;          // Semaphore(3)
  int *in_flight, *most; // fetches running now, most at once
};

static int limited_fetch(void *arg) {
  struct limited *l = arg;
  int rc = cio_sem_acquire(l->sem); // async with semaphore:
  if (rc < 0) return rc;
  if (++*l->in_flight > *l->most) *l->most = *l->in_flight;
  rc = cio_sleep(0.3 * unit);
  --*l->in_flight;
  cio_sem_release(l->sem);
  return rc;
}

static void rate_limiting(void) {
  int in_flight = 0, most = 0;
  struct limited l = {cio_sem_new(3), &in_flight, &most};
  cio_task *t[9];
  double t0 = cio_now();
  for (int i = 0; i < 9; i++) t[i] = cio_spawn(limited_fetch, &l);
  int rc = cio_gather(t, 9, NULL, 0);
  report(rc == 0 && most == 3, "rate limiting",
         "semaphore(3): 9 fetches in %.2f s, never more than %d at once", cio_now() - t0, most);
  cio_sem_free(l.sem);
}

struct ticking {
  int ticks;       // done so far
  double shortest; // the shortest time between two, in seconds
};

static int ticker(void *arg) {
  struct ticking *tk = arg;
  double last = cio_now();
  for (;;) { // while True: await asyncio.sleep(...); do_something()
    int rc = cio_sleep(0.2 * unit);
    if (rc < 0) return rc;
    double now = cio_now();
    if (now - last < tk->shortest) tk->shortest = now - last;
    last = now;
    ++tk->ticks;
  }
}

static void loop_with_delay(void) {
  struct ticking tk = {0, 1e9};
  cio_task *t = cio_spawn(ticker, &tk);
  int rc = cio_sleep(1.05 * unit);
  cio_cancel(t);
  int jrc = cio_join(t);
  // Five ticks on an idle machine; each sleep counts from its call, so on a
  // loaded one the wake-up latencies add up and fewer fit. None comes early.
  report(rc == 0 && tk.ticks >= 1 && tk.ticks <= 5 && tk.shortest >= 0.2 * unit &&
             jrc == -ECANCELED,
         "loop with delay", "every %.2f s: %d ticks in %.2f s, then cancelled", 0.2 * unit,
         tk.ticks, 1.05 * unit);
}

static int long_running(void *arg) {
  (void)arg;
  return cio_sleep(3600);
}

static void cancellation(void) {
  cio_task *t = cio_spawn(long_running, NULL);
  double t0 = cio_now();
  int rc = cio_sleep(0.5 * unit);
  cio_cancel(t); // task.cancel()
  int jrc = cio_join(t);
  report(rc == 0 && jrc == -ECANCELED, "cancellation", "cancelled after %.2f s: await gives %s",
         cio_now() - t0, cio_strerror(jrc));
}

// Returns its argument `ms` after ms milliseconds (of the guide's), counted
// from `started`: tasks spawned together finish in the order of their
// delays even when a loaded machine starts them some milliseconds apart.
static double started;
static int after(void *arg) {
  int ms = (int)(intptr_t)arg;
  double left = started + ms / 1000.0 * unit - cio_now();
  int rc = cio_sleep(left > 0 ? left : 0);
  return rc < 0 ? rc : ms;
}

static void wait_first(void) {
  started = cio_now();
  cio_task *t[3] = {cio_spawn(after, (void *)600), cio_spawn(after, (void *)200),
                    cio_spawn(after, (void *)400)};
  double t0 = cio_now();
  int done = cio_wait(t, 3, CIO_FIRST_COMPLETED, CIO_FOREVER); // the fastest comes first
  int first = cio_join(t[0]);
  double dt = cio_now() - t0;
  for (int i = 1; i < 3; i++) cio_cancel(t[i]); // cancel the rest
  int outcomes[2];
  int failed = cio_gather(t + 1, 2, outcomes, CIO_GATHER_COLLECT);
  // On a loaded machine the next may have finished too by the time this
  // task runs; the first to finish still comes first, and the rest are
  // cancelled.
  bool cancelled = done >= 1 && failed == 3 - done;
  for (int i = done; i < 3 && cancelled; i++) cancelled = outcomes[i - 1] == -ECANCELED;
  report(first == 200 && cancelled, "wait for first",
         "first result %d after %.2f s, the other %d cancelled", first, dt, failed);
}

static void as_completed(void) {
  int delays[3] = {600, 200, 400};
  cio_task *t[3];
  started = cio_now();
  for (int i = 0; i < 3; i++) t[i] = cio_spawn(after, (void *)(intptr_t)delays[i]);
  cio_as_completed *it;
  char order[64] = "";
  bool ok = cio_as_completed_begin(&it, t, 3, CIO_FOREVER) == 0;
  cio_task *done;
  while (ok && cio_as_completed_next(it, &done) == 1) { // for coro in as_completed(...)
    char piece[16];
    snprintf(piece, sizeof piece, "%s%d", order[0] ? ", " : "", cio_join(done));
    strcat(order, piece);
  }
  if (ok) cio_as_completed_end(it);
  report(strcmp(order, "200, 400, 600") == 0, "as_completed", "results as they arrive: %s", order);
}

struct work {
  cio_queue *q; // the queue
  int handled;  // items processed by consumers
};

static int consumer(void *arg) {
  struct work *w = arg;
  for (;;) {
    void *item;
    int rc = cio_queue_get(w->q, &item); // item = await queue.get()
    if (rc < 0) return rc == -ESHUTDOWN ? 0 : rc;
    if ((rc = cio_sleep(0.05 * unit)) < 0) return rc;
    w->handled++;
    cio_queue_task_done(w->q);
  }
}

static void queue_producer_consumer(void) {
  static int items[20];
  struct work w = {cio_queue_new(CIO_QUEUE_FIFO, 5), 0};
  cio_task *c[3];
  for (int i = 0; i < 3; i++) c[i] = cio_spawn(consumer, &w);
  double t0 = cio_now();
  int rc = 0;
  for (int i = 0; i < 20 && rc == 0; i++) rc = cio_queue_put(w.q, &items[i]); // backpressure at 5
  if (rc == 0) rc = cio_queue_join(w.q);
  cio_queue_shutdown(w.q, false);
  int crc = cio_gather(c, 3, NULL, 0);
  report(rc == 0 && crc == 0 && w.handled == 20, "queue",
         "20 items, 3 consumers, maxsize 5: all done in %.2f s", cio_now() - t0);
  cio_queue_free(w.q);
}

struct counter {
  cio_lock *lock; // protects value
  int value;      // shared
};

static int increment(void *arg) {
  struct counter *c = arg;
  for (int i = 0; i < 100; i++) {
    int rc = cio_lock_acquire(c->lock); // async with lock:
    if (rc < 0) return rc;
    int v = c->value;
    rc = cio_yield(); // another task runs here: without the lock, updates are lost
    c->value = v + 1;
    cio_lock_release(c->lock);
    if (rc < 0) return rc;
  }
  return 0;
}

static void lock(void) {
  struct counter c = {cio_lock_new(), 0};
  cio_task *t[4];
  for (int i = 0; i < 4; i++) t[i] = cio_spawn(increment, &c);
  int rc = cio_gather(t, 4, NULL, 0);
  report(rc == 0 && c.value == 400, "lock",
         "4 tasks x 100 read-yield-write increments under a lock: %d", c.value);
  cio_lock_free(c.lock);
}

static int waiter(void *arg) { return cio_event_wait((cio_event *)arg); }

static void event(void) {
  cio_event *e = cio_event_new();
  cio_task *t[3];
  for (int i = 0; i < 3; i++) t[i] = cio_spawn(waiter, e);
  double t0 = cio_now();
  int rc = cio_sleep(0.3 * unit);
  cio_event_set(e); // event.set()
  int wrc = cio_gather(t, 3, NULL, 0);
  report(rc == 0 && wrc == 0, "event", "3 waiters released together after %.2f s", cio_now() - t0);
  cio_event_free(e);
}

static void *blocking_call(void *arg) {
  usleep((useconds_t)(uintptr_t)arg); // a legacy, blocking library call
  return (void *)1;
}

static void *crunch(void *arg) {
  unsigned long n = (uintptr_t)arg, x = 0;
  for (unsigned long i = 0; i < n; i++) x += i * i % 7;
  return (void *)(uintptr_t)(x | 1);
}

static int offload(void *arg) {
  void *r;
  int rc =
      cio_to_thread(arg ? crunch : blocking_call,
                    arg ? (void *)(uintptr_t)20000000 : (void *)(uintptr_t)(300000 * unit), &r);
  return rc < 0 ? rc : (int)(uintptr_t)r;
}

static int heartbeat(void *arg) {
  int *beats = arg;
  for (;;) {
    int rc = cio_sleep(0.02 * unit);
    if (rc < 0) return rc;
    ++*beats;
  }
}

static void to_thread(void) {
  int beats = 0;
  cio_task *hb = cio_spawn(heartbeat, &beats);
  cio_task *t[6];
  double t0 = cio_now();
  for (int i = 0; i < 6; i++) t[i] = cio_spawn(offload, i < 4 ? NULL : (void *)1);
  int rc = cio_gather(t, 6, NULL, 0);
  double dt = cio_now() - t0;
  cio_cancel(hb);
  int hrc = cio_join(hb);
  report(rc == 0 && hrc == -ECANCELED && beats > 3, "to_thread",
         "4 blocking calls of %.2f s + 2 CPU-bound, in %.2f s; the loop ticked %d times meanwhile",
         0.3 * unit, dt, beats);
}

// The FastAPI demo service (the guide's code), served and queried
// in-process: fetch_user and fetch_posts sleep 0.5 s each, gathered, and
// the answer is built with Jansson (<cio/http_json.h>) when the build has it.
struct profile_fetch {
  int64_t user_id; // whose data
  bool posts;      // fetch_posts rather than fetch_user
  char json[96];   // the result, when built without Jansson
#ifdef CIO_HAVE_JANSSON
  json_t *result; // the result (owned)
#endif
};

static int profile_fetch(void *arg) {
  struct profile_fetch *f = arg;
  if (++fetching > most_fetching) most_fetching = fetching;
  int rc = cio_sleep(0.5 * unit);
  fetching--;
  if (rc < 0) return rc;
#ifdef CIO_HAVE_JANSSON
  f->result = f->posts ? json_pack("{s:I, s:[]}", "user_id", (json_int_t)f->user_id, "posts")
                       : json_pack("{s:I}", "id", (json_int_t)f->user_id);
  return f->result ? 0 : -ENOMEM;
#else
  snprintf(f->json, sizeof f->json, f->posts ? "{\"user_id\":%lld,\"posts\":[]}" : "{\"id\":%lld}",
           (long long)f->user_id);
  return 0;
#endif
}

static int profile_handler(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)arg;
  int64_t id = cio_http_param_int(req, "user_id");
  struct profile_fetch user = {.user_id = id}, posts = {.user_id = id, .posts = true};
  cio_task *t[2] = {cio_spawn(profile_fetch, &user), cio_spawn(profile_fetch, &posts)};
  int rc = cio_gather(t, 2, NULL, 0); // user, posts = await asyncio.gather(...)
#ifdef CIO_HAVE_JANSSON
  json_t *body =
      rc < 0 ? NULL : json_pack("{s:O, s:O}", "user", user.result, "posts", posts.result);
  json_decref(user.result);
  json_decref(posts.result);
  if (rc < 0) return rc;
  rc = body ? cio_http_json_value(res, 200, body) : -ENOMEM;
  json_decref(body);
  return rc;
#else
  if (rc < 0) return rc;
  char body[256];
  snprintf(body, sizeof body, "{\"user\":%s,\"posts\":%s}", user.json, posts.json);
  return cio_http_json(res, 200, body);
#endif
}

static void fastapi(void) {
  cio_http_app *app = cio_http_app_new();
  cio_http_route(app, "GET", "/user/{user_id:int}/profile", profile_handler, NULL);
  cio_server *srv;
  char port[8], reply[512] = "";
  bool ok = cio_http_serve(app, "127.0.0.1", "0", NULL, &srv) == 0;
  most_fetching = 0;
  double t0 = cio_now();
  if (ok) {
    snprintf(port, sizeof port, "%d", cio_server_port(srv));
    cio_stream *st;
    ok = cio_stream_connect(&st, "127.0.0.1", port) == 0;
    const char *req = "GET /user/7/profile HTTP/1.1\r\nHost: tour\r\nConnection: close\r\n\r\n";
    if (ok && (cio_stream_write(st, req, strlen(req)) < 0 || cio_stream_drain(st) < 0)) ok = false;
    size_t got = 0;
    ssize_t n;
    while (ok && (n = cio_stream_read(st, reply + got, sizeof reply - 1 - got)) > 0)
      got += (size_t)n;
    reply[got] = 0;
    if (ok) {
      int closed = cio_stream_close(st);
      (void)closed;
    }
    int stopped = cio_server_close(srv, 1);
    (void)stopped;
  }
  double dt = cio_now() - t0;
  const char *body = strstr(reply, "\r\n\r\n");
  // Two 0.5 s fetches gathered take 0.5 s, not 1 s: they ran at once.
  report(ok && strstr(reply, "200 OK") && body && most_fetching == 2, "FastAPI demo",
         "GET /user/7/profile -> %s in %.2f s (two 0.5 s fetches gathered)", body ? body + 4 : "?",
         dt);
  cio_http_app_free(app);
}

// Calling a service many times: examples/fetch_many.c (200 URLs through
// the HTTP client, at most 10 in flight, a timeout per attempt, retries
// with backoff, results in order, against a local server with slow and
// failing routes), run beside this program with --quick.
static const char *self; // argv[0]: fetch_many is beside it (not /proc/self/exe: under
                         // qemu-user that is the emulator)

static void fetch_many(void) {
  char exe[4096], *argv[] = {exe, unit < 1 ? "--quick" : NULL, NULL};
  const char *slash0 = strrchr(self, '/');
  size_t dir = slash0 ? (size_t)(slash0 - self) + 1 : 0;
  char *slash = dir + sizeof "fetch_many" <= sizeof exe ? exe + dir : NULL;
  if (slash) {
    memcpy(exe, self, dir);
    strcpy(slash, "fetch_many");
    slash = exe; // found a place
  }
  cio_process *p;
  cio_process_opts o = {.pipe_stdout = true};
  char out[2048] = "";
  int code = -1;
  if (slash && cio_process_spawn(&p, exe, argv, &o) == 0) {
    size_t got = 0;
    ssize_t r;
    while ((r = cio_stream_read(cio_process_stdout(p), out + got, sizeof out - 1 - got)) > 0)
      got += (size_t)r;
    out[got] = '\0';
    if (cio_process_wait(p, &code) < 0) code = -1;
    (void)cio_process_free(p);
  }
  if (code == 0 && strstr(out, "without libcurl")) { // shown, not counted
    printf("-  %-22s skipped: cio was built without libcurl\n", "fetching many URLs");
    return;
  }
  if (code != 0 && getenv("CIO_TEST_EMULATED")) { // qemu-user runs the tour, not what it starts
    printf("-  %-22s skipped: fetch_many cannot be started under an emulator\n",
           "fetching many URLs");
    return;
  }
  char *last = strstr(out, "200 URLs");
  if (last) last[strcspn(last, "\n")] = '\0';
  report(code == 0 && last, "fetching many URLs", "%s", last ? last : "fetch_many failed");
}

// "database queries" (asyncpg's pattern, <cio/pg.h>): against a throwaway
// cluster this program starts (initdb in a temporary directory, the server
// on a Unix socket there, as `nobody` when run as root: the server refuses
// root), a pool; two slow queries one after the other, then gathered on two
// connections; a transaction; a query cut off by a timeout, its connection
// clean after.  Skipped without the server binaries or libpq.
#ifdef CIO_HAVE_PQ
struct cluster {
  char dir[64];  // data/, the socket, the log
  char bin[256]; // the server binaries' directory
};

// Runs `cmd` with sh as the cluster's user, on a worker thread (system()
// blocks): returns its status.
static void *shell(void *cmd) {
  char line[1536];
  snprintf(line, sizeof line, "%s sh -c '%s' >/dev/null 2>&1",
           geteuid() == 0 ? "runuser -u nobody --" : "", (const char *)cmd);
  return (void *)(intptr_t)system(line);
}

static int as_owner(const char *cmd) {
  void *status;
  int rc = cio_to_thread(shell, (void *)cmd, &status);
  return rc < 0 ? rc : (int)(intptr_t)status;
}

// Makes and starts the cluster: 0, or -1 (c->dir is removed by cluster_stop
// whatever happened).
static int cluster_start(struct cluster *c) {
  snprintf(c->dir, sizeof c->dir, "/tmp/cio_tour_pg_XXXXXX");
  if (!mkdtemp(c->dir)) return c->dir[0] = '\0', -1;
  if (geteuid() == 0) {
    struct passwd *pw = getpwnam("nobody");
    if (!pw || chown(c->dir, pw->pw_uid, pw->pw_gid) != 0) return -1;
  }
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "%s/initdb -D %s/data -U postgres -A trust --no-sync", c->bin, c->dir);
  if (as_owner(cmd) != 0) return -1;
  snprintf(cmd, sizeof cmd,
           "%s/pg_ctl -D %s/data -l %s/log -w -o \"-k %s -c listen_addresses= -c fsync=off\" "
           "start",
           c->bin, c->dir, c->dir, c->dir);
  return as_owner(cmd) == 0 ? 0 : -1;
}

static void cluster_stop(struct cluster *c) {
  if (!c->dir[0]) return;
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "%s/pg_ctl -D %s/data -m immediate stop", c->bin, c->dir);
  (void)as_owner(cmd);
  snprintf(cmd, sizeof cmd, "rm -rf %s", c->dir);
  (void)!system(cmd);
}

static cio_pg_pool *db;
static double slow; // seconds each slow query sleeps on the server

// One slow query on its own pool connection: SELECT pg_sleep(slow).
static int slow_query(void *arg) {
  (void)arg;
  cio_pg *c;
  int rc = cio_pg_pool_acquire(db, 5, &c);
  if (rc < 0) return rc;
  cio_pg_param p = {CIO_PG_T_FLOAT8, .f = slow};
  if (++fetching > most_fetching) most_fetching = fetching;
  rc = cio_pg_exec(c, "SELECT pg_sleep($1)", &p, 1, NULL);
  fetching--;
  int rel = cio_pg_pool_release(db, c);
  return rc < 0 ? rc : rel;
}

// A transaction: two inserts committed together (or neither); returns the
// rows the table then holds, or < 0.
static int transaction(cio_pg *c) {
  int rc = cio_pg_exec(c, "CREATE TABLE IF NOT EXISTS notes (body text)", NULL, 0, NULL);
  if (rc == 0) rc = cio_pg_begin(c, CIO_PG_READ_COMMITTED);
  if (rc < 0) return rc;
  rc = cio_pg_exec(c, "INSERT INTO notes VALUES ('one')", NULL, 0, NULL);
  if (rc == 0) rc = cio_pg_exec(c, "INSERT INTO notes VALUES ('two')", NULL, 0, NULL);
  rc = cio_pg_tx_end(c, rc); // commits, or rolls back
  cio_pg_result *r = NULL;
  if (rc == 0) rc = cio_pg_query(c, "SELECT count(*) FROM notes", NULL, 0, &r);
  int64_t n = -1;
  if (rc == 0) rc = cio_pg_get_int(r, 0, 0, &n);
  cio_pg_result_free(r);
  return rc < 0 ? rc : (int)n;
}

// SELECT pg_sleep(10) under a timeout: the server is told to cancel it,
// and the connection answers the next query.  Sets *took; returns 1 if so.
static int cut_off(cio_pg *c, double *took) {
  double t0 = cio_now();
  cio_scope scope;
  (void)cio_timeout_begin(&scope, 0.1);
  int rc = cio_pg_exec(c, "SELECT pg_sleep(10)", NULL, 0, NULL);
  (void)cio_scope_end(&scope);
  *took = cio_now() - t0;
  cio_pg_result *r = NULL;
  int64_t one = 0;
  bool clean = rc == -ETIMEDOUT && cio_pg_query(c, "SELECT 1", NULL, 0, &r) == 0 &&
               cio_pg_get_int(r, 0, 0, &one) == 0 && one == 1;
  cio_pg_result_free(r);
  return clean;
}

static void database(void) {
  const char *name = "database queries";
  struct cluster cl = {"", ""};
  glob_t g;
  if (getenv("CIO_TEST_EMULATED")) { // qemu-user runs the tour, not the server
    printf("-  %-22s skipped: the server cannot be started under an emulator\n", name);
    return;
  }
  if (glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &g) != 0) {
    printf("-  %-22s skipped: needs the PostgreSQL server (apt-get install postgresql)\n", name);
    return;
  }
  snprintf(cl.bin, sizeof cl.bin, "%s", g.gl_pathv[g.gl_pathc - 1]);
  *strrchr(cl.bin, '/') = '\0';
  globfree(&g);
  double t0 = cio_now();
  if (cluster_start(&cl) < 0) {
    // Shown, not counted: where the server cannot run (a user namespace
    // without `nobody`, as the clock-offset suite's), test_pg says why.
    cluster_stop(&cl);
    printf("-  %-22s skipped: could not start a throwaway cluster (initdb, pg_ctl)\n", name);
    return;
  }
  double started = cio_now() - t0;
  char conninfo[128];
  snprintf(conninfo, sizeof conninfo, "host=%s dbname=postgres user=postgres", cl.dir);
  int rc = cio_pg_pool_open(&db, conninfo, &(cio_pg_pool_opts){.min_size = 2, .max_size = 2});
  if (rc < 0) {
    cluster_stop(&cl);
    report(false, name, "pool: %s (%s)", cio_strerror(rc), cio_pg_connect_error());
    return;
  }
  slow = unit < 1 ? 0.2 : 0.5;
  t0 = cio_now();
  int s1 = slow_query(NULL), s2 = slow_query(NULL);
  double seq = cio_now() - t0;
  most_fetching = 0;
  t0 = cio_now();
  cio_task *t[2] = {cio_spawn(slow_query, NULL), cio_spawn(slow_query, NULL)};
  int grc = cio_gather(t, 2, NULL, 0);
  double conc = cio_now() - t0;
  cio_pg *c;
  int rows = -1, clean = 0;
  double took = 0;
  if (cio_pg_pool_acquire(db, 5, &c) == 0) {
    rows = transaction(c);
    clean = cut_off(c, &took);
    (void)!cio_pg_pool_release(db, c);
  }
  (void)cio_pg_pool_close(db);
  db = NULL;
  cluster_stop(&cl);
  report(s1 == 0 && s2 == 0 && grc == 0 && most_fetching == 2 && conc < seq && rows == 2 && clean,
         name,
         "server up in %.1f s · 2 × pg_sleep(%.1f): sequential %.2f s, gathered %.2f s · "
         "transaction: %d rows · pg_sleep(10) cut off at %.2f s, connection %s",
         started, slow, seq, conc, rows, took, clean ? "clean" : "NOT clean");
}
#else
static void database(void) {
  printf("-  %-22s skipped: cio was built without libpq\n", "database queries");
}
#endif

// "multiprocessing for CPU-bound work": a process pool started in main()
// before any thread; each job counts the primes below a bound in a worker
// process while this loop goes on ticking.
static cio_procpool *pool;

// Runs in a worker: the number of primes below the int64_t it is given.
static int count_primes(const void *in, size_t len, void **out, size_t *out_len) {
  int64_t below, n = 0;
  if (len != sizeof below) return -EINVAL;
  memcpy(&below, in, sizeof below);
  for (int64_t k = 2; k < below; k++) {
    bool prime = true;
    for (int64_t d = 2; d * d <= k && prime; d++) prime = k % d != 0;
    n += prime;
  }
  int64_t *r = malloc(sizeof *r);
  if (!r) return -ENOMEM;
  *r = n;
  *out = r;
  *out_len = sizeof *r;
  return 0;
}

struct prime_job {
  int64_t below, count; // the bound, and what the worker found
  int rc;               // cio_procpool_run's
};

static int prime_job(void *arg) {
  struct prime_job *j = arg;
  void *out = NULL;
  size_t n;
  j->rc = cio_procpool_run(pool, "count_primes", &j->below, sizeof j->below, &out, &n);
  if (j->rc == 0 && n == sizeof j->count) memcpy(&j->count, out, n);
  free(out);
  return j->rc;
}

struct ticks {
  bool stop;    // the jobs are done
  double worst; // the longest gap between two ticks
};

static int tick(void *arg) {
  struct ticks *t = arg;
  double last = cio_now();
  while (!t->stop && cio_sleep(0.01) == 0) {
    double now = cio_now();
    if (now - last > t->worst) t->worst = now - last;
    last = now;
  }
  return 0;
}

static void cpu_bound(void) {
  if (!pool) {
    report(false, "CPU on every core", "the process pool did not start");
    return;
  }
  int workers = cio_procpool_workers(pool);
  enum { MAX_JOBS = 64 };
  int njobs = 2 * workers < MAX_JOBS ? 2 * workers : MAX_JOBS;
  struct prime_job jobs[MAX_JOBS];
  cio_task *t[MAX_JOBS];
  int64_t below = unit < 1 ? 100000 : 1000000, want = unit < 1 ? 9592 : 78498;
  struct ticks tk = {0};
  cio_task *ticker = cio_spawn(tick, &tk);
  double t0 = cio_now();
  for (int i = 0; i < njobs; i++) {
    jobs[i] = (struct prime_job){.below = below};
    t[i] = cio_spawn(prime_job, &jobs[i]);
  }
  int rc = cio_gather(t, (size_t)njobs, NULL, 0);
  double took = cio_now() - t0;
  tk.stop = true;
  if (cio_join(ticker) < 0) tk.worst = 1; // (it cannot fail: it returns 0)
  bool right = rc == 0;
  for (int i = 0; i < njobs; i++) right &= jobs[i].count == want;
  report(right && tk.worst < 0.25, "CPU on every core",
         "%d prime counts on %d worker processes in %.2f s; the loop ticked on (worst gap %.0f "
         "ms)",
         njobs, workers, took, tk.worst * 1000);
}

static void mistakes(void) {
  // 1: an unchecked await is a compiler warning (warn_unused_result);
  // 2: a task nobody awaits, and 3: a blocking call in a task, are reported
  // by debug mode (examples/debugging.c, docs/debugging.md);
  // 4 and 5: awaiting outside a task says so by name — shown after the tour.
  report(true, "common mistakes",
         "caught by the compiler, debug mode, or a message: docs/debugging.md");
}

static int tour(void *arg) {
  (void)arg;
  double t0 = cio_now();
  quick_start();
  sequential_vs_concurrent();
  timeout();
  rate_limiting();
  loop_with_delay();
  cancellation();
  wait_first();
  as_completed();
  queue_producer_consumer();
  lock();
  event();
  to_thread();
  fastapi();
  fetch_many();
  database();
  cpu_bound();
  mistakes();
  printf("\n%d of %d patterns ran as the guide says, in %.1f s%s\n", passed, passed + failed,
         cio_now() - t0, unit < 1 ? " (--quick: every wait 10x shorter)" : "");
  return failed ? -EIO : 0;
}

static void outside_a_task(void) {
  // Mistake 5 for real: no loop runs here, and cio says so (on stderr).
  printf("mistake 5, forgetting cio_run(): calling cio_sleep() here prints:\n");
  fflush(stdout);
  int rc = cio_sleep(1);
  printf("and returns %d (%s)\n", rc, cio_strerror(rc));
}

int main(int argc, char **argv) {
  self = argv[0];
  if (argc > 1 && strcmp(argv[1], "--quick") == 0) unit = 0.1;
  color = isatty(STDOUT_FILENO);
  printf("cio tour: the asyncio guide's patterns in C%s\n\n", unit < 1 ? " (quick)" : "");
  // The process pool forks its workers now, while this is the only thread;
  // they run niced, so the loop's process keeps the CPU first.
  static const cio_procpool_fn_entry fns[] = {{"count_primes", count_primes}, {0}};
  if (cio_procpool_new(&pool, &(cio_procpool_opts){.functions = fns, .nice = 10}) < 0) pool = NULL;
  int rc = cio_run(tour, NULL);
  if (pool) cio_procpool_free(pool);
  fflush(stdout);
  outside_a_task();
  return rc < 0;
}
