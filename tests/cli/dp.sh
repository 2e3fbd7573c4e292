# gf dp: epsilon of a planned DP-SGD run and the noise multiplier for a
# target epsilon match the published Opacus / TF Privacy values, both ways of
# giving the run (--sample-rate/--steps, --epochs/--dataset-size/--batch)
# agree, --json carries the keys, and bad flags fail clearly with exit 2.
. tests/cli_lib.sh

expect_out() {   # NAME WANT -- CMD...: CMD exits 0 and its first stdout line is WANT
  name=$1; want=$2; shift 3
  "$@" >"$TMP/out" 2>"$TMP/err"; rc=$?
  if [ $rc -eq 0 ] && [ "$(head -1 "$TMP/out")" = "$want" ]; then ok "$name: $want"
  else fail "$name: exit $rc: $(cat "$TMP/out" "$TMP/err")"; fi
}

expect_out "epsilon (Opacus)" "epsilon 7.329111 (best order 3.9)" -- \
  "$GF" dp epsilon --noise 1.5 --sample-rate 0.04 --steps 2250 --delta 1e-5
expect_out "epsilon from epochs" "epsilon 0.724223 (best order 19)" -- \
  "$GF" dp epsilon --noise 1.3 --epochs 15 --dataset-size 60000 --batch 150 --delta 1e-5
expect_out "epsilon from q and steps" "epsilon 0.724223 (best order 19)" -- \
  "$GF" dp epsilon --noise 1.3 --sample-rate 0.0025 --steps 6000 --delta 1e-5
expect_out "noise" "noise multiplier 1.500000 (epsilon 7.329111 at order 3.9)" -- \
  "$GF" dp noise --epsilon 7.329111 --delta 1e-5 --sample-rate 0.04 --steps 2250
expect_out "noise from epochs" "noise multiplier 1.300000 (epsilon 0.724223 at order 19)" -- \
  "$GF" dp noise --epsilon 0.7242235 --delta 1e-5 --epochs 15 --dataset-size 60000 --batch 150

"$GF" dp epsilon --noise 1.5 --sample-rate 0.04 --steps 2250 --delta 1e-5 --json >"$TMP/out" 2>"$TMP/err"
j=$(tail -1 "$TMP/out")
good=1
for k in epsilon best_order noise_multiplier sample_rate steps delta; do
  case "$j" in *"\"$k\":"*) ;; *) good=0 ;; esac
done
case "$j" in '{"epsilon":7.3291111'*'"steps":2250'*) ;; *) good=0 ;; esac
[ $good -eq 1 ] && ok "epsilon --json: $j" || fail "epsilon --json: $(cat "$TMP/out" "$TMP/err")"
"$GF" dp noise --epsilon 3 --delta 1e-5 --sample-rate 0.01 --steps 1000 --json >"$TMP/out" 2>"$TMP/err"
j=$(tail -1 "$TMP/out")
case "$j" in '{"epsilon":'*'"noise_multiplier":'*'"target_epsilon":3'*) ok "noise --json: $j" ;;
  *) fail "noise --json: $(cat "$TMP/out" "$TMP/err")" ;; esac

# expect_usage NAME WORDS -- CMD...: exit 2 with WORDS on stderr
expect_usage() {
  name=$1; words=$2; shift 3
  "$@" >/dev/null 2>&1; rc=$?
  [ $rc -eq 2 ] || { fail "$name: exit $rc, want 2"; return; }
  expect_error "$name" "$words" -- "$@"
}
expect_usage "no action" "usage" -- "$GF" dp
expect_usage "unknown action" "unknown action" -- "$GF" dp frobnicate
expect_usage "unknown flag" "--frobnicate" -- "$GF" dp epsilon --noise 1 --sample-rate 0.1 --steps 10 --delta 1e-5 --frobnicate
expect_usage "missing --noise" "--noise" -- "$GF" dp epsilon --sample-rate 0.1 --steps 10 --delta 1e-5
expect_usage "missing --delta" "--delta" -- "$GF" dp epsilon --noise 1 --sample-rate 0.1 --steps 10
expect_usage "missing --steps" "--sample-rate --steps" -- "$GF" dp epsilon --noise 1 --sample-rate 0.1 --delta 1e-5
expect_usage "missing --epsilon" "--epsilon" -- "$GF" dp noise --sample-rate 0.1 --steps 10 --delta 1e-5
expect_usage "--noise on noise" "--epsilon" -- "$GF" dp noise --noise 1 --epsilon 1 --sample-rate 0.1 --steps 10 --delta 1e-5
expect_usage "both run forms" "not both" -- "$GF" dp epsilon --noise 1 --sample-rate 0.1 --steps 10 --epochs 2 --dataset-size 100 --batch 10 --delta 1e-5
expect_usage "incomplete run" "--batch" -- "$GF" dp epsilon --noise 1 --epochs 2 --dataset-size 100 --delta 1e-5
expect_usage "batch > size" "larger than" -- "$GF" dp epsilon --noise 1 --epochs 2 --dataset-size 100 --batch 200 --delta 1e-5
expect_usage "sample rate 0" "sample rate" -- "$GF" dp epsilon --noise 1 --sample-rate 0 --steps 10 --delta 1e-5
expect_usage "sample rate > 1" "--sample-rate" -- "$GF" dp epsilon --noise 1 --sample-rate 1.5 --steps 10 --delta 1e-5
expect_usage "steps 0" "--steps" -- "$GF" dp epsilon --noise 1 --sample-rate 0.1 --steps 0 --delta 1e-5
expect_usage "delta 1" "delta" -- "$GF" dp epsilon --noise 1 --sample-rate 0.1 --steps 10 --delta 1
expect_usage "noise 0" "noise multiplier" -- "$GF" dp epsilon --noise 0 --sample-rate 0.1 --steps 10 --delta 1e-5
expect_usage "noise not a number" "--noise" -- "$GF" dp epsilon --noise abc --sample-rate 0.1 --steps 10 --delta 1e-5
expect_usage "epsilon 0" "target epsilon" -- "$GF" dp noise --epsilon 0 --sample-rate 0.1 --steps 10 --delta 1e-5
"$GF" dp noise --epsilon 0.05 --sample-rate 0.04 --steps 2250 --delta 1e-5 >/dev/null 2>&1; rc=$?
[ $rc -eq 1 ] && expect_error "unreachable epsilon" "out of reach" -- "$GF" dp noise --epsilon 0.05 --sample-rate 0.04 --steps 2250 --delta 1e-5 \
  || fail "unreachable epsilon: exit $rc, want 1"
"$GF" dp --help | grep -q -- "--sample-rate" && "$GF" dp --help | grep -q -- "--dataset-size" \
  && ok "gf dp --help" || fail "gf dp --help"
finish
