/* Optimizers over the flat parameter vector: SGD (momentum, weight decay
 * added to the gradient) and AdamW (decoupled weight decay), with exactly
 * PyTorch's update formulas. State is one allocation of 0, 1 or 2 vectors
 * the size of the parameters. */
#ifndef GF_ENGINE_OPTIM_H
#define GF_ENGINE_OPTIM_H

#include <stdint.h>
#include "core/error.h"

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
} gf_optim;

/* Defaults as PyTorch: AdamW betas (0.9, 0.999), eps 1e-8. */
gf_optim_config gf_optim_defaults(gf_optim_type type, float lr);
gf_status gf_optim_create(const gf_optim_config *cfg, int64_t n, gf_optim *out);
void      gf_optim_free(gf_optim *o);
void      gf_optim_step(gf_optim *o, float *params, const float *grads);
/* Name of state vector i ("optim.momentum", "optim.exp_avg", "optim.exp_avg_sq"). */
const char *gf_optim_state_name(const gf_optim *o, int i);
const char *gf_optim_type_name(gf_optim_type t);
gf_status   gf_optim_type_parse(const char *s, gf_optim_type *out);

#endif
