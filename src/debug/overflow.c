// SPDX-License-Identifier: MIT
//
// Stack overflow reports.  A task that runs off the end of its stack hits
// the guard region below it; the SIGSEGV handler (on an alternate signal
// stack, since the task's own stack is exhausted) checks whether the fault
// address is in the running task's guard and, if so, names the task before
// letting the signal kill the process as it would have.  On the canary path
// the scheduler finds the smashed canary at the next switch.
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
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
  char buf[512];
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

static void report(const cio_task *t, const cio__loop *L, const char *how) {
  struct msg m = {.len = 0};
  put(&m, "cio: stack overflow in task '");
  if (t->name) {
    put(&m, t->name);
  } else {
    put(&m, "task-");
    put_num(&m, t->id);
  }
  put(&m, "' (id ");
  put_num(&m, t->id);
  put(&m, ", spawned at ");
  put(&m, t->file ? t->file : "?");
  put(&m, ":");
  put_num(&m, (unsigned long long)t->line);
  put(&m, "): its ");
  put_num(&m, L->stacks.size / 1024);
  put(&m, " KiB stack is exhausted (");
  put(&m, how);
  put(&m, "). Raise it with cio_opts.stack_size or CIO_STACK_SIZE (e.g. CIO_STACK_SIZE=1M), "
          "or move large buffers off the stack.\n");
  ssize_t rc = write(STDERR_FILENO, m.buf, m.len);
  (void)rc;
}

static void on_fault(int sig, siginfo_t *si, void *uctx) {
  (void)uctx;
  cio__loop *L = cio__tls_loop;
  if (L && L->current && L->current->stack &&
      cio__stack_guard_hit(&L->stacks, L->current->stack, si->si_addr))
    report(L->current, L, "hit the guard below it");
  // Restore what was there and return: the fault repeats and takes its
  // normal course (core dump, or a sanitizer's report).
  sigaction(sig, sig == SIGSEGV ? &old_segv : &old_bus, NULL);
}

int cio__overflow_install(cio__loop *L) {
  (void)L;
  altstack = malloc(ALTSTACK_SIZE);
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
