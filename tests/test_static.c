// SPDX-License-Identifier: MIT
//
// Static files (cio_http_static) and CORS (cio_http_cors) over real
// sockets: path traversal attempts (each 404), content types, ETag,
// Last-Modified and the conditional requests, ranges, HEAD, index.html, an
// 8 MiB file whole, a client that stops reading or leaves mid-file, HTTPS;
// then the same conditional and range requests against nginx serving the
// same directory, and CORS preflights and simple requests against
// Starlette's CORSMiddleware under uvicorn, compared answer by answer.
#include <cio.h>
#include <cio/http.h>
#include <ctype.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "helpers/test.h"
#include "http/http.h" // cio__http_static_no_openat2
#ifdef CIO_HAVE_OPENSSL
#include <cio/tls.h>
#endif

// Skips the case for want of a peer program, or fails it where CI asks
// for every peer (CIO_REQUIRE_CLIENTS=1).
static void missing_peer(const char *why) {
  const char *req = getenv("CIO_REQUIRE_CLIENTS");
  if (req && strcmp(req, "1") == 0) test_fail(__FILE__, __LINE__, "%s", why);
  test_skip(why);
}

// ---------------------------------------------------------------- the tree

static char base[64];    // the temp directory: root/ (served), outside/ (not), nginx's files
static char root[128];   // base/root
#define BIG (8u << 20)   // big.bin's size
#define MTIME 1704164645 // every file's mtime: Tue, 02 Jan 2024 03:04:05 GMT

static unsigned char big_byte(size_t i) { return (unsigned char)(i * 7 % 251); }

static void put(const char *rel, const void *data, size_t len) {
  char p[256];
  snprintf(p, sizeof p, "%s/%s", root, rel);
  FILE *f = fopen(p, "wb");
  ASSERT(f != NULL);
  ASSERT_EQ(fwrite(data, 1, len, f), len);
  ASSERT_EQ(fclose(f), 0);
  struct timespec t[2] = {{MTIME, 0}, {MTIME, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, p, t, 0), 0);
}

// The tree: text files of each type, sub/ with an index.html, an empty
// file, big.bin, a FIFO, a symlink that stays inside and three that lead
// out (to a file and a directory beside root, and to an absolute path).
static void make_tree(void) {
  test_tmpdir(base, sizeof base, "static_");
  snprintf(root, sizeof root, "%s/root", base);
  char p[256];
  ASSERT_EQ(mkdir(root, 0755), 0);
  snprintf(p, sizeof p, "%s/root/sub", base);
  ASSERT_EQ(mkdir(p, 0755), 0);
  snprintf(p, sizeof p, "%s/root/empty_dir", base);
  ASSERT_EQ(mkdir(p, 0755), 0);
  snprintf(p, sizeof p, "%s/outside", base);
  ASSERT_EQ(mkdir(p, 0755), 0);
  snprintf(p, sizeof p, "%s/outside/secret.txt", base);
  FILE *f = fopen(p, "w");
  ASSERT(f != NULL);
  fputs("SECRET\n", f);
  ASSERT_EQ(fclose(f), 0);
  static const char *const names[] = {
      "a.txt",   "page.html",  "style.css", "app.js",    "mod.mjs",   "data.json", "pic.svg",
      "img.png", "img.jpg",    "img.jpeg",  "anim.gif",  "img.webp",  "fav.ico",   "bin.wasm",
      "f.woff2", "app.js.map", "noext",     "UPPER.PNG", "x.unknown", "a b.txt",   ".hidden.css"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    char text[64];
    int n = snprintf(text, sizeof text, "contents of %s\n", names[i]);
    put(names[i], text, (size_t)n);
  }
  put("sub/index.html", "<h1>sub</h1>\n", 13);
  put("sub/b.txt", "bee\n", 4);
  put("empty.txt", "", 0);
  unsigned char *b = malloc(BIG);
  ASSERT(b != NULL);
  for (size_t i = 0; i < BIG; i++) b[i] = big_byte(i);
  put("big.bin", b, BIG);
  free(b);
  snprintf(p, sizeof p, "%s/root/fifo", base);
  ASSERT_EQ(mkfifo(p, 0644), 0);
  snprintf(p, sizeof p, "%s/root/link_in", base);
  ASSERT_EQ(symlink("sub/b.txt", p), 0);
  snprintf(p, sizeof p, "%s/root/link_out", base);
  ASSERT_EQ(symlink("../outside/secret.txt", p), 0);
  snprintf(p, sizeof p, "%s/root/dir_out", base);
  ASSERT_EQ(symlink("../outside", p), 0);
  char target[160];
  snprintf(target, sizeof target, "%s/outside/secret.txt", base);
  snprintf(p, sizeof p, "%s/root/abs_out", base);
  ASSERT_EQ(symlink(target, p), 0);
}

// ---------------------------------------------------------------- a client

// An answer, whole: the head (status line and fields) and the body.
struct reply {
  int status;
  char head[4096];
  unsigned char *body; // malloc'd
  size_t len;
  int error; // how the read ended: 0 at the peer's close, or -errno
};

static void reply_free(struct reply *r) {
  free(r->body);
  r->body = NULL;
}

// A field of the answer's head (case-insensitive name), or NULL; the value
// is copied into one of a few rotating buffers.
static const char *field(const struct reply *r, const char *name) {
  static char vals[8][512];
  static int next;
  size_t nl = strlen(name);
  for (const char *p = strstr(r->head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
    const char *line = p + 2;
    if (!strncasecmp(line, name, nl) && line[nl] == ':') {
      const char *v = line + nl + 1;
      while (*v == ' ') v++;
      const char *end = strstr(v, "\r\n");
      char *out = vals[next++ % 8];
      snprintf(out, 512, "%.*s", (int)(end ? end - v : (long)strlen(v)), v);
      return out;
    }
  }
  return NULL;
}

// Sends raw bytes on a new connection and reads until the server closes
// it (or 30 s pass), splitting the answer into head and body.
static void raw_fetch(const char *port, const char *request, struct reply *r) {
  memset(r, 0, sizeof *r);
  cio_sock *s;
  ASSERT_EQ(cio_tcp_connect(&s, "127.0.0.1", port), 0);
  ASSERT_EQ(cio_sock_write(s, request, strlen(request)), (ssize_t)strlen(request));
  size_t cap = 65536, got = 0;
  unsigned char *buf = malloc(cap);
  ASSERT(buf != NULL);
  cio_scope scope;
  ASSERT_EQ(cio_timeout_begin(&scope, 30), 0);
  for (;;) {
    if (got == cap) {
      cap *= 2;
      buf = realloc(buf, cap);
      ASSERT(buf != NULL);
    }
    ssize_t n = cio_sock_read(s, buf + got, cap - got);
    if (n <= 0) {
      r->error = (int)n;
      break;
    }
    got += (size_t)n;
  }
  ASSERT_EQ(cio_scope_end(&scope), 0);
  cio_sock_close(s);
  unsigned char *end = memmem(buf, got, "\r\n\r\n", 4);
  ASSERT(end != NULL);
  size_t hl = (size_t)(end - buf) + 2;
  ASSERT(hl < sizeof r->head);
  memcpy(r->head, buf, hl);
  r->head[hl] = '\0';
  r->status = atoi(r->head + 9);
  r->len = got - hl - 2;
  r->body = malloc(r->len + 1);
  ASSERT(r->body != NULL);
  memcpy(r->body, end + 4, r->len);
  r->body[r->len] = '\0';
  free(buf);
}

// METHOD target with extra header lines ("Name: v\r\n"...), Connection: close.
static void fetch(const char *port, const char *method, const char *target, const char *extra,
                  struct reply *r) {
  char req[2048];
  snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n%s\r\n",
           method, target, extra ? extra : "");
  raw_fetch(port, req, r);
}

