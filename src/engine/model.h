/* A model built once from a spec into a static graph. Parameters, gradients,
 * activations (and their gradients) and scratch space are each one
 * allocation sized at build time for `max_batch` samples; the layers hold
 * named views into them. Forward, backward and evaluation allocate nothing.
 *
 * The parameter vector is the model: layer i's weight then bias, for i in
 * spec order, in PyTorch's layouts (linear (out, in), conv (cout, cin, k, k)).
 *
 * Two architectures share this API: layer sequences (seq:, mlp:, cnn: float
 * inputs of in_numel values per sample, one label per sample) and GPT
 * (gpt:, engine/gpt.h: int32 token ids, in_numel = T per sample, and a
 * target token per position, positions = T). input_dtype and positions say
 * which; everything over the flat vector (optimizers, federation, privacy,
 * checkpoints through gf_model_tensor) is the same for both. */
#ifndef GF_ENGINE_MODEL_H
#define GF_ENGINE_MODEL_H

#include <stdint.h>
#include "core/error.h"
#include "engine/spec.h"

typedef struct gf_model gf_model;
typedef struct gf_layer gf_layer;
struct gf_gpt;
struct gf_backend;

/* Element type of a model's input. */
typedef enum { GF_DTYPE_F32, GF_DTYPE_I32 } gf_dtype;

/* What a layer type does: forward writes L->out, backward writes parameter
 * gradients and, if din is not NULL, the gradient of the layer's input.
 * Parameter-free layers that work sample by sample may also offer
 * *_sample versions for one sample n (pointers already offset to it): a
 * conv layer then runs them inside its own per-sample loop while the data
 * is in cache ("fused"), with the same arithmetic, so the same bits. */
typedef struct {
    const char *name;
    void (*forward)(gf_model *m, gf_layer *L, int B, const float *in, int train);
    void (*backward)(gf_model *m, gf_layer *L, int B, const float *in, float *din);
    void (*forward_sample)(gf_model *m, gf_layer *L, int n, const float *in_n);
    void (*backward_sample)(gf_model *m, gf_layer *L, int n, const float *in_n, float *din_n);
} gf_layer_kind;

struct gf_layer {
    gf_layer_desc d;
    const gf_layer_kind *kind;
    int64_t in_numel, out_numel;  /* per sample */
    int     nparam_tensors;       /* 0 or 2 (weight, bias) */
    int     w_ndim;
    int64_t w_shape[4], w_numel, b_numel;
    float  *w, *b, *dw, *db;      /* views into params / grads */
    float  *out, *dout;           /* (max_batch, out_numel) views into acts / dacts */
    int32_t *argmax;              /* maxpool: (max_batch, out_numel) */
    float  *mean, *rstd;          /* layernorm: (max_batch) each */
    uint64_t dropout_key;         /* dropout: key of the last training forward */
    int      nfused;              /* conv: how many following layers it runs per sample */
    int      fused;               /* run by the conv before it, not on its own */
};

struct gf_model {
    gf_spec spec;
    const struct gf_backend *backend;   /* runs every op and owns every buffer below */
    int      max_batch, threads, num_classes;
    int64_t  in_numel;            /* per-sample input size (values of input_dtype) */
    gf_dtype input_dtype;         /* F32 (seq) or I32 token ids (gpt) */
    int      positions;           /* labels (and logit rows) per sample: 1, or T for gpt */
    int64_t  sample_first;        /* index of the forward's first sample in its whole batch
                                   * (0; a data-parallel shard's offset): dropout masks
                                   * follow the sample's place in the whole batch */
    void    *input;               /* (max_batch, in_numel) input buffer */
    struct gf_gpt *gpt;           /* the graph of a gpt: model (NULL for seq) */
    int64_t  nparams;
    float   *params, *grads;      /* (nparams) each */
    int      params_shared;       /* params belong to another model (gf_model_share_params) */
    float   *acts, *dacts;        /* input (max_batch, in_numel) then every layer's output */
    int32_t *argmax_buf;
    float   *stats;               /* layernorm statistics */
    float   *ws;                  /* largest per-layer scratch (conv column buffers) */
    int      nlayers;
    gf_layer layers[GF_SPEC_MAX_LAYERS];
};

