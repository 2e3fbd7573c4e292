/* In-memory labelled datasets and how they are read, batched and split.
 * A dataset is n samples of `dim` floats (row-major, (n, dim)) plus n integer
 * labels in [0, num_classes). Image data keeps its (c, h, w) shape so models
 * can check it; tabular data has c = h = 1, w = dim.
 *
 * A token dataset (language modelling) is instead one stream of token ids;
 * once gf_dataset_window fixes the context T, sample i is the T tokens at
 * i*T and its labels are the T tokens one further on (next-token targets):
 * n = (ntokens - 1) / T samples, dim = T int32 inputs and T labels each. */
#ifndef GF_DATA_DATASET_H
#define GF_DATA_DATASET_H

#include <stdint.h>
#include "core/error.h"

typedef struct {
    int64_t n;            /* number of samples */
    int     c, h, w;      /* per-sample shape; dim = c * h * w */
    int64_t dim;
    int     num_classes;  /* max label + 1 (IDX: at least 10) */
    float   *x;           /* (n, dim) */
    int32_t *y;           /* (n) */
    int32_t *tokens;      /* token datasets: (ntokens) ids in [0, num_classes); x, y unused */
    int64_t  ntokens;
} gf_dataset;

void gf_dataset_free(gf_dataset *d);

/* Limits every reader enforces, so that a hostile or mistaken path (a device
 * such as /dev/zero, a FIFO, a gzip bomb, a file with one endless line)
 * fails with a clear error instead of exhausting memory. Each limit, when
 * hit, is reported naming the limit, the file path and (CSV) the line
 * number. No reader's error message ever quotes bytes of the file: cells and
 * header names are referred to by line and column number. */
#define GF_DATA_MAX_FILE_BYTES     (8LL << 30)   /* on-disk size of one file: 8 GiB */
#define GF_DATA_MAX_LINE_BYTES     (1LL << 20)   /* one CSV line, without its newline: 1 MiB */
#define GF_DATA_MAX_COLUMNS        100000LL      /* CSV columns (header cells) */
#define GF_DATA_MAX_ROWS           100000000LL   /* samples in one file (CSV rows, IDX items) */
#define GF_DATA_MAX_INFLATED_BYTES (2LL << 30)   /* decompressed bytes of one IDX file: 2 GiB */

typedef struct {
    int64_t max_file_bytes;
    int64_t max_line_bytes;
    int64_t max_columns;
    int64_t max_rows;
    int64_t max_inflated_bytes;
} gf_data_limits;

/* The GF_DATA_MAX_* defaults above. */
gf_data_limits gf_data_limits_default(void);

/* Opens `path` for reading if it is a regular file no larger than
 * lim->max_file_bytes (the descriptor is checked with fstat after opening,
 * so what is checked is what is read; a FIFO does not block the open).
 * Devices, FIFOs, directories and sockets are refused as "not a regular
 * file". *fd_out is a blocking descriptor the caller closes; *size_out
 * (may be NULL) its size in bytes. */
gf_status gf_data_open(const char *path, const gf_data_limits *lim, int *fd_out, int64_t *size_out);
/* The same for `name` inside the open folder dirfd, never following a
 * symbolic link there (one is refused as such); `path` names the file in
 * messages. */
gf_status gf_data_openat(int dirfd, const char *name, const char *path, const gf_data_limits *lim, int *fd_out,
                         int64_t *size_out);

/* IDX pair (images idx3-ubyte, labels idx1-ubyte), each gzipped or raw
 * (detected from content). Pixels scaled to [0, 1]. The header-declared
 * payload must fit max_inflated_bytes and max_rows, and inflation stops at
 * the cap whatever the header says. */
gf_status gf_idx_load(const char *images_path, const char *labels_path, gf_dataset *out);
/* The same under explicit limits (NULL: the defaults). */
gf_status gf_idx_load_limited(const char *images_path, const char *labels_path,
                              const gf_data_limits *lim, gf_dataset *out);

/* CSV with a header row; every column numeric; `label_col` names the label
 * column (integer class ids >= 0). Other columns become features in order.
 * Missing values (an empty cell, "?", "NA", "N/A", "NaN", "nan", "-nan",
 * "NULL", "null", "None") become NaN features; a missing label, or a
 * column missing in every row, is refused naming the file, line and column.
 * Lines longer than max_line_bytes, more than max_columns columns or more
 * than max_rows data rows are refused. */
gf_status gf_csv_load(const char *path, const char *label_col, gf_dataset *out);
/* The same under explicit limits (NULL: the defaults). */
gf_status gf_csv_load_limited(const char *path, const char *label_col,
                              const gf_data_limits *lim, gf_dataset *out);

