/* Building a model from its spec (one allocation per kind of buffer, named
 * views for the layers), initialisation, forward, backward, evaluation. */
#include "engine/model.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include "core/rng.h"
#include "engine/blas_select.h"
#include "engine/gpt.h"
#include "engine/layers.h"
#include "engine/backend.h"
#include "engine/ops.h"

/* n zeroed values of elem bytes on the model's backend */
static void *alloc_floats(const gf_model *m, size_t n, size_t elem)
{
    return m->backend->alloc(n * elem);
}

/* Fills a layer's parameter shapes; returns weight + bias floats. */
static int64_t layer_param_shapes(gf_layer *L)
{
    const gf_layer_desc *d = &L->d;
    L->nparam_tensors = 0; L->w_numel = L->b_numel = 0;
    if (d->type == GF_LAYER_LINEAR) {
        L->w_ndim = 2; L->w_shape[0] = d->units; L->w_shape[1] = L->in_numel;
        L->w_numel = d->units * L->in_numel; L->b_numel = d->units;
    } else if (d->type == GF_LAYER_CONV2D) {
        L->w_ndim = 4; L->w_shape[0] = d->units; L->w_shape[1] = d->in.c;
        L->w_shape[2] = L->w_shape[3] = d->k;
        L->w_numel = (int64_t)d->units * d->in.c * d->k * d->k; L->b_numel = d->units;
    } else if (d->type == GF_LAYER_LAYERNORM) {
        /* shape of nn.LayerNorm(per-sample shape) */
        if (L->d.flat_in) { L->w_ndim = 1; L->w_shape[0] = L->in_numel; }
        else { L->w_ndim = 3; L->w_shape[0] = d->in.c; L->w_shape[1] = d->in.h; L->w_shape[2] = d->in.w; }
        L->w_numel = L->b_numel = L->in_numel;
    } else {
        return 0;
    }
    L->nparam_tensors = 2;
    return L->w_numel + L->b_numel;
}

/* A gpt: model: the graph of engine/gpt.h over the model's flat vectors. */
static gf_status gpt_model_create(gf_model *m, const char *spec_text, gf_model **out)
{
    const gf_gpt_dims *d = &m->spec.gpt;
    m->input_dtype = GF_DTYPE_I32;
    m->in_numel = d->T;
    m->positions = d->T;
    m->num_classes = d->V;
    gf_status st = gf_gpt_create(d, m->max_batch, m->backend, &m->nparams, &m->gpt);
    if (st) { free(m); return st; }
    m->params = alloc_floats(m, (size_t)m->nparams, sizeof(float));
    m->grads = alloc_floats(m, (size_t)m->nparams, sizeof(float));
    if (!m->params || !m->grads) {
        long long n = (long long)m->nparams;
        gf_model_free(m);
        return gf_errorf(GF_ERR_NOMEM, "out of memory: model %s has %lld parameters", spec_text, n);
    }
    gf_gpt_bind(m->gpt, m->params, m->grads);
    m->input = gf_gpt_input(m->gpt);
    *out = m;
    return GF_OK;
}

double gf_model_bytes(const gf_spec *spec, int max_batch, int threads)
{
    if (spec->arch == GF_ARCH_GPT) {   /* per position and layer about 20 C activations (and as many
                                        * gradients), logits and their gradient V each: an estimate */
        const gf_gpt_dims *g = &spec->gpt;
        double pos = (double)g->T * max_batch;
        return sizeof(float) * (4.0 * (double)spec->nparams + 2.0 * pos * (20.0 * g->L * g->C + 2.0 * g->V));
    }
    double in = (double)gf_shape3_numel(spec->input), acts = in, argmax = 0, stats = 0, ws = 0;
    for (int i = 0; i < spec->nlayers; i++) {
        const gf_layer_desc *d = &spec->layers[i];
        double out = (double)gf_shape3_numel(d->out);
        acts += out;
        if (d->type == GF_LAYER_MAXPOOL2D) argmax += out;
        if (d->type == GF_LAYER_LAYERNORM) stats += 2;
        if (d->type == GF_LAYER_CONV2D) {
            gf_conv_geom g = { d->in.c, d->in.h, d->in.w, d->out.c, d->k, d->stride, d->pad, d->out.h, d->out.w };
            double need = gf_conv2d_workspace_floats(&g, threads);
            if (need > ws) ws = need;
        }
    }
    /* the same buffers as gf_model_create below */
    return sizeof(float) * (2.0 * (double)spec->nparams + 2.0 * acts * max_batch + stats * max_batch + ws)
         + sizeof(int32_t) * argmax * max_batch;
}

