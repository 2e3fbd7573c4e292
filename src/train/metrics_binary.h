/* Metrics of a two-class model on a labelled set, beyond loss and
 * accuracy: ROC AUC (from scores, ties counted one half, as the
 * Mann-Whitney U statistic and scikit-learn's roc_auc_score), sensitivity
 * (recall of class 1) and specificity (recall of class 0) of the model's
 * own decision (argmax of the two logits, the first on a tie, as accuracy
 * counts it). A pure function over scores, and the forward pass that makes
 * the scores of a model. */
#ifndef GF_TRAIN_METRICS_BINARY_H
#define GF_TRAIN_METRICS_BINARY_H

#include <stdint.h>
#include "core/error.h"
#include "data/dataset.h"
#include "engine/model.h"

typedef struct {
    double  auc;            /* NaN when one class is absent */
    double  sensitivity;    /* TP / (TP + FN); NaN without positives */
    double  specificity;    /* TN / (TN + FP); NaN without negatives */
    int64_t positives, negatives;
} gf_binary_metrics;

/* score[i] = logit1 - logit0 of sample i (predicted class 1 iff > 0),
 * label[i] in {0, 1}; n >= 0. GF_ERR_ARG for another label or a NaN score;
 * GF_ERR_NOMEM. O(n log n). */
gf_status gf_binary_metrics_compute(const float *score, const int32_t *label, int64_t n, gf_binary_metrics *out);

/* Runs m (2 classes, one position) over d in batches of m->max_batch and
 * computes the metrics above. GF_ERR_ARG if m does not have 2 classes. */
gf_status gf_binary_metrics_eval(gf_model *m, const gf_dataset *d, gf_binary_metrics *out);

#endif
