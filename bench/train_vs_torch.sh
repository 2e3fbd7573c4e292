#!/bin/sh
# train_vs_torch.sh -- owns the gf-vs-PyTorch training benchmark: trains the
# mlp and cnn models on Fashion-MNIST with `gf train` and with the PyTorch
# peer (bench/torch_train.py) under the same settings and environment, times
# the BLAS ceiling (bench/sgemm.c), and prints a markdown table of training
# images/s, speed ratios and test accuracies, plus the fraction of the sgemm
# GFLOP/s that each training run reaches.
#
#   bench/train_vs_torch.sh [--epochs N] [--threads T] [--repeat R] [--quick]
#
#   --epochs N   epochs for every run (default 1)
#   --repeat R   runs of each measurement; the table shows the median (default 3)
#   --threads T  threads for every run (default 2; also OMP_NUM_THREADS)
#   --quick      1 epoch, and skip the PyPI torch run
#   GF=path      the gf binary (default build/gf)
#
# PyTorch runs under Debian's python3-torch (/usr/bin/python3) and, if
# `python3` on PATH is a different interpreter that can import torch, under
# that one too (typically the current PyPI release). Logs go to build/bench/.
set -eu
cd "$(dirname "$0")/.."

EPOCHS=1
THREADS=2
REPEAT=3
QUICK=0
usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "train_vs_torch: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case $1 in
    --epochs) [ $# -ge 2 ] || die "--epochs needs a value"; EPOCHS=$2; shift 2 ;;
    --epochs=*) EPOCHS=${1#*=}; shift ;;
    --threads) [ $# -ge 2 ] || die "--threads needs a value"; THREADS=$2; shift 2 ;;
    --threads=*) THREADS=${1#*=}; shift ;;
    --repeat) [ $# -ge 2 ] || die "--repeat needs a value"; REPEAT=$2; shift 2 ;;
    --quick) QUICK=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[ "$QUICK" -eq 1 ] && EPOCHS=1
case $EPOCHS in ''|*[!0-9]*|0) die "--epochs wants a positive integer, got '$EPOCHS'" ;; esac
case $THREADS in ''|*[!0-9]*|0) die "--threads wants a positive integer, got '$THREADS'" ;; esac
case $REPEAT in ''|*[!0-9]*|0) die "--repeat wants a positive integer, got '$REPEAT'" ;; esac

GF=${GF:-build/gf}
[ -x "$GF" ] || die "$GF not found or not executable: build it first (make)"
[ -x /usr/bin/python3 ] || die "/usr/bin/python3 not found: install Debian's python3-torch"
/usr/bin/python3 -c 'import torch' 2>/dev/null ||
  die "/usr/bin/python3 cannot import torch: install Debian's python3-torch"

# The same environment for every run, gf and PyTorch alike (OpenBLAS's
# autodetected kernels, glibc keeping freed memory), except the OpenMP wait
# policy: PyTorch gets PASSIVE, its best here (spinning threads of its two
# pools stall each other on 2 cores); gf keeps libgomp's default
# spin-then-sleep, its best (one pool for BLAS and its own loops).
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE

MALLOC_MMAP_THRESHOLD_=1073741824
MALLOC_TRIM_THRESHOLD_=1073741824
MALLOC_TOP_PAD_=268435456
OMP_NUM_THREADS=$THREADS
export MALLOC_MMAP_THRESHOLD_ MALLOC_TRIM_THRESHOLD_ MALLOC_TOP_PAD_ OMP_NUM_THREADS
unset OMP_WAIT_POLICY

OUT=build/bench
mkdir -p "$OUT"

# Runs a command with stdout to $1 and stderr to $1.err; on failure shows the
# tail of both and stops.
run_logged() {
  log=$1; shift
  echo "  \$ $*" >&2
  if ! "$@" >"$log" 2>"$log.err"; then
    echo "train_vs_torch: FAILED: $*" >&2
    tail -n 20 "$log.err" "$log" >&2
    exit 1
  fi
  /usr/bin/python3 -c '
import json, sys
lines = [l for l in open(sys.argv[1]).read().splitlines() if l.strip()]
try:
    d = json.loads(lines[-1])
    assert isinstance(d, dict)
    for k in ("train_images_per_s", "test_accuracy"):
        float(d[k])
except Exception as e:
    sys.exit("train_vs_torch: %s: last stdout line is not the result JSON (%r): %s"
             % (sys.argv[1], lines[-1] if lines else "", e))
print("    %.1f img/s, test accuracy %.4f" % (float(d["train_images_per_s"]), float(d["test_accuracy"])))
' "$log" >&2
}

