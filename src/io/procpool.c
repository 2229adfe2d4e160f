// SPDX-License-Identifier: MIT
//
// The process pool (<cio/procpool.h>).  Three kinds of process:
//   the parent  the program: its tasks send jobs and await results;
//   the zygote  forked by cio_procpool_new while the parent has one
//               thread; it forks every worker on request and hands the
//               parent each worker's socket (SCM_RIGHTS) and pid;
//   a worker    reads a job, runs the function, writes the result, again.
// A job on the wire is a header (magic, name length, input length), the
// name, the input; a result is a header (magic, status, output length) and
// the output.  A worker whose job is abandoned (its caller cancelled) is
// killed, so nothing it would send can be read as a later job's result.
// Replacing a worker asks the zygote for one; that blocks the loop while
// the zygote forks (well under a millisecond) and happens only after a
// worker died or was killed.
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../include/cio.h"
#include "../../include/cio/procpool.h"
#include "../alloc.h"

#define JOB_MAGIC 0x63696f6au    // "cioj"
#define RESULT_MAGIC 0x63696f72u // "cior"
#define MAX_WORKERS 1024

struct job_head {
  uint32_t magic;    // JOB_MAGIC
  uint32_t name_len; // the name's bytes (no NUL)
  uint64_t len;      // the input's
};

struct result_head {
  uint32_t magic; // RESULT_MAGIC
  int32_t status; // what the function returned
  uint64_t len;   // the output's bytes
};

// A worker, as the parent sees it.
struct worker {
  int fd;    // its socket (the parent's end, non-blocking), -1 once dead
  pid_t pid; //   its process
  bool busy; // a job holds it
};

struct cio_procpool {
  int ctl;                            // the zygote's control socket
  pid_t zygote;                       //   its process
  size_t max_message;                 // a job's input or output limit
  int nworkers;                       // how many
  int replaced;                       // workers replaced so far
  bool broken;                        // the zygote is gone: no worker can be started
  struct worker workers[MAX_WORKERS]; // (nworkers used)
  pthread_mutex_t owner_lock;         // guards owner and in_flight (loops on other threads)
  pthread_t owner;                    // the thread whose loop's tasks have jobs in flight
  int in_flight;                      //   how many (another thread may take over at 0)
  cio_sem *free_workers;              // counts the workers not busy (FIFO waiters)
  const cio_procpool_fn_entry *fns;   // the functions (the workers' copies)
};

// ---------------------------------------------------------------- blocking I/O (zygote, worker,
// setup)

static bool read_full(int fd, void *buf, size_t n) {
  char *p = buf;
  while (n) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= (size_t)r;
  }
  return true;
}

// ---------------------------------------------------------------- a worker

// Bytes read from a worker's socket ahead of need: a job's header, name
// and a small input usually come in one read.
struct inbuf {
  char b[4096];
  size_t at, n; // what is unread: b[at..n)
};

static bool read_buffered(int fd, struct inbuf *ib, void *dst, size_t len) {
  char *d = dst;
  while (len) {
    if (ib->at == ib->n) {
      if (len >= sizeof ib->b) return read_full(fd, d, len); // large: straight in
      ssize_t r = read(fd, ib->b, sizeof ib->b);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;
      ib->at = 0;
      ib->n = (size_t)r;
    }
    size_t k = ib->n - ib->at < len ? ib->n - ib->at : len;
    memcpy(d, ib->b + ib->at, k);
    ib->at += k;
    d += k;
    len -= k;
  }
  return true;
}

