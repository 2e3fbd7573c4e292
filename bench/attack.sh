#!/bin/sh
# A federated job under an anonymous attack on loopback: 2 gf site processes
# and a coordinator over TLS, mlp:784-256-128-10, FedAvg, no training (a
# round is pure overhead, bench/round_overhead.sh), ROUNDS rounds; first
# alone, then while anonymous clients (tests/http_edge.py hold, 8 source
# addresses 127.0.0.2-9, CONNS connections in all) announce 256 MiB bodies
# and trickle their headers a byte a second (a complete anonymous request is
# answered 401 before its body), reconnecting whenever cut, and a member POSTs
# /v1/jobs every 0.5 s. Prints the median round time both ways (the rounds'
# duration_s, bench/round_times.py), their ratio, and the member's worst
# POST latency.
#   bench/attack.sh [ROUNDS] [CONNS]      (defaults: 1500 500; 1500 rounds last about a minute)
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${1:-1500}
CONNS=${2:-500}
GF=${GF:-build/gf}
PY=/usr/bin/python3
[ -x "$GF" ] || { echo "attack.sh: $GF missing; run make first" >&2; exit 1; }
. tests/cli_lib.sh
. scripts/fed_local.sh
DIR=$TMP
ATT=""
trap 'for p in $ATT; do kill $p 2>/dev/null || true; done; fed_down; rm -rf "$DIR"' EXIT INT TERM
small_idx "$DIR/d" 64 16

# run NAME ATTACK: one job; prints the median round time in ms
run() {
  d="$DIR/$1"; mkdir -p "$d"
  fed_provision "$d" 2
  FED_PORT=0; fed_coordinator "$d" --quiet
  OP=$(cat "$d/data/operator.token")
  "$GF" tenant add acme --shares 1 --token "$OP" --coordinator "$FED_URL" --ca "$d/pki/coordinator/ca.crt" > /dev/null
  TA=$("$GF" token create --tenant acme --token "$OP" --coordinator "$FED_URL" --ca "$d/pki/coordinator/ca.crt")
  printf '{"kind":"central","name":"m","model":"mlp:784-8-10","dataset":"fashion-mnist","epochs":1,"batch":64,"optim":{"name":"sgd","lr":0.01},"seed":1,"resources":{"cores":4096,"gpus":0,"memory_mb":64,"time_limit_s":60}}' > "$d/member.json"
  if [ "$2" = 1 ]; then
    per=$(( CONNS / 8 ))
    for i in 2 3 4 5 6 7 8 9; do $PY tests/http_edge.py hold "$FED_PORT" "$per" 600 "127.0.0.$i" & ATT="$ATT $!"; done
    sleep 5
    $PY tests/http_edge.py member "$FED_PORT" "$TA" "$d/member.json" 600 > "$d/member.out" & MEM=$!
  fi
  for s in s0 s1; do fed_site "$d" $s --data "idx:$DIR/d" --val-fraction 0 --threads 1 --quiet; done
  cat > "$d/job.json" <<SPEC
{"name": "attack", "model": "mlp:784-256-128-10", "dataset": "none", "strategy": {"name": "fedavg"},
 "rounds": $ROUNDS, "min_sites": 2, "round_deadline_s": 600,
 "local": {"epochs": 1, "steps": 0, "batch": 64, "optim": {"name": "sgd", "lr": 0.01}}, "seed": 1}
SPEC
  GF_KIT="$d/pki/operator" "$GF" submit "$d/job.json" --coordinator "$FED_URL" > /dev/null
  [ "$2" = 1 ] && { sleep 5; ss -Htn state established "( dport = :$FED_PORT )" | wc -l > "$d/conns"; }
  fed_wait_state "$d" 1 succeeded 900 >&2
  GF_KIT="$d/pki/operator" "$GF" status 1 --coordinator "$FED_URL" --json > "$d/status.json"
  if [ "$2" = 1 ]; then
    kill $MEM 2>/dev/null || true; wait $MEM 2>/dev/null || true
    for p in $ATT; do kill $p 2>/dev/null || true; done; ATT=""
  fi
  fed_down
  $PY bench/round_times.py "$d/status.json" | cut -d' ' -f1
}
base=$(run alone 0)
att=$(run attacked 1)
echo "rounds=$ROUNDS anonymous_connections=$CONNS (client connections open 5 s into the attacked job: $(cat "$DIR/attacked/conns"))"
echo "median_round_ms alone=$base attacked=$att ratio=$($PY -c "print('%.2f' % ($att / $base))")"
$PY -c '
import sys
r = [l.split() for l in open(sys.argv[1]) if l.startswith("post_ms=")]
ms = [float(a.split("=")[1]) for a, b in r]
print("member POST /v1/jobs during the attack: %d posts, max %.0f ms, median %.0f ms, statuses %s" % (
    len(ms), max(ms), sorted(ms)[len(ms) // 2], sorted(set(b.split("=")[1] for a, b in r))))' "$DIR/attacked/member.out"
