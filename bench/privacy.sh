#!/bin/sh
# Learning under client-level differential privacy, in the setting of
# bench/fed_accuracy.sh (10 sites, Dirichlet(0.5), cnn, 1 local epoch per
# round, all sites every round): FedAvg with each update clipped to L2 norm
# CLIP and the noise multiplier that makes the whole job (epsilon, delta =
# 1e-5)-DP with epsilon = EPS over ROUNDS rounds (from gf dp noise, sample
# rate 1), next to the run without DP from the same script.
#   bench/privacy.sh [ROUNDS] [EPS] [CLIP]      (defaults: 50 8 1.0)
# Secure aggregation is not wired into the rounds yet; its runs will join here.
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${1:-50}; EPS=${2:-8}; CLIP=${3:-1.0}
GF=${GF:-build/gf}
sigma=$("$GF" dp noise --epsilon "$EPS" --delta 1e-5 --sample-rate 1 --steps "$ROUNDS" | sed -n 's/^noise multiplier \([0-9.]*\).*/\1/p')
echo "client-level DP: epsilon $EPS, delta 1e-5, $ROUNDS rounds, sample rate 1 -> noise multiplier $sigma, clip $CLIP"
DP="{\"clip\": $CLIP, \"noise\": $sigma, \"epsilon\": $EPS}" bench/fed_accuracy.sh "$ROUNDS" fedavg
