# A federation of real processes over TLS on 127.0.0.1: provision, gf
# coordinator, three gf site processes each on its own IID shard, a FedAvg
# job through gf submit / status / download, the downloaded model evaluated
# by gf eval to the accuracy the coordinator reported, and the audit log
# verified. Then a site killed with SIGKILL mid-round: the round closes at
# its deadline with the two others, and the job finishes.
. tests/cli_lib.sh
. scripts/fed_local.sh
trap 'fed_down; rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM HUP
small_idx "$TMP/d" 3000 1000
fed_provision "$TMP" 3
fed_coordinator "$TMP" || { fail "coordinator start"; finish; exit 1; }
for i in 0 1 2; do fed_site "$TMP" s$i --data "idx:$TMP/d" --partition iid --shard $i/3 --threads 1; done
export GF_KIT="$TMP/pki/operator"
C="--coordinator $FED_URL"
"$GF" dataset add d --path "$TMP/d" --public $C > /dev/null || fail "dataset add d"

cat > "$TMP/job.json" <<SPEC
{"name": "fmnist-small", "model": "mlp:784-32-10",
 "strategy": {"name": "fedavg"}, "rounds": 3, "sites": "all", "fraction": 1.0, "min_sites": 3,
 "round_deadline_s": 60, "local": {"epochs": 1, "steps": null, "batch": 32,
 "optim": {"name": "sgd", "lr": 0.05, "momentum": 0.9}}, "seed": 3, "eval": "d:test"}
SPEC
# --wait follows the job to its end: exit 0 once it succeeded
job=$("$GF" submit "$TMP/job.json" $C --wait --timeout 120) && [ "$job" = 1 ] && ok "submit --wait: job $job, exit 0" \
  || fail "submit --wait printed \"$job\""
fed_wait_state "$TMP" 1 succeeded 1 && ok "job 1 succeeded when submit --wait returned" || { fail "job 1 did not succeed"; tail -5 "$TMP/coordinator.log"; }
"$GF" status 1 $C --json > "$TMP/status.json" || fail "status --json"
python3 - "$TMP/status.json" <<'PY' && ok "status: 3 rounds, 3 sites each, loss falls, accuracy reported" || fail "status content: $(cat "$TMP/status.json" | head -c 600)"
import json, sys
s = json.load(open(sys.argv[1]))
r = s["rounds"]
assert s["state"] == "succeeded" and s["round"] == 3, s
assert [x["round"] for x in r] == [1, 2, 3], r
assert all(x["sites"] == 3 and x["duration_s"] > 0 for x in r), r
assert all(x["site_names"] == ["s0", "s1", "s2"] for x in r), r
assert s["state_log"][-1]["to"] == "succeeded", s["state_log"]
assert r[2]["train_loss"] < r[0]["train_loss"], r
assert all(0.5 < x["accuracy"] <= 1 for x in r), r
open(sys.argv[1] + ".acc", "w").write("%.4f" % r[-1]["accuracy"])
PY
"$GF" status 1 $C | grep -q "round    3  sites   3" && ok "status: table" || fail "status table"
# a window of the rounds: after a round, the last N
OPC="--cacert $TMP/pki/operator/ca.crt --cert $TMP/pki/operator/site.crt --key $TMP/pki/operator/site.key"
rounds_of() { curl -s $OPC "${FED_URL}v1/jobs/1$1" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("error") or [r["round"] for r in d["rounds"]])'; }
[ "$(rounds_of '?rounds_after=1')" = "[2, 3]" ] && [ "$(rounds_of '?rounds_limit=1')" = "[3]" ] \
  && [ "$(rounds_of '?rounds_after=1&rounds_limit=5')" = "[2, 3]" ] && rounds_of '?rounds_limit=0' | grep -q rounds_limit \
  && ok "status: rounds_after and rounds_limit select the rounds" || fail "round window: $(rounds_of '?rounds_after=1') $(rounds_of '?rounds_limit=1')"