// ---------------------------------------------------------------- the server

struct server {
  cio_http_app *app;
  cio_server *srv;
  char port[8];
};

static void start(struct server *s, bool html, double send_timeout) {
  s->app = cio_http_app_new();
  ASSERT(s->app != NULL);
  cio_http_static_opts o = {.html = html};
  ASSERT_EQ(cio_http_static(s->app, "/static", root, &o), 0);
  cio_http_opts ho = {.send_timeout = send_timeout};
  ASSERT_EQ(cio_http_serve(s->app, "127.0.0.1", "0", &ho, &s->srv), 0);
  snprintf(s->port, sizeof s->port, "%d", cio_server_port(s->srv));
}

static void stop(struct server *s) {
  ASSERT_EQ(cio_server_close(s->srv, 1.0), 0);
  ASSERT_EQ(cio_http_app_free(s->app), 0);
}

static void assert_404(const char *port, const char *target) {
  struct reply r;
  fetch(port, "GET", target, NULL, &r);
  if (r.status != 404 || strcmp((char *)r.body, "{\"detail\":\"Not Found\"}") != 0)
    test_fail(__FILE__, __LINE__, "%s: %d %s", target, r.status, (char *)r.body);
  ASSERT(!strstr((char *)r.body, "SECRET"));
  reply_free(&r);
}

// ---------------------------------------------------------------- traversal

// Each of these is 404 {"detail":"Not Found"}, and never the secret beside
// the root: ".." raw and percent-encoded (%2e%2e, %2f, mixed case), a NUL,
// backslashes (%5c), symlinks out (to a file, through a directory, an
// absolute one), an absolute path, a FIFO (which must not hang the open),
// a directory without html, a file with a slash after it.
static const char *const traversals[] = {
    "/static/../outside/secret.txt",
    "/static/%2e%2e/outside/secret.txt",
    "/static/%2E%2E/outside/secret.txt",
    "/static/.%2e/outside/secret.txt",
    "/static/%2e%2e%2foutside%2fsecret.txt",
    "/static/..%2Foutside%2Fsecret.txt",
    "/static/sub/../../outside/secret.txt",
    "/static/sub/%2e%2e/%2e%2e/outside/secret.txt",
    "/static/sub/..",
    "/static/..",
    "/static/%2e%2e",
    "/static/a.txt%00",
    "/static/a.txt%00.png",
    "/static/%00",
    "/static/..%5coutside%5csecret.txt",
    "/static/%5c..%5c..%5coutside%5csecret.txt",
    "/static/sub%5cb.txt",
    "/static/link_out",
    "/static/dir_out/secret.txt",
    "/static/abs_out",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
    "/static/fifo",
    "/static/sub",
    "/static/",
    "/static",
    "/static/empty_dir/",
    "/static/a.txt/",
    "/static/missing.txt",
    "/static/sub/missing/deeper.txt",
};

static int traversal_main(void *arg) {
  (void)arg;
  struct server s;
  start(&s, false, 0);
  for (size_t i = 0; i < sizeof traversals / sizeof traversals[0]; i++)
    assert_404(s.port, traversals[i]);
  // What is inside is served, through a symlink that stays inside too.
  struct reply r;
  fetch(s.port, "GET", "/static/link_in", NULL, &r);
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(strcmp((char *)r.body, "bee\n"), 0);
  reply_free(&r);
  fetch(s.port, "GET", "/static/sub/./b.txt", NULL, &r);
  ASSERT_EQ(r.status, 200);
  reply_free(&r);
  fetch(s.port, "GET", "/static/sub%2fb.txt", NULL, &r); // %2f decodes to a slash, as Starlette
  ASSERT_EQ(r.status, 200);
  reply_free(&r);
  stop(&s);
  return 0;
}

static void traversal_attempts_are_404(void) {
  make_tree();
  ASSERT_EQ(cio_run(traversal_main, NULL), 0);
}

static void traversal_attempts_are_404_without_openat2(void) {
  make_tree();
  cio__http_static_no_openat2 = true;
  ASSERT_EQ(cio_run(traversal_main, NULL), 0);
}

// ---------------------------------------------------------------- types, validators, HEAD, index

