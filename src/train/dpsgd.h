/* Record-level differential privacy of the training step: DP-SGD (Abadi et
 * al. 2016) as Opacus does it. A step's batch is drawn by Poisson sampling
 * (each training example independently with probability q, from the CSPRNG
 * so that the batches are secret, as the accountant assumes); every example's
 * gradient over the flat parameter vector is clipped to L2 norm C (factor
 * min(1, C / ||g||)); the clipped gradients are summed, N(0, (sigma C)^2)
 * from libsodium's CSPRNG is added to every coordinate, and the sum is
 * divided by the expected batch size q n. The optimizer then applies that
 * gradient as usual. The RDP accountant of the subsampled Gaussian mechanism
 * turns (sigma, q, steps, delta) into epsilon.
 *
 * Per-example gradients come from batch-1 forward/backward passes through
 * `workers` small models that share the trained model's parameter vector,
 * run in parallel over the examples (worker w takes a fixed contiguous
 * share). Each worker sums its clipped gradients in example order and the
 * workers' sums are added in worker order: given the noise, the result
 * depends only on the data, the parameters and the worker count. Dropout and
 * layernorm act per sample, so the batch-1 passes give exact per-example
 * gradients. Everything is allocated at create; a step allocates nothing. */
#ifndef GF_TRAIN_DPSGD_H
#define GF_TRAIN_DPSGD_H

#include <stdint.h>
#include "core/error.h"
#include "data/dataset.h"
#include "engine/model.h"

typedef struct {
    int    enabled;
    double clip;       /* C > 0: L2 bound of one example's gradient */
    double noise;      /* sigma >= 0: noise multiplier (noise std = sigma * C) */
    double delta;      /* 0 < delta < 1: the delta epsilon is reported at */
} gf_dpsgd_config;

#define GF_DPSGD_DEFAULT_DELTA 1e-5

typedef struct gf_dpsgd gf_dpsgd;

/* What one step saw (sums over its examples, noise-free). */
typedef struct {
    int64_t examples;   /* batch size drawn */
    int64_t clipped;    /* examples whose gradient norm exceeded C */
    int64_t dropped;    /* examples whose gradient norm was NaN or inf: left out of the sum */
    int64_t correct;    /* right argmax predictions */
    double  loss_sum;   /* sum of the examples' losses */
} gf_dpsgd_stats;

/* GF_ERR_ARG naming the field when clip <= 0, noise < 0 or delta is not in
 * (0, 1) (or any of them is not finite). */
gf_status gf_dpsgd_check(const gf_dpsgd_config *c);

/* Per-example machinery for model m (which must outlive it): `workers`
 * batch-1 models on m's parameters and their gradient sums. */
gf_status gf_dpsgd_create(const gf_dpsgd_config *c, gf_model *m, int workers, gf_dpsgd **out);
void      gf_dpsgd_free(gf_dpsgd *d);

/* The private gradient of one step, into m->grads (nparams):
 *   (sum_i g_i min(1, C / ||g_i||) + N(0, (sigma C)^2 I)) / expected_batch
 * over examples idx[0..count) of data, g_i the gradient of example i's loss
 * (count may be 0: noise only). An example whose gradient norm is not
 * finite is left out of the sum (stats->dropped), never passed unclipped. Example i's dropout masks come from
 * gf_hash64(dropout_key, i). stats may be NULL. */
gf_status gf_dpsgd_gradient(gf_dpsgd *d, const gf_dataset *data, const int64_t *idx, int64_t count,
                            double expected_batch, uint64_t dropout_key, gf_dpsgd_stats *stats);

/* The Poisson batch of one step (each of 0..n-1 independently with
 * probability q), indices in increasing order into idx (room for n), their
 * number into *count. With noise (c->noise > 0) it comes from the CSPRNG
 * (gf_dp_poisson_sample): the accountant's amplification by subsampling
 * assumes that nobody knows which records a step used, and the run's seed is
 * no secret (the checkpoint stores it; a site's is derived from the job's
 * seed and the site's name, both known to the coordinator). Such batches are
 * not reproducible. Without noise (epsilon is infinite: no guarantee to
 * protect) it is gf_dpsgd_sample(n, q, seed, step): reproducible. */
gf_status gf_dpsgd_batch(const gf_dpsgd_config *c, int64_t n, double q, uint64_t seed, uint64_t step,
                         int64_t *idx, int64_t *count);

/* Poisson sampling of the batch of (seed, step), reproducible and so only
 * for runs without noise: each of 0..n-1 is in it independently with
 * probability q, decided by gf_hash64 of a key made from (seed, step) and
 * the index. Writes the chosen indices in increasing order to idx (room for
 * n) and returns how many. */
int64_t gf_dpsgd_sample(int64_t n, double q, uint64_t seed, uint64_t step, int64_t *idx);

/* The sampling of a run over n examples with batch B: q = min(1, B / n);
 * an epoch is ceil(n / B) steps (as `gf dp epsilon --epochs`). */
double  gf_dpsgd_sample_rate(int64_t n, int batch);
int64_t gf_dpsgd_steps_per_epoch(int64_t n, int batch);

/* Epsilon at c->delta after `steps` noisy steps at sample rate q: 0 when
 * steps == 0, +inf when c->noise == 0. order (may be NULL) gets the best
 * RDP order (NaN when there is none). */
gf_status gf_dpsgd_epsilon(const gf_dpsgd_config *c, double q, int64_t steps, double *eps,
                           double *order);

#endif