# Second PyTorch: python3 on PATH, if it is another interpreter with torch.
PYPI=""
if [ "$QUICK" -eq 0 ] && command -v python3 >/dev/null &&
   python3 -c 'import torch' >/dev/null 2>&1; then
  a=$(python3 -c 'import os,sys; print(os.path.realpath(sys.executable))' 2>/dev/null)
  b=$(/usr/bin/python3 -c 'import os,sys; print(os.path.realpath(sys.executable))')
  [ "$a" != "$b" ] && PYPI=python3
fi

echo "# gf vs PyTorch training benchmark"
echo
echo "environment (gf and PyTorch alike): OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset," \
     "OMP_NUM_THREADS=$OMP_NUM_THREADS, OMP_WAIT_POLICY=PASSIVE for PyTorch (gf: libgomp default)," \
     "MALLOC_MMAP_THRESHOLD_=$MALLOC_MMAP_THRESHOLD_ MALLOC_TRIM_THRESHOLD_=$MALLOC_TRIM_THRESHOLD_" \
     "MALLOC_TOP_PAD_=$MALLOC_TOP_PAD_"
echo "settings: epochs $EPOCHS, batch 64, adamw lr 1e-3, seed 1, threads $THREADS; $(nproc) CPUs;" \
     "$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //')"
echo

# the kernels gf runs (bench/sgemm.c links libgf: engine/blas_select.c)
make -s "$OUT/sgemm" >/dev/null || die "cannot build $OUT/sgemm (make build/bench/sgemm)"
# sgemm runs before and after the training runs; the better of the two is the
# ceiling (a busy machine shows up as a gap between them).
run_sgemm() {
  "$OUT/sgemm" "$THREADS" >"$OUT/sgemm-$1.log" 2>&1 || { cat "$OUT/sgemm-$1.log" >&2; die "sgemm failed"; }
  v=$(sed -n 's/^sgemm_gflops=//p' "$OUT/sgemm-$1.log")
  [ -n "$v" ] || die "no sgemm_gflops line in $OUT/sgemm-$1.log"
  echo "sgemm 1024^3, $THREADS threads ($1): $v GFLOP/s" >&2
  echo "$v"
}
SGEMM1=$(run_sgemm before)

for m in mlp cnn; do
  case $m in
    mlp) spec=mlp:784-256-128-10 ;;
    cnn) spec=cnn ;;
  esac
  common="--model $spec --epochs $EPOCHS --batch 64 --optim adamw --lr 1e-3 --seed 1 --threads $THREADS"
  echo "$m:" >&2
  r=1
  while [ "$r" -le "$REPEAT" ]; do   # interleaved, so drift hits all alike
    # shellcheck disable=SC2086
    run_logged "$OUT/gf-$m.$r.log" "$GF" train $common --dataset fashion-mnist --json
    # shellcheck disable=SC2086
    run_logged "$OUT/torch-deb-$m.$r.log" env OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/torch_train.py $common
    if [ -n "$PYPI" ]; then
      # shellcheck disable=SC2086
      run_logged "$OUT/torch-pypi-$m.$r.log" env OMP_WAIT_POLICY=PASSIVE "$PYPI" bench/torch_train.py $common
    fi
    r=$((r + 1))
  done
done

SGEMM2=$(run_sgemm after)

/usr/bin/python3 - "$OUT" "$SGEMM1" "$SGEMM2" "$PYPI" "$REPEAT" <<'EOF'
import json, os, statistics, sys
sys.path.insert(0, "scripts")
import gf_torch

out, sgemm1, sgemm2, pypi = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
repeat = int(sys.argv[5])
sgemm = max(sgemm1, sgemm2)
specs = {"mlp": "mlp:784-256-128-10", "cnn": "cnn"}

