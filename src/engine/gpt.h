/* A GPT-2 style decoder-only transformer, built once for a batch size:
 * token + position embeddings, L pre-LayerNorm blocks (causal multi-head
 * self-attention, MLP of 4C with tanh GELU, residual adds), a final
 * LayerNorm and an output head tied to the token embedding.
 *
 * Parameter vector (one flat vector; tensors in this order, PyTorch
 * nn.Linear layout (out, in), names as HF GPT-2's state_dict without the
 * "transformer." prefix; c_attn/c_fc/c_proj weights are the transpose of
 * HF's Conv1D ones):
 *   wte.weight (V, C)  wpe.weight (T, C)
 *   for i in 0..L-1:  h.i.ln_1.weight (C)  h.i.ln_1.bias (C)
 *     h.i.attn.c_attn.weight (3C, C)  h.i.attn.c_attn.bias (3C)   q | k | v
 *     h.i.attn.c_proj.weight (C, C)   h.i.attn.c_proj.bias (C)
 *     h.i.ln_2.weight (C)  h.i.ln_2.bias (C)
 *     h.i.mlp.c_fc.weight (4C, C)  h.i.mlp.c_fc.bias (4C)
 *     h.i.mlp.c_proj.weight (C, 4C)  h.i.mlp.c_proj.bias (C)
 *   ln_f.weight (C)  ln_f.bias (C)
 * The activations of a forward (what backward needs) and the backward's
 * scratch are one allocation each, sized for max_batch; forward and
 * backward allocate nothing. */
#ifndef GF_ENGINE_GPT_H
#define GF_ENGINE_GPT_H

#include <stdint.h>
#include "core/error.h"
#include "engine/model.h"
#include "engine/spec.h"

typedef struct gf_gpt gf_gpt;

struct gf_backend;

/* Sizes a GPT for max_batch sequences whose activations live on and whose
 * ops run on backend `be` (engine/backend.h); *nparams gets the parameter
 * count. The parameters live outside (gf_gpt_bind). */
gf_status gf_gpt_create(const gf_gpt_dims *d, int max_batch, const struct gf_backend *be,
                        int64_t *nparams, gf_gpt **out);
void      gf_gpt_free(gf_gpt *g);
/* Points the parameter and gradient views into params / grads (nparams each). */
void      gf_gpt_bind(gf_gpt *g, float *params, float *grads);

int  gf_gpt_num_tensors(const gf_gpt *g);
void gf_gpt_tensor(const gf_gpt *g, int k, gf_tensor_view *out);

/* GPT-2's initialisation (nanoGPT / llm.c): weights and embeddings
 * N(0, 0.02), the two residual projections (attn.c_proj, mlp.c_proj)
 * N(0, 0.02 / sqrt(2L)), biases 0, layernorm 1 and 0; drawn from `seed`. */
void gf_gpt_init(gf_gpt *g, uint64_t seed);

/* The token buffer (max_batch, T) a caller may fill and pass to forward. */
int32_t *gf_gpt_input(gf_gpt *g);

/* tok (B, T) ids -> logits (B, T, V). NULL (with the error set) if an id is
 * outside [0, V). */
const float *gf_gpt_forward(gf_gpt *g, const int32_t *tok, int B);
/* After a forward: mean cross-entropy over the B*T positions against
 * targets (B, T), backward into the bound gradients. The logits are
 * overwritten by their gradient. *correct (may be NULL) counts positions
 * whose argmax is the target. */
double gf_gpt_backward(gf_gpt *g, const int32_t *targets, int B, int64_t *correct);
/* After a forward: the same loss without gradients (logits kept). */
double gf_gpt_loss(gf_gpt *g, const int32_t *targets, int B, int64_t *correct);

#endif
