/* PLINK 1 binary genotypes: PREFIX.bed (SNP-major), PREFIX.bim (one line per
 * variant) and PREFIX.fam (one line per sample), each raw or gzipped. Owns
 * gf_plink_read and every check on those files: the .bed magic and mode,
 * its exact length for the .fam's samples and the .bim's variants (a
 * truncated or overlong .bed names the variant where it breaks), field
 * counts of .fam and .bim lines, and the size of the decoded matrix.
 *
 * .bed layout (PLINK 1.9 documentation): 0x6c 0x1b 0x01, then for each
 * variant ceil(n / 4) bytes; sample k's 2-bit code sits at bits 2(k%4) of
 * byte k/4. 00 homozygous A1 (dosage 2), 01 missing (NaN), 10 heterozygous
 * (1), 11 homozygous A2 (0): the dosage of A1, the .bim's fifth column. */
#include "data/genome.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void gf_genotypes_free(gf_genotypes *g)
{
    if (!g) return;
    if (g->ids) for (int64_t i = 0; i < g->n; i++) free(g->ids[i]);
    free(g->ids);
    free(g->x);
    free(g->pheno);
    memset(g, 0, sizeof *g);
}

/* PREFIX.EXT if it exists, else PREFIX.EXT.gz (the first if neither does, so
 * the error names the plain name); *out is malloc'd. */
static gf_status plink_path(const char *prefix, const char *ext, char **out)
{
    size_t len = strlen(prefix) + strlen(ext) + 5;
    char *p = malloc(len);
    if (!p) return gf_errorf(GF_ERR_NOMEM, "plink:%s: out of memory", prefix);
    struct stat sb;
    snprintf(p, len, "%s%s.gz", prefix, ext);
    if (stat(p, &sb) != 0) snprintf(p, len, "%s%s", prefix, ext);
    else {
        char *raw = malloc(len);
        if (raw) {
            snprintf(raw, len, "%s%s", prefix, ext);
            if (stat(raw, &sb) == 0) { free(p); p = raw; } else free(raw);
        }
    }
    *out = p;
    return GF_OK;
}

/* Parses the .fam: ids and (pheno_index > 0) that phenotype column. */
static gf_status plink_fam(const char *path, int pheno_index, const gf_data_limits *lim, gf_genotypes *g)
{
    char *buf = NULL;
    int64_t len = 0;
    gf_status st = gf_data_read_all(path, lim, &buf, &len);
    if (st) return st;
    int64_t cap = 0, line = 0, ll;
    char *cur = buf, *f[64];
    int nf;
    while ((nf = gf_text_fields(&cur, buf + len, 0, f, 64, &ll)) >= 0) {
        line++;
        if (ll > lim->max_line_bytes) {
            st = gf_errorf(GF_ERR_FORMAT, "%s: line %lld is longer than the line length limit of %lld bytes",
                           path, (long long)line, (long long)lim->max_line_bytes);
            break;
        }
        if (nf == 0) continue;
        if (nf < 6) {
            st = gf_errorf(GF_ERR_FORMAT, "%s: line %lld has %d fields; a .fam line has 6 (FID IID father mother sex phenotype)",
                           path, (long long)line, nf);
            break;
        }
        if (pheno_index > 0 && 5 + pheno_index > nf) {
            st = gf_errorf(GF_ERR_FORMAT, "%s: line %lld has %d fields, so no phenotype %d (column %d)",
                           path, (long long)line, nf, pheno_index, 5 + pheno_index);
            break;
        }
        if (g->n == lim->max_rows) {
            st = gf_errorf(GF_ERR_FORMAT, "%s: more than the row limit of %lld samples", path, (long long)lim->max_rows);
            break;
        }
        if (g->n == cap) {
            int64_t nc = cap ? cap * 2 : 256;
            char **ni = realloc(g->ids, sizeof *ni * (size_t)nc);
            if (ni) g->ids = ni;
            double *np = pheno_index > 0 ? realloc(g->pheno, sizeof *np * (size_t)nc) : NULL;
            if (np) g->pheno = np;
            if (!ni || (pheno_index > 0 && !np)) { st = gf_errorf(GF_ERR_NOMEM, "%s: out of memory", path); break; }
            cap = nc;
        }
        if (!(g->ids[g->n] = strdup(f[1]))) { st = gf_errorf(GF_ERR_NOMEM, "%s: out of memory", path); break; }
        if (pheno_index > 0) {
            const char *v = f[5 + pheno_index - 1];
            char *e;
            double d = gf_pheno_is_missing(v) ? NAN : strtod(v, &e);
            if (!isnan(d) && (*e || !isfinite(d))) {
                g->n++;
                st = gf_errorf(GF_ERR_FORMAT, "%s: line %lld: phenotype (column %d) is not a number",
                               path, (long long)line, 5 + pheno_index);
                break;
            }
            g->pheno[g->n] = d;
        }
        g->n++;
    }
    free(buf);
    if (!st && g->n == 0) st = gf_errorf(GF_ERR_FORMAT, "%s: no samples", path);
    return st;
}

