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
/// fn's return value in *result (if result is not NULL) and returns 0.  If
/// the caller is cancelled or its timeout scope expires, returns -ECANCELED /
/// -ETIMEDOUT at once; the call itself cannot be interrupted and finishes in
/// the background, its result discarded — so `arg` must stay valid until fn
/// returns (e.g. owned by fn).  cio_run() does not return before every call
/// it started has finished.  -ENOMEM, -EAGAIN (no thread could be started),
/// -EINVAL for a NULL fn, -EPERM outside a task.
CIO_AWAIT int cio_to_thread(void *(*fn)(void *arg), void *arg, void **result);

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
/// signo, -ECANCELED / -ETIMEDOUT, -EINVAL for a signal that cannot be
/// caught (SIGKILL, SIGSTOP, SIGSEGV...).  While a task waits for it, the
/// signal's default action is replaced.  By default SIGINT and SIGTERM
/// cancel the main task (what Ctrl-C does to asyncio.run), unless a task is
/// waiting for them.
CIO_AWAIT int cio_signal_wait(int signo);

#ifdef __cplusplus
}
#endif
#endif
