// SPDX-License-Identifier: MIT
//
// Static files (cio_http_static): a directory mounted at a URL prefix, as
// FastAPI's StaticFiles serves it, with what nginx adds: a strong ETag from
// the modification time and size (nginx's), Last-Modified, the
// conditional requests of RFC 9110 §13 (412, 304) and one byte range (206,
// 416).  The body is the open file, sent after the middleware has run
// (cio__http_set_file: sendfile(2), or reads under TLS).  The file goes:
// the mount, the path, opening a file beneath the directory, the
// validators, ranges, the handler.
//
// No path leaves the directory: ".." segments, a backslash and a NUL (from
// %00: the route refuses it) are 404 before anything is opened, and the
// file is opened beneath the directory's descriptor with openat2(2)
// RESOLVE_BENEATH, so that no symlink leads out of it either (one that
// stays inside is followed).  A kernel without openat2 (before 5.6, or a
// seccomp filter saying ENOSYS) gets openat(2) and a check, through
// /proc/self/fd, that the file opened lies under the directory's real path.
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../alloc.h"
#include "http.h"

// Tests set it to take the fallback without openat2.
bool cio__http_static_no_openat2;

// ---------------------------------------------------------------- the mount

struct mount {
  int root;                  // the directory (O_PATH)
  char *real;                // its real path (for the fallback's check)
  cio_http_static_opts opts; // copied
};

static void mount_free(void *p) {
  struct mount *m = p;
  close(m->root);
  free(m->real);
  free(m);
}

// ---------------------------------------------------------------- the path

// The file's path below the directory, from the decoded URL path `p` (the
// route's {path:path}): empty and "." segments dropped, ".." and a
// backslash refused.  Writes it to out[0..cap) ("." for the directory
// itself).  Returns 0, or -1 to answer 404.
static int clean_path(const char *p, char *out, size_t cap) {
  if (strchr(p, '\\')) return -1;
  size_t n = 0;
  while (*p) {
    const char *slash = strchr(p, '/');
    size_t len = slash ? (size_t)(slash - p) : strlen(p);
    if (len == 2 && p[0] == '.' && p[1] == '.') return -1;
    if (len && !(len == 1 && p[0] == '.')) {
      if (n + len + 2 > cap) return -1;
      if (n) out[n++] = '/';
      memcpy(out + n, p, len);
      n += len;
    }
    p += len;
    if (*p == '/') p++;
  }
  if (!n) out[n++] = '.';
  out[n] = '\0';
  return 0;
}

// ---------------------------------------------------------------- opening beneath

// openat(2) and a check that what was opened is m->real or lies under it
// (its path as the kernel names it, /proc/self/fd/N).
static int open_checked(const struct mount *m, const char *rel, int flags) {
  int fd = openat(m->root, rel, flags);
  if (fd < 0) return -errno;
  char link[64], where[PATH_MAX];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, where, sizeof where - 1);
  size_t rl = strlen(m->real);
  bool inside = false;
  if (n > 0) {
    where[n] = '\0';
    inside = strncmp(where, m->real, rl) == 0 &&
             (where[rl] == '\0' || where[rl] == '/' || (rl == 1 && m->real[0] == '/'));
  }
  if (!inside) {
    close(fd);
    return -EXDEV;
  }
  return fd;
}

