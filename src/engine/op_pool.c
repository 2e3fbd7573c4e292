/* Max pooling over (k x k) windows with stride s, no padding. Ties go to the
 * first maximum in scan order (as in PyTorch). */
#include "engine/ops.h"

#include <string.h>

/* The common 2x2 window with stride 2, branch-free. */
static void maxpool_2x2(int64_t P, int h, int w, int ho, int wo, const float *x, float *y,
                        int32_t *argmax)
{
    #pragma omp parallel for schedule(static) if (P * ho * wo > 16384)
    for (int64_t p = 0; p < P; p++) {
        const float *xp = x + p * h * w;
        for (int oh = 0; oh < ho; oh++) {
            const float *r0 = xp + 2 * oh * w, *r1 = r0 + w;
            float *yr = y + (p * ho + oh) * wo;
            int32_t *ar = argmax + (p * ho + oh) * wo;
            for (int ow = 0; ow < wo; ow++) {
                float a = r0[2 * ow], b = r0[2 * ow + 1], c = r1[2 * ow], d = r1[2 * ow + 1];
                /* first maximum in scan order a, b, c, d; NaN wins (as in PyTorch) */
                int32_t off = 0;
                float m = a;
                int gt = (b > m) | (b != b); m = gt ? b : m; off = gt ? 1 : off;
                gt = (c > m) | (c != c);     m = gt ? c : m; off = gt ? w : off;
                gt = (d > m) | (d != d);     m = gt ? d : m; off = gt ? w + 1 : off;
                yr[ow] = m;
                ar[ow] = 2 * oh * w + 2 * ow + off;
            }
        }
    }
}

void gf_maxpool2d_forward(int64_t P, int h, int w, int k, int s, int ho, int wo,
                          const float *x, float *y, int32_t *argmax)
{
    if (k == 2 && s == 2) { maxpool_2x2(P, h, w, ho, wo, x, y, argmax); return; }
    #pragma omp parallel for schedule(static) if (P * ho * wo > 16384)
    for (int64_t p = 0; p < P; p++) {
        const float *xp = x + p * h * w;
        float *yp = y + p * ho * wo;
        int32_t *ap = argmax + p * ho * wo;
        for (int oh = 0; oh < ho; oh++)
            for (int ow = 0; ow < wo; ow++) {
                int best = oh * s * w + ow * s;
                float m = xp[best];
                for (int i = 0; i < k; i++)
                    for (int j = 0; j < k; j++) {
                        int off = (oh * s + i) * w + ow * s + j;
                        if (xp[off] > m || xp[off] != xp[off]) { m = xp[off]; best = off; }
                    }
                yp[oh * wo + ow] = m;
                ap[oh * wo + ow] = best;
            }
    }
}

void gf_maxpool2d_backward(int64_t P, int h, int w, int ho, int wo,
                           const float *dy, const int32_t *argmax, float *dx)
{
    #pragma omp parallel for schedule(static) if (P * h * w > 16384)
    for (int64_t p = 0; p < P; p++) {
        float *dxp = dx + p * h * w;
        memset(dxp, 0, sizeof(float) * h * w);
        for (int i = 0; i < ho * wo; i++) dxp[argmax[p * ho * wo + i]] += dy[p * ho * wo + i];
    }
}
