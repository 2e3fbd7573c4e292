/* DP-SGD (train/dpsgd.h):
 *  - with no noise and a clip no gradient reaches, the private gradient is
 *    the plain batch gradient (per-example sum / B), for 1, 2 and 3 workers;
 *  - with no noise it matches PyTorch's per-example clipped mean
 *    (tests/data/dpsgd_reference.safetensors, scripts/gen_dpsgd_reference.py)
 *    for an MLP and a conv + layernorm model, half of the examples clipped;
 *  - on an empty batch the gradient is pure noise of std sigma C / (q n),
 *    fresh at every step;
 *  - Poisson batches with noise come from the CSPRNG: mean q n, variance
 *    q (1 - q) n, each index drawn at rate q, and the same (seed, step)
 *    never gives the seed's batch or the same batch twice; two DP runs of
 *    one seed differ, while runs without noise or without DP-SGD are
 *    bit-reproducible;
 *  - a DP trainer's step is w - lr * (that gradient on the Poisson batch),
 *    an epoch has ceil(n / B) steps, and the accountant's epsilon is
 *    gf_dp_epsilon's;
 *  - an example with a NaN gradient is left out of the sum, not added
 *    unclipped;
 *  - bad settings are refused, naming the field. */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "core/rng.h"
#include "io/safetensors.h"
#include "reference_init.h"
#include "privacy/accountant.h"
#include "privacy/dp.h"
#include "train/dpsgd.h"
#include "train/trainer.h"

#ifndef REF_PATH
#define REF_PATH "tests/data/dpsgd_reference.safetensors"
#endif

static gf_dataset random_data(int64_t n, int c, int h, int w, int classes, uint64_t seed)
{
    gf_dataset d = { .n = n, .c = c, .h = h, .w = w, .dim = (int64_t)c * h * w, .num_classes = classes };
    d.x = malloc(sizeof(float) * (size_t)(n * d.dim));
    d.y = malloc(sizeof(int32_t) * (size_t)n);
    gf_rng r;
    gf_rng_seed(&r, seed);
    for (int64_t i = 0; i < n * d.dim; i++) d.x[i] = gf_rng_uniform(&r) * 2 - 1;
    for (int64_t i = 0; i < n; i++) d.y[i] = (int32_t)gf_rng_below(&r, (uint64_t)classes);
    return d;
}

/* max |a - b| / max |b| */
static double rel_diff(const float *a, const float *b, int64_t n)
{
    double maxref = 0, maxdiff = 0;
    for (int64_t i = 0; i < n; i++) {
        maxref = fmax(maxref, fabs(b[i]));
        maxdiff = fmax(maxdiff, fabs(a[i] - b[i]));
    }
    return maxref > 0 ? maxdiff / maxref : INFINITY;
}

