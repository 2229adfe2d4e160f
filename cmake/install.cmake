# SPDX-License-Identifier: MIT
#
# Install rules (included from CMakeLists.txt when CIO_INSTALL is on): the
# headers, both libraries, cio.pc and the CMake package.  `make install
# PREFIX=... [DESTDIR=...]` runs them through `cmake --install`, which also
# writes the manifest `make uninstall` reads (build/install_manifest.txt).
#
# Both descriptions are right for the prefix installed to, whatever the prefix
# configured: the CMake package is relocatable (its paths are relative to
# where it lies), and cio.pc is written at install time with the install
# prefix (absolute paths, as pkg-config users expect: a ${pcfiledir}-relative
# prefix would turn -I/usr/include into a path pkg-config no longer filters).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(CIO_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/cio)

install(TARGETS cio_shared cio_static EXPORT cioTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_SOURCE_DIR}/include/cio.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# <cio/pg.h> only with the driver: its calls are in the library only then.
if(PQ_FOUND)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/cio DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
else()
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/cio DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
          PATTERN pg.h EXCLUDE)
endif()

# --- cio.pc -------------------------------------------------------------------
# First here, everything but the prefix; then at install time, the prefix.
if(JANSSON_FOUND)
  set(CIO_PC_REQUIRES "jansson") # <cio/http_json.h> includes <jansson.h>
  set(CIO_PC_JSON yes)
else()
  set(CIO_PC_REQUIRES "")
  set(CIO_PC_JSON no)
endif()
set(CIO_PC_REQUIRES_PRIVATE "")
if(OPENSSL_FOUND)
  # The static library needs libssl and libcrypto; the shared one links them itself.
  set(CIO_PC_REQUIRES_PRIVATE "openssl")
  set(CIO_PC_TLS yes)
else()
  set(CIO_PC_TLS no)
endif()
if(CURL_FOUND)
  # libcio.a needs libcurl: as -lcurl, not `Requires.private: libcurl`, whose
  # --static flags name the libraries of a static libcurl (nghttp2, ssh2,
  # ldap...), whose -dev packages a machine with libcurl.so need not have.
  set(CIO_PC_LIBS_PRIVATE "-lcurl ")
  if(ZLIB_FOUND) # the own HTTP/1.1 engine's gzip and deflate
    string(APPEND CIO_PC_LIBS_PRIVATE "-lz ")
  endif()
  set(CIO_PC_CLIENT yes)
else()
  set(CIO_PC_LIBS_PRIVATE "")
  set(CIO_PC_CLIENT no)
endif()
if(PQ_FOUND)
  # libcio.a needs libpq: as -lpq, as -lcurl above (libpq.pc's static flags
  # name libraries, gssapi and ldap, that a machine with libpq.so need not have).
  string(APPEND CIO_PC_LIBS_PRIVATE "-lpq ")
  set(CIO_PC_PG yes)
else()
  set(CIO_PC_PG no)
endif()
string(STRIP "${CIO_PC_REQUIRES_PRIVATE}" CIO_PC_REQUIRES_PRIVATE)
string(REPLACE ";" " " CIO_PC_CFLAGS "${CIO_CONSUMER_CFLAGS}")
if(CIO_PC_CFLAGS)
  set(CIO_PC_CFLAGS " ${CIO_PC_CFLAGS}")
endif()
foreach(dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${dir}}")
    set(CIO_PC_${dir} "${CMAKE_INSTALL_${dir}}")
  else()
    set(CIO_PC_${dir} "\${prefix}/${CMAKE_INSTALL_${dir}}")
  endif()
endforeach()
set(CIO_PC_PREFIX "@CMAKE_INSTALL_PREFIX@") # filled in by the install step below
configure_file(${PROJECT_SOURCE_DIR}/cio.pc.in ${PROJECT_BINARY_DIR}/pc/cio.pc.in @ONLY)
install(CODE "configure_file(\"${PROJECT_BINARY_DIR}/pc/cio.pc.in\" \"${PROJECT_BINARY_DIR}/pc/cio.pc\" @ONLY)")
install(FILES ${PROJECT_BINARY_DIR}/pc/cio.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# --- the CMake package: find_package(cio [version] [COMPONENTS JSON]) ----------
install(EXPORT cioTargets NAMESPACE cio:: DESTINATION ${CIO_CMAKE_DIR} FILE cioTargets.cmake)
if(JANSSON_FOUND)
  set(CIO_HAVE_JSON TRUE)
else()
  set(CIO_HAVE_JSON FALSE)
endif()
if(OPENSSL_FOUND)
  set(CIO_HAVE_TLS TRUE)
else()
  set(CIO_HAVE_TLS FALSE)
endif()
if(CURL_FOUND)
  set(CIO_HAVE_CLIENT TRUE)
else()
  set(CIO_HAVE_CLIENT FALSE)
endif()
if(CURL_FOUND AND ZLIB_FOUND)
  set(CIO_HAVE_CLIENT_ZLIB TRUE)
else()
  set(CIO_HAVE_CLIENT_ZLIB FALSE)
endif()
if(PQ_FOUND)
  set(CIO_HAVE_PG TRUE)
else()
  set(CIO_HAVE_PG FALSE)
endif()
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/cioConfig.cmake.in ${PROJECT_BINARY_DIR}/cioConfig.cmake
                              INSTALL_DESTINATION ${CIO_CMAKE_DIR})
# While the major version is 0, a new minor version may break programs:
# find_package(cio 0.1) accepts 0.1.x only.  From 1.0 on, the same major.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(CIO_COMPATIBILITY SameMinorVersion)
else()
  set(CIO_COMPATIBILITY SameMajorVersion)
endif()
write_basic_package_version_file(${PROJECT_BINARY_DIR}/cioConfigVersion.cmake
                                 COMPATIBILITY ${CIO_COMPATIBILITY})
install(FILES ${PROJECT_BINARY_DIR}/cioConfig.cmake ${PROJECT_BINARY_DIR}/cioConfigVersion.cmake
        DESTINATION ${CIO_CMAKE_DIR})
