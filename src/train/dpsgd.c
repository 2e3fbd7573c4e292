/* DP-SGD's step (see dpsgd.h): Poisson batches, per-example gradients from
 * batch-1 worker models, clipping, summing, Gaussian noise, accounting. */
#include "train/dpsgd.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/rng.h"
#include "privacy/accountant.h"
#include "privacy/dp.h"

/* Keeps the batch draws apart from the dropout masks, which also hash (seed, step). */
#define SAMPLE_STREAM 0x506f6973736f6e31ull

typedef struct {                /* one worker's share of a step; padded against false sharing */
    int64_t examples, clipped, dropped, correct;
    double  loss_sum;
    char    pad[64 - 5 * 8];
} worker_stats;

struct gf_dpsgd {
    gf_dpsgd_config cfg;
    gf_model     *model;        /* the trained model (not owned) */
    int           nworkers;
    gf_model    **workers;      /* (nworkers) batch-1 models on model->params */
    float        *acc;          /* (nworkers, nparams) each worker's sum of clipped gradients */
    worker_stats *stats;        /* (nworkers) */
};

static int bad_number(double x) { return !isfinite(x); }

gf_status gf_dpsgd_check(const gf_dpsgd_config *c)
{
    if (bad_number(c->clip) || !(c->clip > 0))
        return gf_errorf(GF_ERR_ARG, "DP-SGD clipping norm must be > 0 (got %g)", c->clip);
    if (bad_number(c->noise) || !(c->noise >= 0))
        return gf_errorf(GF_ERR_ARG, "DP-SGD noise multiplier must be >= 0 (got %g)", c->noise);
    if (bad_number(c->delta) || !(c->delta > 0 && c->delta < 1))
        return gf_errorf(GF_ERR_ARG, "DP-SGD delta must be in (0, 1) (got %g)", c->delta);
    return GF_OK;
}

gf_status gf_dpsgd_create(const gf_dpsgd_config *c, gf_model *m, int workers, gf_dpsgd **out)
{
    *out = NULL;
    gf_status st = gf_dpsgd_check(c);
    if (st) return st;
    if (workers < 1) return gf_errorf(GF_ERR_ARG, "DP-SGD needs at least one worker (got %d)", workers);
    gf_dpsgd *d = calloc(1, sizeof *d);
    if (!d) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    d->cfg = *c;
    d->model = m;
    d->nworkers = workers;
    d->workers = calloc((size_t)workers, sizeof *d->workers);
    d->stats = calloc((size_t)workers, sizeof *d->stats);
    if (posix_memalign((void **)&d->acc, 64, sizeof(float) * (size_t)workers * (size_t)m->nparams))
        d->acc = NULL;
    if (!d->workers || !d->stats || !d->acc) {
        gf_dpsgd_free(d);
        return gf_errorf(GF_ERR_NOMEM, "out of memory for DP-SGD's %d per-example workers (%.1f MB)",
                         workers, 4.0 * workers * m->nparams / 1e6);
    }
    for (int w = 0; w < workers && !st; w++) {
        st = gf_model_create_on(m->spec.canonical, 1, 1, m->backend, &d->workers[w]);
        if (!st) st = gf_model_share_params(d->workers[w], m);
    }
    if (st) { gf_dpsgd_free(d); return st; }
    *out = d;
    return GF_OK;
}

void gf_dpsgd_free(gf_dpsgd *d)
{
    if (!d) return;
    for (int w = 0; d->workers && w < d->nworkers; w++) gf_model_free(d->workers[w]);
    free(d->workers);
    free(d->acc);
    free(d->stats);
    free(d);
}

/* ||x||_2 in double over 32 lanes: enough independent sums to keep the
 * vector adds busy (fixed order, so the same bits every time). */
static double l2_norm(const float *x, int64_t n)
{
    enum { LANES = 32 };
    double lane[LANES] = {0};
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < LANES; k++) lane[k] += (double)x[i + k] * (double)x[i + k];
    double s = 0.0;
    for (; i < n; i++) s += (double)x[i] * (double)x[i];
    for (int k = 0; k < LANES; k++) s += lane[k];
    return sqrt(s);
}