/* NumPy arrays (npz.c): images and labels from a .npz archive (a zip of
 * .npy arrays, stored or deflated; the arrays named images_key and
 * labels_key, members KEY.npy) or from two .npy files. Images (n, h, w),
 * (n, h, w, c) with c <= 4 (channels last, returned as (c, h, w)) or
 * (n, features); uint8 is scaled to [0, 1], other types kept as they are
 * and must be finite. Labels (n) or (n, 1), integers 0..1000000;
 * num_classes = max label + 1, at least 2. The .npy headers are parsed
 * strictly (C order; bool, int, uint, float32/64 only); the bytes the arrays
 * inflate to are capped by max_inflated_bytes (for the two together), samples
 * by max_rows. lim NULL: the defaults. */
gf_status gf_npz_load(const char *path, const char *images_key, const char *labels_key,
                      const gf_data_limits *lim, gf_dataset *out);
gf_status gf_npy_load(const char *images_path, const char *labels_path, const gf_data_limits *lim,
                      gf_dataset *out);

/* Token streams. Text: every byte of the file is one token (V = 256); an
 * empty file is refused. tokens: llm.c's .bin layout: a header of 256
 * little-endian int32 (magic 20240520, version 1, token count), then the
 * count uint16 token ids; a short header, another magic or version, a
 * count that disagrees with the file size, or no tokens is refused. */
gf_status gf_text_load(const char *path, const gf_data_limits *lim, gf_dataset *out);
gf_status gf_tokens_load(const char *path, const gf_data_limits *lim, gf_dataset *out);
/* Fixes a token dataset's context T (see above); GF_ERR_ARG if it holds
 * fewer than T + 1 tokens or is not a token dataset. */
gf_status gf_dataset_window(gf_dataset *d, int T);

/* Opens a dataset spec as a train and a test set:
 *   fashion-mnist              Debian's dataset-fashion-mnist files
 *   idx:DIR                    DIR/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
 *   csv:PATH[,label=COL][,test=PATH2|,test_fraction=F]
 *                              label defaults to "label"; the test split is
 *                              PATH2, or round(F * rows) rows (at least 1,
 *                              at most rows - 1) of a fixed draw that depends
 *                              only on the number of rows, or absent: then
 *                              every row trains and *test has n = 0 (with
 *                              train's dim and classes).
 *   npz:PATH[,split=S | ,images=KEY,labels=KEY]
 *                              NumPy .npz (above). Without options, the
 *                              MedMNIST layout: train_images/train_labels
 *                              are the train set, test_images/test_labels
 *                              the test set. split=S (letters, digits, _)
 *                              or images=/labels= name one pair of arrays:
 *                              the training split, with no test split (so
 *                              `gf eval --split train` on split=val scores
 *                              the validation images).
 *   text:PATH | tokens:PATH    token streams (above); the last 10% of the
 *                              tokens are the test set.
 *   plink:PREFIX[,OPTS]        PLINK binary PREFIX.{bed,bim,fam}[.gz]
 *   vcf:PATH[,OPTS]            VCF / BCF (htslib)
 *     genotype datasets: one sample per row, one dosage feature per variant
 *     (src/data/genome.h for the allele counted; missing calls are NaN).
 *     OPTS, comma-separated:
 *       pheno=CSV              phenotypes from a table keyed by sample id
 *                              (id column id_col=NAME, else IID, else the first)
 *       pheno_col=NAME|K       with pheno=: the column's name; for plink:
 *                              without pheno=, the K-th .fam phenotype
 *                              (1 = the sixth column, the default)
 *       coding=12|01|class     integer phenotypes: PLINK's 1 control / 2 case
 *                              (default), 0/1, or class ids as they are
 *       binarize=median | threshold=T
 *                              a quantitative phenotype becomes label 1 when
 *                              above the median (of the kept samples) or T
 *       fill=mean              missing calls become the variant's mean over
 *                              the training samples (train and test alike);
 *                              without it they stay NaN and training refuses
 *                              them
 *       test_fraction=F[,seed=S]
 *                              a pseudo-random F of the samples (fixed by S,
 *                              default 0) is the test set; without it there
 *                              is no test set
 *     Samples with a missing phenotype (-9, NA, ...; 0 under coding=12) are
 *     dropped and counted in gf_dataset_note(). vcf: needs pheno=.
 *   imagedir:DIR[,size=HxW][,gray|rgb][,test=DIR2|,test_fraction=F]
 *                              one sub-folder of DIR per class holding PNG or
 *                              JPEG images (data/imagedir.h); class ids in
 *                              folder-name order, told by gf_dataset_note().
 *                              size= resizes every image (area when an axis
 *                              shrinks, bilinear when it grows), else every
 *                              image must have the first's size; gray / rgb
 *                              fix the channels (default: the first image's).
 *                              test=DIR2: a folder of the same classes; test_
 *                              fraction as for csv:; neither: no test set.
 *   nifti:SRC,labels=CSV[,label_col=NAME][,id_col=NAME][,scale=minmax][,test_fraction=F[,seed=S]]
 *                              NIfTI volumes (.nii, .nii.gz), one sample each,
 *                              shape (c, h, w) = (nz, ny, nx), labels from a
 *                              table keyed by file name (src/data/medimg.h).
 *   dicom:DIR,labels=CSV[,...]  DICOM: each file or series folder of DIR one
 *                              sample, converted by dcm2niix (same options). */
