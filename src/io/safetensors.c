/* safetensors read/write: owns the on-disk format (8-byte LE header length,
 * JSON header via jansson, raw little-endian tensor bytes), the validation of
 * untrusted files, and the atomic, deterministic writer. The gf_st_file
 * struct is private to this file. */
#include "io/safetensors.h"
#include "core/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c copies tensor bytes as-is and assumes a little-endian host"
#endif

/* A header longer than this is not a checkpoint but an attack or garbage. */
#define ST_MAX_HEADER ((uint64_t)100 * 1000 * 1000)

/* ---- dtypes -------------------------------------------------------------- */

typedef struct { const char *name; int size; } st_dtype;

static const st_dtype st_dtypes[] = {
    {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2},
    {"I64", 8}, {"I32", 4}, {"I16", 2}, {"I8", 1},
    {"U64", 8}, {"U32", 4}, {"U16", 2}, {"U8", 1},
    {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1},
};
enum { ST_F32 = 1, ST_NDTYPES = (int)(sizeof st_dtypes / sizeof st_dtypes[0]) };

static int dtype_find(const char *s)
{
    for (int i = 0; i < ST_NDTYPES; i++)
        if (strcmp(st_dtypes[i].name, s) == 0) return i;
    return -1;
}

/* ---- the parsed file ----------------------------------------------------- */

typedef struct {
    const char *name;               /* owned by root (the header object's key) */
    int         dtype;              /* index into st_dtypes */
    int         ndim;
    int64_t     shape[GF_ST_MAX_DIMS];
    uint64_t    begin, end;         /* relative to the data section */
} st_entry;

struct gf_st_file {
    const uint8_t *buf;             /* whole file */
    uint8_t       *owned;           /* buf when this handle owns it (files), else NULL */
    const uint8_t *data;            /* data section inside buf */
    size_t         data_len;
    json_t        *root;            /* parsed header, owns names and metadata */
    json_t        *meta;            /* borrowed from root, or NULL */
    st_entry      *e;
    int            n;
    char          *what;            /* name used in messages */
};

void gf_st_close(gf_st_file *f)
{
    if (!f) return;
    json_decref(f->root);
    free(f->e);
    free(f->what);
    free(f->owned);
    free(f);
}

