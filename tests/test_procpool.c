// SPDX-License-Identifier: MIT
//
// The process pool (<cio/procpool.h>): results come back right and in the
// caller that asked, a function's error travels as its result, a worker
// that crashes or is killed mid-job fails that job and is replaced, a
// cancelled or timed-out job kills its worker (no late result, no CPU
// spent), the loop stays responsive while every worker computes, misuse is
// refused, and nothing is left behind (the runner checks descriptors).
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cio.h"
#include "cio/procpool.h"
#include "helpers/test.h"

// ---------------------------------------------------------------- the functions

static int square(const void *in, size_t len, void **out, size_t *out_len) {
  if (len != sizeof(int64_t)) return -EINVAL;
  int64_t v;
  memcpy(&v, in, sizeof v);
  int64_t *r = malloc(sizeof *r);
  if (!r) return -ENOMEM;
  *r = v * v;
  *out = r;
  *out_len = sizeof *r;
  return 0;
}

static int refuses(const void *in, size_t len, void **out, size_t *out_len) {
  (void)in, (void)len, (void)out, (void)out_len;
  return -EDOM;
}

static int crashes(const void *in, size_t len, void **out, size_t *out_len) {
  (void)in, (void)len, (void)out, (void)out_len;
  raise(SIGKILL); // (a SIGSEGV would do, but sanitizers report it in the worker)
  return 0;
}

// Spins for the milliseconds it is given (CPU, not sleep).
static int spin(const void *in, size_t len, void **out, size_t *out_len) {
  (void)out, (void)out_len;
  int ms = 0;
  if (len == sizeof ms) memcpy(&ms, in, sizeof ms);
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  volatile uint64_t x = 0;
  do {
    for (int i = 0; i < 1000; i++) x += (uint64_t)i;
    clock_gettime(CLOCK_MONOTONIC, &t);
  } while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
  return 0;
}

static int my_pid(const void *in, size_t len, void **out, size_t *out_len) {
  (void)in, (void)len;
  pid_t *p = malloc(sizeof *p);
  if (!p) return -ENOMEM;
  *p = getpid();
  *out = p;
  *out_len = sizeof *p;
  return 0;
}

static int parent_pid(const void *in, size_t len, void **out, size_t *out_len) {
  (void)in, (void)len;
  pid_t *p = malloc(sizeof *p);
  if (!p) return -ENOMEM;
  *p = getppid(); // the zygote
  *out = p;
  *out_len = sizeof *p;
  return 0;
}

static int echo(const void *in, size_t len, void **out, size_t *out_len) {
  *out = len ? malloc(len) : NULL;
  if (len && !*out) return -ENOMEM;
  if (len) memcpy(*out, in, len);
  *out_len = len;
  return 0;
}

static int priority(const void *in, size_t len, void **out, size_t *out_len) {
  (void)in, (void)len;
  int *p = malloc(sizeof *p);
  if (!p) return -ENOMEM;
  *p = getpriority(PRIO_PROCESS, 0);
  *out = p;
  *out_len = sizeof *p;
  return 0;
}

static const cio_procpool_fn_entry fns[] = {
    {"priority", priority}, {"square", square},     {"refuses", refuses},
    {"crashes", crashes},   {"spin", spin},         {"pid", my_pid},
    {"echo", echo},         {"parent", parent_pid}, {0},
};

static cio_procpool *pool;

static cio_procpool *new_pool(int workers) {
  cio_procpool *p;
  ASSERT_EQ(cio_procpool_new(&p, &(cio_procpool_opts){.workers = workers,
                                                      .functions = fns,
                                                      .max_message = 1 << 20,
                                                      .nice = 3}),
            0);
  ASSERT_EQ(cio_procpool_workers(p), workers);
  return p;
}

static int run_int(const char *fn, int64_t v, int64_t *result) {
  void *out;
  size_t n;
  int rc = cio_procpool_run(pool, fn, &v, sizeof v, &out, &n);
  if (rc == 0) {
    ASSERT_EQ(n, sizeof *result);
    memcpy(result, out, sizeof *result);
  }
  free(out);
  return rc;
}

static int run_spin(int ms) {
  void *out;
  size_t n;
  int rc = cio_procpool_run(pool, "spin", &ms, sizeof ms, &out, &n);
  free(out);
  return rc;
}

