#!/bin/bash
# bench/boot/cluster_boot_bench.sh [BUILD_DIR] [KERNEL]: the distributed VM's
# boot, in one lab run. Debian's kernel with 4 vCPUs on 1 node (the baseline),
# on 2 nodes (2+2) and on 4 nodes (1 each), over TCP: wall time from `dvm run`
# to the guest's init, DSM faults and pages moved up to init (every node's
# counters, taken with SIGUSR2 when init is reached), and the wall time of a
# 4-thread compute job inside the guest (parallel_sum over 2e8 numbers).
# Needs KVM, with shadow paging in the lab (test/lab/README.md):
#
#   scripts/lab run --timeout 1500 --tcg-threads single --append kvm_amd.npt=0 -- \
#     bench/boot/cluster_boot_bench.sh build "$(scripts/lab assets | awk '/^kernel: /{print $2}')"
#
# Each run is stopped after DVM_BENCH_TIMEOUT seconds (default 420); a run
# that did not reach init reads FAIL. DVM_BENCH_NODES (default "1 2 4") picks
# the runs; 1 is the baseline and always runs.
#
# In the lab every vCPU of every node shares the lab's CPUs (one TCG thread),
# so more nodes never add compute; what the 2- and 4-node rows add over the
# baseline is the DSM and the forwarding.
set -u
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
dvm=$build/cmd/dvm
kernel=${2:-$build/guest/vmlinuz} initrd=$build/guest/initramfs.cpio.gz
[[ -e $kernel ]] || { echo "cluster_boot_bench: no kernel at '$kernel' (pass it, or run scripts/setup)"; exit 1; }
[[ -e /dev/kvm ]] || { echo "cluster_boot_bench: needs /dev/kvm; run it through scripts/lab"; exit 1; }
work=$build/bench-cluster-boot; mkdir -p "$work"
key=$work/cluster.key; head -c 32 /dev/urandom > "$key"

write_config() {  # write_config NODES: 4 vCPUs spread evenly over NODES nodes
  local nodes=$1 config=$work/nodes-$1.toml per=$((4 / $1)) tuning=""
  # The guest tuning the distributed configs recommend (configs/two-node.toml).
  if (( nodes > 1 )); then
    local remote; remote=$(seq -s, "$per" 3)
    tuning="nokaslr nohz_full=$remote rcu_nocbs=$remote numa_balancing=disable"
  fi
  cat > "$config" <<EOT
[vm]
name = "bench-$nodes"
memory = "512M"
vcpus = 4
kernel = "$kernel"
initrd = "$initrd"
cmdline = "console=ttyS0 quiet panic=-1 pci=off $tuning dvm.test=compute"
[cluster]
key_file = "$key"
EOT
  for ((n = 0; n < nodes; n++)); do
    cat >> "$config" <<EOT
[[node]]
id = $n
address = "127.0.0.1:$((7600 + n))"
vcpus = [$(seq -s, $((n * per)) $((n * per + per - 1)))]
EOT
  done
  echo "$config"
}

# run NODES: boots, snapshots every node's counters at init, waits for the end.
# Prints "INIT_MS TOTAL_MS STATUS".
run() {
  local nodes=$1 config log=$work/nodes-$1.log start pid init_ms=FAIL status
  config=$(write_config "$nodes")
  start=$(date +%s%N)
  timeout -k 5 "${DVM_BENCH_TIMEOUT:-420}" "$dvm" run "$config" </dev/null >"$log" 2>&1 &
  pid=$!
  while kill -0 $pid 2>/dev/null; do
    if grep -q "DVM-GUEST: init reached" "$log"; then
      init_ms=$(( ($(date +%s%N) - start) / 1000000 ))
      # Every node process (`dvm run` is node 0), not timeout(1), which USR2 would end.
      for p in $(pgrep -f "$config"); do [[ $p != "$pid" ]] && kill -USR2 "$p"; done
      break
    fi
    sleep 0.1
  done
  wait $pid
  status=$?
  echo "$init_ms $(( ($(date +%s%N) - start) / 1000000 )) $status"
}

# Sums over all nodes, from the SIGUSR2 snapshot (the only stats in the log).
# (The percentiles in parentheses hold commas too: drop them before splitting.)
faults() { awk '/DSM faults:/ { sub(/.*DSM faults:/, ""); gsub(/\([^)]*\)/, ""); n = split($0, k, ",");
                 for (i = 1; i <= n; i++) { m = split(k[i], w, " "); t += w[m] } }
                END { print t + 0 }' "$1"; }
pages() { awk '/DSM pages:/ { for (i = 1; i <= NF; i++) if ($i == "received") t += $(i - 1) } END { print t + 0 }' "$1"; }
compute_ms() { sed -n 's/.*DVM-GUEST: parallel_sum count=[0-9]* took \([0-9]*\) ms.*/\1/p' "$1" | tail -1; }
sec() { [[ $1 =~ ^[0-9]+$ ]] && printf '%d.%03d s' $(( $1 / 1000 )) $(( $1 % 1000 )) || echo "$1"; }
ratio() { [[ $1 =~ ^[0-9]+$ && $2 =~ ^[0-9]+$ && $2 -gt 0 ]] && awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}' || echo "n/a"; }

node_counts=(1)
for n in ${DVM_BENCH_NODES:-1 2 4}; do [[ $n != 1 ]] && node_counts+=("$n"); done
declare -A init total status
for n in "${node_counts[@]}"; do
  out=$(run "$n")  # not < <(...): the lab has no /dev/fd
  read -r init[$n] total[$n] status[$n] <<<"$out"
done

echo "Linux (4 vCPUs, 512 MiB) boot to init over TCP, in the lab (TCG-emulated SVM, shadow paging;"
echo "compare ratios, not seconds). Baseline: the same VM on 1 node, measured in this run."
printf '%-8s %-12s %-14s %-12s %-14s %-12s %-10s %s\n' nodes "to init" "init / 1 node" "DSM faults" "pages moved" "compute job" "job / 1 node" "exit"
for n in "${node_counts[@]}"; do
  log=$work/nodes-$n.log
  c=$(compute_ms "$log")
  printf '%-8s %-12s %-14s %-12s %-14s %-12s %-10s %s\n' "$n" "$(sec "${init[$n]}")" "$(ratio "${init[$n]}" "${init[1]}")" \
    "$(faults "$log")" "$(pages "$log") ($(( $(pages "$log") * 4 / 1024 )) MiB)" "${c:-FAIL} ms" \
    "$(ratio "${c:-x}" "$(compute_ms "$work/nodes-1.log")")" "${status[$n]} ($(sec "${total[$n]}") in all)"
done
echo
echo "per node at init (SIGUSR2 snapshot):"
for n in "${node_counts[@]:1}"; do
  echo "  $n nodes:"
  grep -E "DSM faults:|DSM pages:|interrupts:" "$work/nodes-$n.log" | sed 's/^/    /'
done
