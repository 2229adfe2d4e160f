// SPDX-License-Identifier: MIT
//
// The control for forgot_await_check.c: the same code with the result
// checked compiles cleanly, so that test fails for the right reason.
#include <cio.h>

int body(void *arg) {
  (void)arg;
  if (cio_sleep(1.0) < 0) return -1;
  return 0;
}