gf_status gf_model_create(const char *spec_text, int max_batch, int threads, gf_model **out)
{
    return gf_model_create_on(spec_text, max_batch, threads, gf_backend_cpu(), out);
}

gf_status gf_model_create_on(const char *spec_text, int max_batch, int threads, const gf_backend *be,
                             gf_model **out)
{
    *out = NULL;
    if (!be) be = gf_backend_cpu();
    if (max_batch < 1) return gf_errorf(GF_ERR_ARG, "batch size must be >= 1 (got %d)", max_batch);
    if (threads < 1) return gf_errorf(GF_ERR_ARG, "thread count must be >= 1 (got %d)", threads);
    gf_status bst = gf_blas_load();
    if (bst) return bst;
    gf_model *m = calloc(1, sizeof *m);
    if (!m) return gf_errorf(GF_ERR_NOMEM, "out of memory building the model");
    gf_status st = gf_spec_parse(spec_text, &m->spec);
    if (st) { free(m); return st; }
    double bytes = gf_model_bytes(&m->spec, max_batch, threads);
    if (bytes > GF_MODEL_MAX_BYTES) {
        free(m);
        return gf_errorf(GF_ERR_ARG, "model %s with batch %d would take %.3g bytes: over the limit of 2^50",
                         spec_text, max_batch, bytes);
    }
    m->backend = be;
    m->max_batch = max_batch;
    m->threads = threads;
    if (m->spec.arch == GF_ARCH_GPT) return gpt_model_create(m, spec_text, out);
    m->input_dtype = GF_DTYPE_F32;
    m->positions = 1;
    m->nlayers = m->spec.nlayers;
    m->in_numel = gf_shape3_numel(m->spec.input);

    /* sizes */
    int64_t acts = m->in_numel, argmax = 0, stats = 0, ws = 0, params = 0;
    for (int i = 0; i < m->nlayers; i++) {
        gf_layer *L = &m->layers[i];
        L->d = m->spec.layers[i];
        L->kind = gf_layer_kind_of(L->d.type);
        L->in_numel = gf_shape3_numel(L->d.in);
        L->out_numel = gf_shape3_numel(L->d.out);
        params += layer_param_shapes(L);
        acts += L->out_numel;
        if (L->d.type == GF_LAYER_MAXPOOL2D) argmax += L->out_numel;
        if (L->d.type == GF_LAYER_LAYERNORM) stats += 2;
        if (L->d.type == GF_LAYER_CONV2D) {
            gf_conv_geom g = { L->d.in.c, L->d.in.h, L->d.in.w, L->d.out.c, L->d.k,
                               L->d.stride, L->d.pad, L->d.out.h, L->d.out.w };
            int64_t need = (int64_t)be->conv2d_workspace(&g, threads);
            if (need > ws) ws = need;
        }
    }
    m->num_classes = (int)m->layers[m->nlayers - 1].out_numel;
    m->nparams = params;
    m->params = alloc_floats(m, params, sizeof(float));
    m->grads = alloc_floats(m, params, sizeof(float));
    m->acts = alloc_floats(m, (size_t)acts * max_batch, sizeof(float));
    m->dacts = alloc_floats(m, (size_t)acts * max_batch, sizeof(float));
    m->argmax_buf = alloc_floats(m, (size_t)argmax * max_batch, sizeof(int32_t));
    m->stats = alloc_floats(m, (size_t)stats * max_batch, sizeof(float));
    m->ws = alloc_floats(m, (size_t)ws, sizeof(float));
    if (!m->params || !m->grads || !m->acts || !m->dacts || !m->argmax_buf || !m->stats || !m->ws) {
        gf_model_free(m);
        return gf_errorf(GF_ERR_NOMEM, "out of memory: model %s with batch %d needs %.1f MB of activations",
                         spec_text, max_batch, 8.0 * acts * max_batch / 1e6);
    }

    /* views */
    int64_t po = 0, ao = m->in_numel * max_batch, mo = 0, so = 0;
    for (int i = 0; i < m->nlayers; i++) {
        gf_layer *L = &m->layers[i];
        if (L->nparam_tensors) {
            L->w = m->params + po; L->dw = m->grads + po; po += L->w_numel;
            L->b = m->params + po; L->db = m->grads + po; po += L->b_numel;
        }
        L->out = m->acts + ao; L->dout = m->dacts + ao; ao += L->out_numel * max_batch;
        if (L->d.type == GF_LAYER_MAXPOOL2D) { L->argmax = m->argmax_buf + mo; mo += L->out_numel * max_batch; }
        if (L->d.type == GF_LAYER_LAYERNORM) {
            L->mean = m->stats + so; so += max_batch;
            L->rstd = m->stats + so; so += max_batch;
        }
    }
    m->input = m->acts;
    gf_model_fuse(m, be->sample_hooks);
    *out = m;
    return GF_OK;
}

