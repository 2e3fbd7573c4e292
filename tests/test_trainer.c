/* The training loop: one SGD step over a batch equals w - lr * g computed
 * by hand from a separate forward/backward, and the federated local terms
 * (FedProx's proximal gradient, SCAFFOLD's correction) change that step by
 * exactly mu (w - center) and c - c_i. A run with clipping, accumulation
 * and a warmup + cosine schedule, saved halfway and resumed from its
 * checkpoint, ends with the same bits as the uninterrupted run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "check.h"
#include "core/rng.h"
#include "train/checkpoint.h"
#include "train/trainer.h"

#define N 8
#define DIM 6

static gf_dataset make_data(void)
{
    gf_dataset d = { .n = N, .c = 1, .h = 1, .w = DIM, .dim = DIM, .num_classes = 3 };
    d.x = malloc(sizeof(float) * N * DIM);
    d.y = malloc(sizeof(int32_t) * N);
    gf_rng r;
    gf_rng_seed(&r, 11);
    for (int i = 0; i < N * DIM; i++) d.x[i] = gf_rng_uniform(&r) * 2 - 1;
    for (int i = 0; i < N; i++) d.y[i] = (int32_t)gf_rng_below(&r, 3);
    return d;
}

/* One epoch = one step (batch N) of plain SGD; returns the new parameters. */
static float *one_step(const gf_dataset *d, const float *center, float mu, const float *corr,
                       float **w0_out, float **g_out)
{
    gf_train_config cfg = { .spec = "mlp:6-5-3", .batch = N, .threads = 1, .seed = 3 };
    cfg.optim = gf_optim_defaults(GF_OPTIM_SGD, 0.1f);
    gf_trainer *t;
    CHECK(gf_trainer_create(&cfg, &t) == GF_OK);
    int64_t n = t->model->nparams;
    float *w0 = malloc(sizeof(float) * n), *g = malloc(sizeof(float) * n), *w1 = malloc(sizeof(float) * n);
    memcpy(w0, t->model->params, sizeof(float) * n);
    /* the data gradient at w0 over the whole batch, by a separate pass */
    gf_model_forward(t->model, d->x, N, 1, 0);
    gf_model_backward(t->model, d->y, N, NULL);
    memcpy(g, t->model->grads, sizeof(float) * n);
    t->prox_center = center;
    t->prox_mu = mu;
    t->grad_correction = corr;
    gf_epoch_stats es;
    CHECK(gf_trainer_epoch(t, d, &es, NULL, NULL) == GF_OK);
    CHECK(t->step == 1 && t->epoch == 1);
    memcpy(w1, t->model->params, sizeof(float) * n);
    gf_trainer_free(t);
    *w0_out = w0;
    *g_out = g;
    return w1;
}

/* AdamW, clip 0.05 (below the gradients' norms, so every step clips),
 * 2 batches per step, warmup 2 then cosine to 0.2 x lr over 4 epochs of
 * 2 steps. */
static gf_train_config sched_config(void)
{
    gf_train_config cfg = { .spec = "mlp:6-5-3", .batch = 2, .threads = 1, .seed = 9, .grad_clip = 0.05f,
                            .accum = 2 };
    cfg.optim = gf_optim_defaults(GF_OPTIM_ADAMW, 0.05f);
    cfg.lr_schedule = (gf_lr_schedule){ .kind = GF_LR_COSINE, .warmup = 2, .total = 8, .min_frac = 0.2f };
    return cfg;
}

static void train_epochs(gf_trainer *t, const gf_dataset *d, int upto)
{
    gf_epoch_stats es;
    while (t->epoch < upto) CHECK(gf_trainer_epoch(t, d, &es, NULL, NULL) == GF_OK);
}

