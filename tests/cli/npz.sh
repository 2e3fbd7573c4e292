# NumPy .npz data from the command line (data/dataset.h, npz:): gf train and
# gf eval on PneumoniaMNIST; a two-class model's eval reports AUC,
# sensitivity and specificity in text and JSON, over the split named
# (split=val / split=test: NumPy's label counts 135/389 and 234/390); a
# ten-class model's does not; bad archives are refused with the file and the
# array named and a non-zero exit. The operator registers an .npz (format
# npz, no CSV options) and a member's central job on it succeeds.
. tests/cli_lib.sh
. scripts/fed_local.sh
trap 'fed_down; rm -rf "$TMP"' EXIT
NPZ=../shared/data/pneumoniamnist.npz
M=seq:1x28x28-conv4k3p1-relu-maxpool2-flatten-linear2
[ -f "$NPZ" ] || { fail "$NPZ missing (see ../shared/data/README.md)"; finish; exit 1; }

"$GF" train --model $M --dataset "npz:$NPZ" --epochs 1 --threads 1 --out "$TMP/m.safetensors" > "$TMP/train.log" 2>&1 \
  && ok "gf train on npz:$NPZ" || fail "gf train: $(tail -3 "$TMP/train.log")"
"$GF" eval --model-file "$TMP/m.safetensors" --dataset "npz:$NPZ" --threads 1 --json > "$TMP/e" 2>&1 || fail "gf eval: $(cat "$TMP/e")"
grep -q "^test_auc [01]\.[0-9]*  sensitivity [01]\.[0-9]*  specificity [01]\.[0-9]*  (390 positives, 234 negatives" "$TMP/e" \
  && ok "eval's text has AUC, sensitivity and specificity" || fail "eval text: $(cat "$TMP/e")"
tail -1 "$TMP/e" > "$TMP/ej"
jget 'd["positives"] == 390 and d["negatives"] == 234 and 0.5 < d["test_auc"] <= 1 and 0 <= d["sensitivity"] <= 1 and 0 <= d["specificity"] <= 1' < "$TMP/ej" | grep -qx True \
  && ok "eval's JSON: $(cat "$TMP/ej" | head -c 300)" || fail "eval JSON: $(cat "$TMP/ej")"
# accuracy is the mix of the two rates: (390 sens + 234 spec) / 624
jget 'abs((390 * d["sensitivity"] + 234 * d["specificity"]) / 624 - d["test_accuracy"]) < 1e-9' < "$TMP/ej" | grep -qx True \
  && ok "accuracy = (390 sensitivity + 234 specificity) / 624" || fail "rates and accuracy disagree: $(cat "$TMP/ej")"
"$GF" eval --model-file "$TMP/m.safetensors" --dataset "npz:$NPZ,split=test" --split train --threads 1 --json | tail -1 | cmp -s - "$TMP/ej" \
  && ok "split=test scores what the default's test half does" || fail "split=test differs"
"$GF" eval --model-file "$TMP/m.safetensors" --dataset "npz:$NPZ,split=val" --split train --threads 1 --json | tail -1 \
  | jget 'd["positives"] == 389 and d["negatives"] == 135 and d["samples"] == 524' | grep -qx True \
  && ok "split=val scores the 524 validation images" || fail "split=val"
"$GF" train --model seq:1x28x28-flatten-linear10 --dataset "npz:$NPZ,split=val" --epochs 1 --threads 1 \
  --out "$TMP/m10.safetensors" > /dev/null 2>&1 || fail "ten-class train"
"$GF" eval --model-file "$TMP/m10.safetensors" --dataset "npz:$NPZ" --threads 1 --json > "$TMP/e10" 2>&1
tail -1 "$TMP/e10" | jget '"test_auc" not in d' | grep -qx True && ! grep -q test_auc "$TMP/e10" \
  && ok "a ten-class model reports no AUC" || fail "ten-class eval: $(cat "$TMP/e10")"

head -c 100000 "$NPZ" > "$TMP/cut.npz"
expect_error "a truncated .npz" "cut.npz readable" -- "$GF" eval --model-file "$TMP/m.safetensors" --dataset "npz:$TMP/cut.npz"
expect_error "a missing split" "pneumoniamnist.npz nosuch_labels split=S" -- \
  "$GF" eval --model-file "$TMP/m.safetensors" --dataset "npz:$NPZ,split=nosuch"
expect_error "a bad npz option" "unknown option" -- "$GF" train --model $M --dataset "npz:$NPZ,label=y"

# ---- the registry ----------------------------------------------------------------
fed_provision "$TMP" 1
fed_coordinator "$TMP" --cores 2 || { fail "coordinator start"; finish; exit 1; }
export GF_COORDINATOR="${FED_URL%/}" GF_CA="$TMP/pki/coordinator/ca.crt"
unset GF_KIT GF_TOKEN
OP=$(cat "$TMP/data/operator.token")
"$GF" tenant add acme --shares 1 --token "$OP" > /dev/null || fail "tenant add"
TA=$("$GF" token create --tenant acme --token "$OP")
mkdir -p "$TMP/reg" && cp "$NPZ" "$TMP/reg/pneu.npz"
expect_error "an .npz takes no label" "400 label csv" -- "$GF" dataset add p --path "$TMP/reg/pneu.npz" --label y --public --token "$OP"
"$GF" dataset add pneu --path "$TMP/reg/pneu.npz" --public --token "$OP" > /dev/null || fail "dataset add pneu"
"$GF" dataset list --token "$OP" | grep -q "^pneu .*npz .*$TMP/reg/pneu.npz" && ok "listed as npz" \
  || fail "list: $("$GF" dataset list --token "$OP")"
J=$("$GF" submit /dev/stdin --token "$TA" <<EOF
{"kind":"central","name":"pneu","model":"$M","dataset":"pneu","epochs":1,"batch":64,"seed":1,"resources":{"cores":1,"gpus":0,"memory_mb":4096,"time_limit_s":300}}
EOF
)
[ -n "$J" ] && token_wait_state "$J" succeeded 120 && ok "a member's central job on the registered .npz succeeded" \
  || fail "central job: $("$GF" logs "$J" --stderr --token "$OP" 2>&1 | tail -3)"
finish
