# Same seed, data and threads -> byte-identical checkpoints; 2 epochs equal
# 1 epoch + save + resume 1 epoch, byte for byte (SGD with momentum, AdamW,
# and a model with dropout and layernorm whose masks depend on the step).
. tests/cli_lib.sh
small_idx "$TMP/d" 1000 200
D="idx:$TMP/d"

check_model() {
  tag=$1; shift
  "$GF" train "$@" --dataset "$D" --epochs 2 --seed 7 --threads 2 --out "$TMP/$tag-a.st" >/dev/null || fail "$tag: run a"
  "$GF" train "$@" --dataset "$D" --epochs 2 --seed 7 --threads 2 --out "$TMP/$tag-b.st" >/dev/null || fail "$tag: run b"
  cmp -s "$TMP/$tag-a.st" "$TMP/$tag-b.st" && ok "$tag: two runs byte-identical" || fail "$tag: two runs differ"
  "$GF" train "$@" --dataset "$D" --epochs 1 --seed 7 --threads 2 --out "$TMP/$tag-1.st" >/dev/null || fail "$tag: 1 epoch"
  "$GF" train --resume "$TMP/$tag-1.st" --dataset "$D" --epochs 2 --threads 2 --out "$TMP/$tag-r.st" >/dev/null || fail "$tag: resume"
  cmp -s "$TMP/$tag-a.st" "$TMP/$tag-r.st" && ok "$tag: 1 + resume 1 == 2 epochs, byte-identical" || fail "$tag: resumed run differs"
  cmp -s "$TMP/$tag-a.st" "$TMP/$tag-1.st" && fail "$tag: epoch 1 and 2 checkpoints are equal (no training?)"
  "$GF" train "$@" --dataset "$D" --epochs 2 --seed 8 --threads 2 --out "$TMP/$tag-s.st" >/dev/null
  cmp -s "$TMP/$tag-a.st" "$TMP/$tag-s.st" && fail "$tag: another seed gives the same bytes"
}

check_model mlp-sgd --model mlp:784-64-10 --optim sgd --lr 0.05 --momentum 0.9 --weight-decay 1e-4 --batch 32
check_model cnn-adamw --model seq:1x28x28-conv4k3p1-relu-maxpool2-dropout0.25-flatten-linear32-layernorm-gelu-linear10 --optim adamw --lr 1e-3 --batch 50

# the resumed checkpoint still loads and evaluates
"$GF" eval --model-file "$TMP/mlp-sgd-r.st" --dataset "$D" --json > "$TMP/eval.out" || fail "eval of resumed checkpoint"
tail -1 "$TMP/eval.out" | grep -q '"test_accuracy"' && ok "eval prints JSON" || fail "eval JSON"

# --json: the last stdout line is one object with the promised keys
"$GF" train --model mlp:784-16-10 --dataset "$D" --epochs 2 --threads 2 --json > "$TMP/train.out" || fail "train --json"
last=$(tail -1 "$TMP/train.out")
for k in '"test_accuracy":0.' '"train_images_per_s":' '"epochs":2,' '"params":12730,' '"lr":0.01,'; do
  case $last in *"$k"*) ;; *) fail "train --json lacks $k: $last" ;; esac
done
case $last in "{"*"}") ok "train --json last line is an object" ;; *) fail "train --json last line: $last" ;; esac

# resuming with a contradicting flag is refused
expect_error "resume with other --lr" "lr differs" -- "$GF" train --resume "$TMP/mlp-sgd-1.st" --dataset "$D" --epochs 2 --lr 0.5
finish
