/* Per-site evaluation at the site: a global model (its flat vector, as
 * downloaded for a round) scored on the site's own test split, into the
 * report the coordinator receives (fed/evalreport.h). Loss and accuracy
 * are gf_model_evaluate's in batches of GF_SITE_EVAL_BATCH, as `gf eval`
 * computes them by default, so the two agree; a two-class model adds AUC,
 * sensitivity and specificity (train/binary_eval.h). */
#ifndef GF_FED_SITE_EVAL_H
#define GF_FED_SITE_EVAL_H

#include <stdint.h>
#include "core/error.h"
#include "data/dataset.h"
#include "fed/evalreport.h"

#define GF_SITE_EVAL_BATCH 256

/* GF_ERR_ARG for an empty test split; GF_ERR_MISMATCH when the vector or
 * the data do not fit the model. */
gf_status gf_site_evaluate(const char *model, const float *vec, int64_t d, const gf_dataset *test, int threads,
                           gf_eval_report *out);

#endif
