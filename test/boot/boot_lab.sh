#!/bin/bash
# boot_lab.sh DVM BUILD_DIR [KERNEL] (runs inside the lab; boot_lab_host.sh starts it): boots Debian's kernel with
# the test initramfs, with 1 vCPU and with 4, and checks every step the guest
# reports: init reached, the CPU count it sees, the 4-thread job's result, the
# TSO litmus tests (test/initramfs/litmus.c), and a clean end through the exit
# port with status 0.
set -u
dvm=$1 build=$2
kernel=${3:-$build/guest/vmlinuz} initrd=$build/guest/initramfs.cpio.gz
[[ -e /dev/kvm ]] || { echo "boot_lab: no /dev/kvm: run me through scripts/lab"; exit 1; }
[[ -e $kernel ]] || { echo "boot_lab: no kernel at '$kernel'"; exit 1; }
work=$build/boot-lab; mkdir -p "$work"
fail=0

boot() {  # boot VCPUS
  local n=$1 config=$work/boot-$1.toml log=$work/boot-$1.log start status
  cat > "$config" <<EOT
[vm]
name = "boot-$n"
memory = "512M"
vcpus = $n
kernel = "$kernel"
initrd = "$initrd"
cmdline = "console=ttyS0 quiet panic=-1 pci=off dvm.test=parallel,litmus"
[[node]]
id = 0
vcpu_count = $n
EOT
  start=$(date +%s%N)
  DVM_STATS=1 timeout -k 5 100 "$dvm" run "$config" </dev/null >"$log" 2>&1
  status=$?
  local ms=$(( ($(date +%s%N) - start) / 1000000 ))
  # The guest's tty ends lines with CR LF.
  tr -d '\r' < "$log" > "$log.txt" && mv "$log.txt" "$log"
  local ok=1
  grep -q "DVM-GUEST: init reached" "$log" || { echo "FAIL $n vCPU(s): init not reached"; ok=0; }
  grep -q "DVM-GUEST: nproc=$n\$" "$log" || { echo "FAIL $n vCPU(s): guest does not see $n CPUs"; ok=0; }
  grep -q "DVM-GUEST: parallel_sum threads=$n total=200000010000000 ok" "$log" ||
    { echo "FAIL $n vCPU(s): parallel job missing or wrong"; ok=0; }
  grep -q "DVM-GUEST: litmus all ok" "$log" || { echo "FAIL $n vCPU(s): litmus tests failed or missing"; ok=0; }
  [[ $status -eq 0 ]] || { echo "FAIL $n vCPU(s): dvm run exited $status"; ok=0; }
  if [[ $ok -eq 1 ]]; then
    echo "ok   $n vCPU(s): booted, nproc=$n, parallel job correct, exit 0 in $((ms / 1000)).$(printf %03d $((ms % 1000))) s"
    grep -E "^vCPU|unclaimed|init reached|litmus" "$log"
  else
    fail=1; echo "---- console tail ($log)"; tail -25 "$log"
  fi
}

boot 1
boot 4
exit $fail
