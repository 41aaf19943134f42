#!/bin/bash
# veth_netns.sh up|down PREFIX
# Two network namespaces PREFIX-a and PREFIX-b joined by a veth pair
# (PREFIX-va <-> PREFIX-vb) with a jumbo MTU, for net_af_packet between two
# DPDK processes on one machine. Needs root (CI runs as root).
set -euo pipefail
cmd=$1 p=$2
case "$cmd" in
  up)
    ip netns add "$p-a"
    ip netns add "$p-b"
    ip link add "$p-va" type veth peer name "$p-vb"
    ip link set "$p-va" netns "$p-a"
    ip link set "$p-vb" netns "$p-b"
    for s in a b; do
      ip -n "$p-$s" link set "$p-v$s" mtu 9000 up
      ip -n "$p-$s" link set lo up
    done
    ;;
  down)
    ip netns del "$p-a" 2>/dev/null || true
    ip netns del "$p-b" 2>/dev/null || true
    ;;
  *) echo "usage: $0 up|down PREFIX" >&2; exit 2 ;;
esac