static int types_main(void *arg) {
  (void)arg;
  struct server s;
  start(&s, true, 0);
  static const char *const table[][2] = {
      {"a.txt", "text/plain; charset=utf-8"},
      {"page.html", "text/html; charset=utf-8"},
      {"style.css", "text/css; charset=utf-8"},
      {"app.js", "text/javascript; charset=utf-8"},
      {"mod.mjs", "text/javascript; charset=utf-8"},
      {"data.json", "application/json"},
      {"pic.svg", "image/svg+xml"},
      {"img.png", "image/png"},
      {"img.jpg", "image/jpeg"},
      {"img.jpeg", "image/jpeg"},
      {"anim.gif", "image/gif"},
      {"img.webp", "image/webp"},
      {"fav.ico", "image/x-icon"},
      {"bin.wasm", "application/wasm"},
      {"f.woff2", "font/woff2"},
      {"app.js.map", "application/json"},
      {"noext", "application/octet-stream"},
      {"UPPER.PNG", "image/png"},
      {"x.unknown", "application/octet-stream"},
      {"a%20b.txt", "text/plain; charset=utf-8"},
      {".hidden.css", "text/css; charset=utf-8"},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    char target[128], want[128];
    snprintf(target, sizeof target, "/static/%s", table[i][0]);
    struct reply r;
    fetch(s.port, "GET", target, NULL, &r);
    ASSERT_EQ(r.status, 200);
    const char *type = field(&r, "Content-Type");
    if (!type || strcmp(type, table[i][1]) != 0)
      test_fail(__FILE__, __LINE__, "%s: %s, not %s", table[i][0], type, table[i][1]);
    snprintf(want, sizeof want, "contents of %s\n", table[i][0]);
    if (!strcmp(table[i][0], "a%20b.txt")) snprintf(want, sizeof want, "contents of a b.txt\n");
    ASSERT_EQ(strcmp((char *)r.body, want), 0);
    ASSERT_EQ(atoi(field(&r, "Content-Length")), strlen(want));
    // nginx's ETag: mtime and size in hex; Last-Modified: the mtime.
    char etag[64];
    snprintf(etag, sizeof etag, "\"%x-%zx\"", MTIME, strlen(want));
    ASSERT_EQ(strcmp(field(&r, "ETag"), etag), 0);
    ASSERT_EQ(strcmp(field(&r, "Last-Modified"), "Tue, 02 Jan 2024 03:04:05 GMT"), 0);
    ASSERT_EQ(strcmp(field(&r, "Accept-Ranges"), "bytes"), 0);
    reply_free(&r);
  }
  // HEAD: the same head, no body.
  struct reply r;
  fetch(s.port, "HEAD", "/static/a.txt", NULL, &r);
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(r.len, 0);
  ASSERT_EQ(atoi(field(&r, "Content-Length")), strlen("contents of a.txt\n"));
  ASSERT(field(&r, "ETag") != NULL);
  reply_free(&r);
  fetch(s.port, "HEAD", "/static/big.bin", "Range: bytes=10-19\r\n", &r);
  ASSERT_EQ(r.status, 206);
  ASSERT_EQ(r.len, 0);
  ASSERT_EQ(atoi(field(&r, "Content-Length")), 10);
  reply_free(&r);
  // An empty file.
  fetch(s.port, "GET", "/static/empty.txt", NULL, &r);
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(r.len, 0);
  ASSERT_EQ(atoi(field(&r, "Content-Length")), 0);
  reply_free(&r);
  // html: a directory answers its index.html; without its slash, a redirect.
  fetch(s.port, "GET", "/static/sub/", NULL, &r);
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(strcmp((char *)r.body, "<h1>sub</h1>\n"), 0);
  ASSERT_EQ(strcmp(field(&r, "Content-Type"), "text/html; charset=utf-8"), 0);
  reply_free(&r);
  fetch(s.port, "GET", "/static/sub", NULL, &r);
  ASSERT_EQ(r.status, 307);
  ASSERT_EQ(strcmp(field(&r, "Location"), "/static/sub/"), 0);
  reply_free(&r);
  fetch(s.port, "GET", "/static/empty_dir/", NULL, &r); // no index.html in it
  ASSERT_EQ(r.status, 404);
  reply_free(&r);
  fetch(s.port, "GET", "/static/", NULL, &r); // nor in the root
  ASSERT_EQ(r.status, 404);
  reply_free(&r);
  // Other methods: 405 with Allow, as for any GET route.
  fetch(s.port, "POST", "/static/a.txt", "Content-Length: 0\r\n", &r);
  ASSERT_EQ(r.status, 405);
  ASSERT_EQ(strcmp(field(&r, "Allow"), "GET, HEAD"), 0);
  reply_free(&r);
  // The traversals are 404 in html mode too.
  for (size_t i = 0; i < sizeof traversals / sizeof traversals[0]; i++) {
    if (!strcmp(traversals[i], "/static/sub") || !strcmp(traversals[i], "/static/sub/..") ||
        !strcmp(traversals[i], "/static") || !strcmp(traversals[i], "/static/"))
      continue; // (directories: index or redirect in html mode)
    assert_404(s.port, traversals[i]);
  }
  stop(&s);
  return 0;
}

static void content_types_head_and_index(void) {
  make_tree();
  ASSERT_EQ(cio_run(types_main, NULL), 0);
}

// Mount arguments refused.
static void mount_arguments_are_checked(void) {
  make_tree();
  cio_http_app *app = cio_http_app_new();
  ASSERT_EQ(cio_http_static(NULL, "/s", root, NULL), -EINVAL);
  ASSERT_EQ(cio_http_static(app, NULL, root, NULL), -EINVAL);
  ASSERT_EQ(cio_http_static(app, "/s", NULL, NULL), -EINVAL);
  ASSERT_EQ(cio_http_static(app, "s", root, NULL), -EINVAL);
  ASSERT_EQ(cio_http_static(app, "/{x}", root, NULL), -EINVAL);
  ASSERT_EQ(cio_http_static(app, "/s", "/nonexistent/dir", NULL), -ENOENT);
  char file[192];
  snprintf(file, sizeof file, "%s/a.txt", root);
  ASSERT_EQ(cio_http_static(app, "/s", file, NULL), -ENOTDIR);
  ASSERT_EQ(cio_http_static(app, "/", root, NULL), 0); // the whole site
  ASSERT_EQ(cio_http_static(app, "/t/", root, NULL), 0);
  ASSERT_EQ(cio_http_app_free(app), 0);
}

// ---------------------------------------------------------------- conditional and range requests

// One request of the table compared with nginx: extra header lines, what
// cio answers, and whether nginx answers the same (where it differs, the
// reason is given).
struct cond {
  const char *target;
  const char *extra;
  int status; // cio's
  const char *content_range;
  bool nginx_same;
};

#define ETAG_A "\"65937d25-12\"" // a.txt: mtime 0x65937d25, 18 bytes
#define LM "Tue, 02 Jan 2024 03:04:05 GMT"
#define LM_LATER "Wed, 03 Jan 2024 03:04:05 GMT"
#define LM_EARLIER "Mon, 01 Jan 2024 03:04:05 GMT"

