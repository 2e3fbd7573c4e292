/* Tests for the genotype readers (src/data/plink.c, vcf.c, pheno.c,
 * genome.c) and the missing-value helper (missing.c): Debian's real PLINK
 * (gemma-doc) and VCF/BCF (shapeit4-example) files against numbers an
 * independent plain-Python reader wrote (scripts/gen_genome_reference.py ->
 * tests/data/genome_reference.txt); small files written here for the 2-bit
 * codes, missing calls, phenotype rules, filling and splitting; and every
 * kind of bad input, each with an error naming the file and the place. */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "data/dataset.h"
#include "data/genome.h"

#define GEMMA   "/usr/share/doc/gemma/example/mouse_hs1940"
#define SHAPEIT "/usr/share/doc/shapeit4/examples/test"
#define REFERENCE "tests/data/genome_reference.txt"

static char tmpdir[64];

static const char *tmp(const char *name)
{
    static char paths[64][256];
    static int k;
    char *p = paths[k++ % 64];
    snprintf(p, 256, "%s/%s", tmpdir, name);
    return p;
}

static void write_bytes(const char *path, const void *data, size_t len, int gz)
{
    if (gz) {
        gzFile f = gzopen(path, "wb");
        if (!f || (len && gzwrite(f, data, (unsigned)len) != (int)len)) { perror(path); exit(2); }
        gzclose(f);
        return;
    }
    FILE *f = fopen(path, "wb");
    if (!f || (len && fwrite(data, 1, len, f) != len)) { perror(path); exit(2); }
    fclose(f);
}

static void write_str(const char *path, const char *s) { write_bytes(path, s, strlen(s), 0); }

static int has(const char *msg, const char *part)
{
    int ok = strstr(msg, part) != NULL;
    if (!ok) fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", msg, part);
    return ok;
}

/* ---- real files against the Python reader ---- */

static void check_reference(const gf_genotypes *g, const char *prefix)
{
    FILE *f = fopen(REFERENCE, "r");
    CHECK_MSG(f != NULL, "%s missing: run scripts/gen_genome_reference.py", REFERENCE);
    if (!f) return;
    char key[32], a[64], b[64], c[64], d[64], e[64];
    char shape[32], variant[32], cell[32];
    snprintf(shape, sizeof shape, "%s_shape", prefix);
    snprintf(variant, sizeof variant, "%s_variant", prefix);
    snprintf(cell, sizeof cell, "%s_cell", prefix);
    int lines = 0;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        int k = sscanf(line, "%31s %63s %63s %63s %63s %63s", key, a, b, c, d, e);
        if (!strcmp(key, shape) && k >= 5) {
            CHECK(g->n == atoll(a));
            CHECK(g->m == atoll(b));
            CHECK(g->missing == atoll(c));
            double total = 0;
            for (int64_t i = 0; i < g->n * g->m; i++) if (!isnan(g->x[i])) total += g->x[i];
            CHECK(total == atof(d));
            if (k == 6) CHECK(g->multiallelic == atoll(e));
            lines++;
        } else if (!strcmp(key, variant) && k == 4) {
            int64_t j = atoll(a), miss = 0;
            double s = 0;
            for (int64_t i = 0; i < g->n; i++) {
                float v = g->x[i * g->m + j];
                if (isnan(v)) miss++; else s += v;
            }
            CHECK_MSG(s == atof(b) && miss == atoll(c), "%s variant %lld: sum %g missing %lld, reference %s %s",
                      prefix, (long long)j, s, (long long)miss, b, c);
            lines++;
        } else if (!strcmp(key, cell) && k == 4) {
            int64_t i = atoll(a), j = atoll(b);
            float v = g->x[i * g->m + j];
            if (!strcmp(c, "NA")) CHECK(isnan(v));
            else CHECK_MSG(v == (float)atof(c), "%s cell (%lld, %lld) = %g, reference %s", prefix, (long long)i, (long long)j, v, c);
            lines++;
        }
    }
    fclose(f);
    CHECK_MSG(lines > 50, "%s: only %d reference lines", prefix, lines);
}

