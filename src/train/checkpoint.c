/* Saving and restoring training runs as safetensors checkpoints. */
#include "train/checkpoint.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/safetensors.h"

#define FORMAT "gf-checkpoint-1"
#define MAX_META 40

typedef struct { gf_st_meta kv[MAX_META]; char val[MAX_META][128]; int n; } meta_list;

static void meta_add(meta_list *l, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void meta_add(meta_list *l, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->val[l->n], sizeof l->val[0], fmt, ap);
    va_end(ap);
    l->kv[l->n].key = key;
    l->kv[l->n].value = l->val[l->n];
    l->n++;
}

/* The shortest decimal that reads back as the same double (1.1, not 1.1000000000000001). */
static void meta_add_f64(meta_list *l, const char *key, double v)
{
    for (int digits = 15; digits <= 17; digits++) {
        meta_add(l, key, "%.*g", digits, v);
        if (strtod(l->val[l->n - 1], NULL) == v || digits == 17) return;
        l->n--;
    }
}

gf_status gf_checkpoint_save(const gf_trainer *t, const char *path, double test_accuracy)
{
    const gf_model *m = t->model;
    const gf_optim *o = &t->optim;
    int nt = gf_model_num_tensors(m);
    gf_st_tensor *ts = calloc((size_t)nt + 2, sizeof *ts);
    if (!ts) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    gf_tensor_view *views = calloc((size_t)nt + 1, sizeof *views);
    if (!views) { free(ts); return gf_errorf(GF_ERR_NOMEM, "out of memory"); }
    for (int i = 0; i < nt; i++) {
        gf_model_tensor(m, i, &views[i]);
        ts[i].name = views[i].name;
        ts[i].ndim = views[i].ndim;
        memcpy(ts[i].shape, views[i].shape, sizeof views[i].shape);
        ts[i].data = views[i].data;
    }
    for (int i = 0; i < o->nstate; i++) {
        gf_st_tensor *s = &ts[nt + i];
        s->name = gf_optim_state_name(o, i);
        s->ndim = 1;
        s->shape[0] = o->n;
        s->data = o->state + (size_t)i * o->n;
    }

    meta_list md = { .n = 0 };
    const gf_optim_config *c = &o->cfg;
    meta_add(&md, "format", "pt");
    meta_add(&md, "gf.format", FORMAT);
    meta_add(&md, "gf.spec", "%s", m->spec.canonical);
    meta_add(&md, "gf.epoch", "%d", t->epoch);
    meta_add(&md, "gf.step", "%" PRId64, t->step);
    meta_add(&md, "gf.seed", "%" PRIu64, t->cfg.seed);
    meta_add(&md, "gf.batch", "%d", t->cfg.batch);
    meta_add(&md, "gf.rng", "%" PRIu64 ":%d:%" PRId64, t->cfg.seed, t->epoch, t->step);
    meta_add(&md, "gf.optim", "%s", gf_optim_type_name(c->type));
    meta_add(&md, "gf.optim_step", "%" PRId64, o->step);
    meta_add(&md, "gf.lr", "%.9g", c->lr);
    meta_add(&md, "gf.momentum", "%.9g", c->momentum);
    meta_add(&md, "gf.weight_decay", "%.9g", c->weight_decay);
    meta_add(&md, "gf.beta1", "%.9g", c->beta1);
    meta_add(&md, "gf.beta2", "%.9g", c->beta2);
    meta_add(&md, "gf.eps", "%.9g", c->eps);
    const gf_lr_schedule *ls = &t->cfg.lr_schedule;
    meta_add(&md, "gf.grad_clip", "%.9g", t->cfg.grad_clip);
    meta_add(&md, "gf.accum", "%d", t->cfg.accum > 1 ? t->cfg.accum : 1);
    meta_add(&md, "gf.lr_schedule", "%s", gf_lr_kind_name(ls->kind));
    meta_add(&md, "gf.warmup_steps", "%" PRId64, ls->warmup);
    meta_add(&md, "gf.min_lr_frac", "%.9g", ls->min_frac);
    if (ls->kind == GF_LR_COSINE) meta_add(&md, "gf.lr_total_steps", "%" PRId64, ls->total);
    if (test_accuracy >= 0) meta_add(&md, "gf.test_accuracy", "%.6f", test_accuracy);
    if (t->dp) {
        const gf_dpsgd_config *dp = &t->cfg.dpsgd;
        double eps = NAN;
        gf_status est = gf_trainer_dp_epsilon(t, &eps, NULL);
        if (est) { free(ts); free(views); return est; }
        meta_add_f64(&md, "gf.dpsgd_clip", dp->clip);
        meta_add_f64(&md, "gf.dpsgd_noise", dp->noise);
        meta_add_f64(&md, "gf.dpsgd_delta", dp->delta);
        meta_add_f64(&md, "gf.dpsgd_sample_rate", t->dp_sample_rate);
        meta_add(&md, "gf.dpsgd_steps", "%" PRId64, t->dp_steps);
        meta_add(&md, "gf.dpsgd_epsilon", "%.9g", eps);
    }

    gf_status st = gf_st_write(path, ts, nt + o->nstate, md.kv, md.n);
    free(ts);
    free(views);
    return st;
}