void gf_model_fuse(gf_model *m, int on)
{
    for (int i = 0; i < m->nlayers; i++) m->layers[i].nfused = m->layers[i].fused = 0;
    if (!on) return;
    for (int i = 0; i < m->nlayers; i++) {
        gf_layer *L = &m->layers[i];
        if (L->d.type != GF_LAYER_CONV2D) continue;
        while (i + 1 + L->nfused < m->nlayers && m->layers[i + 1 + L->nfused].kind->forward_sample)
            m->layers[i + 1 + L->nfused++].fused = 1;
    }
}

gf_status gf_model_share_params(gf_model *m, gf_model *owner)
{
    if (strcmp(m->spec.canonical, owner->spec.canonical) || m->nparams != owner->nparams)
        return gf_errorf(GF_ERR_MISMATCH, "cannot share parameters between models %s and %s",
                         m->spec.canonical, owner->spec.canonical);
    if (m->backend != owner->backend)
        return gf_errorf(GF_ERR_MISMATCH, "cannot share parameters between a model on backend %s and one on %s",
                         m->backend->name, owner->backend->name);
    if (m->gpt) gf_gpt_bind(m->gpt, owner->params, m->grads);
    int64_t po = 0;
    for (int i = 0; i < m->nlayers; i++) {
        gf_layer *L = &m->layers[i];
        if (!L->nparam_tensors) continue;
        L->w = owner->params + po; po += L->w_numel;
        L->b = owner->params + po; po += L->b_numel;
    }
    if (!m->params_shared) m->backend->free(m->params);
    m->params = owner->params;
    m->params_shared = 1;
    return GF_OK;
}

void gf_model_free(gf_model *m)
{
    if (!m) return;
    const gf_backend *be = m->backend;
    if (!m->params_shared) be->free(m->params);
    be->free(m->grads); be->free(m->acts); be->free(m->dacts);
    be->free(m->argmax_buf); be->free(m->stats); be->free(m->ws);
    gf_gpt_free(m->gpt);
    free(m);
}

void gf_model_init(gf_model *m, uint64_t seed)
{
    if (m->gpt) { gf_gpt_init(m->gpt, seed); return; }
    gf_rng r;
    gf_rng_seed(&r, seed);
    for (int i = 0; i < m->nlayers; i++) {
        gf_layer *L = &m->layers[i];
        if (!L->nparam_tensors) continue;
        if (L->d.type == GF_LAYER_LAYERNORM) {
            for (int64_t j = 0; j < L->w_numel; j++) L->w[j] = 1.0f;
            for (int64_t j = 0; j < L->b_numel; j++) L->b[j] = 0.0f;
            continue;
        }
        float bound = 1.0f / sqrtf((float)(L->w_numel / L->w_shape[0]));   /* 1/sqrt(fan_in) */
        for (int64_t j = 0; j < L->w_numel; j++) L->w[j] = (2.0f * gf_rng_uniform(&r) - 1.0f) * bound;
        for (int64_t j = 0; j < L->b_numel; j++) L->b[j] = (2.0f * gf_rng_uniform(&r) - 1.0f) * bound;
    }
}

