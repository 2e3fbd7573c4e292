# Federated statistics over a real local federation: three gf site
# processes, each with its own CSV (missing values, a label column), a
# "kind": "statistics" job with and without secure aggregation, checked
# against the same statistics computed independently (NumPy) on the three
# files pooled: counts and label counts exactly, means and variances to
# float tolerance, quantiles within one bin, min/max (plain only), and a
# histogram bin below min_count suppressed. Then gf status and gf download.
. tests/cli_lib.sh
. scripts/fed_local.sh
trap 'fed_down; rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM HUP
/usr/bin/python3 - "$TMP" <<'PY'
import numpy as np, sys
rng = np.random.default_rng(3)
for s, n in enumerate([170, 230, 200]):
    rows = ["age,chol,label,ca"]
    for i in range(n):
        age = rng.normal(54 + 2 * s, 9)
        chol = rng.normal(246 + 10 * s, 52)
        ca = rng.integers(0, 4)
        lab = int(rng.random() < 0.3 + 0.2 * s)
        cells = ["%.3f" % age, "%.2f" % chol, str(lab), str(ca)]
        if rng.random() < 0.08: cells[1] = ["?", "", "NA", "NaN"][i % 4]
        if rng.random() < 0.03: cells[3] = "?"
        rows.append(",".join(cells))
    rows.append("300.5,120,1,0")          # one age far outside its range (an "over" count of 1)
    open("%s/s%d.csv" % (sys.argv[1], s), "w").write("\n".join(rows) + "\n")
    open("%s/t%d.csv" % (sys.argv[1], s), "w").write("age,chol,label,ca\n50,200,0,1\n")
PY
fed_provision "$TMP" 3
fed_coordinator "$TMP" || { fail "coordinator start"; finish; exit 1; }
for i in 0 1 2; do fed_site "$TMP" s$i --data "csv:$TMP/s$i.csv,test=$TMP/t$i.csv" --threads 1; done
export GF_KIT="$TMP/pki/operator"
C="--coordinator $FED_URL"

cat > "$TMP/stats.json" <<SPEC
{"kind": "statistics", "name": "heart-stats", "columns": 3, "classes": 2, "bins": 20,
 "ranges": [[20, 90], [100, 600], [0, 4]], "min_count": 10, "sites": "all", "min_sites": 3,
 "round_deadline_s": 60}
SPEC
sed -e 's/"heart-stats"/"heart-stats-secure"/' -e 's/"round_deadline_s": 60}/"round_deadline_s": 60, "secure_aggregation": {"clip": 1000}}/' \
    "$TMP/stats.json" > "$TMP/stats_sa.json"
job=1
for spec in stats.json stats_sa.json; do
  "$GF" submit "$TMP/$spec" $C > /dev/null || fail "submit $spec"
  fed_wait_state "$TMP" $job succeeded 60 && ok "statistics job $job ($spec) succeeded" \
    || { fail "statistics job $job"; tail -n 5 "$TMP/coordinator.log" "$TMP"/site-s0.log; }
  "$GF" download $job --out "$TMP/result$job.json" $C > /dev/null || fail "download $job"
  /usr/bin/python3 - "$TMP" "$TMP/result$job.json" <<'PY' && ok "job $job: federated statistics equal the pooled ones" || fail "job $job: statistics differ"
import json, math, sys
import numpy as np
tmp, path = sys.argv[1], sys.argv[2]
r = json.load(open(path))
cols = [[], [], []]; labels = []
for s in range(3):
    lines = open("%s/s%d.csv" % (tmp, s)).read().split("\n")[1:]
    for line in lines:
        if not line: continue
        c = line.split(",")
        labels.append(int(c[2]))
        for j, k in enumerate([0, 1, 3]):
            v = c[k].strip()
            cols[j].append(float("nan") if v in ("?", "", "NA", "NaN") else float(v))
