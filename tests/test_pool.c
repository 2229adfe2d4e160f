// SPDX-License-Identifier: MIT
//
// The worker pool (cio_to_thread), file helpers and signals.
#include <cio.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "context/valgrind_compat.h"
#include "helpers/test.h"

static void *nap(void *arg) {
  usleep((useconds_t)(uintptr_t)arg);
  return (void *)(uintptr_t)7;
}

static int one_call(void *arg) {
  void *r = NULL;
  int rc = cio_to_thread(nap, (void *)(uintptr_t)50000, &r);
  if (rc < 0) return rc;
  *(int *)arg += (int)(uintptr_t)r;
  return 0;
}
static int pool_main(void *arg) {
  (void)arg;
  enum { N = 100 };
  cio_task *t[N];
  int sum = 0;
  double t0 = cio_now();
  for (int i = 0; i < N; i++) t[i] = cio_spawn(one_call, &sum);
  ASSERT_EQ(cio_gather(t, N, NULL, 0), 0);
  double dt = cio_now() - t0;
  ASSERT_EQ(sum, 7 * N);
  // 100 x 50 ms = 5 s one after another; the pool runs them side by side
  // (at least 6 threads here), and the loop stayed free meanwhile.
  ASSERT_BETWEEN(dt, 0.05 * N / 32, 2.5);
  printf("  100 blocking 50 ms calls in %.2f s\n", dt);
  return 0;
}
static void to_thread_runs_blocking_calls_concurrently(void) {
  ASSERT_EQ(cio_run(pool_main, NULL), 0);
}

static atomic_int finished;
static void *slow_then_flag(void *arg) {
  (void)arg;
  usleep(600 * 1000); // long beside the bound below: a loaded TSan run is slow
  atomic_store(&finished, 1);
  return NULL;
}
static int giver_up(void *arg) {
  (void)arg;
  return cio_to_thread_owned(slow_then_flag, NULL, NULL, NULL);
}
static int cancel_main(void *arg) {
  (void)arg;
  cio_task *t = cio_spawn(giver_up, NULL);
  ASSERT_EQ(cio_sleep(0.02), 0);
  double t0 = cio_now();
  cio_cancel(t);
  ASSERT_EQ(cio_join(t), -ECANCELED); // at once...
  ASSERT(cio_now() - t0 < 0.3);
  ASSERT_EQ(atomic_load(&finished), 0); // ...while the call goes on
  return 0;
}
static void cancelled_owned_call_returns_at_once(void) {
  ASSERT_EQ(cio_run(cancel_main, NULL), 0);
  ASSERT_EQ(atomic_load(&finished), 1); // cio_run waited for it
}

// The call finishes (its completion is posted) while the loop is held, and
// the awaiting task is cancelled before the completion runs: the task is
// woken by the cancellation, not by the completion.  The job is freed all
// the same (ASan's and valgrind's leak checks run this suite).
static void *quick_call(void *arg) { return arg; }
static int quick_giver_up(void *arg) {
  (void)arg;
  void *r = NULL;
  return cio_to_thread_owned(quick_call, (void *)1, NULL, &r);
}
static int cancel_after_done_main(void *arg) {
  (void)arg;
  cio_task *t = cio_spawn(quick_giver_up, NULL);
  ASSERT_EQ(cio_yield(), 0); // it submits and parks
  usleep(100 * 1000);        // the loop held: the call ends and its completion waits
  cio_cancel(t);             // woken by this first
  ASSERT_EQ(cio_join(t), -ECANCELED);
  return 0;
}
static void cancelled_after_the_call_ended_frees_the_job(void) {
  ASSERT_EQ(cio_run(cancel_after_done_main, NULL), 0);
}

