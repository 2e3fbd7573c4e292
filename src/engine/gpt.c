/* The GPT graph (engine/gpt.h): sizes and views, initialisation, forward
 * and backward as a fixed sequence of ops, each run by the model's backend
 * (engine/backend.h). */
#include "engine/gpt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/rng.h"
#include "engine/backend.h"

/* per-block parameter tensors, in vector order */
enum { P_LN1W, P_LN1B, P_QKVW, P_QKVB, P_PROJW, P_PROJB, P_LN2W, P_LN2B,
       P_FCW, P_FCB, P_FCPW, P_FCPB, P_PER_BLOCK };
static const char *const BLOCK_NAMES[P_PER_BLOCK] = {
    "ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias",
    "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight", "ln_2.bias",
    "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias",
};

typedef struct {
    char    name[32];
    int     ndim;
    int64_t shape[2], numel, off;   /* off: into the parameter vector */
} gpt_tensor;

/* What one block's forward keeps for its backward (views into acts). */
typedef struct {
    float *ln1, *ln1_mean, *ln1_rstd;   /* (BT, C), (BT), (BT) */
    float *qkv;                         /* (BT, 3C) */
    float *atty;                        /* (BT, C) */
    float *lse;                         /* (B, H, T) */
    float *res2;                        /* (BT, C)  x + attn */
    float *ln2, *ln2_mean, *ln2_rstd;   /* (BT, C), (BT), (BT) */
    float *fch, *fcg;                   /* (BT, 4C) before / after GELU */
    float *res3;                        /* (BT, C)  block output */
} gpt_block_acts;

struct gf_gpt {
    gf_gpt_dims d;
    const gf_backend *be;               /* runs the ops, owns the buffers below */
    int max_batch, B;                   /* B: batch of the last forward */
    int ntensors;
    gpt_tensor *t;                      /* (ntensors) */
    float *params, *grads;              /* bound, (nparams) each */
    int32_t *tokens;                    /* (max_batch, T) */
    float *acts;                        /* one allocation: everything below */
    float *enc;                         /* (BT, C) */
    gpt_block_acts *blk;                /* (L) */
    float *lnf, *lnf_mean, *lnf_rstd;   /* (BT, C), (BT), (BT) */
    float *logits;                      /* (BT, V) */
    float *scratch;                     /* one allocation: the backward's buffers */
    float *dres, *da, *db;              /* (BT, C) each */
    float *dbig;                        /* (BT, 4C) */
    float *dqkv;                        /* (BT, 3C) */
    double *row_loss;                   /* (BT) */
};

/* n zeroed values of elem bytes on the backend */
static void *alloc_zero(const gf_gpt *g, size_t n, size_t elem)
{
    return g->be->alloc(n * elem);
}

static void add_tensor(gf_gpt *g, int k, const char *name, int ndim, int64_t d0, int64_t d1, int64_t *off)
{
    gpt_tensor *t = &g->t[k];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = ndim; t->shape[0] = d0; t->shape[1] = ndim == 2 ? d1 : 0;
    t->numel = ndim == 2 ? d0 * d1 : d0;
    t->off = *off;
    *off += t->numel;
}

static int blk_index(int l, int p) { return 2 + l * P_PER_BLOCK + p; }

