/* Job specs: JSON (jansson) -> validated gf_jobspec, and a parsed spec ->
 * canonical JSON. Parsing checks keys and types at each level, then values,
 * and names the JSON path of the first problem. The canonical writer is a
 * small string builder so that numbers come out in their shortest
 * round-tripping form (jansson prints every real with 17 digits). */
#include "jobspec/jobspec.h"
#include "data/dataset_name.h"
#include "data/stats.h"
#include "fed/task.h"
#include "jobspec/jobspec_program.h"

#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_LEN 160   /* a JSON path in a message */
#define DESC_LEN 96    /* a value shown in a message */
#define MAX_EXACT 9007199254740992.0   /* 2^53: reals up to here may stand for integers */

/* ---- messages --------------------------------------------------------- */

static void path_join(char *dst, const char *prefix, const char *key)
{
    if (prefix && *prefix) snprintf(dst, PATH_LEN, "%s.%s", prefix, key);
    else snprintf(dst, PATH_LEN, "%s", key);
}

/* Copies at most max bytes of s (len bytes) into dst (size > max + 4),
 * control bytes as '?', cut at a UTF-8 boundary, "..." when cut. */
static void sanitize(char *dst, const char *s, size_t len, size_t max)
{
    size_t n = len;
    int cut = 0;
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
        cut = 1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        dst[i] = c < 0x20 || c == 0x7F ? '?' : (char)c;
    }
    strcpy(dst + n, cut ? "..." : "");
}

static int reads_back(const char *buf, double x, int is_float)
{
    double y = strtod(buf, NULL);
    return is_float ? (float)y == (float)x : y == x;
}

/* Shortest "%g" text that reads back as exactly x (as a double, or as a
 * float when is_float: parsed to double, then rounded); positional rather
 * than 6e+02 for exponents up to 15 (8 for floats); ".0" added to a whole
 * number so that it reads as a real. */
static void fmt_shortest(char *buf, size_t n, double x, int is_float)
{
    int maxp = is_float ? 9 : 17, p;
    for (p = 1; p < maxp; p++) {
        snprintf(buf, n, "%.*g", p, x);
        if (reads_back(buf, x, is_float)) break;
    }
    if (p == maxp) snprintf(buf, n, "%.*g", p, x);
    const char *e = strchr(buf, 'e');
    if (e) {
        int ex = atoi(e + 1);
        char t[48];
        if (ex >= 0 && ex < (is_float ? 9 : 16)) {
            snprintf(t, sizeof t, "%.*g", ex + 1, x);
            if (reads_back(t, x, is_float) && strlen(t) < n) memcpy(buf, t, strlen(t) + 1);
        }
    }
    if (!strpbrk(buf, ".eEn")) strncat(buf, ".0", n - strlen(buf) - 1);
}

static void fmt_double(char *buf, size_t n, double x) { fmt_shortest(buf, n, x, 0); }
static void fmt_float(char *buf, size_t n, float f) { fmt_shortest(buf, n, (double)f, 1); }

/* A JSON value as shown after "got" in a message. */
static void describe(const json_t *v, char *buf, size_t n)
{
    char tmp[64];   /* 48 bytes + "..." */
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_OBJECT: snprintf(buf, n, "an object"); break;
    case JSON_ARRAY: snprintf(buf, n, "an array"); break;
    case JSON_STRING:
        sanitize(tmp, json_string_value(v), json_string_length(v), 48);
        snprintf(buf, n, "\"%s\"", tmp);
        break;
    case JSON_INTEGER: snprintf(buf, n, "%lld", (long long)json_integer_value(v)); break;
    case JSON_REAL: fmt_double(buf, n, json_real_value(v)); break;
    case JSON_TRUE: snprintf(buf, n, "true"); break;
    case JSON_FALSE: snprintf(buf, n, "false"); break;
    case JSON_NULL: snprintf(buf, n, "null"); break;
    }
}

/* "PATH: must be WHAT, got VALUE" */
static gf_status bad(const char *prefix, const char *key, const char *what, const json_t *v)
{
    char p[PATH_LEN], d[DESC_LEN];
    path_join(p, prefix, key);
    describe(v, d, sizeof d);
    return gf_errorf(GF_ERR_ARG, "%s: must be %s, got %s", p, what, d);
}

static gf_status missing(const char *prefix, const char *key)
{
    char p[PATH_LEN];
    path_join(p, prefix, key);
    return gf_errorf(GF_ERR_ARG, "%s: required key missing", p);
}

/* ---- typed getters: an absent key leaves *out unchanged --------------- */

/* Every key of obj must be in known (NULL-terminated); list is for the message. */
static gf_status check_keys(const json_t *obj, const char *prefix, const char *const *known,
                            const char *list, const char *context)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        int ok = 0;
        for (int i = 0; known[i] && !ok; i++) ok = !strcmp(key, known[i]);
        if (ok) continue;
        char k[72], p[PATH_LEN];
        sanitize(k, key, strlen(key), 64);
        path_join(p, prefix, k);
        return gf_errorf(GF_ERR_ARG, "%s: unknown key%s (known: %s)", p, context, list);
    }
    return GF_OK;
}

static int as_number(const json_t *v, double *x)
{
    if (json_is_integer(v)) { *x = (double)json_integer_value(v); return 1; }
    if (json_is_real(v)) { *x = json_real_value(v); return 1; }
    return 0;   /* booleans, strings, null, ... */
}

static int in_range(double x, double lo, int lo_open, double hi, int hi_open)
{
    if (!isfinite(x)) return 0;
    if (lo_open ? !(x > lo) : !(x >= lo)) return 0;
    if (isinf(hi)) return 1;
    return hi_open ? x < hi : x <= hi;
}

static void range_text(char *buf, size_t n, double lo, int lo_open, double hi, int hi_open)
{
    if (isinf(hi)) snprintf(buf, n, "a number %s %g", lo_open ? ">" : ">=", lo);
    else snprintf(buf, n, "a number in %c%g, %g%c", lo_open ? '(' : '[', lo, hi, hi_open ? ')' : ']');
}

static gf_status get_real(const json_t *obj, const char *prefix, const char *key,
                          double lo, int lo_open, double hi, int hi_open, double *out)
{
    const json_t *v = json_object_get(obj, key);
    if (!v) return GF_OK;
    double x;
    if (!as_number(v, &x) || !in_range(x, lo, lo_open, hi, hi_open)) {
        char what[64];
        range_text(what, sizeof what, lo, lo_open, hi, hi_open);
        return bad(prefix, key, what, v);
    }
    *out = x + 0.0;   /* -0 -> +0 */
    return GF_OK;
}

/* As get_real, and the value must still be in range once rounded to float. */
static gf_status get_float(const json_t *obj, const char *prefix, const char *key,
                           double lo, int lo_open, double hi, int hi_open, float *out)
{
    double x = 0.0;
    const json_t *v = json_object_get(obj, key);
    gf_status st = get_real(obj, prefix, key, lo, lo_open, hi, hi_open, &x);
    if (st || !v) return st;
    float f = (float)x;
    if (!in_range((double)f, lo, lo_open, hi, hi_open)) {
        char what[96];
        range_text(what, sizeof what, lo, lo_open, hi, hi_open);
        strcat(what, " as a 32-bit float");
        return bad(prefix, key, what, v);
    }
    *out = f;
    return GF_OK;
}

