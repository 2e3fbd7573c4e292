/* Federated aggregation strategies (src/fed/strategy*.c): every strategy
 * against a plain re-computation from the papers' formulas written here in
 * double, over several rounds and 1, 5 and 10 sites; small hand-checkable
 * cases; robustness to huge updates; bad inputs leaving the round unchanged;
 * state save/restore; determinism (also across thread counts). */
#include "check.h"
#include "core/rng.h"
#include "fed/strategy.h"

#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define D 1000
#define MAXN 16

static const gf_strategy_type all_types[] = {
    GF_STRAT_FEDAVG, GF_STRAT_FEDAVGM, GF_STRAT_FEDPROX, GF_STRAT_FEDADAM, GF_STRAT_FEDYOGI,
    GF_STRAT_FEDADAGRAD, GF_STRAT_SCAFFOLD, GF_STRAT_MEDIAN, GF_STRAT_TRIMMED_MEAN,
    GF_STRAT_KRUM, GF_STRAT_MULTIKRUM,
};
#define NTYPES ((int)(sizeof all_types / sizeof all_types[0]))

static int is_krum(gf_strategy_type t) { return t == GF_STRAT_KRUM || t == GF_STRAT_MULTIKRUM; }

/* ---------------------------------------------------------------------------
 * Reference: one round, straight from the formulas, in double. State is kept
 * in float between rounds, as the strategy documents. */

typedef struct {
    gf_strategy_config cfg;
    int64_t d;
    float *g;      /* (d) global */
    float *s0;     /* (d) momentum / m / c */
    float *s1;     /* (d) v */
} ref_t;

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void ref_init(ref_t *r, const gf_strategy_config *cfg, int64_t d, const float *g0)
{
    r->cfg = *cfg;
    r->d = d;
    r->g = malloc((size_t)d * sizeof(float));
    r->s0 = calloc((size_t)d, sizeof(float));
    r->s1 = calloc((size_t)d, sizeof(float));
    memcpy(r->g, g0, (size_t)d * sizeof(float));
    gf_strategy_type t = cfg->type;
    if (t == GF_STRAT_FEDADAM || t == GF_STRAT_FEDYOGI || t == GF_STRAT_FEDADAGRAD)
        for (int64_t j = 0; j < d; j++) r->s1[j] = (float)(cfg->tau * cfg->tau);
}

static void ref_free(ref_t *r) { free(r->g); free(r->s0); free(r->s1); }

/* Krum / Multi-Krum: indices chosen (flags in sel), count returned */
static int ref_krum_select(const float *U, int n, int64_t d, int f, int m, int *sel)
{
    double dist[MAXN][MAXN], score[MAXN], tmp[MAXN];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double acc = 0;
            for (int64_t t = 0; t < d; t++) {
                double x = (double)U[i * d + t] - (double)U[j * d + t];
                acc += x * x;
            }
            dist[i][j] = acc;
        }
    for (int i = 0; i < n; i++) {
        int c = 0;
        for (int j = 0; j < n; j++) if (j != i) tmp[c++] = dist[i][j];
        qsort(tmp, (size_t)c, sizeof(double), cmp_d);
        score[i] = 0;
        for (int k = 0; k < n - f - 2; k++) score[i] += tmp[k];
    }
    /* rank by (score, index) */
    int order[MAXN];
    for (int i = 0; i < n; i++) order[i] = i;
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && score[order[j]] < score[order[j - 1]]; j--) {
            int x = order[j]; order[j] = order[j - 1]; order[j - 1] = x;
        }
    for (int i = 0; i < n; i++) sel[i] = 0;
    for (int k = 0; k < m; k++) sel[order[k]] = 1;
    return m;
}

static void ref_round(ref_t *r, int n, const float *U, const double *w, const float *C)
{
    const gf_strategy_config *c = &r->cfg;
    const int64_t d = r->d;
    int sel[MAXN] = { 0 }, m = 0;
    if (is_krum(c->type)) {
        int f = c->krum_f;
        m = c->type == GF_STRAT_KRUM ? 1 : c->multikrum_m ? c->multikrum_m : n - f;
        if (m > n) m = n;
        ref_krum_select(U, n, d, f, m, sel);
    }
    for (int64_t j = 0; j < d; j++) {
        double wsum = 0, wu = 0, col[MAXN];
        for (int i = 0; i < n; i++) {
            wsum += w[i];
            wu += w[i] * (double)U[i * d + j];
            col[i] = U[i * d + j];
        }
        const double delta = wu / wsum;
        const double g = r->g[j];
        double gn = g;
        switch (c->type) {
        case GF_STRAT_FEDAVG: case GF_STRAT_FEDPROX:
            gn = g + c->server_lr * delta;
            break;
        case GF_STRAT_FEDAVGM:
            r->s0[j] = (float)(c->server_momentum * r->s0[j] + delta);
            gn = g + c->server_lr * r->s0[j];
            break;
        case GF_STRAT_FEDADAM: case GF_STRAT_FEDYOGI: case GF_STRAT_FEDADAGRAD: {
            double mm = c->beta1 * r->s0[j] + (1 - c->beta1) * delta;
            double v = r->s1[j], d2 = delta * delta;
            if (c->type == GF_STRAT_FEDADAM) v = c->beta2 * v + (1 - c->beta2) * d2;
            else if (c->type == GF_STRAT_FEDADAGRAD) v = v + d2;
            else if (v > d2) v = v - (1 - c->beta2) * d2;
            else if (v < d2) v = v + (1 - c->beta2) * d2;
            r->s0[j] = (float)mm;
            r->s1[j] = (float)v;
            gn = g + c->server_lr * (double)r->s0[j] / (sqrt((double)r->s1[j]) + c->tau);
            break;
        }
        case GF_STRAT_SCAFFOLD: {
            double su = 0, sc = 0;
            for (int i = 0; i < n; i++) { su += U[i * d + j]; sc += C[i * d + j]; }
            gn = g + c->server_lr * su / n;
            r->s0[j] = (float)(r->s0[j] + (double)n / c->scaffold_sites_total * (sc / n));
            break;
        }
        case GF_STRAT_MEDIAN:
            qsort(col, (size_t)n, sizeof(double), cmp_d);
            gn = g + (n % 2 ? col[n / 2] : 0.5 * (col[n / 2 - 1] + col[n / 2]));
            break;
        case GF_STRAT_TRIMMED_MEAN: {
            qsort(col, (size_t)n, sizeof(double), cmp_d);
            int k = (int)floor(c->trim_ratio * n);
            double s = 0;
            for (int i = k; i < n - k; i++) s += col[i];
            gn = g + s / (n - 2 * k);
            break;
        }
        case GF_STRAT_KRUM: case GF_STRAT_MULTIKRUM: {
            double s = 0;
            for (int i = 0; i < n; i++) if (sel[i]) s += U[i * d + j];
            gn = g + s / m;
            break;
        }
        }
        r->g[j] = (float)gn;
    }
}

