// SPDX-License-Identifier: MIT
//
// A TCP echo server (asyncio.start_server): every connection is a task
// that reads lines and writes them back.
//
//   echo_server [port]        (default 8888; Ctrl-C stops it cleanly)
#include <cio.h>
#include <stdio.h>
#include <stdlib.h>

// One connection: echo until the client closes.
static int echo(cio_stream *conn, void *arg) {
  (void)arg;
  char buf[4096];
  for (;;) {
    ssize_t n = cio_stream_read(conn, buf, sizeof buf);
    if (n <= 0) return (int)n; // 0: the client closed
    int rc = cio_stream_write(conn, buf, (size_t)n);
    if (rc == 0) rc = cio_stream_drain(conn); // waits if the client reads slowly
    if (rc < 0) return rc;
  }
}

static int serve(void *arg) {
  const char *port = arg;
  cio_server *srv;
  int rc = cio_server_start(&srv, "0.0.0.0", port, echo, NULL, NULL);
  if (rc < 0) {
    fprintf(stderr, "echo_server: cannot listen on port %s: %s\n", port, cio_strerror(rc));
    return rc;
  }
  printf("echo server on port %d; Ctrl-C to stop\n", cio_server_port(srv));
  fflush(stdout);
  rc = cio_sleep(CIO_FOREVER); // until Ctrl-C cancels us
  int cancelled = cio_server_close(srv, 1.0);
  printf("stopped (%d connection(s) cancelled)\n", cancelled < 0 ? 0 : cancelled);
  return rc == -ECANCELED ? 0 : rc;
}

int main(int argc, char **argv) {
  int rc = cio_run(serve, argc > 1 ? argv[1] : "8888");
  return rc < 0;
}
