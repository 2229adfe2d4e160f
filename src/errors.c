// SPDX-License-Identifier: MIT
//
// Names for return codes: negative errno values, and the CIO_EAI_* codes of
// name resolution (named in getaddrinfo's own words), the CIO_TLS_* and
// CIO_HTTP_* and CIO_PG_* codes.
#include <errno.h>
#include <netdb.h>
#include <string.h>

#include "../include/cio.h"

const char *cio_strerror(int code) {
  switch (code) {
  case 0: return "success";
  case -ECANCELED: return "cancelled";
  case -ETIMEDOUT: return "timed out";
  case -EPERM: return "not called from a task inside cio_run()";
  case -EBUSY: return "not finished yet";
  case -EDEADLK: return "deadlock";
  case CIO_EAI_NONAME: return gai_strerror(EAI_NONAME);
#ifdef EAI_NODATA
  case CIO_EAI_NODATA: return gai_strerror(EAI_NODATA);
#endif
  case CIO_EAI_AGAIN: return gai_strerror(EAI_AGAIN);
  case CIO_EAI_FAIL: return gai_strerror(EAI_FAIL);
  case CIO_TLS_HANDSHAKE: return "TLS handshake failed";
  case CIO_TLS_CERT_EXPIRED: return "TLS certificate expired or not yet valid";
  case CIO_TLS_CERT_UNTRUSTED: return "TLS certificate not trusted (self-signed or unknown CA)";
  case CIO_TLS_CERT_HOSTNAME: return "TLS certificate is for another host";
  case CIO_TLS_CERT_INVALID: return "TLS certificate verification failed";
  case CIO_TLS_PROTOCOL: return "TLS protocol error";
  case CIO_HTTP_CONNECT_TIMEOUT: return "HTTP connect timed out";
  case CIO_HTTP_READ_TIMEOUT: return "HTTP read timed out (the server sent nothing)";
  case CIO_HTTP_WRITE_TIMEOUT: return "HTTP write timed out (the request could not be sent)";
  case CIO_HTTP_POOL_TIMEOUT: return "HTTP pool timed out (no connection free)";
  case CIO_HTTP_PROTOCOL: return "malformed or incomplete HTTP response";
  case CIO_HTTP_TOO_MANY_REDIRECTS: return "too many HTTP redirects";
  case CIO_HTTP_BODY_TOO_LARGE: return "HTTP response body too large";
  case CIO_PROC_WORKER_DIED: return "the worker process died during the job";
  case CIO_PROC_POOL_BROKEN: return "the process pool is broken: its zygote is gone";
  case CIO_PG_ERROR: return "PostgreSQL error (see its SQLSTATE)";
  case CIO_PG_CONNECT: return "could not connect to PostgreSQL";
  case CIO_PG_CONN_LOST: return "PostgreSQL connection lost";
  case CIO_PG_PROTOCOL: return "unexpected answer from PostgreSQL";
  case CIO_PG_POOL_TIMEOUT: return "PostgreSQL pool timed out (no connection free)";
  case CIO_PG_TYPE: return "PostgreSQL value of another type";
  case CIO_PG_NULL: return "PostgreSQL value is NULL";
  case CIO_PG_ABORTED: return "PostgreSQL query not run (an earlier one of its batch failed)";
  }
  if (code > 0) return "success";
  if (code <= CIO_EAI_FIRST && code >= CIO_EAI_LAST) return "name resolution failed";
  if (code <= CIO_TLS_FIRST && code >= CIO_TLS_LAST) return "TLS error";
  if (code <= CIO_HTTP_FIRST && code >= CIO_HTTP_LAST) return "HTTP client error";
  if (code <= CIO_PG_FIRST && code >= CIO_PG_LAST) return "PostgreSQL error";
  return strerror(-code);
}
