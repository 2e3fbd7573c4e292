#!/bin/sh
# PneumoniaMNIST (../shared/data/pneumoniamnist.npz: real pediatric chest
# X-rays, 28x28, 0 normal / 1 pneumonia) across 3 hospitals: the training
# split divided by label skew (each class's images shared among the sites in
# Dirichlet(0.5) proportions, seeded), 3 real gf site processes over TLS, a
# federated CNN (FedAvg, AdamW locally). Each site balances its own shard by
# repeating its minority class's images (the training split is 90 %
# pneumonia, the test split 62 %); nothing else is done to the data.
# Every round's global model is kept; as MedMNIST does, the round is chosen
# on the validation split (best val AUC) and only that round is scored on the
# test split. Then the same federation under secure aggregation. Each site
# also holds a third of the test split as its own test set and scores every
# round's global model on it (eval_every 1); the chosen round's per-site
# figures are printed after the table.
#   [ROUNDS=R] [EPOCHS=E] [LR=X] [DECAY=D] [WD=W] [BATCH=B] [SEED=S] [MODEL=M]
#   bench/pneumonia.sh [RUNS]
# (defaults: 16 rounds of 1 local epoch, AdamW lr 0.001 decayed by 0.85 a
# round (local.lr_decay), weight decay 1e-4, batch 64, seed 1, the CNN below:
# the engine's cnn with two outputs and dropout 0.5 before each linear layer;
# RUNS "fedavg fedavg+secagg"). Prints one table row per run, then the
# per-site rows; the last line is a JSON object with test_accuracy and
# test_auc (of the first run) and each run's figures under "runs".
# Needs /usr/bin/python3 with numpy (scripts/install-deps.sh bench).
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-16}
EPOCHS=${EPOCHS:-1}
LR=${LR:-0.001}
WD=${WD:-0.0001}
DECAY=${DECAY:-0.85}
BATCH=${BATCH:-64}
SEED=${SEED:-1}
MODEL=${MODEL:-seq:1x28x28-conv32k5p2-relu-maxpool2-conv64k5p2-relu-maxpool2-flatten-dropout0.5-linear128-relu-dropout0.5-linear2}
NPZ=${NPZ:-../shared/data/pneumoniamnist.npz}
GF=${GF:-build/gf}
PY=/usr/bin/python3
[ -x "$GF" ] || { echo "pneumonia.sh: $GF missing; run make first" >&2; exit 1; }
[ -f "$NPZ" ] || { echo "pneumonia.sh: $NPZ missing (see ../shared/data/README.md)" >&2; exit 1; }
. scripts/fed_local.sh
DIR=$(mktemp -d /tmp/gf-pneumonia.XXXXXX)
trap 'fed_down; rm -rf "$DIR"' EXIT INT TERM
export OMP_WAIT_POLICY=PASSIVE

# ---- the sites' data: Dirichlet(0.5) label skew, then each site balances its own
$PY - "$NPZ" "$DIR" "$SEED" <<'PY' >&2
import sys
import numpy as np
d = np.load(sys.argv[1])
x, y = d["train_images"], d["train_labels"].reshape(-1)
rng = np.random.default_rng(int(sys.argv[3]))
shards = [[] for _ in range(3)]
for k in (0, 1):
    idx = rng.permutation(np.where(y == k)[0])
    p = rng.dirichlet([0.5] * 3)
    cuts = (np.cumsum(p)[:-1] * len(idx)).astype(int)
    for s, part in enumerate(np.split(idx, cuts)):
        shards[s].extend(part.tolist())
for s, idx in enumerate(shards):
    idx = np.array(idx)
    n0, n1 = int((y[idx] == 0).sum()), int((y[idx] == 1).sum())
    if min(n0, n1) > 0:     # repeat the minority class up to (about) the majority's count
        minority = idx[y[idx] == (0 if n0 < n1 else 1)]
        reps = max(n0, n1) // min(n0, n1)
        idx = np.concatenate([idx] + [minority] * (reps - 1))
    idx = rng.permutation(idx)
    shards[s] = (idx, n0, n1)
# each site's own test split: a third of the test split (a seeded draw), scored at the
# site (eval_every) and reported per site; the models are chosen on the validation split
xt, yt = d["test_images"], d["test_labels"].reshape(-1)
thirds = np.array_split(rng.permutation(len(yt)), 3)
for s, (idx, n0, n1) in enumerate(shards):
    t = np.sort(thirds[s])
    np.savez(f"{sys.argv[2]}/site{s}.npz", train_images=x[idx], train_labels=y[idx].reshape(-1, 1),
             test_images=xt[t], test_labels=yt[t].reshape(-1, 1))
    print(f"site s{s}: {n0} normal, {n1} pneumonia -> {len(idx)} images after balancing; "
          f"test: {int((yt[t] == 0).sum())} normal, {int((yt[t] == 1).sum())} pneumonia")
PY

fed_provision "$DIR" 3
fed_coordinator "$DIR" --quiet
for i in 0 1 2; do
  fed_site "$DIR" s$i --data "npz:$DIR/site$i.npz" --val-fraction 0 --threads 1 --quiet
done
export GF_KIT="$DIR/pki/operator"

