/* Missing values in a dataset's features (NaN in x, the readers' mark for a
 * missing cell or call): counting them, each feature's mean over the samples
 * where it is present, and filling NaN with given values (a training
 * split's means, so a test split is filled with what training saw).
 * Reader-independent, so the genotype readers and tabular readers share it. */
#include "data/dataset.h"

#include <math.h>
#include <stdlib.h>

int64_t gf_dataset_count_missing(const gf_dataset *d)
{
    if (!d || !d->x) return 0;
    int64_t k = 0;
    for (int64_t i = 0; i < d->n * d->dim; i++) k += isnan(d->x[i]);
    return k;
}

gf_status gf_dataset_feature_means(const gf_dataset *d, float *means, int64_t *empty_features)
{
    if (empty_features) *empty_features = 0;
    if (!d || d->tokens || !means) return gf_errorf(GF_ERR_ARG, "feature means need a feature dataset");
    const int64_t n = d->n, dim = d->dim;
    double *sum = calloc((size_t)(dim ? dim : 1), sizeof *sum);         /* (dim) */
    int64_t *cnt = calloc((size_t)(dim ? dim : 1), sizeof *cnt);        /* (dim) */
    if (!sum || !cnt) {
        free(sum); free(cnt);
        return gf_errorf(GF_ERR_NOMEM, "out of memory for the means of %lld features", (long long)dim);
    }
    for (int64_t i = 0; i < n; i++) {
        const float *r = d->x + i * dim;
        for (int64_t j = 0; j < dim; j++)
            if (!isnan(r[j])) { sum[j] += r[j]; cnt[j]++; }
    }
    int64_t empty = 0;
    for (int64_t j = 0; j < dim; j++) {
        empty += cnt[j] == 0;
        means[j] = cnt[j] ? (float)(sum[j] / (double)cnt[j]) : 0.0f;
    }
    free(sum); free(cnt);
    if (empty_features) *empty_features = empty;
    return GF_OK;
}

int64_t gf_dataset_fill_missing_with(gf_dataset *d, const float *values)
{
    if (!d || !d->x) return 0;
    int64_t k = 0;
    for (int64_t i = 0; i < d->n; i++) {
        float *r = d->x + i * d->dim;
        for (int64_t j = 0; j < d->dim; j++)
            if (isnan(r[j])) { r[j] = values[j]; k++; }
    }
    return k;
}

gf_status gf_dataset_fill_missing_mean(gf_dataset *d, int64_t *filled, int64_t *empty_features)
{
    if (filled) *filled = 0;
    if (!d || d->tokens) return gf_errorf(GF_ERR_ARG, "missing values can only be filled in a feature dataset");
    float *means = malloc(sizeof *means * (size_t)(d->dim ? d->dim : 1));   /* (dim) */
    if (!means) return gf_errorf(GF_ERR_NOMEM, "out of memory for the means of %lld features", (long long)d->dim);
    gf_status st = gf_dataset_feature_means(d, means, empty_features);
    if (!st) {
        int64_t k = gf_dataset_fill_missing_with(d, means);
        if (filled) *filled = k;
    }
    free(means);
    return st;
}
