// SPDX-License-Identifier: MIT
//
// Misuse is loud (DESIGN §3, the guide's mistakes 4 and 5): an awaiting
// function called outside a running task prints one line naming itself and
// returns -EPERM, or aborts in debug mode.
#include <cio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers/test.h"

static void sleep_outside(void) {
  int rc = cio_sleep(1);
  printf("rc=%d\n", rc);
}

static void await_outside_loop_says_so(void) {
  unsetenv("CIO_DEBUG");
  char out[1024];
  int status = test_run_child(sleep_outside, out, sizeof out);
  ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_STR_CONTAINS(out, "cio: cio_sleep() called outside cio_run()");
  ASSERT_STR_CONTAINS(out, "rc=-1"); // -EPERM
}

static void await_outside_loop_aborts_in_debug(void) {
  setenv("CIO_DEBUG", "1", 1);
  char out[1024];
  int status = test_run_child(sleep_outside, out, sizeof out);
  ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
  ASSERT_STR_CONTAINS(out, "cio_sleep() called outside cio_run()");
}

static void every_awaiting_function_names_itself(void) {
  unsetenv("CIO_DEBUG");
  ASSERT_EQ(cio_sleep(1), -EPERM);
  ASSERT_EQ(cio_yield(), -EPERM);
  ASSERT_EQ(cio_join(NULL), -EPERM);
  cio_scope scope;
  ASSERT_EQ(cio_shield_begin(&scope), -EPERM);
  ASSERT_EQ(cio_timeout_begin(&scope, 1), -EPERM);
  errno = 0;
  ASSERT(cio_spawn(NULL, NULL) == NULL);
  ASSERT_EQ(errno, EPERM);
}

// From a thread-safe callback: the loop runs, but not in a task.
static void in_callback(void *arg) { *(int *)arg = cio_sleep(1); }
static int callback_main(void *arg) {
  int *rc = arg;
  ASSERT_EQ(cio_call_soon_threadsafe(cio_loop_current(), in_callback, rc), 0);
  ASSERT_EQ(cio_sleep(0.01), 0);
  return 0;
}
static void run_callback(void) {
  int rc = 0;
  ASSERT_EQ(cio_run(callback_main, &rc), 0);
  printf("rc=%d\n", rc);
}
static void await_in_callback_says_so(void) {
  unsetenv("CIO_DEBUG");
  char out[1024];
  int status = test_run_child(run_callback, out, sizeof out);
  ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_STR_CONTAINS(out, "cio_sleep() called on the loop's own stack");
  ASSERT_STR_CONTAINS(out, "rc=-1");
}

static const test_case cases[] = {
    {"await_outside_loop_says_so", await_outside_loop_says_so, 0},
    {"await_outside_loop_aborts_in_debug", await_outside_loop_aborts_in_debug, 0},
    {"every_awaiting_function_names_itself", every_awaiting_function_names_itself, 0},
    {"await_in_callback_says_so", await_in_callback_says_so, 0},
};
TEST_MAIN(cases)