// Opens rel beneath the mount's directory for reading, never blocking (a
// FIFO would).  Returns the descriptor or -errno (-EXDEV: it leads out).
static int open_beneath(const struct mount *m, const char *rel) {
  int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  if (!cio__http_static_no_openat2) {
    struct open_how how = {.flags = (unsigned long long)flags,
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
    for (;;) {
      long fd = syscall(SYS_openat2, m->root, rel, &how, sizeof how);
      if (fd >= 0) return (int)fd;
      if (errno == EINTR || errno == EAGAIN) continue;
      if (errno != ENOSYS && errno != EPERM) return -errno;
      break; // no openat2 here: the fallback
    }
  }
  return open_checked(m, rel, flags);
}

// ---------------------------------------------------------------- validators

// The content type of a file name, from its extension (case-insensitive).
static const char *content_type(const char *name) {
  static const char *const table[][2] = {
      {"html", "text/html; charset=utf-8"},
      {"htm", "text/html; charset=utf-8"},
      {"css", "text/css; charset=utf-8"},
      {"js", "text/javascript; charset=utf-8"},
      {"mjs", "text/javascript; charset=utf-8"},
      {"json", "application/json"},
      {"map", "application/json"},
      {"svg", "image/svg+xml"},
      {"png", "image/png"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},
      {"webp", "image/webp"},
      {"ico", "image/x-icon"},
      {"txt", "text/plain; charset=utf-8"},
      {"wasm", "application/wasm"},
      {"woff2", "font/woff2"},
  };
  const char *slash = strrchr(name, '/');
  const char *base = slash ? slash + 1 : name;
  const char *dot = strrchr(base, '.');
  if (dot && dot != base)
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
      if (!strcasecmp(dot + 1, table[i][0])) return table[i][1];
  return "application/octet-stream";
}

static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// t as an IMF-fixdate (RFC 9110 §5.6.7), in English whatever the locale.
static void format_date(time_t t, char out[40]) {
  struct tm tm;
  gmtime_r(&t, &tm);
  snprintf(out, 40, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7], tm.tm_mday,
           months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

// Reads exactly n digits at *p into *out.
static bool num(const char **p, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (!isdigit((unsigned char)(*p)[i])) return false;
    v = v * 10 + ((*p)[i] - '0');
  }
  *p += n;
  *out = v;
  return true;
}

// Reads the literal text lit at *p.
static bool lit(const char **p, const char *text) {
  size_t n = strlen(text);
  if (strncmp(*p, text, n) != 0) return false;
  *p += n;
  return true;
}

// Reads a month name ("Jan"...) at *p into *out (0-11).
static bool month(const char **p, int *out) {
  for (int m = 0; m < 12; m++)
    if (lit(p, months[m])) return *out = m, true;
  return false;
}

// Reads "HH:MM:SS" at *p.
static bool clock_time(const char **p, struct tm *tm) {
  return num(p, 2, &tm->tm_hour) && lit(p, ":") && num(p, 2, &tm->tm_min) && lit(p, ":") &&
         num(p, 2, &tm->tm_sec);
}

// Parses an HTTP-date in any of its three forms (RFC 9110 §5.6.7: a
// recipient must accept them all): IMF-fixdate "Sun, 06 Nov 1994 08:49:37
// GMT", RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT", asctime "Sun Nov  6
// 08:49:37 1994".  Returns true and *out, or false for anything else.
static bool parse_date(const char *s, time_t *out) {
  struct tm tm = {0};
  const char *p = s;
  while (isalpha((unsigned char)*p)) p++; // the day's name (not checked)
  size_t day_len = (size_t)(p - s);
  bool ok;
  if (day_len == 3 && *p == ',') { // IMF-fixdate
    p++;
    ok = lit(&p, " ") && num(&p, 2, &tm.tm_mday) && lit(&p, " ") && month(&p, &tm.tm_mon) &&
         lit(&p, " ") && num(&p, 4, &tm.tm_year) && lit(&p, " ") && clock_time(&p, &tm) &&
         lit(&p, " GMT");
  } else if (day_len > 3 && *p == ',') { // RFC 850, a two-digit year
    p++;
    ok = lit(&p, " ") && num(&p, 2, &tm.tm_mday) && lit(&p, "-") && month(&p, &tm.tm_mon) &&
         lit(&p, "-") && num(&p, 2, &tm.tm_year) && lit(&p, " ") && clock_time(&p, &tm) &&
         lit(&p, " GMT");
    tm.tm_year += tm.tm_year < 70 ? 2000 : 1900;
  } else if (day_len == 3) { // asctime: the day padded with a space
    ok = lit(&p, " ") && month(&p, &tm.tm_mon) && lit(&p, " ");
    if (ok && *p == ' ')
      p++, ok = num(&p, 1, &tm.tm_mday);
    else if (ok)
      ok = num(&p, 2, &tm.tm_mday);
    ok = ok && lit(&p, " ") && clock_time(&p, &tm) && lit(&p, " ") && num(&p, 4, &tm.tm_year);
  } else {
    return false;
  }
  if (!ok || *p || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
      tm.tm_sec > 60 || tm.tm_year < 1900)
    return false;
  tm.tm_year -= 1900;
  *out = timegm(&tm);
  return true;
}

// Whether the list of entity tags `list` (an If-Match or If-None-Match
// value) holds `etag` (quoted) or is "*": weakly (W/ ignored, If-None-Match)
// or strongly (a weak tag never matches, If-Match), RFC 9110 §8.8.3.2.
static bool etag_listed(const char *list, const char *etag, bool weak) {
  size_t el = strlen(etag);
  const char *p = list;
  while (*p == ' ' || *p == '\t') p++;
  if (*p == '*') return true;
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == ',') p++;
    bool is_weak = strncmp(p, "W/", 2) == 0;
    if (is_weak) p += 2;
    if (*p != '"') return false; // not an entity tag: the list is not read further
    const char *close = strchr(p + 1, '"');
    if (!close) return false;
    size_t n = (size_t)(close - p) + 1;
    if ((weak || !is_weak) && n == el && memcmp(p, etag, n) == 0) return true;
    p = close + 1;
  }
  return false;
}

