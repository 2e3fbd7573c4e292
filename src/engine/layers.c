/* Layer kinds: forward/backward glue between gf_layer's views and the raw
 * kernels of the model's backend (engine/backend.h; ops.h on the cpu). One
 * small function pair per layer type. */
#include "engine/layers.h"

#include "engine/backend.h"

static gf_conv_geom conv_geom(const gf_layer *L)
{
    return (gf_conv_geom){ .cin = L->d.in.c, .h = L->d.in.h, .w = L->d.in.w,
                           .cout = L->d.out.c, .k = L->d.k, .stride = L->d.stride,
                           .pad = L->d.pad, .ho = L->d.out.h, .wo = L->d.out.w };
}

static void linear_fwd(gf_model *m, gf_layer *L, int B, const float *in, int train)
{
    m->backend->linear_forward(B, (int)L->in_numel, (int)L->out_numel, in, L->w, L->b, L->out);
}
static void linear_bwd(gf_model *m, gf_layer *L, int B, const float *in, float *din)
{
    m->backend->linear_backward(B, (int)L->in_numel, (int)L->out_numel, in, L->w, L->dout, L->dw, L->db, din);
}

/* The layers fused into a conv run per sample, forward in order after the
 * conv's output of sample n is written, backward in reverse before the
 * conv reads its output gradient of sample n. */
typedef struct { gf_model *m; gf_layer *conv; } fused_chain;

static void fused_forward(void *ctx, int n)
{
    const fused_chain *c = ctx;
    for (gf_layer *P = c->conv, *L = P + 1; L <= c->conv + c->conv->nfused; P = L++)
        L->kind->forward_sample(c->m, L, n, P->out + (size_t)n * P->out_numel);
}

static void fused_backward(void *ctx, int n)
{
    const fused_chain *c = ctx;
    for (gf_layer *L = c->conv + c->conv->nfused, *P = L - 1; L > c->conv; L = P--)
        L->kind->backward_sample(c->m, L, n, P->out + (size_t)n * P->out_numel,
                                 P->dout + (size_t)n * P->out_numel);
}

static void conv_fwd(gf_model *m, gf_layer *L, int B, const float *in, int train)
{
    gf_conv_geom g = conv_geom(L);
    fused_chain c = { m, L };
    m->backend->conv2d_forward(&g, B, m->threads, in, L->w, L->b, L->out, m->ws,
                               L->nfused ? fused_forward : NULL, &c);
}
static void conv_bwd(gf_model *m, gf_layer *L, int B, const float *in, float *din)
{
    gf_conv_geom g = conv_geom(L);
    fused_chain c = { m, L };
    m->backend->conv2d_backward(&g, B, m->threads, in, L->w, L->dout, L->dw, L->db, din, m->ws,
                                L->nfused ? fused_backward : NULL, &c);
}

static void pool_fwd(gf_model *m, gf_layer *L, int B, const float *in, int train)
{
    m->backend->maxpool2d_forward((int64_t)B * L->d.in.c, L->d.in.h, L->d.in.w, L->d.k, L->d.stride,
                                  L->d.out.h, L->d.out.w, in, L->out, L->argmax);
}
static void pool_bwd(gf_model *m, gf_layer *L, int B, const float *in, float *din)
{
    if (din) m->backend->maxpool2d_backward((int64_t)B * L->d.in.c, L->d.in.h, L->d.in.w, L->d.k, L->d.stride,
                                            L->d.out.h, L->d.out.w, L->dout, L->argmax, din);
}

static void pool_fwd1(gf_model *m, gf_layer *L, int n, const float *in)
{
    size_t o = (size_t)n * L->out_numel;
    m->backend->maxpool2d_forward(L->d.in.c, L->d.in.h, L->d.in.w, L->d.k, L->d.stride,
                                  L->d.out.h, L->d.out.w, in, L->out + o, L->argmax + o);
}
static void pool_bwd1(gf_model *m, gf_layer *L, int n, const float *in, float *din)
{
    size_t o = (size_t)n * L->out_numel;
    m->backend->maxpool2d_backward(L->d.in.c, L->d.in.h, L->d.in.w, L->d.k, L->d.stride, L->d.out.h, L->d.out.w,
                                   L->dout + o, L->argmax + o, din);
}