gf_status gf_gpt_create(const gf_gpt_dims *d, int max_batch, const gf_backend *be,
                        int64_t *nparams, gf_gpt **out)
{
    *out = NULL;
    const int64_t BT = (int64_t)max_batch * d->T, C = d->C, V = d->V;
    if (BT * 4 * C >= (1LL << 31) || BT * V >= (1LL << 40))
        return gf_errorf(GF_ERR_ARG, "gpt: batch %d x context %d is too large for one step", max_batch, d->T);
    gf_gpt *g = calloc(1, sizeof *g);
    if (!g) return gf_errorf(GF_ERR_NOMEM, "out of memory building the gpt model");
    g->d = *d;
    g->be = be;
    g->max_batch = max_batch;
    g->ntensors = 2 + d->L * P_PER_BLOCK + 2;
    g->t = calloc((size_t)g->ntensors, sizeof *g->t);
    g->blk = calloc((size_t)d->L, sizeof *g->blk);
    if (!g->t || !g->blk) { gf_gpt_free(g); return gf_errorf(GF_ERR_NOMEM, "out of memory building the gpt model"); }

    int64_t off = 0;
    add_tensor(g, 0, "wte.weight", 2, V, C, &off);
    add_tensor(g, 1, "wpe.weight", 2, d->T, C, &off);
    for (int l = 0; l < d->L; l++) {
        const int64_t shapes[P_PER_BLOCK][2] = {
            { C, 0 }, { C, 0 }, { 3 * C, C }, { 3 * C, 0 }, { C, C }, { C, 0 },
            { C, 0 }, { C, 0 }, { 4 * C, C }, { 4 * C, 0 }, { C, 4 * C }, { C, 0 } };
        for (int p = 0; p < P_PER_BLOCK; p++) {
            char name[32];
            snprintf(name, sizeof name, "h.%d.%s", l, BLOCK_NAMES[p]);
            add_tensor(g, blk_index(l, p), name, shapes[p][1] ? 2 : 1, shapes[p][0], shapes[p][1], &off);
        }
    }
    add_tensor(g, g->ntensors - 2, "ln_f.weight", 1, C, 0, &off);
    add_tensor(g, g->ntensors - 1, "ln_f.bias", 1, C, 0, &off);
    *nparams = off;

    /* activations */
    const int64_t per_block = BT * (16 * C + 4) + (int64_t)max_batch * d->H * d->T;
    const int64_t nacts = BT * C + d->L * per_block + BT * (C + 2) + BT * V;
    g->tokens = alloc_zero(g, (size_t)BT, sizeof(int32_t));
    g->acts = alloc_zero(g, (size_t)nacts, sizeof(float));
    g->scratch = alloc_zero(g, (size_t)(BT * C * 10), sizeof(float));
    g->row_loss = alloc_zero(g, (size_t)BT, sizeof(double));
    if (!g->tokens || !g->acts || !g->scratch || !g->row_loss) {
        gf_gpt_free(g);
        return gf_errorf(GF_ERR_NOMEM, "out of memory: gpt with batch %d needs %.1f MB of activations",
                         max_batch, 4.0 * (double)(nacts + BT * C * 10) / 1e6);
    }
    float *p = g->acts;
    g->enc = p; p += BT * C;
    for (int l = 0; l < d->L; l++) {
        gpt_block_acts *a = &g->blk[l];
        a->ln1 = p; p += BT * C;  a->ln1_mean = p; p += BT;  a->ln1_rstd = p; p += BT;
        a->qkv = p; p += BT * 3 * C;
        a->atty = p; p += BT * C;
        a->lse = p; p += (int64_t)max_batch * d->H * d->T;
        a->res2 = p; p += BT * C;
        a->ln2 = p; p += BT * C;  a->ln2_mean = p; p += BT;  a->ln2_rstd = p; p += BT;
        a->fch = p; p += BT * 4 * C;
        a->fcg = p; p += BT * 4 * C;
        a->res3 = p; p += BT * C;
    }
    g->lnf = p; p += BT * C;  g->lnf_mean = p; p += BT;  g->lnf_rstd = p; p += BT;
    g->logits = p; p += BT * V;
    float *s = g->scratch;
    g->dres = s; s += BT * C;  g->da = s; s += BT * C;  g->db = s; s += BT * C;
    g->dbig = s; s += BT * 4 * C;
    g->dqkv = s;
    *out = g;
    return GF_OK;
}

void gf_gpt_free(gf_gpt *g)
{
    if (!g) return;
    free(g->t); free(g->blk);
    g->be->free(g->tokens); g->be->free(g->acts); g->be->free(g->scratch); g->be->free(g->row_loss);
    free(g);
}