static void test_plink_real(void)
{
    gf_genotypes g;
    gf_status st = gf_plink_read(GEMMA, 1, NULL, &g);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    if (st) return;
    check_reference(&g, "plink");
    CHECK(!strcmp(g.ids[0], "A048005080"));    /* the .fam's IID column */
    CHECK(isnan(g.pheno[3]));                    /* NA on line 4 */
    CHECK_NEAR(g.pheno[0], 0.224991591484104, 1e-15);
    gf_genotypes_free(&g);

    /* the spec: phenotype K, binarized at the median, counts from the reference */
    FILE *f = fopen(REFERENCE, "r");
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        int k;
        long long kept, label1;
        double median;
        if (sscanf(line, "plink_pheno %d %lld %lf %lld", &k, &kept, &median, &label1) != 4) continue;
        char spec[256];
        snprintf(spec, sizeof spec, "plink:%s,pheno_col=%d,binarize=median", GEMMA, k);
        gf_dataset tr, te;
        st = gf_dataset_open(spec, &tr, &te);
        CHECK_MSG(st == GF_OK, "%s", gf_last_error());
        if (st) continue;
        CHECK(tr.n == kept && te.n == 0 && tr.dim == 12226 && tr.w == 12226 && tr.num_classes == 2);
        long long ones = 0;
        for (int64_t i = 0; i < tr.n; i++) ones += tr.y[i];
        CHECK(ones == label1);
        char dropped[64];
        snprintf(dropped, sizeof dropped, "%lld dropped for a missing phenotype", 1940 - kept);
        CHECK(has(gf_dataset_note(), dropped));
        CHECK(gf_dataset_check_finite(&tr, "mouse") == GF_OK);
        gf_dataset_free(&tr);
        gf_dataset_free(&te);
    }
    if (f) fclose(f);
}

static void test_vcf_real(void)
{
    gf_genotypes v, b;
    gf_status st = gf_vcf_read(SHAPEIT "/unphased.vcf.gz", NULL, &v);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    if (st) return;
    check_reference(&v, "vcf");
    CHECK(!strcmp(v.ids[0], "NA06989"));
    /* the BCF of the same data: the same matrix (Debian gzips the BGZF
     * file once more; undo that first) */
    const char *bcf = tmp("unphased.bcf");
    gzFile z = gzopen(SHAPEIT "/unphased.bcf.gz", "rb");
    FILE *o = fopen(bcf, "wb");
    char buf[1 << 16];
    int r;
    while (z && o && (r = gzread(z, buf, sizeof buf)) > 0) fwrite(buf, 1, (size_t)r, o);
    if (z) gzclose(z);
    if (o) fclose(o);
    st = gf_vcf_read(bcf, NULL, &b);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    if (!st) {
        CHECK(b.n == v.n && b.m == v.m);
        CHECK(b.n == v.n && b.m == v.m && !memcmp(b.x, v.x, sizeof *v.x * (size_t)(v.n * v.m)));
        gf_genotypes_free(&b);
    }
    gf_genotypes_free(&v);
}

/* ---- small PLINK filesets written here ---- */

/* 5 samples x 3 variants (NaN = missing); 5 is not a multiple of 4, so the
 * last byte of each variant is partly padding. */
static const float D[5][3] = { {2, 0, NAN}, {1, 1, 2}, {0, NAN, 1}, {2, 2, 0}, {1, 0, 2} };

static void bed_bytes(unsigned char *b /* 3 + 3 * 2 */)
{
    b[0] = 0x6c; b[1] = 0x1b; b[2] = 0x01;
    memset(b + 3, 0, 6);
    for (int j = 0; j < 3; j++)
        for (int i = 0; i < 5; i++) {
            float v = D[i][j];
            int code = isnan(v) ? 1 : v == 2 ? 0 : v == 1 ? 2 : 3;
            b[3 + j * 2 + i / 4] |= (unsigned char)(code << (2 * (i % 4)));
        }
}

static const char *FAM = "f1 s0 0 0 1 2\nf1 s1 0 0 2 1\nf2 s2 0 0 1 -9\nf3 s3 0 0 2 2\nf4 s4 0 0 1 1\n";
static const char *BIM = "1 rs1 0 100 A G\n1 rs2 0 200 C T\n2 rs3 0 300 G A\n";

static const char *write_plink(const char *name, int gz)
{
    char p[300];
    unsigned char bed[9];
    bed_bytes(bed);
    const char *prefix = tmp(name);
    snprintf(p, sizeof p, "%s.bed%s", prefix, gz ? ".gz" : ""); write_bytes(p, bed, sizeof bed, gz);
    snprintf(p, sizeof p, "%s.bim%s", prefix, gz ? ".gz" : ""); write_bytes(p, BIM, strlen(BIM), gz);
    snprintf(p, sizeof p, "%s.fam%s", prefix, gz ? ".gz" : ""); write_bytes(p, FAM, strlen(FAM), gz);
    return prefix;
}