static void relu_fwd1(gf_model *m, gf_layer *L, int n, const float *in)
{
    m->backend->relu_forward(L->out_numel, in, L->out + (size_t)n * L->out_numel);
}
static void relu_bwd1(gf_model *m, gf_layer *L, int n, const float *in, float *din)
{
    m->backend->relu_backward(L->out_numel, in, L->dout + (size_t)n * L->out_numel, din);
}

static void gelu_fwd1(gf_model *m, gf_layer *L, int n, const float *in)
{
    m->backend->gelu_forward(L->out_numel, in, L->out + (size_t)n * L->out_numel);
}
static void gelu_bwd1(gf_model *m, gf_layer *L, int n, const float *in, float *din)
{
    m->backend->gelu_backward(L->out_numel, in, L->dout + (size_t)n * L->out_numel, din);
}

static void relu_fwd(gf_model *m, gf_layer *L, int B, const float *in, int train)
{
    m->backend->relu_forward(B * L->out_numel, in, L->out);
}
static void relu_bwd(gf_model *m, gf_layer *L, int B, const float *in, float *din)
{
    if (din) m->backend->relu_backward(B * L->out_numel, in, L->dout, din);
}

static void gelu_fwd(gf_model *m, gf_layer *L, int B, const float *in, int train)
{
    m->backend->gelu_forward(B * L->out_numel, in, L->out);
}
static void gelu_bwd(gf_model *m, gf_layer *L, int B, const float *in, float *din)
{
    if (din) m->backend->gelu_backward(B * L->out_numel, in, L->dout, din);
}

static void flatten_fwd(gf_model *m, gf_layer *L, int B, const float *in, int train)
{
    m->backend->copy(L->out, in, sizeof(float) * B * L->out_numel);
}
static void flatten_bwd(gf_model *m, gf_layer *L, int B, const float *in, float *din)
{
    if (din) m->backend->copy(din, L->dout, sizeof(float) * B * L->out_numel);
}

/* The key is fixed by the training forward; evaluation passes inputs through. */
static void dropout_fwd(gf_model *m, gf_layer *L, int B, const float *in, int train)
{
    if (train && L->d.p > 0.0f)
        m->backend->dropout_forward(B * L->out_numel, m->sample_first * L->out_numel, L->d.p,
                                    L->dropout_key, in, L->out);
    else
        m->backend->copy(L->out, in, sizeof(float) * B * L->out_numel);
}
static void dropout_bwd(gf_model *m, gf_layer *L, int B, const float *in, float *din)
{
    if (!din) return;
    if (L->d.p > 0.0f) m->backend->dropout_backward(B * L->out_numel, m->sample_first * L->out_numel, L->d.p,
                                                    L->dropout_key, L->dout, din);
    else m->backend->copy(din, L->dout, sizeof(float) * B * L->out_numel);
}

static void layernorm_fwd(gf_model *m, gf_layer *L, int B, const float *in, int train)
{
    m->backend->layernorm_forward(B, (int)L->out_numel, in, L->w, L->b, L->out, L->mean, L->rstd);
}
static void layernorm_bwd(gf_model *m, gf_layer *L, int B, const float *in, float *din)
{
    m->backend->layernorm_backward(B, (int)L->out_numel, in, L->w, L->mean, L->rstd, L->dout,
                                   din, L->dw, L->db);
}

static const gf_layer_kind KINDS[] = {
    [GF_LAYER_LINEAR]    = { "linear",    linear_fwd,    linear_bwd },
    [GF_LAYER_CONV2D]    = { "conv2d",    conv_fwd,      conv_bwd },
    [GF_LAYER_MAXPOOL2D] = { "maxpool2d", pool_fwd,      pool_bwd, pool_fwd1, pool_bwd1 },
    [GF_LAYER_RELU]      = { "relu",      relu_fwd,      relu_bwd, relu_fwd1, relu_bwd1 },
    [GF_LAYER_GELU]      = { "gelu",      gelu_fwd,      gelu_bwd, gelu_fwd1, gelu_bwd1 },
    [GF_LAYER_FLATTEN]   = { "flatten",   flatten_fwd,   flatten_bwd },
    [GF_LAYER_DROPOUT]   = { "dropout",   dropout_fwd,   dropout_bwd },
    [GF_LAYER_LAYERNORM] = { "layernorm", layernorm_fwd, layernorm_bwd },
};

const gf_layer_kind *gf_layer_kind_of(gf_layer_type type) { return &KINDS[type]; }
