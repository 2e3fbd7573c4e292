/* Adaptive clipping for client-level DP (Andrew et al. 2021): the noise
 * split between the update sum and the unclipped count, and the geometric
 * update of the clip toward the target quantile of the update norms. */
#include "privacy/dp.h"

#include <math.h>

double gf_dp_count_report(double clip_scale)
{
    return clip_scale >= 1.0 ? 0.5 : -0.5;
}

gf_status gf_dp_round_noise(const gf_dp_config *c, int sites, double *update_noise, double *count_std)
{
    *update_noise = c->noise;
    *count_std = 0;
    if (!c->adaptive) return GF_OK;
    if (sites < 1) return gf_errorf(GF_ERR_ARG, "adaptive clipping: a round needs at least one site");
    double sb = c->count_noise > 0 ? c->count_noise : sites / 20.0;
    if (!(c->noise > 0)) return gf_errorf(GF_ERR_ARG, "adaptive clipping needs dp.noise > 0");
    if (!(c->noise < 2 * sb))
        return gf_errorf(GF_ERR_ARG, "adaptive clipping: dp.noise %g must be below twice the count noise %g (%s); "
                         "set dp.adaptive.count_noise above %g", c->noise, sb,
                         c->count_noise > 0 ? "dp.adaptive.count_noise" : "sites / 20", c->noise / 2);
    *update_noise = 1.0 / sqrt(1.0 / (c->noise * c->noise) - 1.0 / (4 * sb * sb));
    *count_std = sb;
    return GF_OK;
}

double gf_dp_clip_next(const gf_dp_config *c, double clip, double noised_sum, int sites)
{
    if (!c->adaptive || sites < 1) return clip;
    double f = noised_sum / sites + 0.5;
    return clip * exp(-c->clip_lr * (f - c->quantile));
}
