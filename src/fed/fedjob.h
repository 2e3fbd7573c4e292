/* One running federated job on the coordinator: the global model, the
 * strategy, and the open round (its participants and what they sent). It
 * holds O(1) model-sized buffers whatever the number of sites: the encoded
 * global body (which IS the global vector, served to every download without
 * a copy) and the strategy's accumulators. Inbound updates are checked against the model
 * before they touch anything.
 *
 * Not thread-safe: the coordinator calls everything under its lock, except
 * gf_fedjob_checkpoint, which it calls unlocked, from its driver thread
 * while the round is closed (no upload can reach the job), or from its
 * recorder thread for a job without server state, with the closed round's
 * own model (the driver may be in the next round meanwhile), and
 * gf_fedjob_decode_upload, which touches no job and runs unlocked. */
#ifndef GF_FED_FEDJOB_H
#define GF_FED_FEDJOB_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include "core/blob.h"
#include "core/error.h"
#include "data/dataset.h"
#include "data/stats.h"
#include "engine/model.h"
#include "fed/strategy.h"
#include "fed/update.h"
#include "fed/fedspec.h"
#include "fed/secround.h"
#include "fed/task.h"

#define GF_FEDJOB_DECLINE_MAX 200    /* bytes of a decline's reason kept with the round */

typedef struct {
    gf_fed_name name;
    int     sent;                 /* its update arrived */
    int     declined;             /* it said it cannot train this round */
    char    decline_reason[GF_FEDJOB_DECLINE_MAX + 1];   /* why, cut short ("" unless declined) */
    int64_t samples, bytes_up;
    double  train_loss, val_accuracy;
    int     evaluated;            /* its evaluation report for this round arrived */
} gf_fedjob_part;

typedef struct {
    int64_t      id;
    gf_fedspec   spec;            /* a deep copy of the configuration */
    gf_manifest  model;           /* the model's tensors (d) */
    gf_manifest  wire;            /* what travels: model, or model + "control.*" (SCAFFOLD, 2d) */
    gf_strategy *strategy;
    gf_blob     *global;          /* safetensors of `wire`; the global (d) [+ c (d)] lies inside */
    gf_blob     *spare;           /* the global before it (or NULL), written over by the next copy-on-write
                                     once its readers are gone: no fresh pages to fault in each round;
                                     dropped by a round that aggregates in place */
    int64_t      completed;       /* last completed round */
    int64_t      checkpoints[2];  /* the rounds of the last two checkpoints written, older first (0: none) */
    /* the open round (round == 0: none) */
    int64_t      round;
    int          closing;         /* aggregated; being written: uploads are late */
    double       opened_at, deadline;   /* gf_now() seconds */
    int          nparts, received, declined;
    int          failed_rounds;   /* rounds in a row aborted with every answer a decline */
    gf_fedjob_part *parts;        /* (nparts); under secure aggregation part i is client i */
    gf_secround    *sec;          /* the open round's secure aggregation (NULL without) */
    double       loss_sum, weight_sum;
    /* client-level DP: the clip of the open round (adaptive clipping moves
     * it every round) and, central DP, the sum of the updates' count reports
     * (gf_dp_count_report: +1/2 unclipped, -1/2 clipped) */
    double       dp_clip;
    double       dp_count_sum;
    double       dp_clip_used;    /* the clip of the last aggregated round */
    /* evaluation on a held-out set ("eval" in the spec), run by the
     * coordinator as a child process (facility/fedeval.h): the resolved reader spec
     * ("" = none), its split, and whether it failed (then it is not retried) */
    char         eval_data[2 * PATH_MAX + 128];
    int          eval_train, eval_failed;
    /* per-site evaluation (spec.eval_every, fedjob_eval.c): the open round
     * is the evaluation of the final model (trains nothing); the reports
     * of the open round; whether the final model's round was held */
    int          eval_round, evaluated, final_evaluated;

    /* a statistics job (spec.stats.enabled): the wire is one tensor "stats"
     * of the plan's length; the sites' vectors are summed here (min/max
     * folded) instead of by the strategy, and the aggregated round's result
     * is rendered (fedstats.h) for gf_fedjob_checkpoint to write */
    double      *stats_acc;       /* (stats length) */
    char        *stats_json;      /* the last aggregated result, or NULL */
} gf_fedjob;

