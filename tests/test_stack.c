// SPDX-License-Identifier: MIT
//
// Stacks: a million concurrently sleeping tasks on a stock kernel, stack
// reuse, the configured size, and overflow reports naming the task on each
// guard strategy (guard region, mprotect page, canary).
#include <alloca.h>
#include <cio.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "context/valgrind_compat.h"
#include "helpers/test.h"
#include "task/task.h"

static int nap(void *arg) {
  (void)arg;
  return cio_sleep(0.5);
}

static int million_main(void *arg) {
  long n = *(long *)arg;
  cio_task **t = malloc(sizeof *t * (size_t)n);
  ASSERT(t);
  for (long i = 0; i < n; i++) {
    t[i] = cio_spawn(nap, NULL);
    ASSERT(t[i]);
  }
  ASSERT_EQ(cio_sleep(0.1), 0);
  ASSERT_EQ(cio_all_tasks(NULL, 0), (size_t)n + 1); // all alive at once
  for (long i = 0; i < n; i++) ASSERT_EQ(cio_join(t[i]), 0);
  free(t);
  return 0;
}

static void million_tasks_sleep_concurrently(void) {
  long n = (long)(1000000 * test_scale());
  FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
  long maps = 0;
  if (f) {
    if (fscanf(f, "%ld", &maps) != 1) maps = 0;
    fclose(f);
  }
  printf("  %ld tasks, vm.max_map_count %ld\n", n, maps);
  ASSERT_EQ(cio_run(million_main, &n), 0);
}

// Without guard regions (older kernels): mprotect guards while the mapping
// budget lasts, canaries beyond it; 200,000 tasks still run.
static void many_tasks_on_fallback_guards(void) {
  setenv("CIO_STACK_GUARD", "mprotect", 1);
  long n = (long)(200000 * test_scale());
  ASSERT_EQ(cio_run(million_main, &n), 0);
}

// Past 4096 stacks a helper thread maps and touches slabs ahead of demand;
// tasks running on its stacks work like any other (and under TSan, the
// hand-over between the threads is race-free).  7,500 tasks stay under
// TSan's limit of 8,128 fibers.
static int prefetch_main(void *arg) {
  long n = *(long *)arg;
  ASSERT_EQ(million_main(arg), 0);
  ASSERT(cio__tls_loop->stacks.prefetching);
  ASSERT(cio__tls_loop->stacks.total >= (size_t)n);
  return 0;
}
static void prefetched_stacks_work(void) {
  long n = 7500;
  ASSERT_EQ(cio_run(prefetch_main, &n), 0);
}

// 16 KiB of buffers on the stack fit the default stack; the size is honoured.
static int big_frame(void *arg) {
  size_t kib = (size_t)(uintptr_t)arg;
  volatile char *buf = alloca(kib * 1024);
  for (size_t i = 0; i < kib * 1024; i += 512) buf[i] = (char)i;
  return cio_yield() < 0 ? -1 : buf[512];
}
static int frame_main(void *arg) {
  (void)arg;
  cio_task *t = cio_spawn(big_frame, (void *)(uintptr_t)16);
  return cio_join(t) == 0 ? 0 : 1;
}
static void default_stack_holds_buffers(void) { ASSERT_EQ(cio_run(frame_main, NULL), 0); }

static int big_main(void *arg) {
  (void)arg;
  cio_task *t = cio_spawn(big_frame, (void *)(uintptr_t)900);
  return cio_join(t) == 0 ? 0 : 1;
}
static void stack_size_option(void) {
  cio_opts o = {.stack_size = 1 << 20 | 64 << 10};
  ASSERT_EQ(cio_run_opts(&o, big_main, NULL), 0);
}

