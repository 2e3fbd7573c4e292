# Per-site evaluation in a real federation (gf coordinator, four gf site
# processes, each with its own CSV files): a job with "eval_every": 2 over 3
# rounds has the sites score the global model after round 2 and, in an
# evaluation round of its own, the final model; gf status and the API show
# each site's loss, accuracy, AUC, sensitivity and specificity and their
# means weighted by test samples. Checked against independent computations:
# gf eval of the downloaded final model on each site's test file gives the
# same loss and accuracy; AUC, sensitivity and specificity recomputed in
# Python from the downloaded weights; the weighted means recomputed. A site
# without a test split trains, and declines the evaluation round, saying why.
. tests/cli_lib.sh
. scripts/fed_local.sh
trap 'fed_down; rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM HUP
/usr/bin/python3 - "$TMP" <<'PY'
import random, sys
d = sys.argv[1]
random.seed(11)
def rows(n, shift):
    out = []
    for _ in range(n):
        x = [random.gauss(shift, 1) for _ in range(4)]
        y = int(x[0] - 0.5 * x[1] + 0.3 * x[2] + random.gauss(0, 0.7) > shift * 0.8)
        out.append(x + [y])
    return out
for i, (ntr, nte, shift) in enumerate([(240, 60, 0.0), (160, 40, 0.5), (200, 90, -0.4), (150, 0, 0.2)]):
    for name, n in (("train", ntr), ("test", nte)):
        if n == 0: continue
        with open("%s/s%d-%s.csv" % (d, i, name), "w") as f:
            f.write("a,b,c,e,label\n")
            for r in rows(n, shift): f.write("%.6f,%.6f,%.6f,%.6f,%d\n" % tuple(r))
PY
fed_provision "$TMP" 4
fed_coordinator "$TMP" || { fail "coordinator start"; finish; exit 1; }
for i in 0 1 2; do fed_site "$TMP" s$i --data "csv:$TMP/s$i-train.csv,test=$TMP/s$i-test.csv" --threads 1 --val-fraction 0; done
fed_site "$TMP" s3 --data "csv:$TMP/s3-train.csv" --threads 1 --val-fraction 0     # no test split
export GF_KIT="$TMP/pki/operator"
C="--coordinator $FED_URL"
cat > "$TMP/job.json" <<SPEC
{"name": "site-eval", "model": "mlp:4-8-2", "strategy": {"name": "fedavg"}, "rounds": 3, "min_sites": 4,
 "round_deadline_s": 30, "local": {"epochs": 1, "batch": 16, "optim": {"name": "sgd", "lr": 0.1}},
 "seed": 5, "eval_every": 2}
SPEC
"$GF" submit "$TMP/job.json" $C --wait --timeout 120 > /dev/null && ok "the job succeeded" \
  || { fail "job: $("$GF" status 1 $C)"; tail -5 "$TMP/coordinator.log"; }
grep -q "gf site: data: 240 training samples, 60 test samples (test split: the file test=" "$TMP/site-s0.log" \
  && grep -q "gf site: data: 150 training samples; no test split" "$TMP/site-s3.log" \
  && ok "each site printed its split and counts" || fail "site data lines: $(grep 'data:' "$TMP"/site-s*.log)"
"$GF" status 1 $C --json > "$TMP/status.json" || fail "status --json"
"$GF" download 1 --out "$TMP/final.safetensors" $C > /dev/null || fail "download"
for i in 0 1 2; do
  "$GF" eval --model-file "$TMP/final.safetensors" --dataset "csv:$TMP/s$i-train.csv,test=$TMP/s$i-test.csv" --threads 1 --json \
    2>/dev/null | tail -1 > "$TMP/eval-s$i.json"
done
/usr/bin/python3 - "$TMP" <<'PY' && ok "site_eval: rounds 2 and 3, each site's accuracy and loss as gf eval's, AUC/sensitivity/specificity and weighted means recomputed" || fail "site_eval: $(head -c 1500 "$TMP/status.json")"
import json, math, struct, sys
d = sys.argv[1]
s = json.load(open(d + "/status.json"))
ev = s["site_eval"]
assert [r["round"] for r in ev] == [2, 3], [r["round"] for r in ev]
for r in ev:
    assert [x["site"] for x in r["sites"]] == ["s0", "s1", "s2"], r
    assert [x["samples"] for x in r["sites"]] == [60, 40, 90], r
