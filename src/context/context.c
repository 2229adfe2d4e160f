// SPDX-License-Identifier: MIT
//
// Building a fresh context on a new stack, and the sanitizer annotations
// (ASan fibers, TSan fibers, valgrind stacks) that make switching stacks
// visible to the tools.
#include "context.h"

#include <stdint.h>
#include <string.h>
#include <ucontext.h>

#include "valgrind_compat.h"

#ifdef CIO_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

#ifdef CIO_CONTEXT_UCONTEXT

void cio__ctx_make(cio__ctx *c, void *lo, size_t size, void (*entry)(void)) {
  getcontext(&c->uc);
  c->uc.uc_stack.ss_sp = lo;
  c->uc.uc_stack.ss_size = size;
  c->uc.uc_link = NULL;
  makecontext(&c->uc, entry, 0);
}

#else

void cio__ctx_trampoline(void);

#if defined(__x86_64__)
// The frame cio__ctx_switch pops, from the saved stack pointer upward.
struct initial_frame {
  uint32_t mxcsr, x87cw;                      // FP control words
  uint64_t r15, r14, r13, r12, rbx, rbp, ret; // r12 holds entry()
};

void cio__ctx_make(cio__ctx *c, void *lo, size_t size, void (*entry)(void)) {
  uintptr_t hi = ((uintptr_t)lo + size) & ~(uintptr_t)15;
  struct initial_frame *f = (struct initial_frame *)(hi - 16 - sizeof *f);
  memset(f, 0, sizeof *f);
  f->mxcsr = 0x1F80; // all exceptions masked, round to nearest (the ABI's initial state)
  f->x87cw = 0x037F;
  f->r12 = (uint64_t)(uintptr_t)entry;
  f->ret = (uint64_t)(uintptr_t)cio__ctx_trampoline;
  c->sp = f;
}
#elif defined(__aarch64__)
// The 176-byte frame cio__ctx_switch pops (offsets as in switch_aarch64.S).
struct initial_frame {
  uint64_t x19_x28[10]; // x19 holds entry()
  uint64_t d8_d15[8];
  uint64_t fpcr;
  uint64_t pad;
  uint64_t x29, x30; // x30 = trampoline
};

void cio__ctx_make(cio__ctx *c, void *lo, size_t size, void (*entry)(void)) {
  uintptr_t hi = ((uintptr_t)lo + size) & ~(uintptr_t)15;
  struct initial_frame *f = (struct initial_frame *)(hi - 16 - sizeof *f);
  memset(f, 0, sizeof *f);
  f->x19_x28[0] = (uint64_t)(uintptr_t)entry;
  f->x30 = (uint64_t)(uintptr_t)cio__ctx_trampoline;
  c->sp = f;
}
#else
#error "no assembly context switch for this architecture: configure with -DCIO_CONTEXT=ucontext"
#endif

#endif // CIO_CONTEXT_UCONTEXT

// Follows the frame-pointer chain from (fp, pc): each frame holds the
// caller's fp at [fp] and the return address at [fp + 8].  Reads saved
// frame pointers and return addresses anywhere in the stack, including
// words ASan keeps as redzones: not instrumented.
__attribute__((no_sanitize("address"))) static int
walk_frames(uintptr_t fp, uintptr_t pc, void **pcs, int max, const void *lo, const void *hi) {
  int n = 0;
  while (n < max && pc) {
    pcs[n++] = (void *)pc;
    if (fp < (uintptr_t)lo || fp + 16 > (uintptr_t)hi || (fp & 7)) break;
    const uintptr_t *frame = (const uintptr_t *)fp;
    if (frame[0] <= fp) break; // frames go up the stack; stop at garbage
    pc = frame[1];
    fp = frame[0];
  }
  return n;
}

#if defined(CIO_CONTEXT_UCONTEXT)
// swapcontext saved the registers in the ucontext_t: the program counter is
// where the task will resume, the frame pointer its innermost frame.
int cio__ctx_backtrace(const cio__ctx *c, void **pcs, int max, const void *lo, const void *hi) {
#if defined(__x86_64__)
  uintptr_t fp = (uintptr_t)c->uc.uc_mcontext.gregs[REG_RBP];
  uintptr_t pc = (uintptr_t)c->uc.uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
  uintptr_t fp = (uintptr_t)c->uc.uc_mcontext.regs[29];
  uintptr_t pc = (uintptr_t)c->uc.uc_mcontext.pc;
#else
  uintptr_t fp = 0, pc = 0; // unknown layout: no backtrace
#endif
  return walk_frames(fp, pc, pcs, max, lo, hi);
}
#else
int cio__ctx_backtrace(const cio__ctx *c, void **pcs, int max, const void *lo, const void *hi) {
  const uintptr_t *sp = c->sp;
#if defined(__x86_64__)
  return walk_frames(sp[6], sp[7], pcs, max, lo, hi); // rbp and the return address
#else
  return walk_frames(sp[20], sp[21], pcs, max, lo, hi); // x29 and x30
#endif
}
#endif

#if defined(__aarch64__)
// The frame record at fp, if inside [lo, hi): its saved return address
// (and the caller's fp in *up), or 0.
__attribute__((no_sanitize("address"))) static uintptr_t
frame_return(uintptr_t fp, uintptr_t *up, const void *lo, const void *hi) {
  if (fp < (uintptr_t)lo || fp + 16 > (uintptr_t)hi || (fp & 7)) return 0;
  *up = ((const uintptr_t *)fp)[0];
  return ((const uintptr_t *)fp)[1];
}
#endif

int cio__ctx_interrupted_backtrace(const void *uc, void **pcs, int max, const void *lo,
                                   const void *hi) {
  const mcontext_t *m = &((const ucontext_t *)uc)->uc_mcontext;
  if (max <= 0) return 0;
#if defined(__x86_64__)
  return walk_frames((uintptr_t)m->gregs[REG_RBP], (uintptr_t)m->gregs[REG_RIP], pcs, max, lo, hi);
#elif defined(__aarch64__)
  // x30 is the return address into the caller while the interrupted code
  // has not stored it in a frame record (a leaf, a PLT stub, a prologue);
  // once stored, it is the record's, and listed once.
  uintptr_t fp = (uintptr_t)m->regs[29], lr = (uintptr_t)m->regs[30];
  int n = 0;
  pcs[n++] = (void *)(uintptr_t)m->pc;
  uintptr_t up = 0, ret = frame_return(fp, &up, lo, hi);
  if (lr && lr != ret && n < max) pcs[n++] = (void *)lr;
  if (!ret || n == max) return n;
  return n + walk_frames(up, ret, pcs + n, max - n, lo, hi);
#else
  (void)m, (void)pcs, (void)lo, (void)hi;
  return 0;
#endif
}

#ifdef CIO_ASAN
void cio__san_start_switch(void **fake_stack_save, const void *to_lo, size_t to_size) {
  __sanitizer_start_switch_fiber(fake_stack_save, to_lo, to_size);
}
void cio__san_finish_switch(void *fake_stack_save) {
  __sanitizer_finish_switch_fiber(fake_stack_save, NULL, NULL);
}
#endif

unsigned cio__san_stack_register(void *lo, size_t size) {
  return VALGRIND_STACK_REGISTER(lo, (char *)lo + size);
}

void cio__san_stack_deregister(unsigned id) { VALGRIND_STACK_DEREGISTER(id); }
