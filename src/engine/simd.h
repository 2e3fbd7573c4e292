/* Short-row helpers for the lowering loops (im2col, col2im, pooling), whose
 * rows are often shorter than one vector (14 floats for a 14x14 map), so the
 * compiler's vector loops never start. With AVX-512 a row of up to 16 is one
 * masked load and store; elsewhere they are plain loops. Same arithmetic,
 * same bits, either way. */
#ifndef GF_ENGINE_SIMD_H
#define GF_ENGINE_SIMD_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
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

/* Nonzeros of d[0..n): values to val, positions (plus `base`) to idx, in
 * order; returns their count. Branch-free (compress stores with AVX-512):
 * gradients behind ReLU are zero at random, which branches mispredict. */
static inline int gf_nonzeros(const float *d, int n, int32_t base, float *val, int32_t *idx)
{
    int m = 0, i = 0;
#ifdef __AVX512F__
    const __m512i step = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(d + i);
        __mmask16 k = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_NEQ_UQ);
        _mm512_mask_compressstoreu_ps(val + m, k, v);
        _mm512_mask_compressstoreu_epi32(idx + m, k, _mm512_add_epi32(_mm512_set1_epi32(base + i), step));
        m += __builtin_popcount(k);
    }
#endif
    for (; i < n; i++) {
        val[m] = d[i];
        idx[m] = base + i;
        m += d[i] != 0.0f;
    }
    return m;
}

/* out[0..n) = (accumulate ? out : 0) + sum over e < m of val[e] * (base + idx[e] * stride)[0..n),
 * terms added in e order (fused multiply-adds). The accumulators stay in
 * registers across the whole list, so it runs at load speed, not store speed. */
static inline void gf_sparse_combine(int n, int m, const float *val, const int32_t *idx,
                                     const float *base, size_t stride, float *out, int accumulate)
{
#ifdef __AVX512F__
    int j = 0;
    for (; j + 128 <= n; j += 128) {                  /* 8 accumulator chains */
        __m512 a[8];
        for (int u = 0; u < 8; u++) a[u] = accumulate ? _mm512_loadu_ps(out + j + 16 * u) : _mm512_setzero_ps();
        for (int e = 0; e < m; e++) {
            const float *src = base + (size_t)idx[e] * stride + j;
            __m512 v = _mm512_set1_ps(val[e]);
            for (int u = 0; u < 8; u++) a[u] = _mm512_fmadd_ps(v, _mm512_loadu_ps(src + 16 * u), a[u]);
        }
        for (int u = 0; u < 8; u++) _mm512_storeu_ps(out + j + 16 * u, a[u]);
    }
    for (; j + 64 <= n; j += 64) {
        __m512 a0, a1, a2, a3;
        if (accumulate) {
            a0 = _mm512_loadu_ps(out + j);      a1 = _mm512_loadu_ps(out + j + 16);
            a2 = _mm512_loadu_ps(out + j + 32); a3 = _mm512_loadu_ps(out + j + 48);
        } else {
            a0 = a1 = a2 = a3 = _mm512_setzero_ps();
        }
        for (int e = 0; e < m; e++) {
            const float *src = base + (size_t)idx[e] * stride + j;
            __m512 v = _mm512_set1_ps(val[e]);
            a0 = _mm512_fmadd_ps(v, _mm512_loadu_ps(src), a0);
            a1 = _mm512_fmadd_ps(v, _mm512_loadu_ps(src + 16), a1);
            a2 = _mm512_fmadd_ps(v, _mm512_loadu_ps(src + 32), a2);
            a3 = _mm512_fmadd_ps(v, _mm512_loadu_ps(src + 48), a3);
        }
        _mm512_storeu_ps(out + j, a0);      _mm512_storeu_ps(out + j + 16, a1);
        _mm512_storeu_ps(out + j + 32, a2); _mm512_storeu_ps(out + j + 48, a3);
    }
    for (; j < n; j += 16) {
        __mmask16 k = (__mmask16)(n - j >= 16 ? 0xFFFF : (1u << (n - j)) - 1);
        __m512 a = accumulate ? _mm512_maskz_loadu_ps(k, out + j) : _mm512_setzero_ps();
        for (int e = 0; e < m; e++)
            a = _mm512_fmadd_ps(_mm512_set1_ps(val[e]),
                                _mm512_maskz_loadu_ps(k, base + (size_t)idx[e] * stride + j), a);
        _mm512_mask_storeu_ps(out + j, k, a);
    }
#else
    for (int j = 0; j < n; j++) {
        float a = accumulate ? out[j] : 0.0f;
        for (int e = 0; e < m; e++) a = fmaf(val[e], base[(size_t)idx[e] * stride + j], a);
        out[j] = a;
    }
#endif
}

#endif
