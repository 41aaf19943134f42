#!/bin/bash
# cluster_lab.sh DVM GUEST_DIR [CASE...] (inside the lab; cluster_lab_host.sh
# starts it): `dvm run` launches a distributed VM whose 4 vCPUs run in several
# `dvm node` processes, each with its own KVM VM, on the tiny SMP guest
# (smp_guest.S). Checks what the guest reports and how `dvm run` ends.
#
#   tcp2    2 nodes (vCPUs 0-1, 2-3) over TCP: totals exact, exit status 0
#   tcp4    4 nodes, one vCPU each, over TCP
#   memif2  2 nodes over DPDK (net_memif between the two processes)
#   kill    node 1 is killed mid-run: `dvm run` exits 1 naming node 1, in bounded time;
#           before that, `dvm stats` shows node 0's and node 1's DSM statistics
#   kill-early  the same, as soon as node 1 connected (start-up)
#   absent  node 0 started alone: it gives up after the 30 s start-up wait, naming node 1
set -u
dvm=$1 guests=$(cd "$2" && pwd); shift 2
cases=("$@"); [[ ${#cases[@]} -gt 0 ]] || cases=(tcp2 tcp4 memif2 kill kill-early absent)
[[ -e /dev/kvm ]] || { echo "cluster_lab: no /dev/kvm: run me through scripts/lab"; exit 1; }
work=$guests/lab; mkdir -p "$work"
key=$work/cluster.key; head -c 32 /dev/urandom > "$key"
fail=0

# write_config NAME NODES TRANSPORT KERNEL: 4 vCPUs spread evenly over NODES nodes.
write_config() {
  local name=$1 nodes=$2 transport=$3 kernel=$4 config=$work/$1.toml per=$((4 / $2))
  cat > "$config" <<EOT
[vm]
name = "$name"
memory = "256M"
vcpus = 4
kernel = "$kernel"
[cluster]
key_file = "$key"
[dsm]
transport = "$transport"
EOT
  for ((n = 0; n < nodes; n++)); do
    cat >> "$config" <<EOT
[[node]]
id = $n
address = "127.0.0.1:$((7500 + n))"
vcpus = [$(seq -s, $((n * per)) $((n * per + per - 1)))]
EOT
    if [[ $transport == dpdk ]]; then
      local role=client; [[ $n -eq 0 ]] && role=server
      cat >> "$config" <<EOT
dpdk_args = ["--no-huge", "-m", "128", "--no-pci", "-l", "0", "--file-prefix", "dvm-$name-$n",
             "--vdev=net_memif0,role=$role,socket=$work/$name.memif"]
EOT
    fi
  done
  echo "$config"
}

report() {  # report NAME OK LOG
  if [[ $2 -eq 1 ]]; then
    echo "ok   $1"
    grep -E "DVM-CLUSTER|dvm run:|DSM faults|DSM pages|interrupts:|link to" "$3" | sed 's/^/       /'
  else
    fail=1; echo "FAIL $1 ---- log tail ($3)"; tail -30 "$3"
  fi
}

boot() {  # boot NAME NODES TRANSPORT
  local name=$1 nodes=$2 log=$work/$1.log config status start ms ok=1
  config=$(write_config "$name" "$nodes" "$3" "$guests/smp_guest.bzimage")
  start=$(date +%s%N)
  DVM_STATS=1 timeout -k 5 120 "$dvm" run "$config" </dev/null >"$log" 2>&1
  status=$?
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  grep -q "DVM-CLUSTER: 4 vCPUs, lock-prefixed and spinlock totals 80000 80000 ok" "$log" ||
    { echo "     $name: the guest did not report exact totals"; ok=0; }
  [[ $status -eq 0 ]] || { echo "     $name: dvm run exited $status"; ok=0; }
  report "$name: $nodes nodes over $3, 4 vCPUs, exit 0 in $ms ms" $ok "$log"
}

kill_node() {  # kill_node NAME SECONDS: kill node 1 SECONDS after it connected
  local name=$1 log=$work/$1.log config pid status start ms ok=1 sock
  config=$(write_config "$name" 2 tcp "$guests/smp_guest_forever.bzimage")
  # On the lab's tmpfs: $work is shared over 9p, where a unix socket may not bind.
  sock=$(mktemp -d /tmp/cluster-lab.XXXXXX)/$name.sock
  timeout -k 5 120 "$dvm" run "$config" --control "$sock" </dev/null >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    grep -q "node 1: connected" "$log" && break
    sleep 0.2
  done
  sleep "$2"
  if [[ $2 -gt 0 ]]; then  # mid-run: every node's statistics through the control socket
    if timeout 20 "$dvm" stats "$sock" >"$work/$name.stats" 2>&1; then
      grep -q "^node 0 DSM faults:" "$work/$name.stats" && grep -q "^node 1 DSM faults:" "$work/$name.stats" ||
        { echo "     $name: dvm stats lacks node 0's or node 1's DSM line"; ok=0; }
      grep -E "^--- node|DSM faults" "$work/$name.stats" | sed 's/^/       stats: /'
    else
      echo "     $name: dvm stats failed: $(tail -1 "$work/$name.stats")"; ok=0
    fi
  fi
  pkill -KILL -f "node $config --id 1"
  start=$(date +%s%N)
  wait $pid
  status=$?
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  [[ $status -eq 1 ]] || { echo "     $name: dvm run exited $status, want 1"; ok=0; }
  grep -q "dvm run: node 0: node 1 died" "$log" || { echo "     $name: no error naming node 1"; ok=0; }
  (( ms < 15000 )) || { echo "     $name: took $ms ms to stop"; ok=0; }
  report "$name: node 1 killed $2 s after it connected, dvm run stopped in $ms ms with exit 1 naming it" $ok "$log"
}

absent_node() {
  local log=$work/absent.log config status ok=1
  config=$(write_config absent 2 tcp "$guests/smp_guest.bzimage")
  timeout -k 5 90 "$dvm" node "$config" --id 0 </dev/null >"$log" 2>&1
  status=$?
  [[ $status -eq 1 ]] || { echo "     absent: dvm node exited $status, want 1"; ok=0; }
  grep -q "node 1" "$log" || { echo "     absent: the error does not name node 1"; ok=0; }
  report "absent: node 0 alone stops with exit 1 naming node 1" $ok "$log"
  [[ $ok -eq 1 ]] && sed 's/^/       /' "$log" | tail -2
}

for c in "${cases[@]}"; do
  # Says where it was if the lab's time limit cuts a hung case short.
  echo "---- $c ($(date +%T))"
  case $c in
    tcp2) boot tcp2 2 tcp ;;
    tcp4) boot tcp4 4 tcp ;;
    memif2) boot memif2 2 dpdk ;;
    kill) kill_node kill 3 ;;          # mid-run: the APs run on node 1
    kill-early) kill_node kill-early 0 ;;  # during start-up: clock sync, INIT/SIPI
    absent) absent_node ;;
    *) echo "cluster_lab: unknown case '$c'"; exit 2 ;;
  esac
done
exit $fail