// ---------------------------------------------------------------- results

struct squarer {
  int64_t from; // the first number it squares
  int count;    //   how many
  int bad;      // results that were wrong
};

static int squarer(void *arg) {
  struct squarer *s = arg;
  for (int i = 0; i < s->count; i++) {
    int64_t v = s->from + i, r = 0;
    int rc = run_int("square", v, &r);
    if (rc < 0) return rc;
    if (r != v * v) s->bad++;
  }
  return 0;
}

static int results_main(void *arg) {
  (void)arg;
  enum { TASKS = 8, EACH = 250 };
  struct squarer s[TASKS];
  cio_task *t[TASKS];
  for (int i = 0; i < TASKS; i++) {
    s[i] = (struct squarer){.from = i * 100000, .count = EACH};
    t[i] = cio_spawn(squarer, &s[i]);
  }
  ASSERT_EQ(cio_gather(t, TASKS, NULL, 0), 0);
  for (int i = 0; i < TASKS; i++) ASSERT_EQ(s[i].bad, 0);
  // A function's error is its result; the worker stays.
  int64_t r;
  ASSERT_EQ(run_int("refuses", 1, &r), -EDOM);
  ASSERT_EQ(run_int("nonesuch", 1, &r), -ENOENT);
  ASSERT_EQ(cio_procpool_replaced(pool), 0);
  // Bytes in, the same bytes out, up to the limit; beyond it, refused.
  size_t big = 1 << 20;
  char *in = malloc(big);
  ASSERT(in);
  for (size_t i = 0; i < big; i++) in[i] = (char)(i * 7);
  void *out;
  size_t n;
  ASSERT_EQ(cio_procpool_run(pool, "echo", in, big, &out, &n), 0);
  ASSERT_EQ(n, big);
  ASSERT(memcmp(out, in, big) == 0);
  free(out);
  ASSERT_EQ(cio_procpool_run(pool, "echo", in, big + 1, &out, &n), -EMSGSIZE);
  ASSERT(out == NULL);
  ASSERT_EQ(cio_procpool_run(pool, "echo", NULL, 0, &out, &n), 0);
  ASSERT(out == NULL && n == 0);
  free(in);
  // The workers run niced by opts.nice.
  ASSERT_EQ(cio_procpool_run(pool, "priority", NULL, 0, &out, &n), 0);
  int prio;
  memcpy(&prio, out, sizeof prio);
  free(out);
  ASSERT_EQ(prio, getpriority(PRIO_PROCESS, 0) + 3);
  return 0;
}

static void results_come_back(void) {
  pool = new_pool(2);
  ASSERT_EQ(cio_run(results_main, NULL), 0);
  // The pool outlives a loop: a second cio_run uses it as the first did
  // (it holds nothing of a loop's), and it is freed after both.
  ASSERT_EQ(cio_run(results_main, NULL), 0);
  ASSERT_EQ(cio_procpool_free(pool), 0);
}

// ---------------------------------------------------------------- workers that die

static int spin_then_report(void *arg) { return run_spin(*(int *)arg); }

static int dying_main(void *arg) {
  (void)arg;
  int64_t r;
  ASSERT_EQ(run_int("crashes", 0, &r), CIO_PROC_WORKER_DIED);
  ASSERT_EQ(run_int("square", 12, &r), 0); // a new worker
  ASSERT_EQ(r, 144);
  ASSERT_EQ(cio_procpool_replaced(pool), 1);
  // Killed from outside in the middle of a job.
  void *out;
  size_t n;
  ASSERT_EQ(cio_procpool_run(pool, "pid", NULL, 0, &out, &n), 0);
  pid_t pid;
  memcpy(&pid, out, sizeof pid);
  free(out);
  int ms = 5000;
  cio_task *t = cio_spawn(spin_then_report, &ms);
  ASSERT_EQ(cio_sleep(0.2), 0);
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  double t0 = cio_now();
  ASSERT_EQ(cio_join(t), CIO_PROC_WORKER_DIED);
  ASSERT(cio_now() - t0 < 2.0);
  ASSERT_EQ(run_int("square", 3, &r), 0);
  ASSERT_EQ(r, 9);
  ASSERT_EQ(cio_procpool_replaced(pool), 2);
  // Killed while idle: the next job never reached it, so a new worker takes
  // it (it failed with CIO_PROC_WORKER_DIED, though nothing of it ran).
  ASSERT_EQ(cio_procpool_run(pool, "pid", NULL, 0, &out, &n), 0);
  memcpy(&pid, out, sizeof pid);
  free(out);
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  for (int i = 0; i < 200 && kill(pid, 0) == 0; i++) ASSERT_EQ(cio_sleep(0.01), 0); // reaped
  ASSERT_EQ(run_int("square", 5, &r), 0);
  ASSERT_EQ(r, 25);
  ASSERT_EQ(cio_procpool_replaced(pool), 3);
  ASSERT(strcmp(cio_strerror(CIO_PROC_WORKER_DIED), "the worker process died during the job") == 0);
  return 0;
}

