/* A site's part of one federated round: start from the global model, train
 * on the local data with the job's local recipe (plus FedProx's proximal
 * term or SCAFFOLD's correction), and return the update (new - global) and
 * the local metrics. Everything is over the flat parameter vector (d). */
#ifndef GF_FED_LOCAL_H
#define GF_FED_LOCAL_H

#include <stdint.h>
#include "core/error.h"
#include "data/dataset.h"
#include "engine/optim.h"
#include "train/dpsgd.h"

typedef struct {
    const char     *spec;       /* the job's model spec */
    int             epochs;     /* local epochs per round (>= 1) */
    int64_t         steps;      /* bound on optimizer steps per round; -1: none; 0: no training */
    int             batch, threads;
    uint64_t        seed;       /* this site's seed for this job */
    int64_t         round;      /* 1, 2, ...: picks this round's shuffles and dropout masks */
    gf_optim_config optim;      /* a fresh optimizer every round */
    float           prox_mu;    /* FedProx mu; 0: off */
    gf_dpsgd_config dpsgd;      /* record-level DP-SGD of the local steps (off when !enabled) */
} gf_local_config;

typedef struct {
    int64_t samples;            /* training samples (the aggregation weight) */
    int64_t steps;              /* optimizer steps taken */
    double  train_loss;         /* mean over the batches run; NaN when none */
    double  val_loss, val_accuracy;   /* on the validation split; NaN without one */
    double  seconds;
    int64_t dp_steps;           /* DP-SGD: noisy steps taken this round, at ... */
    double  dp_sample_rate;     /* ... this Poisson sample rate (batch / samples) */
} gf_local_result;

/* global (d): the round's global model. delta (d) out: trained - global.
 * SCAFFOLD (c != NULL): c (d) the server's control variate; ci (d) the
 * site's, updated in place to c_i+ (option II of Karimireddy et al.:
 * c_i+ = c_i - c + (global - trained) / (K lr), K the steps taken, lr
 * divided by (1 - momentum) for SGD with momentum: its effective step);
 * cdelta (d) out: c_i+ - c_i. val may be NULL or empty. */
gf_status gf_local_train(const gf_local_config *cfg, const gf_dataset *train, const gf_dataset *val,
                         const float *global, int64_t d, const float *c, float *ci, float *delta,
                         float *cdelta, gf_local_result *res);

#endif
