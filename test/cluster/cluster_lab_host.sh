#!/bin/bash
# cluster_lab_host.sh DVM GUEST_DIR: runs cluster_lab.sh inside the lab.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/../../scripts/lab" run --timeout 360 -- "$here/cluster_lab.sh" "$1" "$2"
