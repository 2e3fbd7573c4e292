/* Datasets in memory: opening a dataset spec into a train and a test set,
 * freeing, finiteness checks, subsets, gathering a batch, and the per-epoch
 * shuffle. File formats live in idx.c, csv.c, npz.c, tokens.c, imagedir.c and nifti.c
 * (genotypes: genome.c and the readers it calls), splits in partition.c. */
#include "data/dataset.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/rng.h"
#include "data/genome.h"
#include "data/imagedir.h"
#include "data/medimg.h"

#define FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"
#define SPEC_FORMS "accepted forms: fashion-mnist | idx:DIR | csv:PATH[,label=COL][,test=PATH2|,test_fraction=F] | " \
                   "npz:PATH[,split=S|,images=KEY,labels=KEY] | text:PATH | tokens:PATH | plink:PREFIX[,OPTS] | " \
                   "vcf:PATH,pheno=CSV,pheno_col=NAME[,OPTS] | " \
                   "imagedir:DIR[,size=HxW][,gray|rgb][,test=DIR2|,test_fraction=F] | " \
                   "nifti:DIR_OR_LIST,labels=CSV[,OPTS] | dicom:DIR,labels=CSV[,OPTS]"
#define TEST_ROWS_DRAW 0x74657374u   /* "test": the stream of the fixed test_fraction draw */

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

gf_status gf_dataset_split_fraction(const gf_dataset *all, double frac, uint64_t seed, const char *what,
                                    gf_dataset *train, gf_dataset *test)
{
    if (all->n < 2)
        return gf_errorf(GF_ERR_FORMAT, "%s: %lld sample(s) cannot be split into train and test (test_fraction=%g)",
                         what, (long long)all->n, frac);
    int64_t n_test = llround(frac * (double)all->n);
    if (n_test < 1) n_test = 1;
    if (n_test > all->n - 1) n_test = all->n - 1;
    int64_t *perm = malloc(sizeof *perm * (size_t)all->n);        /* (n) */
    int64_t *idx = malloc(sizeof *idx * (size_t)all->n);          /* (n): train rows, then test rows */
    unsigned char *is_test = calloc((size_t)all->n, 1);           /* (n) */
    gf_status st = GF_OK;
    if (!perm || !idx || !is_test) {
        st = gf_errorf(GF_ERR_NOMEM, "%s: out of memory for %lld samples", what, (long long)all->n);
    } else {
        /* a fixed draw of n_test samples (the same for the same n and seed), each half in file order */
        gf_shuffle(all->n, seed, TEST_ROWS_DRAW, perm);
        for (int64_t i = 0; i < n_test; i++) is_test[perm[i]] = 1;
        int64_t k = 0;
        for (int64_t i = 0; i < all->n; i++) if (!is_test[i]) idx[k++] = i;
        for (int64_t i = 0; i < all->n; i++) if (is_test[i]) idx[k++] = i;
        st = gf_dataset_subset(all, idx, all->n - n_test, train);
        if (!st) st = gf_dataset_subset(all, idx + (all->n - n_test), n_test, test);
        if (st) gf_dataset_free(train);
    }
    free(perm);
    free(idx);
    free(is_test);
    return st;
}

/* csv:PATH[,label=COL][,test=PATH2|,test_fraction=F] (the part after
 * "csv:"): a test split given as a file, drawn as a fraction, or none. */
static gf_status open_csv(const char *spec, const char *args, gf_dataset *train, gf_dataset *test)
{
    char *copy = strdup(args);
    if (!copy) return gf_errorf(GF_ERR_NOMEM, "%s: out of memory", spec);
    char *path = copy, *label = "label", *test_path = NULL, *frac_text = NULL;
    char *comma = strchr(copy, ',');
    if (comma) *comma = '\0';
    gf_status st = GF_OK;
    for (char *opt = comma ? comma + 1 : NULL; opt; ) {
        char *next = strchr(opt, ',');
        if (next) *next++ = '\0';
        if (strncmp(opt, "label=", 6) == 0 && opt[6]) label = opt + 6;
        else if (strncmp(opt, "test=", 5) == 0 && opt[5]) test_path = opt + 5;
        else if (strncmp(opt, "test_fraction=", 14) == 0 && opt[14]) frac_text = opt + 14;
        else {
            st = gf_errorf(GF_ERR_ARG, "dataset spec '%s': unknown or empty option '%s' (csv takes label=COL, "
                           "test=PATH and test_fraction=F)", spec, opt);
            goto done;
        }
        opt = next;
    }
    if (!*path) {
        st = gf_errorf(GF_ERR_ARG, "dataset spec '%s': no CSV path; " SPEC_FORMS, spec);
        goto done;
    }
    double frac = 0.0;
    if (frac_text) {
        char *end;
        errno = 0;
        frac = strtod(frac_text, &end);
        if (test_path) {
            st = gf_errorf(GF_ERR_ARG, "dataset spec '%s': give test=PATH or test_fraction=F, not both", spec);
            goto done;
        }
        if (errno || end == frac_text || *end || !(frac > 0.0 && frac < 1.0)) {
            st = gf_errorf(GF_ERR_ARG, "dataset spec '%s': test_fraction must be a number in (0, 1), got \"%s\"",
                           spec, frac_text);
            goto done;
        }
    }

    if (test_path) {
        st = gf_csv_load(path, label, train);
        if (!st) st = gf_csv_load(test_path, label, test);
        if (!st && train->dim != test->dim)
            st = gf_errorf(GF_ERR_MISMATCH, "%s has %lld feature columns but %s has %lld",
                           path, (long long)train->dim, test_path, (long long)test->dim);
        goto done;
    }
    if (!frac_text) {                 /* no test split: every row trains */
        st = gf_csv_load(path, label, train);
        if (!st) *test = (gf_dataset){ .c = train->c, .h = train->h, .w = train->w, .dim = train->dim,
                                       .num_classes = train->num_classes };
        goto done;
    }

    gf_dataset all;
    st = gf_csv_load(path, label, &all);
    if (st) goto done;
    st = gf_dataset_split_fraction(&all, frac, 0, path, train, test);
    gf_dataset_free(&all);
done:
    free(copy);
    return st;
}

