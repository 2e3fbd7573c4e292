/* What a site accepts in a securely aggregated task: its own minimums,
 * checked by the site itself before it takes part, because the coordinator
 * that sends the round's parameters is not trusted to choose them (a
 * threshold of 1, no noise, a zero clip). A refusal names the parameter,
 * its value and the site's minimum, so the operator who reads the site's
 * log or the coordinator's audit line (the site declines with it) knows
 * which side to change. */
#ifndef GF_PRIVACY_SECAGG_POLICY_H
#define GF_PRIVACY_SECAGG_POLICY_H

#include <stdint.h>
#include "core/error.h"

typedef struct {
    int    min_t;       /* threshold at least this; 0: GF_SECAGG_POLICY_MIN_T */
    int    min_sites;   /* sites in the round at least this; 0: GF_SECAGG_POLICY_MIN_SITES */
    double min_noise;   /* > 0: client-level DP required, with a noise multiplier of at
                         * least this for the sum of gf_ddg_min_survivors(n, t) sites
                         * (gf_ddg_round_multiplier: integer noise, rounding included) */
} gf_secagg_policy;

#define GF_SECAGG_POLICY_MIN_T     2
#define GF_SECAGG_POLICY_MIN_SITES 3

/* A task's secure-aggregation parameters, as the site reads them. */
typedef struct {
    int     n, k, t;
    int64_t d;
    double  clip;                 /* quantisation range */
    double  max_weight;
    double  dp_clip;              /* 0: no client-level DP */
    double  dp_noise_std;         /* each site's share of the noise */
    int     dp_count;
    double  dp_count_noise_std;
} gf_secagg_offer;

/* GF_OK when the offer meets the policy: n >= min_sites; t >= min_t
 * (sites colluding with the coordinator hold shares of both of an honest
 * site's secrets, so fewer than t of them can open nothing: min_t is one
 * more than the coalition a site is willing to assume); k/2 < t <= k (the
 * protocol's own bound; the consistency round needs a majority of the
 * round's sites besides, privacy/secagg_peer.h); clip finite > 0,
 * max_weight >= 1; every DP number finite and >= 0, a count bit only with
 * a clip; with min_noise > 0: dp_clip > 0, dp_noise_std > 0 and the
 * multiplier at least min_noise, and a count bit carries noise. Else
 * GF_ERR_ARG with the reason. */
gf_status gf_secagg_policy_check(const gf_secagg_policy *pol, const gf_secagg_offer *o);

#endif