static void test_plink_small(void)
{
    for (int gz = 0; gz < 2; gz++) {
        const char *prefix = write_plink(gz ? "small_gz" : "small", gz);
        gf_genotypes g;
        gf_status st = gf_plink_read(prefix, 1, NULL, &g);
        CHECK_MSG(st == GF_OK, "%s", gf_last_error());
        if (st) continue;
        CHECK(g.n == 5 && g.m == 3 && g.missing == 2);
        for (int i = 0; i < 5; i++)
            for (int j = 0; j < 3; j++)
                CHECK_MSG(isnan(D[i][j]) ? isnan(g.x[i * 3 + j]) : g.x[i * 3 + j] == D[i][j],
                          "gz %d cell (%d, %d) = %g", gz, i, j, g.x[i * 3 + j]);
        CHECK(!strcmp(g.ids[2], "s2") && g.pheno[0] == 2 && isnan(g.pheno[2]));
        gf_genotypes_free(&g);
    }

    /* PLINK's case/control coding: 1 -> 0, 2 -> 1, -9 dropped and counted;
     * without fill= the missing calls stay NaN and training's check refuses them */
    const char *prefix = tmp("small");
    char spec[400];
    snprintf(spec, sizeof spec, "plink:%s", prefix);
    gf_dataset tr, te;
    gf_status st = gf_dataset_open(spec, &tr, &te);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    if (!st) {
        CHECK(tr.n == 4 && te.n == 0 && tr.num_classes == 2);
        CHECK(tr.y[0] == 1 && tr.y[1] == 0 && tr.y[2] == 1 && tr.y[3] == 0);
        CHECK(tr.x[0 * 3 + 2] != tr.x[0 * 3 + 2]);       /* s0, variant 3: NaN */
        CHECK(gf_dataset_count_missing(&tr) == 1);       /* s2's missing call went with s2 */
        CHECK(has(gf_dataset_note(), "1 dropped for a missing phenotype"));
        CHECK(has(gf_dataset_note(), "add fill=mean"));
        CHECK(gf_dataset_check_finite(&tr, "training set") == GF_ERR_NUMERIC);
        CHECK(has(gf_last_error(), "sample 0, feature 2 is missing (NaN)"));
        CHECK(has(gf_last_error(), "fill=mean"));
        gf_dataset_free(&tr); gf_dataset_free(&te);
    }
    /* fill=mean: variant 3's mean over the kept samples s0 s1 s3 s4 = (2 + 0 + 2) / 3 */
    snprintf(spec, sizeof spec, "plink:%s,fill=mean", prefix);
    st = gf_dataset_open(spec, &tr, &te);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    if (!st) {
        CHECK_NEAR(tr.x[2], 4.0 / 3.0, 1e-6);
        CHECK(gf_dataset_check_finite(&tr, "x") == GF_OK);
        CHECK(has(gf_dataset_note(), "filled with the training samples' variant means"));
        gf_dataset_free(&tr); gf_dataset_free(&te);
    }
    /* with a test split, both splits are filled with the training split's means */
    for (int seed = 0; seed < 6; seed++) {
        gf_dataset rtr, rte;
        snprintf(spec, sizeof spec, "plink:%s,test_fraction=0.5,seed=%d", prefix, seed);
        st = gf_dataset_open(spec, &rtr, &rte);
        snprintf(spec, sizeof spec, "plink:%s,test_fraction=0.5,seed=%d,fill=mean", prefix, seed);
        st |= gf_dataset_open(spec, &tr, &te);
        CHECK_MSG(st == GF_OK, "%s", gf_last_error());
        if (st) continue;
        CHECK(tr.n == 2 && te.n == 2 && gf_dataset_count_missing(&rtr) + gf_dataset_count_missing(&rte) == 1);
        for (int j = 0; j < 3; j++) {
            double sum = 0;
            int cnt = 0;
            for (int i = 0; i < 2; i++) if (!isnan(rtr.x[i * 3 + j])) { sum += rtr.x[i * 3 + j]; cnt++; }
            float mean = cnt ? (float)(sum / cnt) : 0.0f;
            for (int i = 0; i < 2; i++) {
                CHECK(tr.x[i * 3 + j] == (isnan(rtr.x[i * 3 + j]) ? mean : rtr.x[i * 3 + j]));
                CHECK(te.x[i * 3 + j] == (isnan(rte.x[i * 3 + j]) ? mean : rte.x[i * 3 + j]));
            }
        }
        gf_dataset_free(&rtr); gf_dataset_free(&rte);
        gf_dataset_free(&tr); gf_dataset_free(&te);
    }
    /* coding=class and threshold= on the same .fam column */
    snprintf(spec, sizeof spec, "plink:%s,threshold=1.5", prefix);
    st = gf_dataset_open(spec, &tr, &te);
    CHECK(st == GF_OK && tr.n == 4 && tr.y[0] == 1 && tr.y[1] == 0);
    gf_dataset_free(&tr); gf_dataset_free(&te);

    /* phenotypes from a table keyed by IID (rows in another order, an extra
     * row, an NA): s3's NA drops it; binarize=median over 1, 3, 5, 7 = 4 */
    const char *csv = tmp("pheno.csv");
    write_str(csv, "FID,IID,bmi,other\nx,s4,7,0\nx,s0,1,0\nx,nobody,9,0\nx,s2,5,0\nx,s1,3,0\nx,s3,NA,0\n");
    snprintf(spec, sizeof spec, "plink:%s,pheno=%s,pheno_col=bmi,binarize=median,fill=mean", prefix, csv);
    st = gf_dataset_open(spec, &tr, &te);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    if (!st) {
        CHECK(tr.n == 4);
        CHECK(tr.y[0] == 0 && tr.y[1] == 0 && tr.y[2] == 1 && tr.y[3] == 1);   /* s0 s1 s2 s4 */
        CHECK_NEAR(tr.x[1 * 3 + 0], 1.0, 0);       /* s1, variant 1 */
        CHECK_NEAR(tr.x[2 * 3 + 1], 1.0 / 3.0, 1e-6);  /* s2's missing call: mean of 0, 1, 0 */
        CHECK(has(gf_dataset_note(), "label 1 above the median 4"));
        gf_dataset_free(&tr); gf_dataset_free(&te);
    }
    /* whitespace-separated table, the id column named */
    const char *txt = tmp("pheno.txt");
    write_str(txt, "sample  trait\ns0 1\ns1 0\ns2 1\ns3 1\ns4 0\n");
    snprintf(spec, sizeof spec, "plink:%s,pheno=%s,pheno_col=trait,id_col=sample,coding=01,fill=mean", prefix, txt);
    st = gf_dataset_open(spec, &tr, &te);
    CHECK_MSG(st == GF_OK && tr.n == 5 && tr.y[0] == 1 && tr.y[4] == 0, "%s", gf_last_error());
    gf_dataset_free(&tr); gf_dataset_free(&te);
}