/* Bytes gf_model_create would allocate for a parsed spec (parameters,
 * gradients, activations and their gradients, max-pool indices, layernorm
 * statistics, conv scratch), counted without allocating, in double so that
 * no spec overflows it. gf_model_create refuses a model over
 * GF_MODEL_MAX_BYTES; callers that build models for others (the
 * coordinator) cap it lower. */
double    gf_model_bytes(const gf_spec *spec, int max_batch, int threads);
#define GF_MODEL_MAX_BYTES ((double)((int64_t)1 << 50))

/* Builds a model whose buffers live on and whose ops run on backend `be`
 * (engine/backend.h); gf_model_create: on the cpu backend. */
gf_status gf_model_create_on(const char *spec, int max_batch, int threads, const struct gf_backend *be,
                             gf_model **out);
gf_status gf_model_create(const char *spec, int max_batch, int threads, gf_model **out);
void      gf_model_free(gf_model *m);
/* Makes m compute with owner's parameter vector: m's parameter views (and
 * m->params) point into owner->params and m's own vector is freed; its
 * gradients, activations and scratch stay its own. Both must have the same
 * canonical spec; owner must outlive m. Models built for other batch sizes
 * (DP-SGD's batch-1 passes) so share the one vector that is trained. */
gf_status gf_model_share_params(gf_model *m, gf_model *owner);
/* Fusion of per-sample layers into the conv before them: on after create
 * when the backend runs per-sample hooks (backend->sample_hooks), else off.
 * Off gives the same bits, layer by layer (the tests compare the two). */
void      gf_model_fuse(gf_model *m, int on);

/* PyTorch's default initialisation (uniform +-1/sqrt(fan_in) for linear and
 * conv weights and biases; ones and zeros for layernorm), drawn from `seed`. */
void gf_model_init(gf_model *m, uint64_t seed);

/* The input buffer (max_batch, in_numel) of input_dtype: a caller may
 * gather a batch straight into it and pass it as x below, saving a copy. */
static inline void *gf_model_input(gf_model *m) { return m->input; }

/* x (B, in_numel) of input_dtype (float, or int32 token ids), B <= max_batch.
 * Returns the logits (B, positions, num_classes); NULL (error set) only if
 * a token id is outside the vocabulary. dropout_key seeds the dropout masks
 * when train is set. */
const float *gf_model_forward(gf_model *m, const void *x, int B, int train, uint64_t dropout_key);

/* After a forward of B samples: softmax cross-entropy against labels
 * (B, positions), mean over all B * positions, then backward into m->grads
 * (a gpt overwrites its logits with their gradient). Returns the mean loss;
 * *correct gets the number of right argmax predictions (may be NULL). */
double gf_model_backward(gf_model *m, const int32_t *labels, int B, int *correct);

/* Mean loss and accuracy over n samples (x (n, in_numel) of input_dtype,
 * labels (n, positions)), in batches of max_batch, no dropout; accuracy is
 * per position. */
void gf_model_evaluate(gf_model *m, const void *x, const int32_t *labels, int64_t n,
                       double *loss, double *accuracy);

/* Named parameter tensors, in vector order: "i.weight", "i.bias" (gpt:
 * the names of engine/gpt.h). */
typedef struct {
    char     name[32];
    int      ndim;
    int64_t  shape[4];
    int64_t  numel;
    float   *data, *grad;
} gf_tensor_view;
int  gf_model_num_tensors(const gf_model *m);
void gf_model_tensor(const gf_model *m, int i, gf_tensor_view *out);

#endif
