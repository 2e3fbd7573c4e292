# Secure aggregation with real processes over TLS: gf coordinator and four
# gf site processes, each keeping its own quantised inputs (--secagg-record).
#  - A 2-round FedAvg job: round 2's model equals, bit for bit, the model of
#    round 1 plus FedAvg of the plain sum of the four recorded inputs
#    (recomputed here in Python's IEEE doubles, rounded to float as gf does).
#  - Secrecy: no 32-byte window of any site's input appears in anything the
#    coordinator stored or logged (data folder, audit log, its stderr), while
#    the same scan finds the model it stored.
#  - A site frozen before it sends keys: the key phase closes at its
#    deadline and the round completes with the three others.
#  - Client-level DP under secure aggregation (noise from the sites): the job
#    runs and reports epsilon; adaptive clipping, masked and central.
#  - FedAvgM, FedProx and FedAdam on the masked sum.
. tests/cli_lib.sh
. scripts/fed_local.sh
trap 'kill -CONT $FED_SITE_PID_s3 2>/dev/null; fed_down; rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM HUP
small_idx "$TMP/d" 2000 500
fed_provision "$TMP" 4
fed_coordinator "$TMP" || { fail "coordinator start"; finish; exit 1; }
for i in 0 1 2 3; do
  mkdir -p "$TMP/rec/s$i"
  fed_site "$TMP" s$i --data "idx:$TMP/d" --partition iid --shard $i/4 --threads 1 --secagg-record "$TMP/rec/s$i"
done
export GF_KIT="$TMP/pki/operator"
C="--coordinator $FED_URL"
"$GF" dataset add d --path "$TMP/d" --public $C > /dev/null || fail "dataset add d"

cat > "$TMP/job.json" <<SPEC
{"name": "secure", "model": "mlp:784-16-10", "dataset": "fashion-mnist",
 "strategy": {"name": "fedavg"}, "rounds": 2, "sites": "all", "min_sites": 4, "round_deadline_s": 60,
 "local": {"epochs": 1, "batch": 32, "optim": {"name": "sgd", "lr": 0.05, "momentum": 0.9}}, "seed": 3,
 "eval": "d:test", "secure_aggregation": {}}
SPEC
"$GF" submit "$TMP/job.json" $C > /dev/null || fail "submit"
fed_wait_state "$TMP" 1 succeeded 120 && ok "secure job succeeded" || { fail "secure job"; tail -5 "$TMP/coordinator.log"; }
"$GF" status 1 $C | grep -q "round    2  sites   4" && ok "status: round 2 with 4 sites" || fail "status: $("$GF" status 1 $C)"

