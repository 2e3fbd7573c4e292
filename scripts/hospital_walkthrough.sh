#!/bin/sh
# From three hospitals' raw files to an evaluated federated model, every step
# a gf command (docs/hospitals.md is written from this script's commands and
# its output). All processes run on this machine, on 127.0.0.1.
#
# The data: the Pima Indians diabetes table (768 patients, 8 clinical
# measurements, onset of diabetes within five years; National Institute of
# Diabetes and Digestive and Kidney Diseases, via the UCI repository) as
# Debian's weka package ships it, /usr/share/doc/weka/examples/diabetes.arff.
# Its missing measurements are recorded as impossible zeros (glucose, blood
# pressure, skin fold, insulin, BMI): 652 of them. Its rows are dealt to
# three hospitals (240 each, in file order), each of which keeps a quarter
# of its own rows as its test split; the last 48 rows stand for an external
# validation cohort that the facility holds and registers as a dataset.
#
#   sh scripts/hospital_walkthrough.sh [DIR]     (default DIR: a new temporary folder)
#   GF=path/to/gf sh scripts/hospital_walkthrough.sh
# Needs: gf (build/gf), weka (the data), /usr/bin/python3 (only to edit a JSON spec).
set -eu
GF=${GF:-build/gf}
ARFF=${ARFF:-/usr/share/doc/weka/examples/diabetes.arff}
W=${1:-$(mktemp -d)}
[ -r "$ARFF" ] || { echo "$ARFF missing: apt-get install weka"; exit 1; }
mkdir -p "$W"
PIDS=""
trap 'for p in $PIDS; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true' EXIT
trap 'exit 1' INT TERM HUP
step() { printf '\n### %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "1. Each hospital's raw export (simulated: the table's rows dealt to three hospitals and a cohort)"
sed -n '/^@data/,$p' "$ARFF" | sed 1d | grep -v '^%' | grep . > "$W/all.txt"
sed -n 1,240p "$W/all.txt" > "$W/hospital-a-export.txt"
sed -n 241,480p "$W/all.txt" > "$W/hospital-b-export.txt"
sed -n 481,720p "$W/all.txt" > "$W/hospital-c-export.txt"
sed -n 721,768p "$W/all.txt" > "$W/external-export.txt"
rm "$W/all.txt"
head -3 "$W/hospital-a-export.txt"

step "2. At each hospital: a CSV with a header, missing values marked, the target 0/1"
# gf reads "?", NA, NaN and empty cells as missing; a zero glucose, blood
# pressure, skin fold, insulin or BMI is a missing measurement, so it
# becomes an empty cell here (gf cannot know that zero means missing).
for h in hospital-a hospital-b hospital-c external; do
  awk -F, 'BEGIN { OFS = ","; print "preg,plas,pres,skin,insu,mass,pedi,age,diabetes" }
           { for (c = 2; c <= 6; c++) if ($c + 0 == 0) $c = "";
             $9 = ($9 == "tested_positive") ? 1 : 0; print }' "$W/$h-export.txt" > "$W/$h.csv"
done
head -4 "$W/hospital-a.csv"
printf 'empty cells per hospital: '; for h in hospital-a hospital-b hospital-c; do
  printf '%s %s  ' "$h" "$(grep -o ',,\|,$' "$W/$h.csv" | wc -l)"; done; echo

step "3. The facility provisions the federation (a CA, the coordinator, one kit per hospital, the operator's kit)"
run "$GF" provision --out "$W/pki" --coordinator 127.0.0.1 --sites hospital-a,hospital-b,hospital-c

step "4. The facility starts the coordinator"
echo "\$ $GF coordinator --data $W/state --listen 127.0.0.1:0 --tls $W/pki --port-file $W/port &"
"$GF" coordinator --data "$W/state" --listen 127.0.0.1:0 --tls "$W/pki" --port-file "$W/port" \
    > "$W/coordinator.log" 2>&1 &
PIDS="$PIDS $!"
t=0; while [ ! -s "$W/port" ]; do sleep 0.1; t=$((t + 1)); [ $t -lt 100 ] || { cat "$W/coordinator.log"; exit 1; }; done
export GF_COORDINATOR="https://127.0.0.1:$(cat "$W/port")/" GF_KIT="$W/pki/operator"
echo "coordinator at $GF_COORDINATOR"

step "5. The facility registers the external cohort: jobs name datasets, never files"
run "$GF" dataset add pima-external --path "$W/external.csv" --label diabetes --public
run "$GF" dataset list

step "6. Each hospital starts its site next to its data (only its kit and its CSV; it connects out)"
for h in hospital-a hospital-b hospital-c; do
  # --coordinator: here the port is the one the coordinator picked; a real
  # site's kit names it (pki/sites/NAME/coordinator.url, from gf provision)
  echo "\$ $GF site --kit $W/pki/sites/$h --data csv:$W/$h.csv,label=diabetes,test_fraction=0.25 --threads 1 --coordinator $GF_COORDINATOR &"
  "$GF" site --kit "$W/pki/sites/$h" --data "csv:$W/$h.csv,label=diabetes,test_fraction=0.25" --threads 1 \
      --coordinator "$GF_COORDINATOR" > "$W/site-$h.log" 2>&1 &
  PIDS="$PIDS $!"
done
sleep 1
grep -h "data:" "$W"/site-hospital-*.log

step "7. Statistics over the three hospitals (nothing but sums and counts leaves a site)"
cat > "$W/stats.json" <<'SPEC'
{"kind": "statistics", "name": "pima-stats", "dataset": "pima", "columns": 8, "classes": 2,
 "ranges": [[0, 20], [0, 200], [0, 130], [0, 100], [0, 900], [0, 70], [0, 2.5], [20, 90]],
 "bins": 20, "min_count": 10, "min_sites": 3, "secure_aggregation": {}}
SPEC
cat "$W/stats.json"
run "$GF" submit "$W/stats.json" --wait --timeout 120
run "$GF" status 1
run "$GF" download 1 --out "$W/statistics.json"

step "8. A federated model: median imputation and standardisation from job 1, evaluated at the sites"
cat > "$W/train.json" <<'SPEC'
{"name": "pima-fedavg", "dataset": "pima", "model": "mlp:8-16-2", "strategy": {"name": "fedavg"},
 "rounds": 20, "min_sites": 3, "round_deadline_s": 60, "seed": 1,
 "local": {"epochs": 1, "batch": 16, "optim": {"name": "sgd", "lr": 0.05, "momentum": 0.9}},
 "preprocess": {"from": 1, "impute": "median", "standardize": true},
 "eval_every": 5, "eval": "pima-external:train"}
SPEC
cat "$W/train.json"
run "$GF" submit "$W/train.json" --wait --timeout 300

step "9. The job's status: rounds, and each hospital's evaluation of the global model on its own test split"
run "$GF" status 2

step "10. Download the model and evaluate it at a hospital (gf eval applies the recorded preprocessing)"
run "$GF" download 2 --out "$W/pima.safetensors"
run "$GF" eval --model-file "$W/pima.safetensors" --dataset "csv:$W/hospital-a.csv,label=diabetes,test_fraction=0.25" --threads 1
run "$GF" eval --model-file "$W/pima.safetensors" --dataset "csv:$W/external.csv,label=diabetes" --split train --threads 1

step "11. The same job with record-level DP-SGD at every site: each site's own epsilon, as the coordinator shows it"
/usr/bin/python3 -c 'import json, sys; s = json.load(open(sys.argv[1])); s["name"] = "pima-dpsgd"
s["local"]["dp_sgd"] = {"clip": 1.0, "noise": 1.5}; print(json.dumps(s))' "$W/train.json" > "$W/train-dp.json"
cat "$W/train-dp.json"
run "$GF" submit "$W/train-dp.json" --wait --timeout 300
"$GF" status 3 > "$W/status3.txt"
echo "\$ $GF status 3   (the end of it)"
sed -n '/DP-SGD at the sites/,$p' "$W/status3.txt"
# each site trains on 162 of its 180 training rows (gf site --val-fraction 0.1 holds 18 out)
echo "# what a hospital computes for itself: 20 rounds x ceil(162 / 16) noisy steps at q = 16 / 162"
run "$GF" dp epsilon --noise 1.5 --sample-rate "$(/usr/bin/python3 -c 'print(16 / 162)')" --steps 220 --delta 1e-5
echo
echo "done: everything is in $W"
