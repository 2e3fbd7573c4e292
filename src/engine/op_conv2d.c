/* 2-D convolution by im2col + GEMM, parallel over the samples of a batch:
 * each thread lowers its own samples into its own column buffer and calls a
 * single-threaded sgemm (OpenBLAS runs one thread inside a parallel region),
 * so the GEMMs need no synchronisation. Weight gradients are accumulated per
 * thread and summed in thread order: deterministic for a given thread count. */
#include "engine/ops.h"

#include <cblas.h>
#include <omp.h>
#include <string.h>
#include "engine/simd.h"

static size_t col_floats(const gf_conv_geom *g)      /* (cin*k*k, ho*wo) */
{
    return (size_t)g->cin * g->k * g->k * g->ho * g->wo;
}

static size_t grad_floats(const gf_conv_geom *g)     /* dw (cout, cin*k*k) + db (cout) */
{
    return (size_t)g->cout * g->cin * g->k * g->k + g->cout;
}

static size_t pad_floats(const gf_conv_geom *g)      /* (cin, h + 2 pad, w + 2 pad) */
{
    return (size_t)g->cin * (g->h + 2 * g->pad) * (g->w + 2 * g->pad);
}

/* Per thread: column buffer, then weight-gradient accumulator, then a
 * zero-bordered copy of one sample (so the lowering loops need no bounds). */
static size_t thread_floats(const gf_conv_geom *g)
{
    return col_floats(g) + grad_floats(g) + pad_floats(g);
}

size_t gf_conv2d_workspace(const gf_conv_geom *g, int threads)
{
    return thread_floats(g) * (size_t)threads;
}

/* Copies x (cin, h, w) into the interior of xp (cin, hp, wp), whose border
 * the caller zeroed once. */
static void pad_copy(const gf_conv_geom *g, const float *x, float *xp)
{
    const int H = g->h, W = g->w, P = g->pad, Hp = H + 2 * P, Wp = W + 2 * P;
    for (int c = 0; c < g->cin; c++)
        for (int i = 0; i < H; i++) {
            const float *restrict src = x + ((size_t)c * H + i) * W;
            float *restrict dst = xp + ((size_t)c * Hp + i + P) * Wp + P;
            gf_row_copy(dst, src, W);
        }
}

/* xp (cin, hp, wp) -> col (cin*k*k, ho*wo): row (c, kh, kw) holds the input
 * pixels under kernel tap (kh, kw) for every output pixel. */
static void im2col(const gf_conv_geom *g, const float *xp, float *col)
{
    const int K = g->k, S = g->stride, Ho = g->ho, Wo = g->wo;
    const int Hp = g->h + 2 * g->pad, Wp = g->w + 2 * g->pad;
    for (int c = 0; c < g->cin; c++)
        for (int kh = 0; kh < K; kh++)
            for (int kw = 0; kw < K; kw++) {
                float *row = col + ((size_t)(c * K + kh) * K + kw) * Ho * Wo;
                const float *src = xp + ((size_t)c * Hp + kh) * Wp + kw;
                for (int oh = 0; oh < Ho; oh++) {
                    float *restrict r = row + (size_t)oh * Wo;
                    const float *restrict s = src + (size_t)oh * S * Wp;
                    if (S == 1) gf_row_copy(r, s, Wo);
                    else for (int ow = 0; ow < Wo; ow++) r[ow] = s[ow * S];
                }
            }
}

/* dxp (cin, hp, wp) = sum of col (cin*k*k, ho*wo) entries over the pixels
 * they came from (the adjoint of im2col), then its interior -> dx (cin, h, w). */
static void col2im(const gf_conv_geom *g, const float *col, float *dxp, float *dx)
{
    const int K = g->k, S = g->stride, Ho = g->ho, Wo = g->wo, H = g->h, W = g->w, P = g->pad;
    const int Hp = H + 2 * P, Wp = W + 2 * P;
    memset(dxp, 0, sizeof(float) * g->cin * Hp * Wp);
    for (int c = 0; c < g->cin; c++)
        for (int kh = 0; kh < K; kh++)
            for (int kw = 0; kw < K; kw++) {
                const float *row = col + ((size_t)(c * K + kh) * K + kw) * Ho * Wo;
                float *dst = dxp + ((size_t)c * Hp + kh) * Wp + kw;
                for (int oh = 0; oh < Ho; oh++) {
                    const float *restrict r = row + (size_t)oh * Wo;
                    float *restrict d = dst + (size_t)oh * S * Wp;
                    if (S == 1) gf_row_add(d, r, Wo);
                    else for (int ow = 0; ow < Wo; ow++) d[ow * S] += r[ow];
                }
            }
    if (dxp == dx) return;
    for (int c = 0; c < g->cin; c++)
        for (int i = 0; i < H; i++) {
            const float *restrict src = dxp + ((size_t)c * Hp + i + P) * Wp + P;
            float *restrict dst = dx + ((size_t)c * H + i) * W;
            gf_row_copy(dst, src, W);
        }
}

