// SPDX-License-Identifier: MIT
//
// Subprocesses.  posix_spawnp starts the child with pipes for the streams
// asked for; the exit is awaited on a pidfd (readable when the child has
// exited) and reaped with waitid(P_PIDFD), so no SIGCHLD handler is
// needed and other children of the program are left alone.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../include/cio.h"
#include "../context/valgrind_compat.h"
#include "../internal.h"
#include "../sync/quarantine.h"
#include "../task/task.h"
#include "sock.h"
#include "stream.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#define PROCESS_MAGIC 0x70726f63u // "proc"

struct cio_process {
  uint32_t magic;             // PROCESS_MAGIC until freed
  pid_t pid;                  // the child
  cio_sock *pidfd;            // its pidfd, watched by the poller, or NULL
  cio_stream *in, *out, *err; // pipes, or NULL
  bool reaped;                // waited for
  int returncode;             // once reaped
};

static bool valid(const cio_process *p) { return p && p->magic == PROCESS_MAGIC; }

static int returncode_of(const siginfo_t *si) {
  return si->si_code == CLD_EXITED ? si->si_status : -si->si_status;
}

// Wraps the parent's end of a pipe as a stream and closes the child's end;
// each end it consumes becomes -1 in fds.
static int pipe_stream(int fds[2], bool parent_reads, cio_stream **out) {
  int mine = parent_reads ? 0 : 1;
  cio_sock *s = cio_sock_wrap(fds[mine]);
  if (!s) return -errno;
  fds[mine] = -1;
  *out = cio_stream_new(s, 0);
  if (!*out) {
    cio_sock_close(s);
    return -ENOMEM;
  }
  close(fds[!mine]);
  fds[!mine] = -1;
  return 0;
}

int cio_process_spawn(cio_process **out, const char *file, char *const argv[],
                      const cio_process_opts *opts) {
  if (!cio__thread_loop("cio_process_spawn")) return -EPERM;
  if (!out || !file || !argv || !argv[0]) return -EINVAL;
  cio_process_opts none = {0};
  if (!opts) opts = &none;
  int p[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}};
  bool want[3] = {opts->pipe_stdin, opts->pipe_stdout, opts->pipe_stderr};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  int rc = 0;
  for (int i = 0; i < 3 && rc == 0; i++) {
    if (!want[i]) continue;
    if (pipe2(p[i], O_CLOEXEC) < 0) {
      rc = -errno;
      break;
    }
    // The child's end becomes fd i (dup2 clears close-on-exec).  (This
    // allocates: out of memory, the child would have started without it.)
    int err = posix_spawn_file_actions_adddup2(&fa, i == 0 ? p[i][0] : p[i][1], i);
    if (err) rc = -err;
  }
  cio_process *proc = rc == 0 ? cio__calloc(1, sizeof *proc) : NULL;
  if (rc == 0 && !proc) rc = -ENOMEM;
  // The child starts with no signal blocked, whatever this thread blocks
  // (a TSan build's loop blocks the asynchronous ones outside its wait:
  // poll_epoll.c), as libuv's children do.
  posix_spawnattr_t attr;
  bool have_attr = rc == 0 && posix_spawnattr_init(&attr) == 0;
  if (have_attr) {
    sigset_t none;
    sigemptyset(&none);
    if (posix_spawnattr_setsigmask(&attr, &none) != 0 ||
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK) != 0)
      rc = -ENOMEM;
  } else if (rc == 0) {
    rc = -ENOMEM;
  }
  if (rc == 0) {
    int err = posix_spawnp(&proc->pid, file, &fa, &attr, argv, opts->envp ? opts->envp : environ);
    if (err) rc = -err;
  }
  if (have_attr) posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&fa);
  if (rc == 0) {
    cio_stream **streams[3] = {&proc->in, &proc->out, &proc->err};
    for (int i = 0; i < 3 && rc == 0; i++)
      if (want[i]) rc = pipe_stream(p[i], i > 0, streams[i]);
    if (rc < 0) {
      // A pipe could not be set up (out of memory): the child runs without
      // a stream it was promised.  Undo it rather than hand out a process
      // whose stream is missing (the error used to be ignored).
      for (int i = 0; i < 3; i++) cio__stream_abort(*streams[i]);
      kill(proc->pid, SIGKILL);
      siginfo_t si;
      waitid(P_PID, (id_t)proc->pid, &si, WEXITED);
    }
  }
  if (rc != 0) { // (rc is 0 or -errno; != so that the analyzer need not know errno > 0)
    for (int i = 0; i < 3; i++)
      for (int k = 0; k < 2; k++)
        if (p[i][k] >= 0) close(p[i][k]);
    free(proc);
    return rc;
  }
  // Valgrind 3.19 does not know pidfd_open (and warns): waits poll there.
  int pidfd = RUNNING_ON_VALGRIND ? -1 : (int)syscall(SYS_pidfd_open, proc->pid, 0);
  if (pidfd >= 0 && !(proc->pidfd = cio_sock_wrap(pidfd))) close(pidfd);
  proc->magic = PROCESS_MAGIC;
  *out = proc;
  return 0;
}