static void dead_workers_are_replaced(void) {
  pool = new_pool(1);
  ASSERT_EQ(cio_run(dying_main, NULL), 0);
  ASSERT_EQ(cio_procpool_free(pool), 0);
}

// The zygote and the workers ignore what a signal to the process group
// brings (systemd's SIGTERM at stop, a hangup): the parent decides, and
// they die with it.  A zygote killed all the same (SIGKILL) cannot be
// replaced from a threaded parent: every job then fails with
// CIO_PROC_POOL_BROKEN, at once (it was -EPIPE, from each attempt).
static pid_t pid_from(const char *fn) {
  void *out;
  size_t n;
  ASSERT_EQ(cio_procpool_run(pool, fn, NULL, 0, &out, &n), 0);
  pid_t pid;
  ASSERT_EQ(n, sizeof pid);
  memcpy(&pid, out, sizeof pid);
  free(out);
  return pid;
}

static int zygote_main(void *arg) {
  (void)arg;
  pid_t zygote = pid_from("parent"), worker = pid_from("pid");
  ASSERT_EQ(zygote == getpid(), 0);
  for (int sig = 0; sig < 2; sig++) {
    ASSERT_EQ(kill(zygote, sig ? SIGHUP : SIGTERM), 0);
    ASSERT_EQ(kill(worker, sig ? SIGHUP : SIGTERM), 0);
  }
  ASSERT_EQ(cio_sleep(0.2), 0);
  int64_t r;
  ASSERT_EQ(run_int("square", 7, &r), 0);
  ASSERT_EQ(r, 49);
  ASSERT_EQ(pid_from("pid"), worker); // the same worker
  ASSERT_EQ(cio_procpool_replaced(pool), 0);
  ASSERT_EQ(kill(zygote, SIGKILL), 0);
  int rc = 0;
  for (int i = 0; i < 300 && rc != CIO_PROC_POOL_BROKEN; i++) { // until the workers are gone
    rc = run_int("square", 2, &r);
    ASSERT(rc == 0 || rc == CIO_PROC_WORKER_DIED || rc == CIO_PROC_POOL_BROKEN);
    if (rc != CIO_PROC_POOL_BROKEN) ASSERT_EQ(cio_sleep(0.01), 0);
  }
  ASSERT_EQ(rc, CIO_PROC_POOL_BROKEN);
  double t0 = cio_now();
  for (int i = 0; i < 10; i++) ASSERT_EQ(run_int("square", 2, &r), CIO_PROC_POOL_BROKEN);
  ASSERT(cio_now() - t0 < 1.0);
  ASSERT(strstr(cio_strerror(CIO_PROC_POOL_BROKEN), "zygote"));
  return 0;
}

static void a_lost_zygote_breaks_the_pool_clearly(void) {
  pool = new_pool(2);
  ASSERT_EQ(cio_run(zygote_main, NULL), 0);
  ASSERT_EQ(cio_procpool_free(pool), 0);
}

// ---------------------------------------------------------------- cancellation

