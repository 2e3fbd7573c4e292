/* The training loop: shuffle, gather, forward, backward, optimizer step. */
#include "train/trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/rng.h"
#include "core/timer.h"

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
    if (st) { gf_trainer_free(t); return st; }
    gf_model_init(t->model, cfg->seed);
    t->stop_at_step = -1;
    *out = t;
    return GF_OK;
}

void gf_trainer_free(gf_trainer *t)
{
    if (!t) return;
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

gf_status gf_trainer_epoch(gf_trainer *t, const gf_dataset *train, gf_epoch_stats *stats,
                           gf_progress_fn progress, void *ctx)
{
    gf_model *m = t->model;
    const int B = t->cfg.batch;
    if (t->perm_n != train->n) {
        free(t->perm);
        t->perm_n = 0;
        if (!(t->perm = malloc(sizeof(int64_t) * train->n)))
            return gf_errorf(GF_ERR_NOMEM, "out of memory for the shuffle of %lld samples",
                             (long long)train->n);
        t->perm_n = train->n;
    }
    gf_shuffle(train->n, t->cfg.seed, (uint64_t)t->epoch, t->perm);

    const int64_t nbatches = (train->n + B - 1) / B;
    double loss_sum = 0.0, compute = 0.0;
    int64_t correct = 0, seen = 0;
    for (int64_t bi = 0; bi < nbatches && (t->stop_at_step < 0 || t->step < t->stop_at_step); bi++) {
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
    t->epoch++;
    stats->loss = seen ? loss_sum / seen : NAN;
    stats->accuracy = seen ? (double)correct / seen : NAN;
    stats->compute_s = compute;
    stats->images = seen;
    return GF_OK;
}
