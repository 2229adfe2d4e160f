// SPDX-License-Identifier: MIT
//
// Sockets.  Each socket is registered with the loop's poller once, for
// reading and writing, edge-triggered.  Operations try the system call
// first and only on EAGAIN park the task until the poller reports the next
// edge; the poller's callback wakes the parked reader or writer.  Since the
// loop is single-threaded, no edge can slip in between the EAGAIN and the
// park.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../include/cio.h"
#include "../internal.h"
#include "../sync/quarantine.h"
#include "../task/task.h"
#include "pool.h"
#include "sock.h"

struct cio_sock {
  cio__io io;       // poller registration (io.fd is the descriptor)
  cio__loop *loop;  // the loop it belongs to
  cio_task *reader; // task parked until readable
  cio_task *writer; // task parked until writable
  bool readable;    // no EAGAIN or short read since the last read edge
  bool writable;    // no EAGAIN since the last write edge
  bool datagram;    // a short read does not mean the queue is empty
  bool hup;         // the peer closed (or the socket failed): reads never wait again
  bool not_socket;  // a pipe or terminal: written with write(), not send()
  bool nodelay;     // a listener whose connections inherit TCP_NODELAY
  cio_task *on_hup; // task to cancel when the peer closes (cio__sock_cancel_on_hup)
  uint32_t magic;   // SOCK_MAGIC while open
};

#define SOCK_MAGIC 0x736f636bu // "sock"

static bool valid(const cio_sock *s) { return s && s->magic == SOCK_MAGIC; }

static void on_ready(cio__io *io, uint32_t ev) {
  cio_sock *s = cio__container_of(io, cio_sock, io);
  if (ev & CIO__IO_READ) s->readable = true;
  if (ev & CIO__IO_HUP) {
    s->hup = true;
    if (s->on_hup) cio_cancel(s->on_hup);
  }
  if (ev & CIO__IO_WRITE) s->writable = true;
  if ((ev & CIO__IO_READ) && s->reader) {
    cio_task *t = s->reader;
    s->reader = NULL;
    cio__wake(s->loop, t, 0);
  }
  if ((ev & CIO__IO_WRITE) && s->writer) {
    cio_task *t = s->writer;
    s->writer = NULL;
    cio__wake(s->loop, t, 0);
  }
}

// Wraps fd for loop L; `accepted`: a stream socket from accept4(), already
// non-blocking (three system calls fewer per connection).  Returns 0 or
// -errno (fd is then left as it was).
static int wrap(cio__loop *L, int fd, bool accepted, cio_sock **out) {
  if (!accepted) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return -errno;
  }
  cio_sock *s = cio__calloc(1, sizeof *s);
  if (!s) return -ENOMEM;
  s->io.fd = fd;
  s->io.ready = on_ready;
  s->loop = L;
  s->readable = s->writable = true;
  int type = SOCK_STREAM;
  socklen_t tl = sizeof type;
  if (accepted || getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0)
    s->datagram = type == SOCK_DGRAM;
  else
    s->not_socket = errno == ENOTSOCK;
  int rc = cio__loop_watch(L, &s->io, CIO__IO_READ | CIO__IO_WRITE);
  if (rc < 0) {
    free(s);
    return rc;
  }
  s->magic = SOCK_MAGIC;
  *out = s;
  return 0;
}

int cio__sock_wrap(cio__loop *L, int fd, cio_sock **out) { return wrap(L, fd, false, out); }

cio_sock *cio_sock_wrap(int fd) {
  cio__loop *L = cio__thread_loop("cio_sock_wrap");
  if (!L) return cio__null_errno(EPERM);
  if (fcntl(fd, F_GETFD) < 0) {
    errno = EBADF;
    return NULL;
  }
  cio_sock *s = NULL;
  int rc = cio__sock_wrap(L, fd, &s);
  if (rc < 0) {
    errno = -rc;
    return NULL;
  }
  return s;
}

// The memory goes to the quarantine, so a second close reads a cleared
// magic and returns -EINVAL (it used to read freed memory).
int cio_sock_close(cio_sock *s) {
  if (!valid(s)) return cio__bad_handle("cio_sock_close", "socket", s);
  cio__loop *L = s->loop;
  s->magic = 0;
  // Waiters wake with -EBADF and do not touch the socket again.
  if (s->reader) cio__wake(L, s->reader, -EBADF);
  if (s->writer) cio__wake(L, s->writer, -EBADF);
  cio__loop_unwatch(L, &s->io);
  close(s->io.fd);
  cio__quarantine(s);
  return 0;
}