/* Sum of n floats in a fixed order that vectorises: 16 interleaved partial
 * sums, then those in index order. */
static float sum_fixed_order(const float *x, int n)
{
    float part[16] = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) part[j] += x[i + j];
    for (int j = 0; i < n; i++, j++) part[j] += x[i];
    float s = 0.0f;
    for (int j = 0; j < 16; j++) s += part[j];
    return s;
}

void gf_conv2d_forward(const gf_conv_geom *g, int B, int threads, const float *x,
                       const float *w, const float *b, float *y, float *ws,
                       gf_sample_hook after, void *ctx)
{
    const int ckk = g->cin * g->k * g->k, hw = g->ho * g->wo;
    const size_t xs = (size_t)g->cin * g->h * g->w, ys = (size_t)g->cout * hw;
    #pragma omp parallel num_threads(threads)
    {
        float *col = ws + thread_floats(g) * omp_get_thread_num();
        float *xp = col + col_floats(g) + grad_floats(g);
        if (g->pad) memset(xp, 0, sizeof(float) * pad_floats(g));
        #pragma omp for schedule(static)
        for (int n = 0; n < B; n++) {
            float *yn = y + ys * n;
            const float *xn = x + xs * n;
            if (g->pad) pad_copy(g, xn, xp);
            im2col(g, g->pad ? xp : xn, col);
            for (int c = 0; c < g->cout; c++)
                for (int i = 0; i < hw; i++) yn[(size_t)c * hw + i] = b[c];
            /* y_n (cout, hw) += w (cout, ckk) col (ckk, hw) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->cout, hw, ckk,
                        1.0f, w, ckk, col, hw, 1.0f, yn, hw);
            if (after) after(ctx, n);
        }
    }
}

/* The weight-gradient GEMM is posed as dw^T (ckk, cout): OpenBLAS runs that
 * shape about 25% faster here than (cout, ckk); the final reduction
 * transposes it back for free. */
void gf_conv2d_backward(const gf_conv_geom *g, int B, int threads, const float *x,
                        const float *w, const float *dy, float *dw, float *db,
                        float *dx, float *ws, gf_sample_hook before, void *ctx)
{
    const int ckk = g->cin * g->k * g->k, hw = g->ho * g->wo, cout = g->cout;
    const size_t xs = (size_t)g->cin * g->h * g->w, ys = (size_t)cout * hw;
    const size_t ncol = col_floats(g), ngrad = grad_floats(g), per_thread = thread_floats(g);
    const size_t nw = (size_t)cout * ckk;
    #pragma omp parallel num_threads(threads)
    {
        const int t = omp_get_thread_num(), nt = omp_get_num_threads();
        float *col = ws + per_thread * t;
        float *acc = col + ncol;                      /* dw^T (ckk, cout), then db (cout) */
        float *xp = acc + ngrad;                      /* padded sample, then padded dx */
        memset(acc, 0, sizeof(float) * ngrad);
        const int n0 = (int)((long)B * t / nt), n1 = (int)((long)B * (t + 1) / nt);
        for (int n = n0; n < n1; n++) {
            const float *dyn = dy + ys * n, *xn = x + xs * n;
            if (before) before(ctx, n);
            if (g->pad) {
                memset(xp, 0, sizeof(float) * pad_floats(g));
                pad_copy(g, xn, xp);
            }
            im2col(g, g->pad ? xp : xn, col);
            /* dw^T (ckk, cout) += col (ckk, hw) dy_n^T (hw, cout) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, ckk, cout, hw,
                        1.0f, col, hw, dyn, hw, 1.0f, acc, cout);
            for (int c = 0; c < cout; c++) acc[nw + c] += sum_fixed_order(dyn + (size_t)c * hw, hw);
            if (dx) {
                /* col (ckk, hw) = w^T (ckk, cout) dy_n (cout, hw) */
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ckk, hw, cout,
                            1.0f, w, ckk, dyn, hw, 0.0f, col, hw);
                col2im(g, col, g->pad ? xp : dx + xs * n, dx + xs * n);
            }
        }
        #pragma omp barrier
        /* sum the threads' accumulators in thread order; dw back to (cout, ckk) */
        #pragma omp for schedule(static)
        for (size_t i = 0; i < ngrad; i++) {
            size_t src = i < nw ? (i % ckk) * cout + i / ckk : i;
            float s = 0.0f;
            for (int u = 0; u < nt; u++) s += ws[per_thread * u + ncol + src];
            if (i < nw) dw[i] = s; else db[i - nw] = s;
        }
    }
}
