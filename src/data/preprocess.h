/* Preprocessing of tabular datasets, computed once from statistics (a
 * federated statistics job's result, fed/fedstats.h) and then applied the
 * same way everywhere: at every site before it trains, and by gf eval on a
 * model that records it (checkpoint metadata "gf.preprocess").
 *
 * Steps, per input feature column j, in this order (as scikit-learn's
 * Pipeline([SimpleImputer, StandardScaler]) with ColumnTransformer's drop):
 *   drop         the column is removed
 *   impute       a missing value (NaN) becomes fill_j: the mean or the
 *                median of the column's present values
 *   standardise  x -> (x - center_j) / scale_j, center and scale the mean
 *                and population standard deviation (ddof 0, as
 *                StandardScaler) of the column AFTER imputation (a column
 *                with no spread keeps scale 1)
 *   one-hot      (instead of standardising) the column becomes one 0/1
 *                column per listed category, in the listed order; a value
 *                that is none of them gives all zeros (OneHotEncoder's
 *                handle_unknown="ignore")
 * and for the label: binarise, y -> (y >= threshold) (e.g. 0 = no disease,
 * 1..4 = disease). A missing value left without imputation is refused.
 * Output columns keep the input order, a one-hot column's indicators in
 * its place.
 *
 * The preprocessing travels as JSON (the task, the model's metadata):
 *   {"columns": N, "drop": [j, ...], "fill": [x|null, ...],
 *    "center": [x, ...], "scale": [x, ...], "binarize": T|null,
 *    "onehot": [{"column": j, "categories": [x, ...]}, ...]} */
#ifndef GF_DATA_PREPROCESS_H
#define GF_DATA_PREPROCESS_H

#include <stddef.h>
#include <stdint.h>
#include "core/error.h"
#include "data/dataset.h"

#define GF_PREPROCESS_MAX_COLUMNS    100000
#define GF_PREPROCESS_MAX_CATEGORIES 1000     /* categories of one one-hot column */

typedef enum { GF_IMPUTE_NONE, GF_IMPUTE_MEAN, GF_IMPUTE_MEDIAN } gf_impute;

/* What the user asks for (a job's "preprocess"). */
typedef struct {
    gf_impute      impute;
    int            standardize;
    const int64_t *drop;          /* (ndrop) column indices, 0-based */
    int64_t        ndrop;
    int            binarize;
    int32_t        threshold;     /* labels >= threshold become 1, the others 0 */
    int64_t        nonehot;       /* one-hot columns */
    const int64_t *onehot_column; /* (nonehot) their indices */
    const int64_t *onehot_off;    /* (nonehot + 1) column i's categories are */
    const float   *onehot_cats;   /* onehot_cats[onehot_off[i] .. onehot_off[i + 1]) */
} gf_preprocess_config;

/* What is applied (all arrays (columns), malloc'd). */
typedef struct {
    int64_t        columns;       /* input feature columns */
    int64_t        kept;          /* output feature columns */
    unsigned char *drop;          /* 1: removed */
    float         *fill;          /* NaN: no imputation */
    float         *center, *scale;
    int64_t       *cat_off;       /* (columns + 1) column j's one-hot categories are */
    float         *cats;          /* cats[cat_off[j] .. cat_off[j + 1]) (none: a numeric column) */
    int            binarize;
    int32_t        threshold;
} gf_preprocess;

void gf_preprocess_free(gf_preprocess *p);

/* From per-column statistics of the present values: count, missing, mean,
 * population variance, median (NaN when unknown; needed only for median
 * imputation), each (columns). GF_ERR_ARG naming the column when a needed
 * statistic is unknown or no column is left. */
gf_status gf_preprocess_build(const gf_preprocess_config *cfg, int64_t columns, const double *count,
                              const double *missing, const double *mean, const double *pvar, const double *median,
                              gf_preprocess *out);

/* The same from a statistics job's result JSON (fed/fedstats.h): a column
 * whose statistics were suppressed can only be dropped. */
gf_status gf_preprocess_from_stats_json(const gf_preprocess_config *cfg, const char *json, size_t len,
                                        gf_preprocess *out);

/* in -> out (a new dataset of p->kept features): GF_ERR_MISMATCH when in
 * has other columns than p; GF_ERR_NUMERIC naming sample and column for a
 * missing value without imputation. `what` names the data in messages. */
gf_status gf_preprocess_apply(const gf_preprocess *p, const gf_dataset *in, const char *what, gf_dataset *out);

/* JSON text (compact, *out malloc'd) and back (strict: every key, lengths
 * equal to columns, finite values, scale > 0). */
gf_status gf_preprocess_to_json(const gf_preprocess *p, char **out);
gf_status gf_preprocess_from_json(const char *json, size_t len, gf_preprocess *out);

#endif