def last_json(path):
    lines = [l for l in open(path).read().splitlines() if l.strip()]
    return json.loads(lines[-1])

def median_run(prefix):
    """The run with the median images/s among prefix.1.log .. prefix.R.log,
    with the range of all runs added."""
    runs = sorted((last_json("%s.%d.log" % (prefix, r)) for r in range(1, repeat + 1)),
                  key=lambda d: float(d["train_images_per_s"]))
    d = dict(runs[(len(runs) - 1) // 2])
    d["range"] = (float(runs[0]["train_images_per_s"]), float(runs[-1]["train_images_per_s"]))
    return d

def flops_per_image(spec):
    """Training FLOPs of one image: forward, input-gradient and
    weight-gradient GEMMs of every conv/linear layer (2 FLOPs per MAC),
    except that the first layer needs no input gradient."""
    macs = [m for _, _, m in gf_torch.forward_macs(spec)]
    return 2 * (3 * sum(macs) - macs[0])

rows = []
for m in ("mlp", "cnn"):
    g = median_run(os.path.join(out, "gf-%s" % m))
    d = median_run(os.path.join(out, "torch-deb-%s" % m))
    p = median_run(os.path.join(out, "torch-pypi-%s" % m)) if pypi else None
    rows.append((m, g, d, p))

dv = rows[0][2]["torch_version"]
pv = rows[0][3]["torch_version"] if pypi else None
hdr = ["model", "gf img/s", "torch %s img/s" % dv, "ratio"]
if pypi:
    hdr += ["torch %s img/s" % pv, "ratio"]
hdr += ["gf acc", "torch %s acc" % dv]
if pypi:
    hdr += ["torch %s acc" % pv]
print("| " + " | ".join(hdr) + " |")
print("|" + "|".join("---" for _ in hdr) + "|")
for m, g, d, p in rows:
    gi, di = float(g["train_images_per_s"]), float(d["train_images_per_s"])
    cells = [m, "%.0f" % gi, "%.0f" % di, "%.2f" % (gi / di)]
    if p:
        pi = float(p["train_images_per_s"])
        cells += ["%.0f" % pi, "%.2f" % (gi / pi)]
    cells += ["%.4f" % float(g["test_accuracy"]), "%.4f" % float(d["test_accuracy"])]
    if p:
        cells += ["%.4f" % float(p["test_accuracy"])]
    print("| " + " | ".join(cells) + " |")
print()
print("img/s: median of %d runs; ratio = gf img/s / torch img/s (higher is better for gf)" % repeat)
for m, g, d, p in rows:
    print("%s ranges: gf %.0f-%.0f, torch %s %.0f-%.0f%s" % (m, g["range"][0], g["range"][1], dv,
          d["range"][0], d["range"][1], ", torch %s %.0f-%.0f" % (pv, p["range"][0], p["range"][1]) if p else ""))
print("sgemm_gflops=%.1f (cblas_sgemm 1024^3, %s threads; best of %.1f before and %.1f after the runs)"
      % (sgemm, os.environ.get("OMP_NUM_THREADS"), sgemm1, sgemm2))
for m, g, d, p in rows:
    f = flops_per_image(specs[m])
    line = "%s: %.2f MFLOP per training image;" % (m, f / 1e6)
    parts = ["gf %.1f GFLOP/s = %.1f%% of sgemm"
             % (float(g["train_images_per_s"]) * f / 1e9, 100 * float(g["train_images_per_s"]) * f / 1e9 / sgemm)]
    for name, r in (("torch %s" % dv, d), ("torch %s" % pv, p)):
        if r:
            gfl = float(r["train_images_per_s"]) * f / 1e9
            parts.append("%s %.1f GFLOP/s = %.1f%%" % (name, gfl, 100 * gfl / sgemm))
    print(line, "; ".join(parts))
for m, g, d, p in rows:
    if "params" in g and int(g["params"]) != int(d["params"]):
        print("WARNING: %s: gf has %s parameters, torch %s: the models differ"
              % (m, g["params"], d["params"]))
    if "epochs" in g and int(g["epochs"]) != int(d["epochs"]):
        print("WARNING: %s: gf ran %s epochs, torch %s" % (m, g["epochs"], d["epochs"]))
EOF
