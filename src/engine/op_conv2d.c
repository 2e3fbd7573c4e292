/* 2-D convolution by im2col + GEMM, parallel over the samples of a batch:
 * each thread lowers its own samples into its own column buffer and calls a
 * single-threaded sgemm (OpenBLAS runs one thread inside a parallel region),
 * so the GEMMs need no synchronisation. Weight gradients are accumulated per
 * thread and summed in thread order: deterministic for a given thread count. */
#include "engine/ops.h"

#include <cblas.h>
#include <omp.h>
#include <string.h>

static size_t col_floats(const gf_conv_geom *g)      /* (cin*k*k, ho*wo) */
{
    return (size_t)g->cin * g->k * g->k * g->ho * g->wo;
}

static size_t grad_floats(const gf_conv_geom *g)     /* dw (cout, cin*k*k) + db (cout) */
{
    return (size_t)g->cout * g->cin * g->k * g->k + g->cout;
}

size_t gf_conv2d_workspace(const gf_conv_geom *g, int threads)
{
    return (col_floats(g) + grad_floats(g)) * (size_t)threads;
}

/* Columns [ow0, ow1) of an output row read inside the input for kernel column kw. */
static void valid_cols(const gf_conv_geom *g, int kw, int *ow0, int *ow1)
{
    int lo = g->pad - kw, hi = g->w - 1 + g->pad - kw;
    *ow0 = lo <= 0 ? 0 : (lo + g->stride - 1) / g->stride;
    *ow1 = hi < 0 ? 0 : hi / g->stride + 1;
    if (*ow1 > g->wo) *ow1 = g->wo;
    if (*ow1 < *ow0) *ow1 = *ow0;
}

/* x (cin, h, w) -> col (cin*k*k, ho*wo) */
static void im2col(const gf_conv_geom *g, const float *x, float *col)
{
    const int K = g->k, S = g->stride, P = g->pad, H = g->h, W = g->w, Ho = g->ho, Wo = g->wo;
    for (int c = 0; c < g->cin; c++) {
        const float *xc = x + (size_t)c * H * W;
        for (int kh = 0; kh < K; kh++)
            for (int kw = 0; kw < K; kw++) {
                float *row = col + ((size_t)(c * K + kh) * K + kw) * Ho * Wo;
                int ow0, ow1;
                valid_cols(g, kw, &ow0, &ow1);
                for (int oh = 0; oh < Ho; oh++) {
                    float *r = row + (size_t)oh * Wo;
                    int ih = oh * S - P + kh;
                    if (ih < 0 || ih >= H) { memset(r, 0, sizeof(float) * Wo); continue; }
                    const float *xr = xc + (size_t)ih * W - P + kw;
                    for (int ow = 0; ow < ow0; ow++) r[ow] = 0.0f;
                    if (S == 1) memcpy(r + ow0, xr + ow0, sizeof(float) * (ow1 - ow0));
                    else for (int ow = ow0; ow < ow1; ow++) r[ow] = xr[ow * S];
                    for (int ow = ow1; ow < Wo; ow++) r[ow] = 0.0f;
                }
            }
    }
}

/* dx (cin, h, w) = sum of col (cin*k*k, ho*wo) entries over the pixels they came from */
static void col2im(const gf_conv_geom *g, const float *col, float *dx)
{
    const int K = g->k, S = g->stride, P = g->pad, H = g->h, W = g->w, Ho = g->ho, Wo = g->wo;
    memset(dx, 0, sizeof(float) * g->cin * H * W);
    for (int c = 0; c < g->cin; c++) {
        float *dxc = dx + (size_t)c * H * W;
        for (int kh = 0; kh < K; kh++)
            for (int kw = 0; kw < K; kw++) {
                const float *row = col + ((size_t)(c * K + kh) * K + kw) * Ho * Wo;
                int ow0, ow1;
                valid_cols(g, kw, &ow0, &ow1);
                for (int oh = 0; oh < Ho; oh++) {
                    int ih = oh * S - P + kh;
                    if (ih < 0 || ih >= H) continue;
                    const float *r = row + (size_t)oh * Wo;
                    float *dr = dxc + (size_t)ih * W - P + kw;
                    if (S == 1) for (int ow = ow0; ow < ow1; ow++) dr[ow] += r[ow];
                    else for (int ow = ow0; ow < ow1; ow++) dr[ow * S] += r[ow];
                }
            }
    }
}

void gf_conv2d_forward(const gf_conv_geom *g, int B, int threads, const float *x,
                       const float *w, const float *b, float *y, float *ws)
{
    const int ckk = g->cin * g->k * g->k, hw = g->ho * g->wo;
    const size_t xs = (size_t)g->cin * g->h * g->w, ys = (size_t)g->cout * hw;
    const size_t per_thread = col_floats(g) + grad_floats(g);
    #pragma omp parallel num_threads(threads)
    {
        float *col = ws + per_thread * omp_get_thread_num();
        #pragma omp for schedule(static)
        for (int n = 0; n < B; n++) {
            float *yn = y + ys * n;
            im2col(g, x + xs * n, col);
            for (int c = 0; c < g->cout; c++)
                for (int i = 0; i < hw; i++) yn[(size_t)c * hw + i] = b[c];
            /* y_n (cout, hw) += w (cout, ckk) col (ckk, hw) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->cout, hw, ckk,
                        1.0f, w, ckk, col, hw, 1.0f, yn, hw);
        }
    }
}

void gf_conv2d_backward(const gf_conv_geom *g, int B, int threads, const float *x,
                        const float *w, const float *dy, float *dw, float *db,
                        float *dx, float *ws)
{
    const int ckk = g->cin * g->k * g->k, hw = g->ho * g->wo;
    const size_t xs = (size_t)g->cin * g->h * g->w, ys = (size_t)g->cout * hw;
    const size_t ncol = col_floats(g), ngrad = grad_floats(g), per_thread = ncol + ngrad;
    const size_t nw = (size_t)g->cout * ckk;
    #pragma omp parallel num_threads(threads)
    {
        const int t = omp_get_thread_num(), nt = omp_get_num_threads();
        float *col = ws + per_thread * t;
        float *acc = col + ncol;                      /* dw (cout, ckk), then db (cout) */
        memset(acc, 0, sizeof(float) * ngrad);
        const int n0 = (int)((long)B * t / nt), n1 = (int)((long)B * (t + 1) / nt);
        for (int n = n0; n < n1; n++) {
            const float *dyn = dy + ys * n;
            im2col(g, x + xs * n, col);
            /* dw += dy_n (cout, hw) col^T (hw, ckk) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g->cout, ckk, hw,
                        1.0f, dyn, hw, col, hw, 1.0f, acc, ckk);
            for (int c = 0; c < g->cout; c++) {
                float s = 0.0f;
                for (int i = 0; i < hw; i++) s += dyn[(size_t)c * hw + i];
                acc[nw + c] += s;
            }
            if (dx) {
                /* col (ckk, hw) = w^T (ckk, cout) dy_n (cout, hw) */
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ckk, hw, g->cout,
                            1.0f, w, ckk, dyn, hw, 0.0f, col, hw);
                col2im(g, col, dx + xs * n);
            }
        }
        #pragma omp barrier
        #pragma omp for schedule(static)
        for (size_t i = 0; i < ngrad; i++) {
            float s = 0.0f;
            for (int u = 0; u < nt; u++) s += ws[per_thread * u + ncol + i];
            if (i < nw) dw[i] = s; else db[i - nw] = s;
        }
    }
}
