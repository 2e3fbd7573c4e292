# A central job with "resources": {"processes": 2} on the local executor:
# gf train runs as 2 MPI ranks under Debian's OpenMPI mpirun (src/train/dist.c)
# and its model equals one process's `gf train` with the same seed and flags
# within float summation order (max abs difference <= 1e-5 over every tensor,
# as tests/cli/mpi_train.sh), while the comparison is sharp enough to see a
# different batch; rank 0 alone writes the metrics (one line per epoch); the
# ledger holds the job's 2 cores (core_s = 2 x wall) and the CPU time of both
# ranks (more than either rank could spend alone); a rank that fails fails the
# job naming mpirun; processes above cores is refused at submission.
. tests/cli_lib.sh
. scripts/fed_local.sh
trap 'fed_down; rm -rf "$TMP"' EXIT
[ -x /usr/bin/mpirun ] || { echo "FAIL: mpirun missing (scripts/install-deps.sh build installs openmpi-bin)"; exit 1; }

fed_provision "$TMP" 1
fed_coordinator "$TMP" --cores 2 || { fail "coordinator start"; finish; exit 1; }
URL=${FED_URL%/}
export GF_COORDINATOR="$URL" GF_CA="$TMP/pki/coordinator/ca.crt"
unset GF_KIT GF_TOKEN
OP=$(cat "$TMP/data/operator.token")
"$GF" tenant add acme --shares 10 --token "$OP" > /dev/null || fail "tenant acme"
TA=$("$GF" token create --tenant acme --token "$OP")

small_idx "$TMP/d" 1000 100
"$GF" dataset add small --path "$TMP/d" --public --token "$OP" > /dev/null || fail "dataset add"
spec() {  # spec NAME CORES PROCESSES [EPOCHS]
  printf '{"kind":"central","name":"%s","model":"mlp:784-64-10","dataset":"small","epochs":%s,"batch":50,"optim":{"name":"adamw","lr":0.001},"seed":3,"resources":{"cores":%s,"processes":%s,"memory_mb":2048,"time_limit_s":120}}' \
    "$1" "${4:-2}" "$2" "$3"
}
maxdiff() {  # maxdiff A B: the largest absolute difference over every tensor of two checkpoints
  /usr/bin/python3 - "$1" "$2" <<'PY'
import json, struct, sys
def load(p):
    b = open(p, 'rb').read(); n = struct.unpack('<Q', b[:8])[0]
    h = json.loads(b[8:8 + n]); d = b[8 + n:]
    return {k: struct.unpack('<%df' % ((v['data_offsets'][1] - v['data_offsets'][0]) // 4),
                             d[v['data_offsets'][0]:v['data_offsets'][1]])
            for k, v in h.items() if k != '__metadata__'}
a = load(sys.argv[1]); b = load(sys.argv[2])
assert sorted(a) == sorted(b), "different tensors"
print(max(abs(x - y) for k in a for x, y in zip(a[k], b[k])))
PY
}
TOL=1e-5

# ---- 2 ranks == 1 process ------------------------------------------------------
spec mpi2 2 2 > "$TMP/j.json"
J=$("$GF" submit "$TMP/j.json" --token "$TA")
FLAGS="--model mlp:784-64-10 --dataset idx:$TMP/d --epochs 2 --batch 50 --optim adamw --lr 0.001 --seed 3 --threads 1"
"$GF" train $FLAGS --out "$TMP/one.st" > /dev/null || fail "one process"
"$GF" train $FLAGS --batch 25 --out "$TMP/b25.st" > /dev/null || fail "one process, batch 25"
token_wait_state "$J" succeeded 60 && ok "central job with 2 processes succeeded" || fail "job: $("$GF" logs "$J" --stderr --token "$OP")"
"$GF" download "$J" --out "$TMP/mpi.st" --token "$TA" > /dev/null || fail "download"
d=$(maxdiff "$TMP/one.st" "$TMP/mpi.st")
awk "BEGIN{exit !($d <= $TOL)}" && ok "its model == one process's: max abs diff $d <= $TOL" || fail "2 ranks vs 1 process: max abs diff $d"
d=$(maxdiff "$TMP/b25.st" "$TMP/mpi.st")
awk "BEGIN{exit !($d > $TOL)}" && ok "and != batch 25 (a rank's shard): max abs diff $d" || fail "batch 25 vs 2 ranks: $d"
n=$(grep -c '"epoch"' "$TMP/data/jobs/$J/metrics.jsonl")
[ "$n" = 2 ] && ok "rank 0 alone wrote the metrics (2 epoch lines)" || fail "metrics lines: $n: $(cat "$TMP/data/jobs/$J/metrics.jsonl")"
grep -q "gf train: 2 MPI ranks, 1 thread each" "$TMP/data/jobs/$J/stderr.log" \
  && ok "gf train ran as 2 ranks of 1 thread (cores 2 / processes 2)" || fail "stderr: $(cat "$TMP/data/jobs/$J/stderr.log")"
"$GF" status "$J" --token "$TA" --json > "$TMP/st"
jget 'abs(d["usage"]["core_s"] - 2 * d["usage"]["wall_s"]) <= 1e-6 * d["usage"]["core_s"] and d["usage"]["wall_s"] > 0 and d["usage"]["cpu_s"] > 0' < "$TMP/st" \
  | grep -qx True && ok "ledger: core_s = 2 x wall_s ($(jget 'd["usage"]' < "$TMP/st"))" || fail "usage: $(cat "$TMP/st")"

# ---- a failing rank fails the job, naming mpirun --------------------------------
sed 's/mlp:784-64-10/mlp:100-10/' "$TMP/j.json" > "$TMP/bad.json"       # every rank refuses the data's 784 inputs
JB=$("$GF" submit "$TMP/bad.json" --token "$TA")
token_wait_state "$JB" failed 60 > /dev/null && ok "a job whose ranks fail ends failed" || fail "bad job: $("$GF" status "$JB" --token "$TA")"
r=$("$GF" status "$JB" --token "$TA" --json | jget 'd["reason"]')
case "$r" in *"a rank of gf train failed: mpirun (2 ranks) exited with status"*"gf logs $JB --stderr"*) ok "reason: $r" ;; *) fail "reason: $r" ;; esac
grep -q "gf train" "$TMP/data/jobs/$JB/stderr.log" && ok "its stderr holds gf train's error: $(grep -m1 'gf train' "$TMP/data/jobs/$JB/stderr.log")" \
  || fail "stderr: $(cat "$TMP/data/jobs/$JB/stderr.log")"

