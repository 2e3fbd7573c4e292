/* NumPy reader: `.npy` arrays and `.npz` archives of them (the MedMNIST
 * format), the zip read through libzip. Owns gf_npy_load / gf_npz_load and
 * every check on those files:
 *   - the .npy header (format 1.0, 2.0 or 3.0) is parsed strictly: a Python
 *     dict literal with exactly the keys 'descr', 'fortran_order' and
 *     'shape'; descr one of bool, int8..int64, uint8..uint64, float32,
 *     float64 (any byte order); fortran_order False only;
 *   - a zip entry must be stored or deflated and not encrypted; its
 *     declared size, and the bytes the .npy header's shape implies, must fit
 *     the decompressed-size limit (one budget for all arrays of one load),
 *     and reading stops one byte past what the header declares, so a zip
 *     bomb or a lying header is refused at the cap whatever it claims;
 *   - the payload must be exactly what the shape declares (no truncation, no
 *     trailing bytes); libzip checks the entry's CRC at its end.
 * Memory grows with the bytes actually read, never with a header's claim.
 * Messages name the file and the array (zip entry) and never quote bytes of
 * the file: a wrong dtype or an unknown header key is described, not echoed.
 *
 * Arrays become a dataset: images (n, h, w) -> c = 1; (n, h, w, c) with
 * c <= 4 (channels last) -> (c, h, w); (n, f) -> tabular; uint8 scaled to
 * [0, 1] like IDX, other types converted as they are. Labels (n) or (n, 1)
 * of an integer or bool type, each 0..NPY_MAX_LABEL. */
#include "data/dataset.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zip.h>

#define NPY_MAX_HEADER  65536          /* header dict bytes (numpy itself writes < 4096) */
#define NPY_MAX_DIMS    8
#define NPY_MAX_DIM     (1LL << 40)    /* one axis: anything larger is not data */
#define NPY_MAX_FEATURES (1LL << 24)   /* floats per sample, as IDX's pixels */
#define NPY_MAX_LABEL   1000000        /* largest accepted class id, as CSV */
#define NPY_CHUNK       (1 << 18)      /* bytes per read */

typedef enum { NPY_BOOL, NPY_UINT, NPY_INT, NPY_FLOAT } npy_kind;

/* One array as read: raw little- or big-endian bytes and their description. */
typedef struct {
    npy_kind kind;
    int size;                     /* bytes per element: 1, 2, 4 or 8 */
    int big_endian;
    int ndim;
    int64_t shape[NPY_MAX_DIMS];
    int64_t count;                /* product of shape */
    unsigned char *data;          /* (count * size) */
} npy_array;

/* Where bytes come from: a plain .npy file (fd) or a zip entry (zf). path
 * and key name it in messages (key NULL for a .npy file); budget is what
 * is left of the decompressed-size limit for this load. */
typedef struct {
    int fd;
    zip_file_t *zf;
    const char *path, *key;
    int64_t *budget;
    int64_t limit;                /* the limit itself, for messages */
} npy_src;

static gf_status src_errf(const npy_src *s, gf_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static gf_status src_errf(const npy_src *s, gf_status st, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (s->key) return gf_errorf(st, "%s: array '%s': %s", s->path, s->key, msg);
    return gf_errorf(st, "%s: %s", s->path, msg);
}

/* Reads up to len bytes; *got < len only at the end of the data. */
static gf_status src_read(const npy_src *s, void *buf, size_t len, size_t *got)
{
    unsigned char *p = buf;
    *got = 0;
    while (*got < len) {
        size_t want = len - *got;
        if (want > NPY_CHUNK) want = NPY_CHUNK;
        int64_t r;
        if (s->zf) {
            r = zip_fread(s->zf, p + *got, want);
            if (r < 0)
                return src_errf(s, GF_ERR_FORMAT, "cannot read the zip entry: %s", zip_file_strerror(s->zf));
        } else {
            r = read(s->fd, p + *got, want);
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) return src_errf(s, GF_ERR_IO, "read failed: %s", strerror(errno));
        }
        if (r == 0) break;
        *got += (size_t)r;
        *s->budget -= r;
        if (*s->budget < 0)
            return src_errf(s, GF_ERR_FORMAT, "data exceeds the decompressed size limit of %lld bytes",
                            (long long)s->limit);
    }
    return GF_OK;
}

