/* Sampling tokens from a gpt model (engine/generate.h). */
#include "engine/generate.h"

#include <math.h>
#include <string.h>
#include "core/rng.h"

gf_status gf_generate(gf_model *m, const int32_t *prompt, int n_prompt, int n_new,
                      float temperature, uint64_t seed, int32_t *out)
{
    if (m->input_dtype != GF_DTYPE_I32)
        return gf_errorf(GF_ERR_ARG, "model %s is not a language model (gpt:...)", m->spec.canonical);
    if (n_prompt < 1 || n_new < 0) return gf_errorf(GF_ERR_ARG, "sampling needs a prompt of at least one token");
    if (!(temperature >= 0.0f) || !isfinite(temperature))
        return gf_errorf(GF_ERR_ARG, "temperature must be >= 0 (got %g)", temperature);
    const int T = (int)m->in_numel, V = m->num_classes;
    memcpy(out, prompt, sizeof(int32_t) * (size_t)n_prompt);
    gf_rng r;
    gf_rng_seed(&r, seed);
    int32_t *win = gf_model_input(m);               /* (1, T) */
    for (int len = n_prompt; len < n_prompt + n_new; len++) {
        const int start = len > T ? len - T : 0, used = len - start;
        memset(win, 0, sizeof(int32_t) * (size_t)T);
        memcpy(win, out + start, sizeof(int32_t) * (size_t)used);
        const float *logits = gf_model_forward(m, win, 1, 0, 0);
        if (!logits) return GF_ERR_ARG;
        const float *z = logits + (size_t)(used - 1) * V;
        int best = 0;
        for (int v = 1; v < V; v++) if (z[v] > z[best]) best = v;
        if (temperature == 0.0f) { out[len] = best; continue; }
        double sum = 0.0;
        for (int v = 0; v < V; v++) sum += exp((double)(z[v] - z[best]) / temperature);
        double u = gf_rng_uniform(&r) * sum, acc = 0.0;
        int pick = V - 1;
        for (int v = 0; v < V; v++) {
            acc += exp((double)(z[v] - z[best]) / temperature);
            if (u < acc) { pick = v; break; }
        }
        out[len] = pick;
    }
    return GF_OK;
}
