/* 2-D convolution by im2col + GEMM, parallel over the samples of a batch:
 * each thread lowers its own samples into its own column buffer and calls a
 * single-threaded sgemm (OpenMP OpenBLAS runs one thread inside a parallel region),
 * so the GEMMs need no synchronisation. Weight gradients are accumulated per
 * thread and summed in thread order: deterministic for a given thread count.
 * The backward pass of a sample whose output gradient is mostly zeros (as
 * behind ReLU + max-pool) combines rows for the nonzeros only instead of
 * running the dense GEMMs; which path a sample takes depends only on its
 * data, so reruns still give the same bits. */
#include "engine/ops.h"

#include <omp.h>
#include <string.h>
#include "engine/blas_select.h"
#include "engine/simd.h"

static size_t col_floats(const gf_conv_geom *g)      /* (cin*k*k, ho*wo) */
{
    return (size_t)g->cin * g->k * g->k * g->ho * g->wo;
}

/* dw^T (cin*k*k, cout) from dense samples, db (cout), dw (cout, cin*k*k)
 * from sparse samples (see the backward pass) */
static size_t grad_floats(const gf_conv_geom *g)
{
    return 2 * (size_t)g->cout * g->cin * g->k * g->k + g->cout;
}

static size_t pad_floats(const gf_conv_geom *g)      /* (cin, h + 2 pad, w + 2 pad) */
{
    return (size_t)g->cin * (g->h + 2 * g->pad) * (g->w + 2 * g->pad);
}

/* nonzeros of one sample's output gradient, listed by channel and again by
 * pixel: values (2 cout*ho*wo), indices (as many int32), list starts
 * (cout + 1 + ho*wo + 1 int32) */
static size_t list_floats(const gf_conv_geom *g)
{
    size_t hw = (size_t)g->ho * g->wo;
    return 4 * (size_t)g->cout * hw + g->cout + hw + 2;
}

/* Per thread: column buffer, weight-gradient accumulators, a zero-bordered
 * copy of one sample (so the lowering loops need no bounds), nonzero lists. */
static size_t thread_floats(const gf_conv_geom *g)
{
    return col_floats(g) + grad_floats(g) + pad_floats(g) + list_floats(g);
}

size_t gf_conv2d_workspace(const gf_conv_geom *g, int threads)
{
    return thread_floats(g) * (size_t)threads;
}

double gf_conv2d_workspace_floats(const gf_conv_geom *g, int threads)
{
    /* thread_floats' four terms, in double */
    double kk = (double)g->k * g->k, hw = (double)g->ho * g->wo;
    double col = (double)g->cin * kk * hw, grad = 2.0 * g->cout * g->cin * kk + g->cout;
    double pad = (double)g->cin * (g->h + 2.0 * g->pad) * (g->w + 2.0 * g->pad);
    double list = 4.0 * g->cout * hw + g->cout + hw + 2;
    return (col + grad + pad + list) * threads;
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
            gf_blas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->cout, hw, ckk,
                        1.0f, w, ckk, col, hw, 1.0f, yn, hw);
            if (after) after(ctx, n);
        }
    }
}

/* xp (cin, hp, wp) -> rows (ho*wo, cin*k*k): row p holds the inputs under
 * the kernel at output pixel p (the transpose of im2col's layout). Each
 * kernel row is k contiguous input floats, whatever the stride. */
static void im2row(const gf_conv_geom *g, const float *xp, float *rows)
{
    const int K = g->k, S = g->stride, Wo = g->wo, ckk = g->cin * K * K;
    const int Hp = g->h + 2 * g->pad, Wp = g->w + 2 * g->pad;
    for (int oh = 0; oh < g->ho; oh++)
        for (int ow = 0; ow < Wo; ow++) {
            float *r = rows + (size_t)(oh * Wo + ow) * ckk;
            for (int c = 0; c < g->cin; c++)
                for (int kh = 0; kh < K; kh++)
                    gf_row_copy(r + (c * K + kh) * K, xp + ((size_t)c * Hp + oh * S + kh) * Wp + ow * S, K);
        }
}

/* The adjoint of im2row: dxp (cin, hp, wp) = sum of rows (ho*wo, cin*k*k)
 * over the pixels they came from; then its interior -> dx (cin, h, w). */
