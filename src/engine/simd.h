/* Short-row helpers for the lowering loops (im2col, col2im, pooling), whose
 * rows are often shorter than one vector (14 floats for a 14x14 map), so the
 * compiler's vector loops never start. With AVX-512 a row of up to 16 is one
 * masked load and store; elsewhere they are plain loops. Same arithmetic,
 * same bits, either way. */
#ifndef GF_ENGINE_SIMD_H
#define GF_ENGINE_SIMD_H

#ifdef __AVX512F__
#include <immintrin.h>
#endif

/* dst[0..n) = src[0..n) */
static inline void gf_row_copy(float *restrict dst, const float *restrict src, int n)
{
#ifdef __AVX512F__
    int i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, _mm512_loadu_ps(src + i));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(dst + i, m, _mm512_maskz_loadu_ps(m, src + i));
    }
#else
    for (int i = 0; i < n; i++) dst[i] = src[i];
#endif
}

/* dst[0..n) += src[0..n) */
static inline void gf_row_add(float *restrict dst, const float *restrict src, int n)
{
#ifdef __AVX512F__
    int i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(dst + i, _mm512_add_ps(_mm512_loadu_ps(dst + i), _mm512_loadu_ps(src + i)));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(dst + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, dst + i),
                                                        _mm512_maskz_loadu_ps(m, src + i)));
    }
#else
    for (int i = 0; i < n; i++) dst[i] += src[i];
#endif
}

#endif
