/* Genotype readers (PLINK binary .bed/.bim/.fam, VCF/BCF) and the pieces the
 * plink: and vcf: dataset specs are built from: a genotype matrix with its
 * sample ids, phenotype tables keyed by sample id, and the target rule that
 * turns a phenotype into class labels.
 *
 * Dosage convention: x[i * m + j] is the number of copies (0, 1, 2; 0/1 for a
 * haploid call) of the counted allele that sample i carries at variant j, as
 * a float; a missing call is NaN. PLINK counts the A1 allele (the .bim's
 * fifth column, as `plink --recode A` does); VCF counts non-reference alleles
 * (at a multi-allelic site every ALT allele counts: "carries something other
 * than REF"). */
#ifndef GF_DATA_GENOME_H
#define GF_DATA_GENOME_H

#include <stdint.h>
#include "data/dataset.h"

/* A sample x variant dosage matrix and its samples. */
typedef struct {
    int64_t n;          /* samples */
    int64_t m;          /* variants */
    float  *x;          /* (n, m) dosages, NaN = missing */
    char  **ids;        /* (n) sample ids (PLINK: the IID; VCF: the header's name) */
    double *pheno;      /* (n) PLINK: the .fam phenotype asked for, NaN = missing; VCF: NULL */
    int64_t missing;    /* missing calls in x */
    int64_t multiallelic;  /* VCF: records with more than one ALT allele */
} gf_genotypes;

void gf_genotypes_free(gf_genotypes *g);

/* PLINK 1 binary fileset PREFIX.{bed,bim,fam}, each raw or gzipped (PREFIX.bed
 * is used if it exists, else PREFIX.bed.gz; the same for .bim and .fam).
 * The .bed must be SNP-major (magic 0x6c 0x1b 0x01) and exactly 3 +
 * variants * ceil(samples / 4) bytes. pheno_index k >= 1 reads the k-th
 * phenotype column of the .fam (column 5 + k: 1 is PLINK's sixth column,
 * higher ones GEMMA's extra phenotype columns); 0 reads none (pheno NULL).
 * Missing phenotypes: -9, NA, NaN, nan, "." (NaN in pheno). The decoded
 * matrix (samples * variants floats) must fit lim->max_inflated_bytes. */
gf_status gf_plink_read(const char *prefix, int pheno_index, const gf_data_limits *lim,
                        gf_genotypes *out);

/* VCF (plain or bgzipped) or BCF through htslib: GT of every record, every
 * sample. A record without GT, or one htslib cannot parse, is an error
 * naming the file and the record number (1-based, data records only). */
gf_status gf_vcf_read(const char *path, const gf_data_limits *lim, gf_genotypes *out);

/* Phenotype column `col` of a table keyed by sample id (comma-, tab- or
 * space-separated, with a header; raw or gzipped). The id column is
 * `id_col`, or when NULL the column named IID, else the first column.
 * values (n) receives the value for ids[i] (NaN when missing: empty, -9, NA,
 * NaN, nan, "."). Every sample must have a row: a sample without one is an
 * error naming the file and the sample's position. Rows for other ids are
 * ignored and counted in *unused (may be NULL). */
gf_status gf_pheno_read(const char *path, const char *id_col, const char *col,
                        char *const *ids, int64_t n, const gf_data_limits *lim,
                        double *values, int64_t *unused);

/* Whether a phenotype cell means "missing": empty, -9, NA, NaN, nan, ".". */
int gf_pheno_is_missing(const char *s);

/* How a phenotype becomes a class label. */
typedef enum {
    GF_TARGET_CASE_CONTROL,   /* PLINK's coding: 1 control -> 0, 2 case -> 1; 0 is missing */
    GF_TARGET_01,             /* 0 control, 1 case (plink --1) */
    GF_TARGET_CLASS,          /* non-negative integer class ids as they are */
    GF_TARGET_MEDIAN,         /* 1 when above the median of the non-missing values, else 0 */
    GF_TARGET_THRESHOLD,      /* 1 when above `threshold`, else 0 */
} gf_target_kind;

typedef struct {
    gf_target_kind kind;
    double threshold;         /* GF_TARGET_THRESHOLD */
} gf_target_rule;

/* Labels (n) from values (n): keep[i] = 0 for a missing phenotype (NaN, or 0
 * under the case/control coding), else 1 and labels[i] set. A value the rule
 * cannot map (2.5 under case/control) is an error naming `what` and sample
 * i. *median_out (may be NULL) receives the median used by
 * GF_TARGET_MEDIAN. */
gf_status gf_target_apply(const gf_target_rule *rule, const double *values, int64_t n,
                          const char *what, int32_t *labels, unsigned char *keep,
                          double *median_out);

/* Opens a plink: or vcf: dataset spec (dataset.h lists the options). */
gf_status gf_genome_open(const char *spec, gf_dataset *train, gf_dataset *test);
/* Clears gf_dataset_note() (gf_dataset_open does, first). */
void gf_dataset_note_clear(void);
/* Sets gf_dataset_note() to text (cut to the note's size), for readers
 * other than the genotype ones (data/imagedir.c: the class mapping). */
void gf_dataset_note_set(const char *text);

/* Text tables read whole (gf_data_read_all): the next line of *cursor split
 * in place into at most max fields (sep ',' or '\t', or 0 for runs of
 * blanks), '\r' dropped. Returns the field count (extra fields are counted,
 * not stored), 0 for a blank line, -1 at the end of the buffer; *cursor
 * moves past the line and *line_len gets its length. */
int gf_text_fields(char **cursor, const char *end, char sep, char **fields, int max, int64_t *line_len);

#endif