# ---- cancel stops mpirun and every rank (each rank leads a process group of its own) ----
spec mpi-long 2 2 100000 > "$TMP/long.json"
JC=$("$GF" submit "$TMP/long.json" --token "$TA")
t=0; while ! grep -q "2 MPI ranks" "$TMP/data/jobs/$JC/stderr.log" 2>/dev/null && [ $t -lt 300 ]; do sleep 0.1; t=$((t+1)); done
n=$(pgrep -fc "$TMP/data/jobs/$JC/model.safetensors")
[ "$n" = 3 ] && ok "job $JC runs as mpirun and 2 ranks" || fail "processes of job $JC: $n"
"$GF" cancel "$JC" --token "$TA" > /dev/null
token_wait_state "$JC" cancelled 30 > /dev/null && ok "cancelled" || fail "cancel: $("$GF" status "$JC" --token "$TA")"
t=0; while pgrep -f "$TMP/data/jobs/$JC/model.safetensors" > /dev/null && [ $t -lt 50 ]; do sleep 0.1; t=$((t+1)); done
pgrep -fa "$TMP/data/jobs/$JC/model.safetensors" && fail "processes of job $JC left after cancel" || ok "no rank of job $JC is left"

# ---- refused at submission ----------------------------------------------------
spec p-gt-c 1 2 > "$TMP/p.json"
expect_error "processes above cores" "400 resources.processes: more than resources.cores" -- "$GF" submit "$TMP/p.json" --token "$TA"
spec too-many 4 4 > "$TMP/p.json"
expect_error "cores above the coordinator's" "400 cores" -- "$GF" submit "$TMP/p.json" --token "$TA"
finish