/* Worker w: examples idx[lo..hi), clipped gradients summed into its acc row. */
static void worker_run(gf_dpsgd *d, int w, const gf_dataset *data, const int64_t *idx,
                       int64_t lo, int64_t hi, uint64_t dropout_key)
{
    gf_model *m = d->workers[w];
    const int64_t P = m->nparams;
    float *acc = d->acc + (size_t)w * (size_t)P;      /* (nparams) */
    const float *g = m->grads;                        /* (nparams) */
    worker_stats *s = &d->stats[w];
    memset(s, 0, sizeof *s);
    for (int64_t i = lo; i < hi; i++) {
        int32_t label;
        gf_dataset_gather(data, idx + i, 1, gf_model_input(m), &label);
        gf_model_forward(m, gf_model_input(m), 1, 1, gf_hash64(dropout_key, (uint64_t)i));
        int right = 0;
        s->loss_sum += gf_model_backward(m, &label, 1, &right);
        s->correct += right;
        double norm = l2_norm(g, P);
        if (!isfinite(norm)) {            /* NaN or inf: no clip bounds it; the example is dropped */
            s->dropped++;
            if (i == lo) memset(acc, 0, sizeof(float) * (size_t)P);
            continue;
        }
        float f = norm > d->cfg.clip ? (float)(d->cfg.clip / norm) : 1.0f;
        s->clipped += norm > d->cfg.clip;
        if (i == lo) for (int64_t j = 0; j < P; j++) acc[j] = f * g[j];
        else         for (int64_t j = 0; j < P; j++) acc[j] += f * g[j];
    }
    s->examples = hi - lo;
}

gf_status gf_dpsgd_gradient(gf_dpsgd *d, const gf_dataset *data, const int64_t *idx, int64_t count,
                            double expected_batch, uint64_t dropout_key, gf_dpsgd_stats *stats)
{
    if (count < 0 || !(expected_batch > 0) || !isfinite(expected_batch))
        return gf_errorf(GF_ERR_ARG, "DP-SGD step: bad batch (%lld examples, expected %g)",
                         (long long)count, expected_batch);
    gf_model *m = d->model;
    const int64_t P = m->nparams;
    const int W = d->nworkers;

    #pragma omp parallel for schedule(static, 1) num_threads(W)
    for (int w = 0; w < W; w++)
        worker_run(d, w, data, idx, count * w / W, count * (w + 1) / W, dropout_key);

    float *g = m->grads;                             /* (nparams) noise, then the sum */
    if (d->cfg.noise > 0) {
        gf_status st = gf_dp_gaussian(g, P, d->cfg.noise * d->cfg.clip);
        if (st) return st;
    } else {
        memset(g, 0, sizeof(float) * (size_t)P);
    }
    const float scale = (float)(1.0 / expected_batch);
    const float *acc = d->acc;
    const worker_stats *ws = d->stats;
    #pragma omp parallel for schedule(static) if (P > 65536)
    for (int64_t j = 0; j < P; j++) {
        float s = g[j];
        for (int w = 0; w < W; w++)
            if (ws[w].examples) s += acc[(size_t)w * (size_t)P + j];
        g[j] = s * scale;
    }

    if (stats) {
        *stats = (gf_dpsgd_stats){0};
        for (int w = 0; w < W; w++) {
            stats->examples += ws[w].examples;
            stats->clipped += ws[w].clipped;
            stats->dropped += ws[w].dropped;
            stats->correct += ws[w].correct;
            stats->loss_sum += ws[w].loss_sum;
        }
    }
    return GF_OK;
}

gf_status gf_dpsgd_batch(const gf_dpsgd_config *c, int64_t n, double q, uint64_t seed, uint64_t step,
                         int64_t *idx, int64_t *count)
{
    if (c->noise > 0) return gf_dp_poisson_sample(n, q, idx, count);
    *count = gf_dpsgd_sample(n, q, seed, step, idx);
    return GF_OK;
}

int64_t gf_dpsgd_sample(int64_t n, double q, uint64_t seed, uint64_t step, int64_t *idx)
{
    const uint64_t key = gf_hash64(seed ^ SAMPLE_STREAM, step);
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++) {
        double u = (double)(gf_hash64(key, (uint64_t)i) >> 11) * 0x1.0p-53;   /* [0, 1) */
        if (u < q) idx[k++] = i;
    }
    return k;
}

double gf_dpsgd_sample_rate(int64_t n, int batch)
{
    return n <= 0 || batch >= n ? 1.0 : (double)batch / (double)n;
}

int64_t gf_dpsgd_steps_per_epoch(int64_t n, int batch)
{
    return (n + batch - 1) / batch;
}

gf_status gf_dpsgd_epsilon(const gf_dpsgd_config *c, double q, int64_t steps, double *eps,
                           double *order)
{
    if (order) *order = NAN;
    if (steps < 0) return gf_errorf(GF_ERR_ARG, "DP-SGD accounting: negative step count %lld",
                                    (long long)steps);
    if (steps == 0) { *eps = 0.0; return GF_OK; }
    if (c->noise <= 0) { *eps = INFINITY; return GF_OK; }
    return gf_dp_epsilon(c->noise, q, steps, c->delta, eps, order);
}
