# Federated preprocessing: a statistics job over three gf site processes
# (CSV files with missing values), then a FedAvg job whose "preprocess"
# (mean imputation, standardisation, a binarised target) is computed from
# it. The same job is run again on the three files preprocessed outside gf
# with NumPy from the pooled rows (the sites restarted under the same
# names, so every shuffle is the same): the two models agree to 1e-5, and
# gf eval of the first on raw test data (it applies the model's recorded
# preprocessing) scores what the second scores on the NumPy-preprocessed
# test data. Submission errors: a "from" that is no statistics job, a model
# whose input does not fit.
. tests/cli_lib.sh
. scripts/fed_local.sh
trap 'fed_down; rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM HUP
/usr/bin/python3 - "$TMP" <<'PY'
import numpy as np, sys
tmp = sys.argv[1]
rng = np.random.default_rng(5)
def rows(n, shift):
    out = []
    for i in range(n):
        age = rng.normal(54 + shift, 9); chol = rng.normal(246 + 5 * shift, 52); bp = rng.normal(130, 17)
        num = int(min(4, max(0, round((age - 54) / 8 + (chol - 246) / 60 + rng.normal(0, 1)))))
        c = ["%.2f" % age, "%.1f" % chol, "%.0f" % bp, str(num)]
        if rng.random() < 0.07: c[1] = "?"
        if rng.random() < 0.04: c[2] = ""
        out.append(c)
    return out
def write(path, rs):
    open(path, "w").write("age,chol,bp,num\n" + "".join(",".join(r) + "\n" for r in rs))
sites = [rows(n, s) for s, n in enumerate([90, 120, 110])]
test = rows(80, 1)
for s, rs in enumerate(sites): write("%s/raw%d.csv" % (tmp, s), rs)
write("%s/rawtest.csv" % tmp, test)
# the pooled reference: mean imputation, then standardisation (ddof 0) after it
def arr(rs): return np.array([[np.nan if v in ("?", "") else float(v) for v in r[:3]] for r in rs]), np.array([int(r[3]) for r in rs])
X = np.vstack([arr(rs)[0] for rs in sites])
mean = np.nanmean(X, axis=0)
Xi = np.where(np.isnan(X), mean, X)
mu, sd = Xi.mean(axis=0), Xi.std(axis=0)
def prep(rs, path):
    x, y = arr(rs)
    x = (np.where(np.isnan(x), mean, x) - mu) / sd
    open(path, "w").write("age,chol,bp,num\n" + "".join("%.9g,%.9g,%.9g,%d\n" % (a, b, c, int(t >= 1)) for (a, b, c), t in zip(x, y)))
for s, rs in enumerate(sites): prep(rs, "%s/pre%d.csv" % (tmp, s))
prep(test, "%s/pretest.csv" % tmp)
PY
fed_provision "$TMP" 3
fed_coordinator "$TMP" || { fail "coordinator start"; finish; exit 1; }
for i in 0 1 2; do fed_site "$TMP" s$i --data "csv:$TMP/raw$i.csv,label=num,test=$TMP/rawtest.csv" --threads 1; done
export GF_KIT="$TMP/pki/operator"
C="--coordinator $FED_URL"
cat > "$TMP/stats.json" <<SPEC
{"kind": "statistics", "name": "heart-stats", "columns": 3, "classes": 5, "min_count": 5, "min_sites": 3,
 "range": [0, 600], "round_deadline_s": 60}
SPEC
"$GF" submit "$TMP/stats.json" $C > /dev/null || fail "submit statistics"
fed_wait_state "$TMP" 1 succeeded 60 && ok "statistics job" || fail "statistics job"
cat > "$TMP/train.json" <<SPEC
{"name": "heart-fl", "model": "mlp:3-2", "dataset": "heart", "strategy": {"name": "fedavg"}, "rounds": 2,
 "min_sites": 3, "round_deadline_s": 60, "seed": 5,
 "local": {"epochs": 1, "batch": 16, "optim": {"name": "sgd", "lr": 0.1}},
 "preprocess": {"from": 1, "impute": "mean", "standardize": true, "binarize": {"threshold": 1}}}
