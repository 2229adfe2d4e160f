// SPDX-License-Identifier: MIT
//
// The machine-level switch between stacks, and its sanitizer annotations.
//
// A cio__ctx is what a suspended stack needs to resume.  With the assembly
// backends (x86-64, AArch64) it is one saved stack pointer: the registers sit
// on the suspended stack itself.  The portable fallback (-DCIO_CONTEXT=ucontext)
// keeps a ucontext_t; it is correct everywhere and slow (swapcontext makes a
// sigprocmask system call on each switch).
#ifndef CIO_CONTEXT_H
#define CIO_CONTEXT_H

#include <stddef.h>

#ifdef CIO_CONTEXT_UCONTEXT
#include <ucontext.h>
typedef struct cio__ctx {
  ucontext_t uc; // the saved machine context
} cio__ctx;
#else
typedef struct cio__ctx {
  void *sp; // saved stack pointer; the registers are stored below it
} cio__ctx;
#endif

// Prepares `c` so that the first switch to it calls entry() on the stack
// [lo, lo + size).  entry() must never return.
void cio__ctx_make(cio__ctx *c, void *lo, size_t size, void (*entry)(void));

#ifdef CIO_CONTEXT_UCONTEXT
static inline void cio__ctx_switch(cio__ctx *from, cio__ctx *to) {
  swapcontext(&from->uc, &to->uc);
}

static inline void cio__ctx_prefetch(const cio__ctx *c) { (void)c; }
#else
// Saves the running context in *from and resumes *to (switch_<arch>.S).
void cio__ctx_switch(cio__ctx *from, cio__ctx *to);

#define CIO__CTX_PREFETCH 512

// Starts loading the top of a suspended stack into the cache (and its page
// into the TLB): the saved registers and the few frames a resumed task
// returns through.  With many tasks each resume would otherwise miss on all
// of them; the scheduler calls this a couple of tasks ahead.  (A shallow
// task's frames end sooner, and the rest lands in the next stack's guard,
// which costs nothing measurable.  Beware: gcc 12 dropped these prefetches
// entirely when the loop's bound depended on sp, and gather of 100,000
// tasks went from 200 to 290 ns per task.)
static inline void cio__ctx_prefetch(const cio__ctx *c) {
  const char *sp = c->sp;
  for (int off = 0; off < CIO__CTX_PREFETCH; off += 64) __builtin_prefetch(sp + off, 1);
}
#endif

// Walks the frame pointers of a suspended context (without running it) and
// stores up to max return addresses in pcs, the first being where it will
// resume.  Frames must lie within [lo, hi) (the context's stack).  Returns
// how many were stored (the ucontext fallback reads the registers
// swapcontext saved; 0 on architectures it does not know).
int cio__ctx_backtrace(const cio__ctx *c, void **pcs, int max, const void *lo, const void *hi);

// The same walk for code a signal interrupted, from the registers the kernel
// saved (uc: the handler's ucontext_t *).  It needs no unwind tables, so it
// gets past what the unwinder cannot: a PLT stub or code without CFI (on
// AArch64 the return address register names the caller of a function that
// has not saved it yet).  Async-signal-safe; reads only within [lo, hi).
// Returns how many were stored, 0 on architectures it does not know.
int cio__ctx_interrupted_backtrace(const void *uc, void **pcs, int max, const void *lo,
                                   const void *hi);

// Sanitizer bookkeeping around a switch.  ASan must be told which stack is
// about to run (start) and, once running, that the switch happened (finish);
// a context that will never resume passes NULL for `fake_stack_save`.  These
// compile to nothing without sanitizers.
#if defined(__SANITIZE_ADDRESS__)
#define CIO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CIO_ASAN 1
#endif
#endif

#ifdef CIO_ASAN
void cio__san_start_switch(void **fake_stack_save, const void *to_lo, size_t to_size);
void cio__san_finish_switch(void *fake_stack_save);
#else
static inline void cio__san_start_switch(void **fake_stack_save, const void *to_lo,
                                         size_t to_size) {
  (void)fake_stack_save, (void)to_lo, (void)to_size;
}
static inline void cio__san_finish_switch(void *fake_stack_save) { (void)fake_stack_save; }
#endif

// ThreadSanitizer must be told about each stack ("fiber") and each switch
// between them, or it loses track of the shadow stack and crashes.
#if defined(__SANITIZE_THREAD__)
#define CIO_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CIO_TSAN 1
#endif
#endif

#ifdef CIO_TSAN
#include <sanitizer/tsan_interface.h>
static inline void *cio__tsan_current(void) { return __tsan_get_current_fiber(); }
static inline void *cio__tsan_create(void) { return __tsan_create_fiber(0); }
static inline void cio__tsan_destroy(void *fiber) { __tsan_destroy_fiber(fiber); }
static inline void cio__tsan_switch(void *fiber) { __tsan_switch_to_fiber(fiber, 0); }
#else
static inline void *cio__tsan_current(void) { return NULL; }
static inline void *cio__tsan_create(void) { return NULL; }
static inline void cio__tsan_destroy(void *fiber) { (void)fiber; }
static inline void cio__tsan_switch(void *fiber) { (void)fiber; }
#endif

// Valgrind must know every stack it may see the stack pointer move into.
// Returns an id for cio__san_stack_deregister().
unsigned cio__san_stack_register(void *lo, size_t size);
void cio__san_stack_deregister(unsigned id);

#endif
