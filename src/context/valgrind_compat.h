// SPDX-License-Identifier: MIT
//
// Valgrind's client requests, from its header when Debian's valgrind package
// is installed.  Without it cio still builds (the core needs only libc and
// pthreads): the requests become no-ops, and such a build cannot tell
// valgrind about task stacks, so run valgrind on a build made with it.
#ifndef CIO_VALGRIND_COMPAT_H
#define CIO_VALGRIND_COMPAT_H

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define CIO_HAVE_VALGRIND_H 1
#endif
#endif

#ifndef CIO_HAVE_VALGRIND_H
#define RUNNING_ON_VALGRIND 0
#define VALGRIND_STACK_REGISTER(lo, hi) ((void)(lo), (void)(hi), 0u)
#define VALGRIND_STACK_DEREGISTER(id) ((void)(id))
#endif

#endif
