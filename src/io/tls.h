// SPDX-License-Identifier: MIT
//
// Internal TLS helpers for the layers above I/O (the HTTP server).
#ifndef CIO_TLS_INTERNAL_H
#define CIO_TLS_INTERNAL_H

#include "../../include/cio/tls.h"

// Readies a server context for a protocol spoken over it: contexts that
// offer no ALPN protocol (the default one and those chosen by SNI) offer
// `protocol` ("http/1.1"), so that clients which ask get it agreed.
// Returns 0, -EINVAL (NULL, or a client context), -ENOMEM.
int cio__tls_server_ctx_speak(cio_tls_ctx *ctx, const char *protocol);

#endif
