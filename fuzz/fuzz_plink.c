/* libFuzzer target for data/plink (and the plink: spec's phenotype and fill
 * steps): the input is a PLINK fileset. First byte 0: a fixed 5-sample .fam
 * and 3-variant .bim, the rest is the .bed; otherwise bytes 1 and 2 give the
 * lengths of the .fam and .bim texts that follow, the rest is the .bed.
 * Written to a temp folder made once per process, loaded with gf_plink_read
 * and as plink:PREFIX,threshold=0,fill=mean. An accepted fileset must give
 * dosages in {0, 1, 2} or NaN with the missing count matching, and a finite
 * dataset after fill; a rejected one must leave the outputs empty. */
#include "data/dataset.h"
#include "data/genome.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], prefix[96], fam[128], bim[128], bed[128];

static void cleanup(void)
{
    unlink(fam); unlink(bim); unlink(bed);
    rmdir(dir);
}

static void put(const char *path, const void *p, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (len && fwrite(p, 1, len, f) != len) abort();
    if (fclose(f) != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/fuzz_plink_XXXXXX");
        if (!mkdtemp(dir)) abort();
        snprintf(prefix, sizeof prefix, "%s/p", dir);
        snprintf(fam, sizeof fam, "%s.fam", prefix);
        snprintf(bim, sizeof bim, "%s.bim", prefix);
        snprintf(bed, sizeof bed, "%s.bed", prefix);
        atexit(cleanup);
    }
    static const char FAM[] = "f s0 0 0 1 2\nf s1 0 0 2 1\nf s2 0 0 1 -9\nf s3 0 0 2 0.5\nf s4 0 0 1 1\n";
    static const char BIM[] = "1 a 0 1 A G\n1 b 0 2 C T\n1 c 0 3 G A\n";
    if (size == 0) return 0;
    if (data[0] == 0) {
        put(fam, FAM, sizeof FAM - 1);
        put(bim, BIM, sizeof BIM - 1);
        put(bed, data + 1, size - 1);
    } else {
        if (size < 3) return 0;
        size_t nf = data[1], nb = data[2];
        if (3 + nf + nb > size) return 0;
        put(fam, data + 3, nf);
        put(bim, data + 3 + nf, nb);
        put(bed, data + 3 + nf + nb, size - 3 - nf - nb);
    }

    gf_genotypes g;
    if (gf_plink_read(prefix, 1, NULL, &g) == GF_OK) {
        if (g.n < 1 || g.m < 1 || !g.ids || !g.pheno) abort();
        int64_t miss = 0;
        for (int64_t i = 0; i < g.n * g.m; i++) {
            float v = g.x[i];
            if (isnan(v)) miss++;
            else if (v != 0 && v != 1 && v != 2) abort();
        }
        if (miss != g.missing) abort();
        gf_genotypes_free(&g);
    } else if (g.x || g.ids || g.n || g.m) {
        abort();
    }

    char spec[160];
    snprintf(spec, sizeof spec, "plink:%s,threshold=0,fill=mean", prefix);
    gf_dataset train, test;
    if (gf_dataset_open(spec, &train, &test) == GF_OK) {
        if (train.n < 1 || test.n != 0 || train.num_classes != 2) abort();
        for (int64_t i = 0; i < train.n; i++) if (train.y[i] < 0 || train.y[i] > 1) abort();
        if (gf_dataset_check_finite(&train, "fuzz") != GF_OK) abort();
        gf_dataset_free(&train);
        gf_dataset_free(&test);
    } else if (train.x || test.x || train.n || test.n) {
        abort();
    }
    return 0;
}
