/* fed/round (site sampling, closing rules) and fed/local (a site's round of
 * training), checked against plain re-computations. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "data/dataset.h"
#include "engine/model.h"
#include "fed/local.h"
#include "fed/round.h"
#include "train/trainer.h"

static void test_sampling(void)
{
    CHECK(gf_round_sample_size(10, 1.0, 1) == 10);
    CHECK(gf_round_sample_size(10, 0.25, 1) == 3);      /* ceil(2.5) */
    CHECK(gf_round_sample_size(10, 0.2, 1) == 2);       /* exactly 2, not 3 */
    CHECK(gf_round_sample_size(10, 0.1, 4) == 4);       /* at least min_sites */
    CHECK(gf_round_sample_size(3, 0.5, 5) == 3);        /* at most n */
    const char *names[] = { "h-a", "h-b", "h-c", "h-d", "h-e", "h-f", "h-g", "h-h" };
    const char *rev[8];
    for (int i = 0; i < 8; i++) rev[i] = names[7 - i];
    unsigned char a[8], b[8], c[8];
    int picked[8] = {0}, differs = 0;
    for (int64_t r = 1; r <= 400; r++) {
        gf_round_sample(names, 8, 0.5, 1, 42, r, a);
        gf_round_sample(rev, 8, 0.5, 1, 42, r, b);
        int k = 0, same = 1;
        for (int i = 0; i < 8; i++) { k += a[i]; picked[i] += a[i]; same &= a[i] == b[7 - i]; }
        CHECK_MSG(k == 4 && same, "round %lld: %d picked, order-independent %d", (long long)r, k, same);
        gf_round_sample(names, 8, 0.5, 1, 43, r, c);
        differs += memcmp(a, c, 8) != 0;
    }
    /* every site about half the time (400 draws of 4 of 8: 200 +- 3 sigma = 30) */
    for (int i = 0; i < 8; i++) CHECK_MSG(abs(picked[i] - 200) < 45, "site %d picked %d times of 400", i, picked[i]);
    CHECK(differs > 300);                                /* another seed, other draws */

    CHECK(gf_round_verdict_at(3, 3, 3, 2, 0, 10) == GF_ROUND_CLOSE);    /* all answered */
    CHECK(gf_round_verdict_at(2, 2, 3, 2, 5, 10) == GF_ROUND_WAIT);     /* before the deadline */
    CHECK(gf_round_verdict_at(2, 2, 3, 2, 10, 10) == GF_ROUND_CLOSE);   /* deadline, enough */
    CHECK(gf_round_verdict_at(1, 1, 3, 2, 11, 10) == GF_ROUND_RETRY);   /* deadline, too few */
    CHECK(gf_round_verdict_at(0, 0, 1, 0, 11, 10) == GF_ROUND_RETRY);   /* never close empty */
    CHECK(gf_round_verdict_at(2, 3, 3, 2, 1, 10) == GF_ROUND_CLOSE);    /* one declined, enough */
    CHECK(gf_round_verdict_at(1, 3, 3, 2, 1, 10) == GF_ROUND_RETRY);    /* declines leave too few */
}

static gf_dataset toy(int n)
{
    gf_dataset d = { .n = n, .c = 1, .h = 1, .w = 6, .dim = 6, .num_classes = 3 };
    d.x = malloc(sizeof(float) * 6 * (size_t)n);
    d.y = malloc(sizeof(int32_t) * (size_t)n);
    for (int i = 0; i < n; i++) {
        d.y[i] = i % 3;
        for (int k = 0; k < 6; k++) d.x[i * 6 + k] = (float)((i * 7 + k * 3) % 11) / 11.0f + (k == d.y[i] ? 1.0f : 0.0f);
    }
    return d;
}

