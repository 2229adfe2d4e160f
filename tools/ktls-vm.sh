#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Kernel TLS under a kernel that has it.  The machines cio is built on here
# run a kernel without the TLS upper layer (no `tls` in
# /proc/sys/net/ipv4/tcp_available_ulp, no modules), and nested KVM does not
# boot, so this boots Debian's cloud kernel (which has net/tls/tls.ko) in
# qemu's software emulation, with an initramfs holding busybox, tls.ko,
# test_tls and bench_tls_bulk with their libraries, and the test
# certificates made here.  Inside it:
#   - test_tls's kTLS and loopback cases run with CIO_TEST_KTLS=1, so the
#     kTLS case fails unless each side that asks for kTLS gets it;
#   - bench_tls_bulk sends KTLS_MIB MiB (default 64) through one TLS 1.3
#     connection with kTLS off (CIO_KTLS=0), then on, twice each.  Software
#     emulation is slow: the figures compare the two paths on the same
#     emulated machine, they are not this machine's speed.
# Prints the test's result lines and "ktls_bulk <off|on> <MB/s> MB/s" rows;
# exits 1 if the test failed or a transfer did not complete.
#
#   tools/ktls-vm.sh [build-dir]     (default: build)
#
# Needs qemu-system-x86 and busybox-static (apt-get install), the openssl
# command, and Debian's linux-image-cloud-amd64 package, which it fetches
# with `apt-get download` into $CIO_KTLS_CACHE (default ~/.cache/cio-ktls).
# A missing part skips with the reason (exit 77).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
mib=${KTLS_MIB:-64}
cache=${CIO_KTLS_CACHE:-$HOME/.cache/cio-ktls}
qemu=$(command -v qemu-system-x86_64 || true)
busybox=$(command -v busybox || true)
skip() {
  echo "ktls-vm skipped: $*"
  exit 77
}
[ "$(uname -m)" = x86_64 ] || skip "x86-64 only"
[ -n "$qemu" ] || skip "no qemu-system-x86_64 (apt-get install qemu-system-x86)"
{ [ -n "$busybox" ] && ! ldd "$busybox" >/dev/null 2>&1; } || skip "no static busybox (apt-get install busybox-static)"
[ -x "$build/tests/test_tls" ] && [ -x "$build/bench/bench_tls_bulk" ] ||
  skip "cio was built without OpenSSL (no test_tls, bench_tls_bulk)"

# The kernel: the newest cloud image apt knows, unpacked once.
mkdir -p "$cache"
if ! ls "$cache"/kernel/boot/vmlinuz-* >/dev/null 2>&1; then
  pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
  [ -n "$pkg" ] || skip "apt knows no linux-image-cloud-amd64"
  (cd "$cache" && apt-get download "$pkg" >/dev/null 2>&1) || skip "apt-get download $pkg failed"
  rm -rf "$cache/kernel"
  dpkg-deb -x "$cache/$pkg"_*.deb "$cache/kernel"
  rm -f "$cache/$pkg"_*.deb
fi
vmlinuz=$(ls "$cache"/kernel/boot/vmlinuz-* | tail -n 1)
kver=${vmlinuz##*/vmlinuz-}
mods=$cache/kernel/lib/modules/$kver
[ -n "$(find "$mods" -name 'tls.ko*' | head -n 1)" ] || skip "the kernel package has no tls.ko"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ir=$work/root
mkdir -p "$ir"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,certs,cio}
cp "$busybox" "$ir/bin/busybox"
# The TLS module and what the kernel's AEAD ciphers need (gcm, ghash,
# AES-NI, ChaCha20-Poly1305 are modules in this kernel), indexed in the VM by
# busybox's depmod; the kernel loads them through /sbin/modprobe.
for d in net/tls crypto arch/x86/crypto lib; do
  [ ! -d "$mods/kernel/$d" ] || { mkdir -p "$ir/lib/modules/$kver/kernel/$d" && cp -r "$mods/kernel/$d/." "$ir/lib/modules/$kver/kernel/$d/"; }
