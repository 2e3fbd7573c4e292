/* The task message's one encoder and one decoder (see task.h). */
#include "fed/task.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "data/preprocess.h"
#include "data/stats.h"

#define MAX_ID ((int64_t)1 << 62)    /* job and round numbers */

/* ---- decoding ------------------------------------------------------------------ */

static gf_status bad(const char *where, const char *key, const char *want)
{
    return gf_errorf(GF_ERR_FORMAT, "task: %s%s%s %s", where, *where ? "." : "", key, want);
}

/* Every key of o is one of keys (NULL-terminated); the required ones (the
 * first nreq) are all there. */
static gf_status check_keys(const json_t *o, const char *where, const char *const *keys, int nreq)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)o, k, v) {
        int known = 0;
        for (int i = 0; keys[i] && !known; i++) known = !strcmp(k, keys[i]);
        if (!known) return gf_errorf(GF_ERR_FORMAT, "task: unknown key \"%.40s\"%s%s", k, *where ? " in " : "", where);
    }
    for (int i = 0; i < nreq; i++)
        if (!json_object_get(o, keys[i])) return bad(where, keys[i], "is missing");
    return GF_OK;
}

static gf_status get_int(const json_t *o, const char *where, const char *key, int64_t lo, int64_t hi, int64_t *out)
{
    const json_t *v = json_object_get(o, key);
    char want[96];
    snprintf(want, sizeof want, "must be an integer in [%lld, %lld]", (long long)lo, (long long)hi);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) return bad(where, key, want);
    *out = json_integer_value(v);
    return GF_OK;
}

static int in_range(double x, double lo, int lo_open, double hi, int hi_open)
{
    return isfinite(x) && x >= lo && !(lo_open && x == lo) && x <= hi && !(hi_open && x == hi);
}

static gf_status out_of_range(const char *where, const char *key, double lo, int lo_open, double hi, int hi_open,
                              const char *as)
{
    char want[96];
    snprintf(want, sizeof want, "must be a finite number in %c%g, %g%c%s", lo_open ? '(' : '[', lo, hi,
             hi_open ? ')' : ']', as);
    return bad(where, key, want);
}

/* A finite number in [lo, hi], or (lo, hi] / [lo, hi) with lo_open / hi_open. */
static gf_status get_num(const json_t *o, const char *where, const char *key, double lo, int lo_open, double hi,
                         int hi_open, double *out)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_number(v) || !in_range(json_number_value(v), lo, lo_open, hi, hi_open))
        return out_of_range(where, key, lo, lo_open, hi, hi_open, "");
    *out = json_number_value(v);
    return GF_OK;
}

/* The same for a float setting: the range holds for the value rounded to a
 * float (0.99999997 is 1 as a float), so that what is decoded encodes again. */
static gf_status get_float(const json_t *o, const char *where, const char *key, double lo, int lo_open, double hi,
                           int hi_open, float *out)
{
    double x = 0;
    gf_status st = get_num(o, where, key, lo, lo_open, hi, hi_open, &x);
    if (!st && !in_range((double)(float)x, lo, lo_open, hi, hi_open))
        st = out_of_range(where, key, lo, lo_open, hi, hi_open, " (as a float)");
    if (!st) *out = (float)x;
    return st;
}

/* A string of 1 to cap - 1 bytes without a NUL (empty: allow_empty). */
static gf_status get_str(const json_t *o, const char *where, const char *key, char *out, size_t cap, int allow_empty)
{
    const json_t *v = json_object_get(o, key);
    const char *s = json_string_value(v);
    char want[96];
    snprintf(want, sizeof want, "must be a string of %d to %zu bytes", allow_empty ? 0 : 1, cap - 1);
    if (!s || json_string_length(v) >= cap || strlen(s) != json_string_length(v) || (!allow_empty && !*s))
        return bad(where, key, want);
    memcpy(out, s, strlen(s) + 1);
    return GF_OK;
}

