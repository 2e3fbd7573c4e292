/* Layer normalisation over each row's D features (biased variance, eps 1e-5),
 * with per-feature scale and shift. Statistics in double. */
#include "engine/ops.h"

#include <math.h>

void gf_layernorm_forward(int B, int D, const float *x, const float *gamma,
                          const float *beta, float *y, float *mean, float *rstd)
{
    #pragma omp parallel for schedule(static) if ((int64_t)B * D > 32768)
    for (int b = 0; b < B; b++) {
        const float *xb = x + (size_t)b * D;
        float *yb = y + (size_t)b * D;
        double s = 0.0, ss = 0.0;
        for (int i = 0; i < D; i++) s += xb[i];
        double m = s / D;
        for (int i = 0; i < D; i++) { double d = xb[i] - m; ss += d * d; }
        double r = 1.0 / sqrt(ss / D + 1e-5);
        for (int i = 0; i < D; i++) yb[i] = (float)((xb[i] - m) * r) * gamma[i] + beta[i];
        mean[b] = (float)m;
        rstd[b] = (float)r;
    }
}

void gf_layernorm_backward(int B, int D, const float *x, const float *gamma,
                           const float *mean, const float *rstd, const float *dy,
                           float *dx, float *dgamma, float *dbeta)
{
    /* parameter gradients: sum over rows in row order */
    #pragma omp parallel for schedule(static) if ((int64_t)B * D > 32768)
    for (int i = 0; i < D; i++) {
        float g = 0.0f, bsum = 0.0f;
        for (int b = 0; b < B; b++) {
            float xhat = (x[(size_t)b * D + i] - mean[b]) * rstd[b];
            g += dy[(size_t)b * D + i] * xhat;
            bsum += dy[(size_t)b * D + i];
        }
        dgamma[i] = g;
        dbeta[i] = bsum;
    }
    if (!dx) return;
    /* dx = rstd * (dnorm - mean(dnorm) - xhat * mean(dnorm * xhat)), dnorm = dy * gamma */
    #pragma omp parallel for schedule(static) if ((int64_t)B * D > 32768)
    for (int b = 0; b < B; b++) {
        const float *xb = x + (size_t)b * D, *dyb = dy + (size_t)b * D;
        double s1 = 0.0, s2 = 0.0;
        for (int i = 0; i < D; i++) {
            double dn = (double)dyb[i] * gamma[i];
            s1 += dn;
            s2 += dn * (xb[i] - mean[b]) * rstd[b];
        }
        s1 /= D; s2 /= D;
        for (int i = 0; i < D; i++) {
            double xhat = (double)(xb[i] - mean[b]) * rstd[b];
            dx[(size_t)b * D + i] = (float)(rstd[b] * ((double)dyb[i] * gamma[i] - s1 - xhat * s2));
        }
    }
}