static gf_status get_int(const json_t *obj, const char *prefix, const char *key,
                         long long lo, long long hi, long long *out)
{
    const json_t *v = json_object_get(obj, key);
    if (!v) return GF_OK;
    long long x = 0;
    int ok = 1;
    if (json_is_integer(v)) {
        x = (long long)json_integer_value(v);
    } else if (json_is_real(v)) {   /* 3.0 and 1e6 are integers, 3.5 is not */
        double r = json_real_value(v);
        ok = isfinite(r) && fabs(r) <= MAX_EXACT && r == floor(r);
        if (ok) x = (long long)r;
    } else {
        ok = 0;
    }
    if (!ok || x < lo || x > hi) {
        char what[80];
        if (hi == LLONG_MAX) snprintf(what, sizeof what, "an integer >= %lld", lo);
        else snprintf(what, sizeof what, "an integer in [%lld, %lld]", lo, hi);
        return bad(prefix, key, what, v);
    }
    *out = x;
    return GF_OK;
}

/* A non-empty string of < cap bytes; null gives "" when allow_null. */
static gf_status get_string(const json_t *obj, const char *prefix, const char *key,
                            int required, int allow_null, char *dst, size_t cap)
{
    const json_t *v = json_object_get(obj, key);
    if (!v) return required ? missing(prefix, key) : GF_OK;
    if (allow_null && json_is_null(v)) { dst[0] = '\0'; return GF_OK; }
    if (!json_is_string(v) || json_string_length(v) == 0)
        return bad(prefix, key, allow_null ? "null or a non-empty string" : "a non-empty string", v);
    size_t len = json_string_length(v);
    if (len >= cap) {
        char p[PATH_LEN];
        path_join(p, prefix, key);
        return gf_errorf(GF_ERR_ARG, "%s: too long (%zu bytes; at most %zu)", p, len, cap - 1);
    }
    memcpy(dst, json_string_value(v), len + 1);
    return GF_OK;
}

/* An object, or NULL when absent (or null, if allow_null). */
static gf_status get_object(const json_t *obj, const char *prefix, const char *key,
                            int allow_null, const json_t **out)
{
    const json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || (allow_null && json_is_null(v))) return GF_OK;
    if (!json_is_object(v)) return bad(prefix, key, allow_null ? "an object or null" : "an object", v);
    *out = v;
    return GF_OK;
}

/* Job and site names: 1..64 of [A-Za-z0-9._-], not "." or "..". */
static gf_status check_name(const json_t *v, const char *path, char *dst)
{
    char d[DESC_LEN];
    describe(v, d, sizeof d);
    if (!json_is_string(v) || json_string_length(v) == 0)
        return gf_errorf(GF_ERR_ARG, "%s: must be a non-empty string, got %s", path, d);
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len > GF_JOBSPEC_NAME_MAX)
        return gf_errorf(GF_ERR_ARG, "%s: too long (%zu characters; at most %d), got %s",
                         path, len, GF_JOBSPEC_NAME_MAX, d);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '.' || c == '_' || c == '-')
            continue;
        char ch[16];
        if (c > 0x20 && c < 0x7F) snprintf(ch, sizeof ch, "'%c'", c);
        else snprintf(ch, sizeof ch, "byte 0x%02x", c);
        return gf_errorf(GF_ERR_ARG, "%s: character %zu (%s) is not allowed "
                         "(use A-Z a-z 0-9 . _ -), got %s", path, i + 1, ch, d);
    }
    if (!strcmp(s, ".") || !strcmp(s, ".."))
        return gf_errorf(GF_ERR_ARG, "%s: must not be \".\" or \"..\"", path);
    memcpy(dst, s, len + 1);
    return GF_OK;
}

/* ---- sections ---------------------------------------------------------- */

static gf_status parse_optim(const json_t *o, const char *prefix, gf_optim_config *out)
{
    static const char *const keys[] = { "name", "lr", "momentum", "weight_decay", NULL };
    gf_optim_type t = GF_OPTIM_SGD;
    gf_status st = check_keys(o, prefix, keys, "name, lr, momentum, weight_decay", "");
    if (st) return st;
    const json_t *n = json_object_get(o, "name");
    if (n && (!json_is_string(n) || gf_optim_type_parse(json_string_value(n), &t)))
        return bad(prefix, "name", "\"sgd\" or \"adamw\"", n);
    *out = gf_optim_defaults(t, t == GF_OPTIM_ADAMW ? 0.001f : 0.01f);
    if (t != GF_OPTIM_SGD && json_object_get(o, "momentum")) {
        char p[PATH_LEN];
        path_join(p, prefix, "momentum");
        return gf_errorf(GF_ERR_ARG, "%s: applies to sgd only (the optimizer is %s)",
                         p, gf_optim_type_name(t));
    }
    if ((st = get_float(o, prefix, "lr", 0.0, 1, INFINITY, 0, &out->lr)) ||
        (st = get_float(o, prefix, "momentum", 0.0, 0, 1.0, 1, &out->momentum)) ||
        (st = get_float(o, prefix, "weight_decay", 0.0, 0, INFINITY, 0, &out->weight_decay)))
        return st;
    return GF_OK;
}

#define T(x) (1u << (x))
#define STREAMING (T(GF_STRAT_FEDAVG) | T(GF_STRAT_FEDAVGM) | T(GF_STRAT_FEDPROX) | \
                   T(GF_STRAT_FEDADAM) | T(GF_STRAT_FEDYOGI) | T(GF_STRAT_FEDADAGRAD) | \
                   T(GF_STRAT_SCAFFOLD))
#define FEDOPT (T(GF_STRAT_FEDADAM) | T(GF_STRAT_FEDYOGI) | T(GF_STRAT_FEDADAGRAD))

/* The strategy keys after "name", in canonical order: which strategies use
 * each, where it lives in gf_strategy_config, and its range. */
static const struct {
    const char *key;
    unsigned types;
    const char *applies;
    size_t off;
    int is_int;
    double lo, hi;
    int lo_open, hi_open;
} strat_keys[] = {
    { "server_lr", STREAMING, "fedavg, fedavgm, fedprox, fedadam, fedyogi, fedadagrad and scaffold",
      offsetof(gf_strategy_config, server_lr), 0, 0.0, INFINITY, 1, 0 },
    { "momentum", T(GF_STRAT_FEDAVGM), "fedavgm",
      offsetof(gf_strategy_config, server_momentum), 0, 0.0, 1.0, 0, 1 },
    { "beta1", FEDOPT, "fedadam, fedyogi and fedadagrad",
      offsetof(gf_strategy_config, beta1), 0, 0.0, 1.0, 0, 1 },
    { "beta2", T(GF_STRAT_FEDADAM) | T(GF_STRAT_FEDYOGI), "fedadam and fedyogi",
      offsetof(gf_strategy_config, beta2), 0, 0.0, 1.0, 0, 1 },
    { "tau", FEDOPT, "fedadam, fedyogi and fedadagrad",
      offsetof(gf_strategy_config, tau), 0, 0.0, INFINITY, 1, 0 },
    { "mu", T(GF_STRAT_FEDPROX), "fedprox",
      offsetof(gf_strategy_config, mu), 0, 0.0, INFINITY, 0, 0 },
    { "trim_ratio", T(GF_STRAT_TRIMMED_MEAN), "trimmed_mean",
      offsetof(gf_strategy_config, trim_ratio), 0, 0.0, 0.5, 0, 1 },
    { "f", T(GF_STRAT_KRUM) | T(GF_STRAT_MULTIKRUM), "krum and multikrum",
      offsetof(gf_strategy_config, krum_f), 1, 0.0, 1e6, 0, 0 },
    { "m", T(GF_STRAT_MULTIKRUM), "multikrum",
      offsetof(gf_strategy_config, multikrum_m), 1, 0.0, 1e6, 0, 0 },
};
#define NSTRAT_KEYS (sizeof strat_keys / sizeof strat_keys[0])

