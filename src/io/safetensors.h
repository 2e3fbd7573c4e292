/* safetensors files (the Hugging Face format): an 8-byte little-endian header
 * length, a JSON header mapping tensor names to dtype/shape/data_offsets plus
 * an optional "__metadata__" object of string values, then the raw tensor
 * bytes. We write F32 tensors only and read F32 tensors only; a file that
 * holds other dtypes is reported as such. Writes are atomic (temp file,
 * fsync, rename) and byte-for-byte deterministic for the same inputs. */
#ifndef GF_IO_SAFETENSORS_H
#define GF_IO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>
#include "core/error.h"

#define GF_ST_MAX_DIMS 8

typedef struct {
    const char  *name;
    int          ndim;
    int64_t      shape[GF_ST_MAX_DIMS];
    const float *data;     /* numel(shape) floats */
} gf_st_tensor;

typedef struct { const char *key, *value; } gf_st_meta;

/* Writes tensors in the given order and metadata in the given order. */
gf_status gf_st_write(const char *path, const gf_st_tensor *tensors, int ntensors,
                      const gf_st_meta *meta, int nmeta);

/* The same bytes gf_st_write would write, into a malloc'd buffer (*out, the
 * caller frees): for sending over the network. */
gf_status gf_st_encode(const gf_st_tensor *tensors, int ntensors, const gf_st_meta *meta,
                       int nmeta, uint8_t **out, size_t *out_len);

/* The same again into a buffer from alloc(ctx, total) (NULL: out of
 * memory), for callers that own their buffers (reference-counted bodies).
 * The data section is the last sum(numel) * 4 bytes, 8-byte aligned within
 * the buffer. */
gf_status gf_st_encode_with(const gf_st_tensor *tensors, int ntensors, const gf_st_meta *meta, int nmeta,
                            uint8_t *(*alloc)(void *ctx, size_t len), void *ctx, uint8_t **out,
                            size_t *out_len);

/* A file read fully into memory and validated: header length within the
 * file, valid JSON, every entry a known dtype with a shape whose byte size
 * equals its data_offsets range, ranges inside the data section. */
typedef struct gf_st_file gf_st_file;

gf_status gf_st_open(const char *path, gf_st_file **out);
/* Same checks on a buffer already in memory (network bodies, the fuzzer).
 * No copy: the handle reads from buf, which must outlive it. */
gf_status gf_st_parse(const uint8_t *buf, size_t len, const char *what, gf_st_file **out);
void gf_st_close(gf_st_file *f);

int         gf_st_count(const gf_st_file *f);
const char *gf_st_name(const gf_st_file *f, int i);          /* in file order */
/* Finds a tensor by name; fails (GF_ERR_MISMATCH) if absent, not F32, or its
 * shape differs from (ndim, shape) when ndim >= 0. Data is copied to `out`. */
gf_status   gf_st_read_f32(const gf_st_file *f, const char *name, int ndim,
                           const int64_t *shape, float *out);
/* The bytes of F32 tensor `name` inside the file's buffer, after the same
 * checks as gf_st_read_f32 (no copy; little-endian floats, possibly
 * unaligned). */
gf_status   gf_st_view_f32(const gf_st_file *f, const char *name, int ndim, const int64_t *shape,
                           const uint8_t **bytes, size_t *nbytes);
/* Metadata value for key, or NULL. */
const char *gf_st_meta_get(const gf_st_file *f, const char *key);

#endif
