#!/bin/bash
# bench/boot/boot_bench.sh [BUILD_DIR] [KERNEL]: boot time of Debian's kernel to the
# test initramfs's init, dvm vs QEMU/KVM as the baseline measured in the same
# run, plus dvm's vCPU exits by reason. Needs KVM, so run it in the lab:
#
#   scripts/lab run --timeout 900 -- bench/boot/boot_bench.sh build "$(scripts/lab assets | awk '/^kernel: /{print $2}')"
#
# Time is wall time from starting the VMM to the guest's "init reached" line.
# QEMU boots the same kernel, initrd and command line with -accel kvm; its
# 1-vCPU run uses kernel_irqchip=off (dvm's mode), its 4-vCPU run the
# in-kernel irqchip (Debian's QEMU 7.2 hangs with 2+ vCPUs and irqchip off).
set -u
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$repo/build}
dvm=$build/cmd/dvm
kernel=${2:-$build/guest/vmlinuz} initrd=$build/guest/initramfs.cpio.gz
[[ -e $kernel ]] || { echo "boot_bench: no kernel at '$kernel' (pass it, or run scripts/setup)"; exit 1; }
[[ -e /dev/kvm ]] || { echo "boot_bench: needs /dev/kvm; run it through scripts/lab"; exit 1; }
cmdline="console=ttyS0 quiet panic=-1 pci=off"
work=$build/bench-boot; mkdir -p "$work"

# time_to_init LOG CMD...: prints the ms until the marker appears (or FAIL).
time_to_init() {
  local log=$1; shift
  local start; start=$(date +%s%N)
  # A pipe, not process substitution: the lab has no /dev/fd.
  timeout -k 5 240 "$@" 2>&1 </dev/null | {
    found=""
    while IFS= read -r line; do
      echo "$line" >> "$log"
      if [[ -z $found && $line == *"DVM-GUEST: init reached"* ]]; then
        found=$(( ($(date +%s%N) - start) / 1000000 ))
      fi
    done
    echo "${found:-FAIL}"
  }
}

dvm_boot() {  # dvm_boot VCPUS
  local n=$1 config=$work/dvm-$1.toml
  cat > "$config" <<EOT
[vm]
name = "bench-$n"
memory = "512M"
vcpus = $n
kernel = "$kernel"
initrd = "$initrd"
cmdline = "$cmdline"
[[node]]
id = 0
vcpu_count = $n
EOT
  : > "$work/dvm-$n.log"
  DVM_STATS=1 time_to_init "$work/dvm-$n.log" "$dvm" run "$config"
}

qemu_boot() {  # qemu_boot VCPUS IRQCHIP(on|off)
  local n=$1 irqchip=$2
  : > "$work/qemu-$n.log"
  # Without the in-kernel irqchip QEMU must not offer the PV features that need it.
  local cpu=host
  [[ $irqchip == off ]] && cpu=host,kvm-asyncpf-int=off,kvm-pv-eoi=off,kvm-pv-ipi=off,kvm-pv-unhalt=off
  time_to_init "$work/qemu-$n.log" qemu-system-x86_64 -accel "kvm,kernel-irqchip=$irqchip" -cpu "$cpu" -m 512 -smp "$n" \
    -kernel "$kernel" -initrd "$initrd" -append "$cmdline" -nographic -no-reboot -nic none \
    -device isa-debug-exit,iobase=0x501,iosize=1
}

ratio() { [[ $1 =~ ^[0-9]+$ && $2 =~ ^[0-9]+$ && $2 -gt 0 ]] && awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}' || echo "n/a"; }
sec() { [[ $1 =~ ^[0-9]+$ ]] && printf '%d.%03d s' $(( $1 / 1000 )) $(( $1 % 1000 )) || echo "$1"; }

d1=$(dvm_boot 1); q1=$(qemu_boot 1 off)
d4=$(dvm_boot 4); q4=$(qemu_boot 4 on)

echo "boot to init, wall time in the lab (TCG-emulated SVM; compare ratios, not seconds)"
printf '%-10s %-12s %-28s %s\n' "vCPUs" "dvm" "baseline: QEMU 7.2 + KVM" "dvm / baseline"
printf '%-10s %-12s %-28s %s\n' 1 "$(sec "$d1")" "$(sec "$q1") (irqchip off)" "$(ratio "$d1" "$q1")"
printf '%-10s %-12s %-28s %s\n' 4 "$(sec "$d4")" "$(sec "$q4") (in-kernel irqchip)" "$(ratio "$d4" "$q4")"
echo
echo "dvm vCPU exits during the whole run (boot, parallel job off, power-off):"
for n in 1 4; do
  echo "  $n vCPU(s):"; grep -E "^vCPU|^unclaimed" "$work/dvm-$n.log" | sed 's/^/    /'
done