/* ---- the header dict ---------------------------------------------------- */

typedef struct {
    const char *p, *end;
} hdr_cursor;

static void hdr_ws(hdr_cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

static int hdr_eat(hdr_cursor *c, char ch)
{
    hdr_ws(c);
    if (c->p < c->end && *c->p == ch) { c->p++; return 1; }
    return 0;
}

/* A quoted Python string without escapes into out (cap bytes); 0 if not one. */
static int hdr_string(hdr_cursor *c, char *out, size_t cap)
{
    hdr_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return 0;
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || n + 1 >= cap) return 0;
        out[n++] = *c->p++;
    }
    if (c->p >= c->end) return 0;
    c->p++;
    out[n] = 0;
    return 1;
}

/* Describes a numpy dtype kind without echoing the header. */
static const char *kind_words(char kind, int size)
{
    switch (kind) {
    case 'f': return size == 2 ? "float16" : "a float of this width";
    case 'c': return "complex numbers";
    case 'U': return "unicode strings";
    case 'S': case 'a': return "byte strings";
    case 'O': return "Python objects";
    case 'M': return "datetimes";
    case 'm': return "timedeltas";
    case 'V': return "raw records (void)";
    case 'i': case 'u': return "an integer of this width";
    case 'b': return "a bool of this width";
    default: return "an unknown type";
    }
}

static gf_status hdr_descr(const npy_src *s, hdr_cursor *c, npy_array *a)
{
    char d[32];
    hdr_ws(c);
    if (c->p < c->end && *c->p == '[')
        return src_errf(s, GF_ERR_FORMAT, "a structured dtype (a list of fields) is not supported; "
                        "save each field as its own array");
    if (!hdr_string(c, d, sizeof d))
        return src_errf(s, GF_ERR_FORMAT, "malformed .npy header: 'descr' is not a quoted dtype string");
    size_t n = strlen(d);
    int size = 0;
    if (n >= 3 && n <= 4 && strchr("<>|=", d[0]) && d[1] && strchr("0123456789", d[2]) &&
        (n == 3 || strchr("0123456789", d[3])))
        size = atoi(d + 2);
    if (!size)
        return src_errf(s, GF_ERR_FORMAT, "malformed or unsupported dtype in the .npy header (supported: bool, "
                        "int8..int64, uint8..uint64, float32, float64)");
    char kind = d[1];
    int ok = (kind == 'b' && size == 1) || ((kind == 'i' || kind == 'u') && (size == 1 || size == 2 || size == 4 || size == 8)) ||
             (kind == 'f' && (size == 4 || size == 8));
    if (!ok)
        return src_errf(s, GF_ERR_FORMAT, "dtype is %s (%d bytes), which is not supported (supported: bool, "
                        "int8..int64, uint8..uint64, float32, float64)", kind_words(kind, size), size);
    a->kind = kind == 'b' ? NPY_BOOL : kind == 'u' ? NPY_UINT : kind == 'i' ? NPY_INT : NPY_FLOAT;
    a->size = size;
    a->big_endian = d[0] == '>';
    return GF_OK;
}

