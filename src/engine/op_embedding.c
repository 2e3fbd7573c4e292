/* Token + position embedding (GPT-2's input layer) and its backward. */
#include "engine/ops.h"

#include <omp.h>
#include <string.h>

void gf_embedding_forward(int B, int T, int C, const int32_t *tok, const float *wte,
                          const float *wpe, float *x)
{
    #pragma omp parallel for schedule(static) if ((int64_t)B * T * C > 32768)
    for (int64_t bt = 0; bt < (int64_t)B * T; bt++) {
        const float *we = wte + (size_t)tok[bt] * C, *pe = wpe + (size_t)(bt % T) * C;
        float *xo = x + (size_t)bt * C;
        for (int c = 0; c < C; c++) xo[c] = we[c] + pe[c];
    }
}

void gf_embedding_backward(int B, int T, int C, const int32_t *tok, const float *dx,
                           float *dwte, float *dwpe)
{
    /* each thread owns channels [c0, c1) of every row: the sums into one
     * row element always run over (b, t) in order */
    #pragma omp parallel if ((int64_t)B * T * C > 32768)
    {
        int nt = omp_get_num_threads(), id = omp_get_thread_num();
        int c0 = (int)((int64_t)C * id / nt), c1 = (int)((int64_t)C * (id + 1) / nt);
        for (int t = 0; t < T; t++) {
            float *pe = dwpe + (size_t)t * C;
            for (int c = c0; c < c1; c++) pe[c] = 0.0f;
        }
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++) {
                const float *d = dx + ((size_t)b * T + t) * C;
                float *we = dwte + (size_t)tok[(size_t)b * T + t] * C, *pe = dwpe + (size_t)t * C;
                for (int c = c0; c < c1; c++) { we[c] += d[c]; pe[c] += d[c]; }
            }
    }
}
