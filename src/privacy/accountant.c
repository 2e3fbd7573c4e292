/* RDP accountant for the subsampled Gaussian mechanism: per-step RDP (the
 * integer-order binomial sum and the fractional-order erfc series of Mironov,
 * Talwar and Zhang 2019, as TensorFlow Privacy / Opacus compute them), the
 * RDP -> (epsilon, delta) conversion, and the noise search for a target
 * epsilon. All arithmetic is double precision in log space. */
#include "privacy/accountant.h"

#include <float.h>
#include <math.h>
#include <stddef.h>

#define N_DEFAULT_ORDERS 151
#define FRAC_MAX_TERMS 1000000   /* the fractional series gives up (NaN) after this */

static const double default_orders[N_DEFAULT_ORDERS] = {
    1 + 1 / 10.0, 1 + 2 / 10.0, 1 + 3 / 10.0, 1 + 4 / 10.0, 1 + 5 / 10.0, 1 + 6 / 10.0,
    1 + 7 / 10.0, 1 + 8 / 10.0, 1 + 9 / 10.0, 1 + 10 / 10.0, 1 + 11 / 10.0, 1 + 12 / 10.0,
    1 + 13 / 10.0, 1 + 14 / 10.0, 1 + 15 / 10.0, 1 + 16 / 10.0, 1 + 17 / 10.0, 1 + 18 / 10.0,
    1 + 19 / 10.0, 1 + 20 / 10.0, 1 + 21 / 10.0, 1 + 22 / 10.0, 1 + 23 / 10.0, 1 + 24 / 10.0,
    1 + 25 / 10.0, 1 + 26 / 10.0, 1 + 27 / 10.0, 1 + 28 / 10.0, 1 + 29 / 10.0, 1 + 30 / 10.0,
    1 + 31 / 10.0, 1 + 32 / 10.0, 1 + 33 / 10.0, 1 + 34 / 10.0, 1 + 35 / 10.0, 1 + 36 / 10.0,
    1 + 37 / 10.0, 1 + 38 / 10.0, 1 + 39 / 10.0, 1 + 40 / 10.0, 1 + 41 / 10.0, 1 + 42 / 10.0,
    1 + 43 / 10.0, 1 + 44 / 10.0, 1 + 45 / 10.0, 1 + 46 / 10.0, 1 + 47 / 10.0, 1 + 48 / 10.0,
    1 + 49 / 10.0, 1 + 50 / 10.0, 1 + 51 / 10.0, 1 + 52 / 10.0, 1 + 53 / 10.0, 1 + 54 / 10.0,
    1 + 55 / 10.0, 1 + 56 / 10.0, 1 + 57 / 10.0, 1 + 58 / 10.0, 1 + 59 / 10.0, 1 + 60 / 10.0,
    1 + 61 / 10.0, 1 + 62 / 10.0, 1 + 63 / 10.0, 1 + 64 / 10.0, 1 + 65 / 10.0, 1 + 66 / 10.0,
    1 + 67 / 10.0, 1 + 68 / 10.0, 1 + 69 / 10.0, 1 + 70 / 10.0, 1 + 71 / 10.0, 1 + 72 / 10.0,
    1 + 73 / 10.0, 1 + 74 / 10.0, 1 + 75 / 10.0, 1 + 76 / 10.0, 1 + 77 / 10.0, 1 + 78 / 10.0,
    1 + 79 / 10.0, 1 + 80 / 10.0, 1 + 81 / 10.0, 1 + 82 / 10.0, 1 + 83 / 10.0, 1 + 84 / 10.0,
    1 + 85 / 10.0, 1 + 86 / 10.0, 1 + 87 / 10.0, 1 + 88 / 10.0, 1 + 89 / 10.0, 1 + 90 / 10.0,
    1 + 91 / 10.0, 1 + 92 / 10.0, 1 + 93 / 10.0, 1 + 94 / 10.0, 1 + 95 / 10.0, 1 + 96 / 10.0,
    1 + 97 / 10.0, 1 + 98 / 10.0, 1 + 99 / 10.0,
    12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
    25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37,
    38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50,
    51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63,
};

const double *gf_rdp_default_orders(int *n)
{
    if (n) *n = N_DEFAULT_ORDERS;
    return default_orders;
}

/* log(exp(x) + exp(y)) */
static double log_add(double x, double y)
{
    double a = fmin(x, y), b = fmax(x, y);
    if (a == -INFINITY || b == INFINITY) return b;
    return log1p(exp(a - b)) + b;
}

/* log(exp(x) - exp(y)) for x >= y; NaN when the difference would be negative */
static double log_sub(double x, double y)
{
    if (x < y) return NAN;
    if (y == -INFINITY || x == INFINITY) return x;
    if (x == y) return -INFINITY;
    double d = x - y;
    if (d > 700) return x;   /* expm1 would overflow; log(expm1(d)) == d here */
    return log(expm1(d)) + y;
}