static gf_status hdr_shape(const npy_src *s, hdr_cursor *c, npy_array *a)
{
    if (!hdr_eat(c, '('))
        return src_errf(s, GF_ERR_FORMAT, "malformed .npy header: 'shape' is not a tuple");
    a->ndim = 0;
    for (;;) {
        hdr_ws(c);
        if (c->p < c->end && *c->p == ')') { c->p++; break; }
        if (c->p >= c->end || *c->p < '0' || *c->p > '9')
            return src_errf(s, GF_ERR_FORMAT, "malformed .npy header: 'shape' holds something other than "
                            "non-negative integers");
        int64_t v = 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            v = v * 10 + (*c->p++ - '0');
            if (v > NPY_MAX_DIM)
                return src_errf(s, GF_ERR_FORMAT, "'shape' has an axis longer than %lld", (long long)NPY_MAX_DIM);
        }
        if (c->p < c->end && *c->p == 'L') c->p++;    /* written by Python 2 */
        if (a->ndim == NPY_MAX_DIMS)
            return src_errf(s, GF_ERR_FORMAT, "'shape' has more than %d axes", NPY_MAX_DIMS);
        a->shape[a->ndim++] = v;
        hdr_ws(c);
        if (c->p < c->end && *c->p == ',') { c->p++; continue; }
        if (c->p < c->end && *c->p == ')') { c->p++; break; }
        return src_errf(s, GF_ERR_FORMAT, "malformed .npy header: 'shape' tuple is not closed");
    }
    return GF_OK;
}

/* The header dict: exactly descr, fortran_order and shape, then padding. */
static gf_status hdr_parse(const npy_src *s, const char *h, size_t len, npy_array *a)
{
    hdr_cursor c = { h, h + len };
    int have_descr = 0, have_order = 0, have_shape = 0;
    gf_status st;
    if (!hdr_eat(&c, '{')) return src_errf(s, GF_ERR_FORMAT, "malformed .npy header: not a dict");
    for (;;) {
        if (hdr_eat(&c, '}')) break;
        char key[32];
        if (!hdr_string(&c, key, sizeof key) || !hdr_eat(&c, ':'))
            return src_errf(s, GF_ERR_FORMAT, "malformed .npy header: expected a quoted key and ':'");
        if (!strcmp(key, "descr")) {
            if (have_descr++) return src_errf(s, GF_ERR_FORMAT, "malformed .npy header: 'descr' appears twice");
            if ((st = hdr_descr(s, &c, a))) return st;
        } else if (!strcmp(key, "fortran_order")) {
            if (have_order++) return src_errf(s, GF_ERR_FORMAT, "malformed .npy header: 'fortran_order' appears twice");
            hdr_ws(&c);
            if ((size_t)(c.end - c.p) >= 4 && !memcmp(c.p, "True", 4))
                return src_errf(s, GF_ERR_FORMAT, "fortran_order is True (column-major), which is not supported; "
                                "save a C-ordered array (np.ascontiguousarray)");
            if ((size_t)(c.end - c.p) < 5 || memcmp(c.p, "False", 5))
                return src_errf(s, GF_ERR_FORMAT, "malformed .npy header: 'fortran_order' is neither True nor False");
            c.p += 5;
        } else if (!strcmp(key, "shape")) {
            if (have_shape++) return src_errf(s, GF_ERR_FORMAT, "malformed .npy header: 'shape' appears twice");
            if ((st = hdr_shape(s, &c, a))) return st;
        } else {
            return src_errf(s, GF_ERR_FORMAT, "malformed .npy header: a key other than 'descr', "
                            "'fortran_order' and 'shape'");
        }
        if (hdr_eat(&c, ',')) continue;
        if (hdr_eat(&c, '}')) break;
        return src_errf(s, GF_ERR_FORMAT, "malformed .npy header: expected ',' or '}' after a value");
    }
    while (c.p < c.end && (*c.p == ' ' || *c.p == '\n' || *c.p == '\0')) c.p++;   /* padding */
    if (c.p != c.end) return src_errf(s, GF_ERR_FORMAT, "malformed .npy header: text after the dict");
    if (!have_descr || !have_order || !have_shape)
        return src_errf(s, GF_ERR_FORMAT, "malformed .npy header: no '%s' key",
                        !have_descr ? "descr" : !have_order ? "fortran_order" : "shape");
    return GF_OK;
}

/* ---- one array ---------------------------------------------------------- */

