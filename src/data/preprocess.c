/* Preprocessing of tabular datasets (see preprocess.h): building it from
 * statistics, applying it, and its JSON form. */
#include "data/preprocess.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

void gf_preprocess_free(gf_preprocess *p)
{
    if (!p) return;
    free(p->drop);
    free(p->fill);
    free(p->center);
    free(p->scale);
    free(p->cat_off);
    free(p->cats);
    memset(p, 0, sizeof *p);
}

static gf_status alloc(int64_t columns, gf_preprocess *p)
{
    memset(p, 0, sizeof *p);
    if (columns < 1 || columns > GF_PREPROCESS_MAX_COLUMNS)
        return gf_errorf(GF_ERR_ARG, "preprocess: columns must be 1..%d, got %lld", GF_PREPROCESS_MAX_COLUMNS,
                         (long long)columns);
    p->columns = columns;
    p->drop = calloc((size_t)columns, 1);
    p->fill = malloc(sizeof *p->fill * (size_t)columns);
    p->center = malloc(sizeof *p->center * (size_t)columns);
    p->scale = malloc(sizeof *p->scale * (size_t)columns);
    p->cat_off = calloc((size_t)columns + 1, sizeof *p->cat_off);
    if (!p->drop || !p->fill || !p->center || !p->scale || !p->cat_off) {
        gf_preprocess_free(p);
        return gf_errorf(GF_ERR_NOMEM, "preprocess: out of memory");
    }
    for (int64_t j = 0; j < columns; j++) {
        p->fill[j] = NAN;
        p->center[j] = 0;
        p->scale[j] = 1;
    }
    return GF_OK;
}

/* p's one-hot categories from lists per column ((columns) counts, lists
 * laid out in column order in cats), after alloc. */
static gf_status set_categories(gf_preprocess *p, const int64_t *ncat, const float *const *lists)
{
    int64_t total = 0;
    for (int64_t j = 0; j < p->columns; j++) {
        p->cat_off[j] = total;
        total += ncat[j];
    }
    p->cat_off[p->columns] = total;
    if (total && !(p->cats = malloc(sizeof *p->cats * (size_t)total))) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    for (int64_t j = 0; j < p->columns; j++)
        if (ncat[j]) memcpy(p->cats + p->cat_off[j], lists[j], sizeof *p->cats * (size_t)ncat[j]);
    return GF_OK;
}

/* Output columns: kept columns, a one-hot one counting its categories. */
static int64_t count_kept(const gf_preprocess *p)
{
    int64_t k = 0;
    for (int64_t j = 0; j < p->columns; j++) {
        int64_t n = p->cat_off[j + 1] - p->cat_off[j];
        if (!p->drop[j]) k += n ? n : 1;
    }
    return k;
}

/* The config's one-hot lists checked and set on p (after alloc). */
static gf_status onehot_from_config(const gf_preprocess_config *cfg, gf_preprocess *p)
{
    if (!cfg->nonehot) return GF_OK;
    int64_t *ncat = calloc((size_t)p->columns, sizeof *ncat);
    const float **lists = calloc((size_t)p->columns, sizeof *lists);
    gf_status st = ncat && lists ? GF_OK : gf_errorf(GF_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; !st && i < cfg->nonehot; i++) {
        int64_t j = cfg->onehot_column[i], n = cfg->onehot_off[i + 1] - cfg->onehot_off[i];
        const float *c = cfg->onehot_cats + cfg->onehot_off[i];
        if (j < 0 || j >= p->columns)
            st = gf_errorf(GF_ERR_ARG, "preprocess: onehot: column %lld is not among the data's %lld columns",
                           (long long)j, (long long)p->columns);
        else if (ncat[j])
            st = gf_errorf(GF_ERR_ARG, "preprocess: onehot: column %lld is listed twice", (long long)j);
        else if (n < 1 || n > GF_PREPROCESS_MAX_CATEGORIES)
            st = gf_errorf(GF_ERR_ARG, "preprocess: onehot: column %lld needs 1..%d categories", (long long)j,
                           GF_PREPROCESS_MAX_CATEGORIES);
        for (int64_t a = 0; !st && a < n; a++)
            for (int64_t b = 0; !st && b < a; b++)
                if (c[a] == c[b])
                    st = gf_errorf(GF_ERR_ARG, "preprocess: onehot: column %lld lists category %g twice", (long long)j,
                                   (double)c[a]);
        if (!st) { ncat[j] = n; lists[j] = c; }
    }
    if (!st) st = set_categories(p, ncat, lists);
    free(ncat);
    free(lists);
    return st;
}

