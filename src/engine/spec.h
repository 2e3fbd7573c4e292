/* Model specs: the text that names an architecture, parsed into a list of
 * layer descriptors with every shape resolved.
 *
 *   seq:INPUT-TOK-TOK-...     INPUT is N (flat) or CxHxW
 *     linearN  convCkK[sS][pP]  maxpoolK[sS]  relu  gelu  flatten
 *     dropoutP (0 <= P < 1)  layernorm (over each sample's features)
 *   mlp:A-B-...-Z             linear layers A->B->...->Z with ReLU between
 *   cnn                       seq:1x28x28-conv32k5p2-relu-maxpool2-
 *                             conv64k5p2-relu-maxpool2-flatten-linear128-relu-linear10
 *
 * Tokens are separated by single "-": an empty token (a leading, trailing or
 * doubled "-") is refused with its position, never skipped.
 * Token i is layer i; a checkpoint names its parameters "i.weight"/"i.bias",
 * the same as the equivalent torch.nn.Sequential. The last layer's outputs
 * are the class logits (softmax cross-entropy is applied by the trainer).
 *
 *   gpt:L=12,H=12,C=768,T=1024,V=50257
 *                             a GPT-2 style decoder (engine/gpt.h): L blocks,
 *                             H heads, C channels, context T, vocabulary V;
 *                             keys in any order, all five required; C % H == 0.
 *                             Canonical form: the keys in this order. */
#ifndef GF_ENGINE_SPEC_H
#define GF_ENGINE_SPEC_H

#include <stdint.h>
#include "core/error.h"

#define GF_SPEC_MAX_LAYERS 64
#define GF_SPEC_MAX_LEN    1024
/* Bounds that keep every size computed from a spec far from overflow: a
 * layer's per-sample output (each of c, h, w an int) and the parameters of
 * the whole model. Real limits (memory, an operator's caps) are lower. */
#define GF_SPEC_MAX_NUMEL  (((int64_t)1 << 31) - 1)
#define GF_SPEC_MAX_PARAMS ((int64_t)1 << 40)

typedef enum {
    GF_LAYER_LINEAR, GF_LAYER_CONV2D, GF_LAYER_MAXPOOL2D, GF_LAYER_RELU,
    GF_LAYER_GELU, GF_LAYER_FLATTEN, GF_LAYER_DROPOUT, GF_LAYER_LAYERNORM,
} gf_layer_type;

typedef struct { int c, h, w; } gf_shape3;   /* per-sample shape; a flat vector of n is (1, 1, n) */

typedef struct {
    gf_layer_type type;
    gf_shape3 in, out;      /* per-sample shapes */
    int   flat_in;          /* input is a flat vector (after flatten/linear) */
    int   units;            /* linear: out features; conv: out channels */
    int   k, stride, pad;   /* conv, maxpool */
    float p;                /* dropout probability */
} gf_layer_desc;

typedef enum { GF_ARCH_SEQ, GF_ARCH_GPT } gf_arch;

typedef struct { int L, H, C, T, V; } gf_gpt_dims;

typedef struct {
    char canonical[GF_SPEC_MAX_LEN];   /* seq:... or gpt:... form, round-trips */
    gf_arch arch;
    gf_gpt_dims gpt;                   /* GF_ARCH_GPT only */
    gf_shape3 input;
    int input_flat;
    int nlayers;                       /* GF_ARCH_SEQ only (0 for gpt) */
    gf_layer_desc layers[GF_SPEC_MAX_LAYERS];
    int64_t nparams;                   /* parameters (the model vector's d), counted
                                          without building the model */
} gf_spec;

/* Parses `text` (any accepted form). On error, the message names the token.
 * A layer whose output exceeds GF_SPEC_MAX_NUMEL per sample, or a model over
 * GF_SPEC_MAX_PARAMS parameters, is refused. */
gf_status gf_spec_parse(const char *text, gf_spec *out);

static inline int64_t gf_shape3_numel(gf_shape3 s) { return (int64_t)s.c * s.h * s.w; }

#endif
