// SPDX-License-Identifier: MIT
//
// Debug mode and introspection, each report checked for its text and the
// task's name (run in child processes, output captured): the guide's
// mistakes — blocking the loop (3), losing a task (2), never reading a
// failure — plus task dumps (cio_dump_tasks, SIGQUIT), counts and stats.
// Mistakes 1, 4 and 5 are in test_misuse.c and the compile tests; stack
// overflows in test_stack.c.  Built with -rdynamic so backtraces name the
// (non-static) functions below.
#include <cio.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "context/context.h"
#include "context/valgrind_compat.h"
#include "helpers/test.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

// ---------------------------------------------------------------- blocking

// Mistake 3: CPU work (or a blocking call) inside a task, never awaiting.
__attribute__((noinline)) void crunch_numbers(double seconds) {
  double until = now_s() + seconds;
  volatile unsigned long x = 0;
  while (now_s() < until) x++;
}
static int cruncher(void *arg) {
  (void)arg;
  crunch_numbers(0.3);
  return 0;
}
static int ticker(void *arg) {
  (void)arg;
  for (int i = 0; i < 5; i++)
    if (cio_sleep(0.01) < 0) return -1;
  return 0;
}
static int blocking_main(void *arg) {
  (void)arg;
  cio_task *t = cio_spawn(ticker, NULL);
  cio_task *c = cio_spawn_named("cruncher", cruncher, NULL);
  ASSERT_EQ(cio_join(c), 0);
  ASSERT_EQ(cio_join(t), 0);
  return 0;
}
static void run_blocking(void) {
  cio_opts o = {.debug = true, .block_threshold = 0.1};
  ASSERT_EQ(cio_run_opts(&o, blocking_main, NULL), 0);
}
// Runs `child` (a program in debug mode) in a child process, its output
// in out; it must succeed.
static void run_watched(void (*child)(void), char *out, size_t cap) {
  if (RUNNING_ON_VALGRIND)
    test_skip("valgrind serializes threads: the watchdog's timing does not hold");
  int status = test_run_child(child, out, cap);
  if (!WIFEXITED(status) || WEXITSTATUS(status)) fputs(out, stderr);
  ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
static void blocking_the_loop_is_reported_while_it_happens(void) {
  char out[8192];
  run_watched(run_blocking, out, sizeof out);
  ASSERT_STR_CONTAINS(out, "cio: the loop is blocked: task 'cruncher'");
  ASSERT_STR_CONTAINS(out, "has not awaited for 100 ms");
  ASSERT_STR_CONTAINS(out, "crunch_numbers"); // its backtrace, symbolized
  ASSERT_STR_CONTAINS(out, "ms by cruncher"); // and how long, afterwards
}

// The same report when the task is caught in code the unwinder has no
// table for (on AArch64, a PLT stub is such code: a loop calling
// clock_gettime() is often caught there).  spin_without_unwind_info is
// assembly without CFI that waits for a flag another thread sets; the
// report still names the task's function, from its frame pointers.
void spin_without_unwind_info(const volatile int *flag);
#if defined(__x86_64__)
__asm__(".text\n"
        ".globl spin_without_unwind_info\n"
        "spin_without_unwind_info:\n"
        "1: pause\n"
        "   cmpl $0, (%rdi)\n"
        "   je 1b\n"
        "   ret\n");
#elif defined(__aarch64__)
__asm__(".text\n"
        ".globl spin_without_unwind_info\n"
        "spin_without_unwind_info:\n"
        "1: ldr w1, [x0]\n"
        "   cbz w1, 1b\n"
        "   ret\n");
#endif

static volatile int uncharted_done;
static void *set_after_300ms(void *arg) {
  (void)arg;
  nanosleep(&(struct timespec){0, 300000000}, NULL);
  __atomic_store_n(&uncharted_done, 1, __ATOMIC_RELEASE);
  return NULL;
}
__attribute__((noinline)) int wait_in_uncharted_code(void) {
  spin_without_unwind_info(&uncharted_done);
  return __atomic_load_n(&uncharted_done, __ATOMIC_ACQUIRE); // not a tail call: this frame stays
}
int uncharted_cruncher(void *arg) {
  (void)arg;
  return wait_in_uncharted_code() == 1 ? 0 : -1;
}
static int uncharted_main(void *arg) {
  (void)arg;
  pthread_t setter;
  ASSERT_EQ(pthread_create(&setter, NULL, set_after_300ms, NULL), 0);
  cio_task *c = cio_spawn_named("uncharted", uncharted_cruncher, NULL);
  ASSERT_EQ(cio_join(c), 0);
  pthread_join(setter, NULL);
  return 0;
}
static void run_uncharted(void) {
  cio_opts o = {.debug = true, .block_threshold = 0.1};
  ASSERT_EQ(cio_run_opts(&o, uncharted_main, NULL), 0);
}
static void blocking_in_code_without_unwind_tables_is_named(void) {
#if defined(__SANITIZE_THREAD__)
  test_skip("TSan holds a signal until the next call it intercepts: the spin makes none");
#endif
  char out[8192];
  run_watched(run_uncharted, out, sizeof out);
  ASSERT_STR_CONTAINS(out, "cio: the loop is blocked: task 'uncharted'");
  ASSERT_STR_CONTAINS(out, "uncharted_cruncher"); // found through the frame pointers
}

// The walk itself, on frame records laid out by hand: the saved program
// counter first, (on AArch64) the return address register, then each
// record's return address, stopping at a record that does not lead up the
// stack or lies outside it.
static void interrupted_frames_are_walked_from_saved_registers(void) {
  uintptr_t stack[32] = {0};
  stack[8] = (uintptr_t)&stack[16], stack[9] = 0x2222;
  stack[16] = (uintptr_t)&stack[24], stack[17] = 0x3333;
  stack[24] = 0x10, stack[25] = 0x4444; // a caller's fp below: the walk ends
  ucontext_t uc;
  memset(&uc, 0, sizeof uc);
  void *pcs[8];
#if defined(__x86_64__)
  uc.uc_mcontext.gregs[REG_RIP] = 0x1111;
  uc.uc_mcontext.gregs[REG_RBP] = (greg_t)&stack[8];
  int n = cio__ctx_interrupted_backtrace(&uc, pcs, 8, stack, stack + 32);
  ASSERT_EQ(n, 3);
  ASSERT(pcs[0] == (void *)0x1111 && pcs[1] == (void *)0x2222 && pcs[2] == (void *)0x3333);
#elif defined(__aarch64__)
  uc.uc_mcontext.pc = 0x1111;
  uc.uc_mcontext.regs[29] = (uintptr_t)&stack[8];
  uc.uc_mcontext.regs[30] = 0x1500; // a leaf's caller
  int n = cio__ctx_interrupted_backtrace(&uc, pcs, 8, stack, stack + 32);
  ASSERT_EQ(n, 4);
  ASSERT(pcs[0] == (void *)0x1111 && pcs[1] == (void *)0x1500);
  ASSERT(pcs[2] == (void *)0x2222 && pcs[3] == (void *)0x3333);
  uc.uc_mcontext.regs[30] = 0x2222; // already in the record: listed once
  ASSERT_EQ(cio__ctx_interrupted_backtrace(&uc, pcs, 8, stack, stack + 32), 3);
  ASSERT(pcs[1] == (void *)0x2222);
#endif
  // A frame pointer outside the stack: the program counter alone.
  ASSERT(cio__ctx_interrupted_backtrace(&uc, pcs, 8, stack + 20, stack + 32) >= 1);
  ASSERT(pcs[0] == (void *)0x1111);
  ASSERT_EQ(cio__ctx_interrupted_backtrace(&uc, pcs, 1, stack, stack + 32), 1);
}

static void run_blocking_plain(void) { ASSERT_EQ(cio_run(blocking_main, NULL), 0); }
static void release_mode_is_quiet(void) {
  unsetenv("CIO_DEBUG");
  char out[4096];
  int status = test_run_child(run_blocking_plain, out, sizeof out);
  ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT(strstr(out, "blocked") == NULL);
}

// A threshold too large for int64_t nanoseconds means "never", not the
// undefined conversion that made it negative (every 5 ms sample a block).
static void run_blocking_huge_threshold(void) {
  setenv("CIO_BLOCK_MS", "1e30", 1);
  run_blocking();
}
static void block_threshold_beyond_int64_ns_never_fires(void) {
  char out[8192];
  int status = test_run_child(run_blocking_huge_threshold, out, sizeof out);
  if (!WIFEXITED(status) || WEXITSTATUS(status)) fputs(out, stderr);
  ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT(strstr(out, "blocked") == NULL);
}

// ---------------------------------------------------------------- lost tasks

static int fails(void *arg) {
  (void)arg;
  return -EIO;
}
static int lost_main(void *arg) {
  (void)arg;
  ASSERT(cio_spawn_named("forgotten", fails, NULL)); // mistake 2: never joined
  ASSERT_EQ(cio_detach(cio_spawn_named("background", fails, NULL)), 0);
  ASSERT_EQ(cio_sleep(0.01), 0);
  return 0;
}
static void run_lost(void) {
  setenv("CIO_DEBUG", "1", 1);
  ASSERT_EQ(cio_run(lost_main, NULL), 0);
}
static void lost_and_unread_tasks_are_reported(void) {
  char out[4096];
  int status = test_run_child(run_lost, out, sizeof out);
  ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_STR_CONTAINS(out, "cio: task 'forgotten' (spawned at ");
  ASSERT_STR_CONTAINS(out, "test_debug.c:");
  ASSERT_STR_CONTAINS(out, "was never joined or detached: a lost task");
  ASSERT_STR_CONTAINS(out, "cio: detached task 'background'");
  ASSERT_STR_CONTAINS(out, "failed with Input/output error, and nobody will read it");
}

// ---------------------------------------------------------------- dumps

__attribute__((noinline)) int stuck_in_queue(cio_queue *q) {
  void *item;
  return cio_queue_get(q, &item);
}
static int consumer(void *arg) { return stuck_in_queue(arg); }
static int sleeper(void *arg) {
  (void)arg;
  return cio_sleep(30);
}
static int joiner(void *arg) { return cio_join(arg); }
static int pipe_reader(void *arg) {
  char b;
  return (int)cio_sock_read(arg, &b, 1);
}
static int dump_main(void *arg) {
  (void)arg;
  cio_queue *q = cio_queue_new(CIO_QUEUE_FIFO, 0);
  cio_task *c = cio_spawn_named("consumer", consumer, q);
  cio_task *s = cio_spawn_named("napper", sleeper, NULL);
  cio_task *j = cio_spawn_named("waits-for-napper", joiner, s);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  cio_sock *rd = cio_sock_wrap(fds[0]);
  cio_task *r = cio_spawn_named("reader", pipe_reader, rd);
  ASSERT_EQ(cio_sleep(0.02), 0);
  cio_task_counts n;
  ASSERT_EQ(cio_task_counts_get(&n), 5);
  ASSERT(n.running == 1 && n.waiting == 4);
  char *text;
  size_t len;
  FILE *f = open_memstream(&text, &len);
  ASSERT_EQ(cio_dump_tasks(f), 5);
  fclose(f);
  ASSERT_STR_CONTAINS(text, "consumer: waiting on queue get");
  ASSERT_STR_CONTAINS(text, "stuck_in_queue");              // read from the suspended task's frames
  ASSERT_STR_CONTAINS(text, "napper: waiting (sleep, 29."); // "29.98 s left": its deadline
  // In spawn order:
  ASSERT(strstr(text, "consumer:") < strstr(text, "napper:"));
  ASSERT(strstr(text, "napper:") < strstr(text, "waits-for-napper:"));
  ASSERT(strstr(text, "waits-for-napper:") < strstr(text, "reader:"));
  ASSERT_STR_CONTAINS(text, "waits-for-napper: waiting on join of 'napper'");
  ASSERT_STR_CONTAINS(text, " for 0.0"); // time in state (debug mode)
  ASSERT_STR_CONTAINS(text, "reader: waiting on socket read (fd ");
  ASSERT_STR_CONTAINS(text, "test_debug.c:");
  free(text);
  kill(getpid(), SIGQUIT); // Ctrl-\: a dump on stderr, not a core dump
  ASSERT_EQ(cio_sleep(0.05), 0);
  cio_cancel(c);
  cio_cancel(s);
  cio_cancel(r);
  ASSERT_EQ(cio_join(r), -ECANCELED);
  ASSERT_EQ(cio_sock_close(rd), 0);
  close(fds[1]);
  ASSERT_EQ(cio_join(c), -ECANCELED);
  ASSERT_EQ(cio_join(j), -ECANCELED);
  ASSERT_EQ(cio_queue_free(q), 0);
  return 0;
}
static void run_dump(void) {
  setenv("CIO_DEBUG", "stats", 1);
  ASSERT_EQ(cio_run(dump_main, NULL), 0);
}
static void task_dump_sigquit_and_stats(void) {
  char out[16384];
  int status = test_run_child(run_dump, out, sizeof out);
  if (!WIFEXITED(status) || WEXITSTATUS(status)) fputs(out, stderr);
  ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_STR_CONTAINS(out, "cio: 5 task(s) alive:"); // from SIGQUIT
  ASSERT_STR_CONTAINS(out, "consumer: waiting on queue get");
  ASSERT_STR_CONTAINS(out, "cio: stats: ");
  ASSERT_STR_CONTAINS(out, "context switches");
  ASSERT_EQ(cio_dump_tasks(NULL), -EPERM); // outside a loop
}

// ---------------------------------------------------------------- frames past the guard

// This file is built without stack probes (tests/CMakeLists.txt), like code
// compiled without the flags `pkg-config --cflags cio` prints: a 1 MiB
// array on a 64 KiB stack moves the stack pointer past the guard, into the
// stacks below (other tasks'), and memset faults where it first meets a
// guard.  The report names the task and the cause; it used to be a bare
// SIGSEGV.
__attribute__((noinline)) int fill_huge_frame(void) {
  char b[1 << 20];
  memset(b, 0x5a, sizeof b);
  __asm__ volatile("" : : "r"(b) : "memory"); // the memset is not optimized away
  return b[77];
}
static int unprobed_frame(void *arg) {
  (void)arg;
  return fill_huge_frame();
}
static int unprobed_main(void *arg) {
  (void)arg;
  cio_task *s[14];
  for (int i = 0; i < 14; i++) ASSERT(s[i] = cio_spawn_named("bystander", sleeper, NULL));
  ASSERT_EQ(cio_sleep(0.01), 0); // each has its stack, below the next one's
  cio_task *t = cio_spawn_named("unprobed", unprobed_frame, NULL);
  int rc = cio_join(t);
  for (int i = 0; i < 14; i++) cio_cancel(s[i]);
  for (int i = 0; i < 14; i++) ASSERT_EQ(cio_join(s[i]), -ECANCELED);
  return rc;
}
static void run_unprobed(void) { (void)cio_run(unprobed_main, NULL); }
static void frame_past_the_guard_is_named(void) {
  if (RUNNING_ON_VALGRIND) test_skip("deliberate stack overflow: valgrind reports it itself");
  char out[8192];
  int status = test_run_child(run_unprobed, out, sizeof out);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) fputs(out, stderr);
  ASSERT(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0));
  ASSERT_STR_CONTAINS(out, "cio: stack overflow in task 'unprobed' (id 16, spawned at ");
  ASSERT_STR_CONTAINS(out, ": a frame larger than the guard took its stack pointer ");
  ASSERT_STR_CONTAINS(out, " KiB past the end of its 64 KiB stack, beyond the ");
  ASSERT_STR_CONTAINS(out, "; the fault is at 0x");
  ASSERT_STR_CONTAINS(out, "pkg-config --cflags cio");
}