void gf_gpt_bind(gf_gpt *g, float *params, float *grads)
{
    g->params = params;
    g->grads = grads;
}

int gf_gpt_num_tensors(const gf_gpt *g) { return g->ntensors; }

void gf_gpt_tensor(const gf_gpt *g, int k, gf_tensor_view *out)
{
    memset(out, 0, sizeof *out);
    const gpt_tensor *t = &g->t[k];
    snprintf(out->name, sizeof out->name, "%s", t->name);
    out->ndim = t->ndim;
    out->shape[0] = t->shape[0];
    out->shape[1] = t->shape[1];
    out->numel = t->numel;
    out->data = g->params + t->off;
    out->grad = g->grads ? g->grads + t->off : NULL;
}

static float *P(const gf_gpt *g, int k) { return g->params + g->t[k].off; }
static float *G(const gf_gpt *g, int k) { return g->grads + g->t[k].off; }

void gf_gpt_init(gf_gpt *g, uint64_t seed)
{
    gf_rng r;
    gf_rng_seed(&r, seed);
    const double resid_std = 0.02 / sqrt(2.0 * g->d.L);
    for (int k = 0; k < g->ntensors; k++) {
        const gpt_tensor *t = &g->t[k];
        float *w = g->params + t->off;
        const char *leaf = strrchr(t->name, '.');
        int is_ln = strstr(t->name, "ln_") != NULL, is_weight = !strcmp(leaf, ".weight");
        if (is_ln || !is_weight) {
            float v = is_ln && is_weight ? 1.0f : 0.0f;
            for (int64_t i = 0; i < t->numel; i++) w[i] = v;
            continue;
        }
        double std = strstr(t->name, "c_proj") ? resid_std : 0.02;
        for (int64_t i = 0; i < t->numel; i++) w[i] = (float)(std * gf_rng_normal(&r));
    }
}

int32_t *gf_gpt_input(gf_gpt *g) { return g->tokens; }

/* y (BT, N) = resid + x w^T + b: a linear layer whose output is added to the residual stream */
static void linear_residual(const gf_backend *be, int BT, int K, int N, const float *x, const float *w,
                            const float *b, const float *resid, float *y)
{
    be->linear_forward(BT, K, N, x, w, b, y);
    be->add_inplace((int64_t)BT * N, y, resid);
}

const float *gf_gpt_forward(gf_gpt *g, const int32_t *tok, int B)
{
    const int T = g->d.T, C = g->d.C, H = g->d.H, V = g->d.V, BT = B * T;
    const gf_backend *be = g->be;
    for (int i = 0; i < BT; i++)   /* on the host, before the ids go to the backend */
        if (tok[i] < 0 || tok[i] >= V) {
            gf_errorf(GF_ERR_ARG, "token id %d at sequence %d position %d is outside the vocabulary "
                      "0..%d", tok[i], i / T, i % T, V - 1);
            return NULL;
        }
    if (tok != g->tokens) be->copy_to_device(g->tokens, tok, sizeof(int32_t) * (size_t)BT);
    g->B = B;
    be->embedding_forward(B, T, C, g->tokens, P(g, 0), P(g, 1), g->enc);
    const float *x = g->enc;
    for (int l = 0; l < g->d.L; l++) {
        gpt_block_acts *a = &g->blk[l];
#define BP(p) P(g, blk_index(l, p))
        be->layernorm_forward(BT, C, x, BP(P_LN1W), BP(P_LN1B), a->ln1, a->ln1_mean, a->ln1_rstd);
        be->linear_forward(BT, C, 3 * C, a->ln1, BP(P_QKVW), BP(P_QKVB), a->qkv);
        be->attention_forward(B, T, C, H, a->qkv, a->atty, a->lse);
        linear_residual(be, BT, C, C, a->atty, BP(P_PROJW), BP(P_PROJB), x, a->res2);
        be->layernorm_forward(BT, C, a->res2, BP(P_LN2W), BP(P_LN2B), a->ln2, a->ln2_mean, a->ln2_rstd);
        be->linear_forward(BT, C, 4 * C, a->ln2, BP(P_FCW), BP(P_FCB), a->fch);
        be->gelu_tanh_forward((int64_t)BT * 4 * C, a->fch, a->fcg);
        linear_residual(be, BT, 4 * C, C, a->fcg, BP(P_FCPW), BP(P_FCPB), a->res2, a->res3);
#undef BP
        x = a->res3;
    }
    be->layernorm_forward(BT, C, x, P(g, g->ntensors - 2), P(g, g->ntensors - 1), g->lnf,
                          g->lnf_mean, g->lnf_rstd);
    be->matmul_forward(BT, C, V, g->lnf, P(g, 0), g->logits);   /* tied head */
    return g->logits;
}

