/* Phenotypes: a table keyed by sample id (gf_pheno_read) and the target
 * rule that turns phenotype values into class labels (gf_target_apply).
 * Missing values are kept as NaN here; dropping those samples, and counting
 * them, is the caller's (src/data/genome.c). */
#include "data/genome.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int gf_pheno_is_missing(const char *s)
{
    return !*s || !strcmp(s, "-9") || !strcmp(s, "NA") || !strcmp(s, "NaN") || !strcmp(s, "nan") ||
           !strcmp(s, ".");
}

/* A sample id -> row map: open addressing on a string hash. */
typedef struct { const char *key; int64_t row; } pheno_slot;

static uint64_t str_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;   /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

gf_status gf_pheno_read(const char *path, const char *id_col, const char *col,
                        char *const *ids, int64_t n, const gf_data_limits *lim,
                        double *values, int64_t *unused)
{
    gf_data_limits def = gf_data_limits_default();
    if (!lim) lim = &def;
    if (unused) *unused = 0;
    char *buf = NULL;
    int64_t len = 0;
    gf_status st = gf_data_read_all(path, lim, &buf, &len);
    if (st) return st;
    char **f = NULL;
    pheno_slot *map = NULL;
    int64_t *row_of = NULL;    /* (n) the table line of sample i, 0 = none */
    const int maxf = (int)(lim->max_columns < 1000000 ? lim->max_columns : 1000000);

    /* the header: its separator decides the file's (comma, tab, else blanks) */
    char *nl = memchr(buf, '\n', (size_t)len);
    char sep = 0;
    for (char *p = buf; p < (nl ? nl : buf + len); p++)
        if (*p == ',') { sep = ','; break; } else if (*p == '\t') sep = '\t';
    if (!(f = malloc(sizeof *f * (size_t)maxf))) { st = gf_errorf(GF_ERR_NOMEM, "%s: out of memory", path); goto out; }
    char *cur = buf;
    int64_t ll, line = 1;
    int nh = gf_text_fields(&cur, buf + len, sep, f, maxf, &ll);
    if (nh <= 0) { st = gf_errorf(GF_ERR_FORMAT, "%s: no header line", path); goto out; }
    if (ll > lim->max_line_bytes || nh > maxf) {
        st = gf_errorf(GF_ERR_FORMAT, "%s: the header is longer than the line length or column limit", path);
        goto out;
    }
    int ic = -1, vc = -1;
    for (int k = 0; k < nh; k++) {
        if (id_col ? !strcmp(f[k], id_col) : (ic < 0 && !strcmp(f[k], "IID"))) ic = k;
        if (!strcmp(f[k], col)) vc = k;
    }
    if (ic < 0 && id_col) { st = gf_errorf(GF_ERR_FORMAT, "%s: no column named by id_col in the header", path); goto out; }
    if (ic < 0) ic = 0;
    if (vc < 0) { st = gf_errorf(GF_ERR_FORMAT, "%s: no column named by pheno_col in the header (%d columns)", path, nh); goto out; }
    if (vc == ic) { st = gf_errorf(GF_ERR_ARG, "%s: the phenotype column is the id column", path); goto out; }

    /* the samples' ids in a hash table */
    int64_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    map = calloc((size_t)cap, sizeof *map);
    row_of = calloc((size_t)(n ? n : 1), sizeof *row_of);
    if (!map || !row_of) { st = gf_errorf(GF_ERR_NOMEM, "%s: out of memory", path); goto out; }
    for (int64_t i = 0; i < n; i++) {
        uint64_t h = str_hash(ids[i]) & (uint64_t)(cap - 1);
        while (map[h].key && strcmp(map[h].key, ids[i])) h = (h + 1) & (uint64_t)(cap - 1);
        if (map[h].key) {
            st = gf_errorf(GF_ERR_FORMAT, "samples %lld and %lld of the genotype file have the same id: a phenotype table cannot tell them apart",
                           (long long)map[h].row + 1, (long long)i + 1);
            goto out;
        }
        map[h] = (pheno_slot){ ids[i], i };
        values[i] = NAN;
    }
    int nf;
    while ((nf = gf_text_fields(&cur, buf + len, sep, f, maxf, &ll)) >= 0) {
        line++;
        if (ll > lim->max_line_bytes) {
            st = gf_errorf(GF_ERR_FORMAT, "%s: line %lld is longer than the line length limit of %lld bytes",
                           path, (long long)line, (long long)lim->max_line_bytes);
            goto out;
        }
        if (nf == 0) continue;
        if (nf != nh) {
            st = gf_errorf(GF_ERR_FORMAT, "%s: line %lld has %d fields but the header has %d", path, (long long)line, nf, nh);
            goto out;
        }
        uint64_t h = str_hash(f[ic]) & (uint64_t)(cap - 1);
        while (map[h].key && strcmp(map[h].key, f[ic])) h = (h + 1) & (uint64_t)(cap - 1);
        if (!map[h].key) { if (unused) ++*unused; continue; }
        int64_t i = map[h].row;
        if (row_of[i]) {
            st = gf_errorf(GF_ERR_FORMAT, "%s: lines %lld and %lld hold the same sample id", path,
                           (long long)row_of[i], (long long)line);
            goto out;
        }
        row_of[i] = line;
        const char *v = f[vc];
        char *e;
        double d = gf_pheno_is_missing(v) ? NAN : strtod(v, &e);
        if (!isnan(d) && (*e || !isfinite(d))) {
            st = gf_errorf(GF_ERR_FORMAT, "%s: line %lld, column %d: the phenotype is not a number", path,
                           (long long)line, vc + 1);
            goto out;
        }
        values[i] = d;
    }
    for (int64_t i = 0; i < n; i++)
        if (!row_of[i]) {
            st = gf_errorf(GF_ERR_FORMAT, "%s: no row for sample %lld of the genotype file (of %lld); "
                           "mark an unknown phenotype NA rather than leaving the sample out",
                           path, (long long)i + 1, (long long)n);
            goto out;
        }
out:
    free(buf);
    free(f);
    free(map);
    free(row_of);
    return st;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

gf_status gf_target_apply(const gf_target_rule *rule, const double *values, int64_t n,
                          const char *what, int32_t *labels, unsigned char *keep,
                          double *median_out)
{
    double median = NAN;
    if (rule->kind == GF_TARGET_MEDIAN) {
        double *s = malloc(sizeof *s * (size_t)(n ? n : 1));
        if (!s) return gf_errorf(GF_ERR_NOMEM, "%s: out of memory", what);
        int64_t k = 0;
        for (int64_t i = 0; i < n; i++) if (!isnan(values[i])) s[k++] = values[i];
        if (k == 0) { free(s); return gf_errorf(GF_ERR_FORMAT, "%s: every phenotype is missing", what); }
        qsort(s, (size_t)k, sizeof *s, cmp_double);
        median = k % 2 ? s[k / 2] : 0.5 * (s[k / 2 - 1] + s[k / 2]);
        free(s);
    }
    if (median_out) *median_out = median;
    for (int64_t i = 0; i < n; i++) {
        double v = values[i];
        keep[i] = 0;
        labels[i] = 0;
        if (isnan(v)) continue;
        switch (rule->kind) {
        case GF_TARGET_CASE_CONTROL:
            if (v == 0) continue;
            if (v != 1 && v != 2)
                return gf_errorf(GF_ERR_FORMAT, "%s: sample %lld has phenotype %g, not 1 (control) or 2 (case); "
                                 "for 0/1 coding give coding=01, for a quantitative trait binarize=median or threshold=T",
                                 what, (long long)i + 1, v);
            labels[i] = (int32_t)v - 1;
            break;
        case GF_TARGET_01:
            if (v != 0 && v != 1)
                return gf_errorf(GF_ERR_FORMAT, "%s: sample %lld has phenotype %g, not 0 (control) or 1 (case)",
                                 what, (long long)i + 1, v);
            labels[i] = (int32_t)v;
            break;
        case GF_TARGET_CLASS:
            if (v < 0 || v > 65535 || v != floor(v))
                return gf_errorf(GF_ERR_FORMAT, "%s: sample %lld has phenotype %g, not a class id 0..65535",
                                 what, (long long)i + 1, v);
            labels[i] = (int32_t)v;
            break;
        case GF_TARGET_MEDIAN:    labels[i] = v > median; break;
        case GF_TARGET_THRESHOLD: labels[i] = v > rule->threshold; break;
        }
        keep[i] = 1;
    }
    return GF_OK;
}
