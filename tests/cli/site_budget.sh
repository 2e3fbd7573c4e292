# A site's own privacy budget (gf site --state, --max-epsilon):
#  - a site trains a 2-round DP-SGD job; its ledger (STATE/privacy-budget.json)
#    holds the job's noisy steps, 2 x ceil(n / batch);
#  - it is killed with SIGKILL and restarted on the same state folder: its
#    first line reports the epsilon of those steps (gf dp epsilon), not 0;
#  - restarted with --max-epsilon between the epsilon after 3 and after 4
#    rounds' steps, it trains round 1 of a second job (3 rounds' worth in
#    all, epsilon = gf dp epsilon for the total steps) and declines round 2
#    before training it: the job fails naming the site's reason, the
#    coordinator audits the decline, and the ledger did not grow;
#  - a second site process on the same state folder refuses to start;
#  - a site whose ledger is damaged refuses to start (it never resets to 0).
. tests/cli_lib.sh
. scripts/fed_local.sh
trap 'fed_down; rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM HUP
small_idx "$TMP/d" 1000 200
fed_provision "$TMP" 1
fed_coordinator "$TMP" || { fail "coordinator start"; finish; exit 1; }
export GF_KIT="$TMP/pki/operator"
C="--coordinator $FED_URL"
AUDIT="$TMP/data/audit.log"
STATE="$TMP/state-s0"
LEDGER="$STATE/privacy-budget.json"
"$GF" dataset add d --path "$TMP/d" --public $C > /dev/null || fail "dataset add d"
# job NAME ROUNDS [LOCAL]: a DP-SGD job on s0 alone (LOCAL: another "dp_sgd" member, or none)
job() {
  DPS=${3-', "dp_sgd": {"clip": 1.0, "noise": 1.1}'}
  cat > "$TMP/$1.json" <<SPEC
{"name": "$1", "model": "mlp:784-16-10", "dataset": "fashion-mnist",
 "strategy": {"name": "fedavg"}, "rounds": $2, "sites": ["s0"], "min_sites": 1, "round_deadline_s": 60,
 "local": {"epochs": 1, "batch": 25, "optim": {"name": "sgd", "lr": 0.1}$DPS}, "seed": 3}
SPEC
  "$GF" submit "$TMP/$1.json" $C
}
# eps STEPS: gf dp epsilon of STEPS steps at this site's rate
eps() { "$GF" dp epsilon --noise 1.1 --sample-rate "$Q" --steps "$1" --delta 1e-5 | sed -n 's/^epsilon \([0-9.]*\).*/\1/p'; }
# near GOT WANT: relative difference at most 1e-5
near() { /usr/bin/python3 -c "import sys; g, w = float(sys.argv[1]), float(sys.argv[2]); sys.exit(0 if abs(g - w) <= 1e-5 * w else 1)" "$1" "$2" 2>/dev/null; }
ledger_steps() { /usr/bin/python3 -c "import json,sys; print(sum(e['steps'] for e in json.load(open(sys.argv[1]))['spends']))" "$LEDGER"; }
# the epsilon of the latest "site budget:" line of s0's log
budget_line() { sed -n 's/.*site budget: epsilon \([0-9.e+-]*\) .*/\1/p' "$TMP/site-s0.log" | tail -1; }

# ---- a DP-SGD job, then kill -9 -------------------------------------------------
fed_site "$TMP" s0 --data "idx:$TMP/d" --threads 1 --state "$STATE"
J1=$(job first 2)
fed_wait_state "$TMP" "$J1" succeeded 120 && ok "a 2-round DP-SGD job succeeded" || { fail "DP-SGD job"; tail -5 "$TMP/site-s0.log"; }
N=$(sed -n 's/^gf site: \([0-9]*\) training.*/\1/p' "$TMP/site-s0.log" | head -1)
Q=$(/usr/bin/python3 -c "print(repr(25 / $N))")
PER=$(( (N + 24) / 25 ))
[ -f "$LEDGER" ] && [ "$(ledger_steps)" = $((2 * PER)) ] && ok "the ledger holds the job's $((2 * PER)) noisy steps ($N records, q = $Q)" \
  || fail "ledger: $(cat "$LEDGER" 2>&1)"
[ "$(stat -c %a "$LEDGER")" = 600 ] && [ "$(stat -c %a "$STATE")" = 700 ] && ok "ledger 0600 in a 0700 folder" \
  || fail "modes: $(stat -c %a "$STATE" "$LEDGER")"
