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

// Gives the stream transport t (owned from now on, freed with the stream).
// Returns 0, or -EBUSY if the stream has bytes buffered or queued or a task
// in it, or already has a transport (t is not taken then).
int cio__stream_set_transport(cio_stream *st, cio__transport *t);
// The stream's transport, or NULL (plain, or not a stream).
cio__transport *cio__stream_transport(const cio_stream *st);

#endif