static gf_status parse_strategy(const json_t *o, gf_strategy_config *out)
{
    static const char *const keys[] = { "name", "server_lr", "momentum", "beta1", "beta2", "tau",
                                        "mu", "trim_ratio", "f", "m", NULL };
    gf_status st = check_keys(o, "strategy", keys, "name, server_lr, momentum, beta1, beta2, "
                              "tau, mu, trim_ratio, f, m", "");
    if (st) return st;
    const json_t *n = json_object_get(o, "name");
    gf_strategy_type t;
    if (!n) return missing("strategy", "name");
    if (!json_is_string(n) || gf_strategy_type_parse(json_string_value(n), &t))
        return bad("strategy", "name", "one of fedavg, fedavgm, fedprox, fedadam, fedyogi, "
                   "fedadagrad, scaffold, median, trimmed_mean, krum, multikrum", n);
    *out = gf_strategy_defaults(t);   /* scaffold_sites_total stays 0: the coordinator sets N */
    for (size_t i = 0; i < NSTRAT_KEYS; i++) {
        if (!json_object_get(o, strat_keys[i].key)) continue;
        if (!(strat_keys[i].types & T(t)))
            return gf_errorf(GF_ERR_ARG, "strategy.%s: applies to %s only (the strategy is %s)",
                             strat_keys[i].key, strat_keys[i].applies, gf_strategy_type_name(t));
        char *field = (char *)out + strat_keys[i].off;
        if (strat_keys[i].is_int) {
            long long x = 0;
            st = get_int(o, "strategy", strat_keys[i].key, (long long)strat_keys[i].lo,
                         (long long)strat_keys[i].hi, &x);
            if (!st) *(int *)field = (int)x;
        } else {
            st = get_real(o, "strategy", strat_keys[i].key, strat_keys[i].lo, strat_keys[i].lo_open,
                          strat_keys[i].hi, strat_keys[i].hi_open, (double *)field);
        }
        if (st) return st;
    }
    return GF_OK;
}

typedef struct { const char *name; int i; } site_ref;

static int site_cmp(const void *a, const void *b)
{
    const site_ref *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* "all" (sites NULL) or a non-empty array of unique names. */
static gf_status parse_sites(const json_t *root, gf_jobspec *out)
{
    const json_t *v = json_object_get(root, "sites");
    const char *what = "\"all\" or a non-empty array of site names";
    if (!v || (json_is_string(v) && !strcmp(json_string_value(v), "all"))) return GF_OK;
    if (!json_is_array(v) || json_array_size(v) == 0) return bad("", "sites", what, v);
    size_t n = json_array_size(v);
    if (n > INT_MAX / 2) return bad("", "sites", what, v);
    out->sites = calloc(n, sizeof *out->sites);
    if (!out->sites) return gf_errorf(GF_ERR_NOMEM, "sites: out of memory for %zu names", n);
    out->nsites = (int)n;
    for (size_t i = 0; i < n; i++) {
        char p[PATH_LEN];
        snprintf(p, sizeof p, "sites[%zu]", i);
        gf_status st = check_name(json_array_get(v, i), p, out->sites[i]);
        if (st) return st;
    }
    /* duplicates: sort (name, index); the first repeat in document order is
     * the smallest index that is not first in its group */
    site_ref *r = malloc(n * sizeof *r);
    if (!r) return gf_errorf(GF_ERR_NOMEM, "sites: out of memory for %zu names", n);
    for (size_t i = 0; i < n; i++) r[i] = (site_ref){ out->sites[i], (int)i };
    qsort(r, n, sizeof *r, site_cmp);
    int dup = -1, first = -1, group = 0;
    for (size_t k = 1; k < n; k++) {
        if (strcmp(r[k].name, r[k - 1].name)) { group = (int)k; continue; }
        if (dup < 0 || r[k].i < dup) { dup = r[k].i; first = r[group].i; }
    }
    free(r);
    if (dup >= 0)
        return gf_errorf(GF_ERR_ARG, "sites[%d]: duplicate site name \"%s\" (also sites[%d])",
                         dup, out->sites[dup], first);
    return GF_OK;
}

static gf_status parse_local(const json_t *o, gf_jobspec *out)
{
    static const char *const keys[] = { "epochs", "steps", "batch", "lr_decay", "optim", "dp_sgd", NULL };
    gf_status st = check_keys(o, "local", keys, "epochs, steps, batch, lr_decay, optim, dp_sgd", "");
    if (st) return st;
    long long epochs = out->local.epochs, batch = out->local.batch, steps = -1;
    const json_t *s = json_object_get(o, "steps");
    if ((st = get_int(o, "local", "epochs", 1, 1000000, &epochs))) return st;
    if (s && !json_is_null(s) && get_int(o, "local", "steps", 0, 1000000000, &steps))
        return bad("local", "steps", "null or an integer in [0, 1000000000]", s);
    if ((st = get_int(o, "local", "batch", 1, 65536, &batch))) return st;
    if ((st = get_real(o, "local", "lr_decay", 0.0, 1, 1.0, 0, &out->local.lr_decay))) return st;
    out->local.epochs = (int)epochs;
    out->local.steps = steps;
    out->local.batch = (int)batch;
    const json_t *dps;
    if ((st = get_object(o, "local", "dp_sgd", 1, &dps))) return st;
    if (dps) {                        /* record-level DP-SGD at the sites */
        static const char *const dkeys[] = { "clip", "noise", "delta", NULL };
        gf_dpsgd_config *c = &out->local.dpsgd;
        *c = (gf_dpsgd_config){ .enabled = 1, .delta = GF_DPSGD_DEFAULT_DELTA };
        if ((st = check_keys(dps, "local.dp_sgd", dkeys, "clip, noise, delta", ""))) return st;
        if (!json_object_get(dps, "clip")) return missing("local.dp_sgd", "clip");
        if (!json_object_get(dps, "noise")) return missing("local.dp_sgd", "noise");
        if ((st = get_real(dps, "local.dp_sgd", "clip", 0.0, 1, 1e6, 0, &c->clip)) ||
            (st = get_real(dps, "local.dp_sgd", "noise", 0.0, 0, 1e6, 0, &c->noise)) ||
            (st = get_real(dps, "local.dp_sgd", "delta", 0.0, 1, 1.0, 1, &c->delta)))
            return st;
    }
    const json_t *optim;
    if ((st = get_object(o, "local", "optim", 0, &optim))) return st;
    if (optim) return parse_optim(optim, "local.optim", &out->optim);
    return GF_OK;
}

/* secure_aggregation / dp: an object kept as canonical text, NULL when absent or null. */
static gf_status keep_object(const json_t *root, const char *key, char **dst)
{
    const json_t *v;
    gf_status st = get_object(root, "", key, 1, &v);
    if (st || !v) return st;
    *dst = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    if (!*dst) return gf_errorf(GF_ERR_NOMEM, "%s: out of memory", key);
    return GF_OK;
}

/* name, model, dataset and seed: common to both kinds */
static gf_status parse_common(const json_t *root, gf_jobspec *out)
{
    const json_t *v = json_object_get(root, "name");
    if (!v) return missing("", "name");
    gf_status st = check_name(v, "name", out->name);
    if (st) return st;
    if ((v = json_object_get(root, "tenant")) && (st = check_name(v, "tenant", out->tenant))) return st;

    v = json_object_get(root, "model");
    if (!v) return missing("", "model");
    if (!json_is_string(v)) return bad("", "model", "a model spec string", v);
    gf_spec spec;
    if ((st = gf_spec_parse(json_string_value(v), &spec))) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", gf_last_error());
        return gf_errorf(GF_ERR_ARG, "model: %s", msg);
    }
    memcpy(out->model, spec.canonical, sizeof out->model);

    /* a federated job's sites read their own data: "dataset" is only a label there */
    int fed = out->kind == GF_JOB_FEDERATED;
    if ((st = get_string(root, "", "dataset", !fed, fed, out->dataset, sizeof out->dataset))) return st;
    if (out->dataset[0] && gf_dataset_name_check(out->dataset)) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", gf_last_error());
        return gf_errorf(GF_ERR_ARG, "dataset: %s", msg);
    }
    long long seed = 1;
    if ((st = get_int(root, "", "seed", 0, LLONG_MAX, &seed))) return st;
    out->seed = (uint64_t)seed;
    return GF_OK;
}

