/* Encoding and checked decoding of flat model vectors as safetensors. */
#include "fed/update.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

gf_status gf_update_encode(const gf_manifest *m, const float *vec, const gf_st_meta *meta,
                           int nmeta, uint8_t **buf, size_t *len)
{
    gf_st_tensor *t = calloc((size_t)m->n + 1, sizeof *t);
    if (!t) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    for (int i = 0; i < m->n; i++) {
        t[i].name = m->e[i].name;
        t[i].ndim = m->e[i].ndim;
        memcpy(t[i].shape, m->e[i].shape, sizeof m->e[i].shape);
        t[i].data = vec + m->e[i].offset;
    }
    gf_status st = gf_st_encode(t, m->n, meta, nmeta, buf, len);
    free(t);
    return st;
}

gf_status gf_update_decode(const gf_manifest *m, const uint8_t *buf, size_t len, size_t max_len,
                           float *vec)
{
    if (len > max_len)
        return gf_errorf(GF_ERR_ARG, "update of %zu bytes is over the limit of %zu bytes", len, max_len);
    gf_st_file *f;
    gf_status st = gf_st_parse(buf, len, "update", &f);
    if (st) return st;
    /* every tensor in the body must be one of the model's */
    for (int i = 0; !st && i < gf_st_count(f); i++) {
        const char *name = gf_st_name(f, i);
        int known = 0;
        for (int k = 0; !known && k < m->n; k++) known = !strcmp(name, m->e[k].name);
        if (!known)
            st = gf_errorf(GF_ERR_MISMATCH, "update has tensor \"%.64s\", which the model does not", name);
    }
    /* and every model tensor must be in it, F32, with its shape, finite */
    for (int k = 0; !st && k < m->n; k++) {
        const gf_manifest_entry *e = &m->e[k];
        float *dst = vec + e->offset;
        st = gf_st_read_f32(f, e->name, e->ndim, e->shape, dst);
        for (int64_t i = 0; !st && i < e->numel; i++)
            if (!isfinite(dst[i]))
                st = gf_errorf(GF_ERR_NUMERIC, "update tensor \"%s\" holds %s at index %lld",
                               e->name, isnan(dst[i]) ? "NaN" : "an infinity", (long long)i);
    }
    gf_st_close(f);
    return st;
}