/* (a) noise 0 and a clip nothing reaches: the plain batch gradient. */
static void test_equals_batch_gradient(void)
{
    const char *spec = "seq:2x6x6-conv3k3p1-relu-maxpool2-flatten-layernorm-linear8-gelu-linear4";
    const int B = 7;
    gf_dataset d = random_data(B, 2, 6, 6, 4, 21);
    int64_t idx[7];
    for (int i = 0; i < B; i++) idx[i] = i;
    gf_model *m;
    CHECK(gf_model_create(spec, B, 1, &m) == GF_OK);
    gf_model_init(m, 9);
    const int64_t P = m->nparams;
    float *want = malloc(sizeof(float) * P);
    gf_model_forward(m, d.x, B, 1, 0);
    gf_model_backward(m, d.y, B, NULL);
    memcpy(want, m->grads, sizeof(float) * P);

    gf_dpsgd_config c = { .enabled = 1, .clip = 1e9, .noise = 0, .delta = 1e-5 };
    for (int W = 1; W <= 3; W++) {
        gf_dpsgd *dp;
        CHECK(gf_dpsgd_create(&c, m, W, &dp) == GF_OK);
        memset(m->grads, 0, sizeof(float) * P);
        gf_dpsgd_stats s;
        CHECK(gf_dpsgd_gradient(dp, &d, idx, B, B, 0, &s) == GF_OK);
        double r = rel_diff(m->grads, want, P);
        CHECK_MSG(r < 1e-5, "%d workers: DP gradient vs batch gradient: rel diff %.3g", W, r);
        CHECK(s.examples == B && s.clipped == 0);
        printf("  %d workers: noise 0, clip 1e9 vs batch gradient: max rel diff %.2e\n", W, r);
        /* fewer examples than workers: idle workers add nothing */
        CHECK(gf_dpsgd_gradient(dp, &d, idx, 2, 2, 0, &s) == GF_OK);
        float *two = malloc(sizeof(float) * P);
        memcpy(two, m->grads, sizeof(float) * P);
        gf_model_forward(m, d.x, 2, 1, 0);
        gf_model_backward(m, d.y, 2, NULL);
        r = rel_diff(two, m->grads, P);
        CHECK_MSG(r < 1e-5 && s.examples == 2, "%d workers, 2 examples: rel diff %.3g", W, r);
        free(two);
        gf_dpsgd_free(dp);
    }
    /* a clip that every example reaches scales the mean, and counts */
    gf_dpsgd *dp;
    c.clip = 1e-6;
    CHECK(gf_dpsgd_create(&c, m, 2, &dp) == GF_OK);
    gf_dpsgd_stats s;
    CHECK(gf_dpsgd_gradient(dp, &d, idx, B, B, 0, &s) == GF_OK);
    CHECK(s.clipped == B);
    double ss = 0;
    for (int64_t i = 0; i < P; i++) ss += (double)m->grads[i] * m->grads[i];
    CHECK_MSG(sqrt(ss) <= 1e-6 * 1.0001 && sqrt(ss) > 0, "clipped mean norm %g, want <= C", sqrt(ss));
    gf_dpsgd_free(dp);
    free(want);
    gf_model_free(m);
    gf_dataset_free(&d);
}

static const char *meta(gf_st_file *ref, const char *c, const char *what)
{
    char key[96];
    snprintf(key, sizeof key, "%s.%s", c, what);
    const char *v = gf_st_meta_get(ref, key);
    if (!v) { fprintf(stderr, "reference lacks %s\n", key); exit(1); }
    return v;
}

static float *read_ref(gf_st_file *ref, const char *c, const char *what, int64_t n)
{
    char key[96];
    snprintf(key, sizeof key, "%s.%s", c, what);
    float *buf = malloc(sizeof(float) * (size_t)n);
    if (gf_st_read_f32(ref, key, -1, NULL, buf)) {
        fprintf(stderr, "reference: %s\n", gf_last_error());
        exit(1);
    }
    return buf;
}

/* (b) PyTorch's per-example clipped mean. */
static void test_against_torch(gf_st_file *ref, const char *c)
{
    const char *spec = meta(ref, c, "spec");
    const int B = atoi(meta(ref, c, "batch"));
    const double clip = atof(meta(ref, c, "clip"));
    const int clipped = atoi(meta(ref, c, "clipped"));
    gf_model *m;
    CHECK(gf_model_create(spec, B, 2, &m) == GF_OK);
    reference_init(ref, m, c, (uint64_t)atoll(meta(ref, c, "seed")));
    gf_dataset d = { .n = B, .c = m->spec.input.c, .h = m->spec.input.h, .w = m->spec.input.w,
                     .dim = m->in_numel, .num_classes = m->num_classes };
    d.x = read_ref(ref, c, "x", B * m->in_numel);
    float *yf = read_ref(ref, c, "y", B);
    d.y = malloc(sizeof(int32_t) * B);
    int64_t *idx = malloc(sizeof(int64_t) * B);
    for (int i = 0; i < B; i++) { d.y[i] = (int32_t)yf[i]; idx[i] = i; }

    /* per-example norms, from batch-1 passes of the plain model */
    float *norms = read_ref(ref, c, "norms", B);
    double worst = 0;
    for (int i = 0; i < B; i++) {
        gf_model_forward(m, d.x + i * m->in_numel, 1, 1, 0);
        gf_model_backward(m, d.y + i, 1, NULL);
        double ss = 0;
        for (int64_t j = 0; j < m->nparams; j++) ss += (double)m->grads[j] * m->grads[j];
        worst = fmax(worst, fabs(sqrt(ss) - norms[i]) / norms[i]);
    }
    CHECK_MSG(worst < 1e-5, "%s: per-example norms off by %.3g relative", c, worst);

    gf_dpsgd_config cfg = { .enabled = 1, .clip = clip, .noise = 0, .delta = 1e-5 };
    gf_dpsgd *dp;
    CHECK(gf_dpsgd_create(&cfg, m, 2, &dp) == GF_OK);
    gf_dpsgd_stats s;
    CHECK(gf_dpsgd_gradient(dp, &d, idx, B, B, 0, &s) == GF_OK);
    CHECK_MSG(s.clipped == clipped, "%s: %lld examples clipped, torch %d", c, (long long)s.clipped, clipped);
    printf("case %s: %s, batch %d, clip %g (%d clipped), norms within %.2e\n", c, spec, B, clip,
           clipped, worst);
    for (int k = 0; k < gf_model_num_tensors(m); k++) {
        gf_tensor_view v;
        gf_model_tensor(m, k, &v);
        char what[64];
        snprintf(what, sizeof what, "grad.%s", v.name);
        float *want = read_ref(ref, c, what, v.numel);
        double r = rel_diff(v.grad, want, v.numel);
        CHECK_MSG(r < 1e-4, "%s %s: max diff / max |ref| = %.3g", c, what, r);
        printf("  %-14s max diff / max|ref| %.2e\n", what, r);
        free(want);
    }
    gf_dpsgd_free(dp);
    free(norms); free(idx); free(yf);
    gf_dataset_free(&d);
    gf_model_free(m);
}