static void test_local(void)
{
    gf_dataset d = toy(50), val = toy(9);
    gf_model *m;
    CHECK(gf_model_create("mlp:6-5-3", 1, 1, &m) == GF_OK);
    gf_model_init(m, 3);
    int64_t n = m->nparams;
    float *global = malloc(sizeof(float) * n), *delta = malloc(sizeof(float) * n), *delta2 = malloc(sizeof(float) * n);
    memcpy(global, m->params, sizeof(float) * n);
    gf_model_free(m);

    gf_local_config cfg = { .spec = "mlp:6-5-3", .epochs = 2, .steps = -1, .batch = 8, .threads = 1, .seed = 9,
                            .round = 3, .optim = gf_optim_defaults(GF_OPTIM_SGD, 0.1f) };
    gf_local_result res;
    CHECK(gf_local_train(&cfg, &d, &val, global, n, NULL, NULL, delta, NULL, &res) == GF_OK);
    CHECK(res.samples == 50 && res.steps == 14 && isfinite(res.train_loss) && res.val_accuracy >= 0 && res.val_accuracy <= 1);

    /* the same with the trainer by hand: delta = trained - global */
    gf_train_config tc = { .spec = "mlp:6-5-3", .batch = 8, .threads = 1, .seed = 9, .optim = cfg.optim };
    gf_trainer *t;
    CHECK(gf_trainer_create(&tc, &t) == GF_OK);
    memcpy(t->model->params, global, sizeof(float) * n);
    t->epoch = 4;                      /* (round - 1) * epochs */
    t->step = (int64_t)2 << 32;        /* (round - 1) << 32 */
    gf_epoch_stats es;
    CHECK(gf_trainer_epoch(t, &d, &es, NULL, NULL) == GF_OK && gf_trainer_epoch(t, &d, &es, NULL, NULL) == GF_OK);
    double worst = 0;
    for (int64_t i = 0; i < n; i++) worst = fmax(worst, fabs((t->model->params[i] - global[i]) - delta[i]));
    CHECK_MSG(worst == 0, "local round differs from the trainer by %g", worst);
    gf_trainer_free(t);

    /* a step bound stops inside the first epoch; steps 0 moves nothing */
    cfg.steps = 4;
    CHECK(gf_local_train(&cfg, &d, NULL, global, n, NULL, NULL, delta2, NULL, &res) == GF_OK && res.steps == 4);
    CHECK(isnan(res.val_accuracy));
    cfg.steps = 0;
    CHECK(gf_local_train(&cfg, &d, NULL, global, n, NULL, NULL, delta2, NULL, &res) == GF_OK && res.steps == 0);
    int zero = 1;
    for (int64_t i = 0; i < n; i++) zero &= delta2[i] == 0;
    CHECK(zero);

    /* SCAFFOLD, option II: c_i+ = c_i - c + (global - trained) / (K lr), cdelta = c_i+ - c_i */
    cfg.steps = -1;
    cfg.epochs = 1;
    float *c = malloc(sizeof(float) * n), *ci = malloc(sizeof(float) * n), *ci0 = malloc(sizeof(float) * n),
          *cd = malloc(sizeof(float) * n);
    for (int64_t i = 0; i < n; i++) { c[i] = 0.01f * (float)(i % 5); ci[i] = ci0[i] = -0.02f * (float)(i % 3); }
    CHECK(gf_local_train(&cfg, &d, NULL, global, n, c, ci, delta, cd, &res) == GF_OK && res.steps == 7);
    worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double want = (double)ci0[i] - c[i] - delta[i] / (7 * 0.1);
        worst = fmax(worst, fabs(want - ci[i]) + fabs((ci[i] - ci0[i]) - cd[i]));
    }
    CHECK_MSG(worst < 1e-5, "SCAFFOLD control update off by %g", worst);
    /* the correction changes the trajectory */
    CHECK(gf_local_train(&cfg, &d, NULL, global, n, NULL, NULL, delta2, NULL, &res) == GF_OK);
    CHECK(memcmp(delta, delta2, sizeof(float) * n) != 0);

    /* a model that does not fit the data is refused */
    cfg.spec = "mlp:7-3";
    CHECK(gf_local_train(&cfg, &d, NULL, global, n, NULL, NULL, delta, NULL, &res) != GF_OK);
    free(global); free(delta); free(delta2); free(c); free(ci); free(ci0); free(cd);
    gf_dataset_free(&d);
    gf_dataset_free(&val);
}

int main(void)
{
    test_sampling();
    test_local();
    return check_summary();
}
