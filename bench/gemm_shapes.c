/* GFLOP/s of cblas_sgemm for the GEMM shapes the CNN step uses, single
 * call vs. one call per sample in a parallel loop:
 *   build/bench/gemm_shapes [THREADS] */
#include "engine/blas_select.h"
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include "core/timer.h"

typedef struct { const char *name; int ta, tb, M, N, K, per_sample; } shape;

int main(int argc, char **argv)
{
    int T = argc > 1 ? atoi(argv[1]) : 2;
    omp_set_num_threads(T);
    gf_blas_set_threads(T);
    const shape shapes[] = {
        {"1024^3 (one call)", 0, 0, 1024, 1024, 1024, 0},
        {"conv2 fwd  64x196x800 x64", 0, 0, 64, 196, 800, 1},
        {"conv2 fwd batched 64x12544x800", 0, 0, 64, 12544, 800, 0},
        {"conv2 dW   64x800x196 NT x64", 0, 1, 64, 800, 196, 1},
        {"conv2 dX   800x196x64 TN x64", 1, 0, 800, 196, 64, 1},
        {"conv2 dX'  32x196x1600 x64", 0, 0, 32, 196, 1600, 1},
        {"conv2 fwdT 196x64x800 TT x64", 1, 1, 196, 64, 800, 1},
        {"conv2 fwdT 196x64x800 NT x64", 0, 1, 196, 64, 800, 1},
        {"conv2 fwdT 196x64x800 TN x64", 1, 0, 196, 64, 800, 1},
        {"conv2 fwdT 196x64x800 NN x64", 0, 0, 196, 64, 800, 1},
        {"conv2 dWT  800x64x196 NT x64", 0, 1, 800, 64, 196, 1},
        {"conv2 dWT  800x64x196 NN x64", 0, 0, 800, 64, 196, 1},
        {"conv2 dXT  196x800x64 NN x64", 0, 0, 196, 800, 64, 1},
        {"conv2 dXT  196x800x64 TN x64", 1, 0, 196, 800, 64, 1},
        {"conv1 fwd  32x784x25 x64", 0, 0, 32, 784, 25, 1},
        {"conv1 dW   32x25x784 NT x64", 0, 1, 32, 25, 784, 1},
        {"fc1 fwd    64x128x3136 NT", 0, 1, 64, 128, 3136, 0},
        {"fc1 dW     128x3136x64 TN", 1, 0, 128, 3136, 64, 0},
        {"mlp fc1 fwd 64x256x784 NT", 0, 1, 64, 256, 784, 0},
        {"mlp fc1 dW 256x784x64 TN", 1, 0, 256, 784, 64, 0},
    };
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        const shape *p = &shapes[s];
        int reps = p->per_sample ? 64 : 1;
        size_t na = (size_t)p->M * p->K, nb = (size_t)p->K * p->N, nc = (size_t)p->M * p->N;
        float *A = calloc(na, 4), *Bm = calloc(nb * reps, 4), *C = calloc(nc * reps, 4);
        for (size_t i = 0; i < na; i++) A[i] = (float)(i % 7) * 0.1f;
        for (size_t i = 0; i < nb * reps; i++) Bm[i] = (float)(i % 5) * 0.1f;
        double best = 1e9;
        for (int it = 0; it < 8; it++) {
            double t0 = gf_now();
            if (p->per_sample) {
                #pragma omp parallel for schedule(static) num_threads(T)
                for (int r = 0; r < reps; r++)
                    gf_blas_sgemm(CblasRowMajor, p->ta ? CblasTrans : CblasNoTrans,
                                p->tb ? CblasTrans : CblasNoTrans, p->M, p->N, p->K, 1.0f, A,
                                p->ta ? p->M : p->K, Bm + nb * r, p->tb ? p->K : p->N, 0.0f,
                                C + nc * r, p->N);
            } else {
                gf_blas_sgemm(CblasRowMajor, p->ta ? CblasTrans : CblasNoTrans,
                            p->tb ? CblasTrans : CblasNoTrans, p->M, p->N, p->K, 1.0f, A,
                            p->ta ? p->M : p->K, Bm, p->tb ? p->K : p->N, 0.0f, C, p->N);
            }
            double dt = gf_now() - t0;
            if (dt < best) best = dt;
        }
        printf("%-34s %8.3f ms %7.1f GFLOP/s\n", p->name, best * 1e3,
               2.0 * p->M * p->N * p->K * reps / best / 1e9);
        free(A); free(Bm); free(C);
    }
    return 0;
}