static void row2im(const gf_conv_geom *g, const float *rows, float *dxp, float *dx)
{
    const int K = g->k, S = g->stride, Wo = g->wo, ckk = g->cin * K * K, P = g->pad;
    const int H = g->h, W = g->w, Hp = H + 2 * P, Wp = W + 2 * P;
    memset(dxp, 0, sizeof(float) * g->cin * Hp * Wp);
    for (int oh = 0; oh < g->ho; oh++)
        for (int ow = 0; ow < Wo; ow++) {
            const float *r = rows + (size_t)(oh * Wo + ow) * ckk;
            for (int c = 0; c < g->cin; c++)
                for (int kh = 0; kh < K; kh++)
                    gf_row_add(dxp + ((size_t)c * Hp + oh * S + kh) * Wp + ow * S, r + (c * K + kh) * K, K);
        }
    if (dxp == dx) return;
    for (int c = 0; c < g->cin; c++)
        for (int i = 0; i < H; i++)
            gf_row_copy(dx + ((size_t)c * H + i) * W, dxp + ((size_t)c * Hp + i + P) * Wp + P, W);
}

/* A sample's output gradient behind ReLU + max-pool is mostly zeros (a 2x2
 * pool passes at most one in four; about 15% are nonzero in the CNN). Below
 * SPARSE_DENSITY the backward pass combines rows for the nonzeros only,
 * instead of dense GEMMs over all, when rows are long enough (SPARSE_MIN_CKK
 * floats) for that to beat the GEMM (measured: conv 32->64 5x5 gains, the
 * 1->32 first layer with 25-float rows loses). */
#define SPARSE_DENSITY 0.25
#define SPARSE_MIN_CKK 128

/* dense sample: dw^T += col dy_n^T; dx_n from w^T dy_n through col2im */
static void backward_dense(const gf_conv_geom *g, const float *xpad, const float *w,
                           const float *dyn, float *accT, float *col, float *dxp, float *dxn)
{
    const int ckk = g->cin * g->k * g->k, hw = g->ho * g->wo, cout = g->cout;
    im2col(g, xpad, col);
    /* dw^T (ckk, cout) += col (ckk, hw) dy_n^T (hw, cout): OpenBLAS runs this
     * shape about 25% faster here than dw (cout, ckk) += dy_n col^T */
    gf_blas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, ckk, cout, hw,
                1.0f, col, hw, dyn, hw, 1.0f, accT, cout);
    if (!dxn) return;
    /* col (ckk, hw) = w^T (ckk, cout) dy_n (cout, hw) */
    gf_blas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ckk, hw, cout,
                1.0f, w, ckk, dyn, hw, 0.0f, col, hw);
    col2im(g, col, dxp, dxn);
}

/* sparse sample: dw[c] += sum over nonzero dy_n[c][p] of dy * rows[p];
 * drows[p] = sum over nonzero dy_n[c][p] of dy * w[c]; dx_n from drows
 * through row2im. Both loop over 64-float column blocks outermost, so the
 * block of rows (or of w) being combined stays in L1 across all lists.
 * `list` holds nonzero values, their indices and list starts. */