// Runs jobs from fd until the parent closes it.
static _Noreturn void worker_main(int fd, const cio_procpool_fn_entry *fns, size_t max) {
  struct inbuf ib = {.at = 0, .n = 0};
  for (;;) {
    struct job_head h;
    if (!read_buffered(fd, &ib, &h, sizeof h) || h.magic != JOB_MAGIC || h.name_len > 255 ||
        h.len > max)
      _exit(0);
    char name[256];
    void *in = malloc(h.len ? h.len : 1);
    if (!in || !read_buffered(fd, &ib, name, h.name_len) || !read_buffered(fd, &ib, in, h.len))
      _exit(0);
    name[h.name_len] = '\0';
    cio_procpool_fn fn = NULL;
    for (const cio_procpool_fn_entry *e = fns; e->name; e++)
      if (strcmp(e->name, name) == 0) fn = e->fn;
    void *out = NULL;
    size_t out_len = 0;
    int status = fn ? fn(in, h.len, &out, &out_len) : -ENOENT;
    free(in);
    if (!out) out_len = 0;
    if (out_len > max) {
      status = -EMSGSIZE;
      out_len = 0;
    }
    // The header and the output in one write.
    struct result_head r = {RESULT_MAGIC, status, out_len};
    struct iovec iov[2] = {{&r, sizeof r}, {out, out_len}};
    size_t left = sizeof r + out_len;
    int first = 0;
    while (left) {
      ssize_t w = writev(fd, iov + first, 2 - first);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) _exit(0);
      left -= (size_t)w;
      for (size_t k = (size_t)w; k;) { // advance past what went
        size_t step = k < iov[first].iov_len ? k : iov[first].iov_len;
        iov[first].iov_base = (char *)iov[first].iov_base + step;
        iov[first].iov_len -= step;
        k -= step;
        if (iov[first].iov_len == 0 && first < 1) first++;
      }
    }
    free(out);
  }
}

// ---------------------------------------------------------------- the zygote

// Forks a worker on each byte read from ctl; sends back its pid with its
// socket.  Ends when the parent closes ctl.
static _Noreturn void zygote_main(int ctl, const cio_procpool_fn_entry *fns, size_t max) {
  signal(SIGCHLD, SIG_IGN); // workers are reaped by the kernel
  // A signal to the process group (Ctrl-C, systemd's stop, a hangup) is
  // the parent's to act on: the zygote and the workers (who inherit this)
  // go on until the parent goes, and die with it (PR_SET_PDEATHSIG).
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  for (;;) {
    char c;
    ssize_t r = recv(ctl, &c, 1, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) _exit(0);
    int pair[2];
    pid_t pid = -1;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0) {
      pid = fork();
      if (pid == 0) {
        close(ctl);
        close(pair[0]);
        prctl(PR_SET_PDEATHSIG, SIGKILL); // with the zygote
        if (getppid() == 1) _exit(0);
        signal(SIGCHLD, SIG_DFL);
        worker_main(pair[1], fns, max);
      }
      close(pair[1]);
    }
    // The answer: the pid (or -errno), and the socket when there is one.
    int32_t answer = pid > 0 ? (int32_t)pid : -(errno ? errno : EAGAIN);
    struct iovec iov = {&answer, sizeof answer};
    union {
      struct cmsghdr h;
      char buf[CMSG_SPACE(sizeof(int))];
    } cm;
    memset(&cm, 0, sizeof cm); // the padding after the descriptor goes out too
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (pid > 0) {
      msg.msg_control = cm.buf;
      msg.msg_controllen = sizeof cm.buf;
      struct cmsghdr *h = CMSG_FIRSTHDR(&msg);
      h->cmsg_level = SOL_SOCKET;
      h->cmsg_type = SCM_RIGHTS;
      h->cmsg_len = CMSG_LEN(sizeof(int));
      memcpy(CMSG_DATA(h), &pair[0], sizeof(int));
    }
    while (sendmsg(ctl, &msg, 0) < 0 && errno == EINTR) {
    }
    if (pid > 0) close(pair[0]);
  }
}

// The zygote is gone (killed: it ignores the group's SIGINT, SIGTERM and
// SIGHUP), and its workers with it.  Nothing can start a new one from the
// parent, which has threads now: the pool stays broken.
static int pool_broken(cio_procpool *p) {
  p->broken = true;
  return CIO_PROC_POOL_BROKEN;
}

