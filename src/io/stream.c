// SPDX-License-Identifier: MIT
//
// Buffered streams.  The read side keeps one buffer [start, end) that
// grows up to the stream's limit while readuntil looks for a separator;
// the write side queues what the socket does not take at once and sends it
// in drain().
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../include/cio.h"
#include "../internal.h"
#include "../tune.h"
#include "stream.h"

#define READ_CHUNK CIO__TUNED(16384, 7) // bytes asked of the socket per read

struct cio_stream {
  cio_sock *sock;      // owned
  char *rbuf;          // read buffer
  size_t rcap;         // its size
  size_t rstart, rend; // unread bytes are rbuf[rstart, rend)
  size_t limit;        // most readuntil buffers
  bool eof;            // the peer closed its side
  char *wbuf;          // bytes queued for sending
  size_t wlen, wcap;   // queued, allocated
  size_t high_water;   // drain() returns once wlen <= this
  int werr;            // first write error (sticky)
};

cio_stream *cio_stream_new(cio_sock *s, size_t limit) {
  if (!s) {
    errno = EINVAL;
    return NULL;
  }
  cio_stream *st = calloc(1, sizeof *st);
  if (!st) {
    errno = ENOMEM;
    return NULL;
  }
  st->sock = s;
  st->limit = limit ? limit : CIO_STREAM_LIMIT;
  return st;
}

int cio_stream_connect(cio_stream **out, const char *host, const char *port) {
  if (!out) return -EINVAL;
  cio_sock *s;
  int rc = cio_tcp_connect(&s, host, port);
  if (rc < 0) return rc;
  *out = cio_stream_new(s, 0);
  if (!*out) {
    cio_sock_close(s);
    return -ENOMEM;
  }
  return 0;
}

cio_sock *cio_stream_sock(cio_stream *st) { return st ? st->sock : NULL; }

static size_t buffered(const cio_stream *st) { return st->rend - st->rstart; }

// Reads more into the buffer, growing it up to `most` bytes buffered.
// Returns bytes added, 0 at end of stream, -EMSGSIZE if already full, -errno.
static ssize_t fill(cio_stream *st, size_t most) {
  if (st->eof) return 0;
  if (st->rstart > 0 && st->rstart == st->rend) st->rstart = st->rend = 0;
  if (st->rend == st->rcap) {
    size_t have = buffered(st);
    if (have >= most) return -EMSGSIZE;
    if (st->rstart > 0) { // compact
      memmove(st->rbuf, st->rbuf + st->rstart, have);
      st->rstart = 0;
      st->rend = have;
    } else {
      size_t cap = st->rcap ? st->rcap * 2 : READ_CHUNK;
      if (cap > most) cap = most > READ_CHUNK ? most : READ_CHUNK;
      char *b = realloc(st->rbuf, cap);
      if (!b) return -ENOMEM;
      st->rbuf = b;
      st->rcap = cap;
    }
  }
  ssize_t r = cio_sock_read(st->sock, st->rbuf + st->rend, st->rcap - st->rend);
  if (r == 0) st->eof = true;
  if (r > 0) st->rend += (size_t)r;
  return r;
}

ssize_t cio_stream_read(cio_stream *st, void *buf, size_t len) {
  if (!st || (!buf && len)) return -EINVAL;
  if (len == 0) return 0;
  if (buffered(st) == 0) {
    if (st->eof) return 0;
    if (len >= READ_CHUNK) return cio_sock_read(st->sock, buf, len); // no copy for big reads
    ssize_t r = fill(st, st->limit);
    if (r <= 0) return r;
  }
  size_t n = buffered(st) < len ? buffered(st) : len;
  memcpy(buf, st->rbuf + st->rstart, n);
  st->rstart += n;
  return (ssize_t)n;
}

