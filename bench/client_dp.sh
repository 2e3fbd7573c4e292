#!/bin/sh
# Client-level DP with many sites (build/bench/client_dp, source
# bench/client_dp.c): Fashion-MNIST split IID over SITES sites, each sampled
# per round with probability q from the CSPRNG, one local epoch of a small
# MLP per sampled site, DP-FedAvg through the coordinator's own clipping,
# central integer noise and accountant. Every DP run gets the noise
# multiplier `gf dp noise` plans for EPS at its q over ROUNDS rounds.
# Four runs:
#   1. DP at q = Q (about SITES * Q sites per round): epsilon amplified by
#      sampling, valid only while the sampling is secret from the
#      aggregator (the in-process simulation keeps it so; the coordinator
#      today does not); the q = 1 epsilon of the same noise next to it;
#   2. the same without DP (plain FedAvg over the same sampling);
#   3. DP at q = 1 (every site every round): an epsilon that holds against
#      an aggregator that sees who took part, as the coordinator does;
#   4. DP at q = Q_SMALL (a small cohort) at the same epsilon: where
#      client-level DP stops paying.
#   bench/client_dp.sh                 defaults below (about 6 minutes on 2 vCPUs)
#   SITES=2000 Q=0.6 ROUNDS=30 bench/client_dp.sh
#   RUNS="1 2" bench/client_dp.sh      only some of the runs
set -eu
cd "$(dirname "$0")/.."
SITES=${SITES:-3000}
Q=${Q:-0.4}
Q_SMALL=${Q_SMALL:-0.05}
ROUNDS=${ROUNDS:-60}
EPS=${EPS:-8}
DELTA=${DELTA:-1e-5}
CLIP=${CLIP:-1}
LR=${LR:-0.2}
BATCH=${BATCH:-5}
MODEL=${MODEL:-mlp:784-64-10}
RUNS=${RUNS:-1 2 3 4}
GF=${GF:-build/gf}
make -s build/bench/client_dp "$GF" >/dev/null || { echo "client_dp.sh: cannot build build/bench/client_dp" >&2; exit 1; }
common="--sites $SITES --rounds $ROUNDS --lr $LR --batch $BATCH --model $MODEL --delta $DELTA"
echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs ($(sed -n 's/^model name[ \t]*: //p' /proc/cpuinfo | head -1))"

# sigma for EPS at rate $1 over ROUNDS rounds, rounded up so that epsilon stays <= EPS
plan() { $GF dp noise --epsilon "$EPS" --delta "$DELTA" --sample-rate "$1" --steps "$ROUNDS" |
         awk '/^noise multiplier/ { printf "%.6f", $3 + 1e-6 }'; }
dp_run() {
  sigma=$(plan "$1")
  [ -n "$sigma" ] || { echo "client_dp.sh: gf dp noise gave no multiplier for q $1" >&2; exit 1; }
  echo "## DP-FedAvg, q $1: noise multiplier $sigma (gf dp noise --epsilon $EPS --delta $DELTA --sample-rate $1 --steps $ROUNDS)"
  build/bench/client_dp $common --q "$1" --clip "$CLIP" --noise "$sigma"
}
for r in $RUNS; do
  case $r in
    1) dp_run "$Q" ;;
    2) echo "## FedAvg without DP, q $Q"; build/bench/client_dp $common --q "$Q" --clip 0 --noise 0 ;;
    3) dp_run 1 ;;
    4) dp_run "$Q_SMALL" ;;
    *) echo "client_dp.sh: unknown run $r" >&2; exit 2 ;;
  esac
done
