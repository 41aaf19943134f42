#!/bin/bash
# build.sh OUT.cpio.gz BUSYBOX PROGRAM... : packs the test guest's initramfs:
# static busybox as /bin/sh and friends, our init, and static test programs.
set -euo pipefail
out=$1 busybox=$2; shift 2
src=$(cd "$(dirname "$0")" && pwd)
root=$(mktemp -d); trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,dev,proc,sys,tmp}
cp "$busybox" "$root/bin/busybox"
for applet in sh mount cut sed tr nproc echo cat poweroff setsid cttyhack ls dmesg sleep; do
  ln -s busybox "$root/bin/$applet"
done
cp "$src/init" "$root/init"
for program in "$@"; do cp "$program" "$root/bin/"; done
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet --owner=0:0) | gzip -9 -n > "$out.tmp"
mv "$out.tmp" "$out"
