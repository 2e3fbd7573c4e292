/* A reference-counted byte buffer: one copy of a large body (the encoded
 * global model) handed to many readers at once (downloads in flight) without
 * copying. The creator holds one reference; each reader takes one and drops
 * it when done; the last drop frees. Thread-safe counting; the bytes
 * themselves must not change while anyone but the writer holds a reference
 * (gf_blob_exclusive says when the writer is alone). */
#ifndef GF_CORE_BLOB_H
#define GF_CORE_BLOB_H

#include <stddef.h>
#include <stdint.h>

typedef struct gf_blob gf_blob;

/* A blob of len bytes, 64-byte aligned, contents uninitialised; NULL when
 * memory runs out. */
gf_blob *gf_blob_new(size_t len);
uint8_t *gf_blob_data(gf_blob *b);
size_t   gf_blob_len(const gf_blob *b);
gf_blob *gf_blob_ref(gf_blob *b);           /* returns b */
void     gf_blob_unref(gf_blob *b);         /* NULL is fine */
int      gf_blob_exclusive(gf_blob *b);      /* 1 when the caller holds the only reference */
/* Drops the reference whose data pointer is `data` (for free callbacks that
 * only get the data pointer back). */
void     gf_blob_unref_data(void *data);

#endif