// Parks the running task until `s` is readable (or writable).
static int wait_ready(cio__loop *L, cio_sock *s, bool write) {
  cio_task **slot = write ? &s->writer : &s->reader;
  if (*slot) return -EBUSY;
  *slot = L->current;
  L->current->wait_obj = (const void *)(intptr_t)s->io.fd; // task dumps show the fd
  int rc = cio__park(L, CIO__NEVER, write ? "socket write" : "socket read");
  if (rc == -EBADF) return rc; // closed meanwhile: s is gone
  *slot = NULL;
  return rc;
}

static cio__loop *sock_loop(const cio_sock *s, const char *fn, int *err) {
  cio__loop *L = cio__await_loop(fn);
  if (!L) {
    *err = -EPERM;
    return NULL;
  }
  if (!valid(s)) {
    *err = -EBADF;
    return NULL;
  }
  if (s->loop != L) {
    *err = -EPERM; // another loop's socket
    return NULL;
  }
  return L;
}

// Reads skip the system call that would only say EAGAIN: a stream read
// that returned less than asked drained the socket, so the next read waits
// for the poller's next edge first (which also saves the echo benchmark a
// third of its system calls).
ssize_t cio_sock_read(cio_sock *s, void *buf, size_t len) {
  int err;
  cio__loop *L = sock_loop(s, "cio_sock_read", &err);
  if (!L) return err;
  if (!buf && len) return -EINVAL;
  int rc = cio__coop(L); // data already there never suspends
  if (rc < 0) return rc;
  if (!valid(s)) return -EBADF;
  for (;;) {
    if (!s->readable && len) {
      int rc = wait_ready(L, s, false);
      if (rc < 0) return rc;
      continue;
    }
    ssize_t r = read(s->io.fd, buf, len);
    if (r > 0) {
      // The peer's FIN may have come with this data, and no edge follows.
      if ((size_t)r < len && !s->datagram && !s->hup) s->readable = false;
      return r;
    }
    if (r == 0) return 0;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return -errno;
    s->readable = false;
  }
}

ssize_t cio__sock_discard(cio_sock *s, size_t most) {
  int err;
  cio__loop *L = sock_loop(s, "cio_sock_read", &err);
  if (!L) return err;
  int rc = cio__coop(L);
  if (rc < 0) return rc;
  if (!valid(s)) return -EBADF;
  char small[512]; // what a descriptor other than a TCP socket is read into
  for (;;) {
    if (!s->readable && most) {
      int rc = wait_ready(L, s, false);
      if (rc < 0) return rc;
      continue;
    }
    ssize_t r = s->not_socket || s->datagram
                    ? read(s->io.fd, small, most < sizeof small ? most : sizeof small)
                    : recv(s->io.fd, NULL, most, MSG_TRUNC | MSG_DONTWAIT);
    if (r > 0) {
      if ((size_t)r < most && !s->datagram && !s->hup) s->readable = false;
      return r;
    }
    if (r == 0) return 0;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return -errno;
    s->readable = false;
  }
}

// write(2) to a pipe whose reader has gone raises SIGPIPE, which kills the
// process by default (a child that exits before reading its stdin would
// take the parent with it), and pipes have no MSG_NOSIGNAL; nor has
// sendfile(2).  So SIGPIPE is blocked on this thread around such a write,
// and the one the write raised is taken back before it is unblocked.  Two
// or three system calls more per write; send(2) does not pay it.
struct pipe_guard {
  sigset_t only, old; // SIGPIPE; the mask before
  bool was_pending;   // a SIGPIPE was pending already: not ours to take
};

static void pipe_guard_begin(struct pipe_guard *g) {
  sigset_t pending;
  sigemptyset(&g->only);
  sigaddset(&g->only, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &g->only, &g->old);
  g->was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE);
}

