#!/bin/sh
# Accuracy of the issue's recipes on the Fashion-MNIST test set, seed 1:
#   mlp:784-256-128-10, AdamW lr 1e-3, batch 64, 5 epochs (goal >= 86.5 %)
#   cnn,                AdamW lr 1e-3, batch 64, 3 epochs (goal >= 89.5 %)
# then loads each checkpoint into PyTorch (scripts/gf_to_torch.py, Debian's
# python3-torch) and checks it reproduces gf's test accuracy.
#   bench/accuracy.sh [THREADS]
set -eu
cd "$(dirname "$0")/.."
T=${1:-2}
GF=${GF:-build/gf}
[ -x "$GF" ] || { echo "accuracy.sh: $GF missing; run make first" >&2; exit 1; }
mkdir -p build/bench
run() {
  name=$1; epochs=$2; goal=$3; shift 3
  "$GF" train "$@" --dataset fashion-mnist --epochs "$epochs" --batch 64 --optim adamw --lr 1e-3 \
      --seed 1 --threads "$T" --out "build/bench/$name.safetensors" --json > "build/bench/$name-acc.log"
  acc=$(tail -1 "build/bench/$name-acc.log" | /usr/bin/python3 -c 'import json,sys; print("%.2f" % (100*json.load(sys.stdin)["test_accuracy"]))')
  ok=$(/usr/bin/python3 -c "print('yes' if $acc >= $goal else 'NO')")
  echo "| $name | $epochs | $acc % | >= $goal % | $ok |"
}
echo "| model | epochs | gf test accuracy | goal | met |"
echo "|---|---|---|---|---|"
run mlp 5 86.5 --model mlp:784-256-128-10
run cnn 3 89.5 --model cnn
echo
for m in mlp cnn; do /usr/bin/python3 scripts/gf_to_torch.py "build/bench/$m.safetensors"; done