# the final model, read without gf
b = open(d + "/final.safetensors", "rb").read()
n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n]); base = 8 + n
def t(name):
    o, e = h[name]["data_offsets"]; return struct.unpack("<%df" % ((e - o) // 4), b[base + o:base + e])
W1, b1, W2, b2 = t("0.weight"), t("0.bias"), t("2.weight"), t("2.bias")
f32 = lambda x: struct.unpack("<f", struct.pack("<f", x))[0]
final = ev[1]
for k, site in enumerate(final["sites"]):
    g = json.load(open("%s/eval-s%d.json" % (d, k)))
    assert abs(site["accuracy"] - g["test_accuracy"]) < 1e-9 and abs(site["loss"] - g["test_loss"]) < 1e-6, (site, g)
    rows = [l.strip().split(",") for l in open("%s/s%d-test.csv" % (d, k)).readlines()[1:]]
    sc, ys = [], []
    for r in rows:
        x = [f32(float(v)) for v in r[:4]]
        hid = [max(0.0, sum(W1[i * 4 + j] * x[j] for j in range(4)) + b1[i]) for i in range(8)]
        z = [sum(W2[o * 8 + i] * hid[i] for i in range(8)) + b2[o] for o in range(2)]
        sc.append(z[1] - z[0]); ys.append(int(r[4]))
    pos = [v for v, y in zip(sc, ys) if y]; neg = [v for v, y in zip(sc, ys) if not y]
    auc = sum((p > q) + 0.5 * (p == q) for p in pos for q in neg) / (len(pos) * len(neg))
    sens = sum(v > 0 for v in pos) / len(pos); spec = sum(v <= 0 for v in neg) / len(neg)
    assert abs(site["auc"] - auc) < 1e-6 and abs(site["sensitivity"] - sens) < 1e-9 and abs(site["specificity"] - spec) < 1e-9, (site, auc, sens, spec)
    assert abs((sens * len(pos) + spec * len(neg)) / len(ys) - site["accuracy"]) < 1e-9
for r in ev:
    w, n = r["weighted"], sum(x["samples"] for x in r["sites"])
    assert w["samples"] == n == 190 and w["sites"] == 3, w
    for m in ("loss", "accuracy", "auc", "sensitivity", "specificity"):
        assert abs(w[m] - sum(x[m] * x["samples"] for x in r["sites"]) / n) < 1e-12, (m, w)
dec = {x["site"]: x for x in s["declines"]}
assert list(dec) == ["s3"] and dec["s3"]["round"] == 4 and "no test split" in dec["s3"]["reason"], s["declines"]
assert s["round"] == 3 and [r["round"] for r in s["rounds"]] == [1, 2, 3], s["rounds"]
PY
"$GF" status 1 $C > "$TMP/status.txt"
grep -q "^    round    3  s1                   40 samples  loss [0-9.]*  acc [0-9.]*  auc [0-9.]*  sens [0-9.]*  spec [0-9.]*$" "$TMP/status.txt" \
  && grep -q "^    round    3  weighted            190 samples" "$TMP/status.txt" \
  && ok "plain gf status shows each site's and the weighted evaluation" || fail "plain status: $(cat "$TMP/status.txt")"
grep -q '"site.evaluated"' "$TMP/data/audit.log" && grep -q '"eval.closed".*"evaluated":3,"declined":1' "$TMP/data/audit.log" \
  && ok "the reports and the evaluation round are audited" || fail "audit: $(grep eval "$TMP/data/audit.log" | tail -3)"
# under secure aggregation too (the sites' flow differs: keys first, then the
# model): every round's model and the final one, as gf eval scores them
sed -e 's/"rounds": 3/"rounds": 2/' -e 's/"eval_every": 2/"eval_every": 1, "secure_aggregation": {}/' \
    -e 's/site-eval/site-eval-secure/' "$TMP/job.json" > "$TMP/job2.json"
"$GF" submit "$TMP/job2.json" $C --wait --timeout 120 > /dev/null || fail "secure job: $("$GF" status 2 $C | tail -3)"
"$GF" download 2 --out "$TMP/secure.safetensors" $C > /dev/null || fail "download 2"
"$GF" eval --model-file "$TMP/secure.safetensors" --dataset "csv:$TMP/s1-train.csv,test=$TMP/s1-test.csv" --threads 1 --json \
  2>/dev/null | tail -1 > "$TMP/eval2.json"
"$GF" status 2 $C --json | /usr/bin/python3 -c '
import json, sys
s = json.load(sys.stdin); g = json.load(open(sys.argv[1]))
ev = s["site_eval"]
assert s["spec"]["secure_aggregation"] is not None and [r["round"] for r in ev] == [1, 2], ev
assert all([x["site"] for x in r["sites"]] == ["s0", "s1", "s2"] for r in ev), ev
s1 = ev[-1]["sites"][1]
assert abs(s1["accuracy"] - g["test_accuracy"]) < 1e-9 and abs(s1["loss"] - g["test_loss"]) < 1e-6, (s1, g)' "$TMP/eval2.json" \
  && ok "secure aggregation: rounds 1 and 2 evaluated at the sites, the final one as gf eval of the download" \
  || fail "secure job site_eval: $("$GF" status 2 $C --json | head -c 800)"

# a report outside an evaluating round is refused, and the codec refuses a bad one
SC="--cacert $TMP/pki/coordinator/ca.crt --cert $TMP/pki/sites/s0/site.crt --key $TMP/pki/sites/s0/site.key"
code=$(curl -s -o "$TMP/r" -w '%{http_code}' $SC -X POST --data-binary '{"samples":1}' "${FED_URL}v1/jobs/1/rounds/2/eval")
[ "$code" = 400 ] && grep -q "evaluation report: loss is missing" "$TMP/r" && ok "a malformed report: 400 naming the field" || fail "bad report: $code $(cat "$TMP/r")"
finish