static void test_split(void)
{
    char spec[400];
    snprintf(spec, sizeof spec, "plink:%s,pheno_col=6,binarize=median,test_fraction=0.2,seed=3", GEMMA);
    gf_dataset tr, te, tr2, te2, all, none;
    gf_status st = gf_dataset_open(spec, &tr, &te);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    if (st) return;
    snprintf(spec, sizeof spec, "plink:%s,pheno_col=6,binarize=median", GEMMA);
    CHECK(gf_dataset_open(spec, &all, &none) == GF_OK);
    CHECK(te.n == 316 && tr.n + te.n == all.n);     /* 0.2 of 1580 */
    /* every sample of the whole lands in exactly one split, in file order */
    int64_t a = 0, b = 0, ok = 1;
    for (int64_t i = 0; i < all.n && ok; i++) {
        const float *r = all.x + i * all.dim;
        if (a < tr.n && !memcmp(r, tr.x + a * tr.dim, sizeof *r * (size_t)tr.dim) && all.y[i] == tr.y[a]) a++;
        else if (b < te.n && !memcmp(r, te.x + b * te.dim, sizeof *r * (size_t)te.dim) && all.y[i] == te.y[b]) b++;
        else ok = 0;
    }
    CHECK(ok && a == tr.n && b == te.n);
    snprintf(spec, sizeof spec, "plink:%s,pheno_col=6,binarize=median,test_fraction=0.2,seed=3", GEMMA);
    CHECK(gf_dataset_open(spec, &tr2, &te2) == GF_OK);
    CHECK(te2.n == te.n && !memcmp(te2.y, te.y, sizeof *te.y * (size_t)te.n));   /* the same seed: the same split */
    gf_dataset_free(&tr); gf_dataset_free(&te); gf_dataset_free(&tr2); gf_dataset_free(&te2);
    gf_dataset_free(&all); gf_dataset_free(&none);
}

