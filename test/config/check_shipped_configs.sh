#!/bin/bash
# check_shipped_configs.sh DVM CONFIGS_DIR DATA_DIR
# Copies configs/ next to stand-in guest files laid out as scripts/setup lays
# out the real ones, and requires `dvm check-config` to accept every config.
set -euo pipefail
dvm=$1 configs=$2 data=$3
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/configs" "$tmp/build/guest"
cp "$configs"/*.toml "$configs"/demo-cluster.key "$tmp/configs/"
cp "$data/vmlinuz" "$tmp/build/guest/vmlinuz"
cp "$data/initrd" "$tmp/build/guest/initramfs.cpio.gz"
for config in "$tmp"/configs/*.toml; do
  echo "== $(basename "$config")"
  "$dvm" check-config "$config"
done
out=$("$dvm" check-config "$tmp/configs/two-node.toml")
grep -q "node 0  127.0.0.1:7100         vCPUs 0-1" <<<"$out"
grep -q "node 1  127.0.0.1:7101         vCPUs 2-3" <<<"$out"
grep -q "node 1 is home for 512 MiB (131072 pages)" <<<"$out"
out=$("$dvm" check-config "$tmp/configs/four-node.toml")
grep -q "node 3 is home for 256 MiB" <<<"$out"
grep -q "Page homes: one slice of guest RAM per node" <<<"$out"
echo "shipped configs OK"
