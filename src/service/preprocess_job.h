/* A federated job's "preprocess" (jobspec/jobspec.h) resolved against the
 * statistics job it names: the preprocessing (data/preprocess.h) computed
 * from that job's result, as the JSON every task carries. Checked at
 * submission (the API answers 400 with the reason) and computed again when
 * the coordinator brings the job up (the result file does not change once
 * written). */
#ifndef GF_SERVICE_PREPROCESS_JOB_H
#define GF_SERVICE_PREPROCESS_JOB_H

#include <stdint.h>
#include "core/error.h"
#include "jobspec/jobspec.h"
#include "service/store.h"

#define GF_PREPROCESS_JOB_MAX_RESULT ((long)64 << 20)   /* bytes of a statistics result read */

/* *json (malloc'd) the preprocessing of spec, or NULL when it has none.
 * The statistics job must exist, be of kind statistics, have succeeded,
 * belong to the same tenant (tenant_id; 0: the operator's own jobs), and
 * the model's input must take the columns the preprocessing keeps; else
 * GF_ERR_ARG with a message starting "preprocess:". */
gf_status gf_preprocess_job_resolve(gf_store *store, const char *data_dir, const gf_jobspec *spec,
                                    int64_t tenant_id, char **json);

#endif
