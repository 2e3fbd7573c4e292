#!/bin/sh
# gpt_vs_torch.sh -- owns the GPT training benchmark against PyTorch: the
# same GPT-2-style model (default gpt:L=4,H=4,C=256,T=128,V=256), batch 8,
# AdamW (lr 1e-3, decay 0.01 on matrices), 2 threads and the same number of
# steps on the same text (the first bytes of Debian's fortunes), trained by
# `gf train` and by bench/torch_gpt.py under Debian's PyTorch
# (/usr/bin/python3), interleaved; prints tokens/s, the ratio and the
# fraction of the machine's cblas_sgemm rate (bench/sgemm.c) each reaches.
#
#   bench/gpt_vs_torch.sh [--steps S] [--repeat R] [--threads T] [--model SPEC]
#
#   --steps S    optimizer steps per run (default 30)
#   --repeat R   runs of each, the median is shown (default 3)
#   --threads T  threads for both (default 2)
#   --policy P   gf's OMP_WAIT_POLICY: default (nothing set, as a user runs it; the default) | passive
#   GF=path      the gf binary (default build/gf)
#
# Environment, gf and PyTorch alike: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE
# unset (each BLAS picks its kernels itself), OMP_NUM_THREADS=T,
# OMP_WAIT_POLICY=PASSIVE (PyTorch's best on 2 cores, as in
# bench/train_vs_torch.sh; on a shared, oversubscribed machine gf's too:
# a GPT step crosses hundreds of OpenMP barriers; --policy default leaves
# gf on libgomp's default instead). Timed: forward + backward + optimizer
# step, on both sides. Logs go to build/bench/gpt-*.
set -eu
cd "$(dirname "$0")/.."
STEPS=30
REPEAT=3
THREADS=2
MODEL=gpt:L=4,H=4,C=256,T=128,V=256
BATCH=8
POLICY=default
die() { echo "gpt_vs_torch: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case $1 in
    --steps) [ $# -ge 2 ] || die "--steps needs a value"; STEPS=$2; shift 2 ;;
    --repeat) [ $# -ge 2 ] || die "--repeat needs a value"; REPEAT=$2; shift 2 ;;
    --threads) [ $# -ge 2 ] || die "--threads needs a value"; THREADS=$2; shift 2 ;;
    --model) [ $# -ge 2 ] || die "--model needs a value"; MODEL=$2; shift 2 ;;
    --policy) [ $# -ge 2 ] || die "--policy needs a value"; POLICY=$2; shift 2 ;;
    -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
for v in "$STEPS" "$REPEAT" "$THREADS"; do case $v in ''|*[!0-9]*|0) die "want positive integers, got '$v'" ;; esac; done
case $POLICY in passive) GF_POLICY=PASSIVE ;; default) GF_POLICY= ;; *) die "--policy wants passive or default" ;; esac
T=$(echo "$MODEL" | sed -n 's/.*T=\([0-9]*\).*/\1/p')
[ -n "$T" ] || die "--model wants gpt:L=..,H=..,C=..,T=..,V=.."
GF=${GF:-build/gf}
[ -x "$GF" ] || die "$GF not found: build it first (make)"
/usr/bin/python3 -c 'import torch' 2>/dev/null || die "/usr/bin/python3 cannot import torch: install python3-torch"
FORTUNES=/usr/share/games/fortunes/fortunes
[ -f $FORTUNES ] || die "$FORTUNES missing (scripts/install-deps.sh test installs fortunes)"

unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE OMP_WAIT_POLICY
export OMP_NUM_THREADS=$THREADS
OUT=build/bench
mkdir -p "$OUT"
# gf holds out the last 10% of the tokens: this many bytes give STEPS batches of T-token windows
BYTES=$(( (STEPS * BATCH * T + 1) * 10 / 9 + 16 ))
head -c $BYTES $FORTUNES >"$OUT/gpt-text"
make -s "$OUT/sgemm" >/dev/null || die "cannot build $OUT/sgemm"
sgemm() { "$OUT/sgemm" "$THREADS" | sed -n 's/^sgemm_gflops=//p'; }

S1=$(sgemm)
r=1
while [ $r -le "$REPEAT" ]; do
  echo "  run $r: gf" >&2
  env ${GF_POLICY:+OMP_WAIT_POLICY=$GF_POLICY} "$GF" train --model "$MODEL" --dataset text:"$OUT/gpt-text" --batch $BATCH --optim adamw --lr 1e-3 \
      --threads "$THREADS" --seed $r --json >"$OUT/gpt-gf.$r.log" 2>&1 || { tail "$OUT/gpt-gf.$r.log" >&2; die "gf failed"; }
  steps=$(tail -1 "$OUT/gpt-gf.$r.log" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["steps"])')
  echo "  run $r: torch ($steps steps)" >&2
  OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/torch_gpt.py --model "$MODEL" --text "$OUT/gpt-text" \
      --batch $BATCH --steps "$steps" --threads "$THREADS" --lr 1e-3 --seed $r >"$OUT/gpt-torch.$r.log" 2>&1 \
      || { tail "$OUT/gpt-torch.$r.log" >&2; die "torch failed"; }
  r=$((r + 1))
done
S2=$(sgemm)

/usr/bin/python3 - "$OUT" "$REPEAT" "$MODEL" "$S1" "$S2" "$THREADS" "$GF_POLICY" <<'PY'
import json, re, sys
out, repeat, model, s1, s2, threads = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
policy = sys.argv[7] or "libgomp default"
L, H, C, T, V = (int(v) for v in re.fullmatch(r"gpt:L=(\d+),H=(\d+),C=(\d+),T=(\d+),V=(\d+)", model).groups())
def last(p):
    return json.loads([l for l in open(p) if l.startswith("{")][-1])
gf = sorted(float(last("%s/gpt-gf.%d.log" % (out, r))["train_images_per_s"]) * T for r in range(1, repeat + 1))
th = [last("%s/gpt-torch.%d.log" % (out, r)) for r in range(1, repeat + 1)]
tv = th[0]["torch_version"]
tt = sorted(float(d["train_tokens_per_s"]) for d in th)
g, t = gf[(repeat - 1) // 2], tt[(repeat - 1) // 2]
peak = max(s1, s2)
# training FLOPs per token: 3 x (2 x the matmul parameters: blocks and the tied
# head) plus causal attention (q k^T and p v over T/2 keys on average)
flops = 6 * (L * 12 * C * C + V * C) + L * 6 * T * C
gp = json.loads([l for l in open("%s/gpt-gf.1.log" % out) if l.startswith("{")][-1])["params"]
print("| model | steps x batch | gf tokens/s | torch %s tokens/s | gf / torch | gf %% of sgemm | torch %% of sgemm |" % tv)
print("|---|---|---|---|---|---|---|")
print("| %s (%d params) | %d x 8 | %.0f | %.0f | %.2f | %.1f%% | %.1f%% |" % (model, gp, th[0]["steps"], g, t, g / t,
      100 * g * flops / 1e9 / peak, 100 * t * flops / 1e9 / peak))
print()
print("median of %d runs (gf %s; torch %s tokens/s); %s threads; gf OMP_WAIT_POLICY=%s, torch PASSIVE"
      % (repeat, ", ".join("%.0f" % v for v in gf), ", ".join("%.0f" % v for v in tt), threads, policy))
print("sgemm 1024^3: %.1f GFLOP/s before, %.1f after (peak = the better); %.2f MFLOP per training token" % (s1, s2, flops / 1e6))
if th[0]["params"] != gp:
    print("WARNING: gf has %d parameters, torch %d" % (gp, th[0]["params"]))
PY