/* max over j of |a_j - b_j| / (|b_j| + 0.1 max_k |b_k|): relative, except
 * for values far below the vector's scale (a one-ulp difference in a float
 * state value can survive a later cancellation) */
static double max_rel(const float *a, const float *b, int64_t d)
{
    double scale = 0, e = 0;
    for (int64_t j = 0; j < d; j++) if (fabs((double)b[j]) > scale) scale = fabs((double)b[j]);
    for (int64_t j = 0; j < d; j++) {
        double x = fabs((double)a[j] - (double)b[j]) / (fabs((double)b[j]) + 0.1 * scale + 1e-30);
        if (!(x <= e)) e = x;   /* NaN propagates */
    }
    return e;
}

/* random round: updates (n, d) ~ N(0, scale_i^2), weights 1..1000, control deltas */
static void gen_round(gf_rng *rng, int n, int64_t d, float *U, double *w, float *C)
{
    for (int i = 0; i < n; i++) {
        double scale = 0.01 + 0.2 * gf_rng_uniform(rng);
        double shift = 0.05 * gf_rng_normal(rng);
        for (int64_t j = 0; j < d; j++) U[i * d + j] = (float)(shift + scale * gf_rng_normal(rng));
        for (int64_t j = 0; j < d; j++) C[i * d + j] = (float)(0.1 * gf_rng_normal(rng));
        w[i] = (double)(1 + gf_rng_below(rng, 1000));
    }
}

static gf_strategy_config config_for(gf_strategy_type t, int n)
{
    gf_strategy_config c = gf_strategy_defaults(t);
    if (n < 0) {   /* variant with non-default settings */
        n = -n;
        c.server_lr *= 0.7;
        c.server_momentum = 0.5;
        if (t == GF_STRAT_FEDADAGRAD) c.beta1 = 0.5;
        if (t == GF_STRAT_FEDADAM) { c.beta2 = 0.9; c.tau = 1e-2; }
        c.trim_ratio = 0.3;
        if (is_krum(t)) c.multikrum_m = n - 1;
    }
    if (t == GF_STRAT_SCAFFOLD) c.scaffold_sites_total = 2 * n + 1;
    if (is_krum(t)) c.krum_f = n >= 10 ? 2 : n >= 5 ? 1 : 0;
    if (t == GF_STRAT_MULTIKRUM && n == 5) c.multikrum_m = 3;
    return c;
}

/* n < 0: -n sites with the non-default settings of config_for */
static void test_against_reference(gf_strategy_type t, int n, uint64_t seed)
{
    const int64_t d = D;
    const char *name = gf_strategy_type_name(t);
    gf_strategy_config cfg = config_for(t, n);
    n = abs(n);
    gf_strategy *s = NULL;
    /* max_sites above n: buffers larger than the round are fine (and Krum
     * with 1 site gets to finish_round's check) */
    CHECK_MSG(gf_strategy_create(&cfg, d, n + 2, &s) == GF_OK, "%s: %s", name, gf_last_error());
    if (!s) return;
    gf_rng rng;
    gf_rng_seed(&rng, seed);
    float *global = malloc(d * sizeof(float)), *before = malloc(d * sizeof(float));
    float *U = malloc((size_t)n * d * sizeof(float)), *C = malloc((size_t)n * d * sizeof(float));
    double w[MAXN];
    for (int64_t j = 0; j < d; j++) global[j] = (float)gf_rng_normal(&rng);
    ref_t ref;
    ref_init(&ref, &cfg, d, global);
    /* documented initial state: zeros, FedOpt v = tau^2 */
    if (gf_strategy_state_count(s) >= 1)
        CHECK_MSG(memcmp(gf_strategy_state(s, 0), ref.s0, d * sizeof(float)) == 0, "%s", name);
    if (gf_strategy_state_count(s) >= 2)
        CHECK_MSG(memcmp(gf_strategy_state(s, 1), ref.s1, d * sizeof(float)) == 0, "%s", name);

    for (int round = 0; round < 4; round++) {
        gen_round(&rng, n, d, U, w, C);
        for (int i = 0; i < n; i++) {
            gf_status st = gf_strategy_add(s, U + i * d, w[i], t == GF_STRAT_SCAFFOLD ? C + i * d : NULL);
            CHECK_MSG(st == GF_OK, "%s n=%d: add: %s", name, n, gf_last_error());
        }
        CHECK(gf_strategy_num_updates(s) == n);
        memcpy(before, global, d * sizeof(float));
        /* every other round (by seed: the first round of some): from `before`
         * into a buffer of NaNs, which must all be written over (and, on
         * failure, none of them) */
        const int into = (int)((round + seed) & 1);
        if (into)
            for (int64_t j = 0; j < d; j++) global[j] = NAN;
        gf_status st = into ? gf_strategy_finish_round_into(s, before, global) : gf_strategy_finish_round(s, global);
        if (is_krum(t) && n < 2 * cfg.krum_f + 3) {
            CHECK_MSG(st == GF_ERR_ARG, "%s n=%d: too few sites must fail", name, n);
            CHECK(strstr(gf_last_error(), "2f + 3") != NULL);
            if (into) {
                int64_t kept = 0;
                for (int64_t j = 0; j < d; j++) kept += isnan(global[j]) != 0;
                CHECK_MSG(kept == d, "%s n=%d: a failed round wrote %lld values", name, n, (long long)(d - kept));
                memcpy(global, before, d * sizeof(float));
            }
            CHECK(memcmp(before, global, d * sizeof(float)) == 0);
            CHECK(gf_strategy_num_updates(s) == n);
            break;
        }
        CHECK_MSG(st == GF_OK, "%s n=%d: finish: %s", name, n, gf_last_error());
        CHECK(gf_strategy_num_updates(s) == 0);
        ref_round(&ref, n, U, w, C);
        double e = max_rel(global, ref.g, d);
        CHECK_MSG(e <= 1e-6, "%s n=%d round %d: global rel err %g", name, n, round, e);
        if (gf_strategy_state_count(s) >= 1) {
            e = max_rel(gf_strategy_state(s, 0), ref.s0, d);
            CHECK_MSG(e <= 1e-6, "%s n=%d round %d: state 0 rel err %g", name, n, round, e);
        }
        if (gf_strategy_state_count(s) >= 2) {
            e = max_rel(gf_strategy_state(s, 1), ref.s1, d);
            CHECK_MSG(e <= 1e-6, "%s n=%d round %d: state 1 rel err %g", name, n, round, e);
        }
        /* the global actually moved */
        CHECK_MSG(memcmp(before, global, d * sizeof(float)) != 0, "%s n=%d round %d", name, n, round);
    }
    if (t == GF_STRAT_SCAFFOLD) CHECK(gf_strategy_control(s) == gf_strategy_state(s, 0));
    else CHECK(gf_strategy_control(s) == NULL);
    ref_free(&ref);
    free(global); free(before); free(U); free(C);
    gf_strategy_free(s);
}

