#!/bin/sh
# Runs every test binary (build/tests/test_*) and every CLI test script
# (tests/cli/*.sh) for each build folder given, and prints the closing
# summary "N passed, N failed". Exit status is non-zero if any failed.
set -u
cd "$(dirname "$0")/.."
pass=0; fail=0; failed=""
for b in "$@"; do
  for t in "$b"/tests/test_*; do
    [ -x "$t" ] || continue
    if "$t" >"$t.log" 2>&1; then pass=$((pass+1)); echo "PASS $t"
    else fail=$((fail+1)); failed="$failed $t"; echo "FAIL $t"; tail -20 "$t.log"; fi
  done
  for s in tests/cli/*.sh; do
    [ -f "$s" ] || continue
    log="$b/tests/$(basename "$s" .sh).log"
    if GF="$b/gf" sh "$s" >"$log" 2>&1; then pass=$((pass+1)); echo "PASS $s ($b)"
    else fail=$((fail+1)); failed="$failed $s($b)"; echo "FAIL $s ($b)"; tail -20 "$log"; fi
  done
done
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