/* Writes "[a, b, c]" into out (always NUL-terminated). */
static void shape_str(char *out, size_t cap, int ndim, const int64_t *shape)
{
    size_t k = 0;
    k += (size_t)snprintf(out + k, cap - k, "[");
    for (int i = 0; i < ndim && k < cap; i++)
        k += (size_t)snprintf(out + k, cap - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (k < cap) snprintf(out + k, cap - k, "]");
}

/* Reads one entry's dtype/shape/data_offsets. `w` is the file's name. */
static gf_status parse_entry(const char *w, const char *name, json_t *v,
                             size_t data_len, st_entry *e)
{
    if (!json_is_object(v))
        return gf_errorf(GF_ERR_FORMAT, "%s: header entry \"%s\" is not a JSON object", w, name);
    json_t *jd = json_object_get(v, "dtype");
    json_t *js = json_object_get(v, "shape");
    json_t *jo = json_object_get(v, "data_offsets");
    if (!jd || !js || !jo)
        return gf_errorf(GF_ERR_FORMAT, "%s: tensor \"%s\" is missing \"%s\"", w, name,
                         !jd ? "dtype" : !js ? "shape" : "data_offsets");
    if (!json_is_string(jd))
        return gf_errorf(GF_ERR_FORMAT, "%s: tensor \"%s\": dtype is not a string", w, name);
    if (!json_is_array(js))
        return gf_errorf(GF_ERR_FORMAT, "%s: tensor \"%s\": shape is not an array", w, name);
    if (!json_is_array(jo) || json_array_size(jo) != 2 ||
        !json_is_integer(json_array_get(jo, 0)) || !json_is_integer(json_array_get(jo, 1)))
        return gf_errorf(GF_ERR_FORMAT,
                         "%s: tensor \"%s\": data_offsets is not an array of two integers", w, name);

    e->name = name;
    e->dtype = dtype_find(json_string_value(jd));
    if (e->dtype < 0)
        return gf_errorf(GF_ERR_FORMAT, "%s: unknown dtype \"%s\" for tensor \"%s\"", w,
                         json_string_value(jd), name);

    size_t nd = json_array_size(js);
    if (nd > GF_ST_MAX_DIMS)
        return gf_errorf(GF_ERR_FORMAT, "%s: tensor \"%s\" has %zu dimensions (at most %d supported)",
                         w, name, nd, GF_ST_MAX_DIMS);
    e->ndim = (int)nd;
    uint64_t numel = 1;
    int overflow = 0;
    for (size_t i = 0; i < nd; i++) {
        json_t *d = json_array_get(js, i);
        if (!json_is_integer(d))
            return gf_errorf(GF_ERR_FORMAT, "%s: tensor \"%s\": shape[%zu] is not an integer", w, name, i);
        json_int_t x = json_integer_value(d);
        if (x < 0)
            return gf_errorf(GF_ERR_FORMAT, "%s: tensor \"%s\": negative dimension %lld in shape",
                             w, name, (long long)x);
        e->shape[i] = (int64_t)x;
        if (x != 0 && numel > UINT64_MAX / (uint64_t)x) overflow = 1;
        else numel *= (uint64_t)x;
    }
    uint64_t dsize = (uint64_t)st_dtypes[e->dtype].size;
    char sbuf[GF_ST_MAX_DIMS * 24 + 4];
    /* A zero dimension makes the product zero whatever the others are. */
    int has_zero = 0;
    for (int i = 0; i < e->ndim; i++) has_zero |= e->shape[i] == 0;
    if (has_zero) { numel = 0; overflow = 0; }
    if (overflow || numel > UINT64_MAX / dsize) {
        shape_str(sbuf, sizeof sbuf, e->ndim, e->shape);
        return gf_errorf(GF_ERR_FORMAT, "%s: tensor \"%s\": byte size of shape %s overflows",
                         w, name, sbuf);
    }

    json_int_t b = json_integer_value(json_array_get(jo, 0));
    json_int_t en = json_integer_value(json_array_get(jo, 1));
    if (b < 0 || en < b || (uint64_t)en > (uint64_t)data_len)
        return gf_errorf(GF_ERR_FORMAT,
                         "%s: tensor \"%s\": data_offsets [%lld, %lld] out of range of the "
                         "data section (%zu bytes)", w, name, (long long)b, (long long)en, data_len);
    e->begin = (uint64_t)b;
    e->end = (uint64_t)en;
    if (e->end - e->begin != numel * dsize) {
        shape_str(sbuf, sizeof sbuf, e->ndim, e->shape);
        return gf_errorf(GF_ERR_FORMAT,
                         "%s: tensor \"%s\": data_offsets span %llu bytes but shape %s of %s "
                         "needs %llu (size mismatch)", w, name,
                         (unsigned long long)(e->end - e->begin), sbuf,
                         st_dtypes[e->dtype].name, (unsigned long long)(numel * dsize));
    }
    return GF_OK;
}

static gf_status parse_header(gf_st_file *f, const uint8_t *hdr, size_t hlen)
{
    const char *w = f->what;
    json_error_t jerr;
    f->root = json_loadb((const char *)hdr, hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!f->root)
        return gf_errorf(GF_ERR_FORMAT, "%s: invalid JSON header: %s (line %d, column %d)",
                         w, jerr.text, jerr.line, jerr.column);
    if (!json_is_object(f->root))
        return gf_errorf(GF_ERR_FORMAT, "%s: header is not a JSON object", w);

    size_t n = json_object_size(f->root);
    f->meta = json_object_get(f->root, "__metadata__");
    if (f->meta) {
        n--;
        if (!json_is_object(f->meta))
            return gf_errorf(GF_ERR_FORMAT, "%s: __metadata__ is not a JSON object", w);
        const char *k;
        json_t *v;
        json_object_foreach(f->meta, k, v)
            if (!json_is_string(v))
                return gf_errorf(GF_ERR_FORMAT, "%s: __metadata__ value for \"%s\" is not a string",
                                 w, k);
    }
    if (n > (size_t)INT32_MAX)
        return gf_errorf(GF_ERR_FORMAT, "%s: too many tensors (%zu)", w, n);
    f->e = calloc(n ? n : 1, sizeof *f->e);
    if (!f->e) return gf_errorf(GF_ERR_NOMEM, "%s: out of memory for %zu header entries", w, n);

    const char *k;
    json_t *v;
    json_object_foreach(f->root, k, v) {
        if (strcmp(k, "__metadata__") == 0) continue;
        gf_status st = parse_entry(w, k, v, f->data_len, &f->e[f->n]);
        if (st != GF_OK) return st;
        f->n++;
    }
    return GF_OK;
}

/* Takes ownership of buf (freed on failure too). */
/* Parses buf; `owned` (buf itself, or NULL when borrowed) is freed with the
 * handle, or right here on failure. */
static gf_status parse_buffer(const uint8_t *buf, uint8_t *owned, size_t len, const char *what,
                              gf_st_file **out)
{
    *out = NULL;
    gf_st_file *f = calloc(1, sizeof *f);
    if (!f) { free(owned); return gf_errorf(GF_ERR_NOMEM, "%s: out of memory", what); }
    f->buf = buf;
    f->owned = owned;
    f->what = strdup(what);
    if (!f->what) { gf_st_close(f); return gf_errorf(GF_ERR_NOMEM, "%s: out of memory", what); }

    gf_status st = GF_OK;
    if (len < 8) {
        st = gf_errorf(GF_ERR_FORMAT, "%s: file shorter than 8 bytes (%zu bytes), not a safetensors file",
                       what, len);
        goto fail;
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | buf[i];
    if (hlen > (uint64_t)(len - 8)) {
        st = gf_errorf(GF_ERR_FORMAT, "%s: header length %llu exceeds file size %zu",
                       what, (unsigned long long)hlen, len);
        goto fail;
    }
    if (hlen > ST_MAX_HEADER) {
        st = gf_errorf(GF_ERR_FORMAT, "%s: header length %llu is absurd (more than %llu bytes)",
                       what, (unsigned long long)hlen, (unsigned long long)ST_MAX_HEADER);
        goto fail;
    }
    f->data = buf + 8 + hlen;
    f->data_len = len - 8 - (size_t)hlen;
    st = parse_header(f, buf + 8, (size_t)hlen);
    if (st != GF_OK) goto fail;
    *out = f;
    return GF_OK;
fail:
    gf_st_close(f);
    return st;
}

gf_status gf_st_parse(const uint8_t *buf, size_t len, const char *what, gf_st_file **out)
{
    if (!out) return gf_errorf(GF_ERR_ARG, "gf_st_parse: out is NULL");
    *out = NULL;
    if (!what) what = "<buffer>";
    if (!buf && len) return gf_errorf(GF_ERR_ARG, "gf_st_parse: %s: buffer is NULL", what);
    static const uint8_t empty[1];
    return parse_buffer(buf ? buf : empty, NULL, len, what, out);
}

gf_status gf_st_open(const char *path, gf_st_file **out)
{
    if (!out) return gf_errorf(GF_ERR_ARG, "gf_st_open: out is NULL");
    *out = NULL;
    if (!path) return gf_errorf(GF_ERR_ARG, "gf_st_open: path is NULL");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return gf_errorf(GF_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int err = errno;
        close(fd);
        return gf_errorf(GF_ERR_IO, "cannot stat %s: %s", path, strerror(err));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return gf_errorf(GF_ERR_IO, "cannot read %s: not a regular file", path);
    }
    size_t len = (size_t)sb.st_size;
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) {
        close(fd);
        return gf_errorf(GF_ERR_NOMEM, "%s: out of memory for %zu bytes", path, len);
    }
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int err = errno;
            free(buf);
            close(fd);
            return gf_errorf(GF_ERR_IO, "cannot read %s: %s", path, strerror(err));
        }
        if (r == 0) break;              /* shrank under us: validate what we got */
        got += (size_t)r;
    }
    close(fd);
    return parse_buffer(buf, buf, got, path, out);
}

