/* Client-level DP pieces: clipping factor, the Gaussian noise (moments,
 * unpredictability), the spent budget against the accountant at the
 * sampling rate the coordinator's round draw really has against it, and the
 * strategy's scaled adds and noise on the sum against plain re-computation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "fed/round.h"
#include "fed/strategy.h"
#include "privacy/accountant.h"
#include "privacy/dp.h"

static void test_clip(void)
{
    float x[4] = { 3, 0, -4, 0 };                                /* norm 5 */
    CHECK_NEAR(gf_dp_clip_scale(x, 4, 1.0), 0.2, 1e-15);
    CHECK(gf_dp_clip_scale(x, 4, 5.0) == 1.0);
    CHECK(gf_dp_clip_scale(x, 4, 7.5) == 1.0);
    float z[3] = { 0, 0, 0 };
    CHECK(gf_dp_clip_scale(z, 3, 1.0) == 1.0);
    /* a NaN or infinite norm is never "within the clip" (!(norm <= clip)) */
    float bad[3] = { 0.1f, NAN, 0 }, big[3] = { 0.1f, INFINITY, 0 };
    CHECK(gf_dp_clip_scale(bad, 3, 1.0) == 0.0);
    CHECK(gf_dp_clip_scale(big, 3, 1.0) == 0.0);
}

static void test_noise(void)
{
    const int64_t n = 400001;                                    /* odd: the last value alone */
    float *a = malloc(sizeof(float) * n), *b = malloc(sizeof(float) * n);
    CHECK(gf_dp_gaussian(a, n, 2.0) == GF_OK && gf_dp_gaussian(b, n, 2.0) == GF_OK);
    double s = 0, s2 = 0, s4 = 0;
    int64_t same = 0, tail = 0;
    for (int64_t i = 0; i < n; i++) {
        s += a[i];
        s2 += (double)a[i] * a[i];
        s4 += pow(a[i], 4);
        same += a[i] == b[i];
        tail += fabs(a[i]) > 2.0 * 1.96;
    }
    double mean = s / n, var = s2 / n - mean * mean, kurt = s4 / n / (var * var);
    CHECK_MSG(fabs(mean) < 5 * 2.0 / sqrt((double)n), "mean %g", mean);
    CHECK_MSG(fabs(var - 4.0) < 4.0 * 5 * sqrt(2.0 / n), "variance %g, want 4", var);
    CHECK_MSG(fabs(kurt - 3.0) < 0.05, "kurtosis %g, want 3 (Gaussian)", kurt);
    CHECK_MSG(fabs((double)tail / n - 0.05) < 0.003, "two-sided 5%% tail holds %g", (double)tail / n);
    CHECK(same < 10);                                            /* two draws differ */
    CHECK(gf_dp_gaussian(a, 10, -1) == GF_ERR_ARG);
    free(a);
    free(b);
}

static void test_spent(void)
{
    gf_dp_config c = { .enabled = 1, .clip = 1, .noise = 1.0, .delta = 1e-5 };
    double eps, order, ref, ref_order;
    CHECK(gf_dp_spent(&c, 0, &eps, NULL) == GF_OK && eps == 0);
    CHECK(gf_dp_spent(&c, 3, &eps, &order) == GF_OK);
    CHECK(gf_dp_epsilon(1.0, 1.0, 3, 1e-5, &ref, &ref_order) == GF_OK);
    CHECK(eps == ref && order == ref_order);
    CHECK_NEAR(eps, 9.009959, 1e-5);                             /* gf dp epsilon, the same parameters */
    c.noise = 0;
    CHECK(gf_dp_spent(&c, 3, &eps, NULL) == GF_OK && isinf(eps));
}

/* The sites a round really takes, against the sampling rate the accountant
 * uses. The coordinator's draw (gf_round_sample, as open_in_memory calls it)
 * over 10,000 rounds of 10 online sites, fraction 0.1, min_sites 3: each
 * site is in about 30% of the rounds, not 10%; and the draw is a function
 * of (seed, round, names) that the coordinator and the audit log know, so
 * against them the honest rate is 1. The spent epsilon must be the one at
 * rate 1, and at least the one at the measured rate. */