/* (c) an empty batch: N(0, (sigma C / E)^2) per coordinate, fresh each step. */
static void test_noise(void)
{
    gf_model *m;
    CHECK(gf_model_create("mlp:784-256-10", 1, 2, &m) == GF_OK);
    gf_model_init(m, 1);
    const int64_t P = m->nparams;
    const double sigma = 1.3, C = 0.7, E = 4.5, want = sigma * C / E;
    gf_dpsgd_config cfg = { .enabled = 1, .clip = C, .noise = sigma, .delta = 1e-5 };
    gf_dpsgd *dp;
    CHECK(gf_dpsgd_create(&cfg, m, 2, &dp) == GF_OK);
    gf_dataset d = random_data(1, 1, 1, 784, 10, 3);
    float *first = malloc(sizeof(float) * P);
    for (int step = 0; step < 2; step++) {
        gf_dpsgd_stats s;
        CHECK(gf_dpsgd_gradient(dp, &d, NULL, 0, E, 0, &s) == GF_OK);
        CHECK(s.examples == 0 && s.loss_sum == 0);
        double s1 = 0, s2 = 0;
        for (int64_t i = 0; i < P; i++) { s1 += m->grads[i]; s2 += (double)m->grads[i] * m->grads[i]; }
        double mean = s1 / P, sd = sqrt(s2 / P - mean * mean);
        CHECK_MSG(fabs(mean) < 5 * want / sqrt((double)P), "noise mean %g", mean);
        CHECK_MSG(fabs(sd / want - 1) < 0.02, "noise std %g, want sigma C / E = %g", sd, want);
        printf("  empty batch over %lld parameters: noise std %.6f, want %.6f\n", (long long)P, sd, want);
        if (step == 0) memcpy(first, m->grads, sizeof(float) * P);
    }
    int64_t same = 0;
    for (int64_t i = 0; i < P; i++) same += first[i] == m->grads[i];
    CHECK_MSG(same < 10, "two steps drew the same noise (%lld equal values)", (long long)same);

    /* a clip tiny against every gradient: the sum is negligible, the noise is not */
    gf_dataset big = random_data(16, 1, 1, 784, 10, 4);
    int64_t idx[16];
    for (int i = 0; i < 16; i++) idx[i] = i;
    gf_dpsgd_free(dp);
    cfg.clip = 1e-4;
    CHECK(gf_dpsgd_create(&cfg, m, 2, &dp) == GF_OK);
    gf_dpsgd_stats s;
    CHECK(gf_dpsgd_gradient(dp, &big, idx, 16, E, 0, &s) == GF_OK);
    CHECK(s.clipped == 16);
    double s2 = 0;
    for (int64_t i = 0; i < P; i++) s2 += (double)m->grads[i] * m->grads[i];
    double sd = sqrt(s2 / P), w2 = sigma * cfg.clip / E;
    CHECK_MSG(fabs(sd / w2 - 1) < 0.02, "clipped batch: noise std %g, want %g", sd, w2);
    gf_dpsgd_free(dp);
    free(first);
    gf_dataset_free(&d);
    gf_dataset_free(&big);
    gf_model_free(m);
}

