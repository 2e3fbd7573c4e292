/* Max pooling over (k x k) windows with stride s, no padding. Ties go to the
 * first maximum in scan order (as in PyTorch). */
#include "engine/ops.h"

#include <string.h>
#include "engine/simd.h"

#ifdef __AVX512F__
/* One output row of the 2x2/2 pool, 16 outputs per step: vertical maxima of
 * the row pair, then even/odd lanes split apart for the horizontal maxima.
 * Ties resolve as the scalar scan (a, b, c, d) does: the right column wins
 * a tie only when the left maximum came from the lower row and the right
 * one from the upper row. */
static void maxpool_2x2_row(const float *r0, const float *r1, int w, int wo, int32_t base,
                            float *yr, int32_t *ar)
{
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    const __m512i lane2 = _mm512_slli_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
                                                              12, 13, 14, 15), 1);
    const __m512i wv = _mm512_set1_epi32(w), zero = _mm512_setzero_si512();
    for (int ow = 0; ow < wo; ow += 16) {
        int n = wo - ow < 16 ? wo - ow : 16, nin = 2 * n;
        __mmask16 mlo = (__mmask16)(nin >= 16 ? 0xFFFF : (1u << nin) - 1);
        __mmask16 mhi = (__mmask16)(nin <= 16 ? 0 : (1u << (nin - 16)) - 1);
        __mmask16 mout = (__mmask16)(n == 16 ? 0xFFFF : (1u << n) - 1);
        const float *p0 = r0 + 2 * ow, *p1 = r1 + 2 * ow;
        __m512 a0 = _mm512_maskz_loadu_ps(mlo, p0), a1 = _mm512_maskz_loadu_ps(mhi, p0 + 16);
        __m512 b0 = _mm512_maskz_loadu_ps(mlo, p1), b1 = _mm512_maskz_loadu_ps(mhi, p1 + 16);
        __mmask16 s0 = _mm512_cmp_ps_mask(b0, a0, _CMP_GT_OQ) | _mm512_cmp_ps_mask(b0, b0, _CMP_UNORD_Q);
        __mmask16 s1 = _mm512_cmp_ps_mask(b1, a1, _CMP_GT_OQ) | _mm512_cmp_ps_mask(b1, b1, _CMP_UNORD_Q);
        __m512 v0 = _mm512_mask_blend_ps(s0, a0, b0), v1 = _mm512_mask_blend_ps(s1, a1, b1);
        __m512i o0 = _mm512_mask_blend_epi32(s0, zero, wv), o1 = _mm512_mask_blend_epi32(s1, zero, wv);
        __m512 left = _mm512_permutex2var_ps(v0, even, v1), right = _mm512_permutex2var_ps(v0, odd, v1);
        __m512i lo = _mm512_permutex2var_epi32(o0, even, o1), ro = _mm512_permutex2var_epi32(o0, odd, o1);
        __mmask16 lbot = _mm512_cmpeq_epi32_mask(lo, wv), rbot = _mm512_cmpeq_epi32_mask(ro, wv);
        __mmask16 r = _mm512_cmp_ps_mask(right, left, _CMP_GT_OQ) |
                      _mm512_cmp_ps_mask(right, right, _CMP_UNORD_Q) |
                      (_mm512_cmp_ps_mask(right, left, _CMP_EQ_OQ) & lbot & (__mmask16)~rbot);
        _mm512_mask_storeu_ps(yr + ow, mout, _mm512_mask_blend_ps(r, left, right));
        __m512i off = _mm512_mask_blend_epi32(r, lo, _mm512_add_epi32(ro, _mm512_set1_epi32(1)));
        __m512i idx = _mm512_add_epi32(_mm512_add_epi32(_mm512_set1_epi32(base + 2 * ow), lane2), off);
        _mm512_mask_storeu_epi32(ar + ow, mout, idx);
    }
}
#endif

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
#ifdef __AVX512F__
            maxpool_2x2_row(r0, r1, w, wo, 2 * oh * w, yr, ar);
#else
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
#endif
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

