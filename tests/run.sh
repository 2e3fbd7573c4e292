#!/bin/sh
# Runs every test binary (build/tests/test_*) and every CLI test script
# (tests/cli/*.sh) for each build folder given (FOLDER:unit: its test
# binaries only, e.g. the ThreadSanitizer build, which has no gf), then a
# short run of each built libFuzzer target (build/fuzz/fuzz_*), and prints
# the closing summary "N passed, N failed". Exit status is non-zero if any
# failed.
set -u
cd "$(dirname "$0")/.."
pass=0; fail=0; failed=""
for arg in "$@"; do
  b=${arg%:unit}
  for t in "$b"/tests/test_*; do
    [ -x "$t" ] || continue
    if "$t" >"$t.log" 2>&1; then pass=$((pass+1)); echo "PASS $t"
    else fail=$((fail+1)); failed="$failed $t"; echo "FAIL $t"; tail -20 "$t.log"; fi
  done
  [ "$b" != "$arg" ] && continue          # FOLDER:unit
  for s in tests/cli/*.sh; do
    [ -f "$s" ] || continue
    log="$b/tests/$(basename "$s" .sh).log"
    if GF="$b/gf" sh "$s" >"$log" 2>&1; then pass=$((pass+1)); echo "PASS $s ($b)"
    else fail=$((fail+1)); failed="$failed $s($b)"; echo "FAIL $s ($b)"; tail -20 "$log"; fi
  done
done
# libFuzzer targets (built by `make test`): a short run from the seed corpus,
# so the parsers stay fuzzable and known inputs keep passing.
for f in build/fuzz/fuzz_*; do
  [ -x "$f" ] || continue
  n=$(basename "$f"); log="build/fuzz/$n.log"
  mkdir -p "build/fuzz/corpus-$n"   # new inputs go here; fuzz/seeds stays as committed
  if "$f" -max_total_time="${FUZZ_SMOKE_SECONDS:-10}" -max_len=4096 "build/fuzz/corpus-$n" "fuzz/seeds/$n" >"$log" 2>&1; then
    pass=$((pass+1)); echo "PASS $f ($(grep -o 'Done [0-9]* runs' "$log"))"
  else fail=$((fail+1)); failed="$failed $f"; echo "FAIL $f"; tail -30 "$log"; fi
done
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
