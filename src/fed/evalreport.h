/* The evaluation report: what a site tells the coordinator after it scored
 * a global model on its own test split (per-site evaluation, "eval_every"
 * in the job spec). This file owns its one encoder and one decoder; the
 * site encodes, the coordinator decodes, nothing else reads or writes it.
 *
 * Wire form (POST /v1/jobs/J/rounds/R/eval, the model the site downloaded
 * for round R, i.e. the global model after round R - 1), one JSON object:
 *   {"samples": N, "loss": X, "accuracy": X,
 *    "auc": X|null, "sensitivity": X|null, "specificity": X|null}
 * samples in [1, 1e12]; loss finite in [0, 1e9]; the others in [0, 1]; the
 * three two-class metrics null for another number of classes (and auc or
 * one of the recalls null when a class is absent from the test split).
 * The decoder is strict (GF_ERR_FORMAT naming the field): a body over
 * GF_EVAL_REPORT_MAX bytes, not JSON, duplicate or unknown or missing keys,
 * a wrong type or a value out of range. */
#ifndef GF_FED_EVALREPORT_H
#define GF_FED_EVALREPORT_H

#include <stddef.h>
#include <stdint.h>
#include "core/error.h"

#define GF_EVAL_REPORT_MAX 1024    /* bytes of an encoded report */

typedef struct {
    int64_t samples;
    double  loss, accuracy;
    double  auc, sensitivity, specificity;   /* NaN: null */
} gf_eval_report;

/* *json malloc'd, NUL-terminated; GF_ERR_ARG if r would not decode. */
gf_status gf_eval_report_encode(const gf_eval_report *r, char **json);
/* json (len bytes) into *out; on error *out is zeroed. */
gf_status gf_eval_report_decode(const char *json, size_t len, gf_eval_report *out);

#endif