// Overflow: unbounded recursion in a named task.
#pragma GCC diagnostic ignored "-Winfinite-recursion"
static int recurse_forever(int depth) {
  volatile char pad[256];
  pad[0] = (char)depth;
  return recurse_forever(depth + 1) + pad[0];
}
static int overflow_task(void *arg) {
  (void)arg;
  return recurse_forever(0);
}
static int overflow_main(void *arg) {
  (void)arg;
  cio_task *t = cio_spawn_named("deep-thinker", overflow_task, NULL);
  return cio_join(t);
}
static void run_overflow(void) { cio_run(overflow_main, NULL); }

// The same with 100 tasks holding stacks first: the overflowing task's stack
// comes from a later slab, from the middle of a batch of guards installed
// with one system call (stack.c), which must be as real as the first.
static int crowded_overflow_main(void *arg) {
  (void)arg;
  double d = 30;
  for (int i = 0; i < 100; i++) (void)cio_detach(cio_spawn(nap, &d));
  if (cio_sleep(0.01) < 0) return -1;
  cio_task *t = cio_spawn_named("deep-thinker", overflow_task, NULL);
  return cio_join(t);
}
static void run_crowded_overflow(void) { cio_run(crowded_overflow_main, NULL); }

// Death tests: valgrind would report the deliberate overflow itself.
static void skip_under_valgrind(void) {
  if (RUNNING_ON_VALGRIND) test_skip("deliberate stack overflow: valgrind reports it itself");
}

static void expect_overflow_report(const char *guard) {
  skip_under_valgrind();
  if (guard) setenv("CIO_STACK_GUARD", guard, 1);
  char out[4096];
  int status = test_run_child(run_overflow, out, sizeof out);
  // It still dies (by the signal, or by ASan's report): no silent corruption.
  ASSERT(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0));
  ASSERT_STR_CONTAINS(out, "stack overflow in task 'deep-thinker'");
  ASSERT_STR_CONTAINS(out, "64 KiB stack");
  ASSERT_STR_CONTAINS(out, "CIO_STACK_SIZE");
}

static void overflow_reported_guard_region(void) { expect_overflow_report(NULL); }
static void overflow_reported_in_a_later_slab(void) {
  skip_under_valgrind();
  char out[4096];
  int status = test_run_child(run_crowded_overflow, out, sizeof out);
  ASSERT(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0));
  ASSERT_STR_CONTAINS(out, "stack overflow in task 'deep-thinker'");
}
static void overflow_reported_mprotect_guard(void) { expect_overflow_report("mprotect"); }

// The canary path: an overflow that stays within the bottom of the stack
// (it smashes the canary word but never reaches unmapped memory) is caught
// at the next switch.
static int smash_canary(void *arg) {
  (void)arg;
  // Overwrite the canary word at the low end of our stack (white box).
  *(volatile uint64_t *)(void *)cio__rec(cio_current())->stack->lo = 0;
  return cio_yield();
}
static int canary_main(void *arg) {
  (void)arg;
  cio_task *t = cio_spawn_named("canary-smasher", smash_canary, NULL);
  return cio_join(t);
}
static void run_canary(void) { cio_run(canary_main, NULL); }
static void overflow_reported_canary(void) {
  skip_under_valgrind();
  setenv("CIO_STACK_GUARD", "canary", 1);
  char out[4096];
  int status = test_run_child(run_canary, out, sizeof out);
  ASSERT(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0));
  ASSERT_STR_CONTAINS(out, "stack overflow in task 'canary-smasher'");
  ASSERT_STR_CONTAINS(out, "canary was overwritten");
  // And real recursion on the canary path does not run silently either.
  status = test_run_child(run_overflow, out, sizeof out);
  ASSERT(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0));
}

// A frame larger than the guard: a 1 MiB array on a 64 KiB stack, in a task
// spawned after fourteen sleepers, whose stacks lie below its own in the
// same slab.  Built with stack probes (tests/CMakeLists.txt gives this file
// -fstack-clash-protection, as `pkg-config --cflags cio` gives programs),
// the frame faults in its own guard before it writes anything: the report
// names the task, and every sleeper's stack is intact.  (Without probes its
// write 512 KiB down landed in a sleeper's stack and cio_run returned 0.)
// The child's own SIGSEGV handler, which cio's hands the fault back to,
// checks the sleepers' stacks and exits 3.
#define SLEEPERS 14
#define SENTINEL_BYTES (40 * 1024)
#define SENTINEL_EXIT 3
static volatile char *sentinel[SLEEPERS];

