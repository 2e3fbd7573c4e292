/* Encoding and checked decoding of flat model vectors as safetensors. */
#include "fed/update.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/finite.h"
#include "engine/model.h"

gf_status gf_manifest_from_spec(const char *spec, gf_manifest *out)
{
    memset(out, 0, sizeof *out);
    gf_model *m;
    gf_status st = gf_model_create(spec, 1, 1, &m);
    if (st) return st;
    int n = gf_model_num_tensors(m);
    out->e = calloc((size_t)n, sizeof *out->e);
    if (!out->e) {
        gf_model_free(m);
        return gf_errorf(GF_ERR_NOMEM, "out of memory for a model manifest");
    }
    for (int i = 0; i < n; i++) {
        gf_tensor_view v;
        gf_model_tensor(m, i, &v);
        gf_manifest_entry *e = &out->e[i];
        snprintf(e->name, sizeof e->name, "%s", v.name);
        e->ndim = v.ndim;
        memcpy(e->shape, v.shape, sizeof e->shape);
        e->offset = v.data - m->params;
        e->numel = v.numel;
    }
    out->n = n;
    out->d = m->nparams;
    gf_model_free(m);
    return GF_OK;
}

void gf_manifest_free(gf_manifest *m)
{
    free(m->e);
    memset(m, 0, sizeof *m);
}

/* The manifest's tensors as views into vec (malloc'd list; NULL: no memory). */
static gf_st_tensor *tensors_of(const gf_manifest *m, const float *vec)
{
    gf_st_tensor *t = calloc((size_t)m->n + 1, sizeof *t);
    for (int i = 0; t && i < m->n; i++) {
        t[i].name = m->e[i].name;
        t[i].ndim = m->e[i].ndim;
        memcpy(t[i].shape, m->e[i].shape, sizeof m->e[i].shape);
        t[i].data = vec + m->e[i].offset;
    }
    return t;
}

gf_status gf_update_encode(const gf_manifest *m, const float *vec, const gf_st_meta *meta,
                           int nmeta, uint8_t **buf, size_t *len)
{
    gf_st_tensor *t = tensors_of(m, vec);
    if (!t) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    gf_status st = gf_st_encode(t, m->n, meta, nmeta, buf, len);
    free(t);
    return st;
}

typedef struct { gf_blob *reuse, *out; } blob_target;

static uint8_t *blob_alloc(void *ctx, size_t len)
{
    blob_target *t = ctx;
    if (t->reuse && gf_blob_len(t->reuse) == len && gf_blob_exclusive(t->reuse)) t->out = t->reuse;
    else t->out = gf_blob_new(len);
    return t->out ? gf_blob_data(t->out) : NULL;
}

gf_status gf_update_encode_blob(const gf_manifest *m, const float *vec, const gf_st_meta *meta, int nmeta,
                                gf_blob *reuse, gf_blob **out)
{
    *out = NULL;
    gf_st_tensor *t = tensors_of(m, vec);
    if (!t) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    blob_target target = { reuse, NULL };
    uint8_t *buf;
    size_t len;
    gf_status st = gf_st_encode_with(t, m->n, meta, nmeta, blob_alloc, &target, &buf, &len);
    free(t);
    if (st) {
        if (target.out != reuse) gf_blob_unref(target.out);
        return st;
    }
    *out = target.out;
    return GF_OK;
}

float *gf_update_blob_vector(const gf_manifest *m, gf_blob *b)
{
    return (float *)(gf_blob_data(b) + gf_blob_len(b) - sizeof(float) * (size_t)m->d);
}

