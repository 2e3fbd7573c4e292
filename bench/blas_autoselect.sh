#!/bin/sh
# blas_autoselect.sh -- owns the benchmark of the engine's own BLAS choice
# (src/engine/blas_select.c): with nothing set, does gf run as fast as with
# the best kernels chosen by hand? Prints, as medians of interleaved runs:
#   - cblas_sgemm 1024^3 (bench/sgemm.c through libgf): gf as-is; gf with
#     OPENBLAS_CORETYPE=<best core of this CPU> and LD_LIBRARY_PATH at the
#     OpenMP build ("manual"); and a plain program linked -lopenblas (what
#     Debian's libopenblas.so.0 and OpenBLAS's own detection give);
#   - gf train images/s for mlp and cnn, as-is and manual, and Debian's
#     PyTorch (bench/torch_train.py under /usr/bin/python3) as-is,
# and the ratios: as-is / manual (goal >= 0.90) and gf / torch (goal >= 1.5).
#
#   bench/blas_autoselect.sh [--repeat R] [--epochs N] [--threads T]
#
#   --repeat R   runs of each measurement, interleaved; medians (default 3)
#   --epochs N   epochs of each training run (default 1)
#   --threads T  threads for every run (default 2)
#   GF=path      the gf binary (default build/gf); build/bench/sgemm is built
#
# Environment: OPENBLAS_*, GOTO*, OMP_*, MALLOC_* and LD_LIBRARY_PATH are
# unset for every run, except the two manual settings above and, for
# PyTorch, OMP_WAIT_POLICY=PASSIVE (its best on 2 cores, as in
# bench/train_vs_torch.sh). Logs go to build/bench/blas-*.
set -eu
cd "$(dirname "$0")/.."

REPEAT=3
EPOCHS=1
THREADS=2
die() { echo "blas_autoselect: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case $1 in
    --repeat) [ $# -ge 2 ] || die "--repeat needs a value"; REPEAT=$2; shift 2 ;;
    --epochs) [ $# -ge 2 ] || die "--epochs needs a value"; EPOCHS=$2; shift 2 ;;
    --threads) [ $# -ge 2 ] || die "--threads needs a value"; THREADS=$2; shift 2 ;;
    -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
for v in "$REPEAT" "$EPOCHS" "$THREADS"; do
  case $v in ''|*[!0-9]*|0) die "expected a positive integer, got '$v'" ;; esac
done

GF=${GF:-build/gf}
[ -x "$GF" ] || die "$GF not found: build it first (make)"
/usr/bin/python3 -c 'import torch' 2>/dev/null || die "/usr/bin/python3 cannot import torch: scripts/install-deps.sh bench"
make -s build/bench/sgemm >/dev/null || die "cannot build build/bench/sgemm"

for v in $(env | sed -n 's/^\(OPENBLAS_[A-Z0-9_]*\|GOTO[A-Z0-9_]*\|OMP_[A-Z0-9_]*\|MALLOC_[A-Z0-9_]*_\)=.*/\1/p'); do
  unset "$v"
done
unset LD_LIBRARY_PATH

OUT=build/bench
mkdir -p "$OUT"
MULTIARCH=$(cc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
OMPDIR=/usr/lib/$MULTIARCH/openblas-openmp

# The best core this CPU allows, by /proc/cpuinfo's flags: the manual choice.
flags=" $(grep -m1 '^flags' /proc/cpuinfo | sed 's/^[^:]*://') "
has() { case "$flags" in *" $1 "*) return 0 ;; esac; return 1; }
BEST=Prescott
has avx && BEST=Sandybridge
has avx2 && has fma && BEST=Haswell
has avx2 && has fma && has avx512f && has avx512bw && has avx512dq && has avx512vl && has avx512cd && BEST=SkylakeX

# A plain program linked against the system's libopenblas.so.0 (no libgf).
cat > "$OUT/blas-plain.c" <<'EOF'
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
char *openblas_get_config(void); int openblas_get_parallel(void);
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
int main(int argc, char **argv) {
    int n = 1024, T = argc > 1 ? atoi(argv[1]) : 2;
    float *a = calloc((size_t)n * n, 4), *b = calloc((size_t)n * n, 4), *c = calloc((size_t)n * n, 4);
    for (long i = 0; i < (long)n * n; i++) { a[i] = (float)(i % 7) - 3; b[i] = (float)(i % 5) - 2; }
    openblas_set_num_threads(T);
    double best = 1e30;
    for (int r = 0; r < 13; r++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
        double t = now() - t0;
        if (r >= 3 && t < best) best = t;   /* 3 warm-up runs */
    }
    printf("blas=%s parallel=%d\nsgemm_gflops=%.1f\n", openblas_get_config(), openblas_get_parallel(), 2.0 * n * n * n / best * 1e-9);
    return 0;
}
EOF
cc -O2 -o "$OUT/blas-plain" "$OUT/blas-plain.c" -lopenblas || die "cannot build the plain -lopenblas program"

manual() { env OPENBLAS_CORETYPE=$BEST LD_LIBRARY_PATH=$OMPDIR "$@"; }
val() { sed -n "s/^$1=//p" "$2" | tail -n 1; }
jval() { /usr/bin/python3 -c 'import json,sys; l=[x for x in open(sys.argv[1]) if x.strip()]; print(json.loads(l[-1])[sys.argv[2]])' "$1" "$2"; }
logrun() { log=$1; shift; "$@" >"$log" 2>"$log.err" || { tail -n 20 "$log.err" "$log" >&2; die "FAILED: $*"; }; }

