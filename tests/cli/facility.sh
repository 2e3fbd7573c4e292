# The facility end to end with real processes: tenants and tokens, central
# jobs on the local executor (success, logs, model, cancel of the whole
# process tree, time limit, quota hold), every route refusing another
# tenant's token, a forged, expired or revoked token and a site certificate,
# malformed specs refused with the field named and nothing created, and a
# kill -9 of the coordinator with jobs queued and running: after the restart
# the queued job is still there, the running ones are failed with a reason and
# their processes gone, and the ledger holds each finished job exactly once.
. tests/cli_lib.sh
. scripts/fed_local.sh
PY=/usr/bin/python3
trap 'fed_down; rm -rf "$TMP"' EXIT

"$GF" provision --out "$TMP/pki" --coordinator 127.0.0.1 --sites s1 > /dev/null || { fail "provision"; finish; exit 1; }
fed_coordinator "$TMP" --cores 2 --fairshare-half-life 60 || { fail "coordinator start"; finish; exit 1; }
URL=${FED_URL%/}
CA="$TMP/pki/coordinator/ca.crt"
export GF_COORDINATOR="$URL" GF_CA="$CA"
unset GF_KIT GF_TOKEN

# api METHOD PATH TOKEN [BODY]: prints "STATUS" on line 1, the body after
api() {
  if [ -n "${4:-}" ]; then
    curl -s -o "$TMP/resp" -w '%{http_code}\n' --cacert "$CA" -X "$1" -H "Authorization: Bearer $3" --data-binary "$4" "$URL$2"
  else
    curl -s -o "$TMP/resp" -w '%{http_code}\n' --cacert "$CA" -X "$1" -H "Authorization: Bearer $3" "$URL$2"
  fi
  cat "$TMP/resp"; echo
}
code() { api "$@" | head -1; }
state() { "$GF" status "$1" --token "$OP" --json | jget 'd["state"]'; }
central() {  # central NAME EPOCHS TIME_LIMIT [CORES] [MODEL]
  printf '{"kind":"central","name":"%s","model":"%s","dataset":"fashion-mnist","epochs":%s,"batch":64,"optim":{"name":"adamw","lr":0.001},"seed":1,"resources":{"cores":%s,"gpus":0,"memory_mb":4096,"time_limit_s":%s}}' \
    "$1" "${5:-mlp:784-64-10}" "$2" "${4:-1}" "$3"
}

# ---- the first operator token and tenants ---------------------------------
OP=$(cat "$TMP/data/operator.token")
[ "$(stat -c %a "$TMP/data/operator.token")" = 600 ] && ok "operator.token is 0600" || fail "operator.token mode $(stat -c %a "$TMP/data/operator.token")"
grep -q "$OP" "$TMP/data/state.db" "$TMP/data/audit.log" 2>/dev/null && fail "the token itself is stored" || ok "only the token's hash is stored"
"$GF" tenant add acme --shares 30 --token "$OP" > /dev/null && "$GF" tenant add beta --shares 60 --quota cpu-hours=0.01 --token "$OP" > /dev/null \
  && ok "tenants added" || fail "tenant add"
