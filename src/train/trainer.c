/* The training loop: shuffle, gather, forward, backward, optimizer step;
 * with DP-SGD, Poisson batches and the private gradient of train/dpsgd.h. */
#include "train/trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/rng.h"
#include "core/timer.h"
#include "engine/backend.h"
#include "train/dpsgd.h"

gf_status gf_trainer_create(const gf_train_config *cfg, gf_trainer **out)
{
    *out = NULL;
    gf_trainer *t = calloc(1, sizeof *t);
    if (!t) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    t->cfg = *cfg;
    gf_status st = gf_model_create_on(cfg->spec, cfg->batch, cfg->threads, cfg->backend, &t->model);
    if (!st) st = gf_optim_create_on(&cfg->optim, t->model->nparams, t->model->backend, &t->optim);
    if (!st && !(t->labels = malloc(sizeof(int32_t) * cfg->batch * t->model->positions)))
        st = gf_errorf(GF_ERR_NOMEM, "out of memory");
    if (!st && (cfg->accum < 0 || cfg->accum > 1000000 || !(cfg->grad_clip >= 0)))
        st = gf_errorf(GF_ERR_ARG, "gradient accumulation must be 1..1000000 batches and the clip norm >= 0");
    if (!st && cfg->accum > 1 && !(t->accum_grads = malloc(sizeof(float) * (size_t)t->model->nparams)))
        st = gf_errorf(GF_ERR_NOMEM, "out of memory for the accumulated gradient");
    if (!st && cfg->dpsgd.enabled && t->model->gpt)
        st = gf_errorf(GF_ERR_ARG, "DP-SGD is not available for gpt models yet");
    if (!st && cfg->dpsgd.enabled && (cfg->accum > 1 || cfg->grad_clip > 0))
        st = gf_errorf(GF_ERR_ARG, "DP-SGD clips per example: it does not combine with gradient clipping or accumulation");
    /* GPT-2 / nanoGPT / llm.c: weight decay on matrices and embeddings only */
    for (int i = 0, n = !st && t->model->gpt ? gf_model_num_tensors(t->model) : 0; !st && i < n; i++) {
        gf_tensor_view v;
        gf_model_tensor(t->model, i, &v);
        if (v.ndim < 2) st = gf_optim_no_decay(&t->optim, v.data - t->model->params, v.numel);
    }
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
    free(t->accum_grads);
    free(t);
}

