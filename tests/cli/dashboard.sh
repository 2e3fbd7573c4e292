# The web dashboard end to end: a real gf coordinator on 127.0.0.1, two
# tenants with a member token each (created through the API with the
# operator's token), a short central job per tenant, then tests/dashboard.py
# drives headless Chromium through the pages: a member sees their job and its
# charts but not the other tenant's job, the operator sees the queue, the
# fair-share tree and the usage; a screenshot must not be blank and the
# browser console must stay free of errors. As root with bubblewrap, a
# program job too: its metrics lines (one with HTML for a key) become one
# chart per number, fetched after a byte cursor (?metrics_after=) while it runs.
# Needs Debian's chromium, chromium-driver and python3-selenium, curl, openssl.
. tests/cli_lib.sh
. scripts/fed_local.sh
PY=/usr/bin/python3

# Stops the coordinator (SIGTERM, so that it ends the jobs it started; SIGKILL
# after 10 s), then anything else started here, and removes the temp folder
# unless GF_KEEP_TMP=1.
cleanup() {
  if [ -n "${FED_CO_PID:-}" ]; then
    kill -TERM "$FED_CO_PID" 2>/dev/null
    _t=0
    while [ $_t -lt 100 ] && [ -e "/proc/$FED_CO_PID" ] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$FED_CO_PID/stat" 2>/dev/null; do
      sleep 0.1; _t=$((_t+1))
    done
  fi
  fed_down
  if [ "${GF_KEEP_TMP:-0}" = 1 ]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

for tool in /usr/bin/chromium /usr/bin/chromedriver curl openssl; do
  command -v "$tool" > /dev/null || { fail "$tool is not installed"; finish; exit 1; }
done
$PY -c 'import selenium' 2>/dev/null || { fail "$PY cannot import selenium (Debian package python3-selenium)"; finish; exit 1; }

"$GF" provision --out "$TMP/pki" --coordinator 127.0.0.1 --sites s0,s1 > /dev/null || { fail "gf provision"; finish; exit 1; }
fed_coordinator "$TMP" || { fail "coordinator start"; finish; exit 1; }
URL=${FED_URL%/}
CA="$TMP/pki/coordinator/ca.crt"
t=0
while [ ! -s "$TMP/data/operator.token" ] && [ $t -lt 100 ]; do sleep 0.1; t=$((t+1)); done
[ -s "$TMP/data/operator.token" ] || { fail "no operator token in $TMP/data/operator.token"; finish; exit 1; }
OP=$(cat "$TMP/data/operator.token")
ok "coordinator on $URL, operator token read"

# api EXPECTED_STATUS TOKEN METHOD PATH [BODY]: the answer's body goes to
# $TMP/resp; fails (with the body) when the status is not EXPECTED_STATUS.
api() {
  _want=$1; _tok=$2; _method=$3; _path=$4
  if [ $# -ge 5 ]; then
    _code=$(curl -sS --max-time 30 --cacert "$CA" -o "$TMP/resp" -w '%{http_code}' -X "$_method" \
      -H "Authorization: Bearer $_tok" -H 'Content-Type: application/json' --data-binary "$5" "$URL$_path")
  else
    _code=$(curl -sS --max-time 30 --cacert "$CA" -o "$TMP/resp" -w '%{http_code}' -X "$_method" \
      -H "Authorization: Bearer $_tok" "$URL$_path")
  fi || { echo "curl $_method $_path failed"; return 1; }
  [ "$_code" = "$_want" ] && return 0
  echo "$_method $_path: HTTP $_code, expected $_want: $(head -c 400 "$TMP/resp")"
  return 1
}
# json KEY: that key of the JSON object in $TMP/resp
json() { $PY -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$TMP/resp" "$1"; }

TA=acme
TB=initech
for t in $TA $TB; do
  api 201 "$OP" POST /v1/tenants "{\"name\": \"$t\", \"shares\": 1, \"quota\": {\"cpu_hours\": 100, \"gpu_hours\": 10}}" \
    && ok "tenant $t created" || { fail "POST /v1/tenants $t"; finish; exit 1; }
  api 201 "$OP" POST /v1/tokens "{\"tenant\": \"$t\", \"role\": \"member\"}" && json token > "$TMP/token-$t" \
    && [ -s "$TMP/token-$t" ] && ok "member token for $t" || { fail "POST /v1/tokens for $t"; finish; exit 1; }
  chmod 600 "$TMP/token-$t"
done

job_body() {
  printf '{"kind": "central", "name": "%s", "model": "mlp:784-64-10", "dataset": "fashion-mnist", "epochs": 1, "batch": 64,' "$1"
  printf ' "optim": {"name": "adamw", "lr": 0.001}, "seed": 1,'
  printf ' "resources": {"cores": 1, "gpus": 0, "memory_mb": 2048, "time_limit_s": 600}}'
}
NA=a-mlp-dashboard
NB=b-mlp-private
api 201 "$(cat "$TMP/token-$TA")" POST /v1/jobs "$(job_body $NA)" && JA=$(json id) \
  && ok "job $JA \"$NA\" submitted by $TA" || { fail "POST /v1/jobs as $TA"; finish; exit 1; }
api 201 "$(cat "$TMP/token-$TB")" POST /v1/jobs "$(job_body $NB)" && JB=$(json id) \
  && ok "job $JB \"$NB\" submitted by $TB" || { fail "POST /v1/jobs as $TB"; finish; exit 1; }
api 404 "$(cat "$TMP/token-$TA")" GET "/v1/jobs/$JB" && ok "the API hides job $JB from $TA (404)" \
  || fail "GET /v1/jobs/$JB with $TA's token"

# wait_job ID TOKEN: until the job is final; succeeded or fail with its logs
wait_job() {
  _t=0; _s=
  while [ $_t -lt 3000 ]; do
    api 200 "$2" GET "/v1/jobs/$1" > /dev/null && _s=$(json state)
    case "$_s" in succeeded) return 0 ;; failed|cancelled|timed-out) break ;; esac
    sleep 0.1; _t=$((_t+1))
  done
  echo "job $1 is \"$_s\": $(head -c 600 "$TMP/resp")"
  api 200 "$2" GET "/v1/jobs/$1/logs?stream=stderr" > /dev/null && tail -20 "$TMP/resp"
  tail -5 "$TMP/coordinator.log"
  return 1
}
wait_job "$JA" "$(cat "$TMP/token-$TA")" && ok "job $JA succeeded" || { fail "job $JA did not succeed"; finish; exit 1; }
# B's job too, so that no training process outlives the test
wait_job "$JB" "$(cat "$TMP/token-$TB")" && ok "job $JB succeeded" || fail "job $JB did not succeed"

# a federated job of tenant A with two real sites (DP-SGD at each): its page
# plots per round and lists each site's own epsilon
small_idx "$TMP/d" 1000 200
api 201 "$OP" POST /v1/datasets "{\"name\": \"d\", \"path\": \"$TMP/d\", \"tenants\": [\"$TA\"]}" || fail "register dataset d"
for i in 0 1; do
  fed_site "$TMP" s$i --data "idx:$TMP/d" --partition iid --shard $i/2 --threads 1
  api 201 "$OP" POST /v1/site-grants "{\"site\": \"s$i\", \"tenant\": \"$TA\"}" || fail "grant s$i to $TA"
done
NF=a-fed-dashboard
FED_ROUNDS=4
api 201 "$(cat "$TMP/token-$TA")" POST /v1/jobs "{\"name\": \"$NF\", \"model\": \"mlp:784-16-10\", \"dataset\": \"fashion-mnist\",
  \"strategy\": {\"name\": \"fedavg\"}, \"rounds\": $FED_ROUNDS, \"min_sites\": 2, \"round_deadline_s\": 60,
  \"local\": {\"epochs\": 1, \"batch\": 32, \"optim\": {\"name\": \"sgd\", \"lr\": 0.05},
              \"dp_sgd\": {\"clip\": 1.0, \"noise\": 1.1}}, \"seed\": 2,
  \"eval\": \"d:test\", \"eval_every\": 2}" && JF=$(json id) && ok "federated job $JF submitted by $TA" \
  || { fail "POST /v1/jobs (federated) as $TA"; finish; exit 1; }
wait_job "$JF" "$(cat "$TMP/token-$TA")" && ok "federated job $JF succeeded" || { fail "federated job $JF"; finish; exit 1; }

# a program job of tenant A (root and bubblewrap: its sandbox): 3 metrics
# lines, one whose key is HTML (and text values, an over-long line, one with
# a NUL byte, a line that is not JSON: not charted), then it waits for the file "go" in its
# folder before it appends steps 4 and 5
PROG_ARGS=
if [ "$(id -u)" = 0 ] && [ -x /usr/bin/bwrap ]; then
  mkdir -p "$TMP/prog"
  cat > "$TMP/prog/m.py" <<'PY'
import json, os, time
m = open(os.environ["GF_METRICS"], "a")
def put(d):
    m.write(json.dumps(d) + "\n"); m.flush()
for k in (1, 2, 3):
    put({"step": k, "loss": 1.0 / k, "acc": 0.5 + 0.1 * k})
put({"<img src=x onerror=window.__gfPwned=1>": 7, "huge": "A" * 3000, "note": "<script>window.__gfPwned=2</script>"})
m.write('{"x": "' + "B" * 10000 + '", "y": 1}\n')
m.write('{"step": 99, "z": 1}\0{"step": 98}\n')
m.write("not json\n"); m.flush()
t = time.time()
while not os.path.exists("go") and time.time() - t < 120:
    time.sleep(0.05)
for k in (4, 5):
    put({"step": k, "loss": 1.0 / k, "acc": 0.5 + 0.1 * k})
PY
  printf '{"kind":"program","name":"a-program","command":["/usr/bin/python3","m.py"],"resources":{"cores":1,"memory_mb":512,"time_limit_s":200}}' > "$TMP/prog.json"
  JP=$(GF_COORDINATOR="$URL" GF_CA="$CA" "$GF" submit "$TMP/prog.json" --files "$TMP/prog" --token "$(cat "$TMP/token-$TA")") \
    && ok "program job $JP submitted by $TA" || { fail "gf submit (program job)"; finish; exit 1; }
  # its first 4 records, then: the cursor gives nothing new while it waits
  _t=0
  while [ $_t -lt 300 ]; do
    api 200 "$(cat "$TMP/token-$TA")" GET "/v1/jobs/$JP" > /dev/null \
      && [ "$($PY -c 'import json, sys; print(json.load(open(sys.argv[1])).get("metrics_lines"))' "$TMP/resp")" = 4 ] && break
    sleep 0.1; _t=$((_t+1))
  done
  NEXT=$(json metrics_next)
  $PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
want = [{"step": k, "loss": 1.0 / k, "acc": 0.5 + 0.1 * k} for k in (1, 2, 3)] + [{"<img src=x onerror=window.__gfPwned=1>": 7}]
assert d["metrics"] == want and d["metrics_from"] == 0 and d["metrics_next"] == int(sys.argv[2]), d
assert d["step"] == 3, d["step"]' "$TMP/resp" "$(wc -c < "$TMP/data/jobs/$JP/work/metrics.jsonl")" \
    && ok "program job $JP: its 4 records, metrics_next = the file's size, step 3" \
    || fail "program job $JP's status: $(head -c 600 "$TMP/resp")"
  api 200 "$(cat "$TMP/token-$TA")" GET "/v1/jobs/$JP?metrics_after=$NEXT" > /dev/null \
    && [ "$(json metrics)" = "[]" ] && [ "$(json metrics_from)" = "$NEXT" ] && [ "$(json metrics_next)" = "$NEXT" ] \
    && ok "?metrics_after=$NEXT: no lines yet" || fail "?metrics_after=$NEXT while it waits: $(head -c 400 "$TMP/resp")"
  api 400 "$(cat "$TMP/token-$TA")" GET "/v1/jobs/$JP?metrics_after=-1" > /dev/null \
    && grep -q metrics_after "$TMP/resp" && ok "?metrics_after=-1: 400" || fail "?metrics_after=-1"
  PROG_ARGS="--program-job $JP --program-go $TMP/data/jobs/$JP/work/go"
else
  echo "SKIP (program job): needs root and /usr/bin/bwrap for its sandbox"
fi

# the browser accepts exactly this certificate's key
SPKI=$(openssl x509 -in "$TMP/pki/coordinator/coordinator.crt" -pubkey -noout | openssl pkey -pubin -outform der \
       | openssl dgst -sha256 -binary | openssl base64 -A)
[ -n "$SPKI" ] || { fail "SPKI hash of the coordinator's certificate"; finish; exit 1; }
printf '%s\n' "$OP" > "$TMP/token-operator"
chmod 600 "$TMP/token-operator"
$PY tests/dashboard.py --url "$URL/" --cacert "$CA" --spki "$SPKI" \
    --operator-token-file "$TMP/token-operator" --member-token-file "$TMP/token-$TA" \
    --tenant $TA --other-tenant $TB --job "$JA" --job-name $NA --other-job "$JB" --other-job-name $NB \
    --fed-job "$JF" --fed-rounds $FED_ROUNDS $PROG_ARGS --out "$TMP/browser" \
  && ok "dashboard in headless Chromium" || { fail "dashboard in headless Chromium"; tail -5 "$TMP/coordinator.log"; }
if [ -n "$PROG_ARGS" ]; then
  # after the cursor: the lines appended since (steps 4..4505 by now), the
  # first 2000 of them, and metrics_next just after the last one listed
  MF="$TMP/data/jobs/$JP/work/metrics.jsonl"
  wait_job "$JP" "$(cat "$TMP/token-$TA")" || fail "program job $JP did not succeed"
  api 200 "$(cat "$TMP/token-$TA")" GET "/v1/jobs/$JP?metrics_after=$NEXT" > /dev/null && $PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
data = open(sys.argv[3], "rb").read()
end = data.index(b"\"step\": 2003,")
end = data.index(b"\n", end) + 1
want = [{"step": k, "loss": 1.0 / k, "acc": 0.5 + 0.1 * k} for k in range(4, 2004)]
assert d["metrics"] == want, "metrics: %d lines from step %s" % (len(d["metrics"]), d["metrics"][0].get("step"))
assert d["metrics_from"] == int(sys.argv[2]) and d["metrics_next"] == end, (d["metrics_from"], d["metrics_next"], end)' \
    "$TMP/resp" "$NEXT" "$MF" \
    && ok "?metrics_after=$NEXT once it ended: steps 4..2003 (2000 lines), metrics_next after step 2003" \
    || fail "?metrics_after=$NEXT: $(head -c 300 "$TMP/resp")"
  # a reader more than 4 MiB behind gets the last lines instead
  $PY -c '
import json, sys
with open(sys.argv[1], "a") as f:
    for k in range(4506, 4506 + 90000):
        f.write(json.dumps({"step": k, "loss": 1.0 / k, "pad": 1e-300}) + "\n")' "$MF"
  api 200 "$(cat "$TMP/token-$TA")" GET "/v1/jobs/$JP?metrics_after=$NEXT" > /dev/null && $PY -c '
import json, os, sys
d = json.load(open(sys.argv[1]))
size = os.path.getsize(sys.argv[3])
assert size - int(sys.argv[2]) > 4 << 20, size
steps = [m["step"] for m in d["metrics"]]
assert steps == list(range(4506 + 90000 - 2000, 4506 + 90000)), (steps[:2], steps[-2:], len(steps))
assert d["metrics_from"] != int(sys.argv[2]) and size - d["metrics_from"] <= 4 << 20 and d["metrics_next"] == size, d["metrics_from"]' \
    "$TMP/resp" "$NEXT" "$MF" \
    && ok "?metrics_after=$NEXT more than 4 MiB behind the end: the last 2000 lines, metrics_from moved" \
    || fail "?metrics_after=$NEXT far behind: $(head -c 300 "$TMP/resp")"
fi
finish
