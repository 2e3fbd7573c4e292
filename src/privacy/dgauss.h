/* The discrete Gaussian N_Z(0, sigma^2) on the integers, sampled exactly
 * (Canonne, Kamath and Steinke 2020, "The Discrete Gaussian for
 * Differential Privacy", Algorithms 1-3): Bernoulli(exp(-gamma)) for
 * rational gamma, a discrete Laplace proposal and a rejection step, all in
 * integer arithmetic on uniform integers from the secret stream of
 * csprng.h. No floating-point number touches a sample, so the output
 * distribution is exactly N_Z(0, sigma^2) (P(x) proportional to
 * exp(-x^2 / (2 sigma^2))), with one stated exception: a proposal with
 * |Y| t - sigma^2 >= 2^62 is rejected outright, where the exact acceptance
 * probability is below exp(-2^13).
 *
 * sigma^2 is an integer (the callers round a planned variance up, which
 * only adds noise), 1 <= sigma^2 <= GF_DGAUSS_MAX_SIGMA2; 0 means no
 * noise. Sums of these are what secure aggregation releases under
 * client-level DP (privacy/ddg.h accounts them). */
#ifndef GF_PRIVACY_DGAUSS_H
#define GF_PRIVACY_DGAUSS_H

#include <stdint.h>
#include "core/error.h"

#define GF_DGAUSS_MAX_SIGMA2 ((uint64_t)1 << 56)

/* out (n): independent N_Z(0, sigma2) samples; a fresh key from the OS per
 * call, parallel (OpenMP) over chunks of 4096 values. */
gf_status gf_dgauss_sample(int64_t *out, int64_t n, uint64_t sigma2);

/* q (n) += independent N_Z(0, sigma2) samples, modulo 2^32 (the secure
 * aggregation ring): the same samples, never materialised elsewhere. */
gf_status gf_dgauss_add_mod32(uint32_t *q, int64_t n, uint64_t sigma2);

#endif
