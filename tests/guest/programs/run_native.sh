#!/bin/sh
# Run the guest test programs natively on the host: a program that fails
# here is wrong, not the kernel.
#
#   run_native.sh [DIR]                         every case of DIR/cases.tsv
#                                               (DIR defaults to build/guest-programs)
#   run_native.sh --one BIN STATUS REGEX [ARGS] one case (used by ctest)
#
# stdin is /dev/null (console --stdin-eof needs EOF); stdout/stderr go to a
# regular file: badptr expects write(1, bad buffer) to fail with EFAULT,
# which /dev/null would not do (it never reads the buffer).

run_one() {
  bin=$1 want=$2 expect=$3
  shift 3
  out=$(mktemp)
  timeout 30 "$bin" "$@" </dev/null >"$out" 2>&1
  got=$?
  ok=1
  if [ "$got" != "$want" ]; then
    echo "FAIL $bin $*: exit status $got, want $want"
    ok=0
  fi
  if [ -n "$expect" ] && ! grep -Eq -- "$expect" "$out"; then
    echo "FAIL $bin $*: output lacks /$expect/"
    ok=0
  fi
  if grep -q '^FAIL' "$out"; then
    ok=0
  fi
  if [ $ok = 0 ]; then
    echo "---- output of $bin $*"
    cat "$out"
    echo "----"
  fi
  rm -f "$out"
  [ $ok = 1 ]
}

if [ "$1" = "--one" ]; then
  shift
  run_one "$@"
  exit $?
fi

dir=${1:-build/guest-programs}
if [ ! -f "$dir/cases.tsv" ]; then
  echo "run_native.sh: $dir/cases.tsv not found (build the guest-programs target first)" >&2
  exit 2
fi
pass=0
fail=0
tab=$(printf '\t')
while IFS="$tab" read -r variant name status expect bin args; do
  case "$variant" in '#'*|'') continue ;; esac
  # shellcheck disable=SC2086 # args are space-separated words
  if run_one "$dir/$bin" "$status" "$expect" $args; then
    pass=$((pass + 1))
    echo "ok   $variant $name"
  else
    fail=$((fail + 1))
    echo "FAIL $variant $name"
  fi
done <"$dir/cases.tsv"
echo "run_native: $pass passed, $fail failed"
[ $fail = 0 ]
