/* A federated job's preprocessing from its statistics job (see preprocess_job.h). */
#include "service/preprocess_job.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "data/preprocess.h"
#include "engine/spec.h"
#include "fed/fedjob.h"

/* The whole of a result file (at most GF_PREPROCESS_JOB_MAX_RESULT bytes). */
static gf_status read_result(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return gf_errorf(GF_ERR_IO, "cannot read its result");
    char *buf = malloc((size_t)GF_PREPROCESS_JOB_MAX_RESULT + 1);
    size_t n = buf ? fread(buf, 1, (size_t)GF_PREPROCESS_JOB_MAX_RESULT + 1, f) : 0;
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad || n > (size_t)GF_PREPROCESS_JOB_MAX_RESULT) {
        free(buf);
        return gf_errorf(GF_ERR_IO, "cannot read its result (unreadable or over %ld bytes)",
                         GF_PREPROCESS_JOB_MAX_RESULT);
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return GF_OK;
}

gf_status gf_preprocess_job_resolve(gf_store *store, const char *data_dir, const gf_jobspec *spec,
                                    int64_t tenant_id, char **json)
{
    *json = NULL;
    if (spec->kind != GF_JOB_FEDERATED || !spec->preprocess.enabled) return GF_OK;
    long long from = (long long)spec->preprocess.from;
    gf_store_job job;
    if (gf_store_job_get(store, spec->preprocess.from, &job))
        return gf_errorf(GF_ERR_ARG, "preprocess: from: no job %lld", from);
    int statistics = !strcmp(job.kind, "statistics"), same = job.tenant_id == tenant_id;
    gf_store_job_state state = job.state;
    gf_store_job_free(&job);
    if (!same) return gf_errorf(GF_ERR_ARG, "preprocess: from: no job %lld", from);   /* another tenant's: unseen */
    if (!statistics) return gf_errorf(GF_ERR_ARG, "preprocess: from: job %lld is not a statistics job", from);
    if (state != GF_STORE_JOB_SUCCEEDED)
        return gf_errorf(GF_ERR_ARG, "preprocess: from: statistics job %lld has not succeeded (it is %s)", from,
                         gf_store_job_state_name(state));
    char path[PATH_MAX], *text = NULL;
    size_t len = 0;
    gf_status st = gf_fedjob_stats_path(data_dir, spec->preprocess.from, path, sizeof path);
    if (!st && (st = read_result(path, &text, &len)))
        st = gf_errorf(GF_ERR_ARG, "preprocess: from: statistics job %lld: %s", from, gf_last_error());
    if (st) return st;
    gf_preprocess p;
    st = gf_preprocess_from_stats_json(&spec->preprocess.cfg, text, len, &p);
    free(text);
    if (st) return gf_errorf(GF_ERR_ARG, "%s (statistics job %lld)", gf_last_error(), from);
    gf_spec ms;
    if (!gf_spec_parse(spec->model, &ms) && gf_shape3_numel(ms.input) != p.kept)
        st = gf_errorf(GF_ERR_ARG, "preprocess: it makes %lld input columns of the data's %lld, but the model %s takes "
                       "%lld inputs",
                       (long long)p.kept, (long long)p.columns, spec->model, (long long)gf_shape3_numel(ms.input));
    if (!st) st = gf_preprocess_to_json(&p, json);
    gf_preprocess_free(&p);
    return st;
}