// Waits until `len` bytes are buffered, then takes them all at once: a call
// that is interrupted (cancelled, timed out) takes nothing, and what came
// meanwhile stays buffered for the next read, as with asyncio's
// readexactly, which buffers large reads too.  (Taking the bytes as they
// came, as this did first, lost them to a timeout: a framed protocol fell
// out of step.)
int cio_stream_readexactly(cio_stream *st, void *buf, size_t len, size_t *got) {
  if (got) *got = 0;
  if (!st || (!buf && len)) return -EINVAL;
  while (buffered(st) < len) {
    ssize_t r = fill(st, len);
    if (r == 0) { // the end came first: hand over what there is
      size_t n = buffered(st);
      if (n) memcpy(buf, st->rbuf + st->rstart, n);
      st->rstart += n;
      if (got) *got = n;
      return -ENODATA;
    }
    if (r < 0) return (int)r;
  }
  if (len) memcpy(buf, st->rbuf + st->rstart, len);
  st->rstart += len;
  if (got) *got = len;
  return 0;
}

ssize_t cio_stream_readuntil(cio_stream *st, const void *sep, size_t seplen, char *buf,
                             size_t cap) {
  if (!st || !sep || !seplen || (!buf && cap)) return -EINVAL;
  size_t most = st->limit < cap ? st->limit : cap;
  size_t searched = 0; // bytes of the buffer known not to start a match
  for (;;) {
    size_t have = buffered(st);
    if (have >= seplen) {
      const char *base = st->rbuf + st->rstart;
      const char *hit = memmem(base + searched, have - searched, sep, seplen);
      if (hit) {
        size_t n = (size_t)(hit - base) + seplen;
        if (n > cap) return -EMSGSIZE;
        memcpy(buf, base, n);
        st->rstart += n;
        return (ssize_t)n;
      }
      searched = have - seplen + 1;
    }
    if (have >= most) return -EMSGSIZE;
    ssize_t r = fill(st, most);
    if (r == 0) return -ENODATA;
    if (r < 0) return r;
  }
}

ssize_t cio_stream_readline(cio_stream *st, char *buf, size_t cap) {
  ssize_t n = cio_stream_readuntil(st, "\n", 1, buf, cap);
  if (n != -ENODATA) return n;
  size_t rest = buffered(st); // the last line has no newline
  if (rest > cap) return -EMSGSIZE;
  memcpy(buf, st->rbuf + st->rstart, rest);
  st->rstart += rest;
  return (ssize_t)rest;
}

int cio_stream_write(cio_stream *st, const void *data, size_t len) {
  if (!st || (!data && len)) return -EINVAL;
  if (st->werr) return st->werr;
  if (len == 0) return 0;
  if (st->wlen + len > st->wcap) {
    size_t cap = st->wcap ? st->wcap : 4096;
    while (cap < st->wlen + len) cap *= 2;
    char *b = realloc(st->wbuf, cap);
    if (!b) return -ENOMEM;
    st->wbuf = b;
    st->wcap = cap;
  }
  memcpy(st->wbuf + st->wlen, data, len);
  st->wlen += len;
  return 0;
}

int cio_stream_drain(cio_stream *st) {
  if (!st) return -EINVAL;
  if (st->werr) return st->werr;
  if (st->wlen <= st->high_water) return 0;
  ssize_t w = cio_sock_write(st->sock, st->wbuf, st->wlen);
  if (w < 0) {
    if (w != -ECANCELED && w != -ETIMEDOUT) st->werr = (int)w;
    return (int)w;
  }
  st->wlen = 0;
  return 0;
}

void cio_stream_set_high_water(cio_stream *st, size_t bytes) {
  if (st) st->high_water = bytes;
}

int cio_stream_close(cio_stream *st) {
  if (!st) return -EINVAL;
  int rc = 0;
  if (st->wlen && !st->werr) {
    st->high_water = 0;
    rc = cio_stream_drain(st);
  }
  cio__stream_abort(st);
  return rc;
}

void cio__stream_abort(cio_stream *st) {
  if (!st) return;
  cio_sock_close(st->sock);
  free(st->rbuf);
  free(st->wbuf);
  free(st);
}
