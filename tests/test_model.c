/* Model building: spec parsing (canonical forms, shapes, errors), fusion
 * giving the same bits as layer-by-layer execution, and a training step
 * (plain, and DP-SGD's per-example step) that allocates nothing once the
 * model is built. */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "core/rng.h"
#include "engine/model.h"
#include "engine/ops.h"
#include "engine/optim.h"
#include "engine/spec.h"
#include "train/dpsgd.h"

static void test_specs(void)
{
    gf_spec s;
    CHECK(gf_spec_parse("cnn", &s) == GF_OK);
    CHECK(!strcmp(s.canonical, "seq:1x28x28-conv32k5p2-relu-maxpool2-conv64k5p2-relu-maxpool2-"
                               "flatten-linear128-relu-linear10"));
    CHECK(s.nlayers == 10 && s.layers[6].out.w == 3136 && s.layers[2].out.h == 14);
    CHECK(gf_spec_parse("mlp:784-256-128-10", &s) == GF_OK);
    CHECK(!strcmp(s.canonical, "seq:784-linear256-relu-linear128-relu-linear10"));
    CHECK(gf_spec_parse("seq:3x32x32-conv16k3s2p1-gelu-maxpool3s2-layernorm-dropout0.5-flatten-linear10", &s) == GF_OK);
    CHECK(s.layers[0].out.c == 16 && s.layers[0].out.h == 16 && s.layers[0].out.w == 16);
    CHECK(s.layers[2].out.h == 7 && s.layers[4].p == 0.5f && s.layers[5].out.w == 16 * 7 * 7);
    /* canonical text parses to itself */
    gf_spec t;
    CHECK(gf_spec_parse(s.canonical, &t) == GF_OK && !strcmp(t.canonical, s.canonical));

    const char *bad[][2] = {
        {"", "empty"}, {"resnet", "does not parse"}, {"mlp:784", "two widths"},
        {"mlp:784-0-10", "positive"}, {"seq:1x28x28-conv32q5", "conv32q5"},
        {"seq:1x28x28-linear10", "flatten"}, {"seq:784-conv3k3-linear10", "CxHxW"},
        {"seq:1x4x4-conv2k7-flatten-linear2", "larger"}, {"seq:784-dropout1.5-linear10", "dropout"},
        {"seq:1x28x28-conv4k3", "last layer"}, {"seq:784-linear10-wibble", "unknown layer"},
        {"seq:0x28x28-flatten-linear10", "positive"}, {"seq:784-linear1", "at least 2"},
        /* an empty layer (leading, trailing or doubled "-") is refused, never skipped */
        {"mlp:784--10", "empty layer"}, {"mlp:-784-10", "empty layer"}, {"mlp:784-10-", "empty layer"},
        {"mlp:784-256--10", "empty layer"}, {"mlp:", "empty"}, {"mlp:-", "empty layer"},
        {"seq:784-linear32--relu-linear10", "empty layer"}, {"seq:-784-linear10", "empty layer"},
        {"seq:784-linear10-", "empty layer"}, {"seq:1x28x28--flatten-linear10", "empty layer"},
        {"seq:", "empty"}, {"seq:--", "empty layer"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        gf_status st = gf_spec_parse(bad[i][0], &s);
        CHECK_MSG(st == GF_ERR_ARG && strstr(gf_last_error(), bad[i][1]),
                  "spec \"%s\": status %d, message \"%s\"", bad[i][0], st, gf_last_error());
    }
}

/* A spec's parameter count and a model's bytes, known before building it,
 * against the built model (and a hand count); absurd sizes are refused by
 * the parser or counted without overflow. */
static void test_spec_sizes(void)
{
    gf_spec s;
    CHECK(gf_spec_parse("mlp:784-256-128-10", &s) == GF_OK);
    CHECK(s.nparams == 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10);
    const char *specs[] = { "cnn", "mlp:784-256-128-10",
        "seq:3x32x32-conv16k3s2p1-gelu-maxpool3s2-layernorm-dropout0.5-flatten-linear10",
        "seq:2x12x12-conv6k3p1-relu-maxpool2-conv8k3s1p1-layernorm-flatten-layernorm-linear5" };
    for (size_t i = 0; i < sizeof specs / sizeof *specs; i++) {
        const int B = 3, threads = 2;
        gf_model *m;
        CHECK(gf_spec_parse(specs[i], &s) == GF_OK && gf_model_create(specs[i], B, threads, &m) == GF_OK);
        CHECK_MSG(s.nparams == m->nparams, "%s: spec says %lld parameters, model has %lld", specs[i],
                  (long long)s.nparams, (long long)m->nparams);
        /* bytes re-counted from the built model's layers */
        double acts = (double)m->in_numel, argmax = 0, stats = 0, ws = 0;
        for (int l = 0; l < m->nlayers; l++) {
            const gf_layer *L = &m->layers[l];
            acts += (double)L->out_numel;
            if (L->d.type == GF_LAYER_MAXPOOL2D) argmax += (double)L->out_numel;
            if (L->d.type == GF_LAYER_LAYERNORM) stats += 2;
            if (L->d.type == GF_LAYER_CONV2D) {
                gf_conv_geom g = { L->d.in.c, L->d.in.h, L->d.in.w, L->d.out.c, L->d.k, L->d.stride, L->d.pad,
                                   L->d.out.h, L->d.out.w };
                CHECK(gf_conv2d_workspace_floats(&g, threads) == (double)gf_conv2d_workspace(&g, threads));
                if ((double)gf_conv2d_workspace(&g, threads) > ws) ws = (double)gf_conv2d_workspace(&g, threads);
            }
        }
        double want = 4.0 * (2.0 * (double)m->nparams + 2.0 * acts * B + stats * B + ws) + 4.0 * argmax * B;
        CHECK_MSG(gf_model_bytes(&s, B, threads) == want, "%s: gf_model_bytes %.0f, recounted %.0f", specs[i],
                  gf_model_bytes(&s, B, threads), want);
        gf_model_free(m);
    }
    /* small parameters, huge conv scratch: counted, not overflowed */
    CHECK(gf_spec_parse("seq:1000x100x100-conv2k99p49-flatten-linear2", &s) == GF_OK);
    CHECK(s.nparams == 2LL * 1000 * 99 * 99 + 2 + 2LL * 2 * 100 * 100 + 2);
    CHECK(gf_model_bytes(&s, 1, 1) > 4.0 * 1000 * 99 * 99 * 100 * 100);
    const char *absurd[][2] = {
        {"seq:1x28x28-conv1000000000k1-flatten-linear2", "2^31"},
        {"seq:1x10000x10000-conv30k1-flatten-linear2", "2^31"},
        {"seq:784-linear1000000000-relu-linear1000000000-relu-linear10", "2^40"},
    };
    for (size_t i = 0; i < sizeof absurd / sizeof *absurd; i++) {
        gf_status st = gf_spec_parse(absurd[i][0], &s);
        CHECK_MSG(st == GF_ERR_ARG && strstr(gf_last_error(), absurd[i][1]),
                  "spec \"%s\": status %d, message \"%s\"", absurd[i][0], st, gf_last_error());
    }
}

static void fill_batch(gf_model *m, int B, uint64_t seed, int32_t *y)
{
    gf_rng r;
    gf_rng_seed(&r, seed);
    float *x = gf_model_input(m);
    for (int64_t i = 0; i < (int64_t)B * m->in_numel; i++) x[i] = gf_rng_uniform(&r);
    for (int i = 0; i < B; i++) y[i] = (int32_t)gf_rng_below(&r, (uint64_t)m->num_classes);
}

/* Fused and layer-by-layer execution give identical logits and gradients. */
static void test_fusion_same_bits(void)
{
    const char *spec = "seq:2x12x12-conv6k3p1-relu-maxpool2-conv8k3s1p1-gelu-maxpool3s2-"
                       "flatten-linear16-relu-linear4";
    const int B = 9;
    gf_model *a, *b;
    int32_t y[9];
    CHECK(gf_model_create(spec, B, 2, &a) == GF_OK && gf_model_create(spec, B, 2, &b) == GF_OK);
    CHECK(a->layers[0].nfused == 2 && a->layers[3].nfused == 2 && a->layers[1].fused);
    gf_model_fuse(b, 0);
    CHECK(b->layers[0].nfused == 0 && !b->layers[1].fused);
    gf_model_init(a, 5);
    gf_model_init(b, 5);
    fill_batch(a, B, 9, y);
    fill_batch(b, B, 9, y);
    const float *la = gf_model_forward(a, gf_model_input(a), B, 1, 3);
    const float *lb = gf_model_forward(b, gf_model_input(b), B, 1, 3);
    CHECK(!memcmp(la, lb, sizeof(float) * B * a->num_classes));
    double loss_a = gf_model_backward(a, y, B, NULL), loss_b = gf_model_backward(b, y, B, NULL);
    CHECK(loss_a == loss_b);
    CHECK(!memcmp(a->grads, b->grads, sizeof(float) * a->nparams));
    gf_model_free(a);
    gf_model_free(b);
}

/* The test links with -Wl,--wrap for the allocators, so every allocation
 * made by libgf's code (linked statically into this binary) is counted. */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t k);