static int sentinel_sleeper(void *arg) {
  volatile char pad[SENTINEL_BYTES];
  for (size_t i = 0; i < sizeof pad; i++) pad[i] = (char)0xa5;
  sentinel[(intptr_t)arg] = pad;
  int rc = cio_sleep(30);
  return rc < 0 ? rc : pad[0];
}
static bool sentinels_intact(void) {
  for (int i = 0; i < SLEEPERS; i++)
    for (size_t j = 0; j < SENTINEL_BYTES; j++)
      if (sentinel[i][j] != (char)0xa5) return false;
  return true;
}
static void say_sentinels(void) {
  const char *m = sentinels_intact() ? "test: every sleeper's stack is intact\n"
                                     : "test: a sleeper's stack was overwritten\n";
  ssize_t rc = write(STDERR_FILENO, m, strlen(m));
  (void)rc;
}
static void on_segv_check_sentinels(int sig) {
  (void)sig;
  say_sentinels();
  _exit(SENTINEL_EXIT);
}
__attribute__((noinline)) static int huge_frame(void *arg) {
  (void)arg;
  volatile char b[1 << 20];
  for (int i = 0; i < 64; i++) b[(512 << 10) + i] = 0x5a;
  return cio_yield() < 0 ? -1 : b[512 << 10];
}
static int huge_frame_main(void *arg) {
  (void)arg;
  cio_task *s[SLEEPERS];
  for (intptr_t i = 0; i < SLEEPERS; i++) ASSERT(s[i] = cio_spawn(sentinel_sleeper, (void *)i));
  ASSERT_EQ(cio_sleep(0.01), 0); // each has its stack, in spawn order
  cio_task *t = cio_spawn_named("huge-frame", huge_frame, NULL);
  int rc = cio_join(t);
  say_sentinels(); // reached only if the frame did not fault
  for (int i = 0; i < SLEEPERS; i++) cio_cancel(s[i]);
  for (int i = 0; i < SLEEPERS; i++) ASSERT_EQ(cio_join(s[i]), -ECANCELED);
  return rc;
}
static bool huge_frame_debug;
static void run_huge_frame(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_segv_check_sentinels;
  sa.sa_flags = SA_ONSTACK; // on cio's alternate stack: the task's is exhausted
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, NULL);
  cio_opts o = {.debug = huge_frame_debug}; // debug mode: the watchdog runs too
  (void)cio_run_opts(&o, huge_frame_main, NULL);
}
static void expect_huge_frame_caught(const char *guard, bool debug) {
  skip_under_valgrind();
#ifdef CIO_TEST_NO_STACK_PROBES
  test_skip("this compiler has no -fstack-clash-protection: the frame is not probed");
#endif
  if (guard) setenv("CIO_STACK_GUARD", guard, 1);
  huge_frame_debug = debug;
  char out[8192];
  int status = test_run_child(run_huge_frame, out, sizeof out);
  // (On AArch64, GCC's probes move the stack pointer 64 KiB before they
  // store: the report then says how far, and that the fault is in its own
  // guard.)
  bool named =
      strstr(out, "cio: stack overflow in task 'huge-frame'") &&
      (strstr(out, "64 KiB stack is exhausted (hit the guard below it)") ||
       (strstr(out, " KiB guard; the fault is at 0x") && strstr(out, ", in its own guard.")));
  bool intact = strstr(out, "test: every sleeper's stack is intact") != NULL;
  if (!named || !intact || strstr(out, "may have overwritten")) fputs(out, stderr);
  ASSERT(named);
  ASSERT(intact);
  ASSERT(!strstr(out, "may have overwritten"));
  ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == SENTINEL_EXIT);
}
static void huge_frame_faults_in_its_guard(void) { expect_huge_frame_caught(NULL, false); }
static void huge_frame_faults_in_its_guard_debug(void) { expect_huge_frame_caught(NULL, true); }
static void huge_frame_faults_in_its_mprotect_guard(void) {
  expect_huge_frame_caught("mprotect", false);
}

