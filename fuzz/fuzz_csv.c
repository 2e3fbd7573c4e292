/* libFuzzer target for data/csv: writes the input to a temp file made once
 * per process and loads it with gf_csv_load (label column "label"), then
 * through gf_dataset_open's csv: spec, without a test split (there must be
 * none) and with test_fraction (both halves non-empty). An accepted file
 * must give features that are finite or NaN (a missing value), every
 * column of the whole file holding at least one value, and labels below
 * num_classes; a rejected one must leave the outputs empty. */
#include "data/dataset.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

static void cleanup(void) { unlink(path); }

/* whole: the file's every row (each column then holds a value somewhere) */
static void check(const gf_dataset *d, int whole)
{
    if (d->n < 1 || d->dim < 1 || d->w != d->dim || d->num_classes < 1) abort();
    for (int64_t i = 0; i < d->n; i++)
        if (d->y[i] < 0 || d->y[i] >= d->num_classes) abort();
    int missing = 0;
    for (int64_t i = 0; i < d->n * d->dim; i++) {
        if (isinf(d->x[i])) abort();
        missing |= isnan(d->x[i]);
    }
    for (int64_t j = 0; whole && j < d->dim; j++) {
        int any = 0;
        for (int64_t i = 0; i < d->n; i++) any |= !isnan(d->x[i * d->dim + j]);
        if (!any) abort();
    }
    if ((gf_dataset_check_finite(d, "fuzz") != GF_OK) != missing) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0]) {
        snprintf(path, sizeof path, "/tmp/fuzz_csv_XXXXXX");
        int fd = mkstemp(path);
        if (fd < 0) abort();
        close(fd);
        atexit(cleanup);
    }
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    if (fclose(f) != 0) abort();

    gf_dataset d;
    if (gf_csv_load(path, "label", &d) == GF_OK) {
        check(&d, 1);
        gf_dataset_free(&d);
    } else if (d.x || d.y || d.n) {
        abort();
    }

    /* without test= or test_fraction= there is no test split (never a silent one) */
    char spec[128];
    snprintf(spec, sizeof spec, "csv:%s", path);
    gf_dataset train, test;
    if (gf_dataset_open(spec, &train, &test) == GF_OK) {
        check(&train, 1);
        if (test.n != 0 || test.x || test.y || train.dim != test.dim || train.num_classes != test.num_classes) abort();
        gf_dataset_free(&train);
        gf_dataset_free(&test);
    } else if (train.x || test.x || train.n || test.n) {
        abort();
    }
    /* a drawn test split: both halves non-empty, the same columns */
    snprintf(spec, sizeof spec, "csv:%s,test_fraction=0.25", path);
    if (gf_dataset_open(spec, &train, &test) == GF_OK) {
        check(&train, 0);
        check(&test, 0);
        if (train.dim != test.dim || train.num_classes != test.num_classes) abort();
        gf_dataset_free(&train);
        gf_dataset_free(&test);
    } else if (train.x || test.x || train.n || test.n) {
        abort();
    }
    return 0;
}
