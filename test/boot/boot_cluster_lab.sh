#!/bin/bash
# boot_cluster_lab.sh DVM BUILD_DIR KERNEL [CASE...] (runs inside the lab;
# boot_lab_host.sh starts it): boots Debian's kernel on a distributed VM whose
# 4 vCPUs run in several `dvm node` processes, each with its own KVM VM, and
# checks every step the guest reports: init reached, 4 CPUs seen, the 4-thread
# job's exact result, the TSO litmus tests with zero forbidden outcomes, and a
# clean end with exit status 0.
#
# Cases: tcp2 (2 nodes, vCPUs 2+2, TCP; with the litmus tests), kill-boot
# (node 1 killed while Linux boots), kill-run (node 1 killed while the guest
# computes on every CPU), memif2 (2+2 over DPDK net_memif; the parallel job
# only), tcp4 (4 nodes, 1 vCPU each, TCP; with the litmus tests). Default:
# tcp2 kill-boot. Not yet in the default (issue 9): in the lab tcp4 has not
# reached init within 300 s, and memif2's link did not come up in one run (4
# minutes of "memif link still down"); run them by hand.
#
# The lab must run with shadow paging (--append kvm_amd.npt=0; test/lab/README.md
# says why nested paging cannot work there). The guest's command line is what
# we recommend for a distributed guest: nokaslr keeps the kernel where the
# loader put it, in node 0's NUMA slice; nohz_full and rcu_nocbs for the CPUs
# off node 0 spare them the periodic tick and RCU callback work, each of which
# pulls node 0's timekeeping and RCU pages across the network; no automatic
# NUMA balancing, which rewrites page-table entries of running tasks, and with
# the lab's shadow paging a node's KVM does not see guest page-table writes
# made on another node (test/lab/README.md).
set -u
dvm=$1 build=$(cd "$2" && pwd) kernel=$3; shift 3
cases=("$@"); [[ ${#cases[@]} -gt 0 ]] || cases=(tcp2 kill-boot)
initrd=$build/guest/initramfs.cpio.gz
[[ -e /dev/kvm ]] || { echo "boot_cluster_lab: no /dev/kvm: run me through scripts/lab"; exit 1; }
work=$build/boot-cluster-lab; mkdir -p "$work"
key=$work/cluster.key; head -c 32 /dev/urandom > "$key"
fail=0
# Litmus iterations and increments: each iteration moves several pages between
# nodes, about 0.4 s per iteration in the lab (the single-node boot runs the
# full 300). The DSM protocol's own litmus tests (dsm_litmus_test) run
# 100,000 schedules each in the simulator.
LITMUS=${DVM_LITMUS:-30,500}
# Per run: in CI the lab shares the machine with the sanitizer builds, and a
# 2-node boot then reached init at 118-131 s of guest time, not 47-68 s.
BOOT_TIMEOUT=${DVM_BOOT_TIMEOUT:-600}

# write_config NAME NODES TRANSPORT TESTS: 4 vCPUs spread evenly over NODES
# nodes; the guest runs TESTS (dvm.test=).
write_config() {
  local name=$1 nodes=$2 transport=$3 tests=$4 config=$work/$1.toml per=$((4 / $2))
  local remote; remote=$(seq -s, "$per" 3)
  cat > "$config" <<EOT
[vm]
name = "$name"
memory = "512M"
vcpus = 4
kernel = "$kernel"
initrd = "$initrd"
cmdline = "console=ttyS0 quiet panic=-1 pci=off nokaslr nohz_full=$remote rcu_nocbs=$remote numa_balancing=disable dvm.test=$tests dvm.litmus=$LITMUS"
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

boot() {  # boot CASE NODES TRANSPORT TESTS
  local name=$1 nodes=$2 transport=$3 tests=$4 log=$work/$1.log config start status
  config=$(write_config "$name" "$nodes" "$transport" "$tests")
  start=$(date +%s%N)
  DVM_STATS=1 timeout -k 5 $BOOT_TIMEOUT "$dvm" run "$config" </dev/null >"$log" 2>&1
  status=$?
  local ms=$(( ($(date +%s%N) - start) / 1000000 ))
  tr -d '\r' < "$log" > "$log.txt" && mv "$log.txt" "$log"
  local ok=1
  grep -q "DVM-GUEST: init reached" "$log" || { echo "FAIL $name: init not reached"; ok=0; }
  grep -q "DVM-GUEST: nproc=4\$" "$log" || { echo "FAIL $name: guest does not see 4 CPUs"; ok=0; }
  grep -q "DVM-GUEST: parallel_sum threads=4 total=200000010000000 ok" "$log" ||
    { echo "FAIL $name: parallel job missing or wrong"; ok=0; }
  if [[ $tests == *litmus* ]]; then
    grep -q "DVM-GUEST: litmus all ok" "$log" || { echo "FAIL $name: litmus tests failed or missing"; ok=0; }
  fi
  [[ $status -eq 0 ]] || { echo "FAIL $name: dvm run exited $status"; ok=0; }
  if [[ $ok -eq 1 ]]; then
    echo "ok   $name: $nodes nodes over $transport, 4 CPUs, $tests correct, exit 0 in $((ms / 1000)).$(printf %03d $((ms % 1000))) s"
    grep -E "litmus|DSM faults|DSM pages|interrupts:" "$log"
  else
    fail=1; echo "---- log tail ($log)"; tail -40 "$log"
  fi
}

# kill_node NAME TESTS MARKER SECONDS: boots on 2 nodes over TCP and kills node
# 1 SECONDS after the log shows MARKER; `dvm run` must exit 1 within 15 s with
# an error naming node 1.
kill_node() {
  local name=$1 tests=$2 marker=$3 seconds=$4 log=$work/$1.log config pid status start ms ok=1
  config=$(write_config "$name" 2 tcp "$tests")
  timeout -k 5 $BOOT_TIMEOUT "$dvm" run "$config" </dev/null >"$log" 2>&1 &
  pid=$!
  until grep -q "$marker" "$log"; do
    kill -0 $pid 2>/dev/null || break
    sleep 0.2
  done
  sleep "$seconds"
  pkill -KILL -f "node $config --id 1"
  start=$(date +%s%N)
  wait $pid
  status=$?
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  tr -d '\r' < "$log" > "$log.txt" && mv "$log.txt" "$log"
  [[ $status -eq 1 ]] || { echo "FAIL $name: dvm run exited $status, want 1"; ok=0; }
  grep -q "dvm run: node 0: node 1 died" "$log" || { echo "FAIL $name: no error naming node 1"; ok=0; }
  (( ms < 15000 )) || { echo "FAIL $name: took $ms ms to stop"; ok=0; }
  if [[ $ok -eq 1 ]]; then
    echo "ok   $name: node 1 killed $seconds s after '$marker'; dvm run stopped in $ms ms with exit 1 naming it"
  else
    fail=1; echo "---- log tail ($log)"; tail -40 "$log"
  fi
}

for c in "${cases[@]}"; do
  echo "---- $c ($(date +%T))"
  case $c in
    tcp2) boot tcp2 2 tcp parallel,litmus ;;
    tcp4) boot tcp4 4 tcp parallel,litmus ;;
    memif2) boot memif2 2 dpdk parallel ;;
    kill-boot) kill_node kill-boot parallel "node 1: connected" 15 ;;
    kill-run) kill_node kill-run forever "DVM-GUEST: running until stopped" 3 ;;
    *) echo "boot_cluster_lab: unknown case '$c'"; exit 2 ;;
  esac
done
exit $fail
