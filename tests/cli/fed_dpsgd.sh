# Record-level DP-SGD in federated local training: a 2-round job with
# "local": {"dp_sgd": ...} on two gf site processes. Each site runs Poisson-
# sampled, clipped and noised steps, and its log reports epsilon for its own
# records over the whole job so far; that figure must equal
# gf dp epsilon --noise 1.1 --sample-rate batch/n --steps (2 x ceil(n/batch)).
. tests/cli_lib.sh
. scripts/fed_local.sh
trap 'fed_down; rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM HUP
small_idx "$TMP/d" 1000 200
fed_provision "$TMP" 2
fed_coordinator "$TMP" || { fail "coordinator start"; finish; exit 1; }
for i in 0 1; do fed_site "$TMP" s$i --data "idx:$TMP/d" --partition iid --shard $i/2 --threads 1; done
export GF_KIT="$TMP/pki/operator"
C="--coordinator $FED_URL"
"$GF" dataset add d --path "$TMP/d" --public $C > /dev/null || fail "dataset add d"
cat > "$TMP/job.json" <<SPEC
{"name": "dpsgd", "model": "mlp:784-16-10", "dataset": "fashion-mnist",
 "strategy": {"name": "fedavg"}, "rounds": 2, "sites": "all", "min_sites": 2, "round_deadline_s": 60,
 "local": {"epochs": 1, "batch": 25, "optim": {"name": "sgd", "lr": 0.1},
           "dp_sgd": {"clip": 1.0, "noise": 1.1}}, "seed": 3, "eval": "d:test"}
SPEC
"$GF" submit "$TMP/job.json" $C > /dev/null || fail "submit"
fed_wait_state "$TMP" 1 succeeded 120 && ok "DP-SGD job succeeded" || { fail "DP-SGD job"; tail -5 "$TMP/site-s0.log"; }
for i in 0 1; do
  n=$(sed -n 's/^gf site: \([0-9]*\) training.*/\1/p' "$TMP/site-s$i.log")
  got=$(sed -n 's/.*round 2: DP-SGD .*epsilon \([0-9.e+-]*\) .*/\1/p' "$TMP/site-s$i.log")
  q=$(python3 -c "print(repr(25 / $n))")
  steps=$(( 2 * ( (n + 24) / 25 ) ))
  want=$("$GF" dp epsilon --noise 1.1 --sample-rate "$q" --steps "$steps" --delta 1e-5 | sed -n 's/^epsilon \([0-9.]*\).*/\1/p')
  python3 -c "import sys; g, w = float(sys.argv[1]), float(sys.argv[2]); assert abs(g - w) <= 1e-5 * w, (g, w)" "$got" "$want" \
    && ok "site s$i: $n records, $steps noisy steps at q = $q: epsilon $got (gf dp epsilon: $want)" \
    || fail "site s$i: epsilon \"$got\", want $want (n $n, steps $steps)"
done
finish
