/* A site's minimums for a securely aggregated task (see secagg_policy.h). */
#include "privacy/secagg_policy.h"

#include <math.h>
#include "privacy/ddg.h"
#include "privacy/secagg.h"

#define REFUSE(...) gf_errorf(GF_ERR_ARG, "this site refuses the round: " __VA_ARGS__)

gf_status gf_secagg_policy_check(const gf_secagg_policy *pol, const gf_secagg_offer *o)
{
    if (!pol || !o) return gf_errorf(GF_ERR_ARG, "secagg policy: NULL argument");
    int min_t = pol->min_t > 0 ? pol->min_t : GF_SECAGG_POLICY_MIN_T;
    int min_sites = pol->min_sites > 0 ? pol->min_sites : GF_SECAGG_POLICY_MIN_SITES;
    if (o->n < min_sites) return REFUSE("%d sites in the round, this site's minimum is %d (--secagg-min-sites)", o->n, min_sites);
    if (o->t < min_t) return REFUSE("threshold t = %d, this site's minimum is %d (--secagg-min-t)", o->t, min_t);
    if (o->k < 1 || o->k > o->n - 1 || 2 * o->t <= o->k || o->t > o->k)
        return REFUSE("threshold t = %d does not fit k = %d neighbours of %d sites (k/2 < t <= k)", o->t, o->k, o->n);
    if (!isfinite(o->clip) || !(o->clip > 0)) return REFUSE("quantisation clip %g, need a finite value > 0", o->clip);
    if (!isfinite(o->max_weight) || !(o->max_weight >= 1)) return REFUSE("max_weight %g, need >= 1", o->max_weight);
    if (!isfinite(o->dp_clip) || o->dp_clip < 0 || !isfinite(o->dp_noise_std) || o->dp_noise_std < 0 ||
        !isfinite(o->dp_count_noise_std) || o->dp_count_noise_std < 0)
        return REFUSE("DP parameters clip %g, noise std %g, count noise std %g are not finite values >= 0", o->dp_clip,
                      o->dp_noise_std, o->dp_count_noise_std);
    if (o->dp_count && !(o->dp_clip > 0)) return REFUSE("an adaptive-clipping count without a DP clip");
    if (pol->min_noise > 0) {
        if (!(o->dp_clip > 0)) return REFUSE("no client-level DP (clip %g), this site requires a noise multiplier of at "
                                             "least %g (--min-noise)", o->dp_clip, pol->min_noise);
        if (o->dp_count && !(o->dp_count_noise_std > 0))
            return REFUSE("the adaptive-clipping count carries no noise (count noise std %g)", o->dp_count_noise_std);
        /* the multiplier the sum of the fewest survivors this site will unmask for gets, rounding included */
        int m = gf_ddg_min_survivors(o->n, o->t);
        double scale = gf_secagg_quant_scale((float)o->clip, o->n);
        double z = o->d > 1 + o->dp_count ? gf_ddg_round_multiplier(scale, o->dp_clip, o->d - 1 - o->dp_count,
                                                                       o->dp_noise_std, o->dp_count ? o->dp_count_noise_std : 0, m) : 0;
        if (!(z >= pol->min_noise))
            return REFUSE("noise multiplier %g (discrete Gaussian std %g over %d survivors at scale %g, clip %g), this "
                          "site's minimum is %g (--min-noise)", z, o->dp_noise_std, m, scale, o->dp_clip, pol->min_noise);
    }
    return GF_OK;
}