void *__real_realloc(void *p, size_t n);
int __real_posix_memalign(void **p, size_t a, size_t n);
static int counting, allocations;
void *__wrap_malloc(size_t n) { allocations += counting; return __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t k) { allocations += counting; return __real_calloc(n, k); }
void *__wrap_realloc(void *p, size_t n) { allocations += counting; return __real_realloc(p, n); }
int __wrap_posix_memalign(void **p, size_t a, size_t n)
{
    allocations += counting;
    return __real_posix_memalign(p, a, n);
}

/* Training steps and evaluation make no allocation in libgf's code, and
 * (outside ASan, which replaces malloc) leave the heap as it was. */
static void test_step_allocates_nothing(void)
{
    const int B = 16;
    gf_model *m;
    int32_t y[16];
    CHECK(gf_model_create("seq:1x28x28-conv8k5p2-relu-maxpool2-dropout0.2-layernorm-flatten-linear32-gelu-linear10",
                          B, 2, &m) == GF_OK);
    gf_model_init(m, 1);
    gf_optim_config cfg = gf_optim_defaults(GF_OPTIM_ADAMW, 1e-3f);
    gf_optim o;
    CHECK(gf_optim_create(&cfg, m->nparams, &o) == GF_OK);
    fill_batch(m, B, 1, y);
    for (int warm = 0; warm < 2; warm++) {
        gf_model_forward(m, gf_model_input(m), B, 1, (uint64_t)warm);
        gf_model_backward(m, y, B, NULL);
        gf_optim_step(&o, m->params, m->grads);
    }
#if !defined(__SANITIZE_ADDRESS__)
    struct mallinfo2 before = mallinfo2();
#endif
    counting = 1;
    for (int step = 0; step < 5; step++) {
        gf_model_forward(m, gf_model_input(m), B, 1, (uint64_t)step);
        gf_model_backward(m, y, B, NULL);
        gf_optim_step(&o, m->params, m->grads);
    }
    double loss, acc;
    gf_model_evaluate(m, gf_model_input(m), y, B, &loss, &acc);
    counting = 0;
#if !defined(__SANITIZE_ADDRESS__)
    struct mallinfo2 after = mallinfo2();
#endif
    CHECK_MSG(allocations == 0, "%d allocations during training steps", allocations);
    /* the counter itself works: building a model allocates */
    gf_model *other;
    counting = 1;
    CHECK(gf_model_create("mlp:4-3", 2, 1, &other) == GF_OK);
    counting = 0;
    CHECK_MSG(allocations > 0, "allocation counter saw nothing");
    gf_model_free(other);
#if !defined(__SANITIZE_ADDRESS__)
    CHECK_MSG(after.uordblks == before.uordblks && after.hblkhd == before.hblkhd,
              "heap in use changed: %zu -> %zu, mmapped %zu -> %zu", before.uordblks,
              after.uordblks, before.hblkhd, after.hblkhd);
#endif
    gf_optim_free(&o);
    gf_model_free(m);
}

