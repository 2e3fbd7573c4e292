/* VCF and BCF genotypes through htslib (plain, bgzipped or BCF; htslib tells
 * them apart from the content). Owns gf_vcf_read: every record's GT becomes
 * one variant column of non-reference allele counts (genome.h); a call with
 * any allele missing ("./.", "0/.") is missing (NaN); one naming an allele
 * the record does not have is an error. Multi-allelic records
 * are kept, every ALT allele counting as "not REF", and counted. A record
 * htslib cannot parse, or one without GT, is an error naming the file and
 * the record number; the file must be a regular file within the file-size
 * limit (opened through gf_data_open, handed to htslib as a descriptor), the
 * records at most max_rows, (BCF must be BGZF or plain: a BCF gzipped
 * again as a whole, as Debian's documentation packages ship them, must be
 * decompressed once first), and the matrix (samples * variants floats)
 * within max_inflated_bytes. htslib's own logging is switched off: errors
 * come back as messages, never printed. */
#include "data/genome.h"

#include <htslib/hfile.h>
#include <htslib/hts.h>
#include <htslib/vcf.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *vcf_errcode_name(int e)
{
    if (e & BCF_ERR_NCOLS) return "wrong number of columns";
    if (e & BCF_ERR_LIMITS) return "a value beyond htslib's limits";
    if (e & BCF_ERR_CHAR) return "an invalid character";
    if (e & BCF_ERR_CTG_INVALID) return "an invalid contig name";
    if (e & BCF_ERR_TAG_INVALID) return "an invalid tag";
    return "malformed";
}