"$GF" download 1 --out "$TMP/final.safetensors" $C --wait > /dev/null || fail "download --wait"
acc=$("$GF" eval --model-file "$TMP/final.safetensors" --dataset "idx:$TMP/d" --threads 1 | sed -n 's/^test_accuracy \([0-9.]*\).*/\1/p')
[ "$acc" = "$(cat "$TMP/status.json.acc")" ] && ok "downloaded model: gf eval gives the reported accuracy $acc" \
  || fail "gf eval of the download: $acc, status says $(cat "$TMP/status.json.acc")"
"$GF" audit verify "$TMP/data/audit.log" > /dev/null && ok "audit log verifies" || fail "audit verify"
grep -q '"round.completed"' "$TMP/data/audit.log" && ok "audit has the rounds" || fail "audit lacks round.completed"
expect_error "status of an unknown job" "HTTP 404 no job" -- "$GF" status 42 $C
expect_error "submit of a bad spec" "HTTP 400 local.batch" -- sh -c "echo '{\"name\":\"x\",\"model\":\"cnn\",\"dataset\":\"d\",\"strategy\":{\"name\":\"fedavg\"},\"rounds\":2,\"local\":{\"batch\":0}}' > $TMP/bad.json && $GF submit $TMP/bad.json $C"
# the coordinator's default cap on a federated model (50 million parameters):
# 784*70000+70000 + 70000*10+10 parameters are refused at submission, nothing built
expect_error "submit of a model over --max-model-params" "HTTP 400 55650010.parameters limit.of.50000000 --max-model-params" -- sh -c "echo '{\"name\":\"huge\",\"model\":\"mlp:784-70000-10\",\"dataset\":\"d\",\"strategy\":{\"name\":\"fedavg\"},\"rounds\":2}' > $TMP/huge.json && $GF submit $TMP/huge.json $C"
expect_error "operator commands without a kit" "kit GF_KIT" -- env -u GF_KIT "$GF" status 1 $C

# the other families of strategies run end to end too (server state, buffered updates)
jn=2
for strat in '{"name": "fedadam"}' '{"name": "multikrum", "f": 0}' '{"name": "scaffold"}'; do
  sed -e "s/\"strategy\": {\"name\": \"fedavg\"}/\"strategy\": $strat/" -e 's/"rounds": 3/"rounds": 2/' \
      -e "s/fmnist-small/strategy-$jn/" "$TMP/job.json" > "$TMP/job$jn.json"
  "$GF" submit "$TMP/job$jn.json" $C > /dev/null || fail "submit $strat"
  fed_wait_state "$TMP" $jn succeeded 120 && "$GF" status $jn $C | grep -q "round    2  sites   3" \
    && ok "$strat: 2 rounds with 3 sites" || fail "$strat: $("$GF" status $jn $C)"
  jn=$((jn+1))
done

# client-level DP with a budget: epsilon after 3 rounds is 9.009959 and after
# 4 rounds 10.725510 (gf dp epsilon --noise 1 --sample-rate 1 --delta 1e-5),
# so a budget of 10 stops the 10-round job after round 3
sed -e 's/"rounds": 3/"rounds": 10/' -e 's/"seed": 3,/"seed": 3, "dp": {"clip": 0.5, "noise": 1.0, "epsilon": 10},/' \
    -e "s/fmnist-small/dp-budget/" "$TMP/job.json" > "$TMP/job$jn.json"
"$GF" submit "$TMP/job$jn.json" $C > /dev/null || fail "submit dp job"
fed_wait_state "$TMP" $jn succeeded 120 || fail "dp job did not finish"
"$GF" status $jn $C --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
assert s["round"] == 3 and len(s["rounds"]) == 3, s["round"]
assert "privacy budget" in s["reason"], s["reason"]
dp = s["dp"]
assert abs(dp["epsilon"] - 9.009959) < 1e-5 and dp["budget"] == 10 and dp["clip"] == 0.5 and dp["noise"] == 1, dp
assert dp["against"].startswith("users of the model, not the coordinator"), dp
assert all(r["train_loss"] is None for r in s["rounds"]), s["rounds"]' \
  && ok "dp: the job stopped after round 3, epsilon 9.009959 <= 10 reported, not against the coordinator, no site losses" \
  || fail "dp job: $("$GF" status $jn $C --json | head -c 400)"