/* A GPT step (forward, backward, clipping, AdamW with its decay mask, the
 * schedule) and its evaluation allocate nothing in libgf either. */
static void test_gpt_step_allocates_nothing(void)
{
    const int B = 3, T = 16;
    gf_model *m;
    CHECK(gf_model_create("gpt:L=2,H=2,C=16,T=16,V=32", B, 2, &m) == GF_OK);
    gf_model_init(m, 3);
    gf_optim_config cfg = gf_optim_defaults(GF_OPTIM_ADAMW, 1e-3f);
    gf_optim o;
    CHECK(gf_optim_create(&cfg, m->nparams, &o) == GF_OK);
    CHECK(gf_optim_no_decay(&o, 0, 16) == GF_OK);
    gf_lr_schedule sched = { GF_LR_COSINE, 2, 10, 0.1f };
    int32_t *tok = gf_model_input(m), y[3 * 16];
    gf_rng r;
    gf_rng_seed(&r, 9);
    for (int i = 0; i < B * T; i++) { tok[i] = (int32_t)gf_rng_below(&r, 32); y[i] = (int32_t)gf_rng_below(&r, 32); }
    int before_count = allocations;
    counting = 1;
    for (int step = 0; step < 4; step++) {
        o.cfg.lr = gf_lr_at(&sched, 1e-3f, step);
        CHECK(gf_model_forward(m, tok, B, 1, 0) != NULL);
        gf_model_backward(m, y, B, NULL);
        gf_clip_grad_norm(m->grads, m->nparams, 1.0f);
        gf_optim_step(&o, m->params, m->grads);
    }
    double loss, acc;
    gf_model_evaluate(m, tok, y, B, &loss, &acc);
    counting = 0;
    CHECK_MSG(allocations == before_count, "%d allocations during gpt steps", allocations - before_count);
    CHECK(isfinite(loss) && loss > 0 && acc >= 0 && acc <= 1);
    gf_optim_free(&o);
    gf_model_free(m);
}