// Debug mode's watchdog borrows SIGURG (to take a blocking task's
// backtrace on its thread) and gives the program's own handler back when
// cio_run() returns (it kept cio's for good).
static void program_urg(int sig) { (void)sig; }

static int quiet_main(void *arg) {
  (void)arg;
  return cio_sleep(0.01);
}

static void sigurg_handler_is_given_back(void) {
  struct sigaction mine = {.sa_handler = program_urg}, now;
  sigemptyset(&mine.sa_mask);
  ASSERT_EQ(sigaction(SIGURG, &mine, NULL), 0);
  ASSERT_EQ(cio_run_opts(&(cio_opts){.debug = true}, quiet_main, NULL), 0);
  ASSERT_EQ(sigaction(SIGURG, NULL, &now), 0);
  ASSERT(now.sa_handler == program_urg);
}

static const test_case cases[] = {
    {"sigurg_handler_is_given_back", sigurg_handler_is_given_back, 0},
    {"blocking_the_loop_is_reported_while_it_happens",
     blocking_the_loop_is_reported_while_it_happens, 0},
    {"blocking_in_code_without_unwind_tables_is_named",
     blocking_in_code_without_unwind_tables_is_named, 0},
    {"interrupted_frames_are_walked_from_saved_registers",
     interrupted_frames_are_walked_from_saved_registers, 0},
    {"release_mode_is_quiet", release_mode_is_quiet, 0},
    {"block_threshold_beyond_int64_ns_never_fires", block_threshold_beyond_int64_ns_never_fires, 0},
    {"lost_and_unread_tasks_are_reported", lost_and_unread_tasks_are_reported, 0},
    {"task_dump_sigquit_and_stats", task_dump_sigquit_and_stats, 0},
    {"frame_past_the_guard_is_named", frame_past_the_guard_is_named, 0},
};
TEST_MAIN(cases)
