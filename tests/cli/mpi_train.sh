#!/bin/sh
# Data-parallel training over MPI (OpenMPI's mpirun, src/train/dist.c):
# N ranks on the same global batch end with the weights and optimizer state
# of one process, within float summation order (max abs difference <= 1e-5
# over every tensor of the checkpoint), for an MLP (equal shards), a model
# with dropout on 3 ranks with unequal shards (batch 7) and a GPT with
# gradient accumulation, clipping and a cosine schedule; the comparison is
# sharp enough to see a different batch. A checkpoint from 2 ranks resumes
# on 1 (and one from 1 on 2) and ends where an uninterrupted run does. Ranks
# that disagree on the model or the data, and a rank that fails alone, stop
# every rank with an error and no hang.
. "$(dirname "$0")/../cli_lib.sh"
command -v mpirun >/dev/null || { echo "FAIL: mpirun missing (scripts/install-deps.sh build installs openmpi-bin)"; exit 1; }
# root needs --allow-run-as-root; 3 ranks on 2 cores need --oversubscribe;
# no single-copy (CMA) transport, which containers often forbid; ranks
# waiting in an all-reduce yield the core (on a shared 2-core machine a
# spinning rank starves the one it waits for)
MPIRUN="mpirun --oversubscribe --bind-to none --mca mpi_yield_when_idle 1 --mca btl self,vader --mca btl_vader_single_copy_mechanism none"
[ "$(id -u)" = 0 ] && MPIRUN="$MPIRUN --allow-run-as-root"
# OpenMPI keeps allocations until exit, many in components it has unloaded
# by then (no library name to suppress): the ASan build checks leaks in the
# one-process runs here and elsewhere, not under mpirun
MPIRUN="env ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 $MPIRUN"
TOL=1e-5

# maxdiff A B: the largest absolute difference over every tensor of two checkpoints
maxdiff() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import json, struct, sys
def load(p):
    b = open(p, 'rb').read(); n = struct.unpack('<Q', b[:8])[0]
    h = json.loads(b[8:8 + n]); d = b[8 + n:]
    return {k: struct.unpack('<%df' % ((v['data_offsets'][1] - v['data_offsets'][0]) // 4),
                             d[v['data_offsets'][0]:v['data_offsets'][1]])
            for k, v in h.items() if k != '__metadata__'}, h['__metadata__']
a, ma = load(sys.argv[1]); b, mb = load(sys.argv[2])
assert sorted(a) == sorted(b), "different tensors"
print(max(abs(x - y) for k in a for x, y in zip(a[k], b[k])))
PY
}
# meta F: the run's counters (gf.rng is seed:epoch:step)
meta() { /usr/bin/python3 -c 'import json,struct,sys; b=open(sys.argv[1],"rb").read(); n=struct.unpack("<Q",b[:8])[0]; print(json.loads(b[8:8+n])["__metadata__"]["gf.rng"])' "$1"; }
# same NAME A B / differ NAME A B: max abs difference <= TOL / > TOL
same() {
  d=$(maxdiff "$2" "$3") || { fail "$1: cannot compare"; return; }
  [ "$(meta "$2")" = "$(meta "$3")" ] || { fail "$1: counters differ: $(meta "$2") vs $(meta "$3")"; return; }
  awk "BEGIN{exit !($d <= $TOL)}" && ok "$1: max abs diff $d <= $TOL" || fail "$1: max abs diff $d > $TOL"
}
differ() {
  d=$(maxdiff "$2" "$3") || { fail "$1: cannot compare"; return; }
  awk "BEGIN{exit !($d > $TOL)}" && ok "$1: max abs diff $d > $TOL" || fail "$1: max abs diff $d <= $TOL"
}

small_idx "$TMP/d" 1000 100
D="idx:$TMP/d"
head -c 24000 /usr/share/games/fortunes/fortunes >"$TMP/text"

# 1. MLP, AdamW, batch 50 = 25 + 25
MLP="--model mlp:784-64-10 --dataset $D --batch 50 --optim adamw --seed 3 --threads 1"
$GF train $MLP --epochs 2 --out "$TMP/mlp1.st" >/dev/null || fail "mlp: one process"
$MPIRUN -np 2 $GF train $MLP --epochs 2 --out "$TMP/mlp2.st" --json >"$TMP/out" 2>"$TMP/err" || fail "mlp: 2 ranks: $(cat "$TMP/err")"
same "mlp: 2 ranks == 1 process" "$TMP/mlp1.st" "$TMP/mlp2.st"
grep -q '"ranks":2,' "$TMP/out" && [ "$(grep -c '^{' "$TMP/out")" = 1 ] && [ "$(grep -c 'epoch 2/2  loss' "$TMP/out")" = 1 ] \
  && ok "rank 0 alone prints (one summary, ranks 2)" || fail "output of 2 ranks: $(cat "$TMP/out")"
