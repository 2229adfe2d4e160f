// SPDX-License-Identifier: MIT
//
// Addresses: name resolution (getaddrinfo on the worker pool, its failures
// as CIO_EAI_* codes), and the calls that make sockets from names: TCP
// connect and listen, Unix sockets, UDP.  The sockets themselves are
// sock.c's.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../include/cio.h"
#include "../internal.h"
#include "../task/task.h"
#include "pool.h"
#include "sock.h"

struct lookup {
  char *host, *port;    // query (owned copies)
  int flags;            // AI_* flags
  int socktype;         // SOCK_STREAM / SOCK_DGRAM
  struct addrinfo *res; // answer
  int rc;               // getaddrinfo's code
  atomic_int state;     // RUNNING, then FINISHED or ABANDONED (who frees it)
};

enum { RUNNING, FINISHED, ABANDONED };

static void lookup_free(struct lookup *q) {
  if (q->res) freeaddrinfo(q->res);
  free(q->host);
  free(q->port);
  free(q);
}

static void *do_lookup(void *arg) {
  struct lookup *q = arg;
  struct addrinfo hints = {
      .ai_family = AF_UNSPEC, .ai_socktype = q->socktype, .ai_flags = q->flags};
  q->rc = getaddrinfo(q->host, q->port, &hints, &q->res);
  if (q->rc) q->res = NULL;
  return NULL;
}

// On the pool: if the task gave up waiting, the last one out frees q.
static void *pooled_lookup(void *arg) {
  struct lookup *q = arg;
  do_lookup(q);
  if (atomic_exchange(&q->state, FINISHED) == ABANDONED) lookup_free(q);
  return NULL;
}

// The lookup could not be queued: no worker will ever have it, so the
// caller frees it.  (It was leaked: the caller waited for a worker to free
// it.)
static void never_queued(void *arg) {
  struct lookup *q = arg;
  atomic_store(&q->state, FINISHED);
}

// getaddrinfo's answer as a cio code: a name that does not resolve gets a
// CIO_EAI_* code of its own (<cio.h>), not an errno that means something
// else (-ENOENT read "No such file or directory").  A bad service or flags
// stay -EINVAL: bad input.
static int gai_errno(int rc) {
  switch (rc) {
  case 0: return 0;
  case EAI_NONAME: return CIO_EAI_NONAME;
#ifdef EAI_NODATA
  case EAI_NODATA: return CIO_EAI_NODATA;
#endif
  case EAI_AGAIN: return CIO_EAI_AGAIN;
  case EAI_FAIL: return CIO_EAI_FAIL;
  case EAI_SERVICE: return -EINVAL;
  case EAI_MEMORY: return -ENOMEM;
  case EAI_SYSTEM: return -errno;
  default: return -EINVAL;
  }
}

static bool valid_port(const char *port) {
  if (!port || !*port) return false;
  char *end;
  long p = strtol(port, &end, 10);
  return *end ? true /* a service name: getaddrinfo decides */ : p >= 0 && p <= 65535;
}

// Resolves without blocking the loop: numeric addresses at once, names on
// the worker pool.  *res is the caller's to freeaddrinfo().
int cio__resolve(cio__loop *L, const char *host, const char *port, int socktype, int flags,
                 struct addrinfo **res) {
  if (!valid_port(port)) return -EINVAL;
  struct addrinfo hints = {
      .ai_family = AF_UNSPEC, .ai_socktype = socktype, .ai_flags = flags | AI_NUMERICHOST};
  int rc = getaddrinfo(host, port, &hints, res);
  if (rc != EAI_NONAME || !host || (flags & AI_PASSIVE)) return gai_errno(rc);
  // A name: resolve it on the pool.
  struct lookup *q = cio__calloc(1, sizeof *q);
  if (!q || !(q->host = cio__strdup(host)) || !(q->port = cio__strdup(port))) {
    if (q) lookup_free(q);
    return -ENOMEM;
  }
  q->flags = flags;
  q->socktype = socktype;
  atomic_init(&q->state, RUNNING);
  rc = cio__pool_submit_wait(L, pooled_lookup, q, never_queued);
  if (rc < 0) {
    if (atomic_exchange(&q->state, ABANDONED) == FINISHED) lookup_free(q);
    return rc;
  }
  rc = gai_errno(q->rc);
  *res = q->res;
  q->res = NULL;
  lookup_free(q);
  return rc;
}