/* "dp": {"clip": S, "noise": sigma, "delta": d, "epsilon": budget} */
static gf_status parse_dp(const json_t *o, gf_jobspec *out)
{
    if (!o || json_is_null(o)) return GF_OK;
    static const char *const keys[] = { "clip", "noise", "delta", "epsilon", "adaptive", NULL };
    gf_status st = check_keys(o, "dp", keys, "clip, noise, delta, epsilon, adaptive", "");
    if (st) return st;
    gf_dp_config *c = &out->dp;
    *c = (gf_dp_config){ .enabled = 1, .delta = 1e-5 };
    if (!json_object_get(o, "clip")) return missing("dp", "clip");
    if (!json_object_get(o, "noise")) return missing("dp", "noise");
    if ((st = get_real(o, "dp", "clip", 0.0, 1, INFINITY, 1, &c->clip)) ||
        (st = get_real(o, "dp", "noise", 0.0, 0, 1e6, 0, &c->noise)) ||
        (st = get_real(o, "dp", "delta", 0.0, 1, 1.0, 1, &c->delta)) ||
        (st = get_real(o, "dp", "epsilon", 0.0, 1, INFINITY, 1, &c->epsilon)))
        return st;
    if (c->epsilon > 0 && c->noise <= 0)
        return gf_errorf(GF_ERR_ARG, "dp.epsilon: a budget needs dp.noise > 0 (without noise epsilon is infinite)");
    const json_t *a;
    if ((st = get_object(o, "dp", "adaptive", 1, &a))) return st;
    if (a) {                          /* adaptive clipping: {"quantile", "lr", "count_noise"} */
        static const char *const akeys[] = { "quantile", "lr", "count_noise", NULL };
        if ((st = check_keys(a, "dp.adaptive", akeys, "quantile, lr, count_noise", ""))) return st;
        c->adaptive = 1;
        c->quantile = 0.5;
        c->clip_lr = 0.2;
        if ((st = get_real(a, "dp.adaptive", "quantile", 0.0, 1, 1.0, 1, &c->quantile)) ||
            (st = get_real(a, "dp.adaptive", "lr", 0.0, 1, 10.0, 0, &c->clip_lr)) ||
            (st = get_real(a, "dp.adaptive", "count_noise", 0.0, 1, 1e6, 0, &c->count_noise)))
            return st;
        if (!(c->noise > 0)) return gf_errorf(GF_ERR_ARG, "dp.adaptive: adaptive clipping needs dp.noise > 0");
        if (c->count_noise > 0 && !(c->noise < 2 * c->count_noise))
            return gf_errorf(GF_ERR_ARG, "dp.adaptive.count_noise: must exceed dp.noise / 2 = %g, got %g",
                             c->noise / 2, c->count_noise);
    }
    gf_strategy_type t = out->strategy.type;
    if (!gf_strategy_is_streaming(t) || t == GF_STRAT_SCAFFOLD)
        return gf_errorf(GF_ERR_ARG, "dp: strategy \"%s\" cannot take client-level DP (it needs a sum of "
                         "clipped updates: fedavg, fedavgm, fedprox, fedadam, fedyogi, fedadagrad)",
                         gf_strategy_type_name(t));
    return GF_OK;
}

/* "secure_aggregation": {"k", "t", "clip", "max_weight", "phase_timeout_s"},
 * every key optional ({} takes the defaults for each round's sites). */
static gf_status parse_secagg(const json_t *o, gf_jobspec *out)
{
    if (!o || json_is_null(o)) return GF_OK;
    static const char *const keys[] = { "k", "t", "clip", "max_weight", "phase_timeout_s", NULL };
    gf_status st = check_keys(o, "secure_aggregation", keys, "k, t, clip, max_weight, phase_timeout_s", "");
    if (st) return st;
    gf_secagg_config *c = &out->secagg;
    *c = (gf_secagg_config){ .enabled = 1, .max_weight = 1e5, .phase_timeout_s = 60 };
    long long k = 0, t = 0;
    if ((st = get_int(o, "secure_aggregation", "k", 1, GF_SECAGG_MAX_CLIENTS - 1, &k)) ||
        (st = get_int(o, "secure_aggregation", "t", 1, GF_SECAGG_MAX_CLIENTS - 1, &t)) ||
        (st = get_real(o, "secure_aggregation", "clip", 0.0, 1, 1e9, 0, &c->clip)) ||
        (st = get_real(o, "secure_aggregation", "max_weight", 1.0, 0, 1e12, 0, &c->max_weight)) ||
        (st = get_real(o, "secure_aggregation", "phase_timeout_s", 0.0, 1, 86400.0, 0, &c->phase_timeout_s)))
        return st;
    if (json_object_get(o, "k") && k % 2)
        return gf_errorf(GF_ERR_ARG, "secure_aggregation.k: must be even (every site gets k/2 neighbours on "
                         "either side of the ring), got %lld; sites - 1 for full SecAgg is chosen per round "
                         "when k is unset", k);
    if (t && k && !(2 * t > k && t <= k))
        return gf_errorf(GF_ERR_ARG, "secure_aggregation.t: must satisfy k/2 < t <= k (k = %lld), got %lld", k, t);
    c->k = (int)k;
    c->t = (int)t;
    gf_strategy_type ty = out->strategy.type;
    if (!gf_strategy_is_streaming(ty) || ty == GF_STRAT_SCAFFOLD)
        return gf_errorf(GF_ERR_ARG, "secure_aggregation: strategy \"%s\" cannot run on a masked sum (it needs "
                         "each update in the clear); use fedavg, fedavgm, fedprox, fedadam, fedyogi or fedadagrad",
                         gf_strategy_type_name(ty));
    if (out->min_sites < 2)
        return gf_errorf(GF_ERR_ARG, "secure_aggregation: needs min_sites >= 2 (a sum of one update is that "
                         "update), got %d", out->min_sites);
    return GF_OK;
}

