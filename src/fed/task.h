/* The task message: what the coordinator tells a chosen site to do for one
 * round of a federated job (docs/federation.md, "Messages"). This file owns
 * its one encoder and its one decoder; the coordinator encodes
 * (gf_fedjob_task fills the struct from the open round), the site agent
 * decodes, and nothing else reads or writes task JSON.
 *
 * Wire form, one JSON object:
 *   {"job": J, "name": S, "tenant": S|null, "site": S, "round": R,
 *    "model": SPEC, "strategy": S, "mu": X,
 *    "local": {"epochs": N, "steps": N|null, "batch": N,
 *              "optim": {"name": S, "lr": X, "momentum": X, "weight_decay": X,
 *                        "beta1": X, "beta2": X, "eps": X},
 *              "dp_sgd": {"clip": X, "noise": X, "delta": X}      (optional)},
 *    "seed": N, "deadline_in_s": X,
 *    "model_path": "/v1/jobs/J/rounds/R/model",
 *    "update_path": "/v1/jobs/J/rounds/R/update",
 *    "secure_aggregation": {"index": I, "n": N, "k": K, "t": T, "d": D,
 *        "clip": X, "max_weight": X, "dp_clip": X, "dp_noise_std": X,
 *        "dp_count": B, "dp_count_noise_std": X,
 *        "path": "/v1/jobs/J/rounds/R/secagg", "attempt": HEX}  (optional),
 *    "evaluate": {"path": "/v1/jobs/J/rounds/R/eval", "only": B}  (optional),
 *    "statistics": {"columns": N, "bins": B, "classes": K, "min_count": M,
 *                   "ranges": [[lo, hi], ...]}  (optional: a statistics job),
 *    "preprocess": {...}  (optional: data/preprocess.h's JSON form, applied
 *                   to the site's data before it trains)}
 * "evaluate": score the downloaded model (the global model after round
 * R - 1) on the site's test split and POST the report (fed/evalreport.h) to
 * its path; "only": true for a round that trains nothing (the evaluation of
 * the final model after the last round): no update is sent.
 *
 * A statistics task has "model": "" and asks the site for the statistics
 * vector of its data (data/stats.h) instead of training (a site with fewer
 * than min_count rows declines: its statistics would describe too few
 * records, as FLARE's min_count filter); its ranges are
 * none, one for every column, or one per column (at most
 * GF_FED_TASK_MAX_RANGES, so the task stays small).
 *
 * The decoder is strict, and says what is wrong with a GF_ERR_FORMAT naming
 * the field ("task: local.batch must be ..."): a body over GF_FED_TASK_MAX
 * bytes, not JSON, duplicate keys, a missing key, a value of the wrong JSON
 * type, a number out of its range (integers beyond 64 bits, reals that
 * overflow or are not finite are refused by the parser), a string too long
 * or holding a NUL, a model spec that gf_spec_parse refuses, an unknown
 * strategy or optimizer, DP-SGD settings gf_dpsgd_check refuses, paths
 * other than the ones the job and round name. Unknown keys are refused at
 * every level: both ends are built from this file, so a key one end does
 * not know means the two disagree on the format, and a site must not train
 * on settings it would silently ignore. A new key is added here, to both
 * ends at once. The secure-aggregation parameters are checked for form and
 * range here; whether they fit the model and this site's policy is
 * site_secagg_begin's business. */
#ifndef GF_FED_TASK_H
#define GF_FED_TASK_H

#include <stddef.h>
#include <stdint.h>
#include "core/error.h"
#include "engine/optim.h"
#include "engine/spec.h"
#include "fed/fedspec.h"
#include "fed/secround.h"
#include "fed/strategy.h"
#include "privacy/secagg_peer.h"
#include "train/dpsgd.h"

#define GF_FED_TASK_MAX      ((size_t)64 << 10)   /* bytes of an encoded task */
#define GF_FED_TASK_PATH_MAX 96                   /* a route path in the task (with its NUL) */
#define GF_FED_TASK_MAX_RANGES 1000               /* per-column statistics ranges in one task */

