/* Job specs: the JSON a model builder submits, parsed and validated into a
 * gf_jobspec, and the canonical JSON of a parsed spec that the coordinator
 * stores (every key, type, range and default: docs/jobspec.md, checked
 * against this parser by tests/test_jobspec_doc.c). Two kinds:
 *
 *   federated (the default; "kind": "federated")
 *     {"name": "fmnist-fedavg", "model": "cnn", "dataset": "fashion-mnist",
 *      "strategy": {"name": "fedavg"}, "rounds": 50,
 *      "sites": "all", "fraction": 1.0, "min_sites": 10, "round_deadline_s": 600,
 *      "local": {"epochs": 1, "steps": null, "batch": 64,
 *                "optim": {"name": "sgd", "lr": 0.05, "momentum": 0.9}},
 *      "seed": 1, "eval": "fashion-mnist:test",
 *      "secure_aggregation": {...}, "dp": {...}}
 *   central ("kind": "central")
 *     {"kind": "central", "name": "cnn-fmnist", "model": "cnn",
 *      "dataset": "fashion-mnist", "epochs": 3, "batch": 64,
 *      "optim": {"name": "adamw", "lr": 0.001}, "seed": 1,
 *      "resources": {"cores": 1, "gpus": 0, "memory_mb": 2048, "time_limit_s": 3600,
 *                    "processes": 1}}
 *     processes > 1: gf train runs as that many ranks under mpirun
 *     (train/dist.h, data parallel; service/executor_local.c)
 *   statistics ("kind": "statistics"; federated statistics, fed/fedstats.h)
 *     {"kind": "statistics", "name": "heart-stats", "columns": 13,
 *      "classes": 2, "bins": 20, "range": [0, 600] | "ranges": [[lo, hi], ...],
 *      "min_count": 10, "sites": "all", "min_sites": 3, "round_deadline_s": 600,
 *      "dataset": LABEL (optional), "secure_aggregation": {...}}
 *     one round, no model: every site sends the statistics of its data
 *     (columns 1..100000 feature columns, which every site's data must
 *     have; classes 1..100000 label categories, default 2; bins 0..10000
 *     per column, default 20 with a range and 0 without; "range" one
 *     [lo, hi] for every column or "ranges" one per column, lo < hi, not
 *     both; min_count 1..1e9, default 10: any count below it is suppressed
 *     in the result). Under secure_aggregation every entry a site sends is
 *     bounded by its row count (values are scaled to their range, see
 *     data/stats.h), and the clip defaults to 1e6: a site declines when an
 *     entry is larger (raise clip to just above the largest site's rows;
 *     counts stay exact while clip * sites^2 < 2^30).
 *   program ("kind": "program"): a tenant's own program in a sandbox; its
 *     keys and rules are in jobspec_program.h
 *
 * Rules: unknown keys, duplicate keys, booleans or strings where numbers are
 * expected, non-integers where integers are expected (3.5 epochs; 3.0 and
 * 1e6 are integers) and out-of-range values are all rejected. Every message
 * starts with the JSON path of the problem ("local.optim.lr: must be a
 * number > 0, got \"fast\"", "sites[2]: duplicate site name \"b\" (also
 * sites[0])"). Invalid JSON gives GF_ERR_FORMAT with jansson's text, line and
 * column; a too-large input (over GF_JOBSPEC_MAX_BYTES) and every validation
 * failure give GF_ERR_ARG; allocation failures GF_ERR_NOMEM.
 *
 * Names (the job's and the sites') are 1..64 characters of [A-Za-z0-9._-],
 * and not "." or ".." (they may become path components). "dataset" has the
 * same form (a name of the datasets registry, service/datasets.h, required for a
 * central job; for a federated one an optional label of the sites' data,
 * null or absent by default, that nothing reads), and "eval" is such a name
 * with an optional ":test" or ":train": members never name files. Whether a
 * name is registered and readable by the job's tenant is checked by the
 * coordinator, not here.
 *
 * "local.dp_sgd": record-level DP-SGD of every site's local steps
 * (train/dpsgd.h): {"clip": C > 0, "noise": sigma >= 0 (both required),
 * "delta": (0, 1) (default 1e-5)}, or null.
 *
 * Ranges: rounds 1..1e6; fraction (0, 1]; min_sites 1..1e6 and, when sites
 * is a list, at most its length; round_deadline_s > 0; local.epochs and
 * central epochs 1..1e6; local.steps null or 0..1e9 (when set it bounds the
 * local optimizer steps per round); batch 1..65536; optim lr > 0, momentum
 * [0, 1) (SGD only), weight_decay >= 0 (checked again after rounding to
 * float); seed 0..2^63-1; resources as in gf_jobspec below.
 *
 * Strategy keys (each allowed only for the strategies that use it):
 *   name (required), server_lr (> 0; the FedAvg family and SCAFFOLD),
 *   momentum (fedavgm, [0, 1)), beta1 (fedadam/fedyogi/fedadagrad, [0, 1)),
 *   beta2 (fedadam/fedyogi, [0, 1)), tau (fedadam/fedyogi/fedadagrad, > 0),
 *   mu (fedprox, >= 0), trim_ratio (trimmed_mean, [0, 0.5)),
 *   f (krum/multikrum, integer >= 0), m (multikrum, integer >= 0).
 * Unset ones keep gf_strategy_defaults(type). SCAFFOLD's
 * scaffold_sites_total is not part of the JSON: it is left 0 here and the
 * coordinator sets it from the number of sites. Krum's n >= 2f + 3 is
 * likewise checked by the coordinator against a round's sites.
 *
 * "secure_aggregation" (federated only; see privacy/secagg.h), kept as
 * canonical JSON text (compact, keys sorted) and parsed into `secagg`:
 * {"k": neighbours (even, 1..65534), "t": threshold (k/2 < t <= k), "clip":
 * quantisation range per coordinate (> 0), "max_weight": samples at which a
 * site's weight saturates (>= 1, default 1e5), "phase_timeout_s": (0, 86400]
 * (default 60)}, every key optional; unset k and t take
 * gf_secagg_default_params for each round's number of sites. Only with the
 * sum-based strategies other than SCAFFOLD, and min_sites >= 2.
 *
 * "preprocess" (federated only; data/preprocess.h), kept the same way and
 * parsed into `preprocess`: {"from": the id of a statistics job (required),
 * "impute": "mean" | "median" | null (default null), "standardize": bool
 * (default false), "drop": [column index, ...] (default []), "binarize":
 * {"threshold": T} | null (labels >= T become 1, the others 0), "onehot":
 * [{"column": j, "categories": [x, ...]}, ...] (default [])}. The
 * coordinator computes it from that job's result (service/preprocess_job.h)
 * and sends it with every task; the sites apply it before training and the
 * model records it for gf eval.
 *
 * "dp" (federated only; client-level DP, see privacy/dp.h), kept the same
 * way and parsed into `dp`: {"clip": S > 0 (required), "noise": sigma in
 * [0, 1e6] (required), "delta": (0, 1) (default 1e-5), "epsilon": budget > 0
 * (optional; needs noise > 0), "adaptive": adaptive clipping from S
 * (optional; needs noise > 0): {"quantile": (0, 1) (default 0.5), "lr":
 * (0, 10] (default 0.2), "count_noise": > noise / 2 (default: sites / 20)}};
 * only with the sum-based strategies other than SCAFFOLD. */