static atomic_long count;
static void *bump(void *arg) {
  (void)arg;
  atomic_fetch_add(&count, 1);
  return NULL;
}
static int counter(void *arg) {
  long n = *(long *)arg;
  for (long i = 0; i < n; i++)
    if (cio_to_thread(bump, NULL, NULL) < 0) return -1;
  return 0;
}
static int jobs_main(void *arg) {
  long per = *(long *)arg / 8;
  cio_task *t[8];
  for (int i = 0; i < 8; i++) t[i] = cio_spawn(counter, &per);
  ASSERT_EQ(cio_gather(t, 8, NULL, 0), 0);
  ASSERT_EQ(atomic_load(&count), per * 8); // exactly once each
  return 0;
}
static void every_job_completes_exactly_once(void) {
  long n = (long)(100000 * test_scale());
  ASSERT_EQ(cio_run(jobs_main, &n), 0);
}

static int file_main(void *arg) {
  (void)arg;
  char path[] = "/tmp/cio-test-XXXXXX";
  int fd = mkstemp(path);
  ASSERT(fd >= 0);
  const char text[] = "hello, files\n";
  ASSERT_EQ(cio_file_write_all(path, text, sizeof text - 1), 0);
  char *data;
  size_t len;
  ASSERT_EQ(cio_file_read_all(path, 0, &data, &len), 0);
  ASSERT_EQ(len, sizeof text - 1);
  ASSERT(memcmp(data, text, len) == 0 && data[len] == 0);
  free(data);
  ASSERT_EQ(cio_file_read_all(path, 4, &data, &len), -EFBIG);
  ASSERT_EQ(cio_file_pwrite(fd, "XY", 2, 7), 2);
  char buf[16] = {0};
  ASSERT_EQ(cio_file_pread(fd, buf, 5, 7), 5);
  ASSERT(memcmp(buf, "XYles", 5) == 0);
  ASSERT_EQ(cio_file_pread(fd, buf, 5, 1000), 0); // end of file
  close(fd);
  unlink(path);
  ASSERT_EQ(cio_file_read_all(path, 0, &data, &len), -ENOENT);
  ASSERT_EQ(cio_file_read_all(NULL, 0, &data, &len), -EINVAL);
  ASSERT_EQ(cio_file_pread(-1, buf, 1, 0), -EINVAL);
  return 0;
}
static void file_helpers(void) { ASSERT_EQ(cio_run(file_main, NULL), 0); }

static void *raise_later(void *arg) {
  usleep(50 * 1000);
  kill(getpid(), (int)(intptr_t)arg);
  return NULL;
}
static int sigint_main(void *arg) {
  (void)arg;
  pthread_t th;
  pthread_create(&th, NULL, raise_later, (void *)(intptr_t)SIGINT);
  pthread_detach(th);
  int rc = cio_sleep(30); // Ctrl-C arrives here
  printf("main saw %d\n", rc);
  return rc;
}
static void run_sigint(void) { printf("cio_run returned %d\n", cio_run(sigint_main, NULL)); }
static void sigint_cancels_main_and_run_returns(void) {
  char out[2048];
  int status = test_run_child(run_sigint, out, sizeof out);
  ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_STR_CONTAINS(out, "SIGINT: cancelling the main task");
  char expect[64];
  snprintf(expect, sizeof expect, "cio_run returned %d", -ECANCELED);
  ASSERT_STR_CONTAINS(out, expect);
}

static int sigwait_main(void *arg) {
  (void)arg;
  pthread_t th;
  pthread_create(&th, NULL, raise_later, (void *)(intptr_t)SIGUSR1);
  cio_loop_hold(cio_loop_current(), 1);
  ASSERT_EQ(cio_signal_wait(SIGUSR1), SIGUSR1);
  cio_loop_hold(cio_loop_current(), -1);
  pthread_join(th, NULL);
  ASSERT_EQ(cio_signal_wait(SIGKILL), -EINVAL);
  cio_scope s;
  ASSERT_EQ(cio_timeout_begin(&s, 0.02), 0);
  ASSERT_EQ(cio_signal_wait(SIGUSR2), -ETIMEDOUT);
  ASSERT_EQ(cio_scope_end(&s), -ETIMEDOUT);
  return 0;
}
static void signal_wait_in_a_task(void) { ASSERT_EQ(cio_run(sigwait_main, NULL), 0); }

// ---- cio_to_thread waits for fn before it returns an error: a stack
// argument stays valid (issue 14, point 13).