expect_error "tenant twice" "exists" -- "$GF" tenant add acme --shares 1 --token "$OP"
TA=$("$GF" token create --tenant acme --token "$OP" 2>/dev/null)
TB=$("$GF" token create --tenant beta --token "$OP" 2>/dev/null)
TX=$("$GF" token create --tenant acme --expires-in 1 --token "$OP" 2>/dev/null)
TR=$("$GF" token create --tenant acme --token "$OP" --json | jget 'd["token"]+" "+str(d["id"])')
TRID=${TR#* }; TR=${TR% *}
[ ${#TA} -eq 46 ] && [ "$TA" != "$TB" ] && ok "member tokens created" || fail "tokens: $TA $TB"
expect_error "member cannot make tokens" "403 operators" -- "$GF" token create --tenant acme --token "$TA"

# ---- a central job: success, epochs, logs, model ---------------------------
central a-ok 2 600 > "$TMP/ok.json"
J1=$("$GF" submit "$TMP/ok.json" --token "$TA")
token_wait_state "$J1" succeeded 120 && ok "central job $J1 succeeded" || fail "central job: $("$GF" status "$J1" --token "$TA")"
n=$("$GF" status "$J1" --token "$TA" --json | jget 'len(d["epochs"])')
[ "$n" = 2 ] && ok "2 epochs reported" || fail "epochs: $n"
"$GF" logs "$J1" --token "$TA" | grep -q "epoch 2/2" && ok "gf logs shows the job's stdout" || fail "logs: $("$GF" logs "$J1" --token "$TA")"
"$GF" download "$J1" --out "$TMP/m.safetensors" --token "$TA" > /dev/null && "$GF" eval --model-file "$TMP/m.safetensors" --dataset fashion-mnist > "$TMP/eval" 2>&1 \
  && grep -q "accuracy 0\.[78]" "$TMP/eval" && ok "its model downloads and evaluates: $(cat "$TMP/eval" | tail -1)" || fail "model: $(cat "$TMP/eval")"
"$GF" status "$J1" --token "$TA" --json | jget 'd["usage"]["core_s"] > 0 and d["usage"]["peak_mem_mb"] > 1' | grep -q True \
  && ok "usage recorded" || fail "usage: $("$GF" status "$J1" --token "$TA" --json)"

# ---- isolation ---------------------------------------------------------------
for r in "GET /v1/jobs/$J1" "GET /v1/jobs/$J1/logs" "GET /v1/jobs/$J1/model" "POST /v1/jobs/$J1/cancel" "GET /v1/usage?tenant=acme"; do
  out=$(api ${r% *} ${r#* } "$TB")
  c=$(echo "$out" | head -1)
  [ "$c" = 404 ] && ! echo "$out" | grep -q "a-ok" && ok "beta's token: $r -> 404" || fail "beta's token: $r -> $out"
done
api GET /v1/jobs "$TB" | grep -q "a-ok" && fail "beta's job list shows acme's job" || ok "beta's job list does not show acme's job"
api GET /v1/usage "$TB" | grep -q '"acme"' && fail "beta's usage shows acme" || ok "beta's usage has no acme rows"
for r in "GET /v1/queue" "GET /v1/fairshare" "GET /v1/tenants" "POST /v1/tenants" "POST /v1/tokens" "GET /metrics" "POST /v1/tokens/1/revoke"; do
  c=$(code ${r% *} ${r#* } "$TA" '{}')
  [ "$c" = 403 ] && ok "a member: $r -> 403" || fail "a member: $r -> $c"
done
FORGED="gf_$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' | head -c 43)"
sleep 1.2
"$GF" token revoke "$TRID" --token "$OP" > /dev/null
for t in "forged:$FORGED:unknown" "expired:$TX:expired" "revoked:$TR:revoked" "malformed:abc:malformed"; do
  name=${t%%:*}; rest=${t#*:}; tok=${rest%:*}; word=${rest##*:}
  for r in "GET /v1/jobs" "GET /v1/jobs/$J1" "GET /v1/usage" "GET /v1/whoami"; do
    out=$(api ${r% *} ${r#* } "$tok")
    [ "$(echo "$out" | head -1)" = 401 ] && echo "$out" | grep -q "$word" && ! echo "$out" | grep -q "a-ok" \
      || fail "$name token: $r -> $out"
  done
done
ok "forged, expired, revoked and malformed tokens get 401 with the reason on every route"
c=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" "$URL/v1/jobs"); [ "$c" = 401 ] && ok "no credentials -> 401" || fail "no credentials -> $c"
SITE="--cert $TMP/pki/sites/s1/site.crt --key $TMP/pki/sites/s1/site.key"
for r in /v1/jobs /v1/jobs/$J1 /v1/usage /v1/tenants /v1/queue /v1/whoami; do
  c=$(curl -s -o "$TMP/resp" -w '%{http_code}' --cacert "$CA" $SITE "$URL$r")
  [ "$c" = 403 ] && ! grep -q "a-ok" "$TMP/resp" && ok "a site certificate: $r -> 403" || fail "a site certificate: $r -> $c $(cat "$TMP/resp")"
done

# ---- bad input: 400 naming the field, nothing created -------------------------
before=$(api GET /v1/jobs "$OP" | tail -n +2 | jget 'len(d["jobs"])')
bad() {  # bad NAME WORD BODY
  out=$(api POST /v1/jobs "$TA" "$3")
  [ "$(echo "$out" | head -1)" = 400 ] && echo "$out" | grep -q -- "$2" && ok "$1: 400 $(echo "$out" | tail -n +2 | head -c 140)" \
    || fail "$1: $out"
}
bad "unknown key" "colour" "$(central x 1 60 | sed 's/}$/,"colour":"red"}/')"
bad "epochs as a string" "epochs" "$(central x 1 60 | sed 's/"epochs":1/"epochs":"1"/')"
bad "negative cores" "resources.cores" "$(central x 1 60 -2)"
bad "absurd memory" "resources.memory_mb" "$(central x 1 60 | sed 's/"memory_mb":4096/"memory_mb":1e15/')"
bad "more cores than the executor" "resources.cores" "$(central x 1 60 64)"
bad "unknown resources key" "resources.disk" "$(central x 1 60 | sed 's/"gpus":0/"gpus":0,"disk":5/')"
bad "not JSON" '"error":"job spec: invalid JSON' '{"kind": "central",'
bad "a model that does not parse" "model" "$(central x 1 60 1 'mlp:oops')"
out=$(api POST /v1/jobs "$TA" "$(central x 1 60 | sed 's/"kind":"central"/"kind":"central","tenant":"beta"/')")
[ "$(echo "$out" | head -1)" = 403 ] && ok "a member cannot submit for another tenant" || fail "tenant override: $out"
out=$(api POST /v1/tenants "$OP" '{"name":"x y","shares":-1}'); [ "$(echo "$out" | head -1)" = 400 ] && echo "$out" | grep -q name \
  && ok "bad tenant name: 400" || fail "bad tenant: $out"
out=$(api POST /v1/tenants "$OP" '{"name":"gamma","shares":0}'); echo "$out" | grep -q shares && ok "zero shares: 400" || fail "zero shares: $out"
refused() {  # refused NAME STATUS WORD METHOD PATH TOKEN [BODY]
  out=$(api "$4" "$5" "$6" "${7:-}")
  [ "$(echo "$out" | head -1)" = "$2" ] && echo "$out" | grep -q -- "$3" && ok "$1: $2" || fail "$1: $out"
}
refused "negative quota" 400 "quota.cpu_hours" POST /v1/tenants "$OP" '{"name":"gamma","shares":1,"quota":{"cpu_hours":-1}}'
refused "unknown tenant key" 400 "colour" POST /v1/tenants "$OP" '{"name":"gamma","shares":1,"colour":1}'
refused "a role that is none" 400 "role" POST /v1/tokens "$OP" '{"tenant":"acme","role":"king"}'
refused "a negative expiry" 400 "expires_in_s" POST /v1/tokens "$OP" '{"tenant":"acme","expires_in_s":-5}'
refused "a token for no tenant" 400 "no tenant" POST /v1/tokens "$OP" '{"tenant":"nobody"}'
refused "usage since a non-date" 400 "since" GET "/v1/usage?since=yesterday" "$OP"
refused "logs of a bad stream" 400 "stream" GET "/v1/jobs/$J1/logs?stream=stdin" "$TA"
refused "logs from a negative offset" 400 "offset" GET "/v1/jobs/$J1/logs?offset=-1" "$TA"
after=$(api GET /v1/jobs "$OP" | tail -n +2 | jget 'len(d["jobs"])')
[ "$before" = "$after" ] && ok "no job was created by the refused specs" || fail "jobs $before -> $after"
api GET /v1/tenants "$OP" | grep -q gamma && fail "a refused tenant was created" || ok "no tenant was created by the refused bodies"

# ---- quota hold, then released ---------------------------------------------------
central b-held 1 600 > "$TMP/held.json"
JB=$("$GF" submit "$TMP/held.json" --token "$TB")
# the scheduler writes the reason in its own time: wait for it (bounded), never a fixed sleep
t=0; until r=$("$GF" status "$JB" --token "$TB" --json | jget 'd["state"]+": "+d["reason"]'); case "$r" in "queued: held"*) true ;; *) false ;; esac; do
  sleep 0.2; t=$((t+1)); [ $t -gt 300 ] && break; done
case "$r" in "queued: held: tenant beta's quota"*) ok "beta's job is held: $r" ;; *) fail "quota hold: $r" ;; esac
"$GF" tenant set beta --shares 60 --quota cpu-hours=10 --token "$OP" > /dev/null
token_wait_state "$JB" succeeded 120 && ok "released once the quota was raised" || fail "after raising the quota"

# ---- cancel stops the whole process tree; the time limit ----------------------------
central a-long 100000 3600 > "$TMP/long.json"
JL=$("$GF" submit "$TMP/long.json" --token "$TA")
token_wait_state "$JL" running 60 || fail "long job did not start"
PG=$(api GET /v1/jobs/$JL "$OP" | tail -n +2 | jget '[e["reason"] for e in d["state_log"] if e["to"]=="running"][0].split("process ")[1].split(":")[0]')
kill -0 -"$PG" 2>/dev/null && ok "job $JL runs as process group $PG" || fail "process group $PG not found"
"$GF" cancel "$JL" --token "$TA" > /dev/null
token_wait_state "$JL" cancelled 30 && ok "cancelled" || fail "cancel"
kill -0 -"$PG" 2>/dev/null && fail "process group $PG still alive after cancel" || ok "its process group is gone"
central a-slow 100000 2 > "$TMP/slow.json"
JT=$("$GF" submit "$TMP/slow.json" --token "$TA")
token_wait_state "$JT" timed-out 60 && "$GF" status "$JT" --token "$TA" | grep -q "time limit of 2 s" && ok "time limit: timed-out with the reason" \
  || fail "time limit: $("$GF" status "$JT" --token "$TA")"

# ---- kill -9 with jobs queued and running ----------------------------------------------
# pinning: a job that starts while another runs gets the free core, also after
# a third job came and went on the other one
pg_of() { api GET /v1/jobs/$1 "$OP" | tail -n +2 | jget '[e["reason"] for e in d["state_log"] if e["to"]=="running"][0].split("process ")[1].split(":")[0]'; }
cpus_of() { sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/"$1"/status; }
central a-r1 100000 3600 > "$TMP/r1.json"
central a-short 1 600 > "$TMP/short.json"
R1=$("$GF" submit "$TMP/r1.json" --token "$TA")
token_wait_state "$R1" running 60 || fail "job $R1 did not start"
S=$("$GF" submit "$TMP/short.json" --token "$TA")
token_wait_state "$S" succeeded 120 || fail "short job $S"
R2=$("$GF" submit "$TMP/r1.json" --token "$TA")
token_wait_state "$R2" running 60 || fail "job $R2 did not start"
if [ "$(nproc)" -ge 2 ]; then
  c1=$(cpus_of "$(pg_of "$R1")"); c2=$(cpus_of "$(pg_of "$R2")")
  [ -n "$c1" ] && [ "$c1" != "$c2" ] && ok "side by side jobs are pinned to different cores ($c1, $c2)" \
    || fail "jobs $R1 and $R2 share cores: '$c1' and '$c2'"
fi
central b-q 1 60 2 > "$TMP/q.json"                 # 2 cores: waits for both running jobs
Q=$("$GF" submit "$TMP/q.json" --token "$TB")
sleep 1
[ "$(state "$Q")" = queued ] && ok "job $Q waits: $("$GF" status "$Q" --token "$OP" --json | jget 'd["reason"]')" || fail "job $Q is $(state "$Q")"
PG1=$(pg_of "$R1")
kill -9 "$FED_CO_PID"; wait "$FED_CO_PID" 2>/dev/null
kill -0 -"$PG1" 2>/dev/null && ok "the running job outlived the coordinator (an orphan)" || fail "job processes vanished with the coordinator"
fed_coordinator "$TMP" --cores 2 --fairshare-half-life 60 || { fail "restart"; finish; exit 1; }
URL=${FED_URL%/}; export GF_COORDINATOR="$URL"
for j in $R1 $R2; do
  r=$("$GF" status "$j" --token "$OP" --json | jget 'd["state"]+": "+d["reason"]')
  case "$r" in "failed: the coordinator restarted"*) ok "job $j: $r" ;; *) fail "job $j after restart: $r" ;; esac
done
# alive: a process of the group that is not a zombie (an orphan's zombie
# waits for whatever reaps orphans here, which may be nobody in a container)
group_runs() { for _s in /proc/[0-9]*/stat; do awk -v g="$1" '$5 == g && $3 != "Z" { f = 1 } END { exit !f }' "$_s" 2>/dev/null && return 0; done; return 1; }
t=0; while group_runs "$PG1" && [ $t -lt 300 ]; do sleep 0.1; t=$((t+1)); done   # killed ones take a moment to go
group_runs "$PG1" && fail "the orphaned job's processes still run 30 s after the restart" || ok "the orphaned processes were stopped"
token_wait_state "$Q" succeeded 120 && ok "the queued job was kept and ran after the restart" || fail "queued job after restart"
$PY - "$TMP/data/state.db" <<'PYEOF' > "$TMP/ledger" 2>&1 && ok "ledger: $(tail -1 "$TMP/ledger")" || { fail "ledger"; cat "$TMP/ledger"; }
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
final = [r[0] for r in db.execute("SELECT id FROM jobs WHERE state NOT IN ('queued','running') AND kind='central' AND id IN (SELECT job_id FROM job_exec)")]
rows = dict(db.execute("SELECT job_id, count(*) FROM ledger WHERE site='' GROUP BY job_id").fetchall())
live = [r[0] for r in db.execute("SELECT id FROM jobs WHERE state IN ('queued','running')")]
assert all(rows.get(j) == 1 for j in final), ("a finished job is not in the ledger exactly once", final, rows)
assert not any(j in rows for j in live), ("an unfinished job is in the ledger", live, rows)
for j, w, c in db.execute("SELECT job_id, wall_s, core_s FROM ledger"):
    assert w >= 0 and c >= 0
try:
    db.execute("UPDATE ledger SET core_s = 0"); db.commit(); raise SystemExit("the ledger accepted an UPDATE")
except sqlite3.DatabaseError as e:
    assert "append-only" in str(e)
try:
    db.execute("DELETE FROM ledger"); db.commit(); raise SystemExit("the ledger accepted a DELETE")
except sqlite3.DatabaseError as e:
    assert "append-only" in str(e)
print("%d finished jobs, each exactly once; no row for %d unfinished; UPDATE and DELETE refused" % (len(final), len(live)))
PYEOF
"$GF" usage --token "$OP" --csv | $PY -c 'import csv,sys; r=list(csv.DictReader(sys.stdin)); assert len(r)>=6 and all(float(x["core_s"])>=0 for x in r); print(len(r))' > /dev/null \
  && ok "gf usage --csv" || fail "gf usage --csv"
api GET /metrics "$OP" | grep -q "^gf_central_queue_length 0" && ok "/metrics has the queue length" || fail "metrics: $(api GET /metrics "$OP" | grep central)"
finish