done
cp "$mods"/modules.builtin "$mods"/modules.order "$ir/lib/modules/$kver/" 2>/dev/null || true
# The programs and every library they load, at the same paths.
for prog in "$build/tests/test_tls" "$build/bench/bench_tls_bulk"; do
  cp "$prog" "$ir/cio/"
  ldd "$prog" | awk '/=> \// { print $3 } /^\t\/[^ ]+ \(/ { print $1 }' | while read -r lib; do
    mkdir -p "$ir$(dirname "$lib")"
    cp -L "$lib" "$ir$lib"
  done
done
# The certificates, made here (the VM has no openssl command).
CIO_TEST_TLS_DIR=$ir/certs "$build/tests/test_tls" contexts_from_memory_and_bad_files >/dev/null 2>&1 ||
  skip "could not make the test certificates (openssl command?)"
[ -f "$ir/certs/ca.pem" ] || skip "no test certificates"

cat >"$ir/init" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
ip link set lo up
depmod
modprobe tls && modprobe gcm && modprobe aesni_intel && modprobe ghash_clmulni_intel
modprobe chacha20poly1305 || true
echo "ktls-vm: ULPs: \$(cat /proc/sys/net/ipv4/tcp_available_ulp)"
cd /cio
CIO_TEST_KTLS=1 CIO_TEST_TLS_DIR=/certs ./test_tls kernel_tls_sends_where_the_kernel_offers_it \
  cio_client_and_server_exchange_lines_and_a_mebibyte close_with_bytes_unsent_sends_no_close_notify \
  end_without_close_notify_is_a_protocol_error drain_interrupted_by_timeout_sends_each_byte_once \
  drain_interrupted_by_cancel_sends_each_byte_once writes_to_a_reset_peer_fail_without_sigpipe
echo "ktls-vm: test rc \$?"
port=18600
for round in 1 2; do
  for k in 0 1; do
    port=\$((port + 1))
    ./bench_tls_bulk server \$port /certs/srv.pem /certs/srv.key >/tmp/server.out 2>&1 &
    sleep 1
    CIO_KTLS=\$k ./bench_tls_bulk client \$port /certs/ca.pem $mib >/tmp/client.out 2>&1
    wait
    echo "ktls-vm: bulk kTLS=\$k \$(grep -h 'kTLS send' /tmp/client.out) \$(grep -h '^tls_bulk' /tmp/server.out)"
  done
done
poweroff -f
EOF
chmod +x "$ir/init"
(cd "$ir" && find . | "$busybox" cpio -o -H newc 2>/dev/null | gzip -1 >"$work/initrd.gz")

# Software emulation (TCG): nested KVM does not boot on these machines.
out=$(timeout 1200 "$qemu" -accel tcg -cpu max -smp 2 -m 2048 -kernel "$vmlinuz" \
  -initrd "$work/initrd.gz" -nographic -no-reboot -append "console=ttyS0 quiet panic=-1" 2>&1 |
  tr -d '\r' || true)
printf "%s\n" "$out" | sed -n "/ktls-vm: ULPs/,/ktls-vm: test rc/p"
rc=0
printf '%s\n' "$out" | grep -q '^ktls-vm: test rc 0$' || {
  echo "ktls-vm: the TLS cases failed under the kernel with TLS"
  rc=1
}
for k in 0 1; do
  best=$(printf '%s\n' "$out" | awk -v k="$k" '$0 ~ "^ktls-vm: bulk kTLS=" k " " {
    for (i = 1; i <= NF; i++) if ($i == "tls_bulk") { v = $(i + 1); if (v > b) b = v } } END { print b + 0 }')
  name=$([ "$k" = 1 ] && echo on || echo off)
  if [ "$best" = 0 ]; then
    echo "ktls-vm: no transfer completed with kTLS $name"
    rc=1
  fi
  echo "ktls_bulk $name $best MB/s"
done
printf '%s\n' "$out" | grep -q 'kTLS=1 client kTLS send: on' || {
  echo "ktls-vm: the sender did not get kTLS"
  rc=1
}
exit $rc
