#!/bin/sh
# Language models from the CLI: gf train on text (Debian's fortunes) prints
# loss and perplexity and learns; gf sample continues a prompt, the same
# seed giving the same text; a run saved after one epoch and resumed keeps
# its clipping, accumulation and warmup (the same weights as the run done in
# one go) and refuses flags that contradict them; bad token data and
# mismatched models get clear errors.
. "$(dirname "$0")/../cli_lib.sh"
FORTUNES=/usr/share/games/fortunes/fortunes
[ -f "$FORTUNES" ] || { echo "FAIL: $FORTUNES missing (scripts/install-deps.sh test installs fortunes)"; exit 1; }

M=gpt:L=2,H=4,C=64,T=64,V=256
$GF train --model $M --dataset text:$FORTUNES --epochs 2 --batch 8 --optim adamw --lr 3e-3 \
    --grad-clip 1 --lr-schedule cosine --warmup-steps 5 --threads 2 --seed 4 \
    --out "$TMP/lm.safetensors" >"$TMP/train" 2>"$TMP/err" || { fail "train: $(cat "$TMP/err")"; }
cat "$TMP/train"
if grep -q "^epoch 2/2  loss [0-9.]*  ppl [0-9.]*  test_loss [0-9.]*  test_ppl [0-9.]*" "$TMP/train"; then
  ok "train prints loss and perplexity"
else
  fail "train output: $(cat "$TMP/train")"
fi
# a byte-level model that learned something is well below uniform (ppl 256)
ppl=$(sed -n 's/^epoch 2\/2 .* test_ppl \([0-9.]*\).*/\1/p' "$TMP/train")
if [ -n "$ppl" ] && awk "BEGIN{exit !($ppl < 40)}"; then ok "test perplexity $ppl < 40"; else fail "test perplexity $ppl"; fi

$GF sample --model-file "$TMP/lm.safetensors" --prompt "You will " --tokens 60 --seed 7 --threads 1 >"$TMP/s1" 2>"$TMP/err" || fail "sample: $(cat "$TMP/err")"
$GF sample --model-file "$TMP/lm.safetensors" --prompt "You will " --tokens 60 --seed 7 --threads 1 >"$TMP/s2" 2>&1
$GF sample --model-file "$TMP/lm.safetensors" --prompt "You will " --tokens 60 --seed 8 --threads 1 >"$TMP/s3" 2>&1
if head -c 9 "$TMP/s1" | grep -q "^You will " && [ "$(wc -c <"$TMP/s1")" -eq 70 ]; then ok "sample continues the prompt by 60 bytes"; else fail "sample: $(cat "$TMP/s1")"; fi
cmp -s "$TMP/s1" "$TMP/s2" && ok "same seed, same sample" || fail "same seed gave different samples"
cmp -s "$TMP/s1" "$TMP/s3" && fail "different seeds gave the same sample" || ok "another seed, another sample"

# resume: clip 0.05 on every step, 2 batches a step and a warmup of 16 steps
# that spans the break after epoch 1 (11 steps): one go and two parts end
# with the same bytes
head -c 6000 $FORTUNES >"$TMP/short.txt"
RM=gpt:L=1,H=2,C=32,T=32,V=256
RF="--dataset text:$TMP/short.txt --batch 8 --optim adamw --lr 1e-2 --threads 1"
SCHED="--grad-clip 0.05 --accum 2 --warmup-steps 16"
$GF train --model $RM $RF $SCHED --epochs 2 --seed 3 --out "$TMP/whole.st" >/dev/null 2>"$TMP/err" || fail "one go: $(cat "$TMP/err")"
$GF train --model $RM $RF $SCHED --epochs 1 --seed 3 --out "$TMP/part.st" >/dev/null 2>"$TMP/err" || fail "part 1: $(cat "$TMP/err")"
$GF train --resume "$TMP/part.st" $RF --epochs 2 --out "$TMP/part.st" >/dev/null 2>"$TMP/err" || fail "part 2: $(cat "$TMP/err")"
meta() { /usr/bin/python3 -c 'import json,struct,sys; b=open(sys.argv[1],"rb").read(); n=struct.unpack("<Q",b[:8])[0]; print(json.loads(b[8:8+n])["__metadata__"][sys.argv[2]])' "$1" "$2"; }
if [ -s "$TMP/whole.st" ] && cmp -s "$TMP/whole.st" "$TMP/part.st"; then ok "resumed run equals the run in one go"
else fail "resumed run's checkpoint differs from the run in one go"; fi
v="$(meta "$TMP/part.st" gf.grad_clip) $(meta "$TMP/part.st" gf.accum) $(meta "$TMP/part.st" gf.lr_schedule) $(meta "$TMP/part.st" gf.warmup_steps) $(meta "$TMP/part.st" gf.min_lr_frac)"
[ "$v" = "0.0500000007 2 constant 16 0.100000001" ] && ok "checkpoint metadata: $v" || fail "checkpoint metadata: $v"
# a cosine run keeps the length it was planned with (21 steps), past it its final rate
$GF train --model $RM $RF --lr-schedule cosine --epochs 1 --seed 3 --out "$TMP/cos.st" >/dev/null 2>&1 || fail "cosine run"
$GF train --resume "$TMP/cos.st" $RF --epochs 2 --out "$TMP/cos.st" >/dev/null 2>"$TMP/err" || fail "cosine resume: $(cat "$TMP/err")"
if grep -q "cosine schedule saved in .* ends at step 21; .* up to 42, run at its final rate" "$TMP/err" &&
   [ "$(meta "$TMP/cos.st" gf.lr_total_steps) $(meta "$TMP/cos.st" gf.step)" = "21 42" ]; then
  ok "resumed cosine keeps its 21 steps"
else fail "resumed cosine: $(cat "$TMP/err") total $(meta "$TMP/cos.st" gf.lr_total_steps)"; fi
expect_error "resume with another clip" "--grad-clip differs" -- $GF train --resume "$TMP/part.st" $RF --epochs 3 --grad-clip 1
expect_error "resume with another schedule" "--lr-schedule differs" -- $GF train --resume "$TMP/part.st" $RF --epochs 3 --lr-schedule cosine

# bad inputs
: >"$TMP/empty.txt"
expect_error "empty text" "empty" -- $GF train --model $M --dataset text:"$TMP/empty.txt" --threads 1
head -c 100 /dev/zero >"$TMP/short.bin"
expect_error "truncated token header" "truncated header" -- $GF train --model $M --dataset tokens:"$TMP/short.bin" --threads 1
expect_error "device as text" "regular file" -- $GF train --model $M --dataset text:/dev/zero --threads 1
expect_error "ids beyond V" "vocabulary 0..99" -- $GF train --model gpt:L=1,H=2,C=16,T=16,V=100 --dataset text:$FORTUNES --threads 1
expect_error "gpt on images" "token data" -- $GF train --model $M --dataset fashion-mnist --threads 1
expect_error "mlp on text" "language model" -- $GF train --model mlp:64-10 --dataset text:$FORTUNES --threads 1
expect_error "bad gpt spec" "multiple of H" -- $GF train --model gpt:L=1,H=3,C=16,T=16,V=256 --dataset text:$FORTUNES
expect_error "sample without a prompt" "non-empty" -- $GF sample --model-file "$TMP/lm.safetensors" --prompt ""
finish