secure = r["secure_aggregation"]
assert r["rows"] == len(labels) and r["sites"] == 3, (r["rows"], len(labels))
ranges = [[20, 90], [100, 600], [0, 4]]
suppressed = 0
for j, col in enumerate(cols):
    x = np.array(col); v = x[~np.isnan(x)]
    c = r["columns"][j]
    assert c["count"] == len(v) and c["missing"] == int(np.isnan(x).sum()), (j, c["count"], len(v))
    assert math.isclose(c["mean"], v.mean(), rel_tol=1e-6), (j, c["mean"], v.mean())
    assert math.isclose(c["var"], v.var(ddof=1), rel_tol=1e-5), (j, c["var"], v.var(ddof=1))
    if secure: assert c["min"] is None and c["max"] is None
    else: assert math.isclose(c["min"], v.min(), rel_tol=1e-6) and math.isclose(c["max"], v.max(), rel_tol=1e-6)
    lo, hi = ranges[j]; w = (hi - lo) / 20
    h = c["histogram"]
    counts = [0] * 22
    for t in v:
        b = 0 if t < lo else 21 if t > hi else 1 + min(int((t - lo) / w), 19)
        counts[b] += 1
    got = [h["under"]] + h["counts"] + [h["over"]]
    for want, g in zip(counts, got):
        if 0 < want < 10: assert g is None, (j, got, counts); suppressed += 1
        else: assert g == want, (j, got, counts)
    s = np.sort(v)
    for q in ("0.25", "0.5", "0.75"):
        exact = s[math.ceil(float(q) * len(s)) - 1]
        assert abs(c["quantiles"][q] - exact) <= w * (1 + 1e-9), (j, q, c["quantiles"][q], exact, w)
assert suppressed >= 1 and r["suppressed"]["bins"] == suppressed, (suppressed, r["suppressed"])
lab = np.bincount(labels, minlength=2)
assert r["labels"]["counts"] == [int(lab[0]), int(lab[1])] and r["labels"]["other"] == 0, r["labels"]
PY
  job=$((job+1))
done
"$GF" status 2 $C > "$TMP/status.txt" || fail "status 2"
grep -q "statistics: 603 rows from 3 sites (secure aggregation" "$TMP/status.txt" && grep -q "^ *2 *584 *19 " "$TMP/status.txt" \
  && ok "gf status summarises the statistics" || fail "status: $(cat "$TMP/status.txt")"
expect_error "statistics spec without columns" "HTTP 400 columns required" -- sh -c "echo '{\"kind\":\"statistics\",\"name\":\"x\"}' > $TMP/bad.json && $GF submit $TMP/bad.json $C"
expect_error "statistics bins without a range" "HTTP 400 bins range" -- sh -c "echo '{\"kind\":\"statistics\",\"name\":\"x\",\"columns\":3,\"bins\":5}' > $TMP/bad.json && $GF submit $TMP/bad.json $C"
# a site with fewer rows than min_count sends nothing (s0 has 171): with min_sites 3 the job fails saying why
cat > "$TMP/stats_few.json" <<SPEC
{"kind": "statistics", "name": "few", "columns": 3, "min_count": 200, "min_sites": 3, "round_deadline_s": 30}
SPEC
"$GF" submit "$TMP/stats_few.json" $C > /dev/null || fail "submit stats_few"
fed_wait_state "$TMP" 3 failed 30 > /dev/null || fail "job 3 did not fail"
"$GF" status 3 $C > "$TMP/few.txt"
grep -q "this site has 171 rows, fewer than the job's min_count 200" "$TMP"/site-s0.log \
  && grep -q "failed.*min_count 200" "$TMP/few.txt" \
  && ! grep -q "has 231 rows, fewer" "$TMP"/site-s1.log && ok "a site below min_count declines" \
  || fail "min_count at the site: $(tail -n 3 "$TMP/site-s0.log")"
# a site whose data has other columns declines, saying why
cat > "$TMP/stats4.json" <<SPEC
{"kind": "statistics", "name": "wrong-columns", "columns": 4, "min_sites": 3, "round_deadline_s": 30}
SPEC
"$GF" submit "$TMP/stats4.json" $C > /dev/null || fail "submit stats4"
sleep 3
grep -q "the data has 3 feature columns but the job asks for 4" "$TMP"/site-s0.log && ok "a site with other columns declines" \
  || fail "site log: $(tail -3 "$TMP/site-s0.log")"
"$GF" cancel 4 $C > /dev/null 2>&1 || true
finish