gf_status gf_dataset_open(const char *spec, gf_dataset *train, gf_dataset *test);

/* Missing values. A reader marks a missing feature value (a missing
 * genotype call, a missing cell) as NaN in x; training and evaluation refuse
 * NaN (gf_dataset_check_finite), so missing values must be filled first.
 * gf_dataset_fill_missing_mean replaces each NaN with the mean of its
 * feature over the samples where it is present (0 for a feature missing in
 * every sample); *filled (may be NULL) counts the values replaced,
 * *empty_features (may be NULL) the features missing everywhere.
 * To fill a test split as its training split, take the training split's
 * gf_dataset_feature_means (means: (dim), same rule) and fill both with
 * gf_dataset_fill_missing_with, which returns how many it replaced. */
int64_t gf_dataset_count_missing(const gf_dataset *d);
gf_status gf_dataset_fill_missing_mean(gf_dataset *d, int64_t *filled, int64_t *empty_features);
gf_status gf_dataset_feature_means(const gf_dataset *d, float *means, int64_t *empty_features);
int64_t gf_dataset_fill_missing_with(gf_dataset *d, const float *values);

/* Reads a whole file, raw or gzipped, into *buf (malloc'd, NUL-terminated,
 * *len bytes before the NUL) under lim (NULL: the defaults): a regular file
 * within max_file_bytes, at most max_inflated_bytes once decompressed. */
gf_status gf_data_read_all(const char *path, const gf_data_limits *lim, char **buf, int64_t *len);

/* A line about what the last gf_dataset_open on this thread read, for the
 * CLI to print ("" if the reader has nothing to add): the genotype readers
 * say how many samples and variants they kept, how many samples they
 * dropped for a missing phenotype and how many missing calls they filled. */
const char *gf_dataset_note(void);

/* Fails with GF_ERR_NUMERIC naming the first non-finite feature, if any (a
 * NaN is reported as a missing value that needs imputing). */
gf_status gf_dataset_check_finite(const gf_dataset *d, const char *what);

/* Deterministic permutation of 0..n-1 for (seed, epoch): same inputs, same
 * permutation, independent of thread count and of earlier epochs. */
void gf_shuffle(int64_t n, uint64_t seed, uint64_t epoch, int64_t *perm /* (n) */);

/* Copies samples idx[0..count) into x_out (count, dim) and y_out (count);
 * token datasets: int32 x_out (count, dim) and y_out (count, dim). */
void gf_dataset_gather(const gf_dataset *d, const int64_t *idx, int64_t count,
                       void *x_out, int32_t *y_out);

/* A split of sample indices into shards: shard i is
 * index[offset[i] .. offset[i+1]); offset has shards + 1 entries. */
typedef struct {
    int      shards;
    int64_t *offset;   /* (shards + 1) */
    int64_t *index;    /* (n) */
} gf_partition;

void gf_partition_free(gf_partition *p);
/* IID: shuffled, shard sizes differ by at most one. */
gf_status gf_partition_iid(const gf_dataset *d, int shards, uint64_t seed, gf_partition *out);
/* Label skew: for each class, shard proportions ~ Dirichlet(alpha). */
gf_status gf_partition_dirichlet(const gf_dataset *d, int shards, double alpha,
                                 uint64_t seed, gf_partition *out);
/* A new dataset holding shard i's samples (copied). */
/* Splits `all` into train and test: round(frac * n) samples (at least one on
 * each side) drawn by a fixed permutation of (n, seed) are the test split,
 * and each split keeps file order. `what` names the data in errors. */
gf_status gf_dataset_split_fraction(const gf_dataset *all, double frac, uint64_t seed, const char *what,
                                    gf_dataset *train, gf_dataset *test);
gf_status gf_dataset_subset(const gf_dataset *d, const int64_t *idx, int64_t count,
                            gf_dataset *out);

#endif