/* "preprocess": {"from", "impute", "standardize", "drop", "binarize"} */
static gf_status parse_preprocess(const json_t *o, gf_jobspec *out)
{
    if (!o || json_is_null(o)) return GF_OK;
    static const char *const keys[] = { "from", "impute", "standardize", "drop", "binarize", "onehot", NULL };
    const char *w = "preprocess";
    if (!json_is_object(o)) return bad("", w, "an object", o);
    gf_status st = check_keys(o, w, keys, "from, impute, standardize, drop, binarize, onehot", "");
    if (st) return st;
    long long from = 0;
    if (!json_object_get(o, "from")) return missing(w, "from");
    if ((st = get_int(o, w, "from", 1, LLONG_MAX, &from))) return st;
    out->preprocess.enabled = 1;
    out->preprocess.from = from;
    gf_preprocess_config *c = &out->preprocess.cfg;
    const json_t *v = json_object_get(o, "impute");
    if (v && !json_is_null(v)) {
        const char *s = json_string_value(v);
        if (s && !strcmp(s, "mean")) c->impute = GF_IMPUTE_MEAN;
        else if (s && !strcmp(s, "median")) c->impute = GF_IMPUTE_MEDIAN;
        else return bad(w, "impute", "\"mean\", \"median\" or null", v);
    }
    if ((v = json_object_get(o, "standardize"))) {
        if (!json_is_boolean(v)) return bad(w, "standardize", "true or false", v);
        c->standardize = json_is_true(v);
    }
    if ((v = json_object_get(o, "drop"))) {
        size_t n = json_array_size(v);
        if (!json_is_array(v) || n > GF_PREPROCESS_MAX_COLUMNS) return bad(w, "drop", "an array of column indices", v);
        if (n && !(out->preprocess.drop = malloc(sizeof *out->preprocess.drop * n)))
            return gf_errorf(GF_ERR_NOMEM, "preprocess.drop: out of memory");
        for (size_t i = 0; i < n; i++) {
            const json_t *e = json_array_get(v, i);
            if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) >= GF_PREPROCESS_MAX_COLUMNS)
                return bad(w, "drop", "an array of column indices (0-based integers)", v);
            out->preprocess.drop[i] = json_integer_value(e);
        }
        c->drop = out->preprocess.drop;
        c->ndrop = (int64_t)n;
    }
    if ((v = json_object_get(o, "binarize")) && !json_is_null(v)) {
        static const char *const bkeys[] = { "threshold", NULL };
        long long t = 0;
        if (!json_is_object(v)) return bad(w, "binarize", "null or {\"threshold\": T}", v);
        if ((st = check_keys(v, "preprocess.binarize", bkeys, "threshold", ""))) return st;
        if (!json_object_get(v, "threshold")) return missing("preprocess.binarize", "threshold");
        if ((st = get_int(v, "preprocess.binarize", "threshold", 1, 1000000, &t))) return st;
        c->binarize = 1;
        c->threshold = (int32_t)t;
    }
    if ((v = json_object_get(o, "onehot"))) {   /* [{"column": j, "categories": [x, ...]}, ...] */
        const char *what = "an array of {\"column\": j, \"categories\": [x, ...]}";
        size_t n = json_array_size(v), total = 0;
        if (!json_is_array(v) || n > GF_PREPROCESS_MAX_COLUMNS) return bad(w, "onehot", what, v);
        static const char *const okeys[] = { "column", "categories", NULL };
        for (size_t i = 0; i < n; i++) {
            const json_t *e = json_array_get(v, i), *cats = json_object_get(e, "categories");
            char p[PATH_LEN];
            snprintf(p, sizeof p, "preprocess.onehot[%zu]", i);
            if (!json_is_object(e)) return bad(w, "onehot", what, v);
            if ((st = check_keys(e, p, okeys, "column, categories", ""))) return st;
            if (!json_is_integer(json_object_get(e, "column")) || json_integer_value(json_object_get(e, "column")) < 0)
                return bad(p, "column", "a column index (0-based integer)", json_object_get(e, "column"));
            if (!json_is_array(cats) || json_array_size(cats) < 1 || json_array_size(cats) > GF_PREPROCESS_MAX_CATEGORIES)
                return bad(p, "categories", "an array of 1 to 1000 numbers", cats);
            total += json_array_size(cats);
        }
        out->preprocess.onehot_column = malloc(sizeof(int64_t) * (n + 1));
        out->preprocess.onehot_off = malloc(sizeof(int64_t) * (n + 1));
        out->preprocess.onehot_cats = malloc(sizeof(float) * (total + 1));
        if (!out->preprocess.onehot_column || !out->preprocess.onehot_off || !out->preprocess.onehot_cats)
            return gf_errorf(GF_ERR_NOMEM, "preprocess.onehot: out of memory");
        size_t at = 0;
        for (size_t i = 0; i < n; i++) {
            const json_t *e = json_array_get(v, i), *cats = json_object_get(e, "categories");
            out->preprocess.onehot_column[i] = json_integer_value(json_object_get(e, "column"));
            out->preprocess.onehot_off[i] = (int64_t)at;
            for (size_t k = 0; k < json_array_size(cats); k++) {
                double x;
                char p[PATH_LEN];
                snprintf(p, sizeof p, "preprocess.onehot[%zu]", i);
                if (!as_number(json_array_get(cats, k), &x) || !isfinite((float)x))
                    return bad(p, "categories", "an array of finite numbers", cats);
                out->preprocess.onehot_cats[at++] = (float)x;
            }
        }
        out->preprocess.onehot_off[n] = (int64_t)at;
        c->nonehot = (int64_t)n;
        c->onehot_column = out->preprocess.onehot_column;
        c->onehot_off = out->preprocess.onehot_off;
        c->onehot_cats = out->preprocess.onehot_cats;
    }
    return GF_OK;
}

static gf_status parse_federated(const json_t *root, gf_jobspec *out)
{
    static const char *const keys[] = { "kind", "name", "model", "dataset", "strategy", "rounds",
        "sites", "fraction", "min_sites", "round_deadline_s", "local", "seed", "eval", "eval_every",
        "secure_aggregation", "dp", "tenant", "preprocess", NULL };
    gf_status st = check_keys(root, "", keys, "kind, name, model, dataset, strategy, rounds, "
                              "sites, fraction, min_sites, round_deadline_s, local, seed, eval, eval_every, "
                              "secure_aggregation, dp, tenant, preprocess", " for a federated job");
    if (st) return st;
    out->kind = GF_JOB_FEDERATED;
    out->fraction = 1.0;
    out->min_sites = 1;
    out->round_deadline_s = 600.0;
    out->local.epochs = 1;
    out->local.steps = -1;
    out->local.batch = 64;
    out->local.lr_decay = 1.0;
    out->optim = gf_optim_defaults(GF_OPTIM_SGD, 0.01f);
    if ((st = parse_common(root, out))) return st;

    const json_t *strategy;
    if ((st = get_object(root, "", "strategy", 0, &strategy))) return st;
    if (!strategy) return missing("", "strategy");
    if ((st = parse_strategy(strategy, &out->strategy))) return st;

    long long rounds = 0, min_sites = 1;
    if (!json_object_get(root, "rounds")) return missing("", "rounds");
    if ((st = get_int(root, "", "rounds", 1, 1000000, &rounds))) return st;
    out->rounds = (int)rounds;
    if ((st = parse_sites(root, out))) return st;
    if ((st = get_real(root, "", "fraction", 0.0, 1, 1.0, 0, &out->fraction))) return st;
    if ((st = get_int(root, "", "min_sites", 1, 1000000, &min_sites))) return st;
    if (out->sites && min_sites > out->nsites)
        return gf_errorf(GF_ERR_ARG, "min_sites: must be at most the number of listed sites (%d), "
                         "got %lld", out->nsites, min_sites);
    out->min_sites = (int)min_sites;
    if ((st = get_real(root, "", "round_deadline_s", 0.0, 1, INFINITY, 0, &out->round_deadline_s)))
        return st;

    const json_t *local;
    if ((st = get_object(root, "", "local", 0, &local))) return st;
    if (local && (st = parse_local(local, out))) return st;

    if ((st = get_string(root, "", "eval", 0, 1, out->eval, sizeof out->eval))) return st;
    char ename[GF_DATASET_NAME_MAX + 1];
    int etrain;
    if (out->eval[0] && gf_dataset_eval_split(out->eval, ename, &etrain)) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", gf_last_error());
        return gf_errorf(GF_ERR_ARG, "eval: %s (NAME, NAME:test or NAME:train)", msg);
    }
    long long every = 0;                 /* per-site evaluation (fed/site_eval.h) */
    if ((st = get_int(root, "", "eval_every", 0, 1000000, &every))) return st;
    out->eval_every = (int)every;
    if ((st = keep_object(root, "secure_aggregation", &out->secure_aggregation_json))) return st;
    if ((st = keep_object(root, "dp", &out->dp_json))) return st;
    if ((st = keep_object(root, "preprocess", &out->preprocess_json))) return st;
    if ((st = parse_preprocess(json_object_get(root, "preprocess"), out))) return st;
    if ((st = parse_secagg(json_object_get(root, "secure_aggregation"), out))) return st;
    return parse_dp(json_object_get(root, "dp"), out);
}

