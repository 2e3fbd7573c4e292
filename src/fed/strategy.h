/* Server-side aggregation strategies of federated learning, over the flat
 * parameter vector (d): each round, sites' updates (new model - the global
 * model they started from) go in one at a time; finish_round turns them into
 * the next global model. No per-layer code: every strategy is a loop over
 * flat vectors.
 *
 * Two families:
 *   streaming (sum-based): FedAvg, FedAvgM, FedProx, FedAdam, FedYogi,
 *     FedAdagrad, SCAFFOLD. A round holds one or two (d) double accumulators,
 *     whatever the number of sites; server state is 0, 1 or 2 (d) floats.
 *   robust (order statistics / distances): coordinate-wise median, trimmed
 *     mean, Krum, Multi-Krum. A round buffers every update: (max_sites, d)
 *     floats, plus (d) doubles for the aggregate and, for Krum,
 *     (max_sites, max_sites) doubles of pairwise distances.
 *
 * Deterministic: the same adds in the same order give the same bits, whatever
 * the OpenMP thread count (every reduction has a fixed order; loops split
 * only over independent coordinates or pairs of sites).
 *
 * Checks: gf_strategy_add rejects non-finite values, bad weights and too many
 * updates; finish_round rejects an empty round, too few updates for Krum and
 * a result that would not be finite in float. Every error returns a status
 * with a gf_errorf message and leaves the round, the server state and the
 * global model exactly as they were. */
#ifndef GF_FED_STRATEGY_H
#define GF_FED_STRATEGY_H

#include <stdint.h>
#include "core/error.h"

typedef enum {
    GF_STRAT_FEDAVG,        /* McMahan et al. 2017 */
    GF_STRAT_FEDAVGM,       /* Hsu et al. 2019, server momentum */
    GF_STRAT_FEDPROX,       /* Li et al. 2020: server = FedAvg, mu is for the sites */
    GF_STRAT_FEDADAM,       /* Reddi et al. 2021, Algorithm 2 */
    GF_STRAT_FEDYOGI,       /* Reddi et al. 2021, Algorithm 2 */
    GF_STRAT_FEDADAGRAD,    /* Reddi et al. 2021, Algorithm 2 */
    GF_STRAT_SCAFFOLD,      /* Karimireddy et al. 2020, server side */
    GF_STRAT_MEDIAN,        /* Yin et al. 2018, coordinate-wise median */
    GF_STRAT_TRIMMED_MEAN,  /* Yin et al. 2018, coordinate-wise trimmed mean */
    GF_STRAT_KRUM,          /* Blanchard et al. 2017 */
    GF_STRAT_MULTIKRUM,     /* Blanchard et al. 2017 */
} gf_strategy_type;

#define GF_STRAT_COUNT (GF_STRAT_MULTIKRUM + 1)

/* Largest total weight of one round of the weighted (FedAvg-family)
 * strategies: keeps sum_i w_i * update_i finite in double for any finite
 * float update (DBL_MAX / FLT_MAX is about 5e269). */
#define GF_STRATEGY_MAX_WEIGHT_SUM 1e260

typedef struct {
    gf_strategy_type type;
    /* eta, the server step: global += eta * (aggregate step). Used by FedAvg,
     * FedProx, FedAvgM, FedAdam/Yogi/Adagrad and SCAFFOLD; eta = 1 gives
     * plain FedAvg and SCAFFOLD's eta_g = 1. Ignored by the robust ones. */
    double server_lr;
    double server_momentum;  /* FedAvgM beta in [0, 1) */
    double beta1, beta2, tau;/* FedAdam / FedYogi / FedAdagrad (beta2 unused by Adagrad) */
    double mu;               /* FedProx proximal coefficient (>= 0): carried for the
                              * sites' local objective (mu/2)|w - w_global|^2; the
                              * server side is FedAvg */
    double trim_ratio;       /* trimmed mean: fraction cut at EACH end per coordinate,
                              * k = floor(trim_ratio * n) values, 0 <= r < 0.5 */
    int    krum_f;           /* Krum/Multi-Krum: assumed number of Byzantine sites (>= 0) */
    int    multikrum_m;      /* Multi-Krum: how many lowest-score updates to average;
                              * 0 = n - f; values above n are clamped to n */
    int    scaffold_sites_total; /* SCAFFOLD: N, the total number of sites (>= 1, no
                              * default: the caller must set it) */
} gf_strategy_config;

/* Defaults per strategy (Flower's where Flower has one, else the paper's):
 *   FedAvg, FedProx: server_lr 1 (plain FedAvg); FedProx mu 0.01 (Li et al.
 *     tune mu in {0.001, 0.01, 0.1, 1}; Flower has no default).
 *   FedAvgM: server_lr 1, server_momentum 0.9 (Hsu et al.'s usual beta;
 *     Flower's default 0 would make it plain FedAvg).
 *   FedAdam: eta 0.1, beta1 0.9, beta2 0.99, tau 1e-9 (Flower).
 *   FedYogi: eta 0.01, beta1 0.9, beta2 0.99, tau 1e-3 (Flower).
 *   FedAdagrad: eta 0.1, beta1 0, tau 1e-9 (Flower, whose FedAdagrad passes
 *     beta_1 = 0, so m is the round's delta).
 *   SCAFFOLD: server_lr 1 (eta_g = 1 as in Karimireddy et al.);
 *     scaffold_sites_total 0, which create rejects until the caller sets N.
 *   Trimmed mean: trim_ratio 0.2 (Flower's FedTrimmedAvg beta).
 *   Krum, Multi-Krum: krum_f 0, multikrum_m 0 (Flower's Krum defaults);
 *     set krum_f to the number of Byzantine sites to tolerate. */
