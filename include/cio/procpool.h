// SPDX-License-Identifier: MIT
/// \file
///
/// A process pool for CPU-bound work (asyncio's ProcessPoolExecutor, the
/// guide's "multiprocessing for CPU-bound work"): a fixed set of worker
/// processes that run functions registered by name, bytes in and bytes
/// out, awaited from a task while the loop goes on serving.
///
///   static int sum_squares(const void *in, size_t len, void **out, size_t *out_len);
///   static const cio_procpool_fn_entry fns[] = {{"sum_squares", sum_squares}, {0}};
///   int main(void) {
///     cio_procpool *pool;
///     cio_procpool_new(&pool, &(cio_procpool_opts){.functions = fns}); // before any thread
///     cio_run(main_task, pool);  // tasks call cio_procpool_run(pool, "sum_squares", ...)
///     cio_procpool_free(pool);
///   }
///
/// How it works: cio_procpool_new forks one process, the zygote, while the
/// program has one thread; the zygote forks each worker (and each
/// replacement later), so no worker is forked from a threaded process.  A
/// worker reads a job from its socket, runs the function and writes the
/// result back.  The zygote and the workers ignore SIGINT, SIGTERM and
/// SIGHUP (what a signal to the process group brings, from Ctrl-C,
/// systemd's stop or a hangup, is the parent's to act on) and die with
/// the parent.  A zygote killed anyway (SIGKILL) takes its workers with it
/// and cannot be replaced from a threaded parent: the pool is then broken,
/// and every job fails with CIO_PROC_POOL_BROKEN.
#ifndef CIO_PROCPOOL_H
#define CIO_PROCPOOL_H

#include <stddef.h>

#include "../cio.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cio_procpool cio_procpool;

/// A function a worker runs, in the worker process: reads in[0..len),
/// sets *out to a malloc'd result (NULL for none) of *out_len bytes.
/// Returns 0, or a negative errno that becomes the job's result.  It may
/// crash or exit: the job then fails with CIO_PROC_WORKER_DIED and the
/// worker is replaced.
typedef int (*cio_procpool_fn)(const void *in, size_t len, void **out, size_t *out_len);

/// A function's name and the function; a list of them ends with {0}.
typedef struct cio_procpool_fn_entry {
  const char *name;   ///< at most 255 bytes
  cio_procpool_fn fn; ///< the function
} cio_procpool_fn_entry;

typedef struct cio_procpool_opts {
  int workers;                            ///< how many (0: the CPUs this process may use)
  const cio_procpool_fn_entry *functions; ///< what they can run (copied by the fork)
  size_t max_message;                     ///< a job's input or output limit (0: 64 MiB)
  int nice; ///< added to the workers' niceness (setpriority): the loop's process keeps the CPU
            ///< first
} cio_procpool_opts;

/// Starts the zygote and the workers.  Call it while the program has only
/// its main thread (before cio_run, before any library starts a thread):
/// fork(2) copies only the calling thread.  Does not await (it blocks
/// until the workers are up).  Returns 0 and *out, -EINVAL (NULL out or
/// opts, no functions, more than 1024 workers), -ENOMEM, -errno from
/// socketpair(2) or fork(2).
int cio_procpool_new(cio_procpool **out, const cio_procpool_opts *opts);

/// Runs function `name` on in[0..len) in a worker: awaits a free worker
/// (first come, first served), sends the job, awaits the result.  Returns
/// the function's return value (0, or its negative errno) with *out (malloc'd,
/// the caller frees it; NULL for an empty result) and *out_len; or
/// -ENOENT (no such function: the worker says so), -EMSGSIZE (in or the
/// result beyond max_message), CIO_PROC_WORKER_DIED (the worker crashed or
/// exited during the job; it is replaced), -ECANCELED / -ETIMEDOUT (the
/// caller was cancelled or timed out: a job already sent is abandoned and
/// its worker killed and replaced, so no result arrives late and no CPU is
/// spent on it), -EXDEV (the pool is in use by another loop's tasks),
/// CIO_PROC_POOL_BROKEN (the zygote is gone: at once, from then on), or
/// -errno from replacing a worker.  Usable from the tasks of one loop at
/// a time.
CIO_AWAIT int cio_procpool_run(cio_procpool *pool, const char *name, const void *in, size_t len,
                               void **out, size_t *out_len);

/// The number of workers, and how many have been replaced so far.
int cio_procpool_workers(const cio_procpool *pool);
int cio_procpool_replaced(const cio_procpool *pool);

/// Ends the workers and the zygote (their sockets closed: each exits
/// after its job; then SIGKILL for any left after a second) and frees the
/// pool.  No task may be running a job.  Does not await (it blocks while
/// the processes end).  Returns 0, or -EINVAL for NULL.
int cio_procpool_free(cio_procpool *pool);

#ifdef __cplusplus
}
#endif
#endif