static gf_status npy_read(const npy_src *s, npy_array *a)
{
    memset(a, 0, sizeof *a);
    unsigned char pre[12];
    size_t got;
    gf_status st = src_read(s, pre, 10, &got);
    if (st) return st;
    if (got < 6 || memcmp(pre, "\x93NUMPY", 6))
        return src_errf(s, GF_ERR_FORMAT, "not a .npy array (no \\x93NUMPY magic)");
    if (got < 10) return src_errf(s, GF_ERR_FORMAT, "truncated .npy header (%zu bytes)", got);
    int major = pre[6], minor = pre[7];
    size_t hlen;
    if (major == 1 && minor == 0) {
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
    } else if ((major == 2 || major == 3) && minor == 0) {
        if ((st = src_read(s, pre + 10, 2, &got))) return st;
        if (got < 2) return src_errf(s, GF_ERR_FORMAT, "truncated .npy header");
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
    } else {
        return src_errf(s, GF_ERR_FORMAT, ".npy format version %d.%d is not supported (1.0, 2.0 and 3.0 are)",
                        major, minor);
    }
    if (hlen < 2 || hlen > NPY_MAX_HEADER)
        return src_errf(s, GF_ERR_FORMAT, ".npy header of %zu bytes (at most %d)", hlen, NPY_MAX_HEADER);
    char *h = malloc(hlen);
    if (!h) return src_errf(s, GF_ERR_NOMEM, "out of memory");
    st = src_read(s, h, hlen, &got);
    if (!st && got < hlen)
        st = src_errf(s, GF_ERR_FORMAT, "truncated .npy header: %zu of its %zu bytes", got, hlen);
    if (!st) st = hdr_parse(s, h, hlen, a);
    free(h);
    if (st) return st;

    int64_t count = 1;
    for (int i = 0; i < a->ndim; i++) {
        if (a->shape[i] && count > INT64_MAX / 8 / a->shape[i])
            return src_errf(s, GF_ERR_FORMAT, "'shape' declares more elements than can be held");
        count *= a->shape[i];
    }
    a->count = count;
    int64_t bytes = count * a->size;
    if (bytes > *s->budget)
        return src_errf(s, GF_ERR_FORMAT, "header declares %lld bytes of data, more than is left of the "
                        "decompressed size limit of %lld bytes", (long long)bytes, (long long)s->limit);

    int64_t have = 0, cap = 0;
    while (have < bytes) {
        if (have == cap) {        /* grow with the data actually read */
            int64_t ncap = cap ? cap * 2 : 4 * (int64_t)NPY_CHUNK;
            if (ncap > bytes) ncap = bytes;
            unsigned char *nd = realloc(a->data, (size_t)ncap);
            if (!nd) { st = src_errf(s, GF_ERR_NOMEM, "out of memory for %lld bytes", (long long)bytes); goto fail; }
            a->data = nd;
            cap = ncap;
        }
        if ((st = src_read(s, a->data + have, (size_t)(cap - have), &got))) goto fail;
        have += (int64_t)got;
        if (have < cap) {
            st = src_errf(s, GF_ERR_FORMAT, "truncated: the header's shape declares %lld bytes of data, "
                          "the array holds %lld", (long long)bytes, (long long)have);
            goto fail;
        }
    }
    unsigned char extra;
    if ((st = src_read(s, &extra, 1, &got))) goto fail;
    if (got) {
        st = src_errf(s, GF_ERR_FORMAT, "more data than the header's shape declares (%lld bytes): "
                      "the header does not describe this array", (long long)bytes);
        goto fail;
    }
    return GF_OK;
fail:
    free(a->data);
    a->data = NULL;
    return st;
}

