/* Strategy configs (defaults, names, validation), the strategy object's
 * lifecycle, checked adds into the round, the dispatch of finish_round, and
 * the named server-state vectors. The per-family aggregation lives in
 * strategy_sum.c and strategy_robust.c. */
#include "fed/strategy_impl.h"

#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "core/finite.h"

static const char *const type_names[GF_STRAT_COUNT] = {
    [GF_STRAT_FEDAVG] = "fedavg",         [GF_STRAT_FEDAVGM] = "fedavgm",
    [GF_STRAT_FEDPROX] = "fedprox",       [GF_STRAT_FEDADAM] = "fedadam",
    [GF_STRAT_FEDYOGI] = "fedyogi",       [GF_STRAT_FEDADAGRAD] = "fedadagrad",
    [GF_STRAT_SCAFFOLD] = "scaffold",     [GF_STRAT_MEDIAN] = "median",
    [GF_STRAT_TRIMMED_MEAN] = "trimmed_mean", [GF_STRAT_KRUM] = "krum",
    [GF_STRAT_MULTIKRUM] = "multikrum",
};

static int type_valid(gf_strategy_type t) { return (unsigned)t < GF_STRAT_COUNT; }

static int is_fedopt(gf_strategy_type t)
{
    return t == GF_STRAT_FEDADAM || t == GF_STRAT_FEDYOGI || t == GF_STRAT_FEDADAGRAD;
}

static int is_krum(gf_strategy_type t) { return t == GF_STRAT_KRUM || t == GF_STRAT_MULTIKRUM; }

gf_strategy_config gf_strategy_defaults(gf_strategy_type t)
{
    gf_strategy_config c = { .type = t, .server_lr = 1.0, .server_momentum = 0.0,
                             .beta1 = 0.9, .beta2 = 0.99, .tau = 1e-9, .mu = 0.0,
                             .trim_ratio = 0.0, .krum_f = 0, .multikrum_m = 0,
                             .scaffold_sites_total = 0 };
    switch (t) {
    case GF_STRAT_FEDAVGM: c.server_momentum = 0.9; break;
    case GF_STRAT_FEDPROX: c.mu = 0.01; break;
    case GF_STRAT_FEDADAM: c.server_lr = 0.1; break;
    case GF_STRAT_FEDYOGI: c.server_lr = 0.01; c.tau = 1e-3; break;
    case GF_STRAT_FEDADAGRAD: c.server_lr = 0.1; c.beta1 = 0.0; c.beta2 = 0.0; break;
    case GF_STRAT_TRIMMED_MEAN: c.trim_ratio = 0.2; break;
    default: break;
    }
    return c;
}

const char *gf_strategy_type_name(gf_strategy_type t)
{
    return type_valid(t) ? type_names[t] : "unknown";
}

gf_status gf_strategy_type_parse(const char *name, gf_strategy_type *out)
{
    if (!name) return gf_errorf(GF_ERR_ARG, "missing strategy name");
    for (int t = 0; t < GF_STRAT_COUNT; t++)
        if (!strcmp(name, type_names[t])) { *out = (gf_strategy_type)t; return GF_OK; }
    return gf_errorf(GF_ERR_ARG, "unknown strategy \"%s\" (expected fedavg, fedavgm, fedprox, "
                     "fedadam, fedyogi, fedadagrad, scaffold, median, trimmed_mean, krum "
                     "or multikrum)", name);
}

int gf_strategy_is_streaming(gf_strategy_type t)
{
    return type_valid(t) && t <= GF_STRAT_SCAFFOLD;
}

/* 1 if x is in [lo, hi) */
static int in_range(double x, double lo, double hi) { return x >= lo && x < hi; }

