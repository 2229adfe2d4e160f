// SPDX-License-Identifier: MIT
//
// conns: 10,000 concurrent idle connections held by the echo server (a task
// per connection, each blocked in a read with a 16 KiB buffer on its stack).
// A child process opens the connections (client and server would not fit
// in one process's descriptor limit); the server reports its resident
// memory per connection.  Last line: "conns <KiB per connection> KiB".
#include <arpa/inet.h>
#include <cio.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

static int echo(cio_stream *conn, void *arg) {
  (void)arg;
  cio_sock *s = cio_stream_sock(conn);
  char buf[16384];
  for (;;) {
    ssize_t n = cio_sock_read(s, buf, sizeof buf);
    if (n <= 0) return (int)n;
    if (cio_sock_write(s, buf, (size_t)n) < 0) return -1;
  }
}

// The child: open n connections, report, wait to be killed.
static void client(int port, long n, int ready_fd) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (long i = 0; i < n; i++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
      perror("conns client");
      _exit(1);
    }
  }
  char ok = 1;
  if (write(ready_fd, &ok, 1) != 1) _exit(1);
  pause();
  _exit(0);
}

struct params {
  long n;     // connections
  double kib; // result
};

static int run(void *arg) {
  struct params *p = arg;
  cio_server *srv;
  cio_server_opts opts = {.backlog = 4096};
  if (cio_server_start(&srv, "127.0.0.1", "0", echo, NULL, &opts) < 0) return -1;
  int fds[2];
  if (pipe(fds) < 0) return -1;
  long before = bench_rss_kib();
  pid_t pid = fork();
  if (pid == 0) client(cio_server_port(srv), p->n, fds[1]);
  cio_sock *ready = cio_sock_wrap(fds[0]);
  char ok;
  if (cio_sock_read(ready, &ok, 1) != 1) return -1;
  while (cio_server_connections(srv) < (size_t)p->n)
    if (cio_sleep(0.01) < 0) return -1;
  if (cio_sleep(0.2) < 0) return -1; // let every handler reach its read
  long during = bench_rss_kib();
  p->kib = (double)(during - before) / p->n;
  printf("connections %zu\n", cio_server_connections(srv));
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  cio_sock_close(ready);
  close(fds[1]);
  return cio_server_close(srv, 5) < 0 ? -1 : 0;
}

int main(int argc, char **argv) {
  struct params p = {.n = bench_count(argc, argv, 10000)};
  if (p.n <= 0 || cio_run(run, &p) < 0) return 1;
  printf("conns %.2f KiB\n", p.kib);
  return 0;
}
