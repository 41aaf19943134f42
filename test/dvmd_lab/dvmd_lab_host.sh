#!/bin/bash
# dvmd_lab_host.sh DVMD DVM BUILD_DIR: finds Debian's kernel (scripts/lab
# caches it), then runs dvmd_lab.sh inside the lab with it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lab=$here/../../scripts/lab
kernel=$("$lab" assets | awk '/^kernel: /{print $2}')
[[ -n $kernel ]] || { echo "dvmd_lab_host: scripts/lab assets named no kernel"; exit 1; }
# The guest needs Debian's ACPI button driver (a module) to act on the power
# button; the lab's cache holds only the lab's own modules, so take it from
# the same kernel package once and keep it next to them.
kdir=$(dirname "$kernel")
button=$kdir/extra/button.ko
if [[ ! -f $button ]]; then
  pkg=$(basename "$kdir")
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  deb=$(ls /var/cache/apt/archives/"${pkg}"_*.deb 2>/dev/null | head -n1 || true)
  if [[ -z $deb ]]; then
    (cd "$tmp" && apt-get download "$pkg" >/dev/null 2>&1) ||
      (apt-get update -qq && cd "$tmp" && apt-get download "$pkg" >/dev/null) ||
      { echo "dvmd_lab_host: cannot download $pkg for its button.ko"; exit 1; }
    deb=$(ls "$tmp"/*.deb)
  fi
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" --wildcards '*/acpi/button.ko'
  mkdir -p "$kdir/extra"
  mv "$(find "$tmp" -name button.ko | head -n1)" "$button.tmp.$$" && mv "$button.tmp.$$" "$button"
fi
exec "$lab" run --timeout 200 -- "$here/dvmd_lab.sh" "$1" "$2" "$3" "$kernel" "$button"