/* log(erfc(x)), with the asymptotic expansion once erfc underflows */
static double log_erfc(double x)
{
    double r = erfc(x);
    if (r >= DBL_MIN) return log(r);
    double x2 = x * x, xm2 = 1.0 / x2;
    return -0.5 * log(M_PI) - log(x) - x2 - 0.5 * xm2 + 0.625 * xm2 * xm2
           - 37.0 / 24.0 * xm2 * xm2 * xm2 + 353.0 / 64.0 * xm2 * xm2 * xm2 * xm2;
}

/* log(A_alpha) for integer alpha: sum_i C(alpha, i) q^i (1-q)^(alpha-i) exp((i^2 - i) / (2 sigma^2)) */
static double log_a_int(double q, double sigma, int64_t alpha)
{
    double log_q = log(q), log_1mq = log1p(-q), inv2s2 = 1.0 / (2.0 * sigma * sigma);
    double log_a = -INFINITY, log_binom = 0.0;   /* log C(alpha, i) */
    for (int64_t i = 0; i <= alpha; i++) {
        if (i > 0) log_binom += log((double)(alpha - i + 1)) - log((double)i);
        double di = (double)i;
        double s = log_binom + di * log_q + (double)(alpha - i) * log_1mq + (di * di - di) * inv2s2;
        log_a = log_add(log_a, s);
    }
    return log_a;
}

/* log(A_alpha) for fractional alpha: the two erfc-weighted series, summed
 * until both terms fall below exp(-30) */
static double log_a_frac(double q, double sigma, double alpha)
{
    double log_q = log(q), log_1mq = log1p(-q), inv2s2 = 1.0 / (2.0 * sigma * sigma);
    double z0 = sigma * sigma * log(1.0 / q - 1.0) + 0.5;
    double scale = 1.0 / (M_SQRT2 * sigma);
    double log_a0 = -INFINITY, log_a1 = -INFINITY;
    double log_coef = 0.0, sign = 1.0;   /* C(alpha, i) = sign * exp(log_coef) */
    for (int i = 0; i < FRAC_MAX_TERMS; i++) {
        if (i > 0) {
            double f = alpha - i + 1;
            if (f < 0) sign = -sign;
            log_coef += log(fabs(f)) - log((double)i);
        }
        double di = (double)i, j = alpha - di;
        double log_t0 = log_coef + di * log_q + j * log_1mq;
        double log_t1 = log_coef + j * log_q + di * log_1mq;
        double log_e0 = log(0.5) + log_erfc((di - z0) * scale);
        double log_e1 = log(0.5) + log_erfc((z0 - j) * scale);
        double log_s0 = log_t0 + (di * di - di) * inv2s2 + log_e0;
        double log_s1 = log_t1 + (j * j - j) * inv2s2 + log_e1;
        if (sign > 0) {
            log_a0 = log_add(log_a0, log_s0);
            log_a1 = log_add(log_a1, log_s1);
        } else {
            log_a0 = log_sub(log_a0, log_s0);
            log_a1 = log_sub(log_a1, log_s1);
        }
        if (isnan(log_a0) || isnan(log_a1)) return NAN;
        if (fmax(log_s0, log_s1) < -30) return log_add(log_a0, log_a1);
    }
    return NAN;
}

double gf_rdp_subsampled_gaussian(double q, double sigma, double alpha)
{
    if (!(q >= 0 && q <= 1) || !(sigma >= 0) || !(alpha > 1)) return NAN;
    if (q == 0) return 0;
    if (sigma == 0) return INFINITY;
    if (q == 1) return alpha / (2 * sigma * sigma);
    if (isinf(alpha)) return INFINITY;
    double log_a = (alpha == floor(alpha) && alpha < 9e15) ? log_a_int(q, sigma, (int64_t)alpha)
                                                          : log_a_frac(q, sigma, alpha);
    return log_a / (alpha - 1);
}

gf_status gf_rdp_compute(double q, double sigma, int64_t steps, const double *orders, int norders,
                         double *rdp_out)
{
    if (!(q >= 0 && q <= 1)) return gf_errorf(GF_ERR_ARG, "sample rate q must be in [0, 1], got %g", q);
    if (!(sigma >= 0)) return gf_errorf(GF_ERR_ARG, "noise multiplier must be >= 0, got %g", sigma);
    if (steps < 0) return gf_errorf(GF_ERR_ARG, "steps must be >= 0, got %lld", (long long)steps);
    if (norders < 1 || !orders || !rdp_out)
        return gf_errorf(GF_ERR_ARG, "RDP needs at least one order (got %d)", norders);
    for (int i = 0; i < norders; i++)
        if (!(orders[i] > 1))
            return gf_errorf(GF_ERR_ARG, "RDP order %d is %g; orders must be > 1", i, orders[i]);
    for (int i = 0; i < norders; i++) {
        double r = gf_rdp_subsampled_gaussian(q, sigma, orders[i]);
        rdp_out[i] = (steps == 0 || r == 0) ? 0 : r * (double)steps;
    }
    return GF_OK;
}

