// SPDX-License-Identifier: MIT
//
// Misuse is loud (DESIGN §3, the guide's mistakes 4 and 5): an awaiting
// function called outside a running task prints one line naming itself and
// returns -EPERM, or aborts in debug mode.
#include <cio.h>
#include <stdlib.h>
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

// Every entry point of the task, sync and combinator layers, called outside
// a loop: each prints its own name and returns -EPERM (constructors: NULL
// with errno EPERM).  Each line printed is "<name> rc=<code>".
#define CALL(name, expr) printf("%s rc=%d\n", name, (int)(expr))
#define CALL_NEW(name, expr) printf("%s rc=%d\n", name, (errno = 0, (expr)) ? 0 : -errno)
static void call_every_entry_point(void) {
  cio_scope scope;
  void *item;
  cio_task *task = NULL;
  CALL_NEW("cio_spawn", cio_spawn(NULL, NULL));
  CALL("cio_join", cio_join(NULL));
  CALL("cio_detach", cio_detach(NULL));
  CALL("cio_cancel", cio_cancel(NULL));
  CALL("cio_yield", cio_yield());
  CALL("cio_sleep", cio_sleep(1));
  CALL("cio_timeout_begin", cio_timeout_begin(&scope, 1));
  CALL("cio_timeout_at_begin", cio_timeout_at_begin(&scope, 1));
  CALL("cio_shield_begin", cio_shield_begin(&scope));
  CALL("cio_scope_end", cio_scope_end(&scope));
  CALL("cio_lock_acquire", cio_lock_acquire(NULL));
  CALL("cio_lock_acquire_for", cio_lock_acquire_for(NULL, 1));
  CALL("cio_sem_acquire", cio_sem_acquire(NULL));
  CALL("cio_sem_acquire_for", cio_sem_acquire_for(NULL, 1));
  CALL("cio_event_wait", cio_event_wait(NULL));
  CALL("cio_event_wait_for", cio_event_wait_for(NULL, 1));
  CALL("cio_barrier_wait", cio_barrier_wait(NULL));
  CALL("cio_barrier_wait_for", cio_barrier_wait_for(NULL, 1));
  CALL("cio_cond_wait", cio_cond_wait(NULL));
  CALL("cio_cond_wait_for", cio_cond_wait_for(NULL, 1));
  CALL("cio_cond_wait_until", cio_cond_wait_until(NULL, NULL, NULL, 1));
  CALL("cio_queue_put", cio_queue_put(NULL, &item));
  CALL("cio_queue_put_for", cio_queue_put_for(NULL, &item, 1));
  CALL("cio_queue_put_priority", cio_queue_put_priority(NULL, &item, 0, 1));
  CALL("cio_queue_get", cio_queue_get(NULL, &item));
  CALL("cio_queue_get_for", cio_queue_get_for(NULL, &item, 1));
  CALL("cio_queue_join", cio_queue_join(NULL));
  CALL("cio_queue_join_for", cio_queue_join_for(NULL, 1));
  CALL("cio_gather", cio_gather(&task, 1, NULL, 0));
  CALL("cio_wait", cio_wait(&task, 1, CIO_ALL_COMPLETED, 1));
  CALL("cio_wait_for", cio_wait_for(task, 1));
  CALL("cio_as_completed_begin", cio_as_completed_begin(NULL, &task, 1, 1));
  CALL("cio_as_completed_next", cio_as_completed_next(NULL, &task));
  CALL_NEW("cio_group_new", cio_group_new());
  CALL_NEW("cio_group_spawn", cio_group_spawn(NULL, NULL, NULL));
}

static void every_entry_point_names_itself(void) {
  unsetenv("CIO_DEBUG");
  static char out[16384];
  int status = test_run_child(call_every_entry_point, out, sizeof out);
  ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  int calls = 0;
  for (const char *line = out; (line = strstr(line, " rc=")); line++) {
    const char *name = line;
    while (name > out && name[-1] != '\n') name--;
    char want[128];
    snprintf(want, sizeof want, "cio: %.*s() called outside cio_run()", (int)(line - name), name);
    ASSERT_STR_CONTAINS(out, want);
    ASSERT_EQ(atoi(line + 4), -EPERM);
    calls++;
  }
  ASSERT_EQ(calls, 35); // every CALL above printed its line
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
    {"every_entry_point_names_itself", every_entry_point_names_itself, 0},
    {"await_in_callback_says_so", await_in_callback_says_so, 0},
};
TEST_MAIN(cases)
