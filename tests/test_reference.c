/* gf against PyTorch: tests/data/reference.safetensors (written by
 * scripts/gen_reference.py with Debian's python3-torch, in float64) holds
 * inputs, logits, loss, every gradient and 10-step loss
 * trajectories under SGD and AdamW for three models. gf must match the
 * logits and each gradient within 1e-4 x the tensor's largest magnitude and
 * each trajectory loss within 1e-4 relative. */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "core/rng.h"
#include "engine/model.h"
#include "engine/optim.h"
#include "io/safetensors.h"
#include "reference_init.h"

#ifndef REF_PATH
#define REF_PATH "tests/data/reference.safetensors"
#endif

static gf_st_file *ref;

static float *read_ref(const char *name, int64_t n)
{
    float *buf = malloc(sizeof(float) * (size_t)n);
    if (gf_st_read_f32(ref, name, -1, NULL, buf)) {
        fprintf(stderr, "reference: %s\n", gf_last_error());
        exit(1);
    }
    return buf;
}

static double meta_num(const char *key)
{
    const char *v = gf_st_meta_get(ref, key);
    if (!v) { fprintf(stderr, "reference lacks metadata %s\n", key); exit(1); }
    return atof(v);
}

/* The initial weights of case c, from its seed in the file's metadata. */
static void load_init(gf_model *m, const char *c)
{
    char key[128];
    snprintf(key, sizeof key, "%s.seed", c);
    reference_init(ref, m, c, (uint64_t)meta_num(key));
}

/* max |a - b| <= tol * max |b| */
static void check_close(const char *what, const float *a, const float *b, int64_t n, double tol)
{
    double maxref = 0, maxdiff = 0;
    for (int64_t i = 0; i < n; i++) {
        if (fabs(b[i]) > maxref) maxref = fabs(b[i]);
        if (fabs(a[i] - b[i]) > maxdiff) maxdiff = fabs(a[i] - b[i]);
    }
    CHECK_MSG(maxdiff <= tol * maxref && maxref > 0, "%s: max diff %.3g vs max ref %.3g (ratio %.3g)",
              what, maxdiff, maxref, maxdiff / maxref);
    printf("  %-22s max|ref| %-10.4g max diff / max|ref| %.2e\n", what, maxref, maxdiff / maxref);
}

static void trajectory(const char *c, const char *spec, int B, const float *x, const int32_t *y,
                       gf_optim_type type)
{
    const char *oname = gf_optim_type_name(type);
    char key[96];
    gf_model *m;
    CHECK(gf_model_create(spec, B, 2, &m) == GF_OK);
    load_init(m, c);
    snprintf(key, sizeof key, "%s.%s.lr", c, oname);
    gf_optim_config cfg = gf_optim_defaults(type, (float)meta_num(key));
    snprintf(key, sizeof key, "%s.%s.weight_decay", c, oname);
    cfg.weight_decay = (float)meta_num(key);
    if (type == GF_OPTIM_SGD) {
        snprintf(key, sizeof key, "%s.%s.momentum", c, oname);
        cfg.momentum = (float)meta_num(key);
    }
    gf_optim o;
    CHECK(gf_optim_create(&cfg, m->nparams, &o) == GF_OK);
    snprintf(key, sizeof key, "%s.%s.losses", c, oname);
    float *want = read_ref(key, 10);
    double worst = 0;
    for (int s = 0; s < 10; s++) {
        gf_model_forward(m, x, B, 1, 0);
        double loss = gf_model_backward(m, y, B, NULL);
        gf_optim_step(&o, m->params, m->grads);
        double rel = fabs(loss - want[s]) / fabs(want[s]);
        if (rel > worst) worst = rel;
        CHECK_MSG(rel <= 1e-4, "%s %s step %d: loss %.7g vs torch %.7g", c, oname, s, loss, want[s]);
    }
    printf("  %-22s 10 steps, worst relative loss diff %.2e (last loss %.5f)\n", oname, worst, want[9]);
    free(want);
    gf_optim_free(&o);
    gf_model_free(m);
}

static void run_case(const char *c)
{
    char key[96];
    snprintf(key, sizeof key, "%s.spec", c);
    const char *spec = gf_st_meta_get(ref, key);
    CHECK(spec != NULL);
    if (!spec) return;
    snprintf(key, sizeof key, "%s.batch", c);
    int B = (int)meta_num(key);
    printf("case %s: %s, batch %d\n", c, spec, B);

    gf_model *m;
    CHECK(gf_model_create(spec, B, 2, &m) == GF_OK);
    CHECK_MSG(!strcmp(m->spec.canonical, spec), "canonical spec %s", m->spec.canonical);
    load_init(m, c);
    snprintf(key, sizeof key, "%s.x", c);
    float *x = read_ref(key, B * m->in_numel);
    snprintf(key, sizeof key, "%s.y", c);
    float *yf = read_ref(key, B);
    int32_t y[256];
    for (int i = 0; i < B; i++) y[i] = (int32_t)yf[i];

    const float *logits = gf_model_forward(m, x, B, 1, 0);
    snprintf(key, sizeof key, "%s.logits", c);
    float *want = read_ref(key, (int64_t)B * m->num_classes);
    check_close("logits", logits, want, (int64_t)B * m->num_classes, 1e-4);
    free(want);
    double loss = gf_model_backward(m, y, B, NULL);
    snprintf(key, sizeof key, "%s.loss", c);
    want = read_ref(key, 1);
    CHECK_MSG(fabs(loss - want[0]) <= 1e-4 * fabs(want[0]), "loss %.7g vs %.7g", loss, want[0]);
    printf("  %-22s gf %.7f torch %.7f\n", "loss", loss, want[0]);
    free(want);
    for (int i = 0; i < gf_model_num_tensors(m); i++) {
        gf_tensor_view v;
        gf_model_tensor(m, i, &v);
        snprintf(key, sizeof key, "%s.grad.%s", c, v.name);
        want = read_ref(key, v.numel);
        char what[64];
        snprintf(what, sizeof what, "grad %s", v.name);
        check_close(what, v.grad, want, v.numel, 1e-4);
        free(want);
    }
    gf_model_free(m);
    trajectory(c, spec, B, x, y, GF_OPTIM_SGD);
    trajectory(c, spec, B, x, y, GF_OPTIM_ADAMW);
    free(x);
    free(yf);
}

int main(void)
{
    if (gf_st_open(REF_PATH, &ref)) { fprintf(stderr, "%s\n", gf_last_error()); return 1; }
    run_case("mlp");
    run_case("cnn");
    run_case("ops");
    gf_st_close(ref);
    return check_summary();
}