gf_status gf_update_view_open(const gf_manifest *m, const uint8_t *buf, size_t len, size_t max_len,
                              gf_update_view *v)
{
    *v = (gf_update_view){ 0 };
    if (len > max_len)
        return gf_errorf(GF_ERR_ARG, "update of %zu bytes is over the limit of %zu bytes", len, max_len);
    gf_status st = gf_st_parse(buf, len, "update", &v->file);
    if (st) return st;
    /* every tensor in the body must be one of the model's */
    for (int i = 0; !st && i < gf_st_count(v->file); i++) {
        const char *name = gf_st_name(v->file, i);
        int known = 0;
        for (int k = 0; !known && k < m->n; k++) known = !strcmp(name, m->e[k].name);
        if (!known)
            st = gf_errorf(GF_ERR_MISMATCH, "update has tensor \"%.64s\", which the model does not", name);
    }
    /* every model tensor in it, F32, with its shape; in place when the body
     * already lays them out as the flat vector (what gf_update_encode writes) */
    const uint8_t *base = NULL;
    int in_place = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
    for (int k = 0; !st && k < m->n; k++) {
        const uint8_t *bytes;
        size_t n;
        st = gf_st_view_f32(v->file, m->e[k].name, m->e[k].ndim, m->e[k].shape, &bytes, &n);
        if (!st && k == 0) { base = bytes; in_place &= (uintptr_t)base % sizeof(float) == 0; }
        if (!st) in_place &= bytes == base + sizeof(float) * (size_t)m->e[k].offset;
    }
    if (!st && !in_place) {
        if (!(v->owned = malloc(sizeof(float) * (size_t)(m->d ? m->d : 1))))
            st = gf_errorf(GF_ERR_NOMEM, "out of memory for a %lld-value update", (long long)m->d);
        for (int k = 0; !st && k < m->n; k++)
            st = gf_st_read_f32(v->file, m->e[k].name, m->e[k].ndim, m->e[k].shape, v->owned + m->e[k].offset);
    }
    if (!st) v->vec = v->owned ? v->owned : (const float *)base;
    for (int k = 0; !st && k < m->n; k++) {
        const gf_manifest_entry *e = &m->e[k];
        const float *x = v->vec + e->offset;
        int64_t i = gf_first_nonfinite(x, e->numel);
        if (i >= 0)
            st = gf_errorf(GF_ERR_NUMERIC, "update tensor \"%s\" holds %s at index %lld",
                           e->name, isnan(x[i]) ? "NaN" : "an infinity", (long long)i);
    }
    if (st) gf_update_view_close(v);
    return st;
}

void gf_update_view_close(gf_update_view *v)
{
    gf_st_close(v->file);
    free(v->owned);
    *v = (gf_update_view){ 0 };
}

gf_status gf_update_decode(const gf_manifest *m, const uint8_t *buf, size_t len, size_t max_len,
                           float *vec)
{
    gf_update_view v;
    gf_status st = gf_update_view_open(m, buf, len, max_len, &v);
    if (st) return st;
    memcpy(vec, v.vec, sizeof(float) * (size_t)m->d);
    gf_update_view_close(&v);
    return GF_OK;
}

gf_status gf_manifest_with_control(const gf_manifest *m, gf_manifest *out)
{
    *out = (gf_manifest){ 0 };
    if (!(out->e = calloc((size_t)m->n * 2 + 1, sizeof *out->e))) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    for (int k = 0; k < m->n; k++) {
        out->e[k] = m->e[k];
        gf_manifest_entry *c = &out->e[m->n + k];
        *c = m->e[k];
        if (snprintf(c->name, sizeof c->name, "control.%s", m->e[k].name) >= (int)sizeof c->name) {
            gf_manifest_free(out);
            return gf_errorf(GF_ERR_ARG, "tensor name \"%s\" is too long for a control name", m->e[k].name);
        }
        c->offset += m->d;
    }
    out->n = m->n * 2;
    out->d = m->d * 2;
    return GF_OK;
}

gf_status gf_manifest_copy(const gf_manifest *src, gf_manifest *dst)
{
    *dst = (gf_manifest){ 0 };
    if (!(dst->e = malloc(sizeof *dst->e * (size_t)(src->n > 0 ? src->n : 1))))
        return gf_errorf(GF_ERR_NOMEM, "out of memory");
    memcpy(dst->e, src->e, sizeof *dst->e * (size_t)src->n);
    dst->n = src->n;
    dst->d = src->d;
    return GF_OK;
}
