// SPDX-License-Identifier: MIT
//
// Subprocesses: output streamed, input fed, exit codes, kill, timeouts.
#include <cio.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "context/valgrind_compat.h"
#include "helpers/test.h"

static int output_main(void *arg) {
  (void)arg;
  cio_process *p;
  char *argv[] = {"sh", "-c", "for i in 1 2 3; do echo line $i; sleep 0.05; done; exit 7", NULL};
  cio_process_opts o = {.pipe_stdout = true};
  ASSERT_EQ(cio_process_spawn(&p, "sh", argv, &o), 0);
  char line[64];
  double t0 = cio_now();
  for (int i = 1; i <= 3; i++) { // streamed as it comes, not all at the end
    ssize_t n = cio_stream_readline(cio_process_stdout(p), line, sizeof line);
    ASSERT_EQ(n, 7);
    ASSERT(line[5] == '0' + i);
    ASSERT(cio_now() - t0 < 0.05 * i + 0.5);
  }
  ASSERT_EQ(cio_stream_readline(cio_process_stdout(p), line, sizeof line), 0); // EOF
  int code = 0;
  ASSERT_EQ(cio_process_wait(p, &code), 0);
  ASSERT_EQ(code, 7);
  ASSERT_EQ(cio_process_kill(p, SIGTERM), -ESRCH); // already reaped
  ASSERT_EQ(cio_process_free(p), 0);
  return 0;
}
static void output_streamed_and_exit_code(void) { ASSERT_EQ(cio_run(output_main, NULL), 0); }

static int input_main(void *arg) {
  (void)arg;
  cio_process *p;
  char *argv[] = {"tr", "a-z", "A-Z", NULL};
  cio_process_opts o = {.pipe_stdin = true, .pipe_stdout = true};
  ASSERT_EQ(cio_process_spawn(&p, "tr", argv, &o), 0);
  ASSERT_EQ(cio_stream_write(cio_process_stdin(p), "hello\n", 6), 0);
  ASSERT_EQ(cio_process_close_stdin(p), 0); // flushes, then end of file
  char out[16];
  size_t got = 0;
  ASSERT_EQ(cio_stream_readexactly(cio_process_stdout(p), out, 6, &got), 0);
  ASSERT(memcmp(out, "HELLO\n", 6) == 0);
  int code = -1;
  ASSERT_EQ(cio_process_wait(p, &code), 0);
  ASSERT_EQ(code, 0);
  ASSERT_EQ(cio_process_free(p), 0);
  return 0;
}
static void input_fed_through_stdin(void) { ASSERT_EQ(cio_run(input_main, NULL), 0); }

static int kill_main(void *arg) {
  (void)arg;
  cio_process *p;
  char *argv[] = {"sleep", "30", NULL};
  ASSERT_EQ(cio_process_spawn(&p, "sleep", argv, NULL), 0);
  cio_scope s;
  int code;
  double t0 = cio_now();
  ASSERT_EQ(cio_timeout_begin(&s, 0.1), 0);
  ASSERT_EQ(cio_process_wait(p, &code), -ETIMEDOUT); // the child keeps running
  ASSERT_EQ(cio_scope_end(&s), -ETIMEDOUT);
  ASSERT_EQ(cio_process_kill(p, SIGTERM), 0);
  ASSERT_EQ(cio_process_wait(p, &code), 0);
  ASSERT_EQ(code, -SIGTERM);
  ASSERT(cio_now() - t0 < 2);
  ASSERT_EQ(cio_process_free(p), 0);
  char *none[] = {"no-such-program-cio", NULL};
  // (valgrind and qemu-user run posix_spawn's vfork as a plain fork, which
  // cannot report this: the child exits 127 instead.)
  if (!RUNNING_ON_VALGRIND && !getenv("CIO_TEST_EMULATED"))
    ASSERT_EQ(cio_process_spawn(&p, "no-such-program-cio", none, NULL), -ENOENT);
  ASSERT_EQ(cio_process_spawn(&p, "sh", NULL, NULL), -EINVAL);
  // Freed without waiting: killed and reaped, no zombie.
  ASSERT_EQ(cio_process_spawn(&p, "sleep", argv, NULL), 0);
  pid_t pid = cio_process_pid(p);
  ASSERT_EQ(cio_process_free(p), 0);
  ASSERT(kill(pid, 0) < 0 && errno == ESRCH);
  return 0;
}
static void kill_and_timeout(void) { ASSERT_EQ(cio_run(kill_main, NULL), 0); }