const float *gf_model_forward(gf_model *m, const void *x, int B, int train, uint64_t dropout_key)
{
    if (m->gpt) return gf_gpt_forward(m->gpt, x, B);
    if (x != m->acts) m->backend->copy_to_device(m->acts, x, sizeof(float) * (size_t)B * m->in_numel);
    const float *in = m->acts;
    for (int i = 0; i < m->nlayers; i++) {
        gf_layer *L = &m->layers[i];
        if (L->d.type == GF_LAYER_DROPOUT) L->dropout_key = gf_hash64(dropout_key, (uint64_t)i);
        if (!L->fused) L->kind->forward(m, L, B, in, train);
        in = L->out;
    }
    return in;
}

double gf_model_backward(gf_model *m, const int32_t *labels, int B, int *correct)
{
    if (m->gpt) {
        int64_t right = 0;
        double loss = gf_gpt_backward(m->gpt, labels, B, &right);
        if (correct) *correct = (int)right;
        return loss;
    }
    gf_layer *last = &m->layers[m->nlayers - 1];
    double loss = m->backend->softmax_ce(B, m->num_classes, last->out, labels, last->dout, correct);
    for (int i = m->nlayers - 1; i >= 0; i--) {
        gf_layer *L = &m->layers[i];
        const float *in = i ? m->layers[i - 1].out : m->acts;   /* acts starts with the input copy */
        float *din = i ? m->layers[i - 1].dout : NULL;
        if (!L->fused) L->kind->backward(m, L, B, in, din);
    }
    return loss;
}

void gf_model_evaluate(gf_model *m, const void *x, const int32_t *labels, int64_t n,
                       double *loss, double *accuracy)
{
    double total = 0.0;
    int64_t right = 0;
    const size_t elem = m->input_dtype == GF_DTYPE_I32 ? sizeof(int32_t) : sizeof(float);
    for (int64_t i = 0; i < n; i += m->max_batch) {
        int B = (int)(n - i < m->max_batch ? n - i : m->max_batch);
        const float *logits = gf_model_forward(m, (const char *)x + (size_t)i * m->in_numel * elem, B, 0, 0);
        const int32_t *lab = labels + i * m->positions;
        if (!logits) { total = NAN; break; }
        if (m->gpt) {
            int64_t c = 0;
            total += gf_gpt_loss(m->gpt, lab, B, &c) * B;
            right += c;
        } else {
            int c = 0;
            total += m->backend->softmax_ce(B, m->num_classes, logits, lab, NULL, &c) * B;
            right += c;
        }
    }
    if (loss) *loss = n ? total / n : 0.0;
    if (accuracy) *accuracy = n ? (double)right / ((double)n * m->positions) : 0.0;
}

int gf_model_num_tensors(const gf_model *m)
{
    if (m->gpt) return gf_gpt_num_tensors(m->gpt);
    int n = 0;
    for (int i = 0; i < m->nlayers; i++) n += m->layers[i].nparam_tensors;
    return n;
}

void gf_model_tensor(const gf_model *m, int k, gf_tensor_view *out)
{
    if (m->gpt) {
        gf_gpt_tensor(m->gpt, k, out);
        return;
    }
    memset(out, 0, sizeof *out);
    for (int i = 0; i < m->nlayers; i++) {
        const gf_layer *L = &m->layers[i];
        if (!L->nparam_tensors) continue;
        if (k >= 2) { k -= 2; continue; }
        if (k == 0) {
            snprintf(out->name, sizeof out->name, "%d.weight", i);
            out->ndim = L->w_ndim;
            memcpy(out->shape, L->w_shape, sizeof out->shape);
            out->numel = L->w_numel; out->data = L->w; out->grad = L->dw;
        } else {
            snprintf(out->name, sizeof out->name, "%d.bias", i);
            out->ndim = L->d.type == GF_LAYER_LAYERNORM ? L->w_ndim : 1;
            if (L->d.type == GF_LAYER_LAYERNORM) memcpy(out->shape, L->w_shape, sizeof out->shape);
            else out->shape[0] = L->b_numel;
            out->numel = L->b_numel; out->data = L->b; out->grad = L->db;
        }
        return;
    }
}
