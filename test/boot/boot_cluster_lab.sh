#!/bin/bash
# boot_cluster_lab.sh DVM BUILD_DIR KERNEL [CASE...] (runs inside the lab;
# boot_lab_host.sh starts it): boots Debian's kernel on a distributed VM whose
# 4 vCPUs run in several `dvm node` processes, each with its own KVM VM, and
# checks every step the guest reports: init reached, 4 CPUs seen, the 4-thread
# job's exact result, the TSO litmus tests with zero forbidden outcomes, and a
# clean end with exit status 0.
#
# Cases: tcp2 (2 nodes, vCPUs 2+2, TCP), tcp4 (4 nodes, 1 vCPU each, TCP),
# memif2 (2 nodes over DPDK net_memif). Default: all three.
#
# Not a ctest test yet: in the lab it does not finish (issue 9). With nested
# paging, QEMU 7.2 emulates the nested page walk with a write probe of every
# guest page-table entry, so every TLB fill needs the page-table pages writable
# on the walking node, and the kernel's shared page tables bounce between the
# nodes until node 1's first CPU cannot complete a single walk (DVM_STATS's
# "hottest pages" name them). With shadow paging (--append kvm_amd.npt=0)
# all 4 CPUs come up across the nodes, but the boot crawls on timekeeping
# pages that bounce every tick. Run it by hand:
#   scripts/lab run --timeout 900 --append kvm_amd.npt=0 -- test/boot/boot_cluster_lab.sh \
#     build/cmd/dvm build "$(scripts/lab assets | awk '/^kernel: /{print $2}')" tcp2
set -u
dvm=$1 build=$(cd "$2" && pwd) kernel=$3; shift 3
cases=("$@"); [[ ${#cases[@]} -gt 0 ]] || cases=(tcp2 tcp4 memif2)
initrd=$build/guest/initramfs.cpio.gz
[[ -e /dev/kvm ]] || { echo "boot_cluster_lab: no /dev/kvm: run me through scripts/lab"; exit 1; }
work=$build/boot-cluster-lab; mkdir -p "$work"
key=$work/cluster.key; head -c 32 /dev/urandom > "$key"
fail=0

# write_config NAME NODES TRANSPORT: 4 vCPUs spread evenly over NODES nodes.
write_config() {
  local name=$1 nodes=$2 transport=$3 config=$work/$1.toml per=$((4 / $2))
  cat > "$config" <<EOT
[vm]
name = "$name"
memory = "512M"
vcpus = 4
kernel = "$kernel"
initrd = "$initrd"
cmdline = "console=ttyS0 quiet panic=-1 pci=off dvm.test=parallel,litmus"
[cluster]
key_file = "$key"
[dsm]
transport = "$transport"
EOT
  for ((n = 0; n < nodes; n++)); do
    local vcpus; vcpus=$(seq -s, $((n * per)) $((n * per + per - 1)))
    cat >> "$config" <<EOT
[[node]]
id = $n
address = "127.0.0.1:$((7400 + n))"
vcpus = [$vcpus]
EOT
    if [[ $transport == dpdk ]]; then
      local role=client; [[ $n -eq 0 ]] && role=server
      cat >> "$config" <<EOT
dpdk_args = ["--no-huge", "-m", "256", "--no-pci", "-l", "0", "--file-prefix", "dvm-$name-$n",
             "--vdev=net_memif0,role=$role,socket=$work/memif.sock"]
EOT
    fi
  done
  echo "$config"
}

boot() {  # boot CASE NODES TRANSPORT
  local name=$1 nodes=$2 transport=$3 log=$work/$1.log config start status
  config=$(write_config "$name" "$nodes" "$transport")
  start=$(date +%s%N)
  DVM_STATS=1 timeout -k 5 ${DVM_BOOT_TIMEOUT:-300} "$dvm" run "$config" </dev/null >"$log" 2>&1
  status=$?
  local ms=$(( ($(date +%s%N) - start) / 1000000 ))
  tr -d '\r' < "$log" > "$log.txt" && mv "$log.txt" "$log"
  local ok=1
  grep -q "DVM-GUEST: init reached" "$log" || { echo "FAIL $name: init not reached"; ok=0; }
  grep -q "DVM-GUEST: nproc=4\$" "$log" || { echo "FAIL $name: guest does not see 4 CPUs"; ok=0; }
  grep -q "DVM-GUEST: parallel_sum threads=4 total=200000010000000 ok" "$log" ||
    { echo "FAIL $name: parallel job missing or wrong"; ok=0; }
  grep -q "DVM-GUEST: litmus all ok" "$log" || { echo "FAIL $name: litmus tests failed or missing"; ok=0; }
  [[ $status -eq 0 ]] || { echo "FAIL $name: dvm run exited $status"; ok=0; }
  if [[ $ok -eq 1 ]]; then
    echo "ok   $name: $nodes nodes over $transport, 4 CPUs, parallel job and litmus correct, exit 0 in $((ms / 1000)).$(printf %03d $((ms % 1000))) s"
    grep -E "litmus|DSM faults|DSM pages|interrupts:" "$log"
  else
    fail=1; echo "---- log tail ($log)"; tail -40 "$log"
  fi
}

for c in "${cases[@]}"; do
  case $c in
    tcp2) boot tcp2 2 tcp ;;
    tcp4) boot tcp4 4 tcp ;;
    memif2) boot memif2 2 dpdk ;;
    *) echo "boot_cluster_lab: unknown case '$c'"; exit 2 ;;
  esac
done
exit $fail
