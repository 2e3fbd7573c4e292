/* The training loop: shuffle, gather, forward, backward, optimizer step;
 * with DP-SGD, Poisson batches and the private gradient of train/dpsgd.h. */
#include "train/trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/rng.h"
#include "core/timer.h"
#include "train/dpsgd.h"

gf_status gf_trainer_create(const gf_train_config *cfg, gf_trainer **out)
{
    *out = NULL;
    gf_trainer *t = calloc(1, sizeof *t);
    if (!t) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    t->cfg = *cfg;
    gf_status st = gf_model_create(cfg->spec, cfg->batch, cfg->threads, &t->model);
    if (!st) st = gf_optim_create(&cfg->optim, t->model->nparams, &t->optim);
    if (!st && !(t->labels = malloc(sizeof(int32_t) * cfg->batch)))
        st = gf_errorf(GF_ERR_NOMEM, "out of memory");
    if (!st && cfg->dpsgd.enabled) st = gf_dpsgd_create(&cfg->dpsgd, t->model, cfg->threads, &t->dp);
    if (st) { gf_trainer_free(t); return st; }
    gf_model_init(t->model, cfg->seed);
    t->stop_at_step = -1;
    *out = t;
    return GF_OK;
}

void gf_trainer_free(gf_trainer *t)
{
    if (!t) return;
    gf_dpsgd_free(t->dp);
    gf_model_free(t->model);
    gf_optim_free(&t->optim);
    free(t->perm);
    free(t->labels);
    free(t);
}

gf_status gf_trainer_check_data(const gf_model *m, const gf_dataset *d, const char *what)
{
    if (d->n <= 0) return gf_errorf(GF_ERR_ARG, "%s: dataset is empty", what);
    if (d->dim != m->in_numel)
        return gf_errorf(GF_ERR_MISMATCH, "%s: samples have %lld values (%dx%dx%d) but the model "
                         "input %s takes %lld", what, (long long)d->dim, d->c, d->h, d->w,
                         m->spec.canonical, (long long)m->in_numel);
    for (int64_t i = 0; i < d->n; i++)
        if (d->y[i] < 0 || d->y[i] >= m->num_classes)
            return gf_errorf(GF_ERR_MISMATCH, "%s: sample %lld has label %d but the model has %d "
                             "outputs (labels must be 0..%d)", what, (long long)i, d->y[i],
                             m->num_classes, m->num_classes - 1);
    return gf_dataset_check_finite(d, what);
}

/* The federated terms of the local objective, added to the data gradient. */
static void add_local_terms(gf_trainer *t)
{
    const int64_t n = t->model->nparams;
    float *g = t->model->grads;
    const float *w = t->model->params;
    if (t->prox_center && t->prox_mu > 0.0f) {
        const float mu = t->prox_mu, *c = t->prox_center;
        #pragma omp parallel for schedule(static) if (n > 65536)
        for (int64_t i = 0; i < n; i++) g[i] += mu * (w[i] - c[i]);
    }
    if (t->grad_correction) {
        const float *corr = t->grad_correction;
        #pragma omp parallel for schedule(static) if (n > 65536)
        for (int64_t i = 0; i < n; i++) g[i] += corr[i];
    }
}

/* perm (n): the epoch's shuffle, or a DP step's Poisson sample. */
static gf_status perm_reserve(gf_trainer *t, int64_t n)
{
    if (t->perm_n == n) return GF_OK;
    free(t->perm);
    t->perm_n = 0;
    if (!(t->perm = malloc(sizeof(int64_t) * n)))
        return gf_errorf(GF_ERR_NOMEM, "out of memory for the batch indices of %lld samples",
                         (long long)n);
    t->perm_n = n;
    return GF_OK;
}

static int epoch_open(const gf_trainer *t)
{
    return t->stop_at_step < 0 || t->step < t->stop_at_step;
}

/* An epoch ends: its count and its stats (NaN loss and accuracy when it saw nothing). */
static gf_status epoch_close(gf_trainer *t, gf_epoch_stats *stats, double loss_sum, int64_t correct, int64_t seen,
                             double compute)
{
    t->epoch++;
    stats->loss = seen ? loss_sum / seen : NAN;
    stats->accuracy = seen ? (double)correct / seen : NAN;
    stats->compute_s = compute;
    stats->images = seen;
    return GF_OK;
}

