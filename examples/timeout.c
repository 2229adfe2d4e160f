// SPDX-License-Identifier: MIT
//
// The guide's timeout: asyncio.wait_for(fetch_data(), timeout=5.0), and
// the same limit as a scope around plain calls (asyncio.timeout).
#include <cio.h>
#include <stdio.h>

static int fetch_data(void *arg) { // a slow service
  (void)arg;
  return cio_sleep(10);
}

static int run(void *arg) {
  (void)arg;
  // try: await asyncio.wait_for(fetch_data(), timeout=0.5)
  int rc = cio_wait_for(cio_spawn(fetch_data, NULL), 0.5);
  if (rc == -ETIMEDOUT) printf("Timed out! (the task was cancelled and awaited)\n");

  // async with asyncio.timeout(0.5): await fetch_data()
  cio_scope scope;
  cio_timeout_begin(&scope, 0.5);
  rc = fetch_data(NULL); // returns -ETIMEDOUT when the scope expires
  if (cio_scope_end(&scope) == -ETIMEDOUT) printf("Timed out again (scope), rc %d\n", rc);
  return 0;
}

int main(void) { return cio_run(run, NULL) < 0; }