gf_status gf_preprocess_build(const gf_preprocess_config *cfg, int64_t columns, const double *count,
                              const double *missing, const double *mean, const double *pvar, const double *median,
                              gf_preprocess *out)
{
    gf_status st = alloc(columns, out);
    if (st) return st;
    out->binarize = cfg->binarize;
    out->threshold = cfg->threshold;
    for (int64_t i = 0; i < cfg->ndrop; i++) {
        if (cfg->drop[i] < 0 || cfg->drop[i] >= columns) {
            gf_preprocess_free(out);
            return gf_errorf(GF_ERR_ARG, "preprocess: drop: column %lld is not among the data's %lld columns (0..%lld)",
                             (long long)cfg->drop[i], (long long)columns, (long long)columns - 1);
        }
        out->drop[cfg->drop[i]] = 1;
    }
    if ((st = onehot_from_config(cfg, out))) {
        gf_preprocess_free(out);
        return st;
    }
    for (int64_t j = 0; j < columns; j++) {
        if (out->drop[j]) continue;
        double c = count[j], k = missing[j], m = mean[j], v = pvar[j];
        int onehot = out->cat_off[j + 1] > out->cat_off[j];
        if (cfg->impute == GF_IMPUTE_NONE && (!cfg->standardize || onehot)) continue;
        if (!(c > 0) || !isfinite(m) || !isfinite(v)) {
            gf_preprocess_free(out);
            return gf_errorf(GF_ERR_ARG, "preprocess: column %lld: no mean and variance in the statistics (no values, "
                             "or suppressed below min_count); drop the column", (long long)j);
        }
        double f = NAN;
        if (cfg->impute == GF_IMPUTE_MEAN) f = m;
        if (cfg->impute == GF_IMPUTE_MEDIAN) {
            f = median[j];
            if (!isfinite(f)) {
                gf_preprocess_free(out);
                return gf_errorf(GF_ERR_ARG, "preprocess: column %lld: no median in the statistics (the statistics job "
                                 "needs bins and a range covering the median)", (long long)j);
            }
        }
        if (!isnan(f)) out->fill[j] = (float)f;
        if (!cfg->standardize || onehot) continue;     /* indicators are not scaled */
        /* mean and population variance after the k missing values became f */
        double m2 = m, v2 = v;
        if (!isnan(f) && k > 0) {
            double n = c + k;
            m2 = (c * m + k * f) / n;
            v2 = (c * (v + (m - m2) * (m - m2)) + k * (f - m2) * (f - m2)) / n;
        }
        double sd = sqrt(v2 > 0 ? v2 : 0);
        out->center[j] = (float)m2;
        out->scale[j] = sd > 0 && isfinite((float)sd) && (float)sd > 0 ? (float)sd : 1.0f;
    }
    out->kept = count_kept(out);
    if (out->kept == 0) {
        gf_preprocess_free(out);
        return gf_errorf(GF_ERR_ARG, "preprocess: drop removes every column");
    }
    return GF_OK;
}

