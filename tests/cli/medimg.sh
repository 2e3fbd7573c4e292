# NIfTI and DICOM data from the command line (src/data/medimg.h): gf train on
# a nifti: folder of 60 small gzipped 3-D volumes (two classes told apart by
# a bright cube: an easy task, so the test split is scored well above
# chance), with labels keyed by file name and min-max scaling; a lying
# header, a missing label and a bad option are refused naming what is wrong,
# with a non-zero exit; dicom: on a folder of a DICOM file and a series
# folder (pydicom's CT_small.dcm) trains, and a missing label is refused.
. tests/cli_lib.sh
/usr/bin/python3 - "$TMP" <<'PY'
import gzip, os, random, struct, sys
tmp = sys.argv[1]
os.makedirs(tmp + "/vols")
rnd = random.Random(7)
rows = ["file,label"]
for i in range(60):
    label = i % 2
    v = []
    for z in range(4):
        for y in range(6):
            for x in range(6):
                inside = 1 <= x <= 3 and 1 <= y <= 3 and 1 <= z <= 2
                v.append(int(rnd.gauss(100, 20) + (80 if inside and label else 0)))
    h = bytearray(352)
    struct.pack_into("<i", h, 0, 348)
    struct.pack_into("<8h", h, 40, 3, 6, 6, 4, 1, 1, 1, 1)
    struct.pack_into("<hh", h, 70, 4, 16)
    struct.pack_into("<fff", h, 108, 352.0, 1.0, 0.0)
    h[344:348] = b"n+1\0"
    name = "s%02d.nii.gz" % i
    open(tmp + "/vols/" + name, "wb").write(gzip.compress(bytes(h) + struct.pack("<%dh" % len(v), *v), mtime=0))
    rows.append("%s,%d" % (name[:-7], label))
open(tmp + "/labels.csv", "w").write("\n".join(rows) + "\n")
h = bytearray(open(tmp + "/vols/s00.nii.gz", "rb").read())
raw = bytearray(gzip.decompress(bytes(h)))
struct.pack_into("<h", raw, 46, 400)     # dim[3]: 400 slices claimed, 4 there
os.makedirs(tmp + "/lying")
open(tmp + "/lying/s00.nii", "wb").write(bytes(raw))
PY
M=seq:4x6x6-flatten-linear2
SPEC="nifti:$TMP/vols,labels=$TMP/labels.csv,scale=minmax,test_fraction=0.25,seed=3"
"$GF" train --model $M --dataset "$SPEC" --epochs 30 --batch 8 --lr 0.5 --threads 1 --json \
  --out "$TMP/m.safetensors" > "$TMP/train.log" 2>&1 \
  && ok "gf train on nifti: (60 volumes)" || fail "gf train: $(tail -3 "$TMP/train.log")"
tail -1 "$TMP/train.log" | jget 'd["test_accuracy"] >= 0.9' | grep -qx True \
  && ok "the bright cube is learnt: $(tail -1 "$TMP/train.log" | jget "d[\"test_accuracy\"]")" || fail "accuracy: $(tail -2 "$TMP/train.log")"
expect_error "a lying header" "s00.nii 400 truncated" -- \
  "$GF" train --model $M --dataset "nifti:$TMP/lying,labels=$TMP/labels.csv" --threads 1
grep -v '^s07,' "$TMP/labels.csv" > "$TMP/partial.csv"
expect_error "a missing label" "partial.csv no label s07.nii.gz" -- \
  "$GF" train --model $M --dataset "nifti:$TMP/vols,labels=$TMP/partial.csv" --threads 1
expect_error "a bad scale" "scale must be minmax" -- \
  "$GF" train --model $M --dataset "nifti:$TMP/vols,labels=$TMP/labels.csv,scale=log" --threads 1

CT=/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm
mkdir -p "$TMP/dcm/series1"
cp "$CT" "$TMP/dcm/a.dcm" && cp "$CT" "$TMP/dcm/series1/img1"
printf 'file,label\na,0\nseries1,1\n' > "$TMP/dcm.csv"
"$GF" train --model seq:1x128x128-flatten-linear2 --dataset "dicom:$TMP/dcm,labels=$TMP/dcm.csv,scale=minmax" \
  --epochs 1 --threads 1 > "$TMP/dtrain.log" 2>&1 \
  && ok "gf train on dicom: (a file and a series folder)" || fail "dicom train: $(tail -3 "$TMP/dtrain.log")"
printf 'file,label\na,0\n' > "$TMP/dcm_partial.csv"
expect_error "a DICOM series without a label" "no label series1" -- \
  "$GF" train --model seq:1x128x128-flatten-linear2 --dataset "dicom:$TMP/dcm,labels=$TMP/dcm_partial.csv" --threads 1
finish