// Processes under chaos: 40 children (scaled) each print a line, sleep 0-90
// ms and print another; the task handling each reads its lines and waits for
// its exit with random timeouts, while a monkey cancels random handlers.
// Whatever happened, the handler frees its process, and at the end no child
// is left, running or zombie (waitpid says ECHILD), and no descriptor is
// left open (the runner checks).  A handler that saw it all through saw both
// lines and exit code 0.
struct proc_chaos {
  int id, finished;
};
static uint64_t proc_rng = 12345;
static uint64_t proc_next(void) { return test_random(&proc_rng); }
static int proc_handler(void *arg) {
  struct proc_chaos *pc = arg;
  char script[96];
  snprintf(script, sizeof script, "echo start %d; sleep 0.0%d; echo done", pc->id,
           (int)(proc_next() % 10));
  char *argv[] = {"sh", "-c", script, NULL};
  cio_process_opts o = {.pipe_stdout = true};
  cio_process *p;
  ASSERT_EQ(cio_process_spawn(&p, "sh", argv, &o), 0);
  char line[64];
  cio_scope scope;
  // Scaled: under the EINTR storm (strace follows every sh) a child takes
  // longer to start than the 150 ms the longest timeout allows unscaled.
  ASSERT_EQ(cio_timeout_begin(&scope, test_timeout((double)(proc_next() % 150) / 1000)), 0);
  ssize_t a = cio_stream_readline(cio_process_stdout(p), line, sizeof line);
  ssize_t b = a > 0 ? cio_stream_readline(cio_process_stdout(p), line, sizeof line) : a;
  int code = -1, rc = b > 0 ? cio_process_wait(p, &code) : (int)b;
  (void)cio_scope_end(&scope);
  if (rc == 0) {
    ASSERT(a > 0 && b == 5 && memcmp(line, "done\n", 5) == 0);
    ASSERT_EQ(code, 0);
    pc->finished = 1;
  } else {
    ASSERT(rc == -ETIMEDOUT || rc == -ECANCELED);
  }
  ASSERT_EQ(cio_process_free(p), 0); // kills and reaps one still running
  return 0;
}
static int proc_chaos_main(void *arg) {
  (void)arg;
  int n = (int)(40 * test_scale());
  if (n < 8) n = 8;
  struct proc_chaos pc[40];
  cio_task *t[40];
  for (int i = 0; i < n; i++) {
    pc[i] = (struct proc_chaos){i, 0};
    ASSERT(t[i] = cio_spawn(proc_handler, &pc[i]));
  }
  for (int k = 0; k < n / 3; k++) {
    ASSERT_EQ(cio_sleep((double)(proc_next() % 20) / 1000), 0);
    cio_cancel(t[proc_next() % (uint64_t)n]);
  }
  int finished = 0;
  for (int i = 0; i < n; i++) {
    int rc = cio_join(t[i]);
    ASSERT(rc == 0 || rc == -ECANCELED);
    finished += pc[i].finished;
  }
  errno = 0;
  ASSERT(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD); // no child left at all
  printf("     %d children, %d seen through to the end\n", n, finished);
  ASSERT(finished > 0);
  return 0;
}
static void processes_under_chaos_leave_nothing(void) {
  ASSERT_EQ(cio_run(proc_chaos_main, NULL), 0);
}

