#!/bin/sh
# gpt_learning.sh -- owns the learning comparison of gf's GPT against
# PyTorch: the same ~0.83M-parameter model (default gpt:L=4,H=4,C=128,T=64,
# V=256, byte-level), the same GPT-2 initialisation scheme, AdamW (lr 3e-3,
# betas 0.9/0.999, decay 0.1 on matrices and embeddings only), gradient
# clipping at global norm 1, linear warmup then cosine decay to 0.1 x lr over
# the run, batch 8, the same number of steps (one epoch: each window is seen
# once), trained by `gf train` and by bench/torch_gpt.py under Debian's
# PyTorch (/usr/bin/python3) for 3 seeds each; prints each seed's validation
# loss, the means and gf's mean over PyTorch's (the goal: within 2%).
#
#   bench/gpt_learning.sh [--steps S] [--seeds N] [--model SPEC] [--lr X]
#
#   --steps S   optimizer steps, one epoch (default 300; sizes the text)
#   --seeds N   seeds 1..N for each (default 3)
#   --model M   gpt:L=..,H=..,C=..,T=..,V=256 (default above)
#   --lr X      peak learning rate (default 3e-3)
#   GF=path     the gf binary (default build/gf)
#
# The corpus: Debian's fortunes, /usr/share/games/fortunes/fortunes
# (fortunes-min, 24 kB) followed by the other text files of the `fortunes`
# package in name order (the two ASCII-art files left out), 2.4 MB in all; the
# run uses its first bytes, as many as STEPS batches of T-token windows need
# once the last 10% is held out. Both sides hold out the same last 10% of
# those bytes (gf's text: reader) and score it the same way: the mean loss
# per token over its non-overlapping T-token windows. Each seed runs gf and
# PyTorch side by side, one thread each (a learning comparison, not a
# timing: OMP_WAIT_POLICY=PASSIVE for both). Logs go to build/bench/gptl-*.
set -eu
cd "$(dirname "$0")/.."
STEPS=300
SEEDS=3
MODEL=gpt:L=4,H=4,C=128,T=64,V=256
LR=3e-3
BATCH=8
WD=0.1
CLIP=1
WARMUP=30
MINLR=0.1
die() { echo "gpt_learning: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case $1 in
    --steps) [ $# -ge 2 ] || die "--steps needs a value"; STEPS=$2; shift 2 ;;
    --seeds) [ $# -ge 2 ] || die "--seeds needs a value"; SEEDS=$2; shift 2 ;;
    --model) [ $# -ge 2 ] || die "--model needs a value"; MODEL=$2; shift 2 ;;
    --lr) [ $# -ge 2 ] || die "--lr needs a value"; LR=$2; shift 2 ;;
    -h|--help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
for v in "$STEPS" "$SEEDS"; do case $v in ''|*[!0-9]*|0) die "want positive integers, got '$v'" ;; esac; done
T=$(echo "$MODEL" | sed -n 's/^gpt:.*T=\([0-9]*\).*V=256$/\1/p')
[ -n "$T" ] || die "--model wants gpt:L=..,H=..,C=..,T=..,V=256 (byte-level)"
GF=${GF:-build/gf}
[ -x "$GF" ] || die "$GF not found: build it first (make)"
/usr/bin/python3 -c 'import torch' 2>/dev/null || die "/usr/bin/python3 cannot import torch: install python3-torch"
DIR=/usr/share/games/fortunes
[ -f $DIR/fortunes ] && [ -f $DIR/cookie ] || die "$DIR incomplete (scripts/install-deps.sh test installs fortunes)"

unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
OUT=build/bench
mkdir -p "$OUT"
# one epoch of STEPS batches: ntrain = bytes - bytes/10 >= STEPS*BATCH*T + 1
BYTES=$(( (STEPS * BATCH * T + 1) * 10 / 9 + 16 ))
( cd $DIR && cat fortunes $(LC_ALL=C ls | grep -v '\.' | grep -vx 'fortunes\|art\|ascii-art') ) | head -c $BYTES >"$OUT/gptl-text"
[ "$(wc -c <"$OUT/gptl-text")" -eq $BYTES ] || die "the corpus is shorter than the $BYTES bytes $STEPS steps need"

s=1
while [ $s -le "$SEEDS" ]; do
  echo "  seed $s: gf and torch, $STEPS steps" >&2
  "$GF" train --model "$MODEL" --dataset text:"$OUT/gptl-text" --batch $BATCH --optim adamw --lr $LR \
      --weight-decay $WD --grad-clip $CLIP --lr-schedule cosine --warmup-steps $WARMUP --min-lr-frac $MINLR \
      --threads 1 --seed $s --json >"$OUT/gptl-gf.$s.log" 2>&1 &
  gpid=$!
  /usr/bin/python3 bench/torch_gpt.py --model "$MODEL" --text "$OUT/gptl-text" --batch $BATCH --steps "$STEPS" \
      --threads 1 --lr $LR --weight-decay $WD --grad-clip $CLIP --lr-schedule cosine --warmup-steps $WARMUP \
      --min-lr-frac $MINLR --seed $s --eval >"$OUT/gptl-torch.$s.log" 2>&1 \
      || { wait $gpid || true; tail "$OUT/gptl-torch.$s.log" >&2; die "torch failed"; }
  wait $gpid || { tail "$OUT/gptl-gf.$s.log" >&2; die "gf failed"; }
  s=$((s + 1))
done

/usr/bin/python3 - "$OUT" "$SEEDS" "$MODEL" "$STEPS" "$BYTES" <<'PY'
import json, statistics, sys
out, seeds, model, steps, nbytes = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
def last(p):
    return json.loads([l for l in open(p) if l.startswith("{")][-1])
gf = [last("%s/gptl-gf.%d.log" % (out, s)) for s in range(1, seeds + 1)]
th = [last("%s/gptl-torch.%d.log" % (out, s)) for s in range(1, seeds + 1)]
for g in gf:
    if g["steps"] != steps:
        sys.exit("gpt_learning: gf ran %d steps, expected %d" % (g["steps"], steps))
if gf[0]["params"] != th[0]["params"]:
    sys.exit("gpt_learning: gf has %d parameters, torch %d" % (gf[0]["params"], th[0]["params"]))
print("| seed | gf validation loss | torch %s validation loss |" % th[0]["torch_version"])
print("|---|---|---|")
for s in range(seeds):
    print("| %d | %.4f | %.4f |" % (s + 1, gf[s]["test_loss"], th[s]["test_loss"]))
mg = statistics.mean(g["test_loss"] for g in gf)
mt = statistics.mean(t["test_loss"] for t in th)
sd = lambda v: statistics.stdev(v) if len(v) > 1 else 0.0
print("| mean (sd) | %.4f (%.4f) | %.4f (%.4f) |" % (mg, sd([g["test_loss"] for g in gf]), mt,
      sd([t["test_loss"] for t in th])))
print()
print("%s, %d parameters, %d steps x batch %d, %d bytes of fortunes (%d held out)"
      % (model, gf[0]["params"], steps, gf[0]["batch"], nbytes, nbytes // 10))
print("gf / torch mean validation loss: %.4f (%s the 2%% goal)" % (mg / mt, "within" if mg / mt <= 1.02 else "OUTSIDE"))
PY