static void *write_late(void *arg) {
  usleep(200 * 1000);
  *(int *)arg = 42; // the caller gave up 0.18 s ago: still its frame
  return NULL;
}
static int stack_arg_caller(void *arg) {
  (void)arg;
  int slot = 0; // lives in this frame only
  int rc = cio_to_thread(write_late, &slot, NULL);
  if (slot != 42) return -1000; // returned before fn was done with slot
  return rc;
}
static int stack_arg_main(void *arg) {
  (void)arg;
  cio_task *t = cio_spawn(stack_arg_caller, NULL);
  ASSERT_EQ(cio_sleep(0.02), 0);
  double t0 = cio_now();
  cio_cancel(t);
  ASSERT_EQ(cio_join(t), -ECANCELED); // after fn wrote 42 into the caller's frame
  ASSERT_BETWEEN(cio_now() - t0, 0.1, 5.0);
  // The same with a timeout scope: it expires at 0.03 s, the call returns
  // -ETIMEDOUT once fn is done.
  int slot = 0;
  cio_scope s;
  ASSERT_EQ(cio_timeout_begin(&s, 0.03), 0);
  t0 = cio_now();
  ASSERT_EQ(cio_to_thread(write_late, &slot, NULL), -ETIMEDOUT);
  ASSERT_EQ(slot, 42);
  ASSERT_BETWEEN(cio_now() - t0, 0.15, 5.0);
  ASSERT_EQ(cio_scope_end(&s), -ETIMEDOUT);
  return 0;
}
static void cancelled_to_thread_waits_for_its_stack_argument(void) {
  ASSERT_EQ(cio_run(stack_arg_main, NULL), 0);
}

// A caller cancelled before the call does not start fn.
static atomic_int started;
static void *count_start(void *arg) {
  atomic_fetch_add(&started, 1);
  return arg;
}
static int already_cancelled(void *arg) {
  (void)arg;
  cio_cancel(cio_current());
  return cio_to_thread(count_start, NULL, NULL);
}
static int already_cancelled_main(void *arg) {
  (void)arg;
  cio_task *t = cio_spawn(already_cancelled, NULL);
  ASSERT_EQ(cio_join(t), -ECANCELED);
  ASSERT_EQ(atomic_load(&started), 0);
  return 0;
}
static void cancelled_caller_does_not_start_the_call(void) {
  ASSERT_EQ(cio_run(already_cancelled_main, NULL), 0);
}

// ---- cio_to_thread_owned: the call owns arg and frees it exactly once,
// however the call ends.

