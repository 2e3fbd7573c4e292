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

double gf_softmax_ce_rows(int64_t R, int C, const float *logits, const int32_t *labels,
                          float *dlogits, int64_t *correct, double *row_loss)
{
    int64_t right = 0;
    #pragma omp parallel for schedule(static) reduction(+:right) if (R * C > 32768)
    for (int64_t r = 0; r < R; r++) {
        const float *z = logits + (size_t)r * C;
        int arg = 0;
        for (int c = 1; c < C; c++) if (z[c] > z[arg]) arg = c;
        float m = z[arg];
        double sum = 0.0;
        for (int c = 0; c < C; c++) sum += exp((double)(z[c] - m));
        double logz = m + log(sum);
        row_loss[r] = logz - z[labels[r]];
        right += arg == labels[r];
        if (dlogits) {
            float *d = dlogits + (size_t)r * C;   /* may be z itself: z[c] is read before d[c] is written */
            int32_t y = labels[r];
            for (int c = 0; c < C; c++)
                d[c] = (float)((exp(z[c] - logz) - (c == y)) / (double)R);
        }
    }
    double total = 0.0;
    for (int64_t r = 0; r < R; r++) total += row_loss[r];
    if (correct) *correct = right;
    return total / (double)R;
}
