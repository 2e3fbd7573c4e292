/* IDX reader: the idx3-ubyte image / idx1-ubyte label file pair of MNIST and
 * Fashion-MNIST, each gzipped or raw (zlib's gzread tells them apart from the
 * content). Owns gf_idx_load and every check on those files: magic, sane
 * dimensions, matching counts, exact length (no truncation, no trailing
 * bytes), and the readers' limits: only regular files within the file size
 * limit, a header-declared payload within the row and decompressed-size
 * limits, and a running count of inflated bytes that stops a gzip bomb at
 * the cap whatever its header says. Memory grows with the bytes actually
 * read, never with the counts a header claims, so a lying header cannot
 * trigger a huge allocation. Messages never quote file bytes before the
 * magic number has shown the file to be IDX (a wrong magic is not echoed). */
#include "data/dataset.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define IDX_MAGIC_IMAGES 0x00000803u    /* ubyte, 3 dims: n, rows, cols */
#define IDX_MAGIC_LABELS 0x00000801u    /* ubyte, 1 dim: n */
#define IDX_MAX_PIXELS   (1 << 24)      /* rows * cols of one image */
#define IDX_CHUNK        (1 << 18)      /* bytes per gzread */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* One open IDX file: the zlib stream, its path and limits, and how many
 * bytes have been inflated from it so far. */
typedef struct {
    gzFile gz;
    const char *path;
    const gf_data_limits *lim;
    int64_t inflated;
} idx_file;

static gf_status idx_open(const char *path, const gf_data_limits *lim, idx_file *out)
{
    out->gz = NULL;
    out->path = path;
    out->lim = lim;
    out->inflated = 0;
    int fd = -1;
    gf_status st = gf_data_open(path, lim, &fd, NULL);
    if (st) return st;
    errno = 0;
    gzFile f = gzdopen(fd, "rb");
    if (!f) {
        close(fd);
        return gf_errorf(GF_ERR_NOMEM, "%s: cannot open: out of memory", path);
    }
    gzbuffer(f, 1 << 17);
    out->gz = f;
    return GF_OK;
}

static void idx_close(idx_file *f)
{
    if (f->gz) gzclose(f->gz);
    f->gz = NULL;
}

/* Reads up to len bytes; *got is how many arrived before the end of the data.
 * A read error, corrupt or cut-off gzip stream is an error; a clean end of
 * file is not (the caller compares *got with what it needed). Inflating past
 * max_inflated_bytes, or reading past max_file_bytes of the file itself, is
 * an error whatever the header declared. */
static gf_status idx_read(idx_file *fl, void *buf, size_t len, size_t *got)
{
    gzFile f = fl->gz;
    const char *path = fl->path;
    unsigned char *p = buf;
    *got = 0;
    while (*got < len) {
        size_t want = len - *got;
        if (want > IDX_CHUNK) want = IDX_CHUNK;
        int r = gzread(f, p + *got, (unsigned)want);
        if (r > 0) {
            *got += (size_t)r;
            fl->inflated += r;
            if (fl->inflated > fl->lim->max_inflated_bytes)
                return gf_errorf(GF_ERR_FORMAT, "%s: decompressed data exceeds the decompressed size limit of %lld bytes",
                                 path, (long long)fl->lim->max_inflated_bytes);
            if ((int64_t)gzoffset(f) > fl->lim->max_file_bytes)
                return gf_errorf(GF_ERR_FORMAT, "%s: file grew past the file size limit of %lld bytes",
                                 path, (long long)fl->lim->max_file_bytes);
            continue;
        }
        int err = Z_OK;
        const char *msg = gzerror(f, &err);
        /* zlib prefixes its (fixed) message with "<fd:N>: ", the gzdopen name */
        const char *sep = msg && strncmp(msg, "<fd:", 4) == 0 ? strstr(msg, ">: ") : NULL;
        if (sep) msg = sep + 3;
        if (!msg) msg = "unknown zlib error";
        if (r < 0 || (err != Z_OK && err != Z_STREAM_END)) {
            if (err == Z_ERRNO)
                return gf_errorf(GF_ERR_IO, "%s: read failed: %s", path, strerror(errno));
            if (err == Z_MEM_ERROR)
                return gf_errorf(GF_ERR_NOMEM, "%s: out of memory while decompressing", path);
            if (err == Z_BUF_ERROR)
                return gf_errorf(GF_ERR_FORMAT, "%s: truncated gzip stream (%s)", path, msg);
            return gf_errorf(GF_ERR_FORMAT, "%s: corrupt gzip data (%s)", path, msg);
        }
        break;  /* clean end of data */
    }
    return GF_OK;
}

