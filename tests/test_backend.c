/* The backend seam (engine/backend.h): a backend that wraps the cpu table,
 * counting every call before it delegates, drives one training step (the
 * trainer: forward, backward, clipping, optimizer) of an MLP, a CNN and a
 * small GPT. The step gives the same bits as on the cpu backend; every op
 * the model kind needs was called, and none it does not need; and with any
 * one of those ops poisoned (its output overwritten with NaN) the step's
 * result changes, so the model really runs each op through the table and
 * nothing bypasses it. Backend lookup by name: "cuda" fails clearly. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "core/rng.h"
#include "engine/backend.h"
#include "train/trainer.h"

/* every entry of gf_backend after name and sample_hooks, in order */
#define ENTRIES(X) \
    X(alloc) X(free) X(copy_to_device) X(copy_to_host) X(copy) \
    X(linear_forward) X(linear_backward) X(matmul_forward) X(matmul_backward) \
    X(conv2d_workspace) X(conv2d_forward) X(conv2d_backward) \
    X(maxpool2d_forward) X(maxpool2d_backward) \
    X(relu_forward) X(relu_backward) X(gelu_forward) X(gelu_backward) \
    X(gelu_tanh_forward) X(gelu_tanh_backward) X(add) X(add_inplace) \
    X(dropout_forward) X(dropout_backward) X(layernorm_forward) X(layernorm_backward) \
    X(softmax_ce) X(softmax_ce_rows) X(embedding_forward) X(embedding_backward) \
    X(attention_forward) X(attention_backward) \
    X(sgd_update) X(adamw_update) X(clip_grad_norm)

#define ENUM(e) E_##e,
enum { ENTRIES(ENUM) NENTRIES };
#define NAME(e) #e,
static const char *const ENTRY_NAMES[NENTRIES] = { ENTRIES(NAME) };
/* alloc, free and the host copies: counted, never poisoned (they move bytes
 * of any type); from copy (floats within the backend) on: checked and poisoned */
#define FIRST_OP E_copy

static long calls[NENTRIES];
static int poisoned = -1;    /* the entry whose output is overwritten with NaN, or -1 */
static const gf_backend *cpu;

static void count(int e) { __atomic_fetch_add(&calls[e], 1, __ATOMIC_RELAXED); }
static void nan_fill(float *p, int64_t n) { for (int64_t i = 0; p && i < n; i++) p[i] = NAN; }
/* after delegating: entry e's output p (n floats) becomes NaN if e is poisoned */
static void poison(int e, float *p, int64_t n) { if (poisoned == e) nan_fill(p, n); }

static void *c_alloc(size_t b) { count(E_alloc); return cpu->alloc(b); }
static void c_free(void *p) { if (p) count(E_free); cpu->free(p); }
static void c_copy_to_device(void *d, const void *s, size_t b)
{
    count(E_copy_to_device);
    cpu->copy_to_device(d, s, b);
}
static void c_copy_to_host(void *d, const void *s, size_t b)
{
    count(E_copy_to_host);
    cpu->copy_to_host(d, s, b);
}
/* the model copies floats within the backend (flatten, dropout off) */
static void c_copy(void *d, const void *s, size_t b)
{
    count(E_copy); cpu->copy(d, s, b);
    if (poisoned == E_copy) nan_fill(d, (int64_t)(b / sizeof(float)));
}

static void c_linear_forward(int B, int K, int N, const float *x, const float *w, const float *b, float *y)
{
    count(E_linear_forward);
    cpu->linear_forward(B, K, N, x, w, b, y);
    poison(E_linear_forward, y, (int64_t)B * N);
}
static void c_linear_backward(int B, int K, int N, const float *x, const float *w, const float *dy,
                              float *dw, float *db, float *dx)
{
    count(E_linear_backward);
    cpu->linear_backward(B, K, N, x, w, dy, dw, db, dx);
    poison(E_linear_backward, dw, (int64_t)N * K);
}
static void c_matmul_forward(int M, int K, int N, const float *x, const float *w, float *y)
{
    count(E_matmul_forward);
    cpu->matmul_forward(M, K, N, x, w, y);
    poison(E_matmul_forward, y, (int64_t)M * N);
}
static void c_matmul_backward(int M, int K, int N, const float *x, const float *w, const float *dy,
                              float *dw, float *dx)
{
    count(E_matmul_backward);
    cpu->matmul_backward(M, K, N, x, w, dy, dw, dx);
    poison(E_matmul_backward, dw, (int64_t)N * K);
}