// A stray pointer into the arena: a task writes just below the low end of a
// sleeping task's stack (its guard), or of a stack no task holds.  The
// report names the place, its owner, and the task that wrote.
static uintptr_t stray_target;
static int stray_writer(void *arg) {
  (void)arg;
  if (cio_yield() < 0) return -1; // a finished task's stack is back in the pool by now
  *(volatile char *)stray_target = 1;
  return 0;
}
static int note_stack(void *arg) {
  stray_target = (uintptr_t)cio__rec(cio_current())->stack->lo - 100; // white box: its guard
  double nap_s = *(double *)arg;
  return nap_s > 0 ? cio_sleep(nap_s) : 0; // 0: finishes before the writer runs
}
static int stray_main(void *arg) {
  double nap_s = *(double *)arg; // 30: the owner sleeps; 0: it has finished
  cio_task *v = cio_spawn_named("victim", note_stack, &nap_s);
  cio_task *w = cio_spawn_named("stray-writer", stray_writer, NULL);
  int rc = cio_join(w);
  cio_cancel(v);
  int vrc = cio_join(v);
  return rc < 0 ? rc : vrc;
}
static double stray_nap;
static void run_stray(void) { (void)cio_run(stray_main, &stray_nap); }
static void expect_stray_report(double nap_s, const char *place) {
  skip_under_valgrind();
  stray_nap = nap_s;
  char out[4096];
  int status = test_run_child(run_stray, out, sizeof out);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) fputs(out, stderr);
  ASSERT(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0));
  ASSERT_STR_CONTAINS(out, "cio: invalid access at 0x");
  ASSERT_STR_CONTAINS(out, place);
  ASSERT_STR_CONTAINS(out, ", by task 'stray-writer' (id 3, spawned at ");
  ASSERT_STR_CONTAINS(out, "not an overflow of its own stack but a pointer past the low end");
  ASSERT(!strstr(out, "stack overflow"));
}
static void stray_write_into_a_sleeping_tasks_guard_is_named(void) {
  expect_stray_report(30, "in the stack arena, in the guard below the stack of task 'victim' (id "
                          "2, spawned at ");
}
static void stray_write_below_a_free_stack_is_named(void) {
  expect_stray_report(0, "in the stack arena, in the guard below a stack no task holds");
}

// Finished tasks give their stacks back: 100,000 sequential spawn+join
// cycles reuse a handful of stacks (RSS stays flat).
static long rss_kib(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, rss = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
    fclose(f);
  }
  return rss * (sysconf(_SC_PAGESIZE) / 1024);
}
static int touch(void *arg) {
  (void)arg;
  volatile char buf[8192];
  buf[0] = 1;
  buf[8191] = 1;
  return buf[0];
}
static int reuse_main(void *arg) {
  (void)arg;
  for (int i = 0; i < 1000; i++) ASSERT_EQ(cio_join(cio_spawn(touch, NULL)), 1);
  long before = rss_kib();
  int cycles = (int)(100000 * test_scale());
  for (int i = 0; i < cycles; i++) ASSERT_EQ(cio_join(cio_spawn(touch, NULL)), 1);
  long after = rss_kib();
  ASSERT(after - before < 1024); // 100,000 fresh stacks would be 800 MiB
  return 0;
}
static void finished_stacks_are_reused(void) { ASSERT_EQ(cio_run(reuse_main, NULL), 0); }

