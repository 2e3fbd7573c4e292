/* Optimizers over the flat parameter vector: SGD (momentum, weight decay
 * added to the gradient) and AdamW (decoupled weight decay), with exactly
 * PyTorch's update formulas. State is one allocation of 0, 1 or 2 vectors
 * the size of the parameters, made by the optimizer's backend
 * (engine/backend.h), which also runs the updates. */
#ifndef GF_ENGINE_OPTIM_H
#define GF_ENGINE_OPTIM_H

#include <stdint.h>
#include "core/error.h"

struct gf_backend;

typedef enum { GF_OPTIM_SGD, GF_OPTIM_ADAMW } gf_optim_type;

typedef struct {
    gf_optim_type type;
    float lr, momentum, weight_decay;     /* momentum: SGD only */
    float beta1, beta2, eps;              /* AdamW only */
} gf_optim_config;

typedef struct {
    gf_optim_config cfg;
    int64_t n;          /* parameters */
    int64_t step;       /* updates done */
    int     nstate;     /* state vectors: SGD 1 if momentum else 0; AdamW 2 */
    float  *state;      /* (nstate, n) */
    uint8_t *no_decay;  /* (n) 1: left out of weight decay; NULL: all decayed */
    const struct gf_backend *backend;   /* runs the updates, owns state and no_decay */
} gf_optim;

/* Defaults as PyTorch: AdamW betas (0.9, 0.999), eps 1e-8. */
gf_optim_config gf_optim_defaults(gf_optim_type type, float lr);
/* An optimizer whose state lives on and whose updates run on backend `be`
 * (that of the model it trains: m->backend); gf_optim_create: the cpu one. */
gf_status gf_optim_create_on(const gf_optim_config *cfg, int64_t n, const struct gf_backend *be,
                             gf_optim *out);
gf_status gf_optim_create(const gf_optim_config *cfg, int64_t n, gf_optim *out);
void      gf_optim_free(gf_optim *o);
void      gf_optim_step(gf_optim *o, float *params, const float *grads);

/* The CPU kernels of one update over n values (the cpu backend's sgd_update
 * and adamw_update): step is the number of updates done before this one;
 * momentum (n) NULL for plain SGD; m, v (n) AdamW's moments; no_decay (n)
 * or NULL. */
void gf_sgd_update(int64_t n, const gf_optim_config *c, int64_t step, float *w, const float *g,
                   float *momentum, const uint8_t *no_decay);
void gf_adamw_update(int64_t n, const gf_optim_config *c, int64_t step, float *w, const float *g,
                     float *m, float *v, const uint8_t *no_decay);
/* Leaves parameters [offset, offset + count) out of weight decay (the mask
 * is allocated on first use: call at setup, not per step). */
gf_status gf_optim_no_decay(gf_optim *o, int64_t offset, int64_t count);

/* Global-norm gradient clipping as torch.nn.utils.clip_grad_norm_ (the cpu
 * backend's clip_grad_norm; training calls it through m->backend): g is
 * scaled by max_norm / (norm + 1e-6) when that is below 1. Returns the norm
 * before clipping. The norm is summed in double over 256 fixed chunks,
 * added in chunk order: the same bits whatever the thread count. */
double gf_clip_grad_norm(float *g, int64_t n, float max_norm);

/* Learning-rate schedule (llm.c's / nanoGPT's): with warmup W steps the
 * rate of step s (0-based) is lr (s + 1) / W for s < W; then, for cosine,
 * min + 0.5 (1 + cos(pi (s - W) / (total - W))) (lr - min) with
 * min = lr * min_frac, and min past `total`; constant otherwise. */
typedef enum { GF_LR_CONSTANT, GF_LR_COSINE } gf_lr_kind;
typedef struct {
    gf_lr_kind kind;
    int64_t warmup, total;
    float   min_frac;
} gf_lr_schedule;
float       gf_lr_at(const gf_lr_schedule *s, float lr, int64_t step);
gf_status   gf_lr_kind_parse(const char *s, gf_lr_kind *out);
const char *gf_lr_kind_name(gf_lr_kind k);     /* "constant" | "cosine" */

/* Name of state vector i ("optim.momentum", "optim.exp_avg", "optim.exp_avg_sq"). */
const char *gf_optim_state_name(const gf_optim *o, int i);
const char *gf_optim_type_name(gf_optim_type t);
gf_status   gf_optim_type_parse(const char *s, gf_optim_type *out);

#endif