gf_status gf_rdp_to_epsilon(const double *orders, const double *rdp, int norders, double delta,
                            double *eps, double *best_order)
{
    if (norders < 1 || !orders || !rdp || !eps)
        return gf_errorf(GF_ERR_ARG, "epsilon needs at least one RDP order (got %d)", norders);
    if (!(delta > 0 && delta < 1))
        return gf_errorf(GF_ERR_ARG, "delta must be in (0, 1), got %g", delta);
    double best = INFINITY, best_a = NAN;
    for (int i = 0; i < norders; i++) {
        double a = orders[i], r = rdp[i];
        if (isnan(a) || isnan(r) || !(a > 1) || isinf(a)) continue;
        if (r < 0) return gf_errorf(GF_ERR_ARG, "RDP at order %g is negative (%g)", a, r);
        double e = isinf(r) ? INFINITY
                            : r - (log(delta) + log(a)) / (a - 1) + log((a - 1) / a);
        if (e < best || (isnan(best_a) && e == best)) {
            best = e;
            best_a = a;
        }
    }
    if (isinf(best)) best_a = NAN;
    *eps = fmax(best, 0.0);
    if (best_order) *best_order = best_a;
    return GF_OK;
}

static gf_status dp_check(double q, int64_t steps, double delta)
{
    if (!(q > 0 && q <= 1)) return gf_errorf(GF_ERR_ARG, "sample rate must be in (0, 1], got %g", q);
    if (steps < 1) return gf_errorf(GF_ERR_ARG, "steps must be >= 1, got %lld", (long long)steps);
    if (!(delta > 0 && delta < 1)) return gf_errorf(GF_ERR_ARG, "delta must be in (0, 1), got %g", delta);
    return GF_OK;
}

/* epsilon at noise sigma over the default orders; arguments already checked */
static double dp_eps(double sigma, double q, int64_t steps, double delta, double *order)
{
    double rdp[N_DEFAULT_ORDERS], eps = INFINITY;
    gf_rdp_compute(q, sigma, steps, default_orders, N_DEFAULT_ORDERS, rdp);
    gf_rdp_to_epsilon(default_orders, rdp, N_DEFAULT_ORDERS, delta, &eps, order);
    return eps;
}

gf_status gf_dp_epsilon(double sigma, double q, int64_t steps, double delta, double *eps,
                        double *order)
{
    gf_status st = dp_check(q, steps, delta);
    if (st) return st;
    if (!(sigma > 0) || isinf(sigma))
        return gf_errorf(GF_ERR_ARG, "noise multiplier must be a finite number > 0, got %g", sigma);
    if (!eps) return gf_errorf(GF_ERR_ARG, "gf_dp_epsilon: no output for epsilon");
    *eps = dp_eps(sigma, q, steps, delta, order);
    return GF_OK;
}

gf_status gf_dp_noise(double target_eps, double delta, double q, int64_t steps, double *sigma)
{
    gf_status st = dp_check(q, steps, delta);
    if (st) return st;
    if (!(target_eps > 0) || isinf(target_eps))
        return gf_errorf(GF_ERR_ARG, "target epsilon must be a finite number > 0, got %g", target_eps);
    if (!sigma) return gf_errorf(GF_ERR_ARG, "gf_dp_noise: no output for the noise multiplier");

    /* as sigma grows every RDP goes to 0 and epsilon to this floor, from above */
    double zero[N_DEFAULT_ORDERS] = {0}, floor_eps;
    gf_rdp_to_epsilon(default_orders, zero, N_DEFAULT_ORDERS, delta, &floor_eps, NULL);
    if (target_eps <= floor_eps)
        return gf_errorf(GF_ERR_MISMATCH,
                         "epsilon %g is out of reach at delta %g: no noise multiplier gets epsilon "
                         "below %.6f (the limit as noise grows, over orders up to 63)",
                         target_eps, delta, floor_eps);

    /* bracket: eps(lo) > target >= eps(hi) */
    double lo = 1, hi = 1;
    if (dp_eps(1, q, steps, delta, NULL) <= target_eps) {
        int k;
        for (k = 0; k < 60; k++) {
            lo = hi / 2;
            if (!(dp_eps(lo, q, steps, delta, NULL) <= target_eps)) break;
            hi = lo;
        }
        if (k == 60) { *sigma = hi; return GF_OK; }   /* practically any noise will do */
    } else {
        int k;
        for (k = 0; k < 60; k++) {
            hi = lo * 2;
            if (dp_eps(hi, q, steps, delta, NULL) <= target_eps) break;
            lo = hi;
        }
        if (k == 60)
            return gf_errorf(GF_ERR_MISMATCH,
                             "epsilon %g at delta %g needs a noise multiplier above %g "
                             "(sample rate %g, %lld steps)",
                             target_eps, delta, hi, q, (long long)steps);
    }
    for (int k = 0; k < 200 && hi - lo > 1e-10 * hi; k++) {
        double mid = 0.5 * (lo + hi);
        if (dp_eps(mid, q, steps, delta, NULL) <= target_eps) hi = mid;
        else lo = mid;
    }
    *sigma = hi;
    return GF_OK;
}
