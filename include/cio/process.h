// SPDX-License-Identifier: MIT
/// \file
///
/// Subprocesses (asyncio.create_subprocess_exec): spawn a program with its
/// standard streams as cio streams, await its exit, kill it.  Included by
/// <cio.h>.
#ifndef CIO_PROCESS_H
#define CIO_PROCESS_H

#include <stdbool.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cio_process cio_process;
typedef struct cio_stream cio_stream; ///< <cio/stream.h>

typedef struct cio_process_opts {
  bool pipe_stdin;   ///< give the child a pipe as stdin (else it inherits ours)
  bool pipe_stdout;  ///< likewise stdout
  bool pipe_stderr;  ///< likewise stderr
  char *const *envp; ///< environment (NULL: ours)
} cio_process_opts;

/// Starts `file` (searched in PATH) with argv (argv[0] is the program's name,
/// NULL-terminated).  Does not await.  Returns 0 and *out, or -errno
/// (-ENOENT for a program that does not exist, -EINVAL, -EMFILE, -ENOMEM...;
/// a child started before a pipe failed is killed and reaped, so nothing is
/// left running).  opts may be NULL.
int cio_process_spawn(cio_process **out, const char *file, char *const argv[],
                      const cio_process_opts *opts);

/// The child's pipes as streams (owned by the process object), or NULL if
/// not piped.  Close stdin (cio_process_close_stdin) to send end of file.
cio_stream *cio_process_stdin(cio_process *p);
cio_stream *cio_process_stdout(cio_process *p);
cio_stream *cio_process_stderr(cio_process *p);
/// Awaits flushing the child's stdin and closes it (the child sees end of
/// file), whatever the flush returns.  Returns 0, -EINVAL if stdin is not
/// piped or was closed already, or the flush error (-ECANCELED,
/// -ETIMEDOUT, -EPIPE...: the bytes not sent are dropped; see
/// cio_stream_close()).
CIO_AWAIT int cio_process_close_stdin(cio_process *p);

/// Awaits the child's exit and stores its return code as asyncio does: the
/// exit status, or minus the signal that killed it.  Uses a pidfd where the
/// kernel has one, else polls every 10 ms.  Returns 0, -ECANCELED /
/// -ETIMEDOUT (the child keeps running; wait again or kill it), -ECHILD.
CIO_AWAIT int cio_process_wait(cio_process *p, int *returncode);

/// Sends a signal (SIGTERM, SIGKILL...).  Returns 0 or -errno (-ESRCH once
/// it has been reaped).
int cio_process_kill(cio_process *p, int sig);

pid_t cio_process_pid(const cio_process *p);

/// Closes the pipes and frees the object.  A child not yet waited for is
/// killed (SIGKILL) and reaped first, so no zombie is left.  Bytes queued
/// on stdin and not yet sent are dropped.  A task waiting in
/// cio_process_wait() or on a pipe wakes with -EBADF.  Returns 0, or
/// -EINVAL for NULL or a process already freed (while it is among the last
/// 64 objects freed on this thread, 4096 in debug mode, which also prints a
/// line naming the call; after that a second free is undefined).  The
/// other calls also return -EINVAL (NULL, -1 for the pid) for a freed
/// process.
int cio_process_free(cio_process *p);

#ifdef __cplusplus
}
#endif
#endif
