# Crash safety of the coordinator: a 20-round job over three real site
# processes, with the coordinator killed by SIGKILL at moments spread over
# the run (mid-round, while writing) and restarted on the same port each
# time. The sites reconnect on their own; the job must finish with every
# round completed exactly once, in order, by all three sites, the audit log
# must verify, and restarts must be recorded in it.
. tests/cli_lib.sh
. scripts/fed_local.sh
trap 'fed_down; rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM HUP
small_idx "$TMP/d" 1500 200
fed_provision "$TMP" 3
fed_coordinator "$TMP" || { fail "coordinator start"; finish; exit 1; }
for i in 0 1 2; do fed_site "$TMP" s$i --data "idx:$TMP/d" --partition iid --shard $i/3 --threads 1; done
export GF_KIT="$TMP/pki/operator"
cat > "$TMP/job.json" <<SPEC
{"name": "crash", "model": "mlp:784-256-256-10", "dataset": "fashion-mnist", "strategy": {"name": "fedavgm"},
 "rounds": 20, "min_sites": 3, "round_deadline_s": 120,
 "local": {"epochs": 8, "batch": 32, "optim": {"name": "sgd", "lr": 0.05}}, "seed": 5}
SPEC
"$GF" submit "$TMP/job.json" --coordinator "$FED_URL" > /dev/null || fail "submit"
kills=0
round_now() { "$GF" status 1 --coordinator "$FED_URL" --json 2>/dev/null | sed -n 's/^{"id":1,[^}]*"round":\([0-9]*\),"rounds_total".*/\1/p'; }
for target in 2 5 9 14; do
  # wait until the job reaches a round (so the sites are back after the last
  # restart), then kill at once or a little later: inside a round either way
  t=0
  while r=$(round_now); [ "${r:-0}" -lt "$target" ]; do sleep 0.02; t=$((t+1)); [ $t -gt 3000 ] && break; done
  [ "${r:-0}" -ge 20 ] && break
  sleep "0.0$((target % 4))"
  kill -9 "$FED_CO_PID"; wait "$FED_CO_PID" 2>/dev/null
  kills=$((kills+1))
  fed_coordinator "$TMP" || { fail "restart $kills"; break; }
done
[ $kills -eq 4 ] && ok "coordinator killed $kills times mid-job" || fail "only $kills kills happened (job too fast?)"
fed_wait_state "$TMP" 1 succeeded 180 && ok "job finished after the crashes" || { fail "job did not finish"; tail -20 "$TMP/coordinator.log"; }
"$GF" status 1 --coordinator "$FED_URL" --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
r = s["rounds"]
assert s["round"] == 20, s["round"]
assert [x["round"] for x in r] == list(range(1, 21)), [x["round"] for x in r]
assert all(x["sites"] == 3 for x in r), r' && ok "rounds 1..20 each completed once, by 3 sites" || fail "rounds after crashes: $("$GF" status 1 --coordinator "$FED_URL")"
"$GF" audit verify "$TMP/data/audit.log" > /dev/null && ok "audit log verifies after $kills kills" || fail "audit verify: $("$GF" audit verify "$TMP/data/audit.log" 2>&1)"
n=$(grep -c '"coordinator.started"' "$TMP/data/audit.log")
[ "$n" -eq $((kills + 1)) ] && ok "audit records $n coordinator starts" || fail "audit has $n starts for $kills kills"
a=$(grep -c 'restarted mid-round' "$TMP/data/audit.log")
[ "$a" -ge 1 ] && ok "$a kills landed mid-round (their rounds aborted and rerun)" || fail "no kill landed mid-round"
c=$(grep -c '"round.completed"' "$TMP/data/audit.log")
[ "$c" -ge 20 ] && ok "audit: $c round.completed entries (>= 20; a round whose store write was cut is redone)" || fail "audit: $c round.completed"
ls "$TMP/data/artifacts/job-1" | grep -q "round-000020.safetensors" && ok "final checkpoint on disk" || fail "no final checkpoint"

# the same under secure aggregation with adaptive DP clipping: a kill aborts
# the round in flight (its masks die with the coordinator's memory), the
# restarted coordinator reruns it with a fresh seed and goes on from the
# clip the last checkpoint recorded
cat > "$TMP/job2.json" <<SPEC
{"name": "crash-secure", "model": "mlp:784-512-10", "dataset": "fashion-mnist", "strategy": {"name": "fedadam"},
 "rounds": 6, "min_sites": 3, "round_deadline_s": 30, "local": {"epochs": 40, "batch": 16}, "seed": 2,
 "secure_aggregation": {"phase_timeout_s": 10}, "dp": {"clip": 1, "noise": 0.3, "adaptive": {"count_noise": 1}}}
SPEC
"$GF" submit "$TMP/job2.json" --coordinator "$FED_URL" > /dev/null || fail "submit job 2"
kills2=0
for target in 2 4; do
  t=0
  while r=$("$GF" status 2 --coordinator "$FED_URL" --json 2>/dev/null | sed -n 's/.*"round":\([0-9]*\),"rounds_total".*/\1/p');
        [ "${r:-0}" -lt "$target" ]; do sleep 0.05; t=$((t+1)); [ $t -gt 2400 ] && break; done
  sleep 0.4
  kill -9 "$FED_CO_PID"; wait "$FED_CO_PID" 2>/dev/null
  kills2=$((kills2+1))
  fed_coordinator "$TMP" || { fail "restart (secure) $kills2"; break; }
done
# A kill after the sites sent their masked inputs cannot be rerun: every site
# refuses a second masked input for the same round (two unmasked sums over
# different survivor sets could be differenced), so that round is declined
# until the job fails saying why. A kill before that reruns the round.
t=0
while s2=$("$GF" status 2 --coordinator "$FED_URL" --json 2>/dev/null | sed -n 's/.*"state":"\([a-z-]*\)".*/\1/p');
      [ "$s2" != succeeded ] && [ "$s2" != failed ] && [ $t -lt 1800 ]; do sleep 0.1; t=$((t+1)); done
if [ "$s2" = succeeded ]; then
  ok "secure job finished after $kills2 kills"
  "$GF" status 2 --coordinator "$FED_URL" --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
assert [x["round"] for x in s["rounds"]] == list(range(1, 7)) and all(x["sites"] == 3 for x in s["rounds"]), s["rounds"]
assert s["dp"]["clip"] == 1 and s["dp"]["epsilon"] > 0, s["dp"]' && ok "secure job: rounds 1..6 once each, by 3 sites" \
    || fail "secure job rounds: $("$GF" status 2 --coordinator "$FED_URL")"
elif [ "$s2" = failed ]; then
  "$GF" status 2 --coordinator "$FED_URL" --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
assert "already sent a masked input" in s["reason"], s["reason"]
n = [x["round"] for x in s["rounds"]]
assert n == list(range(1, len(n) + 1)) and all(x["sites"] == 3 for x in s["rounds"]), s["rounds"]' \
    && ok "secure job: a kill after the masked inputs; the sites refused a second one and the job failed saying why" \
    || fail "secure job failed otherwise: $("$GF" status 2 --coordinator "$FED_URL")"
else
  fail "secure job neither finished nor failed: $s2"; tail -5 "$TMP/coordinator.log"
fi
a2=$(grep '"job":2' "$TMP/data/audit.log" | grep -c 'restarted mid-round')
[ "$a2" -ge 1 ] && ok "$a2 kills of the secure job landed mid-round" || fail "no kill landed in a secure round"
"$GF" audit verify "$TMP/data/audit.log" > /dev/null && ok "audit log verifies" || fail "audit verify after the secure job"
finish
