# An image folder from the command line (imagedir:, src/data/imagedir.c):
# two classes of 8x8 PNGs (written here with plain zlib: "bright_left" has
# its left half bright, "bright_right" its right half, with noise), trained
# with a small model through gf train and scored through gf eval on a test
# folder; the class mapping is printed. A corrupt PNG and a symbolic link
# out of the folder are refused naming the file, with a non-zero exit.
. tests/cli_lib.sh
D="$TMP/img"
/usr/bin/python3 - "$D" <<'PY'
import os, random, struct, sys, zlib
def png(path, rows):
    def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    raw = b"".join(b"\0" + bytes(r) for r in rows)
    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 0, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    open(path, "wb").write(data)
rnd = random.Random(1)
for split, count in (("train", 40), ("test", 10)):
    for cls, left in (("bright_left", True), ("bright_right", False)):
        os.makedirs(os.path.join(sys.argv[1], split, cls), exist_ok=True)
        for i in range(count):
            rows = [[min(255, max(0, (200 if (x < 4) == left else 40) + rnd.randint(-40, 40))) for x in range(8)]
                    for y in range(8)]
            png(os.path.join(sys.argv[1], split, cls, "%03d.png" % i), rows)
PY
M=seq:1x8x8-flatten-linear2
"$GF" train --model $M --dataset "imagedir:$D/train,test=$D/test" --epochs 5 --batch 8 --optim adamw --lr 0.05 \
  --threads 1 --seed 1 --out "$TMP/m.safetensors" > "$TMP/train.log" 2>&1 \
  && ok "gf train on imagedir:" || fail "gf train: $(tail -3 "$TMP/train.log")"
grep -q "80 train and 20 test images of 1x8x8 .*2 classes: 0=bright_left 1=bright_right" "$TMP/train.log" \
  && ok "the class mapping is printed" || fail "no class mapping: $(cat "$TMP/train.log")"
"$GF" eval --model-file "$TMP/m.safetensors" --dataset "imagedir:$D/train,test=$D/test" --threads 1 --json \
  > "$TMP/e" 2>&1 || fail "gf eval: $(cat "$TMP/e")"
tail -1 "$TMP/e" | jget 'd["samples"] == 20 and d["test_accuracy"] >= 0.9' | grep -qx True \
  && ok "test accuracy >= 0.9 on the held-out folder: $(tail -1 "$TMP/e" | head -c 200)" \
  || fail "eval: $(cat "$TMP/e")"

printf '\211PNG\r\n\032\nnot really' > "$D/train/bright_left/zz.png"
expect_error "a corrupt PNG" "zz.png corrupt PNG" -- "$GF" train --model $M --dataset "imagedir:$D/train" --epochs 1 \
  --threads 1 --out "$TMP/x.safetensors"
rm "$D/train/bright_left/zz.png"
ln -s /etc/passwd "$D/train/bright_right/passwd.png"
expect_error "a symbolic link out of the folder" "passwd.png symbolic link" -- "$GF" train --model $M \
  --dataset "imagedir:$D/train" --epochs 1 --threads 1 --out "$TMP/x.safetensors"
finish
