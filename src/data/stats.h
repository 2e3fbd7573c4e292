/* Summary statistics of a tabular dataset as one flat vector of sums, so
 * that the statistics of several datasets (the sites of a federation) are
 * their vectors added up: a plain sum, or a securely aggregated one. This
 * file owns the vector's layout, the computation over one dataset, the
 * combination of several vectors, and what is derived from a combined one
 * (mean, variance, quantiles); the federated job around it is in src/fed.
 *
 * Layout (float on the wire, double while accumulating), len =
 * 1 + columns * block + classes + 1:
 *   [0]                      rows
 *   per feature column j, at 1 + j * block, block = 6 (+ bins + 2):
 *     count     values present (not NaN)
 *     missing   NaN values
 *     sum       sum of z = (x - c_j) / h_j over present values
 *     sumsq     sum of z^2
 *     min, max  over present values (0 when count is 0); not sums: they are
 *               combined by min/max in the clear and left 0 (omitted) under
 *               secure aggregation, which can only sum
 *     under, bins, over   (only when bins > 0) a histogram over
 *               [lo_j, hi_j] in `bins` equal bins (the last one closed),
 *               with the values below lo_j and above hi_j counted apart
 *   label counts: classes 0..classes-1, then one count of larger labels
 * c_j and h_j are the middle and half the width of column j's range (0
 * and 1 without ranges): values in range have |z| <= 1, so every entry is
 * bounded by the row count, like the counts (secure aggregation quantises
 * every entry within one clip), and variances survive float rounding.
 *
 * Every count is exact in float up to 2^24 rows per dataset (more is
 * refused). */
#ifndef GF_DATA_STATS_H
#define GF_DATA_STATS_H

#include <stdint.h>
#include "core/error.h"
#include "data/dataset.h"

#define GF_STATS_MAX_COLUMNS 100000
#define GF_STATS_MAX_BINS    10000
#define GF_STATS_MAX_CLASSES 100000
#define GF_STATS_MAX_ROWS    (1LL << 24)

enum { GF_STATS_COUNT, GF_STATS_MISSING, GF_STATS_SUM, GF_STATS_SUMSQ, GF_STATS_MIN, GF_STATS_MAX,
       GF_STATS_HIST /* under, then bins, then over */ };

typedef struct {
    int64_t       columns;    /* feature columns, 1..GF_STATS_MAX_COLUMNS */
    int           bins;       /* histogram bins per column, 0..GF_STATS_MAX_BINS (0: none) */
    int           classes;    /* label categories counted one by one, 1..GF_STATS_MAX_CLASSES */
    const double *range;      /* (nranges, 2) [lo, hi], lo < hi, finite */
    int64_t       nranges;    /* 0 (bins must be 0), 1 (one range for every column) or columns */
} gf_stats_plan;

/* GF_ERR_ARG naming what is wrong with the plan. */
gf_status gf_stats_plan_check(const gf_stats_plan *p);

int64_t gf_stats_block(const gf_stats_plan *p);     /* values per column */
int64_t gf_stats_len(const gf_stats_plan *p);       /* length of the vector */
int64_t gf_stats_col(const gf_stats_plan *p, int64_t j);    /* offset of column j's block */
int64_t gf_stats_labels(const gf_stats_plan *p);    /* offset of the label counts */
/* Column j's histogram range, shift c_j and scale h_j. */
void    gf_stats_range(const gf_stats_plan *p, int64_t j, double *lo, double *hi, double *shift, double *scale);

/* acc (len) = the statistics of no rows. */
void      gf_stats_zero(const gf_stats_plan *p, double *acc);
/* Adds dataset d's rows to acc (len). GF_ERR_MISMATCH when d's columns are
 * not the plan's; GF_ERR_ARG for a token dataset or more rows than
 * GF_STATS_MAX_ROWS in all. Infinite values count as missing. */
gf_status gf_stats_add_dataset(const gf_stats_plan *p, const gf_dataset *d, double *acc);
/* Folds another statistics vector v (len) into acc (len): sums added,
 * min/max combined (a side without values leaves the other's). */
void      gf_stats_merge(const gf_stats_plan *p, double *acc, const float *v);
/* Sets every min and max of v (len) to 0 (what secure aggregation sends). */
void      gf_stats_drop_minmax(const gf_stats_plan *p, float *v);

/* Derived from a combined vector acc for column j: the mean and the sample
 * variance (n - 1 in the denominator, as pandas; NaN below 2 values). */
void      gf_stats_moments(const gf_stats_plan *p, const double *acc, int64_t j, double *mean, double *var);
/* The q-quantile (0 <= q <= 1) of column j from its histogram, linear
 * within the bin that holds the value of rank ceil(q n) (the inverted-CDF
 * quantile: the smallest x with at least q n values at or below it), so
 * less than one bin width from it: NaN
 * without a histogram, without values, or when it falls below lo or above
 * hi (then *where is -1 or +1; else 0). */
double    gf_stats_quantile(const gf_stats_plan *p, const double *acc, int64_t j, double q, int *where);

#endif
