// SPDX-License-Identifier: MIT
//
// Internal stream helpers for the rest of the I/O layer.
#ifndef CIO_STREAM_INTERNAL_H
#define CIO_STREAM_INTERNAL_H

#include "../../include/cio.h"

// Closes the socket and frees the stream without flushing (does not await);
// a transport says goodbye first if the socket takes it at once.
void cio__stream_abort(cio_stream *st);

// A stream's transport: how its bytes cross the socket.  Plain streams
// have none (the socket's own calls); TLS streams have one.
typedef struct cio__transport cio__transport;
typedef struct cio__transport_ops {
  // Reads up to len bytes, awaiting some: bytes, 0 at the end, -errno.
  ssize_t (*recv)(cio__transport *t, cio_sock *s, void *buf, size_t len);
  // Sends what goes now, without waiting: bytes taken, -EAGAIN (await
  // wait_send, then call again with the same bytes, at least as many), -errno.
  ssize_t (*send_now)(cio__transport *t, cio_sock *s, const void *buf, size_t len);
  // Awaits what the last -EAGAIN of send_now waits for.  0 or -errno.
  int (*wait_send)(cio__transport *t, cio_sock *s);
  // Says goodbye to the peer before the socket closes, without waiting.
  void (*goodbye)(cio__transport *t, cio_sock *s);
  void (*free)(cio__transport *t);
} cio__transport_ops;
struct cio__transport {
  const cio__transport_ops *ops;
};

// For a protocol that keeps its own buffers (the HTTP server): reads
// straight from the transport or the socket, as cio_sock_read() does,
// while nothing is buffered in the stream.  Returns bytes, 0 at the end,
// or -errno.
ssize_t cio__stream_recv(cio_stream *st, void *buf, size_t len);
// Likewise sends all of buf while nothing is queued, as
// cio_sock_write_all() does: *sent counts what went out, whatever ends the
// call.  A TLS record cut by an interruption cannot be finished by other
// bytes: after a failure, nothing more may be sent.  Returns 0 or -errno.
int cio__stream_send(cio_stream *st, const void *buf, size_t len, size_t *sent);
// The transport's goodbye (TLS: close_notify) now, once, without waiting;
// nothing for a plain stream.  For a half close (shutdown(SHUT_WR)).
void cio__stream_goodbye(cio_stream *st);

// Gives the stream transport t (owned from now on, freed with the stream).
// Returns 0, or -EBUSY if the stream has bytes buffered or queued or a task
// in it, or already has a transport (t is not taken then).
int cio__stream_set_transport(cio_stream *st, cio__transport *t);
// The stream's transport, or NULL (plain, or not a stream).
cio__transport *cio__stream_transport(const cio_stream *st);

#endif
