# The registry's other readers (src/service/datasets.h): the operator
# registers Debian's PLINK mouse data (gemma-doc, a prefix of .gz files), a
# VCF (shapeit4's example, with a phenotype table written here), a NIfTI
# volume (mricron-data, with a labels table) and a folder of class folders of
# PNGs, each format inferred from its path; a registration the reader cannot
# read fails with the reader's message; a member cannot register; a central
# job naming the image folder trains through the coordinator; a labels table
# or an image swapped for a link out after registration is refused at
# submission, without its bytes in the answer.
. tests/cli_lib.sh
. scripts/fed_local.sh
trap 'fed_down; rm -rf "$TMP"' EXIT
SECRET=gf_TOPSECRETLINE42
MOUSE=/usr/share/doc/gemma/example/mouse_hs1940
VCF=/usr/share/doc/shapeit4/examples/test/scaffold.vcf.gz
NII=/usr/share/mricron/templates/JHU-WhiteMatter-labels-2mm.nii.gz

fed_provision "$TMP" 1
fed_coordinator "$TMP" --cores 2 || { fail "coordinator start"; finish; exit 1; }
URL=${FED_URL%/}
CA="$TMP/pki/coordinator/ca.crt"
export GF_COORDINATOR="$URL" GF_CA="$CA"
unset GF_KIT GF_TOKEN
OP=$(cat "$TMP/data/operator.token")
"$GF" tenant add acme --shares 10 --token "$OP" > /dev/null || fail "tenant add"
TA=$("$GF" token create --tenant acme --token "$OP")
api() {  # api METHOD PATH TOKEN [BODY]: prints "STATUS" on line 1, the body after
  curl -s -o "$TMP/resp" -w '%{http_code}\n' --cacert "$CA" -X "$1" -H "Authorization: Bearer $3" \
       ${4:+--data-binary "$4"} "$URL$2"
  cat "$TMP/resp"; echo
}
central() {  # central NAME DATASET MODEL
  printf '{"kind":"central","name":"%s","model":"%s","dataset":"%s","epochs":1,"batch":8,"seed":1,"resources":{"cores":1,"gpus":0,"memory_mb":4096,"time_limit_s":300}}' "$1" "$3" "$2"
}

# ---- the data ---------------------------------------------------------------------
mkdir -p "$TMP/reg"
printf '%s,x\n1,2\n' "$SECRET" > "$TMP/data/secret.csv"
zcat "$VCF" | grep -m1 '^#CHROM' | tr '\t' '\n' | tail -n +10 \
  | awk 'BEGIN { print "id,case" } { print $1 "," (NR % 2) }' > "$TMP/reg/pheno.csv"
printf 'file,label\nJHU-WhiteMatter-labels-2mm,1\n' > "$TMP/reg/labels.csv"
/usr/bin/python3 - "$TMP/reg/img" <<'PY'
import os, random, struct, sys, zlib
def png(path, rows):
    def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    raw = b"".join(b"\0" + bytes(r) for r in rows)
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 0, 0, 0, 0)) +
                           chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
rnd = random.Random(1)
for cls, left in (("bright_left", True), ("bright_right", False)):
    os.makedirs(os.path.join(sys.argv[1], cls))
    for i in range(12):
        png(os.path.join(sys.argv[1], cls, "%02d.png" % i),
            [[(200 if (x < 4) == left else 40) + rnd.randint(-30, 30) for x in range(8)] for y in range(8)])
PY
mkdir "$TMP/empty"

# ---- registration ----------------------------------------------------------------
expect_error "a member cannot register" "403 operators" -- \
  "$GF" dataset add m --path "$TMP/reg/img" --public --token "$TA"
expect_error "a VCF without its phenotypes: the reader's message" "400 vcf reader VCF holds no phenotype" -- \
  "$GF" dataset add v --path "$VCF" --public --token "$OP"
expect_error "nifti without labels=: the reader's message" "400 nifti reader labels" -- \
  "$GF" dataset add n --path "$NII" --public --token "$OP"