#ifndef GF_JOBSPEC_JOBSPEC_H
#define GF_JOBSPEC_JOBSPEC_H

#include <stddef.h>
#include <stdint.h>
#include "core/error.h"
#include "data/preprocess.h"
#include "engine/optim.h"
#include "engine/spec.h"
#include "fed/fedspec.h"
#include "fed/strategy.h"
#include "privacy/dp.h"
#include "privacy/secagg.h"
#include "train/dpsgd.h"

#define GF_JOBSPEC_MAX_BYTES (1 << 20)   /* input size limit: 1 MiB */
#define GF_JOBSPEC_NAME_MAX  64          /* job and site names */
#define GF_JOBSPEC_STR_MAX   512         /* dataset and eval buffers (511 bytes + NUL) */

typedef enum { GF_JOB_FEDERATED, GF_JOB_CENTRAL, GF_JOB_STATISTICS, GF_JOB_PROGRAM } gf_job_kind;

typedef struct gf_program_spec gf_program_spec;   /* "kind": "program" (jobspec_program.h) */

/* Central and program jobs run under the scheduler and an executor; federated
 * and statistics jobs are rounds driven by the coordinator with the sites. */
static inline int gf_job_kind_scheduled(gf_job_kind k) { return k == GF_JOB_CENTRAL || k == GF_JOB_PROGRAM; }

