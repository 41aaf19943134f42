#!/bin/busybox sh
# /init of the lab's initramfs (see scripts/lab). Runs as PID 1 inside the
# QEMU TCG machine: loads virtio/9p and KVM modules, mounts the host's root
# read-only (plus the read-write shares that scripts/lab names) and runs the job
# that scripts/lab wrote into the exchange share, chrooted into the host's root.
#
# Talks to the host only through the exchange share: `out` (the job's output),
# `status` (its exit code, or "lab-error: why"). The serial console is slow, so
# it carries only kernel messages and "lab:" lines, which the host prints on
# failure.

/bin/busybox mkdir -p /bin /proc /sys /dev /mnt /xch
/bin/busybox --install -s /bin
mount -t devtmpfs dev /dev
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sys /sys

say() { echo "lab: $*"; }

# Reports a lab failure (not the job's) and powers off.
fail() {
  say "$*"
  [ -n "$XCH_MOUNTED" ] && echo "lab-error: $*" >/xch/status
  sync
  poweroff -f
}

# insmod does not read the kernel command line: pass each module its
# "module.param=value" arguments from there (scripts/lab --append).
for m in $(cat /modules.order); do
  name=$(echo "$m" | tr - _)
  args=$(tr ' ' '\n' </proc/cmdline | sed -n "s/^$name\.//p" | tr '\n' ' ')
  insmod "/modules/$m.ko" $args || say "insmod $m $args failed"
done

mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 xch /xch ||
  fail "cannot mount the exchange share"
XCH_MOUNTED=1
[ -f /xch/job.conf ] || fail "no job.conf in the exchange share"
. /xch/job.conf  # sets MODE (run|shell) and RW_DIRS (host paths shared read-write)

[ -c /dev/kvm ] || fail "no /dev/kvm: kvm_amd did not load (is the CPU model missing +svm?)"

mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 hostroot /mnt ||
  fail "cannot mount the host root"
for d in /tmp /run /var/tmp; do mount -t tmpfs tmpfs "/mnt$d" || fail "tmpfs on $d"; done
mount -t proc proc /mnt/proc
mount -t sysfs sys /mnt/sys
mount -t devtmpfs dev /mnt/dev
mkdir -p /mnt/dev/shm /mnt/dev/pts
mount -t tmpfs tmpfs /mnt/dev/shm
mount -t devpts devpts /mnt/dev/pts
i=0
for d in $RW_DIRS; do
  mkdir -p "/mnt$d" 2>/dev/null
  mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 "rw$i" "/mnt$d" ||
    fail "cannot mount read-write share $d"
  i=$((i + 1))
done
mkdir -p /mnt/run/dvm-lab
mount --bind /xch /mnt/run/dvm-lab

# Loopback up: tests run several DSM nodes in the lab that talk over TCP.
chroot /mnt /sbin/ip link set lo up || fail "cannot bring up loopback"

say "running the job ($MODE) at $(cut -d' ' -f1 /proc/uptime)s"
case "$MODE" in
  run)
    chroot /mnt /bin/bash /run/dvm-lab/job.sh >/xch/out 2>&1 </dev/null
    rc=$?
    say "job exited $rc"
    echo $rc >/xch/status
    ;;
  shell)
    setsid cttyhack chroot /mnt /bin/bash /run/dvm-lab/job.sh
    echo $? >/xch/status
    ;;
  *) fail "unknown MODE '$MODE'" ;;
esac
sync
poweroff -f