static gf_status validate(const gf_strategy_config *c, int64_t d, int max_sites)
{
    const char *name = gf_strategy_type_name(c->type);
    if (!type_valid(c->type))
        return gf_errorf(GF_ERR_ARG, "unknown strategy type %d", (int)c->type);
    if (d <= 0)
        return gf_errorf(GF_ERR_ARG, "%s: parameter count must be > 0 (got %lld)", name, (long long)d);
    if (max_sites < 1)
        return gf_errorf(GF_ERR_ARG, "%s: max_sites must be >= 1 (got %d)", name, max_sites);
    if (gf_strategy_is_streaming(c->type) && !(c->server_lr > 0.0 && isfinite(c->server_lr)))
        return gf_errorf(GF_ERR_ARG, "%s: server_lr must be a positive number (got %g)", name, c->server_lr);
    if (c->type == GF_STRAT_FEDAVGM && !in_range(c->server_momentum, 0.0, 1.0))
        return gf_errorf(GF_ERR_ARG, "%s: server_momentum must be in [0, 1) (got %g)", name, c->server_momentum);
    if (c->type == GF_STRAT_FEDPROX && !(c->mu >= 0.0 && isfinite(c->mu)))
        return gf_errorf(GF_ERR_ARG, "%s: mu must be >= 0 (got %g)", name, c->mu);
    if (is_fedopt(c->type)) {
        if (!in_range(c->beta1, 0.0, 1.0))
            return gf_errorf(GF_ERR_ARG, "%s: beta1 must be in [0, 1) (got %g)", name, c->beta1);
        if (!in_range(c->beta2, 0.0, 1.0))
            return gf_errorf(GF_ERR_ARG, "%s: beta2 must be in [0, 1) (got %g)", name, c->beta2);
        if (!(c->tau > 0.0 && isfinite(c->tau)))
            return gf_errorf(GF_ERR_ARG, "%s: tau must be a positive number (got %g)", name, c->tau);
    }
    if (c->type == GF_STRAT_SCAFFOLD && c->scaffold_sites_total < 1)
        return gf_errorf(GF_ERR_ARG, "%s: scaffold_sites_total (N, the total number of sites) "
                         "must be set to >= 1 (got %d)", name, c->scaffold_sites_total);
    if (c->type == GF_STRAT_TRIMMED_MEAN && !in_range(c->trim_ratio, 0.0, 0.5))
        return gf_errorf(GF_ERR_ARG, "%s: trim_ratio must be in [0, 0.5) (got %g)", name, c->trim_ratio);
    if (is_krum(c->type)) {
        if (c->krum_f < 0)
            return gf_errorf(GF_ERR_ARG, "%s: krum_f must be >= 0 (got %d)", name, c->krum_f);
        if (c->multikrum_m < 0)
            return gf_errorf(GF_ERR_ARG, "%s: multikrum_m must be >= 0 (got %d)", name, c->multikrum_m);
        if ((int64_t)2 * c->krum_f + 3 > max_sites)
            return gf_errorf(GF_ERR_ARG, "%s: max_sites = %d is too small for krum_f = %d "
                             "(needs n >= 2f + 3 = %lld updates)", name, max_sites, c->krum_f,
                             (long long)2 * c->krum_f + 3);
    }
    return GF_OK;
}

/* calloc of a * b elements of `size` bytes, NULL on overflow or failure */
static void *calloc3(int64_t a, int64_t b, size_t size)
{
    if (a <= 0 || b <= 0 || (uint64_t)a > SIZE_MAX / size / (uint64_t)b) return NULL;
    return calloc((size_t)a * (size_t)b, size);
}

double gf_strategy_bytes(gf_strategy_type t, int64_t d, int max_sites)
{
    double D = (double)d, n = max_sites, threads = omp_get_max_threads() > 0 ? omp_get_max_threads() : 1;
    if (gf_strategy_is_streaming(t)) {   /* the buffers of gf_strategy_create below */
        int nstate = t == GF_STRAT_FEDAVGM || t == GF_STRAT_SCAFFOLD ? 1 : is_fedopt(t) ? 2 : 0;
        return sizeof(double) * D * (t == GF_STRAT_SCAFFOLD ? 2 : 1) + sizeof(float) * nstate * D;
    }
    double b = sizeof(float) * n * D + sizeof(double) * D;
    return b + (is_krum(t) ? sizeof(double) * (n * n + 2 * n) : sizeof(float) * threads * n);
}

