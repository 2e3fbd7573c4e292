/* Datasets in memory: opening a dataset spec into a train and a test set,
 * freeing, finiteness checks, subsets, gathering a batch, and the per-epoch
 * shuffle. File formats live in idx.c and csv.c, splits in partition.c. */
#include "data/dataset.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/rng.h"

#define FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"
#define SPEC_FORMS "accepted forms: fashion-mnist | idx:DIR | csv:PATH[,label=COL][,test=PATH2] | text:PATH | tokens:PATH"

void gf_dataset_free(gf_dataset *d)
{
    if (!d) return;
    free(d->x);
    free(d->y);
    free(d->tokens);
    memset(d, 0, sizeof *d);
}

static int file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* DIR/NAME if it exists, else DIR/NAME.gz if that exists; *out is malloc'd. */
static gf_status idx_find(const char *dir, const char *name, char **out)
{
    *out = NULL;
    size_t len = strlen(dir) + strlen(name) + 8;
    char *raw = malloc(len), *gz = malloc(len);
    if (!raw || !gz) {
        free(raw); free(gz);
        return gf_errorf(GF_ERR_NOMEM, "idx:%s: out of memory", dir);
    }
    snprintf(raw, len, "%s/%s", dir, name);
    snprintf(gz, len, "%s/%s.gz", dir, name);
    if (file_exists(raw)) { free(gz); *out = raw; return GF_OK; }
    if (file_exists(gz)) { free(raw); *out = gz; return GF_OK; }
    gf_status st = gf_errorf(GF_ERR_IO, "idx:%s: neither %s nor %s exists", dir, raw, gz);
    free(raw); free(gz);
    return st;
}

/* Loads DIR/{prefix}-images-idx3-ubyte[.gz] with its labels. */
static gf_status idx_open_split(const char *dir, const char *prefix, gf_dataset *out)
{
    char images_name[64], labels_name[64];
    snprintf(images_name, sizeof images_name, "%s-images-idx3-ubyte", prefix);
    snprintf(labels_name, sizeof labels_name, "%s-labels-idx1-ubyte", prefix);
    char *images = NULL, *labels = NULL;
    gf_status st = idx_find(dir, images_name, &images);
    if (!st) st = idx_find(dir, labels_name, &labels);
    if (!st) st = gf_idx_load(images, labels, out);
    free(images);
    free(labels);
    return st;
}

static gf_status open_idx_dir(const char *dir, gf_dataset *train, gf_dataset *test)
{
    gf_status st = idx_open_split(dir, "train", train);
    if (!st) st = idx_open_split(dir, "t10k", test);
    if (!st && (train->c != test->c || train->h != test->h || train->w != test->w))
        st = gf_errorf(GF_ERR_MISMATCH, "idx:%s: train images are %dx%d but test images are %dx%d",
                       dir, train->h, train->w, test->h, test->w);
    return st;
}

/* Rows [from, from + count) of d, copied. */
static gf_status rows_copy(const gf_dataset *d, int64_t from, int64_t count, gf_dataset *out)
{
    memset(out, 0, sizeof *out);
    out->x = malloc((size_t)(count * d->dim) * sizeof *out->x);
    out->y = malloc((size_t)count * sizeof *out->y);
    if (!out->x || !out->y) {
        gf_dataset_free(out);
        return gf_errorf(GF_ERR_NOMEM, "out of memory copying %lld samples", (long long)count);
    }
    memcpy(out->x, d->x + from * d->dim, (size_t)(count * d->dim) * sizeof *out->x);
    memcpy(out->y, d->y + from, (size_t)count * sizeof *out->y);
    out->n = count;
    out->c = d->c; out->h = d->h; out->w = d->w;
    out->dim = d->dim;
    out->num_classes = d->num_classes;
    return GF_OK;
}

