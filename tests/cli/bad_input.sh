# Bad input gets a clear error naming what is wrong and a non-zero exit,
# never a crash: missing files, broken IDX, broken CSV, broken safetensors,
# a spec that does not parse, NaN in the input, bad flags.
. tests/cli_lib.sh
small_idx "$TMP/good" 200 50
T="$GF train --model mlp:784-32-10 --epochs 1 --threads 2"

expect_error "missing dataset dir" "nope exists" -- $T --dataset "idx:$TMP/nope"
expect_error "unknown dataset spec" "dataset" -- $T --dataset "parquet:/x"

# IDX: wrong magic, truncated images, count mismatch
cp -r "$TMP/good" "$TMP/magic"
{ printf '\000\000\010\004'; tail -c +5 "$TMP/good/train-images-idx3-ubyte"; } > "$TMP/magic/train-images-idx3-ubyte"
expect_error "IDX wrong magic" "magic train-images" -- $T --dataset "idx:$TMP/magic"
cp -r "$TMP/good" "$TMP/trunc"
head -c 50000 "$TMP/good/train-images-idx3-ubyte" > "$TMP/trunc/train-images-idx3-ubyte"
expect_error "IDX truncated" "truncated" -- $T --dataset "idx:$TMP/trunc"
cp -r "$TMP/good" "$TMP/gztrunc"
rm "$TMP/gztrunc/t10k-labels-idx1-ubyte"
gzip -c "$TMP/good/t10k-labels-idx1-ubyte" | head -c 30 > "$TMP/gztrunc/t10k-labels-idx1-ubyte.gz"
expect_error "IDX gzip truncated" "t10k-labels truncated.gzip.stream.(unexpected.end.of.file)" -- $T --dataset "idx:$TMP/gztrunc"

# CSV: non-numeric cell, ragged row, missing label column, missing values; positions, never the text
printf 'a,b,label\n1,2,0\n3,x7,1\n' > "$TMP/nonnum.csv"
expect_error "CSV non-numeric cell" "nonnum.csv line.3,.column.2 number" -- $GF train --model mlp:2-4-2 --dataset "csv:$TMP/nonnum.csv"
grep -q x7 "$TMP/err" && fail "CSV non-numeric cell: the cell's text is echoed"
printf 'a,b,label\n1,2,0\n3,1\n' > "$TMP/ragged.csv"
expect_error "CSV ragged row" "ragged.csv line.3 ragged" -- $GF train --model mlp:2-4-2 --dataset "csv:$TMP/ragged.csv"
printf 'a,b,y\n1,2,0\n3,1,1\n' > "$TMP/nolabel.csv"
expect_error "CSV missing label column" "label 3.columns" -- $GF train --model mlp:2-4-2 --dataset "csv:$TMP/nolabel.csv"
printf 'a,b,label\n1,2,0\nnan,1,1\n4,4,1\n' > "$TMP/nan.csv"
expect_error "CSV missing value, not imputed" "sample.1,.feature.0 missing impute" -- $GF train --model mlp:2-4-2 --dataset "csv:$TMP/nan.csv"
printf 'a,b,label\n1,?,0\n2,,1\n4,NA,1\n' > "$TMP/allmissing.csv"
expect_error "CSV column missing in every row" "allmissing.csv column.2 every.value.is.missing" -- $GF train --model mlp:2-4-2 --dataset "csv:$TMP/allmissing.csv"
printf 'a,b,label\n1,1e999,0\n' > "$TMP/inf.csv"
expect_error "CSV infinite cell" "line.2,.column.2 finite" -- $GF train --model mlp:2-4-2 --dataset "csv:$TMP/inf.csv"

# a file that is a secret (a token) named as a data set: its content is never printed
printf 'gf_SECRETTOKEN\n' > "$TMP/operator.token"
expect_error "CSV secret header" "operator.token zz 1.columns" -- $GF train --model mlp:2-4-2 --dataset "csv:$TMP/operator.token,label=zz"
grep -q SECRET "$TMP/err" && fail "CSV secret header: the header is echoed"
printf 'zz,a\ngf_SECRETTOKEN,1\n' > "$TMP/secretcell.csv"
expect_error "CSV secret cell" "line.2,.column.1" -- $GF train --model mlp:1-4-2 --dataset "csv:$TMP/secretcell.csv,label=zz"
grep -q SECRET "$TMP/err" && fail "CSV secret cell: the cell is echoed"