expect_error "a folder of nothing known" "400 --format" -- "$GF" dataset add e --path "$TMP/empty" --public --token "$OP"
expect_error "an unknown format" "400 format hdf5 one of" -- \
  "$GF" dataset add e --path "$TMP/empty" --format hdf5 --public --token "$OP"
expect_error "an option value that is no path nor word" "400 options" -- \
  "$GF" dataset add v --path "$VCF" --options "pheno=$TMP/reg/pheno.csv,pheno_col=a/b" --public --token "$OP"
expect_error "label for a PLINK prefix" "400 label CSV" -- \
  "$GF" dataset add g --path "$MOUSE" --label y --public --token "$OP"
"$GF" dataset add mouse --path "$MOUSE" --options binarize=median,test_fraction=0.2 --public --token "$OP" \
  > /dev/null 2> "$TMP/err" && ok "a PLINK prefix registered (.bed.gz, .bim.gz, .fam.gz)" || fail "plink: $(cat "$TMP/err")"
"$GF" dataset add chr20 --path "$VCF" --options "pheno=$TMP/reg/pheno.csv,pheno_col=case,coding=01" --public \
  --token "$OP" > /dev/null 2> "$TMP/err" && ok "a VCF registered" || fail "vcf: $(cat "$TMP/err")"
"$GF" dataset add jhu --path "$NII" --options "labels=$TMP/reg/labels.csv" --tenant acme --token "$OP" \
  > /dev/null 2> "$TMP/err" && ok "a NIfTI volume registered" || fail "nifti: $(cat "$TMP/err")"
"$GF" dataset add shapes --path "$TMP/reg/img" --tenant acme --token "$OP" > /dev/null 2> "$TMP/err" \
  && ok "an image folder registered" || fail "imagedir: $(cat "$TMP/err")"
expect_error "a name twice (any case)" "409 exists" -- "$GF" dataset add MOUSE --path "$MOUSE" --public --token "$OP"
"$GF" dataset list --token "$OP" --json > "$TMP/l"
jget '";".join("%s=%s:%s" % (x["name"], x["format"], x.get("options", "")) for x in d["datasets"])' < "$TMP/l" \
  > "$TMP/lf"
grep -qx "fashion-mnist=idx:;chr20=vcf:pheno=$TMP/reg/pheno.csv,pheno_col=case,coding=01;jhu=nifti:labels=$TMP/reg/labels.csv;mouse=plink:binarize=median,test_fraction=0.2;shapes=imagedir:" "$TMP/lf" \
  && ok "the list: formats and options with canonical paths" || fail "list: $(cat "$TMP/lf")"
jget '[x["path"] for x in d["datasets"] if x["name"] == "mouse"][0]' < "$TMP/l" | grep -qx "$MOUSE" \
  && ok "a PLINK entry's path is its prefix" || fail "mouse path: $(cat "$TMP/l")"

# ---- a central job on a registered image folder -----------------------------------
J=$("$GF" submit /dev/stdin --token "$TA" <<EOF
$(central img shapes seq:1x8x8-flatten-linear2)
EOF
)
[ -n "$J" ] && token_wait_state "$J" succeeded 120 && ok "acme's central job on the image folder succeeded" \
  || fail "imagedir job: $("$GF" logs "$J" --stderr --token "$OP" 2>&1 | tail -3)"

# ---- files swapped for links out after registration --------------------------------
rm "$TMP/reg/labels.csv" && ln -s "$TMP/data/secret.csv" "$TMP/reg/labels.csv"
r=$(api POST /v1/jobs "$TA" "$(central swapped jhu mlp:4-2)")
case "$r" in 400*"no longer as registered"*) ok "a labels table swapped for a link: 400" ;; *) fail "labels swapped: $r" ;; esac
echo "$r" | grep -q "$SECRET" && fail "the swapped file's content in the answer" || true
ln -s "$TMP/data/secret.csv" "$TMP/reg/img/bright_left/zz.png"
r=$(api POST /v1/jobs "$TA" "$(central swapped2 shapes seq:1x8x8-flatten-linear2)")
case "$r" in 400*"no longer as registered"*) ok "an image that links out of the folder: 400" ;; *) fail "image link: $r" ;; esac
finish