/* Element i as a double (any kind, size and byte order). */
static double npy_get(const npy_array *a, int64_t i)
{
    const unsigned char *p = a->data + i * a->size;
    uint64_t u = 0;
    for (int k = 0; k < a->size; k++)
        u |= (uint64_t)p[a->big_endian ? a->size - 1 - k : k] << (8 * k);
    switch (a->kind) {
    case NPY_BOOL: return u != 0;
    case NPY_UINT: return (double)u;
    case NPY_INT: {
        int sh = 64 - 8 * a->size;
        return (double)((int64_t)(u << sh) >> sh);
    }
    case NPY_FLOAT:
        if (a->size == 4) { uint32_t w = (uint32_t)u; float f; memcpy(&f, &w, 4); return f; }
        { double d; memcpy(&d, &u, 8); return d; }
    }
    return 0;
}

static const char *kind_name(const npy_array *a)
{
    static const char *names[4][9] = {
        { 0, "bool" }, { 0, "uint8", "uint16", 0, "uint32", 0, 0, 0, "uint64" },
        { 0, "int8", "int16", 0, "int32", 0, 0, 0, "int64" }, { 0, 0, 0, 0, "float32", 0, 0, 0, "float64" } };
    return names[a->kind][a->size];
}

/* ---- arrays into a dataset ---------------------------------------------- */

static gf_status to_dataset(const npy_src *is, const npy_array *img, const npy_src *ls, const npy_array *lab,
                            const gf_data_limits *lim, gf_dataset *out)
{
    if (lab->ndim != 1 && !(lab->ndim == 2 && lab->shape[1] == 1))
        return src_errf(ls, GF_ERR_FORMAT, "labels must have shape (n) or (n, 1), this array has %d axes%s",
                        lab->ndim, lab->ndim == 2 ? " (several labels per sample: multi-label data is not supported)" : "");
    if (lab->kind == NPY_FLOAT)
        return src_errf(ls, GF_ERR_FORMAT, "labels must be integers (class ids), this array holds %s",
                        kind_name(lab));
    int64_t n = lab->shape[0];
    if (img->ndim < 2 || img->ndim > 4)
        return src_errf(is, GF_ERR_FORMAT, "images must have shape (n, h, w), (n, h, w, c) or (n, features), "
                        "this array has %d axes", img->ndim);
    if (img->shape[0] != n)
        return gf_errorf(GF_ERR_MISMATCH, "%s: array '%s' holds %lld samples but array '%s' holds %lld labels",
                         is->path, is->key ? is->key : "images", (long long)img->shape[0],
                         ls->key ? ls->key : "labels", (long long)n);
    if (n < 1) return src_errf(is, GF_ERR_FORMAT, "holds no samples");
    if (n > lim->max_rows)
        return src_errf(is, GF_ERR_FORMAT, "%lld samples, more than the row limit of %lld",
                        (long long)n, (long long)lim->max_rows);
    int64_t c = 1, h = 1, w = img->shape[1];
    if (img->ndim == 3) { h = img->shape[1]; w = img->shape[2]; }
    if (img->ndim == 4) {
        h = img->shape[1]; w = img->shape[2]; c = img->shape[3];
        if (c > 4)
            return src_errf(is, GF_ERR_FORMAT, "4 axes read as (n, h, w, channels), but the last axis is %lld "
                            "long (at most 4 channels; 3-D volumes are not supported)", (long long)c);
    }
    int64_t dim = c * h * w;
    if (dim < 1 || dim > NPY_MAX_FEATURES)
        return src_errf(is, GF_ERR_FORMAT, "%lld values per sample (1..%lld)", (long long)dim,
                        (long long)NPY_MAX_FEATURES);

    memset(out, 0, sizeof *out);
    out->x = malloc((size_t)(n * dim) * sizeof *out->x);   /* (n, c, h, w) */
    out->y = malloc((size_t)n * sizeof *out->y);           /* (n) */
    if (!out->x || !out->y) {
        gf_dataset_free(out);
        return src_errf(is, GF_ERR_NOMEM, "out of memory for %lld samples", (long long)n);
    }
    int maxl = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = npy_get(lab, i);
        if (v < 0 || v > NPY_MAX_LABEL) {
            gf_dataset_free(out);
            return src_errf(ls, GF_ERR_FORMAT, "sample %lld: label is not a class id (an integer 0..%d)",
                            (long long)i, NPY_MAX_LABEL);
        }
        out->y[i] = (int32_t)v;
        if (out->y[i] > maxl) maxl = out->y[i];
    }
    const int scale = img->kind == NPY_UINT && img->size == 1;
    if (scale) {
        for (int64_t i = 0; i < n * dim; i++) out->x[i] = img->data[i] * (1.0f / 255.0f);
    } else {
        for (int64_t i = 0; i < n * dim; i++) out->x[i] = (float)npy_get(img, i);
    }
    if (c > 1) {        /* (n, h, w, c) -> (n, c, h, w), one sample at a time */
        float *tmp = malloc((size_t)dim * sizeof *tmp);
        if (!tmp) {
            gf_dataset_free(out);
            return src_errf(is, GF_ERR_NOMEM, "out of memory");
        }
        for (int64_t i = 0; i < n; i++) {
            float *s = out->x + i * dim;
            for (int64_t p = 0; p < h * w; p++)
                for (int64_t k = 0; k < c; k++) tmp[k * h * w + p] = s[p * c + k];
            memcpy(s, tmp, (size_t)dim * sizeof *tmp);
        }
        free(tmp);
    }
    out->n = n;
    out->c = (int)c; out->h = (int)h; out->w = (int)w;
    out->dim = dim;
    out->num_classes = maxl + 1 > 2 ? maxl + 1 : 2;
    if (!scale) {
        char what[600];
        if (is->key) snprintf(what, sizeof what, "%s: array '%s'", is->path, is->key);
        else snprintf(what, sizeof what, "%s", is->path);
        gf_status st = gf_dataset_check_finite(out, what);
        if (st) { gf_dataset_free(out); return st; }
    }
    return GF_OK;
}

