#!/bin/sh
# backend_seam.sh -- owns the cost of the backend seam: the same `gf train`
# runs with two gf binaries (OLD: a build whose ops are called directly, NEW:
# one whose ops go through the backend table, engine/backend.h), interleaved
# old/new, R repeats each; prints the median train_images_per_s (forward,
# backward and optimizer time, from --json) of each and new / old. The
# machine may be shared: compare the ratio, not the absolute speeds.
#
#   bench/backend_seam.sh OLD_GF NEW_GF [R]     (R default 3)
#   THREADS=n   threads of each run (default 2; 1 is the steadier on a busy
#               machine: one thread is slowed by others, two at a barrier
#               stall each other)
#   MODELS="..." which of mlp cnn gpt to run (default all three)
#
# Runs: one epoch of mlp:784-256-128-10 and one of cnn on fashion-mnist
# (batch 64, AdamW 1e-3), and gpt:L=4,H=4,C=128,T=64,V=256 for
# one epoch of 150 steps (batch 8) on Debian's fortunes (as gpt_learning.sh).
set -eu
# As a user runs it, for both binaries alike: no BLAS or OpenMP tuning from
# the environment (gf picks its kernels and threads itself).
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS OMP_NUM_THREADS OMP_WAIT_POLICY OMP_PROC_BIND GOMP_SPINCOUNT
OLD=${1:?usage: bench/backend_seam.sh OLD_GF NEW_GF [R]}
NEW=${2:?usage: bench/backend_seam.sh OLD_GF NEW_GF [R]}
R=${3:-3}
THREADS=${THREADS:-2}
OUT=${OUT:-build/bench}
mkdir -p "$OUT"
TEXT="$OUT/seam-text"
# 150 steps x 8 windows x 64 bytes, + 1, over 0.9 (the last 10% is the test split)
BYTES=$(( (150 * 8 * 64 + 1) * 10 / 9 + 64 ))
DIR=/usr/share/games/fortunes
( cd $DIR && cat fortunes $(LC_ALL=C ls | grep -v '\.' | grep -vx 'fortunes\|art\|ascii-art') ) | head -c $BYTES >"$TEXT"

run() {   # run GF NAME -> prints train_images_per_s
  case $2 in
    mlp) set -- "$1" --model mlp:784-256-128-10 --dataset fashion-mnist --batch 64 ;;
    cnn) set -- "$1" --model cnn --dataset fashion-mnist --batch 64 ;;
    gpt) set -- "$1" --model gpt:L=4,H=4,C=128,T=64,V=256 --dataset "text:$TEXT" --batch 8 --grad-clip 1 ;;
  esac
  gf=$1; shift
  "$gf" train "$@" --epochs 1 --optim adamw --lr 1e-3 --seed 1 --threads "$THREADS" --json 2>/dev/null | tail -n 1 |
    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["train_images_per_s"])'
}
median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

for model in ${MODELS:-mlp cnn gpt}; do
  : >"$OUT/seam-$model-old"; : >"$OUT/seam-$model-new"
  i=0
  while [ $i -lt "$R" ]; do
    run "$OLD" $model >>"$OUT/seam-$model-old"
    run "$NEW" $model >>"$OUT/seam-$model-new"
    i=$((i + 1))
  done
  o=$(median <"$OUT/seam-$model-old"); n=$(median <"$OUT/seam-$model-new")
  printf '%s (%s threads): old %s samples/s [%s], new %s samples/s [%s], new/old %.3f\n' $model "$THREADS" \
    "$o" "$(tr '\n' ' ' <"$OUT/seam-$model-old" | sed 's/ $//')" \
    "$n" "$(tr '\n' ' ' <"$OUT/seam-$model-new" | sed 's/ $//')" \
    "$(echo "$n $o" | awk '{print $1 / $2}')"
done
