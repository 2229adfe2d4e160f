// SPDX-License-Identifier: MIT
//
// Names for return codes.
#include <errno.h>
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
  }
  if (code > 0) return "success";
  return strerror(-code);
}
