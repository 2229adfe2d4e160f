// SPDX-License-Identifier: MIT
//
// The guide's Quick Start:
//   async def hello(): await asyncio.sleep(1); return "done"
//   result = asyncio.run(hello())
#include <cio.h>
#include <stdio.h>

// An "async function": any C function that awaits.  Its value comes back
// through its argument; its return value is the outcome (0 = success).
static int hello(void *arg) {
  int rc = cio_sleep(1.0); // await asyncio.sleep(1)
  if (rc < 0) return rc;   // -ECANCELED if someone cancelled us
  *(const char **)arg = "done";
  return 0;
}

int main(void) {
  const char *result = NULL;
  int rc = cio_run(hello, &result); // asyncio.run(hello())
  printf("%s (outcome %d)\n", result ? result : "(nothing)", rc);
  return rc < 0;
}
