#!/bin/sh
# mpi_scaling.sh -- owns the data-parallel scaling benchmark: the same
# training run as one process and as 2 MPI ranks (mpirun -np 2 gf train, one
# thread per rank), printing throughput, the speed-up and the all-reduce's
# share of the step time (gf train --json: train_allreduce_s / the compute
# seconds), for an MLP on Fashion-MNIST (img/s) and a GPT on text (tokens/s).
#
#   bench/mpi_scaling.sh [--repeat R] [--ranks N]
#
#   --repeat R   runs of each measurement, the median is shown (default 3)
#   --ranks N    ranks of the parallel run (default 2; more than the cores
#                oversubscribes them)
#   GF=path      the gf binary (default build/gf)
#
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for every run. Logs go to
# build/bench/mpi-*.
set -eu
cd "$(dirname "$0")/.."
REPEAT=3
RANKS=2
die() { echo "mpi_scaling: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case $1 in
    --repeat) [ $# -ge 2 ] || die "--repeat needs a value"; REPEAT=$2; shift 2 ;;
    --ranks) [ $# -ge 2 ] || die "--ranks needs a value"; RANKS=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
case $REPEAT in ''|*[!0-9]*|0) die "--repeat wants a positive integer" ;; esac
case $RANKS in ''|*[!0-9]*|0|1) die "--ranks wants an integer >= 2" ;; esac
GF=${GF:-build/gf}
[ -x "$GF" ] || die "$GF not found: build it first (make)"
command -v mpirun >/dev/null || die "mpirun missing: scripts/install-deps.sh build installs openmpi-bin"
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
export OMP_NUM_THREADS=1
# ranks waiting in an all-reduce yield the core (shared 2-core machines:
# a spinning rank starves the one it waits for)
MPIRUN="mpirun --oversubscribe --bind-to none --mca mpi_yield_when_idle 1 --mca btl self,vader --mca btl_vader_single_copy_mechanism none"
[ "$(id -u)" = 0 ] && MPIRUN="$MPIRUN --allow-run-as-root"
OUT=build/bench
mkdir -p "$OUT"
head -c 100000 /usr/share/games/fortunes/fortunes >"$OUT/mpi-text" || die "fortunes missing (scripts/install-deps.sh test)"

MLP="--model mlp:784-256-128-10 --dataset fashion-mnist --epochs 1 --batch 256 --optim adamw --seed 1 --threads 1 --json"
GPT="--model gpt:L=2,H=4,C=128,T=64,V=256 --dataset text:$OUT/mpi-text --epochs 1 --batch 16 --optim adamw --seed 1 --threads 1 --json"

run() {   # run LOG CMD...: the command's JSON summary into LOG
  log=$1; shift
  echo "  \$ $*" >&2
  "$@" >"$log" 2>"$log.err" || { tail -20 "$log.err" >&2; die "failed: $*"; }
}
r=1
while [ $r -le "$REPEAT" ]; do     # interleaved, so drift hits both alike
  for m in mlp gpt; do
    if [ $m = mlp ]; then args=$MLP; else args=$GPT; fi
    # shellcheck disable=SC2086
    run "$OUT/mpi-$m-1.$r.log" "$GF" train $args
    # shellcheck disable=SC2086
    run "$OUT/mpi-$m-$RANKS.$r.log" $MPIRUN -np "$RANKS" "$GF" train $args
  done
  r=$((r + 1))
done

/usr/bin/python3 - "$OUT" "$REPEAT" "$RANKS" <<'PY'
import json, statistics, sys
out, repeat, ranks = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def runs(m, n):
    rs = []
    for r in range(1, repeat + 1):
        d = json.loads([l for l in open("%s/mpi-%s-%d.%d.log" % (out, m, n, r)) if l.startswith("{")][-1])
        ips = float(d["train_images_per_s"])
        share = float(d.get("train_allreduce_s", 0.0)) * ips / float(d["train_images"]) if ips else 0.0
        rs.append((ips, share, d))
    rs.sort(key=lambda x: x[0])
    return rs[(len(rs) - 1) // 2], rs
print("| model | unit | 1 process | %d ranks | speed-up | all-reduce share of step time (%d ranks) |" % (ranks, ranks))
print("|---|---|---|---|---|---|")
for m, unit in (("mlp", "img/s"), ("gpt", "tokens/s")):
    (a, _, da), ra = runs(m, 1)
    (b, sb, db), rb = runs(m, ranks)
    k = 64 if m == "gpt" else 1      # tokens per sample (T)
    print("| %s (%s params) | %s | %.0f | %.0f | %.2fx | %.1f%% |" % (da["model"], da["params"], unit,
          a * k, b * k, b / a, 100 * sb))
    print("|  | range | %.0f-%.0f | %.0f-%.0f | | |" % (ra[0][0] * k, ra[-1][0] * k, rb[0][0] * k, rb[-1][0] * k))
print()
print("median of %d runs; 1 thread per rank; throughput counts the global batch (forward +"
      " backward + all-reduce + optimizer time of rank 0)" % repeat)
PY
