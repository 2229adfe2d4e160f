// SPDX-License-Identifier: MIT
//
// Must NOT compile with -Werror=unused-result: ignoring an await's result
// (the guide's "forgot to check" mistake) is a warning.
#include <cio.h>

int body(void *arg) {
  (void)arg;
  cio_sleep(1.0);
  return 0;
}