# run NAME SECAGG_JSON: one federated job; prints a table row, sets ACC, AUC
run() {
  cat > "$DIR/$1.json" <<SPEC
{"name": "pneumonia-$(echo "$1" | tr -c 'a-z0-9\n' -)", "model": "$MODEL", "dataset": "pneumoniamnist", "strategy": {"name": "fedavg"},
 "rounds": $ROUNDS, "sites": "all", "fraction": 1.0, "min_sites": 3, "round_deadline_s": 600,
 "local": {"epochs": $EPOCHS, "steps": null, "batch": $BATCH, "lr_decay": $DECAY, "optim": {"name": "adamw", "lr": $LR, "weight_decay": $WD}},
 "eval_every": 1, "seed": $SEED$2}
SPEC
  t0=$(date +%s)
  job=$("$GF" submit "$DIR/$1.json" --coordinator "$FED_URL")
  mkdir -p "$DIR/$1"
  art="$DIR/data/artifacts/job-$job"
  while :; do     # keep every round's global model (the coordinator keeps the last two)
    for f in "$art"/round-*.safetensors; do [ -f "$f" ] && [ ! -f "$DIR/$1/${f##*/}" ] && cp "$f" "$DIR/$1/" 2>/dev/null || true; done
    s=$("$GF" status "$job" --coordinator "$FED_URL" --json | sed -n 's/.*"state":"\([a-z-]*\)".*/\1/p')
    case "$s" in succeeded) break ;; failed|cancelled|timed-out) echo "job $1 ended $s" >&2; exit 1 ;; esac
    sleep 0.2
  done
  t1=$(date +%s)
  best=""; best_auc=-1
  for f in "$DIR/$1"/round-*.safetensors; do
    r=$(basename "$f" .safetensors); r=${r#round-}
    v=$("$GF" eval --model-file "$f" --dataset "npz:$NPZ,split=val" --split train --threads 2 --json | tail -1)
    echo "$1 round $(echo "$r" | sed "s/^0*//"): val $(echo "$v" | $PY -c 'import json,sys; d=json.load(sys.stdin); print("accuracy %.4f auc %.4f" % (d["test_accuracy"], d["test_auc"]))')" >&2
    a=$(echo "$v" | $PY -c 'import json,sys; print(json.load(sys.stdin)["test_auc"])')
    if $PY -c "import sys; sys.exit(0 if $a > $best_auc else 1)"; then best=$f; best_auc=$a; fi
  done
  tj=$("$GF" eval --model-file "$best" --dataset "npz:$NPZ" --threads 2 --json | tail -1)
  r=$(basename "$best" .safetensors); r=$(echo "${r#round-}" | sed "s/^0*//")
  set -- "$1" "$tj" "$r" "$best_auc" $((t1 - t0))
  ACC=$(echo "$2" | $PY -c 'import json,sys; print("%.4f" % json.load(sys.stdin)["test_accuracy"])')
  AUC=$(echo "$2" | $PY -c 'import json,sys; print("%.4f" % json.load(sys.stdin)["test_auc"])')
  echo "$2" | $PY -c 'import json,sys; d=json.load(sys.stdin); print("| %s | %s of %s | %.4f | %.4f | %.4f | %.4f | %.4f | %d min %02d s |" % (sys.argv[1], sys.argv[2], sys.argv[5], float(sys.argv[3]), d["test_accuracy"], d["test_auc"], d["sensitivity"], d["specificity"], int(sys.argv[4]) // 60, int(sys.argv[4]) % 60))' \
    "$1" "$3" "$4" "$5" "$ROUNDS"
  # the sites' own evaluation of the chosen round's model (gf status: site_eval)
  "$GF" status "$job" --coordinator "$FED_URL" --json | $PY -c '
import json, sys
d = json.load(sys.stdin); name, rnd = sys.argv[1], int(sys.argv[2])
f = lambda e, k: "%.4f" % e[k] if isinstance(e.get(k), (int, float)) else "-"
for r in d.get("site_eval", []):
    if r["round"] != rnd: continue
    for e in r["sites"] + [dict(r["weighted"], site="weighted")]:
        print("| %s | %d | %s | %d | %s | %s | %s | %s |" % (name, rnd, e["site"], e["samples"], f(e, "accuracy"),
              f(e, "auc"), f(e, "sensitivity"), f(e, "specificity")))' "$1" "$3" >> "$DIR/site_eval.md"
}

echo "| run | round chosen | val AUC | test accuracy | test AUC | sensitivity | specificity | wall time |"
echo "|---|---|---|---|---|---|---|---|"
FIRST="" RUNS_JSON=""
for name in ${1:-fedavg fedavg+secagg}; do
  case $name in
    fedavg) run "$name" "" ;;
    fedavg+secagg) run "$name" ', "secure_aggregation": {}' ;;
    *) echo "pneumonia.sh: unknown run $name (fedavg, fedavg+secagg)" >&2; exit 2 ;;
  esac
  [ -n "$FIRST" ] || FIRST="\"test_accuracy\": $ACC, \"test_auc\": $AUC"
  RUNS_JSON="$RUNS_JSON${RUNS_JSON:+, }\"$name\": {\"test_accuracy\": $ACC, \"test_auc\": $AUC}"
done
echo
echo "Per-site evaluation of the chosen round (each site scores the global model on its own third of the test split):"
echo
echo "| run | round | site | test images | accuracy | AUC | sensitivity | specificity |"
echo "|---|---|---|---|---|---|---|---|"
cat "$DIR/site_eval.md" 2>/dev/null || true
fed_down
trap - EXIT INT TERM
rm -rf "$DIR"
echo "{$FIRST, \"runs\": {$RUNS_JSON}, \"rounds\": $ROUNDS, \"local_epochs\": $EPOCHS, \"lr\": $LR, \"weight_decay\": $WD, \"lr_decay\": $DECAY, \"batch\": $BATCH, \"model\": \"$MODEL\"}"
