/* Integer noise under secure aggregation: the exact discrete Gaussian
 * sampler (privacy/dgauss.h) against its probability mass function and
 * moments, the unbiased stochastic rounding of gf_secagg_quantize, the
 * variance of the sum over the fewest survivors a round is planned for
 * (privacy/ddg.h), and the plan's calibration to those survivors.
 *
 * The sampler draws from the OS's CSPRNG, so these are statistical tests
 * with stated tolerances: the chi-square statistic below its 1e-6 quantile,
 * moments within 5 standard errors (false alarm about 6e-7), the rounding's
 * mean within 3 standard errors (a second, independent batch is drawn only
 * when the first misses: both miss with probability 7e-6; round-to-nearest
 * misses by 300 standard errors). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "check.h"
#include "fed/secround.h"
#include "fed/strategy.h"
#include "privacy/ddg.h"
#include "privacy/dgauss.h"
#include "privacy/secagg.h"

/* The pmf of N_Z(0, s2) at -K..K (normalised over |x| <= 60 sigma, the rest below 1e-700). */
static void dgauss_pmf(double s2, int K, double *p /* (2K + 1) */)
{
    double norm = 0;
    int L = (int)(60 * sqrt(s2)) + 10;
    for (int x = -L; x <= L; x++) norm += exp(-(double)x * x / (2 * s2));
    for (int x = -K; x <= K; x++) p[x + K] = exp(-(double)x * x / (2 * s2)) / norm;
}

/* Chi-square of N samples of N_Z(0, s2) over bins x <= -B, -B+1..B-1, x >= B (df 2B). */
static double chi_square(uint64_t s2, int B, int64_t N)
{
    int64_t *v = malloc(sizeof *v * (size_t)N);
    double p[121], obs[121] = { 0 }, exp_[121] = { 0 };
    CHECK(gf_dgauss_sample(v, N, s2) == GF_OK);
    dgauss_pmf((double)s2, 60, p);
    for (int x = -60; x <= 60; x++) {
        int b = x < -B ? -B : x > B ? B : x;
        exp_[b + B] += p[x + 60] * (double)N;
    }
    int outside = 0;
    for (int64_t i = 0; i < N; i++) {
        int64_t x = v[i];
        outside += x < -60 || x > 60;
        int b = x < -B ? -B : x > B ? B : (int)x;
        obs[b + B] += 1;
    }
    CHECK(outside == 0);
    double chi = 0;
    for (int b = 0; b <= 2 * B; b++) chi += (obs[b] - exp_[b]) * (obs[b] - exp_[b]) / exp_[b];
    free(v);
    return chi;
}

static void test_sampler_pmf(void)
{
    /* sigma^2 = 2: bins <= -6 .. >= 6 (df 12; 1e-6 quantile 50.83); sigma^2 = 1: <= -5 .. >= 5 (df 10; 46.86) */
    double c2 = chi_square(2, 6, 400000), c1 = chi_square(1, 5, 400000);
    CHECK_MSG(c2 < 50.83, "chi-square %g at sigma^2 = 2", c2);
    CHECK_MSG(c1 < 46.86, "chi-square %g at sigma^2 = 1", c1);
    /* a continuous Gaussian rounded to the nearest integer has the same variance but another pmf: at
     * sigma^2 = 1 its mass at 0 is 0.3829, the discrete Gaussian's 0.3990; 400000 draws tell them apart */
    double p[11];
    dgauss_pmf(1, 5, p);
    CHECK_NEAR(p[5], 0.3990, 5e-4);
}

