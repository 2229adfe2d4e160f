// SPDX-License-Identifier: MIT
//
// Delayed freeing of closed handles.  A handle is a pointer the user keeps,
// so after a close nothing stops a second close (or a late use) through the
// same pointer.  Each object type keeps a magic number that its close
// clears; the memory is then handed to cio__quarantine() instead of free(),
// which keeps it allocated for a while, so the magic check still reads the
// object's own memory and answers -EINVAL, instead of touching freed memory
// or, worse, memory that a new object of the same type now occupies.
//
// The limit, said plainly: this holds for the last CIO__QUARANTINE objects
// freed on the calling thread (CIO__QUARANTINE_DEBUG in debug mode).  A
// pointer used again after that may name a new object; that is undefined,
// and only ASan or valgrind can then tell.  Handles that could never alias
// would need a generation in the handle, which a plain pointer cannot carry.
#ifndef CIO_QUARANTINE_H
#define CIO_QUARANTINE_H

#include "../tune.h"

#define CIO__QUARANTINE CIO__TUNED(64, 2)         // objects kept per thread
#define CIO__QUARANTINE_DEBUG CIO__TUNED(4096, 4) // in debug mode

// Frees `obj` (malloc'd, its own allocations already freed) later: when
// this thread has quarantined the next CIO__QUARANTINE objects, or when the
// thread exits.  NULL is ignored.  Never fails (without memory for the ring
// it frees at once).
void cio__quarantine(void *obj);

// What a close or use of a handle that is not open returns: -EINVAL.  In
// debug mode it also prints "cio: <fn>(): <ptr> is not an open <what>
// (closed twice?)", so the mistake is named.  NULL is plain -EINVAL.
int cio__bad_handle(const char *fn, const char *what, const void *obj);

// Releases every object quarantined on this thread (the thread-exit hook
// does it; tests call it to compare heaps).
void cio__quarantine_flush(void);

#endif