gf_status gf_preprocess_from_stats_json(const gf_preprocess_config *cfg, const char *json, size_t len,
                                        gf_preprocess *out)
{
    memset(out, 0, sizeof *out);
    json_error_t e;
    json_t *root = json_loadb(json, len, 0, &e);
    const json_t *cols = json_object_get(root, "columns");
    if (!json_is_array(cols) || json_array_size(cols) == 0 || json_array_size(cols) > GF_PREPROCESS_MAX_COLUMNS) {
        json_decref(root);
        return gf_errorf(GF_ERR_FORMAT, "preprocess: not a statistics result (no \"columns\")");
    }
    int64_t n = (int64_t)json_array_size(cols);
    double *a = malloc(sizeof *a * 5 * (size_t)n);   /* count, missing, mean, pvar, median: (5, n) */
    if (!a) { json_decref(root); return gf_errorf(GF_ERR_NOMEM, "preprocess: out of memory"); }
    for (int64_t j = 0; j < n; j++) {
        const json_t *c = json_array_get(cols, (size_t)j), *var = json_object_get(c, "var");
        double cnt = json_number_value(json_object_get(c, "count"));
        a[j] = cnt;
        a[n + j] = json_number_value(json_object_get(c, "missing"));
        a[2 * n + j] = json_is_number(json_object_get(c, "mean")) ? json_number_value(json_object_get(c, "mean")) : NAN;
        /* the result's var has n - 1 in the denominator; one value has no spread */
        a[3 * n + j] = json_is_number(var) ? json_number_value(var) * (cnt - 1) / cnt
                                           : cnt == 1 && json_is_number(json_object_get(c, "mean")) ? 0 : NAN;
        const json_t *med = json_object_get(json_object_get(c, "quantiles"), "0.5");
        a[4 * n + j] = json_is_number(med) ? json_number_value(med) : NAN;
    }
    json_decref(root);
    gf_status st = gf_preprocess_build(cfg, n, a, a + n, a + 2 * n, a + 3 * n, a + 4 * n, out);
    free(a);
    return st;
}

gf_status gf_preprocess_apply(const gf_preprocess *p, const gf_dataset *in, const char *what, gf_dataset *out)
{
    memset(out, 0, sizeof *out);
    if (!what) what = "data";
    if (in->tokens) return gf_errorf(GF_ERR_ARG, "%s: preprocessing applies to tabular data, not tokens", what);
    if (in->dim != p->columns)
        return gf_errorf(GF_ERR_MISMATCH, "%s: %lld feature columns, but the preprocessing was computed for %lld",
                         what, (long long)in->dim, (long long)p->columns);
    int64_t rows = in->n > 0 ? in->n : 1;
    out->x = malloc(sizeof *out->x * (size_t)(rows * p->kept));   /* (n, kept) */
    out->y = malloc(sizeof *out->y * (size_t)rows);               /* (n) */
    if (!out->x || !out->y) {
        gf_dataset_free(out);
        return gf_errorf(GF_ERR_NOMEM, "%s: out of memory preprocessing %lld samples", what, (long long)in->n);
    }
    for (int64_t i = 0; i < in->n; i++) {
        const float *x = in->x + i * in->dim;
        float *o = out->x + i * p->kept;
        int64_t k = 0;
        for (int64_t j = 0; j < p->columns; j++) {
            if (p->drop[j]) continue;
            float v = x[j];
            if (isnan(v)) v = p->fill[j];
            if (isnan(v)) {
                gf_dataset_free(out);
                return gf_errorf(GF_ERR_NUMERIC, "%s: sample %lld, feature %lld is missing (NaN) and the "
                                 "preprocessing does not impute it", what, (long long)i, (long long)j);
            }
            if (p->cat_off[j + 1] > p->cat_off[j]) {   /* one-hot: 1 for its category, 0 elsewhere */
                for (int64_t c = p->cat_off[j]; c < p->cat_off[j + 1]; c++) o[k++] = v == p->cats[c] ? 1.0f : 0.0f;
                continue;
            }
            o[k++] = (v - p->center[j]) / p->scale[j];
        }
        out->y[i] = p->binarize ? in->y[i] >= p->threshold : in->y[i];
    }
    out->n = in->n;
    out->c = out->h = 1;
    out->w = (int)p->kept;
    out->dim = p->kept;
    out->num_classes = p->binarize ? 2 : in->num_classes;
    return GF_OK;
}

