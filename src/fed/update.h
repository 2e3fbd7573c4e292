/* Model vectors on the wire: a safetensors body whose tensors are exactly a
 * model's parameter tensors (same names, shapes, F32), in parameter order.
 * The manifest says which names and shapes a model has and where each lies
 * in the flat vector; decoding checks an inbound body against it (size
 * limit, format, every tensor present, nothing extra, dtype, shape, finite
 * values) before a single value is used. */
#ifndef GF_FED_UPDATE_H
#define GF_FED_UPDATE_H

#include <stddef.h>
#include <stdint.h>
#include "core/error.h"
#include "core/blob.h"
#include "io/safetensors.h"

typedef struct {
    char    name[32];       /* "0.weight" */
    int     ndim;
    int64_t shape[4];
    int64_t offset, numel;  /* where it lies in the flat vector */
} gf_manifest_entry;

typedef struct {
    int                n;
    gf_manifest_entry *e;   /* (n) */
    int64_t            d;   /* length of the flat vector */
} gf_manifest;

/* The manifest of a model spec (any form gf_spec_parse accepts). */
gf_status gf_manifest_from_spec(const char *spec, gf_manifest *out);
void      gf_manifest_free(gf_manifest *m);
/* A deep copy (e.g. to check a body against it without holding its owner). */
gf_status gf_manifest_copy(const gf_manifest *src, gf_manifest *dst);

/* vec (d) -> safetensors bytes (*buf malloc'd, the caller frees). */
gf_status gf_update_encode(const gf_manifest *m, const float *vec, const gf_st_meta *meta,
                           int nmeta, uint8_t **buf, size_t *len);

/* Checks buf against the manifest and fills vec (d). On failure the status
 * and message say what is wrong (GF_ERR_ARG: over max_len; GF_ERR_FORMAT:
 * not safetensors; GF_ERR_MISMATCH: tensor missing, extra, wrong dtype or
 * shape; GF_ERR_NUMERIC: a NaN or infinity, naming the tensor and index) and
 * vec's contents are unspecified: decode into a scratch buffer. */
gf_status gf_update_decode(const gf_manifest *m, const uint8_t *buf, size_t len, size_t max_len,
                           float *vec);

/* The same bytes into a reference-counted blob (one body served to many
 * downloads); gf_update_blob_vector is the flat vector (d) inside it, which
 * the owner may change in place while it holds the only reference. `reuse`
 * (NULL for none) is written over instead of a new allocation when the
 * caller holds its only reference and its length is the encoding's; *out
 * is then reuse itself, the caller's reference carried over. */
gf_status gf_update_encode_blob(const gf_manifest *m, const float *vec, const gf_st_meta *meta, int nmeta,
                                gf_blob *reuse, gf_blob **out);
float    *gf_update_blob_vector(const gf_manifest *m, gf_blob *b);

/* A checked inbound body, without a copy when it is laid out as
 * gf_update_encode writes it (tensors in vector order, aligned): vec (d)
 * points into buf (which must outlive the view) or into a buffer the view
 * owns. The same checks and errors as gf_update_decode; metadata through
 * gf_st_meta_get(view.file, key). */
typedef struct {
    const float *vec;
    float       *owned;
    gf_st_file  *file;
} gf_update_view;
gf_status gf_update_view_open(const gf_manifest *m, const uint8_t *buf, size_t len, size_t max_len,
                              gf_update_view *v);
void      gf_update_view_close(gf_update_view *v);

/* SCAFFOLD's wire layout: m's tensors, then the control variate's as
 * "control.NAME", over a (2d) vector. */
gf_status gf_manifest_with_control(const gf_manifest *m, gf_manifest *out);

#endif