gf_status gf_strategy_create(const gf_strategy_config *cfg, int64_t d, int max_sites,
                             gf_strategy **out)
{
    if (!out) return gf_errorf(GF_ERR_ARG, "gf_strategy_create: out is NULL");
    *out = NULL;
    if (!cfg) return gf_errorf(GF_ERR_ARG, "gf_strategy_create: config is NULL");
    gf_status st = validate(cfg, d, max_sites);
    if (st) return st;

    gf_strategy *s = calloc(1, sizeof *s);
    if (!s) return gf_errorf(GF_ERR_NOMEM, "out of memory for the strategy");
    s->cfg = *cfg;
    s->d = d;
    s->max_sites = max_sites;
    const gf_strategy_type t = cfg->type;
    const char *name = gf_strategy_type_name(t);

    int ok = 1;
    if (gf_strategy_is_streaming(t)) {
        ok = (s->sum = calloc3(d, 1, sizeof(double))) != NULL;
        if (ok && t == GF_STRAT_SCAFFOLD) ok = (s->csum = calloc3(d, 1, sizeof(double))) != NULL;
        s->nstate = t == GF_STRAT_FEDAVGM || t == GF_STRAT_SCAFFOLD ? 1 : is_fedopt(t) ? 2 : 0;
        if (ok && s->nstate) ok = (s->state = calloc3(s->nstate, d, sizeof(float))) != NULL;
        if (ok && is_fedopt(t)) {
            const float v0 = (float)(cfg->tau * cfg->tau);   /* v_{-1} = tau^2 */
            for (int64_t j = 0; j < d; j++) s->state[d + j] = v0;
        }
    } else {
        s->nthreads = omp_get_max_threads();
        if (s->nthreads < 1) s->nthreads = 1;
        ok = (s->updates = calloc3(max_sites, d, sizeof(float))) != NULL &&
             (s->agg = calloc3(d, 1, sizeof(double))) != NULL;
        if (ok && is_krum(t))
            ok = (s->dist = calloc3(max_sites, max_sites, sizeof(double))) != NULL &&
                 (s->row = calloc3(2, max_sites, sizeof(double))) != NULL;
        else if (ok)
            ok = (s->scratch = calloc3(s->nthreads, max_sites, sizeof(float))) != NULL;
    }
    if (!ok) {
        gf_strategy_free(s);
        return gf_errorf(GF_ERR_NOMEM, "%s: out of memory for buffers (d = %lld, max_sites = %d)",
                         name, (long long)d, max_sites);
    }
    *out = s;
    return GF_OK;
}

void gf_strategy_free(gf_strategy *s)
{
    if (!s) return;
    free(s->sum);
    free(s->csum);
    free(s->updates);
    free(s->agg);
    free(s->dist);
    free(s->row);
    free(s->scratch);
    free(s->state);
    free(s);
}

/* The sums are not cleared: the round's first add overwrites them, and
 * nothing reads them while n is 0. */
static void reset_round(gf_strategy *s)
{
    s->n = 0;
    s->wsum = 0.0;
    s->maxabs = 0.0f;
}

gf_status gf_strategy_begin_round(gf_strategy *s)
{
    if (!s) return gf_errorf(GF_ERR_ARG, "gf_strategy_begin_round: strategy is NULL");
    reset_round(s);
    return GF_OK;
}

int gf_strategy_num_updates(const gf_strategy *s) { return s ? s->n : 0; }

gf_status gf_strategy_add(gf_strategy *s, const float *update, double weight,
                          const float *control_delta)
{
    return gf_strategy_add_scaled(s, update, 1.0, weight, control_delta);
}