"$GF" status $jn $C | grep -q "^  dp: epsilon 9.00996 of a budget of 10 at delta 1e-05 (clip 0.5, noise 1;" \
  && ok "dp: plain gf status shows epsilon and its budget" || fail "dp: plain status: $("$GF" status $jn $C | head -3)"
"$GF" download $jn --out "$TMP/dp.safetensors" $C > /dev/null && grep -q '"gf.dp_epsilon":"9.00995' "$TMP/dp.safetensors" \
  && ok "dp: the model's metadata carries epsilon" || fail "dp: no gf.dp_epsilon in the model"
jn=$((jn+1))

# a site dies mid-round: it is chosen, gets its task and is killed without
# answering; the round closes at its deadline with the two others
sed -e 's/"rounds": 3/"rounds": 2/' -e 's/"min_sites": 3/"min_sites": 2/' -e 's/"round_deadline_s": 60/"round_deadline_s": 5/' \
    -e 's/fmnist-small/site-dies/' "$TMP/job.json" > "$TMP/job$jn.json"
kill -STOP "$FED_SITE_PID_s2"
"$GF" submit "$TMP/job$jn.json" $C > /dev/null || fail "submit job $jn"
t=0
until "$GF" status $jn $C --json 2>/dev/null | grep -q '"current":{"round":1.*"site":"s2"'; do sleep 0.05; t=$((t+1)); [ $t -gt 1200 ] && break; done
kill -9 "$FED_SITE_PID_s2" && ok "killed site s2, chosen for round 1 of job $jn, before it answered"
fed_wait_state "$TMP" $jn succeeded 120 && ok "job $jn succeeded without s2" || fail "job $jn did not finish"
"$GF" status $jn $C --json | python3 -c '
import json, sys
r = json.load(sys.stdin)["rounds"]
assert [x["round"] for x in r] == [1, 2] and r[0]["sites"] == 2 and "s2" not in r[0]["site_names"], r' \
  && ok "round 1 completed at its deadline with the 2 surviving sites" || fail "rounds of job $jn: $("$GF" status $jn $C)"

# a job that cannot start (it needs s2, which is gone) is cancelled by the operator
jn=$((jn+1))
sed -e 's/"sites": "all"/"sites": ["s0", "s1", "s2"]/' -e "s/fmnist-small/needs-s2/" "$TMP/job.json" > "$TMP/job$jn.json"
"$GF" submit "$TMP/job$jn.json" $C > /dev/null || fail "submit job $jn"
fed_wait_state "$TMP" $jn running 30 || fail "job $jn not running"
"$GF" status $jn $C --wait --timeout 0.5 > /dev/null 2> "$TMP/wait.err"; rc=$?
[ $rc = 124 ] && grep -q "still running after 0.5 s" "$TMP/wait.err" && ok "status --wait --timeout: exit 124 while it runs" \
  || fail "status --wait --timeout: exit $rc, $(cat "$TMP/wait.err")"
"$GF" cancel $jn $C | grep -q "job $jn cancelled" && ok "gf cancel" || fail "gf cancel $jn"
"$GF" status $jn $C --wait > /dev/null 2> "$TMP/wait.err"; rc=$?
[ $rc = 1 ] && grep -q "job $jn cancelled: cancelled by the operator" "$TMP/wait.err" && ok "status --wait of a cancelled job: exit 1 with its reason" \
  || fail "status --wait after cancel: exit $rc, $(cat "$TMP/wait.err")"
"$GF" download $jn --out "$TMP/cancelled.safetensors" $C --wait 2> /dev/null; rc=$?
[ $rc = 1 ] && [ ! -e "$TMP/cancelled.safetensors" ] && ok "download --wait of a cancelled job: exit 1, nothing saved" \
  || fail "download --wait after cancel: exit $rc"
expect_error "--timeout without --wait" "timeout wait" -- "$GF" status $jn $C --timeout 3
"$GF" status $jn $C | grep -q "cancelled (cancelled by the operator" && ok "status: cancelled, with its reason" || fail "status after cancel: $("$GF" status $jn $C)"
expect_error "cancelling twice" "HTTP 409 cannot be cancelled" -- "$GF" cancel $jn $C
expect_error "a bad job id" "JOB" -- "$GF" cancel 0 $C
finish
