/* Reference-counted byte buffers (see blob.h). The header sits in the same
 * allocation, 64 bytes before the data, so the data pointer leads back to it. */
#include "core/blob.h"

#include <stdatomic.h>
#include <stdlib.h>

#define BLOB_HEAD 64

struct gf_blob {
    atomic_long refs;
    size_t      len;
};

gf_blob *gf_blob_new(size_t len)
{
    void *p = NULL;
    if (len > SIZE_MAX - BLOB_HEAD || posix_memalign(&p, 64, BLOB_HEAD + len)) return NULL;
    gf_blob *b = p;
    atomic_init(&b->refs, 1);
    b->len = len;
    return b;
}

uint8_t *gf_blob_data(gf_blob *b) { return (uint8_t *)b + BLOB_HEAD; }
size_t   gf_blob_len(const gf_blob *b) { return b->len; }

gf_blob *gf_blob_ref(gf_blob *b)
{
    atomic_fetch_add(&b->refs, 1);
    return b;
}

void gf_blob_unref(gf_blob *b)
{
    if (b && atomic_fetch_sub(&b->refs, 1) == 1) free(b);
}

int gf_blob_exclusive(gf_blob *b) { return atomic_load(&b->refs) == 1; }

void gf_blob_unref_data(void *data)
{
    if (data) gf_blob_unref((gf_blob *)((uint8_t *)data - BLOB_HEAD));
}