// Ends the guard after a write that failed with `err` (0: it did not).
static void pipe_guard_end(struct pipe_guard *g, int err) {
  if (err == EPIPE && !g->was_pending && !sigismember(&g->old, SIGPIPE)) {
    struct timespec zero = {0, 0};
    while (sigtimedwait(&g->only, NULL, &zero) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

static ssize_t write_pipe(int fd, const void *buf, size_t len) {
  struct pipe_guard g;
  pipe_guard_begin(&g);
  ssize_t w = write(fd, buf, len);
  int err = w < 0 ? errno : 0;
  pipe_guard_end(&g, err);
  errno = err;
  return w;
}

// Sends what the socket takes now: bytes sent, -EAGAIN (nothing taken;
// the next edge says when to try again), or -errno.
static ssize_t send_now(cio_sock *s, const void *buf, size_t len) {
  for (;;) {
    ssize_t w =
        s->not_socket ? write_pipe(s->io.fd, buf, len) : send(s->io.fd, buf, len, MSG_NOSIGNAL);
    if (w >= 0) return w;
    if (errno == EINTR) continue;
    if (errno == EAGAIN) s->writable = false;
    return -errno;
  }
}

// Parks until the writable edge that follows an EAGAIN.
static int wait_writable(cio__loop *L, cio_sock *s) {
  while (!s->writable) {
    int rc = wait_ready(L, s, true);
    if (rc < 0) return rc;
  }
  return 0;
}

int cio__sock_wait_again(cio_sock *s, bool write) {
  int err;
  cio__loop *L = sock_loop(s, "cio_tls", &err);
  if (!L) return err;
  if (write) {
    s->writable = false;
    return wait_writable(L, s);
  }
  s->readable = false;
  while (!s->readable) {
    int rc = wait_ready(L, s, false);
    if (rc < 0) return rc;
  }
  return 0;
}

ssize_t cio__sock_send_now(cio_sock *s, const void *buf, size_t len) {
  int err;
  if (!sock_loop(s, "cio_stream_drain", &err)) return err;
  return send_now(s, buf, len);
}

int cio__sock_wait_writable(cio_sock *s) {
  int err;
  cio__loop *L = sock_loop(s, "cio_stream_drain", &err);
  return L ? wait_writable(L, s) : err;
}

int cio__sock_sendfile(cio_sock *s, int in_fd, off_t *offset, size_t len) {
  int err;
  cio__loop *L = sock_loop(s, "cio_http_static", &err);
  if (!L) return err;
  int rc = cio__coop(L); // a socket with room never suspends
  if (rc < 0) return rc;
  if (!valid(s)) return -EBADF;
  while (len) {
    struct pipe_guard g;
    pipe_guard_begin(&g);
    ssize_t w = sendfile(s->io.fd, in_fd, offset, len);
    err = w < 0 ? errno : 0;
    pipe_guard_end(&g, err);
    if (w > 0) {
      len -= (size_t)w;
    } else if (w == 0) {
      return -EIO; // the file ends sooner
    } else if (err == EAGAIN) {
      s->writable = false;
      if ((rc = wait_writable(L, s)) < 0) return rc;
    } else if (err != EINTR) {
      return -err;
    }
  }
  return 0;
}

// Sends all of buf, waiting for a slow peer; *sent counts what the kernel
// took, whatever ends the call.
static int write_all(cio_sock *s, const char *buf, size_t len, size_t *sent, const char *fn) {
  *sent = 0;
  int err;
  cio__loop *L = sock_loop(s, fn, &err);
  if (!L) return err;
  if (!buf && len) return -EINVAL;
  int rc = cio__coop(L); // a socket with room never suspends
  if (rc < 0) return rc;
  if (!valid(s)) return -EBADF;
  while (*sent < len) {
    ssize_t w = send_now(s, buf + *sent, len - *sent);
    if (w >= 0) {
      *sent += (size_t)w;
      continue;
    }
    if (w != -EAGAIN) return (int)w;
    int rc = wait_writable(L, s);
    if (rc < 0) return rc;
  }
  return 0;
}

ssize_t cio_sock_write(cio_sock *s, const void *buf, size_t len) {
  size_t sent;
  int rc = write_all(s, buf, len, &sent, "cio_sock_write");
  return rc < 0 ? rc : (ssize_t)len;
}

int cio_sock_write_all(cio_sock *s, const void *buf, size_t len, size_t *sent) {
  size_t n;
  int rc = write_all(s, buf, len, &n, "cio_sock_write_all");
  if (sent) *sent = n;
  return rc;
}

ssize_t cio_sock_recvfrom(cio_sock *s, void *buf, size_t len, struct sockaddr_storage *from,
                          socklen_t *fromlen) {
  int err;
  cio__loop *L = sock_loop(s, "cio_sock_recvfrom", &err);
  if (!L) return err;
  for (;;) {
    socklen_t fl = sizeof *from;
    ssize_t r = recvfrom(s->io.fd, buf, len, 0, (struct sockaddr *)from, from ? &fl : NULL);
    if (r >= 0) {
      if (fromlen) *fromlen = fl;
      return r;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return -errno;
    int rc = wait_ready(L, s, false);
    if (rc < 0) return rc;
  }
}

ssize_t cio_sock_sendto(cio_sock *s, const void *buf, size_t len, const struct sockaddr *to,
                        socklen_t tolen) {
  int err;
  cio__loop *L = sock_loop(s, "cio_sock_sendto", &err);
  if (!L) return err;
  for (;;) {
    ssize_t w = sendto(s->io.fd, buf, len, MSG_NOSIGNAL, to, tolen);
    if (w >= 0) return w;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return -errno;
    int rc = wait_ready(L, s, true);
    if (rc < 0) return rc;
  }
}

int cio__sock_accept(cio_sock *l, cio_sock **out, struct sockaddr_storage *peer) {
  int err;
  cio__loop *L = sock_loop(l, "cio_sock_accept", &err);
  if (!L) return err;
  if (!out) return -EINVAL;
  for (;;) {
    socklen_t len = sizeof *peer;
    int fd = accept4(l->io.fd, (struct sockaddr *)peer, peer ? &len : NULL,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      int one = 1;
      if (!l->nodelay) // (fails harmlessly on Unix sockets)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      int rc = wrap(L, fd, true, out);
      if (rc < 0) close(fd);
      return rc;
    }
    // A connection that died in the backlog, or a signal: try again.
    if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
    if (errno != EAGAIN) return -errno;
    int rc = wait_ready(L, l, false);
    if (rc < 0) return rc;
  }
}

int cio_sock_accept(cio_sock *l, cio_sock **out) { return cio__sock_accept(l, out, NULL); }

void cio__sock_inherits_nodelay(cio_sock *listener) { listener->nodelay = true; }

int cio_sock_shutdown(cio_sock *s, int how) {
  if (!valid(s)) return -EINVAL;
  return shutdown(s->io.fd, how) < 0 ? -errno : 0;
}

int cio_sock_fd(const cio_sock *s) { return valid(s) ? s->io.fd : -EBADF; }

int cio_sock_port(const cio_sock *s) {
  if (!valid(s)) return -EBADF;
  struct sockaddr_storage a = {0}; // (for the analyzer: getsockname fills it)
  socklen_t len = sizeof a;
  if (getsockname(s->io.fd, (struct sockaddr *)&a, &len) < 0) return -errno;
  if (a.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&a)->sin_port);
  if (a.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&a)->sin6_port);
  return -EAFNOSUPPORT;
}

void cio__sock_addr_name(const struct sockaddr_storage *a, char *buf, size_t cap) {
  char host[INET6_ADDRSTRLEN] = "?";
  if (a->ss_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)a;
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    snprintf(buf, cap, "%s:%d", host, ntohs(in->sin_port));
  } else if (a->ss_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)a;
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    snprintf(buf, cap, "[%s]:%d", host, ntohs(in6->sin6_port));
  } else {
    snprintf(buf, cap, "unix");
  }
}

