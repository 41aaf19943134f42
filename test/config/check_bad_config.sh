#!/bin/bash
# check_bad_config.sh DVM CONFIG
# Runs `dvm check-config CONFIG` and requires exit status 2 and every line the
# config announces with "# expect: TEXT" to appear in what dvm printed.
set -u
dvm=$1 config=$2
output=$("$dvm" check-config "$config" 2>&1)
status=$?
if [[ $status -ne 2 ]]; then
  echo "FAIL: exit status $status, want 2"; echo "$output"; exit 1
fi
fail=0
while IFS= read -r want; do
  if ! grep -qF -- "$want" <<<"$output"; then
    echo "FAIL: output lacks: $want"; fail=1
  fi
done < <(sed -n 's/^# expect: //p' "$config")
if ! grep -q '^# expect: ' "$config"; then echo "FAIL: $config has no '# expect:' line"; fail=1; fi
echo "$output"
exit $fail