static void test_sampler_moments(void)
{
    /* large sigma: mean 0 and variance sigma^2 (the discrete Gaussian's variance is sigma^2 up to
     * exp(-2 pi^2 sigma^2)), kurtosis 3; and the exact variance at sigma^2 = 2 from the pmf */
    static const uint64_t s2s[] = { 2, 1000000, 1000000000000ull, (uint64_t)1 << 56 };
    const int64_t N = 200000;
    int64_t *v = malloc(sizeof *v * (size_t)N);
    for (int c = 0; c < 4; c++) {
        uint64_t s2 = s2s[c];
        CHECK(gf_dgauss_sample(v, N, s2) == GF_OK);
        double sd = sqrt((double)s2), m1 = 0, m2 = 0, m4 = 0;
        int64_t odd = 0;
        for (int64_t i = 0; i < N; i++) {
            double x = (double)v[i] / sd;
            m1 += x; m2 += x * x; m4 += x * x * x * x;
            odd += v[i] & 1;
        }
        m1 /= N; m2 /= N; m4 /= N;
        double var = 1;
        if (s2 == 2) {                 /* the exact variance of N_Z(0, 2), below 2 by 2e-8 */
            double p[121];
            dgauss_pmf(2, 60, p);
            var = 0;
            for (int x = -60; x <= 60; x++) var += p[x + 60] * x * x;
            var /= 2;
        }
        CHECK_MSG(fabs(m1) <= 5 / sqrt((double)N), "sigma^2 %llu: mean %g sigma", (unsigned long long)s2, m1);
        CHECK_MSG(fabs(m2 - var) <= 5 * sqrt(2.0 / N) * var, "sigma^2 %llu: variance %g sigma^2 (want %g)",
                  (unsigned long long)s2, m2, var);
        if (s2 > 2) CHECK_MSG(fabs(m4 - 3) <= 5 * sqrt(96.0 / N), "sigma^2 %llu: kurtosis %g", (unsigned long long)s2, m4);
        /* integers on the whole lattice: as many odd as even values at large sigma */
        if (s2 >= 1000000) CHECK_MSG(fabs((double)odd / N - 0.5) <= 5 * 0.5 / sqrt((double)N), "odd fraction %g",
                                     (double)odd / N);
    }
    /* the ring form adds the same noise modulo 2^32 */
    uint32_t *q = malloc(sizeof *q * (size_t)N);
    for (int64_t i = 0; i < N; i++) q[i] = (uint32_t)(i * 2654435761u);
    uint32_t *q0 = malloc(sizeof *q0 * (size_t)N);
    memcpy(q0, q, sizeof *q * (size_t)N);
    CHECK(gf_dgauss_add_mod32(q, N, 1000000) == GF_OK);
    double m2 = 0;
    for (int64_t i = 0; i < N; i++) { double x = (double)(int32_t)(q[i] - q0[i]); m2 += x * x; }
    m2 /= (double)N * 1e6;
    CHECK_MSG(fabs(m2 - 1) <= 5 * sqrt(2.0 / N), "mod 2^32 variance %g sigma^2", m2);
    CHECK(gf_dgauss_add_mod32(q, 3, 0) == GF_OK);
    CHECK(gf_dgauss_sample(v, 4, GF_DGAUSS_MAX_SIGMA2 + 1) == GF_ERR_ARG);
    CHECK(gf_dgauss_sample(v, -1, 4) == GF_ERR_ARG);
    free(v); free(q); free(q0);
}

/* Mean of N quantisations of x (as integers) and the real value x * scale. */
static double quant_mean(float x, float clip, int nc, int64_t N, double *want)
{
    float *xs = malloc(sizeof *xs * (size_t)N);
    uint32_t *q = malloc(sizeof *q * (size_t)N);
    for (int64_t i = 0; i < N; i++) xs[i] = x;
    CHECK(gf_secagg_quantize(xs, N, clip, nc, q) == GF_OK);
    double m = 0;
    int64_t bad = 0;
    double r = (double)x / clip * floor(2147483647.0 / nc);
    for (int64_t i = 0; i < N; i++) {
        double v = (double)(int32_t)q[i];
        bad += v != floor(r) && v != floor(r) + 1;      /* floor or ceil, nothing else */
        m += v;
    }
    CHECK(bad == 0);
    free(xs); free(q);
    *want = r;
    return m / (double)N;
}

static void test_stochastic_rounding(void)
{
    /* clip 1, 10 clients: M = 214748364; x = 10.3 / M has fraction ~0.3 */
    const int nc = 10;
    const int64_t N = 200000;
    float xs[] = { (float)(10.3 / 214748364.0), (float)(-5.75 / 214748364.0), 0.123456f };
    for (int c = 0; c < 3; c++) {
        double want, mean = quant_mean(xs[c], 1.0f, nc, N, &want), f = want - floor(want);
        double se = sqrt(f * (1 - f) / (double)N);
        if (!(fabs(mean - want) <= 3 * se)) mean = quant_mean(xs[c], 1.0f, nc, N, &want);   /* see the top */
        CHECK_MSG(fabs(mean - want) <= 3 * se, "x %g: mean %.6f, want %.6f (SE %g)", xs[c], mean, want, se);
    }
}

/* The plan for n sites, threshold t: m survivors each clip, round and add
 * noise; the released sum minus the sum of the clipped updates must have
 * variance z^2 (S + sqrt(d) / gamma)^2 per coordinate: the target sigma^2
 * S^2 plus the rounding slack, no less. */