cio_stream *cio_process_stdin(cio_process *p) { return valid(p) ? p->in : NULL; }
cio_stream *cio_process_stdout(cio_process *p) { return valid(p) ? p->out : NULL; }
cio_stream *cio_process_stderr(cio_process *p) { return valid(p) ? p->err : NULL; }
pid_t cio_process_pid(const cio_process *p) { return valid(p) ? p->pid : -1; }

int cio_process_close_stdin(cio_process *p) {
  if (!valid(p)) return cio__bad_handle("cio_process_close_stdin", "process", p);
  if (!p->in) return -EINVAL;
  cio_stream *in = p->in;
  p->in = NULL; // before the flush awaits: the process may be freed meanwhile
  return cio_stream_close(in);
}

// Reaps the child if it has exited: 1 reaped, 0 still running, -errno.
static int try_reap(cio_process *p) {
  siginfo_t si = {0};
  int rc = p->pidfd ? waitid((idtype_t)P_PIDFD, (id_t)cio_sock_fd(p->pidfd), &si, WEXITED | WNOHANG)
                    : waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG);
  if (rc < 0) return -errno;
  if (si.si_pid == 0) return 0;
  p->reaped = true;
  p->returncode = returncode_of(&si);
  return 1;
}

int cio_process_wait(cio_process *p, int *returncode) {
  if (!cio__await_loop("cio_process_wait")) return -EPERM;
  if (!valid(p)) return cio__bad_handle("cio_process_wait", "process", p);
  while (!p->reaped) {
    int rc = try_reap(p);
    if (rc < 0) return rc;
    if (rc > 0) break;
    // A pidfd turns readable when the child exits (its close wakes this
    // with -EBADF); without one, poll.
    rc = p->pidfd ? cio__sock_wait_edge(p->pidfd) : cio_sleep(0.01);
    if (rc < 0) return rc;
    if (!valid(p)) return -EBADF; // freed meanwhile (still quarantined)
  }
  if (returncode) *returncode = p->returncode;
  return 0;
}

static int send_signal(cio_process *p, int sig) {
  if (p->reaped) return -ESRCH;
  if (p->pidfd && syscall(SYS_pidfd_send_signal, cio_sock_fd(p->pidfd), sig, NULL, 0) == 0)
    return 0;
  return kill(p->pid, sig) < 0 ? -errno : 0;
}

int cio_process_kill(cio_process *p, int sig) {
  if (!valid(p)) return cio__bad_handle("cio_process_kill", "process", p);
  return send_signal(p, sig);
}

// The memory goes to the quarantine, so a second free reads the cleared
// magic and returns -EINVAL instead of freeing it again.
int cio_process_free(cio_process *p) {
  if (!valid(p)) return cio__bad_handle("cio_process_free", "process", p);
  p->magic = 0;
  if (!p->reaped) {
    send_signal(p, SIGKILL);
    siginfo_t si;
    waitid(P_PID, (id_t)p->pid, &si, WEXITED); // immediate after SIGKILL
  }
  cio__stream_abort(p->in);
  cio__stream_abort(p->out);
  cio__stream_abort(p->err);
  if (p->pidfd) cio_sock_close(p->pidfd);
  cio__quarantine(p);
  return 0;
}