/* (f) An example whose gradient is NaN (its input is) is left out of the
 * sum, never added unclipped: the private gradient over [good, NaN, good]
 * is that over [good, good], with 1 and 2 workers. */
static void test_nan_example(void)
{
    gf_dataset d = random_data(3, 1, 1, 6, 3, 51);
    d.x[1 * 6 + 2] = NAN;
    gf_model *m;
    CHECK(gf_model_create("mlp:6-5-3", 1, 1, &m) == GF_OK);
    gf_model_init(m, 4);
    const int64_t P = m->nparams;
    float *want = malloc(sizeof(float) * P);
    gf_dpsgd_config c = { .enabled = 1, .clip = 0.5, .noise = 0, .delta = 1e-5 };
    int64_t good[2] = { 0, 2 }, all[3] = { 0, 1, 2 };
    for (int W = 1; W <= 2; W++) {
        gf_dpsgd *dp;
        gf_dpsgd_stats st;
        CHECK(gf_dpsgd_create(&c, m, W, &dp) == GF_OK);
        CHECK(gf_dpsgd_gradient(dp, &d, good, 2, 3.0, 0, &st) == GF_OK && st.dropped == 0);
        memcpy(want, m->grads, sizeof(float) * P);
        CHECK(gf_dpsgd_gradient(dp, &d, all, 3, 3.0, 0, &st) == GF_OK);
        CHECK_MSG(st.dropped == 1 && st.examples == 3, "%d workers: %lld dropped of %lld", W, (long long)st.dropped,
                  (long long)st.examples);
        int finite = 1;
        for (int64_t i = 0; i < P; i++) finite &= isfinite(m->grads[i]);
        CHECK_MSG(finite && !memcmp(want, m->grads, sizeof(float) * P),
                  "%d workers: the NaN example changed the gradient (finite %d)", W, finite);
        gf_dpsgd_free(dp);
    }
    free(want);
    gf_model_free(m);
    gf_dataset_free(&d);
}

/* (d) Poisson sampling. With noise, batches come from the CSPRNG: their
 * sizes follow Binomial(n, q) (mean and variance), each index is drawn at
 * rate q, and two draws with the same (seed, step), within a run or in two
 * runs, differ (a batch anyone could recompute from the seed would void the
 * amplification the accountant counts). Without noise they are the seeded,
 * reproducible gf_dpsgd_sample. */
