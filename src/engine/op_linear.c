/* Fully connected layer and bias-free matmul: GEMMs through OpenBLAS (engine/blas_select.c), bias in fixed
 * order. */
#include "engine/ops.h"

#include "engine/blas_select.h"

void gf_linear_forward(int B, int K, int N, const float *x, const float *w,
                       const float *b, float *y)
{
    for (int i = 0; i < B; i++)                     /* y = 1 * b, then += x w^T */
        for (int j = 0; j < N; j++) y[(size_t)i * N + j] = b[j];
    gf_blas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, N, K,
                1.0f, x, K, w, K, 1.0f, y, N);
}

void gf_linear_backward(int B, int K, int N, const float *x, const float *w,
                        const float *dy, float *dw, float *db, float *dx)
{
    /* dw (N, K) = dy^T (N, B) x (B, K) */
    gf_blas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, K, B,
                1.0f, dy, N, x, K, 0.0f, dw, K);
    for (int j = 0; j < N; j++) db[j] = 0.0f;
    for (int i = 0; i < B; i++)
        for (int j = 0; j < N; j++) db[j] += dy[(size_t)i * N + j];
    /* dx (B, K) = dy (B, N) w (N, K) */
    if (dx)
        gf_blas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, K, N,
                    1.0f, dy, N, w, K, 0.0f, dx, K);
}

void gf_matmul_forward(int M, int K, int N, const float *x, const float *w, float *y)
{
    gf_blas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K,
                1.0f, x, K, w, K, 0.0f, y, N);
}

void gf_matmul_backward(int M, int K, int N, const float *x, const float *w, const float *dy,
                        float *dw, float *dx)
{
    gf_blas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, K, M,
                1.0f, dy, N, x, K, 0.0f, dw, K);
    if (dx)
        gf_blas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, K, N,
                    1.0f, dy, N, w, K, 0.0f, dx, K);
}
