#!/usr/bin/python3
# gen_genome_reference.py -- owns tests/data/genome_reference.txt: numbers
# read from Debian's real genotype files by plain Python, independently of
# src/data/plink.c and src/data/vcf.c, for tests/test_genome.c to compare.
#
#   PLINK: gemma-doc's mouse_hs1940.{bed,bim,fam}.gz (1,940 mice x 12,226
#          SNPs); the .bed bytes are decoded here from the PLINK 1.9
#          documentation: after the magic 6c 1b 01, ceil(n/4) bytes per
#          variant, sample k in bits 2(k%4) of byte k/4, codes 00 -> 2 copies
#          of A1, 01 missing, 10 -> 1, 11 -> 0.
#   VCF:   shapeit4-example's unphased.vcf.gz, its text parsed here (GT is
#          the first FORMAT field; dosage = alleles other than 0; any "."
#          allele makes the call missing).
#
# Lines (whitespace-separated):
#   plink_shape N M MISSING_TOTAL DOSAGE_TOTAL
#   plink_variant J SUM MISSING          (SUM over non-missing calls)
#   plink_cell I J VALUE                 (VALUE NA when missing)
#   plink_pheno K KEPT MEDIAN LABEL1     (.fam phenotype K, binarize=median)
#   vcf_shape N M MISSING_TOTAL DOSAGE_TOTAL MULTIALLELIC
#   vcf_variant J SUM MISSING
#   vcf_cell I J VALUE
#
# Run:   /usr/bin/python3 scripts/gen_genome_reference.py [OUT]   (default: stdout)
import gzip
import statistics
import sys

GEMMA = "/usr/share/doc/gemma/example/mouse_hs1940"
SHAPEIT = "/usr/share/doc/shapeit4/examples/test/unphased.vcf.gz"


def picks(m):
    """The variants reported: the first 20, every 500th, the last."""
    return sorted(set(list(range(min(20, m))) + list(range(0, m, 500)) + [m - 1]))


def cells(n, m, count=25):
    """A fixed pseudo-random list of (sample, variant) pairs (an LCG)."""
    s, out = 12345, []
    for _ in range(count):
        s = (s * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        i = (s >> 33) % n
        s = (s * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        out.append((i, (s >> 33) % m))
    return out


def fmt(v):
    return "NA" if v is None else str(v)


def plink(out):
    fam = [l.split() for l in gzip.open(GEMMA + ".fam.gz", "rt") if l.strip()]
    bim = [l for l in gzip.open(GEMMA + ".bim.gz", "rt") if l.strip()]
    bed = gzip.open(GEMMA + ".bed.gz", "rb").read()
    n, m = len(fam), len(bim)
    assert bed[:3] == bytes([0x6C, 0x1B, 0x01])
    stride = (n + 3) // 4
    assert len(bed) == 3 + m * stride
    dose = {0: 2, 1: None, 2: 1, 3: 0}
    sums, miss, want = [0] * m, [0] * m, set(cells(n, m))
    got = {}
    for j in range(m):
        row = bed[3 + j * stride: 3 + (j + 1) * stride]
        s = k = 0
        for i in range(n):
            d = dose[(row[i >> 2] >> ((i & 3) * 2)) & 3]
            if d is None:
                k += 1
            else:
                s += d
            if (i, j) in want:
                got[(i, j)] = d
        sums[j], miss[j] = s, k
    out.write("plink_shape %d %d %d %d\n" % (n, m, sum(miss), sum(sums)))
    for j in picks(m):
        out.write("plink_variant %d %d %d\n" % (j, sums[j], miss[j]))
    for i, j in cells(n, m):
        out.write("plink_cell %d %d %s\n" % (i, j, fmt(got[(i, j)])))
    for k in (1, 6):
        vals = [float(f[4 + k]) for f in fam if f[4 + k] not in ("NA", "-9", "NaN", "nan", ".", "")]
        med = statistics.median(vals)
        out.write("plink_pheno %d %d %.17g %d\n" % (k, len(vals), med, sum(v > med for v in vals)))


def vcf(out):
    rows, multi, n = [], 0, None
    for line in gzip.open(SHAPEIT, "rt"):
        if line.startswith("##"):
            continue
        f = line.rstrip("\n").split("\t")
        if line.startswith("#CHROM"):
            n = len(f) - 9
            continue
        assert f[8].split(":")[0] == "GT"
        multi += "," in f[4]
        row = []
        for c in f[9:]:
            alleles = c.split(":")[0].replace("|", "/").split("/")
            row.append(None if "." in alleles else sum(a != "0" for a in alleles))
        rows.append(row)
    m = len(rows)
    sums = [sum(d for d in r if d is not None) for r in rows]
    miss = [sum(d is None for d in r) for r in rows]
    out.write("vcf_shape %d %d %d %d %d\n" % (n, m, sum(miss), sum(sums), multi))
    for j in picks(m):
        out.write("vcf_variant %d %d %d\n" % (j, sums[j], miss[j]))
    for i, j in cells(n, m):
        out.write("vcf_cell %d %d %s\n" % (i, j, fmt(rows[j][i])))


def main():
    out = open(sys.argv[1], "w") if len(sys.argv) > 1 else sys.stdout
    plink(out)
    vcf(out)


if __name__ == "__main__":
    main()