struct owned_arg {
  int id;           // which call
  useconds_t nap;   // how long fn takes
  atomic_int freed; // free_fn calls for it (checked before the free)
};
static atomic_int owned_freed, owned_unclaimed, owned_ran;
static void *owned_fn(void *arg) {
  struct owned_arg *a = arg;
  if (a->nap) usleep(a->nap);
  atomic_fetch_add(&owned_ran, 1);
  int *r = malloc(sizeof *r); // a result that owns memory
  *r = a->id;
  return r;
}
static void owned_free(void *arg, void *unclaimed) {
  struct owned_arg *a = arg;
  if (a) {
    ASSERT_EQ(atomic_fetch_add(&a->freed, 1), 0);
    free(a);
  }
  atomic_fetch_add(&owned_freed, 1);
  if (unclaimed) atomic_fetch_add(&owned_unclaimed, 1);
  free(unclaimed);
}
static struct owned_arg *new_arg(int id, useconds_t nap) {
  struct owned_arg *a = calloc(1, sizeof *a);
  ASSERT(a);
  a->id = id;
  a->nap = nap;
  return a;
}
static int owned_caller(void *arg) {
  struct owned_arg *a = arg;
  void *r = NULL;
  int id = a->id;
  int rc = cio_to_thread_owned(owned_fn, a, owned_free, &r);
  if (rc == 0) { // received: free_fn has run already, without the result
    ASSERT_EQ(*(int *)r, id);
    free(r);
  }
  return rc;
}
static int owned_main(void *arg) {
  (void)arg;
  // Success: the result is the caller's, arg freed before the return.
  void *r = NULL;
  ASSERT_EQ(cio_to_thread_owned(owned_fn, new_arg(1, 0), owned_free, &r), 0);
  ASSERT_EQ(*(int *)r, 1);
  free(r);
  ASSERT_EQ(atomic_load(&owned_freed), 1);
  ASSERT_EQ(atomic_load(&owned_unclaimed), 0);
  // Nobody asked for the result: free_fn gets it.
  ASSERT_EQ(cio_to_thread_owned(owned_fn, new_arg(2, 0), owned_free, NULL), 0);
  ASSERT_EQ(atomic_load(&owned_freed), 2);
  ASSERT_EQ(atomic_load(&owned_unclaimed), 1);
  // Bad input and a cancelled caller: fn never runs, arg is freed at once.
  ASSERT_EQ(cio_to_thread_owned(NULL, new_arg(3, 0), owned_free, &r), -EINVAL);
  ASSERT_EQ(atomic_load(&owned_freed), 3);
  cio_task *t = cio_spawn(already_cancelled, NULL); // (plain call: not started either)
  ASSERT_EQ(cio_join(t), -ECANCELED);

  // Cancelled before fn ends: the caller returns at once; the completion
  // frees arg and the unclaimed result later.
  t = cio_spawn(owned_caller, new_arg(4, 600 * 1000));
  ASSERT_EQ(cio_sleep(0.02), 0);
  double t0 = cio_now();
  cio_cancel(t);
  ASSERT_EQ(cio_join(t), -ECANCELED);
  ASSERT(cio_now() - t0 < 0.3);
  ASSERT_EQ(atomic_load(&owned_freed), 3); // fn still runs
  while (atomic_load(&owned_freed) < 4) ASSERT_EQ(cio_sleep(0.01), 0);
  ASSERT_EQ(atomic_load(&owned_unclaimed), 2);

  // Cancelled after fn ended, before its completion ran (the loop held):
  // the caller frees them when it gives up.
  t = cio_spawn(owned_caller, new_arg(5, 0));
  ASSERT_EQ(cio_yield(), 0); // it submits and parks
  usleep(100 * 1000);        // fn ends; its completion waits for the loop
  cio_cancel(t);             // woken by this first
  ASSERT_EQ(cio_join(t), -ECANCELED);
  ASSERT_EQ(atomic_load(&owned_freed), 5);
  ASSERT_EQ(atomic_load(&owned_unclaimed), 3);
  return 0;
}
static void owned_call_frees_its_argument_once(void) {
  ASSERT_EQ(cio_run(owned_main, NULL), 0);
  ASSERT_EQ(atomic_load(&owned_freed), 5);
}

// Many owned calls cancelled at random moments, so both orders (cancel
// before and after completion) race for real (run under TSan and ASan).
static int owned_race_main(void *arg) {
  int n = *(int *)arg;
  uint64_t seed = 0x5eed14;
  enum { BATCH = 16 };
  for (int done = 0; done < n; done += BATCH) {
    cio_task *t[BATCH];
    for (int i = 0; i < BATCH; i++)
      t[i] = cio_spawn(owned_caller, new_arg(done + i, (useconds_t)(test_random(&seed) % 2000)));
    ASSERT_EQ(cio_sleep((double)(test_random(&seed) % 2000) / 1e6), 0);
    for (int i = 0; i < BATCH; i++)
      if (test_random(&seed) % 2) cio_cancel(t[i]);
    for (int i = 0; i < BATCH; i++) {
      int rc = cio_join(t[i]);
      ASSERT(rc == 0 || rc == -ECANCELED);
    }
  }
  return 0;
}
static void owned_calls_cancelled_at_random_free_once(void) {
  int n = 16 * (int)(100 * test_scale() + 8);
  ASSERT_EQ(cio_run(owned_race_main, &n), 0);
  ASSERT_EQ(atomic_load(&owned_freed), n); // once each (a second call asserts)
  ASSERT(atomic_load(&owned_ran) <= n);
  printf("  %d calls, %d unclaimed results freed by free_fn\n", n, atomic_load(&owned_unclaimed));
}