static const struct cond conds[] = {
    {"/static/a.txt", "", 200, NULL, true},
    {"/static/a.txt", "If-None-Match: " ETAG_A "\r\n", 304, NULL, true},
    {"/static/a.txt", "If-None-Match: W/" ETAG_A "\r\n", 304, NULL, true},
    {"/static/a.txt", "If-None-Match: \"x\", " ETAG_A "\r\n", 304, NULL, true},
    {"/static/a.txt", "If-None-Match: *\r\n", 304, NULL, true},
    {"/static/a.txt", "If-None-Match: \"nope\"\r\n", 200, NULL, true},
    {"/static/a.txt", "If-Modified-Since: " LM "\r\n", 304, NULL, true},
    {"/static/a.txt", "If-Modified-Since: " LM_LATER "\r\n", 304, NULL, true},
    {"/static/a.txt", "If-Modified-Since: Wednesday, 03-Jan-24 03:04:05 GMT\r\n", 304, NULL, true},
    {"/static/a.txt", "If-Modified-Since: Wed Jan  3 03:04:05 2024\r\n", 304, NULL, true},
    {"/static/a.txt", "If-Modified-Since: " LM_EARLIER "\r\n", 200, NULL, true},
    {"/static/a.txt", "If-Modified-Since: not a date\r\n", 200, NULL, true},
    // If-None-Match wins (RFC 9110 §13.2.2): no match, a later date: 200.
    {"/static/a.txt", "If-None-Match: \"nope\"\r\nIf-Modified-Since: " LM_LATER "\r\n", 200, NULL,
     true},
    // A match with an earlier date: 304 here; nginx wants both to agree (200).
    {"/static/a.txt", "If-None-Match: " ETAG_A "\r\nIf-Modified-Since: " LM_EARLIER "\r\n", 304,
     NULL, false},
    {"/static/a.txt", "If-Match: \"nope\"\r\n", 412, NULL, true},
    {"/static/a.txt", "If-Match: " ETAG_A "\r\n", 200, NULL, true},
    {"/static/a.txt", "If-Unmodified-Since: " LM_EARLIER "\r\n", 412, NULL, true},
    {"/static/a.txt", "If-Unmodified-Since: " LM "\r\n", 200, NULL, true},
    {"/static/a.txt", "Range: bytes=0-4\r\n", 206, "bytes 0-4/18", true},
    {"/static/a.txt", "Range: bytes=3-\r\n", 206, "bytes 3-17/18", true},
    {"/static/a.txt", "Range: bytes=-5\r\n", 206, "bytes 13-17/18", true},
    {"/static/a.txt", "Range: bytes=-100\r\n", 206, "bytes 0-17/18", true},
    {"/static/a.txt", "Range: bytes=5-1000\r\n", 206, "bytes 5-17/18", true},
    {"/static/a.txt", "Range: bytes=17-17\r\n", 206, "bytes 17-17/18", true},
    {"/static/a.txt", "Range: bytes=18-\r\n", 416, "bytes */18", true},
    {"/static/a.txt", "Range: bytes=100-200\r\n", 416, "bytes */18", true},
    {"/static/a.txt", "Range: bytes=-0\r\n", 416, "bytes */18", true},
    // A range that does not parse is ignored (RFC 9110 §14.2); nginx says 416.
    {"/static/a.txt", "Range: bytes=5-1\r\n", 200, NULL, false},
    {"/static/a.txt", "Range: bytes=abc\r\n", 200, NULL, false},
    {"/static/a.txt", "Range: items=0-4\r\n", 200, NULL, true},
    // Several ranges: the whole file here; nginx answers multipart/byteranges.
    {"/static/a.txt", "Range: bytes=0-1,4-5\r\n", 200, NULL, false},
    {"/static/a.txt", "Range: bytes=0-4\r\nIf-Range: " ETAG_A "\r\n", 206, "bytes 0-4/18", true},
    {"/static/a.txt", "Range: bytes=0-4\r\nIf-Range: \"other\"\r\n", 200, NULL, true},
    {"/static/a.txt", "Range: bytes=0-4\r\nIf-Range: W/" ETAG_A "\r\n", 200, NULL, true},
    {"/static/a.txt", "Range: bytes=0-4\r\nIf-Range: " LM "\r\n", 206, "bytes 0-4/18", true},
    {"/static/a.txt", "Range: bytes=0-4\r\nIf-Range: " LM_LATER "\r\n", 200, NULL, true},
    // A range with a conditional that fails: 304 first.
    {"/static/a.txt", "Range: bytes=0-4\r\nIf-None-Match: " ETAG_A "\r\n", 304, NULL, true},
    {"/static/big.bin", "Range: bytes=1000000-2000000\r\n", 206, "bytes 1000000-2000000/8388608",
     true},
    {"/static/big.bin", "Range: bytes=-1\r\n", 206, "bytes 8388607-8388607/8388608", true},
    {"/static/big.bin", "", 200, NULL, true},
    {"/static/sub/b.txt", "Range: bytes=1-2\r\n", 206, "bytes 1-2/4", true},
    // An empty file has no byte to range over: 416; nginx sends it whole.
    {"/static/empty.txt", "Range: bytes=0-\r\n", 416, "bytes */0", false},
};

// The body cio must send for a 200 or 206 of conds[i].
static void check_body(const struct cond *c, const struct reply *r) {
  if (r->status != 200 && r->status != 206) return;
  const char *cr = field(r, "Content-Range");
  long long first = 0, last = -1, size = 0;
  if (cr)
    ASSERT_EQ(sscanf(cr, "bytes %lld-%lld/%lld", &first, &last, &size), 3);
  else
    last = (long long)r->len - 1;
  ASSERT_EQ(r->len, last - first + 1);
  ASSERT_EQ(atoll(field(r, "Content-Length")), r->len);
  if (strstr(c->target, "big.bin")) {
    for (long long i = first; i <= last; i++)
      if (r->body[i - first] != big_byte((size_t)i))
        test_fail(__FILE__, __LINE__, "%s: byte %lld differs", c->target, i);
  }
}

static int conditional_main(void *arg) {
  (void)arg;
  struct server s;
  start(&s, false, 0);
  for (size_t i = 0; i < sizeof conds / sizeof conds[0]; i++) {
    const struct cond *c = &conds[i];
    struct reply r;
    fetch(s.port, "GET", c->target, c->extra, &r);
    const char *cr = field(&r, "Content-Range");
    if (r.status != c->status || (c->content_range ? !cr || strcmp(cr, c->content_range) : !!cr))
      test_fail(__FILE__, __LINE__, "%s %s: %d %s", c->target, c->extra, r.status, cr);
    if (r.status == 304) {
      ASSERT_EQ(r.len, 0);
      ASSERT(field(&r, "Content-Length") == NULL);
      ASSERT(field(&r, "ETag") != NULL && field(&r, "Last-Modified") != NULL);
    }
    if (r.status == 206 && strstr(c->target, "a.txt")) {
      long long first, last, size;
      ASSERT_EQ(sscanf(cr, "bytes %lld-%lld/%lld", &first, &last, &size), 3);
      ASSERT_EQ(memcmp(r.body, "contents of a.txt\n" + first, (size_t)(last - first + 1)), 0);
    }
    check_body(c, &r);
    reply_free(&r);
  }
  stop(&s);
  return 0;
}