gf_status gf_preprocess_to_json(const gf_preprocess *p, char **out)
{
    *out = NULL;
    json_t *drop = json_array(), *fill = json_array(), *center = json_array(), *scale = json_array();
    for (int64_t j = 0; drop && fill && center && scale && j < p->columns; j++) {
        if (p->drop[j]) json_array_append_new(drop, json_integer((json_int_t)j));
        json_array_append_new(fill, isnan(p->fill[j]) ? json_null() : json_real(p->fill[j]));
        json_array_append_new(center, json_real(p->center[j]));
        json_array_append_new(scale, json_real(p->scale[j]));
    }
    json_t *onehot = json_array();
    for (int64_t j = 0; onehot && j < p->columns; j++) {
        if (p->cat_off[j + 1] == p->cat_off[j]) continue;
        json_t *cats = json_array();
        for (int64_t c = p->cat_off[j]; cats && c < p->cat_off[j + 1]; c++) json_array_append_new(cats, json_real(p->cats[c]));
        json_array_append_new(onehot, json_pack("{s:I,s:o}", "column", (json_int_t)j, "categories", cats));
    }
    json_t *o = json_pack("{s:I,s:o,s:o,s:o,s:o,s:o,s:o}", "columns", (json_int_t)p->columns, "drop", drop,
                          "fill", fill, "center", center, "scale", scale,
                          "binarize", p->binarize ? json_integer(p->threshold) : json_null(), "onehot", onehot);
    *out = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9)) : NULL;
    json_decref(o);
    return *out ? GF_OK : gf_errorf(GF_ERR_NOMEM, "preprocess: out of memory");
}

/* arr (columns) of finite numbers (null: NaN when allow_null) into f. */
static gf_status floats(const json_t *arr, const char *key, int64_t columns, int allow_null, float *f)
{
    if (!json_is_array(arr) || (int64_t)json_array_size(arr) != columns)
        return gf_errorf(GF_ERR_FORMAT, "preprocess: \"%s\" must be an array of %lld numbers", key, (long long)columns);
    for (int64_t j = 0; j < columns; j++) {
        const json_t *v = json_array_get(arr, (size_t)j);
        if (allow_null && json_is_null(v)) { f[j] = NAN; continue; }
        double x = json_number_value(v);
        if (!json_is_number(v) || !isfinite((float)x))
            return gf_errorf(GF_ERR_FORMAT, "preprocess: \"%s\"[%lld] must be a finite number", key, (long long)j);
        f[j] = (float)x;
    }
    return GF_OK;
}

/* "onehot": [{"column": j, "categories": [x, ...]}, ...] through the same checks as a config's. */
static gf_status onehot_from_json(const json_t *arr, gf_preprocess *p)
{
    if (!json_is_array(arr)) return gf_errorf(GF_ERR_FORMAT, "preprocess: \"onehot\" must be an array");
    size_t n = json_array_size(arr), total = 0;
    if (n > (size_t)p->columns) return gf_errorf(GF_ERR_FORMAT, "preprocess: \"onehot\" lists more columns than there are");
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(arr, i), *cats = json_object_get(e, "categories");
        if (!json_is_object(e) || json_object_size(e) != 2 || !json_is_integer(json_object_get(e, "column")) ||
            !json_is_array(cats) || json_array_size(cats) > GF_PREPROCESS_MAX_CATEGORIES)
            return gf_errorf(GF_ERR_FORMAT, "preprocess: \"onehot\"[%zu] must be {\"column\": j, \"categories\": [x, ...]}", i);
        total += json_array_size(cats);
    }
    int64_t *col = malloc(sizeof *col * (n + 1)), *off = malloc(sizeof *off * (n + 1));
    float *cat = malloc(sizeof *cat * (total + 1));
    gf_status st = col && off && cat ? GF_OK : gf_errorf(GF_ERR_NOMEM, "out of memory");
    size_t at = 0;
    for (size_t i = 0; !st && i < n; i++) {
        const json_t *e = json_array_get(arr, i), *cats = json_object_get(e, "categories");
        col[i] = json_integer_value(json_object_get(e, "column"));
        off[i] = (int64_t)at;
        for (size_t c = 0; !st && c < json_array_size(cats); c++) {
            const json_t *v = json_array_get(cats, c);
            double x = json_number_value(v);
            if (!json_is_number(v) || !isfinite((float)x))
                st = gf_errorf(GF_ERR_FORMAT, "preprocess: \"onehot\"[%zu]: categories must be finite numbers", i);
            cat[at++] = (float)x;
        }
    }
    if (!st) {
        off[n] = (int64_t)at;
        gf_preprocess_config cfg = { .nonehot = (int64_t)n, .onehot_column = col, .onehot_off = off, .onehot_cats = cat };
        if ((st = onehot_from_config(&cfg, p))) st = gf_errorf(GF_ERR_FORMAT, "%s", gf_last_error());
    }
    free(col);
    free(off);
    free(cat);
    return st;
}

