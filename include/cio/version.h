// SPDX-License-Identifier: MIT
/// \file
///
/// cio's version: the three numbers below are the one place it is written.
/// CMakeLists.txt reads them for the project's VERSION, and from that derives
/// the shared library's SONAME (libcio.so.0.MINOR while the major version is
/// 0, libcio.so.MAJOR from 1.0 on), the pkg-config file's Version and the
/// CMake package's version file.  CHANGELOG.md says what each version
/// changed and what it breaks.  Included by <cio.h>.
///
/// The macros are the version a program was compiled against; cio_version()
/// and cio_version_string() the one it runs with (the shared library loaded
/// may be newer):
///
///     if (cio_version() < CIO_VERSION_NUMBER)
///       fprintf(stderr, "built with cio %s, running %s\n", CIO_VERSION_STRING,
///               cio_version_string());
#ifndef CIO_VERSION_H
#define CIO_VERSION_H

#define CIO_VERSION_MAJOR 0 ///< incompatible API changes (from 1.0 on)
#define CIO_VERSION_MINOR 1 ///< new features; while MAJOR is 0, also incompatible changes
#define CIO_VERSION_PATCH 0 ///< fixes only

/// The version as one number, (MAJOR << 16) | (MINOR << 8) | PATCH, for
/// comparisons: `#if CIO_VERSION_NUMBER >= 0x000200`.
#define CIO_VERSION_NUMBER                                                                         \
  ((CIO_VERSION_MAJOR << 16) | (CIO_VERSION_MINOR << 8) | CIO_VERSION_PATCH)

#define CIO_VERSION_STR_(x) #x
#define CIO_VERSION_XSTR_(x) CIO_VERSION_STR_(x)
/// The version as text, "MAJOR.MINOR.PATCH" (e.g. "0.1.0").
#define CIO_VERSION_STRING                                                                         \
  CIO_VERSION_XSTR_(CIO_VERSION_MAJOR)                                                             \
  "." CIO_VERSION_XSTR_(CIO_VERSION_MINOR) "." CIO_VERSION_XSTR_(CIO_VERSION_PATCH)

#ifdef __cplusplus
extern "C" {
#endif

/// The version of the cio library this program runs with, as
/// CIO_VERSION_NUMBER encodes it.  Does not await; callable from any thread,
/// inside or outside cio_run().
unsigned cio_version(void);

/// The same as text, "MAJOR.MINOR.PATCH" (static storage, never NULL).
/// Does not await; callable from any thread.
const char *cio_version_string(void);

#ifdef __cplusplus
}
#endif
#endif
