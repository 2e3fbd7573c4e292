/* Adaptive clipping (privacy/dp_adaptive.c) against Andrew et al. 2021:
 * the noise split between the update sum and the unclipped count (the
 * composed multiplier recomputed from the sensitivity of what a site
 * reports, and the epsilon it costs against the accountant's), the
 * geometric clip step, and the clip following the target quantile of a
 * known norm distribution when the two are run as the coordinator runs
 * them (noised count from gf_dp_gaussian). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "core/rng.h"
#include "privacy/accountant.h"
#include "privacy/dp.h"

/* The multiplier that the pair (update sum with multiplier z, count sum
 * with noise std sb) amounts to, as one Gaussian mechanism: each part's
 * sensitivity over its noise std, added in quadrature (Mironov 2017, RDP of
 * a Gaussian with sensitivity D and std s is alpha D^2 / (2 s^2)). The
 * update's sensitivity is one clip; the count's is the most one site's
 * report can move the sum: against a neighbour that leaves the site out
 * (reports nothing, 0), the largest |report|. */
static double composed_multiplier(double z, double sb)
{
    double d_count = fmax(fabs(gf_dp_count_report(1.0)), fabs(gf_dp_count_report(0.25)));
    /* a report is one of two values, clipped or not */
    CHECK(gf_dp_count_report(1.0) != gf_dp_count_report(0.25) && gf_dp_count_report(3.0) == gf_dp_count_report(1.0));
    return 1.0 / sqrt(1.0 / (z * z) + (d_count / sb) * (d_count / sb));
}

int main(void)
{
    gf_dp_config c = { .enabled = 1, .clip = 0.1, .noise = 1.0, .delta = 1e-5, .adaptive = 1, .quantile = 0.5,
                       .clip_lr = 0.2, .count_noise = 2.0 };
    double z, sb;
    /* (sigma^-2 - (2 sigma_b)^-2)^-1/2 = (1 - 1/16)^-1/2 */
    CHECK(gf_dp_round_noise(&c, 10, &z, &sb) == GF_OK);
    CHECK_NEAR(z, 1.0 / sqrt(1.0 - 1.0 / 16.0), 1e-15);
    CHECK(sb == 2.0);
    c.count_noise = 0;                            /* default: sites / 20 */
    CHECK(gf_dp_round_noise(&c, 100, &z, &sb) == GF_OK && sb == 5.0);
    CHECK_NEAR(z, 1.0 / sqrt(1.0 - 1.0 / 100.0), 1e-15);
    CHECK(gf_dp_round_noise(&c, 10, &z, &sb) == GF_ERR_ARG && strstr(gf_last_error(), "count_noise"));
    gf_dp_config plain = { .enabled = 1, .clip = 1, .noise = 1.3 };
    CHECK(gf_dp_round_noise(&plain, 10, &z, &sb) == GF_OK && z == 1.3 && sb == 0);

    /* the pair costs what sigma alone costs: 20 sites, sigma 1.5, sigma_b 1
     * (with reports b in {0, 1} and this split, it would cost 0.915's) */
    gf_dp_config c20 = { .enabled = 1, .clip = 1, .noise = 1.5, .delta = 1e-5, .adaptive = 1, .quantile = 0.5,
                         .clip_lr = 0.2, .count_noise = 1.0 };
    CHECK(gf_dp_round_noise(&c20, 20, &z, &sb) == GF_OK && sb == 1.0 && z > 1.5);
    double eff = composed_multiplier(z, sb);
    CHECK_MSG(fabs(eff - 1.5) < 1e-12, "20 sites, sigma 1.5, sigma_b 1: the pair's multiplier is %.6f, the "
              "accountant counts 1.5", eff);
    double eps_pair, eps_acct;
    CHECK(gf_dp_epsilon(eff, 1.0, 30, 1e-5, &eps_pair, NULL) == GF_OK);
    CHECK(gf_dp_epsilon(1.5, 1.0, 30, 1e-5, &eps_acct, NULL) == GF_OK);
    CHECK_MSG(eps_pair <= eps_acct * (1 + 1e-9), "30 rounds at q = 1: the pair costs epsilon %.3f, the "
              "accountant reports %.3f", eps_pair, eps_acct);
    printf("  sigma 1.5, sigma_b 1, 20 sites: update multiplier %.6f, pair %.6f; 30 rounds epsilon %.3f\n",
           z, eff, eps_acct);
    const double sigmas[] = { 0.3, 0.8, 1.2, 1.9 };    /* any sigma below 2 sigma_b */
    for (int i = 0; i < 4; i++) {
        double s0 = sigmas[i];
        c20.noise = s0;
        CHECK(gf_dp_round_noise(&c20, 20, &z, &sb) == GF_OK);
        CHECK_MSG(fabs(composed_multiplier(z, sb) - s0) < 1e-9 * s0, "sigma %g: pair %g", s0,
                  composed_multiplier(z, sb));
    }
    /* the step: C exp(-eta (f - gamma)), f from the sum of +-1/2 reports:
     * 8 of 10 unclipped sum to 3, none to -5 */
    c.count_noise = 2.0;
    CHECK_NEAR(gf_dp_clip_next(&c, 1.0, 3.0, 10), exp(-0.2 * (0.8 - 0.5)), 1e-15);
    CHECK_NEAR(gf_dp_clip_next(&c, 2.0, -5.0, 10), 2.0 * exp(0.1), 1e-15);
    CHECK(gf_dp_clip_next(&plain, 1.0, 0.0, 10) == 1.0);

    /* norms uniform on [0, 2] (median 1, 0.8-quantile 1.6), 100 sites a
     * round, count noise 5: from 0.1 the clip settles at the quantile */
    double quantiles[] = { 0.5, 0.8 }, want[] = { 1.0, 1.6 };
    for (int q = 0; q < 2; q++) {
        c.quantile = quantiles[q];
        c.count_noise = 5.0;
        double clip = 0.1, avg = 0;
        gf_rng r;
        gf_rng_seed(&r, 11);
        for (int round = 0; round < 400; round++) {
            double reports = 0;
            for (int i = 0; i < 100; i++) {
                double norm = 2.0 * gf_rng_uniform(&r);
                reports += gf_dp_count_report(norm > clip ? clip / norm : 1.0);
            }
            float noise;
            CHECK(gf_dp_gaussian(&noise, 1, 5.0) == GF_OK);
            clip = gf_dp_clip_next(&c, clip, reports + noise, 100);
            if (round >= 300) avg += clip / 100;
        }
        CHECK_MSG(fabs(avg - want[q]) < 0.1 * want[q], "quantile %.1f: clip settled at %.3f, want %.2f",
                  quantiles[q], avg, want[q]);
    }
    return check_summary();
}
