/* A federated job's configuration, as the round runtime (fedjob.h) and its
 * secure rounds use it: what to train, how rounds are run and aggregated,
 * and the privacy settings. The coordinator's job-spec parser fills it in
 * (jobspec/jobspec.h, gf_jobspec_fedspec); nothing here parses JSON, so the
 * runtime depends on no service type. */
#ifndef GF_FED_FEDSPEC_H
#define GF_FED_FEDSPEC_H

#include <stdint.h>
#include "core/error.h"
#include "engine/optim.h"
#include "engine/spec.h"
#include "fed/strategy.h"
#include "privacy/dp.h"
#include "privacy/secagg.h"
#include "train/dpsgd.h"

#define GF_FED_NAME_MAX 64     /* job, tenant and site names */
#define GF_FED_EVAL_MAX 512    /* the eval set's name (and split) */

typedef char gf_fed_name[GF_FED_NAME_MAX + 1];

/* A statistics job (kind "statistics"; data/stats.h, fed/fedstats.h): no
 * model, one round in which every site sends its statistics vector. */
typedef struct {
    int     enabled;
    int64_t columns;                      /* feature columns every site's data must have */
    int     bins;                         /* histogram bins per column (0: none) */
    int     classes;                      /* label categories counted */
    int64_t min_count;                    /* counts below it are suppressed in the result */
    int64_t nranges;                      /* 0, 1 (all columns) or columns */
    double *range;                        /* malloc'd (nranges, 2) [lo, hi] */
} gf_fedstats_config;

typedef struct {
    gf_fed_name name;
    gf_fed_name tenant;                   /* "" for the operator's own job */
    char model[GF_SPEC_MAX_LEN];          /* canonical model spec */
    uint64_t seed;                        /* initial weights */
    gf_strategy_config strategy;          /* scaffold_sites_total set by the runtime */
    int rounds;
    gf_fed_name *sites;                   /* malloc'd list of nsites names; NULL = "all" */
    int nsites;
    double fraction;
    int min_sites;
    double round_deadline_s;
    struct {
        int epochs;
        int64_t steps;                    /* -1: no bound */
        int batch;
        double lr_decay;                  /* round r's local lr: optim.lr * lr_decay^(r-1) */
        gf_optim_config optim;
        gf_dpsgd_config dpsgd;            /* record-level DP of the sites' steps */
    } local;
    char eval[GF_FED_EVAL_MAX];           /* "" = none; "NAME[:test|:train]" */
    int eval_every;                       /* per-site evaluation every N rounds and of the
                                           * final model (0: none) */
    gf_dp_config dp;                      /* client-level DP (enabled 0: none) */
    gf_secagg_config secagg;              /* secure aggregation (enabled 0: none) */
    gf_fedstats_config stats;             /* a statistics job (enabled 0: a training job) */
    char *preprocess;                     /* malloc'd preprocessing JSON (data/preprocess.h) sent with
                                           * every task and recorded in checkpoints; NULL: none */
} gf_fedspec;

/* A deep copy of a statistics configuration (dst zeroed on error). */
gf_status gf_fedstats_config_copy(const gf_fedstats_config *src, gf_fedstats_config *dst);

/* Frees the site list (and the statistics ranges) and zeroes *s. */
void      gf_fedspec_free(gf_fedspec *s);
/* A deep copy (the site list too); dst is zeroed on error. */
gf_status gf_fedspec_copy(const gf_fedspec *src, gf_fedspec *dst);

#endif
