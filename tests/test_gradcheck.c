/* Finite-difference gradient checks for every op: for a random projection
 * r, L = sum(op(x) * r) in double; each analytic gradient (input, weight,
 * bias) must match central differences on sampled coordinates. */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "core/rng.h"
#include "engine/fastmath.h"
#include "engine/ops.h"
#include <omp.h>

static gf_rng rng;

static float *randv(int64_t n, float lo, float hi)
{
    float *v = malloc(sizeof(float) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++) v[i] = lo + (hi - lo) * gf_rng_uniform(&rng);
    return v;
}

/* Values bounded away from 0 (for kinks such as ReLU's). */
static float *randv_away(int64_t n)
{
    float *v = randv(n, 0.1f, 1.0f);
    for (int64_t i = 0; i < n; i++) if (gf_rng_uniform(&rng) < 0.5f) v[i] = -v[i];
    return v;
}

static double dot(const float *a, const float *b, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* The op under test: recompute the scalar loss from the current buffers. */
typedef double (*loss_fn)(void *ctx);

/* Compares grad[i] with (L(v_i + h) - L(v_i - h)) / 2h on up to 40 coordinates. */
static void fd_check(const char *what, float *v, const float *grad, int64_t n, loss_fn f,
                     void *ctx, float h)
{
    double worst = 0;
    int count = n < 40 ? (int)n : 40;
    for (int k = 0; k < count; k++) {
        int64_t i = n <= 40 ? k : (int64_t)gf_rng_below(&rng, (uint64_t)n);
        float keep = v[i];
        v[i] = keep + h; double lp = f(ctx);
        v[i] = keep - h; double lm = f(ctx);
        v[i] = keep;
        double num = (lp - lm) / (2.0 * h);
        double err = fabs(num - grad[i]) / (fabs(num) + fabs(grad[i]) + 1e-2);
        if (err > worst) worst = err;
    }
    /* float32 forward passes: rounding in L limits FD to ~1e-3; a wrong
     * gradient is off by O(1). Exact checks against plain loops are separate. */
    CHECK_MSG(worst < 5e-3, "%s: worst relative error %.3g", what, worst);
    printf("  %-28s worst relative error %.2e\n", what, worst);
}

/* ---- linear ---- */
typedef struct { int B, K, N; float *x, *w, *b, *y, *r; } lin_ctx;
static double lin_loss(void *p)
{
    lin_ctx *c = p;
    gf_linear_forward(c->B, c->K, c->N, c->x, c->w, c->b, c->y);
    return dot(c->y, c->r, (int64_t)c->B * c->N);
}
static void test_linear(void)
{
    lin_ctx c = { 5, 7, 4 };
    c.x = randv(c.B * c.K, -1, 1); c.w = randv(c.N * c.K, -1, 1); c.b = randv(c.N, -1, 1);
    c.y = randv(c.B * c.N, 0, 0); c.r = randv(c.B * c.N, -1, 1);
    float *dx = randv(c.B * c.K, 0, 0), *dw = randv(c.N * c.K, 0, 0), *db = randv(c.N, 0, 0);
    lin_loss(&c);
    gf_linear_backward(c.B, c.K, c.N, c.x, c.w, c.r, dw, db, dx);
    fd_check("linear dx", c.x, dx, c.B * c.K, lin_loss, &c, 1e-2f);
    fd_check("linear dw", c.w, dw, c.N * c.K, lin_loss, &c, 1e-2f);
    fd_check("linear db", c.b, db, c.N, lin_loss, &c, 1e-2f);
    free(c.x); free(c.w); free(c.b); free(c.y); free(c.r); free(dx); free(dw); free(db);
}

/* ---- conv2d ---- */
typedef struct { gf_conv_geom g; int B; float *x, *w, *b, *y, *r, *ws; } conv_ctx;
static double conv_loss(void *p)
{
    conv_ctx *c = p;
    gf_conv2d_forward(&c->g, c->B, 2, c->x, c->w, c->b, c->y, c->ws, NULL, NULL);
    return dot(c->y, c->r, (int64_t)c->B * c->g.cout * c->g.ho * c->g.wo);
}
/* keep: fraction of output-gradient entries left nonzero (below 0.25 with
 * cin*k*k >= 128 the conv takes its sparse backward path) */
static void test_conv_keep(int cin, int h, int w, int cout, int k, int s, int pad, float keep)
{
    conv_ctx c = { { cin, h, w, cout, k, s, pad, (h + 2 * pad - k) / s + 1, (w + 2 * pad - k) / s + 1 }, 3 };
    int64_t nx = (int64_t)c.B * cin * h * w, nw = (int64_t)cout * cin * k * k;
    int64_t ny = (int64_t)c.B * cout * c.g.ho * c.g.wo;
    c.x = randv(nx, -1, 1); c.w = randv(nw, -1, 1); c.b = randv(cout, -1, 1);
    c.y = randv(ny, 0, 0); c.r = randv(ny, -1, 1);
    for (int64_t i = 0; i < ny; i++) if (gf_rng_uniform(&rng) >= keep) c.r[i] = 0.0f;
    c.ws = randv((int64_t)gf_conv2d_workspace(&c.g, 2), 0, 0);
    float *dx = randv(nx, 0, 0), *dw = randv(nw, 0, 0), *db = randv(cout, 0, 0);
    conv_loss(&c);
    gf_conv2d_backward(&c.g, c.B, 2, c.x, c.w, c.r, dw, db, dx, c.ws, NULL, NULL);
    /* exact check: a plain double-precision re-computation of y, dx, dw, db */
    const gf_conv_geom *g = &c.g;
    double worst = 0;
    for (int n = 0; n < c.B; n++)
        for (int co = 0; co < cout; co++)
            for (int oh = 0; oh < g->ho; oh++)
                for (int ow = 0; ow < g->wo; ow++) {
                    double acc = c.b[co];
                    for (int ci = 0; ci < cin; ci++)
                        for (int i = 0; i < k; i++)
                            for (int j = 0; j < k; j++) {
                                int ih = oh * s - pad + i, iw = ow * s - pad + j;
                                if (ih >= 0 && ih < h && iw >= 0 && iw < w)
                                    acc += (double)c.w[((co * cin + ci) * k + i) * k + j] *
                                           c.x[((n * cin + ci) * h + ih) * w + iw];
                            }
                    double got = c.y[((n * cout + co) * g->ho + oh) * g->wo + ow];
                    if (fabs(got - acc) > worst) worst = fabs(got - acc);
                }
    CHECK_MSG(worst < 1e-5, "conv forward vs plain loops: %.3g", worst);
    double *rdx = calloc(nx, sizeof(double)), *rdw = calloc(nw, sizeof(double)), *rdb = calloc(cout, sizeof(double));
    for (int n = 0; n < c.B; n++)
        for (int co = 0; co < cout; co++)
            for (int oh = 0; oh < g->ho; oh++)
                for (int ow = 0; ow < g->wo; ow++) {
                    double gy = c.r[((n * cout + co) * g->ho + oh) * g->wo + ow];
                    rdb[co] += gy;
                    for (int ci = 0; ci < cin; ci++)
                        for (int i = 0; i < k; i++)
                            for (int j = 0; j < k; j++) {
                                int ih = oh * s - pad + i, iw = ow * s - pad + j;
                                if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
                                size_t wi = ((size_t)(co * cin + ci) * k + i) * k + j;
                                size_t xi = ((size_t)(n * cin + ci) * h + ih) * w + iw;
                                rdw[wi] += gy * c.x[xi];
                                rdx[xi] += gy * c.w[wi];
                            }
                }
    double ex = 0, ew = 0, eb = 0;
    for (int64_t i = 0; i < nx; i++) ex = fmax(ex, fabs(dx[i] - rdx[i]));
    for (int64_t i = 0; i < nw; i++) ew = fmax(ew, fabs(dw[i] - rdw[i]));
    for (int i = 0; i < cout; i++) eb = fmax(eb, fabs(db[i] - rdb[i]));
    CHECK_MSG(ex < 1e-5 && ew < 1e-5 && eb < 1e-5, "conv backward vs plain loops: dx %.3g dw %.3g db %.3g", ex, ew, eb);
    printf("  conv %d->%d k%d s%d p%d keep %.2f vs plain loops: y %.1e dx %.1e dw %.1e db %.1e\n",
           cin, cout, k, s, pad, keep, worst, ex, ew, eb);
    free(rdx); free(rdw); free(rdb);
    char name[64];
    snprintf(name, sizeof name, "conv k%d s%d p%d dx", k, s, pad);
    fd_check(name, c.x, dx, nx, conv_loss, &c, 1e-2f);
    snprintf(name, sizeof name, "conv k%d s%d p%d dw", k, s, pad);
    fd_check(name, c.w, dw, nw, conv_loss, &c, 1e-2f);
    snprintf(name, sizeof name, "conv k%d s%d p%d db", k, s, pad);
    fd_check(name, c.b, db, cout, conv_loss, &c, 1e-2f);
    free(c.x); free(c.w); free(c.b); free(c.y); free(c.r); free(c.ws); free(dx); free(dw); free(db);
}

static void test_conv(int cin, int h, int w, int cout, int k, int s, int pad)
{
    test_conv_keep(cin, h, w, cout, k, s, pad, 1.0f);
}

/* ---- maxpool ---- */
typedef struct { int64_t P; int h, w, k, s, ho, wo; float *x, *y, *r; int32_t *am; } pool_ctx;
static double pool_loss(void *p)
{
    pool_ctx *c = p;
    gf_maxpool2d_forward(c->P, c->h, c->w, c->k, c->s, c->ho, c->wo, c->x, c->y, c->am);
    return dot(c->y, c->r, c->P * c->ho * c->wo);
}
static void test_pool(int k, int s)
{
    pool_ctx c = { 6, 7, 7, k, s, (7 - k) / s + 1, (7 - k) / s + 1 };
    int64_t nx = c.P * c.h * c.w, ny = c.P * c.ho * c.wo;
    /* distinct values spaced well beyond the FD step, so no argmax flips */
    c.x = randv(nx, 0, 0);
    for (int64_t i = 0; i < nx; i++) c.x[i] = (float)((i * 7919) % nx) * 0.05f;
    c.y = randv(ny, 0, 0); c.r = randv(ny, -1, 1);
    c.am = malloc(sizeof(int32_t) * ny);
    float *dx = randv(nx, 0, 0);
    pool_loss(&c);
    gf_maxpool2d_backward(c.P, c.h, c.w, c.k, c.s, c.ho, c.wo, c.r, c.am, dx);
    char name[64];
    snprintf(name, sizeof name, "maxpool k%d s%d dx", k, s);
    fd_check(name, c.x, dx, nx, pool_loss, &c, 1e-2f);
    free(c.x); free(c.y); free(c.r); free(c.am); free(dx);
}

/* Max-pool values and winners against a plain scan (first maximum in
 * window order), on inputs full of ties, odd sizes and rows over 16 wide. */
static void test_pool_ties(int h, int w, int k, int st)
{
    const int64_t P = 5;
    int ho = (h - k) / st + 1, wo = (w - k) / st + 1;
    float *x = randv(P * h * w, 0, 0), *y = randv(P * ho * wo, 0, 0);
    int32_t *am = malloc(sizeof(int32_t) * P * ho * wo);
    for (int64_t i = 0; i < P * h * w; i++) x[i] = (float)gf_rng_below(&rng, 3);   /* 0, 1, 2 */
    gf_maxpool2d_forward(P, h, w, k, st, ho, wo, x, y, am);
    int bad = 0;
    for (int64_t p = 0; p < P; p++)
        for (int oh = 0; oh < ho; oh++)
            for (int ow = 0; ow < wo; ow++) {
                int best = -1;
                for (int i = 0; i < k; i++)
                    for (int j = 0; j < k; j++) {
                        int off = (oh * st + i) * w + ow * st + j;
                        if (best < 0 || x[p * h * w + off] > x[p * h * w + best]) best = off;
                    }
                int64_t o = (p * ho + oh) * wo + ow;
                bad += am[o] != best || y[o] != x[p * h * w + best];
            }
    CHECK_MSG(bad == 0, "maxpool k%d s%d on %dx%d: %d windows differ from the plain scan", k, st, h, w, bad);
    /* backward: the output gradient lands on the winners, summed; zero elsewhere */
    float *dy = randv(P * ho * wo, -1, 1), *dx = randv(P * h * w, 5, 5);   /* dx starts as garbage */
    double *want = calloc((size_t)(P * h * w), sizeof(double));
    for (int64_t p = 0; p < P; p++)
        for (int64_t o = 0; o < (int64_t)ho * wo; o++) want[p * h * w + am[p * ho * wo + o]] += dy[p * ho * wo + o];
    gf_maxpool2d_backward(P, h, w, k, st, ho, wo, dy, am, dx);
    int wrong = 0;
    for (int64_t i = 0; i < P * h * w; i++) wrong += fabs(dx[i] - want[i]) > 1e-6;
    CHECK_MSG(wrong == 0, "maxpool k%d s%d on %dx%d backward: %d inputs differ from a plain scatter", k, st, h, w, wrong);
    free(dy); free(dx); free(want);
    free(x); free(y); free(am);
}

/* ---- elementwise ---- */
typedef struct { int64_t n; float *x, *y, *r; int kind; float p; uint64_t key; } ew_ctx;
static double ew_loss(void *p)
{
    ew_ctx *c = p;
    if (c->kind == 0) gf_relu_forward(c->n, c->x, c->y);
    else if (c->kind == 1) gf_gelu_forward(c->n, c->x, c->y);
    else if (c->kind == 3) gf_gelu_tanh_forward(c->n, c->x, c->y);
    else gf_dropout_forward(c->n, c->p, c->key, c->x, c->y);
    return dot(c->y, c->r, c->n);
}
static void test_elementwise(int kind, const char *name)
{
    ew_ctx c = { 200, NULL, NULL, NULL, kind, 0.3f, 12345 };
    c.x = kind == 1 || kind == 3 ? randv(c.n, -3, 3) : randv_away(c.n);
    c.y = randv(c.n, 0, 0); c.r = randv(c.n, -1, 1);
    float *dx = randv(c.n, 0, 0);
    ew_loss(&c);
    if (kind == 0) gf_relu_backward(c.n, c.x, c.r, dx);
    else if (kind == 1) gf_gelu_backward(c.n, c.x, c.r, dx);
    else if (kind == 3) gf_gelu_tanh_backward(c.n, c.x, c.r, dx);
    else gf_dropout_backward(c.n, c.p, c.key, c.r, dx);
    fd_check(name, c.x, dx, c.n, ew_loss, &c, 1e-2f);
    free(c.x); free(c.y); free(c.r); free(dx);
}

/* ---- layernorm ---- */
typedef struct { int B, D; float *x, *g, *b, *y, *r, *mean, *rstd; } ln_ctx;
static double ln_loss(void *p)
{
    ln_ctx *c = p;
    gf_layernorm_forward(c->B, c->D, c->x, c->g, c->b, c->y, c->mean, c->rstd);
    return dot(c->y, c->r, (int64_t)c->B * c->D);
}
static void test_layernorm(void)
{
    ln_ctx c = { 4, 9 };
    int64_t n = c.B * c.D;
    c.x = randv(n, -2, 2); c.g = randv(c.D, 0.5f, 1.5f); c.b = randv(c.D, -1, 1);
    c.y = randv(n, 0, 0); c.r = randv(n, -1, 1); c.mean = randv(c.B, 0, 0); c.rstd = randv(c.B, 0, 0);
    float *dx = randv(n, 0, 0), *dg = randv(c.D, 0, 0), *db = randv(c.D, 0, 0);
    ln_loss(&c);
    gf_layernorm_backward(c.B, c.D, c.x, c.g, c.mean, c.rstd, c.r, dx, dg, db);
    fd_check("layernorm dx", c.x, dx, n, ln_loss, &c, 1e-2f);
    fd_check("layernorm dgamma", c.g, dg, c.D, ln_loss, &c, 1e-2f);
    fd_check("layernorm dbeta", c.b, db, c.D, ln_loss, &c, 1e-2f);
    free(c.x); free(c.g); free(c.b); free(c.y); free(c.r); free(c.mean); free(c.rstd);
    free(dx); free(dg); free(db);
}

/* ---- softmax cross-entropy ---- */
typedef struct { int B, C; float *z; int32_t *y; } ce_ctx;
static double ce_loss(void *p)
{
    ce_ctx *c = p;
    return gf_softmax_ce(c->B, c->C, c->z, c->y, NULL, NULL);
}
static void test_softmax_ce(void)
{
    ce_ctx c = { 6, 5 };
    c.z = randv(c.B * c.C, -3, 3);
    int32_t y[6];
    for (int i = 0; i < c.B; i++) y[i] = (int32_t)gf_rng_below(&rng, (uint64_t)c.C);
    c.y = y;
    float *dz = randv(c.B * c.C, 0, 0);
    int correct = -1;
    ce_loss(&c);
    gf_softmax_ce(c.B, c.C, c.z, c.y, dz, &correct);
    CHECK(correct >= 0 && correct <= c.B);
    fd_check("softmax-ce dlogits", c.z, dz, c.B * c.C, ce_loss, &c, 1e-2f);
    /* a hand value: uniform logits give log(C) */
    float zero[5] = {0};
    int32_t lab = 2;
    CHECK_NEAR(gf_softmax_ce(1, 5, zero, &lab, NULL, NULL), log(5.0), 1e-6);
    free(c.z); free(dz);
}

/* dropout: masks reproducible from the key, fraction dropped near p, scale 1/(1-p) */
static void test_dropout_stats(void)
{
    int64_t n = 100000;
    float *x = randv(n, 1, 1), *y = randv(n, 0, 0), *y2 = randv(n, 0, 0);
    gf_dropout_forward(n, 0.25f, 99, x, y);
    gf_dropout_forward(n, 0.25f, 99, x, y2);
    int64_t zeros = 0, scaled = 0;
    for (int64_t i = 0; i < n; i++) {
        zeros += y[i] == 0.0f;
        scaled += fabsf(y[i] - 1.0f / 0.75f) < 1e-6f;
    }
    CHECK(!memcmp(y, y2, sizeof(float) * n));
    CHECK_MSG(fabs(zeros / (double)n - 0.25) < 0.01, "dropped fraction %.4f", zeros / (double)n);
    CHECK(zeros + scaled == n);
    gf_dropout_forward(n, 0.25f, 100, x, y2);
    CHECK(memcmp(y, y2, sizeof(float) * n) != 0);
    /* a shard (elements 40000..) draws the masks of its place in the whole
     * tensor, forward and backward */
    int64_t i0 = 40000;
    gf_dropout_forward_at(n - i0, i0, 0.25f, 99, x + i0, y2);
    CHECK(!memcmp(y + i0, y2, sizeof(float) * (n - i0)));
    gf_dropout_backward(n, 0.25f, 99, x, y);
    gf_dropout_backward_at(n - i0, i0, 0.25f, 99, x + i0, y2);
    CHECK(!memcmp(y + i0, y2, sizeof(float) * (n - i0)));
    gf_dropout_forward(n - i0, 0.25f, 99, x + i0, y2);
    CHECK(memcmp(y + i0, y2, sizeof(float) * (n - i0)) != 0);
    free(x); free(y); free(y2);
}


/* the vectorised exp against exp in double: within 2 ulp over its range */
static void test_exp_fast(void)
{
    double worst = 0.0;
    for (float x = -87.3f; x <= 88.3f; x += 0.000731f) {
        double want = exp((double)x), e = fabs((double)gf_exp_fast(x) - want) / want;
        if (e > worst) worst = e;
    }
    printf("  exp_fast                     worst relative error %.3g\n", worst);
    CHECK_MSG(worst <= 2.4e-7, "exp_fast worst relative error %.3g", worst);
    CHECK(gf_exp_fast(0.0f) == 1.0f);
    CHECK(gf_exp_fast(-1000.0f) > 0.0f && gf_exp_fast(-1000.0f) < 1.3e-38f);
    CHECK(isfinite(gf_exp_fast(1000.0f)) && gf_exp_fast(1000.0f) > 2e38f);
}

/* GELU tanh form against its formula in double (GPT-2's, not erf's) */
static void test_gelu_tanh_values(void)
{
    float x[5] = { -3.0f, -0.5f, 0.0f, 0.7f, 2.5f }, y[5];
    gf_gelu_tanh_forward(5, x, y);
    double worst = 0;
    for (int i = 0; i < 5; i++) {
        double v = x[i], want = 0.5 * v * (1 + tanh(sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
        worst = fmax(worst, fabs(y[i] - want));
    }
    CHECK_MSG(worst < 1e-6, "gelu tanh vs formula: %.3g", worst);
    /* differs from the erf form by ~1e-4 at x = 2.5: a swapped kernel shows */
    float ye[5];
    gf_gelu_forward(5, x, ye);
    CHECK(fabs(ye[4] - y[4]) > 1e-5);
}

/* ---- causal attention ---- */
typedef struct { int B, T, C, H; float *qkv, *out, *lse, *r; } att_ctx;
static double att_loss(void *p)
{
    att_ctx *c = p;
    gf_attention_forward(c->B, c->T, c->C, c->H, c->qkv, c->out, c->lse);
    return dot(c->out, c->r, (int64_t)c->B * c->T * c->C);
}
/* plain re-computation in double: scores, masked softmax, weighted sum */
static double att_plain_check(const att_ctx *c)
{
    const int hs = c->C / c->H, C3 = 3 * c->C;
    double worst = 0, *p = malloc(sizeof(double) * c->T);
    for (int b = 0; b < c->B; b++)
        for (int h = 0; h < c->H; h++)
            for (int t = 0; t < c->T; t++) {
                const float *q = c->qkv + ((size_t)b * c->T + t) * C3 + h * hs;
                double mx = -1e300, sum = 0;
                for (int j = 0; j <= t; j++) {
                    const float *k = c->qkv + ((size_t)b * c->T + j) * C3 + c->C + h * hs;
                    double s = 0;
                    for (int d = 0; d < hs; d++) s += (double)q[d] * k[d];
                    p[j] = s / sqrt((double)hs);
                    mx = fmax(mx, p[j]);
                }
                for (int j = 0; j <= t; j++) sum += (p[j] = exp(p[j] - mx));
                for (int d = 0; d < hs; d++) {
                    double o = 0;
                    for (int j = 0; j <= t; j++)
                        o += p[j] / sum * c->qkv[((size_t)b * c->T + j) * C3 + 2 * c->C + h * hs + d];
                    worst = fmax(worst, fabs(o - c->out[((size_t)b * c->T + t) * c->C + h * hs + d]));
                }
                worst = fmax(worst, fabs(mx + log(sum) - c->lse[((size_t)b * c->H + h) * c->T + t]));
            }
    free(p);
    return worst;
}
static void test_attention(int B, int T, int C, int H)
{
    att_ctx c = { B, T, C, H };
    const int64_t nqkv = (int64_t)B * T * 3 * C, no = (int64_t)B * T * C;
    c.qkv = randv(nqkv, -2, 2); c.out = randv(no, 0, 0); c.lse = randv((int64_t)B * H * T, 0, 0);
    c.r = randv(no, -1, 1);
    float *dqkv = randv(nqkv, 7, 7);    /* backward must overwrite, not accumulate */
    att_loss(&c);
    double worst = att_plain_check(&c);
    CHECK_MSG(worst < 1e-5, "attention vs plain loops: %.3g", worst);
    printf("  attention B%d T%d C%d H%d vs plain loops: %.1e\n", B, T, C, H, worst);
    gf_attention_backward(B, T, C, H, c.qkv, c.out, c.lse, c.r, dqkv);
    /* one thread gives the same bits (each (b, h) task owns its outputs) */
    float *dqkv1 = randv(nqkv, 0, 0), *out1 = randv(no, 0, 0);
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    gf_attention_forward(B, T, C, H, c.qkv, out1, c.lse);
    gf_attention_backward(B, T, C, H, c.qkv, out1, c.lse, c.r, dqkv1);
    omp_set_num_threads(threads);
    CHECK(!memcmp(out1, c.out, sizeof(float) * no) && !memcmp(dqkv1, dqkv, sizeof(float) * nqkv));
    char name[64];
    snprintf(name, sizeof name, "attention T%d dqkv", T);
    fd_check(name, c.qkv, dqkv, nqkv, att_loss, &c, 1e-2f);
    free(c.qkv); free(c.out); free(c.lse); free(c.r); free(dqkv); free(dqkv1); free(out1);
}

/* ---- token + position embedding ---- */
typedef struct { int B, T, C, V; int32_t *tok; float *wte, *wpe, *x, *r; } emb_ctx;
static double emb_loss(void *p)
{
    emb_ctx *c = p;
    gf_embedding_forward(c->B, c->T, c->C, c->tok, c->wte, c->wpe, c->x);
    return dot(c->x, c->r, (int64_t)c->B * c->T * c->C);
}
static void test_embedding(void)
{
    emb_ctx c = { 3, 5, 6, 4 };
    int32_t tok[15];
    for (int i = 0; i < 15; i++) tok[i] = (int32_t)gf_rng_below(&rng, 3);   /* id 3 unused */
    c.tok = tok;
    c.wte = randv(c.V * c.C, -1, 1); c.wpe = randv(c.T * c.C, -1, 1);
    c.x = randv(c.B * c.T * c.C, 0, 0); c.r = randv(c.B * c.T * c.C, -1, 1);
    float *dwte = randv(c.V * c.C, 0, 0), *dwpe = randv(c.T * c.C, 5, 5);
    emb_loss(&c);
    gf_embedding_backward(c.B, c.T, c.C, c.tok, c.r, dwte, dwpe);   /* dwte accumulates into 0 */
    fd_check("embedding dwte", c.wte, dwte, c.V * c.C, emb_loss, &c, 1e-2f);
    fd_check("embedding dwpe", c.wpe, dwpe, c.T * c.C, emb_loss, &c, 1e-2f);
    for (int i = 3 * c.C; i < 4 * c.C; i++) CHECK(dwte[i] == 0.0f);
    free(c.wte); free(c.wpe); free(c.x); free(c.r); free(dwte); free(dwpe);
}

/* ---- bias-free matmul (tied head) ---- */
typedef struct { int M, K, N; float *x, *w, *y, *r; } mm_ctx;
static double mm_loss(void *p)
{
    mm_ctx *c = p;
    gf_matmul_forward(c->M, c->K, c->N, c->x, c->w, c->y);
    return dot(c->y, c->r, (int64_t)c->M * c->N);
}
static void test_matmul(void)
{
    mm_ctx c = { 6, 5, 7 };
    c.x = randv(c.M * c.K, -1, 1); c.w = randv(c.N * c.K, -1, 1);
    c.y = randv(c.M * c.N, 0, 0); c.r = randv(c.M * c.N, -1, 1);
    float *dx = randv(c.M * c.K, 0, 0), *dw = randv(c.N * c.K, 3, 3);
    mm_loss(&c);
    gf_matmul_backward(c.M, c.K, c.N, c.x, c.w, c.r, dw, dx);
    fd_check("matmul dx", c.x, dx, c.M * c.K, mm_loss, &c, 1e-2f);
    fd_check("matmul dw", c.w, dw, c.N * c.K, mm_loss, &c, 1e-2f);
    free(c.x); free(c.w); free(c.y); free(c.r); free(dx); free(dw);
}

/* ---- cross-entropy over rows, in place ---- */
static void test_softmax_ce_rows(void)
{
    const int R = 37, C = 11;
    float *z = randv(R * C, -3, 3), *zc = malloc(sizeof(float) * R * C), *dz = randv(R * C, 0, 0);
    int32_t y[37];
    double rl[37];
    for (int i = 0; i < R; i++) y[i] = (int32_t)gf_rng_below(&rng, C);
    int c1 = 0;
    int64_t c2 = 0;
    double l1 = gf_softmax_ce(R, C, z, y, dz, &c1);
    memcpy(zc, z, sizeof(float) * R * C);
    double l2 = gf_softmax_ce_rows(R, C, zc, y, zc, &c2, rl);    /* gradient over the logits */
    CHECK_NEAR(l1, l2, 1e-12);
    CHECK(c1 == c2);
    CHECK(!memcmp(dz, zc, sizeof(float) * R * C));
    free(z); free(zc); free(dz);
}

int main(void)
{
    gf_rng_seed(&rng, 7);
    test_linear();
    test_conv(2, 6, 5, 3, 3, 1, 1);
    test_conv(3, 7, 7, 2, 3, 2, 1);
    test_conv(2, 8, 8, 4, 5, 1, 2);
    test_conv(1, 5, 5, 2, 1, 1, 0);
    test_conv_keep(8, 9, 9, 6, 5, 1, 2, 0.15f);     /* sparse backward path */
    test_conv_keep(9, 11, 10, 5, 4, 2, 1, 0.1f);    /* sparse, strided, 144-float rows */
    test_conv_keep(8, 9, 9, 6, 5, 1, 2, 0.0f);      /* all-zero gradient */
    test_pool(2, 2);
    test_pool(3, 2);
    test_pool_ties(28, 28, 2, 2);
    test_pool_ties(7, 7, 2, 2);
    test_pool_ties(9, 41, 2, 2);
    test_pool_ties(6, 64, 2, 2);
    test_pool_ties(7, 9, 3, 2);
    test_elementwise(0, "relu dx");
    test_elementwise(1, "gelu dx");
    test_elementwise(2, "dropout dx");
    test_layernorm();
    test_softmax_ce();
    test_dropout_stats();
    test_elementwise(3, "gelu tanh dx");
    test_gelu_tanh_values();
    test_exp_fast();
    test_attention(2, 5, 8, 2);
    test_attention(1, 70, 12, 3);     /* more than two key tiles */
    test_embedding();
    test_matmul();
    test_softmax_ce_rows();
    return check_summary();
}
