/* The backend seam: the op set of the models and optimizers as one table of
 * function pointers (ggml style), over raw pointers and sizes (llm.c style,
 * no tensor objects). A model holds a `const gf_backend *`, set when it is
 * built (gf_model_create_on; gf_model_create takes the cpu one), and every
 * op of its forward, backward and evaluation, and of the optimizer built
 * on it, goes through that table. Models, training, federation and privacy
 * never name a kernel.
 *
 * What a backend provides: every pointer below, none NULL, each keeping
 * the contract of the ops.h / optim.h function of the same name (shapes,
 * overwrite-not-accumulate, NULL input gradient = not needed, aliasing
 * rules), plus the memory hooks: alloc (zeroed, 64-byte aligned; NULL when
 * out of memory), free, copies host -> backend, backend -> host and within
 * the backend. The model's buffers (parameters, gradients, activations,
 * scratch) and the optimizer's state come from alloc.
 *
 * The CPU fp32 backend ("cpu", backend_cpu.c: the ops.h kernels, malloc and
 * memcpy) is the reference. Any other backend is tested against it op by op
 * (the same inputs through both tables, outputs compared with a tolerance
 * the backend documents), then a training step end to end, as
 * tests/test_backend.c does for a table that wraps the CPU one.
 *
 * A CUDA backend is one new file (backend_cuda.cu, built by nvcc when the
 * toolkit is there) that fills this table and is returned by gf_backend_get
 * ("cuda"). What it needs besides the kernels (future
 * work): cuBLAS(Lt) for linear/matmul and conv (im2col or cuDNN); a stream
 * and the workspace from conv2d_workspace on the device; sample_hooks = 0
 * (models are then built unfused: the same bits on the CPU); host code that
 * still reads model buffers directly (checkpoints, federation and DP-SGD
 * over the flat parameter and gradient vectors, the trainer's gradient
 * averaging, gf_model_tensor, sampling in generate.c, model inputs gathered
 * straight into gf_model_input, the labels softmax_ce reads) copying through
 * copy_to_host / copy_to_device at step boundaries; token ids validated on
 * the host before they are copied; bf16 activations with fp32 master
 * weights and a loss scale; fixed-order reductions so that a run stays
 * reproducible. */
#ifndef GF_ENGINE_BACKEND_H
#define GF_ENGINE_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include "engine/ops.h"
#include "engine/optim.h"

typedef struct gf_backend {
    const char *name;
    /* 1: conv2d_forward/backward call the per-sample hooks of ops.h, so
     * models fuse the layers after a conv into it; 0: models run unfused. */
    int sample_hooks;

    /* memory */
    void *(*alloc)(size_t bytes);
    void  (*free)(void *p);
    void  (*copy_to_device)(void *dst, const void *host_src, size_t bytes);
    void  (*copy_to_host)(void *host_dst, const void *src, size_t bytes);
    void  (*copy)(void *dst, const void *src, size_t bytes);

    /* dense */
    void (*linear_forward)(int B, int K, int N, const float *x, const float *w,
                           const float *b, float *y);
    void (*linear_backward)(int B, int K, int N, const float *x, const float *w,
                            const float *dy, float *dw, float *db, float *dx);
    void (*matmul_forward)(int M, int K, int N, const float *x, const float *w, float *y);
    void (*matmul_backward)(int M, int K, int N, const float *x, const float *w,
                            const float *dy, float *dw, float *dx);

    /* convolution and pooling */
    size_t (*conv2d_workspace)(const gf_conv_geom *g, int threads);
    void (*conv2d_forward)(const gf_conv_geom *g, int B, int threads, const float *x,
                           const float *w, const float *b, float *y, float *ws,
                           gf_sample_hook after, void *ctx);
    void (*conv2d_backward)(const gf_conv_geom *g, int B, int threads, const float *x,
                            const float *w, const float *dy, float *dw, float *db,
                            float *dx, float *ws, gf_sample_hook before, void *ctx);
    void (*maxpool2d_forward)(int64_t P, int h, int w, int k, int s, int ho, int wo,
                              const float *x, float *y, int32_t *argmax);
    void (*maxpool2d_backward)(int64_t P, int h, int w, int k, int s, int ho, int wo,
                               const float *dy, const int32_t *argmax, float *dx);

    /* elementwise */
    void (*relu_forward)(int64_t n, const float *x, float *y);
    void (*relu_backward)(int64_t n, const float *x, const float *dy, float *dx);
    void (*gelu_forward)(int64_t n, const float *x, float *y);
    void (*gelu_backward)(int64_t n, const float *x, const float *dy, float *dx);
    void (*gelu_tanh_forward)(int64_t n, const float *x, float *y);
    void (*gelu_tanh_backward)(int64_t n, const float *x, const float *dy, float *dx);
    void (*add)(int64_t n, const float *a, const float *b, float *y);
    void (*add_inplace)(int64_t n, float *acc, const float *d);
    /* gf_dropout_forward_at / gf_dropout_backward_at */
    void (*dropout_forward)(int64_t n, int64_t i0, float p, uint64_t key, const float *x, float *y);
    void (*dropout_backward)(int64_t n, int64_t i0, float p, uint64_t key, const float *dy, float *dx);

    /* normalisation, loss, transformer */
    void (*layernorm_forward)(int B, int D, const float *x, const float *gamma,
                              const float *beta, float *y, float *mean, float *rstd);
    void (*layernorm_backward)(int B, int D, const float *x, const float *gamma,
                               const float *mean, const float *rstd, const float *dy,
                               float *dx, float *dgamma, float *dbeta);
    double (*softmax_ce)(int B, int C, const float *logits, const int32_t *labels,
                         float *dlogits, int *correct);
    double (*softmax_ce_rows)(int64_t R, int C, const float *logits, const int32_t *labels,
                              float *dlogits, int64_t *correct, double *row_loss);
    void (*embedding_forward)(int B, int T, int C, const int32_t *tok, const float *wte,
                              const float *wpe, float *x);
    void (*embedding_backward)(int B, int T, int C, const int32_t *tok, const float *dx,
                               float *dwte, float *dwpe);
    void (*attention_forward)(int B, int T, int C, int H, const float *qkv, float *out, float *lse);
    void (*attention_backward)(int B, int T, int C, int H, const float *qkv, const float *out,
                               const float *lse, const float *dout, float *dqkv);

    /* optimizer updates and clipping over flat vectors (optim.h) */
    void (*sgd_update)(int64_t n, const gf_optim_config *c, int64_t step, float *w,
                       const float *g, float *momentum, const uint8_t *no_decay);
    void (*adamw_update)(int64_t n, const gf_optim_config *c, int64_t step, float *w,
                         const float *g, float *m, float *v, const uint8_t *no_decay);
    double (*clip_grad_norm)(float *g, int64_t n, float max_norm);
} gf_backend;

/* The CPU fp32 reference backend. */
const gf_backend *gf_backend_cpu(void);

/* The backend of that name ("cpu"); NULL with the error set for any other
 * ("cuda": this build has none). */
const gf_backend *gf_backend_get(const char *name);

#endif