// After a burst, stacks no task needed for a trim period (1 s) are given
// back to the kernel down to a reserve of 1,024, and tasks run fine on them
// afterwards (zeroed again; with canary guards, the canary is restored).
// 7,500 tasks: enough to start the helper thread, under TSan's fiber limit.
static int patterned(void *arg) {
  int seed = (int)(intptr_t)arg;
  char buf[8192];
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = (char)(seed + (int)i);
  ASSERT_EQ(cio_sleep(0.02), 0);
  for (size_t i = 0; i < sizeof buf; i++) ASSERT_EQ(buf[i], (char)(seed + (int)i));
  return seed;
}
static int burst(long n) {
  cio_task **t = malloc(sizeof *t * (size_t)n);
  ASSERT(t);
  for (long i = 0; i < n; i++) ASSERT(t[i] = cio_spawn(patterned, (void *)(intptr_t)(i % 1000)));
  for (long i = 0; i < n; i++) ASSERT_EQ(cio_join(t[i]), i % 1000);
  free(t);
  return 0;
}
static int trim_main(void *arg) {
  (void)arg;
  cio__stack_pool *p = &cio__tls_loop->stacks;
  long n = 7500;
  double b0 = cio_now();
  ASSERT_EQ(burst(n), 0);
  double burst_s = cio_now() - b0;
  long peak = rss_kib();
  ASSERT_EQ(p->released, 0);
  double t0 = cio_now();
  // A period that began during the burst releases only what sat idle all
  // of it; the rest goes in the next period's batch.
  size_t expect = (size_t)n - CIO__STACK_KEEP - 100;
  while ((p->released < expect || p->batch_out) && cio_now() - t0 < 20)
    ASSERT_EQ(cio_sleep(0.1), 0);
  // Not before a full idle period.  (Under TSan the burst takes seconds and
  // its first stacks are idle that long before it ends.)
  if (burst_s < 0.4) ASSERT_BETWEEN(cio_now() - t0, 0.5, 20);
  ASSERT_EQ(p->nfree + p->live, p->total); // taken back into the pool
  ASSERT_EQ(p->clean, p->released);        // at the bottom of the free list
  ASSERT(p->released >= expect);
  // Two 4 KiB pages at least (8 KiB buffers) per released stack.
  if (!RUNNING_ON_VALGRIND) ASSERT(peak - rss_kib() > (long)p->released * 7);
  ASSERT_EQ(burst(n), 0); // on released stacks
  ASSERT_EQ(cio_sleep(0.01), 0);
  return 0;
}
static void idle_stacks_are_released_after_a_burst(void) { ASSERT_EQ(cio_run(trim_main, NULL), 0); }
static void idle_canary_stacks_are_released_after_a_burst(void) {
  setenv("CIO_STACK_GUARD", "canary", 1);
  ASSERT_EQ(cio_run(trim_main, NULL), 0);
}