/* csv:PATH[,label=COL][,test=PATH2] (the part after "csv:"). */
static gf_status open_csv(const char *spec, const char *args, gf_dataset *train, gf_dataset *test)
{
    char *copy = strdup(args);
    if (!copy) return gf_errorf(GF_ERR_NOMEM, "%s: out of memory", spec);
    char *path = copy, *label = "label", *test_path = NULL;
    char *comma = strchr(copy, ',');
    if (comma) *comma = '\0';
    gf_status st = GF_OK;
    for (char *opt = comma ? comma + 1 : NULL; opt; ) {
        char *next = strchr(opt, ',');
        if (next) *next++ = '\0';
        if (strncmp(opt, "label=", 6) == 0 && opt[6]) label = opt + 6;
        else if (strncmp(opt, "test=", 5) == 0 && opt[5]) test_path = opt + 5;
        else {
            st = gf_errorf(GF_ERR_ARG, "dataset spec '%s': unknown or empty option '%s' (csv takes label=COL and test=PATH)",
                           spec, opt);
            goto done;
        }
        opt = next;
    }
    if (!*path) {
        st = gf_errorf(GF_ERR_ARG, "dataset spec '%s': no CSV path; " SPEC_FORMS, spec);
        goto done;
    }

    if (test_path) {
        st = gf_csv_load(path, label, train);
        if (!st) st = gf_csv_load(test_path, label, test);
        if (!st && train->dim != test->dim)
            st = gf_errorf(GF_ERR_MISMATCH, "%s has %lld feature columns but %s has %lld",
                           path, (long long)train->dim, test_path, (long long)test->dim);
        goto done;
    }

    gf_dataset all;
    st = gf_csv_load(path, label, &all);
    if (st) goto done;
    if (all.n < 2) {
        st = gf_errorf(GF_ERR_FORMAT, "%s: %lld data row(s) cannot be split into train and test; give test=PATH",
                       path, (long long)all.n);
    } else {
        int64_t n_test = all.n / 10 ? all.n / 10 : 1;   /* the last 10% of rows */
        st = rows_copy(&all, 0, all.n - n_test, train);
        if (!st) st = rows_copy(&all, all.n - n_test, n_test, test);
    }
    gf_dataset_free(&all);
done:
    free(copy);
    return st;
}

/* text:PATH / tokens:PATH: the last 10% of the tokens are the test stream */
static gf_status open_tokens(const char *spec, gf_dataset *train, gf_dataset *test)
{
    gf_data_limits lim = gf_data_limits_default();
    gf_dataset all = {0};
    gf_status st = spec[1] == 'e' ? gf_text_load(spec + 5, &lim, &all) : gf_tokens_load(spec + 7, &lim, &all);
    if (st) return st;
    int64_t n_test = all.ntokens / 10;
    train->ntokens = all.ntokens - n_test;
    test->ntokens = n_test;
    train->tokens = all.tokens;
    all.tokens = NULL;
    if (n_test) {
        if (!(test->tokens = malloc(sizeof(int32_t) * (size_t)n_test))) {
            gf_dataset_free(&all);
            return gf_errorf(GF_ERR_NOMEM, "out of memory for %lld test tokens", (long long)n_test);
        }
        memcpy(test->tokens, train->tokens + train->ntokens, sizeof(int32_t) * (size_t)n_test);
    }
    train->num_classes = test->num_classes = all.num_classes;
    gf_dataset_free(&all);
    return GF_OK;
}

gf_status gf_dataset_open(const char *spec, gf_dataset *train, gf_dataset *test)
{
    if (!train || !test) return gf_errorf(GF_ERR_ARG, "gf_dataset_open: no output datasets");
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    if (!spec || !*spec) return gf_errorf(GF_ERR_ARG, "empty dataset spec; " SPEC_FORMS);

    gf_status st;
    if (strcmp(spec, "fashion-mnist") == 0) {
        st = open_idx_dir(FASHION_MNIST_DIR, train, test);
        if (st == GF_ERR_IO) {
            char why[512];
            snprintf(why, sizeof why, "%s", gf_last_error());
            st = gf_errorf(GF_ERR_IO, "fashion-mnist: %s (install Debian's dataset-fashion-mnist)", why);
        }
    } else if (strncmp(spec, "idx:", 4) == 0 && spec[4]) {
        st = open_idx_dir(spec + 4, train, test);
    } else if (strncmp(spec, "csv:", 4) == 0) {
        st = open_csv(spec, spec + 4, train, test);
    } else if ((strncmp(spec, "text:", 5) == 0 && spec[5]) || (strncmp(spec, "tokens:", 7) == 0 && spec[7])) {
        st = open_tokens(spec, train, test);
    } else {
        return gf_errorf(GF_ERR_ARG, "unknown dataset spec '%s'; " SPEC_FORMS, spec);
    }
    if (st) {
        gf_dataset_free(train);
        gf_dataset_free(test);
        return st;
    }
    /* Both halves share one label space, so a model sized for train can score test. */
    int k = train->num_classes > test->num_classes ? train->num_classes : test->num_classes;
    train->num_classes = test->num_classes = k;
    return GF_OK;
}

