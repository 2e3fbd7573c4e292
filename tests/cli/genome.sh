# Genotype datasets through the CLI: gf train on Debian's real PLINK mouse
# data (gemma-doc) and on a small VCF, the counts line it prints (samples
# kept and dropped, missing calls), training refused while missing calls
# are unfilled, and bad input (truncated .bed, malformed VCF record, a
# phenotype table missing a sample) failing with the file and the place.
. tests/cli_lib.sh
MOUSE=/usr/share/doc/gemma/example/mouse_hs1940

# the real mouse data: phenotype 1 binarized at its median, 20 % held out
$GF train --model mlp:12226-2 --dataset "plink:$MOUSE,binarize=median,test_fraction=0.2" --epochs 1 --threads 2 \
    >"$TMP/out" 2>"$TMP/err" && ok "train on plink mouse data" || { fail "train on plink mouse data"; cat "$TMP/err"; }
grep -q "1940 samples x 12226 variants; 1410 kept, 530 dropped for a missing phenotype" "$TMP/err" \
  && grep -q "1128 train, 282 test" "$TMP/err" && ok "counts line: $(cat "$TMP/err")" || fail "counts line: $(cat "$TMP/err")"
grep -q "test_acc 0\.[0-9]" "$TMP/out" || fail "no test accuracy: $(cat "$TMP/out")"

# a small VCF with a missing call: refused unfilled, trained with fill=mean
cat > "$TMP/g.vcf" <<'VCF'
##fileformat=VCFv4.2
##contig=<ID=1>
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
#CHROM	POS	ID	REF	ALT	QUAL	FILTER	INFO	FORMAT	a	b	c	d
1	10	.	A	G	.	.	.	GT	0/0	0/1	1/1	0|1
1	20	.	C	T	.	.	.	GT	0/1	./.	1/1	0|0
VCF
printf 'id,case\na,0\nb,1\nc,1\nd,NA\n' > "$TMP/p.csv"
V="vcf:$TMP/g.vcf,pheno=$TMP/p.csv,pheno_col=case,coding=01"
expect_error "VCF missing call unfilled" "training.set sample.1, feature.1 NaN missing fill=mean" -- \
  $GF train --model mlp:2-2 --dataset "$V" --threads 1
$GF train --model mlp:2-2 --dataset "$V,fill=mean" --threads 1 >"$TMP/out" 2>"$TMP/err" \
  && grep -q "4 samples x 2 variants; 3 kept, 1 dropped for a missing phenotype" "$TMP/err" \
  && ok "VCF with fill=mean: $(cat "$TMP/err")" || { fail "VCF with fill=mean"; cat "$TMP/err"; }

# bad input
printf 'id,case\na,0\nb,1\nd,1\n' > "$TMP/short.csv"
expect_error "phenotype table missing a sample" "short.csv no.row.for.sample.3" -- \
  $GF train --model mlp:2-2 --dataset "vcf:$TMP/g.vcf,pheno=$TMP/short.csv,pheno_col=case,coding=01" --threads 1
sed 's/^1	20	.*/1	20	.	C	T	.	.	.	GT	0\/1	1\/1/' "$TMP/g.vcf" > "$TMP/bad.vcf"
expect_error "malformed VCF record" "bad.vcf record.2 malformed" -- \
  $GF train --model mlp:2-2 --dataset "vcf:$TMP/bad.vcf,pheno=$TMP/p.csv,pheno_col=case,coding=01" --threads 1
for e in bim fam; do zcat "$MOUSE.$e.gz" > "$TMP/m.$e"; done
zcat "$MOUSE.bed.gz" | head -c 100000 > "$TMP/m.bed"
expect_error "truncated .bed" "m.bed truncated 100000.bytes variant.207" -- \
  $GF train --model mlp:12226-2 --dataset "plink:$TMP/m,binarize=median" --threads 1
finish