static void backward_sparse(const gf_conv_geom *g, const float *xpad, const float *w,
                            const float *dyn, float *accS, float *rows, float *list,
                            float *dxp, float *dxn)
{
    const int ckk = g->cin * g->k * g->k, hw = g->ho * g->wo, cout = g->cout;
    float *val = list;                                 /* (2 cout hw): channel lists, pixel lists */
    int32_t *idx = (int32_t *)(list + 2 * (size_t)cout * hw);  /* as many */
    int32_t *start = idx + 2 * (size_t)cout * hw;      /* (cout + 1) + (hw + 1) */
    im2row(g, xpad, rows);
    /* per channel: its nonzero pixels, in pixel order */
    start[0] = 0;
    for (int c = 0; c < cout; c++)
        start[c + 1] = start[c] + gf_nonzeros(dyn + (size_t)c * hw, hw, 0, val + start[c], idx + start[c]);
    for (int j = 0; j < ckk; j += 128) {
        int len = ckk - j < 128 ? ckk - j : 128;
        for (int c = 0; c < cout; c++)
            if (start[c + 1] > start[c])
                gf_sparse_combine(len, start[c + 1] - start[c], val + start[c], idx + start[c],
                                  rows + j, ckk, accS + (size_t)c * ckk + j, 1);
    }
    if (!dxn) return;
    /* per pixel: its nonzero channels, in channel order: a counting sort of
     * the per-channel lists (already in channel order) by pixel */
    const int32_t total = start[cout];
    float *pval = val + total;                         /* second half of the list space */
    int32_t *pidx = idx + total, *pstart = start + cout + 1;   /* (hw + 1) */
    for (int p = 0; p <= hw; p++) pstart[p] = 0;
    for (int32_t e = 0; e < total; e++) pstart[idx[e] + 1]++;
    for (int p = 0; p < hw; p++) pstart[p + 1] += pstart[p];
    for (int c = 0; c < cout; c++)
        for (int32_t e = start[c]; e < start[c + 1]; e++) {
            int32_t at = pstart[idx[e]]++;
            pval[at] = val[e];
            pidx[at] = c;
        }
    for (int p = hw; p > 0; p--) pstart[p] = pstart[p - 1];  /* undo the fill's advance */
    pstart[0] = 0;
    for (int j = 0; j < ckk; j += 128) {
        int len = ckk - j < 128 ? ckk - j : 128;
        for (int p = 0; p < hw; p++)
            gf_sparse_combine(len, pstart[p + 1] - pstart[p], pval + pstart[p], pidx + pstart[p],
                              w + j, ckk, rows + (size_t)p * ckk + j, 0);
    }
    row2im(g, rows, dxp, dxn);
}

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
        float *accT = col + ncol;                     /* dw^T (ckk, cout) */
        float *accB = accT + nw;                      /* db (cout) */
        float *accS = accB + cout;                    /* dw (cout, ckk) */
        float *xp = accT + ngrad;                     /* padded sample, then padded dx */
        float *list = xp + pad_floats(g);             /* nonzeros of dy_n */
        memset(accT, 0, sizeof(float) * ngrad);
        const int n0 = (int)((long)B * t / nt), n1 = (int)((long)B * (t + 1) / nt);
        for (int n = n0; n < n1; n++) {
            const float *dyn = dy + ys * n, *xn = x + xs * n;
            float *dxn = dx ? dx + xs * n : NULL;
            if (before) before(ctx, n);
            if (g->pad) {
                memset(xp, 0, sizeof(float) * pad_floats(g));
                pad_copy(g, xn, xp);
            }
            int nonzero = 0;
            for (size_t i = 0; i < ys; i++) nonzero += dyn[i] != 0.0f;
            for (int c = 0; c < cout; c++) accB[c] += sum_fixed_order(dyn + (size_t)c * hw, hw);
            if (ckk >= SPARSE_MIN_CKK && nonzero < SPARSE_DENSITY * (double)ys)
                backward_sparse(g, g->pad ? xp : xn, w, dyn, accS, col, list, g->pad ? xp : dxn, dxn);
            else
                backward_dense(g, g->pad ? xp : xn, w, dyn, accT, col, g->pad ? xp : dxn, dxn);
        }
        #pragma omp barrier
        /* sum the threads' accumulators in thread order: dense part (transposed
         * back to (cout, ckk)) plus sparse part, and the bias; in blocks of
         * 16 rows that stay in cache, without index divisions (B = 1 calls,
         * DP-SGD's, pay this once per sample) */
        #pragma omp for schedule(static)
        for (int c0 = 0; c0 < cout; c0 += 16) {
            const int c1 = c0 + 16 < cout ? c0 + 16 : cout;
            for (int j = 0; j < ckk; j++)
                for (int c = c0; c < c1; c++) {
                    const size_t i = (size_t)c * ckk + j;
                    float s = 0.0f;
                    for (int u = 0; u < nt; u++) {
                        const float *a = ws + per_thread * u + ncol;
                        s += a[(size_t)j * cout + c] + a[nw + cout + i];
                    }
                    dw[i] = s;
                }
            for (int c = c0; c < c1; c++) {
                float s = 0.0f;
                for (int u = 0; u < nt; u++) s += (ws + per_thread * u + ncol)[nw + c];
                db[c] = s;
            }
        }
    }
}