static void test_fill_generic(void)
{
    float x[] = { 1, NAN, 3,   NAN, NAN, 5,   2, 4, NAN };    /* (3, 3) */
    gf_dataset d = { .n = 3, .c = 1, .h = 1, .w = 3, .dim = 3, .num_classes = 2, .x = x };
    int64_t filled, empty;
    CHECK(gf_dataset_count_missing(&d) == 4);
    CHECK(gf_dataset_fill_missing_mean(&d, &filled, &empty) == GF_OK);
    CHECK(filled == 4 && empty == 0);
    CHECK(x[3] == 1.5f && x[1] == 4 && x[4] == 4 && x[8] == 4 && x[0] == 1 && x[5] == 5);
    float means[3];
    float z[] = { NAN, 7, 1,   NAN, NAN, NAN };   /* (2, 3) */
    gf_dataset t = { .n = 2, .c = 1, .h = 1, .w = 3, .dim = 3, .x = z };
    x[0] = 2; x[1] = NAN; x[2] = 4; x[3] = 6;     /* (3, 3): 2 NaN 4 / 6 4 5 / 2 4 4 */
    CHECK(gf_dataset_feature_means(&d, means, &empty) == GF_OK && empty == 0);
    CHECK(means[0] == 10.0f / 3 && means[1] == 4 && means[2] == 13.0f / 3);
    CHECK(gf_dataset_fill_missing_with(&t, means) == 4);
    CHECK(z[0] == 10.0f / 3 && z[1] == 7 && z[2] == 1 && z[3] == 10.0f / 3 && z[4] == 4 && z[5] == 13.0f / 3);
    float y[] = { NAN, 1, NAN, 2 };   /* feature 0 missing everywhere: 0 */
    gf_dataset e = { .n = 2, .c = 1, .h = 1, .w = 2, .dim = 2, .x = y };
    CHECK(gf_dataset_fill_missing_mean(&e, &filled, &empty) == GF_OK);
    CHECK(filled == 2 && empty == 1 && y[0] == 0 && y[2] == 0);
}

/* ---- bad input: each names the file and the place ---- */

static void expect_plink_error(const char *prefix, const char *part1, const char *part2)
{
    gf_genotypes g;
    gf_status st = gf_plink_read(prefix, 1, NULL, &g);
    CHECK_MSG(st != GF_OK, "%s accepted", prefix);
    CHECK(g.x == NULL && g.n == 0 && g.ids == NULL);
    CHECK(has(gf_last_error(), part1));
    if (part2) CHECK(has(gf_last_error(), part2));
}