/* Reads an integer or float metadata value; fails naming the key. */
static gf_status meta_i64(const gf_st_file *f, const char *path, const char *key, int64_t lo,
                          int64_t *out)
{
    const char *v = gf_st_meta_get(f, key);
    if (!v) return gf_errorf(GF_ERR_FORMAT, "%s: checkpoint metadata lacks \"%s\"", path, key);
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < lo)
        return gf_errorf(GF_ERR_FORMAT, "%s: checkpoint metadata \"%s\" = \"%s\" is not a valid "
                         "integer", path, key, v);
    *out = x;
    return GF_OK;
}

static gf_status meta_f32(const gf_st_file *f, const char *path, const char *key, float *out)
{
    const char *v = gf_st_meta_get(f, key);
    if (!v) return gf_errorf(GF_ERR_FORMAT, "%s: checkpoint metadata lacks \"%s\"", path, key);
    char *end;
    float x = strtof(v, &end);
    if (end == v || *end || x != x)
        return gf_errorf(GF_ERR_FORMAT, "%s: checkpoint metadata \"%s\" = \"%s\" is not a number",
                         path, key, v);
    *out = x;
    return GF_OK;
}

static gf_status meta_f64(const gf_st_file *f, const char *path, const char *key, double *out)
{
    const char *v = gf_st_meta_get(f, key);
    if (!v) return gf_errorf(GF_ERR_FORMAT, "%s: checkpoint metadata lacks \"%s\"", path, key);
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end || !isfinite(x))
        return gf_errorf(GF_ERR_FORMAT, "%s: checkpoint metadata \"%s\" = \"%s\" is not a number",
                         path, key, v);
    *out = x;
    return GF_OK;
}

/* The DP-SGD settings and accounting state of a run saved with it. */
static gf_status read_dpsgd(const gf_st_file *f, const char *path, gf_train_config *cfg,
                            double *rate, int64_t *steps)
{
    if (!gf_st_meta_get(f, "gf.dpsgd_clip")) return GF_OK;
    cfg->dpsgd.enabled = 1;
    gf_status st = meta_f64(f, path, "gf.dpsgd_clip", &cfg->dpsgd.clip);
    if (!st) st = meta_f64(f, path, "gf.dpsgd_noise", &cfg->dpsgd.noise);
    if (!st) st = meta_f64(f, path, "gf.dpsgd_delta", &cfg->dpsgd.delta);
    if (!st) st = meta_f64(f, path, "gf.dpsgd_sample_rate", rate);
    if (!st) st = meta_i64(f, path, "gf.dpsgd_steps", 0, steps);
    if (!st && !(*rate >= 0 && *rate <= 1))
        st = gf_errorf(GF_ERR_FORMAT, "%s: gf.dpsgd_sample_rate %g is not in [0, 1]", path, *rate);
    if (!st && gf_dpsgd_check(&cfg->dpsgd))
        st = gf_errorf(GF_ERR_FORMAT, "%s: bad DP-SGD settings in the metadata: %s", path, gf_last_error());
    return st;
}