/* DP-SGD's step (batch-1 workers sharing the parameters, clipping, noise)
 * allocates nothing in libgf either. */
static void test_dpsgd_step_allocates_nothing(void)
{
    gf_model *m;
    CHECK(gf_model_create("seq:1x12x12-conv4k3p1-relu-maxpool2-dropout0.2-layernorm-flatten-linear16-gelu-linear5",
                          1, 2, &m) == GF_OK);
    gf_model_init(m, 2);
    gf_dpsgd_config c = { .enabled = 1, .clip = 0.5, .noise = 1.0, .delta = 1e-5 };
    gf_dpsgd *dp;
    CHECK(gf_dpsgd_create(&c, m, 2, &dp) == GF_OK);
    gf_optim_config cfg = gf_optim_defaults(GF_OPTIM_ADAMW, 1e-3f);
    gf_optim o;
    CHECK(gf_optim_create(&cfg, m->nparams, &o) == GF_OK);
    enum { N = 24 };
    gf_dataset d = { .n = N, .c = 1, .h = 12, .w = 12, .dim = 144, .num_classes = 5 };
    d.x = malloc(sizeof(float) * N * 144);
    d.y = malloc(sizeof(int32_t) * N);
    int64_t idx[N];
    gf_rng r;
    gf_rng_seed(&r, 5);
    for (int i = 0; i < N * 144; i++) d.x[i] = gf_rng_uniform(&r);
    for (int i = 0; i < N; i++) { d.y[i] = (int32_t)gf_rng_below(&r, 5); }
    for (int warm = 0; warm < 2; warm++) {
        int64_t k = gf_dpsgd_sample(N, 0.3, 1, (uint64_t)warm, idx);
        CHECK(gf_dpsgd_gradient(dp, &d, idx, k, 0.3 * N, (uint64_t)warm, NULL) == GF_OK);
        gf_optim_step(&o, m->params, m->grads);
    }
#if !defined(__SANITIZE_ADDRESS__)
    struct mallinfo2 before = mallinfo2();
#endif
    allocations = 0;
    counting = 1;
    for (int step = 2; step < 6; step++) {
        int64_t k = gf_dpsgd_sample(N, 0.3, 1, (uint64_t)step, idx);
        CHECK(gf_dpsgd_gradient(dp, &d, idx, k, 0.3 * N, (uint64_t)step, NULL) == GF_OK);
        gf_optim_step(&o, m->params, m->grads);
    }
    counting = 0;
#if !defined(__SANITIZE_ADDRESS__)
    struct mallinfo2 after = mallinfo2();
    CHECK_MSG(after.uordblks == before.uordblks && after.hblkhd == before.hblkhd,
              "DP-SGD step: heap in use changed: %zu -> %zu, mmapped %zu -> %zu", before.uordblks,
              after.uordblks, before.hblkhd, after.hblkhd);
#endif
    CHECK_MSG(allocations == 0, "%d allocations during DP-SGD steps", allocations);
    free(d.x);
    free(d.y);
    gf_optim_free(&o);
    gf_dpsgd_free(dp);
    gf_model_free(m);
}

int main(void)
{
    test_specs();
    test_spec_sizes();
    test_fusion_same_bits();
    test_step_allocates_nothing();
    test_gpt_step_allocates_nothing();
    test_dpsgd_step_allocates_nothing();
    return check_summary();
}
