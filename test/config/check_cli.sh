#!/bin/bash
# check_cli.sh DVM: the command's usage, version and exit codes.
set -u
dvm=$1 fail=0
expect() {  # expect STATUS PATTERN -- ARGS...
  local want=$1 pattern=$2; shift 3
  local out; out=$("$dvm" "$@" 2>&1); local got=$?
  if [[ $got -ne $want ]] || ! grep -q -- "$pattern" <<<"$out"; then
    echo "FAIL: dvm $* -> status $got (want $want), output:"; echo "$out"; fail=1
  fi
}
expect 0 "usage: dvm COMMAND" -- --help
expect 0 "^dvm [0-9]" -- --version
expect 2 "usage: dvm COMMAND" --
expect 2 "unknown command 'frobnicate'" -- frobnicate
expect 2 "missing the config file" -- check-config
expect 2 "cannot open the config file" -- check-config /nonexistent/dvm.toml
expect 2 "usage: dvm run FILE \[--control PATH\]" -- run /nonexistent/dvm.toml --bogus x
expect 1 "no VM answers on /nonexistent/vm.sock" -- status /nonexistent/vm.sock
expect 2 "usage: dvm destroy VM" -- destroy
expect 0 "stats VM" -- --help
expect 1 "dvm stats: no VM answers on /nonexistent/vm.sock" -- stats /nonexistent/vm.sock
expect 2 "usage: dvm stats VM" -- stats a b
exit $fail