static int cancel_main(void *arg) {
  (void)arg;
  void *out;
  size_t n;
  ASSERT_EQ(cio_procpool_run(pool, "pid", NULL, 0, &out, &n), 0);
  pid_t pid;
  memcpy(&pid, out, sizeof pid);
  free(out);
  // A timeout: the job is abandoned at once and its worker killed.
  cio_scope scope;
  ASSERT_EQ(cio_timeout_begin(&scope, 0.2), 0);
  double t0 = cio_now();
  int rc = run_spin(10000);
  ASSERT_EQ(cio_scope_end(&scope), -ETIMEDOUT);
  ASSERT_EQ(rc, -ETIMEDOUT);
  ASSERT(cio_now() - t0 < 2.0);
  // The worker is gone (the zygote reaps it): no CPU spent on the rest.
  bool gone = false;
  for (int i = 0; i < 200 && !gone; i++) {
    gone = kill(pid, 0) < 0 && errno == ESRCH;
    if (!gone) ASSERT_EQ(cio_sleep(0.01), 0);
  }
  ASSERT(gone);
  // A cancel likewise; the next job gets a new worker.
  int ms = 10000;
  cio_task *t = cio_spawn(spin_then_report, &ms);
  ASSERT_EQ(cio_sleep(0.1), 0);
  ASSERT_EQ(cio_cancel(t), 1); // requested
  ASSERT_EQ(cio_join(t), -ECANCELED);
  int64_t r;
  ASSERT_EQ(run_int("square", 5, &r), 0);
  ASSERT_EQ(r, 25);
  ASSERT_EQ(cio_procpool_replaced(pool), 2);
  // Waiting for a worker is cancellable too: with the only worker busy, a
  // second caller times out waiting and nothing is sent for it.
  ms = 500;
  t = cio_spawn(spin_then_report, &ms);
  ASSERT_EQ(cio_sleep(0.05), 0);
  ASSERT_EQ(cio_timeout_begin(&scope, 0.1), 0);
  rc = run_int("square", 2, &r);
  ASSERT_EQ(cio_scope_end(&scope), -ETIMEDOUT);
  ASSERT_EQ(rc, -ETIMEDOUT);
  ASSERT_EQ(cio_join(t), 0);
  ASSERT_EQ(cio_procpool_replaced(pool), 2); // waiting killed nothing
  return 0;
}

static void cancelled_jobs_kill_their_worker(void) {
  pool = new_pool(1);
  ASSERT_EQ(cio_run(cancel_main, NULL), 0);
  ASSERT_EQ(cio_procpool_free(pool), 0);
}

// ---------------------------------------------------------------- the loop goes on

struct ticker {
  bool stop;        // set when the jobs are done
  double worst_gap; // the longest time between two ticks
  int ticks;        //   how many
};

static int ticker(void *arg) {
  struct ticker *tk = arg;
  double last = cio_now();
  while (!tk->stop) {
    if (cio_sleep(0.01) < 0) break;
    double now = cio_now();
    if (now - last > tk->worst_gap) tk->worst_gap = now - last;
    last = now;
    tk->ticks++;
  }
  return 0;
}

static int responsive_main(void *arg) {
  (void)arg;
  struct ticker tk = {0};
  cio_task *tick = cio_spawn(ticker, &tk);
  int ms = 600;
  cio_task *jobs[4];
  for (int i = 0; i < 4; i++) jobs[i] = cio_spawn(spin_then_report, &ms);
  double t0 = cio_now();
  ASSERT_EQ(cio_gather(jobs, 4, NULL, 0), 0);
  double took = cio_now() - t0;
  tk.stop = true;
  ASSERT_EQ(cio_join(tick), 0);
  // Four 0.6 s jobs on two workers: two rounds, about 1.2 s.  (Under
  // valgrind, CIO_TEST_TIMEOUT_MULT scales what slowness allows.)
  const char *m = getenv("CIO_TEST_TIMEOUT_MULT");
  double mult = m && atof(m) > 1 ? atof(m) : 1;
  ASSERT_BETWEEN(took, 1.1, 6.0 * mult);
  ASSERT(tk.ticks > (mult > 1 ? 2 : 20));
  ASSERT(tk.worst_gap < 0.3 * mult); // the loop was never held
  return 0;
}

static void the_loop_stays_responsive(void) {
  pool = new_pool(2);
  ASSERT_EQ(cio_run(responsive_main, NULL), 0);
  ASSERT_EQ(cio_procpool_free(pool), 0);
}

// ---------------------------------------------------------------- two loops at once

