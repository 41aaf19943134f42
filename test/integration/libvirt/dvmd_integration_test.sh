#!/bin/bash
# dvmd_integration_test.sh DVMD DVM: dvmd on a scratch socket, driven by
# unmodified libvirt clients; every step's output is checked, not just its
# exit status. See CMakeLists.txt.
set -u
dvmd=$1 dvm=$2
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3  # Debian's, which has python3-libvirt
for tool in virsh virt-install; do
  command -v $tool >/dev/null || { echo "SKIP: $tool not installed (scripts/setup installs it)"; exit 77; }
done
$py -c 'import libvirt' 2>/dev/null || { echo "SKIP: python3-libvirt not installed"; exit 77; }

t=$(mktemp -d /tmp/dvmd-it.XXXXXX)
pid=""
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$t"; }
trap cleanup EXIT
start_ns=$(date +%s%N)
fail=0
uri="dvm+unix:///system?socket=$t/sock"
echo "not a real kernel: dvmd checks that it exists" > "$t/vmlinuz"

start_dvmd() {
  "$dvmd" --socket "$t/sock" --state-dir "$t/state" --run-dir "$t/run" --log-dir "$t/log" --dvm "$dvm" \
    >>"$t/dvmd.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do [[ -S $t/sock ]] && grep -q "listening on" "$t/dvmd.log" && return 0; sleep 0.05; done
  echo "FAIL: dvmd did not start"; cat "$t/dvmd.log"; exit 1
}
stop_dvmd() { kill -TERM "$pid"; wait "$pid"; local rc=$?; pid=""; [[ $rc -eq 0 ]] || { echo "FAIL: dvmd exited $rc"; fail=1; }; }

# check NAME PATTERN -- CMD...: CMD's output (stdout and stderr) must match the
# extended regex PATTERN (exit status is reported, not judged: errors are checked by text).
check() {
  local name=$1 pattern=$2; shift 3
  local out; out=$("$@" 2>&1)
  if grep -Eq -- "$pattern" <<<"$out"; then
    echo "ok   $name"
  else
    echo "FAIL $name: no /$pattern/ in the output of: $*"; echo "$out" | sed 's/^/     | /'; fail=1
  fi
}
# check_not NAME PATTERN -- CMD...: the output must not match.
check_not() {
  local name=$1 pattern=$2; shift 3
  local out; out=$("$@" 2>&1)
  if grep -Eq -- "$pattern" <<<"$out"; then
    echo "FAIL $name: /$pattern/ in the output of: $*"; echo "$out" | sed 's/^/     | /'; fail=1
  else
    echo "ok   $name"
  fi
}
v() { timeout 20 virsh -c "$uri" "$@"; }

start_dvmd
cat > "$t/vm1.xml" <<EOX
<domain type='kvm'>
  <name>vm1</name>
  <memory unit='MiB'>256</memory>
  <vcpu>2</vcpu>
  <os><type arch='x86_64'>hvm</type><kernel>$t/vmlinuz</kernel><cmdline>console=ttyS0 quiet</cmdline></os>
  <metadata><other:note xmlns:other='urn:example:other'>kept</other:note></metadata>
</domain>
EOX

echo "== virsh"
check "virsh define" "Domain 'vm1' defined from $t/vm1.xml" -- v define "$t/vm1.xml"
check "virsh list --all" "^ -  +vm1 +shut off$" -- v list --all
check_not "virsh list (running only)" "vm1" -- v list
check "virsh dominfo: state" "^State: +shut off$" -- v dominfo vm1
check "virsh dominfo: vCPUs" "^CPU\(s\): +2$" -- v dominfo vm1
check "virsh dominfo: memory" "^Max memory: +262144 KiB$" -- v dominfo vm1
check "virsh dominfo: persistent" "^Persistent: +yes$" -- v dominfo vm1
check "virsh domstate --reason" "^shut off \(unknown\)$" -- v domstate vm1 --reason
uuid=$(v domuuid vm1 | head -1)
check "virsh domuuid" "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-" -- echo "$uuid"
v dumpxml vm1 > "$t/dump.xml"
check "virsh dumpxml: name and uuid" "<uuid>$uuid</uuid>" -- cat "$t/dump.xml"
check "virsh dumpxml: placement" "<dvm:node id='0' address='127.0.0.1:7100' vcpus='0-1'/>" -- cat "$t/dump.xml"
check "virsh dumpxml: foreign metadata kept" "<other:note xmlns:other=\"urn:example:other\">kept</other:note>" -- cat "$t/dump.xml"
check "virsh undefine" "Domain 'vm1' has been undefined" -- v undefine vm1
check_not "virsh list after undefine" "vm1" -- v list --all
check "virsh define of dumpxml's output, unchanged" "Domain 'vm1' defined" -- v define "$t/dump.xml"
check "same uuid after the round trip" "^$uuid$" -- v domuuid vm1
check "virsh autostart" "Domain 'vm1' marked as autostarted" -- v autostart vm1
check "virsh dominfo: autostart" "^Autostart: +enable$" -- v dominfo vm1
check "virsh list --autostart" "vm1" -- v list --all --autostart
# No /dev/kvm here and no real kernel: start fails, with dvm run's own reason.
check "virsh start fails with the reason" "dvm run exited with status 2: .*bzImage" -- v start vm1
check "still shut off after a failed start" "^shut off" -- v domstate vm1
check "virsh destroy of a shut-off domain" "domain is not running" -- v destroy vm1
check "virsh -r refuses changes" "read only access prevents virDomainUndefine" -- timeout 20 virsh -r -c "dvm+unix:///system?socket=$t/sock-ro" undefine vm1
check "virsh -r lists" "vm1" -- timeout 20 virsh -r -c "dvm+unix:///system?socket=$t/sock-ro" list --all
check "virsh version" "Running hypervisor: dvm" -- v version
check "virsh nodeinfo" "^CPU\(s\): +[0-9]+$" -- v nodeinfo
check "virsh capabilities" "<domain type='kvm'/>" -- v capabilities