/* The plan of a statistics job's configuration. */
void gf_fedjob_stats_plan(const gf_fedstats_config *c, gf_stats_plan *out);

/* Starts the runtime of job `id` for its configuration (copied). completed > 0:
 * resumes from DIR/artifacts/job-ID/round-COMPLETED.safetensors (global and
 * strategy state); else the global model is initialised from the job's seed.
 * sites_total: SCAFFOLD's N when the spec says "all". */
gf_status gf_fedjob_start(const char *data_dir, int64_t id, const gf_fedspec *spec, int64_t completed,
                          int sites_total, gf_fedjob **out);
void      gf_fedjob_free(gf_fedjob *j);

/* Opens round `round` (== completed + 1) for the named participants. */
gf_status gf_fedjob_open(gf_fedjob *j, int64_t round, const char *const *names, int n, double now);

/* The participant slot of `site` in the open round, or NULL. */
gf_fedjob_part *gf_fedjob_part_of(gf_fedjob *j, const char *site);
/* Its index in parts, or -1. */
int             gf_fedjob_part_index(const gf_fedjob *j, const char *site);

/* The task of the open round for `site` (a participant), its deadline
 * counted from now (gf_now() seconds); gf_fed_task_encode makes the message. */
void gf_fedjob_task(const gf_fedjob *j, const char *site, double now, gf_fed_task *out);
/* The model a task of the open round reads, with a reference for the
 * caller (gf_blob_unref): what GET model_path answers. NULL for a
 * statistics round, which reads none. */
gf_blob *gf_fedjob_task_model(gf_fedjob *j);

/* Secure aggregation: whether `site` may speak for round `round` and its
 * current attempt now (the open round, chosen, not declined, the attempt
 * token of gf_secround_attempt): else why, with *http (400, 403, 409). */
gf_status gf_fedjob_check_secagg(gf_fedjob *j, const char *site, int64_t round, const char *attempt, int *http);
/* A masked input from `site` (gf_secround_add_masked), then counted as its
 * update. *http as for uploads on refusal. */
gf_status gf_fedjob_add_masked(gf_fedjob *j, const char *site, int64_t round, const char *attempt,
                               const uint8_t *body, size_t len, int *http);

/* An inbound plain update, in three steps so that the model-sized work
 * happens outside the coordinator's lock:
 *   1. gf_fedjob_check_answer (lock held): the open round, the site chosen,
 *      no answer from it yet (cheap; refuses before the body is read);
 *   2. gf_fedjob_decode_upload (no lock, no job): the body against a copy
 *      of the job's wire manifest: size, safetensors format, every tensor
 *      with its dtype and shape, finite values, the metadata, and, when
 *      norm_d > 0 (gf_fedjob_norm_d), the L2 norm of the model part (for
 *      client-level DP clipping);
 *   3. gf_fedjob_add_upload (lock held): checks the answer again (the round
 *      may have closed, the site declined or sent meanwhile) and that the
 *      body was checked against this job's layout, then folds it into the
 *      strategy. The view is closed in every case.
 * On refusal each returns an error with a gf_errorf message and sets *http
 * to the status to answer (400, 403, 409, 413; 500 for a strategy failure);
 * nothing in the job changed. */
typedef struct {
    gf_update_view view;
    int64_t        d;             /* the wire length it was checked against */
    int64_t        samples, steps;
    double         train_loss, val_loss, val_accuracy;
    double         norm;          /* L2 norm of the model part (the first norm_d values); NaN: not asked */
    double         dpsgd_epsilon; /* the site's own DP-SGD epsilon ("gf.dpsgd_epsilon"): >= 0,
                                   * +inf (noise 0), or NaN when not reported */
} gf_fedjob_upload;
gf_status gf_fedjob_check_answer(gf_fedjob *j, const char *site, int64_t round, int *http);
gf_status gf_fedjob_decode_upload(const gf_manifest *wire, int64_t norm_d, const uint8_t *body, size_t len,
                                  size_t max_len, gf_fedjob_upload *up, int *http);
