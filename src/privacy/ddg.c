/* The distributed discrete Gaussian's RDP bound and a secure round's
 * integer plan (see ddg.h). */
#include "privacy/ddg.h"

#include <math.h>
#include "privacy/dgauss.h"
#include "privacy/secagg.h"

#define RING_MAX 2147483647.0   /* 2^31 - 1: the largest sum read back as int32 */
#define INFLATE  (1 + 1e-9)

double gf_ddg_tau(double sigma2, int m)
{
    if (!(sigma2 > 0) || m < 1) return NAN;
    double tau = 0;
    for (int k = 1; k < m; k++) tau += exp(-2 * M_PI * M_PI * sigma2 * k / (k + 1.0));
    return 10 * tau;
}

double gf_ddg_rdp(double alpha, double delta2, int64_t d, double sigma2, int m)
{
    if (!(alpha > 1) || !(delta2 >= 0) || d < 1 || !(sigma2 > 0) || m < 1) return NAN;
    double s = delta2 / sqrt(m * sigma2), tau = gf_ddg_tau(sigma2, m), sd = sqrt((double)d);
    double a = alpha / 2 * s * s + tau * (double)d, b = alpha / 2 * (s + sd * tau) * (s + sd * tau);
    return a < b ? a : b;
}

double gf_ddg_multiplier(double delta2, int64_t d, double sigma2, int m)
{
    if (!(delta2 > 0) || d < 1 || !(sigma2 > 0) || m < 1) return 0;
    return 1 / (delta2 / sqrt(m * sigma2) + sqrt((double)d) * gf_ddg_tau(sigma2, m));
}

int gf_ddg_min_survivors(int n, int t)
{
    int maj = n / 2 + 1;
    return t > maj ? t : maj;
}

uint64_t gf_ddg_site_sigma2(double noise_std, double scale)
{
    if (!(noise_std > 0) || !(scale > 0)) return 0;
    double v = noise_std * scale;
    v = ceil(v * v);
    if (!(v <= (double)GF_DGAUSS_MAX_SIGMA2)) return UINT64_MAX;
    return (uint64_t)v;
}

double gf_ddg_round_multiplier(double scale, double clip, int64_t d, double noise_std, double count_std, int m)
{
    uint64_t su = gf_ddg_site_sigma2(noise_std, scale);
    if (su == 0 || su == UINT64_MAX || !(clip > 0)) return 0;
    double u = 1 / gf_ddg_multiplier(scale * clip + sqrt((double)d), d, (double)su, m), b = 0;
    if (count_std > 0) {
        uint64_t sb = gf_ddg_site_sigma2(count_std, scale);
        if (sb == 0 || sb == UINT64_MAX) return 0;
        b = 1 / gf_ddg_multiplier(scale / 2 + 1, 1, (double)sb, m);
    }
    return 1 / sqrt(u * u + b * b);
}

gf_status gf_ddg_plan_round(int n, int t, int64_t d, double clip, double z, double sigma_b, gf_ddg_plan *out)
{
    if (n < 2 || t < 1 || t > n || d < 1 || !(clip > 0) || !isfinite(clip) || !(z > 0) || !isfinite(z) ||
        !(sigma_b >= 0) || !isfinite(sigma_b))
        return gf_errorf(GF_ERR_ARG, "integer noise plan: bad arguments (n %d, t %d, d %lld, clip %g, z %g, "
                         "count noise %g)", n, t, (long long)d, clip, z, sigma_b);
    int m = gf_ddg_min_survivors(n, t);
    double rm = sqrt((double)m), K = GF_DDG_TAIL_STD * sqrt((double)n), zi = z * INFLATE, sbi = sigma_b * INFLATE;
    double au = zi * clip / rm, bu = zi * sqrt((double)d) / rm;      /* sigma_u(gamma) = au gamma + bu */
    double g = (RING_MAX - n - K * bu) / (n * clip + K * au);
    double gw = (RING_MAX - n) / n;                                   /* the weight coordinate: 1, no noise */
    if (gw < g) g = gw;
    if (sigma_b > 0) {                                                /* the count: +-1/2 */
        double ab = sbi / rm, bb = 2 * sbi / rm;
        double gb = (RING_MAX - n - K * bb) / (n * 0.5 + K * ab);
        if (gb < g) g = gb;
    }
    /* the range a site quantises with is M / gamma as a float: round it up, so the site's scale is at most g */
    double M = floor(RING_MAX / n);
    float range = (float)(M / g);
    if ((double)range < M / g) range = nextafterf(range, INFINITY);
    double scale = gf_secagg_quant_scale(range, n);
    if (!(scale > 0) || !(scale * clip >= sqrt((double)d)))
        return gf_errorf(GF_ERR_ARG, "integer noise: %lld coordinates at noise multiplier %g over %d sites do not fit "
                         "the 32-bit ring (scale %g: the clipped update would span fewer integer steps than the "
                         "rounding adds); lower the noise or the number of sites", (long long)d, z, n, scale);
    out->scale = scale;
    out->range = range;
    out->min_survivors = m;
    out->noise_std = zi * (scale * clip + sqrt((double)d)) / rm / scale;
    out->count_std = sigma_b > 0 ? 2 * sbi * (scale / 2 + 1) / rm / scale : 0;
    out->multiplier = gf_ddg_round_multiplier(scale, clip, d, out->noise_std, out->count_std, m);
    double want = sigma_b > 0 ? 1 / sqrt(1 / (z * z) + 1 / (4 * sigma_b * sigma_b)) : z;
    if (!(out->multiplier >= want))
        return gf_errorf(GF_ERR_ARG, "integer noise: the sum's multiplier %.12g is below the planned %.12g (noise "
                         "too small in the integer domain)", out->multiplier, want);
    return GF_OK;
}

gf_status gf_ddg_plan_central(double sens, int64_t d, double mult, double *unit, uint64_t *sigma2)
{
    if (!(sens > 0) || !isfinite(sens) || d < 1 || !(mult > 0) || !isfinite(mult))
        return gf_errorf(GF_ERR_ARG, "central integer noise: bad arguments (sensitivity %g, d %lld, multiplier %g)",
                         sens, (long long)d, mult);
    double u = ldexp(1.0, ilogb(mult * sens) - 26);
    double sigma = mult * INFLATE * (sens / u + sqrt((double)d));
    double v = ceil(sigma * sigma);
    if (!(v <= (double)GF_DGAUSS_MAX_SIGMA2))
        return gf_errorf(GF_ERR_ARG, "central integer noise: multiplier %g over %lld coordinates needs a variance "
                         "past the sampler's range", mult, (long long)d);
    *unit = u;
    *sigma2 = (uint64_t)v;
    return GF_OK;
}
