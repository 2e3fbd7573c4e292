/* Model-size caps of federated jobs (see fedcaps.h). */
#include "jobspec/fedcaps.h"
#include "data/stats.h"

#include <math.h>
#include "engine/model.h"
#include "fed/strategy.h"

double gf_fedcaps_bytes(const gf_jobspec *spec, int sites_total)
{
    gf_spec s;
    if (gf_spec_parse(spec->model, &s)) return NAN;
    double d = (double)s.nparams;
    double wire = spec->strategy.type == GF_STRAT_SCAFFOLD ? 2 * d : d;   /* global [+ control variate] */
    int max_sites = spec->sites ? spec->nsites : (sites_total > 0 ? sites_total : 1);
    return sizeof(float) * wire                                   /* the encoded global (fedjob.h) */
         + gf_strategy_bytes(spec->strategy.type, s.nparams, max_sites)
         + (spec->secagg.enabled ? sizeof(uint32_t) * d : 0)     /* the masked sum of a secure round */
         + sizeof(float) * wire + gf_model_bytes(&s, 1, 1);       /* at start: the vector, the init model */
}

gf_status gf_fedcaps_check(const gf_jobspec *spec, int sites_total, int64_t max_params)
{
    if (spec->kind == GF_JOB_STATISTICS) {     /* no model: the statistics vector is the wire vector */
        gf_stats_plan p = { .columns = spec->stats.columns, .bins = spec->stats.bins, .classes = spec->stats.classes };
        if (gf_stats_len(&p) > max_params)
            return gf_errorf(GF_ERR_ARG, "columns, bins: the statistics vector has %lld values, over this "
                             "coordinator's limit of %lld (gf coordinator --max-model-params)",
                             (long long)gf_stats_len(&p), (long long)max_params);
        return GF_OK;
    }
    gf_spec s;
    gf_status st = gf_spec_parse(spec->model, &s);
    if (st) return st;
    if (s.nparams > max_params)
        return gf_errorf(GF_ERR_ARG, "model: %s has %lld parameters, over this coordinator's limit of %lld "
                         "(gf coordinator --max-model-params)", spec->model, (long long)s.nparams,
                         (long long)max_params);
    double bytes = gf_fedcaps_bytes(spec, sites_total), limit = (double)GF_FEDCAPS_BYTES_PER_PARAM * max_params;
    if (!(bytes <= limit))
        return gf_errorf(GF_ERR_ARG, "model: the job would hold %.0f MB on the coordinator (model %s, strategy "
                         "%s for %d sites), over this coordinator's limit of %.0f MB (%d bytes per parameter "
                         "of gf coordinator --max-model-params %lld)", bytes / 1e6, spec->model,
                         gf_strategy_type_name(spec->strategy.type),
                         spec->sites ? spec->nsites : (sites_total > 0 ? sites_total : 1), limit / 1e6,
                         GF_FEDCAPS_BYTES_PER_PARAM, (long long)max_params);
    return GF_OK;
}
