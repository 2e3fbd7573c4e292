/* Tests for data/stats.c and fed/fedstats.c: statistics of three parts of a
 * dataset, merged, against the same statistics recomputed plainly on the
 * pooled rows (counts exactly, mean and variance by two passes in double,
 * min/max, histograms by direct binning, quantiles against the sorted
 * values); secure aggregation's form (min/max dropped); suppression of
 * small counts in the rendered result. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "core/rng.h"
#include "data/stats.h"
#include "fed/fedstats.h"

#define N    600
#define DIM  3
#define BINS 12

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* column 0: around 250 with spread 50 (a cholesterol-like column), ~10%
 * missing; column 1: uniform in [-1, 1], some values outside the range;
 * column 2: integers 0..4 */
static void make_data(gf_dataset *d)
{
    memset(d, 0, sizeof *d);
    d->n = N; d->dim = DIM; d->c = d->h = 1; d->w = DIM; d->num_classes = 3;
    d->x = malloc(sizeof(float) * N * DIM);
    d->y = malloc(sizeof(int32_t) * N);
    gf_rng r;
    gf_rng_seed(&r, 7);
    for (int i = 0; i < N; i++) {
        double u = gf_rng_uniform(&r), v = gf_rng_uniform(&r), w = gf_rng_uniform(&r);
        d->x[i * DIM + 0] = u < 0.1 ? NAN : (float)(250 + 50 * (v + w - 1) * 2);
        d->x[i * DIM + 1] = (float)(2.4 * gf_rng_uniform(&r) - 1.2);
        d->x[i * DIM + 2] = (float)(int)(5 * gf_rng_uniform(&r));
        d->y[i] = i % 7 == 0 ? 2 : (int32_t)(gf_rng_uniform(&r) < 0.4);
    }
    d->y[5] = 9;                             /* one label beyond classes: "other" */
}

static void slice(const gf_dataset *d, int64_t from, int64_t n, gf_dataset *out)
{
    *out = *d;
    out->n = n;
    out->x = d->x + from * DIM;
    out->y = d->y + from;
}