/* Reads the fixed header (hdr_len bytes) and checks the magic number. */
static gf_status idx_header(idx_file *f, unsigned char *hdr, size_t hdr_len,
                            uint32_t magic, const char *kind)
{
    const char *path = f->path;
    size_t got;
    gf_status st = idx_read(f, hdr, hdr_len, &got);
    if (st) return st;
    if (got < 4)
        return gf_errorf(GF_ERR_FORMAT, "%s: truncated: %zu bytes, too short for an IDX header",
                         path, got);
    uint32_t m = be32(hdr);
    if (m != magic) {   /* the bytes found are not echoed: the file may be anything */
        const char *hint = "";
        if (m == IDX_MAGIC_LABELS) hint = "; this looks like a label file";
        else if (m == IDX_MAGIC_IMAGES) hint = "; this looks like an image file";
        else if ((m & 0xFFFF00FFu) == (magic & 0xFFFF00FFu))
            hint = "; this looks like an IDX file of another element type (only ubyte is read)";
        return gf_errorf(GF_ERR_FORMAT, "%s: bad magic number (expected 0x%08x, an %s file%s)",
                         path, magic, kind, hint);
    }
    if (got < hdr_len)
        return gf_errorf(GF_ERR_FORMAT, "%s: truncated: header needs %zu bytes, file has %zu",
                         path, hdr_len, got);
    return GF_OK;
}

/* After the expected payload, the file must end. */
static gf_status idx_expect_end(idx_file *f)
{
    const char *path = f->path;
    unsigned char extra[64];
    size_t got;
    gf_status st = idx_read(f, extra, sizeof extra, &got);
    if (st) return st;
    if (got)
        return gf_errorf(GF_ERR_FORMAT, "%s: trailing data after the last item (%zu%s extra bytes)",
                         path, got, got == sizeof extra ? "+" : "");
    return GF_OK;
}

/* Labels: returns y (n) as int32 and its largest value. */
static gf_status idx_load_labels(const char *path, const gf_data_limits *lim,
                                 int32_t **y_out, int64_t *n_out, int *max_out)
{
    idx_file f;
    gf_status st = idx_open(path, lim, &f);
    if (st) return st;
    unsigned char hdr[8];
    int32_t *y = NULL;                  /* (n) */
    unsigned char *buf = NULL;          /* (IDX_CHUNK) */
    st = idx_header(&f, hdr, sizeof hdr, IDX_MAGIC_LABELS, "idx1-ubyte label");
    if (st) goto done;
    int64_t n = be32(hdr + 4);
    if (n == 0) { st = gf_errorf(GF_ERR_FORMAT, "%s: contains no labels", path); goto done; }
    if (n > lim->max_rows) {
        st = gf_errorf(GF_ERR_FORMAT, "%s: header declares %lld labels, more than the row limit of %lld",
                       path, (long long)n, (long long)lim->max_rows);
        goto done;
    }
    if (n + (int64_t)sizeof hdr > lim->max_inflated_bytes) {
        st = gf_errorf(GF_ERR_FORMAT, "%s: header declares %lld bytes of data, more than the decompressed size limit of %lld bytes",
                       path, (long long)(n + (int64_t)sizeof hdr), (long long)lim->max_inflated_bytes);
        goto done;
    }

    buf = malloc(IDX_CHUNK);
    if (!buf) { st = gf_errorf(GF_ERR_NOMEM, "%s: out of memory", path); goto done; }
    int64_t have = 0, cap = 0;
    int maxl = 0;
    while (have < n) {
        size_t want = (size_t)(n - have < IDX_CHUNK ? n - have : IDX_CHUNK), got;
        st = idx_read(&f, buf, want, &got);
        if (st) goto done;
        if (have + (int64_t)got > cap) {  /* grow with the data actually read */
            int64_t ncap = cap ? cap * 2 : IDX_CHUNK;
            if (ncap > n) ncap = n;
            int32_t *ny = realloc(y, (size_t)ncap * sizeof *y);
            if (!ny) { st = gf_errorf(GF_ERR_NOMEM, "%s: out of memory for %lld labels", path, (long long)n); goto done; }
            y = ny; cap = ncap;
        }
        for (size_t i = 0; i < got; i++) {
            y[have + (int64_t)i] = buf[i];
            if (buf[i] > maxl) maxl = buf[i];
        }
        have += (int64_t)got;
        if (got < want) {
            st = gf_errorf(GF_ERR_FORMAT, "%s: truncated: header says %lld labels, file holds %lld",
                           path, (long long)n, (long long)have);
            goto done;
        }
    }
    st = idx_expect_end(&f);
    if (st) goto done;
    *y_out = y; y = NULL;
    *n_out = n;
    *max_out = maxl;
done:
    free(buf);
    free(y);
    idx_close(&f);
    return st;
}