/* ---------------------------------------------------------------------------
 * Small cases checked by hand. */

/* runs one round of `t` on n updates of length d from zero, returns status */
static gf_status one_round(gf_strategy_config cfg, int n, int64_t d, const float *U,
                           const double *w, float *global)
{
    gf_strategy *s = NULL;
    gf_status st = gf_strategy_create(&cfg, d, n, &s);
    if (st) return st;
    for (int i = 0; i < n && !st; i++)
        st = gf_strategy_add(s, U + i * d, w ? w[i] : 1.0, NULL);
    if (!st) st = gf_strategy_finish_round(s, global);
    gf_strategy_free(s);
    return st;
}

static void test_hand_cases(void)
{
    /* FedAvg, weights 1 and 3: the 1:3 weighted mean, exactly */
    {
        const float U[] = { 4, 0, -8,   0, 4, 8 };
        const double w[] = { 1, 3 };
        float g[3] = { 0, 0, 0 };
        CHECK(one_round(gf_strategy_defaults(GF_STRAT_FEDAVG), 2, 3, U, w, g) == GF_OK);
        CHECK(g[0] == 1.0f && g[1] == 3.0f && g[2] == 4.0f);
        float g2[3] = { 10, 20, 30 };   /* added to the global */
        CHECK(one_round(gf_strategy_defaults(GF_STRAT_FEDPROX), 2, 3, U, w, g2) == GF_OK);
        CHECK(g2[0] == 11.0f && g2[1] == 23.0f && g2[2] == 34.0f);
    }
    /* median of {1, 5, 100} = 5; of {1, 2, 10, 100} = 6 */
    {
        const float U[] = { 1, 100, 5,   5, 1, 100,   100, 5, 1 };
        float g[3] = { 0, 0, 0 };
        CHECK(one_round(gf_strategy_defaults(GF_STRAT_MEDIAN), 3, 3, U, NULL, g) == GF_OK);
        CHECK(g[0] == 5.0f && g[1] == 5.0f && g[2] == 5.0f);
        const float U4[] = { 10, 1, 100, 2 };
        float g4 = 0;
        CHECK(one_round(gf_strategy_defaults(GF_STRAT_MEDIAN), 4, 1, U4, NULL, &g4) == GF_OK);
        CHECK(g4 == 6.0f);
    }
    /* trimmed mean, r = 0.2 of 5 values: drop 1 and 100, mean(2, 3, 4) = 3 */
    {
        const float U[] = { 4, 100, 1, 3, 2 };
        float g = 0;
        gf_strategy_config c = gf_strategy_defaults(GF_STRAT_TRIMMED_MEAN);
        c.trim_ratio = 0.2;
        CHECK(one_round(c, 5, 1, U, NULL, &g) == GF_OK);
        CHECK(g == 3.0f);
        c.trim_ratio = 0.0;   /* plain mean */
        g = 0;
        CHECK(one_round(c, 5, 1, U, NULL, &g) == GF_OK);
        CHECK(g == 22.0f);
    }
    /* Krum, f = 2, 7 updates, one outlier: picks an honest one; Multi-Krum
     * (m = n - f = 5) averages 5 honest ones */
    {
        float U[7 * 3];
        for (int i = 0; i < 7; i++)
            for (int j = 0; j < 3; j++) U[i * 3 + j] = 1.0f + 0.01f * (float)((i * 3 + j) % 7 - 3);
        for (int j = 0; j < 3; j++) U[4 * 3 + j] = 100.0f;   /* site 4 is the outlier */
        for (int k = 0; k < 2; k++) {
            gf_strategy_config c = gf_strategy_defaults(k ? GF_STRAT_MULTIKRUM : GF_STRAT_KRUM);
            c.krum_f = 2;
            float g[3] = { 0, 0, 0 };
            CHECK(one_round(c, 7, 3, U, NULL, g) == GF_OK);
            for (int j = 0; j < 3; j++) CHECK_MSG(g[j] >= 0.96f && g[j] <= 1.04f, "%s g[%d]=%g",
                                                  k ? "multikrum" : "krum", j, g[j]);
            if (!k) {   /* Krum's result is one of the updates */
                int found = 0;
                for (int i = 0; i < 7; i++) found |= !memcmp(g, U + i * 3, sizeof g);
                CHECK(found);
            }
        }
    }
    /* Krum ties: identical updates give the lowest index */
    {
        float U[5 * 2] = { 1, 1,  2, 2,  1, 1,  1, 1,  1, 1 };
        gf_strategy_config c = gf_strategy_defaults(GF_STRAT_KRUM);
        c.krum_f = 1;
        float g[2] = { 0, 0 };
        CHECK(one_round(c, 5, 2, U, NULL, g) == GF_OK);
        CHECK(g[0] == 1.0f && g[1] == 1.0f);
    }
    /* Krum's neighbour count, n = 5, f = 1: 1-D points 0, 1, 2, 10, 10.5;
     * squared distances to the n - f - 2 = 2 nearest: 5, 2, 5, 64.25, 72.5,
     * so Krum picks 1 (with 3 neighbours it would pick 2). Multi-Krum m = 2:
     * 1 and then the tie 0 / 2 at score 5 goes to the lower index: mean 0.5;
     * m = 0 (n - f = 4): mean(0, 1, 2, 10) = 3.25. */
    {
        const float U[5] = { 0, 1, 2, 10, 10.5f };
        gf_strategy_config c = gf_strategy_defaults(GF_STRAT_KRUM);
        c.krum_f = 1;
        float g = 0;
        CHECK(one_round(c, 5, 1, U, NULL, &g) == GF_OK);
        CHECK(g == 1.0f);
        c.type = GF_STRAT_MULTIKRUM;
        c.multikrum_m = 2;
        g = 0;
        CHECK(one_round(c, 5, 1, U, NULL, &g) == GF_OK);
        CHECK(g == 0.5f);
        c.multikrum_m = 0;
        g = 0;
        CHECK(one_round(c, 5, 1, U, NULL, &g) == GF_OK);
        CHECK(g == 3.25f);
        c.multikrum_m = 9;   /* clamped to n: the plain mean */
        g = 0;
        CHECK(one_round(c, 5, 1, U, NULL, &g) == GF_OK);
        CHECK(g == 4.7f);
    }
    /* FedAvgM by hand: beta 0.5, eta 1, update 1 each round: v = 1, 1.5, 1.75 */
    {
        gf_strategy_config c = gf_strategy_defaults(GF_STRAT_FEDAVGM);
        c.server_momentum = 0.5;
        gf_strategy *s = NULL;
        CHECK(gf_strategy_create(&c, 1, 1, &s) == GF_OK);
        float g = 0, u = 1;
        const float want[] = { 1.0f, 2.5f, 4.25f };
        for (int r = 0; r < 3; r++) {
            CHECK(gf_strategy_add(s, &u, 7.0, NULL) == GF_OK);
            CHECK(gf_strategy_finish_round(s, &g) == GF_OK);
            CHECK(g == want[r]);
        }
        CHECK(!strcmp(gf_strategy_state_name(s, 0), "server.momentum"));
        CHECK(*gf_strategy_state(s, 0) == 1.75f);
        gf_strategy_free(s);
    }
    /* SCAFFOLD by hand: N = 4, two sites: x += mean(u) = 2, c += (1/4)(1 + 3) = 1 */
    {
        gf_strategy_config c = gf_strategy_defaults(GF_STRAT_SCAFFOLD);
        c.scaffold_sites_total = 4;
        gf_strategy *s = NULL;
        CHECK(gf_strategy_create(&c, 1, 1, &s) == GF_OK);
        float u1 = 1, u2 = 3, c1 = 1, c2 = 3, g = 10;
        CHECK(gf_strategy_add(s, &u1, 1.0, &c1) == GF_OK);
        CHECK(gf_strategy_add(s, &u2, 100.0, &c2) == GF_OK);   /* weight ignored */
        CHECK(gf_strategy_finish_round(s, &g) == GF_OK);
        CHECK(g == 12.0f);
        CHECK(gf_strategy_control(s)[0] == 1.0f);
        gf_strategy_free(s);
    }
}