/* A path the task must carry exactly (the one its job and round name). */
static gf_status get_path(const json_t *o, const char *where, const char *key, const char *want_path, char *out)
{
    gf_status st = get_str(o, where, key, out, GF_FED_TASK_PATH_MAX, 0);
    if (st) return st;
    if (strcmp(out, want_path)) {
        char want[GF_FED_TASK_PATH_MAX + 32];
        snprintf(want, sizeof want, "must be \"%s\"", want_path);
        return bad(where, key, want);
    }
    return GF_OK;
}

static gf_status decode_optim(const json_t *o, gf_optim_config *out)
{
    static const char *const keys[] = { "name", "lr", "momentum", "weight_decay", "beta1", "beta2", "eps", NULL };
    const char *w = "local.optim";
    if (!json_is_object(o)) return gf_errorf(GF_ERR_FORMAT, "task: local.optim must be an object");
    gf_status st = check_keys(o, w, keys, 7);
    if (st) return st;
    const char *name = json_string_value(json_object_get(o, "name"));
    gf_optim_type t;
    if (!name || gf_optim_type_parse(name, &t)) return bad(w, "name", "must name an optimizer (sgd or adamw)");
    *out = gf_optim_defaults(t, 1.0f);
    if ((st = get_float(o, w, "lr", 0.0, 1, INFINITY, 0, &out->lr)) ||
        (st = get_float(o, w, "momentum", 0.0, 0, 1.0, 1, &out->momentum)) ||
        (st = get_float(o, w, "weight_decay", 0.0, 0, INFINITY, 0, &out->weight_decay)) ||
        (st = get_float(o, w, "beta1", 0.0, 0, 1.0, 1, &out->beta1)) ||
        (st = get_float(o, w, "beta2", 0.0, 0, 1.0, 1, &out->beta2)) ||
        (st = get_float(o, w, "eps", 0.0, 1, 1.0, 0, &out->eps)))
        return st;
    return GF_OK;
}

static gf_status decode_local(const json_t *o, gf_fed_task *t)
{
    static const char *const keys[] = { "epochs", "steps", "batch", "optim", "dp_sgd", NULL };
    if (!json_is_object(o)) return gf_errorf(GF_ERR_FORMAT, "task: local must be an object");
    gf_status st = check_keys(o, "local", keys, 4);
    if (st) return st;
    int64_t epochs, batch, steps = -1;
    if ((st = get_int(o, "local", "epochs", 1, 1000000, &epochs)) ||
        (st = get_int(o, "local", "batch", 1, 65536, &batch)))
        return st;
    if (!json_is_null(json_object_get(o, "steps")) && get_int(o, "local", "steps", 0, 1000000000, &steps))
        return bad("local", "steps", "must be null or an integer in [0, 1000000000]");
    t->local.epochs = (int)epochs;
    t->local.batch = (int)batch;
    t->local.steps = steps;
    if ((st = decode_optim(json_object_get(o, "optim"), &t->local.optim))) return st;
    const json_t *dp = json_object_get(o, "dp_sgd");
    if (!dp) return GF_OK;
    static const char *const dkeys[] = { "clip", "noise", "delta", NULL };
    if (!json_is_object(dp)) return gf_errorf(GF_ERR_FORMAT, "task: local.dp_sgd must be an object");
    gf_dpsgd_config *c = &t->local.dpsgd;
    c->enabled = 1;
    if ((st = check_keys(dp, "local.dp_sgd", dkeys, 3)) ||
        (st = get_num(dp, "local.dp_sgd", "clip", 0.0, 1, INFINITY, 0, &c->clip)) ||
        (st = get_num(dp, "local.dp_sgd", "noise", 0.0, 0, INFINITY, 0, &c->noise)) ||
        (st = get_num(dp, "local.dp_sgd", "delta", 0.0, 0, 1.0, 0, &c->delta)))
        return st;
    if ((st = gf_dpsgd_check(c))) return gf_errorf(GF_ERR_FORMAT, "task: local.dp_sgd: %s", gf_last_error());
    return GF_OK;
}

