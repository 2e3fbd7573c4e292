/* Two-class metrics (see metrics_binary.h): AUC by ranking the scores,
 * sensitivity and specificity by counting. */
#include "train/metrics_binary.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct { float s; int32_t y; } scored;

static int by_score(const void *a, const void *b)
{
    float x = ((const scored *)a)->s, y = ((const scored *)b)->s;
    return (x > y) - (x < y);
}

gf_status gf_binary_metrics_compute(const float *score, const int32_t *label, int64_t n, gf_binary_metrics *out)
{
    *out = (gf_binary_metrics){ .auc = NAN, .sensitivity = NAN, .specificity = NAN };
    if (n < 0) return gf_errorf(GF_ERR_ARG, "binary metrics: %lld samples", (long long)n);
    int64_t tp = 0, tn = 0;
    for (int64_t i = 0; i < n; i++) {
        if (label[i] != 0 && label[i] != 1)
            return gf_errorf(GF_ERR_ARG, "binary metrics: sample %lld has label %d (two classes: 0 and 1)",
                             (long long)i, (int)label[i]);
        if (isnan(score[i])) return gf_errorf(GF_ERR_ARG, "binary metrics: sample %lld has no score (NaN)", (long long)i);
        if (label[i]) { out->positives++; tp += score[i] > 0; }
        else { out->negatives++; tn += !(score[i] > 0); }
    }
    if (out->positives) out->sensitivity = (double)tp / (double)out->positives;
    if (out->negatives) out->specificity = (double)tn / (double)out->negatives;
    if (!out->positives || !out->negatives) return GF_OK;
    scored *v = malloc(sizeof *v * (size_t)n);      /* (n) */
    if (!v) return gf_errorf(GF_ERR_NOMEM, "binary metrics: out of memory for %lld scores", (long long)n);
    for (int64_t i = 0; i < n; i++) v[i] = (scored){ score[i], label[i] };
    qsort(v, (size_t)n, sizeof *v, by_score);
    /* U = sum over positives of (negatives scored below + half the negatives tied) */
    double u = 0.0;
    int64_t below = 0;                              /* negatives in earlier groups */
    for (int64_t i = 0; i < n; ) {
        int64_t j = i, pos = 0, neg = 0;
        while (j < n && v[j].s == v[i].s) { pos += v[j].y; neg += !v[j].y; j++; }
        u += (double)pos * ((double)below + 0.5 * (double)neg);
        below += neg;
        i = j;
    }
    free(v);
    out->auc = u / ((double)out->positives * (double)out->negatives);
    return GF_OK;
}

gf_status gf_binary_metrics_eval(gf_model *m, const gf_dataset *d, gf_binary_metrics *out)
{
    *out = (gf_binary_metrics){ .auc = NAN, .sensitivity = NAN, .specificity = NAN };
    if (m->num_classes != 2 || m->positions != 1 || m->input_dtype != GF_DTYPE_F32)
        return gf_errorf(GF_ERR_ARG, "binary metrics need a two-class classifier (the model has %d classes)",
                         m->num_classes);
    float *score = malloc(sizeof *score * (size_t)(d->n ? d->n : 1));   /* (n) */
    if (!score) return gf_errorf(GF_ERR_NOMEM, "binary metrics: out of memory for %lld scores", (long long)d->n);
    for (int64_t i = 0; i < d->n; i += m->max_batch) {
        int B = (int)(d->n - i < m->max_batch ? d->n - i : m->max_batch);
        const float *logits = gf_model_forward(m, d->x + i * d->dim, B, 0, 0);   /* (B, 2) */
        if (!logits) { free(score); return gf_errorf(GF_ERR_ARG, "binary metrics: forward pass failed"); }
        for (int b = 0; b < B; b++) score[i + b] = logits[2 * b + 1] - logits[2 * b];
    }
    gf_status st = gf_binary_metrics_compute(score, d->y, d->n, out);
    free(score);
    return st;
}