// A process freed twice: the second free returns -EINVAL, as do the other
// calls on it; closing stdin twice too.
static int waiter_fn(void *arg) {
  int code;
  return cio_process_wait(arg, &code);
}
static int stdout_reader_fn(void *arg) {
  char buf[16];
  return (int)cio_stream_read(cio_process_stdout(arg), buf, sizeof buf);
}
static int freed_twice_main(void *arg) {
  (void)arg;
  cio_process *p;
  char *argv[] = {"cat", NULL};
  cio_process_opts o = {.pipe_stdin = true, .pipe_stdout = true};
  ASSERT_EQ(cio_process_spawn(&p, "cat", argv, &o), 0);
  ASSERT_EQ(cio_process_close_stdin(p), 0);
  ASSERT_EQ(cio_process_close_stdin(p), -EINVAL);
  int code = -1;
  ASSERT_EQ(cio_process_wait(p, &code), 0);
  ASSERT_EQ(code, 0);
  ASSERT_EQ(cio_process_free(p), 0);
  ASSERT_EQ(cio_process_free(p), -EINVAL);
  ASSERT_EQ(cio_process_wait(p, &code), -EINVAL);
  ASSERT_EQ(cio_process_kill(p, SIGTERM), -EINVAL);
  ASSERT(cio_process_stdout(p) == NULL);
  ASSERT_EQ(cio_process_pid(p), -1);
  // Freed while another task waits for it: that task wakes with -EBADF.
  char *sleeper[] = {"sleep", "30", NULL};
  ASSERT_EQ(cio_process_spawn(&p, "sleep", sleeper, &o), 0);
  cio_task *t = cio_spawn(waiter_fn, p);
  cio_task *r = cio_spawn(stdout_reader_fn, p);
  ASSERT_EQ(cio_sleep(0.02), 0);
  ASSERT_EQ(cio_process_free(p), 0);
  int rc = cio_join(t);
  ASSERT(rc == -EBADF || RUNNING_ON_VALGRIND); // valgrind: no pidfd, the poll sees it freed
  ASSERT_EQ(cio_join(r), -EBADF);
  return 0;
}
static void process_freed_twice_returns_einval(void) {
  ASSERT_EQ(cio_run(freed_twice_main, NULL), 0);
}

// A child that exits without reading its stdin: writing to the pipe
// returns -EPIPE, and the parent is not killed by SIGPIPE (it was: pipes
// were written with write(), which raises it).
static int epipe_main(void *arg) {
  (void)arg;
  cio_process *p;
  char *argv[] = {"true", NULL};
  cio_process_opts o = {.pipe_stdin = true};
  ASSERT_EQ(cio_process_spawn(&p, "true", argv, &o), 0);
  int code = -1;
  ASSERT_EQ(cio_process_wait(p, &code), 0);
  static char junk[1 << 20];
  cio_stream *in = cio_process_stdin(p);
  ASSERT_EQ(cio_stream_write(in, junk, sizeof junk), 0);
  ASSERT_EQ(cio_stream_drain(in), -EPIPE);
  ASSERT_EQ(cio_stream_queued(in), sizeof junk); // nothing was sent
  ASSERT_EQ(cio_process_close_stdin(p), -EPIPE);
  ASSERT_EQ(cio_process_free(p), 0);
  return 0;
}
static void stdin_of_an_exited_child_gives_epipe_not_sigpipe(void) {
  ASSERT_EQ(cio_run(epipe_main, NULL), 0);
}

static const test_case cases[] = {
    {"output_streamed_and_exit_code", output_streamed_and_exit_code, 0},
    {"input_fed_through_stdin", input_fed_through_stdin, 0},
    {"kill_and_timeout", kill_and_timeout, 0},
    {"processes_under_chaos_leave_nothing", processes_under_chaos_leave_nothing, 60},
    {"process_freed_twice_returns_einval", process_freed_twice_returns_einval, 0},
    {"stdin_of_an_exited_child_gives_epipe_not_sigpipe",
     stdin_of_an_exited_child_gives_epipe_not_sigpipe, 0},
};
TEST_MAIN(cases)
