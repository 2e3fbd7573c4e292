/* Tests for data/preprocess.c: preprocessing built from federated
 * statistics (three parts' statistics vectors merged and rendered as the
 * statistics job's JSON) equals the same steps recomputed plainly on the
 * pooled rows (mean imputation, then standardisation with the mean and
 * population standard deviation after imputation), to 1e-5; median
 * imputation within one bin; drop and binarise; the JSON form round trips
 * and malformed forms are refused; a missing value without imputation is
 * refused. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "core/rng.h"
#include "data/preprocess.h"
#include "data/stats.h"
#include "fed/fedstats.h"

#define N   500
#define DIM 3

static void make_data(gf_dataset *d)
{
    memset(d, 0, sizeof *d);
    d->n = N; d->dim = DIM; d->c = d->h = 1; d->w = DIM; d->num_classes = 5;
    d->x = malloc(sizeof(float) * N * DIM);
    d->y = malloc(sizeof(int32_t) * N);
    gf_rng r;
    gf_rng_seed(&r, 11);
    for (int i = 0; i < N; i++) {
        d->x[i * DIM + 0] = gf_rng_uniform(&r) < 0.1f ? NAN : 54 + 18 * (gf_rng_uniform(&r) - 0.5f);
        d->x[i * DIM + 1] = gf_rng_uniform(&r) < 0.05f ? NAN : 246 + 100 * (gf_rng_uniform(&r) - 0.4f);
        d->x[i * DIM + 2] = (float)(int)(4 * gf_rng_uniform(&r));
        d->y[i] = (int32_t)(5 * gf_rng_uniform(&r));
    }
}

/* The statistics job's JSON for d split in three parts. */
static char *federated_stats_json(const gf_dataset *d, const gf_stats_plan *p)
{
    int64_t len = gf_stats_len(p);
    double *acc = calloc((size_t)len, sizeof *acc), *site = calloc((size_t)len, sizeof *site);
    float *v = calloc((size_t)len, sizeof *v);
    const int64_t cut[4] = { 0, 120, 330, N };
    for (int s = 0; s < 3; s++) {
        gf_dataset part = *d;
        part.n = cut[s + 1] - cut[s];
        part.x = d->x + cut[s] * DIM;
        part.y = d->y + cut[s];
        gf_stats_zero(p, site);
        CHECK(gf_stats_add_dataset(p, &part, site) == GF_OK);
        for (int64_t i = 0; i < len; i++) v[i] = (float)site[i];
        gf_stats_merge(p, acc, v);
    }
    char *json = NULL;
    CHECK(gf_fedstats_render(p, acc, 1, 3, 0, 1, &json) == GF_OK);
    free(acc); free(site); free(v);
    return json;
}