// Two loops call at the same instant, round after round (a barrier of
// spins between rounds): in each round one loop's job runs and the other's
// call is refused with -EXDEV, or they run one after the other; no caller
// gets another's answer, and no other code comes back.  (The look at who
// holds the pool and the take were two steps: two loops both took it, and
// shared one worker.)
#define RACE_ROUNDS 500
static atomic_int race_arrived[RACE_ROUNDS];
static atomic_int race_ran, race_refused;
static int race_rounds; // RACE_ROUNDS scaled (sanitizers, valgrind)

static int race_main(void *arg, int index) {
  (void)arg;
  for (int round = 0; round < race_rounds; round++) {
    atomic_fetch_add(&race_arrived[round], 1);
    for (long spins = 0; atomic_load(&race_arrived[round]) < 2; spins++) {
      if (spins > 1000) sched_yield(); // the other loop may wait for this core
      if (spins > 100000000) test_fail(__FILE__, __LINE__, "the other loop never came");
    }
    int64_t v = (int64_t)round * 2 + index + 1, sq = 0;
    void *out = NULL;
    size_t n = 0;
    int rc = cio_procpool_run(pool, "square", &v, sizeof v, &out, &n);
    if (rc == -EXDEV) {
      atomic_fetch_add(&race_refused, 1);
      continue;
    }
    if (rc != 0) test_fail(__FILE__, __LINE__, "round %d: %s", round, cio_strerror(rc));
    ASSERT_EQ(n, sizeof sq);
    memcpy(&sq, out, sizeof sq);
    free(out);
    ASSERT_EQ(sq, v * v); // its own answer
    atomic_fetch_add(&race_ran, 1);
  }
  return 0;
}

static void two_loops_at_once_never_share_a_job(void) {
  race_rounds = (int)(RACE_ROUNDS * test_scale());
  if (race_rounds < 5) race_rounds = 5;
  pool = new_pool(1);
  ASSERT_EQ(cio_run_loops(2, race_main, NULL, NULL), 0);
  printf("  %d jobs ran, %d calls refused with -EXDEV\n", atomic_load(&race_ran),
         atomic_load(&race_refused));
  ASSERT_EQ(atomic_load(&race_ran) + atomic_load(&race_refused), 2 * race_rounds);
  ASSERT(atomic_load(&race_ran) >= race_rounds); // at least one per round
  ASSERT_EQ(cio_procpool_free(pool), 0);
}

// ---------------------------------------------------------------- misuse

static void misuse_is_refused(void) {
  cio_procpool *p;
  ASSERT_EQ(cio_procpool_new(NULL, &(cio_procpool_opts){.functions = fns}), -EINVAL);
  ASSERT_EQ(cio_procpool_new(&p, NULL), -EINVAL);
  ASSERT_EQ(cio_procpool_new(&p, &(cio_procpool_opts){.workers = 1}), -EINVAL);
  static const cio_procpool_fn_entry no_fn[] = {{"x", NULL}, {0}};
  ASSERT_EQ(cio_procpool_new(&p, &(cio_procpool_opts){.functions = no_fn}), -EINVAL);
  ASSERT_EQ(cio_procpool_new(&p, &(cio_procpool_opts){.workers = -1, .functions = fns}), -EINVAL);
  ASSERT_EQ(cio_procpool_free(NULL), -EINVAL);
  pool = new_pool(1);
  void *out;
  size_t n;
  ASSERT_EQ(cio_procpool_run(pool, "square", NULL, 0, &out, &n), -EPERM); // outside a task
  ASSERT_EQ(cio_procpool_free(pool), 0);
  // By default, one worker per CPU this process may use.
  ASSERT_EQ(cio_procpool_new(&p, &(cio_procpool_opts){.functions = fns}), 0);
  ASSERT(cio_procpool_workers(p) >= 1);
  ASSERT_EQ(cio_procpool_free(p), 0);
}

static const test_case cases[] = {
    {"results_come_back", results_come_back, 60},
    {"dead_workers_are_replaced", dead_workers_are_replaced, 60},
    {"a_lost_zygote_breaks_the_pool_clearly", a_lost_zygote_breaks_the_pool_clearly, 60},
    {"cancelled_jobs_kill_their_worker", cancelled_jobs_kill_their_worker, 60},
    {"the_loop_stays_responsive", the_loop_stays_responsive, 60},
    {"two_loops_at_once_never_share_a_job", two_loops_at_once_never_share_a_job, 120},
    {"misuse_is_refused", misuse_is_refused, 0},
};

TEST_MAIN(cases)
