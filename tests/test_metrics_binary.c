/* Two-class metrics: AUC against scikit-learn's documented example and a
 * brute-force count over every (positive, negative) pair on random scores
 * with many ties; sensitivity and specificity against direct counts; and
 * on a real model, (TP + TN) / n equals gf_model_evaluate's accuracy (the
 * same decision rule). */
#include "train/metrics_binary.h"
#include "core/rng.h"
#include "check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void test_known(void)
{
    /* sklearn.metrics.roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75 */
    const float s[] = { 0.1f, 0.4f, 0.35f, 0.8f };
    const int32_t y[] = { 0, 0, 1, 1 };
    gf_binary_metrics m;
    CHECK(gf_binary_metrics_compute(s, y, 4, &m) == GF_OK);
    CHECK_NEAR(m.auc, 0.75, 1e-12);
    CHECK(m.positives == 2 && m.negatives == 2);
    CHECK(m.sensitivity == 1.0 && m.specificity == 0.0);   /* every score > 0: all predicted 1 */
    /* one class only: no AUC, no specificity */
    CHECK(gf_binary_metrics_compute(s, (const int32_t[]){ 1, 1, 1, 1 }, 4, &m) == GF_OK);
    CHECK(isnan(m.auc) && isnan(m.specificity) && m.sensitivity == 1.0);
    CHECK(gf_binary_metrics_compute(s, (const int32_t[]){ 0, 2, 1, 1 }, 4, &m) == GF_ERR_ARG);
    const float nanscore[] = { 0.1f, NAN };
    CHECK(gf_binary_metrics_compute(nanscore, y, 2, &m) == GF_ERR_ARG);
}

static void test_brute_force(void)
{
    enum { N = 2000 };
    static float s[N];
    static int32_t y[N];
    gf_rng r;
    gf_rng_seed(&r, 42);
    for (int i = 0; i < N; i++) {
        y[i] = gf_rng_uniform(&r) < 0.3;
        /* scores on a coarse grid (many ties), shifted up for positives */
        s[i] = (float)(floor(gf_rng_uniform(&r) * 20) - 10 + 4 * y[i]) / 4.0f;
    }
    double u = 0;
    int64_t pos = 0, neg = 0, tp = 0, tn = 0;
    for (int i = 0; i < N; i++) {
        if (y[i]) { pos++; tp += s[i] > 0; } else { neg++; tn += s[i] <= 0; }
        if (!y[i]) continue;
        for (int j = 0; j < N; j++)
            if (!y[j]) u += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
    }
    gf_binary_metrics m;
    CHECK(gf_binary_metrics_compute(s, y, N, &m) == GF_OK);
    CHECK_NEAR(m.auc, u / ((double)pos * (double)neg), 1e-12);
    CHECK(m.auc > 0.6 && m.auc < 1.0);
    CHECK(m.positives == pos && m.negatives == neg);
    CHECK_NEAR(m.sensitivity, (double)tp / pos, 1e-15);
    CHECK_NEAR(m.specificity, (double)tn / neg, 1e-15);
}

static void test_model(void)
{
    gf_model *m = NULL;
    CHECK(gf_model_create("mlp:3-8-2", 16, 1, &m) == GF_OK);
    if (!m) return;
    gf_model_init(m, 3);
    enum { N = 100 };
    gf_dataset d = { .n = N, .c = 1, .h = 1, .w = 3, .dim = 3, .num_classes = 2 };
    d.x = malloc(sizeof(float) * N * 3);
    d.y = malloc(sizeof(int32_t) * N);
    gf_rng r;
    gf_rng_seed(&r, 5);
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < 3; k++) d.x[i * 3 + k] = (float)(gf_rng_uniform(&r) * 4 - 2);
        d.y[i] = d.x[i * 3] + 0.5f * d.x[i * 3 + 1] > 0;
    }
    gf_binary_metrics b;
    double loss, acc;
    CHECK(gf_binary_metrics_eval(m, &d, &b) == GF_OK);
    gf_model_evaluate(m, d.x, d.y, N, &loss, &acc);
    double tp = b.sensitivity * b.positives, tn = b.specificity * b.negatives;
    CHECK_NEAR((tp + tn) / N, acc, 1e-12);
    CHECK(b.positives + b.negatives == N && b.auc >= 0 && b.auc <= 1);
    gf_model *m3 = NULL;
    CHECK(gf_model_create("mlp:3-8-3", 16, 1, &m3) == GF_OK);
    if (m3) CHECK(gf_binary_metrics_eval(m3, &d, &b) == GF_ERR_ARG);
    gf_model_free(m3);
    gf_model_free(m);
    gf_dataset_free(&d);
}

int main(void)
{
    test_known();
    test_brute_force();
    test_model();
    return check_summary();
}
