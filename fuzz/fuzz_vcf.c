/* libFuzzer target for data/vcf: writes the input to a temp file made once
 * per process and loads it with gf_vcf_read (htslib underneath: VCF text,
 * BGZF or BCF). An accepted file must give every sample an id and dosages
 * that are whole numbers >= 0 or NaN, with the missing count matching; a
 * rejected one must leave the output empty. */
#include "data/genome.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

static void cleanup(void) { unlink(path); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0]) {
        snprintf(path, sizeof path, "/tmp/fuzz_vcf_XXXXXX");
        int fd = mkstemp(path);
        if (fd < 0) abort();
        close(fd);
        atexit(cleanup);
    }
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    if (fclose(f) != 0) abort();

    gf_genotypes g;
    if (gf_vcf_read(path, NULL, &g) == GF_OK) {
        if (g.n < 1 || g.m < 1 || !g.ids) abort();
        for (int64_t i = 0; i < g.n; i++) if (!g.ids[i]) abort();
        int64_t miss = 0;
        for (int64_t i = 0; i < g.n * g.m; i++) {
            float v = g.x[i];
            if (isnan(v)) miss++;
            else if (v < 0 || v != floorf(v)) abort();
        }
        if (miss != g.missing) abort();
        gf_genotypes_free(&g);
    } else if (g.x || g.ids || g.n || g.m) {
        abort();
    }
    return 0;
}
