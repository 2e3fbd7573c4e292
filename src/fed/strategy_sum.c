/* finish_round of the streaming (sum-based) strategies: FedAvg, FedProx,
 * FedAvgM, FedAdam, FedYogi, FedAdagrad and SCAFFOLD. The round arrives as
 * sums in double (strategy.c accumulates them at each add, in add order);
 * each coordinate's step is computed in double from them and from the float
 * server state, and the new global and state values are rounded to float.
 *
 * With Delta = sum_i w_i * update_i / sum_i w_i (sample-weighted mean update)
 * and eta = server_lr:
 *   FedAvg (McMahan et al. 2017, "Communication-Efficient Learning of Deep
 *     Networks from Decentralized Data"): global += eta * Delta (eta = 1 is
 *     FedAvg proper).
 *   FedProx (Li et al. 2020, "Federated Optimization in Heterogeneous
 *     Networks"): the server is FedAvg; mu only changes the sites' objective.
 *   FedAvgM (Hsu et al. 2019, "Measuring the Effects of Non-Identical Data
 *     Distribution for Federated Visual Classification"):
 *     v = beta * v + Delta; global += eta * v.
 *   FedAdam / FedYogi / FedAdagrad (Reddi et al. 2021, "Adaptive Federated
 *     Optimization", Algorithm 2, no bias correction):
 *     m = beta1 * m + (1 - beta1) * Delta
 *     Adagrad: v = v + Delta^2
 *     Adam:    v = beta2 * v + (1 - beta2) * Delta^2
 *     Yogi:    v = v - (1 - beta2) * Delta^2 * sign(v - Delta^2)   (sign(0) = 0)
 *     global += eta * m / (sqrt(v) + tau)
 *     m starts at 0 and v at tau^2 (the paper's v_{-1} >= tau^2; Flower
 *     starts v at 0, which differs only while Delta^2 is near tau^2).
 *   SCAFFOLD (Karimireddy et al. 2020, "SCAFFOLD: Stochastic Controlled
 *     Averaging for Federated Learning", Algorithm 1, server side), over the
 *     participating set S, unweighted:
 *     global += eta * (1/|S|) sum_i update_i
 *     c      += (1/N) sum_i control_delta_i   (= |S|/N * mean control delta)
 * The new state values are the float ones stored; the global step uses those
 * stored values, so a restored state continues bit-identically. */
#include "fed/strategy_impl.h"
#include "core/finite.h"

#include <float.h>
#include <math.h>

typedef struct { float g, s0, s1; } coord_out;   /* new global, state 0, state 1 */

static inline double sign(double x) { return (x > 0.0) - (x < 0.0); }

/* The round's step at coordinate j of global value g. Reads only. */
static inline coord_out coord_step(const gf_strategy *s, int64_t j, float g)
{
    const gf_strategy_config *c = &s->cfg;
    const int64_t d = s->d;
    const double eta = c->server_lr;
    coord_out r = { 0.0f, 0.0f, 0.0f };
    if (c->type == GF_STRAT_SCAFFOLD) {
        const double delta = s->sum[j] / (double)s->n;
        r.g = (float)((double)g + eta * delta);
        r.s0 = (float)((double)s->state[j] + s->csum[j] / (double)c->scaffold_sites_total);
        return r;
    }
    const double delta = s->sum[j] / s->wsum;
    switch (c->type) {
    case GF_STRAT_FEDAVGM:
        r.s0 = (float)(c->server_momentum * (double)s->state[j] + delta);
        r.g = (float)((double)g + eta * (double)r.s0);
        break;
    case GF_STRAT_FEDADAM:
    case GF_STRAT_FEDYOGI:
    case GF_STRAT_FEDADAGRAD: {
        const double m = (double)s->state[j], v = (double)s->state[d + j];
        const double d2 = delta * delta;
        double v_new;
        if (c->type == GF_STRAT_FEDADAM) v_new = c->beta2 * v + (1.0 - c->beta2) * d2;
        else if (c->type == GF_STRAT_FEDYOGI) v_new = v - (1.0 - c->beta2) * d2 * sign(v - d2);
        else v_new = v + d2;
        r.s0 = (float)(c->beta1 * m + (1.0 - c->beta1) * delta);
        r.s1 = (float)v_new;
        r.g = (float)((double)g + eta * (double)r.s0 / (sqrt((double)r.s1) + c->tau));
        break;
    }
    default:   /* FedAvg, FedProx */
        r.g = (float)((double)g + eta * delta);
        break;
    }
    return r;
}

/* FedAvg and FedProx keep no state: coord_step's default case, in loops
 * that the compiler vectorises (the same operations in the same order, so
 * the same bits). Pass 1 checks, pass 2 stores, as below; pass 1 is skipped
 * when a bound proves the result finite: sum / wsum is a weighted mean of
 * the updates (positive weights, scales <= 1), so |sum_j / wsum| <= maxabs
 * up to the double rounding of at most 2^31 adds (< 1e-6 relative). */
static gf_status finish_plain(gf_strategy *s, const float *from, float *to)
{
    const int64_t d = s->d;
    const double *sum = s->sum, wsum = s->wsum, eta = s->cfg.server_lr;
    int bad = 0;
    const double bound = (double)gf_max_abs(from, d) + eta * (double)s->maxabs * (1.0 + 1e-6);
    if (!(bound <= 0.99 * FLT_MAX)) {
        #pragma omp parallel for schedule(static) reduction(|:bad) if (d > 65536)
        for (int64_t j = 0; j < d; j++) bad |= !isfinite((float)((double)from[j] + eta * (sum[j] / wsum)));
    }
    if (bad)
        return gf_errorf(GF_ERR_NUMERIC, "%s: the aggregate overflows float; global model and "
                         "state left unchanged", gf_strategy_type_name(s->cfg.type));
    #pragma omp parallel for schedule(static) if (d > 65536)
    for (int64_t j = 0; j < d; j++) to[j] = (float)((double)from[j] + eta * (sum[j] / wsum));
    return GF_OK;
}

gf_status gf_strategy_finish_sum(gf_strategy *s, const float *from, float *to)
{
    const int64_t d = s->d;
    const int nstate = s->nstate;
    if (s->cfg.type == GF_STRAT_FEDAVG || s->cfg.type == GF_STRAT_FEDPROX) return finish_plain(s, from, to);
    /* pass 1: check that everything stays finite, modifying nothing */
    int bad = 0;
    #pragma omp parallel for schedule(static) reduction(|:bad) if (d > 65536)
    for (int64_t j = 0; j < d; j++) {
        coord_out r = coord_step(s, j, from[j]);
        bad |= !isfinite(r.g) | !isfinite(r.s0) | !isfinite(r.s1);
    }
    if (bad)
        return gf_errorf(GF_ERR_NUMERIC, "%s: the aggregate overflows float; global model and "
                         "state left unchanged", gf_strategy_type_name(s->cfg.type));
    /* pass 2: the same computation, stored */
    float *st = s->state;
    #pragma omp parallel for schedule(static) if (d > 65536)
    for (int64_t j = 0; j < d; j++) {
        coord_out r = coord_step(s, j, from[j]);
        to[j] = r.g;
        if (nstate >= 1) st[j] = r.s0;
        if (nstate >= 2) st[d + j] = r.s1;
    }
    return GF_OK;
}
