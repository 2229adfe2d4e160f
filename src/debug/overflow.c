// SPDX-License-Identifier: MIT
//
// Stack overflow reports.  A task that runs off the end of its stack hits
// the guard region below it; the SIGSEGV handler (on an alternate signal
// stack, since the task's own stack is exhausted) works out where the fault
// is and, if it is cio's business, says so before letting the signal kill
// the process as it would have.  It names:
//   - an overflow: the fault is in the running task's guard, or the task's
//     stack pointer (read from the signal context) is below its stack;
//     when the stack pointer went past the guard, the cause is a frame
//     larger than the guard, which may have written into other tasks'
//     stacks before faulting (the message says which one it reached);
//   - a stray access: the fault is elsewhere in the stack arena (another
//     task's guard) while the running task's stack pointer is in its own
//     stack: both tasks are named.
// The slot holding an address is found by walking the loop's slabs
// (stack.c), its owner by walking the task records: both read only, no
// allocation, no stdio.  On the canary path the scheduler finds the smashed
// canary at the next switch instead.
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "../internal.h"
#include "../task/task.h"
#include "debug.h"

#define ALTSTACK_SIZE (64 * 1024)

static struct sigaction old_segv, old_bus;
static int installed; // loops using the handler (process-wide)
static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread stack_t old_altstack;
static __thread void *altstack;

// Async-signal-safe string building.
struct msg {
  char buf[1024];
  size_t len;
};

static void put(struct msg *m, const char *s) {
  while (*s && m->len < sizeof m->buf - 1) m->buf[m->len++] = *s++;
}

static void put_num(struct msg *m, unsigned long long v) {
  char tmp[24];
  int i = 0;
  do tmp[i++] = (char)('0' + v % 10);
  while ((v /= 10) && i < 23);
  while (i > 0 && m->len < sizeof m->buf - 1) m->buf[m->len++] = tmp[--i];
}

static void put_hex(struct msg *m, uintptr_t v) {
  char tmp[2 * sizeof v];
  int i = 0;
  do tmp[i++] = "0123456789abcdef"[v & 15];
  while ((v >>= 4) && i < (int)sizeof tmp);
  put(m, "0x");
  while (i > 0 && m->len < sizeof m->buf - 1) m->buf[m->len++] = tmp[--i];
}

static void put_kib(struct msg *m, uintptr_t bytes) {
  put_num(m, (bytes + 1023) / 1024);
  put(m, " KiB");
}

// "task 'name' (id N, spawned at file:line)"
static void put_task(struct msg *m, const cio_task *t) {
  put(m, "task '");
  if (t->name) {
    put(m, t->name);
  } else {
    put(m, "task-");
    put_num(m, t->id);
  }
  put(m, "' (id ");
  put_num(m, t->id);
  put(m, ", spawned at ");
  put(m, t->file ? t->file : "?");
  put(m, ":");
  put_num(m, (unsigned long long)t->line);
  put(m, ")");
}

static void emit(const struct msg *m) {
  ssize_t rc = write(STDERR_FILENO, m->buf, m->len);
  (void)rc;
}

static void report(const cio_task *t, const cio__loop *L, const char *how) {
  struct msg m = {.len = 0};
  put(&m, "cio: stack overflow in ");
  put_task(&m, t);
  put(&m, ": its ");
  put_kib(&m, L->stacks.size);
  put(&m, " stack is exhausted (");
  put(&m, how);
  put(&m, "). Raise it with cio_opts.stack_size or CIO_STACK_SIZE (e.g. CIO_STACK_SIZE=1M), "
          "or move large buffers off the stack.\n");
  emit(&m);
}

// The task whose stack is `s` (running, suspended, or not yet started with
// a stack taken early), or NULL if none holds it.  Walks every record: the
// cost of one task dump, paid once, as the process dies.
static const cio_task *stack_owner(cio__loop *L, const cio__stack *s) {
  if (L->current && L->current->stack == s) return L->current;
  cio__task_iter it;
  for (cio_task *t = cio__task_iter_first(L, &it); t; t = cio__task_iter_next(L, &it))
    if (t->stack == s) return t;
  return NULL;
}

// "in the guard below the stack of task ..." / "inside a stack no task
// holds" / "in its own guard" (below the stack of `self`) / "outside the
// stack arena"
static void put_place(struct msg *m, cio__loop *L, const void *addr, const cio__stack *self) {
  cio__stack_where w;
  if (!cio__stack_locate(&L->stacks, addr, &w)) {
    put(m, "outside the stack arena");
    return;
  }
  if (w.stack == self && w.in_guard) {
    put(m, "in its own guard");
    return;
  }
  put(m, w.in_guard ? "in the guard below " : "inside ");
  const cio_task *owner = stack_owner(L, w.stack);
  if (owner) {
    put(m, "the stack of ");
    put_task(m, owner);
  } else {
    put(m, "a stack no task holds");
  }
}

