/* Elementwise ops: ReLU, exact and tanh GELU, inverted dropout, adds. */
#include "engine/ops.h"

#include <math.h>
#include <string.h>
#include "core/rng.h"
#include "engine/fastmath.h"

#define PAR_MIN 32768   /* below this many elements a thread team costs more than it saves */

void gf_relu_forward(int64_t n, const float *x, float *y)
{
    #pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void gf_relu_backward(int64_t n, const float *x, const float *dy, float *dx)
{
    #pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (int64_t i = 0; i < n; i++) {       /* dy where x > 0, else +0: a bit mask, so it vectorises */
        uint32_t g;
        memcpy(&g, &dy[i], sizeof g);
        g &= -(uint32_t)(x[i] > 0.0f);
        memcpy(&dx[i], &g, sizeof g);
    }
}

void gf_gelu_forward(int64_t n, const float *x, float *y)
{
    #pragma omp parallel for schedule(static) if (n > PAR_MIN / 4)
    for (int64_t i = 0; i < n; i++) y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * (float)M_SQRT1_2));
}

void gf_gelu_backward(int64_t n, const float *x, const float *dy, float *dx)
{
    const float inv_sqrt_2pi = 0.3989422804014327f;
    #pragma omp parallel for schedule(static) if (n > PAR_MIN / 4)
    for (int64_t i = 0; i < n; i++) {
        float cdf = 0.5f * (1.0f + erff(x[i] * (float)M_SQRT1_2));
        float pdf = inv_sqrt_2pi * expf(-0.5f * x[i] * x[i]);
        dx[i] = dy[i] * (cdf + x[i] * pdf);
    }
}

/* keep element i iff its uniform draw >= p */
static inline int dropout_keep(uint64_t key, int64_t i, float p)
{
    return (float)(gf_hash64(key, (uint64_t)i) >> 40) * (1.0f / 16777216.0f) >= p;
}

void gf_dropout_forward_at(int64_t n, int64_t i0, float p, uint64_t key, const float *x, float *y)
{
    const float scale = 1.0f / (1.0f - p);
    #pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (int64_t i = 0; i < n; i++) y[i] = dropout_keep(key, i0 + i, p) ? x[i] * scale : 0.0f;
}

void gf_dropout_backward_at(int64_t n, int64_t i0, float p, uint64_t key, const float *dy, float *dx)
{
    const float scale = 1.0f / (1.0f - p);
    #pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (int64_t i = 0; i < n; i++) dx[i] = dropout_keep(key, i0 + i, p) ? dy[i] * scale : 0.0f;
}

void gf_dropout_forward(int64_t n, float p, uint64_t key, const float *x, float *y)
{
    gf_dropout_forward_at(n, 0, p, key, x, y);
}

void gf_dropout_backward(int64_t n, float p, uint64_t key, const float *dy, float *dx)
{
    gf_dropout_backward_at(n, 0, p, key, dy, dx);
}

#define GELU_K 0.7978845608028654f   /* sqrt(2 / pi) */

/* With u = sqrt(2/pi) (v + 0.044715 v^3) and e = exp(-2u):
 *   0.5 (1 + tanh(u)) = s = 1 / (1 + e),   1 - tanh(u)^2 = 4 e s^2,
 * so GELU = v s, with no 1 + tanh cancellation where v is negative (there
 * the output and its gradients are tiny, and AdamW normalises gradients:
 * their relative error matters), and one vectorised exp per element
 * (engine/fastmath.h) instead of a libm tanhf call. */
void gf_gelu_tanh_forward(int64_t n, const float *x, float *y)
{
    #pragma omp parallel for simd schedule(static) if (n > PAR_MIN / 4)
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        float e = gf_exp_fast(-2.0f * GELU_K * (v + 0.044715f * v * v * v));
        y[i] = v / (1.0f + e);
    }
}

void gf_gelu_tanh_backward(int64_t n, const float *x, const float *dy, float *dx)
{
    #pragma omp parallel for simd schedule(static) if (n > PAR_MIN / 4)
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        float e = gf_exp_fast(-2.0f * GELU_K * (v + 0.044715f * v * v * v));
        float s = 1.0f / (1.0f + e);
        float g = s + 2.0f * v * (e * s * s) * GELU_K * (1.0f + 3.0f * 0.044715f * v * v);
        dx[i] = dy[i] * g;
    }
}

void gf_add(int64_t n, const float *a, const float *b, float *y)
{
    #pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (int64_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

void gf_add_inplace(int64_t n, float *acc, const float *d)
{
    #pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (int64_t i = 0; i < n; i++) acc[i] += d[i];
}