static void test_plink_bad(void)
{
    unsigned char bed[9];
    char p[300];
    const char *prefix = write_plink("bad", 0);
    snprintf(p, sizeof p, "%s.bed", prefix);

    bed_bytes(bed);
    write_bytes(p, bed, 7, 0);                       /* cut inside variant 3 */
    expect_plink_error(prefix, "bad.bed: truncated: 7 bytes", "variant 3 (line 3 of the .bim)");
    write_bytes(p, bed, 2, 0);
    expect_plink_error(prefix, "bad.bed: not a PLINK .bed file (bad magic", NULL);
    bed[0] = 0x6d;
    write_bytes(p, bed, 9, 0);
    expect_plink_error(prefix, "bad.bed: not a PLINK .bed file (bad magic", NULL);
    bed_bytes(bed);
    bed[2] = 0x00;
    write_bytes(p, bed, 9, 0);
    expect_plink_error(prefix, "bad.bed: mode byte is 0x00; only SNP-major", NULL);
    bed_bytes(bed);
    unsigned char longer[11];
    memcpy(longer, bed, 9);
    longer[9] = longer[10] = 0;
    write_bytes(p, longer, 11, 0);
    expect_plink_error(prefix, "bad.bed: 11 bytes, but the .fam's 5 samples x the .bim's 3 variants need 9", NULL);
    write_bytes(p, bed, 9, 0);

    /* .bim lists 4 variants, the .bed holds 3 */
    snprintf(p, sizeof p, "%s.bim", prefix);
    write_str(p, "1 rs1 0 100 A G\n1 rs2 0 200 C T\n2 rs3 0 300 G A\n2 rs4 0 400 G A\n");
    expect_plink_error(prefix, "bad.bed: truncated: 9 bytes, but the .fam's 5 samples x the .bim's 4 variants need 11", NULL);
    write_str(p, "1 rs1 0 100 A G\n1 rs2 0 200 C\n");
    expect_plink_error(prefix, "bad.bim: line 2 has 5 fields", NULL);
    write_str(p, BIM);

    /* .fam lists 9 samples: 3 bytes per variant needed */
    snprintf(p, sizeof p, "%s.fam", prefix);
    write_str(p, "a a 0 0 1 1\nb b 0 0 1 1\nc c 0 0 1 1\nd d 0 0 1 1\ne e 0 0 1 1\nf f 0 0 1 1\n"
                 "g g 0 0 1 1\nh h 0 0 1 1\ni i 0 0 1 1\n");
    expect_plink_error(prefix, "the .fam's 9 samples", "need 12");
    write_str(p, "a a 0 0 1 1\nb b 0 0 1\n");
    expect_plink_error(prefix, "bad.fam: line 2 has 5 fields", NULL);
    write_str(p, "a a 0 0 1 1\nb b 0 0 1 x1\n");
    expect_plink_error(prefix, "bad.fam: line 2: phenotype (column 6) is not a number", NULL);
    write_str(p, FAM);

    /* gzip cut short */
    const char *gzp = write_plink("badgz", 1);
    snprintf(p, sizeof p, "%s.bed.gz", gzp);
    FILE *f = fopen(p, "rb");
    unsigned char buf[256];
    size_t len = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    write_bytes(p, buf, len - 6, 0);
    expect_plink_error(gzp, "badgz.bed.gz: ", "gzip");

    /* the limits: the decoded matrix, and inflation of a gzipped .bed */
    gf_data_limits lim = gf_data_limits_default();
    gf_genotypes g;
    lim.max_inflated_bytes = 50 << 20;    /* the mouse .bed inflates to 5.9 MB, its floats take 94.9 MB */
    CHECK(gf_plink_read(GEMMA, 1, &lim, &g) == GF_ERR_FORMAT && g.x == NULL);
    CHECK(has(gf_last_error(), "mouse_hs1940.bed.gz: 1940 samples x 12226 variants is more than the decompressed size limit of 52428800 bytes"));
    lim.max_inflated_bytes = 100;
    unsigned char zeros[4096] = { 0x6c, 0x1b, 0x01 };
    const char *bomb = write_plink("bomb", 0);
    snprintf(p, sizeof p, "%s.bed", bomb);
    unlink(p);
    snprintf(p, sizeof p, "%s.bed.gz", bomb);
    write_bytes(p, zeros, sizeof zeros, 1);
    CHECK(gf_plink_read(bomb, 1, &lim, &g) == GF_ERR_FORMAT && g.x == NULL);
    CHECK(has(gf_last_error(), "bomb.bed.gz: decompressed data exceeds the decompressed size limit of 100 bytes"));

    /* a missing file names itself */
    expect_plink_error(tmp("nothere"), "nothere.fam: cannot open", NULL);

    /* phenotype table missing a sample; a non-number; a duplicate row */
    gf_dataset tr, te;
    char spec[512];
    const char *csv = tmp("pheno_bad.csv");
    write_str(csv, "IID,bmi\ns0,1\ns1,2\ns3,4\ns4,5\n");
    snprintf(spec, sizeof spec, "plink:%s,pheno=%s,pheno_col=bmi,binarize=median", prefix, csv);
    CHECK(gf_dataset_open(spec, &tr, &te) == GF_ERR_FORMAT && tr.x == NULL && te.x == NULL);
    CHECK(has(gf_last_error(), "pheno_bad.csv: no row for sample 3 of the genotype file (of 5)"));
    write_str(csv, "IID,bmi\ns0,1\ns1,2\ns2,x\ns3,4\ns4,5\n");
    CHECK(gf_dataset_open(spec, &tr, &te) == GF_ERR_FORMAT);
    CHECK(has(gf_last_error(), "pheno_bad.csv: line 4, column 2: the phenotype is not a number"));
    write_str(csv, "IID,bmi\ns0,1\ns1,2\ns2,3\ns3,4\ns4,5\ns1,6\n");
    CHECK(gf_dataset_open(spec, &tr, &te) == GF_ERR_FORMAT);
    CHECK(has(gf_last_error(), "pheno_bad.csv: lines 3 and 7 hold the same sample id"));
    write_str(csv, "IID,bmi\ns0,1\ns1,2,3\n");
    CHECK(gf_dataset_open(spec, &tr, &te) == GF_ERR_FORMAT);
    CHECK(has(gf_last_error(), "pheno_bad.csv: line 3 has 3 fields but the header has 2"));
    snprintf(spec, sizeof spec, "plink:%s,pheno=%s,pheno_col=height,binarize=median", prefix, csv);
    CHECK(gf_dataset_open(spec, &tr, &te) == GF_ERR_FORMAT);
    CHECK(has(gf_last_error(), "pheno_bad.csv: no column named by pheno_col"));

    /* a quantitative phenotype under the default case/control coding */
    write_str(csv, "IID,bmi\ns0,1\ns1,2\ns2,2.5\ns3,1\ns4,2\n");
    snprintf(spec, sizeof spec, "plink:%s,pheno=%s,pheno_col=bmi", prefix, csv);
    CHECK(gf_dataset_open(spec, &tr, &te) == GF_ERR_FORMAT);
    CHECK(has(gf_last_error(), "pheno_bad.csv: phenotype: sample 3 has phenotype 2.5, not 1 (control) or 2 (case)"));
    CHECK(has(gf_last_error(), "binarize=median"));

    /* spec mistakes */
    const char *bad_specs[][2] = {
        { "plink:%s,binarize=mean", "binarize takes median" },
        { "plink:%s,binarize=median,threshold=1", "give one target rule" },
        { "plink:%s,pheno=x.csv", "pheno= needs pheno_col" },
        { "plink:%s,pheno_col=bmi", "the number of a .fam phenotype" },
        { "plink:%s,test_fraction=1", "test_fraction must be between 0 and 1" },
        { "plink:%s,fill=zero", "fill takes mean" },
        { "plink:%s,colour=red", "unknown or empty option 'colour=red'" },
        { "plink:%s,pheno_col=2", "no phenotype 2 (column 7)" },
        { "vcf:%s", "a VCF holds no phenotype" },
    };
    for (size_t k = 0; k < sizeof bad_specs / sizeof bad_specs[0]; k++) {
        snprintf(spec, sizeof spec, bad_specs[k][0], prefix);
        CHECK_MSG(gf_dataset_open(spec, &tr, &te) != GF_OK, "%s accepted", spec);
        CHECK(has(gf_last_error(), bad_specs[k][1]));
    }
}