// Task t's stack pointer went `below` bytes past the end of its stack,
// beyond the guard: a frame larger than the guard.  If the fault is in its
// own guard, the frame touched the guard first, as probed code does (GCC's
// probes on AArch64 move the stack pointer 64 KiB, then store): nothing
// past the guard was written.  Elsewhere, the frame's writes so far may
// have landed in other stacks.
static void report_big_frame(cio__loop *L, const cio_task *t, const void *addr, uintptr_t below) {
  struct msg m = {.len = 0};
  put(&m, "cio: stack overflow in ");
  put_task(&m, t);
  put(&m, ": a frame larger than the guard took its stack pointer ");
  put_kib(&m, below);
  put(&m, " past the end of its ");
  put_kib(&m, L->stacks.size);
  put(&m, " stack, beyond the ");
  put_kib(&m, L->stacks.guard_size);
  put(&m, " guard; the fault is at ");
  put_hex(&m, (uintptr_t)addr);
  put(&m, ", ");
  put_place(&m, L, addr, t->stack);
  uintptr_t a = (uintptr_t)addr, lo = (uintptr_t)t->stack->lo;
  if (!(a < lo && a >= lo - L->stacks.guard_size))
    put(&m, ". What the frame wrote before the fault may have overwritten other tasks' stacks. "
            "Build with the flags `pkg-config --cflags cio` prints (-fstack-clash-protection), "
            "so that a large frame faults in the guard before writing anything");
  put(&m, ". The task needs a stack of more than ");
  put_kib(&m, L->stacks.size + below);
  put(&m, ": raise it with cio_opts.stack_size or CIO_STACK_SIZE, or move large buffers off the "
          "stack.\n");
  emit(&m);
}

// A fault elsewhere in the arena, with the running code's stack pointer
// not below its stack: a stray pointer, not an overflow.
static void report_stray(cio__loop *L, const cio_task *t, const void *addr, bool in_guard) {
  struct msg m = {.len = 0};
  put(&m, "cio: invalid access at ");
  put_hex(&m, (uintptr_t)addr);
  put(&m, " in the stack arena, ");
  put_place(&m, L, addr, NULL);
  if (t) {
    put(&m, ", by ");
    put_task(&m, t);
    put(&m, ": not an overflow of its own stack");
  } else {
    put(&m, ", by the loop itself (no task running): not a stack overflow");
  }
  if (in_guard)
    put(&m, " but a pointer past the low end of that stack (an out-of-bounds index into a buffer "
            "on it, or a pointer to a stack that has since been reused)");
  put(&m, ".\n");
  emit(&m);
}

// The stack pointer at the fault, or 0 where we do not know how to read it.
static uintptr_t fault_sp(const void *uctx) {
  const ucontext_t *uc = uctx;
#if defined(__x86_64__)
  return (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
  return (uintptr_t)uc->uc_mcontext.sp;
#else
  (void)uc;
  return 0;
#endif
}

// How far below the stack pointer a fault still belongs to the frame: a
// call's return address, a callee's own frame (the guard catches larger ones).
#define BELOW_SP (64 * 1024)

static void explain(cio__loop *L, const void *addr, uintptr_t sp) {
  // The code on the CPU runs on the current task's stack, or (during a loop
  // pass between tasks) on the stack of the task it borrowed.
  const cio_task *t = L->current ? L->current : L->pass_host;
  const cio__stack *s = t ? t->stack : NULL;
  uintptr_t a = (uintptr_t)addr;
  if (s) {
    uintptr_t lo = (uintptr_t)s->lo, hi = lo + s->size, guard = L->stacks.guard_size;
    if (sp && sp < lo && a < hi && a + BELOW_SP >= sp) {
      if (sp < lo - guard)
        report_big_frame(L, t, addr, lo - sp);
      else
        report(t, L, "hit the guard below it");
      return;
    }
    // A push at the very end of the stack faults with the stack pointer
    // still in it.  Where the stack pointer cannot be read, a fault up to a
    // guard further down is taken for a frame that skipped the guard.
    if (a < lo && a >= lo - (sp ? 1 : 2) * guard) {
      report(t, L, "hit the guard below it");
      return;
    }
  }
  cio__stack_where w;
  if (cio__stack_locate(&L->stacks, addr, &w)) report_stray(L, L->current, addr, w.in_guard);
}

static void on_fault(int sig, siginfo_t *si, void *uctx) {
  cio__loop *L = cio__tls_loop;
  if (L) explain(L, si->si_addr, fault_sp(uctx));
  // Restore what was there and return: the fault repeats and takes its
  // normal course (core dump, or a sanitizer's report).
  sigaction(sig, sig == SIGSEGV ? &old_segv : &old_bus, NULL);
}

int cio__overflow_install(cio__loop *L) {
  (void)L;
  altstack = cio__malloc(ALTSTACK_SIZE);
  if (!altstack) return -ENOMEM;
  stack_t ss = {.ss_sp = altstack, .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
  if (sigaltstack(&ss, &old_altstack) < 0) {
    free(altstack);
    altstack = NULL;
    return -errno;
  }
  pthread_mutex_lock(&install_lock);
  if (installed++ == 0) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &old_segv);
    sigaction(SIGBUS, &sa, &old_bus);
  }
  pthread_mutex_unlock(&install_lock);
  return 0;
}

void cio__overflow_uninstall(cio__loop *L) {
  (void)L;
  pthread_mutex_lock(&install_lock);
  if (--installed == 0) {
    sigaction(SIGSEGV, &old_segv, NULL);
    sigaction(SIGBUS, &old_bus, NULL);
  }
  pthread_mutex_unlock(&install_lock);
  sigaltstack(&old_altstack, NULL);
  free(altstack);
  altstack = NULL;
}

_Noreturn void cio__overflow_canary(cio_task *t) {
  report(t, cio__tls_loop, "its canary was overwritten");
  abort();
}
