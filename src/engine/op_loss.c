/* Fused softmax + cross-entropy (mean over the batch) and its gradient. */
#include "engine/ops.h"

#include <math.h>

/* One row z (C) with label y: its loss, whether its argmax is y, and, when
 * d is given, the gradient (softmax - onehot) / n into d (C; may be z itself:
 * z[c] is read before d[c] is written). */
static double ce_row(const float *z, int C, int32_t y, double n, float *d, int *right)
{
    int arg = 0;
    for (int c = 1; c < C; c++) if (z[c] > z[arg]) arg = c;
    float m = z[arg];
    double sum = 0.0;
    for (int c = 0; c < C; c++) sum += exp((double)(z[c] - m));
    double logz = m + log(sum), loss = logz - z[y];
    *right = arg == y;
    if (d)
        for (int c = 0; c < C; c++) d[c] = (float)((exp(z[c] - logz) - (c == y)) / n);
    return loss;
}

double gf_softmax_ce(int B, int C, const float *logits, const int32_t *labels,
                     float *dlogits, int *correct)
{
    double total = 0.0;
    int right = 0;
    for (int b = 0; b < B; b++) {
        int ok;
        total += ce_row(logits + (size_t)b * C, C, labels[b], B, dlogits ? dlogits + (size_t)b * C : NULL, &ok);
        right += ok;
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
        int ok;
        row_loss[r] = ce_row(logits + (size_t)r * C, C, labels[r], (double)R,
                             dlogits ? dlogits + (size_t)r * C : NULL, &ok);
        right += ok;
    }
    double total = 0.0;
    for (int64_t r = 0; r < R; r++) total += row_loss[r];
    if (correct) *correct = right;
    return total / (double)R;
}
