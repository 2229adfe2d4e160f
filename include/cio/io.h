// SPDX-License-Identifier: MIT
/// \file
///
/// Blocking work off the loop (asyncio.to_thread / run_in_executor), file
/// helpers, signals.  Included by <cio.h>.
#ifndef CIO_IO_H
#define CIO_IO_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

// ---------------------------------------------------------------- thread pool

/// Awaits fn(arg) run on the worker pool (shared by all loops; it grows on
/// demand to min(32, cores + 4) threads, as asyncio's default executor), so a
/// blocking or CPU-heavy call does not block the loop.  On success stores
/// fn's return value in *result (if result is not NULL) and returns 0.
///
/// The call cannot be interrupted, so this one always waits for it: if the
/// caller is cancelled or its timeout scope expires while fn runs, it
/// returns -ECANCELED / -ETIMEDOUT only once fn has returned (fn's return
/// value is then discarded: a result that owns memory should be stored in
/// arg).  So `arg` may live on the caller's stack.  The cost: the await
/// lasts as long as fn, whatever the cancellation or the timeout says; use
/// cio_to_thread_owned() to return at once.  A caller already cancelled (or
/// past its deadline) gets the error at once and fn is not run.
/// -ENOMEM, -EAGAIN (no thread could be started), -EINVAL for a NULL fn,
/// -EPERM outside a task.
CIO_AWAIT int cio_to_thread(void *(*fn)(void *arg), void *arg, void **result);

/// As cio_to_thread(), but the call owns `arg` and a cancelled or timed-out
/// caller returns at once while fn goes on in the background.  `arg` is the
/// call's from the moment it is made, whatever it returns: free_fn(arg,
/// unclaimed) is called exactly once (if free_fn is not NULL), on the loop's
/// thread, after fn has returned and the call has ended — or at once, with
/// fn never run, if the call fails before starting it.  `unclaimed` is fn's
/// return value when the caller did not receive it (the call was cancelled
/// or timed out after fn had started, or `result` is NULL), else NULL, so a
/// result that owns memory can be freed too.  free_fn must not await.  On
/// success, *result is set and free_fn has run before the call returns.
/// cio_run() does not return before every call it started has finished and
/// been released.  Returns 0, -ECANCELED / -ETIMEDOUT, -ENOMEM, -EAGAIN,
/// -EINVAL for a NULL fn, -EPERM outside a task (arg released in each case).
CIO_AWAIT int cio_to_thread_owned(void *(*fn)(void *arg), void *arg,
                                  void (*free_fn)(void *arg, void *unclaimed), void **result);

// ---------------------------------------------------------------- files

/// Awaits reading the whole file at `path` (on the pool).  On success
/// *data is a malloc'd buffer the caller frees, with a NUL after the
/// *len bytes.  Fails with -errno from open/read, -EFBIG beyond `max` bytes
/// (0: no limit), -ENOMEM; -ECANCELED / -ETIMEDOUT at once if interrupted
/// (the read goes on in the background on a copy of `path` and its result
/// is dropped: reading has no effect to report).
CIO_AWAIT int cio_file_read_all(const char *path, size_t max, char **data, size_t *len);

/// Awaits writing `len` bytes to `path` (created with mode 0644 or
/// truncated), on the pool.  Returns 0 or -errno (-ENXIO for a FIFO that
/// nobody reads).  Not interruptible, as pread/pwrite below.
CIO_AWAIT int cio_file_write_all(const char *path, const void *data, size_t len);

/// Awaits pread/pwrite on an open descriptor, on the pool.  Return the byte
/// count (0 at end of file) or -errno.
///
/// These three use the caller's buffer, so once started they cannot be
/// interrupted: a cancellation or a timeout scope that expires meanwhile
/// waits for the call to finish (one pread/pwrite, or the whole file for
/// write_all) and is delivered at the next await, and the call returns
/// what it did — the bytes written are reported, never written behind an
/// error.  A task already cancelled when it calls gets -ECANCELED and
/// nothing is done.
CIO_AWAIT ssize_t cio_file_pread(int fd, void *buf, size_t len, off_t offset);
CIO_AWAIT ssize_t cio_file_pwrite(int fd, const void *buf, size_t len, off_t offset);

// ---------------------------------------------------------------- signals

/// Awaits the next delivery of signal `signo` to the process and returns
/// signo (any catchable number: SIGHUP, SIGUSR1, SIGRTMIN + n...);
/// -ECANCELED / -ETIMEDOUT; -EINVAL for a signal that cannot be caught
/// (SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGILL, SIGFPE, or one the C library
/// reserves); -ENOMEM.  Every loop whose tasks have waited for `signo` gets
/// each delivery: from a loop's first wait until it ends, the signal is that
/// loop's, and a delivery while none of its tasks waits is kept (one, as the
/// kernel keeps one pending) for the next wait.  A task waiting for a signal
/// keeps the loop running (it is not a deadlock).
///
/// The first wait for `signo` replaces its action with cio's; when the last
/// running loop (on any thread) ends, every action cio replaced is put back
/// exactly (handler, flags and mask), unless the program changed it since.
///
/// By default SIGINT and SIGTERM cancel the main task of every running loop
/// (what Ctrl-C does to asyncio.run), except in loops whose tasks have
/// waited for them, and only if their action was the default when the first
/// loop started (a program's own handler, or SIG_IGN inherited by a
/// background job, is kept).  A second SIGINT/SIGTERM while a loop's main is
/// being cancelled ends the process by the signal's default action (as
/// asyncio.run raises KeyboardInterrupt at the second Ctrl-C); so does one
/// that arrives while no loop runs.
CIO_AWAIT int cio_signal_wait(int signo);

#ifdef __cplusplus
}
#endif
#endif
