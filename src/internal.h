// SPDX-License-Identifier: MIT
//
// Helpers shared by every layer: branch hints, containers, and the
// diagnostics (diag.c), the one place that reports misuse (an awaiting
// function called outside a task).
#ifndef CIO_INTERNAL_H
#define CIO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc.h" // every allocation goes through cio__malloc & co (failure injection)

#define cio__likely(x) __builtin_expect(!!(x), 1)
#define cio__unlikely(x) __builtin_expect(!!(x), 0)

#define cio__container_of(ptr, type, member)                                                       \
  ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#define CIO__NEVER INT64_MAX // a deadline that never comes

// cio_run tells the diagnostics that a loop runs on this thread, and in
// which mode, and when it has ended.
void cio__diag_enter(bool debug);
void cio__diag_leave(void);

// Prints "cio: <fn>() called outside ..." (saying whether no loop runs or
// the caller is a callback on the loop's own stack) and returns -EPERM; in
// debug mode it aborts instead (DESIGN §3).
int cio__misuse_outside(const char *fn);

// Prints "cio: <message>" to stderr; printf-style.
void cio__warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// Prints a fatal "cio: <message>" and aborts.
_Noreturn void cio__fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// Converts seconds to nanoseconds, saturating; -EINVAL for NaN or negative.
int cio__seconds_to_ns(double s, int64_t *ns);

// ---------------------------------------------------------------- constructors
//
// A constructor (*_new, spawn) fails with NULL and errno set, as the public
// headers promise; these say it in one line.
#include <errno.h>
#include <stdlib.h>

// Sets errno to `code` and returns NULL: `if (!fn) return cio__null_errno(EINVAL);`
static inline void *cio__null_errno(int code) {
  errno = code;
  return NULL;
}

// A zeroed block of `size` bytes, or NULL with errno ENOMEM.
static inline void *cio__zalloc(size_t size) {
  void *p = cio__calloc(1, size);
  if (!p) errno = ENOMEM;
  return p;
}

#endif