static gf_status parse_central(const json_t *root, gf_jobspec *out)
{
    static const char *const keys[] = { "kind", "name", "model", "dataset", "epochs", "batch",
                                        "optim", "seed", "resources", "tenant", NULL };
    static const char *const rkeys[] = { "cores", "gpus", "memory_mb", "time_limit_s", "processes", NULL };
    gf_status st = check_keys(root, "", keys, "kind, name, model, dataset, epochs, batch, optim, "
                              "seed, resources, tenant", " for a central job");
    if (st) return st;
    out->kind = GF_JOB_CENTRAL;
    out->optim = gf_optim_defaults(GF_OPTIM_SGD, 0.01f);
    if ((st = parse_common(root, out))) return st;

    long long epochs = 1, batch = 64, cores = 1, gpus = 0, mem = 2048, tl = 3600, procs = 1;
    if ((st = get_int(root, "", "epochs", 1, 1000000, &epochs)) ||
        (st = get_int(root, "", "batch", 1, 65536, &batch)))
        return st;
    const json_t *o;
    if ((st = get_object(root, "", "optim", 0, &o))) return st;
    if (o && (st = parse_optim(o, "optim", &out->optim))) return st;
    if ((st = get_object(root, "", "resources", 0, &o))) return st;
    if (o && ((st = check_keys(o, "resources", rkeys, "cores, gpus, memory_mb, time_limit_s, processes", "")) ||
              (st = get_int(o, "resources", "cores", 1, 1024, &cores)) ||
              (st = get_int(o, "resources", "gpus", 0, 64, &gpus)) ||
              (st = get_int(o, "resources", "memory_mb", 64, 1048576, &mem)) ||
              (st = get_int(o, "resources", "time_limit_s", 1, 30 * 86400, &tl)) ||
              (st = get_int(o, "resources", "processes", 1, 1024, &procs))))
        return st;
    /* cores is the job's total, as for a program job: each rank gets cores / processes threads */
    if (procs > cores)
        return gf_errorf(GF_ERR_ARG, "resources.processes: %lld is more than resources.cores (%lld): each process "
                         "(rank) needs a core of its own", procs, cores);
    if (cores % procs)
        return gf_errorf(GF_ERR_ARG, "resources.cores: %lld is not a multiple of resources.processes (%lld): "
                         "every rank gets the same number of cores (threads)", cores, procs);
    out->epochs = (int)epochs;
    out->batch = (int)batch;
    out->resources.cores = (int)cores;
    out->resources.gpus = (int)gpus;
    out->resources.memory_mb = mem;
    out->resources.time_limit_s = tl;
    out->resources.processes = (int)procs;
    return GF_OK;
}

/* One [lo, hi] pair at path: finite, lo < hi. */
static gf_status parse_range(const json_t *v, const char *path, double *out)
{
    double lo, hi;
    if (!json_is_array(v) || json_array_size(v) != 2 || !as_number(json_array_get(v, 0), &lo) ||
        !as_number(json_array_get(v, 1), &hi) || !isfinite(lo) || !isfinite(hi) || !(lo < hi) ||
        !isfinite(hi - lo))
        return bad("", path, "[lo, hi] with finite numbers lo < hi", v);
    out[0] = lo + 0.0;
    out[1] = hi + 0.0;
    return GF_OK;
}

static gf_status parse_statistics(const json_t *root, gf_jobspec *out)
{
    static const char *const keys[] = { "kind", "name", "tenant", "dataset", "sites", "min_sites",
        "round_deadline_s", "columns", "classes", "bins", "range", "ranges", "min_count",
        "secure_aggregation", NULL };
    gf_status st = check_keys(root, "", keys, "kind, name, tenant, dataset, sites, min_sites, round_deadline_s, "
                              "columns, classes, bins, range, ranges, min_count, secure_aggregation",
                              " for a statistics job");
    if (st) return st;
    out->kind = GF_JOB_STATISTICS;
    out->rounds = 1;
    out->fraction = 1.0;
    out->min_sites = 1;
    out->round_deadline_s = 600.0;
    out->local.epochs = 1;
    out->local.steps = 0;
    out->local.batch = 1;
    out->local.lr_decay = 1.0;
    out->optim = gf_optim_defaults(GF_OPTIM_SGD, 0.01f);
    out->strategy = gf_strategy_defaults(GF_STRAT_FEDAVG);
    const json_t *v = json_object_get(root, "name");
    if (!v) return missing("", "name");
    if ((st = check_name(v, "name", out->name))) return st;
    if ((v = json_object_get(root, "tenant")) && (st = check_name(v, "tenant", out->tenant))) return st;
    if ((st = get_string(root, "", "dataset", 0, 1, out->dataset, sizeof out->dataset))) return st;
    if (out->dataset[0] && gf_dataset_name_check(out->dataset)) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", gf_last_error());
        return gf_errorf(GF_ERR_ARG, "dataset: %s", msg);
    }
    if ((st = parse_sites(root, out))) return st;
    long long min_sites = 1, columns = 0, classes = 2, bins = -1, min_count = 10;
    if ((st = get_int(root, "", "min_sites", 1, 1000000, &min_sites))) return st;
    if (out->sites && min_sites > out->nsites)
        return gf_errorf(GF_ERR_ARG, "min_sites: must be at most the number of listed sites (%d), got %lld",
                         out->nsites, min_sites);
    out->min_sites = (int)min_sites;
    if ((st = get_real(root, "", "round_deadline_s", 0.0, 1, INFINITY, 0, &out->round_deadline_s))) return st;
    if (!json_object_get(root, "columns")) return missing("", "columns");
    if ((st = get_int(root, "", "columns", 1, GF_STATS_MAX_COLUMNS, &columns)) ||
        (st = get_int(root, "", "classes", 1, GF_STATS_MAX_CLASSES, &classes)) ||
        (st = get_int(root, "", "bins", 0, GF_STATS_MAX_BINS, &bins)) ||
        (st = get_int(root, "", "min_count", 1, 1000000000, &min_count)))
        return st;
    gf_fedstats_config *c = &out->stats;
    *c = (gf_fedstats_config){ .enabled = 1, .columns = columns, .classes = (int)classes, .min_count = min_count };
    const json_t *range = json_object_get(root, "range"), *ranges = json_object_get(root, "ranges");
    if (range && ranges)
        return gf_errorf(GF_ERR_ARG, "range, ranges: give one range for every column or one per column, not both");
    if (ranges && columns > GF_FED_TASK_MAX_RANGES)
        return gf_errorf(GF_ERR_ARG, "ranges: one range per column for at most %d columns (this job has %lld); give "
                         "\"range\", one for every column", GF_FED_TASK_MAX_RANGES, columns);
    if (ranges && (!json_is_array(ranges) || json_array_size(ranges) != (size_t)columns))
        return bad("", "ranges", "an array of one [lo, hi] per column (\"columns\" of them)", ranges);
    c->nranges = range ? 1 : ranges ? columns : 0;
    if (c->nranges && !(c->range = malloc(sizeof *c->range * 2 * (size_t)c->nranges)))
        return gf_errorf(GF_ERR_NOMEM, "ranges: out of memory");
    if (range && (st = parse_range(range, "range", c->range))) return st;
    for (long long i = 0; ranges && i < columns; i++) {
        char p[PATH_LEN];
        snprintf(p, sizeof p, "ranges[%lld]", i);
        if ((st = parse_range(json_array_get(ranges, (size_t)i), p, c->range + 2 * i))) return st;
    }
    if (bins > 0 && !c->nranges)
        return gf_errorf(GF_ERR_ARG, "bins: histograms need \"range\" (one for every column) or \"ranges\" (one "
                         "per column), so that every site bins alike");
    c->bins = (int)(bins >= 0 ? bins : c->nranges ? 20 : 0);
    gf_stats_plan plan = { .columns = c->columns, .bins = c->bins, .classes = c->classes, .range = c->range,
                           .nranges = c->nranges };
    if ((st = gf_stats_plan_check(&plan))) return st;
    if ((st = keep_object(root, "secure_aggregation", &out->secure_aggregation_json))) return st;
    if ((st = parse_secagg(json_object_get(root, "secure_aggregation"), out))) return st;
    if (out->secagg.enabled && !(out->secagg.clip > 0)) out->secagg.clip = 1e6;
    return GF_OK;
}