/* npz:PATH[,split=S | ,images=KEY,labels=KEY] (the part after "npz:"):
 * without options train_* / test_* (MedMNIST), else one named pair as the
 * training split and no test split (gf eval --split train scores it). */
static gf_status open_npz(const char *spec, const char *args, gf_dataset *train, gf_dataset *test)
{
    char *copy = strdup(args);
    if (!copy) return gf_errorf(GF_ERR_NOMEM, "%s: out of memory", spec);
    char *path = copy, *split = NULL, *images = NULL, *labels = NULL;
    char *comma = strchr(copy, ',');
    if (comma) *comma = '\0';
    gf_status st = GF_OK;
    char ik[128], lk[128];
    for (char *opt = comma ? comma + 1 : NULL; opt; ) {
        char *next = strchr(opt, ',');
        if (next) *next++ = '\0';
        if (strncmp(opt, "split=", 6) == 0 && opt[6] && !split) split = opt + 6;
        else if (strncmp(opt, "images=", 7) == 0 && opt[7] && !images) images = opt + 7;
        else if (strncmp(opt, "labels=", 7) == 0 && opt[7] && !labels) labels = opt + 7;
        else {
            st = gf_errorf(GF_ERR_ARG, "dataset spec '%s': unknown, repeated or empty option '%s' (npz takes "
                           "split=S, or images=KEY and labels=KEY)", spec, opt);
            goto done;
        }
        opt = next;
    }
    if (!*path) {
        st = gf_errorf(GF_ERR_ARG, "dataset spec '%s': no .npz path; " SPEC_FORMS, spec);
        goto done;
    }
    if (split && (images || labels)) {
        st = gf_errorf(GF_ERR_ARG, "dataset spec '%s': give split=S or images=KEY,labels=KEY, not both", spec);
        goto done;
    }
    if (!images != !labels) {
        st = gf_errorf(GF_ERR_ARG, "dataset spec '%s': images=KEY and labels=KEY go together", spec);
        goto done;
    }
    if (split) {
        size_t n = strlen(split);
        int good = n <= 100;
        for (size_t i = 0; i < n && good; i++)
            good = (split[i] >= 'a' && split[i] <= 'z') || (split[i] >= 'A' && split[i] <= 'Z') ||
                   (split[i] >= '0' && split[i] <= '9') || split[i] == '_';
        if (!good) {
            st = gf_errorf(GF_ERR_ARG, "dataset spec '%s': split is 1..100 of [A-Za-z0-9_] (e.g. train, val, test)",
                           spec);
            goto done;
        }
        snprintf(ik, sizeof ik, "%s_images", split);
        snprintf(lk, sizeof lk, "%s_labels", split);
        images = ik;
        labels = lk;
    }
    if (images) {
        st = gf_npz_load(path, images, labels, NULL, train);   /* one pair: no test split */
        if (!st) *test = (gf_dataset){ .c = train->c, .h = train->h, .w = train->w, .dim = train->dim,
                                       .num_classes = train->num_classes };
        goto done;
    }
    st = gf_npz_load(path, "train_images", "train_labels", NULL, train);
    if (!st) st = gf_npz_load(path, "test_images", "test_labels", NULL, test);
    if (!st && (train->c != test->c || train->h != test->h || train->w != test->w))
        st = gf_errorf(GF_ERR_MISMATCH, "%s: train images are %dx%dx%d but test images are %dx%dx%d", path,
                       train->c, train->h, train->w, test->c, test->h, test->w);
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
    gf_dataset_note_clear();
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
    } else if (strncmp(spec, "npz:", 4) == 0) {
        st = open_npz(spec, spec + 4, train, test);
    } else if ((strncmp(spec, "text:", 5) == 0 && spec[5]) || (strncmp(spec, "tokens:", 7) == 0 && spec[7])) {
        st = open_tokens(spec, train, test);
    } else if (strncmp(spec, "imagedir:", 9) == 0) {
        st = gf_imagedir_open(spec, spec + 9, train, test);
    } else if (strncmp(spec, "plink:", 6) == 0 || strncmp(spec, "vcf:", 4) == 0) {
        st = gf_genome_open(spec, train, test);
    } else if (strncmp(spec, "nifti:", 6) == 0) {
        st = gf_nifti_open(spec, train, test);
    } else if (strncmp(spec, "dicom:", 6) == 0) {
        st = gf_dicom_open(spec, train, test);
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
            return gf_errorf(GF_ERR_NUMERIC, "%s: sample %lld, feature %lld is missing (NaN): fill or impute missing "
                             "values first (fill=mean in a plink: or vcf: spec; a federated job's \"preprocess\" with "
                             "\"impute\", from a statistics job)",
                             what, (long long)(i / d->dim), (long long)(i % d->dim));
        return gf_errorf(GF_ERR_NUMERIC, "%s: sample %lld, feature %lld is %s",
                         what, (long long)(i / d->dim), (long long)(i % d->dim), d->x[i] > 0 ? "+Inf" : "-Inf");
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