int main(void)
{
    gf_dataset d;
    make_data(&d);
    const double ranges[DIM * 2] = { 100, 400, -1, 1, -0.5, 4.5 };
    gf_stats_plan p = { .columns = DIM, .bins = BINS, .classes = 2, .range = ranges, .nranges = DIM };
    CHECK(gf_stats_plan_check(&p) == GF_OK);
    int64_t len = gf_stats_len(&p);
    CHECK(len == 1 + DIM * (6 + BINS + 2) + 3);

    /* three sites' vectors (float, as on the wire), merged */
    double *acc = calloc((size_t)len, sizeof *acc), *site = calloc((size_t)len, sizeof *site);
    float *v = calloc((size_t)len, sizeof *v);
    gf_stats_zero(&p, acc);
    const int64_t cut[4] = { 0, 150, 370, N };
    double *sec = calloc((size_t)len, sizeof *sec);   /* the secure-aggregation form: sums only */
    for (int s = 0; s < 3; s++) {
        gf_dataset part;
        slice(&d, cut[s], cut[s + 1] - cut[s], &part);
        gf_stats_zero(&p, site);
        CHECK(gf_stats_add_dataset(&p, &part, site) == GF_OK);
        for (int64_t i = 0; i < len; i++) v[i] = (float)site[i];
        gf_stats_merge(&p, acc, v);
        gf_stats_drop_minmax(&p, v);
        for (int64_t i = 0; i < len; i++) sec[i] += v[i];
    }
    CHECK(acc[0] == N);

    /* plain recomputation on the pooled rows */
    for (int j = 0; j < DIM; j++) {
        const double *s = acc + gf_stats_col(&p, j);
        double vals[N];
        int n = 0, missing = 0;
        double mn = INFINITY, mx = -INFINITY, sum = 0;
        for (int i = 0; i < N; i++) {
            double x = d.x[i * DIM + j];
            if (isnan(x)) { missing++; continue; }
            vals[n++] = x;
            sum += x;
            if (x < mn) mn = x;
            if (x > mx) mx = x;
        }
        double mean = sum / n, ss = 0;
        for (int i = 0; i < n; i++) ss += (vals[i] - mean) * (vals[i] - mean);
        double var = ss / (n - 1);
        CHECK(s[GF_STATS_COUNT] == n && s[GF_STATS_MISSING] == missing);
        CHECK(s[GF_STATS_MIN] == mn && s[GF_STATS_MAX] == mx);
        double m, vr;
        gf_stats_moments(&p, acc, j, &m, &vr);
        CHECK_NEAR(m, mean, 1e-6 * (1 + fabs(mean)));
        CHECK_NEAR(vr, var, 1e-6 * var);
        gf_stats_moments(&p, sec, j, &m, &vr);           /* the same without min/max */
        CHECK_NEAR(m, mean, 1e-6 * (1 + fabs(mean)));
        CHECK_NEAR(vr, var, 1e-6 * var);
        CHECK(sec[gf_stats_col(&p, j) + GF_STATS_MIN] == 0 && sec[gf_stats_col(&p, j) + GF_STATS_COUNT] == n);
        /* histogram: direct binning */
        double lo = ranges[2 * j], hi = ranges[2 * j + 1], width = (hi - lo) / BINS;
        double h[BINS + 2] = { 0 };
        for (int i = 0; i < n; i++) {
            int b = vals[i] < lo ? 0 : vals[i] > hi ? BINS + 1 : 1 + (int)floor((vals[i] - lo) / width);
            if (b == BINS + 1 && vals[i] <= hi) b = BINS;
            h[b]++;
        }
        int same = 1;
        for (int b = 0; b < BINS + 2; b++) same &= s[GF_STATS_HIST + b] == h[b];
        CHECK_MSG(same, "column %d histogram", j);
        /* quantiles: the value of rank ceil(q n), within one bin */
        qsort(vals, (size_t)n, sizeof *vals, cmp_double);
        const double qs[] = { 0.1, 0.25, 0.5, 0.75, 0.9 };
        for (int k = 0; k < 5; k++) {
            int where;
            double est = gf_stats_quantile(&p, acc, j, qs[k], &where);
            double exact = vals[(int)ceil(qs[k] * n) - 1];
            if (exact < lo) { CHECK(isnan(est) && where == -1); continue; }
            if (exact > hi) { CHECK(isnan(est) && where == 1); continue; }
            CHECK_MSG(fabs(est - exact) <= width * (1 + 1e-9), "column %d q %g: %g vs %g (bin %g)", j, qs[k], est, exact, width);
        }
    }
    /* column 1 has values outside [-1, 1]: its 0.05-quantile is below the range */
    int where;
    CHECK(isnan(gf_stats_quantile(&p, acc, 1, 0.01, &where)) && where == -1);
    /* labels: 0, 1, then "other" (label 2 and the 9) */
    double lab[3] = { 0 };
    for (int i = 0; i < N; i++) lab[d.y[i] == 0 ? 0 : d.y[i] == 1 ? 1 : 2]++;
    const double *L = acc + gf_stats_labels(&p);
    CHECK(L[0] == lab[0] && L[1] == lab[1] && L[2] == lab[2]);

    /* rendering: a bin below min_count is null, the rest as counted */
    char *js = NULL;
    CHECK(gf_fedstats_render(&p, acc, 5, 3, 0, 10, &js) == GF_OK && js);
    json_t *root = json_loads(js, 0, NULL);
    CHECK(root && json_integer_value(json_object_get(root, "rows")) == N);
    json_t *c2 = json_array_get(json_object_get(root, "columns"), 2);
    json_t *counts = json_object_get(json_object_get(c2, "histogram"), "counts");
    int nulls = 0, zeros = 0, shown = 0;
    const double *h2 = acc + gf_stats_col(&p, 2) + GF_STATS_HIST;
    for (int b = 0; b < BINS; b++) {
        json_t *e = json_array_get(counts, (size_t)b);
        if (h2[1 + b] > 0 && h2[1 + b] < 10) nulls += json_is_null(e);
        else if (h2[1 + b] == 0) zeros += json_integer_value(e) == 0 && !json_is_null(e);
        else shown += json_integer_value(e) == (json_int_t)h2[1 + b];
    }
    CHECK(nulls + zeros + shown == BINS);
    /* with min_count 200, every bin of column 2 (5 values, ~120 rows each) is suppressed, under secure aggregation */
    free(js);
    json_decref(root);
    CHECK(gf_fedstats_render(&p, acc, 5, 3, 1, 200, &js) == GF_OK);
    root = json_loads(js, 0, NULL);
    c2 = json_array_get(json_object_get(root, "columns"), 2);
    counts = json_object_get(json_object_get(c2, "histogram"), "counts");
    int sup = 0;
    for (int b = 0; b < BINS; b++) sup += json_is_null(json_array_get(counts, (size_t)b));
    int want = 0;
    for (int b = 0; b < BINS; b++) want += h2[1 + b] > 0 && h2[1 + b] < 200;
    CHECK(want > 0 && sup == want);
    CHECK(json_is_null(json_object_get(c2, "min")) && json_is_true(json_object_get(root, "secure_aggregation")));
    CHECK(json_is_null(json_object_get(json_object_get(root, "labels"), "other")) == (lab[2] < 200));
    CHECK(json_integer_value(json_object_get(json_object_get(root, "suppressed"), "bins")) >= want);
    free(js);
    json_decref(root);

    /* bad plans and data */
    gf_stats_plan bad = p;
    bad.nranges = 2;
    CHECK(gf_stats_plan_check(&bad) == GF_ERR_ARG);
    bad = p;
    bad.nranges = 0;
    CHECK(gf_stats_plan_check(&bad) == GF_ERR_ARG);     /* bins without a range */
    const double inv[2] = { 1, 1 };
    bad = p;
    bad.range = inv;
    bad.nranges = 1;
    CHECK(gf_stats_plan_check(&bad) == GF_ERR_ARG);
    bad = p;
    bad.columns = 4;
    bad.nranges = 0;
    bad.bins = 0;
    CHECK(gf_stats_plan_check(&bad) == GF_OK);
    gf_stats_zero(&bad, site);
    CHECK(gf_stats_add_dataset(&bad, &d, site) == GF_ERR_MISMATCH);

    free(acc); free(site); free(v); free(sec);
    gf_dataset_free(&d);
    return check_summary();
}
