/* SGD and AdamW updates over flat vectors (PyTorch's formulas, in float:
 * the CPU kernels, and gf_optim_step dispatching through the optimizer's
 * backend), the weight-decay mask, global-norm clipping and the
 * learning-rate schedule. */
#include "engine/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "engine/backend.h"

gf_optim_config gf_optim_defaults(gf_optim_type type, float lr)
{
    gf_optim_config c = { .type = type, .lr = lr, .momentum = 0.0f,
                          .weight_decay = type == GF_OPTIM_ADAMW ? 0.01f : 0.0f,
                          .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f };
    return c;
}

gf_status gf_optim_create_on(const gf_optim_config *cfg, int64_t n, const gf_backend *be,
                             gf_optim *out)
{
    memset(out, 0, sizeof *out);
    if (!(cfg->lr > 0.0f) || !isfinite(cfg->lr))
        return gf_errorf(GF_ERR_ARG, "learning rate must be a positive number (got %g)", cfg->lr);
    if (!(cfg->momentum >= 0.0f && cfg->momentum < 1.0f))
        return gf_errorf(GF_ERR_ARG, "momentum must be in [0, 1) (got %g)", cfg->momentum);
    if (!(cfg->weight_decay >= 0.0f) || !isfinite(cfg->weight_decay))
        return gf_errorf(GF_ERR_ARG, "weight decay must be >= 0 (got %g)", cfg->weight_decay);
    out->cfg = *cfg;
    out->n = n;
    out->backend = be ? be : gf_backend_cpu();
    out->nstate = cfg->type == GF_OPTIM_ADAMW ? 2 : cfg->momentum > 0.0f ? 1 : 0;
    if (out->nstate) {
        out->state = out->backend->alloc(sizeof(float) * (size_t)out->nstate * (size_t)n);
        if (!out->state) return gf_errorf(GF_ERR_NOMEM, "out of memory for optimizer state");
    }
    return GF_OK;
}

gf_status gf_optim_create(const gf_optim_config *cfg, int64_t n, gf_optim *out)
{
    return gf_optim_create_on(cfg, n, gf_backend_cpu(), out);
}

void gf_optim_free(gf_optim *o)
{
    if (o->backend) {
        o->backend->free(o->state);
        o->backend->free(o->no_decay);
    }
    o->state = NULL;
    o->no_decay = NULL;
}

void gf_sgd_update(int64_t n, const gf_optim_config *c, int64_t step, float *w, const float *g,
                   float *buf, const uint8_t *nd)
{
    const float lr = c->lr, mu = c->momentum, wd = c->weight_decay;
    #pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i++) {
        float d = g[i];
        if (wd != 0.0f && !(nd && nd[i])) d += wd * w[i];
        if (buf) { buf[i] = step == 0 ? d : mu * buf[i] + d; d = buf[i]; }
        w[i] -= lr * d;
    }
}

void gf_adamw_update(int64_t n, const gf_optim_config *c, int64_t step, float *w, const float *g,
                     float *m, float *v, const uint8_t *nd)
{
    const float lr = c->lr, wd = c->weight_decay, b1 = c->beta1, b2 = c->beta2;
    const float eps = c->eps;
    const double t = (double)(step + 1);
    const float bc1 = (float)(1.0 - pow(b1, t));
    const float bc2_sqrt = (float)sqrt(1.0 - pow(b2, t));
    const float step_size = lr / bc1, decay = 1.0f - lr * wd;
    #pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i++) {
        if (!(nd && nd[i])) w[i] *= decay;
        m[i] = m[i] * b1 + g[i] * (1.0f - b1);
        v[i] = v[i] * b2 + g[i] * g[i] * (1.0f - b2);
        float denom = sqrtf(v[i]) / bc2_sqrt + eps;
        w[i] -= step_size * (m[i] / denom);
    }
}

void gf_optim_step(gf_optim *o, float *params, const float *grads)
{
    if (o->cfg.type == GF_OPTIM_ADAMW)
        o->backend->adamw_update(o->n, &o->cfg, o->step, params, grads, o->state, o->state + o->n,
                                 o->no_decay);
    else
        o->backend->sgd_update(o->n, &o->cfg, o->step, params, grads, o->state, o->no_decay);
    o->step++;
}