gf_status gf_strategy_add_scaled(gf_strategy *s, const float *update, double scale, double weight,
                                 const float *control_delta)
{
    if (!s) return gf_errorf(GF_ERR_ARG, "gf_strategy_add: strategy is NULL");
    if (!(scale > 0.0 && scale <= 1.0))
        return gf_errorf(GF_ERR_ARG, "gf_strategy_add: scale must lie in (0, 1] (got %g)", scale);
    const gf_strategy_type t = s->cfg.type;
    const char *name = gf_strategy_type_name(t);
    const int64_t d = s->d;
    if (!update) return gf_errorf(GF_ERR_ARG, "%s: update is NULL", name);
    if (t == GF_STRAT_SCAFFOLD && !control_delta)
        return gf_errorf(GF_ERR_ARG, "%s: update %d has no control-variate delta", name, s->n + 1);
    if (t != GF_STRAT_SCAFFOLD && control_delta)
        return gf_errorf(GF_ERR_ARG, "%s: control-variate deltas are for scaffold only", name);
    if (!(weight > 0.0 && isfinite(weight)))
        return gf_errorf(GF_ERR_ARG, "%s: update weight must be a positive number (got %g)", name, weight);
    if (!gf_strategy_is_streaming(t) && s->n >= s->max_sites)
        return gf_errorf(GF_ERR_ARG, "%s: more than max_sites = %d updates in one round",
                         name, s->max_sites);
    if (t == GF_STRAT_SCAFFOLD && s->n >= s->cfg.scaffold_sites_total)
        return gf_errorf(GF_ERR_ARG, "%s: more updates in one round than scaffold_sites_total = %d",
                         name, s->cfg.scaffold_sites_total);
    if (s->n == INT32_MAX)
        return gf_errorf(GF_ERR_ARG, "%s: too many updates in one round", name);
    const int weighted = gf_strategy_is_streaming(t) && t != GF_STRAT_SCAFFOLD;
    if (weighted && !(s->wsum + weight <= GF_STRATEGY_MAX_WEIGHT_SUM))
        return gf_errorf(GF_ERR_ARG, "%s: the round's weight sum would exceed %g", name,
                         GF_STRATEGY_MAX_WEIGHT_SUM);
    const float m = gf_max_abs(update, d);    /* one pass: not finite when a NaN or infinity is there */
    int64_t bad = isfinite(m) ? -1 : gf_first_nonfinite(update, d);
    if (bad >= 0)
        return gf_errorf(GF_ERR_NUMERIC, "%s: update %d has a non-finite value (%g) at index %lld",
                         name, s->n + 1, (double)update[bad], (long long)bad);
    if (control_delta && (bad = gf_first_nonfinite(control_delta, d)) >= 0)
        return gf_errorf(GF_ERR_NUMERIC, "%s: control-variate delta %d has a non-finite value (%g) "
                         "at index %lld", name, s->n + 1, (double)control_delta[bad], (long long)bad);

    /* checked: from here on nothing fails */
    if (gf_strategy_is_streaming(t)) {
        double *sum = s->sum, *csum = s->csum;
        const double w = weighted ? weight : 1.0, ws = w * scale;
        /* the round's first update starts the sums (0.0 + x: the bits of the
         * cleared sum plus x, -0.0 included), so a round begins without a pass */
        if (s->n == 0) {
            #pragma omp parallel for schedule(static) if (d > 65536)
            for (int64_t j = 0; j < d; j++) sum[j] = 0.0 + ws * (double)update[j];
        } else {
            #pragma omp parallel for schedule(static) if (d > 65536)
            for (int64_t j = 0; j < d; j++) sum[j] += ws * (double)update[j];
        }
        if (csum) {
            #pragma omp parallel for schedule(static) if (d > 65536)
            for (int64_t j = 0; j < d; j++) csum[j] = (s->n ? csum[j] : 0.0) + (double)control_delta[j];
        }
        s->wsum += w;
        if (m > s->maxabs) s->maxabs = m;
    } else {
        float *row = s->updates + (size_t)s->n * (size_t)d;
        if (scale == 1.0) memcpy(row, update, (size_t)d * sizeof(float));
        else for (int64_t j = 0; j < d; j++) row[j] = (float)(scale * (double)update[j]);
    }
    s->n++;
    return GF_OK;
}

gf_status gf_strategy_finish_round(gf_strategy *s, float *global)
{
    return gf_strategy_finish_round_into(s, global, global);
}

