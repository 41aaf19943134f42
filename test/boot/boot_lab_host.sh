#!/bin/bash
# boot_lab_host.sh DVM BUILD_DIR: finds Debian's kernel on the host (fetched
# and cached by scripts/lab), then runs boot_lab.sh inside the lab with it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lab=$here/../../scripts/lab
kernel=$("$lab" assets | awk '/^kernel: /{print $2}')
[[ -n $kernel ]] || { echo "boot_lab_host: scripts/lab assets named no kernel"; exit 1; }
exec "$lab" run --timeout 240 -- "$here/boot_lab.sh" "$1" "$2" "$kernel"