static void test_sampling(void)
{
    const int64_t n = 1000;
    const double q = 0.05;
    const int S = 4000;
    const gf_dpsgd_config noisy = { .enabled = 1, .clip = 1, .noise = 1.1, .delta = 1e-5 };
    int64_t *idx = malloc(sizeof(int64_t) * n), *again = malloc(sizeof(int64_t) * n);
    int64_t *hits = calloc(n, sizeof(int64_t));
    double s1 = 0, s2 = 0;
    int sorted = 1, same = 0, seeded = 0;
    for (int step = 0; step < S; step++) {
        int64_t k, k2;
        CHECK(gf_dpsgd_batch(&noisy, n, q, 7, (uint64_t)step, idx, &k) == GF_OK);
        s1 += k;
        s2 += (double)k * k;
        for (int64_t i = 0; i < k; i++) {
            if (idx[i] < 0 || idx[i] >= n || (i && idx[i] <= idx[i - 1])) sorted = 0;
            else hits[idx[i]]++;
        }
        CHECK(gf_dpsgd_batch(&noisy, n, q, 7, (uint64_t)step, again, &k2) == GF_OK);
        same += k2 == k && !memcmp(idx, again, sizeof(int64_t) * (size_t)k);
        k2 = gf_dpsgd_sample(n, q, 7, (uint64_t)step, again);
        seeded += k2 == k && !memcmp(idx, again, sizeof(int64_t) * (size_t)k);
    }
    double mean = s1 / S, var = s2 / S - mean * mean, want_var = n * q * (1 - q);
    CHECK_MSG(fabs(mean - q * n) < 5 * sqrt(want_var / S), "batch size mean %g, want %g", mean, q * n);
    CHECK_MSG(fabs(var - want_var) < 5 * want_var * sqrt(2.0 / S), "batch size variance %g, want %g",
              var, want_var);
    CHECK(sorted);
    /* a batch of ~50 of 1000 repeats with probability about 1e-30 */
    CHECK_MSG(same == 0, "%d of %d steps drew the same batch twice for one (seed, step)", same, S);
    CHECK_MSG(seeded == 0, "%d of %d batches equal the seed's (predictable) batch", seeded, S);
    /* every index is drawn at rate q: hits ~ Binomial(S, q) */
    int64_t lo = S, hi = 0;
    for (int64_t i = 0; i < n; i++) { lo = hits[i] < lo ? hits[i] : lo; hi = hits[i] > hi ? hits[i] : hi; }
    double sd = sqrt(S * q * (1 - q));
    CHECK_MSG(lo > S * q - 5 * sd && hi < S * q + 5 * sd, "per-index draws %lld..%lld, want %g +- %g",
              (long long)lo, (long long)hi, S * q, 5 * sd);
    printf("  Poisson (CSPRNG) q=%g n=%lld over %d steps: size mean %.3f (want %.1f), variance %.3f (want %.3f)\n",
           q, (long long)n, S, mean, q * n, var, want_var);
    /* q = 1 takes everything, q = 0 nothing; bad q refused */
    int64_t k;
    CHECK(gf_dpsgd_batch(&noisy, n, 1.0, 7, 3, idx, &k) == GF_OK && k == n && idx[n - 1] == n - 1);
    CHECK(gf_dpsgd_batch(&noisy, n, 0.0, 7, 3, idx, &k) == GF_OK && k == 0);
    CHECK(gf_dp_poisson_sample(n, 1.5, idx, &k) == GF_ERR_ARG);

    /* without noise: the seed's batch, the same every time; another seed, another batch */
    gf_dpsgd_config quiet = noisy;
    quiet.noise = 0;
    int64_t k1, k2;
    CHECK(gf_dpsgd_batch(&quiet, n, q, 7, 5, idx, &k1) == GF_OK);
    CHECK(gf_dpsgd_batch(&quiet, n, q, 7, 5, again, &k2) == GF_OK);
    CHECK(k1 == k2 && !memcmp(idx, again, sizeof(int64_t) * (size_t)k1));
    CHECK(gf_dpsgd_sample(n, q, 7, 5, again) == k1 && !memcmp(idx, again, sizeof(int64_t) * (size_t)k1));
    k1 = gf_dpsgd_sample(n, q, 7, 0, idx), k2 = gf_dpsgd_sample(n, q, 8, 0, again);
    CHECK(k1 != k2 || memcmp(idx, again, sizeof(int64_t) * (size_t)k1));
    CHECK(gf_dpsgd_sample(n, 1.0, 7, 3, idx) == n && idx[n - 1] == n - 1);
    CHECK(gf_dpsgd_sample(n, 0.0, 7, 3, idx) == 0);
    CHECK(gf_dpsgd_sample_rate(1000, 50) == 0.05 && gf_dpsgd_sample_rate(10, 64) == 1.0);
    CHECK(gf_dpsgd_steps_per_epoch(1000, 64) == 16 && gf_dpsgd_steps_per_epoch(1000, 50) == 20);
    free(idx); free(again); free(hits);
}

/* Two trainers of one seed: `steps` steps each; whether every step drew the
 * same batch in both, and whether the parameters came out bit-identical. */