gf_status gf_jobspec_parse(const char *json, size_t len, gf_jobspec *out)
{
    if (!out) return gf_errorf(GF_ERR_ARG, "gf_jobspec_parse: out is NULL");
    memset(out, 0, sizeof *out);
    if (!json && len) return gf_errorf(GF_ERR_ARG, "gf_jobspec_parse: json is NULL");
    if (len > GF_JOBSPEC_MAX_BYTES)
        return gf_errorf(GF_ERR_ARG, "job spec: %zu bytes is over the limit of %d bytes",
                         len, GF_JOBSPEC_MAX_BYTES);
    json_error_t err;
    json_t *root = json_loadb(json ? json : "", len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
    if (!root) {
        if (json_error_code(&err) == json_error_out_of_memory)
            return gf_errorf(GF_ERR_NOMEM, "job spec: out of memory parsing JSON");
        return gf_errorf(GF_ERR_FORMAT, "job spec: invalid JSON at line %d, column %d: %s",
                         err.line, err.column, err.text);
    }
    gf_status st;
    const json_t *kind = json_object_get(root, "kind");
    char d[DESC_LEN];
    if (!json_is_object(root)) {
        describe(root, d, sizeof d);
        st = gf_errorf(GF_ERR_ARG, "job spec: the top level must be an object, got %s", d);
    } else if (!kind || (json_is_string(kind) && !strcmp(json_string_value(kind), "federated"))) {
        st = parse_federated(root, out);
    } else if (json_is_string(kind) && !strcmp(json_string_value(kind), "central")) {
        st = parse_central(root, out);
    } else if (json_is_string(kind) && !strcmp(json_string_value(kind), "statistics")) {
        st = parse_statistics(root, out);
    } else if (json_is_string(kind) && !strcmp(json_string_value(kind), "program")) {
        st = gf_jobspec_program_parse(root, out);
    } else {
        st = bad("", "kind", "\"federated\", \"central\", \"statistics\" or \"program\"", kind);
    }
    json_decref(root);
    if (st) gf_jobspec_free(out);
    return st;
}

gf_status gf_jobspec_fedspec(const gf_jobspec *j, gf_fedspec *out)
{
    memset(out, 0, sizeof *out);
    if (j->kind != GF_JOB_FEDERATED && j->kind != GF_JOB_STATISTICS)
        return gf_errorf(GF_ERR_ARG, "job \"%s\" is not federated", j->name);
    _Static_assert(sizeof out->name == sizeof j->name && sizeof out->model == sizeof j->model &&
                   sizeof out->eval == sizeof j->eval && sizeof *out->sites == sizeof *j->sites,
                   "the federated configuration holds the spec's names whole");
    memcpy(out->name, j->name, sizeof out->name);
    memcpy(out->tenant, j->tenant, sizeof out->tenant);
    memcpy(out->model, j->model, sizeof out->model);
    memcpy(out->eval, j->eval, sizeof out->eval);
    out->eval_every = j->eval_every;
    out->seed = j->seed;
    out->strategy = j->strategy;
    out->rounds = j->rounds;
    out->nsites = j->nsites;
    out->fraction = j->fraction;
    out->min_sites = j->min_sites;
    out->round_deadline_s = j->round_deadline_s;
    out->local.epochs = j->local.epochs;
    out->local.steps = j->local.steps;
    out->local.batch = j->local.batch;
    out->local.lr_decay = j->local.lr_decay;
    out->local.optim = j->optim;
    out->local.dpsgd = j->local.dpsgd;
    out->dp = j->dp;
    out->secagg = j->secagg;
    if (gf_fedstats_config_copy(&j->stats, &out->stats)) {
        memset(out, 0, sizeof *out);
        return gf_errorf(GF_ERR_NOMEM, "out of memory");
    }
    if (j->sites && j->nsites > 0) {
        if (!(out->sites = malloc(sizeof *out->sites * (size_t)j->nsites))) {
            free(out->stats.range);
            memset(out, 0, sizeof *out);
            return gf_errorf(GF_ERR_NOMEM, "out of memory");
        }
        memcpy(out->sites, j->sites, sizeof *out->sites * (size_t)j->nsites);
    }
    return GF_OK;
}

void gf_jobspec_free(gf_jobspec *j)
{
    if (!j) return;
    free(j->sites);
    free(j->secure_aggregation_json);
    free(j->dp_json);
    free(j->stats.range);
    free(j->preprocess_json);
    free(j->preprocess.drop);
    free(j->preprocess.onehot_column);
    free(j->preprocess.onehot_off);
    free(j->preprocess.onehot_cats);
    gf_program_spec_free(j->program);
    memset(j, 0, sizeof *j);
}

/* ---- canonical JSON ----------------------------------------------------- */

typedef struct { char *buf; size_t len, cap; int oom; } sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->buf, cap);
        if (!p) { b->oom = 1; return; }
        b->buf = p;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

static void sb_puts(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

/* A JSON string literal: quote, backslash and control bytes escaped. */
static void sb_str(sbuf *b, const char *s)
{
    sb_put(b, "\"", 1);
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        char esc[8];
        if (c == '"' || c == '\\') { esc[0] = '\\'; esc[1] = (char)c; sb_put(b, esc, 2); }
        else if (c < 0x20) { snprintf(esc, sizeof esc, "\\u%04x", c); sb_put(b, esc, 6); }
        else sb_put(b, p, 1);
    }
    sb_put(b, "\"", 1);
}

static void sb_str_or_null(sbuf *b, const char *s) { if (*s) sb_str(b, s); else sb_puts(b, "null"); }

static void sb_double(sbuf *b, double x) { char t[40]; fmt_double(t, sizeof t, x); sb_puts(b, t); }
static void sb_float(sbuf *b, float x) { char t[40]; fmt_float(t, sizeof t, x); sb_puts(b, t); }
static void sb_int(sbuf *b, long long x) { char t[24]; snprintf(t, sizeof t, "%lld", x); sb_puts(b, t); }

static void sb_optim(sbuf *b, const gf_optim_config *o)
{
    sb_puts(b, "{\"name\":");
    sb_str(b, gf_optim_type_name(o->type));
    sb_puts(b, ",\"lr\":");
    sb_float(b, o->lr);
    if (o->type == GF_OPTIM_SGD) { sb_puts(b, ",\"momentum\":"); sb_float(b, o->momentum); }
    sb_puts(b, ",\"weight_decay\":");
    sb_float(b, o->weight_decay);
    sb_puts(b, "}");
}

static void sb_strategy(sbuf *b, const gf_strategy_config *c)
{
    sb_puts(b, "{\"name\":");
    sb_str(b, gf_strategy_type_name(c->type));
    for (size_t i = 0; i < NSTRAT_KEYS; i++) {
        if (!(strat_keys[i].types & T(c->type))) continue;
        const char *field = (const char *)c + strat_keys[i].off;
        sb_puts(b, ",\"");
        sb_puts(b, strat_keys[i].key);
        sb_puts(b, "\":");
        if (strat_keys[i].is_int) sb_int(b, *(const int *)field);
        else sb_double(b, *(const double *)field);
    }
    sb_puts(b, "}");
}

