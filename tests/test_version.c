// SPDX-License-Identifier: MIT
//
// The version is written once (include/cio/version.h): the macros, the
// library's answer at run time and CMake's project VERSION (which the SONAME
// and cio.pc come from; the exports test checks the SONAME) must agree.
#include <cio.h>
#include <stdio.h>
#include <string.h>

#include "helpers/test.h"

// Usable by the preprocessor, as the header promises.
#if !defined(CIO_VERSION_NUMBER) || CIO_VERSION_NUMBER < 0x000100
#error "CIO_VERSION_NUMBER missing or below 0.1.0"
#endif

static void version_macros_library_and_cmake_agree(void) {
  char want[32];
  snprintf(want, sizeof want, "%d.%d.%d", CIO_VERSION_MAJOR, CIO_VERSION_MINOR, CIO_VERSION_PATCH);
  ASSERT(strcmp(CIO_VERSION_STRING, want) == 0);
  ASSERT(strcmp(CIO_VERSION_STRING, CIO_TEST_PROJECT_VERSION) == 0); // CMake's PROJECT_VERSION
  ASSERT_EQ(CIO_VERSION_NUMBER,
            (CIO_VERSION_MAJOR << 16) | (CIO_VERSION_MINOR << 8) | CIO_VERSION_PATCH);
  ASSERT_EQ(cio_version(), CIO_VERSION_NUMBER);
  ASSERT(strcmp(cio_version_string(), CIO_VERSION_STRING) == 0);
}

static const test_case cases[] = {
    {"version_macros_library_and_cmake_agree", version_macros_library_and_cmake_agree, 0},
};
TEST_MAIN(cases)
