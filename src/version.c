// SPDX-License-Identifier: MIT
//
// The library's version at run time (include/cio/version.h holds the numbers).
#include "../include/cio/version.h"

unsigned cio_version(void) { return CIO_VERSION_NUMBER; }

const char *cio_version_string(void) { return CIO_VERSION_STRING; }
