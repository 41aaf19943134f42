#!/bin/bash
# bad_input_test.sh DVM: `dvm run` refuses what cannot boot, before it needs
# KVM, with exit status 2 and a message naming the cause; and a distributed VM
# that cannot start ends every node it started.
set -u
dvm=$1
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0

config() {  # config NAME KERNEL MEMORY [INITRD]
  cat > "$tmp/$1.toml" <<EOT
[vm]
name = "$1"
memory = "$3"
vcpus = 1
kernel = "$2"
${4:+initrd = \"$4\"}
[[node]]
id = 0
vcpu_count = 1
EOT
}

expect() {  # expect NAME TEXT
  local out; out=$("$dvm" run "$tmp/$1.toml" 2>&1 </dev/null); local status=$?
  if [[ $status -ne 2 ]] || ! grep -qF -- "$2" <<<"$out"; then
    echo "FAIL $1: status $status (want 2), want '$2' in:"; echo "$out"; fail=1
  else
    echo "ok   $1: $(head -1 <<<"$out")"
  fi
}

printf 'this is not a kernel\n%.0s' {1..200} > "$tmp/not-a-kernel"
config not-bzimage "$tmp/not-a-kernel" 128M
expect not-bzimage "not a bzImage"

"$here/make_fake_bzimage.py" "$tmp/huge-kernel" 0x7000000
config too-small "$tmp/huge-kernel" 64M
expect too-small "guest RAM too small for the kernel"

"$here/make_fake_bzimage.py" "$tmp/small-kernel" 0x1000000
truncate -s 100M "$tmp/initrd-100m"
config initrd-too-big "$tmp/small-kernel" 64M "$tmp/initrd-100m"
expect initrd-too-big "initrd"

# Two nodes: node 1 is started by `dvm run` and must not outlive it when
# node 0 cannot start. Without /dev/kvm both say so; with it, this is skipped.
if [[ ! -e /dev/kvm ]]; then
  head -c 32 /dev/urandom > "$tmp/key"
  cat > "$tmp/two.toml" <<EOT
[vm]
name = "two"
memory = "64M"
vcpus = 2
kernel = "$tmp/small-kernel"
[cluster]
key_file = "$tmp/key"
[[node]]
id = 0
address = "127.0.0.1:7690"
vcpus = [0]
[[node]]
id = 1
address = "127.0.0.1:7691"
vcpus = [1]
EOT
  out=$(timeout 60 "$dvm" run "$tmp/two.toml" 2>&1 </dev/null); status=$?
  if [[ $status -ne 1 ]] || ! grep -q "dvm run: .*/dev/kvm" <<<"$out" ||
     ! grep -q "dvm node 1: .*/dev/kvm" <<<"$out" || pgrep -f "node $tmp/two.toml" >/dev/null; then
    echo "FAIL two-node without KVM: status $status (want 1), want both nodes to name /dev/kvm:"; echo "$out"; fail=1
  else
    echo "ok   two-node without KVM: $(grep -m1 'dvm run:' <<<"$out")"
  fi
  out=$("$dvm" node "$tmp/two.toml" --id 7 2>&1); status=$?
  if [[ $status -ne 2 ]] || ! grep -q "has no node 7" <<<"$out"; then
    echo "FAIL dvm node --id 7: status $status (want 2): $out"; fail=1
  else
    echo "ok   dvm node --id 7: $out"
  fi
fi

exit $fail
