/* Client-level differential privacy of federated rounds (DP-FedAvg,
 * McMahan et al. 2018, with central noise): each site's update is clipped
 * to L2 norm `clip` and counts with weight 1; Gaussian noise of standard
 * deviation noise * clip is added to the round's sum before the mean. The
 * RDP accountant turns (noise, sample rate, rounds, delta) into epsilon; a
 * budget stops the job before the round that would exceed it. */
#ifndef GF_PRIVACY_DP_H
#define GF_PRIVACY_DP_H

#include <stdint.h>
#include "core/error.h"

typedef struct {
    int    enabled;
    double clip;       /* S > 0: L2 bound of one site's update */
    double noise;      /* sigma >= 0: noise multiplier (std = sigma * S) */
    double delta;      /* 0 < delta < 1 (default 1e-5) */
    double epsilon;    /* budget > 0, or 0: none (then epsilon is only reported) */
    /* adaptive clipping (Andrew et al. 2021, "Differentially Private Learning
     * with Adaptive Clipping"): clip starts at `clip` and follows the
     * `quantile` of the update norms (dp_adaptive.c) */
    int    adaptive;
    double quantile;     /* target fraction of updates left unclipped, (0, 1); default 0.5 */
    double clip_lr;      /* geometric step eta_C > 0; default 0.2 */
    double count_noise;  /* sigma_b: std of the noise on the unclipped count; 0: sites / 20 */
} gf_dp_config;

/* min(1, clip / ||x||_2) over x (n): the factor that clips x (1 for 0);
 * 0 when the norm is NaN or inf (x must then be dropped, not scaled: 0 times
 * NaN is NaN). */
double gf_dp_clip_scale(const float *x, int64_t n, double clip);
/* The same from the norm (gf_dp_norm: ||x||_2 over x (n)), so that the norm
 * can be taken where the clip is not known yet. */
double gf_dp_norm(const float *x, int64_t n);
double gf_dp_clip_scale_norm(double norm, double clip);

/* n independent N(0, stddev^2) values from libsodium's CSPRNG (a fresh
 * 256-bit key from the OS per call, expanded by ChaCha20; Marsaglia's polar
 * method on 53-bit uniforms): unpredictable to anyone, the coordinator
 * included. Parallel (OpenMP) over chunks of 2048 values. */
gf_status gf_dp_gaussian(float *out, int64_t n, double stddev);

/* Poisson sampling from the same CSPRNG (a fresh key from the OS per call,
 * expanded by ChaCha20): each of 0..n-1 is taken independently with
 * probability q (a 53-bit uniform below q), so nobody, whoever knows a
 * run's seed, can tell which were taken. Writes the taken indices in
 * increasing order to idx (room for n) and their number to *count. */
gf_status gf_dp_poisson_sample(int64_t n, double q, int64_t *idx, int64_t *count);

/* Adaptive clipping: what a site reports of its update, b - 1/2 with b = 1
 * when the update's norm was at most the clip (clip scale >= 1), else 0
 * (Andrew et al. 2021, as TensorFlow Privacy's quantile estimator): +-1/2,
 * so one site moves the count's sum by at most 1/2 (a site left out, or
 * zeroed out, reports 0). */
double gf_dp_count_report(double clip_scale);

/* Adaptive clipping, for a round of `sites` updates: *count_std =
 * sigma_b (count_noise, or sites / 20 when 0), and *update_noise = the
 * multiplier of the noise on the sum of clipped updates, (sigma^-2 -
 * (2 sigma_b)^-2)^-1/2. The count's sum of gf_dp_count_report values has
 * sensitivity 1/2, so its noise sigma_b is a multiplier of 2 sigma_b, and
 * the pair of Gaussian mechanisms (updates, count) costs what one of
 * multiplier (update_noise^-2 + (2 sigma_b)^-2)^-1/2 = sigma costs (Andrew
 * et al., Thm 1): the accountant keeps using sigma. Without adaptive
 * clipping, sigma and 0. GF_ERR_ARG when sigma >= 2 sigma_b (the count's
 * noise would need all the budget; raise count_noise). */
gf_status gf_dp_round_noise(const gf_dp_config *c, int sites, double *update_noise, double *count_std);

/* The next round's clip from this round's: clip * exp(-clip_lr * (f -
 * quantile)), f = noised_sum / sites + 1/2 the noised fraction of updates
 * whose norm was at most clip (may fall outside [0, 1]); noised_sum is the
 * sum of the sites' gf_dp_count_report values plus the count's noise. */
double gf_dp_clip_next(const gf_dp_config *c, double clip, double noised_sum, int sites);

/* The sampling rate client-level accounting uses: 1. The coordinator picks
 * each round's sites (and the audit log and the job's status name them), so
 * who took part is no secret from the coordinator or the operator, and
 * amplification by sampling does not hold against them: every site is
 * counted as if it took part in every round, whatever the job's fraction. */
#define GF_DP_CLIENT_SAMPLE_RATE 1.0

/* Epsilon spent after `rounds` rounds of client-level DP, against the
 * coordinator and the operator (sample rate GF_DP_CLIENT_SAMPLE_RATE;
 * neighbouring jobs differ in one site's data, its update and count report
 * replaced by zero): 0 when rounds == 0, +inf when noise == 0. order (may be
 * NULL) gets the best RDP order. */
gf_status gf_dp_spent(const gf_dp_config *c, int64_t rounds, double *eps, double *order);

#endif