int cio_sock_peer_name(const cio_sock *s, char *buf, size_t cap) {
  if (!valid(s) || !buf || !cap) return -EINVAL;
  struct sockaddr_storage a = {0}; // (for the analyzer: getpeername fills it)
  socklen_t len = sizeof a;
  if (getpeername(s->io.fd, (struct sockaddr *)&a, &len) < 0) return -errno;
  cio__sock_addr_name(&a, buf, cap);
  return 0;
}

int cio__sock_connect(cio__loop *L, cio_sock *s, const struct sockaddr *addr, socklen_t len) {
  int rc = 0;
  // EINTR: POSIX lets the connection go on in the background, so a second
  // connect() says EALREADY (still going) or EISCONN (done).
  int r;
  // NOLINTNEXTLINE(clang-analyzer-core.NullDereference): s is from wrap() (-errno is never 0)
  while ((r = connect(s->io.fd, addr, len)) < 0 && errno == EINTR) {
  }
  if (r < 0 && errno == EISCONN) r = 0;
  if (r < 0) {
    if (errno != EINPROGRESS && errno != EAGAIN && errno != EALREADY) {
      rc = -errno;
    } else if ((rc = wait_ready(L, s, true)) == 0) {
      int soerr = 0;
      socklen_t sl = sizeof soerr;
      getsockopt(s->io.fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
      rc = -soerr;
    }
  }
  if (rc < 0 && rc != -EBADF) cio_sock_close(s);
  return rc;
}

int cio__sock_wait_edge(cio_sock *s) {
  int err;
  cio__loop *L = sock_loop(s, "cio__sock_wait_edge", &err);
  if (!L) return err;
  s->readable = false;
  while (!s->readable) {
    int rc = wait_ready(L, s, false);
    if (rc < 0) return rc;
  }
  return 0;
}

int cio__sock_cancel_on_hup(cio_sock *s, cio_task *t) {
  if (!valid(s)) return -EBADF;
  s->on_hup = t;
  if (t && s->hup) cio_cancel(t); // already gone
  return 0;
}
