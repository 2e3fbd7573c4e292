#!/bin/sh
# The federated demo (make demo): a federation on this machine over real
# TLS. Provisions a CA and three site kits, starts gf coordinator and three
# gf site processes, each holding its own Dirichlet(0.5) shard of
# Fashion-MNIST (the data never leaves the site process), runs a FedAvg job
# of the cnn for ROUNDS rounds, prints the per-round metrics, downloads the
# global model and evaluates it with gf eval. Everything lives in
# build/demo-fed and stops when the script ends.
#   scripts/fed_demo.sh [ROUNDS]     (default 3)
set -eu
cd "$(dirname "$0")/.."
GF=${GF:-build/gf}
ROUNDS=${1:-3}
. scripts/fed_local.sh
DIR=build/demo-fed
rm -rf "$DIR"; mkdir -p "$DIR"
trap 'fed_down' EXIT INT TERM
fed_provision "$DIR" 3
fed_coordinator "$DIR"
echo "coordinator at $FED_URL (log: $DIR/coordinator.log)"
for i in 0 1 2; do
  fed_site "$DIR" s$i --data fashion-mnist --partition dirichlet:0.5 --shard $i/3 --threads 1
done
cat > "$DIR/job.json" <<SPEC
{"name": "demo-fedavg", "model": "cnn", "dataset": "fashion-mnist", "strategy": {"name": "fedavg"},
 "rounds": $ROUNDS, "sites": "all", "fraction": 1.0, "min_sites": 3, "round_deadline_s": 900,
 "local": {"epochs": 1, "steps": null, "batch": 64, "optim": {"name": "sgd", "lr": 0.01, "momentum": 0.9}},
 "seed": 1, "eval": "fashion-mnist:test"}
SPEC
export GF_KIT="$DIR/pki/operator"
job=$("$GF" submit "$DIR/job.json" --coordinator "$FED_URL")
echo "submitted job $job; 3 sites train one local epoch per round"
last=0
while :; do
  out=$("$GF" status "$job" --coordinator "$FED_URL")
  n=$(echo "$out" | grep -c '^  round' || true)
  [ "$n" -gt "$last" ] && { echo "$out" | grep '^  round' | tail -n $((n - last)); last=$n; }
  case "$out" in *"succeeded"*) break ;; *"failed"*|*"cancelled"*) echo "$out"; exit 1 ;; esac
  sleep 1
done
"$GF" download "$job" --out "$DIR/global.safetensors" --coordinator "$FED_URL"
"$GF" eval --model-file "$DIR/global.safetensors" --dataset fashion-mnist
"$GF" audit verify "$DIR/data/audit.log"
