/* Tests for train/binary_eval: AUC, sensitivity and specificity against
 * answers known by hand (scikit-learn's documented example, ties, perfect
 * and reversed rankings) and against a plain recomputation that counts every
 * (positive, negative) pair, on random scores full of ties; then through a
 * real model whose weights make its logit margin a chosen input feature. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/rng.h"
#include "train/binary_eval.h"

/* AUC by definition: pairs where the positive wins, ties half. */
static double auc_pairs(const double *s, const int32_t *y, int64_t n)
{
    double wins = 0, pairs = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) {
            if (!(y[i] == 1 && y[j] == 0)) continue;
            pairs++;
            wins += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
        }
    return wins / pairs;
}

static double auc_of(const double *s, const int32_t *y, int n)
{
    int32_t pred[64];
    for (int i = 0; i < n; i++) pred[i] = s[i] > 0.5;
    gf_binary_metrics m;
    CHECK(gf_binary_metrics_compute(s, y, pred, n, &m) == GF_OK);
    return m.auc;
}

static void test_known(void)
{
    /* scikit-learn's roc_auc_score example: 0.75 */
    double s1[] = { 0.1, 0.4, 0.35, 0.8 };
    int32_t y1[] = { 0, 0, 1, 1 };
    CHECK_NEAR(auc_of(s1, y1, 4), 0.75, 1e-15);
    /* ties: the positive at 0.5 against two negatives at 0.5 counts 1/2 each:
     * (0.5 + 0.5 + 1 + 1) / 4 */
    double s2[] = { 0.5, 0.5, 0.5, 0.9 };
    int32_t y2[] = { 0, 1, 0, 1 };
    CHECK_NEAR(auc_of(s2, y2, 4), 0.75, 1e-15);
    double s3[] = { 0.3, 0.3, 0.3, 0.3 };
    CHECK_NEAR(auc_of(s3, y2, 4), 0.5, 1e-15);
    double s4[] = { 0.1, 0.2, 0.8, 0.9 };
    int32_t y4[] = { 0, 0, 1, 1 }, y5[] = { 1, 1, 0, 0 };
    CHECK_NEAR(auc_of(s4, y4, 4), 1.0, 1e-15);
    CHECK_NEAR(auc_of(s4, y5, 4), 0.0, 1e-15);

    /* sensitivity and specificity of the predictions given */
    double s6[] = { 0, 0, 0, 0, 0, 0, 0 };
    int32_t y6[] = { 1, 1, 1, 0, 0, 0, 0 }, p6[] = { 1, 1, 0, 0, 0, 1, 0 };
    gf_binary_metrics m;
    CHECK(gf_binary_metrics_compute(s6, y6, p6, 7, &m) == GF_OK);
    CHECK(m.positives == 3 && m.negatives == 4 && m.tp == 2 && m.fn == 1 && m.tn == 3 && m.fp == 1);
    CHECK_NEAR(m.sensitivity, 2.0 / 3.0, 1e-15);
    CHECK_NEAR(m.specificity, 0.75, 1e-15);
    CHECK_NEAR(m.auc, 0.5, 1e-15);

    /* one class only: AUC and the missing rate undefined */
    int32_t y7[] = { 1, 1 }, p7[] = { 1, 0 };
    CHECK(gf_binary_metrics_compute(s6, y7, p7, 2, &m) == GF_OK);
    CHECK(isnan(m.auc) && isnan(m.specificity) && m.sensitivity == 0.5);
    /* bad input */
    int32_t y8[] = { 0, 2 };
    CHECK(gf_binary_metrics_compute(s6, y8, p7, 2, &m) == GF_ERR_ARG);
    double s9[] = { 0, NAN };
    CHECK(gf_binary_metrics_compute(s9, y4, p7, 2, &m) == GF_ERR_ARG);
}

static void test_random(void)
{
    enum { N = 700 };
    static double s[N];
    static int32_t y[N], p[N];
    gf_rng rng;
    gf_rng_seed(&rng, 7);
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < N; i++) {
            y[i] = gf_rng_below(&rng, 100) < (uint64_t)(30 + 10 * round);
            /* few distinct values: many ties; positives shifted up */
            s[i] = (double)gf_rng_below(&rng, 12 + round) + (y[i] ? 2.0 : 0.0);
            p[i] = s[i] > 6;
        }
        gf_binary_metrics m;
        CHECK(gf_binary_metrics_compute(s, y, p, N, &m) == GF_OK);
        CHECK_NEAR(m.auc, auc_pairs(s, y, N), 1e-12);
        CHECK(m.auc > 0.55 && m.auc < 1.0);
    }
}

/* A model seq:3-linear2 whose logits are z0 = 0, z1 = x[0]: its score is x[0]. */
static void test_model(void)
{
    gf_model *m = NULL;
    CHECK(gf_model_create("seq:3-linear2", 4, 1, &m) == GF_OK);
    if (!m) return;
    memset(m->params, 0, sizeof(float) * (size_t)m->nparams);
    gf_tensor_view w;
    gf_model_tensor(m, 0, &w);                 /* 0.weight (2, 3) */
    CHECK(w.ndim == 2 && w.shape[0] == 2 && w.shape[1] == 3);
    w.data[1 * 3 + 0] = 1.0f;
    enum { N = 11 };
    float x[N * 3];
    int32_t y[N] = { 0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 1 };
    double s[N];
    const float v[N] = { -2.0f, 0.5f, 0.5f, 3.0f, -1.0f, -0.25f, 1.0f, 1.0f, -3.0f, 0.0f, 2.0f };
    for (int i = 0; i < N; i++) {
        x[3 * i] = v[i]; x[3 * i + 1] = 5.0f; x[3 * i + 2] = -7.0f;   /* ignored features */
        s[i] = v[i];
    }
    gf_dataset d = { .n = N, .c = 1, .h = 1, .w = 3, .dim = 3, .num_classes = 2, .x = x, .y = y };
    gf_binary_metrics bm;
    CHECK(gf_model_evaluate_binary(m, &d, &bm) == GF_OK);
    CHECK_NEAR(bm.auc, auc_pairs(s, y, N), 1e-12);
    /* predicted 1 where x[0] > 0: positives 0.5, 3, 1, 2 of 6 (not -1, 0); negatives 0.5, 1 of 5 */
    CHECK(bm.positives == 6 && bm.negatives == 5 && bm.tp == 4 && bm.fn == 2 && bm.fp == 2 && bm.tn == 3);
    gf_model_free(m);
    CHECK(gf_model_create("seq:3-linear10", 4, 1, &m) == GF_OK);
    CHECK(gf_model_evaluate_binary(m, &d, &bm) == GF_ERR_MISMATCH && isnan(bm.auc));
    gf_model_free(m);
}

int main(void)
{
    test_known();
    test_random();
    test_model();
    return check_summary();
}