SPEC
"$GF" submit "$TMP/train.json" $C > /dev/null || fail "submit with preprocess"
fed_wait_state "$TMP" 2 succeeded 60 && ok "training job with preprocessing from the statistics job" \
  || { fail "training job"; tail -n 5 "$TMP/site-s0.log"; }
"$GF" download 2 --out "$TMP/a.safetensors" $C > /dev/null || fail "download 2"
# the same job on the data preprocessed outside gf, at the same sites
for i in 0 1 2; do eval "kill -9 \$FED_SITE_PID_s$i"; done
for i in 0 1 2; do fed_site "$TMP" s$i --data "csv:$TMP/pre$i.csv,label=num,test=$TMP/pretest.csv" --threads 1; done
/usr/bin/python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); del s["preprocess"]; s["name"]="heart-fl-pooled"; print(json.dumps(s))' \
  "$TMP/train.json" > "$TMP/train_pre.json"
"$GF" submit "$TMP/train_pre.json" $C > /dev/null || fail "submit on preprocessed data"
fed_wait_state "$TMP" 3 succeeded 60 && ok "training job on pooled-preprocessed data" || fail "job 3"
"$GF" download 3 --out "$TMP/b.safetensors" $C > /dev/null || fail "download 3"
/usr/bin/python3 - "$TMP/a.safetensors" "$TMP/b.safetensors" <<'PY' && ok "the two models agree to 1e-5" || fail "models differ"
import json, struct, sys
import numpy as np
def load(p):
    b = open(p, "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n]); meta = h.pop("__metadata__", {})
    return {k: np.frombuffer(b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]], "<f4") for k, v in h.items()}, meta
a, ma = load(sys.argv[1]); b, mb = load(sys.argv[2])
assert "gf.preprocess" in ma and "gf.preprocess" not in mb
keys = [k for k in a if not k.startswith("optim")]
assert keys and set(keys) <= set(b)
d = max(float(np.max(np.abs(a[k] - b[k]))) for k in keys)
assert d <= 1e-5, d
print("max difference", d)
PY
ea=$("$GF" eval --model-file "$TMP/a.safetensors" --dataset "csv:$TMP/raw0.csv,label=num,test=$TMP/rawtest.csv" --threads 1)
eb=$("$GF" eval --model-file "$TMP/b.safetensors" --dataset "csv:$TMP/pre0.csv,label=num,test=$TMP/pretest.csv" --threads 1)
[ -n "$ea" ] && [ "$(echo "$ea" | cut -c1-21)" = "$(echo "$eb" | cut -c1-21)" ] \
  && ok "gf eval applies the recorded preprocessing: $ea" || fail "gf eval: \"$ea\" vs \"$eb\""
expect_error "a model without recorded preprocessing on raw data" "label.2 labels.must.be.0..1" -- "$GF" eval --model-file "$TMP/b.safetensors" --dataset "csv:$TMP/raw0.csv,label=num,test=$TMP/rawtest.csv" --threads 1
sed -e 's/"from": 1/"from": 2/' -e 's/heart-fl/bad1/' "$TMP/train.json" > "$TMP/bad1.json"
expect_error "preprocess from a training job" "HTTP 400 preprocess job.2 not.a.statistics.job" -- "$GF" submit "$TMP/bad1.json" $C
sed -e 's/mlp:3-2/mlp:4-2/' -e 's/heart-fl/bad2/' "$TMP/train.json" > "$TMP/bad2.json"
expect_error "preprocess that does not fit the model" "HTTP 400 makes.3 takes.4" -- "$GF" submit "$TMP/bad2.json" $C
sed -e 's/"binarize": {"threshold": 1}}/"binarize": {"threshold": 1}, "onehot": [{"column": 2, "categories": [120, 130]}]}/' \
    -e 's/heart-fl/bad3/' "$TMP/train.json" > "$TMP/bad3.json"
expect_error "one-hot columns count in the model's input" "HTTP 400 makes.4 takes.3" -- "$GF" submit "$TMP/bad3.json" $C
finish