echo "== bad input"
echo "<domain type='kvm'><name>x</name" > "$t/bad.xml"
check "malformed XML" "error: .*(Couldn't find end of Start Tag|Premature end|expected '>')" -- v define "$t/bad.xml"
sed "s/<name>vm1/<name>tiny/; s/256/32/" "$t/vm1.xml" > "$t/tiny.xml"
check "a domain dvm cannot run" "<memory>: must be at least 64 MiB, got 32 MiB" -- v define "$t/tiny.xml"
sed "s/<name>vm1/<name>split/; s|</metadata>|<dvm:cluster xmlns:dvm='urn:dvm:cluster:1'><dvm:node id='0' address='127.0.0.1:7100' vcpus='0'/><dvm:node id='1' address='127.0.0.1:7101' vcpus='0'/></dvm:cluster></metadata>|" \
  "$t/vm1.xml" > "$t/split.xml"
check "a placement the cluster cannot satisfy" "vCPU 0 is placed on two nodes.*vCPU 1 is not placed on any node" -- v define "$t/split.xml"
check "unknown domain" "failed to get domain 'nosuch'" -- v dominfo nosuch
check "raw bad clients get errors or a closed connection" "^all bad clients handled$" -- $py "$here/bad_clients.py" "$t/sock"
check "and dvmd still serves virsh" "vm1" -- v list --all

echo "== libvirt-python"
check "python: define, look up, info, state, XML, autostart, list, undefine" "^python ok$" -- $py "$here/client.py" "$uri" "$t/vmlinuz"

echo "== virt-install"
timeout 60 virt-install --connect "$uri" --name vi1 --memory 512 --vcpus 3 --import --boot "kernel=$t/vmlinuz,kernel_args=console=ttyS0" \
  --disk none --network none --graphics none --noautoconsole --osinfo detect=on,require=off --print-xml > "$t/vi1.xml" 2>&1
check "virt-install --print-xml" "<kernel>$t/vmlinuz</kernel>" -- cat "$t/vi1.xml"
check "virsh define of virt-install's XML" "Domain 'vi1' defined" -- v define "$t/vi1.xml"
check "virt-install's domain: 3 vCPUs" "^CPU\(s\): +3$" -- v dominfo vi1

echo "== files"
check "modes: sockets 0600 and 0666, state folder 0700, domain file 0600" "^600 666 700 600$" -- \
  bash -c "echo \$(stat -c %a '$t/sock' '$t/sock-ro' '$t/state' '$t/state/vm1.xml')"
check "a second dvmd on the same state folder stops" "another dvmd uses $t/state" -- \
  timeout 10 "$dvmd" --socket "$t/sock2" --state-dir "$t/state" --run-dir "$t/run2" --log-dir "$t/log" --dvm "$dvm"
check "... before it binds its socket" "^absent$" -- bash -c "[[ -e $t/sock2 ]] && echo present || echo absent"

echo "== restart"
stop_dvmd
check "state files" "vi1.xml.*vm1.xml|vm1.xml.*vi1.xml" -- bash -c "ls $t/state | tr '\n' ' '"
rm -f "$t/run/autostarted"  # as after a host reboot: /run is a tmpfs
start_dvmd
check "after a restart: both domains" "vi1 +shut off.*vm1 +shut off" -- bash -c "virsh -c '$uri' list --all | tr '\n' ' '"
check "after a restart: autostart kept" "^Autostart: +enable$" -- v dominfo vm1
check "after a restart: autostart tried, reason logged, dvmd serving" "autostart of .*bzImage" -- cat "$t/dvmd.log"
check "after a restart: same uuid" "^$uuid$" -- v domuuid vm1
stop_dvmd
start_dvmd
check "a restart without a reboot: autostart not tried again" "^1$" -- grep -c "autostart of" "$t/dvmd.log"
check "undefine both" "vi1.*undefined" -- v undefine vi1
v undefine vm1 >/dev/null
check "the state folder is empty" "^$" -- ls "$t/state"
stop_dvmd

ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
echo "dvmd integration: $( [[ $fail -eq 0 ]] && echo passed || echo FAILED ) in $((ms / 1000)).$(printf %03d $((ms % 1000))) s"
[[ $fail -eq 0 ]] || { echo "---- dvmd log"; cat "$t/dvmd.log"; }
exit $fail
