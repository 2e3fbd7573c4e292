# docs/hospitals.md's walkthrough, scripts/hospital_walkthrough.sh, run end
# to end on the real table it uses (Debian's weka: the Pima diabetes data,
# missing values as impossible zeros): it succeeds, and what it prints is
# checked against independent computations: the empty cells it wrote are
# the raw table's zeros in the five measurements that cannot be zero
# (recounted in Python from the ARFF file); the statistics job counted the
# 540 training rows with their labels; each hospital's evaluation of the
# final model (gf status) is what gf eval of the downloaded model gives on
# that hospital's file (the model's recorded preprocessing applied by both);
# the coordinator's accuracy on the registered external cohort is gf eval's;
# under DP-SGD, each site's epsilon shown by gf status is gf dp epsilon's
# for its record count, batch and rounds.
. tests/cli_lib.sh
ARFF=/usr/share/doc/weka/examples/diabetes.arff
sh scripts/hospital_walkthrough.sh "$TMP/w" > "$TMP/out.txt" 2>&1 && ok "the walkthrough ran" \
  || { fail "the walkthrough: $(tail -20 "$TMP/out.txt")"; finish; exit 1; }
/usr/bin/python3 - "$ARFF" "$TMP/w" <<'PY' && ok "empty cells = the raw table's impossible zeros, per hospital" || fail "missing cells"
import sys
rows = [l.strip().split(",") for l in open(sys.argv[1]) if l[:1].isdigit()]
assert len(rows) == 768, len(rows)
for k, h in enumerate(["hospital-a", "hospital-b", "hospital-c", "external"]):
    part = rows[240 * k:240 * k + (240 if k < 3 else 48)]
    want = sum(float(v) == 0 for r in part for v in r[1:6])
    got = [l.rstrip("\n").split(",") for l in open("%s/%s.csv" % (sys.argv[2], h))][1:]
    assert len(got) == len(part) and sum(v == "" for r in got for v in r) == want, (h, want)
    assert [int(r[8]) for r in got] == [int(r[8] == "tested_positive") for r in part], h
PY
grep -q "^  statistics: 540 rows from 3 sites" "$TMP/out.txt" && grep -q "^  labels: 0: [0-9]* 1: [0-9]*  other: 0" "$TMP/out.txt" \
  && [ $(( $(sed -n 's/^  labels: 0: \([0-9]*\) 1: \([0-9]*\) .*/\1 + \2/p' "$TMP/out.txt") )) -eq 540 ] \
  && ok "statistics over 3 x 180 training rows" || fail "statistics: $(grep -A2 'statistics:' "$TMP/out.txt")"
for h in hospital-a hospital-b hospital-c; do
  site=$(sed -n "/^### 9\./,/^### 10\./s/^    round   20  $h  *60 samples  loss \([0-9.]*\)  acc \([0-9.]*\)  auc \([0-9.]*\)  sens \([0-9.]*\)  spec \([0-9.]*\)$/\1 \2 \3 \4 \5/p" "$TMP/out.txt")
  ev=$("$GF" eval --model-file "$TMP/w/pima.safetensors" --dataset "csv:$TMP/w/$h.csv,label=diabetes,test_fraction=0.25" --threads 1 --json 2>/dev/null | tail -1 \
       | jget '"%.4f %.4f %.4f %.4f %.4f" % (d["test_loss"], d["test_accuracy"], d["test_auc"], d["sensitivity"], d["specificity"])')
  [ -n "$site" ] && [ "$site" = "$ev" ] && ok "$h: its evaluation at the site = gf eval of the download ($ev)" \
    || fail "$h: site \"$site\", gf eval \"$ev\""
done
co=$(sed -n 's/^  round   20  sites   3 .* accuracy \([0-9.]*\)$/\1/p' "$TMP/out.txt")
ext=$(sed -n '/external.csv,label=diabetes --split train/,$s/^test_accuracy \([0-9.]*\) .*/\1/p' "$TMP/out.txt")
[ -n "$co" ] && [ "$co" = "$ext" ] && ok "the coordinator's eval on the registered cohort = gf eval ($co)" || fail "eval: coordinator \"$co\", gf eval \"$ext\""
eps=$(sed -n 's/^epsilon \([0-9.]*\) (best order.*/\1/p' "$TMP/out.txt")
n=0
for h in hospital-a hospital-b hospital-c; do
  e=$(sed -n "s/^    $h  *epsilon \([0-9.e+-]*\) at delta 1e-05 after round 20$/\1/p" "$TMP/out.txt")
  [ -n "$e" ] && /usr/bin/python3 -c "import sys; assert abs(float(sys.argv[1]) - float(sys.argv[2])) <= 1e-5 * float(sys.argv[2])" "$e" "$eps" \
    && n=$((n + 1))
done
[ -n "$eps" ] && [ $n -eq 3 ] && ok "each site's DP-SGD epsilon in gf status = gf dp epsilon for 162 records, batch 16, 20 rounds ($eps)" \
  || fail "site epsilon: $(grep -A3 'DP-SGD at the sites' "$TMP/out.txt"), gf dp epsilon $eps"
finish