static void twin_runs(const gf_dpsgd_config *dp, int steps, int *same_batches, int *same_params)
{
    gf_dataset d = random_data(200, 1, 1, 6, 3, 41);
    gf_train_config cfg = { .spec = "mlp:6-5-3", .batch = 20, .threads = 2, .seed = 12, .dpsgd = *dp };
    cfg.optim = gf_optim_defaults(GF_OPTIM_SGD, 0.1f);
    gf_trainer *t[2];
    CHECK(gf_trainer_create(&cfg, &t[0]) == GF_OK && gf_trainer_create(&cfg, &t[1]) == GF_OK);
    *same_batches = 1;
    for (int s = 0; s < steps; s++) {
        int64_t count[2];
        for (int r = 0; r < 2; r++) {
            gf_epoch_stats es;
            t[r]->stop_at_step = t[r]->step + 1;
            CHECK(gf_trainer_epoch(t[r], &d, &es, NULL, NULL) == GF_OK);
            count[r] = es.images;
        }
        /* without DP-SGD the epoch's shuffle; with it, the step's Poisson batch */
        int64_t len = dp->enabled ? count[0] : d.n;
        if (count[0] != count[1] || memcmp(t[0]->perm, t[1]->perm, sizeof(int64_t) * (size_t)len))
            *same_batches = 0;
    }
    *same_params = !memcmp(t[0]->model->params, t[1]->model->params, sizeof(float) * (size_t)t[0]->model->nparams);
    gf_trainer_free(t[0]);
    gf_trainer_free(t[1]);
    gf_dataset_free(&d);
}

/* (e) Two DP runs of one seed draw different batches; runs without noise,
 * and runs without DP-SGD, are bit-reproducible. */
static void test_runs(void)
{
    int batches, params;
    gf_dpsgd_config dp = { .enabled = 1, .clip = 1, .noise = 1.0, .delta = 1e-5 };
    twin_runs(&dp, 5, &batches, &params);
    CHECK_MSG(!batches && !params, "two DP-SGD runs of one seed: %s batches, %s parameters",
              batches ? "the same" : "different", params ? "the same" : "different");
    dp.noise = 0;
    twin_runs(&dp, 5, &batches, &params);
    CHECK_MSG(batches && params, "two clip-only runs of one seed differ (batches %d, parameters %d)", batches, params);
    dp.enabled = 0;
    twin_runs(&dp, 5, &batches, &params);
    CHECK_MSG(batches && params, "two plain runs of one seed differ (batches %d, parameters %d)", batches, params);
}

/* The trainer's DP path: one step, an epoch's step count, the accountant. */
static void test_trainer(void)
{
    const int64_t n = 40;
    const int B = 8;
    gf_dataset d = random_data(n, 1, 1, 6, 3, 31);
    gf_train_config cfg = { .spec = "mlp:6-5-3", .batch = B, .threads = 2, .seed = 12 };
    cfg.optim = gf_optim_defaults(GF_OPTIM_SGD, 0.1f);
    cfg.dpsgd = (gf_dpsgd_config){ .enabled = 1, .clip = 1e9, .noise = 0, .delta = 1e-5 };
    gf_trainer *t;
    CHECK(gf_trainer_create(&cfg, &t) == GF_OK);
    const int64_t P = t->model->nparams;
    float *w0 = malloc(sizeof(float) * P), *g = malloc(sizeof(float) * P);
    memcpy(w0, t->model->params, sizeof(float) * P);
    /* step 0 (no noise: the seed's batch), then its plain gradient on that
     * batch rescaled to sum / (q n) */
    t->stop_at_step = 1;
    gf_epoch_stats es;
    CHECK(gf_trainer_epoch(t, &d, &es, NULL, NULL) == GF_OK);
    int64_t idx[40];
    int64_t k = gf_dpsgd_sample(n, (double)B / n, 12, 0, idx);
    CHECK(k > 0);
    CHECK(t->step == 1 && t->dp_steps == 1 && es.images == k && !memcmp(t->perm, idx, sizeof(int64_t) * (size_t)k));
    float x[40 * 6];
    int32_t y[40];
    gf_dataset_gather(&d, idx, k, x, y);
    gf_model *ref;
    CHECK(gf_model_create("mlp:6-5-3", 40, 1, &ref) == GF_OK);
    memcpy(ref->params, w0, sizeof(float) * P);
    gf_model_forward(ref, x, (int)k, 1, 0);
    gf_model_backward(ref, y, (int)k, NULL);
    for (int64_t i = 0; i < P; i++) g[i] = ref->grads[i] * (float)k / (float)B;
    double worst = 0;
    for (int64_t i = 0; i < P; i++) worst = fmax(worst, fabs(t->model->params[i] - (w0[i] - 0.1 * g[i])));
    CHECK_MSG(worst < 1e-6, "DP trainer step off by %g (batch of %lld)", worst, (long long)k);

    /* a full epoch is ceil(n / B) steps; epsilon is the accountant's */
    t->stop_at_step = -1;
    t->cfg.dpsgd.noise = 1.1;        /* accounting only: noise 0 would give +inf */
    CHECK(gf_trainer_epoch(t, &d, &es, NULL, NULL) == GF_OK);
    CHECK(t->step == 1 + 5 && t->dp_steps == 6 && t->dp_sample_rate == 0.2);
    double eps, want, order;
    CHECK(gf_trainer_dp_epsilon(t, &eps, &order) == GF_OK);
    CHECK(gf_dp_epsilon(1.1, 0.2, 6, 1e-5, &want, NULL) == GF_OK);
    CHECK_MSG(eps == want && isfinite(eps), "epsilon %g, accountant %g", eps, want);
    /* another dataset size would change q: refused */
    gf_dataset other = random_data(50, 1, 1, 6, 3, 32);
    CHECK(gf_trainer_epoch(t, &other, &es, NULL, NULL) == GF_ERR_MISMATCH);
    gf_dataset_free(&other);
    gf_trainer_free(t);

    /* without DP-SGD there is no epsilon */
    cfg.dpsgd.enabled = 0;
    CHECK(gf_trainer_create(&cfg, &t) == GF_OK);
    CHECK(t->dp == NULL && gf_trainer_dp_epsilon(t, &eps, NULL) == GF_ERR_ARG);
    gf_trainer_free(t);
    gf_model_free(ref);
    free(w0); free(g);
    gf_dataset_free(&d);
}