gf_status gf_strategy_finish_round_into(gf_strategy *s, const float *from, float *to)
{
    if (!s) return gf_errorf(GF_ERR_ARG, "gf_strategy_finish_round: strategy is NULL");
    const char *name = gf_strategy_type_name(s->cfg.type);
    if (!from || !to) return gf_errorf(GF_ERR_ARG, "%s: global model is NULL", name);
    if (s->n == 0) return gf_errorf(GF_ERR_ARG, "%s: no updates in this round", name);
    gf_status st = gf_strategy_is_streaming(s->cfg.type) ? gf_strategy_finish_sum(s, from, to)
                                                         : gf_strategy_finish_robust(s, from, to);
    if (st == GF_OK) reset_round(s);
    return st;
}

int gf_strategy_state_count(const gf_strategy *s) { return s ? s->nstate : 0; }

const char *gf_strategy_state_name(const gf_strategy *s, int i)
{
    if (!s || i < 0 || i >= s->nstate) return NULL;
    switch (s->cfg.type) {
    case GF_STRAT_FEDAVGM: return "server.momentum";
    case GF_STRAT_SCAFFOLD: return "server.c";
    default: return i == 0 ? "server.m" : "server.v";
    }
}

float *gf_strategy_state(gf_strategy *s, int i)
{
    if (!s || i < 0 || i >= s->nstate) return NULL;
    return s->state + (size_t)i * (size_t)s->d;
}

const float *gf_strategy_control(const gf_strategy *s)
{
    return s && s->cfg.type == GF_STRAT_SCAFFOLD ? s->state : NULL;
}

gf_status gf_strategy_snap_noise_sum(gf_strategy *s, int64_t offset, const int64_t *k, int64_t len, double unit)
{
    int e;
    if (!s || !k || offset < 0 || len < 0 || offset > s->d - len || !(unit > 0) || frexp(unit, &e) != 0.5)
        return gf_errorf(GF_ERR_ARG, "gf_strategy_snap_noise_sum: bad arguments");
    const gf_strategy_type t = s->cfg.type;
    if (!gf_strategy_is_streaming(t) || t == GF_STRAT_SCAFFOLD)
        return gf_errorf(GF_ERR_ARG, "%s: only the sum-based FedAvg family takes noise in its sum",
                         gf_strategy_type_name(t));
    if (s->n == 0) return gf_errorf(GF_ERR_ARG, "%s: no update in this round to perturb", gf_strategy_type_name(t));
    s->maxabs = INFINITY;             /* the sum is no longer a mean of the updates: no bound */
    double *sum = s->sum + offset;
    for (int64_t j = 0; j < len; j++) {
        double v = nearbyint(sum[j] / unit) + (double)k[j];      /* an integer; exact below 2^53 */
        if (!(fabs(v) < 0x1p52))
            return gf_errorf(GF_ERR_NUMERIC, "noised sum %lld is off the lattice's exact range", (long long)(offset + j));
        sum[j] = v * unit;                                       /* exact: unit is a power of two */
    }
    return GF_OK;
}

gf_status gf_strategy_perturb_sum(gf_strategy *s, int64_t offset, const float *noise, int64_t len)
{
    if (!s || !noise || offset < 0 || len < 0 || offset > s->d - len)
        return gf_errorf(GF_ERR_ARG, "gf_strategy_perturb_sum: bad arguments");
    const gf_strategy_type t = s->cfg.type;
    if (!gf_strategy_is_streaming(t) || t == GF_STRAT_SCAFFOLD)
        return gf_errorf(GF_ERR_ARG, "%s: only the sum-based FedAvg family takes noise in its sum",
                         gf_strategy_type_name(t));
    if (s->n == 0) return gf_errorf(GF_ERR_ARG, "%s: no update in this round to perturb", gf_strategy_type_name(t));
    int64_t bad = gf_first_nonfinite(noise, len);
    if (bad >= 0) return gf_errorf(GF_ERR_NUMERIC, "noise value %lld is not finite", (long long)bad);
    s->maxabs = INFINITY;             /* the sum is no longer a mean of the updates: no bound */
    double *sum = s->sum + offset;
    for (int64_t j = 0; j < len; j++) sum[j] += (double)noise[j];
    return GF_OK;
}