// Asks the zygote for a worker into w.  Blocks.  Returns 0,
// CIO_PROC_POOL_BROKEN or -errno.
static int spawn_worker(cio_procpool *p, struct worker *w) {
  char c = 's';
  ssize_t r;
  do r = send(p->ctl, &c, 1, MSG_NOSIGNAL);
  while (r < 0 && errno == EINTR);
  if (r != 1) return pool_broken(p);
  int32_t answer;
  struct iovec iov = {&answer, sizeof answer};
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof(int))];
  } cm;
  struct msghdr msg = {
      .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf, .msg_controllen = sizeof cm.buf};
  do r = recvmsg(p->ctl, &msg, MSG_CMSG_CLOEXEC);
  while (r < 0 && errno == EINTR);
  if (r != (ssize_t)sizeof answer) return pool_broken(p);
  if (answer < 0) return answer;
  struct cmsghdr *h = CMSG_FIRSTHDR(&msg);
  if (!h || h->cmsg_type != SCM_RIGHTS) return -EPROTO;
  memcpy(&w->fd, CMSG_DATA(h), sizeof(int));
  w->pid = answer;
  w->busy = false;
  int fl = fcntl(w->fd, F_GETFL);
  if (fl < 0 || fcntl(w->fd, F_SETFL, fl | O_NONBLOCK) < 0) {
    int rc = -errno;
    kill(w->pid, SIGKILL);
    close(w->fd);
    w->fd = -1;
    return rc;
  }
  return 0;
}

// ---------------------------------------------------------------- the pool

static int cpus_allowed(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

int cio_procpool_new(cio_procpool **out, const cio_procpool_opts *opts) {
  if (!out || !opts || !opts->functions || !opts->functions[0].name || opts->workers < 0 ||
      opts->workers > MAX_WORKERS)
    return -EINVAL;
  for (const cio_procpool_fn_entry *e = opts->functions; e->name; e++)
    if (!e->fn || strlen(e->name) > 255) return -EINVAL;
  *out = NULL;
  cio_procpool *p = cio__calloc(1, sizeof *p);
  if (!p) return -ENOMEM;
  pthread_mutex_init(&p->owner_lock, NULL);
  p->max_message = opts->max_message ? opts->max_message : (size_t)64 << 20;
  p->fns = opts->functions;
  int n = opts->workers ? opts->workers : cpus_allowed();
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0) {
    int rc = -errno;
    free(p);
    return rc;
  }
  p->zygote = fork();
  if (p->zygote == 0) {
    close(pair[0]);
    prctl(PR_SET_PDEATHSIG, SIGKILL); // with the parent
    if (opts->nice) (void)setpriority(PRIO_PROCESS, 0, getpriority(PRIO_PROCESS, 0) + opts->nice);
    size_t max = p->max_message;
    free(p); // the parent's record: the zygote and its workers never use it
    zygote_main(pair[1], opts->functions, max);
  }
  int rc = p->zygote < 0 ? -errno : 0;
  close(pair[1]);
  p->ctl = pair[0];
  for (; rc == 0 && p->nworkers < n; p->nworkers++) rc = spawn_worker(p, &p->workers[p->nworkers]);
  if (rc == 0 && !(p->free_workers = cio_sem_new(p->nworkers))) rc = -ENOMEM;
  if (rc < 0) {
    cio_procpool_free(p);
    return rc;
  }
  *out = p;
  return 0;
}

int cio_procpool_workers(const cio_procpool *pool) { return pool ? pool->nworkers : 0; }
int cio_procpool_replaced(const cio_procpool *pool) { return pool ? pool->replaced : 0; }

// Kills w's process and forgets it (the zygote reaps it).
static void worker_kill(struct worker *w) {
  if (w->fd < 0) return;
  kill(w->pid, SIGKILL);
  close(w->fd);
  w->fd = -1;
}

