/* Summary statistics of a tabular dataset as one flat vector of sums (see
 * stats.h): the layout, computing it over a dataset, merging, and the
 * moments and quantiles of a combined vector. */
#include "data/stats.h"

#include <math.h>
#include <string.h>

gf_status gf_stats_plan_check(const gf_stats_plan *p)
{
    if (!p) return gf_errorf(GF_ERR_ARG, "statistics: no plan");
    if (p->columns < 1 || p->columns > GF_STATS_MAX_COLUMNS)
        return gf_errorf(GF_ERR_ARG, "statistics: columns must be 1..%d, got %lld", GF_STATS_MAX_COLUMNS,
                         (long long)p->columns);
    if (p->bins < 0 || p->bins > GF_STATS_MAX_BINS)
        return gf_errorf(GF_ERR_ARG, "statistics: bins must be 0..%d, got %d", GF_STATS_MAX_BINS, p->bins);
    if (p->classes < 1 || p->classes > GF_STATS_MAX_CLASSES)
        return gf_errorf(GF_ERR_ARG, "statistics: classes must be 1..%d, got %d", GF_STATS_MAX_CLASSES, p->classes);
    if (p->nranges != 0 && p->nranges != 1 && p->nranges != p->columns)
        return gf_errorf(GF_ERR_ARG, "statistics: %lld ranges for %lld columns (give one for all, or one per column)",
                         (long long)p->nranges, (long long)p->columns);
    if (p->bins > 0 && p->nranges == 0)
        return gf_errorf(GF_ERR_ARG, "statistics: histograms (bins %d) need a range", p->bins);
    if (p->nranges && !p->range) return gf_errorf(GF_ERR_ARG, "statistics: no ranges");
    for (int64_t i = 0; i < p->nranges; i++) {
        double lo = p->range[2 * i], hi = p->range[2 * i + 1];
        if (!isfinite(lo) || !isfinite(hi) || !(lo < hi) || !isfinite(hi - lo))
            return gf_errorf(GF_ERR_ARG, "statistics: range %lld must be finite with lo < hi, got [%g, %g]",
                             (long long)i, lo, hi);
    }
    return GF_OK;
}

int64_t gf_stats_block(const gf_stats_plan *p) { return GF_STATS_HIST + (p->bins > 0 ? p->bins + 2 : 0); }
int64_t gf_stats_col(const gf_stats_plan *p, int64_t j) { return 1 + j * gf_stats_block(p); }
int64_t gf_stats_labels(const gf_stats_plan *p) { return 1 + p->columns * gf_stats_block(p); }
int64_t gf_stats_len(const gf_stats_plan *p) { return gf_stats_labels(p) + p->classes + 1; }

void gf_stats_range(const gf_stats_plan *p, int64_t j, double *lo, double *hi, double *shift, double *scale)
{
    if (!p->nranges) { *lo = *hi = NAN; *shift = 0; *scale = 1; return; }
    const double *r = p->range + 2 * (p->nranges == 1 ? 0 : j);
    *lo = r[0];
    *hi = r[1];
    *shift = 0.5 * r[0] + 0.5 * r[1];
    *scale = 0.5 * r[1] - 0.5 * r[0];
}

void gf_stats_zero(const gf_stats_plan *p, double *acc)
{
    memset(acc, 0, sizeof *acc * (size_t)gf_stats_len(p));
}

