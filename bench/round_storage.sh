#!/bin/sh
# The federated round against the coordinator's storage: the 2-site job of
# bench/round_overhead.sh (mlp:784-256-128-10, no training, TLS on
# 127.0.0.1) with every fsync/fdatasync of the coordinator made slower by
# 0, 1 and 5 ms (bench/slow_flush.c, LD_PRELOAD; the sites are untouched),
# as flushes to network or replicated storage take, next to Flower's round
# (bench/flower_peer.py: no durable state at all) in the same invocation.
# Each gf round writes its checkpoint (file and folder flushed), one SQLite
# transaction and one audit-log append before the round after next can
# close: the flushes are on the driver's path.
#   bench/round_storage.sh [ROUNDS] [DELAYS_MS]      (defaults: 50 "0 1 5")
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${1:-50}
DELAYS=${2:-0 1 5}
GF_BIN=${GF:-build/gf}
[ -x "$GF_BIN" ] || { echo "round_storage.sh: $GF_BIN missing; run make first" >&2; exit 1; }
GF_BIN=$(realpath "$GF_BIN")
. tests/cli_lib.sh
. scripts/fed_local.sh
DIR=$TMP
trap 'fed_down; rm -rf "$DIR"' EXIT INT TERM
cc -shared -fPIC -O2 -o "$DIR/slow_flush.so" bench/slow_flush.c -ldl
small_idx "$DIR/d" 64 16
# the coordinator alone gets the shim: a wrapper that the fed_* helpers run as $GF
cat > "$DIR/gf" <<WRAP
#!/bin/sh
[ "\$1" = coordinator ] && [ "\${FLUSH_MS:-0}" -gt 0 ] && export LD_PRELOAD="$DIR/slow_flush.so" SLOW_FLUSH_MS="\$FLUSH_MS"
exec "$GF_BIN" "\$@"
WRAP
chmod +x "$DIR/gf"
GF="$DIR/gf"

# run_gf DELAY_MS: prints "median_ms mean_ms"
run_gf() {
  trap 'fed_down' EXIT INT TERM
  d="$DIR/run$1"; mkdir -p "$d"
  fed_provision "$d" 2
  FLUSH_MS=$1 FED_PORT=0 fed_coordinator "$d" --quiet
  sleep 0.3
  for s in s0 s1; do fed_site "$d" $s --data "idx:$DIR/d" --val-fraction 0 --threads 1 --quiet; done
  cat > "$d/job.json" <<SPEC
{"name": "storage", "model": "mlp:784-256-128-10", "dataset": "none", "strategy": {"name": "fedavg"},
 "rounds": $ROUNDS, "min_sites": 2, "round_deadline_s": 600,
 "local": {"epochs": 1, "steps": 0, "batch": 64, "optim": {"name": "sgd", "lr": 0.01}}, "seed": 1}
SPEC
  GF_KIT="$d/pki/operator" "$GF" submit "$d/job.json" --coordinator "$FED_URL" > /dev/null
  FED_POLL_S=1 fed_wait_state "$d" 1 succeeded 900 >&2
  GF_KIT="$d/pki/operator" "$GF" status 1 --coordinator "$FED_URL" --json > "$d/status.json"
  fed_down
  python3 bench/round_times.py "$d/status.json"
}

python3 -c 'import flwr' 2>/dev/null || python3 -m pip install -q flwr >&2
flower=$(python3 bench/flower_peer.py --rounds "$ROUNDS" | sed -n 's/^flower_median_ms=//p')
echo "| coordinator flush delay | gf round (median / mean) | Flower median round | gf median / Flower |"
echo "|---|---|---|---|"
for ms in $DELAYS; do
  set -- $(run_gf "$ms")
  python3 -c "print('| %s ms | %s / %s ms | %s ms | %.2f |' % ('$ms', '$1', '$2', '$flower', $1 / $flower))"
done