// Out of memory for stacks: with the address space capped (RLIMIT_AS), a
// task that cannot get a stack fails with -ENOMEM and the others run; the
// warning comes a dozen times, not once per task; once memory is back the
// same loop runs new tasks again.  (Sanitizers and valgrind reserve address
// space of their own, so the cap means nothing there.)
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#else
#define UNDER_SANITIZER 0
#endif
static long vm_kib(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0;
  if (f) {
    if (fscanf(f, "%ld", &pages) != 1) pages = 0;
    fclose(f);
  }
  return pages * (sysconf(_SC_PAGESIZE) / 1024);
}
static int short_sleeper(void *arg) {
  (void)arg;
  return cio_sleep(0.01) == 0 ? 1 : -1;
}
enum { OOM_TASKS = 3000 };
static cio_task *oom_tasks[OOM_TASKS];
static int oom_main(void *arg) {
  (void)arg;
  struct rlimit old, tight;
  ASSERT_EQ(getrlimit(RLIMIT_AS, &old), 0);
  tight = old;
  tight.rlim_cur = (rlim_t)(vm_kib() + 24 * 1024) * 1024; // room for ~240 stacks
  ASSERT_EQ(setrlimit(RLIMIT_AS, &tight), 0);
  int ran = 0, nomem = 0, unspawned = 0;
  for (int i = 0; i < OOM_TASKS; i++) unspawned += !(oom_tasks[i] = cio_spawn(short_sleeper, NULL));
  for (int i = 0; i < OOM_TASKS; i++) {
    if (!oom_tasks[i]) continue;
    int rc = cio_join(oom_tasks[i]);
    if (rc == 1)
      ran++;
    else if (rc == -ENOMEM)
      nomem++;
    else
      ASSERT_EQ(rc, -ENOMEM);
  }
  ASSERT_EQ(setrlimit(RLIMIT_AS, &old), 0);
  printf("     capped: %d ran, %d failed with -ENOMEM, %d not spawned\n", ran, nomem, unspawned);
  // The cap leaves room for ~240 stacks; what else the loop maps meanwhile
  // (record arenas, the timer slots reserved at each spawn, small slabs in
  // the CIO_TINY build: 93 there) takes part of it.
  ASSERT(ran >= 50 && nomem >= 1000);
  for (int i = 0; i < OOM_TASKS; i++) ASSERT(oom_tasks[i] = cio_spawn(short_sleeper, NULL));
  for (int i = 0; i < OOM_TASKS; i++) ASSERT_EQ(cio_join(oom_tasks[i]), 1);
  return 0;
}
static void oom_main_child(void) { ASSERT_EQ(cio_run(oom_main, NULL), 0); }
static void out_of_memory_for_stacks_is_a_clean_error(void) {
  if (UNDER_SANITIZER || RUNNING_ON_VALGRIND || getenv("CIO_TEST_EMULATED"))
    test_skip("an address-space cap means nothing here");
  static char out[1 << 16];
  int status = test_run_child(oom_main_child, out, sizeof out);
  fputs(out, stdout);
  ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_STR_CONTAINS(out, "could not get a stack (out of memory); it fails with -ENOMEM");
  ASSERT_STR_CONTAINS(out, "2048 tasks so far could not get a stack");
  size_t lines = 0;
  for (const char *p = out; (p = strstr(p, "could not get a stack")); p++) lines++;
  ASSERT(lines <= 13); // 1, then 2, 4, ... 2048
}

static const test_case cases[] = {
    {"million_tasks_sleep_concurrently", million_tasks_sleep_concurrently, 120},
    {"many_tasks_on_fallback_guards", many_tasks_on_fallback_guards, 120},
    {"prefetched_stacks_work", prefetched_stacks_work, 120},
    {"default_stack_holds_buffers", default_stack_holds_buffers, 0},
    {"stack_size_option", stack_size_option, 0},
    {"overflow_reported_guard_region", overflow_reported_guard_region, 0},
    {"overflow_reported_in_a_later_slab", overflow_reported_in_a_later_slab, 0},
    {"overflow_reported_mprotect_guard", overflow_reported_mprotect_guard, 0},
    {"overflow_reported_canary", overflow_reported_canary, 0},
    {"huge_frame_faults_in_its_guard", huge_frame_faults_in_its_guard, 0},
    {"huge_frame_faults_in_its_guard_debug", huge_frame_faults_in_its_guard_debug, 0},
    {"huge_frame_faults_in_its_mprotect_guard", huge_frame_faults_in_its_mprotect_guard, 0},
    {"stray_write_into_a_sleeping_tasks_guard_is_named",
     stray_write_into_a_sleeping_tasks_guard_is_named, 0},
    {"stray_write_below_a_free_stack_is_named", stray_write_below_a_free_stack_is_named, 0},
    {"finished_stacks_are_reused", finished_stacks_are_reused, 0},
    {"out_of_memory_for_stacks_is_a_clean_error", out_of_memory_for_stacks_is_a_clean_error, 0},
    {"idle_stacks_are_released_after_a_burst", idle_stacks_are_released_after_a_burst, 60},
    {"idle_canary_stacks_are_released_after_a_burst", idle_canary_stacks_are_released_after_a_burst,
     60},
};
TEST_MAIN(cases)
