# The Slurm executor end to end: a real private Slurm (scripts/slurm-local.sh:
# munge, MariaDB, slurmdbd, slurmctld, slurmd, two fake GPUs) and a real
# gf coordinator with --executor slurm. Tenants become Slurm accounts with
# their shares; central jobs go through sbatch and come back with Slurm's
# state; the ledger equals sacct (CPUTimeRAW, GPU-seconds) to the second;
# a 2-process job runs as MPI ranks on 2 allocated CPUs; a cancel reaches
# Slurm; a coordinator killed with kill -9 follows its Slurm job on after
# the restart.
. tests/cli_lib.sh
. scripts/fed_local.sh
PY=/usr/bin/python3
SL="$TMP/slurm"
cleanup() { fed_down; scripts/slurm-local.sh stop "$SL" > /dev/null 2>&1; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

scripts/slurm-local.sh start "$SL" > "$TMP/slurm.log" 2>&1 || { fail "slurm did not start: $(tail -20 "$TMP/slurm.log")"; finish; exit 1; }
. "$SL/env.sh"
ok "a private Slurm is up: $(grep 'up in' "$TMP/slurm.log")"

"$GF" provision --out "$TMP/pki" --coordinator 127.0.0.1 > /dev/null || { fail "provision"; finish; exit 1; }
fed_coordinator "$TMP" --executor slurm --slurm-conf "$SLURM_CONF" || { fail "coordinator start"; finish; exit 1; }
export GF_COORDINATOR="${FED_URL%/}" GF_CA="$TMP/pki/coordinator/ca.crt"
unset GF_KIT GF_TOKEN
OP=$(cat "$TMP/data/operator.token")
"$GF" tenant add Acme.Lab --shares 30 --token "$OP" > /dev/null && "$GF" tenant add beta --shares 60 --token "$OP" > /dev/null || fail "tenants"
TA=$("$GF" token create --tenant Acme.Lab --token "$OP" 2>/dev/null)
TB=$("$GF" token create --tenant beta --token "$OP" 2>/dev/null)

state() { "$GF" status "$1" --token "$OP" --json | jget 'd["state"]'; }
central() {  # central NAME EPOCHS GPUS
  printf '{"kind":"central","name":"%s","model":"mlp:784-32-10","dataset":"fashion-mnist","epochs":%s,"batch":64,"optim":{"name":"adamw","lr":0.001},"seed":1,"resources":{"cores":1,"gpus":%s,"memory_mb":2048,"time_limit_s":600}}' "$1" "$2" "$3"
}
# the Slurm job id: from "submitted to Slurm as job N" (the reason while it
# waits) or "started by slurm as job N" (the state log)
slurm_id() { "$GF" status "$1" --token "$OP" --json | jget '[w.split("as job ")[1].split(" ")[0] for w in [d["reason"]] + [e["reason"] for e in d["state_log"]] if "as job " in w][0]'; }
# ledger_vs_sacct JOB: the job's ledger row against sacct's record of its Slurm job
ledger_vs_sacct() {
  sid=$(slurm_id "$1")
  sacct -X -n -P -j "$sid" -o CPUTimeRAW,ElapsedRaw,AllocTRES,Account,State > "$TMP/sacct"
  "$GF" usage --token "$OP" --json > "$TMP/usage.json"
  $PY - "$1" "$TMP/sacct" "$TMP/usage.json" <<'PYEOF'
import json, sys
job, sacct, usage = int(sys.argv[1]), open(sys.argv[2]).read().strip().split("|"), json.load(open(sys.argv[3]))
cpu_raw, elapsed, tres, account, state = int(sacct[0]), int(sacct[1]), sacct[2], sacct[3], sacct[4]
row = [e for e in usage["entries"] if e["job"] == job]
assert len(row) == 1, row
row = row[0]
gpus = int(dict(kv.split("=") for kv in tres.split(",")).get("gres/gpu", 0))
assert row["executor"] == "slurm" and row["core_s"] == cpu_raw, (row, sacct)
assert row["wall_s"] == elapsed and row["gpu_s"] == gpus * elapsed, (row, sacct)
print("ledger = sacct: %d core-s, %d s, %d GPU-s (account %s, %s)" % (cpu_raw, elapsed, gpus * elapsed, account, state))
PYEOF
}

central a-one 2 0 > "$TMP/j1.json"
J1=$("$GF" submit "$TMP/j1.json" --token "$TA")
token_wait_state "$J1" succeeded 120 && ok "job $J1 succeeded through Slurm: $("$GF" status "$J1" --token "$TA" --json | jget 'd["reason"]')" || fail "job $J1"
[ "$("$GF" status "$J1" --token "$TA" --json | jget 'len(d["epochs"])')" = 2 ] && ok "its epochs are reported" || fail "epochs of job $J1"
"$GF" logs "$J1" --token "$TA" | grep -q "epoch 2/2" && ok "gf logs reads the Slurm job's output" || fail "logs"
sacct -X -n -P -j "$(slurm_id "$J1")" -o Account | grep -qx "acme_dlab" && ok "it ran under the tenant's account acme_dlab" || fail "account: $(sacct -X -n -P -j "$(slurm_id "$J1")" -o Account)"
out=$(ledger_vs_sacct "$J1") && ok "$out" || fail "ledger vs sacct: $out"
# 2 processes: sbatch --ntasks=2 --cpus-per-task=1, mpirun starts 2 ranks of gf train in the allocation
central a-mpi 1 0 | sed 's/"cores":1/"cores":2,"processes":2/' > "$TMP/jm.json"
JM=$("$GF" submit "$TMP/jm.json" --token "$TA")
token_wait_state "$JM" succeeded 120 && grep -q "gf train: 2 MPI ranks, 1 thread each" "$TMP/data/jobs/$JM/stderr.log" \
  && ok "a 2-process job ran as 2 MPI ranks through Slurm" || fail "2-process job $JM: $(cat "$TMP/data/jobs/$JM/stderr.log")"
sacct -X -n -P -j "$(slurm_id "$JM")" -o AllocCPUS | grep -qx 2 && ok "Slurm allocated it 2 CPUs" || fail "AllocCPUS: $(sacct -X -n -P -j "$(slurm_id "$JM")" -o AllocCPUS)"
out=$(ledger_vs_sacct "$JM") && ok "$out" || fail "ledger vs sacct (2 processes): $out"

central b-gpu 6 1 > "$TMP/g.json"
JG=$("$GF" submit "$TMP/g.json" --token "$TB")
token_wait_state "$JG" succeeded 120 && out=$(ledger_vs_sacct "$JG") && echo "$out" | grep -q "[1-9][0-9]* GPU-s" && ok "a 1-GPU job (GRES): $out" || fail "gpu job: $out"

sshare -n -P -o Account,RawShares -A acme_dlab,beta > "$TMP/shares"
grep -q "^acme_dlab|30$" "$TMP/shares" && grep -q "^beta|60$" "$TMP/shares" && ok "the accounts carry the tenants' shares (sshare)" || fail "sshare: $(cat "$TMP/shares")"

central b-long 100000 0 > "$TMP/l.json"
JL=$("$GF" submit "$TMP/l.json" --token "$TB")
JL2=$("$GF" submit "$TMP/l.json" --token "$TB")
token_wait_state "$JL" running 60 && token_wait_state "$JL2" running 60 || fail "jobs $JL $JL2 did not start in Slurm"
JP=$("$GF" submit "$TMP/l.json" --token "$TA")          # the node has 2 CPUs: this one waits in Slurm's queue
t=0; until "$GF" status "$JP" --token "$OP" --json | jget 'd["reason"]' | grep -q "pending: Resources"; do sleep 0.2; t=$((t+1)); [ $t -gt 100 ] && break; done
r=$("$GF" status "$JP" --token "$OP" --json | jget 'd["state"]+": "+d["reason"]')
case "$r" in "queued: slurm job "*" pending: Resources") ok "a job waiting in Slurm's queue is queued, with Slurm's reason ($r)" ;; *) fail "pending job: $r" ;; esac
"$GF" cancel "$JP" --token "$TA" > /dev/null
token_wait_state "$JP" cancelled 60 && ok "cancelling it while it waits in Slurm" || fail "cancel of a pending job"
"$GF" cancel "$JL" --token "$TB" > /dev/null; "$GF" cancel "$JL2" --token "$TB" > /dev/null
token_wait_state "$JL" cancelled 60 && token_wait_state "$JL2" cancelled 60 && ok "cancel reached Slurm: $("$GF" status "$JL" --token "$OP" --json | jget 'd["reason"]')" || fail "cancel"
[ -z "$(squeue -h -o %i)" ] && ok "Slurm has no job left" || fail "squeue: $(squeue -h)"

central a-restart 15 0 > "$TMP/r.json"
JR=$("$GF" submit "$TMP/r.json" --token "$TA")
token_wait_state "$JR" running 60 || fail "job $JR did not start in Slurm"
kill -9 "$FED_CO_PID"; wait "$FED_CO_PID" 2>/dev/null
fed_coordinator "$TMP" --executor slurm --slurm-conf "$SLURM_CONF" || { fail "restart"; finish; exit 1; }
export GF_COORDINATOR="${FED_URL%/}"
grep -q "job $JR: followed on" "$TMP/coordinator.log" && ok "after kill -9 the coordinator follows Slurm job $(slurm_id "$JR") on" || fail "not re-attached: $(tail -3 "$TMP/coordinator.log")"
token_wait_state "$JR" succeeded 180 && out=$(ledger_vs_sacct "$JR") && ok "and records its end: $out" || fail "job $JR after the restart: $out"
n=$("$GF" usage --token "$OP" --json | jget 'len([e for e in d["entries"] if e["executor"]=="slurm"])')
[ "$n" = 7 ] && ok "7 Slurm jobs in the ledger, each once" || fail "ledger rows: $n"
finish
