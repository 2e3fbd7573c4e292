#!/bin/sh
# Client-level DP with many sites (build/bench/client_dp, source
# bench/client_dp.c): Fashion-MNIST split IID over SITES sites, each sampled
# per round with probability Q from the CSPRNG, one local epoch of a small
# MLP per sampled site, DP-FedAvg through the coordinator's own clipping,
# central integer noise and accountant; then the same run without DP
# (plain FedAvg over the same sampling). The noise multiplier is planned by
# `gf dp noise` for EPS at the amplified rate Q, so the epsilon printed holds
# only while the sampling is secret from the aggregator; the figure at q = 1
# (the aggregator sees who took part, as the coordinator does today) is
# printed next to it.
#   bench/client_dp.sh                 defaults below (about 8 minutes on 2 vCPUs)
#   SITES=3000 Q=0.4 ROUNDS=10 EPS=8 bench/client_dp.sh
set -eu
cd "$(dirname "$0")/.."
SITES=${SITES:-2000}
Q=${Q:-0.6}
ROUNDS=${ROUNDS:-15}
EPS=${EPS:-8}
DELTA=${DELTA:-1e-5}
CLIP=${CLIP:-1}
LR=${LR:-0.1}
BATCH=${BATCH:-10}
MODEL=${MODEL:-mlp:784-64-10}
GF=${GF:-build/gf}
make -s build/bench/client_dp "$GF" >/dev/null || { echo "client_dp.sh: cannot build build/bench/client_dp" >&2; exit 1; }
SIGMA=$($GF dp noise --epsilon "$EPS" --delta "$DELTA" --sample-rate "$Q" --steps "$ROUNDS" | awk '/^noise multiplier/ { printf "%.6f", $3 + 1e-6 }')   # rounded up: epsilon stays <= EPS
[ -n "$SIGMA" ] || { echo "client_dp.sh: gf dp noise gave no multiplier" >&2; exit 1; }
echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs ($(sed -n 's/^model name[ \t]*: //p' /proc/cpuinfo | head -1))"
echo "# noise multiplier $SIGMA for epsilon $EPS at q $Q over $ROUNDS rounds (gf dp noise); at q = 1:" \
     "$($GF dp epsilon --noise "$SIGMA" --sample-rate 1 --steps "$ROUNDS" --delta "$DELTA")"
common="--sites $SITES --q $Q --rounds $ROUNDS --lr $LR --batch $BATCH --model $MODEL --delta $DELTA"
echo "## DP-FedAvg"
build/bench/client_dp $common --clip "$CLIP" --noise "$SIGMA"
echo "## FedAvg, no DP"
build/bench/client_dp $common --clip 0 --noise 0
