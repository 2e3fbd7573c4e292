/* Per-job, per-site records at the coordinator, kept beside the job's
 * checkpoints (DATA/artifacts/job-ID/) so that the job's tenant and the
 * operator read them through the API (GET /v1/jobs/ID), gf status and the
 * dashboard after the job has ended, not only in a log. Thread-safe (one
 * lock). Three kinds:
 *
 * - declines.json ("declines"): the last time each site declined the job,
 *   with its reason. A reason comes from a site: it is kept cut to
 *   GF_SITE_DECLINE_REASON_MAX bytes (at a UTF-8 character boundary, "..."
 *   appended), control bytes and invalid UTF-8 as '?'.
 * - site_dp.json ("site_dp"): each site's own record-level DP-SGD epsilon
 *   as it reports it with its update (metadata "gf.dpsgd_epsilon", at the
 *   job's local.dp_sgd.delta; checked when the update was decoded,
 *   fed/fedjob.h: a finite number >= 0, or +infinity, noise 0, kept as
 *   null). Only a site's latest report is kept (one for an earlier round
 *   replaces nothing). It is the site's claim: the coordinator cannot
 *   recompute it (it does not know the site's record count).
 * - site_eval.jsonl ("site_eval"): every site's report on a global model
 *   (fed/evalreport.h), one line each (train/metrics_file.h, fsync'd):
 *   {"round": M, "site": S, "samples": N, "loss": X, "accuracy": X,
 *   "auc": X|null, "sensitivity": X|null, "specificity": X|null}, M the
 *   round after which the model was the global one.
 *
 * A declines or site_dp file keeps one record per site, at most
 * GF_SITE_RECORDS_MAX sites per job (a site past that is refused and
 * changes nothing); it is rewritten atomically on each change, and a
 * missing or damaged one reads back as no records. */
#ifndef GF_FED_SITE_RECORDS_H
#define GF_FED_SITE_RECORDS_H

#include <stddef.h>
#include <stdint.h>
#include "core/error.h"
#include "fed/evalreport.h"

#define GF_SITE_RECORDS_MAX        1024
#define GF_SITE_DECLINES_MAX       GF_SITE_RECORDS_MAX
#define GF_SITE_DP_MAX             GF_SITE_RECORDS_MAX
#define GF_SITE_DECLINE_REASON_MAX 200
#define GF_SITE_EVALS_MAX_BYTES    ((int64_t)64 << 20)   /* of site_eval.jsonl read back */

struct json_t;

/* Records that `site` declined round `round` of job `job` (replacing its
 * earlier record for that job); `at` is an ISO 8601 time. */
gf_status gf_site_declines_record(const char *data_dir, int64_t job, const char *site, int64_t round,
                                  const char *reason, const char *at);

/* The job's declines as a new JSON array of {site, round, reason, at},
 * sorted by site: empty when there are none. */
struct json_t *gf_site_declines_json(const char *data_dir, int64_t job);

/* dst (cap > GF_SITE_DECLINE_REASON_MAX + 3) = s as kept (see above). */
void gf_site_decline_clean(char *dst, size_t cap, const char *s);

/* Records site's epsilon (>= 0 or +inf) at delta after round `round` of
 * job `job`. GF_ERR_ARG for a NaN or negative epsilon, a delta outside
 * (0, 1), or a site past GF_SITE_DP_MAX. */
gf_status gf_site_dp_record(const char *data_dir, int64_t job, const char *site, int64_t round, double epsilon,
                            double delta, const char *at);

/* The job's epsilon reports as a new JSON array of {site, round, epsilon
 * (null: infinite), delta, at}, sorted by site: empty when there are none. */
struct json_t *gf_site_dp_json(const char *data_dir, int64_t job);

/* Appends site's report on the model after round `model_round`. */
gf_status gf_site_evals_add(const char *data_dir, int64_t job, int64_t model_round, const char *site,
                            const gf_eval_report *r);

/* The job's evaluation results for model rounds > after, at most `limit`
 * rounds (the last ones), each site's last report for a round, as a new
 * JSON array sorted by round:
 *   [{"round": M, "sites": [{"site", "samples", "loss", "accuracy", "auc",
 *     "sensitivity", "specificity"}, ...] (by site name),
 *     "weighted": {"sites", "samples", "loss", "accuracy", "auc",
 *     "sensitivity", "specificity"}}]
 * A weighted metric is the mean over the sites that reported it, weighted
 * by their test samples (null when none did). Empty when there are none. */
struct json_t *gf_site_evals_json(const char *data_dir, int64_t job, int64_t after, int64_t limit);

#endif
