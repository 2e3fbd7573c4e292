/* The nifti: and dicom: dataset specs (medimg.h): which volumes a source
 * names (nifti: a directory, one file, or a list file; dicom: the files and
 * series folders of a directory), their labels from a table keyed by file
 * name, and the volumes stacked into one dataset (one sample each,
 * (c, h, w) = (nz, ny, nx)), optionally min-max scaled and split. */
#include "data/medimg.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/genome.h"

#define MED_MAX_LABEL 1000000
#define MED_MAX_FILES 1000000

typedef struct {
    char **v;
    int64_t n, cap;
} strlist;

static void strlist_free(strlist *l)
{
    for (int64_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static gf_status strlist_add(strlist *l, const char *a, const char *b)
{
    if (l->n >= MED_MAX_FILES) return gf_errorf(GF_ERR_FORMAT, "more than %d volume files", MED_MAX_FILES);
    if (l->n == l->cap) {
        int64_t nc = l->cap ? l->cap * 2 : 16;
        char **nv = realloc(l->v, sizeof *nv * (size_t)nc);
        if (!nv) return gf_errorf(GF_ERR_NOMEM, "out of memory for the list of volumes");
        l->v = nv;
        l->cap = nc;
    }
    size_t la = a ? strlen(a) : 0, lb = strlen(b);
    char *s = malloc(la + lb + 2);
    if (!s) return gf_errorf(GF_ERR_NOMEM, "out of memory for the list of volumes");
    if (a) { memcpy(s, a, la); s[la] = '/'; memcpy(s + la + 1, b, lb + 1); }
    else memcpy(s, b, lb + 1);
    l->v[l->n++] = s;
    return GF_OK;
}

static int ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

static int is_volume_name(const char *s)
{
    return ends_with(s, ".nii") || ends_with(s, ".nii.gz");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The volume paths SRC names (see gf_nifti_open). */
static gf_status list_volumes(const char *src, strlist *out)
{
    struct stat sb;
    if (stat(src, &sb) != 0) return gf_errorf(GF_ERR_IO, "%s: cannot open: %s", src, strerror(errno));
    gf_status st = GF_OK;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(src);
        if (!d) return gf_errorf(GF_ERR_IO, "%s: cannot open the directory: %s", src, strerror(errno));
        struct dirent *e;
        while (!st && (e = readdir(d)))
            if (e->d_name[0] != '.' && is_volume_name(e->d_name)) st = strlist_add(out, src, e->d_name);
        closedir(d);
        if (!st && out->n == 0) st = gf_errorf(GF_ERR_FORMAT, "%s: no .nii or .nii.gz files in the directory", src);
        if (!st) qsort(out->v, (size_t)out->n, sizeof *out->v, cmp_str);
        return st;
    }
    if (is_volume_name(src)) return strlist_add(out, NULL, src);
    /* a list file: one path per line */
    char *buf = NULL;
    int64_t len = 0;
    gf_data_limits lim = gf_data_limits_default();
    lim.max_inflated_bytes = 256LL << 20;
    if ((st = gf_data_read_all(src, &lim, &buf, &len))) return st;
    char *dir = strdup(src);
    if (!dir) { free(buf); return gf_errorf(GF_ERR_NOMEM, "%s: out of memory", src); }
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    char *cur = buf, *f[1];
    int64_t ll, line = 0;
    int nf;
    while (!st && (nf = gf_text_fields(&cur, buf + len, '\n', f, 1, &ll)) >= 0) {
        line++;
        if (nf == 0 || f[0][0] == '#') continue;
        if (strlen(f[0]) != strcspn(f[0], "\r") || !is_volume_name(f[0]))
            st = gf_errorf(GF_ERR_FORMAT, "%s: line %lld does not name a .nii or .nii.gz file", src, (long long)line);
        else st = strlist_add(out, f[0][0] == '/' || !slash ? NULL : dir, f[0]);
    }
    if (!st && out->n == 0) st = gf_errorf(GF_ERR_FORMAT, "%s: the list names no volumes", src);
    free(dir);
    free(buf);
    return st;
}

/* dicom:DIR: each regular file in DIR is one single-file sample, each
 * folder one series (one sample), in name order. */
static gf_status list_dicom(const char *src, strlist *out)
{
    struct stat sb;
    if (stat(src, &sb) != 0) return gf_errorf(GF_ERR_IO, "%s: cannot open: %s", src, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return gf_errorf(GF_ERR_ARG, "%s: dicom: takes a directory (its DICOM files and series folders)", src);
    DIR *d = opendir(src);
    if (!d) return gf_errorf(GF_ERR_IO, "%s: cannot open the directory: %s", src, strerror(errno));
    gf_status st = GF_OK;
    struct dirent *e;
    while (!st && (e = readdir(d)))
        if (e->d_name[0] != '.') st = strlist_add(out, src, e->d_name);
    closedir(d);
    if (!st && out->n == 0) st = gf_errorf(GF_ERR_FORMAT, "%s: an empty directory", src);
    if (!st) qsort(out->v, (size_t)out->n, sizeof *out->v, cmp_str);
    return st;
}

/* The length of a file name without its .nii.gz, .nii or .dcm ending. */
static size_t stem_len(const char *b)
{
    size_t n = strlen(b);
    return ends_with(b, ".nii.gz") ? n - 7 : ends_with(b, ".nii") || ends_with(b, ".dcm") ? n - 4 : n;
}

/* The file name without its directories. */
static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* A name a table row may use for volume i: its file name, or its stem. */
typedef struct {
    const char *s;
    size_t len;
    int64_t i;
} name_key;

static int cmp_key(const void *a, const void *b)
{
    const name_key *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* labels (n) for the volumes' file names from the table at csv. */
static gf_status read_labels(const char *csv, const char *id_col, const char *label_col, const strlist *files,
                             int32_t *labels)
{
    char *buf = NULL;
    int64_t len = 0;
    gf_data_limits lim = gf_data_limits_default();
    gf_status st = gf_data_read_all(csv, &lim, &buf, &len);
    if (st) return st;
    enum { MAXF = 4096 };
    char **f = malloc(sizeof *f * MAXF);
    unsigned char *found = calloc((size_t)files->n, 1);   /* (n) */
    name_key *keys = malloc(sizeof *keys * (size_t)files->n * 2);   /* (nkeys <= 2n): name, stem */
    int64_t nkeys = 0;
    if (!f || !found || !keys) { st = gf_errorf(GF_ERR_NOMEM, "%s: out of memory", csv); goto out; }
    for (int64_t i = 0; i < files->n; i++) {
        const char *b = base_name(files->v[i]);
        size_t full = strlen(b), stem = stem_len(b);
        keys[nkeys++] = (name_key){ b, full, i };
        if (stem != full) keys[nkeys++] = (name_key){ b, stem, i };
    }
    qsort(keys, (size_t)nkeys, sizeof *keys, cmp_key);
    char *nl = memchr(buf, '\n', (size_t)len), sep = ',';
    for (char *p = buf; p < (nl ? nl : buf + len); p++)
        if (*p == ',') { sep = ','; break; } else if (*p == '\t') sep = '\t';
    char *cur = buf;
    int64_t ll, line = 1;
    int nh = gf_text_fields(&cur, buf + len, sep, f, MAXF, &ll);
    if (nh <= 0) { st = gf_errorf(GF_ERR_FORMAT, "%s: no header line", csv); goto out; }
    if (nh > MAXF) { st = gf_errorf(GF_ERR_FORMAT, "%s: more than %d columns", csv, MAXF); goto out; }
    int ic = -1, vc = -1;
    for (int k = 0; k < nh; k++) {
        if (id_col ? !strcmp(f[k], id_col) : (ic < 0 && !strcmp(f[k], "file"))) ic = k;
        if (!strcmp(f[k], label_col)) vc = k;
    }
    if (ic < 0 && id_col) { st = gf_errorf(GF_ERR_FORMAT, "%s: no column named by id_col in the header", csv); goto out; }
    if (ic < 0) ic = 0;
    if (vc < 0) { st = gf_errorf(GF_ERR_FORMAT, "%s: no column named by label_col in the header", csv); goto out; }
    if (vc == ic) { st = gf_errorf(GF_ERR_ARG, "%s: the label column is the id column", csv); goto out; }
    int nf;
    while ((nf = gf_text_fields(&cur, buf + len, sep, f, MAXF, &ll)) >= 0) {
        line++;
        if (nf == 0) continue;
        if (nf != nh) {
            st = gf_errorf(GF_ERR_FORMAT, "%s: line %lld has %d fields but the header has %d", csv, (long long)line, nf, nh);
            goto out;
        }
        name_key want = { f[ic], strlen(f[ic]), 0 };
        name_key *hit = bsearch(&want, keys, (size_t)nkeys, sizeof *keys, cmp_key);
        if (!hit) continue;                      /* a row for another volume */
        while (hit > keys && cmp_key(hit - 1, &want) == 0) hit--;
        for (; hit < keys + nkeys && cmp_key(hit, &want) == 0; hit++) {
            int64_t i = hit->i;
            if (found[i]) {
                st = gf_errorf(GF_ERR_FORMAT, "%s: line %lld is a second row for volume %s", csv, (long long)line,
                               files->v[i]);
                goto out;
            }
            char *end;
            errno = 0;
            long v = strtol(f[vc], &end, 10);
            if (!*f[vc] || *end || errno || v < 0 || v > MED_MAX_LABEL) {
                st = gf_errorf(GF_ERR_FORMAT, "%s: line %lld (volume %s): the label is not a class id 0..%d", csv,
                               (long long)line, files->v[i], MED_MAX_LABEL);
                goto out;
            }
            labels[i] = (int32_t)v;
            found[i] = 1;
        }
    }
    for (int64_t i = 0; i < files->n; i++)
        if (!found[i]) {
            st = gf_errorf(GF_ERR_FORMAT, "%s: no label for volume %s (the id column must hold its file name)", csv,
                           files->v[i]);
            goto out;
        }
out:
    free(keys);
    free(f);
    free(found);
    free(buf);
    return st;
}

static void minmax_scale(float *x, int64_t n)
{
    float lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < n; i++)
        if (!isnan(x[i])) { if (x[i] < lo) lo = x[i]; if (x[i] > hi) hi = x[i]; }
    double span = (double)hi - (double)lo;
    for (int64_t i = 0; i < n; i++)
        if (!isnan(x[i])) x[i] = span > 0 ? (float)(((double)x[i] - lo) / span) : 0.0f;
}

static gf_status med_open(const char *spec, int dicom, gf_dataset *train, gf_dataset *test)
{
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    const char *kind = dicom ? "dicom" : "nifti";
    size_t kl = strlen(kind);
    if (strncmp(spec, kind, kl) != 0 || spec[kl] != ':')
        return gf_errorf(GF_ERR_ARG, "dataset spec '%s' is not %s:", spec, kind);
    char *copy = strdup(spec + kl + 1);
    if (!copy) return gf_errorf(GF_ERR_NOMEM, "%s: out of memory", spec);
    char *src = copy, *labels_csv = NULL, *label_col = "label", *id_col = NULL, *scale = NULL, *frac_text = NULL,
         *seed_text = NULL;
    char *comma = strchr(copy, ',');
    if (comma) *comma = '\0';
    gf_status st = GF_OK;
    strlist files = {0};
    int32_t *y = NULL;
    gf_dataset all = {0};
    for (char *opt = comma ? comma + 1 : NULL; opt; ) {
        char *next = strchr(opt, ',');
        if (next) *next++ = '\0';
        if (strncmp(opt, "labels=", 7) == 0 && opt[7]) labels_csv = opt + 7;
        else if (strncmp(opt, "label_col=", 10) == 0 && opt[10]) label_col = opt + 10;
        else if (strncmp(opt, "id_col=", 7) == 0 && opt[7]) id_col = opt + 7;
        else if (strncmp(opt, "scale=", 6) == 0 && opt[6]) scale = opt + 6;
        else if (strncmp(opt, "test_fraction=", 14) == 0 && opt[14]) frac_text = opt + 14;
        else if (strncmp(opt, "seed=", 5) == 0 && opt[5]) seed_text = opt + 5;
        else {
            st = gf_errorf(GF_ERR_ARG, "dataset spec '%s': unknown or empty option '%s' (%s takes labels=CSV, "
                           "label_col=NAME, id_col=NAME, scale=minmax, test_fraction=F, seed=S)", spec, opt, kind);
            goto done;
        }
        opt = next;
    }
    if (!*src || !labels_csv) {
        st = gf_errorf(GF_ERR_ARG, "dataset spec '%s': %s:%s,labels=CSV[,label_col=NAME][,id_col=NAME]"
                       "[,scale=minmax][,test_fraction=F[,seed=S]] needs a source and labels=CSV", spec, kind,
                       dicom ? "DIR" : "DIR_OR_LIST");
        goto done;
    }
    if (scale && strcmp(scale, "minmax") != 0) {
        st = gf_errorf(GF_ERR_ARG, "dataset spec '%s': scale must be minmax", spec);
        goto done;
    }
    double frac = 0;
    unsigned long long seed = 0;
    if (frac_text) {
        char *end;
        errno = 0;
        frac = strtod(frac_text, &end);
        if (errno || *end || !(frac > 0.0 && frac < 1.0)) {
            st = gf_errorf(GF_ERR_ARG, "dataset spec '%s': test_fraction must be a number in (0, 1)", spec);
            goto done;
        }
    }
    if (seed_text) {
        char *end;
        errno = 0;
        seed = strtoull(seed_text, &end, 10);
        if (errno || *end || !frac_text) {
            st = gf_errorf(GF_ERR_ARG, "dataset spec '%s': seed=S is a non-negative integer and goes with "
                           "test_fraction=F", spec);
            goto done;
        }
    }
    if ((st = dicom ? list_dicom(src, &files) : list_volumes(src, &files))) goto done;
    if (!(y = malloc(sizeof *y * (size_t)files.n))) { st = gf_errorf(GF_ERR_NOMEM, "%s: out of memory", spec); goto done; }
    if ((st = read_labels(labels_csv, id_col, label_col, &files, y))) goto done;

    gf_data_limits lim = gf_data_limits_default();
    for (int64_t i = 0; i < files.n; i++) {
        gf_volume v;
        if ((st = dicom ? gf_dicom_read(files.v[i], &lim, &v) : gf_nifti_read(files.v[i], &lim, &v))) goto done;
        int64_t dim = (int64_t)v.nx * v.ny * v.nz;
        if (i == 0) {
            if (files.n * dim > lim.max_inflated_bytes / (int64_t)sizeof(float)) {
                st = gf_errorf(GF_ERR_FORMAT, "%s: %lld volumes of %lld voxels exceed the decoded size limit of %lld "
                               "bytes", src, (long long)files.n, (long long)dim, (long long)lim.max_inflated_bytes);
                gf_volume_free(&v);
                goto done;
            }
            all.x = malloc(sizeof(float) * (size_t)(files.n * dim));   /* (n, dim) */
            if (!all.x) { gf_volume_free(&v); st = gf_errorf(GF_ERR_NOMEM, "%s: out of memory", src); goto done; }
            all.c = v.nz; all.h = v.ny; all.w = v.nx; all.dim = dim;
        } else if (v.nx != all.w || v.ny != all.h || v.nz != all.c) {
            st = gf_errorf(GF_ERR_MISMATCH, "%s is %d x %d x %d voxels but %s is %d x %d x %d: all volumes need one "
                           "shape", files.v[i], v.nx, v.ny, v.nz, files.v[0], all.w, all.h, all.c);
            gf_volume_free(&v);
            goto done;
        }
        if (scale) minmax_scale(v.x, dim);
        memcpy(all.x + i * dim, v.x, sizeof(float) * (size_t)dim);
        gf_volume_free(&v);
    }
    all.n = files.n;
    all.y = y;
    y = NULL;
    int k = 2;
    for (int64_t i = 0; i < all.n; i++) if (all.y[i] + 1 > k) k = all.y[i] + 1;
    all.num_classes = k;
    if (frac_text) {
        st = gf_dataset_split_fraction(&all, frac, seed, src, train, test);
        gf_dataset_free(&all);
    } else {
        *train = all;
        memset(&all, 0, sizeof all);
        *test = (gf_dataset){ .c = train->c, .h = train->h, .w = train->w, .dim = train->dim,
                              .num_classes = train->num_classes };
    }
done:
    gf_dataset_free(&all);
    strlist_free(&files);
    free(y);
    free(copy);
    return st;
}

gf_status gf_nifti_open(const char *spec, gf_dataset *train, gf_dataset *test)
{
    return med_open(spec, 0, train, test);
}

gf_status gf_dicom_open(const char *spec, gf_dataset *train, gf_dataset *test)
{
    return med_open(spec, 1, train, test);
}