/* median and trimmed mean over many sites with many ties (the quickselect) */
static void test_order_statistics(void)
{
    gf_rng rng;
    gf_rng_seed(&rng, 99);
    const int64_t d = 200;
    const int ns[] = { 2, 3, 16, 17, 40, 64, 101 };
    for (size_t q = 0; q < sizeof ns / sizeof ns[0]; q++) {
        int n = ns[q];
        float *U = malloc((size_t)n * d * sizeof(float));
        double *col = malloc((size_t)n * sizeof(double));
        for (int64_t i = 0; i < n * d; i++)
            U[i] = (i % 3) ? (float)gf_rng_below(&rng, 5) : (float)gf_rng_normal(&rng);
        for (int k = 0; k < 2; k++) {
            gf_strategy_config c = gf_strategy_defaults(k ? GF_STRAT_TRIMMED_MEAN : GF_STRAT_MEDIAN);
            c.trim_ratio = 0.3;
            float *g = calloc((size_t)d, sizeof(float));
            CHECK(one_round(c, n, d, U, NULL, g) == GF_OK);
            int bad = 0;
            for (int64_t j = 0; j < d; j++) {
                for (int i = 0; i < n; i++) col[i] = U[i * d + j];
                qsort(col, (size_t)n, sizeof(double), cmp_d);
                double want;
                if (!k) want = n % 2 ? col[n / 2] : 0.5 * (col[n / 2 - 1] + col[n / 2]);
                else {
                    int kk = (int)floor(0.3 * n);
                    want = 0;
                    for (int i = kk; i < n - kk; i++) want += col[i];
                    want /= n - 2 * kk;
                }
                bad += fabs(g[j] - want) > 1e-6 * (1 + fabs(want));
            }
            CHECK_MSG(bad == 0, "%s n=%d: %d coordinates wrong", k ? "trimmed" : "median", n, bad);
            free(g);
        }
        free(U); free(col);
    }
}

/* 2 of 10 sites send 1e6: the robust ones stay in the honest range, FedAvg does not */
static void test_robustness(void)
{
    const int n = 10;
    const int64_t d = 50;
    gf_rng rng;
    gf_rng_seed(&rng, 7);
    float U[10 * 50];
    for (int i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++)
            U[i * d + j] = i < 8 ? (float)(0.1 * gf_rng_normal(&rng)) : 1e6f;
    const gf_strategy_type ts[] = { GF_STRAT_MEDIAN, GF_STRAT_TRIMMED_MEAN, GF_STRAT_KRUM,
                                    GF_STRAT_MULTIKRUM, GF_STRAT_FEDAVG };
    for (int k = 0; k < 5; k++) {
        gf_strategy_config c = gf_strategy_defaults(ts[k]);
        c.krum_f = 2;
        c.trim_ratio = 0.2;
        float g[50] = { 0 };
        CHECK(one_round(c, n, d, U, NULL, g) == GF_OK);
        int inside = 1;
        for (int64_t j = 0; j < d; j++) {
            float lo = U[j], hi = U[j];
            for (int i = 1; i < 8; i++) {
                if (U[i * d + j] < lo) lo = U[i * d + j];
                if (U[i * d + j] > hi) hi = U[i * d + j];
            }
            inside &= g[j] >= lo && g[j] <= hi;
        }
        if (ts[k] == GF_STRAT_FEDAVG) CHECK(!inside && g[0] > 1e5f);
        else CHECK_MSG(inside, "%s left the honest range", gf_strategy_type_name(ts[k]));
    }
}