# not regular files: a device, a FIFO (neither read nor waited on), a directory
expect_error "CSV /dev/zero" "/dev/zero not.a.regular.file" -- $GF train --model mlp:2-4-2 --dataset "csv:/dev/zero,label=y"
mkfifo "$TMP/fifo.csv"
expect_error "CSV FIFO" "fifo.csv not.a.regular.file FIFO" -- timeout 20 $GF train --model mlp:2-4-2 --dataset "csv:$TMP/fifo.csv"
expect_error "CSV directory" "not.a.regular.file directory" -- $GF train --model mlp:2-4-2 --dataset "csv:$TMP"
mkdir "$TMP/devidx" && ln -s /dev/zero "$TMP/devidx/train-images-idx3-ubyte" && cp "$TMP/good/train-labels-idx1-ubyte" "$TMP/devidx/"
expect_error "IDX symlink to /dev/zero" "train-images not.a.regular.file character.device" -- $T --dataset "idx:$TMP/devidx"
# a line over the 1 MiB line length limit
{ printf 'a,label\n'; head -c 1100000 /dev/zero | tr '\0' '1'; printf ',0\n'; } > "$TMP/longline.csv"
expect_error "CSV line too long" "longline.csv line.2 line.length.limit 1048576" -- $GF train --model mlp:1-4-2 --dataset "csv:$TMP/longline.csv"
printf 'a,b,label\n1,2,0\n3,1,1\n' > "$TMP/ok.csv"
expect_error "CSV wider than model" "model" -- $GF train --model mlp:3-4-2 --dataset "csv:$TMP/ok.csv"
printf 'a,b,label\n1,2,0\n3,1,5\n' > "$TMP/biglabel.csv"
expect_error "CSV label beyond outputs" "label 5" -- $GF train --model mlp:2-4-2 --dataset "csv:$TMP/biglabel.csv,test=$TMP/ok.csv"

# model specs that do not parse
expect_error "spec garbage" "spec" -- $T --model "resnet50" --dataset "idx:$TMP/good"
expect_error "spec bad layer" "conv32q5" -- $GF train --model "seq:1x28x28-conv32q5-flatten-linear10" --dataset "idx:$TMP/good"
expect_error "spec linear on image" "flatten" -- $GF train --model "seq:1x28x28-linear10" --dataset "idx:$TMP/good"
expect_error "spec input mismatch" "784" -- $GF train --model "mlp:100-10" --dataset "idx:$TMP/good"
# an empty layer is refused, not skipped (mlp:784--10 must not train a 784-10 model)
for m in "mlp:784--10" "mlp:-784-10" "mlp:784-10-" "seq:784-linear32--relu-linear10" "seq:784-linear10-"; do
  expect_error "spec empty layer $m" "empty.layer $m" -- $GF train --model "$m" --dataset "idx:$TMP/good" --epochs 1
done

