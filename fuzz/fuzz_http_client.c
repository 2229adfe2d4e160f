// SPDX-License-Identifier: MIT
//
// libFuzzer target for the HTTP client (<cio/http_client.h>): each input is
// what a server answers to a GET, on a loopback connection, before it
// closes.  Whatever the bytes (a bad status line, headers without an end,
// a chunked body cut or malformed, a Content-Length that lies, a gzip
// body that does not inflate), the request must end with a response or
// one of the documented codes, within the client's read timeout: never a
// crash, a sanitizer report, a leak or a hang.  The connection the client
// used must be closed or clean: a second request always gets its own
// well-formed answer.
#include <cio.h>
#include <cio/http_client.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct input {
  const uint8_t *data;
  size_t size;
  cio_sock *listener;
};

// Reads a request head (to its blank line); false if the client left.
static bool read_head(cio_sock *s) {
  char buf[2048];
  size_t got = 0;
  while (got < sizeof buf - 1) {
    ssize_t n = cio_sock_read(s, buf + got, sizeof buf - 1 - got);
    if (n <= 0) return false;
    got += (size_t)n;
    buf[got] = '\0';
    if (strstr(buf, "\r\n\r\n")) return true;
  }
  return true;
}

// The server: the first connection gets the input and is closed; the next
// ones get a well-formed answer each, kept alive.
static int server(void *arg) {
  struct input *in = arg;
  for (int conn = 0;; conn++) {
    cio_sock *s;
    if (cio_sock_accept(in->listener, &s) < 0) return 0; // cancelled at the end
    if (conn == 0) {
      if (read_head(s) && in->size && cio_sock_write(s, in->data, in->size) < 0) {
        // the client may have given up already
      }
      (void)cio_sock_close(s);
      continue;
    }
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    while (read_head(s) && cio_sock_write(s, ok, sizeof ok - 1) >= 0) {
    }
    (void)cio_sock_close(s);
  }
}

static bool documented(int rc) {
  switch (rc) {
  case 0:
  case CIO_HTTP_PROTOCOL:
  case CIO_HTTP_READ_TIMEOUT:
  case CIO_HTTP_BODY_TOO_LARGE:
  case CIO_HTTP_TOO_MANY_REDIRECTS:
  case -ECONNRESET:
  case -ECONNREFUSED:
  case -EPIPE:
  case -EINVAL: // a redirect to a URL libcurl refuses
    return true;
  default: return false;
  }
}

static int fuzz_main(void *arg) {
  struct input *in = arg;
  // One listening socket for the whole process, wrapped afresh for each
  // input's loop (a dup: closing the wrapper leaves it open): a new
  // listener per input exhausted the ephemeral ports within a minute, as
  // the connections before it sat in TIME_WAIT.
  static int listen_fd = -1;
  static int port;
  int rc;
  if (listen_fd < 0) {
    cio_sock *l;
    if ((rc = cio_tcp_listen(&l, "127.0.0.1", "0", 64, 0)) < 0) {
      fprintf(stderr, "listen: %s\n", cio_strerror(rc));
      abort();
    }
    port = cio_sock_port(l);
    listen_fd = dup(cio_sock_fd(l));
    if (listen_fd < 0 || cio_sock_close(l) < 0) abort();
  }
  int fd = dup(listen_fd);
  if (fd < 0 || !(in->listener = cio_sock_wrap(fd))) abort();
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
  cio_task *t = cio_spawn(server, in);
  cio_http_client_opts o = {.read_timeout = 0.5, .max_body = 1 << 16}; // 3xx: answers
  cio_http_client *c;
  if (!t || cio_http_client_new(&c, &o) < 0) abort();
  cio_http_response *r;
  rc = cio_http_get(c, url, &r);
  if (getenv("CIO_FUZZ_VERBOSE")) // what each answer came to
    fprintf(stderr, "  %s (%s), status %d\n", cio_strerror(rc), cio_http_client_error(),
            rc == 0 ? cio_http_response_status(r) : 0);
  if (!documented(rc)) {
    fprintf(stderr, "undocumented result %d (%s): %s\n", rc, cio_strerror(rc),
            cio_http_client_error());
    abort();
  }
  if (rc == 0) {
    size_t len;
    const char *body = cio_http_response_body(r, &len);
    int status = cio_http_response_status(r);
    if (!body || body[len] != '\0' || len > (1 << 16) || status < 100 || status > 999) abort();
    cio_http_response_free(r);
  }
  // The next request, on whatever connection the pool offers, is answered
  // whole: nothing of the fuzzed answer is left on a connection reused.
  rc = cio_http_get(c, url, &r);
  if (rc != 0) {
    fprintf(stderr, "the second request failed: %s: %s\n", cio_strerror(rc),
            cio_http_client_error());
    abort();
  }
  size_t len;
  const char *body = cio_http_response_body(r, &len);
  if (cio_http_response_status(r) != 200 || len != 2 || memcmp(body, "ok", 2) != 0) abort();
  cio_http_response_free(r);
  if (cio_http_client_close(c) < 0) abort();
  (void)cio_cancel(t);
  if (cio_join(t) < 0) abort();
  return cio_sock_close(in->listener);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct input in = {data, size, NULL};
  if (cio_run(fuzz_main, &in) < 0) abort();
  return 0;
}
