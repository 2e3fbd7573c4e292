#!/bin/sh
# Genotypes to a phenotype, federated next to pooled: Debian's gemma-doc mouse
# data (PLINK, 1,940 heterogeneous-stock mice x 12,226 SNPs), phenotype
# PHENO (default 1, the .fam's sixth column) binarized at its median; samples
# without the phenotype dropped, a fixed 20 % of the rest held out as the
# test set (test_fraction=0.2,seed=1), missing calls filled with variant
# means. The training samples are split IID across 3 sites (3 real gf site
# processes over TLS, each holding out 5 % of its shard for validation);
# FedAvg runs ROUNDS rounds of 1 local epoch. The pooled baseline is gf train
# on all the training samples for the same number of epochs, same model,
# optimizer and seed. Both are scored by gf eval on the same test set.
#   [PHENO=K] [MODEL=M] [SEED=S] bench/genome.sh [ROUNDS]   (defaults: 1, mlp:12226-64-2, 1, 10)
# Prints a markdown table, then a JSON line with both accuracies.
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${1:-10}
PHENO=${PHENO:-1}
MODEL=${MODEL:-mlp:12226-64-2}
SEED=${SEED:-1}
GF=${GF:-build/gf}
[ -x "$GF" ] || { echo "genome.sh: $GF missing; run make first" >&2; exit 1; }
MOUSE=/usr/share/doc/gemma/example/mouse_hs1940
[ -f "$MOUSE.bed.gz" ] || { echo "genome.sh: $MOUSE.bed.gz missing; install gemma-doc" >&2; exit 1; }
SPEC="plink:$MOUSE,pheno_col=$PHENO,binarize=median,fill=mean,test_fraction=0.2,seed=1"
. scripts/fed_local.sh
DIR=$(mktemp -d /tmp/gf-genome.XXXXXX)
trap 'fed_down; rm -rf "$DIR"' EXIT INT TERM
export OMP_WAIT_POLICY=PASSIVE

# pooled
t0=$(date +%s)
"$GF" train --model "$MODEL" --dataset "$SPEC" --epochs "$ROUNDS" --batch 64 --lr 0.01 --momentum 0.9 \
    --seed "$SEED" --threads 2 --out "$DIR/pooled.safetensors" > "$DIR/pooled.log" 2> "$DIR/pooled.err"
t1=$(date +%s)
sed -n 's/^dataset: /data: /p' "$DIR/pooled.err" >&2
pooled=$("$GF" eval --model-file "$DIR/pooled.safetensors" --dataset "$SPEC" --threads 2 2>/dev/null \
         | sed -n 's/^test_accuracy \([0-9.]*\).*/\1/p')

# federated: 3 sites
fed_provision "$DIR" 3
fed_coordinator "$DIR" --quiet
for i in 0 1 2; do
  fed_site "$DIR" s$i --data "$SPEC" --partition iid --shard $i/3 --partition-seed 1 \
      --val-fraction 0.05 --threads 1 --quiet
done
export GF_KIT="$DIR/pki/operator"
cat > "$DIR/job.json" <<SPEC
{"name": "mouse-pheno$PHENO", "model": "$MODEL", "dataset": "mouse-genotypes", "strategy": {"name": "fedavg"},
 "rounds": $ROUNDS, "sites": "all", "fraction": 1.0, "min_sites": 3, "round_deadline_s": 600,
 "local": {"epochs": 1, "steps": null, "batch": 64, "optim": {"name": "sgd", "lr": 0.01, "momentum": 0.9}},
 "seed": $SEED}
SPEC
t2=$(date +%s)
job=$("$GF" submit "$DIR/job.json" --coordinator "$FED_URL")
fed_wait_state "$DIR" "$job" succeeded $((ROUNDS * 600)) >&2
t3=$(date +%s)
"$GF" download "$job" --out "$DIR/fed.safetensors" --coordinator "$FED_URL" > /dev/null
fed=$("$GF" eval --model-file "$DIR/fed.safetensors" --dataset "$SPEC" --threads 2 2>/dev/null \
      | sed -n 's/^test_accuracy \([0-9.]*\).*/\1/p')
grep -h "gf site: --data" "$DIR"/site-s0.log >&2 || true
fed_down
trap - EXIT INT TERM
rm -rf "$DIR"

echo "| training | model | epochs / rounds | test accuracy | wall time |"
echo "|---|---|---|---|---|"
echo "| pooled (gf train, 1 process) | $MODEL | $ROUNDS epochs | $pooled | $((t1 - t0)) s |"
echo "| FedAvg, 3 sites (IID shards) | $MODEL | $ROUNDS rounds x 1 epoch | $fed | $((t3 - t2)) s |"
echo "{\"phenotype\": $PHENO, \"rounds\": $ROUNDS, \"pooled_test_accuracy\": $pooled, \"federated_test_accuracy\": $fed}"
