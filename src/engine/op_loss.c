/* Fused softmax + cross-entropy (mean over the batch) and its gradient. */
#include "engine/ops.h"

#include <math.h>

double gf_softmax_ce(int B, int C, const float *logits, const int32_t *labels,
                     float *dlogits, int *correct)
{
    double total = 0.0;
    int right = 0;
    for (int b = 0; b < B; b++) {
        const float *z = logits + (size_t)b * C;
        int arg = 0;
        for (int c = 1; c < C; c++) if (z[c] > z[arg]) arg = c;
        float m = z[arg];
        double sum = 0.0;
        for (int c = 0; c < C; c++) sum += exp((double)(z[c] - m));
        double logz = m + log(sum);
        total += logz - z[labels[b]];
        right += arg == labels[b];
        if (dlogits) {
            float *d = dlogits + (size_t)b * C;
            for (int c = 0; c < C; c++)
                d[c] = (float)((exp(z[c] - logz) - (c == labels[b])) / B);
        }
    }
    if (correct) *correct = right;
    return total / B;
}
