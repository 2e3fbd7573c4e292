/* The JSON result of a federated statistics job, with small counts
 * suppressed (see fedstats.h). */
#include "fed/fedstats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

/* A count, or null when 0 < n < min (and *suppressed counts it). Counts
 * that went through secure aggregation's fixed point are rounded. */
static json_t *count_or_null(double n, int64_t min, int *suppressed)
{
    double r = nearbyint(n);
    if (r > 0 && r < (double)min) { (*suppressed)++; return json_null(); }
    return json_integer((json_int_t)r);
}

void gf_fedstats_plan(const gf_fedstats_config *c, gf_stats_plan *out)
{
    *out = (gf_stats_plan){ .columns = c->columns, .bins = c->bins, .classes = c->classes, .range = c->range,
                            .nranges = c->nranges };
}

gf_status gf_fedstats_manifest(const gf_stats_plan *p, gf_manifest *m)
{
    memset(m, 0, sizeof *m);
    gf_status st = gf_stats_plan_check(p);
    if (st) return st;
    if (!(m->e = calloc(1, sizeof *m->e))) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    m->n = 1;
    m->d = gf_stats_len(p);
    snprintf(m->e[0].name, sizeof m->e[0].name, "stats");
    m->e[0].ndim = 1;
    m->e[0].shape[0] = m->d;
    m->e[0].numel = m->d;
    return GF_OK;
}

static json_t *real_or_null(double x) { return isfinite(x) ? json_real(x) : json_null(); }

gf_status gf_fedstats_render(const gf_stats_plan *p, const double *acc, int64_t job, int nsites, int secagg,
                             int64_t min_count, char **json)
{
    *json = NULL;
    int sup_cols = 0, sup_bins = 0, sup_labels = 0;
    json_t *root = json_object(), *cols = json_array(), *notes = json_array();
    if (!root || !cols || !notes) goto nomem;
    for (int64_t j = 0; j < p->columns; j++) {
        const double *s = acc + gf_stats_col(p, j);
        double n = nearbyint(s[GF_STATS_COUNT]);
        json_t *c = json_pack("{s:I,s:I,s:I}", "index", (json_int_t)j, "count", (json_int_t)n,
                              "missing", (json_int_t)nearbyint(s[GF_STATS_MISSING]));
        if (!c || json_array_append_new(cols, c)) goto nomem;
        if (n < (double)min_count) {                  /* too few values to say anything more */
            if (n > 0) sup_cols++;
            json_object_set_new(c, "suppressed", json_true());
            continue;
        }
        double mean, var;
        gf_stats_moments(p, acc, j, &mean, &var);
        json_object_set_new(c, "mean", real_or_null(mean));
        json_object_set_new(c, "var", real_or_null(var));
        json_object_set_new(c, "std", real_or_null(sqrt(var)));
        json_object_set_new(c, "min", secagg ? json_null() : real_or_null(s[GF_STATS_MIN]));
        json_object_set_new(c, "max", secagg ? json_null() : real_or_null(s[GF_STATS_MAX]));
        if (!p->bins) continue;
        static const double qs[] = { 0.25, 0.5, 0.75 };
        json_t *q = json_object();
        for (int k = 0; k < 3; k++) {
            int where;
            char key[32];
            snprintf(key, sizeof key, "%g", qs[k]);
            json_object_set_new(q, key, real_or_null(gf_stats_quantile(p, acc, j, qs[k], &where)));
        }
        json_object_set_new(c, "quantiles", q);
        double lo, hi, shift, scale;
        gf_stats_range(p, j, &lo, &hi, &shift, &scale);
        const double *h = s + GF_STATS_HIST;
        json_t *counts = json_array();
        for (int b = 0; b < p->bins; b++) json_array_append_new(counts, count_or_null(h[1 + b], min_count, &sup_bins));
        json_object_set_new(c, "histogram", json_pack("{s:f,s:f,s:i,s:o,s:o,s:o}", "lo", lo, "hi", hi, "bins", p->bins,
                                                      "under", count_or_null(h[0], min_count, &sup_bins),
                                                      "counts", counts,
                                                      "over", count_or_null(h[1 + p->bins], min_count, &sup_bins)));
    }
    const double *lab = acc + gf_stats_labels(p);
    json_t *lc = json_array();
    for (int k = 0; k < p->classes; k++) json_array_append_new(lc, count_or_null(lab[k], min_count, &sup_labels));
    json_t *labels = json_pack("{s:o,s:o}", "counts", lc, "other", count_or_null(lab[p->classes], min_count, &sup_labels));
    if (secagg)
        json_array_append_new(notes, json_string("secure aggregation: the coordinator saw only the sum of the sites' "
                                                 "statistics; min and max cannot be summed and are omitted"));
    if (sup_cols + sup_bins + sup_labels)
        json_array_append_new(notes, json_string("counts below min_count are suppressed (null), and so is every "
                                                 "statistic of a column with fewer values"));
    if (json_object_set_new(root, "kind", json_string("statistics")) ||
        json_object_set_new(root, "job", json_integer((json_int_t)job)) ||
        json_object_set_new(root, "sites", json_integer(nsites)) ||
        json_object_set_new(root, "rows", json_integer((json_int_t)nearbyint(acc[0]))) ||
        json_object_set_new(root, "min_count", json_integer((json_int_t)min_count)) ||
        json_object_set_new(root, "secure_aggregation", json_boolean(secagg)) ||
        json_object_set_new(root, "suppressed", json_pack("{s:i,s:i,s:i}", "columns", sup_cols, "bins", sup_bins,
                                                          "labels", sup_labels)) ||
        json_object_set_new(root, "notes", notes) ||
        json_object_set_new(root, "columns", cols) ||
        json_object_set_new(root, "labels", labels)) {
        notes = cols = NULL;
        goto nomem;
    }
    *json = json_dumps(root, JSON_INDENT(1) | JSON_REAL_PRECISION(17));
    json_decref(root);
    return *json ? GF_OK : gf_errorf(GF_ERR_NOMEM, "out of memory");
nomem:
    json_decref(root);
    json_decref(cols);
    json_decref(notes);
    return gf_errorf(GF_ERR_NOMEM, "out of memory rendering statistics");
}