gf_status gf_trainer_check_data(const gf_model *m, const gf_dataset *d, const char *what)
{
    if (m->input_dtype == GF_DTYPE_I32 || d->tokens) {
        if (!d->tokens || m->input_dtype != GF_DTYPE_I32)
            return gf_errorf(GF_ERR_MISMATCH, "%s: %s", what, d->tokens ?
                             "token data (text:, tokens:) needs a language model (gpt:...)" :
                             "a language model (gpt:...) needs token data (text:PATH or tokens:PATH)");
        if (d->n <= 0 || d->dim != m->in_numel)
            return gf_errorf(GF_ERR_MISMATCH, "%s: %lld tokens do not make a sample of context %lld plus "
                             "its next token", what, (long long)d->ntokens, (long long)m->in_numel);
        for (int64_t i = 0; i < d->ntokens; i++)
            if (d->tokens[i] < 0 || d->tokens[i] >= m->num_classes)
                return gf_errorf(GF_ERR_MISMATCH, "%s: token %lld has id %d but the model's vocabulary "
                                 "is 0..%d (V=%d)", what, (long long)i, d->tokens[i],
                                 m->num_classes - 1, m->num_classes);
        return GF_OK;
    }
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

/* Adds the batch's gradient to the step's sum (kept in m->grads when there
 * is no accumulation); returns how many batches the sum holds. */
static int accum_add(gf_trainer *t)
{
    if (!t->accum_grads) return ++t->accum_count;
    const int64_t n = t->model->nparams;
    float *a = t->accum_grads;
    const float *g = t->model->grads;
    if (t->accum_count == 0) memcpy(a, g, sizeof(float) * (size_t)n);
    else {
        #pragma omp parallel for schedule(static) if (n > 65536)
        for (int64_t i = 0; i < n; i++) a[i] += g[i];
    }
    return ++t->accum_count;
}

static int dist_on(const gf_trainer *t) { return t->dist && t->dist->size > 1; }

/* Data parallel, after one batch's backward on this rank's shard of cnt of
 * the global batch's n samples: weights the shard's mean gradient by its
 * share (cnt * size / n: 1 when the shards are equal, the 1/size comes in
 * step_take) and sums loss and right answers over the ranks, so that every
 * rank sees the whole batch's mean loss. */
static gf_status shard_reduce(gf_trainer *t, int64_t n, int64_t cnt, double *loss, int *right, double *comm)
{
    const int64_t np = t->model->nparams;
    float *g = t->model->grads;
    const int size = t->dist->size;
    if (cnt * size != n) {
        const float w = (float)((double)(cnt * size) / (double)n);
        #pragma omp parallel for schedule(static) if (np > 65536)
        for (int64_t i = 0; i < np; i++) g[i] *= w;
    }
    double t0 = gf_now(), s[2] = { *loss * (double)cnt, (double)*right };
    gf_status st = gf_dist_sum_f64(t->dist, s, 2);
    *comm += gf_now() - t0;
    *loss = s[0] / (double)n;
    *right = (int)s[1];
    return st;
}

/* One optimizer step: across ranks the sum of their gradients, the mean of
 * the accumulated gradients, the federated local terms, clipping, the
 * scheduled learning rate. */
static gf_status step_take(gf_trainer *t, double *comm)
{
    gf_model *m = t->model;
    const int64_t n = m->nparams;
    float ranks = 1.0f;
    if (dist_on(t)) {               /* the one flat vector, summed over the ranks */
        double t0 = gf_now();
        gf_status st = gf_dist_sum_f32(t->dist, t->accum_grads ? t->accum_grads : m->grads, n);
        *comm += gf_now() - t0;
        if (st) return st;
        ranks = (float)t->dist->size;
    }
    if (t->accum_grads) {
        const float s = 1.0f / ((float)t->accum_count * ranks), *a = t->accum_grads;
        float *g = m->grads;
        #pragma omp parallel for schedule(static) if (n > 65536)
        for (int64_t i = 0; i < n; i++) g[i] = a[i] * s;
    } else if (ranks != 1.0f) {
        const float s = 1.0f / ranks;
        float *g = m->grads;
        #pragma omp parallel for schedule(static) if (n > 65536)
        for (int64_t i = 0; i < n; i++) g[i] *= s;
    }
    t->accum_count = 0;
    add_local_terms(t);
    if (t->cfg.grad_clip > 0) m->backend->clip_grad_norm(m->grads, n, t->cfg.grad_clip);
    const float base = t->optim.cfg.lr;
    const gf_lr_schedule *ls = &t->cfg.lr_schedule;
    if (ls->kind != GF_LR_CONSTANT || ls->warmup > 0) t->optim.cfg.lr = gf_lr_at(ls, base, t->step);
    gf_optim_step(&t->optim, m->params, m->grads);
    t->optim.cfg.lr = base;
    t->step++;
    return GF_OK;
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
                             double compute, double comm)
{
    stats->allreduce_s = comm;
    t->epoch++;
    stats->loss = seen ? loss_sum / seen : NAN;
    stats->accuracy = seen ? (double)correct / ((double)seen * t->model->positions) : NAN;
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
    return epoch_close(t, stats, loss_sum, correct, seen, compute, 0.0);
}

gf_status gf_trainer_epoch(gf_trainer *t, const gf_dataset *train, gf_epoch_stats *stats,
                           gf_progress_fn progress, void *ctx)
{
    gf_model *m = t->model;
    const int B = t->cfg.batch;
    gf_status st = perm_reserve(t, train->n);
    if (st) return st;
    if (t->dp && dist_on(t))
        return gf_errorf(GF_ERR_ARG, "DP-SGD does not run across MPI ranks (run it as one process)");
    if (t->dp) return dp_epoch(t, train, stats, progress, ctx);
    gf_shuffle(train->n, t->cfg.seed, (uint64_t)t->epoch, t->perm);

    const int64_t nbatches = (train->n + B - 1) / B;
    double loss_sum = 0.0, compute = 0.0, comm = 0.0;
    int64_t correct = 0, seen = 0;
    const int accum = t->cfg.accum > 1 ? t->cfg.accum : 1;
    for (int64_t bi = 0; bi < nbatches && epoch_open(t); bi++) {
        int64_t first = bi * B;
        int n = (int)(train->n - first < B ? train->n - first : B);
        int64_t lo = 0, cnt = n;        /* this rank's shard of the global batch */
        if (dist_on(t)) gf_dist_shard(t->dist, n, &lo, &cnt);
        if (cnt) gf_dataset_gather(train, t->perm + first + lo, cnt, gf_model_input(m), t->labels);

        double t0 = gf_now();
        uint64_t key = gf_hash64(t->cfg.seed, (uint64_t)t->step);
        if (t->accum_count) key = gf_hash64(key, (uint64_t)t->accum_count);
        int right = 0;
        double loss = 0.0;
        m->sample_first = lo;
        if (cnt) {
            if (!gf_model_forward(m, gf_model_input(m), (int)cnt, 1, key)) return GF_ERR_ARG;
            loss = gf_model_backward(m, t->labels, (int)cnt, &right);
        } else {
            memset(m->grads, 0, sizeof(float) * (size_t)m->nparams);
        }
        if (dist_on(t) && (st = shard_reduce(t, n, cnt, &loss, &right, &comm))) return st;
        if (accum_add(t) < accum && bi + 1 < nbatches) {     /* more batches for this step */
            compute += gf_now() - t0;
            goto account;
        }
        if ((st = step_take(t, &comm))) return st;
        compute += gf_now() - t0;

    account:
        if (!isfinite(loss))
            return gf_errorf(GF_ERR_NUMERIC, "training loss became %g at step %lld (epoch %d); "
                             "try a smaller learning rate", loss, (long long)t->step, t->epoch + 1);
        loss_sum += loss * n;
        correct += right;
        seen += n;
        if (progress) progress(ctx, bi + 1, nbatches, loss_sum / (first + n),
                               compute > 0 ? (first + n) / compute : 0.0);
    }
    if (t->accum_count && (st = step_take(t, &comm))) return st;
    return epoch_close(t, stats, loss_sum, correct, seen, compute, comm);
}

/* A hash of n bytes, 8 at a time (the tail zero-padded). */
static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        h = gf_hash64(h ^ w, i);
    }
    uint64_t w = 0;
    memcpy(&w, b + i, n - i);
    return gf_hash64(h ^ w, n);
}