/* Counts the .bim's variants, checking each line has 6 fields. */
static gf_status plink_bim(const char *path, const gf_data_limits *lim, int64_t *m)
{
    char *buf = NULL;
    int64_t len = 0;
    gf_status st = gf_data_read_all(path, lim, &buf, &len);
    if (st) return st;
    int64_t line = 0, ll;
    char *cur = buf, *f[8];
    int nf;
    *m = 0;
    while ((nf = gf_text_fields(&cur, buf + len, 0, f, 8, &ll)) >= 0) {
        line++;
        if (ll > lim->max_line_bytes) {
            st = gf_errorf(GF_ERR_FORMAT, "%s: line %lld is longer than the line length limit of %lld bytes",
                           path, (long long)line, (long long)lim->max_line_bytes);
            break;
        }
        if (nf == 0) continue;
        if (nf != 6) {
            st = gf_errorf(GF_ERR_FORMAT, "%s: line %lld has %d fields; a .bim line has 6 (chromosome id cM position A1 A2)",
                           path, (long long)line, nf);
            break;
        }
        if (++*m > lim->max_rows) {
            st = gf_errorf(GF_ERR_FORMAT, "%s: more than the row limit of %lld variants", path, (long long)lim->max_rows);
            break;
        }
    }
    free(buf);
    if (!st && *m == 0) st = gf_errorf(GF_ERR_FORMAT, "%s: no variants", path);
    return st;
}

/* Decodes the .bed bytes into g->x (n, m). */
static gf_status plink_bed(const char *path, const gf_data_limits *lim, gf_genotypes *g)
{
    const int64_t n = g->n, m = g->m, stride = (n + 3) / 4;
    if ((double)n * (double)m * sizeof(float) > (double)lim->max_inflated_bytes)
        return gf_errorf(GF_ERR_FORMAT, "%s: %lld samples x %lld variants is more than the decompressed size limit of %lld bytes as floats",
                         path, (long long)n, (long long)m, (long long)lim->max_inflated_bytes);
    char *buf = NULL;
    int64_t len = 0;
    gf_status st = gf_data_read_all(path, lim, &buf, &len);
    if (st) return st;
    const unsigned char *b = (const unsigned char *)buf;
    const int64_t want = 3 + m * stride;
    if (len < 3 || b[0] != 0x6c || b[1] != 0x1b) {
        st = gf_errorf(GF_ERR_FORMAT, "%s: not a PLINK .bed file (bad magic number; expected 0x6c 0x1b)", path);
    } else if (b[2] != 0x01) {
        st = gf_errorf(GF_ERR_FORMAT, "%s: mode byte is 0x%02x; only SNP-major .bed files (0x01) are read "
                       "(convert with plink --make-bed)", path, b[2]);
    } else if (len < want) {
        st = gf_errorf(GF_ERR_FORMAT, "%s: truncated: %lld bytes, but the .fam's %lld samples x the .bim's %lld variants need %lld; "
                       "variant %lld (line %lld of the .bim) is the first incomplete one",
                       path, (long long)len, (long long)n, (long long)m, (long long)want,
                       (long long)((len - 3) / stride + 1), (long long)((len - 3) / stride + 1));
    } else if (len > want) {
        st = gf_errorf(GF_ERR_FORMAT, "%s: %lld bytes, but the .fam's %lld samples x the .bim's %lld variants need %lld: "
                       "the .bed holds more variants or samples than the .bim and .fam list",
                       path, (long long)len, (long long)n, (long long)m, (long long)want);
    } else if (!(g->x = malloc(sizeof *g->x * (size_t)(n * m)))) {
        st = gf_errorf(GF_ERR_NOMEM, "%s: out of memory for %lld x %lld dosages", path, (long long)n, (long long)m);
    }
    if (st) { free(buf); return st; }
    static const float dose[4] = { 2.0f, NAN, 1.0f, 0.0f };
    int64_t missing = 0;
    for (int64_t j = 0; j < m; j++) {
        const unsigned char *v = b + 3 + j * stride;
        for (int64_t i = 0; i < n; i++) {
            int code = (v[i >> 2] >> ((i & 3) * 2)) & 3;
            missing += code == 1;
            g->x[i * m + j] = dose[code];
        }
    }
    g->missing = missing;
    free(buf);
    return GF_OK;
}

gf_status gf_plink_read(const char *prefix, int pheno_index, const gf_data_limits *lim, gf_genotypes *out)
{
    memset(out, 0, sizeof *out);
    gf_data_limits def = gf_data_limits_default();
    if (!lim) lim = &def;
    char *fam = NULL, *bim = NULL, *bed = NULL;
    gf_status st = plink_path(prefix, ".fam", &fam);
    if (!st) st = plink_path(prefix, ".bim", &bim);
    if (!st) st = plink_path(prefix, ".bed", &bed);
    if (!st) st = plink_fam(fam, pheno_index, lim, out);
    if (!st) st = plink_bim(bim, lim, &out->m);
    if (!st) st = plink_bed(bed, lim, out);
    free(fam); free(bim); free(bed);
    if (st) gf_genotypes_free(out);
    return st;
}