int gf_st_count(const gf_st_file *f) { return f ? f->n : 0; }

const char *gf_st_name(const gf_st_file *f, int i)
{
    return (f && i >= 0 && i < f->n) ? f->e[i].name : NULL;
}

const char *gf_st_meta_get(const gf_st_file *f, const char *key)
{
    if (!f || !f->meta || !key) return NULL;
    return json_string_value(json_object_get(f->meta, key));
}

gf_status gf_st_view_f32(const gf_st_file *f, const char *name, int ndim, const int64_t *shape,
                         const uint8_t **bytes, size_t *nbytes)
{
    *bytes = NULL;
    *nbytes = 0;
    if (!f || !name) return gf_errorf(GF_ERR_ARG, "gf_st_view_f32: file or name is NULL");
    if (ndim > GF_ST_MAX_DIMS || (ndim > 0 && !shape))
        return gf_errorf(GF_ERR_ARG, "gf_st_view_f32: bad expected shape (ndim %d)", ndim);
    const st_entry *e = NULL;
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->e[i].name, name) == 0) { e = &f->e[i]; break; }
    if (!e) return gf_errorf(GF_ERR_MISMATCH, "no tensor \"%s\" in %s", name, f->what);
    if (e->dtype != ST_F32)
        return gf_errorf(GF_ERR_MISMATCH, "tensor \"%s\" in %s has dtype %s, expected F32",
                         name, f->what, st_dtypes[e->dtype].name);
    if (ndim >= 0) {
        int same = ndim == e->ndim;
        for (int i = 0; same && i < ndim; i++) same = shape[i] == e->shape[i];
        if (!same) {
            char a[GF_ST_MAX_DIMS * 24 + 4], b[GF_ST_MAX_DIMS * 24 + 4];
            shape_str(a, sizeof a, e->ndim, e->shape);
            shape_str(b, sizeof b, ndim, shape);
            return gf_errorf(GF_ERR_MISMATCH,
                             "shape mismatch for tensor \"%s\" in %s: file has %s vs expected %s",
                             name, f->what, a, b);
        }
    }
    *bytes = f->data + e->begin;
    *nbytes = (size_t)(e->end - e->begin);
    return GF_OK;
}

