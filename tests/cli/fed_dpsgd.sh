# Record-level DP-SGD in federated local training: a 2-round job with
# "local": {"dp_sgd": ...} on two gf site processes. Each site runs Poisson-
# sampled, clipped and noised steps, and its log reports epsilon for its own
# records over the whole job so far; that figure must equal
# gf dp epsilon --noise 1.1 --sample-rate batch/n --steps (2 x ceil(n/batch)).
# Each site sends that figure with its update; the coordinator keeps each
# site's latest and shows it: GET /v1/jobs/ID "site_dp" and plain gf status
# give the same epsilon (round 2, the job's delta).
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
"$GF" status 1 $C --json > "$TMP/status.json" || fail "status --json"
"$GF" status 1 $C > "$TMP/status.txt" || fail "status"
/usr/bin/python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
assert len(s["rounds"]) == 2 and all(r["train_loss"] is None for r in s["rounds"]), s["rounds"]' "$TMP/status.json" \
  && ok "the sites sent no un-noised loss: the rounds have no train_loss" || fail "rounds: $(head -c 600 "$TMP/status.json")"
grep -q "round 2: .* loss [0-9]" "$TMP/site-s0.log" && ok "the loss stays in the site's own log" || fail "site log has no loss"
for i in 0 1; do
  n=$(sed -n 's/^gf site: \([0-9]*\) training.*/\1/p' "$TMP/site-s$i.log")
  got=$(sed -n 's/.*round 2: DP-SGD .*epsilon \([0-9.e+-]*\) .*/\1/p' "$TMP/site-s$i.log")
  q=$(python3 -c "print(repr(25 / $n))")
  steps=$(( 2 * ( (n + 24) / 25 ) ))
  want=$("$GF" dp epsilon --noise 1.1 --sample-rate "$q" --steps "$steps" --delta 1e-5 | sed -n 's/^epsilon \([0-9.]*\).*/\1/p')
  python3 -c "import sys; g, w = float(sys.argv[1]), float(sys.argv[2]); assert abs(g - w) <= 1e-5 * w, (g, w)" "$got" "$want" \
    && ok "site s$i: $n records, $steps noisy steps at q = $q: epsilon $got (gf dp epsilon: $want)" \
    || fail "site s$i: epsilon \"$got\", want $want (n $n, steps $steps)"
  /usr/bin/python3 - "$TMP/status.json" s$i "$want" <<'PY2' && ok "site s$i: the coordinator shows its DP-SGD epsilon (GET /v1/jobs/1 site_dp)" \
    || fail "site s$i: site_dp $(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("site_dp"))' "$TMP/status.json")"
import json, sys
s = json.load(open(sys.argv[1]))
e = {x["site"]: x for x in s["site_dp"]}
assert sorted(e) == ["s0", "s1"], e
r = e[sys.argv[2]]
w = float(sys.argv[3])
assert r["round"] == 2 and r["delta"] == 1e-5 and abs(r["epsilon"] - w) <= 1e-5 * w, (r, w)
PY2
  shown=$(sed -n "s/^    s$i  *epsilon \([0-9.e+-]*\) at delta 1e-05 after round 2\$/\1/p" "$TMP/status.txt")
  python3 -c "import sys; g, w = float(sys.argv[1]), float(sys.argv[2]); assert abs(g - w) <= 1e-5 * w, (g, w)" "$shown" "$want" \
    && ok "site s$i: plain gf status shows epsilon $shown" || fail "plain gf status: $(cat "$TMP/status.txt")"
done
finish