static void resume_keeps_schedule(const gf_dataset *d)
{
    const gf_train_config cfg = sched_config();
    gf_trainer *whole, *half, *resumed;
    CHECK(gf_trainer_create(&cfg, &whole) == GF_OK);
    train_epochs(whole, d, 4);
    CHECK(whole->step == 8);

    char path[] = "/tmp/gf_test_trainer_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    CHECK(gf_trainer_create(&cfg, &half) == GF_OK);
    train_epochs(half, d, 2);
    CHECK(gf_checkpoint_save(half, path, -1) == GF_OK);
    CHECK(gf_checkpoint_resume(path, 1, &resumed) == GF_OK);
    const gf_train_config *r = &resumed->cfg;
    CHECK_MSG(r->grad_clip == cfg.grad_clip && r->accum == cfg.accum, "resumed clip %g accum %d",
              r->grad_clip, r->accum);
    CHECK_MSG(r->lr_schedule.kind == GF_LR_COSINE && r->lr_schedule.warmup == 2 && r->lr_schedule.total == 8 &&
              r->lr_schedule.min_frac == 0.2f, "resumed schedule kind %d warmup %lld total %lld min %g",
              (int)r->lr_schedule.kind, (long long)r->lr_schedule.warmup, (long long)r->lr_schedule.total,
              r->lr_schedule.min_frac);
    train_epochs(resumed, d, 4);
    const size_t bytes = sizeof(float) * (size_t)whole->model->nparams;
    CHECK_MSG(memcmp(whole->model->params, resumed->model->params, bytes) == 0,
              "resumed run's weights differ from the uninterrupted run's");

    /* the same resume without clipping and schedule (what a checkpoint that
     * lacks them gives) ends elsewhere: the comparison above can fail */
    gf_trainer *bare;
    CHECK(gf_checkpoint_resume(path, 1, &bare) == GF_OK);
    bare->cfg.grad_clip = 0;
    bare->cfg.lr_schedule = (gf_lr_schedule){ .kind = GF_LR_CONSTANT, .min_frac = 0.1f };
    train_epochs(bare, d, 4);
    CHECK(memcmp(whole->model->params, bare->model->params, bytes) != 0);

    unlink(path);
    gf_trainer_free(whole); gf_trainer_free(half); gf_trainer_free(resumed); gf_trainer_free(bare);
}

int main(void)
{
    gf_dataset d = make_data();
    const int64_t n = (6 * 5 + 5) + (5 * 3 + 3);
    float *center = malloc(sizeof(float) * n), *corr = malloc(sizeof(float) * n);
    gf_rng r;
    gf_rng_seed(&r, 5);
    for (int64_t i = 0; i < n; i++) { center[i] = gf_rng_uniform(&r) - 0.5f; corr[i] = gf_rng_uniform(&r) - 0.5f; }

    float *w0, *g;
    float *plain = one_step(&d, NULL, 0, NULL, &w0, &g);
    double worst = 0;
    for (int64_t i = 0; i < n; i++) worst = fmax(worst, fabs(plain[i] - (w0[i] - 0.1 * g[i])));
    CHECK_MSG(worst < 1e-6, "plain SGD step off by %g", worst);
    free(w0); free(g);

    float *prox = one_step(&d, center, 0.5f, NULL, &w0, &g);
    worst = 0;
    for (int64_t i = 0; i < n; i++)
        worst = fmax(worst, fabs(prox[i] - (w0[i] - 0.1 * (g[i] + 0.5 * (w0[i] - center[i])))));
    CHECK_MSG(worst < 1e-6, "FedProx step off by %g", worst);
    free(w0); free(g);

    float *scaf = one_step(&d, NULL, 0, corr, &w0, &g);
    worst = 0;
    for (int64_t i = 0; i < n; i++) worst = fmax(worst, fabs(scaf[i] - (w0[i] - 0.1 * (g[i] + corr[i]))));
    CHECK_MSG(worst < 1e-6, "SCAFFOLD step off by %g", worst);
    CHECK(memcmp(plain, prox, sizeof(float) * n) != 0 && memcmp(plain, scaf, sizeof(float) * n) != 0);
    free(w0); free(g);

    resume_keeps_schedule(&d);

    free(plain); free(prox); free(scaf); free(center); free(corr);
    gf_dataset_free(&d);
    return check_summary();
}
