#!/bin/sh
# Learning under the privacy modes, in the setting of bench/fed_accuracy.sh
# (10 gf site processes over TLS, Fashion-MNIST, Dirichlet(0.5), 1 local
# epoch per round, all sites every round):
#   secagg  FedAvg of the cnn with and without secure aggregation, ROUNDS
#           rounds each, in this one invocation (goal: within 0.3 points);
#   dp      FedAvg with client-level DP at (EPS, 1e-5) over ROUNDS rounds
#           (the noise multiplier from gf dp noise, sample rate 1, each update
#           clipped to CLIP), central noise and then noise from the sites
#           under secure aggregation, for the model DP_MODEL.
#   bench/privacy.sh [PARTS] [ROUNDS] [EPS] [CLIP]
#       (defaults: "secagg dp" 50 8 1.0; DP_MODEL=cnn, e.g. DP_MODEL=mlp:784-10)
set -eu
cd "$(dirname "$0")/.."
PARTS=${1:-secagg dp}; ROUNDS=${2:-50}; EPS=${3:-8}; CLIP=${4:-1.0}
GF=${GF:-build/gf}
export GF
for part in $PARTS; do
  case $part in
    secagg)
      echo "## FedAvg with and without secure aggregation (cnn, $ROUNDS rounds)"
      bench/fed_accuracy.sh "$ROUNDS" "fedavg fedavg+secagg" ;;
    dp)
      sigma=$("$GF" dp noise --epsilon "$EPS" --delta 1e-5 --sample-rate 1 --steps "$ROUNDS" |
              sed -n 's/^noise multiplier \([0-9.]*\).*/\1/p')
      echo "## client-level DP: epsilon $EPS, delta 1e-5, $ROUNDS rounds, sample rate 1 -> noise multiplier $sigma," \
           "clip $CLIP, model ${DP_MODEL:-cnn}"
      MODEL=${DP_MODEL:-cnn} DP="{\"clip\": $CLIP, \"noise\": $sigma, \"epsilon\": $EPS}" \
        bench/fed_accuracy.sh "$ROUNDS" "fedavg fedavg+secagg" ;;
    *) echo "privacy.sh: unknown part \"$part\" (secagg, dp)" >&2; exit 2 ;;
  esac
done