int cio_procpool_free(cio_procpool *p) {
  if (!p) return -EINVAL;
  for (int i = 0; i < p->nworkers; i++) { // EOF on its socket: a worker exits
    struct worker *w = &p->workers[i];
    if (w->fd < 0) continue;
    close(w->fd);
    w->fd = -1;
  }
  close(p->ctl); // the zygote exits, and workers left with it
  if (p->zygote > 0) {
    // A second for the zygote to go, then SIGKILL (its workers follow).
    for (int i = 0; i < 100; i++) {
      if (waitpid(p->zygote, NULL, WNOHANG) != 0) goto reaped;
      nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    kill(p->zygote, SIGKILL);
    while (waitpid(p->zygote, NULL, 0) < 0 && errno == EINTR) {
    }
  }
reaped:
  if (p->free_workers) cio_sem_free(p->free_workers);
  pthread_mutex_destroy(&p->owner_lock);
  free(p);
  return 0;
}

// ---------------------------------------------------------------- running a job

// The parent's side of a worker's socket: plain descriptors awaited with
// cio_wait_readable/writable, so the pool holds nothing of a loop's and
// may outlive one (created before cio_run, freed after it).

// What exchange() returns when the worker was gone before any byte of the
// job reached it (it died while idle): the job never ran, and a new worker
// can take it.
#define NOT_DELIVERED (-ENOTCONN)

// Sends buf whole.  Returns 0, CIO_PROC_WORKER_DIED (NOT_DELIVERED if no
// byte went), -ECANCELED, -ETIMEDOUT.
static int send_all(int fd, const char *buf, size_t len) {
  size_t whole = len;
  while (len) {
    ssize_t r = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (r > 0) {
      buf += r;
      len -= (size_t)r;
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      int rc = cio_wait_writable(fd, CIO_FOREVER);
      if (rc < 0) return rc;
      continue;
    }
    return len == whole ? NOT_DELIVERED : CIO_PROC_WORKER_DIED; // EPIPE, ECONNRESET
  }
  return 0;
}

// Reads what is there, up to len, awaiting the first byte.  Returns the
// count, CIO_PROC_WORKER_DIED at the end of the stream, -ECANCELED,
// -ETIMEDOUT.
static ssize_t recv_some(int fd, char *buf, size_t len) {
  for (;;) {
    ssize_t r = recv(fd, buf, len, MSG_DONTWAIT);
    if (r > 0) return r;
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      int rc = cio_wait_readable(fd, CIO_FOREVER);
      if (rc < 0) return rc;
      continue;
    }
    return CIO_PROC_WORKER_DIED; // the end, or ECONNRESET
  }
}

// Sends the job and reads its result on w.  Returns 0 with the function's
// status in *status and its output in *out, or a failure that leaves the
// worker mid-job or gone (it must then be killed): -ECANCELED, -ETIMEDOUT,
// CIO_PROC_WORKER_DIED, NOT_DELIVERED, -ENOMEM, -EPROTO.
static int exchange(cio_procpool *p, struct worker *w, const char *name, const void *in, size_t len,
                    int *status, void **out, size_t *out_len) {
  struct job_head h = {JOB_MAGIC, (uint32_t)strlen(name), len};
  // Small jobs go in one write: header, name and input copied together.
  char small[1024];
  size_t whole = sizeof h + h.name_len + len;
  char *msg = whole <= sizeof small ? small : malloc(whole);
  if (!msg) return -ENOMEM;
  memcpy(msg, &h, sizeof h);
  memcpy(msg + sizeof h, name, h.name_len);
  if (len) memcpy(msg + sizeof h + h.name_len, in, len);
  int rc = send_all(w->fd, msg, whole);
  if (msg != small) free(msg);
  if (rc < 0) return rc;
  ssize_t r;
  // The result: its header and a small output usually in one read.
  struct result_head rh;
  char head[sizeof rh + 1024];
  size_t got = 0;
  while (got < sizeof rh) {
    r = recv_some(w->fd, head + got, sizeof head - got);
    if (r < 0) return (int)r;
    got += (size_t)r;
  }
  memcpy(&rh, head, sizeof rh);
  if (rh.magic != RESULT_MAGIC || rh.len > p->max_message || got - sizeof rh > rh.len)
    return -EPROTO;
  char *buf = NULL;
  if (rh.len) {
    buf = malloc(rh.len);
    if (!buf) return -ENOMEM;
    memcpy(buf, head + sizeof rh, got - sizeof rh);
  }
  for (got -= sizeof rh; got < rh.len;) {
    r = recv_some(w->fd, buf + got, rh.len - got);
    if (r < 0) {
      free(buf);
      return (int)r;
    }
    got += (size_t)r;
  }
  *out = buf;
  *out_len = rh.len;
  *status = rh.status;
  return 0;
}