gf_status gf_vcf_read(const char *path, const gf_data_limits *lim, gf_genotypes *out)
{
    memset(out, 0, sizeof *out);
    gf_data_limits def = gf_data_limits_default();
    if (!lim) lim = &def;
    hts_set_log_level(HTS_LOG_OFF);
    int fd = -1;
    gf_status st = gf_data_open(path, lim, &fd, NULL);
    if (st) return st;
    hFILE *hf = hdopen(fd, "r");
    if (!hf) { close(fd); return gf_errorf(GF_ERR_NOMEM, "%s: cannot open: out of memory", path); }
    htsFile *fp = hts_hopen(hf, path, "r");
    if (!fp) { hclose_abruptly(hf); return gf_errorf(GF_ERR_FORMAT, "%s: not a file htslib can read", path); }
    bcf_hdr_t *hdr = NULL;
    bcf1_t *rec = NULL;
    float *vm = NULL;              /* (m, n) dosages, variant-major while reading */
    int32_t *gt = NULL;
    int ngt_arr = 0;
    int64_t cap = 0, m = 0, n = 0;
    if (hts_get_format(fp)->category != variant_data) {
        st = gf_errorf(GF_ERR_FORMAT, "%s: not a VCF or BCF file", path);
        goto out;
    }
    if (!(hdr = bcf_hdr_read(fp))) { st = gf_errorf(GF_ERR_FORMAT, "%s: malformed VCF/BCF header", path); goto out; }
    n = bcf_hdr_nsamples(hdr);
    if (n <= 0) { st = gf_errorf(GF_ERR_FORMAT, "%s: the header names no samples", path); goto out; }
    if (n > lim->max_rows) { st = gf_errorf(GF_ERR_FORMAT, "%s: more than the row limit of %lld samples", path, (long long)lim->max_rows); goto out; }
    if (!(rec = bcf_init())) { st = gf_errorf(GF_ERR_NOMEM, "%s: out of memory", path); goto out; }
    int r;
    while ((r = bcf_read(fp, hdr, rec)) == 0) {
        const long long recno = (long long)m + 1;
        if (rec->errcode & ~(BCF_ERR_CTG_UNDEF | BCF_ERR_TAG_UNDEF)) {
            st = gf_errorf(GF_ERR_FORMAT, "%s: record %lld is malformed (%s)", path, recno, vcf_errcode_name(rec->errcode));
            goto out;
        }
        if (rec->pos < 0) {   /* htslib reads a non-numeric POS as 0 */
            st = gf_errorf(GF_ERR_FORMAT, "%s: record %lld is malformed (no valid position)", path, recno);
            goto out;
        }
        /* htslib exit()s on a GT stored in a type it does not expect (a
         * malformed record can make it so): check the type first. */
        if (bcf_unpack(rec, BCF_UN_FMT) < 0) {
            st = gf_errorf(GF_ERR_FORMAT, "%s: record %lld is malformed (htslib cannot unpack its FORMAT fields)", path, recno);
            goto out;
        }
        const bcf_fmt_t *gtf = bcf_get_fmt(hdr, rec, "GT");
        if (gtf && gtf->p && gtf->type != BCF_BT_INT8 && gtf->type != BCF_BT_INT16 && gtf->type != BCF_BT_INT32) {
            st = gf_errorf(GF_ERR_FORMAT, "%s: record %lld has a GT that is not made of allele numbers", path, recno);
            goto out;
        }
        int ngt = bcf_get_genotypes(hdr, rec, &gt, &ngt_arr);
        if (ngt <= 0 || ngt % n) {
            st = gf_errorf(GF_ERR_FORMAT, "%s: record %lld has no GT for its samples", path, recno);
            goto out;
        }
        if (m == lim->max_rows) { st = gf_errorf(GF_ERR_FORMAT, "%s: more than the row limit of %lld records", path, (long long)lim->max_rows); goto out; }
        if ((double)(m + 1) * (double)n * sizeof(float) > (double)lim->max_inflated_bytes) {
            st = gf_errorf(GF_ERR_FORMAT, "%s: at record %lld, %lld samples x %lld variants is more than the decompressed size limit of %lld bytes as floats",
                           path, recno, (long long)n, recno, (long long)lim->max_inflated_bytes);
            goto out;
        }
        if (m == cap) {
            int64_t nc = cap ? cap * 2 : 1024;
            float *nv = realloc(vm, sizeof *nv * (size_t)(nc * n));
            if (!nv) { st = gf_errorf(GF_ERR_NOMEM, "%s: out of memory at record %lld", path, recno); goto out; }
            vm = nv;
            cap = nc;
        }
        const int ploidy = ngt / (int)n;
        float *row = vm + m * n;
        for (int64_t i = 0; i < n; i++) {
            const int32_t *a = gt + i * ploidy;
            int dose = 0, miss = 0, k;
            for (k = 0; k < ploidy && a[k] != bcf_int32_vector_end; k++) {
                if (bcf_gt_is_missing(a[k])) { miss = 1; continue; }
                int al = bcf_gt_allele(a[k]);
                if (al < 0 || al >= rec->n_allele) {
                    st = gf_errorf(GF_ERR_FORMAT, "%s: record %lld, sample %lld: GT names allele %d but the record has %d alleles",
                                   path, recno, (long long)i + 1, al, rec->n_allele);
                    goto out;
                }
                dose += al > 0;
            }
            if (k == 0) miss = 1;
            row[i] = miss ? NAN : (float)dose;
            out->missing += miss;
        }
        out->multiallelic += rec->n_allele > 2;
        m++;
    }
    if (r < -1) { st = gf_errorf(GF_ERR_FORMAT, "%s: record %lld is malformed (htslib cannot parse it)", path, (long long)m + 1); goto out; }
    if (m == 0) { st = gf_errorf(GF_ERR_FORMAT, "%s: no records", path); goto out; }
    if (!(out->x = malloc(sizeof *out->x * (size_t)(n * m))) || !(out->ids = calloc((size_t)n, sizeof *out->ids))) {
        st = gf_errorf(GF_ERR_NOMEM, "%s: out of memory for %lld x %lld dosages", path, (long long)n, (long long)m);
        goto out;
    }
    out->n = n;
    out->m = m;
    for (int64_t i = 0; i < n; i++)
        if (!(out->ids[i] = strdup(hdr->samples[i]))) { st = gf_errorf(GF_ERR_NOMEM, "%s: out of memory", path); goto out; }
    for (int64_t j = 0; j < m; j++)            /* (m, n) -> (n, m) */
        for (int64_t i = 0; i < n; i++) out->x[i * m + j] = vm[j * n + i];
out:
    free(vm);
    free(gt);
    if (rec) bcf_destroy(rec);
    if (hdr) bcf_hdr_destroy(hdr);
    hts_close(fp);
    if (st) gf_genotypes_free(out);
    return st;
}
