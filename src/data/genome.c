/* The plink: and vcf: dataset specs: parsing their options, then reading the
 * genotypes (plink.c, vcf.c), attaching the phenotype (.fam or a table keyed
 * by sample id, pheno.c), dropping and counting samples whose phenotype is
 * missing, applying the target rule, splitting off a test set when asked
 * and filling missing calls when asked (missing.c: each variant's mean over
 * the training split, for train and test alike). What was kept and
 * dropped is told through gf_dataset_note(). */
#include "data/genome.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char note[512];

const char *gf_dataset_note(void) { return note; }

void gf_dataset_note_clear(void) { note[0] = '\0'; }

void gf_dataset_note_set(const char *text) { snprintf(note, sizeof note, "%s", text ? text : ""); }

typedef struct {
    const char *pheno, *pheno_col, *id_col;
    int pheno_index;              /* plink without pheno=: the .fam phenotype */
    gf_target_rule rule;
    int fill_mean;
    double test_fraction;
    uint64_t seed;
} genome_opts;

static gf_status parse_opts(const char *spec, char *opts, int is_plink, genome_opts *o)
{
    memset(o, 0, sizeof *o);
    o->rule.kind = GF_TARGET_CASE_CONTROL;
    int rules = 0, coding = 0;
    for (char *opt = opts; opt; ) {
        char *next = strchr(opt, ',');
        if (next) *next++ = '\0';
        char *eq = strchr(opt, '=');
        const char *v = eq ? eq + 1 : "";
        char *e;
        if (!eq || !*v) goto bad;
        *eq = '\0';
        if (!strcmp(opt, "pheno")) o->pheno = v;
        else if (!strcmp(opt, "pheno_col")) o->pheno_col = v;
        else if (!strcmp(opt, "id_col")) o->id_col = v;
        else if (!strcmp(opt, "coding")) {
            coding++;
            if (!strcmp(v, "12")) o->rule.kind = GF_TARGET_CASE_CONTROL;
            else if (!strcmp(v, "01")) o->rule.kind = GF_TARGET_01;
            else if (!strcmp(v, "class")) o->rule.kind = GF_TARGET_CLASS;
            else return gf_errorf(GF_ERR_ARG, "dataset spec '%s': coding must be 12, 01 or class", spec);
        } else if (!strcmp(opt, "binarize")) {
            if (strcmp(v, "median")) return gf_errorf(GF_ERR_ARG, "dataset spec '%s': binarize takes median (or give threshold=T)", spec);
            o->rule.kind = GF_TARGET_MEDIAN;
            rules++;
        } else if (!strcmp(opt, "threshold")) {
            o->rule.kind = GF_TARGET_THRESHOLD;
            o->rule.threshold = strtod(v, &e);
            if (*e || !isfinite(o->rule.threshold))
                return gf_errorf(GF_ERR_ARG, "dataset spec '%s': threshold must be a number", spec);
            rules++;
        } else if (!strcmp(opt, "fill")) {
            if (strcmp(v, "mean")) return gf_errorf(GF_ERR_ARG, "dataset spec '%s': fill takes mean", spec);
            o->fill_mean = 1;
        } else if (!strcmp(opt, "test_fraction")) {
            o->test_fraction = strtod(v, &e);
            if (*e || !(o->test_fraction > 0 && o->test_fraction < 1))
                return gf_errorf(GF_ERR_ARG, "dataset spec '%s': test_fraction must be between 0 and 1 (exclusive)", spec);
        } else if (!strcmp(opt, "seed")) {
            unsigned long long s = strtoull(v, &e, 10);
            if (*e || *v == '-') return gf_errorf(GF_ERR_ARG, "dataset spec '%s': seed must be a non-negative integer", spec);
            o->seed = s;
        } else {
            *eq = '=';
            goto bad;
        }
        opt = next;
        continue;
    bad:
        return gf_errorf(GF_ERR_ARG, "dataset spec '%s': unknown or empty option '%s' (genotype specs take pheno=, "
                         "pheno_col=, id_col=, coding=, binarize=, threshold=, fill=, test_fraction=, seed=)", spec, opt);
    }
    if (rules > 1 || (rules && coding))
        return gf_errorf(GF_ERR_ARG, "dataset spec '%s': give one target rule: coding=, binarize=median or threshold=T", spec);
    if (o->pheno && !o->pheno_col)
        return gf_errorf(GF_ERR_ARG, "dataset spec '%s': pheno= needs pheno_col=NAME, the phenotype's column", spec);
    if (!o->pheno && o->id_col)
        return gf_errorf(GF_ERR_ARG, "dataset spec '%s': id_col= goes with pheno=", spec);
    if (!o->pheno && !is_plink)
        return gf_errorf(GF_ERR_ARG, "dataset spec '%s': a VCF holds no phenotype; give pheno=CSV,pheno_col=NAME", spec);
    if (!o->pheno) {
        o->pheno_index = 1;
        if (o->pheno_col) {
            char *e;
            long k = strtol(o->pheno_col, &e, 10);
            if (*e || k < 1 || k > 1000)
                return gf_errorf(GF_ERR_ARG, "dataset spec '%s': without pheno=, pheno_col is the number of a .fam "
                                 "phenotype (1 = the sixth column)", spec);
            o->pheno_index = (int)k;
        }
    }
    return GF_OK;
}

