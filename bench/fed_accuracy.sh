#!/bin/sh
# Federated learning on Fashion-MNIST, the setting of NIID-Bench: 10 sites
# (10 real gf site processes over TLS), Dirichlet(0.5) label skew, model cnn,
# ROUNDS rounds of 1 local epoch, SGD lr 0.01 momentum 0.9, batch 64; the
# coordinator evaluates the global model on the test set after every round.
# Runs FedAvg, FedProx (mu 0.01) and SCAFFOLD one after the other on the same
# federation and prints a markdown table (goal: FedAvg >= 89.0 % after 50
# rounds; FedProx and SCAFFOLD at least match it).
#   [SEED=S] [MODEL=M] bench/fed_accuracy.sh [ROUNDS] [STRATEGIES]  (defaults: seed 1, cnn, 50 "fedavg fedprox scaffold";
#                                                    fedprox:MU sets FedProx's mu;
#                                                    NAME+secagg runs it under secure aggregation;
#                                                    DP='{"clip": S, "noise": SIGMA}' adds client-level DP)
# Each site trains with 1 thread; the 10 share the machine's cores. Sites hold
# out 5 % of their shard as the local validation split. Besides accuracy, each
# run's median round time (one round's opening to the next's, the store's
# stamps) and its traffic per round (the ledger's bytes up and down, summed
# over the sites) are printed.
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${1:-50}
STRATS=${2:-fedavg fedprox scaffold}
GF=${GF:-build/gf}
[ -x "$GF" ] || { echo "fed_accuracy.sh: $GF missing; run make first" >&2; exit 1; }
. scripts/fed_local.sh
DIR=$(mktemp -d /tmp/gf-fedacc.XXXXXX)
trap 'fed_down; rm -rf "$DIR"' EXIT INT TERM
export OMP_WAIT_POLICY=PASSIVE
fed_provision "$DIR" 10
fed_coordinator "$DIR" --quiet
i=0
while [ $i -lt 10 ]; do
  fed_site "$DIR" s$i --data fashion-mnist --partition dirichlet:0.5 --shard $i/10 --partition-seed 1 \
      --val-fraction 0.05 --threads 1 --quiet
  i=$((i+1))
done
export GF_KIT="$DIR/pki/operator"
echo "| strategy | rounds | final accuracy | best accuracy | wall time | median round | MB up / down per round |"
echo "|---|---|---|---|---|---|---|"
for s in $STRATS; do
  sa=""
  case $s in *+secagg) sa=', "secure_aggregation": {}' ;; esac
  case ${s%+secagg} in
    fedprox) strat='{"name": "fedprox", "mu": 0.01}' ;;
    fedprox:*) m=${s%+secagg}; strat="{\"name\": \"fedprox\", \"mu\": ${m#fedprox:}}" ;;
    *) strat="{\"name\": \"${s%+secagg}\"}" ;;
  esac
  cat > "$DIR/$s.json" <<SPEC
{"name": "fmnist-$(echo "$s" | tr -c 'a-z0-9\n' -)", "model": "${MODEL:-cnn}", "dataset": "fashion-mnist", "strategy": $strat,
 "rounds": $ROUNDS, "sites": "all", "fraction": 1.0, "min_sites": 10, "round_deadline_s": 600,
 "local": {"epochs": 1, "steps": null, "batch": 64, "optim": {"name": "sgd", "lr": 0.01, "momentum": 0.9}},
 "seed": ${SEED:-1}, "eval": "fashion-mnist:test"${DP:+, \"dp\": $DP}$sa}
SPEC
  t0=$(date +%s)
  job=$("$GF" submit "$DIR/$s.json" --coordinator "$FED_URL")
  fed_wait_state "$DIR" "$job" succeeded $((ROUNDS * 600)) >&2
  t1=$(date +%s)
  "$GF" status "$job" --coordinator "$FED_URL" --json > "$DIR/$s.status.json"
  "$GF" usage --coordinator "$FED_URL" --json > "$DIR/$s.usage.json"
  python3 - "$DIR/$s.status.json" "$s" "$ROUNDS" $((t1 - t0)) "$DIR/$s.usage.json" "$job" <<'PY'
import datetime, json, statistics, sys
st = json.load(open(sys.argv[1]))
acc = [r["accuracy"] for r in st["rounds"]]
t = [datetime.datetime.strptime(r["started_at"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp() for r in st["rounds"]]
cyc = [b - a for a, b in zip(t, t[1:])]
med = statistics.median(cyc) if cyc else float("nan")
rows = [u for u in json.load(open(sys.argv[5]))["entries"] if u["job"] == int(sys.argv[6]) and u["site"]]
up = sum(u["bytes_up"] for u in rows) / len(acc) / 1e6
down = sum(u["bytes_down"] for u in rows) / len(acc) / 1e6
print("| %s | %s | %.2f %% | %.2f %% (round %d) | %d min %02d s | %.1f s | %.1f / %.1f |" % (sys.argv[2], sys.argv[3],
      100 * acc[-1], 100 * max(acc), 1 + acc.index(max(acc)), int(sys.argv[4]) // 60, int(sys.argv[4]) % 60,
      med, up, down))
print("per-round accuracy:", " ".join("%.4f" % a for a in acc), file=sys.stderr)
PY
done
fed_down
trap - EXIT INT TERM
rm -rf "$DIR"