kill -9 "$FED_SITE_PID_s0"; wait "$FED_SITE_PID_s0" 2>/dev/null
: > "$TMP/site-s0.log"

# ---- restarted on the same state: the count goes on -----------------------------
E2=$(eps $((2 * PER))); E3=$(eps $((3 * PER))); E4=$(eps $((4 * PER)))
MAX=$(/usr/bin/python3 -c "print(($E3 + $E4) / 2)")
fed_site "$TMP" s0 --data "idx:$TMP/d" --threads 1 --state "$STATE" --max-epsilon "$MAX"
t=0; until grep -q "connected to the coordinator" "$TMP/site-s0.log" 2>/dev/null || [ $t -gt 100 ]; do sleep 0.1; t=$((t+1)); done
got=$(budget_line)
near "$got" "$E2" && ok "after kill -9 and restart the site reports epsilon $got spent (gf dp epsilon, $((2 * PER)) steps: $E2)" \
  || fail "restart: budget line \"$got\", want $E2: $(cat "$TMP/site-s0.log")"

expect_error "a second site on the same state folder" "state in use another --state" -- \
  timeout 30 "$GF" site --kit "$TMP/pki/sites/s0" --coordinator "$FED_URL" --data "idx:$TMP/d" --threads 1 --state "$STATE" --quiet

# ---- --max-epsilon: round 1 fits, round 2 is declined before it trains ----------
J2=$(job second 2)
fed_wait_state "$TMP" "$J2" failed 120 && ok "the second job failed" || fail "second job: $(GF_KIT=$GF_KIT "$GF" status "$J2" $C --json)"
got=$(sed -n "s/.*job $J2 round 1: DP-SGD .*/x/p" "$TMP/site-s0.log")
[ "$got" = x ] && ok "round 1 trained (within the budget)" || fail "round 1 did not train: $(cat "$TMP/site-s0.log")"
got=$(sed -n 's/.*site budget: epsilon \([0-9.e+-]*\) .*/\1/p' "$TMP/site-s0.log" | sed -n 2p)
near "$got" "$E3" && ok "after it, epsilon $got over both jobs (gf dp epsilon, $((3 * PER)) steps: $E3 <= $MAX)" \
  || fail "epsilon after round 1: \"$got\", want $E3"
grep -q "job $J2 round 2: DP-SGD" "$TMP/site-s0.log" && fail "round 2 trained" || ok "round 2 trained nothing"
[ "$(ledger_steps)" = $((3 * PER)) ] && ok "the ledger holds $((3 * PER)) steps: nothing of round 2" || fail "ledger steps $(ledger_steps)"
reason=$("$GF" status "$J2" $C --json | jget 'd["reason"]')
case "$reason" in *"s0 declined: site budget: this round's $PER DP-SGD steps would bring the epsilon spent on this site's records to "*", past its budget of "*) ok "the job's reason: $reason" ;;
  *) fail "reason: $reason" ;; esac
grep '"site.declined"' "$AUDIT" | grep "\"job\":$J2," | grep -q "site budget: this round" \
  && ok "the coordinator audited the decline with the reason" || fail "no site.declined audit line for job $J2"

# ---- a task without DP-SGD is declined by a site with a budget ------------------
J3=$(job nodp 1 "")
fed_wait_state "$TMP" "$J3" failed 120 && "$GF" status "$J3" $C --json | jget 'd["reason"]' | grep -q "without record-level DP" \
  && ok "a job without DP-SGD is declined: its epsilon is unbounded" || fail "no-DP job: $("$GF" status "$J3" $C --json)"
fed_down

# ---- a damaged ledger: the site refuses to start --------------------------------
head -c 40 "$LEDGER" > "$TMP/cut" && cp "$TMP/cut" "$LEDGER"
expect_error "truncated ledger" "privacy-budget.json not JSON restore" -- \
  "$GF" site --kit "$TMP/pki/sites/s0" --coordinator "$FED_URL" --data "idx:$TMP/d" --threads 1 --state "$STATE" --quiet
expect_error "--delta without --max-epsilon" "--delta --max-epsilon" -- \
  "$GF" site --kit "$TMP/pki/sites/s0" --data "idx:$TMP/d" --delta 1e-6
finish