// ---------------------------------------------------------------- ranges

// Reads a run of digits into *v (capped far beyond any file size).
static const char *digits(const char *p, long long *v) {
  if (!isdigit((unsigned char)*p)) return NULL;
  long long x = 0;
  for (; isdigit((unsigned char)*p); p++)
    x = x > (LLONG_MAX - 9) / 10 ? LLONG_MAX / 2 : x * 10 + (*p - '0');
  *v = x;
  return p;
}

enum range_kind { R_WHOLE, R_PART, R_NONE }; // 200, 206, 416

// The Range header `r` against a file of `size` bytes (RFC 9110 §14.1.2):
// "bytes=a-b", "bytes=a-", "bytes=-n".  One satisfiable range is R_PART
// with [*first, *last]; a range that starts past the end, or "-0", is
// R_NONE (416); a header that does not parse, another unit, or more than
// one range is R_WHOLE (the whole file, 200: a server may ignore Range).
static enum range_kind parse_range(const char *r, long long size, long long *first,
                                   long long *last) {
  if (strncasecmp(r, "bytes=", 6) != 0) return R_WHOLE;
  const char *p = r + 6;
  while (*p == ' ' || *p == '\t') p++;
  long long a = -1, b = -1;
  if (*p == '-') {
    p = digits(p + 1, &b);
    if (!p) return R_WHOLE;
  } else {
    p = digits(p, &a);
    if (!p || *p++ != '-') return R_WHOLE;
    if (isdigit((unsigned char)*p)) p = digits(p, &b);
    if (b >= 0 && b < a) return R_WHOLE; // invalid: ignored
  }
  while (*p == ' ' || *p == '\t') p++;
  if (*p) return R_WHOLE; // more ranges (or junk): the whole file
  if (a < 0) {            // the last b bytes
    if (b == 0 || size == 0) return R_NONE;
    *first = b >= size ? 0 : size - b;
    *last = size - 1;
    return R_PART;
  }
  if (a >= size) return R_NONE;
  *first = a;
  *last = b < 0 || b >= size ? size - 1 : b;
  return R_PART;
}

// Whether If-Range `v` lets the range apply: a strong ETag equal to ours,
// or a date equal to Last-Modified (RFC 9110 §13.1.5).
static bool if_range_holds(const char *v, const char *etag, time_t mtime) {
  if (v[0] == '"') return strcmp(v, etag) == 0;
  if (v[0] == 'W' && v[1] == '/') return false;
  time_t t;
  return parse_date(v, &t) && t == mtime;
}

// ---------------------------------------------------------------- the handler

static int not_found(cio_http_res *res) {
  cio__http_error_body(res, 404);
  return 0;
}

// Answers the regular file fd (taking it) of status st.
static int answer_file(cio_http_req *req, cio_http_res *res, int fd, const struct stat *st,
                       const char *name) {
  char etag[48], modified[40];
  snprintf(etag, sizeof etag, "\"%llx-%llx\"", (unsigned long long)st->st_mtime,
           (unsigned long long)st->st_size);
  format_date(st->st_mtime, modified);
  int rc = cio_http_set_header(res, "Last-Modified", modified);
  if (rc == 0) rc = cio_http_set_header(res, "ETag", etag);
  if (rc < 0) {
    close(fd);
    return rc;
  }
  // RFC 9110 §13.2.2's order: If-Match, If-Unmodified-Since, If-None-Match,
  // If-Modified-Since, then If-Range.
  const char *im = cio_http_header(req, "If-Match");
  const char *ius = cio_http_header(req, "If-Unmodified-Since");
  const char *inm = cio_http_header(req, "If-None-Match");
  const char *ims = cio_http_header(req, "If-Modified-Since");
  time_t t;
  if ((im && !etag_listed(im, etag, false)) ||
      (!im && ius && parse_date(ius, &t) && st->st_mtime > t)) {
    close(fd);
    cio__http_error_body(res, 412);
    return 0;
  }
  if ((inm && etag_listed(inm, etag, true)) ||
      (!inm && ims && parse_date(ims, &t) && st->st_mtime <= t)) {
    close(fd);
    return cio_http_send(res, 304, NULL, NULL, 0);
  }
  const char *type = content_type(name);
  long long size = (long long)st->st_size, first = 0, last = size - 1;
  const char *range = cio_http_header(req, "Range");
  const char *if_range = cio_http_header(req, "If-Range");
  enum range_kind k = R_WHOLE;
  if (range && (!if_range || if_range_holds(if_range, etag, st->st_mtime)))
    k = parse_range(range, size, &first, &last);
  char cr[80];
  if (k == R_NONE) {
    close(fd);
    snprintf(cr, sizeof cr, "bytes */%lld", size);
    cio__http_error_body(res, 416);
    return cio_http_set_header(res, "Content-Range", cr);
  }
  rc = cio_http_set_header(res, "Accept-Ranges", "bytes");
  if (rc == 0 && k == R_PART) {
    snprintf(cr, sizeof cr, "bytes %lld-%lld/%lld", first, last, size);
    rc = cio_http_set_header(res, "Content-Range", cr);
  }
  if (rc < 0) {
    close(fd);
    return rc;
  }
  return cio__http_set_file(res, k == R_PART ? 206 : 200, type, fd, (off_t)first,
                            (size_t)(last - first + 1));
}

