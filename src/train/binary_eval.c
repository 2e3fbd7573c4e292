/* Two-class evaluation (binary_eval.h): scores from the model's logits, then
 * AUC by average ranks (Mann-Whitney), sensitivity and specificity. */
#include "train/binary_eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    double s;
    int32_t y;
} scored;

static int by_score(const void *a, const void *b)
{
    double x = ((const scored *)a)->s, z = ((const scored *)b)->s;
    return x < z ? -1 : x > z;
}

gf_status gf_binary_metrics_compute(const double *score, const int32_t *label, const int32_t *pred, int64_t n,
                                    gf_binary_metrics *out)
{
    memset(out, 0, sizeof *out);
    out->auc = out->sensitivity = out->specificity = NAN;
    if (n < 0 || (n > 0 && (!score || !label || !pred)))
        return gf_errorf(GF_ERR_ARG, "binary metrics: bad arguments (n %lld)", (long long)n);
    for (int64_t i = 0; i < n; i++) {
        if ((label[i] != 0 && label[i] != 1) || (pred[i] != 0 && pred[i] != 1))
            return gf_errorf(GF_ERR_ARG, "binary metrics: sample %lld has label %d, prediction %d (0 or 1 expected)",
                             (long long)i, label[i], pred[i]);
        if (!isfinite(score[i]))
            return gf_errorf(GF_ERR_ARG, "binary metrics: sample %lld has a non-finite score", (long long)i);
        if (label[i]) { out->positives++; pred[i] ? out->tp++ : out->fn++; }
        else { out->negatives++; pred[i] ? out->fp++ : out->tn++; }
    }
    if (out->positives) out->sensitivity = (double)out->tp / (double)out->positives;
    if (out->negatives) out->specificity = (double)out->tn / (double)out->negatives;
    if (!out->positives || !out->negatives) return GF_OK;

    scored *v = malloc(sizeof *v * (size_t)n);   /* (n) */
    if (!v) return gf_errorf(GF_ERR_NOMEM, "binary metrics: out of memory for %lld scores", (long long)n);
    for (int64_t i = 0; i < n; i++) v[i] = (scored){ score[i], label[i] };
    qsort(v, (size_t)n, sizeof *v, by_score);
    double rank_sum = 0.0;                       /* ranks of the positives, 1-based, ties averaged */
    for (int64_t i = 0; i < n; ) {
        int64_t j = i;
        while (j < n && v[j].s == v[i].s) j++;
        double avg = 0.5 * (double)(i + 1 + j);  /* mean of ranks i+1 .. j */
        for (int64_t k = i; k < j; k++) if (v[k].y) rank_sum += avg;
        i = j;
    }
    free(v);
    double P = (double)out->positives, N = (double)out->negatives;
    out->auc = (rank_sum - P * (P + 1) / 2) / (P * N);
    return GF_OK;
}

gf_status gf_model_evaluate_binary(gf_model *m, const gf_dataset *d, gf_binary_metrics *out)
{
    memset(out, 0, sizeof *out);
    out->auc = out->sensitivity = out->specificity = NAN;
    if (m->num_classes != 2 || m->positions != 1 || m->input_dtype != GF_DTYPE_F32)
        return gf_errorf(GF_ERR_MISMATCH, "AUC, sensitivity and specificity need a two-class model (this one has %d "
                         "classes)", m->num_classes);
    double *score = malloc(sizeof *score * (size_t)(d->n ? d->n : 1));   /* (n) */
    int32_t *pred = malloc(sizeof *pred * (size_t)(d->n ? d->n : 1));    /* (n) */
    gf_status st = GF_OK;
    if (!score || !pred) { st = gf_errorf(GF_ERR_NOMEM, "out of memory for %lld scores", (long long)d->n); goto done; }
    for (int64_t i = 0; i < d->n; i += m->max_batch) {
        int B = (int)(d->n - i < m->max_batch ? d->n - i : m->max_batch);
        const float *z = gf_model_forward(m, d->x + i * d->dim, B, 0, 0);   /* (B, 2) */
        if (!z) { st = GF_ERR_ARG; goto done; }
        for (int b = 0; b < B; b++) {
            score[i + b] = (double)z[2 * b + 1] - (double)z[2 * b];
            pred[i + b] = z[2 * b + 1] > z[2 * b];
        }
    }
    st = gf_binary_metrics_compute(score, d->y, pred, d->n, out);
done:
    free(score);
    free(pred);
    return st;
}