static size_t c_conv2d_workspace(const gf_conv_geom *g, int threads)
{ count(E_conv2d_workspace); return cpu->conv2d_workspace(g, threads); }
/* forward: sample n's output is poisoned before the fused layers' hook reads it */
typedef struct { gf_sample_hook hook; void *ctx; float *y; int64_t per; } poison_hook;
static void poison_then(void *c, int n)
{
    const poison_hook *p = c;
    nan_fill(p->y + (size_t)n * p->per, p->per);
    if (p->hook) p->hook(p->ctx, n);
}
static void c_conv2d_forward(const gf_conv_geom *g, int B, int threads, const float *x, const float *w,
                             const float *b, float *y, float *ws, gf_sample_hook after, void *ctx)
{
    count(E_conv2d_forward);
    if (poisoned != E_conv2d_forward) {
        cpu->conv2d_forward(g, B, threads, x, w, b, y, ws, after, ctx);
        return;
    }
    poison_hook p = { after, ctx, y, (int64_t)g->cout * g->ho * g->wo };
    cpu->conv2d_forward(g, B, threads, x, w, b, y, ws, poison_then, &p);
}
static void c_conv2d_backward(const gf_conv_geom *g, int B, int threads, const float *x, const float *w,
                              const float *dy, float *dw, float *db, float *dx, float *ws,
                              gf_sample_hook before, void *ctx)
{
    count(E_conv2d_backward);
    cpu->conv2d_backward(g, B, threads, x, w, dy, dw, db, dx, ws, before, ctx);
    poison(E_conv2d_backward, dw, (int64_t)g->cout * g->cin * g->k * g->k);
}
static void c_maxpool2d_forward(int64_t P, int h, int w, int k, int s, int ho, int wo,
                                const float *x, float *y, int32_t *argmax)
{
    count(E_maxpool2d_forward);
    cpu->maxpool2d_forward(P, h, w, k, s, ho, wo, x, y, argmax);
    poison(E_maxpool2d_forward, y, P * ho * wo);
}
static void c_maxpool2d_backward(int64_t P, int h, int w, int k, int s, int ho, int wo,
                                 const float *dy, const int32_t *argmax, float *dx)
{
    count(E_maxpool2d_backward);
    cpu->maxpool2d_backward(P, h, w, k, s, ho, wo, dy, argmax, dx);
    poison(E_maxpool2d_backward, dx, P * h * w);
}

