#!/bin/bash
# Proves scripts/lab reports failure: a command that fails inside the lab gives
# its exit status and the console tail; a lab that cannot start KVM (CPU model
# without SVM) gives 125 and says why; a command that outlives the time limit
# is stopped and gives 124. One lab boot each.
set -uo pipefail
lab="$1"
if [[ -n "${DVM_LAB_INSIDE:-}" ]]; then
  echo "already inside the lab; the harness self-test needs the host"
  exit 77
fi
failures=0
check() {  # check NAME WANT_RC GOT_RC OUTPUT PATTERN...
  local name="$1" want="$2" got="$3" output="$4"
  shift 4
  if [[ "$got" != "$want" ]]; then
    echo "FAIL $name: exit $got, want $want"; failures=$((failures + 1)); return
  fi
  local p
  for p in "$@"; do
    if ! grep -qF -- "$p" <<<"$output"; then
      echo "FAIL $name: output lacks '$p'"; failures=$((failures + 1)); return
    fi
  done
  echo "ok   $name"
}

out="$("$lab" run --timeout 120 -- sh -c 'echo about to fail; exit 3' 2>&1)"
rc=$?
echo "$out" | sed 's/^/  | /'
check failing-command 3 "$rc" "$out" "about to fail" "lab console" "command exited 3"

out="$("$lab" run --timeout 120 --cpu qemu64,-svm -- true 2>&1)"
rc=$?
echo "$out" | sed 's/^/  | /'
check no-kvm 125 "$rc" "$out" "lab console" "no /dev/kvm"

start=$SECONDS
out="$("$lab" run --timeout 25 -- sleep 600 2>&1)"
rc=$?
echo "$out" | sed 's/^/  | /'
check time-limit 124 "$rc" "$out" "lab console" "timed out after 25s"
if ((SECONDS - start > 40)); then
  echo "FAIL time-limit: took $((SECONDS - start))s for a 25s limit"; failures=$((failures + 1))
fi

echo "$((3 - failures)) passed, $failures failed"
[[ $failures -eq 0 ]]
