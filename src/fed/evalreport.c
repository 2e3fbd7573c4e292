/* The evaluation report's one encoder and one decoder (see evalreport.h). */
#include "fed/evalreport.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

static const char *const KEYS[] = { "samples", "loss", "accuracy", "auc", "sensitivity", "specificity", NULL };

static gf_status bad(const char *key, const char *want)
{
    return gf_errorf(GF_ERR_FORMAT, "evaluation report: %s %s", key, want);
}

/* A finite number in [lo, hi] into *out; null gives NaN when nullable. */
static gf_status get_num(const json_t *o, const char *key, double lo, double hi, int nullable, double *out)
{
    const json_t *v = json_object_get(o, key);
    if (nullable && json_is_null(v)) { *out = NAN; return GF_OK; }
    double x = json_number_value(v);
    if (!json_is_number(v) || !isfinite(x) || x < lo || x > hi) {
        char want[80];
        snprintf(want, sizeof want, "must be %sa number in [%g, %g]", nullable ? "null or " : "", lo, hi);
        return bad(key, want);
    }
    *out = x;
    return GF_OK;
}

gf_status gf_eval_report_decode(const char *json, size_t len, gf_eval_report *out)
{
    memset(out, 0, sizeof *out);
    if (len > GF_EVAL_REPORT_MAX)
        return gf_errorf(GF_ERR_FORMAT, "evaluation report: %zu bytes, over the limit of %d", len, GF_EVAL_REPORT_MAX);
    json_error_t e;
    json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &e);
    if (!o) return gf_errorf(GF_ERR_FORMAT, "evaluation report: not JSON: %s (line %d, column %d)", e.text, e.line, e.column);
    gf_status st = GF_OK;
    const char *k;
    json_t *v;
    if (!json_is_object(o)) st = gf_errorf(GF_ERR_FORMAT, "evaluation report: not a JSON object");
    json_object_foreach(o, k, v) {
        if (st) break;
        int known = 0;
        for (int i = 0; KEYS[i] && !known; i++) known = !strcmp(k, KEYS[i]);
        if (!known) st = gf_errorf(GF_ERR_FORMAT, "evaluation report: unknown key \"%.40s\"", k);
    }
    for (int i = 0; !st && KEYS[i]; i++)
        if (!json_object_get(o, KEYS[i])) st = bad(KEYS[i], "is missing");
    const json_t *n = json_object_get(o, "samples");
    if (!st && (!json_is_integer(n) || json_integer_value(n) < 1 || json_integer_value(n) > (json_int_t)1e12))
        st = bad("samples", "must be an integer in [1, 1e12]");
    if (!st) out->samples = json_integer_value(n);
    if (!st) st = get_num(o, "loss", 0, 1e9, 0, &out->loss);
    if (!st) st = get_num(o, "accuracy", 0, 1, 0, &out->accuracy);
    if (!st) st = get_num(o, "auc", 0, 1, 1, &out->auc);
    if (!st) st = get_num(o, "sensitivity", 0, 1, 1, &out->sensitivity);
    if (!st) st = get_num(o, "specificity", 0, 1, 1, &out->specificity);
    json_decref(o);
    if (st) memset(out, 0, sizeof *out);
    return st;
}

static json_t *num_or_null(double x) { return isnan(x) ? json_null() : json_real(x); }

gf_status gf_eval_report_encode(const gf_eval_report *r, char **json)
{
    *json = NULL;
    json_t *o = json_pack("{s:I,s:o,s:o,s:o,s:o,s:o}", "samples", (json_int_t)r->samples,
                          "loss", num_or_null(r->loss), "accuracy", num_or_null(r->accuracy),
                          "auc", num_or_null(r->auc), "sensitivity", num_or_null(r->sensitivity),
                          "specificity", num_or_null(r->specificity));
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(o);
    if (!s) return gf_errorf(GF_ERR_NOMEM, "evaluation report: out of memory");
    gf_eval_report back;
    if (gf_eval_report_decode(s, strlen(s), &back)) {
        free(s);
        return gf_errorf(GF_ERR_ARG, "evaluation report: would not decode: %s", gf_last_error());
    }
    *json = s;
    return GF_OK;
}
