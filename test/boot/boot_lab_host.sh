#!/bin/bash
# boot_lab_host.sh [LAB_OPTION...] -- SCRIPT DVM BUILD_DIR [ARG...]: finds
# Debian's kernel on the host (fetched and cached by scripts/lab), then runs
# SCRIPT DVM BUILD_DIR KERNEL ARG... inside a lab started with LAB_OPTIONs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lab=$here/../../scripts/lab
lab_options=()
while [[ $# -gt 0 && $1 != -- ]]; do lab_options+=("$1"); shift; done
[[ $# -ge 4 ]] || { echo "usage: boot_lab_host.sh [LAB_OPTION...] -- SCRIPT DVM BUILD_DIR [ARG...]"; exit 2; }
shift
script=$1 dvm=$2 build=$3; shift 3
kernel=$("$lab" assets | awk '/^kernel: /{print $2}')
[[ -n $kernel ]] || { echo "boot_lab_host: scripts/lab assets named no kernel"; exit 1; }
exec "$lab" run "${lab_options[@]}" -- "$here/$script" "$dvm" "$build" "$kernel" "$@"