/* What job j's uploads need the norm of: its model's length under
 * client-level DP (clipping), else 0 (no pass over the vector). */
int64_t   gf_fedjob_norm_d(const gf_fedjob *j);
/* The largest plain update body of job j (its wire vector plus 1 MiB of header and metadata). */
size_t    gf_fedjob_upload_max(const gf_fedjob *j);
/* Records that `site` cannot train this round, and why (kept, cut short,
 * with the part; the whole reason goes to the audit log). *http as for
 * uploads on refusal. */
gf_status gf_fedjob_decline(gf_fedjob *j, const char *site, int64_t round, const char *reason, int *http);

/* Step 3 above: a decoded upload of `bytes` bytes for round `round`. */
gf_status gf_fedjob_add_upload(gf_fedjob *j, const char *site, int64_t round, gf_fedjob_upload *up, int64_t bytes,
                               int *http);

/* Aggregates the open round into the next global model (copy-on-write when
 * downloads still hold the old body) and marks it closing. Fails, changing
 * nothing, if the strategy refuses (e.g. Krum with too few updates). Under
 * secure aggregation the round's unmasked sum (phase DONE) is the input:
 * the weighted mean with its weight sum, or under DP the noised sum of the
 * clipped updates over their number. */
gf_status gf_fedjob_aggregate(gf_fedjob *j, double *train_loss);


/* Writes DIR/artifacts/job-ID/round-R.safetensors for the aggregated round R
 * (atomically) and removes the checkpoint written before the previous one
 * (two are kept: the store may lag one behind); loadable by gf eval. The
 * model is `model` (an encoded global of this job: a closed round's, while
 * the job runs the next), or NULL for the job's global now; the strategy's
 * state, if it keeps one, is the live strategy's (the caller writes it
 * before the next round aggregates). A statistics job writes
 * DIR/artifacts/job-ID/statistics.json instead. */
gf_status gf_fedjob_checkpoint(gf_fedjob *j, const char *data_dir, int64_t round, double accuracy, gf_blob *model);

/* Ends the round: completed = round when done, else (aborted) the round's
 * updates are dropped; no round is open afterwards. */
void      gf_fedjob_end_round(gf_fedjob *j, int done);

/* ---- per-site evaluation (fedjob_eval.c) ----
 * With spec.eval_every = N > 0 the task of round r asks the sites to score
 * the model they download (the global model after round r - 1) when r - 1
 * >= 1 and N divides r - 1; after the last round, one evaluation round
 * (number rounds + 1, opened with gf_fedjob_open_eval) asks the chosen
 * sites to score the final model and train nothing. */

/* Whether the open round's tasks ask for an evaluation. */
int       gf_fedjob_round_evaluates(const gf_fedjob *j);
/* Opens the evaluation round of the final model (completed == rounds) for
 * the named sites. */
gf_status gf_fedjob_open_eval(gf_fedjob *j, const char *const *names, int n, double now);
/* Ends it: no round is open, final_evaluated is set. */
void      gf_fedjob_end_eval(gf_fedjob *j);
/* An evaluation report from `site` for round `round`: the open round asks
 * for one, the site was chosen, has not declined and has not reported yet
 * (check); then counted (add, which checks again). Else why, with *http
 * (403, 409). */
gf_status gf_fedjob_check_eval(const gf_fedjob *j, const char *site, int64_t round, int *http);
gf_status gf_fedjob_add_eval(gf_fedjob *j, const char *site, int64_t round, int *http);

/* DIR/artifacts/job-ID/statistics.json */
gf_status gf_fedjob_stats_path(const char *data_dir, int64_t id, char *out, size_t size);

/* DIR/artifacts/job-ID/round-R.safetensors */
gf_status gf_fedjob_artifact_path(const char *data_dir, int64_t id, int64_t round, char *out, size_t size);

#endif