/* Images: checks the header against n_expected, returns x (n, rows*cols) in [0, 1]. */
static gf_status idx_load_images(const char *path, const char *labels_path, const gf_data_limits *lim,
                                 int64_t n_expected, float **x_out, int *rows_out, int *cols_out)
{
    idx_file f;
    gf_status st = idx_open(path, lim, &f);
    if (st) return st;
    unsigned char hdr[16];
    float *x = NULL;                    /* (n, rows * cols) */
    unsigned char *buf = NULL;          /* (IDX_CHUNK) */
    st = idx_header(&f, hdr, sizeof hdr, IDX_MAGIC_IMAGES, "idx3-ubyte image");
    if (st) goto done;
    int64_t n = be32(hdr + 4), rows = be32(hdr + 8), cols = be32(hdr + 12);
    if (n == 0) { st = gf_errorf(GF_ERR_FORMAT, "%s: contains no images", path); goto done; }
    if (rows == 0 || cols == 0 || rows > IDX_MAX_PIXELS || cols > IDX_MAX_PIXELS
        || rows * cols > IDX_MAX_PIXELS) {
        st = gf_errorf(GF_ERR_FORMAT, "%s: implausible image size %lld x %lld (at most %d pixels)",
                       path, (long long)rows, (long long)cols, IDX_MAX_PIXELS);
        goto done;
    }
    if (n > lim->max_rows) {
        st = gf_errorf(GF_ERR_FORMAT, "%s: header declares %lld images, more than the row limit of %lld",
                       path, (long long)n, (long long)lim->max_rows);
        goto done;
    }
    int64_t total = n * rows * cols;    /* bytes of pixel data; < 2^56 */
    if (total + (int64_t)sizeof hdr > lim->max_inflated_bytes) {
        st = gf_errorf(GF_ERR_FORMAT,
                       "%s: header declares %lld images of %lld x %lld (%lld bytes), more than the decompressed size limit of %lld bytes",
                       path, (long long)n, (long long)rows, (long long)cols,
                       (long long)(total + (int64_t)sizeof hdr), (long long)lim->max_inflated_bytes);
        goto done;
    }
    if (n != n_expected) {
        st = gf_errorf(GF_ERR_MISMATCH, "%s holds %lld images but %s holds %lld labels",
                       path, (long long)n, labels_path, (long long)n_expected);
        goto done;
    }

    buf = malloc(IDX_CHUNK);
    if (!buf) { st = gf_errorf(GF_ERR_NOMEM, "%s: out of memory", path); goto done; }
    int64_t have = 0, cap = 0;
    while (have < total) {
        size_t want = (size_t)(total - have < IDX_CHUNK ? total - have : IDX_CHUNK), got;
        st = idx_read(&f, buf, want, &got);
        if (st) goto done;
        if (have + (int64_t)got > cap) {  /* grow with the data actually read */
            int64_t ncap = cap ? cap * 2 : 16 * (int64_t)IDX_CHUNK;
            if (ncap > total) ncap = total;
            if ((uint64_t)ncap > SIZE_MAX / sizeof *x) ncap = 0;
            float *nx = ncap ? realloc(x, (size_t)ncap * sizeof *x) : NULL;
            if (!nx) {
                st = gf_errorf(GF_ERR_NOMEM, "%s: out of memory for %lld images of %lld x %lld",
                               path, (long long)n, (long long)rows, (long long)cols);
                goto done;
            }
            x = nx; cap = ncap;
        }
        for (size_t i = 0; i < got; i++) x[have + (int64_t)i] = buf[i] * (1.0f / 255.0f);
        have += (int64_t)got;
        if (got < want) {
            st = gf_errorf(GF_ERR_FORMAT,
                           "%s: truncated: header says %lld images of %lld x %lld (%lld bytes of pixels), file holds %lld",
                           path, (long long)n, (long long)rows, (long long)cols,
                           (long long)total, (long long)have);
            goto done;
        }
    }
    st = idx_expect_end(&f);
    if (st) goto done;
    *x_out = x; x = NULL;
    *rows_out = (int)rows;
    *cols_out = (int)cols;
done:
    free(buf);
    free(x);
    idx_close(&f);
    return st;
}

gf_status gf_idx_load(const char *images_path, const char *labels_path, gf_dataset *out)
{
    return gf_idx_load_limited(images_path, labels_path, NULL, out);
}

gf_status gf_idx_load_limited(const char *images_path, const char *labels_path,
                              const gf_data_limits *lim, gf_dataset *out)
{
    if (!out) return gf_errorf(GF_ERR_ARG, "gf_idx_load: no output dataset");
    memset(out, 0, sizeof *out);
    if (!images_path || !labels_path)
        return gf_errorf(GF_ERR_ARG, "gf_idx_load: missing %s path", images_path ? "labels" : "images");

    gf_data_limits def = gf_data_limits_default();
    if (!lim) lim = &def;
    int32_t *y = NULL;
    float *x = NULL;
    int64_t n = 0;
    int maxl = 0, rows = 0, cols = 0;
    gf_status st = idx_load_labels(labels_path, lim, &y, &n, &maxl);
    if (st) return st;
    st = idx_load_images(images_path, labels_path, lim, n, &x, &rows, &cols);
    if (st) { free(y); return st; }

    out->n = n;
    out->c = 1; out->h = rows; out->w = cols;
    out->dim = (int64_t)rows * cols;
    out->num_classes = maxl + 1 > 10 ? maxl + 1 : 10;
    out->x = x;
    out->y = y;
    return GF_OK;
}