static void test_client_sampling(void)
{
    enum { N = 10, ROUNDS = 10000 };
    const char *names[N] = { "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9" };
    unsigned char chosen[N], again[N];
    int64_t in[N] = { 0 };
    int repeat = 1;
    for (int64_t r = 1; r <= ROUNDS; r++) {
        gf_round_sample(names, N, 0.1, 3, 42, r, chosen);
        gf_round_sample(names, N, 0.1, 3, 42, r, again);
        repeat &= !memcmp(chosen, again, N);
        for (int i = 0; i < N; i++) in[i] += chosen[i];
    }
    CHECK_MSG(repeat, "the round's draw is a function of (seed, round, names): known to the coordinator");
    double worst = 0;
    for (int i = 0; i < N; i++) {
        double rate = (double)in[i] / ROUNDS, se = sqrt(0.3 * 0.7 / ROUNDS);
        CHECK_MSG(fabs(rate - 0.3) < 3 * se, "site %d in %.4f of the rounds, want 0.3 +- %.4f", i, rate, 3 * se);
        worst = fmax(worst, rate);
    }
    /* the accountant's rate is 1 (>= every measured rate), whatever the fraction */
    CHECK(GF_DP_CLIENT_SAMPLE_RATE == 1.0 && GF_DP_CLIENT_SAMPLE_RATE >= worst);
    gf_dp_config c = { .enabled = 1, .clip = 1, .noise = 1.0, .delta = 1e-5 };
    double eps, at_fraction, at_measured, at_one;
    CHECK(gf_dp_spent(&c, 100, &eps, NULL) == GF_OK);
    CHECK(gf_dp_epsilon(1.0, 0.1, 100, 1e-5, &at_fraction, NULL) == GF_OK);
    CHECK(gf_dp_epsilon(1.0, worst, 100, 1e-5, &at_measured, NULL) == GF_OK);
    CHECK(gf_dp_epsilon(1.0, 1.0, 100, 1e-5, &at_one, NULL) == GF_OK);
    CHECK_MSG(eps == at_one && eps >= at_measured, "100 rounds, sigma 1: spent %.3f; at q = 1 %.3f, at the "
              "measured rate %.4f %.3f", eps, at_one, worst, at_measured);
    CHECK_NEAR(at_one, 96.116308, 1e-5);                         /* gf dp epsilon --sample-rate 1 --steps 100 */
    printf("  10 sites, fraction 0.1, min_sites 3: inclusion rate up to %.4f; epsilon after 100 rounds at "
           "sigma 1: %.2f at q = fraction, %.2f at the measured rate, %.2f spent (q = 1)\n", worst, at_fraction,
           at_measured, eps);
}

static void test_strategy(void)
{
    enum { D = 5 };
    float u1[D] = { 3, 0, -4, 0, 0 }, u2[D] = { 0.1f, 0.2f, 0.3f, 0.4f, 0.5f }, g[D] = { 1, 1, 1, 1, 1 };
    gf_strategy_config cfg = gf_strategy_defaults(GF_STRAT_FEDAVG);
    gf_strategy *s;
    CHECK(gf_strategy_create(&cfg, D, 4, &s) == GF_OK);
    double c1 = gf_dp_clip_scale(u1, D, 1.0), c2 = gf_dp_clip_scale(u2, D, 1.0);
    CHECK(c2 == 1.0);
    CHECK(gf_strategy_add_scaled(s, u1, c1, 1.0, NULL) == GF_OK);
    CHECK(gf_strategy_add_scaled(s, u2, c2, 1.0, NULL) == GF_OK);
    float noise[D] = { 0.5f, -0.5f, 0.25f, 0, 1 };
    CHECK(gf_strategy_perturb_sum(s, 1, noise + 1, 4) == GF_OK);
    CHECK(gf_strategy_perturb_sum(s, 0, noise, 1) == GF_OK);
    CHECK(gf_strategy_perturb_sum(s, 3, noise, 3) == GF_ERR_ARG);      /* past the end */
    CHECK(gf_strategy_finish_round(s, g) == GF_OK);
    for (int i = 0; i < D; i++) {
        double want = 1.0 + (c1 * u1[i] + u2[i] + noise[i]) / 2.0;
        CHECK_NEAR(g[i], want, 1e-6);
    }
    CHECK(gf_strategy_add_scaled(s, u1, 0.0, 1.0, NULL) == GF_ERR_ARG);
    CHECK(gf_strategy_add_scaled(s, u1, 1.5, 1.0, NULL) == GF_ERR_ARG);
    CHECK(gf_strategy_perturb_sum(s, 0, noise, 1) == GF_ERR_ARG);      /* empty round */
    gf_strategy_free(s);
    /* robust strategies buffer the scaled update; they take no noise */
    cfg = gf_strategy_defaults(GF_STRAT_MEDIAN);
    CHECK(gf_strategy_create(&cfg, D, 4, &s) == GF_OK);
    float h[D] = { 0 };
    CHECK(gf_strategy_add_scaled(s, u1, 0.5, 1.0, NULL) == GF_OK);
    CHECK(gf_strategy_perturb_sum(s, 0, noise, 1) == GF_ERR_ARG);
    CHECK(gf_strategy_finish_round(s, h) == GF_OK && h[0] == 1.5f && h[2] == -2.0f);
    gf_strategy_free(s);
}

int main(void)
{
    test_clip();
    test_noise();
    test_spent();
    test_client_sampling();
    test_strategy();
    return check_summary();
}