// ---- Every signal number can be awaited (issue 14, point 7: SIGHUP is
// 1, which the park took for "deadline passed"; SIGINT is 2, "timer").

struct kill_later {
  int signo;      // what to send
  bool to_thread; // pthread_kill to the loop's thread rather than kill()
  pthread_t loop; // the loop's thread
};
static void *send_signal(void *arg) {
  struct kill_later *k = arg;
  usleep(10 * 1000);
  if (k->to_thread)
    pthread_kill(k->loop, k->signo);
  else
    kill(getpid(), k->signo);
  return NULL;
}
static int wait_one(void *arg) { return cio_signal_wait((int)(intptr_t)arg); }
static int every_signal_main(void *arg) {
  (void)arg;
  int sigs[] = {SIGHUP,   SIGINT,   SIGUSR1,      SIGUSR2,      SIGTERM,
                SIGWINCH, SIGRTMIN, SIGRTMIN + 1, SIGRTMIN + 2, SIGRTMAX};
  size_t n = sizeof sigs / sizeof sigs[0];
  // qemu-user cannot deliver SIGRTMAX, and valgrind keeps it for itself
  // (sigaction: EINVAL): both use it internally.
  if (getenv("CIO_TEST_EMULATED") || RUNNING_ON_VALGRIND) n--;
  for (size_t i = 0; i < n; i++) {
    cio_task *t = cio_spawn(wait_one, (void *)(intptr_t)sigs[i]);
    ASSERT_EQ(cio_yield(), 0); // it waits
    struct kill_later k = {.signo = sigs[i], .to_thread = i % 2, .loop = pthread_self()};
    pthread_t th;
    pthread_create(&th, NULL, send_signal, &k);
    cio_scope s; // a wrong answer must not hang
    ASSERT_EQ(cio_timeout_begin(&s, 10), 0);
    int rc = cio_join(t);
    ASSERT_EQ(cio_scope_end(&s), 0);
    pthread_join(th, NULL);
    if (rc != sigs[i]) test_fail(__FILE__, __LINE__, "signal %d: wait returned %d", sigs[i], rc);
  }
  // A delivery while nobody waits is kept for the next wait (the loop
  // has caught SIGUSR1 since the first wait).
  kill(getpid(), SIGUSR1);
  ASSERT_EQ(cio_sleep(0.01), 0);
  ASSERT_EQ(cio_signal_wait(SIGUSR1), SIGUSR1);
  return 0;
}
static void every_signal_number_is_waitable(void) {
  ASSERT_EQ(cio_run(every_signal_main, NULL), 0);
}

// ---- Ctrl-C in every run and every loop (issue 14, point 6).

static int quick_main(void *arg) {
  (void)arg;
  return 0;
}
static void run_then_sigint(void) {
  ASSERT_EQ(cio_run(quick_main, NULL), 0);
  kill(getpid(), SIGINT); // no loop runs: the default action
  sleep(2);
  printf("SIGINT was swallowed\n");
}
static void sigint_after_cio_run_has_the_default_action(void) {
  char out[2048];
  int status = test_run_child(run_then_sigint, out, sizeof out);
  if (!WIFSIGNALED(status)) test_fail(__FILE__, __LINE__, "child exited with %d:\n%s", status, out);
  ASSERT_EQ(WTERMSIG(status), SIGINT);
}

static int sigint_later_main(void *arg) {
  (void)arg;
  pthread_t th;
  pthread_create(&th, NULL, raise_later, (void *)(intptr_t)SIGINT);
  pthread_detach(th);
  return cio_sleep(5); // Ctrl-C arrives here
}
static void two_runs(void) {
  for (int i = 1; i <= 2; i++) printf("run %d returned %d\n", i, cio_run(sigint_later_main, NULL));
}
static void sigint_cancels_main_in_every_run(void) {
  char out[4096];
  int status = test_run_child(two_runs, out, sizeof out);
  ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  char expect[64];
  for (int i = 1; i <= 2; i++) {
    snprintf(expect, sizeof expect, "run %d returned %d", i, -ECANCELED);
    ASSERT_STR_CONTAINS(out, expect);
  }
}