static gf_status decode_secagg(const json_t *o, const char *want_path, gf_fed_task_secagg *s)
{
    static const char *const keys[] = { "index", "n", "k", "t", "d", "clip", "max_weight", "dp_clip", "dp_noise_std",
                                        "dp_count", "dp_count_noise_std", "path", "attempt", NULL };
    const char *w = "secure_aggregation";
    if (!json_is_object(o)) return gf_errorf(GF_ERR_FORMAT, "task: secure_aggregation must be an object");
    gf_status st = check_keys(o, w, keys, 13);
    if (st) return st;
    int64_t n, k, t, d, index;
    gf_secround_public *p = &s->pub;
    if ((st = get_int(o, w, "n", 2, GF_SECAGG_MAX_CLIENTS, &n)) || (st = get_int(o, w, "k", 1, n, &k)) ||
        (st = get_int(o, w, "t", 1, n, &t)) || (st = get_int(o, w, "index", 0, n - 1, &index)) ||
        (st = get_int(o, w, "d", 2, GF_SPEC_MAX_PARAMS + 2, &d)) ||
        (st = get_num(o, w, "clip", 0.0, 1, INFINITY, 0, &p->clip)) ||
        (st = get_num(o, w, "max_weight", 0.0, 1, INFINITY, 0, &p->max_weight)) ||
        (st = get_num(o, w, "dp_clip", 0.0, 0, INFINITY, 0, &p->dp_clip)) ||
        (st = get_num(o, w, "dp_noise_std", 0.0, 0, INFINITY, 0, &p->dp_noise_std)) ||
        (st = get_num(o, w, "dp_count_noise_std", 0.0, 0, INFINITY, 0, &p->dp_count_noise_std)) ||
        (st = get_path(o, w, "path", want_path, s->path)))
        return st;
    if (!json_is_boolean(json_object_get(o, "dp_count"))) return bad(w, "dp_count", "must be true or false");
    p->dp_count = json_is_true(json_object_get(o, "dp_count"));
    if ((st = get_str(o, w, "attempt", s->attempt, sizeof s->attempt, 0))) return st;
    if (strspn(s->attempt, "0123456789abcdef") != strlen(s->attempt))
        return bad(w, "attempt", "must be lowercase hexadecimal");
    p->p.n = (int)n, p->p.k = (int)k, p->p.t = (int)t, p->p.d = d;
    s->index = (int)index;
    s->enabled = 1;
    return GF_OK;
}

static gf_status decode_stats(const json_t *o, gf_fedstats_config *c)
{
    static const char *const keys[] = { "columns", "bins", "classes", "min_count", "ranges", NULL };
    const char *w = "statistics";
    if (!json_is_object(o)) return gf_errorf(GF_ERR_FORMAT, "task: statistics must be an object");
    gf_status st = check_keys(o, w, keys, 5);
    if (st) return st;
    int64_t columns, bins, classes;
    if ((st = get_int(o, w, "columns", 1, GF_STATS_MAX_COLUMNS, &columns)) ||
        (st = get_int(o, w, "bins", 0, GF_STATS_MAX_BINS, &bins)) ||
        (st = get_int(o, w, "classes", 1, GF_STATS_MAX_CLASSES, &classes)) ||
        (st = get_int(o, w, "min_count", 1, 1000000000, &c->min_count)))
        return st;
    const json_t *r = json_object_get(o, "ranges");
    size_t n = json_array_size(r);
    if (!json_is_array(r) || n > GF_FED_TASK_MAX_RANGES || (n > 1 && n != (size_t)columns))
        return bad(w, "ranges", "must be an array of none, one, or one [lo, hi] per column");
    c->columns = columns;
    c->bins = (int)bins;
    c->classes = (int)classes;
    c->nranges = (int64_t)n;
    if (n && !(c->range = malloc(sizeof *c->range * 2 * n))) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(r, i);
        if (!json_is_array(e) || json_array_size(e) != 2 || !json_is_number(json_array_get(e, 0)) ||
            !json_is_number(json_array_get(e, 1)))
            return bad(w, "ranges", "must hold [lo, hi] pairs of numbers");
        c->range[2 * i] = json_number_value(json_array_get(e, 0));
        c->range[2 * i + 1] = json_number_value(json_array_get(e, 1));
    }
    gf_stats_plan plan = { .columns = c->columns, .bins = c->bins, .classes = c->classes, .range = c->range,
                           .nranges = c->nranges };
    if ((st = gf_stats_plan_check(&plan))) return gf_errorf(GF_ERR_FORMAT, "task: %s", gf_last_error());
    c->enabled = 1;
    return GF_OK;
}