gf_status gf_st_read_f32(const gf_st_file *f, const char *name, int ndim,
                         const int64_t *shape, float *out)
{
    const uint8_t *bytes;
    size_t n;
    gf_status st = gf_st_view_f32(f, name, ndim, shape, &bytes, &n);
    if (st) return st;
    if (n && !out) return gf_errorf(GF_ERR_ARG, "gf_st_read_f32: out is NULL");
    if (n) memcpy(out, bytes, n);
    return GF_OK;
}

/* ---- writer -------------------------------------------------------------- */

/* Builds the compact JSON header (metadata first, then tensors in order). */
static gf_status build_header(const gf_st_tensor *t, int nt, const gf_st_meta *meta, int nmeta,
                              char **out)
{
    *out = NULL;
    gf_status st = GF_OK;
    json_t *root = json_object();
    if (!root) return gf_errorf(GF_ERR_NOMEM, "safetensors: out of memory building header");
    if (nmeta > 0) {
        json_t *m = json_object();
        if (!m || json_object_set_new(root, "__metadata__", m) != 0) {
            st = gf_errorf(GF_ERR_NOMEM, "safetensors: out of memory building header");
            goto done;
        }
        for (int i = 0; i < nmeta; i++) {
            const char *k = meta[i].key, *v = meta[i].value;
            if (!k || !v) { st = gf_errorf(GF_ERR_ARG, "safetensors: metadata %d has a NULL key or value", i); goto done; }
            if (json_object_get(m, k)) { st = gf_errorf(GF_ERR_ARG, "safetensors: duplicate metadata key \"%s\"", k); goto done; }
            json_t *js = json_string(v);
            if (!js) { st = gf_errorf(GF_ERR_ARG, "safetensors: metadata value for \"%s\" is not valid UTF-8", k); goto done; }
            if (json_object_set_new(m, k, js) != 0) {
                st = gf_errorf(GF_ERR_ARG, "safetensors: metadata key \"%s\" is not valid UTF-8", k);
                goto done;
            }
        }
    }
    uint64_t off = 0;
    for (int i = 0; i < nt; i++) {
        const char *name = t[i].name;
        if (!name) { st = gf_errorf(GF_ERR_ARG, "safetensors: tensor %d has no name", i); goto done; }
        if (strcmp(name, "__metadata__") == 0 || json_object_get(root, name)) {
            st = gf_errorf(GF_ERR_ARG, "safetensors: duplicate or reserved tensor name \"%s\"", name);
            goto done;
        }
        if (t[i].ndim < 0 || t[i].ndim > GF_ST_MAX_DIMS) {
            st = gf_errorf(GF_ERR_ARG, "safetensors: tensor \"%s\" has ndim %d", name, t[i].ndim);
            goto done;
        }
        uint64_t numel = 1;
        int zero = 0, overflow = 0;
        for (int d = 0; d < t[i].ndim; d++) {
            int64_t x = t[i].shape[d];
            if (x < 0) { st = gf_errorf(GF_ERR_ARG, "safetensors: tensor \"%s\" has negative dimension %lld", name, (long long)x); goto done; }
            if (x == 0) zero = 1;
            else if (numel > UINT64_MAX / (uint64_t)x) overflow = 1;
            else numel *= (uint64_t)x;
        }
        if (zero) numel = 0;
        else if (overflow || numel > (UINT64_MAX - off) / 4 || numel * 4 > (uint64_t)INT64_MAX - off) {
            st = gf_errorf(GF_ERR_ARG, "safetensors: tensor \"%s\" is too large", name);
            goto done;
        }
        if (numel && !t[i].data) { st = gf_errorf(GF_ERR_ARG, "safetensors: tensor \"%s\" has no data", name); goto done; }

        json_t *probe = json_string(name);
        if (!probe) { st = gf_errorf(GF_ERR_ARG, "safetensors: tensor name \"%s\" is not valid UTF-8", name); goto done; }
        json_decref(probe);

        json_t *e = json_object(), *shape = json_array(), *offs = json_array();
        int bad = !e || !shape || !offs;
        /* The _new setters take the reference even on failure. */
        if (e) {
            bad |= json_object_set_new(e, "dtype", json_string("F32")) != 0;
            if (shape) bad |= json_object_set_new(e, "shape", shape) != 0;
            if (offs) bad |= json_object_set_new(e, "data_offsets", offs) != 0;
        } else {
            json_decref(shape);
            json_decref(offs);
        }
        if (!bad) {
            for (int d = 0; d < t[i].ndim; d++)
                bad |= json_array_append_new(shape, json_integer((json_int_t)t[i].shape[d])) != 0;
            bad |= json_array_append_new(offs, json_integer((json_int_t)off)) != 0;
            bad |= json_array_append_new(offs, json_integer((json_int_t)(off + numel * 4))) != 0;
        }
        if (bad || json_object_set_new(root, name, e) != 0) {
            if (bad) json_decref(e);
            st = gf_errorf(GF_ERR_NOMEM, "safetensors: out of memory building header");
            goto done;
        }
        off += numel * 4;
    }
    *out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!*out) st = gf_errorf(GF_ERR_NOMEM, "safetensors: out of memory encoding header");