gf_status gf_trainer_dist_check(const gf_trainer *t, const gf_dataset *train)
{
    if (!dist_on(t)) return GF_OK;
    const gf_model *m = t->model;
    const gf_optim_config *o = &t->optim.cfg;
    const gf_lr_schedule *ls = &t->cfg.lr_schedule;
    uint64_t v[3];
    /* settings, field by field (no struct padding) */
    double num[] = { t->cfg.batch, (double)t->cfg.seed, o->type, o->lr, o->momentum, o->weight_decay,
                     o->beta1, o->beta2, o->eps, t->cfg.grad_clip, t->cfg.accum, ls->kind,
                     (double)ls->warmup, (double)ls->total, ls->min_frac, t->cfg.dpsgd.enabled };
    v[0] = hash_bytes(hash_bytes(1, m->spec.canonical, strlen(m->spec.canonical)), num, sizeof num);
    /* data */
    int64_t shape[3] = { train->n, train->dim, train->ntokens };
    v[1] = hash_bytes(2, shape, sizeof shape);
    if (train->tokens) v[1] = hash_bytes(v[1], train->tokens, sizeof(int32_t) * (size_t)train->ntokens);
    if (train->x) v[1] = hash_bytes(v[1], train->x, sizeof(float) * (size_t)(train->n * train->dim));
    if (train->y) v[1] = hash_bytes(v[1], train->y, sizeof(int32_t) * (size_t)train->n);
    /* state */
    int64_t ctr[3] = { t->epoch, t->step, t->optim.step };
    v[2] = hash_bytes(hash_bytes(3, ctr, sizeof ctr), m->params, sizeof(float) * (size_t)m->nparams);
    if (t->optim.nstate)
        v[2] = hash_bytes(v[2], t->optim.state, sizeof(float) * (size_t)(t->optim.nstate * t->optim.n));
    int same[3];
    gf_status st = gf_dist_agree(t->dist, v, 3, same);
    if (st) return st;
    static const char *what[3] = {
        "the model spec or training settings (--model, --batch, --seed, optimizer, schedule, clipping, --accum)",
        "the training data (each rank must read the same dataset)",
        "the starting state (parameters, optimizer state or step counters: the same --resume file?)" };
    for (int i = 0; i < 3; i++)
        if (!same[i])
            return gf_errorf(GF_ERR_MISMATCH, "the %d ranks disagree on %s", t->dist->size, what[i]);
    return GF_OK;
}

gf_status gf_trainer_dp_epsilon(const gf_trainer *t, double *eps, double *order)
{
    if (!t->dp) return gf_errorf(GF_ERR_ARG, "the run does not use DP-SGD");
    return gf_dpsgd_epsilon(&t->cfg.dpsgd, t->dp_sample_rate, t->dp_steps, eps, order);
}

gf_status gf_trainer_evaluate(gf_trainer *t, const gf_dataset *d, double *loss, double *accuracy)
{
    gf_model *m = t->model;
    if (!d->tokens) {
        gf_model_evaluate(m, d->x, d->y, d->n, loss, accuracy);
        return GF_OK;
    }
    double total = 0.0, right = 0.0;
    for (int64_t i = 0; i < d->n; i += m->max_batch) {
        int B = (int)(d->n - i < m->max_batch ? d->n - i : m->max_batch);
        int64_t idx[64], done = 0;
        double l, a;
        while (done < B) {      /* windows i .. i+B, gathered in slices of 64 indices */
            int64_t k = B - done < 64 ? B - done : 64;
            for (int64_t j = 0; j < k; j++) idx[j] = i + done + j;
            gf_dataset_gather(d, idx, k, (int32_t *)gf_model_input(m) + done * m->in_numel,
                              t->labels + done * m->positions);
            done += k;
        }
        gf_model_evaluate(m, gf_model_input(m), t->labels, B, &l, &a);
        total += l * B;
        right += a * B;
    }
    if (loss) *loss = d->n ? total / (double)d->n : 0.0;
    if (accuracy) *accuracy = d->n ? right / (double)d->n : 0.0;
    return isfinite(total) ? GF_OK : gf_errorf(GF_ERR_NUMERIC, "evaluation loss is not finite");
}
