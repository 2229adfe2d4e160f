// SPDX-License-Identifier: MIT
//
// Internal stream helpers for the rest of the I/O layer.
#ifndef CIO_STREAM_INTERNAL_H
#define CIO_STREAM_INTERNAL_H

#include "../../include/cio.h"

// Closes the socket and frees the stream without flushing (does not await).
void cio__stream_abort(cio_stream *st);

#endif