done:
    json_decref(root);
    return st;
}

static uint8_t *malloc_alloc(void *ctx, size_t len) { (void)ctx; return malloc(len ? len : 1); }

gf_status gf_st_encode(const gf_st_tensor *tensors, int ntensors, const gf_st_meta *meta,
                       int nmeta, uint8_t **out, size_t *out_len)
{
    return gf_st_encode_with(tensors, ntensors, meta, nmeta, malloc_alloc, NULL, out, out_len);
}

gf_status gf_st_encode_with(const gf_st_tensor *tensors, int ntensors, const gf_st_meta *meta, int nmeta,
                            uint8_t *(*alloc)(void *ctx, size_t len), void *ctx, uint8_t **out,
                            size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (ntensors < 0 || (ntensors > 0 && !tensors) || nmeta < 0 || (nmeta > 0 && !meta))
        return gf_errorf(GF_ERR_ARG, "gf_st_encode: bad tensor or metadata list");
    char *json = NULL;
    gf_status st = build_header(tensors, ntensors, meta, nmeta, &json);
    if (st != GF_OK || !json) return st != GF_OK ? st : gf_errorf(GF_ERR_NOMEM, "out of memory");
    size_t hl = strlen(json), pad = (8 - hl % 8) % 8, data = 0;
    for (int i = 0; i < ntensors; i++) {
        size_t numel = 1;
        for (int d = 0; d < tensors[i].ndim; d++) numel *= (size_t)tensors[i].shape[d];
        data += numel * sizeof(float);
    }
    size_t total = 8 + hl + pad + data;
    uint8_t *buf = alloc(ctx, total);
    if (!buf) { free(json); return gf_errorf(GF_ERR_NOMEM, "out of memory for a %zu-byte safetensors body", total); }
    uint64_t n = (uint64_t)(hl + pad);
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)(n >> (8 * i));
    memcpy(buf + 8, json, hl);
    memset(buf + 8 + hl, ' ', pad);
    size_t at = 8 + hl + pad;
    for (int i = 0; i < ntensors; i++) {
        size_t numel = 1;
        for (int d = 0; d < tensors[i].ndim; d++) numel *= (size_t)tensors[i].shape[d];
        if (numel) memcpy(buf + at, tensors[i].data, numel * sizeof(float));
        at += numel * sizeof(float);
    }
    free(json);
    *out = buf;
    *out_len = total;
    return GF_OK;
}

