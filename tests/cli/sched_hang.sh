# A hung Slurm never stalls a federated round: the coordinator runs with
# --executor slurm where every Slurm tool on its PATH is a stand-in that
# sleeps 30 s (a slurmctld that does not answer; the one place a stand-in is
# right), a central job is submitted so the scheduler calls one, and while
# that call hangs a federated job of 3 rounds runs on two real gf site
# processes: it must finish all its rounds while the Slurm tool is still
# hanging, and the API must keep answering. (With the scheduler on the round
# driver's thread, the driver waits out every hung tool and no round opens.)
. tests/cli_lib.sh
. scripts/fed_local.sh
HANG_S=30
cleanup() {
  fed_down
  for p in $(cat "$TMP/hung.pids" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# the stand-ins: record their pid (the sleep's, after exec), then hang
mkdir -p "$TMP/fakebin"
for t in sbatch squeue sacct sacctmgr sshare scancel; do
  printf '#!/bin/sh\necho "$$ %s" >> "%s/hung.log"\necho $$ >> "%s/hung.pids"\nexec sleep %s\n' "$t" "$TMP" "$TMP" "$HANG_S" > "$TMP/fakebin/$t"
  chmod +x "$TMP/fakebin/$t"
done
: > "$TMP/slurm.conf"

small_idx "$TMP/d" 2000 200
fed_provision "$TMP" 2
OLDPATH=$PATH
export PATH="$TMP/fakebin:$PATH"
fed_coordinator "$TMP" --executor slurm --slurm-conf "$TMP/slurm.conf" || { fail "coordinator start"; finish; exit 1; }
export PATH="$OLDPATH"
for i in 0 1; do fed_site "$TMP" s$i --data "idx:$TMP/d" --partition iid --shard $i/2 --threads 1; done
export GF_COORDINATOR="${FED_URL%/}" GF_CA="$TMP/pki/coordinator/ca.crt"
unset GF_KIT GF_TOKEN
OP=$(cat "$TMP/data/operator.token")
"$GF" tenant add acme --shares 10 --token "$OP" > /dev/null || fail "tenant add"
TA=$("$GF" token create --tenant acme --token "$OP" 2>/dev/null)

# ---- a central job: the scheduler calls a Slurm tool, which hangs ---------
printf '{"kind":"central","name":"c","model":"mlp:784-32-10","dataset":"fashion-mnist","epochs":1,"batch":64,"optim":{"name":"sgd","lr":0.01},"seed":1,"resources":{"cores":1,"gpus":0,"memory_mb":2048,"time_limit_s":600}}' > "$TMP/central.json"
JC=$("$GF" submit "$TMP/central.json" --token "$TA") || fail "submit central"
_t=0
while [ ! -s "$TMP/hung.pids" ] && [ $_t -lt 100 ]; do sleep 0.1; _t=$((_t+1)); done
HUNG=$(head -1 "$TMP/hung.pids" 2>/dev/null)
[ -n "$HUNG" ] && kill -0 "$HUNG" 2>/dev/null && ok "the scheduler is in a hung Slurm tool: $(head -1 "$TMP/hung.log")" \
  || { fail "no Slurm tool was called for central job $JC"; tail -5 "$TMP/coordinator.log"; finish; exit 1; }

# ---- meanwhile a federated job of 3 rounds --------------------------------
cat > "$TMP/fed.json" <<SPEC
{"name": "fed-small", "model": "mlp:784-32-10", "dataset": "fashion-mnist",
 "strategy": {"name": "fedavg"}, "rounds": 3, "sites": "all", "fraction": 1.0, "min_sites": 2,
 "round_deadline_s": 60, "local": {"epochs": 1, "steps": 10, "batch": 32,
 "optim": {"name": "sgd", "lr": 0.05}}, "seed": 3}
SPEC
t0=$(date +%s.%N)
JF=$("$GF" submit "$TMP/fed.json" --token "$OP") || fail "submit federated"
# the bound is on progress, not speed: the job has 20 s, the hung tool 30 s
s=""; until=$(($(date +%s) + 20))
while [ "$(date +%s)" -lt $until ]; do
  s=$("$GF" status "$JF" --token "$OP" --json | jget 'd["state"]')
  case "$s" in succeeded|failed|cancelled|timed-out) break ;; esac
  sleep 0.1
done
t1=$(date +%s.%N)
if [ "$s" = succeeded ] && kill -0 "$HUNG" 2>/dev/null; then
  ok "federated job $JF: 3 rounds in $(awk "BEGIN{printf \"%.1f\", $t1 - $t0}") s while the Slurm tool still hangs"
else
  fail "federated job $JF is $s after $(awk "BEGIN{printf \"%.1f\", $t1 - $t0}") s (hung tool alive: $(kill -0 "$HUNG" 2>/dev/null && echo yes || echo no))"
  tail -5 "$TMP/coordinator.log"
fi
[ "$("$GF" status "$JF" --token "$OP" --json | jget 'len(d["rounds"])')" = 3 ] && ok "all 3 rounds recorded" || fail "rounds of job $JF"

# ---- the API answers while the scheduler hangs ----------------------------
kill -0 "$HUNG" 2>/dev/null || fail "the hung tool ended before the API checks: the bound above is too loose"
[ "$("$GF" status "$JC" --token "$TA" --json | jget 'd["state"]')" = queued ] && ok "central job $JC still queued" || fail "central job $JC state"
curl -s --max-time 5 --cacert "$GF_CA" -H "Authorization: Bearer $OP" "${FED_URL}v1/queue" | jget 'd["running"]' | grep -qx 0 \
  && ok "/v1/queue answers" || fail "/v1/queue did not answer"
curl -s --max-time 5 --cacert "$GF_CA" -H "Authorization: Bearer $OP" "${FED_URL}v1/fairshare" | jget '"tenants" in d' | grep -qx True \
  && ok "/v1/fairshare answers" || fail "/v1/fairshare did not answer"
finish
