/* Accounting and planning of the distributed discrete Gaussian (Kairouz,
 * Liu and Steinke 2021, "The Distributed Discrete Gaussian Mechanism for
 * Federated Learning with Secure Aggregation") as secure aggregation runs
 * it under client-level DP:
 *
 *   each site clips its update to L2 norm S, scales it by gamma,
 *   rounds every coordinate stochastically to an integer (unbiased: floor
 *   or ceil with probability the fraction), adds N_Z(0, sigma^2) to every
 *   coordinate (privacy/dgauss.h) and masks the result modulo 2^32; the
 *   coordinator learns the sum over the survivors, at least m of them.
 *
 * Sensitivity after rounding: a site's rounded vector differs from gamma
 * times its clipped update by less than 1 in each of the d coordinates, so
 * its L2 norm is below gamma S + sqrt(d) whatever the rounding drew
 * (Delta2 = gamma S + sqrt(d): the stated slack, no conditional rounding
 * needed). The sum of m sites' noise is not a discrete Gaussian; their
 * Proposition 14 bounds its RDP at order alpha, with s = Delta2 / (sqrt(m)
 * sigma) and tau = 10 sum_{k=1}^{m-1} exp(-2 pi^2 sigma^2 k / (k + 1)), by
 *   min( alpha/2 s^2 + tau d,  alpha/2 (s + sqrt(d) tau)^2 ).
 * The second form is that of a Gaussian mechanism of multiplier
 * 1 / (s + sqrt(d) tau): gf_ddg_multiplier. A round is planned so that
 * this multiplier is at least the job's, and the job's RDP accountant
 * (accountant.h) then bounds the release as it stands. */
#ifndef GF_PRIVACY_DDG_H
#define GF_PRIVACY_DDG_H

#include <stdint.h>
#include "core/error.h"

/* tau of Proposition 14 for m >= 1 sites each adding N_Z(0, sigma2). */
double gf_ddg_tau(double sigma2, int m);

/* The RDP bound above at order alpha > 1 (NaN for bad arguments). */
double gf_ddg_rdp(double alpha, double delta2, int64_t d, double sigma2, int m);

/* 1 / (delta2 / (sqrt(m) sigma) + sqrt(d) tau): the multiplier of the
 * Gaussian mechanism whose RDP bounds the sum's (0 for bad arguments). */
double gf_ddg_multiplier(double delta2, int64_t d, double sigma2, int m);

/* The fewest survivors whose sum the coordinator can unmask under
 * client-level DP: max(t, floor(n / 2) + 1), the consistency round's
 * majority over all n sites of the round (secagg_peer.h). Sites refuse to
 * reveal shares for fewer (gf_secagg_peer_require_survivors), so the
 * noise is calibrated to it, not to t. */
int gf_ddg_min_survivors(int n, int t);

/* The per-site noise variance in the integer domain a site uses: the
 * task's dp_noise_std (in update units) times the quantisation scale,
 * squared and rounded up to an integer; 0 when there is no noise; 
 * UINT64_MAX when it does not fit (the site refuses). */
uint64_t gf_ddg_site_sigma2(double noise_std, double scale);

/* The number of standard deviations of the summed noise the ring leaves
 * room for: P(|sum| >= 12 std) <= 2 exp(-72) < 1e-31 per coordinate (the
 * discrete Gaussian and its sums are subgaussian, CKS 2020 Cor. 23). */
#define GF_DDG_TAIL_STD 12.0

/* A secure round's integer plan for n sites, threshold t, d model
 * coordinates, clip S, the updates' noise multiplier z > 0 and, with
 * adaptive clipping, the count's noise sigma_b > 0 (0: no count
 * coordinate). scale (gamma) is the largest for which a sum of n sites
 * (each clipped value at most max(S, 1) times gamma plus 1 after rounding)
 * plus GF_DDG_TAIL_STD standard deviations of n sites' noise stays in
 * (-2^31, 2^31): the sum never wraps modulo 2^32 but with the probability
 * above. noise_std and count_std are each site's noise in update units
 * (the task's dp_noise_std and dp_count_noise_std): the updates' per-site
 * sigma is z (gamma S + sqrt(d)) / sqrt(m) in the integer domain, the
 * count's 2 sigma_b (gamma / 2 + 1) / sqrt(m), m = gf_ddg_min_survivors,
 * both inflated by 1e-9 against rounding. */
typedef struct {
    double   scale;           /* gamma: integer units per update unit, gf_secagg_quant_scale(range, n) */
    float    range;           /* the quantisation range sites use (the task's clip) */
    double   noise_std;       /* per site, update units */
    double   count_std;       /* per site, count units (0: no count) */
    int      min_survivors;   /* m */
    double   multiplier;      /* the combined multiplier the sum gets at m survivors (>= sqrt of z and count terms) */
} gf_ddg_plan;

/* GF_ERR_ARG when the ring cannot hold it (a model so large or noise so
 * high that gamma S falls below sqrt(d)), or for bad arguments. */
gf_status gf_ddg_plan_round(int n, int t, int64_t d, double clip, double z, double sigma_b, gf_ddg_plan *out);

/* The combined multiplier that m survivors with the given scale and
 * per-site noise stds (update units, as a site reads them from its task)
 * give: (u^2 + b^2)^-1/2 with u = 1/gf_ddg_multiplier of the updates
 * (Delta2 = scale clip + sqrt(d)) and, when count_std > 0, b = 1 /
 * gf_ddg_multiplier of the count (Delta2 = scale / 2 + 1, d = 1); 0 when a
 * variance is 0 or does not fit. What a site checks against its
 * --min-noise. */
double gf_ddg_round_multiplier(double scale, double clip, int64_t d, double noise_std, double count_std, int m);

/* Central noise (secure aggregation off), as the coordinator adds it:
 * the running sum of clipped updates (L2 sensitivity sens over d
 * coordinates) is snapped to the nearest multiple of *unit, a power of two
 * near mult * sens / 2^26, and N_Z(0, *sigma2) multiples of *unit are
 * added (gf_strategy_snap_noise_sum), so the released sum is exact in
 * double and every later float operation is post-processing. Snapping
 * moves each of two neighbouring sums by at most unit / 2, so in lattice
 * units Delta2 <= sens / unit + sqrt(d); one discrete Gaussian (m = 1, tau
 * = 0) with sigma = mult (1 + 1e-9) Delta2 is then a Gaussian mechanism of
 * multiplier at least mult. The double accumulation of the sum before
 * snapping (relative error about 2^-52 per addition) is the one
 * floating-point step left, far below unit. GF_ERR_ARG when sigma2 would
 * pass GF_DGAUSS_MAX_SIGMA2 (mult sqrt(d) above about 2^27). */
gf_status gf_ddg_plan_central(double sens, int64_t d, double mult, double *unit, uint64_t *sigma2);

#endif
