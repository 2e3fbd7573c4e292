/* Times each layer's forward and backward for a model spec and batch:
 *   build/bench/layer_times SPEC [BATCH] [THREADS] [ITERS]
 * Prints per-layer milliseconds and the whole step's images/s. */
#include "engine/blas_select.h"
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include "core/rng.h"
#include "core/timer.h"
#include "engine/model.h"
#include "engine/backend.h"
#include "engine/optim.h"

int main(int argc, char **argv)
{
    const char *spec = argc > 1 ? argv[1] : "cnn";
    int B = argc > 2 ? atoi(argv[2]) : 64, T = argc > 3 ? atoi(argv[3]) : 2;
    int iters = argc > 4 ? atoi(argv[4]) : 20;
    omp_set_num_threads(T);
    int fuse = getenv("GF_NO_FUSE") == NULL;
    gf_blas_set_threads(T);
    gf_model *m;
    if (gf_model_create(spec, B, T, &m)) { fprintf(stderr, "%s\n", gf_last_error()); return 1; }
    gf_model_init(m, 1);
    gf_model_fuse(m, fuse);
    gf_rng r;
    gf_rng_seed(&r, 2);
    float *x = gf_model_input(m);
    for (int64_t i = 0; i < (int64_t)B * m->in_numel; i++) x[i] = gf_rng_uniform(&r);
    int32_t *y = malloc(sizeof(int32_t) * B);
    for (int i = 0; i < B; i++) y[i] = (int32_t)gf_rng_below(&r, (uint64_t)m->num_classes);
    gf_optim_config oc = gf_optim_defaults(GF_OPTIM_ADAMW, 1e-3f);
    gf_optim o;
    gf_optim_create(&oc, m->nparams, &o);
    double fwd[GF_SPEC_MAX_LAYERS] = {0}, bwd[GF_SPEC_MAX_LAYERS] = {0}, opt = 0;
    for (int it = -3; it < iters; it++) {
        double t0 = gf_now();
        const float *in = x;
        for (int i = 0; i < m->nlayers; i++) {
            double a = gf_now();
            if (!m->layers[i].fused) m->layers[i].kind->forward(m, &m->layers[i], B, in, 1);
            if (it >= 0) fwd[i] += gf_now() - a;
            in = m->layers[i].out;
        }
        double a = gf_now();
        gf_layer *last = &m->layers[m->nlayers - 1];
        m->backend->softmax_ce(B, m->num_classes, last->out, y, last->dout, NULL);
        if (it >= 0) opt += gf_now() - a;     /* the loss counts with the optimizer */
        for (int i = m->nlayers - 1; i >= 0; i--) {
            gf_layer *L = &m->layers[i];
            double b0 = gf_now();
            if (!L->fused) L->kind->backward(m, L, B, i ? m->layers[i - 1].out : x, i ? m->layers[i - 1].dout : NULL);
            if (it >= 0) bwd[i] += gf_now() - b0;
        }
        a = gf_now();
        gf_optim_step(&o, m->params, m->grads);
        if (it >= 0) opt += gf_now() - a;
        (void)t0;
    }
    double sum = opt;
    printf("%-12s %10s %10s\n", "layer", "fwd ms", "bwd ms");
    for (int i = 0; i < m->nlayers; i++) {
        printf("%-2d %-9s %10.3f %10.3f%s\n", i, m->layers[i].kind->name, 1e3 * fwd[i] / iters, 1e3 * bwd[i] / iters,
               m->layers[i].fused ? "  (fused into the conv above)" : "");
        sum += fwd[i] + bwd[i];
    }
    printf("loss+optim   %10.3f\nstep (sum)   %10.3f ms  -> %.0f img/s\n", 1e3 * opt / iters,
           1e3 * sum / iters, B * iters / sum);
    gf_optim_free(&o);
    gf_model_free(m);
    free(y);
    return 0;
}