/* Clipping, accumulation and the learning-rate schedule of a run saved with
 * them (checkpoints from before they were saved have none of the keys: the
 * run keeps cfg's defaults). */
static gf_status read_schedule(const gf_st_file *f, const char *path, gf_train_config *cfg)
{
    if (!gf_st_meta_get(f, "gf.lr_schedule")) return GF_OK;
    int64_t accum = 1;
    gf_status st = meta_f32(f, path, "gf.grad_clip", &cfg->grad_clip);
    if (!st) st = meta_i64(f, path, "gf.accum", 1, &accum);
    if (!st) st = gf_lr_kind_parse(gf_st_meta_get(f, "gf.lr_schedule"), &cfg->lr_schedule.kind);
    if (st == GF_ERR_ARG) st = gf_errorf(GF_ERR_FORMAT, "%s: checkpoint metadata: %s", path, gf_last_error());
    if (!st) st = meta_i64(f, path, "gf.warmup_steps", 0, &cfg->lr_schedule.warmup);
    if (!st) st = meta_f32(f, path, "gf.min_lr_frac", &cfg->lr_schedule.min_frac);
    if (!st && cfg->lr_schedule.kind == GF_LR_COSINE)
        st = meta_i64(f, path, "gf.lr_total_steps", 0, &cfg->lr_schedule.total);
    if (!st && (accum > 1000000 || !(cfg->grad_clip >= 0) || !isfinite(cfg->grad_clip) ||
                !(cfg->lr_schedule.min_frac >= 0 && cfg->lr_schedule.min_frac <= 1)))
        st = gf_errorf(GF_ERR_FORMAT, "%s: checkpoint metadata: accumulation %lld, clip %g or min_lr_frac %g "
                       "out of range", path, (long long)accum, cfg->grad_clip, cfg->lr_schedule.min_frac);
    cfg->accum = (int)accum;
    return st;
}

static gf_status open_checkpoint(const char *path, gf_st_file **f)
{
    gf_status st = gf_st_open(path, f);
    if (st) return st;
    const char *fmt = gf_st_meta_get(*f, "gf.format");
    const char *spec = gf_st_meta_get(*f, "gf.spec");
    if (!fmt || strcmp(fmt, FORMAT) || !spec) {
        gf_errorf(GF_ERR_FORMAT, "%s: not a gf checkpoint (metadata gf.format=%.40s, expected %s)",
                  path, fmt ? fmt : "missing", FORMAT);
        gf_st_close(*f);          /* after formatting: fmt points into the file */
        *f = NULL;
        return GF_ERR_FORMAT;
    }
    return GF_OK;
}

static gf_status read_params(const gf_st_file *f, gf_model *m)
{
    for (int i = 0; i < gf_model_num_tensors(m); i++) {
        gf_tensor_view v;
        gf_model_tensor(m, i, &v);
        gf_status st = gf_st_read_f32(f, v.name, v.ndim, v.shape, v.data);
        if (st) return st;
    }
    for (int64_t i = 0; i < m->nparams; i++)
        if (!isfinite(m->params[i]))
            return gf_errorf(GF_ERR_NUMERIC, "checkpoint holds a non-finite parameter (index %lld)",
                             (long long)i);
    return GF_OK;
}

