// SPDX-License-Identifier: MIT
//
// cio_http_run_workers(): an app served on a loop per core, uvicorn's
// --workers with threads instead of processes.  Every loop runs
// cio_http_run() on the same port with SO_REUSEPORT (the kernel spreads
// connections among the listeners), all in a group of loops
// (cio_run_loops), so SIGINT/SIGTERM shut every loop's server down
// gracefully and a loop that cannot listen cancels the others.
//
// Port 0: the port is picked here, before any loop starts, by binding a
// socket to port 0 with SO_REUSEPORT without listening on it.  Every loop
// then listens on that port; the socket keeps it reserved until they have
// all ended.  A socket that does not listen gets no connections.
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../include/cio.h"
#include "../../include/cio/http.h"
#include "../internal.h"

struct workers {
  cio_http_app *app;  // the app, shared read-only by every loop
  const char *host;   // where to listen
  const char *port;   //   "
  cio_http_opts opts; // the caller's options, with reuseport set
};

static int serve_on_loop(void *arg, int index) {
  (void)index;
  struct workers *w = arg;
  return cio_http_run(w->app, w->host, w->port, &w->opts);
}

// True if `port` is a number that is 0 ("0", "00").
static bool any_port(const char *port) {
  char *end;
  long p = strtol(port, &end, 10);
  return *port && !*end && p == 0;
}

// Binds a socket to host:0 with SO_REUSEPORT and writes the port the
// kernel chose into port[0..len).  Returns the socket, or a negative errno
// (CIO_EAI_NONAME for a host that is not a numeric address, as
// cio_tcp_listen() says).
static int reserve_port(const char *host, char *port, size_t len) {
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV};
  struct addrinfo *res;
  if (getaddrinfo(host && *host ? host : NULL, "0", &hints, &res) != 0) return CIO_EAI_NONAME;
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
  int rc = fd < 0 ? -errno : 0;
  struct sockaddr_storage a;
  memset(&a, 0, sizeof a); // getsockname() fills it
  socklen_t alen = sizeof a;
  if (rc == 0 && (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
                  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0 ||
                  bind(fd, res->ai_addr, res->ai_addrlen) < 0 ||
                  getsockname(fd, (struct sockaddr *)&a, &alen) < 0))
    rc = -errno;
  freeaddrinfo(res);
  if (rc < 0) {
    if (fd >= 0) close(fd);
    return rc;
  }
  const struct sockaddr_in *v4 = (const struct sockaddr_in *)&a;
  const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&a;
  snprintf(port, len, "%u", ntohs(a.ss_family == AF_INET6 ? v6->sin6_port : v4->sin_port));
  return fd;
}

int cio_http_run_workers(cio_http_app *app, const char *host, const char *port,
                         const cio_http_opts *opts, int nloops) {
  if (!app || !port) return -EINVAL;
  if (cio_loop_current()) {
    cio__warn("cio_http_run_workers() called inside a running loop; it starts loops of its own "
              "(call cio_http_run() there)");
    return -EBUSY;
  }
  struct workers w = {.app = app, .host = host, .port = port};
  if (opts) w.opts = *opts;
  w.opts.reuseport = true;
  char picked[16];
  int reserved = -1;
  if (any_port(port)) {
    reserved = reserve_port(host, picked, sizeof picked);
    if (reserved < 0) return reserved;
    w.port = picked;
  }
  int rc = cio_run_loops(nloops, serve_on_loop, &w, NULL);
  if (reserved >= 0) close(reserved);
  return rc;
}
