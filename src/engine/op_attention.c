/* Causal multi-head self-attention, fused with its softmax: the forward
 * walks the keys of each query in tiles with an online (running-max)
 * softmax and keeps only the log-sum-exp per query; the backward recomputes
 * each probability from it (flash-attention's memory plan, O(B H T) saved
 * instead of O(B H T^2)). One (b, h) pair per task; every output element is
 * written by one task in a fixed order, so results do not depend on the
 * thread count. The loops over a head's hs channels are `omp simd`
 * (reductions in the vector lanes' fixed order) and the exponentials are
 * engine/fastmath.h's, so they run as vector code. */
#include "engine/ops.h"

#include "engine/fastmath.h"

#include <math.h>
#include <string.h>

#define KEY_TILE 32

void gf_attention_forward(int B, int T, int C, int H, const float *qkv, float *out, float *lse)
{
    const int hs = C / H;
    const size_t C3 = (size_t)3 * C;
    const float scale = 1.0f / sqrtf((float)hs);
    #pragma omp parallel for schedule(static) if ((int64_t)B * H * T * T * hs > 65536)
    for (int bh = 0; bh < B * H; bh++) {
        const int b = bh / H, h = bh % H;
        const float *base = qkv + (size_t)b * T * C3;
        for (int t = 0; t < T; t++) {
            const float *q = base + (size_t)t * C3 + (size_t)h * hs;
            float *o = out + ((size_t)b * T + t) * C + (size_t)h * hs;   /* (hs) */
            float mx = -INFINITY, l = 0.0f;
            for (int d = 0; d < hs; d++) o[d] = 0.0f;
            for (int j0 = 0; j0 <= t; j0 += KEY_TILE) {
                const int j1 = j0 + KEY_TILE < t + 1 ? j0 + KEY_TILE : t + 1;
                float s[KEY_TILE], tm = -INFINITY;                          /* tile scores */
                for (int j = j0; j < j1; j++) {
                    const float *k = base + (size_t)j * C3 + C + (size_t)h * hs;
                    float dot = 0.0f;
                    #pragma omp simd reduction(+:dot)
                    for (int d = 0; d < hs; d++) dot += q[d] * k[d];
                    s[j - j0] = dot * scale;
                    if (s[j - j0] > tm) tm = s[j - j0];
                }
                if (tm > mx) {                  /* rescale what was summed under the old max */
                    const float c = expf(mx - tm);
                    l *= c;
                    #pragma omp simd
                    for (int d = 0; d < hs; d++) o[d] *= c;
                    mx = tm;
                }
                #pragma omp simd
                for (int j = 0; j < j1 - j0; j++) s[j] = gf_exp_fast(s[j] - mx);
                for (int j = j0; j < j1; j++) {
                    const float p = s[j - j0];
                    const float *v = base + (size_t)j * C3 + 2 * (size_t)C + (size_t)h * hs;
                    l += p;
                    #pragma omp simd
                    for (int d = 0; d < hs; d++) o[d] += p * v[d];
                }
            }
            const float inv = 1.0f / l;
            for (int d = 0; d < hs; d++) o[d] *= inv;
            lse[(size_t)bh * T + t] = mx + logf(l);
        }
    }
}

void gf_attention_backward(int B, int T, int C, int H, const float *qkv, const float *out,
                           const float *lse, const float *dout, float *dqkv)
{
    const int hs = C / H;
    const size_t C3 = (size_t)3 * C;
    const float scale = 1.0f / sqrtf((float)hs);
    #pragma omp parallel for schedule(static) if ((int64_t)B * H * T * T * hs > 65536)
    for (int bh = 0; bh < B * H; bh++) {
        const int b = bh / H, h = bh % H;
        const float *base = qkv + (size_t)b * T * C3;
        float *dbase = dqkv + (size_t)b * T * C3;
        for (int t = 0; t < T; t++) {          /* this head's dq, dk, dv start at zero */
            float *row = dbase + (size_t)t * C3 + (size_t)h * hs;
            memset(row, 0, sizeof(float) * hs);
            memset(row + C, 0, sizeof(float) * hs);
            memset(row + 2 * C, 0, sizeof(float) * hs);
        }
        for (int t = 0; t < T; t++) {
            const float *q = base + (size_t)t * C3 + (size_t)h * hs;
            const float *o = out + ((size_t)b * T + t) * C + (size_t)h * hs;
            const float *go = dout + ((size_t)b * T + t) * C + (size_t)h * hs;
            float *dq = dbase + (size_t)t * C3 + (size_t)h * hs;
            const float m = lse[(size_t)bh * T + t];
            float D = 0.0f;                     /* sum_j p_j dp_j = dout . out */
            #pragma omp simd reduction(+:D)
            for (int d = 0; d < hs; d++) D += go[d] * o[d];
            for (int j = 0; j <= t; j++) {
                const float *k = base + (size_t)j * C3 + C + (size_t)h * hs;
                const float *v = k + C;
                float *dk = dbase + (size_t)j * C3 + C + (size_t)h * hs, *dv = dk + C;
                float dot = 0.0f, dp = 0.0f;
                #pragma omp simd reduction(+:dot, dp)
                for (int d = 0; d < hs; d++) { dot += q[d] * k[d]; dp += go[d] * v[d]; }
                const float p = gf_exp_fast(dot * scale - m);
                const float ds = p * (dp - D) * scale;
                #pragma omp simd
                for (int d = 0; d < hs; d++) {
                    dq[d] += ds * k[d];
                    dk[d] += ds * q[d];
                    dv[d] += p * go[d];
                }
            }
        }
    }
}