/* ---------------------------------------------------------------------------
 * Bad inputs. */

static void test_bad_adds(void)
{
    const int64_t d = D;
    const int n = 5;
    gf_rng rng;
    gf_rng_seed(&rng, 5);
    float *U = malloc((size_t)n * d * sizeof(float)), *C = malloc((size_t)n * d * sizeof(float));
    float *bad = malloc(d * sizeof(float)), *badc = malloc(d * sizeof(float));
    float *ga = malloc(d * sizeof(float)), *gb = malloc(d * sizeof(float));
    double w[MAXN];
    gen_round(&rng, n, d, U, w, C);
    for (int k = 0; k < NTYPES; k++) {
        gf_strategy_type t = all_types[k];
        const char *name = gf_strategy_type_name(t);
        int scaf = t == GF_STRAT_SCAFFOLD;
        gf_strategy_config cfg = config_for(t, n);
        gf_strategy *a = NULL, *b = NULL;
        CHECK(gf_strategy_create(&cfg, d, n, &a) == GF_OK);
        CHECK(gf_strategy_create(&cfg, d, n, &b) == GF_OK);
        if (!a || !b) { gf_strategy_free(a); gf_strategy_free(b); continue; }
        for (int64_t j = 0; j < d; j++) ga[j] = gb[j] = (float)j / d;
        /* finish with no updates */
        CHECK_MSG(gf_strategy_finish_round(a, ga) == GF_ERR_ARG, "%s", name);
        CHECK(strstr(gf_last_error(), "no updates") != NULL);
        for (int i = 0; i < n; i++) {
            const float *ci = scaf ? C + i * d : NULL;
            CHECK(gf_strategy_add(b, U + i * d, w[i], ci) == GF_OK);
            CHECK(gf_strategy_add(a, U + i * d, w[i], ci) == GF_OK);
            if (i != 2) continue;
            /* between good adds: a series of rejected ones */
            memcpy(bad, U, d * sizeof(float));
            memcpy(badc, C, d * sizeof(float));
            bad[d / 2] = NAN;
            CHECK_MSG(gf_strategy_add(a, bad, 1.0, scaf ? badc : NULL) == GF_ERR_NUMERIC, "%s", name);
            CHECK(strstr(gf_last_error(), "non-finite") != NULL);
            bad[d / 2] = U[d / 2];
            bad[d - 1] = -INFINITY;
            CHECK_MSG(gf_strategy_add(a, bad, 1.0, scaf ? badc : NULL) == GF_ERR_NUMERIC, "%s", name);
            bad[d - 1] = U[d - 1];
            CHECK(gf_strategy_add(a, bad, 0.0, scaf ? badc : NULL) == GF_ERR_ARG);
            CHECK(gf_strategy_add(a, bad, -3.0, scaf ? badc : NULL) == GF_ERR_ARG);
            CHECK(gf_strategy_add(a, bad, NAN, scaf ? badc : NULL) == GF_ERR_ARG);
            CHECK(gf_strategy_add(a, bad, INFINITY, scaf ? badc : NULL) == GF_ERR_ARG);
            CHECK(gf_strategy_add(a, NULL, 1.0, scaf ? badc : NULL) == GF_ERR_ARG);
            if (scaf) {
                badc[3] = NAN;
                CHECK(gf_strategy_add(a, bad, 1.0, badc) == GF_ERR_NUMERIC);
                CHECK(gf_strategy_add(a, bad, 1.0, NULL) == GF_ERR_ARG);
            } else {
                CHECK(gf_strategy_add(a, bad, 1.0, badc) == GF_ERR_ARG);
            }
        }
        CHECK(gf_strategy_num_updates(a) == n);
        /* one more than max_sites (robust; SCAFFOLD's N is tested below) */
        if (!gf_strategy_is_streaming(t)) {
            CHECK(gf_strategy_add(a, U, 1.0, NULL) == GF_ERR_ARG);
            CHECK(strstr(gf_last_error(), "max_sites") != NULL);
        }
        CHECK_MSG(gf_strategy_finish_round(a, ga) == GF_OK, "%s: %s", name, gf_last_error());
        CHECK(gf_strategy_finish_round(b, gb) == GF_OK);
        CHECK_MSG(memcmp(ga, gb, d * sizeof(float)) == 0, "%s: rejected adds changed the round", name);
        for (int i = 0; i < gf_strategy_state_count(a); i++)
            CHECK(memcmp(gf_strategy_state(a, i), gf_strategy_state(b, i), d * sizeof(float)) == 0);
        gf_strategy_free(a);
        gf_strategy_free(b);
    }
    /* SCAFFOLD: more updates than N */
    {
        gf_strategy_config c = gf_strategy_defaults(GF_STRAT_SCAFFOLD);
        c.scaffold_sites_total = 2;
        gf_strategy *s = NULL;
        CHECK(gf_strategy_create(&c, d, 1, &s) == GF_OK);
        CHECK(gf_strategy_add(s, U, 1.0, C) == GF_OK);
        CHECK(gf_strategy_add(s, U, 1.0, C) == GF_OK);
        CHECK(gf_strategy_add(s, U, 1.0, C) == GF_ERR_ARG);
        CHECK(strstr(gf_last_error(), "scaffold_sites_total") != NULL);
        gf_strategy_free(s);
    }
    /* FedAvg: a round weight sum past the limit */
    {
        gf_strategy_config c = gf_strategy_defaults(GF_STRAT_FEDAVG);
        gf_strategy *s = NULL;
        CHECK(gf_strategy_create(&c, d, 1, &s) == GF_OK);
        CHECK(gf_strategy_add(s, U, 1e259, NULL) == GF_OK);
        CHECK(gf_strategy_add(s, U, 1e260, NULL) == GF_ERR_ARG);
        CHECK(gf_strategy_num_updates(s) == 1);
        gf_strategy_free(s);
    }
    free(U); free(C); free(bad); free(badc); free(ga); free(gb);
}