static gf_status decode_root(const json_t *o, gf_fed_task *t)
{
    static const char *const keys[] = { "job", "name", "tenant", "site", "round", "model", "strategy", "mu", "local",
                                        "seed", "deadline_in_s", "model_path", "update_path",
                                        "secure_aggregation", "evaluate", "statistics", "preprocess", NULL };
    if (!json_is_object(o)) return gf_errorf(GF_ERR_FORMAT, "task: not a JSON object");
    gf_status st = check_keys(o, "", keys, 13);
    if (st) return st;
    int64_t seed;
    if ((st = get_int(o, "", "job", 1, MAX_ID, &t->job)) || (st = get_int(o, "", "round", 1, MAX_ID, &t->round)) ||
        (st = get_str(o, "", "name", t->name, sizeof t->name, 0)) ||
        (st = get_str(o, "", "site", t->site, sizeof t->site, 0)))
        return st;
    if (!json_is_null(json_object_get(o, "tenant")) && get_str(o, "", "tenant", t->tenant, sizeof t->tenant, 0))
        return bad("", "tenant", "must be null or a string of 1 to 64 bytes");
    const json_t *stats = json_object_get(o, "statistics");
    if (stats && (st = decode_stats(stats, &t->stats))) return st;
    if ((st = get_str(o, "", "model", t->model, sizeof t->model, stats != NULL))) return st;
    gf_spec spec;
    if (stats && t->model[0]) return bad("", "model", "must be \"\" in a statistics task");
    if (!stats && gf_spec_parse(t->model, &spec)) return gf_errorf(GF_ERR_FORMAT, "task: model: %s", gf_last_error());
    const char *strategy = json_string_value(json_object_get(o, "strategy"));
    if (!strategy || gf_strategy_type_parse(strategy, &t->strategy)) return bad("", "strategy", "must name a strategy");
    if ((st = get_num(o, "", "mu", 0.0, 0, INFINITY, 0, &t->mu)) ||
        (st = get_int(o, "", "seed", 0, INT64_MAX, &seed)) ||
        (st = get_num(o, "", "deadline_in_s", -1e9, 0, 1e9, 0, &t->deadline_in_s)) ||
        (st = decode_local(json_object_get(o, "local"), t)))
        return st;
    t->seed = (uint64_t)seed;
    gf_fed_task want = { .job = t->job, .round = t->round };
    gf_fed_task_set_paths(&want);
    if ((st = get_path(o, "", "model_path", want.model_path, t->model_path)) ||
        (st = get_path(o, "", "update_path", want.update_path, t->update_path)))
        return st;
    const json_t *pp = json_object_get(o, "preprocess");
    if (pp) {                          /* kept as text, checked whole now so the site can rely on it */
        gf_preprocess check;
        if (!json_is_object(pp)) return bad("", "preprocess", "must be an object");
        if (!(t->preprocess = json_dumps(pp, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17))))
            return gf_errorf(GF_ERR_NOMEM, "out of memory");
        if (gf_preprocess_from_json(t->preprocess, strlen(t->preprocess), &check))
            return gf_errorf(GF_ERR_FORMAT, "task: %s", gf_last_error());
        gf_preprocess_free(&check);
    }
    const json_t *sa = json_object_get(o, "secure_aggregation");
    if (sa && (st = decode_secagg(sa, want.secagg.path, &t->secagg))) return st;
    const json_t *ev = json_object_get(o, "evaluate");
    if (!ev) return GF_OK;
    static const char *const ekeys[] = { "path", "only", NULL };
    if (!json_is_object(ev)) return bad("", "evaluate", "must be an object");
    if ((st = check_keys(ev, "evaluate", ekeys, 2)) ||
        (st = get_path(ev, "evaluate", "path", want.evaluate.path, t->evaluate.path)))
        return st;
    if (!json_is_boolean(json_object_get(ev, "only"))) return bad("evaluate", "only", "must be true or false");
    t->evaluate.only = json_is_true(json_object_get(ev, "only"));
    if (t->evaluate.only && t->secagg.enabled)
        return bad("", "evaluate", "only: an evaluation round has no secure aggregation");
    t->evaluate.enabled = 1;
    return GF_OK;
}