static void test_sum_variance(void)
{
    const int n = 20, t = 10;           /* SecAgg+ defaults at n = 20: k = 14, t = 10, m = 11 */
    const int64_t d = 20000;
    const double S = 0.5, z = 1.3;
    gf_ddg_plan plan;
    CHECK(gf_ddg_plan_round(n, t, d, S, z, 0, &plan) == GF_OK);
    CHECK(plan.min_survivors == 11);
    CHECK(plan.multiplier >= z);
    double scale = gf_secagg_quant_scale(plan.range, n);
    CHECK(scale == plan.scale);
    uint64_t s2 = gf_ddg_site_sigma2(plan.noise_std, scale);
    int m = plan.min_survivors;
    float *x = malloc(sizeof *x * (size_t)d);
    uint32_t *q = malloc(sizeof *q * (size_t)d), *z32 = calloc((size_t)d, sizeof *z32);
    double *truth = calloc((size_t)d, sizeof *truth);
    for (int i = 0; i < m; i++) {
        double ss = 0;
        for (int64_t w = 0; w < d; w++) { x[w] = (float)((double)randombytes_uniform(2001) - 1000); ss += (double)x[w] * x[w]; }
        for (int64_t w = 0; w < d; w++) { x[w] = (float)(x[w] * S / sqrt(ss)); truth[w] += x[w]; }   /* norm S */
        CHECK(gf_secagg_quantize(x, d, plan.range, n, q) == GF_OK);
        CHECK(gf_dgauss_add_mod32(q, d, s2) == GF_OK);
        for (int64_t w = 0; w < d; w++) z32[w] += q[w];
    }
    float *out = malloc(sizeof *out * (size_t)d);
    CHECK(gf_secagg_dequantize(z32, d, plan.range, n, out) == GF_OK);
    double v = 0, mean = 0;
    for (int64_t w = 0; w < d; w++) { double e = out[w] - truth[w]; v += e * e; mean += e; }
    v /= d; mean /= d;
    double target = z * (S + sqrt((double)d) / scale);
    target *= target;
    CHECK_MSG(fabs(v / target - 1) <= 5 * sqrt(2.0 / d), "sum variance %g, target %g (z^2 S^2 = %g)", v, target, z * z * S * S);
    CHECK_MSG(v >= z * z * S * S * (1 - 5 * sqrt(2.0 / d)), "sum variance %g below sigma^2 S^2", v);
    CHECK_MSG(fabs(mean) <= 5 * sqrt(target / d), "mean error %g", mean);
    free(x); free(q); free(z32); free(truth); free(out);
}

/* The noise is calibrated to m = max(t, n/2 + 1) survivors, not to t. */
static void test_calibration(void)
{
    CHECK(gf_ddg_min_survivors(100, 14) == 51);
    CHECK(gf_ddg_min_survivors(10, 6) == 6);
    CHECK(gf_ddg_min_survivors(4, 2) == 3);
    CHECK(gf_ddg_min_survivors(5, 4) == 4);
    const int n = 100, t = 14;
    const int64_t d = 1000;
    const double S = 1, z = 1;
    gf_ddg_plan plan;
    CHECK(gf_ddg_plan_round(n, t, d, S, z, 0, &plan) == GF_OK);
    /* per-site std in the integer domain: z (gamma S + sqrt(d)) / sqrt(51) */
    double per = plan.noise_std * plan.scale, want = z * (plan.scale * S + sqrt((double)d)) / sqrt(51.0);
    CHECK_NEAR(per / want, 1, 2e-9);
    /* splitting over t would add sqrt(51 / 14) = 1.91 times the std: not what is planned */
    CHECK(per < 1.01 * want && per * sqrt(51.0 / 14) > 1.5 * want);
    /* the multiplier of the sum at 51 survivors is z, no less; at t = 14 survivors it would fall to
     * z sqrt(14 / 51) (sites refuse to unmask for fewer than 51) */
    CHECK(plan.multiplier >= z && plan.multiplier <= z * (1 + 1e-8));
    double at_t = gf_ddg_round_multiplier(plan.scale, S, d, plan.noise_std, 0, t);
    CHECK_NEAR(at_t, z * sqrt(14.0 / 51), 1e-8);
    /* the ring: n sites of clipped values plus 12 std of their noise stay below 2^31 */
    double bound = n * (plan.scale * S + 1) + GF_DDG_TAIL_STD * sqrt((double)n) * sqrt((double)gf_ddg_site_sigma2(plan.noise_std, plan.scale));
    CHECK_MSG(bound < 2147483648.0, "worst sum %g", bound);
    CHECK(bound > 0.99 * 2147483648.0);                 /* and the scale uses the ring */
    /* what a secure round sends its sites (defaults at n = 100: k = 20, t = 14): the same plan, each site's
     * std z (gamma S + sqrt(d)) / sqrt(51), where a split over t would have sent z S / sqrt(14) */
    gf_secagg_config sc = { .enabled = 1 };
    gf_dp_config dc = { .enabled = 1, .clip = S, .noise = z, .delta = 1e-5 };
    gf_secround *r = NULL;
    CHECK(gf_secround_new(&sc, &dc, S, 1, 1, n, d, 0, &r) == GF_OK);
    if (r) {
        const gf_secround_public *pub = gf_secround_public_params(r);
        CHECK(pub->p.t == 14 && pub->p.k == 20);
        double g = gf_secagg_quant_scale((float)pub->clip, n);
        double got = pub->dp_noise_std * g * sqrt(51.0) / (g * S + sqrt((double)d));
        CHECK_MSG(got >= z && got <= z * (1 + 1e-8), "per-site std gives multiplier %.9g at 51 survivors, want %g", got, z);
        CHECK(gf_ddg_round_multiplier(g, S, d, pub->dp_noise_std, 0, 51) >= z);
        gf_secround_free(r);
    }
    /* adaptive clipping: updates at z, the count at 2 sigma_b, combined sigma */
    CHECK(gf_ddg_plan_round(n, t, d, S, 1.2, 1.0, &plan) == GF_OK);
    CHECK(plan.count_std > 0);
    double sig = 1 / sqrt(1 / 1.44 + 1 / 4.0);
    CHECK(plan.multiplier >= sig && plan.multiplier <= sig * (1 + 1e-8));
    /* too large for the ring, bad arguments */
    CHECK(gf_ddg_plan_round(1000, 600, (int64_t)1 << 46, 1, 1, 0, &plan) == GF_ERR_ARG);
    CHECK(gf_ddg_plan_round(10, 6, 10, 1, 0, 0, &plan) == GF_ERR_ARG);
    CHECK(gf_ddg_site_sigma2(0, 10) == 0);
    CHECK(gf_ddg_site_sigma2(1e10, 1e10) == UINT64_MAX);
}

