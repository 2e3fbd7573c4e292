/* The CPU fp32 backend, the reference (engine/backend.h): the table filled
 * with the ops.h and optim.h kernels, memory from posix_memalign and
 * copies by memcpy (host and "device" are the same memory). Also the
 * lookup of a backend by name. */
#include "engine/backend.h"

#include <stdlib.h>
#include <string.h>
#include "core/error.h"

static void *cpu_alloc(size_t bytes)
{
    void *p = NULL;
    if (bytes == 0) bytes = 1;
    if (posix_memalign(&p, 64, bytes)) return NULL;
    memset(p, 0, bytes);
    return p;
}

static void cpu_free(void *p) { free(p); }

static void cpu_copy(void *dst, const void *src, size_t bytes)
{
    if (bytes && dst != src) memcpy(dst, src, bytes);
}

static const gf_backend CPU = {
    .name = "cpu",
    .sample_hooks = 1,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .copy_to_device = cpu_copy,
    .copy_to_host = cpu_copy,
    .copy = cpu_copy,
    .linear_forward = gf_linear_forward,
    .linear_backward = gf_linear_backward,
    .matmul_forward = gf_matmul_forward,
    .matmul_backward = gf_matmul_backward,
    .conv2d_workspace = gf_conv2d_workspace,
    .conv2d_forward = gf_conv2d_forward,
    .conv2d_backward = gf_conv2d_backward,
    .maxpool2d_forward = gf_maxpool2d_forward,
    .maxpool2d_backward = gf_maxpool2d_backward,
    .relu_forward = gf_relu_forward,
    .relu_backward = gf_relu_backward,
    .gelu_forward = gf_gelu_forward,
    .gelu_backward = gf_gelu_backward,
    .gelu_tanh_forward = gf_gelu_tanh_forward,
    .gelu_tanh_backward = gf_gelu_tanh_backward,
    .add = gf_add,
    .add_inplace = gf_add_inplace,
    .dropout_forward = gf_dropout_forward_at,
    .dropout_backward = gf_dropout_backward_at,
    .layernorm_forward = gf_layernorm_forward,
    .layernorm_backward = gf_layernorm_backward,
    .softmax_ce = gf_softmax_ce,
    .softmax_ce_rows = gf_softmax_ce_rows,
    .embedding_forward = gf_embedding_forward,
    .embedding_backward = gf_embedding_backward,
    .attention_forward = gf_attention_forward,
    .attention_backward = gf_attention_backward,
    .sgd_update = gf_sgd_update,
    .adamw_update = gf_adamw_update,
    .clip_grad_norm = gf_clip_grad_norm,
};

const gf_backend *gf_backend_cpu(void) { return &CPU; }

const gf_backend *gf_backend_get(const char *name)
{
    if (!name) {
        gf_errorf(GF_ERR_ARG, "no backend named (expected cpu)");
        return NULL;
    }
    if (!strcmp(name, "cpu")) return &CPU;
    if (!strcmp(name, "cuda")) {
        gf_errorf(GF_ERR_ARG, "this build has no cuda backend (available: cpu)");
        return NULL;
    }
    gf_errorf(GF_ERR_ARG, "unknown backend \"%s\" (available: cpu)", name);
    return NULL;
}
