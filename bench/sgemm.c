/* sgemm.c -- owns the BLAS ceiling measurement for the training benchmarks:
 * times cblas_sgemm on 1024x1024x1024 float matrices (row-major, no
 * transpose) with the thread count given as argv[1] (default 2), best of 10
 * runs after a warm-up, and prints "sgemm_gflops=NNN.N" (2*M*N*K flops).
 *
 * It runs the kernels the engine runs (engine/blas_select.c: the OpenMP
 * OpenBLAS, its core chosen as for `gf train`) and names them on a
 * "blas=" line.
 *
 *   make build/bench/sgemm && build/bench/sgemm 2
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "core/error.h"
#include "engine/blas_select.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    if (threads < 1) { fprintf(stderr, "usage: %s [threads >= 1]\n", argv[0]); return 2; }
    const int n = 1024, runs = 10;
    float *a = malloc(sizeof(float) * n * n);
    float *b = malloc(sizeof(float) * n * n);
    float *c = malloc(sizeof(float) * n * n);
    if (!a || !b || !c) { fprintf(stderr, "sgemm: out of memory\n"); return 1; }
    unsigned s = 12345;
    for (long i = 0; i < (long)n * n; i++) {
        s = s * 1664525u + 1013904223u; a[i] = (float)(s >> 8) / 16777216.0f - 0.5f;
        s = s * 1664525u + 1013904223u; b[i] = (float)(s >> 8) / 16777216.0f - 0.5f;
        c[i] = 0.0f;
    }
    const gf_blas_info *bi = gf_blas_info_get();
    if (!bi) { fprintf(stderr, "sgemm: %s\n", gf_last_error()); return 1; }
    printf("blas=%s | core %s (%s) | %s | %s\n", bi->config, bi->core, bi->core_source,
           bi->threading, bi->library);
    gf_blas_set_threads(threads);
    for (int w = 0; w < 3; w++)  /* warm-up: thread pool, page faults, clocks */
        gf_blas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n,
                    1.0f, a, n, b, n, 0.0f, c, n);
    double best = 1e30;
    for (int r = 0; r < runs; r++) {
        double t0 = now_s();
        gf_blas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n,
                    1.0f, a, n, b, n, 0.0f, c, n);
        double t = now_s() - t0;
        if (t < best) best = t;
    }
    double gflops = 2.0 * n * n * (double)n / best * 1e-9;
    printf("sgemm_threads=%d sgemm_best_ms=%.3f check=%.4f\n", threads, best * 1e3, (double)c[n + 1]);
    printf("sgemm_gflops=%.1f\n", gflops);
    free(a); free(b); free(c);
    return 0;
}
