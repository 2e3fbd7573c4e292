/* The caps an operator puts on federated jobs, checked from a job's spec
 * without building anything: at submission (the API answers 400 naming the
 * cap) and again when the coordinator brings the job up (a job queued before
 * the operator lowered a cap, or resumed after a restart, fails instead of
 * allocating).
 *
 *   parameters   the model's d at most max_params (gf coordinator
 *                --max-model-params, default GF_FEDCAPS_DEFAULT_PARAMS)
 *   memory       what the job's runtime takes on the coordinator (fed/fedjob.h:
 *                the encoded global model, the strategy's buffers, which for
 *                median, trimmed mean and Krum hold one model per site, the
 *                masked sum of secure aggregation, and the vector and
 *                one-sample model built to start it) at most
 *                GF_FEDCAPS_BYTES_PER_PARAM bytes per allowed parameter
 *
 * The number of a tenant's queued and running federated jobs is capped by
 * the API and the store (gf coordinator --max-fed-jobs-per-tenant). */
#ifndef GF_JOBSPEC_FEDCAPS_H
#define GF_JOBSPEC_FEDCAPS_H

#include <stdint.h>
#include "core/error.h"
#include "jobspec/jobspec.h"

#define GF_FEDCAPS_DEFAULT_PARAMS      50000000   /* --max-model-params */
#define GF_FEDCAPS_DEFAULT_JOBS        8          /* --max-fed-jobs-per-tenant */
#define GF_FEDCAPS_BYTES_PER_PARAM     64

/* Bytes the runtime of federated job `spec` takes on the coordinator (see
 * above); max_sites as gf_fedjob_start sizes the strategy: the listed
 * sites, or sites_total for "all". NaN when the model does not parse. */
double    gf_fedcaps_bytes(const gf_jobspec *spec, int sites_total);

/* GF_OK, or GF_ERR_ARG with a message that starts "model:" and names the
 * cap and the flag that sets it. */
gf_status gf_fedcaps_check(const gf_jobspec *spec, int sites_total, int64_t max_params);

#endif
