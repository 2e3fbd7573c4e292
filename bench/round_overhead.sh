#!/bin/sh
# Per-round overhead of the federated runtime, next to Flower's in the same
# invocation. A round with no training (local.steps 0) is pure overhead:
# long-poll wake-up, model download, update upload, checks, aggregation,
# checkpoint (fsync'd) and the store's transactions.
#   - gf: a coordinator and 2 gf site processes over TLS on 127.0.0.1,
#     mlp:784-256-128-10 (235,146 parameters, 0.94 MB), FedAvg, 20 rounds;
#     round time = each round's duration_s, from its opening to its close,
#     which is the next round's opening (checked against the store's
#     millisecond started_at stamps): median and mean. Each round's
#     checkpoint and store transaction are written while the next round's
#     downloads run (both are inside the measured cycle).
#     The script asks for the job's state once a second (each ask is a new
#     process and TLS handshake, which on 2 cores would compete with the rounds).
#   - Flower (current PyPI release, installed here if missing): a server and
#     2 clients exchanging the same arrays with no training over TLS
#     (bench/flower_peer.py); median of 20 rounds.
#   - gf with 100 site processes: median round time and the coordinator's
#     peak RSS (VmHWM), for the model above and for a 5.7x larger one
#     (mlp:784-1024-512-10, 1,333,770 parameters). The slope of peak RSS
#     against model size is the number of model-sized buffers the
#     coordinator holds; what is left is the constant (process, SQLite, and
#     the TLS and connection state of the 100 sites), shown next to a run
#     with a 795-parameter model.
#   bench/round_overhead.sh [ROUNDS] [MANY_SITES]     (defaults: 20 100)
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${1:-20}
MANY=${2:-100}
GF=${GF:-build/gf}
[ -x "$GF" ] || { echo "round_overhead.sh: $GF missing; run make first" >&2; exit 1; }
. tests/cli_lib.sh
. scripts/fed_local.sh
DIR=$TMP
trap 'fed_down; rm -rf "$DIR"' EXIT INT TERM
small_idx "$DIR/d" 64 16
# MODEL / PARAMS: the model of the runs (any mlp:...; PARAMS its parameter count)
M=${MODEL:-mlp:784-256-128-10}
MODEL_BYTES=$(( ${PARAMS:-235146} * 4 ))

# run_gf NSITES MODEL: one job of ROUNDS rounds; prints "median_ms mean_ms peak_rss_kb idle_rss_kb cpu_ms"
# (cpu_ms: the coordinator's CPU time, all of its life; the status polls every second count in it)
run_gf() {
  trap 'fed_down' EXIT INT TERM    # run in $(...): its own processes go with it, also on failure
  n=$1; d="$DIR/fed$n-$(echo "$2" | tr -c 'a-z0-9\n' _)"; mkdir -p "$d"
  fed_provision "$d" "$n"
  # every site connects from 127.0.0.1 here (one address each in a real federation):
  # the per-address connection limit (default 64) must hold them all
  FED_PORT=0 fed_coordinator "$d" --quiet --per-ip-connections $((n + 16))
  sleep 0.3
  idle=$(sed -n 's/^VmHWM:[ \t]*\([0-9]*\) kB/\1/p' /proc/$FED_CO_PID/status)
  i=0
  while [ $i -lt "$n" ]; do fed_site "$d" s$i --data "idx:$DIR/d" --val-fraction 0 --threads 1 --quiet; i=$((i+1)); done
  cat > "$d/job.json" <<SPEC
{"name": "overhead", "model": "$2", "dataset": "none", "strategy": {"name": "fedavg"},
 "rounds": $ROUNDS, "min_sites": $n, "round_deadline_s": 600,
 "local": {"epochs": 1, "steps": 0, "batch": 64, "optim": {"name": "sgd", "lr": 0.01}}, "seed": 1}
SPEC
  GF_KIT="$d/pki/operator" "$GF" submit "$d/job.json" --coordinator "$FED_URL" > /dev/null
  FED_POLL_S=1 fed_wait_state "$d" 1 succeeded 900 >&2
  peak=$(sed -n 's/^VmHWM:[ \t]*\([0-9]*\) kB/\1/p' /proc/$FED_CO_PID/status)
  cpu=$(awk '{print ($14 + $15) * 10}' /proc/$FED_CO_PID/stat)   # user + system, ms (clock ticks of 10 ms)
  GF_KIT="$d/pki/operator" "$GF" status 1 --coordinator "$FED_URL" --json > "$d/status.json"
  fed_down
  cyc=$(python3 bench/round_times.py "$d/status.json")
  echo "$cyc $peak $idle $cpu"
}

python3 -c 'import flwr' 2>/dev/null || python3 -m pip install -q flwr >&2
gf2=$(run_gf 2 $M)
flower=$(python3 bench/flower_peer.py --rounds "$ROUNDS" | sed -n 's/^flower_median_ms=//p')
fver=$(python3 -c 'import flwr; print(flwr.__version__)')
gfm=$(run_gf "$MANY" $M)
gfb=$(run_gf "$MANY" mlp:784-1024-512-10)
gft=$(run_gf "$MANY" mlp:784-1-10)
set -- $gf2; g2=$1; g2mean=$2; g2cpu=$5
set -- $gfm; gm=$1; gmmean=$2; peak=$3; idle=$4
set -- $gfb; bpeak=$3
set -- $gft; tpeak=$3
echo "| setting | gf round (median / mean) | Flower $fver median round | gf median / Flower |"
echo "|---|---|---|---|"
python3 -c "print('| 2 sites, $ROUNDS rounds, TLS | %s / %s ms | %s ms | %.2f |' % ('$g2', '$g2mean', '$flower', $g2 / $flower))"
python3 -c "print('coordinator CPU per round (2 sites): %.1f ms' % ($g2cpu / $ROUNDS))"
echo
python3 - <<PY
mb, bb = $MODEL_BYTES, 1333770 * 4
peak, bpeak, tpeak, idle = $peak * 1024, $bpeak * 1024, $tpeak * 1024, $idle * 1024
k = (bpeak - peak) / (bb - mb)          # model-sized buffers
const = peak - k * mb
print("| $MANY site processes, $ROUNDS rounds | round (median / mean) | coordinator peak RSS |")
print("|---|---|---|")
print("| %s (%.2f MB) | %s / %s ms | %.1f MB |" % ("$M", mb / 2**20, "$gm", "$gmmean", peak / 2**20))
print("| mlp:784-1024-512-10 (%.2f MB) | | %.1f MB |" % (bb / 2**20, bpeak / 2**20))
print("| mlp:784-1-10 (3 KB) | | %.1f MB |" % (tpeak / 2**20))
print()
print("peak RSS = %.2f x model size + %.1f MB (idle coordinator: %.1f MB; with a 3 KB model: %.1f MB)"
      % (k, const / 2**20, idle / 2**20, tpeak / 2**20))
PY
