/* Per-site evaluation results at the coordinator: each site's report on a
 * global model (fed/evalreport.h), kept per job beside its checkpoints in
 * DATA/artifacts/job-ID/site_eval.jsonl (one JSON object a line, appended
 * and fsync'd: {"round": M, "site": S, "samples": N, "loss": X,
 * "accuracy": X, "auc": X|null, "sensitivity": X|null, "specificity":
 * X|null}, M the round after which the model was the global one), and
 * read back for the status: per round, each site's metrics (its last
 * report for that round) and their means weighted by the sites' test
 * samples. Thread-safe (one lock). */
#ifndef GF_SERVICE_SITE_EVALS_H
#define GF_SERVICE_SITE_EVALS_H

#include <stdint.h>
#include "core/error.h"
#include "fed/evalreport.h"

#define GF_SITE_EVALS_MAX_BYTES ((int64_t)64 << 20)   /* read back at most this much of the file */

struct json_t;

/* Appends site's report on the model after round `model_round`. */
gf_status gf_site_evals_add(const char *data_dir, int64_t job, int64_t model_round, const char *site,
                            const gf_eval_report *r);

/* The job's results for model rounds > after, at most `limit` rounds (the
 * last ones), as a new JSON array sorted by round:
 *   [{"round": M, "sites": [{"site", "samples", "loss", "accuracy", "auc",
 *     "sensitivity", "specificity"}, ...] (by site name),
 *     "weighted": {"sites", "samples", "loss", "accuracy", "auc",
 *     "sensitivity", "specificity"}}]
 * A weighted metric is the mean over the sites that reported it, weighted
 * by their test samples (null when none did). Empty when there are none. */
struct json_t *gf_site_evals_json(const char *data_dir, int64_t job, int64_t after, int64_t limit);

#endif
