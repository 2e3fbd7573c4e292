# A safetensors file written without gf (by hand, as PyTorch's save_file
# would: F32 tensors named as nn.Sequential's state_dict, and only the two
# metadata keys docs/checkpoints.md lists) loads into gf eval, which gives the
# accuracy and loss a plain re-computation of the network gives; without
# gf.format or with an F16 tensor it is refused with a clear error.
. tests/cli_lib.sh
cat > "$TMP/mk.py" <<'PY'
import json, math, random, struct, sys
out, mode = sys.argv[1], sys.argv[2]
random.seed(7)
W1 = [[random.uniform(-1, 1) for _ in range(3)] for _ in range(5)]; b1 = [random.uniform(-.5, .5) for _ in range(5)]
W2 = [[random.uniform(-1, 1) for _ in range(5)] for _ in range(3)]; b2 = [random.uniform(-.5, .5) for _ in range(3)]
rows = [[random.uniform(-2, 2) for _ in range(3)] + [random.randrange(3)] for _ in range(40)]
f32 = lambda x: struct.unpack('<f', struct.pack('<f', x))[0]
W1 = [[f32(v) for v in r] for r in W1]; W2 = [[f32(v) for v in r] for r in W2]; b1 = [f32(v) for v in b1]; b2 = [f32(v) for v in b2]
tensors = [("0.weight", [5, 3], sum(W1, [])), ("0.bias", [5], b1), ("2.weight", [3, 5], sum(W2, [])), ("2.bias", [3], b2)]
meta = {"gf.format": "gf-checkpoint-1", "gf.spec": "mlp:3-5-3"}
if mode == "noformat": del meta["gf.format"]
header, data = {"__metadata__": meta}, b""
for name, shape, vals in tensors:
    dt = "F16" if mode == "f16" and name == "0.bias" else "F32"
    raw = struct.pack("<%d%s" % (len(vals), "e" if dt == "F16" else "f"), *vals)
    header[name] = {"dtype": dt, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
    data += raw
h = json.dumps(header).encode(); h += b" " * (-len(h) % 8)
open(out, "wb").write(struct.pack("<Q", len(h)) + h + data)
if mode == "ok":
    with open(out + ".csv", "w") as c:
        c.write("a,b,c,label\n")
        for r in rows: c.write("%r,%r,%r,%d\n" % (f32(r[0]), f32(r[1]), f32(r[2]), r[3]))
    right, loss = 0, 0.0
    for r in rows:
        x = [f32(v) for v in r[:3]]
        h1 = [max(0.0, sum(W1[i][k] * x[k] for k in range(3)) + b1[i]) for i in range(5)]
        z = [sum(W2[j][i] * h1[i] for i in range(5)) + b2[j] for j in range(3)]
        m = max(z); lse = m + math.log(sum(math.exp(v - m) for v in z))
        loss += lse - z[r[3]]; right += z.index(max(z)) == r[3]
    print("%.4f %.4f" % (right / len(rows), loss / len(rows)))
PY
want=$(/usr/bin/python3 "$TMP/mk.py" "$TMP/m.safetensors" ok)
got=$("$GF" eval --model-file "$TMP/m.safetensors" --dataset "csv:$TMP/m.safetensors.csv,test=$TMP/m.safetensors.csv" --threads 1 \
      | sed -n 's/^test_accuracy \([0-9.]*\)  test_loss \([0-9.]*\).*/\1 \2/p')
[ -n "$got" ] && [ "$got" = "$want" ] && ok "a hand-written checkpoint: gf eval gives accuracy and loss $got, as recomputed" \
  || fail "gf eval of the foreign checkpoint: \"$got\", recomputed \"$want\""
/usr/bin/python3 "$TMP/mk.py" "$TMP/nf.safetensors" noformat
expect_error "without gf.format" "not.a.gf.checkpoint gf.format" -- "$GF" eval --model-file "$TMP/nf.safetensors" --dataset "csv:$TMP/m.safetensors.csv,test=$TMP/m.safetensors.csv" --threads 1
/usr/bin/python3 "$TMP/mk.py" "$TMP/h.safetensors" f16
expect_error "an F16 tensor" "0.bias F16" -- "$GF" eval --model-file "$TMP/h.safetensors" --dataset "csv:$TMP/m.safetensors.csv,test=$TMP/m.safetensors.csv" --threads 1
finish
