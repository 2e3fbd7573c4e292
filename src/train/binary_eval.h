/* Two-class evaluation: ROC AUC, sensitivity and specificity, as a hospital
 * reads a diagnostic model (class 1 = positive, e.g. pneumonia).
 *
 * The score of a sample is its softmax probability of class 1; for two
 * classes that is sigmoid(z1 - z0), so the logit margin z1 - z0 ranks the
 * samples exactly as the probability does, without the ties that float
 * rounding of a saturated softmax would add. AUC is the Mann-Whitney
 * statistic: the share of (positive, negative) pairs in which the positive
 * scores higher, a tie counting one half (computed from average ranks in
 * O(n log n)). Sensitivity and specificity are those of the argmax
 * prediction (class 1 when z1 > z0), the prediction accuracy counts. */
#ifndef GF_TRAIN_BINARY_EVAL_H
#define GF_TRAIN_BINARY_EVAL_H

#include <stdint.h>
#include "core/error.h"
#include "data/dataset.h"
#include "engine/model.h"

typedef struct {
    int64_t positives, negatives;   /* samples labelled 1 and 0 */
    int64_t tp, fn, tn, fp;         /* of the argmax prediction */
    double  auc;                    /* NAN when either class is absent */
    double  sensitivity;            /* tp / positives; NAN without positives */
    double  specificity;            /* tn / negatives; NAN without negatives */
} gf_binary_metrics;

/* From scores (n) (higher: more likely class 1), labels (n) in {0, 1} and
 * predictions (n) in {0, 1}. GF_ERR_ARG for another label or prediction or
 * a non-finite score, GF_ERR_NOMEM. */
gf_status gf_binary_metrics_compute(const double *score, const int32_t *label, const int32_t *pred, int64_t n,
                                    gf_binary_metrics *out);

/* Runs model m (num_classes 2) over d (no dropout, batches of max_batch) and
 * computes the metrics above. GF_ERR_MISMATCH if m has not 2 classes. */
gf_status gf_model_evaluate_binary(gf_model *m, const gf_dataset *d, gf_binary_metrics *out);

#endif