// Takes the pool for this thread's loop: -EXDEV while another loop's tasks
// have jobs in flight.  The look and the take are one step under the lock:
// two loops looking at once both saw none in flight, and then shared the
// workers and the semaphore of one loop (a job's answer went to another's
// caller).
static int claim(cio_procpool *p) {
  int rc = 0;
  pthread_mutex_lock(&p->owner_lock);
  if (p->in_flight && !pthread_equal(p->owner, pthread_self())) {
    rc = -EXDEV;
  } else {
    p->owner = pthread_self();
    p->in_flight++;
  }
  pthread_mutex_unlock(&p->owner_lock);
  return rc;
}

static void unclaim(cio_procpool *p) {
  pthread_mutex_lock(&p->owner_lock);
  p->in_flight--;
  pthread_mutex_unlock(&p->owner_lock);
}

int cio_procpool_run(cio_procpool *p, const char *name, const void *in, size_t len, void **out,
                     size_t *out_len) {
  if (!p || !name || !out || !out_len || (len && !in)) return -EINVAL;
  *out = NULL;
  *out_len = 0;
  if (!cio_loop_current()) return -EPERM;
  if (strlen(name) > 255 || len > p->max_message) return strlen(name) > 255 ? -EINVAL : -EMSGSIZE;
  if (p->broken) return CIO_PROC_POOL_BROKEN;
  // One thread's loop at a time: jobs in flight pin it.
  int rc = claim(p);
  if (rc < 0) return rc;
  rc = cio_sem_acquire(p->free_workers);
  if (rc < 0) {
    unclaim(p);
    return rc;
  }
  struct worker *w = NULL;
  for (int i = 0; i < p->nworkers && !w; i++)
    if (!p->workers[i].busy) w = &p->workers[i];
  if (!w) { // (the semaphore counts the free workers: not reached)
    cio_sem_release(p->free_workers);
    unclaim(p);
    return -EAGAIN;
  }
  w->busy = true;
  if (w->fd < 0) { // killed or died: a new one
    rc = spawn_worker(p, w);
    if (rc == 0) p->replaced++;
  }
  if (rc == 0) {
    int status = 0;
    rc = exchange(p, w, name, in, len, &status, out, out_len);
    if (rc == NOT_DELIVERED) { // it died while idle: the job goes to a new one
      worker_kill(w);
      rc = spawn_worker(p, w);
      if (rc == 0) {
        p->replaced++;
        rc = exchange(p, w, name, in, len, &status, out, out_len);
        if (rc == NOT_DELIVERED) rc = CIO_PROC_WORKER_DIED;
      }
    }
    if (rc < 0)
      worker_kill(w); // mid-job or gone: replaced when next needed
    else
      rc = status;
  }
  w->busy = false;
  cio_sem_release(p->free_workers);
  unclaim(p);
  return rc;
}