gf_status gf_fed_task_decode(const char *json, size_t len, gf_fed_task *out)
{
    memset(out, 0, sizeof *out);
    if (len > GF_FED_TASK_MAX)
        return gf_errorf(GF_ERR_FORMAT, "task: %zu bytes, over the limit of %zu", len, GF_FED_TASK_MAX);
    json_error_t e;
    json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &e);
    if (!o) return gf_errorf(GF_ERR_FORMAT, "task: not JSON: %s (line %d, column %d)", e.text, e.line, e.column);
    gf_status st = decode_root(o, out);
    json_decref(o);
    if (st) {
        gf_fed_task_free(out);
        memset(out, 0, sizeof *out);
    }
    return st;
}

void gf_fed_task_free(gf_fed_task *t)
{
    if (!t) return;
    free(t->stats.range);
    t->stats.range = NULL;
    free(t->preprocess);
    t->preprocess = NULL;
}

/* ---- encoding ------------------------------------------------------------------ */

void gf_fed_task_set_paths(gf_fed_task *t)
{
    const char *fmt = "/v1/jobs/%lld/rounds/%lld/%s";
    snprintf(t->model_path, sizeof t->model_path, fmt, (long long)t->job, (long long)t->round, "model");
    snprintf(t->update_path, sizeof t->update_path, fmt, (long long)t->job, (long long)t->round, "update");
    snprintf(t->secagg.path, sizeof t->secagg.path, fmt, (long long)t->job, (long long)t->round, "secagg");
    snprintf(t->evaluate.path, sizeof t->evaluate.path, fmt, (long long)t->job, (long long)t->round, "eval");
}

