// SPDX-License-Identifier: MIT
//
// The guide's pattern for calling a service many times, for real: 200 URLs
// fetched with an HTTP client (<cio/http_client.h>), at most 10 in flight
// (asyncio.Semaphore(10)), each attempt under a timeout, failures retried
// with exponential backoff, the results kept in order.
//
// The service is a cio HTTP server started in-process on a free port:
// GET /item/{i} answers {"item": i, "square": i*i} after 10-40 ms; every
// 7th item fails with 503 on its first attempt (the retry gets it), every
// 37th is too slow for any attempt (the timeout fires three times).
//
//   fetch_many [--quick]     (--quick: every wait 10x shorter, for the tour)
#include <cio.h>
#include <cio/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef CIO_HAVE_CURL
#include <cio/http_client.h>

#define URLS 200
#define IN_FLIGHT 10
#define ATTEMPTS 3

static double unit = 1; // 0.1 with --quick

// ---------------------------------------------------------------- the service

static int attempts_seen[URLS]; // per item, on the server's side

static int item(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)arg;
  int64_t i = cio_http_param_int(req, "i"); // {i:int}: converted
  if (i < 0 || i >= URLS) return cio_http_json(res, 404, "{\"detail\":\"no such item\"}");
  int attempt = ++attempts_seen[i];
  double delay = i % 37 == 5 ? 10 : 0.01 + 0.01 * (double)(i % 4);
  int rc = cio_sleep(delay * unit);
  if (rc < 0) return rc; // the client gave up and hung up
  if (i % 7 == 3 && attempt == 1) return cio_http_json(res, 503, "{\"detail\":\"busy\"}");
  char body[64];
  snprintf(body, sizeof body, "{\"item\":%lld,\"square\":%lld}", (long long)i, (long long)(i * i));
  return cio_http_json(res, 200, body);
}

// ---------------------------------------------------------------- the client

struct job {
  cio_http_client *client;
  cio_sem *limit; // Semaphore(10)
  char url[64];
  long long square; // the result, or -1
  int error;        // the last failure, or 0
  int attempts;     // made
};

// One attempt: 0 and j->square, or what failed (a 5xx counts as a failure).
static int attempt(struct job *j) {
  cio_scope scope;
  // async with asyncio.timeout(0.5): (--quick keeps a quarter of a second,
  // so that a loaded machine's pauses do not fail the fast items)
  int rc = cio_timeout_begin(&scope, unit < 1 ? 0.25 : 0.5);
  if (rc < 0) return rc;
  cio_http_response *r = NULL;
  rc = cio_http_get(j->client, j->url, &r);
  int expired = cio_scope_end(&scope);
  if (expired < 0) rc = expired;
  if (rc == 0 && cio_http_response_status(r) >= 500) rc = -EAGAIN;
  if (rc == 0) {
    const char *sq = strstr(cio_http_response_body(r, NULL), "\"square\":");
    j->square = sq ? atoll(sq + 9) : -1;
    if (!sq) rc = -EPROTO;
  }
  cio_http_response_free(r);
  return rc;
}

static int fetch(void *arg) {
  struct job *j = arg;
  int rc = cio_sem_acquire(j->limit); // async with semaphore:
  if (rc < 0) return rc;
  double backoff = 0.05 * unit;
  for (j->attempts = 1;; j->attempts++) {
    rc = attempt(j);
    if (rc == 0 || j->attempts == ATTEMPTS || rc == -ECANCELED) break;
    rc = cio_sleep(backoff); // then retry, waiting twice as long each time
    if (rc < 0) break;
    backoff *= 2;
  }
  cio_sem_release(j->limit);
  j->error = rc;
  return 0; // the outcome is in the job: one failure does not stop the others
}

static int run(void *arg) {
  (void)arg;
  cio_http_app *app = cio_http_app_new();
  cio_server *srv;
  if (!app || cio_http_route(app, "GET", "/item/{i:int}", item, NULL) < 0) return -ENOMEM;
  int rc = cio_http_serve(app, "127.0.0.1", "0", NULL, &srv);
  if (rc < 0) return rc;
  cio_http_client *client;
  cio_http_client_opts co = {.max_connections = IN_FLIGHT};
  rc = cio_http_client_new(&client, &co);
  cio_sem *limit = cio_sem_new(IN_FLIGHT);
  static struct job jobs[URLS];
  static cio_task *tasks[URLS];
  double t0 = cio_now();
  for (int i = 0; rc == 0 && i < URLS; i++) {
    jobs[i] = (struct job){.client = client, .limit = limit, .square = -1};
    snprintf(jobs[i].url, sizeof jobs[i].url, "http://127.0.0.1:%d/item/%d", cio_server_port(srv),
             i);
    tasks[i] = cio_spawn(fetch, &jobs[i]);
  }
  if (rc == 0) rc = cio_gather(tasks, URLS, NULL, 0); // results stay in order: jobs[i]
  double took = cio_now() - t0;
  int ok = 0, retried = 0, failed = 0;
  for (int i = 0; rc == 0 && i < URLS; i++) {
    if (jobs[i].error == 0 && jobs[i].square == (long long)i * i) {
      ok++;
      retried += jobs[i].attempts > 1;
    } else {
      failed++;
      if (failed <= 3)
        printf("  item %3d: %s after %d attempts\n", i, cio_strerror(jobs[i].error),
               jobs[i].attempts);
    }
  }
  if (rc == 0)
    printf("%d URLs, at most %d in flight: %d fetched (%d after a retry), %d failed, in %.2f s, "
           "on %zu connections\n",
           URLS, IN_FLIGHT, ok, retried, failed, took, cio_http_client_connections(client));
  if (client) {
    int closed = cio_http_client_close(client);
    if (rc == 0) rc = closed;
  }
  cio_sem_free(limit);
  int stopped = cio_server_close(srv, 1);
  cio_http_app_free(app);
  // Every 37th item (6 of them) is meant to fail, the rest to arrive.
  if (rc == 0 && (failed != 6 || ok != URLS - 6)) rc = -EIO;
  return rc < 0 ? rc : stopped;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--quick") == 0) unit = 0.1;
  int rc = cio_run(run, NULL);
  if (rc < 0) fprintf(stderr, "fetch_many: %s\n", cio_strerror(rc));
  return rc < 0;
}

#else
int main(void) {
  puts("fetch_many: cio was built without libcurl (apt-get install libcurl4-openssl-dev)");
  return 0;
}
#endif