/* ---- small VCFs ---- */

static const char *VCF_HEAD =
    "##fileformat=VCFv4.2\n##contig=<ID=1>\n"
    "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n"
    "##FORMAT=<ID=DP,Number=1,Type=Integer,Description=\"Depth\">\n"
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tp1\tp2\tp3\n";

static void test_vcf_small(void)
{
    char text[2048];
    snprintf(text, sizeof text, "%s"
             "1\t10\t.\tA\tG\t.\t.\t.\tGT\t0/0\t0/1\t1|1\n"
             "1\t20\t.\tC\tT,G\t.\t.\t.\tGT:DP\t1/2:5\t./.:3\t0|2:1\n"
             "1\t30\t.\tG\tA\t.\t.\t.\tGT\t0/.\t1\t0\n", VCF_HEAD);
    const char *path = tmp("small.vcf");
    write_str(path, text);
    gf_genotypes g;
    gf_status st = gf_vcf_read(path, NULL, &g);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    if (!st) {
        const float want[3][3] = { {0, 2, NAN}, {1, NAN, 1}, {2, 1, 0} };
        CHECK(g.n == 3 && g.m == 3 && g.missing == 2 && g.multiallelic == 1);
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                CHECK_MSG(isnan(want[i][j]) ? isnan(g.x[i * 3 + j]) : g.x[i * 3 + j] == want[i][j],
                          "vcf cell (%d, %d) = %g", i, j, g.x[i * 3 + j]);
        CHECK(!strcmp(g.ids[1], "p2"));
        gf_genotypes_free(&g);
    }
    /* through the spec, with a phenotype table and fill */
    const char *csv = tmp("vpheno.csv");
    write_str(csv, "id,case\np3,1\np1,0\np2,1\n");
    char spec[400];
    snprintf(spec, sizeof spec, "vcf:%s,pheno=%s,pheno_col=case,coding=01,fill=mean", path, csv);
    gf_dataset tr, te;
    st = gf_dataset_open(spec, &tr, &te);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    if (!st) {
        CHECK(tr.n == 3 && tr.dim == 3 && tr.y[0] == 0 && tr.y[1] == 1 && tr.y[2] == 1);
        CHECK_NEAR(tr.x[0 * 3 + 2], 0.5, 0);    /* p1's missing call at variant 3: mean of 1, 0 */
        gf_dataset_free(&tr); gf_dataset_free(&te);
    }

    /* malformed records: each names the file and the record */
    const char *bad[][2] = {
        { "1\t10\t.\tA\tG\t.\t.\t.\tGT\t0/0\t0/1\t1|1\n1\t20\t.\tC\tT\t.\t.\t.\tGT\t0/0\t0/1\n", "record 2" },
        { "1\t10\t.\tA\tG\t.\t.\t.\tGT\t0/0\t0/1\t1|1\n1\t20\t.\tC\tT\t.\t.\t.\tDP\t1\t2\t3\n", "record 2 has no GT" },
        { "1\tten\t.\tA\tG\t.\t.\t.\tGT\t0/0\t0/1\t1|1\n", "record 1 is malformed (no valid position)" },
        { "1\t10\t.\tA\tG\t.\t.\t.\tGT\t0/0\t0/1\t1|1\n1\t20\t.\tC\tT\t.\t.\t.\tGT\t0/0\t0/3\t1|1\n",
          "record 2, sample 2: GT names allele 3 but the record has 2 alleles" },
        { "", "no records" },
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        snprintf(text, sizeof text, "%s%s", VCF_HEAD, bad[k][0]);
        path = tmp("bad.vcf");
        write_str(path, text);
        st = gf_vcf_read(path, NULL, &g);
        CHECK_MSG(st != GF_OK, "bad VCF %zu accepted", k);
        CHECK(g.x == NULL && g.n == 0);
        CHECK(has(gf_last_error(), "bad.vcf: "));
        CHECK(has(gf_last_error(), bad[k][1]));
    }
    /* not a VCF at all; a header without samples */
    path = tmp("notvcf.txt");
    write_str(path, "hello\tworld\n");
    CHECK(gf_vcf_read(path, NULL, &g) != GF_OK && has(gf_last_error(), "notvcf.txt: "));
    path = tmp("nosamples.vcf");
    write_str(path, "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n1\t1\t.\tA\tG\t.\t.\t.\n");
    CHECK(gf_vcf_read(path, NULL, &g) != GF_OK && has(gf_last_error(), "nosamples.vcf: the header names no samples"));
    /* a record whose GT htslib stores in an odd type (found by fuzz_vcf;
     * htslib's bcf_get_genotypes calls exit() on it): an error, not an exit */
    static const char odd_gt[] =
        "##fileformat=VCFv4.2\n"
        "##conte\215\234\215\227ption=\042G\042>\n"
        "#CHROM\011POS\011ID\011REF\011ALT\011QUAL\011FILTER\011INFO\011FORMAT\011p1\011p2\n"
        "1\01110\011.\011C\011G\011.\0116\011.\011:GT\0110/0\0110\011.\011\003\000\000\000\000\000\000\000,\011GT\0110/0\011./.\n";
    path = tmp("oddgt.vcf");
    write_bytes(path, odd_gt, sizeof odd_gt - 1, 0);
    CHECK(gf_vcf_read(path, NULL, &g) == GF_ERR_FORMAT && has(gf_last_error(), "oddgt.vcf: record 1"));
    /* the matrix limit */
    gf_data_limits lim = gf_data_limits_default();
    lim.max_inflated_bytes = 3 * 3 * 4 - 1;
    snprintf(text, sizeof text, "%s"
             "1\t10\t.\tA\tG\t.\t.\t.\tGT\t0/0\t0/1\t1|1\n1\t20\t.\tA\tG\t.\t.\t.\tGT\t0/0\t0/1\t1|1\n"
             "1\t30\t.\tA\tG\t.\t.\t.\tGT\t0/0\t0/1\t1|1\n", VCF_HEAD);
    path = tmp("big.vcf");
    write_str(path, text);
    CHECK(gf_vcf_read(path, &lim, &g) == GF_ERR_FORMAT && has(gf_last_error(), "big.vcf: at record 3, 3 samples x 3 variants"));
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/gf-test-genome-XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 2; }

    test_plink_real();
    test_vcf_real();
    test_plink_small();
    test_split();
    test_fill_generic();
    test_plink_bad();
    test_vcf_small();

    DIR *dir = opendir(tmpdir);
    for (struct dirent *e; dir && (e = readdir(dir)); ) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", tmpdir, e->d_name);
        unlink(path);
    }
    if (dir) closedir(dir);
    if (rmdir(tmpdir) != 0) perror(tmpdir);
    return check_summary();
}