double gf_gpt_loss(gf_gpt *g, const int32_t *targets, int B, int64_t *correct)
{
    return g->be->softmax_ce_rows((int64_t)B * g->d.T, g->d.V, g->logits, targets, NULL, correct, g->row_loss);
}

double gf_gpt_backward(gf_gpt *g, const int32_t *targets, int B, int64_t *correct)
{
    const int T = g->d.T, C = g->d.C, H = g->d.H, V = g->d.V, L = g->d.L, BT = B * T;
    const gf_backend *be = g->be;
    const int64_t BTC = (int64_t)BT * C;
    double loss = be->softmax_ce_rows(BT, V, g->logits, targets, g->logits, correct, g->row_loss);
    const float *dlogits = g->logits;
    const float *xlast = L ? g->blk[L - 1].res3 : g->enc;
    /* head: dwte = dlogits^T lnf (the embedding adds its part below); da = dlnf */
    be->matmul_backward(BT, C, V, g->lnf, P(g, 0), dlogits, G(g, 0), g->da);
    be->layernorm_backward(BT, C, xlast, P(g, g->ntensors - 2), g->lnf_mean, g->lnf_rstd, g->da,
                           g->dres, G(g, g->ntensors - 2), G(g, g->ntensors - 1));
    /* dres: gradient of the residual stream, from the top block down */
    for (int l = L - 1; l >= 0; l--) {
        gpt_block_acts *a = &g->blk[l];
        const float *xin = l ? g->blk[l - 1].res3 : g->enc;
#define BP(p) P(g, blk_index(l, p))
#define BG(p) G(g, blk_index(l, p))
        be->linear_backward(BT, 4 * C, C, a->fcg, BP(P_FCPW), g->dres, BG(P_FCPW), BG(P_FCPB), g->dbig);
        be->gelu_tanh_backward((int64_t)BT * 4 * C, a->fch, g->dbig, g->dbig);
        be->linear_backward(BT, C, 4 * C, a->ln2, BP(P_FCW), g->dbig, BG(P_FCW), BG(P_FCB), g->da);
        be->layernorm_backward(BT, C, a->res2, BP(P_LN2W), a->ln2_mean, a->ln2_rstd, g->da,
                               g->db, BG(P_LN2W), BG(P_LN2B));
        be->add_inplace(BTC, g->dres, g->db);                 /* dres = d res2 */
        be->linear_backward(BT, C, C, a->atty, BP(P_PROJW), g->dres, BG(P_PROJW), BG(P_PROJB), g->da);
        be->attention_backward(B, T, C, H, a->qkv, a->atty, a->lse, g->da, g->dqkv);
        be->linear_backward(BT, C, 3 * C, a->ln1, BP(P_QKVW), g->dqkv, BG(P_QKVW), BG(P_QKVB), g->da);
        be->layernorm_backward(BT, C, xin, BP(P_LN1W), a->ln1_mean, a->ln1_rstd, g->da,
                               g->db, BG(P_LN1W), BG(P_LN1B));
        be->add_inplace(BTC, g->dres, g->db);                 /* dres = d block input */
#undef BP
#undef BG
    }
    be->embedding_backward(B, T, C, g->tokens, g->dres, G(g, 0), G(g, 1));
    return loss;
}