gf_status gf_preprocess_from_json(const char *json, size_t len, gf_preprocess *out)
{
    memset(out, 0, sizeof *out);
    json_error_t e;
    json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &e);
    if (!json_is_object(o)) {
        json_decref(o);
        return gf_errorf(GF_ERR_FORMAT, "preprocess: not a JSON object");
    }
    static const char *const keys[] = { "columns", "drop", "fill", "center", "scale", "binarize", "onehot" };
    gf_status st = GF_OK;
    if (json_object_size(o) != 7) st = gf_errorf(GF_ERR_FORMAT, "preprocess: expected exactly the keys columns, drop, "
                                                 "fill, center, scale, binarize, onehot");
    for (int i = 0; !st && i < 7; i++)
        if (!json_object_get(o, keys[i])) st = gf_errorf(GF_ERR_FORMAT, "preprocess: \"%s\" is missing", keys[i]);
    const json_t *cols = json_object_get(o, "columns"), *drop = json_object_get(o, "drop"),
                 *bin = json_object_get(o, "binarize");
    if (!st && !json_is_integer(cols)) st = gf_errorf(GF_ERR_FORMAT, "preprocess: \"columns\" must be an integer");
    if (!st) st = alloc(json_integer_value(cols), out);
    if (!st) st = floats(json_object_get(o, "fill"), "fill", out->columns, 1, out->fill);
    if (!st) st = floats(json_object_get(o, "center"), "center", out->columns, 0, out->center);
    if (!st) st = floats(json_object_get(o, "scale"), "scale", out->columns, 0, out->scale);
    for (int64_t j = 0; !st && j < out->columns; j++)
        if (!(out->scale[j] > 0)) st = gf_errorf(GF_ERR_FORMAT, "preprocess: \"scale\"[%lld] must be > 0", (long long)j);
    if (!st && !json_is_array(drop)) st = gf_errorf(GF_ERR_FORMAT, "preprocess: \"drop\" must be an array");
    for (size_t i = 0; !st && i < json_array_size(drop); i++) {
        const json_t *v = json_array_get(drop, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= out->columns)
            st = gf_errorf(GF_ERR_FORMAT, "preprocess: \"drop\"[%zu] must be a column index", i);
        else out->drop[json_integer_value(v)] = 1;
    }
    if (!st && !json_is_null(bin) && (!json_is_integer(bin) || json_integer_value(bin) < INT32_MIN ||
                                      json_integer_value(bin) > INT32_MAX))
        st = gf_errorf(GF_ERR_FORMAT, "preprocess: \"binarize\" must be null or an integer threshold");
    if (!st && json_is_integer(bin)) {
        out->binarize = 1;
        out->threshold = (int32_t)json_integer_value(bin);
    }
    if (!st) st = onehot_from_json(json_object_get(o, "onehot"), out);
    if (!st) out->kept = count_kept(out);
    if (!st && out->kept == 0) st = gf_errorf(GF_ERR_FORMAT, "preprocess: every column is dropped");
    json_decref(o);
    if (st) gf_preprocess_free(out);
    return st;
}
