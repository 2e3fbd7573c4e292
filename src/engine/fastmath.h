/* A float exp that the compiler vectorises: libm's expf and tanhf are
 * calls, one element at a time, and in a GPT's GELU and attention they cost
 * more than the GEMMs. Cephes' expf (range reduction by ln 2 in two parts,
 * a degree-6 polynomial, the power of two built in the exponent bits):
 * branch-free, so a loop of it becomes AVX-512/AVX2 code; within 2 ulp of
 * expf over [-87.3, 88.3], inputs outside clamped to those ends (exp(-87.3)
 * is 1.2e-38, not 0). Plain C, the same bits on every build that makes the
 * same rounding (FMA contraction may differ between -march builds). A NaN
 * input gives NaN. */
#ifndef GF_ENGINE_FASTMATH_H
#define GF_ENGINE_FASTMATH_H

#include <stdint.h>
#include <string.h>

static inline float gf_exp_fast(float x)
{
    x = x < -87.3f ? -87.3f : x;
    x = x > 88.3f ? 88.3f : x;
    float n = x * 1.44269504088896341f + 12582912.0f;     /* round(x / ln 2), 1.5 * 2^23 trick */
    n -= 12582912.0f;
    float r = x - n * 0.693359375f;                        /* x - n ln 2, in two parts */
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    /* 2^n, shifted unsigned: a NaN x (n converts to INT_MIN on x86) gives a
     * NaN result, not a signed-shift overflow */
    uint32_t e = (uint32_t)((int32_t)n + 127) << 23;
    float s;
    memcpy(&s, &e, sizeof s);
    return p * s;
}

#endif