/* Central noise: the plan's lattice and variance, and the strategy's sum
 * snapped to it plus integer multiples of it, exactly. */
static void test_central(void)
{
    double unit;
    uint64_t s2;
    const double S = 0.7, z = 1.3;
    const int64_t d = 455306;
    CHECK(gf_ddg_plan_central(S, d, z, &unit, &s2) == GF_OK);
    int e;
    CHECK(frexp(unit, &e) == 0.5);                                   /* a power of two */
    CHECK(z * S / unit >= 0x1p26 && z * S / unit < 0x1p27);
    double delta2 = S / unit + sqrt((double)d);
    CHECK(gf_ddg_multiplier(delta2, d, (double)s2, 1) >= z);         /* m = 1: tau = 0, exactly z (1 + 1e-9) */
    CHECK(gf_ddg_multiplier(delta2, d, (double)s2, 1) <= z * (1 + 2e-9));
    CHECK(gf_ddg_plan_central(S, (int64_t)1 << 60, 100, &unit, &s2) == GF_ERR_ARG);
    /* snapped sums: (round(sum / unit) + k) * unit, bit for bit */
    enum { D = 4 };
    gf_strategy_config cfg = gf_strategy_defaults(GF_STRAT_FEDAVG);
    gf_strategy *st = NULL;
    CHECK(gf_strategy_create(&cfg, D, 2, &st) == GF_OK);
    float u1[D] = { 0.3f, -0.2f, 0.0f, 1e-4f }, u2[D] = { 0.1f, 0.05f, 0.0f, 2e-4f }, g[D] = { 0, 0, 0, 0 };
    CHECK(gf_strategy_add_scaled(st, u1, 1.0, 1.0, NULL) == GF_OK);
    CHECK(gf_strategy_add_scaled(st, u2, 1.0, 1.0, NULL) == GF_OK);
    int64_t k[D] = { 5, -3, 0, 1 };
    CHECK(gf_strategy_snap_noise_sum(st, 0, k, D, 0.3) == GF_ERR_ARG);          /* not a power of two */
    CHECK(gf_strategy_snap_noise_sum(st, 0, k, D, 0x1p-10) == GF_OK);
    CHECK(gf_strategy_finish_round(st, g) == GF_OK);
    for (int i = 0; i < D; i++) {
        double sum = (double)u1[i] + (double)u2[i];
        double want = (nearbyint(sum * 1024) + (double)k[i]) / 1024 / 2;     /* the mean of the two */
        CHECK_MSG(g[i] == (float)want, "coordinate %d: %.9g, want %.9g", i, g[i], want);
    }
    gf_strategy_free(st);
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    test_sampler_pmf();
    test_sampler_moments();
    test_stochastic_rounding();
    test_sum_variance();
    test_calibration();
    test_central();
    return check_summary();
}