// GET and HEAD of the mount's prefix and below.
static int serve_static(cio_http_req *req, cio_http_res *res, void *arg) {
  const struct mount *m = arg;
  const char *p = cio_http_param(req, "path");
  char rel[4096];
  if (clean_path(p ? p : "", rel, sizeof rel - sizeof "/index.html") < 0) return not_found(res);
  int fd = open_beneath(m, rel);
  if (fd < 0) return not_found(res);
  struct stat st;
  if (fstat(fd, &st) < 0) {
    close(fd);
    return not_found(res);
  }
  const char *path = cio_http_path(req);
  bool slash = path[strlen(path) - 1] == '/';
  if (S_ISDIR(st.st_mode) && m->opts.html) {
    close(fd);
    strcat(rel, "/index.html");
    fd = open_beneath(m, rel);
    if (fd < 0) return not_found(res);
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
      close(fd);
      return not_found(res);
    }
    if (!slash) { // Starlette's redirect: relative links in the page need the slash
      close(fd);
      size_t n = strlen(path);
      char *to = cio__malloc(n + 2);
      if (!to) return -ENOMEM;
      memcpy(to, path, n);
      memcpy(to + n, "/", 2);
      int rc = cio_http_set_header(res, "Location", to);
      free(to);
      return rc < 0 ? rc : cio_http_send(res, 307, NULL, NULL, 0);
    }
  } else if (!S_ISREG(st.st_mode) || slash) { // a directory, a FIFO, a device; "a.txt/"
    close(fd);
    return not_found(res);
  }
  return answer_file(req, res, fd, &st, rel);
}

int cio_http_static(cio_http_app *app, const char *prefix, const char *dir,
                    const cio_http_static_opts *opts) {
  if (!cio__http_app_valid(app) || !prefix || !dir || prefix[0] != '/' || strchr(prefix, '{') ||
      strchr(prefix, '}'))
    return -EINVAL;
  size_t pl = strlen(prefix);
  while (pl > 1 && prefix[pl - 1] == '/') pl--; // "/static/" is "/static"
  char *pattern = cio__malloc(pl + sizeof "/{path:path}");
  struct mount *m = cio__calloc(1, sizeof *m);
  if (!pattern || !m) {
    free(pattern);
    free(m);
    return -ENOMEM;
  }
  if (opts) m->opts = *opts;
  m->root = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  int rc = m->root < 0 ? -errno : 0;
  if (rc == 0) {
    m->real = realpath(dir, NULL); // (libc's malloc: freed with free())
    if (!m->real) rc = -errno;
  }
  if (rc < 0) {
    if (m->root >= 0) close(m->root);
    free(pattern);
    free(m);
    return rc;
  }
  rc = cio__http_app_own(app, m, mount_free);
  if (rc < 0) {
    mount_free(m);
    free(pattern);
    return rc;
  }
  // The prefix itself (its directory), then everything below it.
  memcpy(pattern, prefix, pl);
  pattern[pl] = '\0';
  // A mount is not an operation: the OpenAPI document leaves it out, as
  // FastAPI leaves out its mounts.
  rc = cio_http_route(app, "GET", pattern, serve_static, m);
  if (rc == 0) app->last->undocumented = true;
  snprintf(pattern + pl, sizeof "/{path:path}", "%s", pl == 1 ? "{path:path}" : "/{path:path}");
  if (rc == 0) rc = cio_http_route(app, "GET", pattern, serve_static, m);
  if (rc == 0) app->last->undocumented = true;
  free(pattern);
  return rc;
}