gf_status gf_dataset_check_finite(const gf_dataset *d, const char *what)
{
    if (!what) what = "dataset";
    if (!d) return gf_errorf(GF_ERR_ARG, "%s: no dataset", what);
    if (d->tokens) return GF_OK;   /* integer ids */
    int64_t total = d->n * d->dim;
    for (int64_t i = 0; i < total; i++) {
        if (isfinite(d->x[i])) continue;
        if (isnan(d->x[i]))
            return gf_errorf(GF_ERR_NUMERIC, "%s: sample %lld, feature %lld is missing (NaN): missing values must be "
                             "imputed first (a job's \"preprocess\" with \"impute\", from a statistics job)",
                             what, (long long)(i / d->dim), (long long)(i % d->dim));
        return gf_errorf(GF_ERR_NUMERIC, "%s: sample %lld, feature %lld is %s",
                         what, (long long)(i / d->dim), (long long)(i % d->dim),
                         isnan(d->x[i]) ? "NaN" : d->x[i] > 0 ? "+Inf" : "-Inf");
    }
    return GF_OK;
}

void gf_shuffle(int64_t n, uint64_t seed, uint64_t epoch, int64_t *perm)
{
    gf_rng rng;
    gf_rng_seed(&rng, gf_hash64(seed, epoch));
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {       /* Fisher-Yates */
        int64_t j = (int64_t)gf_rng_below(&rng, (uint64_t)i + 1);
        int64_t t = perm[i]; perm[i] = perm[j]; perm[j] = t;
    }
}

void gf_dataset_gather(const gf_dataset *d, const int64_t *idx, int64_t count,
                       void *x_out_v, int32_t *y_out)
{
    if (d->tokens) {
        int32_t *x_out = x_out_v;
        for (int64_t i = 0; i < count; i++) {
            const int32_t *s = d->tokens + idx[i] * d->dim;
            memcpy(x_out + i * d->dim, s, (size_t)d->dim * sizeof *x_out);
            memcpy(y_out + i * d->dim, s + 1, (size_t)d->dim * sizeof *y_out);
        }
        return;
    }
    float *x_out = x_out_v;
    for (int64_t i = 0; i < count; i++) {
        memcpy(x_out + i * d->dim, d->x + idx[i] * d->dim, (size_t)d->dim * sizeof *x_out);
        y_out[i] = d->y[idx[i]];
    }
}

gf_status gf_dataset_subset(const gf_dataset *d, const int64_t *idx, int64_t count,
                            gf_dataset *out)
{
    if (!out) return gf_errorf(GF_ERR_ARG, "gf_dataset_subset: no output dataset");
    memset(out, 0, sizeof *out);
    if (!d || count < 0 || (count > 0 && !idx))
        return gf_errorf(GF_ERR_ARG, "gf_dataset_subset: bad arguments (count %lld)", (long long)count);
    if (d->tokens)
        return gf_errorf(GF_ERR_ARG, "token datasets cannot be split into subsets (yet)");
    for (int64_t i = 0; i < count; i++)
        if (idx[i] < 0 || idx[i] >= d->n)
            return gf_errorf(GF_ERR_ARG, "gf_dataset_subset: index %lld (entry %lld) outside 0..%lld",
                             (long long)idx[i], (long long)i, (long long)d->n - 1);
    /* at least one element each, so an empty subset still has valid pointers */
    int64_t rows = count ? count : 1, floats = rows * d->dim > 0 ? rows * d->dim : 1;
    out->x = malloc((size_t)floats * sizeof *out->x);   /* (count, dim) */
    out->y = malloc((size_t)rows * sizeof *out->y);     /* (count) */
    if (!out->x || !out->y) {
        gf_dataset_free(out);
        return gf_errorf(GF_ERR_NOMEM, "out of memory for a subset of %lld samples", (long long)count);
    }
    gf_dataset_gather(d, idx, count, out->x, out->y);
    out->n = count;
    out->c = d->c; out->h = d->h; out->w = d->w;
    out->dim = d->dim;
    out->num_classes = d->num_classes;
    return GF_OK;
}