static double wall_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static atomic_int loops_in;
static int sleepy_main(void *arg) {
  (void)arg;
  atomic_fetch_add(&loops_in, 1);
  return cio_sleep(10);
}
static void *loop_thread(void *arg) {
  *(int *)arg = cio_run(sleepy_main, NULL);
  return NULL;
}
static void three_loops(void) {
  pthread_t th[3];
  int rc[3];
  for (int i = 0; i < 3; i++) pthread_create(&th[i], NULL, loop_thread, &rc[i]);
  while (atomic_load(&loops_in) < 3) usleep(1000);
  double t0 = wall_now();
  kill(getpid(), SIGINT); // one Ctrl-C, caught by whichever thread
  for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
  printf("loops returned %d %d %d after %.2f s\n", rc[0], rc[1], rc[2], wall_now() - t0);
}
static void sigint_cancels_the_main_of_every_loop(void) {
  char out[4096];
  int status = test_run_child(three_loops, out, sizeof out);
  ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  char expect[64];
  snprintf(expect, sizeof expect, "loops returned %d %d %d after 0.", -ECANCELED, -ECANCELED,
           -ECANCELED);
  ASSERT_STR_CONTAINS(out, expect);
}

// The second Ctrl-C while main's cancellation is handled (here: a cleanup
// that hangs, shielded) ends the process, as asyncio.run's second
// KeyboardInterrupt does.
static void *two_sigints(void *arg) {
  (void)arg;
  usleep(50 * 1000);
  kill(getpid(), SIGINT);
  usleep(250 * 1000);
  kill(getpid(), SIGINT);
  return NULL;
}
static int hanging_cleanup_main(void *arg) {
  (void)arg;
  pthread_t th;
  pthread_create(&th, NULL, two_sigints, NULL);
  pthread_detach(th);
  int rc = cio_sleep(5);
  printf("main saw %d\n", rc);
  fflush(stdout);
  cio_scope s;
  ASSERT_EQ(cio_shield_begin(&s), 0);
  ASSERT_EQ(cio_sleep(5), 0); // a cleanup that does not end
  ASSERT_EQ(cio_scope_end(&s), 0);
  return rc;
}
static void run_hanging_cleanup(void) {
  printf("cio_run returned %d\n", cio_run(hanging_cleanup_main, NULL));
}
static void second_sigint_ends_the_process(void) {
  char out[4096];
  int status = test_run_child(run_hanging_cleanup, out, sizeof out);
  if (!WIFSIGNALED(status)) test_fail(__FILE__, __LINE__, "child exited with %d:\n%s", status, out);
  ASSERT_EQ(WTERMSIG(status), SIGINT);
  char expect[64];
  snprintf(expect, sizeof expect, "main saw %d", -ECANCELED);
  ASSERT_STR_CONTAINS(out, expect); // the first one cancelled main
}

