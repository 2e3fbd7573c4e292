#!/bin/sh
# Secure-aggregation rounds with real site processes over TLS on 127.0.0.1:
# a coordinator and N gf site processes (mlp:784-16-10, 12,730 parameters;
# no training: local.steps 0), FedAvg under secure aggregation, R rounds.
# Each round is the full protocol (keys, shares, masked input, consistency,
# unmask); between its phases every site waits in a long-poll for the
# others. Prints, per binary:
#   - the round time (the store's started_at, opening to opening): median, mean;
#   - the coordinator's CPU per round (user + system, its whole life, idle
#     included, from /proc/PID/stat);
#   - its peak thread count, sampled every 20 ms while the job runs.
#   bench/secagg_rounds.sh [SITES] [ROUNDS]        (defaults: 20 10)
#   GF="build/gf other/gf" bench/secagg_rounds.sh  several binaries, each in turn,
#                                                  in the same invocation
set -eu
cd "$(dirname "$0")/.."
SITES=${1:-20}
ROUNDS=${2:-10}
BINS=${GF:-build/gf}
for g in $BINS; do [ -x "$g" ] || { echo "secagg_rounds.sh: $g missing; run make first" >&2; exit 1; }; done
. tests/cli_lib.sh
. scripts/fed_local.sh
DIR=$TMP
trap 'fed_down; rm -rf "$DIR"' EXIT INT TERM
small_idx "$DIR/d" 64 16

# run_one GF: prints "median_ms mean_ms cpu_ms_per_round peak_threads"
run_one() {
  trap 'fed_down' EXIT INT TERM
  GF=$1
  d="$DIR/run$(date +%s%N)"; mkdir -p "$d"
  fed_provision "$d" "$SITES"
  FED_PORT=0 fed_coordinator "$d" --quiet --per-ip-connections $((SITES + 16))
  i=0
  while [ $i -lt "$SITES" ]; do fed_site "$d" s$i --data "idx:$DIR/d" --val-fraction 0 --threads 1 --quiet; i=$((i+1)); done
  sleep 1
  cat > "$d/job.json" <<SPEC
{"name": "secure-rounds", "model": "mlp:784-16-10", "dataset": "none", "strategy": {"name": "fedavg"},
 "rounds": $ROUNDS, "sites": "all", "min_sites": $SITES, "round_deadline_s": 600,
 "local": {"epochs": 1, "steps": 0, "batch": 64, "optim": {"name": "sgd", "lr": 0.01}}, "seed": 1,
 "secure_aggregation": {}}
SPEC
  cpu0=$(awk '{print $14 + $15}' /proc/$FED_CO_PID/stat)
  GF_KIT="$d/pki/operator" "$GF" submit "$d/job.json" --coordinator "$FED_URL" > /dev/null
  peak=0
  while :; do        # the job's end is seen in its audit log (no status process competing with the rounds)
    n=$(ls /proc/$FED_CO_PID/task | wc -l)
    [ "$n" -gt "$peak" ] && peak=$n
    grep -q '"job.succeeded"\|"job.failed"' "$d/data/audit.log" 2>/dev/null && break
    sleep 0.02
  done
  cpu1=$(awk '{print $14 + $15}' /proc/$FED_CO_PID/stat)
  GF_KIT="$d/pki/operator" "$GF" status 1 --coordinator "$FED_URL" --json > "$d/status.json"
  fed_down
  python3 -c '
import datetime, json, statistics, sys
s = json.load(open(sys.argv[1]))
assert s["state"] == "succeeded", s["state"]
r = s["rounds"]
t = [datetime.datetime.strptime(x["started_at"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp() for x in r]
c = [1000 * (b - a) for a, b in zip(t, t[1:])]
print("%.1f %.1f %.1f %s" % (statistics.median(c), statistics.mean(c),
                             (int(sys.argv[3]) - int(sys.argv[2])) * 10 / len(r), sys.argv[4]))' \
    "$d/status.json" "$cpu0" "$cpu1" "$peak"
}

echo "| binary | sites | rounds | round median / mean | coordinator CPU per round | coordinator peak threads |"
echo "|---|---|---|---|---|---|"
for g in $BINS; do
  set -- $(run_one "$g")
  echo "| $g | $SITES | $ROUNDS | $1 / $2 ms | $3 ms | $4 |"
done