static json_t *encode_json(const gf_fed_task *t)
{
    const gf_optim_config *oc = &t->local.optim;
    json_t *optim = json_pack("{s:s,s:f,s:f,s:f,s:f,s:f,s:f}", "name", gf_optim_type_name(oc->type),
                              "lr", (double)oc->lr, "momentum", (double)oc->momentum,
                              "weight_decay", (double)oc->weight_decay, "beta1", (double)oc->beta1,
                              "beta2", (double)oc->beta2, "eps", (double)oc->eps);
    json_t *local = json_pack("{s:i,s:o,s:i,s:o}", "epochs", t->local.epochs,
                              "steps", t->local.steps < 0 ? json_null() : json_integer(t->local.steps),
                              "batch", t->local.batch, "optim", optim);
    if (local && t->local.dpsgd.enabled)
        json_object_set_new(local, "dp_sgd", json_pack("{s:f,s:f,s:f}", "clip", t->local.dpsgd.clip,
                                                       "noise", t->local.dpsgd.noise, "delta", t->local.dpsgd.delta));
    json_t *o = json_pack("{s:I,s:s,s:o,s:s,s:I,s:s,s:s,s:f,s:o,s:I,s:f,s:s,s:s}", "job", (json_int_t)t->job,
                          "name", t->name, "tenant", t->tenant[0] ? json_string(t->tenant) : json_null(),
                          "site", t->site, "round", (json_int_t)t->round, "model", t->model,
                          "strategy", gf_strategy_type_name(t->strategy), "mu", t->mu, "local", local,
                          "seed", (json_int_t)t->seed, "deadline_in_s", t->deadline_in_s,
                          "model_path", t->model_path, "update_path", t->update_path);
    const gf_fed_task_secagg *s = &t->secagg;
    if (o && s->enabled) {
        const gf_secround_public *p = &s->pub;
        json_t *sa = json_pack("{s:i,s:i,s:i,s:i,s:I,s:f,s:f,s:f,s:f,s:b,s:f,s:s,s:s}", "index", s->index,
                               "n", p->p.n, "k", p->p.k, "t", p->p.t, "d", (json_int_t)p->p.d, "clip", p->clip,
                               "max_weight", p->max_weight, "dp_clip", p->dp_clip, "dp_noise_std", p->dp_noise_std,
                               "dp_count", p->dp_count, "dp_count_noise_std", p->dp_count_noise_std,
                               "path", s->path, "attempt", s->attempt);
        if (!sa) { json_decref(o); return NULL; }
        json_object_set_new(o, "secure_aggregation", sa);
    }
    if (o && t->evaluate.enabled)
        json_object_set_new(o, "evaluate", json_pack("{s:s,s:b}", "path", t->evaluate.path, "only", t->evaluate.only));
    if (o && t->preprocess) {
        json_t *pp = json_loads(t->preprocess, 0, NULL);
        if (!pp || json_object_set_new(o, "preprocess", pp)) { json_decref(o); return NULL; }
    }
    const gf_fedstats_config *c = &t->stats;
    if (o && c->enabled) {
        json_t *r = json_array();
        for (int64_t i = 0; r && i < c->nranges; i++)
            json_array_append_new(r, json_pack("[f,f]", c->range[2 * i], c->range[2 * i + 1]));
        json_t *so = r ? json_pack("{s:I,s:i,s:i,s:I,s:o}", "columns", (json_int_t)c->columns, "bins", c->bins,
                                   "classes", c->classes, "min_count", (json_int_t)c->min_count, "ranges", r) : NULL;
        if (!so) { json_decref(o); return NULL; }
        json_object_set_new(o, "statistics", so);
    }
    return o;
}

gf_status gf_fed_task_encode(const gf_fed_task *t, char **json)
{
    *json = NULL;
    /* json_pack refuses a string that is not UTF-8 (and fails): checked below */
    json_t *o = encode_json(t);
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!s) return gf_errorf(GF_ERR_ARG, "task: cannot encode (a name, the model or a path is not UTF-8, or out of memory)");
    gf_fed_task back;                 /* what the site will see: refused here rather than there */
    if (gf_fed_task_decode(s, strlen(s), &back)) {
        free(s);
        return gf_errorf(GF_ERR_ARG, "task: would not decode: %s", gf_last_error());
    }
    gf_fed_task_free(&back);
    *json = s;
    return GF_OK;
}

gf_status gf_fed_task_encode_answer(const gf_fed_task *t, int with_model, char **out, size_t *len)
{
    *len = 0;
    gf_status st = gf_fed_task_encode(t, out);
    if (st) return st;
    size_t n = strlen(*out), total = with_model ? (n + 1 + 7) / 8 * 8 : n;
    char *h = with_model ? realloc(*out, total) : *out;
    if (!h) {
        free(*out);
        *out = NULL;
        return gf_errorf(GF_ERR_NOMEM, "task: out of memory");
    }
    if (with_model) {
        memset(h + n, ' ', total - 1 - n);
        h[total - 1] = 0;
    }
    *out = h;
    *len = total;
    return GF_OK;
}

void gf_fed_task_split(const char *answer, size_t len, size_t *task_len, const uint8_t **model, size_t *model_len)
{
    size_t scan = len < GF_FED_TASK_MAX + 8 ? len : GF_FED_TASK_MAX + 8;   /* a longer task is refused anyway */
    const char *nul = memchr(answer, 0, scan);
    *task_len = nul ? (size_t)(nul - answer) : len;
    *model = nul ? (const uint8_t *)nul + 1 : NULL;
    *model_len = nul ? len - *task_len - 1 : 0;
    while (nul && *task_len > 0 && answer[*task_len - 1] == ' ') --*task_len;   /* the padding */
}
