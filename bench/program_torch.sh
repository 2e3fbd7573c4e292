#!/bin/sh
# The PyTorch example (examples/program-torch) as a program job on the local
# executor, against the same script run directly (no sandbox, no
# coordinator) as the peer.
#
# What it measures: a member of tenant "acme" submits the example with
# `gf submit job.json --files examples/program-torch` (2 cores, the
# registered fashion-mnist dataset at /data/fashion-mnist, the first LIMIT
# training images, 1 epoch); the job runs in its bubblewrap sandbox with its
# cgroups. Printed: the job's state, its last metrics line (test accuracy),
# its wall time from the usage ledger, the downloaded model loaded back by
# PyTorch and evaluated on the test set (the same accuracy), then the peer's
# wall time and accuracy, and the ratio job / peer (the sandbox's and the
# coordinator's overhead, including the scheduler's start latency).
#
#   bench/program_torch.sh            (environment: GF (default build/gf), LIMIT (default 12000))
set -u
GF=${GF:-build/gf}
LIMIT=${LIMIT:-12000}
PY=/usr/bin/python3
TMP=$(mktemp -d)
. scripts/fed_local.sh
trap 'fed_down; rm -rf "$TMP"' EXIT
fed_provision "$TMP" 1 > /dev/null
fed_coordinator "$TMP" --cores 2 --quiet || exit 1
export GF_COORDINATOR="${FED_URL%/}" GF_CA="$TMP/pki/coordinator/ca.crt"
OP=$(cat "$TMP/data/operator.token")
"$GF" tenant add acme --shares 10 --token "$OP" > /dev/null
TA=$("$GF" token create --tenant acme --token "$OP" 2>/dev/null)
sed "s/\"--epochs\", \"1\"/\"--epochs\", \"1\", \"--limit\", \"$LIMIT\"/" examples/program-torch/job.json > "$TMP/job.json"
ID=$("$GF" submit "$TMP/job.json" --files examples/program-torch --token "$TA") || exit 1
while :; do
  s=$("$GF" status "$ID" --token "$TA" --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["state"])')
  case "$s" in succeeded|failed|cancelled|timed-out) break ;; esac
  sleep 1
done
"$GF" status "$ID" --token "$TA" --json > "$TMP/status.json"
$PY - "$TMP/status.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print("program job: %s (%s)" % (d["state"], d["reason"]))
print("  metrics lines: %d, last: %s" % (d.get("metrics_lines", 0), d["metrics"][-1] if d["metrics"] else None))
u = d.get("usage") or {}
print("  usage: wall %.1f s, core %.1f s, cpu %.1f s, peak %.0f MiB" % (u.get("wall_s", 0), u.get("core_s", 0),
      u.get("cpu_s", 0), u.get("peak_mem_mb", 0)))
PY
"$GF" download "$ID" --out "$TMP/out" --token "$TA" > /dev/null || echo "download failed"
$PY - "$TMP/out/model.pt" <<'PY'
import sys
sys.path.insert(0, "examples/program-torch")
import torch, train
net = train.Net()
net.load_state_dict(torch.load(sys.argv[1]))
x, y = train.load("/usr/share/datasets/fashion-mnist", "test")
with torch.no_grad():
    print("  downloaded model.pt, loaded by PyTorch: test accuracy %.4f" % (net(x).argmax(1) == y).float().mean().item())
PY
JOB_WALL=$($PY -c 'import json,sys; print((json.load(open(sys.argv[1])).get("usage") or {}).get("wall_s", 0))' "$TMP/status.json")
t0=$(date +%s.%N)
OMP_NUM_THREADS=2 GF_OUTPUT="$TMP/peer" GF_METRICS="$TMP/peer/m.jsonl" $PY examples/program-torch/train.py \
  --data /usr/share/datasets/fashion-mnist --epochs 1 --limit "$LIMIT" | sed 's/^/peer (no sandbox): /'
t1=$(date +%s.%N)
$PY -c 'import sys; j, p = float(sys.argv[1]), float(sys.argv[2]) - float(sys.argv[3]); print("job wall %.1f s, peer wall %.1f s, ratio %.2f" % (j, p, j / p))' "$JOB_WALL" "$t1" "$t0"