gf_status gf_stats_add_dataset(const gf_stats_plan *p, const gf_dataset *d, double *acc)
{
    if (d->tokens) return gf_errorf(GF_ERR_ARG, "statistics: a token dataset has no columns");
    if (d->dim != p->columns)
        return gf_errorf(GF_ERR_MISMATCH, "statistics: the data has %lld feature columns but the job asks for %lld",
                         (long long)d->dim, (long long)p->columns);
    if (d->n < 0 || acc[0] + (double)d->n > (double)GF_STATS_MAX_ROWS)
        return gf_errorf(GF_ERR_ARG, "statistics: more than %lld rows (counts would not be exact in float32)",
                         (long long)GF_STATS_MAX_ROWS);
    int64_t lab = gf_stats_labels(p);
    for (int64_t j = 0; j < p->columns; j++) {
        double *s = acc + gf_stats_col(p, j);   /* (block) */
        double lo, hi, c, h;
        gf_stats_range(p, j, &lo, &hi, &c, &h);
        double width = p->bins ? (hi - lo) / p->bins : 0;
        for (int64_t i = 0; i < d->n; i++) {
            double x = d->x[i * d->dim + j];
            if (!isfinite(x)) { s[GF_STATS_MISSING] += 1; continue; }
            if (s[GF_STATS_COUNT] == 0 || x < s[GF_STATS_MIN]) s[GF_STATS_MIN] = x;
            if (s[GF_STATS_COUNT] == 0 || x > s[GF_STATS_MAX]) s[GF_STATS_MAX] = x;
            s[GF_STATS_COUNT] += 1;
            double z = (x - c) / h;
            s[GF_STATS_SUM] += z;
            s[GF_STATS_SUMSQ] += z * z;
            if (!p->bins) continue;
            int64_t b;
            if (x < lo) b = -1;
            else if (x > hi) b = p->bins;
            else {
                b = (int64_t)((x - lo) / width);
                if (b >= p->bins) b = p->bins - 1;      /* x == hi: the last bin is closed */
            }
            s[GF_STATS_HIST + 1 + b] += 1;
        }
    }
    for (int64_t i = 0; i < d->n; i++) {
        int32_t y = d->y[i];
        acc[lab + (y >= 0 && y < p->classes ? y : p->classes)] += 1;
    }
    acc[0] += (double)d->n;
    return GF_OK;
}

void gf_stats_merge(const gf_stats_plan *p, double *acc, const float *v)
{
    int64_t len = gf_stats_len(p);
    for (int64_t j = 0; j < p->columns; j++) {      /* min/max first: they depend on the counts before */
        int64_t o = gf_stats_col(p, j);
        double *s = acc + o;
        const float *t = v + o;
        if (t[GF_STATS_COUNT] <= 0) continue;
        int none = s[GF_STATS_COUNT] <= 0;
        if (none || t[GF_STATS_MIN] < s[GF_STATS_MIN]) s[GF_STATS_MIN] = t[GF_STATS_MIN];
        if (none || t[GF_STATS_MAX] > s[GF_STATS_MAX]) s[GF_STATS_MAX] = t[GF_STATS_MAX];
    }
    for (int64_t i = 0; i < len; i++) {
        if (i >= 1 && i < gf_stats_labels(p)) {
            int64_t k = (i - 1) % gf_stats_block(p);
            if (k == GF_STATS_MIN || k == GF_STATS_MAX) continue;
        }
        acc[i] += v[i];
    }
}

void gf_stats_drop_minmax(const gf_stats_plan *p, float *v)
{
    for (int64_t j = 0; j < p->columns; j++) {
        float *s = v + gf_stats_col(p, j);
        s[GF_STATS_MIN] = s[GF_STATS_MAX] = 0;
    }
}

void gf_stats_moments(const gf_stats_plan *p, const double *acc, int64_t j, double *mean, double *var)
{
    const double *s = acc + gf_stats_col(p, j);
    double lo, hi, c, h, n = s[GF_STATS_COUNT];
    gf_stats_range(p, j, &lo, &hi, &c, &h);
    double m = n > 0 ? s[GF_STATS_SUM] / n : NAN;      /* the mean of z = (x - c) / h */
    *mean = n > 0 ? c + h * m : NAN;
    if (n >= 2) {
        double v = (s[GF_STATS_SUMSQ] - n * m * m) / (n - 1) * h * h;
        *var = v > 0 ? v : 0;
    } else {
        *var = NAN;
    }
}

double gf_stats_quantile(const gf_stats_plan *p, const double *acc, int64_t j, double q, int *where)
{
    *where = 0;
    const double *s = acc + gf_stats_col(p, j);
    double n = s[GF_STATS_COUNT];
    if (!p->bins || !(n > 0) || !(q >= 0 && q <= 1)) return NAN;
    double lo, hi, c, scale;
    gf_stats_range(p, j, &lo, &hi, &c, &scale);
    const double *h = s + GF_STATS_HIST;              /* (bins + 2): under, bins, over */
    double target = q * n, cum = h[0];   /* the value of rank ceil(q n) (inverted CDF) lies in the bin found */
    if (target < cum || (cum > 0 && target == 0)) { *where = -1; return NAN; }
    double width = (hi - lo) / p->bins;
    for (int b = 0; b < p->bins; b++) {
        double k = h[1 + b];
        if (k > 0 && target <= cum + k) return lo + width * (b + (target - cum) / k);
        cum += k;
    }
    if (h[1 + p->bins] > 0) { *where = 1; return NAN; }
    return hi;                                         /* rounding at q = 1 */
}