typedef struct {
    gf_job_kind kind;
    char name[GF_JOBSPEC_NAME_MAX + 1];
    char tenant[GF_JOBSPEC_NAME_MAX + 1]; /* "tenant" (optional, either kind; same rules as names): "" none */
    char model[GF_SPEC_MAX_LEN];          /* canonical spec (gf_spec.canonical) */
    char dataset[GF_JOBSPEC_STR_MAX];     /* a dataset name (service/datasets.h); not resolved here;
                                           * "" = null (federated only) */
    uint64_t seed;                        /* 0..2^63-1, default 1 */
    gf_optim_config optim;                /* federated: local.optim; central: optim.
                                           * beta1/beta2/eps stay gf_optim_defaults' */

    /* federated */
    gf_strategy_config strategy;          /* scaffold_sites_total is 0 (coordinator sets it) */
    int rounds;
    char (*sites)[GF_JOBSPEC_NAME_MAX + 1];  /* malloc'd list of nsites names; NULL = "all" (a tenant's
                                             * job: the sites granted to it, service/api_sites.c) */
    int nsites;
    double fraction;                      /* default 1.0 */
    int min_sites;                        /* default 1 */
    double round_deadline_s;              /* default 600 */
    struct {
        int epochs;                       /* default 1 */
        int64_t steps;                    /* -1 = null (no bound), default null */
        int batch;                        /* default 64 */
        double lr_decay;                  /* round r trains at optim.lr * lr_decay^(r-1);
                                           * (0, 1], default 1 (a constant rate) */
        gf_dpsgd_config dpsgd;            /* "dp_sgd" (enabled 0 when null/absent) */
    } local;
    char eval[GF_JOBSPEC_STR_MAX];        /* "" = null (default) */
    int eval_every;                       /* sites evaluate every N rounds and the final
                                           * model; 0..1e6, default 0 (none) */
    char *secure_aggregation_json;        /* malloc'd canonical JSON object, NULL when absent */
    char *dp_json;                        /* likewise */
    gf_dp_config dp;                      /* parsed "dp" (enabled 0 when absent) */
    gf_secagg_config secagg;              /* parsed "secure_aggregation" (enabled 0 when absent) */

    char *preprocess_json;                /* malloc'd canonical JSON object, NULL when absent */
    struct {
        int enabled;
        int64_t from;                     /* the statistics job */
        gf_preprocess_config cfg;         /* cfg.drop points into drop */
        int64_t *drop;                    /* malloc'd (cfg.ndrop) */
        int64_t *onehot_column, *onehot_off;   /* malloc'd (cfg.nonehot), (cfg.nonehot + 1) */
        float   *onehot_cats;             /* malloc'd */
    } preprocess;

    /* statistics (uses name, tenant, dataset, sites, min_sites, round_deadline_s, secure_aggregation) */
    gf_fedstats_config stats;             /* enabled 1 for kind statistics; range malloc'd */

    /* central */
    int epochs;                           /* default 1 */
    int batch;                            /* default 64 */
    struct {
        int cores;                        /* 1..1024, default 1 */
        int gpus;                         /* 0..64, default 0 */
        int64_t memory_mb;                /* 64..1048576, default 2048 */
        int64_t time_limit_s;             /* 1..30 days, default 3600 */
        int processes;                    /* central: MPI ranks of gf train, 1..cores, dividing cores
                                             (cores is the total; each rank gets cores / processes
                                             threads), default 1; program jobs: program->processes */
    } resources;                          /* central and program jobs */

    /* program */
    gf_program_spec *program;             /* malloc'd; NULL for the other kinds */
} gf_jobspec;

/* Parses and validates len bytes of JSON (need not be NUL-terminated) into
 * *out, every unset field at its default. On error *out is zeroed with
 * nothing allocated, and gf_last_error() says what and where. */
gf_status gf_jobspec_parse(const char *json, size_t len, gf_jobspec *out);

/* The configuration of a federated spec for the round runtime
 * (fed/fedspec.h; a deep copy: free it with gf_fedspec_free). GF_ERR_ARG for
 * a central spec. */
gf_status gf_jobspec_fedspec(const gf_jobspec *j, gf_fedspec *out);

/* Frees what parse allocated and zeroes *j; NULL and a zeroed spec are fine. */
void      gf_jobspec_free(gf_jobspec *j);

/* Canonical JSON of a parsed spec: every field explicit (defaults filled in,
 * absent optional values as null), keys in a fixed order, numbers in their
 * shortest round-tripping form, no whitespace. Parsing it again gives an
 * equal spec and serializing that gives the same bytes. *out is a malloc'd
 * NUL-terminated string for the caller to free(); NULL on error. */
gf_status gf_jobspec_to_json(const gf_jobspec *j, char **out);

#endif