/* ---- .npy files --------------------------------------------------------- */

static gf_status npy_file(const char *path, const gf_data_limits *lim, int64_t *budget, npy_array *a)
{
    int fd = -1;
    gf_status st = gf_data_open(path, lim, &fd, NULL);
    if (st) return st;
    npy_src s = { .fd = fd, .path = path, .budget = budget, .limit = lim->max_inflated_bytes };
    st = npy_read(&s, a);
    close(fd);
    return st;
}

gf_status gf_npy_load(const char *images_path, const char *labels_path, const gf_data_limits *lim,
                      gf_dataset *out)
{
    if (!out) return gf_errorf(GF_ERR_ARG, "gf_npy_load: no output dataset");
    memset(out, 0, sizeof *out);
    if (!images_path || !labels_path)
        return gf_errorf(GF_ERR_ARG, "gf_npy_load: missing %s path", images_path ? "labels" : "images");
    gf_data_limits def = gf_data_limits_default();
    if (!lim) lim = &def;
    int64_t budget = lim->max_inflated_bytes;
    npy_array img = {0}, lab = {0};
    gf_status st = npy_file(labels_path, lim, &budget, &lab);
    if (!st) st = npy_file(images_path, lim, &budget, &img);
    npy_src is = { .path = images_path }, ls = { .path = labels_path };
    if (!st) st = to_dataset(&is, &img, &ls, &lab, lim, out);
    free(img.data);
    free(lab.data);
    return st;
}

/* ---- .npz archives ------------------------------------------------------ */

static gf_status zip_err(const char *path, int code)
{
    zip_error_t e;
    zip_error_init_with_code(&e, code);
    gf_status st = gf_errorf(code == ZIP_ER_MEMORY ? GF_ERR_NOMEM : GF_ERR_FORMAT,
                             "%s: not a readable .npz (zip) archive: %s", path, zip_error_strerror(&e));
    zip_error_fini(&e);
    return st;
}

