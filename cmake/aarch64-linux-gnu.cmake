# SPDX-License-Identifier: MIT
#
# Cross build for AArch64 Linux with Debian's cross toolchain; tests run under
# qemu-user.  Debian 12: apt-get install gcc-aarch64-linux-gnu
# libc6-dev-arm64-cross qemu-user (tools/test-aarch64.sh does it all).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CIO_CROSS_TRIPLE aarch64-linux-gnu)
set(CMAKE_C_COMPILER ${CIO_CROSS_TRIPLE}-gcc)
set(CMAKE_ASM_COMPILER ${CIO_CROSS_TRIPLE}-gcc)

set(CIO_CROSS_SYSROOT /usr/${CIO_CROSS_TRIPLE})
set(CMAKE_FIND_ROOT_PATH ${CIO_CROSS_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# ctest (and add_test commands) run target binaries through qemu.
find_program(CIO_QEMU_AARCH64 NAMES qemu-aarch64 qemu-aarch64-static REQUIRED)
set(CMAKE_CROSSCOMPILING_EMULATOR ${CIO_QEMU_AARCH64} -L ${CIO_CROSS_SYSROOT})

# pkg-config must describe the target's libraries, not the host's (a host
# libjansson-dev would otherwise be linked into AArch64 binaries).  With
# Debian multiarch, arm64 -dev packages put their .pc files here.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/${CIO_CROSS_TRIPLE}/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