#ifdef __AVX512F__
/* Backward of one output row of the 2x2/2 pool: writes both input rows
 * whole (the gradient where the window's winner was, zero elsewhere), so no
 * separate zeroing pass is needed. */
static void maxpool_2x2_row_backward(const float *dyr, const int32_t *ar, int w, int wo,
                                     int32_t base, float *d0, float *d1)
{
    const __m512i lo_idx = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi_idx = _mm512_add_epi32(lo_idx, _mm512_set1_epi32(8));
    const __m512i lane2 = _mm512_slli_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
                                                              12, 13, 14, 15), 1);
    const __m512 zero = _mm512_setzero_ps();
    for (int ow = 0; ow < wo; ow += 16) {
        int n = wo - ow < 16 ? wo - ow : 16, nin = 2 * n;
        __mmask16 mout = (__mmask16)(n == 16 ? 0xFFFF : (1u << n) - 1);
        __mmask16 mlo = (__mmask16)(nin >= 16 ? 0xFFFF : (1u << nin) - 1);
        __mmask16 mhi = (__mmask16)(nin <= 16 ? 0 : (1u << (nin - 16)) - 1);
        __m512 g = _mm512_maskz_loadu_ps(mout, dyr + ow);
        __m512i off = _mm512_sub_epi32(_mm512_maskz_loadu_epi32(mout, ar + ow),
                                       _mm512_add_epi32(_mm512_set1_epi32(base + 2 * ow), lane2));
        __m512 a = _mm512_mask_blend_ps(_mm512_cmpeq_epi32_mask(off, _mm512_set1_epi32(0)), zero, g);
        __m512 b = _mm512_mask_blend_ps(_mm512_cmpeq_epi32_mask(off, _mm512_set1_epi32(1)), zero, g);
        __m512 c = _mm512_mask_blend_ps(_mm512_cmpeq_epi32_mask(off, _mm512_set1_epi32(w)), zero, g);
        __m512 d = _mm512_mask_blend_ps(_mm512_cmpeq_epi32_mask(off, _mm512_set1_epi32(w + 1)), zero, g);
        _mm512_mask_storeu_ps(d0 + 2 * ow, mlo, _mm512_permutex2var_ps(a, lo_idx, b));
        _mm512_mask_storeu_ps(d0 + 2 * ow + 16, mhi, _mm512_permutex2var_ps(a, hi_idx, b));
        _mm512_mask_storeu_ps(d1 + 2 * ow, mlo, _mm512_permutex2var_ps(c, lo_idx, d));
        _mm512_mask_storeu_ps(d1 + 2 * ow + 16, mhi, _mm512_permutex2var_ps(c, hi_idx, d));
    }
}
#endif

void gf_maxpool2d_backward(int64_t P, int h, int w, int k, int s, int ho, int wo,
                           const float *dy, const int32_t *argmax, float *dx)
{
#ifdef __AVX512F__
    if (k == 2 && s == 2) {
        #pragma omp parallel for schedule(static) if (P * h * w > 16384)
        for (int64_t p = 0; p < P; p++) {
            float *dxp = dx + p * h * w;
            for (int oh = 0; oh < ho; oh++) {
                float *d0 = dxp + 2 * oh * w;
                maxpool_2x2_row_backward(dy + (p * ho + oh) * wo, argmax + (p * ho + oh) * wo,
                                         w, wo, 2 * oh * w, d0, d0 + w);
                for (int j = 2 * wo; j < w; j++) d0[j] = d0[w + j] = 0.0f;   /* odd width */
            }
            for (int r = 2 * ho; r < h; r++) memset(dxp + (size_t)r * w, 0, sizeof(float) * w);
        }
        return;
    }
#endif
    #pragma omp parallel for schedule(static) if (P * h * w > 16384)
    for (int64_t p = 0; p < P; p++) {
        float *dxp = dx + p * h * w;
        memset(dxp, 0, sizeof(float) * h * w);
        for (int i = 0; i < ho * wo; i++) dxp[argmax[p * ho * wo + i]] += dy[p * ho * wo + i];
    }
}
