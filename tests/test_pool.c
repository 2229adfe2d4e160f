// SPDX-License-Identifier: MIT
//
// The worker pool (cio_to_thread), file helpers and signals.
#include <cio.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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
  usleep(200 * 1000);
  atomic_store(&finished, 1);
  return NULL;
}
static int giver_up(void *arg) {
  (void)arg;
  return cio_to_thread(slow_then_flag, NULL, NULL);
}
static int cancel_main(void *arg) {
  (void)arg;
  cio_task *t = cio_spawn(giver_up, NULL);
  ASSERT_EQ(cio_sleep(0.02), 0);
  double t0 = cio_now();
  cio_cancel(t);
  ASSERT_EQ(cio_join(t), -ECANCELED); // at once...
  ASSERT(cio_now() - t0 < 0.1);
  ASSERT_EQ(atomic_load(&finished), 0); // ...while the call goes on
  return 0;
}
static void cancelled_to_thread_returns_at_once(void) {
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
  return cio_to_thread(quick_call, (void *)1, &r);
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

static const test_case cases[] = {
    {"to_thread_runs_blocking_calls_concurrently", to_thread_runs_blocking_calls_concurrently, 0},
    {"cancelled_to_thread_returns_at_once", cancelled_to_thread_returns_at_once, 0},
    {"cancelled_after_the_call_ended_frees_the_job", cancelled_after_the_call_ended_frees_the_job,
     0},
    {"every_job_completes_exactly_once", every_job_completes_exactly_once, 60},
    {"file_helpers", file_helpers, 0},
    {"sigint_cancels_main_and_run_returns", sigint_cancels_main_and_run_returns, 0},
    {"signal_wait_in_a_task", signal_wait_in_a_task, 0},
};
TEST_MAIN(cases)
