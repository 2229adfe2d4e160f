// SPDX-License-Identifier: MIT
//
// The echo benchmark's cio server: one loop, a task per connection, a
// 16 KiB buffer each.  Prints "listening <port>" once it accepts.
//
//   bench_echo_server <port>
#include <cio.h>
#include <stdio.h>

static int echo(cio_stream *conn, void *arg) {
  (void)arg;
  cio_sock *s = cio_stream_sock(conn);
  char buf[16384];
  for (;;) {
    ssize_t n = cio_sock_read(s, buf, sizeof buf);
    if (n <= 0) return (int)n;
    ssize_t w = cio_sock_write(s, buf, (size_t)n);
    if (w < 0) return (int)w;
  }
}

static int serve(void *arg) {
  cio_server *srv;
  int rc = cio_server_start(&srv, "127.0.0.1", arg, echo, NULL, NULL);
  if (rc < 0) return rc;
  printf("listening %d\n", cio_server_port(srv));
  fflush(stdout);
  rc = cio_sleep(CIO_FOREVER); // until SIGTERM cancels us
  int closed = cio_server_close(srv, 0.1);
  (void)closed;
  return rc == -ECANCELED ? 0 : rc;
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  return cio_run(serve, argv[1]) < 0;
}
