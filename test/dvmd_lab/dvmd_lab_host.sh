#!/bin/bash
# dvmd_lab_host.sh DVMD DVM BUILD_DIR BUTTON_KO: finds Debian's kernel
# (scripts/lab caches it; the dvm_lab_assets fixture), then runs dvmd_lab.sh
# inside the lab with it and the ACPI button driver (the dvmd_lab_assets
# fixture). Downloads nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lab=$here/../../scripts/lab
kernel=$("$lab" assets | awk '/^kernel: /{print $2}')
[[ -n $kernel ]] || { echo "dvmd_lab_host: scripts/lab assets named no kernel"; exit 1; }
button=$4
[[ -f $button ]] || { echo "dvmd_lab_host: no $button (the dvmd_lab_assets test makes it)"; exit 1; }
exec "$lab" run --timeout 200 -- "$here/dvmd_lab.sh" "$1" "$2" "$3" "$kernel" "$button"