static void test_config(void)
{
    gf_dpsgd_config c = { .enabled = 1, .clip = 1, .noise = 1.1, .delta = 1e-5 };
    CHECK(gf_dpsgd_check(&c) == GF_OK);
    c.noise = 0;
    CHECK(gf_dpsgd_check(&c) == GF_OK);
    c.clip = 0;
    CHECK(gf_dpsgd_check(&c) == GF_ERR_ARG && strstr(gf_last_error(), "clipping norm"));
    c.clip = NAN;
    CHECK(gf_dpsgd_check(&c) == GF_ERR_ARG);
    c.clip = 1; c.noise = -0.5;
    CHECK(gf_dpsgd_check(&c) == GF_ERR_ARG && strstr(gf_last_error(), "noise"));
    c.noise = 1; c.delta = 1;
    CHECK(gf_dpsgd_check(&c) == GF_ERR_ARG && strstr(gf_last_error(), "delta"));
    c.delta = 0;
    CHECK(gf_dpsgd_check(&c) == GF_ERR_ARG);
    c.delta = 1e-5;
    gf_train_config tc = { .spec = "mlp:6-5-3", .batch = 4, .threads = 1, .seed = 1, .dpsgd = c };
    tc.optim = gf_optim_defaults(GF_OPTIM_SGD, 0.1f);
    tc.dpsgd.clip = -1;
    gf_trainer *t;
    CHECK(gf_trainer_create(&tc, &t) == GF_ERR_ARG && t == NULL);

    double eps, order;
    CHECK(gf_dpsgd_epsilon(&c, 0.01, 0, &eps, &order) == GF_OK && eps == 0 && isnan(order));
    CHECK(gf_dpsgd_epsilon(&c, 0.04, 2250, &eps, &order) == GF_OK);
    double want;
    CHECK(gf_dp_epsilon(1.0, 0.04, 2250, 1e-5, &want, NULL) == GF_OK && eps == want);
    c.noise = 0;
    CHECK(gf_dpsgd_epsilon(&c, 0.04, 10, &eps, NULL) == GF_OK && isinf(eps));
}

int main(void)
{
    test_config();
    test_equals_batch_gradient();
    gf_st_file *ref;
    if (gf_st_open(REF_PATH, &ref)) {
        fprintf(stderr, "cannot open %s: %s\n", REF_PATH, gf_last_error());
        return 1;
    }
    test_against_torch(ref, "mlp");
    test_against_torch(ref, "conv");
    gf_st_close(ref);
    test_noise();
    test_sampling();
    test_runs();
    test_nan_example();
    test_trainer();
    return check_summary();
}