const char *gf_optim_state_name(const gf_optim *o, int i)
{
    if (o->cfg.type == GF_OPTIM_ADAMW) return i == 0 ? "optim.exp_avg" : "optim.exp_avg_sq";
    return "optim.momentum";
}

const char *gf_optim_type_name(gf_optim_type t) { return t == GF_OPTIM_ADAMW ? "adamw" : "sgd"; }

gf_status gf_optim_type_parse(const char *s, gf_optim_type *out)
{
    if (!strcmp(s, "sgd")) { *out = GF_OPTIM_SGD; return GF_OK; }
    if (!strcmp(s, "adamw")) { *out = GF_OPTIM_ADAMW; return GF_OK; }
    return gf_errorf(GF_ERR_ARG, "unknown optimizer \"%s\" (expected sgd or adamw)", s);
}

gf_status gf_optim_no_decay(gf_optim *o, int64_t offset, int64_t count)
{
    if (offset < 0 || count < 0 || offset + count > o->n)
        return gf_errorf(GF_ERR_ARG, "no-decay range %lld+%lld outside %lld parameters",
                         (long long)offset, (long long)count, (long long)o->n);
    if (!o->no_decay && !(o->no_decay = o->backend->alloc((size_t)(o->n ? o->n : 1))))
        return gf_errorf(GF_ERR_NOMEM, "out of memory for the weight-decay mask");
    uint8_t *ones = malloc((size_t)(count ? count : 1));   /* the mask may live on a device */
    if (!ones) return gf_errorf(GF_ERR_NOMEM, "out of memory for the weight-decay mask");
    memset(ones, 1, (size_t)count);
    o->backend->copy_to_device(o->no_decay + offset, ones, (size_t)count);
    free(ones);
    return GF_OK;
}

#define CLIP_CHUNKS 256

double gf_clip_grad_norm(float *g, int64_t n, float max_norm)
{
    double part[CLIP_CHUNKS];
    const int64_t per = (n + CLIP_CHUNKS - 1) / CLIP_CHUNKS;
    #pragma omp parallel for schedule(static) if (n > 65536)
    for (int c = 0; c < CLIP_CHUNKS; c++) {
        double s = 0.0;
        int64_t lo = c * per, hi = lo + per < n ? lo + per : n;
        for (int64_t i = lo; i < hi; i++) s += (double)g[i] * g[i];
        part[c] = s;
    }
    double sum = 0.0;
    for (int c = 0; c < CLIP_CHUNKS; c++) sum += part[c];
    const double norm = sqrt(sum);
    const double coef = (double)max_norm / (norm + 1e-6);
    if (coef < 1.0) {
        const float f = (float)coef;
        #pragma omp parallel for schedule(static) if (n > 65536)
        for (int64_t i = 0; i < n; i++) g[i] *= f;
    }
    return norm;
}

float gf_lr_at(const gf_lr_schedule *s, float lr, int64_t step)
{
    if (step < s->warmup) return (float)((double)lr * (double)(step + 1) / (double)s->warmup);
    if (s->kind != GF_LR_COSINE) return lr;
    const double min = (double)lr * s->min_frac;
    if (step >= s->total || s->total <= s->warmup) return (float)min;
    const double ratio = (double)(step - s->warmup) / (double)(s->total - s->warmup);
    return (float)(min + 0.5 * (1.0 + cos(M_PI * ratio)) * ((double)lr - min));
}

gf_status gf_lr_kind_parse(const char *s, gf_lr_kind *out)
{
    if (!strcmp(s, "constant")) { *out = GF_LR_CONSTANT; return GF_OK; }
    if (!strcmp(s, "cosine")) { *out = GF_LR_COSINE; return GF_OK; }
    return gf_errorf(GF_ERR_ARG, "unknown learning-rate schedule \"%s\" (expected constant or cosine)", s);
}

const char *gf_lr_kind_name(gf_lr_kind k) { return k == GF_LR_COSINE ? "cosine" : "constant"; }