/* begin_round discards a partial round */
static void test_begin_round(void)
{
    for (int k = 0; k < NTYPES; k++) {
        gf_strategy_type t = all_types[k];
        gf_strategy_config c = config_for(t, 5);
        gf_strategy *a = NULL, *b = NULL;
        CHECK(gf_strategy_create(&c, 4, 6, &a) == GF_OK);
        CHECK(gf_strategy_create(&c, 4, 6, &b) == GF_OK);
        if (!a || !b) { gf_strategy_free(a); gf_strategy_free(b); continue; }
        const float junk[4] = { 50, -50, 7, 8 }, cd[4] = { 1, 2, 3, 4 };
        const float *cp = t == GF_STRAT_SCAFFOLD ? cd : NULL;
        CHECK(gf_strategy_add(a, junk, 9.0, cp) == GF_OK);
        CHECK(gf_strategy_begin_round(a) == GF_OK);
        CHECK(gf_strategy_begin_round(b) == GF_OK);
        float ga[4] = { 0 }, gb[4] = { 0 };
        for (int i = 0; i < 5; i++) {
            float u[4] = { (float)i, (float)(i * i), -(float)i, 0.5f };
            CHECK(gf_strategy_add(a, u, 1.0 + i, cp) == GF_OK);
            CHECK(gf_strategy_add(b, u, 1.0 + i, cp) == GF_OK);
        }
        CHECK(gf_strategy_finish_round(a, ga) == GF_OK);
        CHECK(gf_strategy_finish_round(b, gb) == GF_OK);
        CHECK_MSG(!memcmp(ga, gb, sizeof ga), "%s", gf_strategy_type_name(t));
        gf_strategy_free(a);
        gf_strategy_free(b);
    }
    /* a round's first update starts the sum as 0 + w u (not w u): with u =
     * -0 and a global of -0, FedAvg's step is -0 + (+0) = +0, as from a
     * cleared sum */
    gf_strategy_config c = config_for(GF_STRAT_FEDAVG, 1);
    gf_strategy *s = NULL;
    CHECK(gf_strategy_create(&c, 2, 2, &s) == GF_OK);
    if (!s) return;
    const float neg0[2] = { -0.0f, 1.0f };
    float g[2] = { -0.0f, 2.0f };
    CHECK(gf_strategy_add(s, neg0, 3.0, NULL) == GF_OK && gf_strategy_finish_round(s, g) == GF_OK);
    CHECK_MSG(g[0] == 0.0f && !signbit(g[0]) && g[1] == 3.0f, "first update of a round: %g %g", (double)g[0],
              (double)g[1]);
    gf_strategy_free(s);
}

/* an aggregate that overflows float: GF_ERR_NUMERIC, nothing changes */
static void test_overflow(void)
{
    const gf_strategy_type ts[] = { GF_STRAT_FEDAVG, GF_STRAT_FEDAVGM, GF_STRAT_MEDIAN, GF_STRAT_KRUM };
    for (int k = 0; k < 4; k++) {
        gf_strategy_config c = gf_strategy_defaults(ts[k]);
        gf_strategy *s = NULL;
        CHECK(gf_strategy_create(&c, 2, 3, &s) == GF_OK);
        if (!s) continue;
        float u[2] = { 3e38f, 1.0f }, g[2] = { 3e38f, 5.0f };
        for (int i = 0; i < 3; i++) CHECK(gf_strategy_add(s, u, 1.0, NULL) == GF_OK);
        CHECK_MSG(gf_strategy_finish_round(s, g) == GF_ERR_NUMERIC, "%s", gf_strategy_type_name(ts[k]));
        CHECK(g[0] == 3e38f && g[1] == 5.0f);
        for (int i = 0; i < gf_strategy_state_count(s); i++) CHECK(gf_strategy_state(s, i)[0] == 0.0f);
        CHECK(gf_strategy_num_updates(s) == 3);   /* the round is still there */
        g[0] = 0.0f;
        CHECK(gf_strategy_finish_round(s, g) == GF_OK);
        CHECK(g[0] == 3e38f && g[1] == 6.0f);
        gf_strategy_free(s);
    }
}

/* FedAvg's finish skips its checking pass when a bound proves the result
 * finite: the bound must count the server learning rate, and where it
 * cannot prove anything the full check must still accept a finite result */
static void test_overflow_bound(void)
{
    gf_strategy_config c = gf_strategy_defaults(GF_STRAT_FEDAVG);
    c.server_lr = 1.5;
    gf_strategy *s = NULL;
    CHECK(gf_strategy_create(&c, 1, 2, &s) == GF_OK);
    if (!s) return;
    float u = 1e38f, g = 2e38f;        /* 2e38 + 1.5 * 1e38 overflows; 2e38 + 1e38 would not */
    CHECK(gf_strategy_add(s, &u, 1.0, NULL) == GF_OK);
    CHECK(gf_strategy_finish_round(s, &g) == GF_ERR_NUMERIC && g == 2e38f);
    gf_strategy_free(s);

    c = gf_strategy_defaults(GF_STRAT_FEDAVG);
    CHECK(gf_strategy_create(&c, 2, 2, &s) == GF_OK);
    if (!s) return;
    float u2[2] = { -1e38f, 0.5f }, g2[2] = { 3e38f, 1.0f };   /* bound 4e38: checked in full, finite */
    CHECK(gf_strategy_add(s, u2, 1.0, NULL) == GF_OK);
    CHECK(gf_strategy_add(s, u2, 3.0, NULL) == GF_OK);
    CHECK(gf_strategy_finish_round(s, g2) == GF_OK);
    CHECK(g2[0] == (float)((double)3e38f + (4.0 * (double)-1e38f) / 4.0) && g2[1] == 1.5f);
    gf_strategy_free(s);

    /* noise added to the sum (central DP) is not bounded by the updates */
    for (int snap = 0; snap < 2; snap++) {
        c = gf_strategy_defaults(GF_STRAT_FEDAVG);
        CHECK(gf_strategy_create(&c, 2, 1, &s) == GF_OK);
        if (!s) return;
        float z[2] = { 0.0f, 0.0f }, g3[2] = { 2e38f, 1.0f }, noise[1] = { 2e38f };
        int64_t k[1] = { (int64_t)1 << 27 };      /* 2^27 * 2^100 = 2^127 */
        CHECK(gf_strategy_add(s, z, 1.0, NULL) == GF_OK);
        CHECK(snap ? gf_strategy_snap_noise_sum(s, 0, k, 1, 0x1p100) == GF_OK
                   : gf_strategy_perturb_sum(s, 0, noise, 1) == GF_OK);
        CHECK_MSG(gf_strategy_finish_round(s, g3) == GF_ERR_NUMERIC && g3[0] == 2e38f,
                  "%s noise past float's range: not refused (global %g)", snap ? "snapped" : "added", (double)g3[0]);
        gf_strategy_free(s);
    }
}

