// SPDX-License-Identifier: MIT
//
// Subprocesses: output streamed, input fed, exit codes, kill, timeouts.
#include "context/valgrind_compat.h"
#include <cio.h>
#include <signal.h>
#include <string.h>

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

static const test_case cases[] = {
    {"output_streamed_and_exit_code", output_streamed_and_exit_code, 0},
    {"input_fed_through_stdin", input_fed_through_stdin, 0},
    {"kill_and_timeout", kill_and_timeout, 0},
};
TEST_MAIN(cases)