gf_status gf_st_write(const char *path, const gf_st_tensor *tensors, int ntensors,
                      const gf_st_meta *meta, int nmeta)
{
    if (!path || !*path) return gf_errorf(GF_ERR_ARG, "gf_st_write: path is empty");
    if (ntensors < 0 || (ntensors > 0 && !tensors) || nmeta < 0 || (nmeta > 0 && !meta))
        return gf_errorf(GF_ERR_ARG, "gf_st_write: %s: bad tensor or metadata list", path);

    char *json = NULL;
    gf_status st = build_header(tensors, ntensors, meta, nmeta, &json);
    if (st != GF_OK || !json) return st != GF_OK ? st : gf_errorf(GF_ERR_NOMEM, "%s: out of memory", path);

    size_t hl = strlen(json);
    size_t pad = (8 - hl % 8) % 8;       /* data starts 8-byte aligned */
    uint64_t n = (uint64_t)(hl + pad);
    uint8_t prefix[8 + 8];
    for (int i = 0; i < 8; i++) prefix[i] = (uint8_t)(n >> (8 * i));
    memset(prefix + 8, ' ', 8);

    /* length, header, padding, then the tensors straight from their buffers */
    gf_fs_part *parts = malloc(sizeof *parts * ((size_t)ntensors + 3));
    if (!parts) { free(json); return gf_errorf(GF_ERR_NOMEM, "%s: out of memory", path); }
    parts[0] = (gf_fs_part){ prefix, 8 };
    parts[1] = (gf_fs_part){ json, hl };
    parts[2] = (gf_fs_part){ prefix + 8, pad };
    for (int i = 0; i < ntensors; i++) {
        size_t numel = 1;
        for (int d = 0; d < tensors[i].ndim; d++) numel *= (size_t)tensors[i].shape[d];
        parts[3 + i] = (gf_fs_part){ tensors[i].data, numel * sizeof(float) };
    }
    st = gf_fs_write_atomic(path, parts, ntensors + 3, 0644);
    free(parts);
    free(json);
    return st;
}
