#!/bin/bash
# dvmd_lab_assets.sh OUT: the ACPI button driver (a module of Debian's
# kernel, which the lab boots) into OUT, for dvmd_lab.sh's guest to act on the
# power button. A ctest fixture (dvmd_lab_assets), so the test itself needs no
# package downloads; the lab's own cache is left as it is.
set -euo pipefail
out=$1
[[ -f $out ]] && exit 0
here=$(cd "$(dirname "$0")" && pwd)
kernel=$("$here/../../scripts/lab" assets | awk '/^kernel: /{print $2}')
[[ -n $kernel ]] || { echo "dvmd_lab_assets: scripts/lab assets named no kernel"; exit 1; }
pkg=$(basename "$(dirname "$kernel")")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
deb=$(ls /var/cache/apt/archives/"${pkg}"_*.deb 2>/dev/null | head -n1 || true)
if [[ -z $deb ]]; then
  (cd "$tmp" && apt-get download "$pkg" >/dev/null 2>&1) ||
    (apt-get update -qq && cd "$tmp" && apt-get download "$pkg" >/dev/null) ||
    { echo "dvmd_lab_assets: cannot download $pkg for its button.ko"; exit 1; }
  deb=$(ls "$tmp"/*.deb)
fi
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" --wildcards '*/acpi/button.ko'
mkdir -p "$(dirname "$out")"
mv "$(find "$tmp" -name button.ko | head -n1)" "$out.tmp.$$" && mv "$out.tmp.$$" "$out"
echo "dvmd_lab_assets: $out from $pkg"