/* A DP-SGD epoch: ceil(n / B) steps, each on a Poisson sample of rate q. */
static gf_status dp_epoch(gf_trainer *t, const gf_dataset *train, gf_epoch_stats *stats,
                          gf_progress_fn progress, void *ctx)
{
    gf_model *m = t->model;
    const double q = gf_dpsgd_sample_rate(train->n, t->cfg.batch);
    if (t->dp_sample_rate > 0 && t->dp_sample_rate != q)
        return gf_errorf(GF_ERR_MISMATCH, "DP-SGD: %lld training samples with batch %d give sample "
                         "rate %.9g, but the run's earlier steps used %.9g (the accountant needs "
                         "one rate)", (long long)train->n, t->cfg.batch, q, t->dp_sample_rate);
    const double expected = q * (double)train->n;
    const int64_t nsteps = gf_dpsgd_steps_per_epoch(train->n, t->cfg.batch);
    double loss_sum = 0.0, compute = 0.0;
    int64_t correct = 0, seen = 0;
    for (int64_t si = 0; si < nsteps && epoch_open(t); si++) {
        double t0 = gf_now();
        int64_t count;
        gf_status st = gf_dpsgd_batch(&t->cfg.dpsgd, train->n, q, t->cfg.seed, (uint64_t)t->step, t->perm, &count);
        if (st) return st;
        gf_dpsgd_stats ds;
        st = gf_dpsgd_gradient(t->dp, train, t->perm, count, expected, gf_hash64(t->cfg.seed, (uint64_t)t->step), &ds);
        if (st) return st;
        add_local_terms(t);
        gf_optim_step(&t->optim, m->params, m->grads);
        compute += gf_now() - t0;
        t->step++;
        t->dp_steps++;
        t->dp_sample_rate = q;

        if (!isfinite(ds.loss_sum))
            return gf_errorf(GF_ERR_NUMERIC, "training loss became %g at step %lld (epoch %d); "
                             "try a smaller learning rate", ds.loss_sum / (double)ds.examples,
                             (long long)t->step, t->epoch + 1);
        loss_sum += ds.loss_sum;
        correct += ds.correct;
        seen += ds.examples;
        if (progress) progress(ctx, si + 1, nsteps, seen ? loss_sum / seen : 0.0,
                               compute > 0 ? seen / compute : 0.0);
    }
    return epoch_close(t, stats, loss_sum, correct, seen, compute);
}

gf_status gf_trainer_epoch(gf_trainer *t, const gf_dataset *train, gf_epoch_stats *stats,
                           gf_progress_fn progress, void *ctx)
{
    gf_model *m = t->model;
    const int B = t->cfg.batch;
    gf_status st = perm_reserve(t, train->n);
    if (st) return st;
    if (t->dp) return dp_epoch(t, train, stats, progress, ctx);
    gf_shuffle(train->n, t->cfg.seed, (uint64_t)t->epoch, t->perm);

    const int64_t nbatches = (train->n + B - 1) / B;
    double loss_sum = 0.0, compute = 0.0;
    int64_t correct = 0, seen = 0;
    for (int64_t bi = 0; bi < nbatches && epoch_open(t); bi++) {
        int64_t first = bi * B;
        int n = (int)(train->n - first < B ? train->n - first : B);
        gf_dataset_gather(train, t->perm + first, n, gf_model_input(m), t->labels);

        double t0 = gf_now();
        gf_model_forward(m, gf_model_input(m), n, 1, gf_hash64(t->cfg.seed, (uint64_t)t->step));
        int right = 0;
        double loss = gf_model_backward(m, t->labels, n, &right);
        add_local_terms(t);
        gf_optim_step(&t->optim, m->params, m->grads);
        compute += gf_now() - t0;
        t->step++;

        if (!isfinite(loss))
            return gf_errorf(GF_ERR_NUMERIC, "training loss became %g at step %lld (epoch %d); "
                             "try a smaller learning rate", loss, (long long)t->step, t->epoch + 1);
        loss_sum += loss * n;
        correct += right;
        seen += n;
        if (progress) progress(ctx, bi + 1, nbatches, loss_sum / (first + n),
                               compute > 0 ? (first + n) / compute : 0.0);
    }
    return epoch_close(t, stats, loss_sum, correct, seen, compute);
}

gf_status gf_trainer_dp_epsilon(const gf_trainer *t, double *eps, double *order)
{
    if (!t->dp) return gf_errorf(GF_ERR_ARG, "the run does not use DP-SGD");
    return gf_dpsgd_epsilon(&t->cfg.dpsgd, t->dp_sample_rate, t->dp_steps, eps, order);
}
