#!/bin/bash
# bad_input_test.sh DVM: `dvm run` refuses what cannot boot, before it needs
# KVM, with exit status 2 and a message naming the cause.
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

exit $fail
