/* The last time each site declined a federated job, with its reason, kept
 * beside the job's checkpoints (DATA/artifacts/job-ID/declines.json) so that
 * an operator or the job's tenant reads them through the API (GET
 * /v1/jobs/ID "declines") after the job has ended, not only in the
 * coordinator's log and the audit log.
 *
 * A reason comes from a site: it is kept cut to GF_SITE_DECLINE_REASON_MAX
 * bytes (at a UTF-8 character boundary, "..." appended), control bytes and
 * invalid UTF-8 as '?'; at most GF_SITE_DECLINES_MAX sites per job (a site
 * past that replaces nothing and is not kept). Thread-safe (one lock). */
#ifndef GF_SERVICE_SITE_DECLINES_H
#define GF_SERVICE_SITE_DECLINES_H

#include <stddef.h>
#include <stdint.h>
#include "core/error.h"

#define GF_SITE_DECLINE_REASON_MAX 200
#define GF_SITE_DECLINES_MAX       1024

struct json_t;

/* Records that `site` declined round `round` of job `job` (replacing its
 * earlier record for that job); `at` is an ISO 8601 time. */
gf_status gf_site_declines_record(const char *data_dir, int64_t job, const char *site, int64_t round,
                                  const char *reason, const char *at);

/* The job's records as a new JSON array of {site, round, reason, at},
 * sorted by site: empty when there are none (or the file is unreadable). */
struct json_t *gf_site_declines_json(const char *data_dir, int64_t job);

/* dst (cap > GF_SITE_DECLINE_REASON_MAX + 3) = s as kept (see above). */
void gf_site_decline_clean(char *dst, size_t cap, const char *s);

#endif