gf_status gf_checkpoint_load_model(const char *path, int batch, int threads, gf_model **out)
{
    gf_st_file *f;
    *out = NULL;
    gf_status st = open_checkpoint(path, &f);
    if (st) return st;
    gf_model *m = NULL;
    st = gf_model_create(gf_st_meta_get(f, "gf.spec"), batch, threads, &m);
    if (!st) st = read_params(f, m);
    gf_st_close(f);
    if (st) { gf_model_free(m); return st; }
    *out = m;
    return GF_OK;
}

gf_status gf_checkpoint_resume(const char *path, int threads, gf_trainer **out)
{
    gf_st_file *f;
    *out = NULL;
    gf_status st = open_checkpoint(path, &f);
    if (st) return st;

    gf_train_config cfg = { .threads = threads, .accum = 1 };
    cfg.lr_schedule = (gf_lr_schedule){ .kind = GF_LR_CONSTANT, .min_frac = 0.1f };
    int64_t epoch = 0, step = 0, seed = 0, batch = 0, ostep = 0;
    snprintf(cfg.spec, sizeof cfg.spec, "%s", gf_st_meta_get(f, "gf.spec"));
    const char *oname = gf_st_meta_get(f, "gf.optim");
    if (!oname) st = gf_errorf(GF_ERR_FORMAT, "%s: checkpoint metadata lacks \"gf.optim\"", path);
    if (!st) st = gf_optim_type_parse(oname, &cfg.optim.type);
    if (!st) st = meta_i64(f, path, "gf.epoch", 0, &epoch);
    if (!st) st = meta_i64(f, path, "gf.step", 0, &step);
    if (!st) st = meta_i64(f, path, "gf.optim_step", 0, &ostep);
    if (!st) st = meta_i64(f, path, "gf.seed", 0, &seed);
    if (!st) st = meta_i64(f, path, "gf.batch", 1, &batch);
    if (!st) st = meta_f32(f, path, "gf.lr", &cfg.optim.lr);
    if (!st) st = meta_f32(f, path, "gf.momentum", &cfg.optim.momentum);
    if (!st) st = meta_f32(f, path, "gf.weight_decay", &cfg.optim.weight_decay);
    if (!st) st = meta_f32(f, path, "gf.beta1", &cfg.optim.beta1);
    if (!st) st = meta_f32(f, path, "gf.beta2", &cfg.optim.beta2);
    if (!st) st = meta_f32(f, path, "gf.eps", &cfg.optim.eps);
    if (!st && batch > 1000000) st = gf_errorf(GF_ERR_FORMAT, "%s: batch %lld is absurd", path, (long long)batch);
    double dp_rate = 0.0;
    int64_t dp_steps = 0;
    if (!st) st = read_dpsgd(f, path, &cfg, &dp_rate, &dp_steps);
    if (!st) st = read_schedule(f, path, &cfg);
    gf_trainer *t = NULL;
    if (!st) {
        cfg.seed = (uint64_t)seed;
        cfg.batch = (int)batch;
        st = gf_trainer_create(&cfg, &t);
    }
    if (!st) st = read_params(f, t->model);
    for (int i = 0; !st && i < t->optim.nstate; i++) {
        int64_t shape[1] = { t->optim.n };
        st = gf_st_read_f32(f, gf_optim_state_name(&t->optim, i), 1, shape,
                            t->optim.state + (size_t)i * t->optim.n);
    }
    gf_st_close(f);
    if (st) { gf_trainer_free(t); return st; }
    t->epoch = (int)epoch;
    t->step = step;
    t->optim.step = ostep;
    t->dp_sample_rate = dp_rate;
    t->dp_steps = dp_steps;
    *out = t;
    return GF_OK;
}

gf_status gf_checkpoint_read_meta(const char *path, const char *key, char **out)
{
    *out = NULL;
    gf_st_file *f;
    gf_status st = gf_st_open(path, &f);
    if (st) return st;
    const char *v = gf_st_meta_get(f, key);
    if (v && !(*out = strdup(v))) st = gf_errorf(GF_ERR_NOMEM, "out of memory");
    gf_st_close(f);
    return st;
}