echo "# gf's own BLAS choice vs the best chosen by hand"
echo
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //') (family $(grep -m1 '^cpu family' /proc/cpuinfo | sed 's/.*: //'), model $(grep -m1 '^model[^ ]' /proc/cpuinfo | sed 's/.*: //')); $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "system libopenblas.so.0 -> $(readlink -f /usr/lib/"$MULTIARCH"/libopenblas.so.0)"
echo "manual: OPENBLAS_CORETYPE=$BEST LD_LIBRARY_PATH=$OMPDIR; threads $THREADS, epochs $EPOCHS, repeat $REPEAT"
echo

SPECS="mlp:784-256-128-10 cnn"
r=1
while [ "$r" -le "$REPEAT" ]; do
  echo "round $r/$REPEAT" >&2
  # as-is and manual back to back, their order alternating between rounds,
  # so the load of a shared machine hits both alike
  if [ $((r % 2)) -eq 1 ]; then first=asis; second=manual; else first=manual; second=asis; fi
  for k in $first $second; do
    if [ $k = asis ]; then logrun "$OUT/blas-sgemm-asis.$r" "$OUT/sgemm" "$THREADS"
    else logrun "$OUT/blas-sgemm-manual.$r" manual "$OUT/sgemm" "$THREADS"; fi
  done
  logrun "$OUT/blas-sgemm-plain.$r" "$OUT/blas-plain" "$THREADS"
  for spec in $SPECS; do
    m=${spec%%:*}
    common="--model $spec --epochs $EPOCHS --batch 64 --optim adamw --lr 1e-3 --seed 1 --threads $THREADS"
    # shellcheck disable=SC2086
    [ $first = manual ] && logrun "$OUT/blas-torch-$m.$r" env OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/torch_train.py $common --quiet
    for k in $first $second; do
      # shellcheck disable=SC2086
      if [ $k = asis ]; then logrun "$OUT/blas-gf-$m-asis.$r" "$GF" train $common --dataset fashion-mnist --json
      else logrun "$OUT/blas-gf-$m-manual.$r" manual "$GF" train $common --dataset fashion-mnist --json; fi
    done
    # shellcheck disable=SC2086
    [ $first = asis ] && logrun "$OUT/blas-torch-$m.$r" env OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/torch_train.py $common --quiet
  done
  r=$((r + 1))
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
range() { tr ' ' '\n' | grep . | sort -g | awk 'NR==1{lo=$1} {hi=$1} END {printf "%s-%s", lo, hi}'; }
series() {   # series KIND NAME: the R values of one measurement
  s=""; i=1
  while [ "$i" -le "$REPEAT" ]; do
    case $1 in
      sgemm) s="$s $(val sgemm_gflops "$OUT/blas-sgemm-$2.$i")" ;;
      train) s="$s $(jval "$OUT/blas-$2.$i" train_images_per_s | awk '{printf "%.0f", $1}')" ;;
    esac
    i=$((i + 1))
  done
  echo "$s"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
# pratio "A-SERIES" "B-SERIES": median of the per-round ratios A_r / B_r
pratio() { echo "$1 | $2" | awk '{n=0; for (i=1; $i != "|"; i++) a[++n]=$i; k=0; for (i++; i<=NF; i++) b[++k]=$i;
  for (i=1; i<=n; i++) printf "%f ", a[i] / b[i]}' | median | awk '{printf "%.2f", $1}'; }

echo "kernels as-is:  $(sed -n 's/^blas=//p' "$OUT/blas-sgemm-asis.1")"
echo "kernels manual: $(sed -n 's/^blas=//p' "$OUT/blas-sgemm-manual.1")"
echo "plain -lopenblas program: $(sed -n 's/^blas=//p' "$OUT/blas-sgemm-plain.1")"
echo "gf train --json (as-is): $(jval "$OUT/blas-gf-cnn-asis.1" blas_core) from $(jval "$OUT/blas-gf-cnn-asis.1" blas_core_source), $(jval "$OUT/blas-gf-cnn-asis.1" blas_threading)"
echo
echo "| measurement | gf as-is | gf manual | as-is / manual | other | gf as-is / other |"
echo "|---|---|---|---|---|---|"
a=$(series sgemm asis | median); m=$(series sgemm manual | median); p=$(series sgemm plain | median)
echo "| sgemm 1024^3 GFLOP/s | $a ($(series sgemm asis | range)) | $m ($(series sgemm manual | range)) | $(ratio "$a" "$m"); paired $(pratio "$(series sgemm asis)" "$(series sgemm manual)") | plain -lopenblas $p ($(series sgemm plain | range)) | $(ratio "$a" "$p"); paired $(pratio "$(series sgemm asis)" "$(series sgemm plain)") |"
for spec in $SPECS; do
  mm=${spec%%:*}
  a=$(series train "gf-$mm-asis" | median); m=$(series train "gf-$mm-manual" | median); t=$(series train "torch-$mm" | median)
  tv=$(jval "$OUT/blas-torch-$mm.1" torch_version)
  echo "| $mm train img/s | $a ($(series train "gf-$mm-asis" | range)) | $m ($(series train "gf-$mm-manual" | range)) | $(ratio "$a" "$m"); paired $(pratio "$(series train "gf-$mm-asis")" "$(series train "gf-$mm-manual")") | torch $tv $t ($(series train "torch-$mm" | range)) | $(ratio "$a" "$t"); paired $(pratio "$(series train "gf-$mm-asis")" "$(series train "torch-$mm")") |"
done
echo
echo "medians of $REPEAT interleaved runs (ranges in brackets); ratios: of the medians, and (paired) the"
echo "median of the rounds' own ratios, runs of one round being back to back; goals: as-is / manual >= 0.90,"
echo "gf / torch >= 1.5"