/* Rows idx[0..count) of g (kept samples) into a dataset with their labels. */
static gf_status to_dataset(const gf_genotypes *g, const int64_t *idx, int64_t count, const int32_t *labels,
                            int num_classes, gf_dataset *out)
{
    memset(out, 0, sizeof *out);
    int64_t rows = count ? count : 1;
    out->x = malloc(sizeof *out->x * (size_t)(rows * g->m));    /* (count, m) */
    out->y = malloc(sizeof *out->y * (size_t)rows);             /* (count) */
    if (!out->x || !out->y) {
        gf_dataset_free(out);
        return gf_errorf(GF_ERR_NOMEM, "out of memory for %lld x %lld dosages", (long long)count, (long long)g->m);
    }
    for (int64_t k = 0; k < count; k++) {
        memcpy(out->x + k * g->m, g->x + idx[k] * g->m, sizeof *out->x * (size_t)g->m);
        out->y[k] = labels[idx[k]];
    }
    out->n = count;
    out->c = out->h = 1;
    out->w = (int)g->m;
    out->dim = g->m;
    out->num_classes = num_classes;
    return GF_OK;
}

gf_status gf_genome_open(const char *spec, gf_dataset *train, gf_dataset *test)
{
    const int is_plink = strncmp(spec, "plink:", 6) == 0;
    char *copy = strdup(spec + (is_plink ? 6 : 4));
    if (!copy) return gf_errorf(GF_ERR_NOMEM, "%s: out of memory", spec);
    char *comma = strchr(copy, ',');
    if (comma) *comma = '\0';
    const char *path = copy;
    genome_opts o;
    gf_genotypes g = {0};
    double *values = NULL;
    int32_t *labels = NULL;
    unsigned char *keep = NULL;
    int64_t *idx = NULL;
    gf_dataset all = {0};
    gf_data_limits lim = gf_data_limits_default();
    gf_status st = parse_opts(spec, comma ? comma + 1 : NULL, is_plink, &o);
    if (st) goto out;
    if (!*path) { st = gf_errorf(GF_ERR_ARG, "dataset spec '%s': no %s", spec, is_plink ? "PLINK prefix" : "VCF path"); goto out; }

    st = is_plink ? gf_plink_read(path, o.pheno ? 0 : o.pheno_index, &lim, &g) : gf_vcf_read(path, &lim, &g);
    if (st) goto out;
    if (g.m > INT32_MAX) { st = gf_errorf(GF_ERR_FORMAT, "%s: more than %d variants", path, INT32_MAX); goto out; }
    int64_t unused = 0;
    if (o.pheno) {
        if (!(values = malloc(sizeof *values * (size_t)g.n))) { st = gf_errorf(GF_ERR_NOMEM, "%s: out of memory", spec); goto out; }
        st = gf_pheno_read(o.pheno, o.id_col, o.pheno_col, g.ids, g.n, &lim, values, &unused);
        if (st) goto out;
    } else {
        values = g.pheno;
        g.pheno = NULL;
    }
    labels = malloc(sizeof *labels * (size_t)g.n);
    keep = malloc((size_t)g.n);
    idx = malloc(sizeof *idx * (size_t)g.n);
    if (!labels || !keep || !idx) { st = gf_errorf(GF_ERR_NOMEM, "%s: out of memory", spec); goto out; }
    char what[320];
    snprintf(what, sizeof what, "%s: phenotype", o.pheno ? o.pheno : path);
    double median = NAN;
    if ((st = gf_target_apply(&o.rule, values, g.n, what, labels, keep, &median))) goto out;
    int64_t nk = 0;
    int num_classes = 1;
    for (int64_t i = 0; i < g.n; i++)
        if (keep[i]) {
            idx[nk++] = i;
            if (labels[i] + 1 > num_classes) num_classes = labels[i] + 1;
        }
    if (nk == 0) { st = gf_errorf(GF_ERR_FORMAT, "%s: every one of the %lld samples has a missing phenotype", spec, (long long)g.n); goto out; }
    if (o.rule.kind == GF_TARGET_MEDIAN || o.rule.kind == GF_TARGET_THRESHOLD || o.rule.kind == GF_TARGET_01 ||
        o.rule.kind == GF_TARGET_CASE_CONTROL)
        num_classes = 2;
    if ((st = to_dataset(&g, idx, nk, labels, num_classes, &all))) goto out;
    int64_t missing = gf_dataset_count_missing(&all), empty = 0;

    int64_t n_test = 0;
    if (o.test_fraction > 0) {
        if ((st = gf_dataset_split_fraction(&all, o.test_fraction, o.seed, spec, train, test))) goto out;
        n_test = test->n;
        train->num_classes = test->num_classes = num_classes;
    } else {
        *train = all;
        all = (gf_dataset){0};
        test->c = test->h = 1;
        test->w = train->w;
        test->dim = train->dim;
        test->num_classes = num_classes;
    }
    /* fill with the training split's means, so test data is filled as training saw it */
    if (o.fill_mean) {
        float *means = malloc(sizeof *means * (size_t)train->dim);    /* (m) */
        if (!means) { st = gf_errorf(GF_ERR_NOMEM, "%s: out of memory", spec); goto out; }
        st = gf_dataset_feature_means(train, means, &empty);
        if (!st) {
            gf_dataset_fill_missing_with(train, means);
            gf_dataset_fill_missing_with(test, means);
        }
        free(means);
        if (st) goto out;
    }
    int64_t cls1 = 0;
    for (int64_t k = 0; k < nk; k++) cls1 += labels[idx[k]] == 1;
    char rule[64] = "";
    if (o.rule.kind == GF_TARGET_MEDIAN) snprintf(rule, sizeof rule, ", label 1 above the median %g", median);
    else if (o.rule.kind == GF_TARGET_THRESHOLD) snprintf(rule, sizeof rule, ", label 1 above %g", o.rule.threshold);
    snprintf(note, sizeof note, "%s: %lld samples x %lld variants; %lld kept, %lld dropped for a missing phenotype%s%s "
             "(%lld with label 1); %lld missing calls%s; %lld train, %lld test",
             path, (long long)g.n, (long long)g.m, (long long)nk, (long long)(g.n - nk),
             unused ? " (the phenotype table's other rows ignored)" : "", rule, (long long)cls1,
             (long long)missing, o.fill_mean ? (empty ? " filled with the training samples' variant means (variants without a call there: 0)"
                                                       : " filled with the training samples' variant means")
                                             : (missing ? " left NaN (training refuses them; add fill=mean)" : ""),
             (long long)(nk - n_test), (long long)n_test);
out:
    if (st) { gf_dataset_free(train); gf_dataset_free(test); }
    gf_dataset_free(&all);
    gf_genotypes_free(&g);
    free(values); free(labels); free(keep); free(idx); free(copy);
    return st;
}