#define UNARY(op) \
    static void c_##op##_forward(int64_t n, const float *x, float *y) \
    { count(E_##op##_forward); cpu->op##_forward(n, x, y); poison(E_##op##_forward, y, n); } \
    static void c_##op##_backward(int64_t n, const float *x, const float *dy, float *dx) \
    { count(E_##op##_backward); cpu->op##_backward(n, x, dy, dx); poison(E_##op##_backward, dx, n); }
UNARY(relu)
UNARY(gelu)
UNARY(gelu_tanh)
static void c_add(int64_t n, const float *a, const float *b, float *y)
{ count(E_add); cpu->add(n, a, b, y); poison(E_add, y, n); }
static void c_add_inplace(int64_t n, float *acc, const float *d)
{ count(E_add_inplace); cpu->add_inplace(n, acc, d); poison(E_add_inplace, acc, n); }
static void c_dropout_forward(int64_t n, int64_t i0, float p, uint64_t key, const float *x, float *y)
{ count(E_dropout_forward); cpu->dropout_forward(n, i0, p, key, x, y); poison(E_dropout_forward, y, n); }
static void c_dropout_backward(int64_t n, int64_t i0, float p, uint64_t key, const float *dy, float *dx)
{
    count(E_dropout_backward);
    cpu->dropout_backward(n, i0, p, key, dy, dx);
    poison(E_dropout_backward, dx, n);
}

static void c_layernorm_forward(int B, int D, const float *x, const float *g, const float *b,
                                float *y, float *mean, float *rstd)
{
    count(E_layernorm_forward);
    cpu->layernorm_forward(B, D, x, g, b, y, mean, rstd);
    poison(E_layernorm_forward, y, (int64_t)B * D);
}
static void c_layernorm_backward(int B, int D, const float *x, const float *g, const float *mean,
                                 const float *rstd, const float *dy, float *dx, float *dg, float *db)
{
    count(E_layernorm_backward);
    cpu->layernorm_backward(B, D, x, g, mean, rstd, dy, dx, dg, db);
    poison(E_layernorm_backward, dg, D);
}
static double c_softmax_ce(int B, int C, const float *logits, const int32_t *labels, float *dlogits,
                           int *correct)
{
    count(E_softmax_ce);
    double l = cpu->softmax_ce(B, C, logits, labels, dlogits, correct);
    poison(E_softmax_ce, dlogits, (int64_t)B * C);
    return poisoned == E_softmax_ce ? NAN : l;
}
static double c_softmax_ce_rows(int64_t R, int C, const float *logits, const int32_t *labels,
                                float *dlogits, int64_t *correct, double *row_loss)
{
    count(E_softmax_ce_rows);
    double l = cpu->softmax_ce_rows(R, C, logits, labels, dlogits, correct, row_loss);
    poison(E_softmax_ce_rows, dlogits, R * C);
    return poisoned == E_softmax_ce_rows ? NAN : l;
}
static void c_embedding_forward(int B, int T, int C, const int32_t *tok, const float *wte, const float *wpe,
                                float *x)
{
    count(E_embedding_forward);
    cpu->embedding_forward(B, T, C, tok, wte, wpe, x);
    poison(E_embedding_forward, x, (int64_t)B * T * C);
}
static void c_embedding_backward(int B, int T, int C, const int32_t *tok, const float *dx, float *dwte,
                                 float *dwpe)
{
    count(E_embedding_backward);
    cpu->embedding_backward(B, T, C, tok, dx, dwte, dwpe);
    poison(E_embedding_backward, dwpe, (int64_t)T * C);
}
static void c_attention_forward(int B, int T, int C, int H, const float *qkv, float *out, float *lse)
{
    count(E_attention_forward);
    cpu->attention_forward(B, T, C, H, qkv, out, lse);
    poison(E_attention_forward, out, (int64_t)B * T * C);
}
static void c_attention_backward(int B, int T, int C, int H, const float *qkv, const float *out,
                                 const float *lse, const float *dout, float *dqkv)
{
    count(E_attention_backward);
    cpu->attention_backward(B, T, C, H, qkv, out, lse, dout, dqkv);
    poison(E_attention_backward, dqkv, (int64_t)B * T * 3 * C);
}

static void c_sgd_update(int64_t n, const gf_optim_config *c, int64_t step, float *w, const float *g,
                         float *mom, const uint8_t *nd)
{ count(E_sgd_update); cpu->sgd_update(n, c, step, w, g, mom, nd); poison(E_sgd_update, w, n); }
static void c_adamw_update(int64_t n, const gf_optim_config *c, int64_t step, float *w, const float *g,
                           float *m, float *v, const uint8_t *nd)
{ count(E_adamw_update); cpu->adamw_update(n, c, step, w, g, m, v, nd); poison(E_adamw_update, w, n); }
static double c_clip_grad_norm(float *g, int64_t n, float max_norm)
{
    count(E_clip_grad_norm);
    double r = cpu->clip_grad_norm(g, n, max_norm);
    poison(E_clip_grad_norm, g, n);
    return r;
}

#define FILL(e) .e = c_##e,
static const gf_backend COUNTING = { .name = "counting", .sample_hooks = 1, ENTRIES(FILL) };

/* The table has exactly the entries listed above, all set in the cpu one. */
static void test_table(void)
{
    cpu = gf_backend_cpu();
    CHECK(sizeof(gf_backend) == offsetof(gf_backend, alloc) + NENTRIES * sizeof(void (*)(void)));
#define SET(e) CHECK_MSG(cpu->e != NULL && COUNTING.e != NULL, "entry %s", #e);
    ENTRIES(SET)
    CHECK(!strcmp(cpu->name, "cpu") && cpu->sample_hooks == 1);
    CHECK(gf_backend_get("cpu") == cpu);
    CHECK(gf_backend_get("cuda") == NULL);
    CHECK_MSG(strstr(gf_last_error(), "this build has no cuda backend") != NULL, "%s", gf_last_error());
    CHECK(gf_backend_get("tpu") == NULL);
    CHECK_MSG(strstr(gf_last_error(), "unknown backend \"tpu\"") != NULL, "%s", gf_last_error());
    CHECK(gf_backend_get(NULL) == NULL);
}

#define N 8   /* samples: one step of batch N */

static gf_dataset float_data(int64_t dim, int classes)
{
    gf_dataset d = { .n = N, .c = 1, .h = 1, .w = (int)dim, .dim = dim, .num_classes = classes };
    d.x = malloc(sizeof(float) * N * dim);
    d.y = malloc(sizeof(int32_t) * N);
    gf_rng r;
    gf_rng_seed(&r, 11);
    for (int64_t i = 0; i < N * dim; i++) d.x[i] = gf_rng_uniform(&r) * 2 - 1;
    for (int i = 0; i < N; i++) d.y[i] = (int32_t)gf_rng_below(&r, (uint64_t)classes);
    return d;
}

static gf_dataset token_data(int T, int V)
{
    gf_dataset d = { 0 };
    d.ntokens = (int64_t)N * T + 1;
    d.tokens = malloc(sizeof(int32_t) * (size_t)d.ntokens);
    d.num_classes = V;
    gf_rng r;
    gf_rng_seed(&r, 7);
    for (int64_t i = 0; i < d.ntokens; i++) d.tokens[i] = (int32_t)(i % 5 + gf_rng_below(&r, 3)) % V;
    CHECK(gf_dataset_window(&d, T) == GF_OK && d.n == N);
    return d;
}

typedef struct {
    const char *what, *spec;
    gf_optim_type optim;
    float momentum, clip;
    int required[NENTRIES + 1];    /* entries the step must call, ended by -1 */
} model_case;

typedef struct {
    gf_status st;
    double loss;
    int64_t n;
    float *params, *state;          /* (n), (nstate n) */
    int nstate;
} step_result;

/* One trainer epoch = one optimizer step over the N samples, on backend be. */
static step_result train_step(const model_case *mc, const gf_dataset *d, const gf_backend *be)
{
    gf_train_config cfg = { .batch = N, .threads = 2, .seed = 3, .accum = 1, .grad_clip = mc->clip,
                            .backend = be };
    snprintf(cfg.spec, sizeof cfg.spec, "%s", mc->spec);
    cfg.optim = gf_optim_defaults(mc->optim, mc->optim == GF_OPTIM_SGD ? 0.1f : 1e-2f);
    cfg.optim.momentum = mc->momentum;
    step_result r = { 0 };
    gf_trainer *t = NULL;
    r.st = gf_trainer_create(&cfg, &t);
    CHECK_MSG(r.st == GF_OK, "%s: %s", mc->what, gf_last_error());
    if (r.st) return r;
    gf_epoch_stats es = { 0 };
    r.st = gf_trainer_epoch(t, d, &es, NULL, NULL);
    r.loss = es.loss;
    r.n = t->model->nparams;
    r.nstate = t->optim.nstate;
    r.params = malloc(sizeof(float) * (size_t)r.n);
    r.state = malloc(sizeof(float) * (size_t)(r.n * r.nstate + 1));
    be->copy_to_host(r.params, t->model->params, sizeof(float) * (size_t)r.n);
    be->copy_to_host(r.state, t->optim.state, sizeof(float) * (size_t)(r.n * r.nstate));
    if (!r.st) CHECK(t->step == 1 && !strcmp(t->model->backend->name, be->name));
    gf_trainer_free(t);
    return r;
}

static void result_free(step_result *r) { free(r->params); free(r->state); }

static int same_bits(const step_result *a, const step_result *b)
{
    return a->st == b->st && a->n == b->n && a->nstate == b->nstate &&
           !memcmp(&a->loss, &b->loss, sizeof a->loss) &&
           !memcmp(a->params, b->params, sizeof(float) * (size_t)a->n) &&
           !memcmp(a->state, b->state, sizeof(float) * (size_t)(a->n * a->nstate));
}

static void test_model_kind(const model_case *mc, const gf_dataset *d)
{
    step_result ref = train_step(mc, d, gf_backend_cpu());
    CHECK(ref.st == GF_OK && isfinite(ref.loss));

    memset(calls, 0, sizeof calls);
    poisoned = -1;
    step_result counted = train_step(mc, d, &COUNTING);
    CHECK_MSG(same_bits(&ref, &counted), "%s: the counting backend's step differs from the cpu's", mc->what);
    CHECK_MSG(calls[E_alloc] > 0 && calls[E_alloc] == calls[E_free], "%s: %ld allocations, %ld frees",
              mc->what, calls[E_alloc], calls[E_free]);

    int need[NENTRIES] = { 0 };
    for (const int *e = mc->required; *e >= 0; e++) need[*e] = 1;
    for (int e = FIRST_OP; e < NENTRIES; e++) {
        if (need[e]) CHECK_MSG(calls[e] > 0, "%s: %s was never called", mc->what, ENTRY_NAMES[e]);
        else CHECK_MSG(calls[e] == 0, "%s: %s called %ld times, not needed", mc->what, ENTRY_NAMES[e],
                       calls[e]);
    }
    long used = 0;
    for (int e = FIRST_OP; e < NENTRIES; e++) used += calls[e];

    /* each needed op, poisoned alone, changes the step */
    int changed = 0, tried = 0;
    for (int e = FIRST_OP; e < NENTRIES; e++) {
        if (!need[e] || e == E_conv2d_workspace) continue;   /* a size, not an output */
        poisoned = e;
        step_result p = train_step(mc, d, &COUNTING);
        poisoned = -1;
        int differs = !same_bits(&ref, &p);
        CHECK_MSG(differs, "%s: poisoning %s left the step unchanged", mc->what, ENTRY_NAMES[e]);
        changed += differs;
        tried++;
        result_free(&p);
    }
    printf("%-4s %ld op calls through the table, bit-identical to cpu; %d/%d ops poisoned one at a "
           "time change the step\n", mc->what, used, changed, tried);
    result_free(&ref);
    result_free(&counted);
}

int main(void)
{
    test_table();

    static const model_case mlp = {
        "mlp", "mlp:12-8-3", GF_OPTIM_SGD, 0.9f, 0.05f,
        { E_linear_forward, E_linear_backward, E_relu_forward, E_relu_backward, E_softmax_ce,
          E_sgd_update, E_clip_grad_norm, -1 } };
    /* relu and maxpool run fused inside the first conv, gelu inside the second */
    static const model_case cnn = {
        "cnn", "seq:1x6x6-conv4k3p1-relu-maxpool2-conv4k3p1-gelu-layernorm-dropout0.25-flatten-linear3",
        GF_OPTIM_ADAMW, 0.0f, 0.0f,
        { E_conv2d_workspace, E_conv2d_forward, E_conv2d_backward, E_relu_forward, E_relu_backward,
          E_maxpool2d_forward, E_maxpool2d_backward, E_gelu_forward, E_gelu_backward,
          E_layernorm_forward, E_layernorm_backward, E_dropout_forward, E_dropout_backward, E_copy,
          E_linear_forward, E_linear_backward, E_softmax_ce, E_adamw_update, -1 } };
    static const model_case gpt = {
        "gpt", "gpt:L=1,H=2,C=16,T=8,V=16", GF_OPTIM_ADAMW, 0.0f, 0.5f,
        { E_embedding_forward, E_embedding_backward, E_layernorm_forward, E_layernorm_backward,
          E_linear_forward, E_linear_backward, E_attention_forward, E_attention_backward,
          E_gelu_tanh_forward, E_gelu_tanh_backward, E_add_inplace, E_matmul_forward, E_matmul_backward,
          E_softmax_ce_rows, E_adamw_update, E_clip_grad_norm, -1 } };

    gf_dataset dm = float_data(12, 3), dc = float_data(36, 3), dg = token_data(8, 16);
    dc.c = 1; dc.h = 6; dc.w = 6;
    test_model_kind(&mlp, &dm);
    test_model_kind(&cnn, &dc);
    test_model_kind(&gpt, &dg);
    gf_dataset_free(&dm);
    gf_dataset_free(&dc);
    gf_dataset_free(&dg);
    return check_summary();
}