int cio_tcp_connect(cio_sock **out, const char *host, const char *port) {
  cio__loop *L = cio__await_loop("cio_tcp_connect");
  if (!L) return -EPERM;
  if (!out || !host || !*host) return -EINVAL;
  struct addrinfo *res;
  int rc = cio__resolve(L, host, port, SOCK_STREAM, 0, &res);
  if (rc < 0) return rc;
  rc = -ECONNREFUSED;
  for (struct addrinfo *a = res; a; a = a->ai_next) {
    int fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      rc = -errno;
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    cio_sock *s = NULL;
    if ((rc = cio__sock_wrap(L, fd, &s)) < 0) {
      close(fd);
      continue;
    }
    rc = cio__sock_connect(L, s, a->ai_addr, a->ai_addrlen);
    if (rc == 0) {
      freeaddrinfo(res);
      *out = s;
      return 0;
    }
    if (rc == -ECANCELED || rc == -ETIMEDOUT) break; // interrupted: stop trying
  }
  freeaddrinfo(res);
  return rc;
}

static int listen_on(cio__loop *L, int family, const struct sockaddr *addr, socklen_t len,
                     int backlog, unsigned flags, cio_sock **out) {
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int one = 1;
  if (family != AF_UNIX) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if ((flags & CIO_REUSEPORT) && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
    int err = -errno;
    close(fd);
    return err;
  }
  // Set once here, TCP_NODELAY is inherited by every accepted connection.
  bool nodelay =
      family != AF_UNIX && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0;
  int rc = 0;
  if (bind(fd, addr, len) < 0 || listen(fd, backlog > 0 ? backlog : SOMAXCONN) < 0) rc = -errno;
  if (rc == 0) rc = cio__sock_wrap(L, fd, out);
  if (rc < 0) close(fd);
  if (rc == 0 && nodelay) cio__sock_inherits_nodelay(*out);
  return rc;
}

int cio_tcp_listen(cio_sock **out, const char *host, const char *port, int backlog,
                   unsigned flags) {
  cio__loop *L = cio__thread_loop("cio_tcp_listen");
  if (!L) return -EPERM;
  if (!out || (flags & ~CIO_REUSEPORT)) return -EINVAL;
  struct addrinfo *res;
  int rc = cio__resolve(L, host && *host ? host : NULL, port, SOCK_STREAM, AI_PASSIVE, &res);
  if (rc < 0) return rc;
  rc = listen_on(L, res->ai_family, res->ai_addr, res->ai_addrlen, backlog, flags, out);
  freeaddrinfo(res);
  return rc;
}

static int unix_addr(const char *path, struct sockaddr_un *a) {
  if (!path || !*path || strlen(path) >= sizeof a->sun_path) return -EINVAL;
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  strcpy(a->sun_path, path);
  return 0;
}

int cio_unix_listen(cio_sock **out, const char *path, int backlog) {
  cio__loop *L = cio__thread_loop("cio_unix_listen");
  if (!L) return -EPERM;
  struct sockaddr_un a;
  if (!out || unix_addr(path, &a) < 0) return -EINVAL;
  struct stat st;
  if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode)) unlink(path); // stale
  return listen_on(L, AF_UNIX, (struct sockaddr *)&a, sizeof a, backlog, 0, out);
}

int cio_unix_connect(cio_sock **out, const char *path) {
  cio__loop *L = cio__await_loop("cio_unix_connect");
  if (!L) return -EPERM;
  struct sockaddr_un a;
  if (!out || unix_addr(path, &a) < 0) return -EINVAL;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  cio_sock *s = NULL;
  int rc = cio__sock_wrap(L, fd, &s);
  if (rc < 0) {
    close(fd);
    return rc;
  }
  rc = cio__sock_connect(L, s, (struct sockaddr *)&a, sizeof a);
  if (rc < 0) return rc;
  *out = s;
  return 0;
}

int cio_udp_open(cio_sock **out, const char *host, const char *port) {
  cio__loop *L = cio__thread_loop("cio_udp_open");
  if (!L) return -EPERM;
  if (!out) return -EINVAL;
  int family = AF_INET;
  struct addrinfo *res = NULL;
  if (port) {
    int rc = cio__resolve(L, host && *host ? host : NULL, port, SOCK_DGRAM, AI_PASSIVE, &res);
    if (rc < 0) return rc;
    family = res->ai_family;
  }
  int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int rc = fd < 0 ? -errno : 0;
  if (rc == 0 && res && bind(fd, res->ai_addr, res->ai_addrlen) < 0) {
    rc = -errno;
    close(fd);
  }
  if (res) freeaddrinfo(res);
  if (rc == 0 && (rc = cio__sock_wrap(L, fd, out)) < 0) close(fd);
  return rc;
}
