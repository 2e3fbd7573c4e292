/* Adaptive clipping (privacy/dp_adaptive.c) against Andrew et al. 2021:
 * the noise split between the update sum and the unclipped count, the
 * geometric clip step, and the clip following the target quantile of a
 * known norm distribution when the two are run as the coordinator runs
 * them (noised count from gf_dp_gaussian). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "core/rng.h"
#include "privacy/dp.h"

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
    /* the step: C exp(-eta (f - gamma)) */
    c.count_noise = 2.0;
    CHECK_NEAR(gf_dp_clip_next(&c, 1.0, 8.0, 10), exp(-0.2 * (0.8 - 0.5)), 1e-15);
    CHECK_NEAR(gf_dp_clip_next(&c, 2.0, 0.0, 10), 2.0 * exp(0.1), 1e-15);
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
            int below = 0;
            for (int i = 0; i < 100; i++) below += 2.0 * gf_rng_uniform(&r) <= clip;
            float noise;
            CHECK(gf_dp_gaussian(&noise, 1, 5.0) == GF_OK);
            clip = gf_dp_clip_next(&c, clip, below + noise, 100);
            if (round >= 300) avg += clip / 100;
        }
        CHECK_MSG(fabs(avg - want[q]) < 0.1 * want[q], "quantile %.1f: clip settled at %.3f, want %.2f",
                  quantiles[q], avg, want[q]);
    }
    return check_summary();
}
