#!/bin/bash
# dvmd_lab.sh DVMD DVM BUILD_DIR KERNEL BUTTON_KO (inside the lab; dvmd_lab_host.sh starts
# it): the libvirt path with real VMs. virsh defines a 2-vCPU domain with
# Debian's kernel and the test initramfs, starts it (dvmd runs `dvm run`),
# sees it running with 2 vCPUs, waits for the guest's init, shuts it down by
# the ACPI power button (the guest powers off: shut off, reason shutdown),
# starts it again, restarts dvmd under it (the new dvmd takes the running VM
# back, with its id) and destroys it (shut off, reason destroyed). Prints timings.
set -u
dvmd=$1 dvm=$2 build=$3 kernel=$4 button=$5
[[ -e /dev/kvm ]] || { echo "dvmd_lab: no /dev/kvm: run me through scripts/lab"; exit 1; }
[[ -e $build/guest/initramfs.cpio.gz ]] || { echo "dvmd_lab: no test initramfs (build the guest_initramfs target)"; exit 1; }
t=$(mktemp -d /tmp/dvmd-lab.XXXXXX)
# The test initramfs plus the ACPI button driver: the kernel unpacks
# concatenated archives one after the other.
mkdir -p "$t/extra/modules" && cp "$button" "$t/extra/modules/"
(cd "$t/extra" && find . | cpio -o -H newc --quiet --owner=0:0 | gzip -1) > "$t/button.cpio.gz"
initrd=$t/initrd.cpio.gz
cat "$build/guest/initramfs.cpio.gz" "$t/button.cpio.gz" > "$initrd"
export HOME=$t  # virsh keeps history there; the lab's real HOME is read-only
uri="dvm+unix:///system?socket=$t/sock"
t0=$(date +%s%N)
now() { local ms=$(( ($(date +%s%N) - t0) / 1000000 )); echo "$((ms / 1000)).$(printf %03d $((ms % 1000)))s"; }
fail=0
v() { timeout 60 virsh -c "$uri" "$@" 2>&1; }
expect() {  # expect NAME PATTERN OUTPUT
  if grep -Eq -- "$2" <<<"$3"; then echo "ok   $1 ($(now))"; else echo "FAIL $1: no /$2/ in:"; echo "$3" | sed 's/^/     | /'; fail=1; fi
}
# wait_for NAME PATTERN SECONDS CMD...: until CMD's output matches.
wait_for() {
  local name=$1 pattern=$2 limit=$3; shift 3
  local end=$((SECONDS + limit)) out
  while true; do
    out=$("$@" 2>&1)
    if grep -Eq -- "$pattern" <<<"$out"; then echo "ok   $name ($(now))"; return 0; fi
    if [[ $SECONDS -ge $end ]]; then echo "FAIL $name: no /$pattern/ within ${limit}s; last:"; echo "$out" | tail -5 | sed 's/^/     | /'; fail=1; return 1; fi
    sleep 0.5
  done
}

"$dvmd" --socket "$t/sock" --state-dir "$t/state" --run-dir "$t/run" --log-dir "$t/log" --dvm "$dvm" >"$t/dvmd.log" 2>&1 &
dvmd_pid=$!
wait_for "dvmd up" "listening on" 10 cat "$t/dvmd.log"
cat > "$t/lab1.xml" <<EOX
<domain type='kvm'>
  <name>lab1</name>
  <memory unit='MiB'>256</memory>
  <vcpu>2</vcpu>
  <os>
    <type arch='x86_64'>hvm</type>
    <kernel>$kernel</kernel>
    <initrd>$initrd</initrd>
    <cmdline>console=ttyS0 quiet panic=-1 pci=off dvm.test=powerbutton</cmdline>
  </os>
</domain>
EOX
expect "virsh define" "Domain 'lab1' defined" "$(v define "$t/lab1.xml")"
start_at=$(date +%s%N)
expect "virsh start" "Domain 'lab1' started" "$(v start lab1)"
expect "virsh list: running" "^ 1 +lab1 +running$" "$(v list)"
info=$(v dominfo lab1)
expect "virsh dominfo: running" "^State: +running$" "$info"
expect "virsh dominfo: 2 vCPUs" "^CPU\(s\): +2$" "$info"
expect "virsh domstate: booted" "^running \(booted\)$" "$(v domstate lab1 --reason)"
expect "dvm status over the control socket" "state=running name=lab1 vcpus=2 nodes=1" "$("$dvm" status "$t/run/lab1.sock" 2>&1)"
log=$t/log/lab1.log
wait_for "the guest's init runs" "DVM-GUEST: waiting for the power button" 90 cat "$log"
boot_ms=$(( ($(date +%s%N) - start_at) / 1000000 ))
expect "the guest sees 2 CPUs" "DVM-GUEST: nproc=2" "$(cat "$log")"
expect "virsh shutdown" "Domain 'lab1' is being shutdown" "$(v shutdown lab1)"
wait_for "the guest powers off: shut off (shutdown)" "^shut off \(shutdown\)$" 30 v domstate lab1 --reason
expect "the guest saw the power button" "DVM-GUEST: power button pressed" "$(cat "$log")"
expect "virsh start again" "Domain 'lab1' started" "$(v start lab1)"
expect "virsh list: running again, id 2" "^ 2 +lab1 +running$" "$(v list)"
# dvmd restarts under a running VM: the new dvmd finds it by its control socket.
kill "$dvmd_pid"; wait "$dvmd_pid"
"$dvmd" --socket "$t/sock" --state-dir "$t/state" --run-dir "$t/run" --log-dir "$t/log" --dvm "$dvm" >>"$t/dvmd.log" 2>&1 &
dvmd_pid=$!
wait_for "dvmd restarted" "still running; watching it again" 10 cat "$t/dvmd.log"
expect "after the restart: running, same id" "^ 2 +lab1 +running$" "$(v list)"
expect "virsh destroy" "Domain 'lab1' destroyed" "$(v destroy lab1)"
expect "shut off (destroyed)" "^shut off \(destroyed\)$" "$(v domstate lab1 --reason)"
expect "virsh list --all" "^ - +lab1 +shut off$" "$(v list --all)"
expect "the VM process is gone" "no VM answers" "$("$dvm" status "$t/run/lab1.sock" 2>&1)"
v undefine lab1 >/dev/null
kill "$dvmd_pid"; wait "$dvmd_pid"
echo "dvmd lab: $([[ $fail -eq 0 ]] && echo passed || echo FAILED) in $(now); start to the guest's init: $((boot_ms / 1000)).$(printf %03d $((boot_ms % 1000)))s"
if [[ $fail -ne 0 ]]; then
  echo "---- dvmd log"; cat "$t/dvmd.log"; echo "---- VM log (tail)"; tail -30 "$log" | tr -d '\r'
fi
rm -rf "$t"
exit $fail