/* The secure-aggregation part of a task (enabled 0: a plain round). */
typedef struct {
    int                enabled;
    int                index;           /* this site's client index, in [0, n) */
    gf_secround_public pub;             /* n, k, t, d, clip, ..., dp_count_noise_std (p.seed unused: zero) */
    char               path[GF_FED_TASK_PATH_MAX];    /* "/v1/jobs/J/rounds/R/secagg" */
    char               attempt[GF_SECAGG_ATTEMPT_MAX + 1];   /* the round attempt's token (lowercase hex) */
} gf_fed_task_secagg;

typedef struct {
    int64_t          job, round;        /* >= 1 */
    gf_fed_name      name;              /* the job's name */
    gf_fed_name      tenant;            /* "" (null on the wire): the operator's own job */
    gf_fed_name      site;              /* the site this task is for */
    char             model[GF_SPEC_MAX_LEN];   /* model spec (parses) */
    gf_strategy_type strategy;
    double           mu;                /* FedProx's proximal weight; 0 otherwise */
    struct {
        int             epochs;         /* [1, 1000000] */
        int64_t         steps;          /* -1 (null): no bound; else [0, 1000000000] */
        int             batch;          /* [1, 65536] */
        gf_optim_config optim;
        gf_dpsgd_config dpsgd;          /* record-level DP-SGD (enabled 0: absent) */
    } local;
    uint64_t         seed;              /* the job's seed, < 2^63 */
    double           deadline_in_s;     /* seconds until the round's deadline (may be < 0) */
    char             model_path[GF_FED_TASK_PATH_MAX];    /* "/v1/jobs/J/rounds/R/model" */
    char             update_path[GF_FED_TASK_PATH_MAX];   /* "/v1/jobs/J/rounds/R/update" */
    gf_fed_task_secagg secagg;
    struct {
        int  enabled;                   /* score the downloaded model and report it */
        int  only;                      /* an evaluation round: no training, no update */
        char path[GF_FED_TASK_PATH_MAX];   /* "/v1/jobs/J/rounds/R/eval" */
    } evaluate;
    char              *preprocess;      /* JSON (data/preprocess.h) or NULL. Decoded: malloc'd
                                         * (gf_fed_task_free); gf_fedjob_task's borrows the job's */
    gf_fedstats_config stats;           /* enabled: a statistics task. Decoded:
                                         * range malloc'd (gf_fed_task_free); gf_fedjob_task's borrows
                                         * the job's */
} gf_fed_task;

/* Frees what gf_fed_task_decode allocated (statistics ranges, preprocessing). */
void      gf_fed_task_free(gf_fed_task *t);

/* The paths of round `round` of job `job` into t (model_path, update_path,
 * secagg.path and evaluate.path). */
void      gf_fed_task_set_paths(gf_fed_task *t);

/* t as compact JSON (*json malloc'd, NUL-terminated; the caller frees). The
 * encoder checks what the decoder checks: a task it writes always decodes
 * to the same struct (GF_ERR_ARG, naming the field, otherwise). */
gf_status gf_fed_task_encode(const gf_fed_task *t, char **json);

/* json (len bytes, need not be NUL-terminated) into *out, strictly (see
 * above). On error *out is zeroed and the message names what is wrong. */
gf_status gf_fed_task_decode(const char *json, size_t len, gf_fed_task *out);

/* The answer to a site's task poll, *len bytes (*out malloc'd): the task's
 * JSON; or, with_model set (GET /v1/site/task?model=1; docs/federation.md,
 * "Messages"), the part before the round's model, which the coordinator
 * sends right after it: the JSON, spaces up to one byte short of a multiple
 * of 8, and a NUL byte. The model so starts 8-byte aligned in the site's
 * buffer and is read in place; JSON holds no raw NUL, so the first NUL ends
 * the task. */
gf_status gf_fed_task_encode_answer(const gf_fed_task *t, int with_model, char **out, size_t *len);

/* A task answer of len bytes, split: the task's JSON is its first
 * *task_len bytes; *model (*model_len bytes) is the model attached after
 * it, NULL when none is. */
void      gf_fed_task_split(const char *answer, size_t len, size_t *task_len, const uint8_t **model,
                            size_t *model_len);

#endif