/* The array `key` of archive z (member KEY.npy, or KEY as numpy also finds it). */
static gf_status npz_array(zip_t *z, const char *path, const char *key, const gf_data_limits *lim,
                           int64_t *budget, npy_array *a)
{
    npy_src s = { .fd = -1, .path = path, .key = key, .budget = budget, .limit = lim->max_inflated_bytes };
    char member[320];
    if (snprintf(member, sizeof member, "%s.npy", key) >= (int)sizeof member)
        return gf_errorf(GF_ERR_ARG, "%s: array name of %zu characters is too long", path, strlen(key));
    zip_int64_t idx = zip_name_locate(z, member, 0);
    if (idx < 0) idx = zip_name_locate(z, key, 0);
    if (idx < 0)
        return gf_errorf(GF_ERR_ARG, "%s: no array '%s' in this .npz (it holds %lld arrays); name the arrays with "
                         "images=KEY,labels=KEY or split=S (S_images, S_labels)", path, key,
                         (long long)zip_get_num_entries(z, 0));
    zip_stat_t sb;
    zip_stat_init(&sb);
    if (zip_stat_index(z, (zip_uint64_t)idx, 0, &sb) != 0)
        return src_errf(&s, GF_ERR_FORMAT, "cannot read its zip entry: %s", zip_strerror(z));
    if ((sb.valid & ZIP_STAT_ENCRYPTION_METHOD) && sb.encryption_method != ZIP_EM_NONE)
        return src_errf(&s, GF_ERR_FORMAT, "the zip entry is encrypted, which is not supported");
    if ((sb.valid & ZIP_STAT_COMP_METHOD) && sb.comp_method != ZIP_CM_STORE && sb.comp_method != ZIP_CM_DEFLATE)
        return src_errf(&s, GF_ERR_FORMAT, "the zip entry uses compression method %u (only stored and deflate "
                        "are supported)", (unsigned)sb.comp_method);
    if ((sb.valid & ZIP_STAT_SIZE) && sb.size > (zip_uint64_t)*budget)
        return src_errf(&s, GF_ERR_FORMAT, "the zip entry declares %llu decompressed bytes, more than is left of "
                        "the decompressed size limit of %lld bytes", (unsigned long long)sb.size,
                        (long long)lim->max_inflated_bytes);
    s.zf = zip_fopen_index(z, (zip_uint64_t)idx, 0);
    if (!s.zf) return src_errf(&s, GF_ERR_FORMAT, "cannot open its zip entry: %s", zip_strerror(z));
    gf_status st = npy_read(&s, a);
    zip_fclose(s.zf);
    return st;
}

gf_status gf_npz_load(const char *path, const char *images_key, const char *labels_key,
                      const gf_data_limits *lim, gf_dataset *out)
{
    if (!out) return gf_errorf(GF_ERR_ARG, "gf_npz_load: no output dataset");
    memset(out, 0, sizeof *out);
    if (!path || !images_key || !labels_key || !*images_key || !*labels_key)
        return gf_errorf(GF_ERR_ARG, "gf_npz_load: a path, an images key and a labels key are needed");
    gf_data_limits def = gf_data_limits_default();
    if (!lim) lim = &def;
    int fd = -1;
    gf_status st = gf_data_open(path, lim, &fd, NULL);
    if (st) return st;
    int zerr = 0;
    zip_t *z = zip_fdopen(fd, ZIP_RDONLY | ZIP_CHECKCONS, &zerr);
    if (!z) {
        close(fd);
        return zip_err(path, zerr);
    }
    int64_t budget = lim->max_inflated_bytes;
    npy_array img = {0}, lab = {0};
    st = npz_array(z, path, labels_key, lim, &budget, &lab);
    if (!st) st = npz_array(z, path, images_key, lim, &budget, &img);
    npy_src is = { .path = path, .key = images_key }, ls = { .path = path, .key = labels_key };
    if (!st) st = to_dataset(&is, &img, &ls, &lab, lim, out);
    free(img.data);
    free(lab.data);
    zip_discard(z);
    return st;
}