static void test_config(void)
{
    gf_strategy *s = (gf_strategy *)&s;   /* must come back NULL */
    gf_strategy_config c = gf_strategy_defaults(GF_STRAT_FEDAVG);
    CHECK(gf_strategy_create(&c, 0, 1, &s) == GF_ERR_ARG && s == NULL);
    CHECK(gf_strategy_create(&c, 10, 0, &s) == GF_ERR_ARG);
    c.server_lr = 0;
    CHECK(gf_strategy_create(&c, 10, 1, &s) == GF_ERR_ARG);
    c.server_lr = NAN;
    CHECK(gf_strategy_create(&c, 10, 1, &s) == GF_ERR_ARG);
    c = gf_strategy_defaults(GF_STRAT_FEDAVGM);
    c.server_momentum = 1.0;
    CHECK(gf_strategy_create(&c, 10, 1, &s) == GF_ERR_ARG);
    c = gf_strategy_defaults(GF_STRAT_FEDPROX);
    c.mu = -1;
    CHECK(gf_strategy_create(&c, 10, 1, &s) == GF_ERR_ARG);
    c = gf_strategy_defaults(GF_STRAT_FEDADAM);
    c.beta1 = 1.0;
    CHECK(gf_strategy_create(&c, 10, 1, &s) == GF_ERR_ARG);
    c = gf_strategy_defaults(GF_STRAT_FEDYOGI);
    c.beta2 = -0.1;
    CHECK(gf_strategy_create(&c, 10, 1, &s) == GF_ERR_ARG);
    c = gf_strategy_defaults(GF_STRAT_FEDADAGRAD);
    c.tau = 0;
    CHECK(gf_strategy_create(&c, 10, 1, &s) == GF_ERR_ARG);
    c = gf_strategy_defaults(GF_STRAT_SCAFFOLD);   /* N not set */
    CHECK(gf_strategy_create(&c, 10, 1, &s) == GF_ERR_ARG);
    CHECK(strstr(gf_last_error(), "scaffold_sites_total") != NULL);
    c = gf_strategy_defaults(GF_STRAT_TRIMMED_MEAN);
    c.trim_ratio = 0.5;
    CHECK(gf_strategy_create(&c, 10, 5, &s) == GF_ERR_ARG);
    c.trim_ratio = -0.1;
    CHECK(gf_strategy_create(&c, 10, 5, &s) == GF_ERR_ARG);
    c = gf_strategy_defaults(GF_STRAT_KRUM);
    c.krum_f = -1;
    CHECK(gf_strategy_create(&c, 10, 5, &s) == GF_ERR_ARG);
    c.krum_f = 2;   /* needs max_sites >= 7 */
    CHECK(gf_strategy_create(&c, 10, 6, &s) == GF_ERR_ARG);
    CHECK(gf_strategy_create(&c, 10, 7, &s) == GF_OK && s != NULL);
    gf_strategy_free(s);
    c = gf_strategy_defaults(GF_STRAT_MULTIKRUM);
    c.multikrum_m = -1;
    CHECK(gf_strategy_create(&c, 10, 5, &s) == GF_ERR_ARG);
    c.type = (gf_strategy_type)99;
    CHECK(gf_strategy_create(&c, 10, 5, &s) == GF_ERR_ARG);
    CHECK(gf_strategy_create(NULL, 10, 5, &s) == GF_ERR_ARG);
    /* too big to allocate */
    c = gf_strategy_defaults(GF_STRAT_MEDIAN);
    CHECK(gf_strategy_create(&c, INT64_MAX / 2, 1000, &s) == GF_ERR_NOMEM && s == NULL);
    gf_strategy_free(NULL);

    /* names */
    for (int k = 0; k < NTYPES; k++) {
        gf_strategy_type t = all_types[k], back = GF_STRAT_FEDAVG;
        CHECK(gf_strategy_type_parse(gf_strategy_type_name(t), &back) == GF_OK && back == t);
        CHECK(gf_strategy_is_streaming(t) == (t <= GF_STRAT_SCAFFOLD));
    }
    gf_strategy_type t;
    CHECK(gf_strategy_type_parse("fedsgd", &t) == GF_ERR_ARG);
    CHECK(strstr(gf_last_error(), "fedsgd") && strstr(gf_last_error(), "trimmed_mean") &&
          strstr(gf_last_error(), "multikrum"));
    CHECK(gf_strategy_type_parse("FedAvg", &t) == GF_ERR_ARG);
    CHECK(!strcmp(gf_strategy_type_name((gf_strategy_type)42), "unknown"));
}

/* ---------------------------------------------------------------------------
 * State save/restore and determinism. */

/* run `rounds` rounds of fixed random data (seeded by round index + offset) */
static void run_rounds(gf_strategy *s, int64_t d, int n, float *global, int first, int rounds)
{
    float *U = malloc((size_t)n * d * sizeof(float)), *C = malloc((size_t)n * d * sizeof(float));
    double w[MAXN];
    for (int r = first; r < first + rounds; r++) {
        gf_rng rng;
        gf_rng_seed(&rng, 1000 + (uint64_t)r);
        gen_round(&rng, n, d, U, w, C);
        for (int i = 0; i < n; i++)
            CHECK(gf_strategy_add(s, U + i * d, w[i], gf_strategy_control(s) ? C + i * d : NULL) == GF_OK);
        CHECK(gf_strategy_finish_round(s, global) == GF_OK);
    }
    free(U); free(C);
}