# the comparison sees a different batch: one process on a rank's shard size
$GF train $MLP --epochs 2 --batch 25 --out "$TMP/mlp25.st" >/dev/null || fail "mlp: batch 25"
differ "mlp: batch 25 (a shard) != batch 50" "$TMP/mlp25.st" "$TMP/mlp2.st"

# 2. dropout and layernorm, SGD with momentum, batch 7 on 3 ranks (2 + 2 + 3; last batch 6)
SEQ="--model seq:784-linear32-dropout0.3-layernorm-relu-linear10 --dataset $D --batch 7 --optim sgd --lr 0.05 --momentum 0.9 --seed 5 --threads 1"
$GF train $SEQ --epochs 1 --out "$TMP/seq1.st" >/dev/null || fail "dropout: one process"
$MPIRUN -np 3 $GF train $SEQ --epochs 1 --out "$TMP/seq3.st" >/dev/null 2>"$TMP/err" || fail "dropout: 3 ranks: $(cat "$TMP/err")"
same "dropout, unequal shards: 3 ranks == 1 process" "$TMP/seq1.st" "$TMP/seq3.st"

# 3. GPT, AdamW with clipping, cosine schedule with warmup, 2 batches per step
GPT="--model gpt:L=1,H=2,C=32,T=32,V=256 --dataset text:$TMP/text --batch 8 --accum 2 --optim adamw --lr 3e-3 --grad-clip 1 --lr-schedule cosine --warmup-steps 3 --seed 2 --threads 1"
$GF train $GPT --epochs 1 --out "$TMP/gpt1.st" >/dev/null || fail "gpt: one process"
$MPIRUN -np 2 $GF train $GPT --epochs 1 --out "$TMP/gpt2.st" >/dev/null 2>"$TMP/err" || fail "gpt: 2 ranks: $(cat "$TMP/err")"
same "gpt with accumulation: 2 ranks == 1 process" "$TMP/gpt1.st" "$TMP/gpt2.st"

# 4. checkpoints move between rank counts: 2 ranks, then 1 (and 1, then 2)
$MPIRUN -np 2 $GF train $MLP --epochs 1 --out "$TMP/e1-2.st" >/dev/null 2>"$TMP/err" || fail "1 epoch on 2 ranks: $(cat "$TMP/err")"
$GF train --resume "$TMP/e1-2.st" --dataset $D --epochs 2 --threads 1 --out "$TMP/r21.st" >/dev/null || fail "resume on 1"
same "2 ranks -> resume on 1 == uninterrupted" "$TMP/mlp1.st" "$TMP/r21.st"
$GF train $MLP --epochs 1 --out "$TMP/e1-1.st" >/dev/null || fail "1 epoch on 1"
$MPIRUN -np 2 $GF train --resume "$TMP/e1-1.st" --dataset $D --epochs 2 --threads 1 --out "$TMP/r12.st" >/dev/null 2>"$TMP/err" \
  || fail "resume on 2 ranks: $(cat "$TMP/err")"
same "1 process -> resume on 2 ranks == uninterrupted" "$TMP/mlp1.st" "$TMP/r12.st"

# 5. bad input: every rank exits non-zero, none hangs (timeout: 60 s)
mpi_error() {
  name=$1; words=$2; shift 2
  timeout 60 $MPIRUN "$@" >"$TMP/out" 2>"$TMP/err"; rc=$?
  if [ $rc -eq 0 ] || [ $rc -eq 124 ]; then fail "$name: exit $rc"; cat "$TMP/err"; return; fi
  for w in $words; do grep -qi -- "$w" "$TMP/err" || { fail "$name: stderr lacks \"$w\": $(cat "$TMP/err")"; return; }; done
  ok "$name: exit $rc: $(grep -m1 'gf train' "$TMP/err")"
}
cp -r "$TMP/d" "$TMP/d2"; printf '\003' | dd of="$TMP/d2/train-labels-idx1-ubyte" bs=1 seek=8 conv=notrunc 2>/dev/null
mpi_error "ranks disagree on the data" "disagree training data" \
  -np 1 $GF train $MLP --epochs 1 : -np 1 $GF train $MLP --epochs 1 --dataset "idx:$TMP/d2"
mpi_error "ranks disagree on the model" "disagree model spec" \
  -np 1 $GF train $MLP --epochs 1 : -np 1 $GF train $MLP --epochs 1 --model mlp:784-32-10
mpi_error "one rank cannot read its data" "rank 1 of 2 dataset" \
  -np 1 $GF train $MLP --epochs 1 : -np 1 $GF train $MLP --epochs 1 --dataset "idx:$TMP/missing"
finish
