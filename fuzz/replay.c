// SPDX-License-Identifier: MIT
//
// Runs a fuzz target's body without libFuzzer, with any compiler: each
// argument is an input file or a directory of them (its files in name
// order; README* and subdirectories skipped), and each input goes once
// through LLVMFuzzerTestOneInput, in a buffer of exactly its size as
// libFuzzer gives it (so ASan sees a read past the end).  A crash, an
// abort or a sanitizer report ends the process, after the input's name is
// printed; a directory with no input is an error too (a wrong path must
// not pass).  `make test` replays fuzz/regression/ and the seed corpora
// through both HTTP targets so (ctest fuzz_http_regression and
// fuzz_http_server_regression).
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

// Runs one input.  Returns 0, or -1 if it cannot be read.
static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
    return -1;
  }
  size_t cap = 4096, n = 0;
  uint8_t *buf = malloc(cap);
  for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
    n += got;
    if (n == cap) {
      uint8_t *grown = realloc(buf, cap *= 2);
      if (!grown) free(buf);
      buf = grown;
    }
  }
  int failed = ferror(f);
  fclose(f);
  if (!buf || failed) {
    fprintf(stderr, "replay: %s: %s\n", path, buf ? "read error" : "out of memory");
    free(buf);
    return -1;
  }
  uint8_t *exact = malloc(n ? n : 1); // the input alone, nothing readable after it
  if (!exact) {
    free(buf);
    return -1;
  }
  if (n) memcpy(exact, buf, n);
  free(buf);
  printf("replay: %s (%zu bytes)\n", path, n);
  fflush(stdout); // named before a crash cuts the output
  LLVMFuzzerTestOneInput(exact, n);
  free(exact);
  return 0;
}

static int skip(const struct dirent *e) {
  return e->d_name[0] != '.' && strncmp(e->d_name, "README", 6) != 0;
}

// Runs every input of a directory.  Returns how many, or -1.
static int run_dir(const char *dir) {
  struct dirent **names;
  int n = scandir(dir, &names, skip, alphasort);
  if (n < 0) {
    fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
    return -1;
  }
  int ran = 0, rc = 0;
  for (int i = 0; i < n; i++) {
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
    if (rc == 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
      if (run_file(path) < 0) rc = -1;
      ran++;
    }
    free(names[i]);
  }
  free(names);
  if (rc == 0 && ran == 0) {
    fprintf(stderr, "replay: %s: no input in it\n", dir);
    rc = -1;
  }
  return rc < 0 ? -1 : ran;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s file-or-directory...\n", argv[0]);
    return 2;
  }
  int total = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    int ran = stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode) ? run_dir(argv[i])
              : run_file(argv[i]) == 0                       ? 1
                                                             : -1;
    if (ran < 0) return 1;
    total += ran;
  }
  printf("replay: %d inputs, no crash\n", total);
  return 0;
}
