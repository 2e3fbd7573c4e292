/* Autoregressive sampling from a language model (gpt:): each new token is
 * drawn from softmax(logits / temperature) at the last position of the
 * window (the last T tokens; the rest of the window is padding the causal
 * mask keeps from mattering). temperature 0 takes the argmax. No cache of
 * keys and values: every token costs one forward of the window. */
#ifndef GF_ENGINE_GENERATE_H
#define GF_ENGINE_GENERATE_H

#include <stdint.h>
#include "core/error.h"
#include "engine/model.h"

/* prompt (n_prompt >= 1 ids) then n_new sampled ids into out
 * (n_prompt + n_new); draws from `seed`. GF_ERR_ARG for a model that is not
 * a language model, an empty prompt, an id outside the vocabulary or a
 * temperature < 0. */
gf_status gf_generate(gf_model *m, const int32_t *prompt, int n_prompt, int n_new,
                      float temperature, uint64_t seed, int32_t *out);

#endif