static void conditional_and_range_requests(void) {
  make_tree();
  ASSERT_EQ(cio_run(conditional_main, NULL), 0);
}

// ---------------------------------------------------------------- big files, slow and leaving
// clients

static int big_main(void *arg) {
  (void)arg;
  struct server s;
  start(&s, false, 0);
  for (int i = 0; i < 2; i++) { // twice: the second from a kept-warm page cache
    struct reply r;
    fetch(s.port, "GET", "/static/big.bin", NULL, &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_EQ(r.len, BIG);
    ASSERT_EQ(atoll(field(&r, "Content-Length")), BIG);
    for (size_t k = 0; k < BIG; k++)
      if (r.body[k] != big_byte(k)) test_fail(__FILE__, __LINE__, "byte %zu differs", k);
    reply_free(&r);
  }
  // Keep-alive: three requests on one connection, the big one between.
  cio_sock *c;
  ASSERT_EQ(cio_tcp_connect(&c, "127.0.0.1", s.port), 0);
  const char *req = "GET /static/a.txt HTTP/1.1\r\nHost: a\r\n\r\n"
                    "GET /static/big.bin HTTP/1.1\r\nHost: a\r\n\r\n"
                    "GET /static/sub/b.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(cio_sock_write(c, req, strlen(req)), (ssize_t)strlen(req));
  size_t cap = BIG + 4096, got = 0;
  char *buf = malloc(cap);
  ssize_t n;
  while ((n = cio_sock_read(c, buf + got, cap - got)) > 0) got += (size_t)n;
  ASSERT_EQ(n, 0);
  cio_sock_close(c);
  ASSERT(memmem(buf, got, "contents of a.txt\n", 18) == memmem(buf, got, "\r\n\r\n", 4) + 4);
  char *tail = memmem(buf, got, "bee\n", 4);
  ASSERT(tail && tail + 4 == buf + got);
  free(buf);
  stop(&s);
  return 0;
}

static void big_file_whole_and_exact(void) {
  make_tree();
  ASSERT_EQ(cio_run(big_main, NULL), 0);
}

// A client that reads 64 KiB of big.bin, then nothing: with a send
// timeout of 1 s, the server resets the connection (the client then reads
// what its buffers held and a reset, never the whole file); the descriptor
// of the file is closed (the runner fails a case that leaves one open).
// Another that closes mid-file: the server's next sendfile fails, and it
// goes on serving others.
static int stalled_main(void *arg) {
  (void)arg;
  struct server s;
  start(&s, false, 1.0);
  int small = 4096; // a small window, so that the server's writes stall soon
  cio_sock *c;
  ASSERT_EQ(cio_tcp_connect(&c, "127.0.0.1", s.port), 0);
  ASSERT_EQ(setsockopt(cio_sock_fd(c), SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
  const char *req = "GET /static/big.bin HTTP/1.1\r\nHost: a\r\n\r\n";
  ASSERT_EQ(cio_sock_write(c, req, strlen(req)), (ssize_t)strlen(req));
  static char buf[65536];
  size_t got = 0;
  while (got < sizeof buf) {
    ssize_t n = cio_sock_read(c, buf + got, sizeof buf - got);
    ASSERT(n > 0);
    got += (size_t)n;
  }
  double t0 = cio_now();
  ASSERT_EQ(cio_sleep(3.0), 0); // stalled: the server gives up after 1 s
  ssize_t n;
  while ((n = cio_sock_read(c, buf, sizeof buf)) > 0) got += (size_t)n;
  ASSERT_EQ(n, -ECONNRESET);
  ASSERT(got < BIG);
  ASSERT_BETWEEN(cio_now() - t0, 2.9, 20);
  cio_sock_close(c);
  // A client that leaves after 100 KiB.
  ASSERT_EQ(cio_tcp_connect(&c, "127.0.0.1", s.port), 0);
  ASSERT_EQ(cio_sock_write(c, req, strlen(req)), (ssize_t)strlen(req));
  for (got = 0; got < 100000;) {
    n = cio_sock_read(c, buf, sizeof buf);
    ASSERT(n > 0);
    got += (size_t)n;
  }
  cio_sock_close(c);
  // The server goes on.
  struct reply r;
  fetch(s.port, "GET", "/static/a.txt", NULL, &r);
  ASSERT_EQ(r.status, 200);
  reply_free(&r);
  double t1 = cio_now();
  stop(&s); // nothing left in flight: it closes at once, well within its grace
  ASSERT_BETWEEN(cio_now() - t1, 0, 1.5);
  return 0;
}

static void client_that_stops_reading_mid_file(void) {
  make_tree();
  ASSERT_EQ(cio_run(stalled_main, NULL), 0);
}

// ---------------------------------------------------------------- HTTPS: read and written, no
// sendfile

#ifdef CIO_HAVE_OPENSSL
static int tls_main(void *arg) {
  (void)arg;
  char cert[192], key[192];
  snprintf(cert, sizeof cert, "%s/cert.pem", base);
  snprintf(key, sizeof key, "%s/key.pem", base);
  cio_tls_ctx *sc, *cc;
  ASSERT_EQ(cio_tls_server_ctx_new(&sc, cert, key), 0);
  ASSERT_EQ(cio_tls_client_ctx_new(&cc, cert), 0);
  cio_http_app *app = cio_http_app_new();
  ASSERT_EQ(cio_http_static(app, "/static", root, NULL), 0);
  cio_http_opts ho = {.tls = sc};
  cio_server *srv;
  ASSERT_EQ(cio_http_serve(app, "127.0.0.1", "0", &ho, &srv), 0);
  char port[8];
  snprintf(port, sizeof port, "%d", cio_server_port(srv));
  static const char *const reqs[] = {
      "GET /static/big.bin HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
      "GET /static/big.bin HTTP/1.1\r\nHost: a\r\nRange: bytes=5000000-\r\nConnection: "
      "close\r\n\r\n"};
  for (int i = 0; i < 2; i++) {
    cio_stream *st;
    ASSERT_EQ(cio_tls_connect(&st, cc, "localhost", port), 0);
    ASSERT_EQ(cio_stream_write(st, reqs[i], strlen(reqs[i])), 0);
    ASSERT_EQ(cio_stream_drain(st), 0);
    size_t cap = BIG + 4096, got = 0;
    unsigned char *buf = malloc(cap);
    ssize_t n;
    while ((n = cio_stream_read(st, buf + got, cap - got)) > 0) got += (size_t)n;
    ASSERT_EQ(n, 0);
    ASSERT_EQ(cio_stream_close(st), 0);
    unsigned char *body = (unsigned char *)memmem(buf, got, "\r\n\r\n", 4) + 4;
    size_t first = i == 0 ? 0 : 5000000;
    ASSERT_EQ((size_t)(buf + got - body), BIG - first);
    for (size_t k = 0; k < BIG - first; k++)
      if (body[k] != big_byte(first + k)) test_fail(__FILE__, __LINE__, "byte %zu", first + k);
    free(buf);
  }
  ASSERT_EQ(cio_server_close(srv, 1.0), 0);
  ASSERT_EQ(cio_http_app_free(app), 0);
  cio_tls_ctx_free(cc);
  cio_tls_ctx_free(sc);
  return 0;
}

static void https_files_are_read_and_written(void) {
  if (system("command -v openssl >/dev/null 2>&1") != 0)
    missing_peer("needs the openssl command (apt-get install openssl)");
  make_tree();
  char cmd[512];
  snprintf(cmd, sizeof cmd,
           "cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
           "-keyout key.pem -out cert.pem -days 2 -subj /CN=localhost "
           "-addext subjectAltName=DNS:localhost >/dev/null 2>&1",
           base);
  ASSERT_EQ(system(cmd), 0);
  ASSERT_EQ(cio_run(tls_main, NULL), 0);
}
#endif

// ---------------------------------------------------------------- nginx, the same requests

static char nginx_port[8];

// Starts nginx serving root at /static/ (etag on, if_modified_since
// before: RFC 9110's comparison, not nginx's default "exact").
static cio_process *start_nginx(void) {
  test_free_port(nginx_port);
  char conf[2048];
  snprintf(conf, sizeof conf,
           "cat >%s/nginx.conf <<'EOF'\n"
           "%sdaemon off; master_process off; worker_processes 1;\n"
           "error_log %s/nginx.err; pid %s/nginx.pid;\n"
           "events { worker_connections 64; }\n"
           "http { access_log off; client_body_temp_path %s; proxy_temp_path %s;\n"
           "  fastcgi_temp_path %s; uwsgi_temp_path %s; scgi_temp_path %s;\n"
           "  if_modified_since before;\n"
           "  server { listen 127.0.0.1:%s;\n"
           "    location /static/ { alias %s/; } } }\n"
           "EOF",
           base, nginx_user(), base, base, base, base, base, base, base, nginx_port, root);
  ASSERT_EQ(system(conf), 0);
  char cpath[128], err[128];
  snprintf(cpath, sizeof cpath, "%s/nginx.conf", base);
  snprintf(err, sizeof err, "%s/nginx.err", base);
  const char *nginx = access("/usr/sbin/nginx", X_OK) == 0 ? "/usr/sbin/nginx" : "nginx";
  char *argv[] = {"timeout", "60", (char *)nginx, "-c", cpath, "-p", base, "-e", err, NULL};
  cio_process *p;
  ASSERT_EQ(cio_process_spawn(&p, "timeout", argv, NULL), 0);
  for (int i = 0; i < 200; i++) { // until it listens
    cio_sock *s;
    int rc = cio_tcp_connect(&s, "127.0.0.1", nginx_port);
    if (rc == 0) {
      cio_sock_close(s);
      return p;
    }
    ASSERT_EQ(cio_sleep(0.05), 0);
  }
  test_fail(__FILE__, __LINE__, "nginx did not start");
}

static void stop_process(cio_process *p, int sig) {
  ASSERT_EQ(cio_process_kill(p, sig), 0);
  int code;
  ASSERT_EQ(cio_process_wait(p, &code), 0);
  ASSERT_EQ(cio_process_free(p), 0);
}

static bool same_field(const struct reply *a, const struct reply *b, const char *name) {
  const char *x = field(a, name), *y = field(b, name);
  return (!x && !y) || (x && y && !strcmp(x, y));
}

static int nginx_main(void *arg) {
  (void)arg;
  cio_process *ng = start_nginx();
  struct server s;
  start(&s, false, 0);
  int compared = 0;
  for (int method = 0; method < 2; method++) {
    for (size_t i = 0; i < sizeof conds / sizeof conds[0]; i++) {
      const struct cond *c = &conds[i];
      const char *m = method ? "HEAD" : "GET";
      struct reply ours, theirs;
      fetch(s.port, m, c->target, c->extra, &ours);
      fetch(nginx_port, m, c->target, c->extra, &theirs);
      bool same = ours.status == theirs.status && same_field(&ours, &theirs, "Content-Range") &&
                  ours.len == theirs.len;
      // Content-Length: of 2xx answers (the error pages' bodies differ).
      if (same && ours.status / 100 == 2)
        same = same_field(&ours, &theirs, "Content-Length") && same_field(&ours, &theirs, "ETag") &&
               same_field(&ours, &theirs, "Last-Modified") &&
               memcmp(ours.body, theirs.body, ours.len) == 0;
      if (ours.status == 304)
        same = same && same_field(&ours, &theirs, "ETag") &&
               same_field(&ours, &theirs, "Last-Modified");
      // Error pages (412, 416): nginx's HTML, cio's JSON; only heads compare.
      if (!same && ours.status == theirs.status && ours.status >= 400)
        same = same_field(&ours, &theirs, "Content-Range");
      if (same != c->nginx_same)
        test_fail(__FILE__, __LINE__, "%s %s %s: cio %d [%s] %zu bytes, nginx %d [%s] %zu bytes", m,
                  c->target, c->extra, ours.status, field(&ours, "Content-Range"), ours.len,
                  theirs.status, field(&theirs, "Content-Range"), theirs.len);
      compared += same;
      reply_free(&ours);
      reply_free(&theirs);
    }
  }
  printf("%d answers the same as nginx's\n", compared);
  stop(&s);
  stop_process(ng, SIGQUIT);
  return 0;
}

static void same_answers_as_nginx(void) {
  if (access("/usr/sbin/nginx", X_OK) != 0 && system("command -v nginx >/dev/null 2>&1") != 0)
    missing_peer("needs nginx (apt-get install nginx-light)");
  make_tree();
  ASSERT_EQ(cio_run(nginx_main, NULL), 0);
}

// ---------------------------------------------------------------- CORS against Starlette

// The configurations, each as cio's options and as Starlette's arguments.
#define NCONF 5
static const char *const origins_a[] = {"https://a.example", NULL};
static const char *const origins_ab[] = {"https://a.example", "https://b.example", NULL};
static const char *const star[] = {"*", NULL};
static const char *const get_post[] = {"GET", "POST", NULL};
static const char *const get_put[] = {"GET", "PUT", NULL};
static const char *const custom_headers[] = {"X-Custom", "Authorization", NULL};
static const char *const exposed[] = {"X-Total", "X-Page", NULL};

static const cio_http_cors_opts cors_conf[NCONF] = {
    {.allow_origins = origins_a},
    {.allow_origins = star, .allow_methods = star, .allow_headers = star},
    {.allow_origins = origins_ab,
     .allow_methods = get_post,
     .allow_headers = custom_headers,
     .allow_credentials = true,
     .expose_headers = exposed,
     .max_age = 1234},
    {.allow_origins = star, .allow_credentials = true, .expose_headers = exposed},
    {.allow_origin_regex = "https://[a-z]+\\.example\\.org", .allow_methods = get_put},
};
static const char *const starlette_conf[NCONF] = {
    "allow_origins=['https://a.example']",
    "allow_origins=['*'], allow_methods=['*'], allow_headers=['*']",
    "allow_origins=['https://a.example', 'https://b.example'], allow_methods=['GET', 'POST'], "
    "allow_headers=['X-Custom', 'Authorization'], allow_credentials=True, "
    "expose_headers=['X-Total', 'X-Page'], max_age=1234",
    "allow_origins=['*'], allow_credentials=True, expose_headers=['X-Total', 'X-Page']",
    "allow_origin_regex=r'https://[a-z]+\\.example\\.org', allow_methods=['GET', 'PUT']",
};

// The requests, to each configuration.
static const struct {
  const char *method;
  const char *extra;
} cors_reqs[] = {
    {"GET", ""},
    {"GET", "Origin: https://a.example\r\n"},
    {"GET", "Origin: https://b.example\r\n"},
    {"GET", "Origin: https://evil.example\r\n"},
    {"GET", "Origin: https://a.example\r\nCookie: s=1\r\n"},
    {"GET", "Origin: https://evil.example\r\nCookie: s=1\r\n"},
    {"GET", "Origin: https://www.example.org\r\n"},
    {"GET", "Origin: https://www.example.org.evil\r\n"},
    {"POST", "Origin: https://a.example\r\nContent-Length: 0\r\n"},
    {"OPTIONS", "Origin: https://a.example\r\n"}, // no Access-Control-Request-Method: routed
    {"OPTIONS", "Origin: https://a.example\r\nAccess-Control-Request-Method: GET\r\n"},
    {"OPTIONS", "Origin: https://a.example\r\nAccess-Control-Request-Method: POST\r\n"},
    {"OPTIONS", "Origin: https://a.example\r\nAccess-Control-Request-Method: PUT\r\n"},
    {"OPTIONS", "Origin: https://a.example\r\nAccess-Control-Request-Method: get\r\n"},
    {"OPTIONS", "Origin: https://evil.example\r\nAccess-Control-Request-Method: GET\r\n"},
    {"OPTIONS", "Origin: https://www.example.org\r\nAccess-Control-Request-Method: PUT\r\n"},
    {"OPTIONS", "Origin: https://a.example\r\nAccess-Control-Request-Method: GET\r\n"
                "Access-Control-Request-Headers: X-Custom\r\n"},
    {"OPTIONS", "Origin: https://a.example\r\nAccess-Control-Request-Method: GET\r\n"
                "Access-Control-Request-Headers: content-type, x-custom,authorization\r\n"},
    {"OPTIONS", "Origin: https://a.example\r\nAccess-Control-Request-Method: GET\r\n"
                "Access-Control-Request-Headers: Accept\r\n"},
    {"OPTIONS", "Origin: https://a.example\r\nAccess-Control-Request-Method: GET\r\n"
                "Access-Control-Request-Headers: X-Other\r\n"},
    {"OPTIONS", "Origin: https://evil.example\r\nAccess-Control-Request-Method: DELETE\r\n"
                "Access-Control-Request-Headers: X-Other\r\n"},
    {"OPTIONS", "Access-Control-Request-Method: GET\r\n"}, // no Origin: routed
};

// The Access-Control-* and Vary fields of an answer, names lowercased,
// sorted, one a line.
static void cors_fields(const struct reply *r, char *out, size_t cap) {
  char lines[32][512];
  int n = 0;
  for (const char *p = strstr(r->head, "\r\n"); p && p[2] && n < 32; p = strstr(p + 2, "\r\n")) {
    const char *line = p + 2, *end = strstr(line, "\r\n");
    size_t len = end ? (size_t)(end - line) : strlen(line);
    if (strncasecmp(line, "access-control-", 15) && strncasecmp(line, "vary:", 5)) continue;
    snprintf(lines[n], sizeof lines[n], "%.*s", (int)len, line);
    for (char *c = lines[n]; *c && *c != ':'; c++) *c = (char)tolower((unsigned char)*c);
    n++;
  }
  qsort(lines, (size_t)n, sizeof lines[0], (int (*)(const void *, const void *))strcmp);
  out[0] = '\0';
  for (int i = 0; i < n; i++) snprintf(out + strlen(out), cap - strlen(out), "%s\n", lines[i]);
}

static int hi(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)req, (void)arg;
  return cio_http_send(res, 200, "text/plain", "hi", 2);
}

static int cors_main(void *arg) {
  (void)arg;
  // Starlette: one app mounting each configuration's CORSMiddleware at /c<i>.
  char app_py[4096];
  int n = snprintf(app_py, sizeof app_py,
                   "cat >%s/corsapp.py <<'EOF'\n"
                   "from starlette.applications import Starlette\n"
                   "from starlette.middleware.cors import CORSMiddleware\n"
                   "from starlette.responses import PlainTextResponse\n"
                   "from starlette.routing import Mount, Route\n"
                   "async def hi(request):\n"
                   "    return PlainTextResponse('hi')\n"
                   "def inner():\n"
                   "    return Starlette(routes=[Route('/x', hi, methods=['GET', 'POST', "
                   "'PUT'])])\n"
                   "app = Starlette(routes=[\n",
                   base);
  for (int i = 0; i < NCONF; i++)
    n += snprintf(app_py + n, sizeof app_py - (size_t)n,
                  "    Mount('/c%d', app=CORSMiddleware(inner(), %s)),\n", i, starlette_conf[i]);
  snprintf(app_py + n, sizeof app_py - (size_t)n, "])\nEOF");
  ASSERT_EQ(system(app_py), 0);
  char py_port[8];
  test_free_port(py_port);
  char *argv[] = {
      "timeout", "60",    "/usr/bin/python3", "-m",      "uvicorn",     "--app-dir", base,
      "--port",  py_port, "--log-level",      "warning", "corsapp:app", NULL};
  cio_process *py;
  ASSERT_EQ(cio_process_spawn(&py, "timeout", argv, NULL), 0);
  // cio: one app per configuration.
  struct {
    cio_http_app *app;
    cio_server *srv;
    char port[8];
  } ours[NCONF];
  for (int i = 0; i < NCONF; i++) {
    ours[i].app = cio_http_app_new();
    ASSERT_EQ(cio_http_cors(ours[i].app, &cors_conf[i]), 0);
    ASSERT_EQ(cio_http_route(ours[i].app, "GET", "/x", hi, NULL), 0);
    ASSERT_EQ(cio_http_route(ours[i].app, "POST", "/x", hi, NULL), 0);
    ASSERT_EQ(cio_http_route(ours[i].app, "PUT", "/x", hi, NULL), 0);
    ASSERT_EQ(cio_http_serve(ours[i].app, "127.0.0.1", "0", NULL, &ours[i].srv), 0);
    snprintf(ours[i].port, 8, "%d", cio_server_port(ours[i].srv));
  }
  bool up = false;
  for (int i = 0; i < 300 && !up; i++) { // until uvicorn listens
    cio_sock *s;
    if (cio_tcp_connect(&s, "127.0.0.1", py_port) == 0) {
      cio_sock_close(s);
      up = true;
    } else {
      ASSERT_EQ(cio_sleep(0.05), 0);
    }
  }
  ASSERT(up);
  int compared = 0;
  for (int i = 0; i < NCONF; i++) {
    for (size_t k = 0; k < sizeof cors_reqs / sizeof cors_reqs[0]; k++) {
      char target[16];
      snprintf(target, sizeof target, "/c%d/x", i);
      struct reply a, b;
      fetch(ours[i].port, cors_reqs[k].method, "/x", cors_reqs[k].extra, &a);
      fetch(py_port, cors_reqs[k].method, target, cors_reqs[k].extra, &b);
      char fa[4096], fb[4096];
      cors_fields(&a, fa, sizeof fa);
      cors_fields(&b, fb, sizeof fb);
      bool preflight =
          strstr(cors_reqs[k].extra, "Request-Method") && strstr(cors_reqs[k].extra, "Origin");
      if (a.status != b.status || strcmp(fa, fb) != 0 ||
          (preflight && (strcmp((char *)a.body, (char *)b.body) != 0 ||
                         strcmp(field(&a, "Content-Type"), field(&b, "Content-Type")) != 0)))
        test_fail(__FILE__, __LINE__, "config %d, %s %s:\ncio %d %s\n%s\nStarlette %d %s\n%s", i,
                  cors_reqs[k].method, cors_reqs[k].extra, a.status, (char *)a.body, fa, b.status,
                  (char *)b.body, fb);
      compared++;
      reply_free(&a);
      reply_free(&b);
    }
  }
  printf("%d answers the same as Starlette's\n", compared);
  for (int i = 0; i < NCONF; i++) {
    ASSERT_EQ(cio_server_close(ours[i].srv, 1.0), 0);
    ASSERT_EQ(cio_http_app_free(ours[i].app), 0);
  }
  stop_process(py, SIGTERM);
  return 0;
}

static void cors_same_answers_as_starlette(void) {
  if (access("/usr/bin/python3", X_OK) != 0 ||
      system("/usr/bin/python3 -c 'import starlette, uvicorn' >/dev/null 2>&1") != 0)
    missing_peer("needs Starlette and uvicorn (apt-get install python3-starlette python3-uvicorn)");
  test_tmpdir(base, sizeof base, "cors_");
  ASSERT_EQ(cio_run(cors_main, NULL), 0);
}

// Options refused, and a streamed answer that gets the headers too.
static int streamed(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)req, (void)arg;
  int rc = cio_http_stream_start(res, 200, "text/plain");
  if (rc == 0) rc = cio_http_stream_write(res, "hey", 3);
  return rc;
}

static int cors_misc_main(void *arg) {
  (void)arg;
  cio_http_app *app = cio_http_app_new();
  cio_http_cors_opts bad = {.allow_origin_regex = "("};
  ASSERT_EQ(cio_http_cors(app, &bad), -EINVAL);
  ASSERT_EQ(cio_http_cors(app, NULL), -EINVAL);
  ASSERT_EQ(cio_http_cors(NULL, &cors_conf[0]), -EINVAL);
  ASSERT_EQ(cio_http_cors(app, &cors_conf[2]), 0);
  ASSERT_EQ(cio_http_route(app, "GET", "/s", streamed, NULL), 0);
  cio_server *srv;
  ASSERT_EQ(cio_http_serve(app, "127.0.0.1", "0", NULL, &srv), 0);
  char port[8];
  snprintf(port, sizeof port, "%d", cio_server_port(srv));
  struct reply r;
  fetch(port, "GET", "/s", "Origin: https://b.example\r\n", &r);
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(strcmp(field(&r, "Access-Control-Allow-Origin"), "https://b.example"), 0);
  ASSERT_EQ(strcmp(field(&r, "Access-Control-Expose-Headers"), "X-Total, X-Page"), 0);
  ASSERT_STR_CONTAINS((char *)r.body, "hey");
  reply_free(&r);
  // A 404 gets them too (the middleware runs around every answer).
  fetch(port, "GET", "/none", "Origin: https://b.example\r\n", &r);
  ASSERT_EQ(r.status, 404);
  ASSERT_EQ(strcmp(field(&r, "Vary"), "Origin"), 0);
  reply_free(&r);
  ASSERT_EQ(cio_server_close(srv, 1.0), 0);
  ASSERT_EQ(cio_http_app_free(app), 0);
  return 0;
}

static void cors_options_and_streamed_answers(void) { ASSERT_EQ(cio_run(cors_misc_main, NULL), 0); }

static const test_case cases[] = {
    {"traversal_attempts_are_404", traversal_attempts_are_404, 0},
    {"traversal_attempts_are_404_without_openat2", traversal_attempts_are_404_without_openat2, 0},
    {"content_types_head_and_index", content_types_head_and_index, 0},
    {"mount_arguments_are_checked", mount_arguments_are_checked, 0},
    {"conditional_and_range_requests", conditional_and_range_requests, 0},
    {"big_file_whole_and_exact", big_file_whole_and_exact, 0},
    {"client_that_stops_reading_mid_file", client_that_stops_reading_mid_file, 0},
#ifdef CIO_HAVE_OPENSSL
    {"https_files_are_read_and_written", https_files_are_read_and_written, 0},
#endif
    {"same_answers_as_nginx", same_answers_as_nginx, 60},
    {"cors_same_answers_as_starlette", cors_same_answers_as_starlette, 60},
    {"cors_options_and_streamed_answers", cors_options_and_streamed_answers, 0},
};

TEST_MAIN(cases)
