/* Each site's own record-level DP-SGD epsilon per federated job, as the site
 * reports it with its update (metadata "gf.dpsgd_epsilon": the epsilon its
 * own accountant says the job has spent on its records so far, at the job's
 * local.dp_sgd.delta), kept beside the job's checkpoints
 * (DATA/artifacts/job-ID/site_dp.json) so that the job's tenant and the
 * operator read it through the API (GET /v1/jobs/ID "site_dp"), gf status
 * and the dashboard, not only in that site's log.
 *
 * Only the latest report of each site is kept (a report for an earlier
 * round than the one kept replaces nothing), at most GF_SITE_DP_MAX sites
 * per job. The value was checked when the update was decoded
 * (fed/fedjob.h): a finite number >= 0, or +infinity (noise 0: no
 * guarantee), kept as null. It is the site's claim: the coordinator cannot
 * recompute it (it does not know the site's record count). Thread-safe
 * (one lock). */
#ifndef GF_SERVICE_SITE_DP_H
#define GF_SERVICE_SITE_DP_H

#include <stdint.h>
#include "core/error.h"

#define GF_SITE_DP_MAX 1024

struct json_t;

/* Records site's epsilon (>= 0 or +inf) at delta after round `round` of
 * job `job`; `at` is an ISO 8601 time. GF_ERR_ARG for a NaN or negative
 * epsilon, a delta outside (0, 1), or a site past GF_SITE_DP_MAX. */
gf_status gf_site_dp_record(const char *data_dir, int64_t job, const char *site, int64_t round, double epsilon,
                            double delta, const char *at);

/* The job's records as a new JSON array of {site, round, epsilon (null:
 * infinite), delta, at}, sorted by site: empty when there are none. */
struct json_t *gf_site_dp_json(const char *data_dir, int64_t job);

#endif