static atomic_int user_usr1, user_term;
static void user_usr1_handler(int signo, siginfo_t *si, void *ctx) {
  (void)signo, (void)si, (void)ctx;
  atomic_fetch_add(&user_usr1, 1);
}
static void user_term_handler(int signo) {
  (void)signo;
  atomic_fetch_add(&user_term, 1);
}
static void assert_same_action(int signo, const struct sigaction *a, const struct sigaction *b) {
  if (a->sa_flags != b->sa_flags || (void *)a->sa_handler != (void *)b->sa_handler)
    test_fail(__FILE__, __LINE__, "signal %d: handler %p flags %#x, was %p %#x", signo,
              (void *)b->sa_handler, (unsigned)b->sa_flags, (void *)a->sa_handler,
              (unsigned)a->sa_flags);
  for (int s = 1; s < NSIG; s++)
    if (sigismember(&a->sa_mask, s) != sigismember(&b->sa_mask, s))
      test_fail(__FILE__, __LINE__, "signal %d: mask differs at %d", signo, s);
}
static int actions_main(void *arg) {
  (void)arg;
  struct sigaction cur;
  sigaction(SIGTERM, NULL, &cur); // the program's handler stays in place
  ASSERT((void *)cur.sa_handler == (void *)user_term_handler);
  sigaction(SIGINT, NULL, &cur); // the default one is cio's while a loop runs
  ASSERT(cur.sa_handler != SIG_DFL);
  pthread_t th;
  pthread_create(&th, NULL, raise_later, (void *)(intptr_t)SIGUSR1);
  ASSERT_EQ(cio_signal_wait(SIGUSR1), SIGUSR1); // replaces the program's while waiting
  pthread_join(th, NULL);
  ASSERT_EQ(atomic_load(&user_usr1), 0);
  return 0;
}
static void signal_actions_are_restored_exactly(void) {
  struct sigaction before[3], after[3], sa;
  const int sigs[3] = {SIGINT, SIGTERM, SIGUSR1};
  memset(&sa, 0, sizeof sa); // SIGINT: the default, with a mask and flags of its own
  sa.sa_handler = SIG_DFL;
  sa.sa_flags = SA_RESTART | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGUSR2);
  sigaddset(&sa.sa_mask, SIGHUP);
  ASSERT_EQ(sigaction(SIGINT, &sa, NULL), 0);
  memset(&sa, 0, sizeof sa); // SIGTERM: the program's handler
  sa.sa_handler = user_term_handler;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGPIPE);
  ASSERT_EQ(sigaction(SIGTERM, &sa, NULL), 0);
  memset(&sa, 0, sizeof sa); // SIGUSR1: a three-argument handler that cio_signal_wait replaces
  sa.sa_sigaction = user_usr1_handler;
  sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGWINCH);
  sigaddset(&sa.sa_mask, SIGRTMIN + 3);
  ASSERT_EQ(sigaction(SIGUSR1, &sa, NULL), 0);
  for (int i = 0; i < 3; i++) sigaction(sigs[i], NULL, &before[i]);
  ASSERT_EQ(cio_run(actions_main, NULL), 0);
  for (int i = 0; i < 3; i++) {
    sigaction(sigs[i], NULL, &after[i]);
    assert_same_action(sigs[i], &before[i], &after[i]);
  }
  kill(getpid(), SIGUSR1); // the program's handlers run again
  kill(getpid(), SIGTERM);
  ASSERT_EQ(atomic_load(&user_usr1), 1);
  ASSERT_EQ(atomic_load(&user_term), 1);
}

static const test_case cases[] = {
    {"to_thread_runs_blocking_calls_concurrently", to_thread_runs_blocking_calls_concurrently, 0},
    {"cancelled_owned_call_returns_at_once", cancelled_owned_call_returns_at_once, 0},
    {"cancelled_after_the_call_ended_frees_the_job", cancelled_after_the_call_ended_frees_the_job,
     0},
    {"every_job_completes_exactly_once", every_job_completes_exactly_once, 60},
    {"file_helpers", file_helpers, 0},
    {"sigint_cancels_main_and_run_returns", sigint_cancels_main_and_run_returns, 0},
    {"signal_wait_in_a_task", signal_wait_in_a_task, 0},
    {"cancelled_to_thread_waits_for_its_stack_argument",
     cancelled_to_thread_waits_for_its_stack_argument, 0},
    {"cancelled_caller_does_not_start_the_call", cancelled_caller_does_not_start_the_call, 0},
    {"owned_call_frees_its_argument_once", owned_call_frees_its_argument_once, 0},
    {"owned_calls_cancelled_at_random_free_once", owned_calls_cancelled_at_random_free_once, 60},
    {"every_signal_number_is_waitable", every_signal_number_is_waitable, 0},
    {"sigint_after_cio_run_has_the_default_action", sigint_after_cio_run_has_the_default_action, 0},
    {"sigint_cancels_main_in_every_run", sigint_cancels_main_in_every_run, 0},
    {"sigint_cancels_the_main_of_every_loop", sigint_cancels_the_main_of_every_loop, 0},
    {"signal_actions_are_restored_exactly", signal_actions_are_restored_exactly, 0},
    {"second_sigint_ends_the_process", second_sigint_ends_the_process, 0},
};
TEST_MAIN(cases)