static void test_state_roundtrip(void)
{
    const int64_t d = D;
    const int n = 5;
    for (int k = 0; k < NTYPES; k++) {
        gf_strategy_type t = all_types[k];
        const char *name = gf_strategy_type_name(t);
        gf_strategy_config c = config_for(t, n);
        gf_strategy *a = NULL, *b = NULL;
        CHECK(gf_strategy_create(&c, d, n, &a) == GF_OK);
        float *ga = malloc(d * sizeof(float)), *gb = malloc(d * sizeof(float));
        for (int64_t j = 0; j < d; j++) ga[j] = (float)sin((double)j);
        run_rounds(a, d, n, ga, 0, 3);
        /* "checkpoint": the names and vectors; restore into a fresh one */
        int ns = gf_strategy_state_count(a);
        CHECK(ns == (t == GF_STRAT_FEDAVGM || t == GF_STRAT_SCAFFOLD ? 1 :
                     t == GF_STRAT_FEDADAM || t == GF_STRAT_FEDYOGI || t == GF_STRAT_FEDADAGRAD ? 2 : 0));
        CHECK(gf_strategy_state(a, ns) == NULL && gf_strategy_state_name(a, ns) == NULL);
        CHECK(gf_strategy_state(a, -1) == NULL);
        float *saved = malloc((size_t)(ns ? ns : 1) * d * sizeof(float));
        for (int i = 0; i < ns; i++) memcpy(saved + i * d, gf_strategy_state(a, i), d * sizeof(float));
        if (ns == 2) {
            CHECK(!strcmp(gf_strategy_state_name(a, 0), "server.m"));
            CHECK(!strcmp(gf_strategy_state_name(a, 1), "server.v"));
        }
        if (t == GF_STRAT_SCAFFOLD) CHECK(!strcmp(gf_strategy_state_name(a, 0), "server.c"));
        CHECK(gf_strategy_create(&c, d, n, &b) == GF_OK);
        CHECK(gf_strategy_state_count(b) == ns);
        for (int i = 0; i < ns; i++) memcpy(gf_strategy_state(b, i), saved + i * d, d * sizeof(float));
        memcpy(gb, ga, d * sizeof(float));
        run_rounds(a, d, n, ga, 3, 2);
        run_rounds(b, d, n, gb, 3, 2);
        CHECK_MSG(!memcmp(ga, gb, d * sizeof(float)), "%s: restored strategy diverged", name);
        for (int i = 0; i < ns; i++)
            CHECK(!memcmp(gf_strategy_state(a, i), gf_strategy_state(b, i), d * sizeof(float)));
        /* and the state did change in those rounds */
        for (int i = 0; i < ns; i++)
            CHECK(memcmp(gf_strategy_state(a, i), saved + i * d, d * sizeof(float)) != 0);
        free(saved); free(ga); free(gb);
        gf_strategy_free(a);
        gf_strategy_free(b);
    }
}

/* two identical runs give the same bits, also with 1 vs several OpenMP
 * threads on a model big enough for the parallel loops */
static void test_determinism(void)
{
    const int n = 10;
    for (int big = 0; big < 2; big++) {
        const int64_t d = big ? 70000 : D;
        for (int k = 0; k < NTYPES; k++) {
            gf_strategy_type t = all_types[k];
            gf_strategy_config c = config_for(t, n);
            float *g[2];
            for (int run = 0; run < 2; run++) {
                if (big) omp_set_num_threads(run ? 3 : 1);
                gf_strategy *s = NULL;
                CHECK(gf_strategy_create(&c, d, n, &s) == GF_OK);
                g[run] = malloc(d * sizeof(float));
                for (int64_t j = 0; j < d; j++) g[run][j] = (float)cos((double)j);
                run_rounds(s, d, n, g[run], 0, big ? 2 : 3);
                gf_strategy_free(s);
            }
            CHECK_MSG(!memcmp(g[0], g[1], d * sizeof(float)), "%s d=%lld: runs differ",
                      gf_strategy_type_name(t), (long long)d);
            free(g[0]); free(g[1]);
        }
    }
    omp_set_num_threads(omp_get_num_procs());
}

/* The memory a strategy takes, known before creating it: hand counts of its
 * buffers, and the robust ones growing with the sites while the sum-based
 * ones do not. */
static void test_bytes(void)
{
    const double d = 1000, n = 5, th = omp_get_max_threads();
    CHECK(gf_strategy_bytes(GF_STRAT_FEDAVG, 1000, 5) == 8 * d);
    CHECK(gf_strategy_bytes(GF_STRAT_FEDAVGM, 1000, 5) == 8 * d + 4 * d);
    CHECK(gf_strategy_bytes(GF_STRAT_FEDADAM, 1000, 5) == 8 * d + 8 * d);
    CHECK(gf_strategy_bytes(GF_STRAT_SCAFFOLD, 1000, 5) == 16 * d + 4 * d);
    CHECK(gf_strategy_bytes(GF_STRAT_KRUM, 1000, 5) == 4 * n * d + 8 * d + 8 * (n * n + 2 * n));
    CHECK(gf_strategy_bytes(GF_STRAT_MEDIAN, 1000, 5) == 4 * n * d + 8 * d + 4 * th * n);
    CHECK(gf_strategy_bytes(GF_STRAT_FEDAVG, 1000, 5000) == gf_strategy_bytes(GF_STRAT_FEDAVG, 1000, 5));
    /* no overflow: 2^40 parameters times 10^6 sites */
    CHECK(gf_strategy_bytes(GF_STRAT_TRIMMED_MEAN, (int64_t)1 << 40, 1000000) > 4e18);
}

int main(void)
{
    const int ns[] = { 1, 5, 10, -10 };   /* -10: 10 sites, non-default settings */
    for (int k = 0; k < NTYPES; k++)
        for (int q = 0; q < 4; q++) test_against_reference(all_types[k], ns[q], 17 + 31 * k + q);
    test_hand_cases();
    test_order_statistics();
    test_robustness();
    test_bad_adds();
    test_begin_round();
    test_overflow();
    test_overflow_bound();
    test_config();
    test_state_roundtrip();
    test_determinism();
    test_bytes();
    return check_summary();
}
