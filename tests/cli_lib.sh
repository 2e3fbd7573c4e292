# Helpers for the CLI test scripts (sourced). $GF is the gf binary under test.
set -u
: "${GF:=build/gf}"
FAILS=0
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
FMNIST=/usr/share/datasets/fashion-mnist

fail() { echo "FAIL: $*"; FAILS=$((FAILS+1)); }
ok()   { echo "ok: $*"; }

# expect_error NAME WORDS -- CMD...: CMD must exit 1..127 (not a signal) and
# its stderr must contain every word of WORDS (case-insensitive).
expect_error() {
  name=$1; words=$2; shift 3
  "$@" >"$TMP/out" 2>"$TMP/err"; rc=$?
  if [ $rc -eq 0 ] || [ $rc -ge 128 ]; then fail "$name: exit $rc"; cat "$TMP/err"; return; fi
  for w in $words; do
    if ! grep -qi -- "$w" "$TMP/err"; then fail "$name: stderr lacks \"$w\": $(cat "$TMP/err")"; return; fi
  done
  if grep -q "AddressSanitizer\|runtime error" "$TMP/err"; then fail "$name: sanitizer report"; cat "$TMP/err"; return; fi
  ok "$name: $(head -c 160 "$TMP/err" | tr '\n' ' ')"
}

# be32 N: N as 4 big-endian bytes
be32() { printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $(( ($1>>24)&255 )) $(( ($1>>16)&255 )) $(( ($1>>8)&255 )) $(( $1&255 )))"; }

# small_idx DIR NTRAIN NTEST: raw (not gzipped) IDX subset of Fashion-MNIST
small_idx() {
  mkdir -p "$1"
  { printf '\000\000\010\003'; be32 "$2"; be32 28; be32 28; zcat $FMNIST/train-images-idx3-ubyte.gz | tail -c +17 | head -c $(( $2 * 784 )); } > "$1/train-images-idx3-ubyte"
  { printf '\000\000\010\001'; be32 "$2"; zcat $FMNIST/train-labels-idx1-ubyte.gz | tail -c +9 | head -c "$2"; } > "$1/train-labels-idx1-ubyte"
  { printf '\000\000\010\003'; be32 "$3"; be32 28; be32 28; zcat $FMNIST/t10k-images-idx3-ubyte.gz | tail -c +17 | head -c $(( $3 * 784 )); } > "$1/t10k-images-idx3-ubyte"
  { printf '\000\000\010\001'; be32 "$3"; zcat $FMNIST/t10k-labels-idx1-ubyte.gz | tail -c +9 | head -c "$3"; } > "$1/t10k-labels-idx1-ubyte"
}

finish() { echo "$FAILS failures"; [ "$FAILS" -eq 0 ]; }

# jget EXPR: evaluates the Python expression EXPR on the JSON of stdin (as d)
jget() { /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
# token_wait_state JOB STATE SECONDS: polls gf status with the token $OP
# (and $GF_COORDINATOR, $GF_CA) until the job is STATE; fails early when it
# ends in another final state
token_wait_state() {
  _t=0
  while [ $_t -lt $(($3 * 5)) ]; do
    _s=$("$GF" status "$1" --token "$OP" --json | jget 'd["state"]')
    [ "$_s" = "$2" ] && return 0
    case "$_s" in succeeded|failed|cancelled|timed-out) echo "job $1 ended $_s, not $2"; "$GF" status "$1" --token "$OP"; return 1 ;; esac
    sleep 0.2; _t=$((_t+1))
  done
  echo "job $1 is $_s, not $2, after $3 s"; return 1
}
