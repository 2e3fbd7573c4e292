/* A training run: model + optimizer + the counters that fix where the run
 * is (epochs and steps done). Randomness is counter-based: the shuffle of
 * epoch e comes from (seed, e) and the dropout masks of step s from
 * (seed, s), so (seed, epoch, step) is the whole RNG state and a resumed run
 * continues bit-identically. With DP-SGD on (cfg.dpsgd), step s's batch is
 * a Poisson sample instead of a slice of the shuffle, and the gradient is
 * clipped per example and noised (train/dpsgd.h): with noise, batches and
 * noise come from the CSPRNG and a run is not reproducible; without noise
 * (no guarantee) the batch of step s comes from (seed, s) and it is.
 *
 * Data parallel (dist set, train/dist.h): every rank runs the same loop over
 * the same shuffle; of each global batch of B samples, rank r computes the
 * gradient of its own contiguous shard (gf_dist_shard), weighted by its
 * share of the batch; the summed flat gradient (one all-reduce per optimizer
 * step, after accumulation) is the single-process gradient of the whole
 * batch up to float summation order, so every rank takes the same step.
 * Loss and accuracy are summed over the ranks too. */
#ifndef GF_TRAIN_TRAINER_H
#define GF_TRAIN_TRAINER_H

#include <stdint.h>
#include "core/error.h"
#include "data/dataset.h"
#include "engine/model.h"
#include "engine/optim.h"
#include "train/dist.h"
#include "train/dpsgd.h"

typedef struct {
    char     spec[1024];     /* model spec as given */
    int      batch;
    int      threads;
    uint64_t seed;
    gf_optim_config optim;
    gf_dpsgd_config dpsgd;   /* record-level DP-SGD (off when !enabled) */
    /* Optional (0 = off): clip the (accumulated) gradient to this global L2
     * norm before each step; the learning-rate schedule (optim.lr is its
     * peak); accum > 1: each optimizer step averages the gradients of
     * `accum` consecutive batches (the epoch's last step may average fewer). */
    float    grad_clip;
    gf_lr_schedule lr_schedule;
    int      accum;
    const struct gf_backend *backend;   /* runs the model and optimizer (NULL: cpu) */
} gf_train_config;

typedef struct {
    gf_train_config cfg;
    gf_model *model;
    gf_optim  optim;
    int       epoch;         /* epochs completed */
    int64_t   step;          /* optimizer steps done */
    int64_t  *perm;          /* (perm_n) shuffle of the current epoch */
    int64_t   perm_n;
    int32_t  *labels;        /* (batch, positions) */
    float    *accum_grads;   /* (nparams) when cfg.accum > 1 */
    int       accum_count;   /* batches summed into accum_grads so far */
    /* Federated local objectives, over the flat parameter vector (unused when
     * NULL / 0; the caller owns the buffers):
     *   FedProx (Li et al. 2020): + mu/2 ||w - prox_center||^2 in the loss,
     *     so mu (w - prox_center) is added to every gradient;
     *   SCAFFOLD (Karimireddy et al. 2020): grad_correction = c - c_i is
     *     added to every gradient. */
    const float *prox_center;      /* (nparams) */
    float        prox_mu;
    const float *grad_correction;  /* (nparams) */
    /* Stop an epoch early once `step` reaches this (-1: no limit). A cut
     * epoch still counts as done; its stats cover the batches it ran. */
    int64_t      stop_at_step;
    /* DP-SGD (cfg.dpsgd.enabled): the per-example workers, the noisy steps
     * taken (what the accountant counts) and the sample rate they used
     * (0 before the first; a later epoch must use the same). */
    gf_dpsgd    *dp;
    int64_t      dp_steps;
    double       dp_sample_rate;
    /* Data parallelism across ranks (NULL: one process; the caller owns it
     * and sets it before the first epoch; not with DP-SGD). */
    const gf_dist *dist;
} gf_trainer;

typedef struct {
    double  loss;            /* mean training loss over the epoch */
    double  accuracy;        /* training accuracy over the epoch */
    double  compute_s;       /* seconds in forward + backward + optimizer */
    double  allreduce_s;     /* of which summing gradients and stats across ranks */
    int64_t images;
} gf_epoch_stats;

/* Called after every batch: batches done / total, running loss, img/s. */
typedef void (*gf_progress_fn)(void *ctx, int64_t done, int64_t total, double loss,
                               double images_per_s);

/* New run: builds the model, initialises it from cfg->seed. */
gf_status gf_trainer_create(const gf_train_config *cfg, gf_trainer **out);
void      gf_trainer_free(gf_trainer *t);

/* Checks a dataset fits the model: sample size, label range, finite values;
 * a token model needs a token dataset windowed to its context
 * (gf_dataset_window) with ids below its vocabulary. */
gf_status gf_trainer_check_data(const gf_model *m, const gf_dataset *d, const char *what);

/* One epoch over `train` in the order of its (seed, epoch) shuffle; the last
 * batch may be short. Fails (GF_ERR_NUMERIC) if the loss stops being finite.
 * With DP-SGD: ceil(n / batch) steps, each on a Poisson sample of rate
 * q = batch / n (stats count the examples drawn); GF_ERR_MISMATCH if q
 * differs from the rate of the run's earlier DP steps. */
gf_status gf_trainer_epoch(gf_trainer *t, const gf_dataset *train, gf_epoch_stats *stats,
                           gf_progress_fn progress, void *ctx);

/* Data parallel: checks every rank holds the same run before its first
 * step (a collective call: every rank of t->dist must make it): model spec
 * and settings (batch, seed, optimizer, schedule, clipping, accumulation),
 * the training data (size and a hash of its contents) and the state
 * (parameters, optimizer state, counters). GF_ERR_MISMATCH naming what
 * differs, on every rank alike. One process: GF_OK. */
gf_status gf_trainer_dist_check(const gf_trainer *t, const gf_dataset *train);

/* Mean loss and accuracy of the model over a dataset of either kind, in
 * batches of the run's batch size (token data: per position). */
gf_status gf_trainer_evaluate(gf_trainer *t, const gf_dataset *d, double *loss, double *accuracy);

/* Epsilon spent so far by a DP-SGD run (at cfg.dpsgd.delta, over dp_steps
 * steps at dp_sample_rate); 0 before its first step. GF_ERR_ARG when DP-SGD
 * is off. order (may be NULL) gets the best RDP order. */
gf_status gf_trainer_dp_epsilon(const gf_trainer *t, double *eps, double *order);

#endif