gf_strategy_config gf_strategy_defaults(gf_strategy_type t);

/* "fedavg", "fedavgm", "fedprox", "fedadam", "fedyogi", "fedadagrad",
 * "scaffold", "median", "trimmed_mean", "krum", "multikrum". */
gf_status   gf_strategy_type_parse(const char *name, gf_strategy_type *out);
const char *gf_strategy_type_name(gf_strategy_type t);   /* "unknown" if out of range */
/* 1 for the sum-based ones: O(1) model-sized buffers whatever the number of sites. */
int         gf_strategy_is_streaming(gf_strategy_type t);

typedef struct gf_strategy gf_strategy;

/* d: parameters; max_sites (>= 1): how many updates a robust strategy can
 * buffer per round (also sizes Krum's distance matrix; the streaming ones
 * take any number and ignore it). Validates cfg; *out is NULL on error. A new
 * strategy is at the start of a round, with zero server state except FedOpt's
 * v, which starts at tau^2 (Reddi et al.'s v_{-1} >= tau^2). */
gf_status gf_strategy_create(const gf_strategy_config *cfg, int64_t d, int max_sites,
                             gf_strategy **out);
void      gf_strategy_free(gf_strategy *s);   /* NULL is fine */
/* Bytes gf_strategy_create allocates for type t, d and max_sites, counted
 * without allocating (double: no overflow); for sizing checks. */
double    gf_strategy_bytes(gf_strategy_type t, int64_t d, int max_sites);

/* Start a round: discards any updates added since the last finish_round.
 * (finish_round also starts the next round, so calling this is optional.) */
gf_status gf_strategy_begin_round(gf_strategy *s);

/* update (d): a site's new model minus the global model it started from.
 * weight: its sample count (> 0, finite); FedAvg-family means are weighted
 * by it; SCAFFOLD and the robust strategies ignore it (unweighted).
 * control_delta (d): SCAFFOLD's c_i+ - c_i, required for SCAFFOLD and must
 * be NULL for the others.
 * Errors (round unchanged): GF_ERR_NUMERIC for a NaN/Inf value; GF_ERR_ARG
 * for a bad weight, a round weight sum over GF_STRATEGY_MAX_WEIGHT_SUM, more
 * than max_sites updates (robust) or more than scaffold_sites_total (SCAFFOLD). */
gf_status gf_strategy_add(gf_strategy *s, const float *update, double weight,
                          const float *control_delta);

/* The same with the update multiplied by scale in (0, 1] first (clipping:
 * scale = min(1, S / ||update||)), without a copy. */
gf_status gf_strategy_add_scaled(gf_strategy *s, const float *update, double scale, double weight,
                                 const float *control_delta);

/* Adds noise[0..len) to the round's running sum at [offset, offset + len)
 * (the sum of weight x update; the divisor stays the weight sum): for
 * differential privacy, noise on the sum before the mean. FedAvg family
 * only (not SCAFFOLD, not the robust ones); needs at least one update this
 * round. May be called in chunks. */
gf_status gf_strategy_perturb_sum(gf_strategy *s, int64_t offset, const float *noise, int64_t len);

/* The same with exact integer noise on a lattice: each running sum at
 * [offset, offset + len) is snapped to the nearest multiple of unit (a
 * power of two) and k[j] * unit added, so the noised sum is exactly
 * (integer) * unit in double (privacy/ddg.h, gf_ddg_plan_central): no
 * floating-point rounding touches the noise. GF_ERR_ARG as above, or when
 * a snapped value would not be exact (|sum / unit| >= 2^52). */
gf_status gf_strategy_snap_noise_sum(gf_strategy *s, int64_t offset, const int64_t *k, int64_t len, double unit);

/* Updates added since the round began. */
int       gf_strategy_num_updates(const gf_strategy *s);

/* global (d), in/out: applies the round's aggregate and updates the server
 * state, then starts the next round. Fails with GF_ERR_ARG when no update
 * was added or, for Krum/Multi-Krum, n < 2f + 3; with GF_ERR_NUMERIC when the
 * new global or state would not be finite in float. On failure global, state
 * and the round's updates are unchanged (add more, or begin_round). */
gf_status gf_strategy_finish_round(gf_strategy *s, float *global);

/* The same step read from `from` (d) and written to `to` (d) in one pass
 * (from == to: in place, as gf_strategy_finish_round; buffers that
 * overlap otherwise are not allowed): the new global
 * model goes into another buffer while readers still hold the old one,
 * with no copy first. On failure `to` is not written. */
gf_status gf_strategy_finish_round_into(gf_strategy *s, const float *from, float *to);

/* Server state that must survive a restart, as named (d) float vectors:
 *   FedAvgM "server.momentum"; FedAdam/Yogi/Adagrad "server.m", "server.v";
 *   SCAFFOLD "server.c"; none for the others.
 * Restoring = copying saved vectors into gf_strategy_state(s, i) of a fresh
 * strategy with the same config; it then continues bit-identically. Do it
 * between rounds. */
int         gf_strategy_state_count(const gf_strategy *s);
const char *gf_strategy_state_name(const gf_strategy *s, int i);   /* NULL if out of range */
float      *gf_strategy_state(gf_strategy *s, int i);              /* (d) writable; NULL if out of range */

/* SCAFFOLD: the global control variate c (d) that the sites need; NULL for others. */
const float *gf_strategy_control(const gf_strategy *s);

#endif