int main(void)
{
    gf_dataset d;
    make_data(&d);
    const double ranges[] = { 40, 70, 100, 500, 0, 4 };
    gf_stats_plan plan = { .columns = DIM, .bins = 40, .classes = 5, .range = ranges, .nranges = DIM };
    char *js = federated_stats_json(&d, &plan);

    /* mean imputation + standardisation, federated vs pooled recomputation */
    gf_preprocess_config cfg = { .impute = GF_IMPUTE_MEAN, .standardize = 1 };
    gf_preprocess p;
    CHECK(js && gf_preprocess_from_stats_json(&cfg, js, strlen(js), &p) == GF_OK);
    gf_dataset out;
    CHECK(gf_preprocess_apply(&p, &d, "pooled", &out) == GF_OK && out.n == N && out.dim == DIM);
    for (int j = 0; j < DIM; j++) {
        double col[N], sum = 0, ss = 0;
        int c = 0;
        for (int i = 0; i < N; i++) if (!isnan(d.x[i * DIM + j])) { sum += d.x[i * DIM + j]; c++; }
        double mean = sum / c;
        for (int i = 0; i < N; i++) col[i] = isnan(d.x[i * DIM + j]) ? mean : d.x[i * DIM + j];
        double m2 = 0;
        for (int i = 0; i < N; i++) m2 += col[i];
        m2 /= N;
        for (int i = 0; i < N; i++) ss += (col[i] - m2) * (col[i] - m2);
        double sd = sqrt(ss / N);
        double worst = 0;
        for (int i = 0; i < N; i++) {
            double want = (col[i] - m2) / sd, e = fabs(out.x[i * DIM + j] - want);
            if (e > worst) worst = e;
        }
        CHECK_MSG(worst <= 1e-5, "column %d: worst difference %g", j, worst);
    }
    CHECK(out.y[7] == d.y[7] && out.num_classes == 5);
    gf_dataset_free(&out);

    /* the JSON form: exactly the same preprocessing back */
    char *pj = NULL;
    gf_preprocess q;
    CHECK(gf_preprocess_to_json(&p, &pj) == GF_OK && pj);
    CHECK(pj && gf_preprocess_from_json(pj, strlen(pj), &q) == GF_OK);
    CHECK(q.columns == p.columns && q.kept == p.kept && !memcmp(q.center, p.center, sizeof(float) * DIM) &&
          !memcmp(q.scale, p.scale, sizeof(float) * DIM) && !memcmp(q.fill, p.fill, sizeof(float) * DIM));
    gf_preprocess_free(&q);
    free(pj);
    gf_preprocess_free(&p);

    /* median imputation (within one bin), drop column 1, binarise at 2; no standardisation */
    int64_t drop[] = { 1 };
    cfg = (gf_preprocess_config){ .impute = GF_IMPUTE_MEDIAN, .drop = drop, .ndrop = 1, .binarize = 1, .threshold = 2 };
    CHECK(gf_preprocess_from_stats_json(&cfg, js, strlen(js), &p) == GF_OK && p.kept == 2);
    {
        float v[N];
        int c = 0;
        for (int i = 0; i < N; i++) if (!isnan(d.x[i * DIM])) v[c++] = d.x[i * DIM];
        for (int a = 1; a < c; a++) for (int b = a; b > 0 && v[b - 1] > v[b]; b--) { float t = v[b]; v[b] = v[b - 1]; v[b - 1] = t; }
        double exact = v[(int)ceil(0.5 * c) - 1];
        CHECK_MSG(fabs(p.fill[0] - exact) <= (70.0 - 40.0) / 40 * (1 + 1e-6), "median %g vs %g", p.fill[0], exact);
    }
    CHECK(gf_preprocess_apply(&p, &d, "pooled", &out) == GF_OK && out.dim == 2 && out.num_classes == 2);
    int ok = 1;
    for (int i = 0; i < N; i++) {
        float x0 = isnan(d.x[i * DIM]) ? p.fill[0] : d.x[i * DIM];
        ok &= out.x[i * 2] == x0 && out.x[i * 2 + 1] == d.x[i * DIM + 2] && out.y[i] == (d.y[i] >= 2);
    }
    CHECK(ok);
    gf_dataset_free(&out);
    gf_preprocess_free(&p);

    /* standardisation without imputation: the missing values are refused */
    cfg = (gf_preprocess_config){ .standardize = 1 };
    CHECK(gf_preprocess_from_stats_json(&cfg, js, strlen(js), &p) == GF_OK);
    CHECK(gf_preprocess_apply(&p, &d, "site data", &out) == GF_ERR_NUMERIC && strstr(gf_last_error(), "site data") &&
          strstr(gf_last_error(), "missing"));
    gf_dataset wrong = d;
    wrong.dim = 2;
    CHECK(gf_preprocess_apply(&p, &wrong, "other", &out) == GF_ERR_MISMATCH);
    gf_preprocess_free(&p);
    int64_t bad_drop[] = { 3 };
    cfg = (gf_preprocess_config){ .drop = bad_drop, .ndrop = 1 };
    CHECK(gf_preprocess_from_stats_json(&cfg, js, strlen(js), &p) == GF_ERR_ARG && strstr(gf_last_error(), "column 3"));
    /* a column suppressed below min_count cannot be standardised */
    const char *sup = "{\"columns\":[{\"index\":0,\"count\":3,\"missing\":0,\"suppressed\":true}]}";
    cfg = (gf_preprocess_config){ .standardize = 1 };
    CHECK(gf_preprocess_from_stats_json(&cfg, sup, strlen(sup), &p) == GF_ERR_ARG && strstr(gf_last_error(), "column 0"));

    /* one-hot column 2 (values 0..3) on categories 2, 0, 1 (3 gives zeros), beside standardised columns */
    int64_t oc[] = { 2 }, oo[] = { 0, 3 };
    float cats[] = { 2, 0, 1 };
    cfg = (gf_preprocess_config){ .impute = GF_IMPUTE_MEAN, .standardize = 1, .nonehot = 1, .onehot_column = oc,
                                  .onehot_off = oo, .onehot_cats = cats };
    CHECK(gf_preprocess_from_stats_json(&cfg, js, strlen(js), &p) == GF_OK && p.kept == 5);
    CHECK(gf_preprocess_apply(&p, &d, "pooled", &out) == GF_OK && out.dim == 5);
    ok = 1;
    for (int i = 0; i < N; i++) {
        float v = d.x[i * DIM + 2];
        ok &= out.x[i * 5 + 2] == (v == 2) && out.x[i * 5 + 3] == (v == 0) && out.x[i * 5 + 4] == (v == 1);
        ok &= isfinite(out.x[i * 5]) && isfinite(out.x[i * 5 + 1]);
    }
    CHECK(ok);
    gf_dataset_free(&out);
    CHECK(gf_preprocess_to_json(&p, &pj) == GF_OK && strstr(pj, "\"onehot\":[{\"column\":2,\"categories\":[2.0,0.0,1.0]}]"));
    CHECK(gf_preprocess_from_json(pj, strlen(pj), &q) == GF_OK && q.kept == 5 && q.cat_off[3] == 3 && q.cats[0] == 2);
    gf_preprocess_free(&q);
    free(pj);
    gf_preprocess_free(&p);
    float dup[] = { 1, 1 };
    int64_t do_[] = { 0, 2 };
    cfg = (gf_preprocess_config){ .nonehot = 1, .onehot_column = oc, .onehot_off = do_, .onehot_cats = dup };
    CHECK(gf_preprocess_from_stats_json(&cfg, js, strlen(js), &p) == GF_ERR_ARG && strstr(gf_last_error(), "twice"));

    /* malformed JSON forms */
    const char *bad[] = {
        "{\"columns\":1,\"drop\":[],\"fill\":[null],\"center\":[0],\"scale\":[1],\"binarize\":null,"
        "\"onehot\":[{\"column\":1,\"categories\":[1]}]}",
        "{\"columns\":1,\"drop\":[],\"fill\":[null],\"center\":[0],\"scale\":[1],\"binarize\":null}",
        "{}", "[]", "{\"columns\":1,\"drop\":[],\"fill\":[null],\"center\":[0],\"scale\":[0],\"binarize\":null,\"onehot\":[]}",
        "{\"columns\":2,\"drop\":[],\"fill\":[null],\"center\":[0],\"scale\":[1],\"binarize\":null,\"onehot\":[]}",
        "{\"columns\":1,\"drop\":[0],\"fill\":[null],\"center\":[0],\"scale\":[1],\"binarize\":null,\"onehot\":[]}",
        "{\"columns\":1,\"drop\":[],\"fill\":[null],\"center\":[0],\"scale\":[1],\"binarize\":\"x\",\"onehot\":[]}",
        "{\"columns\":1,\"drop\":[],\"fill\":[null],\"center\":[0],\"scale\":[1],\"binarize\":null,\"onehot\":[],\"x\":1}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_MSG(gf_preprocess_from_json(bad[i], strlen(bad[i]), &p) == GF_ERR_FORMAT, "case %zu", i);
    const char *good = "{\"columns\":1,\"drop\":[],\"fill\":[1.5],\"center\":[0.5],\"scale\":[2],\"binarize\":1,\"onehot\":[]}";
    CHECK(gf_preprocess_from_json(good, strlen(good), &p) == GF_OK && p.fill[0] == 1.5f && p.binarize && p.threshold == 1);
    gf_preprocess_free(&p);

    free(js);
    gf_dataset_free(&d);
    return check_summary();
}