python3 - "$TMP" <<'PY' && ok "round 2 = round 1 + FedAvg of the plain quantised sum, bit for bit" || fail "exactness"
import glob, json, struct, sys
tmp = sys.argv[1]
def st_load(path):                       # safetensors -> {name: list of floats}
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n]); base = 8 + n
    return {k: struct.unpack("<%df" % ((v["data_offsets"][1] - v["data_offsets"][0]) // 4),
                             b[base + v["data_offsets"][0]:base + v["data_offsets"][1]])
            for k, v in h.items() if k != "__metadata__" and not k.startswith("gf.state")}
f32 = lambda x: struct.unpack("<f", struct.pack("<f", x))[0]
order = ["0.weight", "0.bias", "2.weight", "2.bias"]                     # the flat vector's order
arts = sorted(glob.glob(tmp + "/data/artifacts/job-1/round-*.safetensors"))
assert len(arts) == 2, arts
g1, g2 = st_load(arts[0]), st_load(arts[1])
flat1 = [x for k in order for x in g1[k]]; flat2 = [x for k in order for x in g2[k]]
recs = sorted(glob.glob(tmp + "/rec/s*/job-1-round-2.u32"))
assert len(recs) == 4, recs
d = len(flat1)
z = [0] * (d + 1)
for r in recs:
    q = struct.unpack("<%dI" % (d + 1), open(r, "rb").read())
    z = [(a + b) & 0xFFFFFFFF for a, b in zip(z, q)]
n, clip = 4, f32(8.0)
scale = float((2**31 - 1) // n) / clip
deq = [f32((v - 2**32 if v >= 2**31 else v) / scale) for v in z]
w = deq[d]
mean = [f32(v / w) for v in deq[:d]]
want = [f32(g + (w * m) / w) for g, m in zip(flat1, mean)]
bad = sum(1 for a, b in zip(want, flat2) if struct.pack("<f", a) != struct.pack("<f", b))
assert bad == 0, "%d of %d coordinates differ" % (bad, d)
PY

python3 - "$TMP" <<'PY' && ok "no window of any site's input in the coordinator's files; the scan finds its model" || fail "secrecy scan"
import glob, os, sys
tmp = sys.argv[1]
stored = []
for root, _, files in os.walk(tmp + "/data"):
    stored += [open(os.path.join(root, f), "rb").read() for f in files]
stored.append(open(tmp + "/coordinator.log", "rb").read())
blob = b"\0".join(stored)
recs = glob.glob(tmp + "/rec/s*/*.u32")
assert len(recs) == 8, recs
checked = 0
for r in recs:
    q = open(r, "rb").read()
    for at in range(0, len(q) - 32, 4 * 97):
        win = q[at:at + 32]
        words = {win[i:i + 4] for i in range(0, 32, 4)}
        if len(words) < 8 or b"\0\0\0\0" in words: continue   # only windows of 8 distinct nonzero words
        checked += 1
        assert win not in blob, "%s bytes %d.. found" % (r, at)
assert checked > 100, checked
model = open(sorted(glob.glob(tmp + "/data/artifacts/job-1/*.safetensors"))[-1], "rb").read()
assert model[-4096:-4064] in blob
PY

# a secure-aggregation poll with an attempt token longer than any is refused before anything is looked up
SC="--cacert $TMP/pki/operator/ca.crt --cert $TMP/pki/sites/s1/site.crt --key $TMP/pki/sites/s1/site.key"
long=$(printf '%060d' 7)
code=$(curl -s -o "$TMP/long.json" -w '%{http_code}' $SC "${FED_URL}v1/jobs/1/rounds/1/secagg/keys?wait=0&attempt=$long")
[ "$code" = 400 ] && grep -q "attempt is too long" "$TMP/long.json" && ok "a 60-character attempt token: 400" \
  || fail "long attempt token -> $code $(cat "$TMP/long.json")"

# a site frozen in its long-poll is chosen but never sends keys
kill -STOP "$FED_SITE_PID_s3"
sed -e 's/"rounds": 2/"rounds": 1/' -e 's/"min_sites": 4/"min_sites": 3/' \
    -e 's/"secure_aggregation": {}/"secure_aggregation": {"phase_timeout_s": 2}/' -e 's/"secure"/"dropout"/' \
    "$TMP/job.json" > "$TMP/job2.json"
"$GF" submit "$TMP/job2.json" $C > /dev/null || fail "submit job 2"
# meanwhile the key phase waits for s3 (2 s): the three others' key-table
# polls are parked, with no thread waiting for any of them (/metrics)
OPC="--cacert $TMP/pki/operator/ca.crt --cert $TMP/pki/operator/site.crt --key $TMP/pki/operator/site.key"
parked=0; _i=0
while [ "$_i" -lt 100 ]; do
  parked=$(curl -s $OPC "${FED_URL}metrics" | sed -n 's/^gf_api_parked_polls{kind="secagg"} //p')
  [ "${parked:-0}" -ge 3 ] && break
  sleep 0.05; _i=$((_i+1))
done
[ "${parked:-0}" -ge 3 ] && ok "the 3 waiting sites' secure-aggregation polls were parked" \
  || fail "parked secure-aggregation polls: '${parked}', want 3"
fed_wait_state "$TMP" 2 succeeded 120 && ok "job 2 succeeded with s3 frozen" || { fail "job 2"; tail -5 "$TMP/coordinator.log"; }
"$GF" status 2 $C --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
assert s["rounds"][0]["sites"] == 3, s["rounds"]' && ok "the round completed with the 3 sites that sent keys" \
  || fail "job 2 rounds: $("$GF" status 2 $C)"
grep -q '"phase":"shares"' "$TMP/data/audit.log" && ok "audit: secagg phases" || fail "audit lacks secagg.phase"
kill -CONT "$FED_SITE_PID_s3"

# client-level DP under secure aggregation: the sites clip and add the noise
sed -e 's/"rounds": 2/"rounds": 1/' -e 's/"seed": 3,/"seed": 3, "dp": {"clip": 0.5, "noise": 1.0},/' -e 's/"secure"/"dp-secure"/' \
    "$TMP/job.json" > "$TMP/job3.json"
"$GF" submit "$TMP/job3.json" $C > /dev/null || fail "submit job 3"
fed_wait_state "$TMP" 3 succeeded 120 || { fail "job 3"; tail -5 "$TMP/coordinator.log"; }
want=$("$GF" dp epsilon --noise 1 --sample-rate 1 --steps 1 --delta 1e-5 | sed -n 's/^epsilon \([0-9.]*\).*/\1/p')
"$GF" status 3 $C --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
assert abs(s["dp"]["epsilon"] - float(sys.argv[1])) < 1e-6 and s["rounds"][0]["sites"] == 4, s' "$want" \
  && ok "DP under secure aggregation: 1 round, epsilon $want" || fail "job 3: $("$GF" status 3 $C --json | head -c 400)"
# adaptive clipping, under secure aggregation (the count travels masked) and
# central: every update's norm is far above the starting clip 0.005, so the
# unclipped fraction is 0 (noised with std 0.2 / 4 sites) and the clip grows
# by exp(0.5 * (0.5 - f)), 0.25 +- 0.025 in log, a round
jn=4
for sa in ', "secure_aggregation": {}' ''; do
  sed -e 's/"rounds": 2/"rounds": 3/' -e 's/, "secure_aggregation": {}//' \
      -e "s/\"seed\": 3,/\"seed\": 3, \"dp\": {\"clip\": 0.005, \"noise\": 0.2, \"adaptive\": {\"lr\": 0.5, \"count_noise\": 0.2}},/" \
      -e "s/\"idx:\$TMP\/d:test\"/\"idx:\$TMP\/d:test\"$sa/" -e "s/\"secure\"/\"adaptive-$jn\"/" "$TMP/job.json" > "$TMP/job$jn.json"
  grep -q adaptive "$TMP/job$jn.json" || fail "job $jn spec"
  "$GF" submit "$TMP/job$jn.json" $C > /dev/null || fail "submit job $jn"
  fed_wait_state "$TMP" $jn succeeded 120 || { fail "job $jn"; tail -5 "$TMP/coordinator.log"; }
  "$GF" download $jn --out "$TMP/adaptive$jn.safetensors" $C > /dev/null || fail "download $jn"
  python3 - "$TMP/adaptive$jn.safetensors" <<'PY' && ok "adaptive clipping${sa:+ under secure aggregation}: the clip grew from 0.005 over 3 rounds" || fail "adaptive job $jn"
import json, struct, sys
b = open(sys.argv[1], "rb").read()
meta = json.loads(b[8:8 + struct.unpack("<Q", b[:8])[0]])["__metadata__"]
used, nxt = float(meta["gf.dp_clip"]), float(meta["gf.dp_clip_next"])
assert meta["gf.round"] == "3" and 0.005 * 1.3 < used < nxt, meta
PY
  jn=$((jn+1))
done
# adaptive clipping whose noise split cannot work for 4 sites (count noise
# 4 / 20 is not above noise / 2): the job fails at once, saying what to set
sed -e "s/\"seed\": 3,/\"seed\": 3, \"dp\": {\"clip\": 1, \"noise\": 1.0, \"adaptive\": {}},/" -e "s/\"secure\"/\"bad-split\"/" \
    "$TMP/job.json" > "$TMP/job$jn.json"
"$GF" submit "$TMP/job$jn.json" $C > /dev/null || fail "submit job $jn"
fed_wait_state "$TMP" $jn failed 60 && "$GF" status $jn $C | grep -q "set dp.adaptive.count_noise above 0.5" \
  && ok "adaptive clipping that cannot split its noise: the job fails naming count_noise" || fail "job $jn: $("$GF" status $jn $C)"
jn=$((jn+1))

# the other sum-based strategies run on the masked sum too (server state included)
for strat in '{"name": "fedavgm", "momentum": 0.9}' '{"name": "fedprox", "mu": 0.01}' '{"name": "fedadam"}'; do
  sed -e "s/\"strategy\": {\"name\": \"fedavg\"}/\"strategy\": $strat/" -e "s/\"secure\"/\"secure-$jn\"/" \
      "$TMP/job.json" > "$TMP/job$jn.json"
  "$GF" submit "$TMP/job$jn.json" $C > /dev/null || fail "submit job $jn"
  fed_wait_state "$TMP" $jn succeeded 120 && "$GF" status $jn $C | grep -q "round    2  sites   4" \
    && ok "$strat under secure aggregation: 2 rounds with 4 sites" || fail "$strat: $("$GF" status $jn $C)"
  jn=$((jn+1))
done
"$GF" audit verify "$TMP/data/audit.log" > /dev/null && ok "audit log verifies" || fail "audit verify"
finish
