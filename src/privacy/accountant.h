/* Rényi-DP accountant for the subsampled Gaussian mechanism (DP-SGD): the
 * per-step RDP of Mironov, Talwar and Zhang (2019), computed as TensorFlow
 * Privacy and Opacus do, the RDP -> (epsilon, delta) conversion they use now
 * (Balle et al. 2020), and the inverse: the smallest noise multiplier that
 * meets a target epsilon. Pure functions of their arguments; thread-safe. */
#ifndef GF_PRIVACY_ACCOUNTANT_H
#define GF_PRIVACY_ACCOUNTANT_H

#include <stdint.h>
#include "core/error.h"

/* RDP at order alpha (> 1) of one step of the sampled Gaussian mechanism with
 * sampling rate q in [0, 1] and noise multiplier sigma >= 0: 0 when q == 0,
 * alpha / (2 sigma^2) when q == 1, +inf when sigma == 0 (or alpha is +inf).
 * NaN for arguments outside those ranges. */
double gf_rdp_subsampled_gaussian(double q, double sigma, double alpha);

/* rdp_out[i] = steps * gf_rdp_subsampled_gaussian(q, sigma, orders[i]).
 * Rejects q outside [0, 1], sigma < 0, steps < 0, orders that are not > 1. */
gf_status gf_rdp_compute(double q, double sigma, int64_t steps, const double *orders, int norders,
                         double *rdp_out);

/* (epsilon, delta)-DP from the RDP curve: the minimum over orders a of
 *   rdp(a) - (log(delta) + log(a)) / (a - 1) + log((a - 1) / a),
 * clamped at 0, and the order that attains it. Orders <= 1 and NaN entries
 * are skipped; when nothing finite remains, *eps = +inf and *best_order = NaN
 * (still GF_OK, as in Opacus). best_order may be NULL. */
gf_status gf_rdp_to_epsilon(const double *orders, const double *rdp, int norders, double delta,
                            double *eps, double *best_order);

/* Opacus's default orders: 1.1, 1.2, ..., 10.9, then 12, 13, ..., 63 (*n = 151). */
const double *gf_rdp_default_orders(int *n);

/* Epsilon after `steps` steps at sampling rate q and noise multiplier sigma,
 * over the default orders. Needs q in (0, 1], sigma > 0, steps >= 1,
 * 0 < delta < 1. order (may be NULL) receives the best order. */
gf_status gf_dp_epsilon(double sigma, double q, int64_t steps, double delta, double *eps,
                        double *order);

/* The smallest noise multiplier (to 1e-9 relative) whose epsilon is <= target_eps.
 * GF_ERR_ARG for bad arguments; GF_ERR_MISMATCH when the target is at or below
 * the floor that no amount of noise gets under with the default orders. */
gf_status gf_dp_noise(double target_eps, double delta, double q, int64_t steps, double *sigma);

#endif