static void sb_common(sbuf *b, const gf_jobspec *j)
{
    sb_puts(b, ",\"name\":");
    sb_str(b, j->name);
    if (j->tenant[0]) {
        sb_puts(b, ",\"tenant\":");
        sb_str(b, j->tenant);
    }
    sb_puts(b, ",\"model\":");
    sb_str(b, j->model);
    sb_puts(b, ",\"dataset\":");
    sb_str_or_null(b, j->dataset);
}

static void sb_sites(sbuf *b, const gf_jobspec *j)
{
    if (!j->sites) {
        sb_puts(b, "\"all\"");
        return;
    }
    for (int i = 0; i < j->nsites; i++) {
        sb_puts(b, i ? "," : "[");
        sb_str(b, j->sites[i]);
    }
    sb_puts(b, "]");
}

gf_status gf_jobspec_to_json(const gf_jobspec *j, char **out)
{
    if (!out) return gf_errorf(GF_ERR_ARG, "gf_jobspec_to_json: out is NULL");
    *out = NULL;
    if (!j) return gf_errorf(GF_ERR_ARG, "gf_jobspec_to_json: spec is NULL");
    if (j->kind == GF_JOB_PROGRAM) return gf_jobspec_program_json(j, out);
    if (j->kind != GF_JOB_FEDERATED && j->kind != GF_JOB_CENTRAL && j->kind != GF_JOB_STATISTICS)
        return gf_errorf(GF_ERR_ARG, "gf_jobspec_to_json: unknown job kind %d", (int)j->kind);
    if ((unsigned)j->strategy.type >= GF_STRAT_COUNT)
        return gf_errorf(GF_ERR_ARG, "gf_jobspec_to_json: unknown strategy type %d",
                         (int)j->strategy.type);

    sbuf b = { 0 };
    if (j->kind == GF_JOB_STATISTICS) {
        sb_puts(&b, "{\"kind\":\"statistics\",\"name\":");
        sb_str(&b, j->name);
        if (j->tenant[0]) {
            sb_puts(&b, ",\"tenant\":");
            sb_str(&b, j->tenant);
        }
        sb_puts(&b, ",\"dataset\":");
        sb_str_or_null(&b, j->dataset);
        sb_puts(&b, ",\"sites\":");
        sb_sites(&b, j);
        sb_puts(&b, ",\"min_sites\":");
        sb_int(&b, j->min_sites);
        sb_puts(&b, ",\"round_deadline_s\":");
        sb_double(&b, j->round_deadline_s);
        sb_puts(&b, ",\"columns\":");
        sb_int(&b, j->stats.columns);
        sb_puts(&b, ",\"classes\":");
        sb_int(&b, j->stats.classes);
        sb_puts(&b, ",\"bins\":");
        sb_int(&b, j->stats.bins);
        if (j->stats.nranges) {
            sb_puts(&b, j->stats.nranges == 1 ? ",\"range\":" : ",\"ranges\":[");
            for (int64_t i = 0; i < j->stats.nranges; i++) {
                sb_puts(&b, i ? ",[" : "[");
                sb_double(&b, j->stats.range[2 * i]);
                sb_puts(&b, ",");
                sb_double(&b, j->stats.range[2 * i + 1]);
                sb_puts(&b, "]");
            }
            if (j->stats.nranges > 1) sb_puts(&b, "]");
        }
        sb_puts(&b, ",\"min_count\":");
        sb_int(&b, j->stats.min_count);
        sb_puts(&b, ",\"secure_aggregation\":");
        sb_puts(&b, j->secure_aggregation_json ? j->secure_aggregation_json : "null");
        sb_puts(&b, "}");
    } else if (j->kind == GF_JOB_CENTRAL) {
        sb_puts(&b, "{\"kind\":\"central\"");
        sb_common(&b, j);
        sb_puts(&b, ",\"epochs\":");
        sb_int(&b, j->epochs);
        sb_puts(&b, ",\"batch\":");
        sb_int(&b, j->batch);
        sb_puts(&b, ",\"optim\":");
        sb_optim(&b, &j->optim);
        sb_puts(&b, ",\"seed\":");
        sb_int(&b, (long long)j->seed);
        sb_puts(&b, ",\"resources\":{\"cores\":");
        sb_int(&b, j->resources.cores);
        sb_puts(&b, ",\"gpus\":");
        sb_int(&b, j->resources.gpus);
        sb_puts(&b, ",\"memory_mb\":");
        sb_int(&b, j->resources.memory_mb);
        sb_puts(&b, ",\"time_limit_s\":");
        sb_int(&b, j->resources.time_limit_s);
        sb_puts(&b, ",\"processes\":");
        sb_int(&b, j->resources.processes);
        sb_puts(&b, "}}");
    } else {
        sb_puts(&b, "{\"kind\":\"federated\"");
        sb_common(&b, j);
        sb_puts(&b, ",\"strategy\":");
        sb_strategy(&b, &j->strategy);
        sb_puts(&b, ",\"rounds\":");
        sb_int(&b, j->rounds);
        sb_puts(&b, ",\"sites\":");
        sb_sites(&b, j);
        sb_puts(&b, ",\"fraction\":");
        sb_double(&b, j->fraction);
        sb_puts(&b, ",\"min_sites\":");
        sb_int(&b, j->min_sites);
        sb_puts(&b, ",\"round_deadline_s\":");
        sb_double(&b, j->round_deadline_s);
        sb_puts(&b, ",\"local\":{\"epochs\":");
        sb_int(&b, j->local.epochs);
        sb_puts(&b, ",\"steps\":");
        if (j->local.steps < 0) sb_puts(&b, "null");
        else sb_int(&b, j->local.steps);
        sb_puts(&b, ",\"batch\":");
        sb_int(&b, j->local.batch);
        sb_puts(&b, ",\"lr_decay\":");
        sb_double(&b, j->local.lr_decay);
        sb_puts(&b, ",\"optim\":");
        sb_optim(&b, &j->optim);
        sb_puts(&b, ",\"dp_sgd\":");
        if (j->local.dpsgd.enabled) {
            sb_puts(&b, "{\"clip\":");
            sb_double(&b, j->local.dpsgd.clip);
            sb_puts(&b, ",\"noise\":");
            sb_double(&b, j->local.dpsgd.noise);
            sb_puts(&b, ",\"delta\":");
            sb_double(&b, j->local.dpsgd.delta);
            sb_puts(&b, "}");
        } else {
            sb_puts(&b, "null");
        }
        sb_puts(&b, "},\"seed\":");
        sb_int(&b, (long long)j->seed);
        sb_puts(&b, ",\"eval\":");
        sb_str_or_null(&b, j->eval);
        sb_puts(&b, ",\"eval_every\":");
        sb_int(&b, j->eval_every);
        sb_puts(&b, ",\"secure_aggregation\":");
        sb_puts(&b, j->secure_aggregation_json ? j->secure_aggregation_json : "null");
        sb_puts(&b, ",\"dp\":");
        sb_puts(&b, j->dp_json ? j->dp_json : "null");
        if (j->preprocess_json) {         /* only when asked: specs without it keep their bytes */
            sb_puts(&b, ",\"preprocess\":");
            sb_puts(&b, j->preprocess_json);
        }
        sb_puts(&b, "}");
    }
    if (b.oom) {
        free(b.buf);
        return gf_errorf(GF_ERR_NOMEM, "job spec: out of memory writing canonical JSON");
    }
    *out = b.buf;
    return GF_OK;
}