# safetensors: missing, lying header length, unknown dtype, shape mismatch, not a checkpoint
$T --dataset "idx:$TMP/good" --out "$TMP/m.st" >/dev/null || fail "good training run"
E="$GF eval --dataset idx:$TMP/good --model-file"
expect_error "checkpoint missing" "no such file" -- $E "$TMP/none.st"
{ printf '\377\377\377\377\000\000\000\000'; tail -c +9 "$TMP/m.st"; } > "$TMP/lying.st"
expect_error "safetensors lying header length" "header length" -- $E "$TMP/lying.st"
LC_ALL=C sed 's/"F32"/"Q32"/' "$TMP/m.st" > "$TMP/dtype.st"
expect_error "safetensors unknown dtype" "dtype Q32" -- $E "$TMP/dtype.st"
LC_ALL=C sed 's/linear32-relu-linear10/linear16-relu-linear10/' "$TMP/m.st" > "$TMP/shape.st"
expect_error "safetensors shape not matching the model" "shape 0.weight" -- $E "$TMP/shape.st"
LC_ALL=C sed 's/gf-checkpoint-1/xx-checkpoint-1/' "$TMP/m.st" > "$TMP/notgf.st"
expect_error "safetensors not a gf checkpoint" "not a gf checkpoint" -- $E "$TMP/notgf.st"
head -c 100 "$TMP/m.st" > "$TMP/short.st"
expect_error "safetensors truncated" "$TMP/short.st" -- $E "$TMP/short.st"
expect_error "resume from garbage" "header" -- $GF train --resume "$TMP/lying.st" --dataset "idx:$TMP/good" --epochs 2

# flags
expect_error "unknown flag" "--frobnicate" -- $T --dataset "idx:$TMP/good" --frobnicate
expect_error "bad lr" "--lr" -- $T --dataset "idx:$TMP/good" --lr abc
expect_error "zero batch" "--batch" -- $T --dataset "idx:$TMP/good" --batch 0
expect_error "unknown optimizer" "optimizer" -- $T --dataset "idx:$TMP/good" --optim lbfgs
expect_error "unknown command" "unknown command" -- $GF frobnicate

# a learning rate that blows up is reported, not silently trained through
printf 'a,b,label\n3e38,-3e38,0\n3e38,3e38,1\n-3e38,3e38,1\n3e38,1,0\n' > "$TMP/huge.csv"
expect_error "diverging run" "loss nan step" -- $GF train --model mlp:2-4-2 --dataset "csv:$TMP/huge.csv,test=$TMP/huge.csv" --lr 1 --epochs 2 --batch 2

# help explains every flag
"$GF" --help | grep -q "train" && ok "gf --help" || fail "gf --help"
for f in --model --dataset --epochs --batch --optim --lr --momentum --weight-decay --seed --threads --out --resume --json; do
  "$GF" train --help | grep -q -- "$f" || fail "gf train --help lacks $f"
done
"$GF" eval --help | grep -q -- "--model-file" || fail "gf eval --help"

# ---- CSV test splits: given or absent, never silent; what was used is printed --------------
{ echo "a,b,label"; for i in $(seq 1 20); do echo "$i,$((i % 7)),$((i % 2))"; done; } > "$TMP/twenty.csv"
"$GF" train --model mlp:2-4-2 --dataset "csv:$TMP/twenty.csv" --threads 1 --out "$TMP/tw.safetensors" --json > "$TMP/tw.out" 2> "$TMP/tw.err"
grep -q "gf train: data: 20 training samples; no test split" "$TMP/tw.err" && grep -q "test_acc -" "$TMP/tw.out" \
  && [ "$(tail -1 "$TMP/tw.out" | jget '(d["test_accuracy"], d["train_samples"], d["test_samples"])')" = "(None, 20, 0)" ] \
  && ok "csv without a test split: all 20 rows train, said so, no test metrics" || fail "no split: $(cat "$TMP/tw.err" "$TMP/tw.out" | head -c 600)"
"$GF" train --model mlp:2-4-2 --dataset "csv:$TMP/twenty.csv,test_fraction=0.25" --threads 1 > /dev/null 2> "$TMP/tw.err"
grep -q "gf train: data: 15 training samples, 5 test samples (test split: test_fraction=0.25 of the samples" "$TMP/tw.err" \
  && ok "test_fraction=0.25: 15 and 5 rows, printed" || fail "test_fraction: $(cat "$TMP/tw.err")"
expect_error "gf eval without a test split" "no.test.split test_fraction --split" -- "$GF" eval --model-file "$TMP/tw.safetensors" --dataset "csv:$TMP/twenty.csv"
expect_error "test and test_fraction together" "not.both" -- "$GF" train --model mlp:2-4-2 --dataset "csv:$TMP/twenty.csv,test=$TMP/ok.csv,test_fraction=0.5"
finish
